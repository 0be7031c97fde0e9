//! Any bytes: decoding a verifiable-index proof or leaf value never panics,
//! a proof that decodes re-encodes to the same bytes (one encoding), and
//! checking it against any root never panics.
#![no_main]

use armsledger_core::hash::Hash;
use armsledger_index::{LeafValue, MapKey, Proof};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Proof::decode(data) {
        assert_eq!(p.encode(), data);
        let _ = p.verify(&Hash([0; 32]), &MapKey::serial("AB12345"));
        let _ = p.verify_value(&Hash([1; 32]), &MapKey([0xff; 32]), Some(data));
    }
    if let Ok(v) = LeafValue::decode(data) {
        assert_eq!(v.encode(), data);
    }
});
