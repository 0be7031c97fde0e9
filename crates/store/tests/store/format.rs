//! Format versions: v1 (no `half_tiles`) and v2 (entries stored as their
//! exact bytes) files are upgraded to v3 on open; every writer (group commit,
//! the bulk path) keeps `half_tiles` equal to the tree the entries imply.

use std::path::Path;

use armsledger_log::{Hash, open_checkpoint, verify_consistency, verify_inclusion};
use armsledger_store::{LogStore, StoreError};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use crate::common::{accepted, leaf, log_key, mth, path, workload};

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const HALF_TILES: TableDefinition<(u8, u64), &[u8]> = TableDefinition::new("half_tiles");

/// A log of 300 entries and one checkpoint at 300, written by the v1 code
/// (before `half_tiles` existed) and compacted; `log-v1.checkpoint` is its note.
const V1_FIXTURE: &[u8] = include_bytes!("../fixtures/log-v1.redb");
const V1_NOTE: &str = include_str!("../fixtures/log-v1.checkpoint");
/// The same log written by the v2 code (entries as their exact bytes) and
/// compacted; `log-v2.checkpoint` is its note.
const V2_FIXTURE: &[u8] = include_bytes!("../fixtures/log-v2.redb");
const V2_NOTE: &str = include_str!("../fixtures/log-v2.checkpoint");
const ENTRIES: TableDefinition<u64, &[u8]> = TableDefinition::new("entries");

/// Half tiles as ((level, index), hashes in it).
type Rows = Vec<((u8, u64), usize)>;

/// The format tag and the half tiles.
fn format_and_halves(path: &Path) -> (String, Rows) {
    let db = redb::ReadOnlyDatabase::open(path).unwrap();
    let txn = db.begin_read().unwrap();
    let meta = txn.open_table(META).unwrap();
    let format = String::from_utf8(meta.get("format").unwrap().unwrap().value().to_vec()).unwrap();
    let rows = match txn.open_table(HALF_TILES) {
        Ok(t) => t
            .iter()
            .unwrap()
            .map(|r| {
                let (k, v) = r.unwrap();
                (k.value(), v.value().len() / 32)
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    (format, rows)
}

/// Bytes of all `entries` rows.
fn entry_row_bytes(path: &Path) -> usize {
    let db = redb::ReadOnlyDatabase::open(path).unwrap();
    let txn = db.begin_read().unwrap();
    let t = txn.open_table(ENTRIES).unwrap();
    t.iter().unwrap().map(|r| r.unwrap().1.value().len()).sum()
}

#[test]
fn a_v1_log_is_upgraded_on_open() {
    upgrades(V1_FIXTURE, V1_NOTE, "armsledger/store/log/v1", vec![]);
}

#[test]
fn a_v2_log_is_upgraded_on_open() {
    upgrades(
        V2_FIXTURE,
        V2_NOTE,
        "armsledger/store/log/v2",
        vec![((0, 0), 16), ((0, 1), 2)],
    );
}

/// Opens a fixture of an earlier format (workload(300), checkpoint at 300)
/// and checks that it reads, proves, grows and signs on as v3.
fn upgrades(fixture: &[u8], note: &str, format: &str, halves: Rows) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("log.redb");
    std::fs::write(&file, fixture).unwrap();
    assert_eq!(format_and_halves(&file), (format.to_owned(), halves));
    let raw = entry_row_bytes(&file);
    assert_eq!(
        raw,
        workload(300).iter().map(|e| e.bytes().len()).sum::<usize>(),
        "an earlier format stores the exact bytes"
    );
    // Offline fsck does not write: it refuses and says what to do.
    let err = armsledger_store::fsck(&file).unwrap_err();
    assert!(matches!(err, StoreError::FormatUnknown { .. }));
    assert!(err.to_string().contains("LogStore::open"), "{err}");

    drop(LogStore::open(&file).unwrap());
    // 300 entries: half tile (0, 0) holds the roots of all 16 groups of
    // entries 0..256, (0, 1) the two complete groups of 256..300.
    assert_eq!(
        format_and_halves(&file),
        (
            "armsledger/store/log/v3".to_owned(),
            vec![((0, 0), 16), ((0, 1), 2)]
        )
    );
    let packed = entry_row_bytes(&file);
    assert!(
        packed * 10 < raw * 6,
        "entries compressed: {raw} → {packed} bytes"
    );
    armsledger_store::fsck(&file).unwrap();
    let store = LogStore::open(&file).unwrap();
    assert!(store.fsck().unwrap().is_clean());
    let cp = open_checkpoint(note.as_bytes(), &log_key().verifier(), log_key().name()).unwrap();
    let cp = cp.checkpoint();
    let r = store.read().unwrap();
    assert_eq!(r.size(), 300);
    assert_eq!(r.latest_checkpoint().unwrap().as_deref(), Some(note));
    for (i, e) in workload(300).iter().enumerate() {
        assert_eq!(r.entry(i as u64).unwrap().unwrap().entry, **e);
    }
    assert_eq!(r.root_at(300).unwrap(), *cp.root());
    let log = workload(300);
    let leaves: Vec<Hash> = log.iter().map(|e| leaf(e.bytes())).collect();
    assert_eq!(mth(&leaves), *cp.root(), "the fixture holds workload(300)");
    for i in [0, 15, 16, 100, 255, 256, 287, 288, 299] {
        let p = r.inclusion_proof(i, 300).unwrap();
        assert_eq!(p, path(i as usize, &leaves), "PATH({i}, D[300])");
        verify_inclusion(&leaves[i as usize], i, 300, &p, cp.root()).unwrap();
    }
    drop(r);

    // It grows and signs on as a v3 log, consistent with the old checkpoint.
    let more = workload(340);
    store.append_batch(&accepted(&more[300..])).unwrap();
    let new = store.sign_checkpoint(&log_key()).unwrap();
    let new = new.checkpoint();
    let r = store.read().unwrap();
    let proof = r.consistency_proof(300, 340).unwrap();
    verify_consistency(300, 340, cp.root(), new.root(), &proof).unwrap();
    assert!(store.fsck().unwrap().is_clean());
    drop(r);
    drop(store);
    // Opening again changes nothing.
    let before = format_and_halves(&file);
    drop(LogStore::open(&file).unwrap());
    assert_eq!(format_and_halves(&file), before);
    assert_eq!(before.1, vec![((0, 0), 16), ((0, 1), 5)]);
}

/// The half tiles of level 0 a tree of `size` leaves has: ((0, k), hashes).
fn half_tiles(size: u64) -> Rows {
    let groups = size / 16;
    (0..groups.div_ceil(16))
        .map(|k| ((0, k), (groups - 16 * k).min(16) as usize))
        .collect()
}

#[test]
fn group_commit_keeps_half_tiles_partial_then_whole() {
    let log = workload(300);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("log.redb");
    let mut at = 0;
    // Batches that end inside groups, on group ends and across a tile end.
    for n in [1, 14, 1, 1, 7, 233, 43] {
        let store = LogStore::open(&file).unwrap();
        store.append_batch(&accepted(&log[at..at + n])).unwrap();
        at += n;
        assert!(store.fsck().unwrap().is_clean(), "after {at}");
        drop(store);
        assert_eq!(
            format_and_halves(&file).1,
            half_tiles(at as u64),
            "after {at}"
        );
    }
    assert_eq!(at, 300);
}

#[test]
fn the_bulk_path_writes_the_same_tree_up_to_level_12() {
    // 9000 leaves: half tiles of level 0 and one of level 1 (tree level 12:
    // roots of entries 0..4096 and 4096..8192).
    let leaves: Vec<Vec<u8>> = (0..9000u32)
        .map(|i| format!("leaf {i}").into_bytes())
        .collect();
    let hashes: Vec<Hash> = leaves.iter().map(|l| leaf(l)).collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("log.redb");
    let store = LogStore::open(&file).unwrap();
    let size = store
        .bulk_append_leaves(leaves, 997, armsledger_core::ids::Timestamp(0))
        .unwrap();
    assert_eq!(size, 9000);
    let r = store.read().unwrap();
    for n in [
        1u64, 15, 16, 17, 255, 256, 257, 271, 272, 4095, 4096, 4097, 4111, 4112, 8191, 8192, 8193,
        8999, 9000,
    ] {
        let d = &hashes[..n as usize];
        assert_eq!(r.root_at(n).unwrap(), mth(d), "size {n}");
        for i in [0, 4095.min(n - 1), n / 2, n - 1] {
            assert_eq!(
                r.inclusion_proof(i, n).unwrap(),
                path(i as usize, d),
                "PATH({i}, D[{n}])"
            );
        }
    }
    // fsck refuses the raw leaves as entries, but not the tree over them.
    let report = store.fsck().unwrap();
    assert!(
        report
            .problems
            .iter()
            .all(|p| p.table != "half_tiles" && p.table != "tiles" && p.table != "meta"),
        "{report}"
    );
    drop(r);
    drop(store);
    let rows = format_and_halves(&file).1;
    // 562 groups of 16 in 36 level-0 half tiles, then level 1.
    assert_eq!(rows.len(), 37);
    assert_eq!(rows[35], ((0, 35), 2));
    assert_eq!(rows[36], ((1, 0), 2));
}

#[test]
fn a_damaged_v1_log_is_upgraded_up_to_the_damage_and_fsck_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("log.redb");
    std::fs::write(&file, V1_FIXTURE).unwrap();
    {
        let db = redb::Database::open(&file).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(ENTRIES).unwrap().remove(100).unwrap();
        txn.commit().unwrap();
    }
    let store = LogStore::open(&file).unwrap();
    let problems: Vec<String> = store
        .fsck()
        .unwrap()
        .problems
        .iter()
        .map(|p| p.to_string())
        .collect();
    assert!(
        problems.iter().any(|p| p.starts_with("entries[100..101]")),
        "{problems:?}"
    );
    // Derived up to the gap: groups 0..6 (entries 0..96) only.
    assert!(
        problems.iter().any(|p| p
            .starts_with("half_tiles[(0, 0)[6] over entries 96..112]: expected ")
            && p.ends_with("found absent")),
        "{problems:?}"
    );
    drop(store);
    assert_eq!(format_and_halves(&file).1, vec![((0, 0), 6)]);
}

#[test]
fn a_v3_log_of_another_dictionary_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("log.redb");
    let store = LogStore::open(&file).unwrap();
    store.append_batch(&accepted(&workload(20))).unwrap();
    drop(store);
    {
        let db = redb::Database::open(&file).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(META)
            .unwrap()
            .insert("dictionary", [7u8; 32].as_slice())
            .unwrap();
        txn.commit().unwrap();
    }
    for err in [
        LogStore::open(&file).unwrap_err(),
        armsledger_store::fsck(&file).unwrap_err(),
    ] {
        assert!(matches!(err, StoreError::FormatUnknown { .. }), "{err}");
        assert!(err.to_string().contains("0707"), "{err}");
    }
}
