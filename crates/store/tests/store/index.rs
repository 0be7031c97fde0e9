//! The verifiable index in the log's file: it moves with every append, in
//! the append's transaction; a repeated entry does not move it twice; a file
//! whose map is behind its log catches up on open; and its root is the one
//! an offline verifier recomputes from the entries alone.

use armsledger_index::{MapKey, MemStore, apply, root_hash};
use armsledger_store::LogStore;

use crate::common::{accepted, store_with, workload};

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
fn the_index_follows_the_log_and_ignores_repeats() {
    let log = workload(60);
    let (dir, store) = store_with(&log[..20]);
    assert_eq!(
        store.read().unwrap().index_root().unwrap(),
        recomputed(&log[..20])
    );
    // A batch repeating logged entries and one of its own: indexes reused, map moved once.
    let mut batch = accepted(&log[15..40]);
    batch.push(batch[10].clone());
    store.append_batch(&batch).unwrap();
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
