//! C2SP tlog-cosignature/v1: a witness's timestamped Ed25519 signature over
//! a checkpoint.
//!
//! ```text
//! — <witness name> base64(key id (4) || timestamp (8, big-endian) || Ed25519 signature (64))
//!
//! signed message: "cosignature/v1\ntime <timestamp>\n" || checkpoint body
//! key id:         SHA-256(name || 0x0A || 0x04 || public key)[:4]
//! verifier key:   <name>+<key id, 8 hex>+base64(0x04 || public key)
//! signer key:     PRIVATE+KEY+<name>+<key id>+base64(0x04 || seed)
//! ```
//!
//! The checkpoint body is the whole note text: origin, size, root and any
//! extension lines. The timestamp is seconds since the Unix epoch, not zero
//! and at most 2^63 − 1. The name is not signed: never use one key under two
//! names.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::Signature;
use zeroize::Zeroizing;

use crate::checkpoint::{KeyType, MAX_KEY_STRING, NamedKey, NamedVerifier, check_origin};
use crate::{LogError, NoteSignature};

/// Signature type byte of a timestamped Ed25519 cosignature/v1 key.
pub const COSIGNATURE_ALG: u8 = 0x04;

/// Largest timestamp a cosignature may carry: 2^63 − 1.
pub const MAX_COSIGNATURE_TIME: u64 = (1 << 63) - 1;

/// Bytes after the key id in a cosignature line: timestamp and signature.
const COSIGNATURE_BYTES: usize = 8 + 64;

const WRONG_TYPE: &str = "key type is not a cosignature/v1 Ed25519 key (0x04)";

/// The cosignature/v1 key type.
const COSIGNATURE: KeyType = KeyType {
    alg: COSIGNATURE_ALG,
    wrong_type: WRONG_TYPE,
};

/// The C2SP key id of a cosignature/v1 key: `SHA-256(name || 0x0A || 0x04 || key)[:4]`.
pub fn cosignature_key_id(name: &str, public_key: &[u8; 32]) -> u32 {
    COSIGNATURE.key_id(name, public_key)
}

/// The bytes a cosignature signs: `cosignature/v1\ntime <t>\n` then `body`.
pub fn cosignature_message(body: &str, timestamp: u64) -> Vec<u8> {
    format!("cosignature/v1\ntime {timestamp}\n{body}").into_bytes()
}

/// A witness's cosigning key. Its name appears on every cosignature line.
pub struct CosignerKey {
    key: NamedKey,
}

impl CosignerKey {
    /// Derives the key from a 32-byte Ed25519 seed; `name` is the witness's name.
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Self, LogError> {
        NamedKey::from_seed(COSIGNATURE, name, seed).map(|key| Self { key })
    }

    /// Parses a `PRIVATE+KEY+name+id+base64(0x04 || seed)` signer key; the id must match.
    pub fn from_signer_key(skey: &str) -> Result<Self, LogError> {
        NamedKey::from_signer_key(COSIGNATURE, skey).map(|key| Self { key })
    }

    /// The `PRIVATE+KEY+...` signer key string. Secret: store it like a password.
    pub fn to_signer_key(&self) -> Zeroizing<String> {
        self.key.to_signer_key(COSIGNATURE)
    }

    /// The witness name.
    pub fn name(&self) -> &str {
        &self.key.name
    }

    /// The C2SP key id.
    pub fn key_id(&self) -> u32 {
        self.key.key_id
    }

    /// The matching verifier, to hand to logs and clients.
    pub fn verifier(&self) -> CosignatureVerifier {
        CosignatureVerifier {
            key: self.key.verifier(),
        }
    }

    /// Cosigns a checkpoint `body` (the note text, extension lines included)
    /// at `timestamp`.
    ///
    /// The caller must already have checked that this checkpoint is
    /// consistent with every one it cosigned for the log before.
    pub fn cosign(&self, body: &str, timestamp: u64) -> Result<Cosignature, LogError> {
        check_timestamp(timestamp)?;
        use ed25519_dalek::Signer as _;
        let signature = self
            .key
            .signing
            .sign(&cosignature_message(body, timestamp))
            .to_bytes();
        Ok(Cosignature {
            name: self.key.name.clone(),
            key_id: self.key.key_id,
            timestamp,
            signature,
        })
    }
}

impl fmt::Debug for CosignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.key.debug(f, "CosignerKey")
    }
}

/// A witness's public cosignature/v1 key, as logs and clients configure it.
#[derive(Clone, PartialEq, Eq)]
pub struct CosignatureVerifier {
    key: NamedVerifier,
}

impl CosignatureVerifier {
    /// Parses a `name+id+base64(0x04 || key)` verifier key; the id must
    /// match, weak keys are refused.
    pub fn from_vkey(vkey: &str) -> Result<Self, LogError> {
        NamedVerifier::from_vkey(COSIGNATURE, vkey).map(|key| Self { key })
    }

    /// The witness name (the name on its cosignature lines).
    pub fn name(&self) -> &str {
        &self.key.name
    }

    /// The C2SP key id.
    pub fn key_id(&self) -> u32 {
        self.key.key_id
    }

    /// The raw Ed25519 public key.
    pub fn public_key(&self) -> &[u8; 32] {
        self.key.key.as_bytes()
    }

    /// Whether a signature line is by this key (name and key id match).
    pub fn is_signer_of(&self, line: &NoteSignature) -> bool {
        line.name() == self.key.name && line.key_id() == self.key.key_id
    }

    /// Checks `cosignature` over the checkpoint `body` (the whole note text).
    ///
    /// A cosignature by another key is `CosignatureMalformed`; one that does
    /// not verify (Ed25519 `verify_strict`) is `CosignatureInvalid`.
    pub fn verify(&self, body: &str, cosignature: &Cosignature) -> Result<(), LogError> {
        if cosignature.name != self.key.name || cosignature.key_id != self.key.key_id {
            return Err(LogError::CosignatureMalformed(
                "cosignature is by another key (name or key id differ)",
            ));
        }
        check_timestamp(cosignature.timestamp)?;
        let sig = Signature::from_bytes(&cosignature.signature);
        self.key
            .key
            .verify_strict(&cosignature_message(body, cosignature.timestamp), &sig)
            .map_err(|_| LogError::CosignatureInvalid {
                witness: self.key.name.clone(),
            })
    }
}

impl fmt::Display for CosignatureVerifier {
    /// The `name+id+base64` verifier key string.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.key.write(COSIGNATURE, f)
    }
}

impl fmt::Debug for CosignatureVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CosignatureVerifier({self})")
    }
}

/// One cosignature/v1 line, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cosignature {
    name: String,
    key_id: u32,
    timestamp: u64,
    signature: [u8; 64],
}

impl Cosignature {
    /// Decodes a note signature line as a cosignature: 72 bytes after the
    /// key id, a timestamp in range.
    pub fn from_note_signature(line: &NoteSignature) -> Result<Self, LogError> {
        let bytes: &[u8; COSIGNATURE_BYTES] = line.bytes().try_into().map_err(|_| {
            LogError::CosignatureMalformed("cosignature must be 76 bytes with its key id")
        })?;
        let (time, signature) =
            bytes
                .split_first_chunk::<8>()
                .ok_or(LogError::CosignatureMalformed(
                    "cosignature must be 76 bytes with its key id",
                ))?;
        let signature: [u8; 64] = signature.try_into().map_err(|_| {
            LogError::CosignatureMalformed("cosignature must be 76 bytes with its key id")
        })?;
        let timestamp = u64::from_be_bytes(*time);
        check_timestamp(timestamp)?;
        Ok(Self {
            name: line.name().to_owned(),
            key_id: line.key_id(),
            timestamp,
            signature,
        })
    }

    /// Parses one `— <name> <base64>` line (a final `\n` is allowed).
    pub fn parse_line(line: &str) -> Result<Self, LogError> {
        let line = line.strip_suffix('\n').unwrap_or(line);
        if line.len() > MAX_KEY_STRING + 110 || line.contains('\n') {
            return Err(LogError::CosignatureMalformed("not one signature line"));
        }
        let sig = signed_note::Signature::from_bytes(line.as_bytes())
            .map_err(|_| LogError::CosignatureMalformed("not a signed-note signature line"))?;
        check_origin(sig.name())
            .map_err(|_| LogError::CosignatureMalformed("invalid witness name"))?;
        let mut raw = sig.id().to_be_bytes().to_vec();
        raw.extend_from_slice(sig.signature());
        let canonical = format!("— {} {}", sig.name(), BASE64.encode(raw));
        if canonical != line {
            return Err(LogError::CosignatureMalformed(
                "not a canonical signature line",
            ));
        }
        let note_sig = NoteSignature::new(sig.name().to_owned(), sig.id(), sig.signature());
        Self::from_note_signature(&note_sig)
    }

    /// The line, `— <name> <base64>\n`.
    pub fn to_line(&self) -> String {
        let mut raw = Vec::with_capacity(4 + COSIGNATURE_BYTES);
        raw.extend_from_slice(&self.key_id.to_be_bytes());
        raw.extend_from_slice(&self.timestamp.to_be_bytes());
        raw.extend_from_slice(&self.signature);
        format!("— {} {}\n", self.name, BASE64.encode(raw))
    }

    /// The witness name on the line.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id on the line.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// Seconds since the Unix epoch when the witness cosigned.
    pub fn timestamp(&self) -> u64 {
        self.timestamp
    }

    /// The Ed25519 signature.
    pub fn signature(&self) -> &[u8; 64] {
        &self.signature
    }
}

fn check_timestamp(timestamp: u64) -> Result<(), LogError> {
    if timestamp == 0 || timestamp > MAX_COSIGNATURE_TIME {
        return Err(LogError::CosignatureMalformed(
            "timestamp must be between 1 and 2^63 - 1",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = "example.com/log\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";

    fn key() -> CosignerKey {
        CosignerKey::from_seed("witness.example", &[9; 32]).unwrap()
    }

    #[test]
    fn cosign_verify_and_lines_round_trip() {
        let k = key();
        let c = k.cosign(BODY, 1_700_000_000).unwrap();
        k.verifier().verify(BODY, &c).unwrap();
        let again = Cosignature::parse_line(&c.to_line()).unwrap();
        assert_eq!(again, c);
        assert!(matches!(
            k.verifier().verify("example.com/log\n2\n", &c),
            Err(LogError::CosignatureInvalid { .. })
        ));
        let other = CosignerKey::from_seed("witness.example", &[8; 32]).unwrap();
        assert!(matches!(
            other.verifier().verify(BODY, &c),
            Err(LogError::CosignatureMalformed(_))
        ));
    }

    #[test]
    fn key_strings_round_trip_and_differ_from_log_keys() {
        let k = key();
        let skey = k.to_signer_key();
        let again = CosignerKey::from_signer_key(&skey).unwrap();
        assert_eq!(again.verifier(), k.verifier());
        let vkey = k.verifier().to_string();
        assert_eq!(CosignatureVerifier::from_vkey(&vkey).unwrap(), k.verifier());
        // The same seed as a log key (0x01) has another id and another string.
        let log = crate::LogKey::from_seed("witness.example", &[9; 32]).unwrap();
        assert_ne!(log.key_id(), k.key_id());
        assert!(crate::LogVerifier::from_vkey(&vkey).is_err());
        assert!(CosignatureVerifier::from_vkey(&log.verifier().to_string()).is_err());
        assert!(CosignerKey::from_signer_key(&log.to_signer_key()).is_err());
        assert!(!format!("{k:?}").contains(&skey[20..]));
    }

    #[test]
    fn timestamps_out_of_range_are_refused() {
        assert!(key().cosign(BODY, 0).is_err());
        assert!(key().cosign(BODY, MAX_COSIGNATURE_TIME + 1).is_err());
        key().cosign(BODY, MAX_COSIGNATURE_TIME).unwrap();
    }

    #[test]
    fn malformed_lines_are_refused() {
        let line = key().cosign(BODY, 5).unwrap().to_line();
        let b64 = line.trim_end().rsplit_once(' ').unwrap().1.to_owned();
        for bad in [
            String::new(),
            line.replace("— ", "-- "),
            format!("{line}{line}"),
            format!("— witness.example {}", &b64[..b64.len() - 4]),
            format!("— witness.example  {b64}"),
            format!("— witness.example {}", BASE64.encode([0u8; 80])),
            format!("— witness.example {}", BASE64.encode([0u8; 76])),
        ] {
            assert!(Cosignature::parse_line(&bad).is_err(), "{bad:?}");
        }
    }
}
