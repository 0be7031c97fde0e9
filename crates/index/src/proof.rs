//! Proofs of a key's leaf, or of its absence, and their wire form.
//!
//! ```text
//! proof    = 0x01 ‖ depth D (u16 BE, ≤ 256) ‖ bitmap (⌈D/8⌉ bytes) ‖ sibling × popcount ‖ terminal
//! bitmap   : bit i (most significant first) is set when the sibling at level i is not empty;
//!            padding bits are zero
//! sibling  : 32 bytes, levels in increasing order; an empty sibling is never written
//! terminal = 0x00 (an empty subtree) | 0x01 ‖ key (32) ‖ value hash (32) (a leaf)
//! ```
//!
//! To check: start from the terminal's hash (zero, or the leaf hash) at
//! depth D; for i = D−1 down to 0 hash with the sibling at level i, on the
//! left when bit i of the key is 1. The result must be the root. A leaf
//! terminal must share the key's first D bits; it proves the key's value
//! when it is the key, and the key's absence when it is another key.

use armsledger_core::hash::Hash;

use crate::error::MapError;
use crate::key::{MapKey, common_prefix};
use crate::node::{EMPTY, leaf_hash, node_hash};
use crate::value::{LeafValue, Reader, value_hash};

/// The proof format's version byte.
pub const PROOF_VERSION: u8 = 1;
/// Largest encoded proof (256 siblings and a leaf), checked before decoding.
pub const MAX_PROOF_BYTES: usize = 1 + 2 + 32 + 256 * 32 + 1 + 64;

/// Where a proof's path ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Terminal {
    /// An empty subtree: the key is absent.
    Empty,
    /// A leaf: the key's own (present) or another key's (the key is absent).
    Leaf {
        /// The leaf's key.
        key: MapKey,
        /// The leaf's value hash.
        value_hash: Hash,
    },
}

/// What a proof shows about a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// The key's leaf has a value with this hash.
    Present(Hash),
    /// The map has no leaf for the key.
    Absent,
}

/// A proof of a key's leaf or of its absence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proof {
    siblings: Vec<Hash>,
    terminal: Terminal,
}

impl Proof {
    pub(crate) fn new(siblings: Vec<Hash>, terminal: Terminal) -> Proof {
        Proof { siblings, terminal }
    }

    /// The depth at which the path ends.
    pub fn depth(&self) -> usize {
        self.siblings.len()
    }

    /// Where the path ends.
    pub fn terminal(&self) -> &Terminal {
        &self.terminal
    }

    /// Checks the proof for `key` against `root`.
    pub fn verify(&self, root: &Hash, key: &MapKey) -> Result<Answer, MapError> {
        let d = self.siblings.len();
        let (mut h, answer) = match self.terminal {
            Terminal::Empty => (EMPTY, Answer::Absent),
            Terminal::Leaf { key: k, value_hash } => {
                if common_prefix(&k.0, &key.0) < d {
                    return Err(MapError::OffPath {
                        key: key.to_string(),
                    });
                }
                let answer = if k == *key {
                    Answer::Present(value_hash)
                } else {
                    Answer::Absent
                };
                (leaf_hash(&k, &value_hash), answer)
            }
        };
        for (level, s) in self.siblings.iter().enumerate().rev() {
            h = if key.bit(level) {
                node_hash(s, &h)
            } else {
                node_hash(&h, s)
            };
        }
        if h != *root {
            return Err(MapError::RootMismatch {
                key: key.to_string(),
                root: hex::encode(root.0),
            });
        }
        Ok(answer)
    }

    /// Checks the proof and the value shown with it: `Some(value)` when the
    /// key is present (the value must hash to what its leaf commits to),
    /// `None` when it is absent (and no value may be shown).
    pub fn verify_value(
        &self,
        root: &Hash,
        key: &MapKey,
        value: Option<&[u8]>,
    ) -> Result<Option<LeafValue>, MapError> {
        match (self.verify(root, key)?, value) {
            (Answer::Present(vh), Some(v)) if value_hash(v) == vh => {
                Ok(Some(LeafValue::decode(v)?))
            }
            (Answer::Absent, None) => Ok(None),
            _ => Err(MapError::ValueMismatch {
                key: key.to_string(),
            }),
        }
    }

    /// The wire form (see the module docs).
    pub fn encode(&self) -> Vec<u8> {
        let d = self.siblings.len();
        let mut bitmap = vec![0u8; d.div_ceil(8)];
        let mut hashes = Vec::new();
        for (i, s) in self.siblings.iter().enumerate() {
            if *s != EMPTY {
                if let Some(b) = bitmap.get_mut(i / 8) {
                    *b |= 0x80 >> (i % 8);
                }
                hashes.extend_from_slice(&s.0);
            }
        }
        let mut out = Vec::with_capacity(3 + bitmap.len() + hashes.len() + 65);
        out.push(PROOF_VERSION);
        // d ≤ 256: a path has at most 256 levels.
        out.extend_from_slice(&(d as u16).to_be_bytes());
        out.extend_from_slice(&bitmap);
        out.extend_from_slice(&hashes);
        match self.terminal {
            Terminal::Empty => out.push(0),
            Terminal::Leaf { key, value_hash } => {
                out.push(1);
                out.extend_from_slice(&key.0);
                out.extend_from_slice(&value_hash.0);
            }
        }
        out
    }

    /// Reads the wire form: size checked first, canonical only (no empty
    /// sibling written out, zero padding, nothing left over).
    pub fn decode(bytes: &[u8]) -> Result<Proof, MapError> {
        let bad = |why: &'static str| MapError::BadProof { why };
        if bytes.len() > MAX_PROOF_BYTES {
            return Err(MapError::TooLarge {
                what: "map proof",
                len: bytes.len(),
                max: MAX_PROOF_BYTES,
            });
        }
        let mut r = Reader(bytes);
        if r.u8().ok_or(bad("empty"))? != PROOF_VERSION {
            return Err(bad("unknown version"));
        }
        let d = usize::from(u16::from_be_bytes(r.array().ok_or(bad("no depth"))?));
        if d > 256 {
            return Err(bad("deeper than 256 levels"));
        }
        let bitmap = r.take(d.div_ceil(8)).ok_or(bad("truncated bitmap"))?;
        let mut siblings = Vec::with_capacity(d);
        for i in 0..d {
            let set = bitmap
                .get(i / 8)
                .is_some_and(|b| b & (0x80 >> (i % 8)) != 0);
            if set {
                let s = Hash(r.array().ok_or(bad("truncated sibling"))?);
                if s == EMPTY {
                    return Err(bad("an empty sibling written out"));
                }
                siblings.push(s);
            } else {
                siblings.push(EMPTY);
            }
        }
        if d % 8 != 0 && bitmap.last().is_some_and(|b| b & (0xffu8 >> (d % 8)) != 0) {
            return Err(bad("bitmap padding not zero"));
        }
        let terminal = match r.u8().ok_or(bad("no terminal"))? {
            0 => Terminal::Empty,
            1 => Terminal::Leaf {
                key: MapKey(r.array().ok_or(bad("truncated leaf"))?),
                value_hash: Hash(r.array().ok_or(bad("truncated leaf"))?),
            },
            _ => return Err(bad("unknown terminal")),
        };
        if !r.0.is_empty() {
            return Err(bad("trailing bytes"));
        }
        Ok(Proof { siblings, terminal })
    }
}
