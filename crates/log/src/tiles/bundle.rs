//! C2SP tlog-tiles entry bundles: up to 256 entries, each prefixed by its
//! length as a big-endian `u16`.
//!
//! ```text
//! bundle = entry{width}          ; width = 1..=256, from the tile path
//! entry  = len:u16be  data:len   ; len = 0..=65535
//! ```

use super::TILE_WIDTH;
use crate::LogError;

/// Longest entry a bundle can frame.
pub const MAX_ENTRY_BYTES: usize = u16::MAX as usize;

/// Longest possible bundle: 256 maximal entries with their prefixes.
pub const MAX_BUNDLE_BYTES: usize = TILE_WIDTH as usize * (2 + MAX_ENTRY_BYTES);

/// Encodes 1..=256 entries as an entry bundle.
pub fn encode_entry_bundle<E: AsRef<[u8]>>(entries: &[E]) -> Result<Vec<u8>, LogError> {
    if entries.is_empty() || entries.len() > usize::from(TILE_WIDTH) {
        return Err(LogError::BundleMalformed("a bundle holds 1..=256 entries"));
    }
    let mut total = 0usize;
    for entry in entries {
        let len = entry.as_ref().len();
        if len > MAX_ENTRY_BYTES {
            return Err(LogError::EntryTooLarge { len });
        }
        total += 2 + len;
    }
    let mut out = Vec::with_capacity(total);
    for entry in entries {
        let entry = entry.as_ref();
        let len =
            u16::try_from(entry.len()).map_err(|_| LogError::EntryTooLarge { len: entry.len() })?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(entry);
    }
    Ok(out)
}

/// Decodes a bundle that must hold exactly `width` entries (the tile's width)
/// and nothing after them. The entries borrow from `bytes`.
pub fn decode_entry_bundle(bytes: &[u8], width: u16) -> Result<Vec<&[u8]>, LogError> {
    if width == 0 || width > TILE_WIDTH {
        return Err(LogError::BundleMalformed("width must be 1..=256"));
    }
    if bytes.len() > MAX_BUNDLE_BYTES {
        return Err(LogError::InputTooLarge {
            what: "entry bundle",
            len: bytes.len(),
            max: MAX_BUNDLE_BYTES,
        });
    }
    let mut entries = Vec::with_capacity(usize::from(width));
    let mut rest = bytes;
    for _ in 0..width {
        let (len, tail) = rest
            .split_first_chunk::<2>()
            .ok_or(LogError::BundleMalformed("truncated length prefix"))?;
        let (entry, tail) = tail
            .split_at_checked(usize::from(u16::from_be_bytes(*len)))
            .ok_or(LogError::BundleMalformed(
                "entry shorter than its length prefix",
            ))?;
        entries.push(entry);
        rest = tail;
    }
    if !rest.is_empty() {
        return Err(LogError::BundleMalformed(
            "trailing bytes after the last entry",
        ));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_bytes() {
        let bundle = encode_entry_bundle(&[&b"ab"[..], b"", b"xyz"]).unwrap();
        assert_eq!(bundle, b"\x00\x02ab\x00\x00\x00\x03xyz");
        assert_eq!(
            decode_entry_bundle(&bundle, 3).unwrap(),
            [&b"ab"[..], b"", b"xyz"]
        );
    }

    #[test]
    fn round_trip_extremes() {
        let big = vec![0xa5u8; MAX_ENTRY_BYTES];
        let entries: Vec<&[u8]> = vec![&big; 256];
        let bundle = encode_entry_bundle(&entries).unwrap();
        assert_eq!(bundle.len(), MAX_BUNDLE_BYTES);
        assert_eq!(decode_entry_bundle(&bundle, 256).unwrap(), entries);
        let one = encode_entry_bundle(&[b""]).unwrap();
        assert_eq!(one, [0, 0]);
        assert_eq!(decode_entry_bundle(&one, 1).unwrap(), [b""]);
    }

    #[test]
    fn fail_encode() {
        let too_big = vec![0u8; MAX_ENTRY_BYTES + 1];
        assert!(matches!(
            encode_entry_bundle(&[too_big.as_slice()]),
            Err(LogError::EntryTooLarge { len: 65536 })
        ));
        let none: [&[u8]; 0] = [];
        assert!(matches!(
            encode_entry_bundle(&none),
            Err(LogError::BundleMalformed(_))
        ));
        let many = vec![&b"x"[..]; 257];
        assert!(matches!(
            encode_entry_bundle(&many),
            Err(LogError::BundleMalformed(_))
        ));
    }

    #[test]
    fn fail_decode() {
        let good = encode_entry_bundle(&[&b"ab"[..], b"xyz"]).unwrap();
        let cases: [(&[u8], u16, &str); 9] = [
            (&good, 1, "trailing bytes after the last entry"),
            (
                &[good.as_slice(), &[0]].concat(),
                2,
                "trailing bytes after the last entry",
            ),
            (&good, 3, "truncated length prefix"),
            (
                &good[..good.len() - 1],
                2,
                "entry shorter than its length prefix",
            ),
            (&good[..5], 2, "truncated length prefix"),
            (&good[..1], 1, "truncated length prefix"),
            (&[], 1, "truncated length prefix"),
            (
                &[0xff, 0xff, 1, 2],
                1,
                "entry shorter than its length prefix",
            ),
            (&good, 0, "width must be 1..=256"),
        ];
        for (bytes, width, why) in cases {
            match decode_entry_bundle(bytes, width) {
                Err(LogError::BundleMalformed(reason)) => assert_eq!(reason, why, "{bytes:?}"),
                other => panic!("{bytes:?} width {width}: {other:?}"),
            }
        }
        assert!(decode_entry_bundle(&good, 257).is_err());
        let huge = vec![0u8; MAX_BUNDLE_BYTES + 1];
        assert!(matches!(
            decode_entry_bundle(&huge, 256),
            Err(LogError::InputTooLarge { .. })
        ));
    }
}
