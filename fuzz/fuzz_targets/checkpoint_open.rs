//! Any note text: opening a checkpoint never panics and accepts nothing the
//! fixed log key did not sign.
#![no_main]

use armsledger_log::{LogKey, open_checkpoint};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = LogKey::from_seed("fuzz.example/log", &[7u8; 32]).expect("key");
    let verifier = key.verifier();
    if let Ok(c) = open_checkpoint(data, &verifier, "fuzz.example/log") {
        assert_eq!(c.note().as_bytes(), data);
    }
});
