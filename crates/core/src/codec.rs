//! Canonical postcard encoding and strict decoding.
//!
//! Postcard is compact and not self-describing; its decoder tolerates a few
//! non-canonical forms (over-long varints). Strict decoding here checks the
//! size before touching the bytes, refuses trailing bytes, and re-encodes the
//! value to require that `encode(decode(x)) == x`, so every accepted byte
//! string has exactly one meaning and one hash.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why bytes were refused by the strict decoder.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// Larger than the limit for this structure; nothing was decoded.
    #[error("{len} bytes is over the {max}-byte limit")]
    TooLarge {
        /// Bytes offered.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not a valid encoding of the structure.
    #[error("malformed: {0}")]
    Malformed(String),
    /// Bytes left over after the structure.
    #[error("{0} trailing bytes")]
    Trailing(usize),
    /// Valid but not the canonical encoding (e.g. an over-long varint).
    #[error("not the canonical encoding")]
    NonCanonical,
    /// The value could not be encoded.
    #[error("cannot encode: {0}")]
    Encode(String),
}

/// Encodes `value` with postcard.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CodecError> {
    postcard::to_allocvec(value).map_err(|e| CodecError::Encode(e.to_string()))
}

/// Appends the postcard encoding of `value` to `out`.
pub fn encode_into<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), CodecError> {
    let v = core::mem::take(out);
    *out = postcard::to_extend(value, v).map_err(|e| CodecError::Encode(e.to_string()))?;
    Ok(())
}

/// Decodes one value that must fill `bytes` exactly, canonically, within `max` bytes.
pub fn decode_strict<T: Serialize + DeserializeOwned>(
    bytes: &[u8],
    max: usize,
) -> Result<T, CodecError> {
    let (v, rest) = take_strict(bytes, max)?;
    if !rest.is_empty() {
        return Err(CodecError::Trailing(rest.len()));
    }
    Ok(v)
}

/// Decodes one value from the front of `bytes`, canonically, and returns the rest.
pub fn take_strict<T: Serialize + DeserializeOwned>(
    bytes: &[u8],
    max: usize,
) -> Result<(T, &[u8]), CodecError> {
    if bytes.len() > max {
        return Err(CodecError::TooLarge {
            len: bytes.len(),
            max,
        });
    }
    let (v, rest): (T, &[u8]) =
        postcard::take_from_bytes(bytes).map_err(|e| CodecError::Malformed(e.to_string()))?;
    let used = bytes.get(..bytes.len() - rest.len()).unwrap_or(&[]);
    if encode(&v)? != used {
        return Err(CodecError::NonCanonical);
    }
    Ok((v, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_overlong_varint_trailing_and_oversize() {
        assert_eq!(decode_strict::<u64>(&[0x05], 16), Ok(5));
        assert_eq!(
            decode_strict::<u64>(&[0x85, 0x00], 16),
            Err(CodecError::NonCanonical)
        );
        assert_eq!(
            decode_strict::<u64>(&[0x05, 0x00], 16),
            Err(CodecError::Trailing(1))
        );
        assert_eq!(
            decode_strict::<u64>(&[0u8; 17], 16),
            Err(CodecError::TooLarge { len: 17, max: 16 })
        );
        assert!(matches!(
            decode_strict::<bool>(&[2], 16),
            Err(CodecError::Malformed(_))
        ));
    }
}
