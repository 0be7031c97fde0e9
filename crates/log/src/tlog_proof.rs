//! C2SP tlog-proof: an offline bundle proving one entry is in the log.
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! extra <base64>            (optional, unauthenticated)
//! index <decimal>
//! <base64 hash>             (zero or more: the inclusion proof, leaf side first)
//!
//! <the signed checkpoint note, verbatim>
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::checkpoint::parse_decimal;
use crate::{
    Hash, LogError, LogVerifier, MAX_NOTE_BYTES, SignedCheckpoint, merkle::MAX_PROOF_HASHES,
    open_checkpoint, verify_inclusion,
};

/// First line of every tlog-proof.
pub const TLOG_PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";

/// Largest tlog-proof accepted or produced, checked before parsing.
///
/// Room for a maximal checkpoint note plus extra data holding a whole entry
/// (at most 65535 bytes, about 87 KB in base64).
pub const MAX_TLOG_PROOF_BYTES: usize = 256 * 1024;

/// An offline inclusion proof: index, audit path and the checkpoint it is against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlogProof {
    extra: Option<Vec<u8>>,
    index: u64,
    path: Vec<Hash>,
    checkpoint_note: String,
}

impl TlogProof {
    /// Bundles the proof of entry `index` against `checkpoint`.
    ///
    /// `path` should come from [`crate::prove_inclusion`] with the
    /// checkpoint's size; it is checked for length here and fully in
    /// [`TlogProof::verify`].
    pub fn new(
        index: u64,
        path: Vec<Hash>,
        checkpoint: &SignedCheckpoint,
        extra: Option<Vec<u8>>,
    ) -> Result<Self, LogError> {
        let size = checkpoint.checkpoint().size();
        if index >= size {
            return Err(LogError::IndexBeyondTree { index, size });
        }
        if path.len() > MAX_PROOF_HASHES {
            return Err(LogError::ProofBundleMalformed("more than 64 proof hashes"));
        }
        let proof = Self {
            extra,
            index,
            path,
            checkpoint_note: checkpoint.note().to_owned(),
        };
        let len = proof.encoded_len();
        if len > MAX_TLOG_PROOF_BYTES {
            return Err(LogError::InputTooLarge {
                what: "tlog-proof",
                len,
                max: MAX_TLOG_PROOF_BYTES,
            });
        }
        Ok(proof)
    }

    /// The entry's index in the log.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The inclusion proof hashes, leaf side first.
    pub fn path(&self) -> &[Hash] {
        &self.path
    }

    /// Opaque application data. Not authenticated: never trust it by itself.
    pub fn extra(&self) -> Option<&[u8]> {
        self.extra.as_deref()
    }

    /// The checkpoint note as carried, not yet verified.
    pub fn checkpoint_note(&self) -> &str {
        &self.checkpoint_note
    }

    /// The `c2sp.org/tlog-proof@v1` text.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(self.encoded_len());
        out.push_str(TLOG_PROOF_HEADER);
        out.push('\n');
        if let Some(extra) = &self.extra {
            out.push_str("extra ");
            out.push_str(&BASE64.encode(extra));
            out.push('\n');
        }
        out.push_str(&format!("index {}\n", self.index));
        for hash in &self.path {
            out.push_str(&hash.to_base64());
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.checkpoint_note);
        out
    }

    /// Parses a tlog-proof text strictly (canonical base64 and decimals, at
    /// most 64 hashes). The checkpoint is checked only by [`TlogProof::verify`].
    pub fn decode(bytes: &[u8]) -> Result<Self, LogError> {
        let bad = LogError::ProofBundleMalformed;
        if bytes.len() > MAX_TLOG_PROOF_BYTES {
            return Err(LogError::InputTooLarge {
                what: "tlog-proof",
                len: bytes.len(),
                max: MAX_TLOG_PROOF_BYTES,
            });
        }
        let text = std::str::from_utf8(bytes).map_err(|_| bad("not UTF-8"))?;
        let (header, mut rest) = text.split_once('\n').ok_or(bad("missing header line"))?;
        if header != TLOG_PROOF_HEADER {
            return Err(bad("first line must be c2sp.org/tlog-proof@v1"));
        }
        let mut next_line = |what| -> Result<&str, LogError> {
            let (line, tail) = rest.split_once('\n').ok_or(bad(what))?;
            rest = tail;
            Ok(line)
        };
        let mut line = next_line("missing index line")?;
        let extra = match line.strip_prefix("extra ") {
            Some(b64) => {
                let extra = BASE64.decode(b64).map_err(|_| bad("extra is not base64"))?;
                if BASE64.encode(&extra) != b64 {
                    return Err(bad("extra is not canonical base64"));
                }
                line = next_line("missing index line")?;
                Some(extra)
            }
            None => None,
        };
        let index = line
            .strip_prefix("index ")
            .and_then(parse_decimal)
            .ok_or(bad("expected index <decimal without leading zeros>"))?;
        let mut path = Vec::new();
        loop {
            let line = next_line("missing blank line before the checkpoint")?;
            if line.is_empty() {
                break;
            }
            if path.len() == MAX_PROOF_HASHES {
                return Err(bad("more than 64 proof hashes"));
            }
            path.push(Hash::from_base64(line).map_err(|_| bad("proof line is not a base64 hash"))?);
        }
        if rest.is_empty() {
            return Err(bad("missing checkpoint"));
        }
        if rest.len() > MAX_NOTE_BYTES {
            return Err(LogError::InputTooLarge {
                what: "signed note",
                len: rest.len(),
                max: MAX_NOTE_BYTES,
            });
        }
        Ok(Self {
            extra,
            index,
            path,
            checkpoint_note: rest.to_owned(),
        })
    }

    /// Verifies offline: the checkpoint is signed by `verifier` for `origin`,
    /// and `leaf` is at [`TlogProof::index`] in that checkpoint's tree.
    ///
    /// Returns the verified checkpoint, for the caller to compare with (or
    /// prove consistent with) the last checkpoint it trusts.
    pub fn verify(
        &self,
        leaf: &Hash,
        verifier: &LogVerifier,
        origin: &str,
    ) -> Result<SignedCheckpoint, LogError> {
        let signed = open_checkpoint(self.checkpoint_note.as_bytes(), verifier, origin)?;
        let checkpoint = signed.checkpoint();
        verify_inclusion(
            leaf,
            self.index,
            checkpoint.size(),
            &self.path,
            checkpoint.root(),
        )?;
        Ok(signed)
    }

    fn encoded_len(&self) -> usize {
        let extra = self
            .extra
            .as_ref()
            .map_or(0, |e| "extra \n".len() + e.len().div_ceil(3) * 4);
        TLOG_PROOF_HEADER.len()
            + 1
            + extra
            + "index \n".len()
            + 20
            + self.path.len() * 45
            + 1
            + self.checkpoint_note.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Frontier, LogKey, leaf_hash, prove_inclusion};

    const ORIGIN: &str = "ledger.example/proofs";

    fn setup(n: u64) -> (LogKey, Vec<Hash>, Vec<Hash>, SignedCheckpoint) {
        let key = LogKey::from_seed(ORIGIN, &[9; 32]).unwrap();
        let mut f = Frontier::new();
        let mut stored = Vec::new();
        let mut leaves = Vec::new();
        for i in 0..n {
            let leaf = leaf_hash(format!("entry {i}").as_bytes());
            leaves.push(leaf);
            stored.extend(f.append(leaf).unwrap().hashes);
        }
        let signed = key.sign_checkpoint(f.size(), &f.root()).unwrap();
        (key, leaves, stored, signed)
    }

    #[test]
    fn round_trip_and_verify() {
        let (key, leaves, stored, signed) = setup(13);
        for (index, extra) in [
            (0u64, None),
            (5, Some(b"dossier".to_vec())),
            (12, Some(vec![])),
        ] {
            let path = prove_inclusion(&stored, index, 13).unwrap();
            let proof = TlogProof::new(index, path, &signed, extra).unwrap();
            let text = proof.encode();
            assert!(text.len() <= proof.encoded_len());
            let decoded = TlogProof::decode(text.as_bytes()).unwrap();
            assert_eq!(decoded, proof);
            assert_eq!(decoded.encode(), text);
            let got = decoded
                .verify(&leaves[index as usize], &key.verifier(), ORIGIN)
                .unwrap();
            assert_eq!(got, signed);
            assert!(matches!(
                decoded.verify(&leaves[(index as usize + 1) % 13], &key.verifier(), ORIGIN),
                Err(LogError::RootMismatch)
            ));
        }
    }

    #[test]
    fn golden_layout() {
        let (_, _, stored, signed) = setup(3);
        let path = prove_inclusion(&stored, 2, 3).unwrap();
        let proof = TlogProof::new(2, path.clone(), &signed, Some(b"hi".to_vec())).unwrap();
        let want = format!(
            "c2sp.org/tlog-proof@v1\nextra aGk=\nindex 2\n{}\n\n{}",
            path[0].to_base64(),
            signed.note()
        );
        assert_eq!(proof.encode(), want);
    }

    #[test]
    fn fail_decode() {
        let (_, _, stored, signed) = setup(5);
        let path = prove_inclusion(&stored, 1, 5).unwrap();
        let good = TlogProof::new(1, path, &signed, None).unwrap().encode();
        let h = Hash::default().to_base64();
        let note = signed.note();
        let cases = [
            String::new(),
            good.replacen("@v1", "@v2", 1),
            good.replacen("index 1", "index 01", 1),
            good.replacen("index 1", "index +1", 1),
            good.replacen("index 1", "index", 1),
            good.replacen("index 1", "extra AA==\nextra AA==\nindex 1", 1),
            good.replacen("index 1", "extra AB==\nindex 1", 1),
            good.replacen("index 1", "extra !!\nindex 1", 1),
            good.replacen("\n\n", "\n", 1),
            good.replacen("\n\n", &format!("\n{}\n\n", &h[1..]), 1),
            good.replacen("\n\n", "\n \n\n", 1),
            format!(
                "{TLOG_PROOF_HEADER}\nindex 1\n{}\n{note}",
                format!("{h}\n").repeat(65)
            ),
            format!("{TLOG_PROOF_HEADER}\nindex 1\n\n"),
            format!("{TLOG_PROOF_HEADER}\nindex 1\n"),
        ];
        for text in cases {
            assert!(
                matches!(
                    TlogProof::decode(text.as_bytes()),
                    Err(LogError::ProofBundleMalformed(_))
                ),
                "{text:?}"
            );
        }
        assert!(matches!(
            TlogProof::decode(&vec![b'a'; MAX_TLOG_PROOF_BYTES + 1]),
            Err(LogError::InputTooLarge { .. })
        ));
        assert!(TlogProof::decode(&[0xff, b'\n']).is_err());
    }

    #[test]
    fn fail_verify() {
        let (key, leaves, stored, signed) = setup(6);
        let path = prove_inclusion(&stored, 4, 6).unwrap();
        let proof = TlogProof::new(4, path.clone(), &signed, None).unwrap();
        let other = LogKey::from_seed(ORIGIN, &[1; 32]).unwrap();
        assert!(matches!(
            proof.verify(&leaves[4], &other.verifier(), ORIGIN),
            Err(LogError::LogSignatureMissing)
        ));
        assert!(matches!(
            proof.verify(&leaves[4], &key.verifier(), "ledger.example/other"),
            Err(LogError::OriginMismatch { .. })
        ));
        let mut wrong_index = proof.clone();
        wrong_index.index = 5;
        assert!(
            wrong_index
                .verify(&leaves[4], &key.verifier(), ORIGIN)
                .is_err()
        );
        let mut short = proof;
        short.path.pop();
        assert!(matches!(
            short.verify(&leaves[4], &key.verifier(), ORIGIN),
            Err(LogError::ProofLengthWrong { .. })
        ));
        assert!(matches!(
            TlogProof::new(6, path, &signed, None),
            Err(LogError::IndexBeyondTree { .. })
        ));
        let huge = vec![0u8; MAX_TLOG_PROOF_BYTES];
        assert!(matches!(
            TlogProof::new(0, vec![], &signed, Some(huge)),
            Err(LogError::InputTooLarge { .. })
        ));
    }
}
