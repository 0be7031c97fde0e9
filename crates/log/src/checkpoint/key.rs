//! The log's Ed25519 key in C2SP signed-note form.
//!
//! Verifier key: `<name>+<key id, 8 hex>+<base64(0x01 || public key)>`.
//! Signer key: `PRIVATE+KEY+<name>+<key id>+<base64(0x01 || seed)>` (the Go
//! sumdb/note form, which `signed_note` also reads).
//! Key id: the first 4 bytes, big-endian, of `SHA-256(name || 0x0A || 0x01 || public key)`.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, SignatureError};
use zeroize::Zeroizing;

use super::named::{KeyType, NamedKey, NamedVerifier};
use crate::LogError;

/// Signature type byte for Ed25519 in C2SP signed-note.
const ALG_ED25519: u8 = 0x01;

/// The log's key type: plain Ed25519 signed-note keys.
const ED25519: KeyType = KeyType {
    alg: ALG_ED25519,
    wrong_type: "key type is not Ed25519 (0x01)",
};

/// Longest origin (and key name) accepted, in bytes.
pub const MAX_ORIGIN_BYTES: usize = 255;

/// Longest key string accepted, checked before parsing.
pub(crate) const MAX_KEY_STRING: usize = MAX_ORIGIN_BYTES + 80;

/// The log's signing key. Its name is the checkpoint origin.
pub struct LogKey {
    key: NamedKey,
}

impl LogKey {
    /// Derives the key from a 32-byte Ed25519 seed; `name` is the log's origin.
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Self, LogError> {
        NamedKey::from_seed(ED25519, name, seed).map(|key| Self { key })
    }

    /// Parses a `PRIVATE+KEY+name+id+base64` signer key; the id must match.
    pub fn from_signer_key(skey: &str) -> Result<Self, LogError> {
        NamedKey::from_signer_key(ED25519, skey).map(|key| Self { key })
    }

    /// The `PRIVATE+KEY+...` signer key string. Secret: store it like a password.
    pub fn to_signer_key(&self) -> Zeroizing<String> {
        self.key.to_signer_key(ED25519)
    }

    /// The key name, which is also the origin of the checkpoints it signs.
    pub fn name(&self) -> &str {
        &self.key.name
    }

    /// The C2SP key id.
    pub fn key_id(&self) -> u32 {
        self.key.key_id
    }

    /// The matching verifier, to hand to clients.
    pub fn verifier(&self) -> LogVerifier {
        LogVerifier {
            key: self.key.verifier(),
        }
    }

    pub(crate) fn note_signer(&self) -> NoteSigner<'_> {
        NoteSigner(self)
    }
}

impl fmt::Debug for LogKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.key.debug(f, "LogKey")
    }
}

/// A log's public key, as clients configure it; checks with `verify_strict`.
#[derive(Clone, PartialEq, Eq)]
pub struct LogVerifier {
    key: NamedVerifier,
}

impl LogVerifier {
    /// Parses a `name+id+base64` verifier key; the id must match, weak keys are refused.
    pub fn from_vkey(vkey: &str) -> Result<Self, LogError> {
        NamedVerifier::from_vkey(ED25519, vkey).map(|key| Self { key })
    }

    /// The key name (the log's origin).
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
}

impl fmt::Display for LogVerifier {
    /// The `name+id+base64` verifier key string.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.key.write(ED25519, f)
    }
}

impl fmt::Debug for LogVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LogVerifier({self})")
    }
}

impl signed_note::Verifier for LogVerifier {
    fn name(&self) -> &str {
        &self.key.name
    }

    fn key_id(&self) -> u32 {
        self.key.key_id
    }

    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        // verify_strict rejects non-canonical and small-order encodings that
        // plain `verify` lets through (signature malleability).
        Signature::from_slice(sig).is_ok_and(|sig| self.key.key.verify_strict(msg, &sig).is_ok())
    }
}

/// Adapts [`LogKey`] to `signed_note`, without making it a public trait impl.
pub(crate) struct NoteSigner<'a>(&'a LogKey);

impl signed_note::Signer for NoteSigner<'_> {
    fn name(&self) -> &str {
        &self.0.key.name
    }

    fn key_id(&self) -> u32 {
        self.0.key.key_id
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, SignatureError> {
        use ed25519_dalek::Signer as _;
        Ok(self.0.key.signing.sign(msg).to_bytes().to_vec())
    }
}

/// The C2SP key id of an Ed25519 key: `SHA-256(name || 0x0A || 0x01 || key)[:4]`.
pub fn key_id(name: &str, public_key: &[u8; 32]) -> u32 {
    ED25519.key_id(name, public_key)
}

/// Checks an origin (also used as key name): non-empty, at most
/// [`MAX_ORIGIN_BYTES`], no whitespace, no control characters, no `+`.
///
/// C2SP requires only "non-empty" of origins and recommends the rest; we
/// require it so the origin can always be the signed-note key name.
pub(crate) fn check_origin(origin: &str) -> Result<(), LogError> {
    if origin.is_empty() {
        return Err(LogError::OriginInvalid("empty"));
    }
    if origin.len() > MAX_ORIGIN_BYTES {
        return Err(LogError::OriginInvalid("longer than 255 bytes"));
    }
    if origin.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(LogError::OriginInvalid(
            "contains whitespace or a control character",
        ));
    }
    if origin.contains('+') {
        return Err(LogError::OriginInvalid("contains '+'"));
    }
    Ok(())
}

/// Splits `name+id+base64` (base64 may itself contain `+`).
pub(crate) fn split_key_string(s: &str) -> Result<(&str, u32, &str), LogError> {
    let (name, rest) = s
        .split_once('+')
        .ok_or(LogError::KeyMalformed("expected name+id+key"))?;
    let (id_hex, key) = rest
        .split_once('+')
        .ok_or(LogError::KeyMalformed("expected name+id+key"))?;
    let canonical_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    if id_hex.len() != 8 || !id_hex.bytes().all(canonical_hex) {
        return Err(LogError::KeyMalformed(
            "key id must be 8 lowercase hex digits",
        ));
    }
    let id = u32::from_str_radix(id_hex, 16)
        .map_err(|_| LogError::KeyMalformed("key id must be 8 lowercase hex digits"))?;
    Ok((name, id, key))
}

/// Decodes `base64(alg || 32 bytes)`, canonical encoding only; `wrong_type`
/// is the error when the type byte is not `alg`.
pub(crate) fn decode_typed_key(
    b64: &str,
    alg: u8,
    wrong_type: &'static str,
) -> Result<[u8; 32], LogError> {
    if b64.len() != 44 {
        return Err(LogError::KeyMalformed("key must be base64 of 33 bytes"));
    }
    let decoded = Zeroizing::new(
        BASE64
            .decode(b64)
            .map_err(|_| LogError::KeyMalformed("key is not base64"))?,
    );
    let Some((first, key)) = decoded.split_first() else {
        return Err(LogError::KeyMalformed("key must be base64 of 33 bytes"));
    };
    if *first != alg {
        return Err(LogError::KeyMalformed(wrong_type));
    }
    key.try_into()
        .map_err(|_| LogError::KeyMalformed("key must be base64 of 33 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGIN: &str = "ledger.example/armsledger-test";

    fn key() -> LogKey {
        LogKey::from_seed(ORIGIN, &[7; 32]).unwrap()
    }

    #[test]
    fn key_id_matches_signed_note() {
        let k = key();
        let pubkey = [&[ALG_ED25519][..], k.key.signing.verifying_key().as_bytes()].concat();
        assert_eq!(k.key_id(), signed_note::key_id(ORIGIN, &pubkey));
    }

    #[test]
    fn key_strings_round_trip_and_match_signed_note() {
        let k = key();
        let skey = k.to_signer_key();
        let again = LogKey::from_signer_key(&skey).unwrap();
        assert_eq!(again.key_id(), k.key_id());
        assert_eq!(again.verifier(), k.verifier());
        let vkey = k.verifier().to_string();
        assert_eq!(LogVerifier::from_vkey(&vkey).unwrap(), k.verifier());
        // signed_note reads both forms and agrees on the id.
        let sn_signer = signed_note::StandardSigner::new(&skey).unwrap();
        let sn_verifier = signed_note::StandardVerifier::new(&vkey).unwrap();
        assert_eq!(signed_note::Signer::key_id(&sn_signer), k.key_id());
        assert_eq!(signed_note::Verifier::key_id(&sn_verifier), k.key_id());
        assert_eq!(
            vkey,
            signed_note::new_ed25519_verifier_key(ORIGIN, &k.key.signing.verifying_key())
        );
        assert!(!format!("{k:?}").contains(&skey[20..]));
    }

    #[test]
    fn malformed_keys_are_refused() {
        let vkey = key().verifier().to_string();
        let (name, rest) = vkey.split_once('+').unwrap();
        let (id, b64) = rest.split_once('+').unwrap();
        let bad = [
            String::new(),
            format!("{name}+{id}"),
            format!("{name}+0{id}+{b64}"),
            format!("{name}+00000000+{b64}"),
            format!("other.example+{id}+{b64}"),
            format!("{name}+{id}+{}", &b64[..43]),
            format!("{name}+{id}+{b64}="),
            format!("{name}+{id}+{}", BASE64.encode([0x04; 33])),
            format!("a b+{id}+{b64}"),
            format!("+{id}+{b64}"),
            "x".repeat(400),
        ];
        for vkey in bad {
            assert!(LogVerifier::from_vkey(&vkey).is_err(), "{vkey:?}");
        }
        assert!(split_key_string("n+0000000A+k").is_err());
        assert!(split_key_string("n+0000000a+k").is_ok());
        // A weak key with a correct id is still refused.
        let mut weak = [0u8; 32];
        weak[0] = 1; // the identity point
        let weak_vkey = format!(
            "{ORIGIN}+{:08x}+{}",
            key_id(ORIGIN, &weak),
            BASE64.encode([&[1u8][..], &weak].concat())
        );
        assert!(matches!(
            LogVerifier::from_vkey(&weak_vkey),
            Err(LogError::KeyMalformed(_))
        ));
        let skey = key().to_signer_key();
        assert!(LogKey::from_signer_key(&skey[1..]).is_err());
        assert!(LogKey::from_signer_key(&skey.replace(ORIGIN, "other.example")).is_err());
    }

    #[test]
    fn origins() {
        for ok in ["a", "example.com/log42", "ledger.gov.example/armsledger/v1"] {
            check_origin(ok).unwrap();
        }
        for bad in [
            "",
            "a b",
            "a+b",
            "a\nb",
            "a\u{85}b",
            "a\tb",
            &"x".repeat(256),
        ] {
            assert!(
                matches!(check_origin(bad), Err(LogError::OriginInvalid(_))),
                "{bad:?}"
            );
        }
    }
}
