//! `POST /v1/entries` bodies as the server decodes them: the postcard
//! `Vec<Vec<u8>>` batch (count checked before allocating), then
//! `SignedEntry::decode` on each entry. Nothing panics, and an entry that
//! decodes is canonical: its bytes are exactly the input.
#![no_main]

use armsledger_core::entry::{MAX_ENTRY_BYTES, SignedEntry};
use libfuzzer_sys::fuzz_target;

const MAX_BATCH: usize = 1024;

fuzz_target!(|data: &[u8]| {
    let Ok((count, _)) = postcard::take_from_bytes::<u32>(data) else {
        return;
    };
    if usize::try_from(count).unwrap_or(usize::MAX) > MAX_BATCH {
        return;
    }
    let Ok(raw) = postcard::from_bytes::<Vec<Vec<u8>>>(data) else {
        return;
    };
    assert_eq!(raw.len(), count as usize);
    for b in &raw {
        if b.len() > MAX_ENTRY_BYTES {
            continue;
        }
        if let Ok(e) = SignedEntry::decode(b) {
            assert_eq!(e.bytes(), b.as_slice(), "decoding is canonical");
            assert_eq!(
                e.hash(),
                SignedEntry::decode(e.bytes()).expect("again").hash()
            );
        }
    }
    // A single entry given directly, as the JSON path hands it over after hex.
    if data.len() <= MAX_ENTRY_BYTES
        && let Ok(e) = SignedEntry::decode(data)
    {
        assert_eq!(e.bytes(), data);
    }
});
