//! The node cache (`armsledger_index::cache`): a map moved through a cache
//! across many transactions, some of them aborted, has the reference's root
//! and proofs, and the very nodes a map without the cache stores; and a
//! cache that took in the changes of a transaction that never committed is
//! wrong, which is why the store takes them in only after the commit.

use std::collections::BTreeMap;

use armsledger_core::hash::Hash;
use armsledger_index::cache::{CACHED_DEPTH, Cached, NodeCache};
use armsledger_index::redb_store::{NODES, RedbMap, RedbMapRead};
use armsledger_index::tree::Batch;
use armsledger_index::{MapKey, root_hash};
use proptest::prelude::*;
use redb::{ReadableDatabase, ReadableTable};

use crate::reference;

fn key(seed: u16) -> MapKey {
    MapKey(Hash::of(&[b"cache", &seed.to_be_bytes()]).0)
}

/// One transaction moving `keys` to `value` through the cache; committed
/// (and its changes taken in) or aborted (and its changes dropped).
fn step(db: &redb::Database, cache: &mut NodeCache, keys: &[u16], value: u8, commit: bool) -> Hash {
    let txn = db.begin_write().unwrap();
    let (root, changes) = {
        let mut map = Cached::new(RedbMap::open(&txn).unwrap(), cache);
        let mut b = Batch::new(&mut map).unwrap();
        for k in keys {
            b.set(&key(*k), Hash([value; 32])).unwrap();
        }
        let root = b.commit().unwrap();
        (root, map.finish().1)
    };
    if commit {
        txn.commit().unwrap();
        cache.absorb(changes);
    } else {
        txn.abort().unwrap();
    }
    root
}

/// Every stored node, by its raw key.
fn stored_nodes(db: &redb::Database) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let read = db.begin_read().unwrap();
    // No group committed yet: no table, no nodes.
    let t = match read.open_table(NODES) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return BTreeMap::new(),
        Err(e) => panic!("{e}"),
    };
    t.iter()
        .unwrap()
        .map(|r| {
            let (k, v) = r.unwrap();
            (k.value().to_vec(), v.value().to_vec())
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn a_cached_map_stores_what_an_uncached_one_does(
        groups in prop::collection::vec(
            (prop::collection::vec(0u16..400, 1..40), any::<u8>(), prop::bool::weighted(0.8)),
            1..25,
        ),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let cached_db = redb::Database::create(dir.path().join("cached.redb")).unwrap();
        let plain_db = redb::Database::create(dir.path().join("plain.redb")).unwrap();
        let mut cache = NodeCache::new();
        let mut model = BTreeMap::new();
        for (keys, value, commit) in &groups {
            let got = step(&cached_db, &mut cache, keys, *value, *commit);
            if *commit {
                let txn = plain_db.begin_write().unwrap();
                {
                    let mut map = RedbMap::open(&txn).unwrap();
                    let mut b = Batch::new(&mut map).unwrap();
                    for k in keys {
                        b.set(&key(*k), Hash([*value; 32])).unwrap();
                        model.insert(key(*k), Hash([*value; 32]));
                    }
                    prop_assert_eq!(b.commit().unwrap(), got);
                }
                txn.commit().unwrap();
                prop_assert_eq!(got, reference::root(&model));
            }
        }
        let read = cached_db.begin_read().unwrap();
        prop_assert_eq!(root_hash(&RedbMapRead::open(&read).unwrap()).unwrap(), reference::root(&model));
        prop_assert_eq!(stored_nodes(&cached_db), stored_nodes(&plain_db));
        prop_assert!(cache.len() <= stored_nodes(&cached_db).len());
    }
}

#[test]
fn changes_of_an_aborted_transaction_must_not_reach_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let db = redb::Database::create(dir.path().join("m.redb")).unwrap();
    let first: Vec<u16> = (0..300).collect();
    let mut model = BTreeMap::new();
    for k in &first {
        model.insert(key(*k), Hash([1; 32]));
    }

    // Quiet: the aborted group's changes are dropped; the next group
    // reads the committed nodes and lands on the reference's root.
    let mut cache = NodeCache::new();
    step(&db, &mut cache, &first, 1, true);
    assert_ne!(cache.len(), 0, "a committed group fills the cache");
    assert!(cache.len() < 1 << CACHED_DEPTH);
    step(&db, &mut cache, &[1000, 1001, 1002], 9, false);
    let root = step(&db, &mut cache, &[7], 2, true);
    model.insert(key(7), Hash([2; 32]));
    assert_eq!(root, reference::root(&model));

    // Firing: a cache that took in an aborted group's nodes believes in
    // leaves the file never held, and the next root is wrong.
    let dir = tempfile::tempdir().unwrap();
    let db = redb::Database::create(dir.path().join("m.redb")).unwrap();
    let mut cache = NodeCache::new();
    step(&db, &mut cache, &first, 1, true);
    let txn = db.begin_write().unwrap();
    let changes = {
        let mut map = Cached::new(RedbMap::open(&txn).unwrap(), &cache);
        let mut b = Batch::new(&mut map).unwrap();
        for k in [1000u16, 1001, 1002] {
            b.set(&key(k), Hash([9; 32])).unwrap();
        }
        b.commit().unwrap();
        map.finish().1
    };
    txn.abort().unwrap();
    cache.absorb(changes);
    assert_ne!(
        step(&db, &mut cache, &[7], 2, false),
        reference::root(&model)
    );
    // Cleared, the cache reads the file again and agrees with it.
    cache.clear();
    assert_eq!(
        step(&db, &mut cache, &[7], 2, false),
        reference::root(&model)
    );
}
