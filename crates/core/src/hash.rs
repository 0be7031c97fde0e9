//! SHA-256 digests and the domain tags that keep every hashed or signed
//! structure apart.

use core::fmt;
use core::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};

/// Domain tags. Each is NUL-terminated ASCII, so no tag is a prefix of another
/// and a signature or hash made for one purpose can never be replayed as
/// another. The version number is part of the tag: a format change gets a new
/// tag.
pub mod tag {
    /// Prefix of the message a device signs for a ledger entry (its header).
    pub const ENTRY_STATEMENT: &[u8] = b"armsledger:entry-statement:v1\0";
    /// Prefix of the entry hash (the hash of an entry header).
    pub const ENTRY_HASH: &[u8] = b"armsledger:entry-hash:v1\0";
    /// Prefix of the body hash that an entry header commits to.
    pub const ENTRY_BODY: &[u8] = b"armsledger:entry-body:v3\0";
    /// Prefix of a device checkpoint statement (its chain head, signed on request).
    pub const DEVICE_CHECKPOINT: &[u8] = b"armsledger:device-checkpoint:v1\0";
    /// Prefix of a manufacturer's certificate over a device identity key.
    pub const DEVICE_CERT: &[u8] = b"armsledger:device-cert:v1\0";
    /// Prefix of a device attestation over a site key generated inside it.
    pub const ATTESTATION: &[u8] = b"armsledger:attestation:v1\0";
    /// Prefix of a retire statement signed by a key about to be destroyed.
    pub const RETIRE: &[u8] = b"armsledger:retire:v1\0";
    /// Prefix of a regulator authorisation sent to a device (key generation, retire, recover).
    pub const AUTHORISATION: &[u8] = b"armsledger:device-authorisation:v1\0";
    /// Prefix of the derivation of a firearm id from maker, model and serial.
    pub const FIREARM_ID: &[u8] = b"armsledger:firearm-id:v2\0";
    /// Prefix of the derivation of an ammunition lot id.
    pub const LOT_ID: &[u8] = b"armsledger:lot-id:v1\0";
    /// Prefix of the salted hash of a person's identifying data.
    pub const PERSON: &[u8] = b"armsledger:person:v1\0";
    /// Prefix of a sealed note's commitment (salt and text kept off the ledger).
    pub const NOTE: &[u8] = b"armsledger:sealed-note:v1\0";
}

/// A SHA-256 digest. Postcard encodes it as 32 raw bytes; human-readable
/// formats (JSON) as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// The all-zero hash, used as `prev_hash` of the first entry of a chain.
    pub const ZERO: Hash = Hash([0; 32]);

    /// SHA-256 over the concatenation of `parts`.
    pub fn of(parts: &[&[u8]]) -> Hash {
        let mut h = Sha256::new();
        for p in parts {
            h.update(p);
        }
        Hash(h.finalize().into())
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// A short prefix for humans (first 8 bytes in hex).
    pub fn short(&self) -> String {
        hex::encode(self.0.get(..8).unwrap_or(&[]))
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.short())
    }
}

/// Why a hex string is not a hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a hash is 64 hex digits")]
pub struct BadHash;

impl FromStr for Hash {
    type Err = BadHash;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| BadHash)?;
        Ok(Hash(out))
    }
}

impl Serialize for Hash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&self.to_string())
        } else {
            self.0.serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for Hash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let s = String::deserialize(d)?;
            s.parse().map_err(serde::de::Error::custom)
        } else {
            <[u8; 32]>::deserialize(d).map(Hash)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_prefix_free() {
        let all = [
            tag::ENTRY_STATEMENT,
            tag::ENTRY_HASH,
            tag::ENTRY_BODY,
            tag::DEVICE_CHECKPOINT,
            tag::DEVICE_CERT,
            tag::ATTESTATION,
            tag::RETIRE,
            tag::AUTHORISATION,
            tag::FIREARM_ID,
            tag::LOT_ID,
            tag::PERSON,
            tag::NOTE,
        ];
        for (i, a) in all.iter().enumerate() {
            assert_eq!(a.iter().filter(|&&b| b == 0).count(), 1);
            for (j, b) in all.iter().enumerate() {
                if i != j {
                    assert!(!b.starts_with(a), "{a:?} prefixes {b:?}");
                }
            }
        }
    }

    #[test]
    fn hex_round_trip_and_rejects() {
        let h = Hash::of(&[b"abc"]);
        assert_eq!(
            h.to_string(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(h.to_string().parse::<Hash>(), Ok(h));
        assert_eq!("zz".parse::<Hash>(), Err(BadHash));
        assert_eq!("ab".repeat(33).parse::<Hash>(), Err(BadHash));
    }
}
