//! The verifiable index in the log's file: an append leaves it where it
//! was, a checkpoint (or `update_index`) brings it up to the log in its own
//! transaction and signs exactly that root; a read never answers from a map
//! behind its snapshot; a repeated entry does not move it twice; a file
//! whose map is behind its log catches up on open; and its root is the one
//! an offline verifier recomputes from the entries alone.

use armsledger_index::{MapKey, MemStore, apply, root_hash};
use armsledger_store::{LogStore, StoreError};

use crate::common::{accepted, log_key, store_with, workload};

fn recomputed(
    log: &[std::sync::Arc<armsledger_core::entry::SignedEntry>],
) -> armsledger_core::hash::Hash {
    let mut mem = MemStore::default();
    apply(
        &mut mem,
        log.iter().enumerate().map(|(i, e)| (i as u64, &**e)),
    )
    .unwrap();
    root_hash(&mem).unwrap()
}

#[test]
fn an_append_leaves_the_map_to_the_checkpoint_which_signs_its_root_at_its_size() {
    let log = workload(60);
    let (_dir, store) = store_with(&log[..20]);
    let key = log_key();
    // Firing: the map has not moved, and no read answers from it.
    let r = store.read().unwrap();
    assert_eq!((r.size(), r.index_covers()), (20, 0));
    assert!(matches!(
        r.index_root(),
        Err(StoreError::IndexBehind {
            covered: 0,
            size: 20
        })
    ));
    assert!(matches!(
        r.index_lookup(&MapKey::serial("SN000001")),
        Err(StoreError::IndexBehind { .. })
    ));
    assert!(matches!(
        r.index_leaves(),
        Err(StoreError::IndexBehind { .. })
    ));
    drop(r);
    // Quiet: the checkpoint brings it up and names exactly that root.
    let cp = store.sign_checkpoint(&key).unwrap();
    let r = store.read().unwrap();
    assert_eq!(r.index_covers(), 20);
    assert_eq!(r.index_root().unwrap(), recomputed(&log[..20]));
    assert_eq!(
        cp.checkpoint().index().map(|h| h.0),
        Some(recomputed(&log[..20]).0)
    );
    drop(r);
    // Two groups, then one checkpoint: one update for both, the same root
    // as a map moved entry by entry.
    store.append_batch(&accepted(&log[20..30])).unwrap();
    store.append_batch(&accepted(&log[30..45])).unwrap();
    assert_eq!(store.read().unwrap().index_covers(), 20);
    let cp = store.sign_checkpoint(&key).unwrap();
    assert_eq!(cp.checkpoint().size(), 45);
    let root = recomputed(&log[..45]);
    assert_eq!(cp.checkpoint().index().map(|h| h.0), Some(root.0));
    // A reader's answer at the checkpoint proves against the root it signs.
    let (value, proof) = store
        .read()
        .unwrap()
        .index_lookup_at(45, &MapKey::serial("SN000003"))
        .unwrap();
    proof
        .verify_value(
            &root,
            &MapKey::serial("SN000003"),
            value.as_ref().map(|v| v.encode()).as_deref(),
        )
        .unwrap();
    assert!(value.is_some());
}

#[test]
fn a_map_claiming_more_entries_than_its_log_is_refused_at_the_checkpoint() {
    let log = workload(30);
    let (dir, store) = store_with(&log);
    store.update_index().unwrap();
    drop(store);
    let path = dir.path().join("log.redb");
    {
        let db = redb::Database::open(&path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut meta = txn.open_table(armsledger_index::redb_store::META).unwrap();
            meta.insert(b"size".as_slice(), 31u64.to_be_bytes().as_slice())
                .unwrap();
        }
        txn.commit().unwrap();
    }
    let err = LogStore::open(&path)
        .and_then(|s| s.sign_checkpoint(&log_key()).map(|_| ()))
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::TreeInconsistent(m) if m.contains("covers 31 entries")),
        "{err}"
    );
}

#[test]
fn the_index_follows_the_log_and_ignores_repeats() {
    let log = workload(60);
    let (dir, store) = store_with(&log[..20]);
    store.update_index().unwrap();
    assert_eq!(
        store.read().unwrap().index_root().unwrap(),
        recomputed(&log[..20])
    );
    // A batch repeating logged entries and one of its own: indexes reused, map moved once.
    let mut batch = accepted(&log[15..40]);
    batch.push(batch[10].clone());
    store.append_batch(&batch).unwrap();
    assert_eq!(store.update_index().unwrap(), 40);
    let r = store.read().unwrap();
    assert_eq!(r.size(), 40);
    assert_eq!(r.index_root().unwrap(), recomputed(&log[..40]));
    assert_ne!(
        r.index_root().unwrap(),
        recomputed(&log[..39]),
        "quiet: one entry moves the root"
    );
    drop(r);
    drop(store);
    let store = LogStore::open(dir.path().join("log.redb")).unwrap();
    store.append_batch(&accepted(&log[40..])).unwrap();
    store.update_index().unwrap();
    let r = store.read().unwrap();
    assert_eq!(r.index_root().unwrap(), recomputed(&log));
    let (value, proof) = r.index_lookup(&MapKey::serial("sn-000001")).unwrap();
    let value = value.unwrap();
    proof
        .verify_value(
            &r.index_root().unwrap(),
            &MapKey::serial("SN000001"),
            Some(&value.encode()),
        )
        .unwrap();
    let (none, proof) = r.index_lookup(&MapKey::serial("NEVER-1")).unwrap();
    assert!(none.is_none());
    proof
        .verify_value(&r.index_root().unwrap(), &MapKey::serial("NEVER-1"), None)
        .unwrap();
}

#[test]
fn a_log_without_its_index_catches_up_on_open() {
    let log = workload(50);
    let (dir, store) = store_with(&log);
    drop(store);
    let path = dir.path().join("log.redb");
    // Remove the map, as in a file written before the index existed.
    {
        let db = redb::Database::open(&path).unwrap();
        let txn = db.begin_write().unwrap();
        for t in [
            armsledger_index::redb_store::NODES,
            armsledger_index::redb_store::VALUES,
            armsledger_index::redb_store::FIREARMS,
            armsledger_index::redb_store::META,
        ] {
            assert!(txn.delete_table(t).unwrap());
        }
        txn.commit().unwrap();
    }
    let store = LogStore::open(&path).unwrap();
    assert_eq!(
        store.read().unwrap().index_root().unwrap(),
        recomputed(&log)
    );
}

#[test]
fn a_read_answers_from_the_map_at_the_checkpoint_it_sits_at_whatever_the_log_appended_since() {
    let log = workload(60);
    let (_dir, store) = store_with(&log[..20]);
    let key = log_key();
    // Before any checkpoint the map sits at none.
    assert_eq!(store.read().unwrap().index_checkpoint().unwrap(), None);
    let cp = store.sign_checkpoint(&key).unwrap();
    let before = store.map_stage();
    store.append_batch(&accepted(&log[20..35])).unwrap();
    let r = store.read().unwrap();
    // Quiet: at the checkpoint's size, read-only, against its signed root.
    assert_eq!(
        r.index_checkpoint().unwrap(),
        Some((20, cp.note().to_string()))
    );
    let serial = MapKey::serial("SN000003");
    let (value, proof) = r.index_lookup_at(20, &serial).unwrap();
    let root = armsledger_core::hash::Hash(cp.checkpoint().index().unwrap().0);
    assert_eq!(root, recomputed(&log[..20]));
    proof
        .verify_value(&root, &serial, value.map(|v| v.encode()).as_deref())
        .unwrap();
    assert!(!r.index_leaves_at(20).unwrap().is_empty());
    // Firing: at any other size (the log's, or an older one) it answers nothing.
    for size in [35, 19] {
        assert!(matches!(
            r.index_lookup_at(size, &serial),
            Err(StoreError::IndexBehind { covered: 20, size: s }) if s == size
        ));
    }
    assert!(matches!(
        r.index_leaves_at(35),
        Err(StoreError::IndexBehind { .. })
    ));
    drop(r);
    // The read moved nothing; the next checkpoint moves the map over the 15
    // new entries, once, and counts them.
    assert_eq!(store.map_stage(), before);
    store.sign_checkpoint(&key).unwrap();
    let after = store.map_stage();
    assert_eq!(after.entries - before.entries, 15);
    assert_eq!(after.moves - before.moves, 1);
    if cfg!(target_os = "linux") {
        assert!(after.cpu.is_some() && after.wall > before.wall);
    }
    // A map moved past the last checkpoint without one (update_index, or
    // an open's catch-up) sits at no checkpoint until the next is signed.
    store.append_batch(&accepted(&log[35..40])).unwrap();
    store.update_index().unwrap();
    let r = store.read().unwrap();
    assert_eq!(r.index_covers(), 40);
    assert_eq!(r.index_checkpoint().unwrap(), None);
}
