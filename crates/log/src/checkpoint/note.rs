//! Checkpoints as C2SP lets any log write them: extension lines after the
//! root, and several signatures (the log's, witnesses' cosignatures, keys the
//! reader does not know).
//!
//! [`crate::open_checkpoint`] stays strict for our own log. A witness and a
//! policy check read other logs' checkpoints through [`CheckpointNote`]:
//! parse first (to learn the origin), then verify against the keys trusted
//! for that origin.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use signed_note::Note;

use super::{Checkpoint, LogVerifier, MAX_NOTE_BYTES};
use crate::LogError;

/// One signature line of a signed note: `— <name> base64(key id || bytes)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    name: String,
    key_id: u32,
    bytes: Vec<u8>,
}

impl NoteSignature {
    pub(crate) fn new(name: String, key_id: u32, bytes: &[u8]) -> Self {
        Self {
            name,
            key_id,
            bytes: bytes.to_vec(),
        }
    }

    /// The key name on the line.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 4-byte key id, big-endian.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The signature bytes after the key id (for a cosignature/v1 line:
    /// timestamp and Ed25519 signature).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The line, ending in `\n`.
    pub fn to_line(&self) -> String {
        let mut raw = self.key_id.to_be_bytes().to_vec();
        raw.extend_from_slice(&self.bytes);
        format!("— {} {}\n", self.name, BASE64.encode(raw))
    }
}

/// A signed checkpoint note, parsed but not yet verified.
///
/// The body may carry extension lines; every signature line is kept in
/// order. [`CheckpointNote::verify_log`] checks the log's signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointNote {
    checkpoint: Checkpoint,
    extensions: Vec<String>,
    body: String,
    signatures: Vec<NoteSignature>,
}

impl CheckpointNote {
    /// Parses a C2SP signed note whose text is a C2SP checkpoint.
    ///
    /// Refuses notes over [`MAX_NOTE_BYTES`] before parsing, malformed notes
    /// or signature lines (`NoteMalformed`, at most 100 signatures), and
    /// malformed bodies (`CheckpointMalformed`, `OriginInvalid`,
    /// `TreeTooLarge`). Extension lines must be non-empty.
    pub fn parse(note: &[u8]) -> Result<Self, LogError> {
        if note.len() > MAX_NOTE_BYTES {
            return Err(LogError::InputTooLarge {
                what: "signed note",
                len: note.len(),
                max: MAX_NOTE_BYTES,
            });
        }
        let parsed = Note::from_bytes(note)
            .map_err(|_| LogError::NoteMalformed("not a C2SP signed note"))?;
        let body = std::str::from_utf8(parsed.text())
            .map_err(|_| LogError::NoteMalformed("note text is not UTF-8"))?
            .to_owned();
        // `Note::from_bytes` checked the shape: text, blank line, signature
        // lines each ending in a newline. It does not hand the lines out, so
        // read them again from that known layout.
        let lines = note
            .get(body.len() + 1..)
            .ok_or(LogError::NoteMalformed("no signature lines"))?;
        let mut signatures = Vec::new();
        for line in lines.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let sig = signed_note::Signature::from_bytes(line)
                .map_err(|_| LogError::NoteMalformed("malformed signature line"))?;
            signatures.push(NoteSignature::new(
                sig.name().to_owned(),
                sig.id(),
                sig.signature(),
            ));
        }
        let (checkpoint, extensions) = Checkpoint::parse_body_lines(&body, true)?;
        Ok(Self {
            checkpoint,
            extensions,
            body,
            signatures,
        })
    }

    /// Origin, size and root.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The extension lines after the root, without their newlines.
    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }

    /// The signed text: origin, size, root and extension lines, each ending
    /// in `\n`. The log's signature and every cosignature cover these bytes.
    pub fn body(&self) -> &str {
        &self.body
    }

    /// Every signature line, in the note's order.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Checks the log's signature: at least one line by a key in
    /// `verifiers` whose name is the checkpoint's origin must verify.
    ///
    /// Lines by other keys are ignored. None by a trusted key is
    /// `LogSignatureMissing`; one by a trusted key that fails is
    /// `LogSignatureInvalid` (as C2SP signed-note readers do). Returns the
    /// verified lines.
    pub fn verify_log(&self, verifiers: &[LogVerifier]) -> Result<Vec<NoteSignature>, LogError> {
        let origin = self.checkpoint.origin();
        let mut verified = Vec::new();
        for sig in &self.signatures {
            let trusted = verifiers
                .iter()
                .filter(|v| v.name() == origin)
                .find(|v| v.name() == sig.name && v.key_id() == sig.key_id);
            let Some(verifier) = trusted else { continue };
            if !signed_note::Verifier::verify(verifier, self.body.as_bytes(), &sig.bytes) {
                return Err(LogError::LogSignatureInvalid);
            }
            if !verified.contains(sig) {
                verified.push(sig.clone());
            }
        }
        if verified.is_empty() {
            return Err(LogError::LogSignatureMissing);
        }
        Ok(verified)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EMPTY_ROOT, LogKey};

    const ORIGIN: &str = "example.com/log";

    fn key() -> LogKey {
        LogKey::from_seed(ORIGIN, &[3; 32]).unwrap()
    }

    /// Signs `body` with `key` through signed_note, bypassing our checks.
    fn sign(body: &str, key: &LogKey) -> String {
        let skey = key.to_signer_key();
        let signer = signed_note::StandardSigner::new(&skey).unwrap();
        let mut note = Note::new(body.as_bytes(), &[]).unwrap();
        note.add_sigs(&[&signer]).unwrap();
        String::from_utf8(note.to_bytes()).unwrap()
    }

    #[test]
    fn extension_lines_and_other_signatures_are_read() {
        let body = format!(
            "{ORIGIN}\n0\n{}\next one\next two\n",
            EMPTY_ROOT.to_base64()
        );
        let other = LogKey::from_seed("other.example", &[4; 32]).unwrap();
        let note = sign(&body, &key());
        let both = format!(
            "{note}{}",
            sign(&body, &other).lines().last().unwrap().to_owned() + "\n"
        );
        let parsed = CheckpointNote::parse(both.as_bytes()).unwrap();
        assert_eq!(parsed.body(), body);
        assert_eq!(parsed.extensions(), ["ext one", "ext two"]);
        assert_eq!(parsed.signatures().len(), 2);
        assert_eq!(parsed.checkpoint().size(), 0);
        let verified = parsed.verify_log(&[key().verifier()]).unwrap();
        assert_eq!(verified.len(), 1);
        assert_eq!(
            format!("{body}\n{}", verified[0].to_line()),
            note,
            "lines round-trip byte for byte"
        );
        // The other key alone is not the log's key (its name is not the origin).
        assert!(matches!(
            parsed.verify_log(&[other.verifier()]),
            Err(LogError::LogSignatureMissing)
        ));
        // The strict reader still refuses extension lines.
        assert!(matches!(
            crate::open_checkpoint(note.as_bytes(), &key().verifier(), ORIGIN),
            Err(LogError::CheckpointMalformed(_))
        ));
    }

    #[test]
    fn bad_notes_and_signatures_are_refused() {
        let root = EMPTY_ROOT.to_base64();
        let good = sign(&format!("{ORIGIN}\n0\n{root}\n"), &key());
        let tampered = good.replacen("\n0\n", "\n1\n", 1);
        assert!(matches!(
            CheckpointNote::parse(tampered.as_bytes())
                .unwrap()
                .verify_log(&[key().verifier()]),
            Err(LogError::LogSignatureInvalid)
        ));
        for bad in [
            sign(&format!("{ORIGIN}\n0\n{root}\n\next\n"), &key()),
            good.replace("— ", "- "),
            good.trim_end().to_owned(),
            "x".repeat(MAX_NOTE_BYTES + 1),
        ] {
            assert!(CheckpointNote::parse(bad.as_bytes()).is_err(), "{bad:?}");
        }
    }
}
