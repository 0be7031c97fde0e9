//! The stored form of an entry in `entries` (formats v3 and v4): the entry
//! without its header's body hash (recomputed from the body on read),
//! compressed by zstd at level 3 with the format's dictionary, one frame per
//! row. (The Merkle leaf is `received_at ‖ entry`; the time is in the
//! `received_at` table.)
//!
//! ```text
//! row   = zstd frame (content size and checksum, dictionary dict/v3.dict) of form
//! form  = 0x01 ‖ u16 BE h ‖ header[..h] ‖ signature (64) ‖ body    an entry
//!       | 0x00 ‖ bytes                                              any other bytes
//! entry = header[..h] ‖ SHA-256("armsledger:entry-body:v1\0" ‖ body) ‖ signature ‖ body
//! ```
//!
//! `h` is the encoded header's length less its last field, the 32-byte body
//! hash. The raw form keeps bytes that are not an entry (the bench-only bulk
//! path) byte for byte.

use std::cell::RefCell;

use armsledger_core::entry::{MAX_ENTRY_BYTES, SignedEntry, body_hash_of};
use armsledger_core::hash::Hash;
use zstd::bulk::{Compressor, Decompressor};

use crate::error::StoreError;

/// The dictionary of formats v3 and v4; changing it is a format change.
pub(crate) const DICTIONARY: &[u8] = include_bytes!("dict/v3.dict");
/// zstd level of every row.
const LEVEL: i32 = 3;
const RAW: u8 = 0;
const ENTRY: u8 = 1;
/// Length of the header's last field, the body hash.
const BODY_HASH: usize = 32;
const SIGNATURE: usize = 64;
/// The largest form a row may decompress to (an entry form is shorter than
/// its entry, a raw form one byte longer).
const MAX_FORM: usize = MAX_ENTRY_BYTES + 1;

thread_local! {
    static COMPRESSOR: RefCell<Option<Compressor<'static>>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<Decompressor<'static>>> = const { RefCell::new(None) };
}

/// SHA-256 of the dictionary, recorded in `meta["dictionary"]`.
pub(crate) fn dictionary_id() -> Hash {
    Hash::of(&[DICTIONARY])
}

/// The uncompressed form of an entry (what the dictionary is trained on).
pub(crate) fn entry_form(e: &SignedEntry) -> Vec<u8> {
    let bytes = e.bytes();
    let header = e.header_bytes().len();
    let h = header.checked_sub(BODY_HASH);
    let body = bytes.get(header.saturating_add(SIGNATURE)..);
    match (h, body) {
        (Some(h), Some(body))
            if h <= usize::from(u16::MAX)
                && bytes.get(h..header) == Some(&body_hash_of(body).0[..]) =>
        {
            let mut out = Vec::with_capacity(bytes.len() + 3 - BODY_HASH);
            out.push(ENTRY);
            out.extend_from_slice(&u16::try_from(h).unwrap_or(u16::MAX).to_be_bytes());
            out.extend_from_slice(bytes.get(..h).unwrap_or(&[]));
            out.extend_from_slice(bytes.get(header..).unwrap_or(&[]));
            out
        }
        _ => raw_form(bytes),
    }
}

fn raw_form(leaf: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(leaf.len() + 1);
    out.push(RAW);
    out.extend_from_slice(leaf);
    out
}

/// The row of an entry.
pub(crate) fn encode_entry(e: &SignedEntry) -> Result<Vec<u8>, StoreError> {
    compress(&entry_form(e))
}

/// The row of some bytes: the entry form if they decode as an entry, else raw.
#[cfg(any(test, feature = "bench-support"))]
pub(crate) fn encode_bytes(bytes: &[u8]) -> Result<Vec<u8>, StoreError> {
    match SignedEntry::decode(bytes) {
        Ok(e) if e.bytes() == bytes => encode_entry(&e),
        _ => compress(&raw_form(bytes)),
    }
}

/// The row of a leaf that is not an entry (bench-only bulk path).
#[cfg(feature = "bench-support")]
pub(crate) fn encode_raw(leaf: &[u8]) -> Result<Vec<u8>, StoreError> {
    compress(&raw_form(leaf))
}

fn compress(form: &[u8]) -> Result<Vec<u8>, StoreError> {
    let fail = |e: std::io::Error| StoreError::malformed("entries", "new", e);
    COMPRESSOR.with(|c| {
        let mut c = c.borrow_mut();
        if c.is_none() {
            let mut new = Compressor::with_dictionary(LEVEL, DICTIONARY).map_err(fail)?;
            // 4 bytes a row: a changed byte is an error naming its row.
            new.include_checksum(true).map_err(fail)?;
            *c = Some(new);
        }
        match c.as_mut() {
            Some(c) => c.compress(form).map_err(fail),
            None => Err(StoreError::malformed("entries", "new", "no compressor")),
        }
    })
}

/// The exact entry bytes of row `index`. A row that is not
/// one whole frame of this dictionary, or that declares or expands beyond
/// the entry size limit, is an error naming `entries[index]`.
pub(crate) fn decode(index: u64, row: &[u8]) -> Result<Vec<u8>, StoreError> {
    let bad = |why: String| StoreError::malformed("entries", index, why);
    let size = match zstd::zstd_safe::get_frame_content_size(row) {
        Ok(Some(n)) => n,
        Ok(None) => return Err(bad("the frame does not declare its size".into())),
        Err(_) => return Err(bad("not a zstd frame".into())),
    };
    let size = usize::try_from(size)
        .ok()
        .filter(|n| *n <= MAX_FORM)
        .ok_or_else(|| bad(format!("declares {size} bytes, over the entry limit")))?;
    let form = DECOMPRESSOR.with(|d| {
        let mut d = d.borrow_mut();
        if d.is_none() {
            *d = Some(Decompressor::with_dictionary(DICTIONARY).map_err(|e| bad(e.to_string()))?);
        }
        match d.as_mut() {
            Some(d) => d.decompress(row, size).map_err(|e| bad(e.to_string())),
            None => Err(bad("no decompressor".into())),
        }
    })?;
    if form.len() != size {
        return Err(bad(format!("declares {size} bytes, holds {}", form.len())));
    }
    match form.split_first() {
        Some((&RAW, leaf)) if leaf.len() <= MAX_ENTRY_BYTES => Ok(leaf.to_vec()),
        Some((&ENTRY, rest)) => {
            let (h, rest) = rest
                .split_first_chunk::<2>()
                .ok_or_else(|| bad("truncated".into()))?;
            let h = usize::from(u16::from_be_bytes(*h));
            let head = rest
                .get(..h)
                .ok_or_else(|| bad("truncated header".into()))?;
            let signed = rest.get(h..).unwrap_or(&[]);
            let body = signed
                .get(SIGNATURE..)
                .ok_or_else(|| bad("truncated signature".into()))?;
            let mut out = Vec::with_capacity(form.len() + BODY_HASH);
            out.extend_from_slice(head);
            out.extend_from_slice(&body_hash_of(body).0);
            out.extend_from_slice(signed);
            if out.len() > MAX_ENTRY_BYTES {
                return Err(bad(format!("{} bytes, over the entry limit", out.len())));
            }
            Ok(out)
        }
        _ => Err(bad("unknown stored form".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use armsledger_core::testkit::Scenario;

    #[test]
    fn forms_round_trip() {
        let mut s = Scenario::standard();
        let lot = s.receive("north", "L-1", 1000);
        let (gun, _) = s.acquire("north", "SN-1");
        let issue = s.issue("north", gun, "guard-1", lot, 30);
        s.return_all("north", &issue);
        for (i, e) in s.log.iter().enumerate() {
            let row = encode_entry(e).unwrap();
            assert_eq!(decode(i as u64, &row).unwrap(), e.bytes(), "entry {i}");
            assert_eq!(entry_form(e).first(), Some(&ENTRY));
        }
        for leaf in [&b""[..], b"not an entry", &[0u8; 300]] {
            let row = encode_bytes(leaf).unwrap();
            assert_eq!(decode(7, &row).unwrap(), leaf);
        }
    }

    #[test]
    fn bombs_and_garbage_name_the_row() {
        let big = vec![0u8; MAX_ENTRY_BYTES + 10];
        let row = compress(&big).unwrap();
        let err = decode(42, &row).unwrap_err().to_string();
        assert!(err.contains("entries") && err.contains("42"), "{err}");
        let err = decode(3, b"garbage").unwrap_err().to_string();
        assert!(err.contains("entries") && err.contains('3'), "{err}");
        let err = decode(5, &[]).unwrap_err().to_string();
        assert!(err.contains('5'), "{err}");
    }
}
