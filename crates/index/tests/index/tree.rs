//! The tree against the reference: any sequence of updates, in any
//! batching, gives the reference's root; every key proves its value, every
//! other key its absence; and no stale node is left behind.

use std::collections::BTreeMap;

use armsledger_core::hash::Hash;
use armsledger_index::redb_store::{RedbMap, RedbMapRead};
use armsledger_index::tree::Batch;
use armsledger_index::{Answer, MapKey, MemStore, NodeStore, prove, root_hash};
use proptest::prelude::*;
use redb::ReadableDatabase;

use crate::reference;

/// Keys that share long prefixes, so deep nodes and long one-sided paths
/// are exercised, not only the top few levels of random keys.
fn key(seed: u16, spread: u8) -> MapKey {
    let mut k = [0u8; 32];
    match spread % 3 {
        0 => k = armsledger_core::hash::Hash::of(&[&seed.to_be_bytes()]).0,
        1 => {
            k[31] = seed as u8;
            k[30] = (seed >> 8) as u8;
        }
        _ => {
            k[0] = (seed & 0x3) as u8;
            k[17] = (seed >> 2) as u8;
            k[31] = 0x80;
        }
    }
    MapKey(k)
}

fn check_all(store: &impl NodeStore, model: &BTreeMap<MapKey, Hash>, probes: &[MapKey]) {
    let root = root_hash(store).unwrap();
    assert_eq!(root, reference::root(model));
    for (k, v) in model {
        assert_eq!(
            prove(store, k).unwrap().verify(&root, k).unwrap(),
            Answer::Present(*v)
        );
    }
    for k in probes.iter().filter(|k| !model.contains_key(k)) {
        let p = prove(store, k).unwrap();
        assert_eq!(p.verify(&root, k).unwrap(), Answer::Absent);
        let back = armsledger_index::Proof::decode(&p.encode()).unwrap();
        assert_eq!(back, p);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn the_tree_matches_the_reference(
        spread in 0u8..3,
        ops in prop::collection::vec((0u16..300, any::<u8>(), 1usize..6), 0..120),
    ) {
        let mut store = MemStore::default();
        let mut model = BTreeMap::new();
        let mut ops = ops.into_iter().peekable();
        while ops.peek().is_some() {
            let mut batch = Batch::new(&mut store).unwrap();
            let size = ops.peek().map(|o| o.2).unwrap_or(1);
            for (seed, v, _) in ops.by_ref().take(size) {
                let k = key(seed, spread);
                let vh = Hash([v; 32]);
                batch.set(&k, vh).unwrap();
                model.insert(k, vh);
            }
            batch.commit().unwrap();
        }
        let probes: Vec<MapKey> = (0..300).step_by(7).map(|s| key(s, spread)).collect();
        check_all(&store, &model, &probes);
        // Nodes are stored only where two leaves part, by position: a map of
        // n ≥ 1 leaves has exactly n − 1 nodes, whatever it went through.
        prop_assert_eq!(store.node_count(), model.len().saturating_sub(1));
    }
}

#[test]
fn the_empty_map_and_a_single_leaf() {
    let mut store = MemStore::default();
    assert_eq!(root_hash(&store).unwrap(), armsledger_index::node::EMPTY);
    let k = key(1, 0);
    assert_eq!(
        prove(&store, &k)
            .unwrap()
            .verify(&armsledger_index::node::EMPTY, &k)
            .unwrap(),
        Answer::Absent
    );
    let mut b = Batch::new(&mut store).unwrap();
    b.set(&k, Hash([5; 32])).unwrap();
    b.commit().unwrap();
    let mut model = BTreeMap::new();
    model.insert(k, Hash([5; 32]));
    check_all(&store, &model, &[key(2, 0), key(3, 1)]);
}

#[test]
fn redb_and_memory_agree_and_redb_prunes() {
    let dir = tempfile::tempdir().unwrap();
    let db = redb::Database::create(dir.path().join("map.redb")).unwrap();
    let mut mem = MemStore::default();
    let mut model = BTreeMap::new();
    for round in 0..5u8 {
        let txn = db.begin_write().unwrap();
        {
            let mut map = RedbMap::open(&txn).unwrap();
            let mut b = Batch::new(&mut map).unwrap();
            let mut m = Batch::new(&mut mem).unwrap();
            for s in 0..200u16 {
                // Each round rewrites every leaf and adds 200 new ones.
                for k in [key(s, 0), key(s + 1000 * u16::from(round), 0)] {
                    let vh = Hash([round + 1; 32]);
                    b.set(&k, vh).unwrap();
                    m.set(&k, vh).unwrap();
                    model.insert(k, vh);
                }
            }
            assert_eq!(b.commit().unwrap(), m.commit().unwrap());
        }
        txn.commit().unwrap();
    }
    let read = db.begin_read().unwrap();
    let map = RedbMapRead::open(&read).unwrap();
    let probes: Vec<MapKey> = (5000..5020).map(|s| key(s, 0)).collect();
    check_all(&map, &model, &probes);
    let nodes = {
        use redb::ReadableTableMetadata;
        read.open_table(armsledger_index::redb_store::NODES)
            .unwrap()
            .len()
            .unwrap()
    };
    assert_eq!(
        nodes as usize,
        model.len() - 1,
        "rewritten leaves left no stale node"
    );
}

#[test]
fn a_file_without_a_map_reads_as_empty() {
    let dir = tempfile::tempdir().unwrap();
    let db = redb::Database::create(dir.path().join("none.redb")).unwrap();
    let read = db.begin_read().unwrap();
    let map = RedbMapRead::open(&read).unwrap();
    assert_eq!(root_hash(&map).unwrap(), armsledger_index::node::EMPTY);
}
