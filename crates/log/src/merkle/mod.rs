//! RFC 6962 / RFC 9162 Merkle tree hashing (as restated by C2SP merkle-tree).
//!
//! `leaf = SHA-256(0x00 || entry)`, `node = SHA-256(0x01 || left || right)`,
//! the empty tree hashes to `SHA-256("")`, and a tree of `n > 1` leaves splits
//! at the largest power of two below `n`.

mod frontier;
mod proof;
mod stored;

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha2::{Digest as _, Sha256};

use crate::LogError;

pub use frontier::{AppendedHashes, Frontier};
pub use proof::{verify_consistency, verify_inclusion};
pub(crate) use stored::read_exact;
pub use stored::{
    HashReader, prove_consistency, prove_inclusion, stored_hash_count, stored_hash_index, tree_root,
};

/// Largest tree size this crate handles: 2^62 leaves.
///
/// Far beyond any ledger, and low enough that no index arithmetic (stored-hash
/// numbering, tile coordinates) can overflow a `u64`.
pub const MAX_TREE_SIZE: u64 = 1 << 62;

/// Most hashes any proof for a tree of at most [`MAX_TREE_SIZE`] leaves can hold.
pub(crate) const MAX_PROOF_HASHES: usize = 64;

/// A SHA-256 Merkle tree hash: a leaf hash, an interior node or a root.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hash(pub [u8; 32]);

/// The root of the empty tree, `SHA-256("")`.
pub const EMPTY_ROOT: Hash = Hash([
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
]);

impl Hash {
    /// The 32 raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Standard padded base64, the form used in checkpoints and tlog-proofs.
    pub fn to_base64(&self) -> String {
        BASE64.encode(self.0)
    }

    /// Parses standard padded base64 of exactly 32 bytes, canonical form only.
    pub fn from_base64(s: &str) -> Result<Self, LogError> {
        // 32 bytes are always 44 characters; checking first bounds the decode.
        if s.len() != 44 {
            return Err(LogError::HashMalformed("base64 hash must be 44 characters"));
        }
        let bytes = BASE64
            .decode(s)
            .map_err(|_| LogError::HashMalformed("invalid base64"))?;
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| LogError::HashMalformed("base64 hash is not 32 bytes"))?;
        let hash = Hash(arr);
        if hash.to_base64() != s {
            return Err(LogError::HashMalformed("non-canonical base64"));
        }
        Ok(hash)
    }
}

impl From<[u8; 32]> for Hash {
    fn from(bytes: [u8; 32]) -> Self {
        Hash(bytes)
    }
}

impl fmt::Display for Hash {
    /// Lowercase hex, 64 characters.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({self})")
    }
}

impl FromStr for Hash {
    type Err = LogError;

    /// Parses exactly 64 lowercase hex digits, the [`fmt::Display`] form.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 64 {
            return Err(LogError::HashMalformed("hex hash must be 64 characters"));
        }
        if s.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(LogError::HashMalformed("hex hash must be lowercase"));
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| LogError::HashMalformed("invalid hex"))?;
        Ok(Hash(out))
    }
}

/// The leaf hash of one log entry: `SHA-256(0x00 || entry)`.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(entry);
    Hash(h.finalize().into())
}

/// The hash of an interior node: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left.0);
    h.update(right.0);
    Hash(h.finalize().into())
}

/// The root of the tree over these leaf hashes, by the RFC's recursion.
///
/// The slow, obviously-correct reference the other functions are tested
/// against; use [`Frontier`] or [`tree_root`] in production paths.
pub fn root_of(leaves: &[Hash]) -> Hash {
    match leaves {
        [] => EMPTY_ROOT,
        [only] => *only,
        _ => {
            let k = split_point(leaves.len());
            let (left, right) = leaves.split_at(k);
            node_hash(&root_of(left), &root_of(right))
        }
    }
}

/// The largest power of two strictly below `n`, for `n >= 2`.
fn split_point(n: usize) -> usize {
    debug_assert!(n >= 2);
    let below = n.saturating_sub(1);
    1usize << (usize::BITS - 1 - below.leading_zeros())
}

/// Rejects tree sizes above [`MAX_TREE_SIZE`].
pub(crate) fn check_tree_size(size: u64) -> Result<(), LogError> {
    if size > MAX_TREE_SIZE {
        return Err(LogError::TreeTooLarge { size });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(EMPTY_ROOT, Hash(Sha256::digest(b"").into()));
        assert_eq!(root_of(&[]), EMPTY_ROOT);
    }

    #[test]
    fn split_point_is_largest_power_of_two_below() {
        for (n, k) in [(2, 1), (3, 2), (4, 2), (5, 4), (8, 4), (9, 8), (1000, 512)] {
            assert_eq!(split_point(n), k, "n = {n}");
        }
    }

    #[test]
    fn hex_round_trip_and_strictness() {
        let h = leaf_hash(b"x");
        assert_eq!(h.to_string().parse::<Hash>().unwrap(), h);
        assert!(h.to_string().to_uppercase().parse::<Hash>().is_err());
        assert!(h.to_string()[1..].parse::<Hash>().is_err());
        assert!(format!("{h}0").parse::<Hash>().is_err());
        assert!("zz".repeat(32).parse::<Hash>().is_err());
        assert_eq!(format!("{h:?}"), format!("Hash({h})"));
    }

    #[test]
    fn base64_round_trip_and_strictness() {
        let h = leaf_hash(b"x");
        assert_eq!(Hash::from_base64(&h.to_base64()).unwrap(), h);
        // 31 and 33 bytes.
        assert!(Hash::from_base64(&BASE64.encode([0u8; 31])).is_err());
        assert!(Hash::from_base64(&BASE64.encode([0u8; 33])).is_err());
        // Unpadded, URL-safe alphabet, non-canonical trailing bits.
        assert!(Hash::from_base64(h.to_base64().trim_end_matches('=')).is_err());
        assert!(Hash::from_base64(&format!("{}=", "_".repeat(43))).is_err());
        let mut s = EMPTY_ROOT.to_base64();
        assert!(s.ends_with("U="));
        s.replace_range(42..43, "V"); // sets a trailing bit that carries no data
        assert!(Hash::from_base64(&s).is_err());
    }
}
