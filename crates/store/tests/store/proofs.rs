//! Proofs from the store, bound to a stated size, against a naive RFC 6962
//! tree and armsledger-log's verifiers, for sizes 0..=2000.

use std::sync::OnceLock;

use armsledger_log::{EMPTY_ROOT, Hash, LogError, verify_consistency, verify_inclusion};
use armsledger_store::{LogStore, StoreError};
use proptest::prelude::*;

use crate::common::{Rng, accepted, consistency, leaves, mth, path, seed, store_with, workload};

struct Fixture {
    _dir: tempfile::TempDir,
    store: LogStore,
    leaves: Vec<Hash>,
}

/// One store of 2000 realistic entries, shared by the tests of this module.
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let log = workload(2000);
        let (dir, store) = store_with(&log);
        let leaves = leaves(&log);
        Fixture {
            _dir: dir,
            store,
            leaves,
        }
    })
}

fn check_inclusion(f: &Fixture, index: u64, size: u64) {
    let r = f.store.read().unwrap();
    let d = &f.leaves[..size as usize];
    let proof = r.inclusion_proof(index, size).unwrap();
    assert_eq!(proof, path(index as usize, d), "PATH({index}, D[{size}])");
    let root = r.root_at(size).unwrap();
    assert_eq!(root, mth(d));
    verify_inclusion(&f.leaves[index as usize], index, size, &proof, &root).unwrap();
}

fn check_consistency(f: &Fixture, old: u64, new: u64) {
    let r = f.store.read().unwrap();
    let d = &f.leaves[..new as usize];
    let proof = r.consistency_proof(old, new).unwrap();
    assert_eq!(
        proof,
        consistency(old as usize, d),
        "PROOF({old}, D[{new}])"
    );
    let (old_root, new_root) = (r.root_at(old).unwrap(), r.root_at(new).unwrap());
    verify_consistency(old, new, &old_root, &new_root, &proof).unwrap();
}

/// The fixture's stored hashes in the RFC 6962 / tlog numbering, in memory:
/// `armsledger_log::prove_inclusion` over them is the one-by-one reference.
fn stored_hashes(f: &Fixture) -> &'static [Hash] {
    static S: OnceLock<Vec<Hash>> = OnceLock::new();
    S.get_or_init(|| {
        let mut frontier = armsledger_log::Frontier::new();
        let mut stored = Vec::new();
        for l in &f.leaves {
            stored.extend(frontier.append(*l).unwrap().hashes);
        }
        stored
    })
}

/// A dossier's proofs from one reader, which keeps every node and
/// right-edge root it hashed for the next proof, equal the proofs of the
/// same leaves each from a fresh reader, tlog's over the hashes in memory
/// and the naive tree's.
fn check_shared_proofs(f: &Fixture, size: u64, picks: &[u64]) {
    let shared = f.store.read().unwrap();
    let d = &f.leaves[..size as usize];
    let root = mth(d);
    for &pick in picks {
        let i = pick % size;
        let got = shared.inclusion_proof(i, size).unwrap();
        let alone = f.store.read().unwrap().inclusion_proof(i, size).unwrap();
        let tlog = armsledger_log::prove_inclusion(stored_hashes(f), i, size).unwrap();
        assert_eq!(got, alone, "leaf {i} of {size}: shared reader vs fresh");
        assert_eq!(got, tlog, "leaf {i} of {size}: shared reader vs tlog");
        assert_eq!(got, path(i as usize, d), "PATH({i}, D[{size}])");
        verify_inclusion(&f.leaves[i as usize], i, size, &got, &root).unwrap();
    }
    // The nodes the proofs left in the reader serve roots and consistency
    // proofs too.
    assert_eq!(shared.root_at(size).unwrap(), root);
    let old = size / 2;
    assert_eq!(
        shared.consistency_proof(old, size).unwrap(),
        consistency(old as usize, d)
    );
}

/// A dossier read on several threads (its entries' point reads and its
/// proofs spread over them, sharing one node cache) equals the same dossier
/// read on the calling thread alone, entry by entry and proof by proof
/// from fresh readers: for the firearms of the entry at `pick` (a few
/// events each in this workload, so on one thread) and for `extra` random
/// entries at once (spread over the threads from 8 on).
fn check_parallel_dossier(f: &Fixture, pick: u64, extra: &[u64], threads: usize) {
    let size = f.leaves.len() as u64;
    let alone = f.store.read().unwrap().with_threads(1);
    let seen = alone.entry(pick % size).unwrap().unwrap();
    let terms = armsledger_store::Terms::of(&seen.entry);
    let keys = terms
        .keys(seen.entry.chain())
        .into_iter()
        .filter(|k| matches!(k, armsledger_store::IndexKey::Firearm(_)));
    let mut sets: Vec<Vec<u64>> = Vec::new();
    for key in keys {
        let together = f.store.read().unwrap().with_threads(threads);
        let got = together.scan(&key, 0, usize::MAX).unwrap();
        assert_eq!(got, alone.scan(&key, 0, usize::MAX).unwrap(), "{key:?}");
        sets.push(got.iter().map(|e| e.index).collect());
    }
    sets.push(extra.iter().map(|i| i % size).collect());
    for set in &sets {
        let together = f.store.read().unwrap().with_threads(threads);
        let got = together.inclusion_proofs(set, size).unwrap();
        assert_eq!(got.len(), set.len());
        for (&i, proof) in set.iter().zip(&got) {
            let fresh = f.store.read().unwrap().inclusion_proof(i, size).unwrap();
            assert_eq!(*proof, fresh, "leaf {i} of {size}, {threads} threads");
        }
        let entries = together.entries_at(set).unwrap();
        for (&i, e) in set.iter().zip(&entries) {
            assert_eq!(Some(e), alone.entry(i).unwrap().as_ref(), "entry {i}");
        }
        // Entries and proofs in one spread, the proofs of odd entries only.
        let both = f.store.read().unwrap().with_threads(threads);
        let both = both
            .entries_with_proofs(set, size, |e| e.index % 2 == 1)
            .unwrap();
        assert_eq!(both.len(), set.len());
        for ((e, proof), (want, want_proof)) in both.iter().zip(entries.iter().zip(&got)) {
            assert_eq!(e, want);
            assert_eq!(proof.as_ref(), (e.index % 2 == 1).then_some(want_proof));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn a_dossier_read_on_several_threads_equals_one_thread(
        pick in any::<u64>(),
        extra in proptest::collection::vec(any::<u64>(), 0..60),
        threads in 2usize..=6,
    ) {
        check_parallel_dossier(fixture(), pick, &extra, threads);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn a_dossiers_proofs_from_one_reader_equal_one_by_one(
        size in 1u64..=2000,
        picks in proptest::collection::vec(any::<u64>(), 1..60),
    ) {
        check_shared_proofs(fixture(), size, &picks);
    }

    #[test]
    fn inclusion_matches_naive_tree(size in 1u64..=2000, at in any::<u64>()) {
        check_inclusion(fixture(), at % size, size);
    }

    #[test]
    fn consistency_matches_naive_tree(new in 0u64..=2000, at in any::<u64>()) {
        check_consistency(fixture(), at % (new + 1), new);
    }
}

#[test]
fn root_at_every_size_matches_naive_tree() {
    let f = fixture();
    let r = f.store.read().unwrap();
    let mut frontier = armsledger_log::Frontier::new();
    assert_eq!(r.root_at(0).unwrap(), EMPTY_ROOT);
    for (i, l) in f.leaves.iter().enumerate() {
        frontier.append(*l).unwrap();
        assert_eq!(
            r.root_at(i as u64 + 1).unwrap(),
            frontier.root(),
            "size {}",
            i + 1
        );
    }
    assert_eq!(r.root(), mth(&f.leaves));
    // Tile boundaries exactly.
    for size in [255, 256, 257, 511, 512, 513, 1024, 1999, 2000] {
        check_inclusion(f, size - 1, size);
        check_inclusion(f, 0, size);
        check_consistency(f, 256, size.max(256));
        check_consistency(f, size - 1, size);
    }
}

#[test]
fn shared_proofs_at_size_one_tile_ends_and_the_whole_right_edge() {
    let f = fixture();
    check_shared_proofs(f, 1, &[0, 0]);
    check_shared_proofs(f, 2, &[1, 0, 1]);
    for size in [255u64, 256, 257, 1023, 1024, 1025, 1999, 2000] {
        // Every leaf of the last group and the last tile, then the first
        // ones: each right-edge root is built once and reused.
        let picks: Vec<u64> = (size.saturating_sub(300)..size).chain(0..20).collect();
        check_shared_proofs(f, size, &picks);
    }
}

/// The spread happens (40 entries on 4 threads run on 4 threads, the
/// calling one among them) and stays away from small batches (7 entries on
/// 4 threads, or any number on 1, run on the calling thread alone).
#[test]
fn batch_reads_spread_over_threads_only_when_asked_and_worth_it() {
    use std::collections::HashSet;
    use std::sync::Mutex;
    let f = fixture();
    let size = f.leaves.len() as u64;
    let on = |threads: usize, n: u64| {
        let seen = Mutex::new(HashSet::new());
        let set: Vec<u64> = (0..n).map(|i| i * 37).collect();
        let r = f.store.read().unwrap().with_threads(threads);
        let got = r
            .entries_with_proofs(&set, size, |_| {
                seen.lock().unwrap().insert(std::thread::current().id());
                true
            })
            .unwrap();
        assert_eq!(got.len(), set.len());
        seen.into_inner().unwrap()
    };
    let me = std::thread::current().id();
    let spread = on(4, 40);
    assert_eq!(spread.len(), 4);
    assert!(spread.contains(&me));
    assert_eq!(on(4, 7), HashSet::from([me]));
    assert_eq!(on(1, 40), HashSet::from([me]));
    assert_eq!(on(0, 40), HashSet::from([me]), "0 threads means 1");
}

#[test]
fn batch_reads_name_the_first_missing_entry_and_refuse_a_size_beyond_the_log() {
    let f = fixture();
    let size = f.leaves.len() as u64;
    for threads in [1, 4] {
        let r = f.store.read().unwrap().with_threads(threads);
        // 40 indexes, so four threads each get some; two are past the log.
        let mut set: Vec<u64> = (0..38).map(|i| i * 50).collect();
        set.extend([size + 7, size + 3]);
        match r.entries_at(&set) {
            Err(StoreError::StoredValueMissing { table, key }) => {
                assert_eq!((table, key.as_str()), ("entries", &*(size + 7).to_string()));
            }
            other => panic!("{threads} threads: {other:?}"),
        }
        set.truncate(38);
        assert_eq!(r.entries_at(&set).unwrap().len(), 38);
        assert!(matches!(
            r.inclusion_proofs(&set, size + 1),
            Err(StoreError::SizeBeyondLog { .. })
        ));
        match r.inclusion_proofs(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 500, 100, 11], 400) {
            Err(StoreError::Log(LogError::IndexBeyondTree { index, size })) => {
                assert_eq!((index, size), (500, 400));
            }
            other => panic!("{threads} threads: {other:?}"),
        }
        assert!(r.entries_at(&[]).unwrap().is_empty());
        // A lot's hundreds of events, scanned on `threads` threads.
        let lot = armsledger_store::Terms::of(&r.entry(size - 1).unwrap().unwrap().entry).lots;
        for l in lot {
            let key = armsledger_store::IndexKey::Lot(l);
            let got = r.scan(&key, 0, usize::MAX).unwrap();
            let one = f.store.read().unwrap().with_threads(1);
            assert!(got.len() > 100, "{}", got.len());
            assert_eq!(got, one.scan(&key, 0, usize::MAX).unwrap());
        }
        assert!(r.inclusion_proofs(&[], size).unwrap().is_empty());
    }
}

#[test]
fn edge_cases_size_zero_one_and_equal() {
    let f = fixture();
    let r = f.store.read().unwrap();
    // Size 0: no leaf is in it.
    assert!(matches!(
        r.inclusion_proof(0, 0),
        Err(StoreError::Log(LogError::IndexBeyondTree {
            index: 0,
            size: 0
        }))
    ));
    // Size 1: empty proof, the leaf is the root.
    assert_eq!(r.inclusion_proof(0, 1).unwrap(), vec![]);
    assert_eq!(r.root_at(1).unwrap(), f.leaves[0]);
    // Consistency from 0 and between equal sizes: empty proofs.
    for n in [0, 1, 2, 7, 2000] {
        assert_eq!(r.consistency_proof(0, n).unwrap(), vec![]);
        assert_eq!(r.consistency_proof(n, n).unwrap(), vec![]);
        let root = r.root_at(n).unwrap();
        verify_consistency(0, n, &EMPTY_ROOT, &root, &[]).unwrap();
        verify_consistency(n, n, &root, &root, &[]).unwrap();
    }
    check_consistency(f, 1, 2);
    // A shrinking log and sizes the log has not reached are refused.
    assert!(matches!(
        r.consistency_proof(5, 4),
        Err(StoreError::Log(LogError::TreeShrank { old: 5, new: 4 }))
    ));
    assert!(matches!(
        r.inclusion_proof(0, 2001),
        Err(StoreError::SizeBeyondLog { .. })
    ));
    assert!(matches!(
        r.consistency_proof(1, 2001),
        Err(StoreError::SizeBeyondLog { .. })
    ));
    assert!(matches!(
        r.root_at(2001),
        Err(StoreError::SizeBeyondLog { .. })
    ));
    assert!(matches!(
        r.inclusion_proof(7, 7),
        Err(StoreError::Log(LogError::IndexBeyondTree { .. }))
    ));
}

#[test]
fn proofs_stay_valid_while_the_log_grows_in_random_batches() {
    let mut rng = Rng(seed("growth"));
    let log = workload(700);
    let (_dir, store) = store_with(&[]);
    let mut leaves: Vec<Hash> = Vec::new();
    let mut size = 0usize;
    let mut heads: Vec<(u64, Hash)> = vec![(0, EMPTY_ROOT)];
    while size < log.len() {
        let n = (1 + rng.below(60) as usize).min(log.len() - size);
        let idx = store.append_batch(&accepted(&log[size..size + n])).unwrap();
        leaves.extend(crate::common::leaves(&log[size..size + n]));
        assert_eq!(idx, (size as u64..(size + n) as u64).collect::<Vec<_>>());
        size += n;
        let r = store.read().unwrap();
        assert_eq!(r.size(), size as u64);
        let root = r.root_at(size as u64).unwrap();
        assert_eq!(root, mth(&leaves[..size]));
        assert_eq!(root, r.root());
        let i = rng.below(size as u64);
        let p = r.inclusion_proof(i, size as u64).unwrap();
        verify_inclusion(&leaves[i as usize], i, size as u64, &p, &root).unwrap();
        for &(old, old_root) in &heads {
            let p = r.consistency_proof(old, size as u64).unwrap();
            verify_consistency(old, size as u64, &old_root, &root, &p).unwrap();
        }
        heads.push((size as u64, root));
    }
    assert!(store.fsck().unwrap().is_clean());
}

/// Sizes at and around the stored levels' boundaries: inside a partial
/// group of 8 (level 3, v5) or of 16 (v4's level 4), on a group end, across
/// a tile end.
fn boundary_sizes() -> Vec<u64> {
    let mut sizes: Vec<u64> = (1..=70).collect();
    for edge in [256u64, 512, 1024, 1536, 2000] {
        for d in [0u64, 1, 2, 7, 8, 9, 15, 16, 17, 31, 33] {
            sizes.push(edge - d.min(edge - 1));
            if edge + d <= 2000 {
                sizes.push(edge + d);
            }
        }
    }
    sizes.extend([271, 272, 273, 287, 1009, 1999]);
    sizes.sort_unstable();
    sizes.dedup();
    sizes
}

#[test]
fn every_proof_near_group_and_tile_ends_matches_naive_tree() {
    let f = fixture();
    for size in boundary_sizes() {
        // Every leaf of a small tree; the last two groups and a few others
        // of a large one.
        let indexes: Vec<u64> = if size <= 70 {
            (0..size).collect()
        } else {
            (size.saturating_sub(32)..size)
                .chain([0, 15, 16, size / 2, size / 2 + 15])
                .collect()
        };
        for i in indexes {
            check_inclusion(f, i, size);
        }
        for old in [0, 1, size / 3, size.saturating_sub(17), size - 1, size] {
            check_consistency(f, old.min(size), size);
        }
    }
}

#[test]
fn one_reader_serves_many_sizes_in_any_order() {
    // A reader shares the tree rows it reads between proofs; proofs at
    // other sizes must not see each other's right edges.
    let f = fixture();
    let r = f.store.read().unwrap();
    let mut rng = Rng(seed("one reader"));
    for _ in 0..600 {
        let size = 1 + rng.below(2000);
        let i = rng.below(size);
        let d = &f.leaves[..size as usize];
        assert_eq!(
            r.inclusion_proof(i, size).unwrap(),
            path(i as usize, d),
            "PATH({i}, D[{size}])"
        );
        let old = rng.below(size + 1);
        assert_eq!(
            r.consistency_proof(old, size).unwrap(),
            consistency(old as usize, d),
            "PROOF({old}, D[{size}])"
        );
        assert_eq!(r.root_at(size).unwrap(), mth(d), "MTH(D[{size}])");
    }
}
