//! Proof generation from persisted node hashes, in Go tlog's "stored hash"
//! numbering, delegating the tree walks to `tlog_tiles::tlog`.
//!
//! Every node of every perfect subtree gets one index, in the order the nodes
//! are completed while leaves are appended: leaf `n` is written at
//! `stored_hash_index(0, n)`, immediately followed by the roots of the perfect
//! subtrees it completes, bottom up. A tree of `n` leaves has exactly
//! `stored_hash_count(n)` stored hashes (a little under `2n`) and they never
//! change once written, so a store can persist them append-only.

use std::cell::RefCell;

use tlog_tiles::tlog;

use super::{Hash, MAX_TREE_SIZE, check_tree_size};
use crate::LogError;

/// Read access to persisted stored hashes (see [`stored_hash_index`]).
pub trait HashReader {
    /// Returns the hashes at `indexes`, in the same order and as many.
    ///
    /// Callers in this crate ask for indexes in increasing order. A store
    /// wraps its own failures with [`LogError::hash_read`] and answers a
    /// missing index with [`LogError::StoredHashMissing`].
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, LogError>;
}

/// An in-memory store: the hash at stored index `i` is `self[i]`.
impl HashReader for [Hash] {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, LogError> {
        indexes
            .iter()
            .map(|&index| {
                usize::try_from(index)
                    .ok()
                    .and_then(|i| self.get(i))
                    .copied()
                    .ok_or(LogError::StoredHashMissing { index })
            })
            .collect()
    }
}

impl HashReader for Vec<Hash> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, LogError> {
        self.as_slice().read_hashes(indexes)
    }
}

/// Position of node `n` of tree level `level` (leaves are level 0) in the
/// stored-hash numbering.
///
/// The node must lie inside a tree of at most [`MAX_TREE_SIZE`] leaves.
pub fn stored_hash_index(level: u8, n: u64) -> Result<u64, LogError> {
    let limit = MAX_TREE_SIZE.checked_shr(u32::from(level)).unwrap_or(0);
    if n >= limit {
        return Err(LogError::TreeTooLarge {
            size: n
                .saturating_add(1)
                .checked_shl(u32::from(level))
                .unwrap_or(u64::MAX),
        });
    }
    Ok(tlog::stored_hash_index(level, n))
}

/// How many stored hashes a tree of `size` leaves has.
pub fn stored_hash_count(size: u64) -> Result<u64, LogError> {
    check_tree_size(size)?;
    Ok(tlog::stored_hash_count(size))
}

/// The root of the tree of `size` leaves, from at most `1 + log2(size)` stored hashes.
pub fn tree_root<R: HashReader + ?Sized>(reader: &R, size: u64) -> Result<Hash, LogError> {
    check_tree_size(size)?;
    let adapter = Adapter::new(reader);
    let result = tlog::tree_hash(size, &adapter);
    adapter.finish(result).map(|h| Hash(h.0))
}

/// The inclusion proof for leaf `index` in the tree of exactly `size` leaves.
///
/// The size is an argument, never "the current size": a proof is only
/// meaningful against the checkpoint of that size.
pub fn prove_inclusion<R: HashReader + ?Sized>(
    reader: &R,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, LogError> {
    check_tree_size(size)?;
    if index >= size {
        return Err(LogError::IndexBeyondTree { index, size });
    }
    let adapter = Adapter::new(reader);
    let result = tlog::prove_record(size, index, &adapter);
    adapter.finish(result).map(from_tlog)
}

/// The consistency proof from the tree of `old_size` to the tree of `new_size`.
///
/// Empty when `old_size == 0` or `old_size == new_size` (see
/// [`super::verify_consistency`] for what is then checked);
/// [`LogError::TreeShrank`] when `old_size > new_size`.
pub fn prove_consistency<R: HashReader + ?Sized>(
    reader: &R,
    old_size: u64,
    new_size: u64,
) -> Result<Vec<Hash>, LogError> {
    check_tree_size(old_size)?;
    check_tree_size(new_size)?;
    if old_size > new_size {
        return Err(LogError::TreeShrank {
            old: old_size,
            new: new_size,
        });
    }
    if old_size == 0 || old_size == new_size {
        return Ok(Vec::new());
    }
    let adapter = Adapter::new(reader);
    let result = tlog::prove_tree(new_size, old_size, &adapter);
    adapter.finish(result).map(from_tlog)
}

/// Reads exactly `indexes.len()` hashes or fails.
pub(crate) fn read_exact<R: HashReader + ?Sized>(
    reader: &R,
    indexes: &[u64],
) -> Result<Vec<Hash>, LogError> {
    let hashes = reader.read_hashes(indexes)?;
    if hashes.len() != indexes.len() {
        return Err(LogError::StoredHashesShort {
            requested: indexes.len(),
            returned: hashes.len(),
        });
    }
    Ok(hashes)
}

fn from_tlog(hashes: Vec<tlog::Hash>) -> Vec<Hash> {
    hashes.into_iter().map(|h| Hash(h.0)).collect()
}

/// Presents a [`HashReader`] to `tlog_tiles`, keeping the reader's real error.
///
/// It also guarantees `tlog_tiles` the hash count it asserts on, so a faulty
/// store yields an error instead of a panic.
struct Adapter<'a, R: ?Sized> {
    reader: &'a R,
    failure: RefCell<Option<LogError>>,
}

impl<'a, R: HashReader + ?Sized> Adapter<'a, R> {
    fn new(reader: &'a R) -> Self {
        Self {
            reader,
            failure: RefCell::new(None),
        }
    }

    fn finish<T>(self, result: Result<T, tlog::Error>) -> Result<T, LogError> {
        match (result, self.failure.into_inner()) {
            (Ok(value), None) => Ok(value),
            (_, Some(failure)) => Err(failure),
            // Inputs were validated above, so this is not expected; keep
            // tlog_tiles' reason rather than guess.
            (Err(e), None) => Err(LogError::hash_read(e)),
        }
    }
}

impl<R: HashReader + ?Sized> tlog::HashReader for Adapter<'_, R> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog::Hash>, tlog::Error> {
        match read_exact(self.reader, indexes) {
            Ok(hashes) => Ok(hashes.into_iter().map(|h| tlog::Hash(h.0)).collect()),
            Err(e) => {
                *self.failure.borrow_mut() = Some(e);
                Err(tlog::Error::IndexesNotInTree)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Frontier, leaf_hash, root_of, verify_consistency, verify_inclusion};

    fn build(n: u64) -> (Vec<Hash>, Vec<Hash>) {
        let mut f = Frontier::new();
        let mut stored = Vec::new();
        let mut leaves = Vec::new();
        for i in 0..n {
            let leaf = leaf_hash(&i.to_be_bytes());
            leaves.push(leaf);
            stored.extend(f.append(leaf).unwrap().hashes);
        }
        (leaves, stored)
    }

    #[test]
    fn numbering_matches_go_tlog_small_cases() {
        // Leaves 0,1 then node (1,0), leaf 2, leaf 3, node (1,1), node (2,0).
        let want = [
            (0, 0, 0),
            (0, 1, 1),
            (1, 0, 2),
            (0, 2, 3),
            (0, 3, 4),
            (1, 1, 5),
            (2, 0, 6),
        ];
        for (level, n, index) in want {
            assert_eq!(stored_hash_index(level, n).unwrap(), index);
        }
        assert_eq!(stored_hash_count(0).unwrap(), 0);
        assert_eq!(stored_hash_count(4).unwrap(), 7);
        assert!(stored_hash_index(62, 1).is_err());
        assert!(stored_hash_index(0, MAX_TREE_SIZE).is_err());
        stored_hash_index(0, MAX_TREE_SIZE - 1).unwrap();
        stored_hash_index(62, 0).unwrap();
        assert!(stored_hash_index(63, 0).is_err());
        assert!(stored_hash_count(MAX_TREE_SIZE + 1).is_err());
    }

    #[test]
    fn proofs_from_stored_hashes_verify() {
        let (leaves, stored) = build(37);
        for size in 0..=37u64 {
            let root = tree_root(&stored, size).unwrap();
            assert_eq!(root, root_of(&leaves[..size as usize]));
            for index in 0..size {
                let p = prove_inclusion(&stored, index, size).unwrap();
                verify_inclusion(&leaves[index as usize], index, size, &p, &root).unwrap();
            }
            for old in 0..=size {
                let p = prove_consistency(&stored, old, size).unwrap();
                let old_root = tree_root(&stored, old).unwrap();
                verify_consistency(old, size, &old_root, &root, &p).unwrap();
            }
        }
    }

    #[test]
    fn argument_errors() {
        let (_, stored) = build(4);
        assert!(matches!(
            prove_inclusion(&stored, 4, 4),
            Err(LogError::IndexBeyondTree { index: 4, size: 4 })
        ));
        assert!(matches!(
            prove_inclusion(&stored, 0, 0),
            Err(LogError::IndexBeyondTree { .. })
        ));
        assert!(matches!(
            prove_consistency(&stored, 4, 3),
            Err(LogError::TreeShrank { old: 4, new: 3 })
        ));
        assert_eq!(prove_consistency(&stored, 0, 4).unwrap(), vec![]);
        assert_eq!(prove_consistency(&stored, 4, 4).unwrap(), vec![]);
        assert!(matches!(
            prove_inclusion(&stored, 0, MAX_TREE_SIZE + 1),
            Err(LogError::TreeTooLarge { .. })
        ));
    }

    #[test]
    fn store_failures_surface_as_errors_not_panics() {
        let (_, stored) = build(4);
        // Asking beyond what is stored.
        assert!(matches!(
            prove_inclusion(&stored, 0, 8),
            Err(LogError::StoredHashMissing { .. })
        ));
        struct Short;
        impl HashReader for Short {
            fn read_hashes(&self, _: &[u64]) -> Result<Vec<Hash>, LogError> {
                Ok(vec![])
            }
        }
        assert!(matches!(
            prove_inclusion(&Short, 0, 8),
            Err(LogError::StoredHashesShort { returned: 0, .. })
        ));
        assert!(matches!(
            tree_root(&Short, 8),
            Err(LogError::StoredHashesShort { .. })
        ));
        #[derive(Debug, thiserror::Error)]
        #[error("disk on fire")]
        struct Disk;
        struct Failing;
        impl HashReader for Failing {
            fn read_hashes(&self, _: &[u64]) -> Result<Vec<Hash>, LogError> {
                Err(LogError::hash_read(Disk))
            }
        }
        let err = prove_consistency(&Failing, 3, 8).unwrap_err();
        assert!(matches!(err, LogError::HashReadFailed(_)));
        assert_eq!(
            std::error::Error::source(&err).unwrap().to_string(),
            "disk on fire"
        );
    }
}
