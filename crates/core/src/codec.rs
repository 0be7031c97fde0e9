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
    if !encodes_to(&v, used)? {
        return Err(CodecError::NonCanonical);
    }
    Ok((v, rest))
}

/// Whether `encode(value)` is exactly `bytes`, found by encoding into a
/// comparison instead of a new buffer: nothing is allocated, and the
/// encoding stops at the first byte that differs.
fn encodes_to<T: Serialize + ?Sized>(value: &T, bytes: &[u8]) -> Result<bool, CodecError> {
    let mut differs = false;
    let flavor = Compare {
        expected: bytes,
        at: 0,
        differs: &mut differs,
    };
    match postcard::serialize_with_flavor(value, flavor) {
        Ok(whole) => Ok(whole),
        Err(_) if differs => Ok(false),
        Err(e) => Err(CodecError::Encode(e.to_string())),
    }
}

/// A postcard output that compares the encoding with `expected` byte by
/// byte as it is produced, and stops at the first difference.
struct Compare<'a> {
    expected: &'a [u8],
    at: usize,
    differs: &'a mut bool,
}

impl postcard::ser_flavors::Flavor for Compare<'_> {
    /// Whether exactly the whole of `expected` was produced.
    type Output = bool;

    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        self.try_extend(&[data])
    }

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        let end = self.at.saturating_add(data.len());
        if self.expected.get(self.at..end) != Some(data) {
            *self.differs = true;
            return Err(postcard::Error::SerializeBufferFull);
        }
        self.at = end;
        Ok(())
    }

    fn finalize(self) -> postcard::Result<bool> {
        Ok(self.at == self.expected.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_comparison_agrees_with_encoding_and_comparing() {
        // Equal, a prefix, longer, one byte changed anywhere: the same
        // answer as `encode(v) == bytes`.
        let v = (300u64, String::from("north"), vec![1u8, 2, 3], Some(-7i32));
        let enc = encode(&v).unwrap();
        assert_eq!(encodes_to(&v, &enc), Ok(true));
        for n in 0..enc.len() {
            assert_eq!(
                encodes_to(&v, enc.get(..n).unwrap()),
                Ok(false),
                "prefix {n}"
            );
        }
        let mut longer = enc.clone();
        longer.push(0);
        assert_eq!(encodes_to(&v, &longer), Ok(false));
        for i in 0..enc.len() {
            let mut b = enc.clone();
            if let Some(x) = b.get_mut(i) {
                *x ^= 1;
            }
            assert_eq!(encodes_to(&v, &b), Ok(false), "byte {i}");
        }
        // A non-canonical string length (over-long varint) is refused by
        // the strict decoder through this comparison.
        assert_eq!(
            decode_strict::<String>(&[0x82, 0x00, b'h', b'i'], 16),
            Err(CodecError::NonCanonical)
        );
        assert_eq!(
            decode_strict::<String>(&[0x02, b'h', b'i'], 16),
            Ok("hi".into())
        );
    }

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
