//! The log's Ed25519 key in C2SP signed-note form.
//!
//! Verifier key: `<name>+<key id, 8 hex>+<base64(0x01 || public key)>`.
//! Signer key: `PRIVATE+KEY+<name>+<key id>+<base64(0x01 || seed)>` (the Go
//! sumdb/note form, which `signed_note` also reads).
//! Key id: the first 4 bytes, big-endian, of `SHA-256(name || 0x0A || 0x01 || public key)`.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, SignatureError, SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use crate::LogError;

/// Signature type byte for Ed25519 in C2SP signed-note.
const ALG_ED25519: u8 = 0x01;

/// Longest origin (and key name) accepted, in bytes.
pub const MAX_ORIGIN_BYTES: usize = 255;

/// Longest key string accepted, checked before parsing.
pub(crate) const MAX_KEY_STRING: usize = MAX_ORIGIN_BYTES + 80;

/// The log's signing key. Its name is the checkpoint origin.
pub struct LogKey {
    name: String,
    key_id: u32,
    signing: SigningKey,
}

impl LogKey {
    /// Derives the key from a 32-byte Ed25519 seed; `name` is the log's origin.
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Self, LogError> {
        check_origin(name)?;
        let signing = SigningKey::from_bytes(seed);
        let key_id = key_id(name, signing.verifying_key().as_bytes());
        Ok(Self {
            name: name.to_owned(),
            key_id,
            signing,
        })
    }

    /// Parses a `PRIVATE+KEY+name+id+base64` signer key; the id must match.
    pub fn from_signer_key(skey: &str) -> Result<Self, LogError> {
        if skey.len() > MAX_KEY_STRING {
            return Err(LogError::KeyMalformed("signer key string too long"));
        }
        let rest = skey
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(LogError::KeyMalformed(
                "signer key must start with PRIVATE+KEY+",
            ))?;
        let (name, id, key) = split_key_string(rest)?;
        let seed: Zeroizing<[u8; 32]> = Zeroizing::new(decode_key_bytes(key)?);
        let log_key = Self::from_seed(name, &seed)?;
        if log_key.key_id != id {
            return Err(LogError::KeyMalformed("key id does not match name and key"));
        }
        Ok(log_key)
    }

    /// The `PRIVATE+KEY+...` signer key string. Secret: store it like a password.
    pub fn to_signer_key(&self) -> Zeroizing<String> {
        let bytes = Zeroizing::new(tagged(self.signing.as_bytes()));
        let encoded = Zeroizing::new(BASE64.encode(bytes.as_slice()));
        Zeroizing::new(format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.key_id,
            encoded.as_str()
        ))
    }

    /// The key name, which is also the origin of the checkpoints it signs.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The C2SP key id.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The matching verifier, to hand to clients.
    pub fn verifier(&self) -> LogVerifier {
        LogVerifier {
            name: self.name.clone(),
            key_id: self.key_id,
            key: self.signing.verifying_key(),
        }
    }

    pub(crate) fn note_signer(&self) -> NoteSigner<'_> {
        NoteSigner(self)
    }
}

impl fmt::Debug for LogKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogKey")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.key_id))
            .finish_non_exhaustive()
    }
}

/// A log's public key, as clients configure it; checks with `verify_strict`.
#[derive(Clone, PartialEq, Eq)]
pub struct LogVerifier {
    name: String,
    key_id: u32,
    key: VerifyingKey,
}

impl LogVerifier {
    /// Parses a `name+id+base64` verifier key; the id must match, weak keys are refused.
    pub fn from_vkey(vkey: &str) -> Result<Self, LogError> {
        if vkey.len() > MAX_KEY_STRING {
            return Err(LogError::KeyMalformed("verifier key string too long"));
        }
        let (name, id, key) = split_key_string(vkey)?;
        check_origin(name)?;
        let key_bytes = decode_key_bytes(key)?;
        if key_id(name, &key_bytes) != id {
            return Err(LogError::KeyMalformed("key id does not match name and key"));
        }
        let key = VerifyingKey::from_bytes(&key_bytes)
            .map_err(|_| LogError::KeyMalformed("not an Ed25519 public key"))?;
        if key.is_weak() {
            return Err(LogError::KeyMalformed("weak (small-order) Ed25519 key"));
        }
        Ok(Self {
            name: name.to_owned(),
            key_id: id,
            key,
        })
    }

    /// The key name (the log's origin).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The C2SP key id.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The raw Ed25519 public key.
    pub fn public_key(&self) -> &[u8; 32] {
        self.key.as_bytes()
    }
}

impl fmt::Display for LogVerifier {
    /// The `name+id+base64` verifier key string.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = tagged(self.key.as_bytes());
        write!(
            f,
            "{}+{:08x}+{}",
            self.name,
            self.key_id,
            BASE64.encode(bytes)
        )
    }
}

impl fmt::Debug for LogVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LogVerifier({self})")
    }
}

impl signed_note::Verifier for LogVerifier {
    fn name(&self) -> &str {
        &self.name
    }

    fn key_id(&self) -> u32 {
        self.key_id
    }

    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        // verify_strict rejects non-canonical and small-order encodings that
        // plain `verify` lets through (signature malleability).
        Signature::from_slice(sig).is_ok_and(|sig| self.key.verify_strict(msg, &sig).is_ok())
    }
}

/// Adapts [`LogKey`] to `signed_note`, without making it a public trait impl.
pub(crate) struct NoteSigner<'a>(&'a LogKey);

impl signed_note::Signer for NoteSigner<'_> {
    fn name(&self) -> &str {
        &self.0.name
    }

    fn key_id(&self) -> u32 {
        self.0.key_id
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, SignatureError> {
        use ed25519_dalek::Signer as _;
        Ok(self.0.signing.sign(msg).to_bytes().to_vec())
    }
}

/// The C2SP key id of an Ed25519 key: `SHA-256(name || 0x0A || 0x01 || key)[:4]`.
pub fn key_id(name: &str, public_key: &[u8; 32]) -> u32 {
    let digest = Sha256::new()
        .chain_update(name.as_bytes())
        .chain_update([b'\n', ALG_ED25519])
        .chain_update(public_key)
        .finalize();
    let (first, _) = digest.split_first_chunk::<4>().unwrap_or((&[0; 4], &[]));
    u32::from_be_bytes(*first)
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

/// `0x01 || key`, the signed-note encoding of an Ed25519 key.
fn tagged(key: &[u8; 32]) -> [u8; 33] {
    let mut out = [ALG_ED25519; 33];
    for (dst, src) in out.iter_mut().skip(1).zip(key) {
        *dst = *src;
    }
    out
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

/// Decodes `base64(0x01 || 32 bytes)`, canonical encoding only.
fn decode_key_bytes(b64: &str) -> Result<[u8; 32], LogError> {
    decode_typed_key(b64, ALG_ED25519, "key type is not Ed25519 (0x01)")
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
        let pubkey = [&[ALG_ED25519][..], k.signing.verifying_key().as_bytes()].concat();
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
            signed_note::new_ed25519_verifier_key(ORIGIN, &k.signing.verifying_key())
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
