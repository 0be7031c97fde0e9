//! Format versions: files of format epoch 1 (log v1 to v3, site v1: leaves
//! without receipt times) are refused by name and left untouched; a v4 log
//! is upgraded on open (its level-0 half tiles rebuilt at tree level 3);
//! every writer (group commit, the bulk path) keeps `half_tiles` equal to
//! the tree the leaves imply.

use std::path::Path;

use armsledger_log::{EntryLeaf, Hash, open_checkpoint};
use armsledger_store::{ArmouryLedger, LogStore, StoreError};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use crate::common::{accepted, leaf, leaves, log_key, mth, path, store_with, workload};

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
/// The same log written by the v3 code (entries compressed, leaves without
/// receipt times), the last format of epoch 1; `log-v3.checkpoint` is its note.
const V3_FIXTURE: &[u8] = include_bytes!("../fixtures/log-v3.redb");
const V3_NOTE: &str = include_str!("../fixtures/log-v3.checkpoint");

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

#[test]
fn epoch_1_logs_are_refused_by_name_and_left_as_they_were() {
    for (fixture, note, format) in [
        (V1_FIXTURE, V1_NOTE, "armsledger/store/log/v1"),
        (V2_FIXTURE, V2_NOTE, "armsledger/store/log/v2"),
        (V3_FIXTURE, V3_NOTE, "armsledger/store/log/v3"),
    ] {
        refused(fixture, note, format);
    }
}

/// A fixture of epoch 1 (workload(300), checkpoint at 300, leaves = the
/// entry bytes) is refused on open and by the read-only fsck, with an error
/// naming its format and the release that reads it; the file is not touched.
fn refused(fixture: &[u8], note: &str, format: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("log.redb");
    std::fs::write(&file, fixture).unwrap();
    assert_eq!(format_and_halves(&file).0, format);
    // What the fixture holds: epoch-1 leaves over format-1 entries, which
    // this release can no longer build (entry body format 2); its signed
    // checkpoint still verifies under the example log key.
    open_checkpoint(note.as_bytes(), &log_key().verifier(), log_key().name()).unwrap();
    for err in [
        LogStore::open(&file).unwrap_err(),
        armsledger_store::fsck(&file).unwrap_err(),
    ] {
        match &err {
            StoreError::FormatRetired { found, current, .. } => {
                assert_eq!(found, format);
                assert_eq!(*current, "armsledger/store/log/v5");
            }
            other => panic!("{format}: {other}"),
        }
        let text = err.to_string();
        assert!(
            text.contains(format) && text.contains("retired") && text.contains("epoch-1"),
            "{text}"
        );
    }
    assert!(
        std::fs::read(&file).unwrap() == fixture,
        "{format}: the refused file is left as it was, for the release that reads it"
    );
}

#[test]
fn an_epoch_1_site_ledger_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("site.redb");
    let key = armsledger_store::DeviceKey {
        device: armsledger_core::testkit::v("dev-1"),
        key_epoch: 1,
        public_key: [7; 32],
    };
    let site = armsledger_core::testkit::v("north");
    drop(ArmouryLedger::create(&file, &site, "unix:/x", &key).unwrap());
    {
        let db = redb::Database::open(&file).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(META)
            .unwrap()
            .insert("format", "armsledger/store/site/v1".as_bytes())
            .unwrap();
        txn.commit().unwrap();
    }
    for err in [
        ArmouryLedger::open(&file).unwrap_err(),
        ArmouryLedger::create(&file, &site, "unix:/x", &key).unwrap_err(),
    ] {
        assert!(
            matches!(&err, StoreError::FormatRetired { found, .. } if found == "armsledger/store/site/v1"),
            "{err}"
        );
    }
}

/// The half tiles of level 0 a tree of `size` leaves has: ((0, k), hashes),
/// one hash per complete group of 8 leaves (tree level 3), 32 per row.
fn half_tiles(size: u64) -> Rows {
    let groups = size / 8;
    (0..groups.div_ceil(32))
        .map(|k| ((0, k), (groups - 32 * k).min(32) as usize))
        .collect()
}

#[test]
fn group_commit_keeps_half_tiles_partial_then_whole() {
    let log = workload(300);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("log.redb");
    let mut at = 0;
    // Batches that end inside groups, on group ends and across a tile end.
    for n in [1, 6, 1, 1, 7, 7, 233, 44] {
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
    let hashes: Vec<Hash> = leaves
        .iter()
        .map(|l| leaf(&EntryLeaf::new(0, l).to_bytes()))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("log.redb");
    let store = LogStore::open(&file).unwrap();
    let size = store
        .bulk_append_leaves(leaves, 997, armsledger_core::ids::Timestamp(0))
        .unwrap();
    assert_eq!(size, 9000);
    let r = store.read().unwrap();
    for n in [
        1u64, 7, 8, 9, 15, 16, 17, 255, 256, 257, 263, 264, 271, 272, 4095, 4096, 4097, 4111, 4112,
        8191, 8192, 8193, 8999, 9000,
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
    // fsck refuses the raw bytes as entries, but not the tree over them.
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
    // 1125 groups of 8 in 36 level-0 half tiles, then level 1.
    assert_eq!(rows.len(), 37);
    assert_eq!(rows[35], ((0, 35), 5));
    assert_eq!(rows[36], ((1, 0), 2));
}

#[test]
fn a_log_of_another_dictionary_is_refused() {
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

/// Rewrites a v5 log as the v4 code wrote it: format tag v4, and each
/// level-0 half tile holding the level-4 nodes (the roots of 16 leaves,
/// taken here from the reference tree over `hashes`) complete at `size`.
fn as_v4(file: &Path, hashes: &[Hash]) {
    let db = redb::Database::open(file).unwrap();
    let txn = db.begin_write().unwrap();
    {
        txn.open_table(META)
            .unwrap()
            .insert("format", "armsledger/store/log/v4".as_bytes())
            .unwrap();
        let mut t = txn.open_table(HALF_TILES).unwrap();
        let keys: Vec<(u8, u64)> = t
            .range((0u8, 0u64)..(1u8, 0u64))
            .unwrap()
            .map(|r| r.unwrap().0.value())
            .collect();
        for k in keys {
            t.remove(k).unwrap();
        }
        for (k, tile) in hashes.chunks(256).enumerate() {
            let row: Vec<u8> = tile.chunks_exact(16).flat_map(|g| mth(g).0).collect();
            if !row.is_empty() {
                t.insert((0, k as u64), row.as_slice()).unwrap();
            }
        }
    }
    txn.commit().unwrap();
}

#[test]
fn a_v4_log_is_upgraded_on_open_to_the_same_tree() {
    // 600 entries: two whole leaf tiles and a partial one (11 groups of 8,
    // 5 of 16), so the right edge is partial at both levels.
    let log = workload(600);
    let hashes = leaves(&log);
    let (dir, store) = store_with(&log);
    let file = dir.path().join("log.redb");
    let cp = store.sign_checkpoint(&log_key()).unwrap();
    drop(store);
    as_v4(&file, &hashes);
    let (format, rows) = format_and_halves(&file);
    assert_eq!(format, "armsledger/store/log/v4");
    assert_eq!(rows, [((0, 0), 16), ((0, 1), 16), ((0, 2), 5)]);
    // The read-only fsck does not upgrade: it says how to.
    let err = armsledger_store::fsck(&file).unwrap_err();
    assert!(err.to_string().contains("upgraded"), "{err}");

    let store = LogStore::open(&file).unwrap();
    assert!(store.fsck().unwrap().is_clean());
    let r = store.read().unwrap();
    assert_eq!(r.root_at(600).unwrap(), *cp.checkpoint().root());
    for i in [0u64, 7, 8, 255, 256, 300, 511, 512, 591, 599] {
        assert_eq!(
            r.inclusion_proof(i, 600).unwrap(),
            path(i as usize, &hashes),
            "PATH({i}, D[600])"
        );
    }
    drop(r);
    // Appending after the upgrade grows the rebuilt right edge.
    store
        .append_batch(&accepted(&workload(604)[600..]))
        .unwrap();
    assert!(store.fsck().unwrap().is_clean());
    drop(store);
    let (format, rows) = format_and_halves(&file);
    assert_eq!(format, "armsledger/store/log/v5");
    assert_eq!(rows, half_tiles(600));
}

#[test]
fn fail_a_v4_log_whose_tree_does_not_match_its_entries_is_not_upgraded() {
    let log = workload(600);
    let hashes = leaves(&log);
    let (dir, store) = store_with(&log);
    let file = dir.path().join("log.redb");
    drop(store);
    as_v4(&file, &hashes);
    // Hash 3 of v4 half tile (0, 1): the root of entries 304..320.
    {
        let db = redb::Database::open(&file).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut t = txn.open_table(HALF_TILES).unwrap();
            let mut row = t.get((0, 1)).unwrap().unwrap().value().to_vec();
            row[3 * 32] ^= 1;
            t.insert((0, 1), row.as_slice()).unwrap();
        }
        txn.commit().unwrap();
    }
    let err = LogStore::open(&file).err().unwrap();
    assert!(
        matches!(&err, StoreError::TreeInconsistent(m)
            if m.contains("half_tiles[(0, 1)][3] (v4, over entries 304..320)")),
        "{err}"
    );
    // Nothing was committed: still v4, the row as it was.
    assert_eq!(format_and_halves(&file).0, "armsledger/store/log/v4");
    let db = redb::ReadOnlyDatabase::open(&file).unwrap();
    let txn = db.begin_read().unwrap();
    let row = txn
        .open_table(HALF_TILES)
        .unwrap()
        .get((0, 1))
        .unwrap()
        .unwrap()
        .value()
        .to_vec();
    assert_eq!(row.len(), 16 * 32);
}
