//! Inclusion and consistency proof verification, independent of `tlog_tiles`.
//!
//! The algorithms are RFC 9162 §2.1.3.2 and §2.1.4.2 in the closed form used
//! by transparency-dev/merkle: the proof length is fixed by the sizes, so it
//! is checked before any hashing, then the path is split into the "inner"
//! part (below the point where the leaf's path meets the right border of the
//! tree) and the "border" part (left siblings on the right border).

use super::{EMPTY_ROOT, Hash, check_tree_size, node_hash};
use crate::LogError;

/// Checks that `proof` shows `leaf` at `index` in the tree of `size` with `root`.
///
/// The size is part of the claim: a proof made for another size fails, by
/// length or by root. `index >= size` (including every index of the empty
/// tree) is [`LogError::IndexBeyondTree`].
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), LogError> {
    check_tree_size(size)?;
    if index >= size {
        return Err(LogError::IndexBeyondTree { index, size });
    }
    let (inner, border) = decompose(index, size);
    check_length(proof, inner + border)?;
    let (inner_path, border_path) =
        proof
            .split_at_checked(inner)
            .ok_or(LogError::ProofLengthWrong {
                expected: inner + border,
                actual: proof.len(),
            })?;
    let computed = chain_border_right(chain_inner(*leaf, inner_path, index), border_path);
    if computed != *root {
        return Err(LogError::RootMismatch);
    }
    Ok(())
}

/// Checks that `proof` shows the tree (`old_size`, `old_root`) is a prefix of
/// the tree (`new_size`, `new_root`).
///
/// Edge cases, all with an empty proof:
/// * `old_size == new_size`: the roots must be equal.
/// * `old_size == 0`: consistent with any new tree, as C2SP merkle-tree says,
///   but `old_root` must be [`EMPTY_ROOT`]: a size-0 checkpoint with any
///   other root is not a tree, and accepting it would let a caller "verify"
///   a root that nothing was checked against.
/// * `old_size > new_size` is [`LogError::TreeShrank`].
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), LogError> {
    check_tree_size(old_size)?;
    check_tree_size(new_size)?;
    if old_size > new_size {
        return Err(LogError::TreeShrank {
            old: old_size,
            new: new_size,
        });
    }
    if old_size == 0 {
        check_length(proof, 0)?;
        let empty_ok = *old_root == EMPTY_ROOT && (new_size > 0 || *new_root == EMPTY_ROOT);
        return if empty_ok {
            Ok(())
        } else {
            Err(LogError::RootMismatch)
        };
    }
    if old_size == new_size {
        check_length(proof, 0)?;
        return if old_root == new_root {
            Ok(())
        } else {
            Err(LogError::RootMismatch)
        };
    }

    // 0 < old_size < new_size from here on.
    let (inner, border) = decompose(old_size - 1, new_size);
    let shift = old_size.trailing_zeros() as usize;
    // The proof omits the levels below `shift`: the old tree's last perfect
    // subtree of 2^shift leaves is the common starting node.
    let inner = inner.saturating_sub(shift);
    let old_is_perfect = old_size == 1u64 << shift;
    let (seed, path) = if old_is_perfect {
        // The starting node is the old root itself, so it is not sent.
        (*old_root, proof)
    } else {
        match proof.split_first() {
            Some((first, rest)) => (*first, rest),
            None => (Hash::default(), proof),
        }
    };
    let expected = usize::from(!old_is_perfect) + inner + border;
    check_length(proof, expected)?;
    let (inner_path, border_path) =
        path.split_at_checked(inner)
            .ok_or(LogError::ProofLengthWrong {
                expected,
                actual: proof.len(),
            })?;

    let mask = (old_size - 1) >> shift;
    let old_computed = chain_border_right(chain_inner_right(seed, inner_path, mask), border_path);
    if old_computed != *old_root {
        return Err(LogError::RootMismatch);
    }
    let new_computed = chain_border_right(chain_inner(seed, inner_path, mask), border_path);
    if new_computed != *new_root {
        return Err(LogError::RootMismatch);
    }
    Ok(())
}

/// Splits the inclusion path of `index` in a tree of `size` into its inner
/// and border lengths.
fn decompose(index: u64, size: u64) -> (usize, usize) {
    // Bit length of the highest bit where the leaf's path and the last leaf's
    // path differ: below it the paths are inside one perfect subtree.
    let inner = (u64::BITS - (index ^ (size - 1)).leading_zeros()) as usize;
    let border = index.checked_shr(inner as u32).unwrap_or(0).count_ones() as usize;
    (inner, border)
}

fn check_length(proof: &[Hash], expected: usize) -> Result<(), LogError> {
    if proof.len() != expected {
        return Err(LogError::ProofLengthWrong {
            expected,
            actual: proof.len(),
        });
    }
    Ok(())
}

/// Hashes up the inner path; bit `i` of `index` says which side sibling `i` is.
fn chain_inner(seed: Hash, path: &[Hash], index: u64) -> Hash {
    path.iter().enumerate().fold(seed, |node, (i, sibling)| {
        if (index >> i) & 1 == 0 {
            node_hash(&node, sibling)
        } else {
            node_hash(sibling, &node)
        }
    })
}

/// Like [`chain_inner`] but only through left siblings: the old tree's view.
fn chain_inner_right(seed: Hash, path: &[Hash], index: u64) -> Hash {
    path.iter().enumerate().fold(seed, |node, (i, sibling)| {
        if (index >> i) & 1 == 1 {
            node_hash(sibling, &node)
        } else {
            node
        }
    })
}

/// Hashes up the right border, where every sibling is on the left.
fn chain_border_right(seed: Hash, path: &[Hash]) -> Hash {
    path.iter()
        .fold(seed, |node, sibling| node_hash(sibling, &node))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{leaf_hash, root_of};

    fn tree(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_le_bytes())).collect()
    }

    #[test]
    fn decompose_matches_proof_lengths() {
        // Size 7: d[0] → [b,i,l] is all inner (its path meets the last
        // leaf's only at the root); d[4] → [f,g,k] has k on the border;
        // d[6] → [j,k] is all border.
        assert_eq!(decompose(0, 7), (3, 0));
        assert_eq!(decompose(4, 7), (2, 1));
        assert_eq!(decompose(6, 7), (0, 2));
        assert_eq!(decompose(0, 1), (0, 0));
        // Perfect tree: d[5] meets d[7] at level 2, then the left sibling
        // of the whole right half is on the border.
        assert_eq!(decompose(5, 8), (2, 1));
    }

    #[test]
    fn single_leaf_tree() {
        let leaf = leaf_hash(b"only");
        verify_inclusion(&leaf, 0, 1, &[], &leaf).unwrap();
        assert!(matches!(
            verify_inclusion(&leaf, 0, 1, &[], &EMPTY_ROOT),
            Err(LogError::RootMismatch)
        ));
        assert!(matches!(
            verify_inclusion(&leaf, 0, 1, &[leaf], &leaf),
            Err(LogError::ProofLengthWrong {
                expected: 0,
                actual: 1
            })
        ));
    }

    #[test]
    fn index_and_size_edges() {
        let leaf = leaf_hash(b"x");
        for (index, size) in [(0, 0), (1, 0), (1, 1), (7, 7), (u64::MAX, 3)] {
            assert!(matches!(
                verify_inclusion(&leaf, index, size, &[], &EMPTY_ROOT),
                Err(LogError::IndexBeyondTree { .. })
            ));
        }
        assert!(matches!(
            verify_inclusion(&leaf, 0, u64::MAX, &[], &EMPTY_ROOT),
            Err(LogError::TreeTooLarge { .. })
        ));
    }

    #[test]
    fn consistency_edges() {
        let t = tree(5);
        let r5 = root_of(&t);
        let r3 = root_of(&t[..3]);
        // old == new
        verify_consistency(5, 5, &r5, &r5, &[]).unwrap();
        assert!(matches!(
            verify_consistency(5, 5, &r3, &r5, &[]),
            Err(LogError::RootMismatch)
        ));
        assert!(matches!(
            verify_consistency(5, 5, &r5, &r5, &[r5]),
            Err(LogError::ProofLengthWrong { expected: 0, .. })
        ));
        // old == 0
        verify_consistency(0, 5, &EMPTY_ROOT, &r5, &[]).unwrap();
        verify_consistency(0, 0, &EMPTY_ROOT, &EMPTY_ROOT, &[]).unwrap();
        assert!(matches!(
            verify_consistency(0, 5, &r3, &r5, &[]),
            Err(LogError::RootMismatch)
        ));
        assert!(matches!(
            verify_consistency(0, 0, &EMPTY_ROOT, &r5, &[]),
            Err(LogError::RootMismatch)
        ));
        assert!(matches!(
            verify_consistency(0, 5, &EMPTY_ROOT, &r5, &[EMPTY_ROOT]),
            Err(LogError::ProofLengthWrong { expected: 0, .. })
        ));
        // old > new
        assert!(matches!(
            verify_consistency(5, 3, &r5, &r3, &[]),
            Err(LogError::TreeShrank { old: 5, new: 3 })
        ));
        // 0 < old < new with an empty proof
        assert!(matches!(
            verify_consistency(3, 5, &r3, &r5, &[]),
            Err(LogError::ProofLengthWrong { .. })
        ));
    }
}
