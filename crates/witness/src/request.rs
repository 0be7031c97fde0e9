//! The C2SP tlog-witness add-checkpoint request body.
//!
//! ```text
//! old <size>\n            decimal, no leading zeros
//! <base64 hash>\n         0 to 63 lines: the consistency proof
//! \n
//! <signed checkpoint note>
//! ```

use armsledger_log::{Hash, MAX_NOTE_BYTES};

use crate::WitnessError;

/// Most consistency proof lines a request may carry.
pub const MAX_PROOF_LINES: usize = 63;

/// Largest add-checkpoint body: the old line, 63 proof lines, the blank
/// line and the largest note. Refused before it is read.
pub const MAX_REQUEST_BYTES: usize =
    "old 18446744073709551615\n".len() + MAX_PROOF_LINES * 45 + 1 + MAX_NOTE_BYTES;

/// An add-checkpoint request, split but not yet checked against any state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddCheckpoint<'a> {
    /// The size of the checkpoint the client believes the witness holds.
    pub old: u64,
    /// The consistency proof from `old` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note, bytes as sent.
    pub note: &'a [u8],
}

impl<'a> AddCheckpoint<'a> {
    /// Splits a request body; every line must end in `\n`.
    pub fn parse(body: &'a [u8]) -> Result<Self, WitnessError> {
        if body.len() > MAX_REQUEST_BYTES {
            return Err(WitnessError::RequestTooLarge {
                max: MAX_REQUEST_BYTES,
            });
        }
        let (first, mut rest) = split_line(body).ok_or(WitnessError::RequestMalformed(
            "the body must start with an `old <size>` line",
        ))?;
        let old = first
            .strip_prefix(b"old ")
            .and_then(|n| std::str::from_utf8(n).ok())
            .and_then(canonical_decimal)
            .ok_or(WitnessError::RequestMalformed(
                "the first line must be `old <size>`, a decimal without leading zeros",
            ))?;
        let mut proof = Vec::new();
        loop {
            let (line, after) = split_line(rest).ok_or(WitnessError::RequestMalformed(
                "the proof lines must end with an empty line before the checkpoint",
            ))?;
            rest = after;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_LINES {
                return Err(WitnessError::RequestMalformed(
                    "more than 63 consistency proof lines",
                ));
            }
            let hash = std::str::from_utf8(line)
                .ok()
                .and_then(|l| Hash::from_base64(l).ok())
                .ok_or(WitnessError::RequestMalformed(
                    "a proof line is not the base64 of a 32-byte hash",
                ))?;
            proof.push(hash);
        }
        if rest.is_empty() {
            return Err(WitnessError::RequestMalformed(
                "no checkpoint after the empty line",
            ));
        }
        Ok(Self {
            old,
            proof,
            note: rest,
        })
    }

    /// The body bytes for this request (what a client sends).
    pub fn encode(old: u64, proof: &[Hash], note: &str) -> String {
        let mut body = format!("old {old}\n");
        for hash in proof {
            body.push_str(&hash.to_base64());
            body.push('\n');
        }
        body.push('\n');
        body.push_str(note);
        body
    }
}

/// The line before the first `\n` and what follows it; `None` without one.
fn split_line(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = bytes.iter().position(|b| *b == b'\n')?;
    Some((bytes.get(..at)?, bytes.get(at + 1..)?))
}

/// ASCII decimal without sign or leading zeros (except `0`), no overflow.
pub(crate) fn canonical_decimal(s: &str) -> Option<u64> {
    let canonical = !s.is_empty()
        && s.len() <= 20
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    if !canonical {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_the_one_docs_log_md_states() {
        assert_eq!(MAX_REQUEST_BYTES, 68_397);
    }

    #[test]
    fn round_trip() {
        let h = Hash([7; 32]);
        let body = AddCheckpoint::encode(5, &[h, h], "note\n");
        let req = AddCheckpoint::parse(body.as_bytes()).unwrap();
        assert_eq!(req.old, 5);
        assert_eq!(req.proof, [h, h]);
        assert_eq!(req.note, b"note\n");
        let empty = AddCheckpoint::encode(0, &[], "n\n");
        assert_eq!(empty, "old 0\n\nn\n");
        assert!(
            AddCheckpoint::parse(empty.as_bytes())
                .unwrap()
                .proof
                .is_empty()
        );
    }

    #[test]
    fn fail_malformed_bodies() {
        let h = Hash([7; 32]).to_base64();
        let too_many = format!("old 1\n{}\nn\n", format!("{h}\n").repeat(64));
        assert!(
            AddCheckpoint::parse(format!("old 1\n{}\nn\n", format!("{h}\n").repeat(63)).as_bytes())
                .is_ok()
        );
        for bad in [
            String::new(),
            "old 1".into(),
            "old 01\n\nn\n".into(),
            "old -1\n\nn\n".into(),
            "old  1\n\nn\n".into(),
            "Old 1\n\nn\n".into(),
            "old 18446744073709551616\n\nn\n".into(),
            "old 1\n\n".into(),
            format!("old 1\n{h}\n"),
            format!("old 1\n{}\n\nn\n", &h[..43]),
            format!("old 1\n{h} \n\nn\n"),
            too_many,
            "x".repeat(MAX_REQUEST_BYTES + 1),
        ] {
            assert!(AddCheckpoint::parse(bad.as_bytes()).is_err(), "{bad:?}");
        }
    }
}
