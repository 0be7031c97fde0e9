//! Ed25519 signatures and keys as they appear inside signed structures, and
//! the one place where statements are signed and checked: one at a time with
//! [`verify_strict`], or many at once with [`batch`], whose verdict is exactly
//! `verify_strict`'s (the server's ingest and the offline verifier use it).

use core::fmt;

use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use serde::de::{self, SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::codec;

pub mod batch;

/// A 64-byte Ed25519 signature. Postcard encodes it as 64 raw bytes; JSON as hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sig(pub [u8; 64]);

impl fmt::Debug for Sig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sig({}…)", hex::encode(self.0.get(..8).unwrap_or(&[])))
    }
}

impl Serialize for Sig {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            return s.serialize_str(&hex::encode(self.0));
        }
        let mut t = s.serialize_tuple(64)?;
        for b in &self.0 {
            t.serialize_element(b)?;
        }
        t.end()
    }
}

impl<'de> Deserialize<'de> for Sig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Sig;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("64 signature bytes")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Sig, A::Error> {
                let mut out = [0u8; 64];
                for (i, b) in out.iter_mut().enumerate() {
                    *b = seq
                        .next_element()?
                        .ok_or_else(|| de::Error::invalid_length(i, &self))?;
                }
                Ok(Sig(out))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Sig, E> {
                let mut out = [0u8; 64];
                hex::decode_to_slice(v, &mut out).map_err(E::custom)?;
                Ok(Sig(out))
            }
        }
        if d.is_human_readable() {
            d.deserialize_str(V)
        } else {
            d.deserialize_tuple(64, V)
        }
    }
}

/// Why a signature check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SigError {
    /// The public key is not a valid, non-weak Ed25519 point.
    #[error("the public key is malformed or of small order")]
    BadKey,
    /// `verify_strict` refused the signature.
    #[error("the signature does not verify")]
    BadSignature,
    /// The statement could not be encoded.
    #[error("the statement could not be encoded")]
    Encoding,
}

/// A structure signed with a domain tag: the message is `TAG || postcard(self)`.
pub trait Statement: Serialize {
    /// The domain tag (see [`crate::hash::tag`]).
    const TAG: &'static [u8];

    /// The exact message bytes that are signed.
    fn message(&self) -> Result<Vec<u8>, SigError> {
        let mut m = Self::TAG.to_vec();
        codec::encode_into(self, &mut m).map_err(|_| SigError::Encoding)?;
        Ok(m)
    }

    /// Signs with a key held in memory (devices and tests).
    fn sign(&self, key: &SigningKey) -> Result<Sig, SigError> {
        Ok(Sig(key.sign(&self.message()?).to_bytes()))
    }

    /// Checks `sig` with `verify_strict` against `public_key`.
    fn verify(&self, public_key: &[u8; 32], sig: &Sig) -> Result<(), SigError> {
        verify_strict(public_key, &self.message()?, sig)
    }
}

/// Parses a public key, refusing malformed and small-order (weak) points.
pub fn parse_key(public_key: &[u8; 32]) -> Result<VerifyingKey, SigError> {
    let k = VerifyingKey::from_bytes(public_key).map_err(|_| SigError::BadKey)?;
    if k.is_weak() {
        return Err(SigError::BadKey);
    }
    Ok(k)
}

/// `verify_strict` over raw message bytes: the authoritative verdict everywhere.
pub fn verify_strict(public_key: &[u8; 32], message: &[u8], sig: &Sig) -> Result<(), SigError> {
    let k = VerifyingKey::from_bytes(public_key).map_err(|_| SigError::BadKey)?;
    let s = ed25519_dalek::Signature::from_bytes(&sig.0);
    k.verify_strict(message, &s)
        .map_err(|_| SigError::BadSignature)
}

/// A signing key derived from a 32-byte seed (tests, examples and the device simulator).
pub fn key_from_seed(seed: &[u8; 32]) -> SigningKey {
    SigningKey::from_bytes(seed)
}
