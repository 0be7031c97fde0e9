//! Tampering with the redb file through redb itself (as an attacker with
//! write access would): fsck names the location, proofs against the last
//! signed checkpoint fail, and the log refuses to sign over it.

use std::path::Path;

use armsledger_core::entry::SignedEntry;
use armsledger_log::{SignedCheckpoint, verify_inclusion};
use armsledger_store::{LogStore, StoreError, entry_of_row, stored_row};
use redb::{Database, ReadableTable, TableDefinition};

use crate::common::{leaf, log_key, store_with, workload};

const ENTRIES: TableDefinition<u64, &[u8]> = TableDefinition::new("entries");
const TILES: TableDefinition<(u8, u64), &[u8]> = TableDefinition::new("tiles");
const HALF_TILES: TableDefinition<(u8, u64), &[u8]> = TableDefinition::new("half_tiles");
const CHECKPOINTS: TableDefinition<u64, &str> = TableDefinition::new("checkpoints");

const N: usize = 600;

/// A log of 600 entries with a signed checkpoint, closed.
fn signed_log() -> (tempfile::TempDir, SignedCheckpoint) {
    let log = workload(N);
    let (dir, store) = store_with(&log);
    let cp = store.sign_checkpoint(&log_key()).unwrap();
    assert!(store.fsck().unwrap().is_clean());
    (dir, cp)
}

fn path(dir: &tempfile::TempDir) -> std::path::PathBuf {
    dir.path().join("log.redb")
}

/// Rewrites the file through redb, outside the store.
fn tamper(path: &Path, f: impl FnOnce(&redb::WriteTransaction)) {
    let db = Database::open(path).unwrap();
    let txn = db.begin_write().unwrap();
    f(&txn);
    txn.commit().unwrap();
}

/// The row of entry `i` as stored (compressed).
fn row(txn: &redb::WriteTransaction, i: u64) -> Vec<u8> {
    txn.open_table(ENTRIES)
        .unwrap()
        .get(i)
        .unwrap()
        .unwrap()
        .value()
        .to_vec()
}

/// The exact bytes of entry `i`.
fn entry_bytes(txn: &redb::WriteTransaction, i: u64) -> Vec<u8> {
    entry_of_row(i, &row(txn, i)).unwrap()
}

/// Stores `bytes` as entry `i`, compressed as the store would.
fn put_entry(txn: &redb::WriteTransaction, i: u64, bytes: &[u8]) {
    put_row(txn, i, &stored_row(bytes).unwrap());
}

fn put_row(txn: &redb::WriteTransaction, i: u64, row: &[u8]) {
    txn.open_table(ENTRIES).unwrap().insert(i, row).unwrap();
}

/// Whether entry `i` as stored still proves against the checkpoint.
fn proves(store: &LogStore, cp: &SignedCheckpoint, i: u64) -> bool {
    let c = cp.checkpoint();
    let r = store.read().unwrap();
    let Ok(Some(bytes)) = r.leaf_data(i) else {
        return false;
    };
    match r.inclusion_proof(i, c.size()) {
        Ok(p) => verify_inclusion(&leaf(&bytes), i, c.size(), &p, c.root()).is_ok(),
        Err(_) => false,
    }
}

fn problems(store: &LogStore) -> Vec<String> {
    let report = store.fsck().unwrap();
    assert!(!report.is_clean());
    eprintln!("{report}");
    report.problems.iter().map(|p| p.to_string()).collect()
}

#[test]
fn a_changed_entry_signature_byte() {
    let (dir, cp) = signed_log();
    tamper(&path(&dir), |txn| {
        let mut bytes = entry_bytes(txn, 300);
        let sig_at = SignedEntry::decode(&bytes).unwrap().header_bytes().len();
        bytes[sig_at] ^= 1; // still decodes: only the tree can tell
        put_entry(txn, 300, &bytes);
    });
    let store = LogStore::open(path(&dir)).unwrap();
    let p = problems(&store);
    assert!(
        p.iter()
            .any(|p| p.starts_with("tiles[(1, 0)[1] over entries 256..512]")),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|p| p.starts_with("checkpoints[size 600]") && p.contains("entries 0..600")),
        "{p:?}"
    );
    assert!(!proves(&store, &cp, 300));
    assert!(!proves(&store, &cp, 299), "a neighbour's proof covers it");
    assert!(proves(&store, &cp, 10), "other tiles are untouched");
}

#[test]
fn a_changed_entry_body_byte() {
    let (dir, cp) = signed_log();
    tamper(&path(&dir), |txn| {
        let mut bytes = entry_bytes(txn, 596);
        let last = bytes.len() - 1;
        bytes[last] ^= 0x40;
        put_entry(txn, 596, &bytes);
    });
    let store = LogStore::open(path(&dir)).unwrap();
    let p = problems(&store);
    assert!(
        p.iter()
            .any(|p| p.starts_with("entries[596]: expected a canonical signed entry")),
        "{p:?}"
    );
    assert!(!proves(&store, &cp, 596));
}

#[test]
fn a_changed_right_edge_entry_blocks_signing() {
    let (dir, store) = store_with(&workload(604));
    // The map is brought up to the log first (it moves at checkpoints, and
    // its catch-up on open would read, and refuse, the changed entry before
    // the tree is asked).
    store.update_index().unwrap();
    drop(store);
    // Entries 600..604 are a partial group of 8, which no stored hash
    // covers yet: signing recomputes their leaves and refuses.
    tamper(&path(&dir), |txn| {
        let mut bytes = entry_bytes(txn, 602);
        let last = bytes.len() - 1;
        bytes[last] ^= 0x40;
        put_entry(txn, 602, &bytes);
    });
    let store = LogStore::open(path(&dir)).unwrap();
    assert!(matches!(
        store.sign_checkpoint(&log_key()),
        Err(StoreError::TreeInconsistent(_))
    ));
}

#[test]
fn a_flipped_byte_in_a_compressed_row() {
    let (dir, cp) = signed_log();
    let stored = {
        let store = LogStore::open(path(&dir)).unwrap();
        store.read().unwrap().stored_row(300).unwrap().unwrap()
    };
    let original = entry_of_row(300, &stored).unwrap();
    // Every byte of the frame: header, dictionary id, blocks, checksum.
    let mut unchanged = 0;
    for at in 0..stored.len() {
        let mut bad = stored.clone();
        bad[at] ^= 0x10;
        tamper(&path(&dir), |txn| put_row(txn, 300, &bad));
        let store = LogStore::open(path(&dir)).unwrap();
        if entry_of_row(300, &bad).ok().as_ref() == Some(&original) {
            // zstd's frame header has one bit decoders ignore (byte 4, 0x10).
            assert!(store.fsck().unwrap().is_clean(), "byte {at}");
            unchanged += 1;
            continue;
        }
        let p = problems(&store);
        assert!(
            p.iter().any(|p| p.starts_with("entries[300]")),
            "byte {at}: {p:?}"
        );
        let r = store.read().unwrap();
        let err = r.entry(300).unwrap_err().to_string();
        assert!(err.contains("entries[300]"), "byte {at}: {err}");
        assert!(!proves(&store, &cp, 300));
        assert!(proves(&store, &cp, 10), "other rows read on");
    }
    assert!(unchanged <= 1, "{unchanged} flips left the entry as it was");
}

#[test]
fn a_row_that_expands_beyond_the_entry_limit() {
    let (dir, _) = signed_log();
    // A frame that declares 16 MiB, and one that hides its size.
    let declared = zstd::bulk::compress(&vec![0u8; 16 << 20], 3).unwrap();
    let mut hidden = Vec::new();
    {
        let mut enc = zstd::stream::Encoder::new(&mut hidden, 3).unwrap();
        std::io::Write::write_all(&mut enc, &vec![1u8; 1 << 20]).unwrap();
        enc.finish().unwrap();
    }
    for (i, bomb) in [(5u64, declared), (6, hidden)] {
        tamper(&path(&dir), |txn| put_row(txn, i, &bomb));
    }
    let store = LogStore::open(path(&dir)).unwrap();
    let p = problems(&store);
    for i in [5, 6] {
        assert!(
            p.iter().any(|p| p.starts_with(&format!("entries[{i}]"))),
            "{p:?}"
        );
        let err = store.read().unwrap().entry(i).unwrap_err();
        assert!(
            matches!(err, StoreError::StoredValueMalformed { .. }),
            "{err}"
        );
        assert!(err.to_string().contains(&format!("entries[{i}]")), "{err}");
    }
}

#[test]
fn a_removed_entry() {
    let (dir, cp) = signed_log();
    tamper(&path(&dir), |txn| {
        txn.open_table(ENTRIES).unwrap().remove(100).unwrap();
    });
    let store = LogStore::open(path(&dir)).unwrap();
    let p = problems(&store);
    assert!(
        p.iter().any(|p| p.starts_with("entries[100..101]")),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|p| p.starts_with("by_hash[") && p.contains(", 100)")),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|p| p.starts_with("received_at[599]") || p.starts_with("meta[frontier]")),
        "{p:?}"
    );
    assert!(!proves(&store, &cp, 100));
    assert!(!proves(&store, &cp, 101));
    // The last entry's index no longer matches the frontier: no appends, no signing.
    assert!(
        store
            .append_batch(&crate::common::accepted(&workload(N + 1)[N..]))
            .is_err()
    );
}

#[test]
fn two_entries_swapped() {
    let (dir, cp) = signed_log();
    tamper(&path(&dir), |txn| {
        let (a, b) = (row(txn, 40), row(txn, 41));
        put_row(txn, 40, &b);
        put_row(txn, 41, &a);
    });
    let store = LogStore::open(path(&dir)).unwrap();
    let p = problems(&store);
    assert!(
        p.iter()
            .any(|p| p.starts_with("tiles[(1, 0)[0] over entries 0..256]")),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|p| p.starts_with("half_tiles[(0, 0)[5] over entries 40..48]")),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|p| p.starts_with("by_hash[") && p.contains(", 40)")),
        "{p:?}"
    );
    assert!(p.iter().any(|p| p.starts_with("by_slot[")), "{p:?}");
    assert!(!proves(&store, &cp, 40));
    assert!(!proves(&store, &cp, 41));
    // Looking an entry up by hash no longer finds it where the index says.
    let r = store.read().unwrap();
    let e41 = r.entry(41).unwrap().unwrap().entry;
    assert_ne!(r.index_of_hash(&e41.hash()).unwrap(), Some(41));
}

#[test]
fn a_changed_tree_hash() {
    let (dir, cp) = signed_log();
    tamper(&path(&dir), |txn| {
        let mut t = txn.open_table(TILES).unwrap();
        let mut tile = t.get((1, 0)).unwrap().unwrap().value().to_vec();
        tile[5] ^= 1; // hash 0 of level-1 tile 0: the root of entries 0..256
        t.insert((1, 0), tile.as_slice()).unwrap();
    });
    let store = LogStore::open(path(&dir)).unwrap();
    let p = problems(&store);
    assert!(
        p.iter()
            .any(|p| p.starts_with("tiles[(1, 0)[0] over entries 0..256]")),
        "{p:?}"
    );
    assert!(
        !proves(&store, &cp, 300),
        "entries right of it prove through it"
    );
    assert!(matches!(
        store.sign_checkpoint(&log_key()),
        Err(StoreError::TreeInconsistent(_))
    ));
}

#[test]
fn a_changed_half_tile_hash() {
    let (dir, cp) = signed_log();
    // Half tile (0, 1) covers entries 256..512; its hash 2 is the root of
    // entries 272..280.
    tamper(&path(&dir), |txn| {
        let mut t = txn.open_table(HALF_TILES).unwrap();
        let mut row = t.get((0, 1)).unwrap().unwrap().value().to_vec();
        assert_eq!(row.len(), 32 * 32);
        row[2 * 32 + 7] ^= 1;
        t.insert((0, 1), row.as_slice()).unwrap();
    });
    let store = LogStore::open(path(&dir)).unwrap();
    let p = problems(&store);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].starts_with("half_tiles[(0, 1)[2] over entries 272..280]: expected "),
        "{p:?}"
    );
    assert!(
        !proves(&store, &cp, 260),
        "entries of the tile prove through it"
    );
    assert!(
        !proves(&store, &cp, 300),
        "entries 288..304 prove through entries 256..288"
    );
    assert!(
        proves(&store, &cp, 275),
        "a proof hashes its own group from the entries"
    );
    assert!(proves(&store, &cp, 10), "other tiles are untouched");
    // The right-edge half tile (entries 512..600 in eleven groups) is what a
    // root of the current size reads: changed, signing refuses.
    drop(store);
    tamper(&path(&dir), |txn| {
        let mut t = txn.open_table(HALF_TILES).unwrap();
        let mut row = t.get((0, 2)).unwrap().unwrap().value().to_vec();
        assert_eq!(row.len(), 11 * 32);
        row[0] ^= 1;
        t.insert((0, 2), row.as_slice()).unwrap();
    });
    let store = LogStore::open(path(&dir)).unwrap();
    assert!(
        problems(&store)
            .iter()
            .any(|p| p.starts_with("half_tiles[(0, 2)[0] over entries 512..520]")),
    );
    assert!(matches!(
        store.sign_checkpoint(&log_key()),
        Err(StoreError::TreeInconsistent(_))
    ));
}

#[test]
fn a_truncated_half_tile_is_an_error_naming_it() {
    let (dir, cp) = signed_log();
    tamper(&path(&dir), |txn| {
        let mut t = txn.open_table(HALF_TILES).unwrap();
        let row = t.get((0, 1)).unwrap().unwrap().value().to_vec();
        t.insert((0, 1), &row[..100]).unwrap();
    });
    let store = LogStore::open(path(&dir)).unwrap();
    let p = problems(&store);
    assert!(
        p.iter()
            .any(|p| p.starts_with("half_tiles[(0, 1)]: expected whole hashes, found 100 bytes")),
        "{p:?}"
    );
    let err = store
        .read()
        .unwrap()
        .inclusion_proof(260, cp.checkpoint().size())
        .unwrap_err();
    assert!(
        err.to_string().contains("half_tiles[(0, 1)] is malformed"),
        "{err}"
    );
    // A removed row: the hashes are missing, an error, not a panic.
    drop(store);
    tamper(&path(&dir), |txn| {
        txn.open_table(HALF_TILES).unwrap().remove((0, 1)).unwrap();
    });
    let store = LogStore::open(path(&dir)).unwrap();
    assert!(
        problems(&store)
            .iter()
            .any(|p| p.starts_with("half_tiles[(0, 1)[0] over entries 256..264]: expected ")),
    );
    assert!(!proves(&store, &cp, 260));
}

#[test]
fn a_forged_or_removed_checkpoint_blocks_signing() {
    let (dir, _cp) = signed_log();
    tamper(&path(&dir), |txn| {
        let mut t = txn.open_table(CHECKPOINTS).unwrap();
        let note = t.get(600).unwrap().unwrap().value().replace("600", "601");
        t.insert(600, note.as_str()).unwrap();
    });
    let store = LogStore::open(path(&dir)).unwrap();
    assert!(
        problems(&store)
            .iter()
            .any(|p| p.starts_with("checkpoints[size 600]"))
    );
    assert!(matches!(
        store.sign_checkpoint(&log_key()),
        Err(StoreError::CheckpointTampered { .. })
    ));
    drop(store);
    tamper(&path(&dir), |txn| {
        txn.open_table(CHECKPOINTS).unwrap().remove(600).unwrap();
    });
    let store = LogStore::open(path(&dir)).unwrap();
    assert!(matches!(
        store.sign_checkpoint(&log_key()),
        Err(StoreError::CheckpointTampered { .. })
    ));
}
