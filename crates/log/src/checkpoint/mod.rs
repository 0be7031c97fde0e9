//! C2SP tlog-checkpoint bodies signed as C2SP signed notes (Ed25519).
//!
//! ```text
//! <origin>\n
//! <tree size, decimal, no leading zeros>\n
//! <root hash, standard base64>\n
//! \n
//! — <key name> <base64(key id (4 bytes, big-endian) || Ed25519 signature)>\n
//! ```
//!
//! We write one extension line only, and refuse checkpoints that carry any
//! other: the root of the log's verifiable index (docs/log.md section 11),
//! which every witness cosigning the checkpoint cosigns too:
//!
//! ```text
//! armsledger-index/v1 <index root, standard base64>\n
//! ```

mod key;
mod named;
mod note;

use signed_note::{Note, NoteError, VerifierList};

use crate::{Hash, LogError, check_tree_size};

pub use key::{LogKey, LogVerifier, MAX_ORIGIN_BYTES, key_id};
pub use note::{CheckpointNote, NoteSignature};

pub(crate) use key::{MAX_KEY_STRING, check_origin};
pub(crate) use named::{KeyType, NamedKey, NamedVerifier};

/// Largest signed note [`open_checkpoint`] reads, checked before parsing.
///
/// 64 KiB leaves room for the 16 signatures C2SP requires verifiers to accept
/// even if they are ML-DSA-44 cosignatures (about 3.3 KB each in base64).
pub const MAX_NOTE_BYTES: usize = 64 * 1024;

/// A tree head: the log's origin, its size and its root hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root: Hash,
    index: Option<Hash>,
}

/// The start of the one extension line our checkpoints carry: the root of
/// the verifiable index over the checkpoint's entries.
pub const INDEX_EXTENSION: &str = "armsledger-index/v1 ";

impl Checkpoint {
    /// A checkpoint with a valid origin and size; not yet signed.
    pub fn new(origin: &str, size: u64, root: Hash) -> Result<Self, LogError> {
        key::check_origin(origin)?;
        check_tree_size(size)?;
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
            index: None,
        })
    }

    /// The same checkpoint committing to the verifiable index's root.
    pub fn with_index(mut self, index: Hash) -> Self {
        self.index = Some(index);
        self
    }

    /// The verifiable index's root over the same entries, when the
    /// checkpoint carries it (every checkpoint the server signs does).
    pub fn index(&self) -> Option<&Hash> {
        self.index.as_ref()
    }

    /// The log's origin line.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Number of leaves in the tree.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// RFC 6962 root hash of the tree.
    pub fn root(&self) -> &Hash {
        &self.root
    }

    /// The note text that gets signed: origin, size and root lines, and the
    /// index line when there is one, each ending in `\n`.
    pub fn body(&self) -> String {
        let mut body = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            self.root.to_base64()
        );
        if let Some(index) = &self.index {
            body.push_str(INDEX_EXTENSION);
            body.push_str(&index.to_base64());
            body.push('\n');
        }
        body
    }

    /// Parses a note text of exactly origin, size and root lines, and at
    /// most the index line.
    fn parse_body(text: &str) -> Result<Self, LogError> {
        let (checkpoint, extensions) = Self::parse_body_lines(text, true)?;
        match extensions.as_slice() {
            [] => Ok(checkpoint),
            [line] => {
                let index = line
                    .strip_prefix(INDEX_EXTENSION)
                    .and_then(|b| Hash::from_base64(b).ok())
                    .ok_or(LogError::CheckpointMalformed(
                        "the only extension line accepted is the index root",
                    ))?;
                Ok(checkpoint.with_index(index))
            }
            _ => Err(LogError::CheckpointMalformed(
                "extension lines other than the index root are not accepted",
            )),
        }
    }

    /// Parses origin, size and root lines, then the extension lines if
    /// `allow_extensions` (each non-empty), else none.
    pub(crate) fn parse_body_lines(
        text: &str,
        allow_extensions: bool,
    ) -> Result<(Self, Vec<String>), LogError> {
        let body = text
            .strip_suffix('\n')
            .ok_or(LogError::CheckpointMalformed(
                "text must end with a newline",
            ))?;
        let mut lines = body.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(LogError::CheckpointMalformed(
                "needs origin, size and root lines",
            ));
        };
        let extensions: Vec<String> = lines.map(str::to_owned).collect();
        if !allow_extensions && !extensions.is_empty() {
            return Err(LogError::CheckpointMalformed(
                "extension lines are not accepted",
            ));
        }
        if extensions.iter().any(String::is_empty) {
            return Err(LogError::CheckpointMalformed("an extension line is empty"));
        }
        let size = parse_decimal(size).ok_or(LogError::CheckpointMalformed(
            "size is not a canonical decimal",
        ))?;
        let root = Hash::from_base64(root)
            .map_err(|_| LogError::CheckpointMalformed("root is not base64 of 32 bytes"))?;
        Ok((Self::new(origin, size, root)?, extensions))
    }
}

/// A checkpoint together with the exact signed note it came from.
///
/// Only made by signing or by [`open_checkpoint`], so the note is known to
/// carry a valid log signature over [`SignedCheckpoint::checkpoint`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedCheckpoint {
    checkpoint: Checkpoint,
    note: String,
}

impl SignedCheckpoint {
    /// The verified tree head.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The signed note text, byte for byte (what to serve, store or forward).
    pub fn note(&self) -> &str {
        &self.note
    }

    /// The signed note text, owned.
    pub fn into_note(self) -> String {
        self.note
    }
}

impl LogKey {
    /// Signs the checkpoint (origin = this key's name, `size`, `root`).
    ///
    /// The caller must already have checked that this head is consistent
    /// with every checkpoint the log signed before; this function cannot.
    pub fn sign_checkpoint(&self, size: u64, root: &Hash) -> Result<SignedCheckpoint, LogError> {
        self.sign_checkpoint_indexed(size, root, None)
    }

    /// Signs the checkpoint with the index line when `index` is given (the
    /// verifiable index's root over the same `size` entries).
    pub fn sign_checkpoint_indexed(
        &self,
        size: u64,
        root: &Hash,
        index: Option<&Hash>,
    ) -> Result<SignedCheckpoint, LogError> {
        let mut checkpoint = Checkpoint::new(self.name(), size, *root)?;
        if let Some(index) = index {
            checkpoint = checkpoint.with_index(*index);
        }
        let mut note = Note::new(checkpoint.body().as_bytes(), &[])
            .map_err(|_| LogError::NoteMalformed("checkpoint body is not a note text"))?;
        note.add_sigs(&[&self.note_signer()])
            .map_err(|_| LogError::NoteMalformed("signing the note failed"))?;
        let note = String::from_utf8(note.to_bytes())
            .map_err(|_| LogError::NoteMalformed("note is not UTF-8"))?;
        Ok(SignedCheckpoint { checkpoint, note })
    }
}

/// Verifies a signed checkpoint note from the log with `verifier` and `expected_origin`.
///
/// Signatures by other keys (witness cosignatures, a rotated-out log key)
/// are ignored, but the log's own signature must be present and valid.
pub fn open_checkpoint(
    note: &[u8],
    verifier: &LogVerifier,
    expected_origin: &str,
) -> Result<SignedCheckpoint, LogError> {
    if note.len() > MAX_NOTE_BYTES {
        return Err(LogError::InputTooLarge {
            what: "signed note",
            len: note.len(),
            max: MAX_NOTE_BYTES,
        });
    }
    let parsed =
        Note::from_bytes(note).map_err(|_| LogError::NoteMalformed("not a C2SP signed note"))?;
    let known = VerifierList::new(vec![Box::new(verifier.clone())]);
    parsed.verify(&known).map_err(|e| match e {
        NoteError::UnverifiedNote => LogError::LogSignatureMissing,
        NoteError::InvalidSignature { .. } => LogError::LogSignatureInvalid,
        _ => LogError::NoteMalformed("signature lines do not verify"),
    })?;
    let text = std::str::from_utf8(parsed.text())
        .map_err(|_| LogError::NoteMalformed("note text is not UTF-8"))?;
    let checkpoint = Checkpoint::parse_body(text)?;
    if checkpoint.origin != expected_origin {
        return Err(LogError::OriginMismatch {
            expected: expected_origin.to_owned(),
            found: checkpoint.origin,
        });
    }
    let note = String::from_utf8(note.to_vec())
        .map_err(|_| LogError::NoteMalformed("note is not UTF-8"))?;
    Ok(SignedCheckpoint { checkpoint, note })
}

/// Parses ASCII decimal without sign, leading zeros (except "0") or overflow.
pub(crate) fn parse_decimal(s: &str) -> Option<u64> {
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
    fn decimals() {
        for (s, v) in [("0", 0), ("1", 1), ("18446744073709551615", u64::MAX)] {
            assert_eq!(parse_decimal(s), Some(v));
        }
        for s in [
            "",
            "00",
            "01",
            "+1",
            "-1",
            " 1",
            "1 ",
            "18446744073709551616",
            "1_0",
            "0x1",
        ] {
            assert_eq!(parse_decimal(s), None, "{s:?}");
        }
    }

    #[test]
    fn body_parsing_is_strict() {
        let root = crate::EMPTY_ROOT.to_base64();
        let good = format!("example.com/log\n0\n{root}\n");
        assert_eq!(
            Checkpoint::parse_body(&good).unwrap(),
            Checkpoint::new("example.com/log", 0, crate::EMPTY_ROOT).unwrap()
        );
        let bad = [
            format!("example.com/log\n0\n{root}"),
            format!("example.com/log\n0\n{root}\next\n"),
            format!("example.com/log\n0\n{root}\n\n"),
            format!("example.com/log\n00\n{root}\n"),
            format!("example.com/log\n-0\n{root}\n"),
            format!("example.com/log\n{}\n{root}\n", crate::MAX_TREE_SIZE + 1),
            format!("example.com/log\n0\n{}\n", root.trim_end_matches('=')),
            format!("example.com/log\n0\n{}\n", crate::EMPTY_ROOT),
            format!("\n0\n{root}\n"),
            format!("a b\n0\n{root}\n"),
            "example.com/log\n0\n".to_owned(),
        ];
        for text in bad {
            assert!(Checkpoint::parse_body(&text).is_err(), "{text:?}");
        }
    }
}
