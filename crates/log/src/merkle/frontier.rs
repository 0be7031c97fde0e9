//! The compact range of a growing tree: O(log n) append, root at any time.

use super::{EMPTY_ROOT, Hash, HashReader, MAX_TREE_SIZE, check_tree_size, node_hash};
use crate::LogError;

/// Versioned domain tag that starts a persisted [`Frontier`].
const FRONTIER_TAG: &[u8] = b"armsledger/log/frontier/v1";

/// Longest persisted frontier: tag, size, and one hash per bit of a size.
const MAX_FRONTIER_BYTES: usize = FRONTIER_TAG.len() + 8 + 32 * 64;

/// The hashes one append adds to the stored-hash numbering.
///
/// `hashes[i]` belongs at stored-hash index `first_index + i`: first the leaf
/// hash, then the root of every perfect subtree the leaf completed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppendedHashes {
    /// Stored-hash index of the leaf hash, [`super::stored_hash_index`]`(0, leaf_index)`.
    pub first_index: u64,
    /// The leaf hash followed by the newly completed subtree roots, bottom up.
    pub hashes: Vec<Hash>,
}

/// The right edge of a tree: the roots of its maximal perfect subtrees.
///
/// Holds one hash per set bit of the tree size, leftmost (largest) first,
/// which is all that is needed to append a leaf or compute the root. A store
/// persists it with [`Frontier::to_bytes`] next to the stored hashes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    nodes: Vec<Hash>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of leaves appended so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The RFC 6962 root of the tree so far ([`EMPTY_ROOT`] when empty).
    pub fn root(&self) -> Hash {
        let mut nodes = self.nodes.iter().rev();
        let Some(last) = nodes.next() else {
            return EMPTY_ROOT;
        };
        nodes.fold(*last, |right, left| node_hash(left, &right))
    }

    /// Appends one leaf hash and returns the stored hashes it creates.
    pub fn append(&mut self, leaf: Hash) -> Result<AppendedHashes, LogError> {
        if self.size >= MAX_TREE_SIZE {
            return Err(LogError::TreeTooLarge {
                size: self.size.saturating_add(1),
            });
        }
        let first_index = super::stored_hash_index(0, self.size)?;
        // Each trailing one bit of the size is a perfect subtree the new leaf
        // completes; those subtrees are the rightmost frontier nodes.
        let completes = self.size.trailing_ones() as usize;
        let keep = self
            .nodes
            .len()
            .checked_sub(completes)
            .ok_or(LogError::FrontierMalformed("fewer nodes than size bits"))?;
        let merged = self.nodes.split_off(keep);
        let mut hashes = Vec::with_capacity(completes + 1);
        hashes.push(leaf);
        let mut node = leaf;
        for left in merged.iter().rev() {
            node = node_hash(left, &node);
            hashes.push(node);
        }
        self.nodes.push(node);
        self.size += 1;
        Ok(AppendedHashes {
            first_index,
            hashes,
        })
    }

    /// Persisted form: `FRONTIER_TAG || size (u64 big-endian) || nodes`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(FRONTIER_TAG.len() + 8 + 32 * self.nodes.len());
        out.extend_from_slice(FRONTIER_TAG);
        out.extend_from_slice(&self.size.to_be_bytes());
        for node in &self.nodes {
            out.extend_from_slice(&node.0);
        }
        out
    }

    /// Decodes [`Frontier::to_bytes`] output, exactly: no missing or extra hashes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, LogError> {
        if bytes.len() > MAX_FRONTIER_BYTES {
            return Err(LogError::FrontierMalformed("longer than any frontier"));
        }
        let rest = bytes
            .strip_prefix(FRONTIER_TAG)
            .ok_or(LogError::FrontierMalformed("missing frontier/v1 tag"))?;
        let (size_bytes, rest) = rest
            .split_first_chunk::<8>()
            .ok_or(LogError::FrontierMalformed("truncated size"))?;
        let size = u64::from_be_bytes(*size_bytes);
        if size > MAX_TREE_SIZE {
            return Err(LogError::FrontierMalformed("size above the maximum"));
        }
        let (chunks, remainder) = rest.as_chunks::<32>();
        if !remainder.is_empty() || chunks.len() != size.count_ones() as usize {
            return Err(LogError::FrontierMalformed(
                "hash count does not match the size",
            ));
        }
        Ok(Self {
            size,
            nodes: chunks.iter().map(|c| Hash(*c)).collect(),
        })
    }

    /// Rebuilds the frontier of a tree of `size` leaves from its stored hashes.
    pub fn from_reader<R: HashReader + ?Sized>(reader: &R, size: u64) -> Result<Self, LogError> {
        check_tree_size(size)?;
        let mut indexes = Vec::with_capacity(size.count_ones() as usize);
        let mut start = 0u64;
        for level in (0..64u8).rev() {
            let width = 1u64 << level;
            if size & width != 0 {
                indexes.push(super::stored_hash_index(level, start >> level)?);
                start += width;
            }
        }
        let nodes = super::stored::read_exact(reader, &indexes)?;
        Ok(Self { size, nodes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{leaf_hash, root_of};

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    #[test]
    fn root_matches_reference_at_every_size() {
        let all = leaves(300);
        let mut f = Frontier::new();
        assert_eq!(f.root(), EMPTY_ROOT);
        for (i, leaf) in all.iter().enumerate() {
            f.append(*leaf).unwrap();
            assert_eq!(f.root(), root_of(&all[..=i]), "size {}", i + 1);
            assert_eq!(f.nodes.len(), f.size.count_ones() as usize);
        }
    }

    #[test]
    fn appended_hashes_follow_the_stored_numbering() {
        let mut stored = Vec::new();
        let mut f = Frontier::new();
        for leaf in leaves(100) {
            let appended = f.append(leaf).unwrap();
            assert_eq!(appended.first_index, stored.len() as u64);
            stored.extend(appended.hashes);
            assert_eq!(
                stored.len() as u64,
                super::super::stored_hash_count(f.size()).unwrap()
            );
            assert_eq!(Frontier::from_reader(&stored, f.size()).unwrap(), f);
        }
    }

    #[test]
    fn bytes_round_trip_and_strict_decoding() {
        let mut f = Frontier::new();
        for leaf in leaves(11) {
            f.append(leaf).unwrap();
        }
        let bytes = f.to_bytes();
        assert_eq!(bytes.len(), FRONTIER_TAG.len() + 8 + 3 * 32);
        assert_eq!(Frontier::from_bytes(&bytes).unwrap(), f);
        assert_eq!(
            Frontier::from_bytes(&Frontier::new().to_bytes()).unwrap(),
            Frontier::new()
        );

        let fail = |b: &[u8]| Frontier::from_bytes(b).unwrap_err();
        assert!(matches!(
            fail(&bytes[..bytes.len() - 1]),
            LogError::FrontierMalformed(_)
        ));
        assert!(matches!(
            fail(&[bytes.as_slice(), &[0; 32]].concat()),
            LogError::FrontierMalformed(_)
        ));
        let mut wrong_tag = bytes.clone();
        wrong_tag[0] ^= 1;
        assert!(matches!(fail(&wrong_tag), LogError::FrontierMalformed(_)));
        let mut wrong_size = bytes.clone();
        wrong_size[FRONTIER_TAG.len() + 7] = 12; // 12 has two bits, 11 has three
        assert!(matches!(fail(&wrong_size), LogError::FrontierMalformed(_)));
        let mut too_big = bytes;
        too_big[FRONTIER_TAG.len()] = 0x80;
        assert!(matches!(fail(&too_big), LogError::FrontierMalformed(_)));
        assert!(matches!(
            fail(&[0; MAX_FRONTIER_BYTES + 1]),
            LogError::FrontierMalformed(_)
        ));
    }

    #[test]
    fn append_stops_at_the_maximum_size() {
        let mut f = Frontier {
            size: MAX_TREE_SIZE,
            nodes: vec![Hash::default()],
        };
        assert!(matches!(
            f.append(Hash::default()),
            Err(LogError::TreeTooLarge { .. })
        ));
        assert_eq!(f.size(), MAX_TREE_SIZE);
    }
}
