//! Node hashing and the stored node form.
//!
//! A subtree with no leaf hashes to 32 zero bytes; a subtree with one leaf
//! hashes to that leaf's hash, wherever the subtree sits; any other subtree
//! hashes its two halves. So only the nodes where two leaves part are
//! stored, and a path of one-sided levels above a stored node is hashed
//! with zero siblings.
//!
//! ```text
//! leaf hash = SHA-256(0x02 ‖ key (32) ‖ value hash (32))
//! node hash = SHA-256(0x03 ‖ left (32) ‖ right (32))
//! ```

use armsledger_core::hash::Hash;

use crate::error::MapError;
use crate::key::{MapKey, bit};
use crate::value::Reader;

/// Prefix byte of a leaf hash (the log's tree uses 0x00 and 0x01).
pub const LEAF_PREFIX: u8 = 0x02;
/// Prefix byte of an inner node hash.
pub const NODE_PREFIX: u8 = 0x03;
/// The hash of an empty subtree, and the root of an empty map.
pub const EMPTY: Hash = Hash([0; 32]);

/// `SHA-256(0x02 ‖ key ‖ value hash)`.
pub fn leaf_hash(key: &MapKey, value_hash: &Hash) -> Hash {
    Hash::of(&[&[LEAF_PREFIX], &key.0, &value_hash.0])
}

/// `SHA-256(0x03 ‖ left ‖ right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    Hash::of(&[&[NODE_PREFIX], &left.0, &right.0])
}

/// Hashes `h`, the subtree at depth `from` on `path`, up to depth `to`
/// (≤ `from`) through levels whose other side is empty.
pub(crate) fn lift(mut h: Hash, path: &[u8; 32], from: usize, to: usize) -> Hash {
    for level in (to..from).rev() {
        h = if bit(path, level) {
            node_hash(&EMPTY, &h)
        } else {
            node_hash(&h, &EMPTY)
        };
    }
    h
}

/// What sits in one half of a stored node (or at the root).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Child {
    /// Nothing.
    Empty,
    /// A single leaf.
    Leaf {
        /// Its key.
        key: MapKey,
        /// Its value's hash.
        value_hash: Hash,
    },
    /// A stored node where two or more leaves part.
    Inner {
        /// The node's depth (0..=255): the bit that decides left or right.
        depth: u8,
        /// Its path; bits from `depth` on are zero.
        prefix: [u8; 32],
        /// The node's own hash (at `depth`, not lifted).
        hash: Hash,
    },
}

impl Child {
    /// The hash of the subtree this child is, seen from depth `at`.
    pub(crate) fn hash_at(&self, at: usize) -> Hash {
        match self {
            Child::Empty => EMPTY,
            Child::Leaf { key, value_hash } => leaf_hash(key, value_hash),
            Child::Inner {
                depth,
                prefix,
                hash,
            } => lift(*hash, prefix, usize::from(*depth), at),
        }
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Child::Empty => out.push(0),
            Child::Leaf { key, value_hash } => {
                out.push(1);
                out.extend_from_slice(&key.0);
                out.extend_from_slice(&value_hash.0);
            }
            Child::Inner {
                depth,
                prefix,
                hash,
            } => {
                out.push(2);
                out.push(*depth);
                out.extend_from_slice(prefix);
                out.extend_from_slice(&hash.0);
            }
        }
    }

    fn decode_from(r: &mut Reader<'_>) -> Result<Child, MapError> {
        let bad = || MapError::Corrupt {
            why: "truncated map node".into(),
        };
        Ok(match r.u8().ok_or_else(bad)? {
            0 => Child::Empty,
            1 => Child::Leaf {
                key: MapKey(r.array().ok_or_else(bad)?),
                value_hash: Hash(r.array().ok_or_else(bad)?),
            },
            2 => Child::Inner {
                depth: r.u8().ok_or_else(bad)?,
                prefix: r.array().ok_or_else(bad)?,
                hash: Hash(r.array().ok_or_else(bad)?),
            },
            t => {
                return Err(MapError::Corrupt {
                    why: format!("map node child tag {t}"),
                });
            }
        })
    }

    /// The stored form of a root pointer.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(66);
        self.encode_into(&mut out);
        out
    }

    /// Reads a stored root pointer.
    pub fn decode(bytes: &[u8]) -> Result<Child, MapError> {
        let mut r = Reader(bytes);
        let c = Child::decode_from(&mut r)?;
        if !r.0.is_empty() {
            return Err(MapError::Corrupt {
                why: "trailing bytes after map root".into(),
            });
        }
        Ok(c)
    }
}

/// A stored node: its two halves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Node {
    /// Bit 0 at this depth.
    pub left: Child,
    /// Bit 1 at this depth.
    pub right: Child,
}

impl Node {
    /// The node's hash at its own depth.
    pub(crate) fn hash(&self, depth: usize) -> Hash {
        node_hash(
            &self.left.hash_at(depth + 1),
            &self.right.hash_at(depth + 1),
        )
    }

    /// The half a key with bit `b` takes.
    pub(crate) fn side(&self, b: bool) -> &Child {
        if b { &self.right } else { &self.left }
    }

    /// The stored form: left then right, each `0` (empty), `1 ‖ key ‖ value
    /// hash` (a leaf) or `2 ‖ depth ‖ prefix ‖ hash` (a node).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(132);
        self.left.encode_into(&mut out);
        self.right.encode_into(&mut out);
        out
    }

    /// Reads a stored node.
    pub fn decode(bytes: &[u8]) -> Result<Node, MapError> {
        let mut r = Reader(bytes);
        let left = Child::decode_from(&mut r)?;
        let right = Child::decode_from(&mut r)?;
        if !r.0.is_empty() {
            return Err(MapError::Corrupt {
                why: "trailing bytes after map node".into(),
            });
        }
        Ok(Node { left, right })
    }
}

/// Where a node is stored: its depth and its path (bits from `depth` on zero).
pub type NodeKey = (u8, [u8; 32]);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_round_trip() {
        let n = Node {
            left: Child::Leaf {
                key: MapKey([1; 32]),
                value_hash: Hash([2; 32]),
            },
            right: Child::Inner {
                depth: 9,
                prefix: [3; 32],
                hash: Hash([4; 32]),
            },
        };
        assert_eq!(Node::decode(&n.encode()).unwrap(), n);
        let e = Node {
            left: Child::Empty,
            right: Child::Empty,
        };
        assert_eq!(Node::decode(&e.encode()).unwrap(), e);
        assert!(Node::decode(&[7]).is_err());
        assert!(Node::decode(&[0, 0, 0]).is_err());
        assert!(Child::decode(&[1, 2]).is_err());
    }

    #[test]
    fn lifting_through_empty_levels() {
        let h = Hash([9; 32]);
        let mut path = [0u8; 32];
        path[0] = 0b0100_0000;
        assert_eq!(lift(h, &path, 2, 2), h);
        let one = node_hash(&EMPTY, &h); // bit 1 is set: h is on the right
        assert_eq!(lift(h, &path, 2, 1), one);
        assert_eq!(lift(h, &path, 2, 0), node_hash(&one, &EMPTY));
    }
}
