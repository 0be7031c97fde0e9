//! Any bytes: decoding never panics, and whatever decodes re-encodes to the
//! same bytes (one meaning, one hash).
#![no_main]

use armsledger_core::SignedEntry;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(e) = SignedEntry::decode(data) {
        assert_eq!(e.bytes(), data);
        let again = SignedEntry::decode(e.bytes()).expect("re-decodes");
        assert_eq!(again.hash(), e.hash());
        let _ = e.verify_signature(&[0u8; 32]);
    }
});
