//! Exhaustive cross-checks on small trees: the crate's generation and
//! verification against the naive RFC 6962 oracle and against `tlog_tiles`.

use armsledger_log::{
    Frontier, Hash, prove_consistency, prove_inclusion, stored_hash_count, stored_hash_index,
    tree_root, verify_consistency, verify_inclusion,
};

use crate::reference::{consistency, mth, path, tree};

fn tl(h: &Hash) -> tlog_tiles::Hash {
    tlog_tiles::Hash(h.0)
}

fn tlv(p: &[Hash]) -> Vec<tlog_tiles::Hash> {
    p.iter().map(tl).collect()
}

const N: u64 = 70;

#[test]
fn inclusion_all_indexes_all_sizes() {
    let (leaves, stored) = tree(N);
    for size in 1..=N {
        let d = &leaves[..size as usize];
        let root = mth(d);
        assert_eq!(tree_root(&stored, size).unwrap(), root);
        for index in 0..size {
            let p = prove_inclusion(&stored, index, size).unwrap();
            assert_eq!(p, path(index as usize, d), "size {size} index {index}");
            let leaf = &leaves[index as usize];
            verify_inclusion(leaf, index, size, &p, &root).unwrap();
            tlog_tiles::check_record(&tlv(&p), size, tl(&root), index, tl(leaf)).unwrap();
            // Both verifiers reject the same corruptions.
            for i in 0..p.len() {
                let mut bad = p.clone();
                bad[i].0[31] ^= 0x80;
                assert!(verify_inclusion(leaf, index, size, &bad, &root).is_err());
                assert!(
                    tlog_tiles::check_record(&tlv(&bad), size, tl(&root), index, tl(leaf)).is_err()
                );
            }
        }
    }
}

#[test]
fn consistency_all_pairs() {
    let (leaves, stored) = tree(N);
    for new in 1..=N {
        let new_root = mth(&leaves[..new as usize]);
        for old in 1..=new {
            let old_root = mth(&leaves[..old as usize]);
            let p = prove_consistency(&stored, old, new).unwrap();
            if old < new {
                assert_eq!(
                    p,
                    consistency(old as usize, &leaves[..new as usize]),
                    "{old} -> {new}"
                );
            } else {
                assert!(p.is_empty());
            }
            verify_consistency(old, new, &old_root, &new_root, &p).unwrap();
            tlog_tiles::check_tree(&tlv(&p), new, tl(&new_root), old, tl(&old_root)).unwrap();
            for i in 0..p.len() {
                let mut bad = p.clone();
                bad[i].0[0] ^= 1;
                assert!(verify_consistency(old, new, &old_root, &new_root, &bad).is_err());
                assert!(
                    tlog_tiles::check_tree(&tlv(&bad), new, tl(&new_root), old, tl(&old_root))
                        .is_err()
                );
            }
        }
    }
}

/// Go tlog's reference in-memory storage.
struct TlogStore(Vec<tlog_tiles::Hash>);

impl tlog_tiles::HashReader for TlogStore {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog_tiles::Hash>, tlog_tiles::Error> {
        Ok(indexes.iter().map(|&i| self.0[i as usize]).collect())
    }
}

#[test]
fn stored_numbering_agrees_with_tlog_tiles() {
    let (leaves, stored) = tree(300);
    // Our frontier writes exactly what Go's tlog would store, in order.
    let mut theirs = TlogStore(Vec::new());
    for (n, leaf) in leaves.iter().enumerate() {
        let add = tlog_tiles::stored_hashes_for_record_hash(n as u64, tl(leaf), &theirs).unwrap();
        theirs.0.extend(add);
    }
    assert_eq!(tlv(&stored), theirs.0);
    assert_eq!(stored_hash_count(300).unwrap(), stored.len() as u64);
    for index in 0..stored.len() as u64 {
        let (level, n) = tlog_tiles::split_stored_hash_index(index);
        assert_eq!(stored_hash_index(level, n).unwrap(), index);
    }
    // And the frontier can be recovered from them at every size.
    let mut f = Frontier::new();
    for (size, leaf) in leaves.iter().enumerate() {
        assert_eq!(Frontier::from_reader(&stored, size as u64).unwrap(), f);
        f.append(*leaf).unwrap();
    }
}
