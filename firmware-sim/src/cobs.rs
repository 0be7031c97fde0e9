//! Consistent Overhead Byte Stuffing: frames contain no 0x00, so 0x00 can
//! delimit them and a reader can resynchronise after garbage.
//!
//! The data is cut at each zero byte (and after 254 non-zero bytes); each
//! piece is sent as a code byte `n` (1..=255) followed by its `n - 1` bytes.
//! A code below 255 stands for its piece followed by a zero, except at the
//! very end. The encoder always ends with a code byte, so `[]` encodes as
//! `[01]`, `[00]` as `[01 01]`, and `[11 22 00 33]` as `[03 11 22 02 33]`.

/// Why bytes are not a COBS encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CobsError {
    /// A zero byte inside the frame.
    #[error("zero byte inside a COBS frame")]
    ZeroByte,
    /// A code byte promises more bytes than the frame has.
    #[error("COBS frame ends inside a block")]
    Truncated,
    /// An empty frame (a valid encoding has at least one code byte).
    #[error("empty COBS frame")]
    Empty,
}

/// Encodes `data` (the result contains no 0x00).
pub fn encode(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 254 + 2);
    let mut code_at = 0;
    let mut code: u8 = 1;
    out.push(0);
    for &b in data {
        if b == 0 {
            set(&mut out, code_at, code);
            code_at = out.len();
            out.push(0);
            code = 1;
            continue;
        }
        out.push(b);
        code += 1;
        if code == 0xFF {
            set(&mut out, code_at, code);
            code_at = out.len();
            out.push(0);
            code = 1;
        }
    }
    set(&mut out, code_at, code);
    out
}

fn set(out: &mut [u8], at: usize, code: u8) {
    if let Some(c) = out.get_mut(at) {
        *c = code;
    }
}

/// Decodes one frame (without its delimiter).
pub fn decode(frame: &[u8]) -> Result<Vec<u8>, CobsError> {
    if frame.is_empty() {
        return Err(CobsError::Empty);
    }
    let mut out = Vec::with_capacity(frame.len());
    let mut rest = frame;
    while let Some((&code, tail)) = rest.split_first() {
        if code == 0 {
            return Err(CobsError::ZeroByte);
        }
        let n = usize::from(code) - 1;
        let block = tail.get(..n).ok_or(CobsError::Truncated)?;
        if block.contains(&0) {
            return Err(CobsError::ZeroByte);
        }
        out.extend_from_slice(block);
        rest = tail.get(n..).unwrap_or(&[]);
        if code < 0xFF && !rest.is_empty() {
            out.push(0);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_encodings() {
        assert_eq!(encode(&[]), [0x01]);
        assert_eq!(encode(&[0]), [0x01, 0x01]);
        assert_eq!(
            encode(&[0x11, 0x22, 0x00, 0x33]),
            [0x03, 0x11, 0x22, 0x02, 0x33]
        );
        let long = vec![0xAB; 254];
        let enc = encode(&long);
        assert_eq!(enc.len(), 256);
        assert_eq!(enc[0], 0xFF);
        assert_eq!(enc[255], 0x01);
        assert_eq!(decode(&enc).unwrap(), long);
    }

    #[test]
    fn rejects() {
        assert_eq!(decode(&[]), Err(CobsError::Empty));
        assert_eq!(decode(&[0x03, 0x11]), Err(CobsError::Truncated));
        assert_eq!(decode(&[0x02, 0x00]), Err(CobsError::ZeroByte));
        assert_eq!(decode(&[0x00]), Err(CobsError::ZeroByte));
    }

    proptest! {
        #[test]
        fn round_trip(data in proptest::collection::vec(any::<u8>(), 0..1200)) {
            let enc = encode(&data);
            prop_assert!(!enc.contains(&0));
            prop_assert!(enc.len() <= data.len() + data.len() / 254 + 2);
            prop_assert_eq!(decode(&enc).unwrap(), data);
        }

        #[test]
        fn decode_never_panics(data in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = decode(&data);
        }
    }
}
