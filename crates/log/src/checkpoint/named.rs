//! What every C2SP signed-note key of ours shares, whatever its signature
//! type: the log's checkpoint key (type 0x01) and a witness's cosignature/v1
//! key (type 0x04) differ only in that byte and in what they sign.
//!
//! ```text
//! key id:        SHA-256(name || 0x0A || type || public key)[:4]
//! verifier key:  <name>+<key id, 8 hex>+base64(type || public key)
//! signer key:    PRIVATE+KEY+<name>+<key id>+base64(type || seed)
//! ```

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use super::key::{MAX_KEY_STRING, check_origin, decode_typed_key, split_key_string};
use crate::LogError;

/// One kind of key: its signature type byte, and the error for a key
/// string of another type.
#[derive(Clone, Copy, Debug)]
pub(crate) struct KeyType {
    pub alg: u8,
    pub wrong_type: &'static str,
}

impl KeyType {
    /// The C2SP key id: `SHA-256(name || 0x0A || type || key)[:4]`.
    pub(crate) fn key_id(self, name: &str, public_key: &[u8; 32]) -> u32 {
        let digest = Sha256::new()
            .chain_update(name.as_bytes())
            .chain_update([b'\n', self.alg])
            .chain_update(public_key)
            .finalize();
        let (first, _) = digest.split_first_chunk::<4>().unwrap_or((&[0; 4], &[]));
        u32::from_be_bytes(*first)
    }

    /// `type || key`, the signed-note encoding of a key.
    pub(crate) fn tagged(self, key: &[u8; 32]) -> [u8; 33] {
        let mut out = [self.alg; 33];
        for (dst, src) in out.iter_mut().skip(1).zip(key) {
            *dst = *src;
        }
        out
    }
}

/// A named signing key of one type.
pub(crate) struct NamedKey {
    pub name: String,
    pub key_id: u32,
    pub signing: SigningKey,
}

impl NamedKey {
    /// Derives the key from a 32-byte Ed25519 seed.
    pub(crate) fn from_seed(ty: KeyType, name: &str, seed: &[u8; 32]) -> Result<Self, LogError> {
        check_origin(name)?;
        let signing = SigningKey::from_bytes(seed);
        let key_id = ty.key_id(name, signing.verifying_key().as_bytes());
        Ok(Self {
            name: name.to_owned(),
            key_id,
            signing,
        })
    }

    /// Parses a `PRIVATE+KEY+name+id+base64(type || seed)` signer key; the id must match.
    pub(crate) fn from_signer_key(ty: KeyType, skey: &str) -> Result<Self, LogError> {
        if skey.len() > MAX_KEY_STRING {
            return Err(LogError::KeyMalformed("signer key string too long"));
        }
        let rest = skey
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(LogError::KeyMalformed(
                "signer key must start with PRIVATE+KEY+",
            ))?;
        let (name, id, key) = split_key_string(rest)?;
        let seed = Zeroizing::new(decode_typed_key(key, ty.alg, ty.wrong_type)?);
        let named = Self::from_seed(ty, name, &seed)?;
        if named.key_id != id {
            return Err(LogError::KeyMalformed("key id does not match name and key"));
        }
        Ok(named)
    }

    /// The `PRIVATE+KEY+...` signer key string. Secret: store it like a password.
    pub(crate) fn to_signer_key(&self, ty: KeyType) -> Zeroizing<String> {
        let bytes = Zeroizing::new(ty.tagged(self.signing.as_bytes()));
        let encoded = Zeroizing::new(BASE64.encode(bytes.as_slice()));
        Zeroizing::new(format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.key_id,
            encoded.as_str()
        ))
    }

    /// The matching public key.
    pub(crate) fn verifier(&self) -> NamedVerifier {
        NamedVerifier {
            name: self.name.clone(),
            key_id: self.key_id,
            key: self.signing.verifying_key(),
        }
    }

    /// A `Debug` that names the key's type and never shows the secret.
    pub(crate) fn debug(&self, f: &mut fmt::Formatter<'_>, type_name: &str) -> fmt::Result {
        f.debug_struct(type_name)
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.key_id))
            .finish_non_exhaustive()
    }
}

/// A named public key of one type; checks are `verify_strict`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct NamedVerifier {
    pub name: String,
    pub key_id: u32,
    pub key: VerifyingKey,
}

impl NamedVerifier {
    /// Parses a `name+id+base64(type || key)` verifier key; the id must
    /// match, weak keys are refused.
    pub(crate) fn from_vkey(ty: KeyType, vkey: &str) -> Result<Self, LogError> {
        if vkey.len() > MAX_KEY_STRING {
            return Err(LogError::KeyMalformed("verifier key string too long"));
        }
        let (name, id, key) = split_key_string(vkey)?;
        check_origin(name)?;
        let key_bytes = decode_typed_key(key, ty.alg, ty.wrong_type)?;
        if ty.key_id(name, &key_bytes) != id {
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

    /// Writes the `name+id+base64(type || key)` verifier key string.
    pub(crate) fn write(&self, ty: KeyType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}+{:08x}+{}",
            self.name,
            self.key_id,
            BASE64.encode(ty.tagged(self.key.as_bytes()))
        )
    }
}
