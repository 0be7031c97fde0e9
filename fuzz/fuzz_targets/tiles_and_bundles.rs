//! Tile paths and entry bundles: parsing never panics; what parses prints back
//! to the same text; what decodes re-encodes to the same bytes.
#![no_main]

use armsledger_log::{Tile, decode_entry_bundle, encode_entry_bundle};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(t) = Tile::from_path(s) {
            assert_eq!(t.path(), s);
        }
    }
    if let Some((&w, rest)) = data.split_first() {
        let width = u16::from(w).max(1);
        if let Ok(entries) = decode_entry_bundle(rest, width) {
            let again = encode_entry_bundle(&entries).expect("re-encodes");
            assert_eq!(again, rest);
        }
    }
});
