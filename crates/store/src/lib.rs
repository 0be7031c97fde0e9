//! armsledger storage: the regulator's global log and each armoury's site
//! ledger, each one redb file.
//!
//! The global log ([`LogStore`]) keeps every accepted entry (its Merkle leaf
//! is its receipt time and its exact bytes), the RFC 6962 tree over them as C2SP hash tiles
//! and half tiles, indexes by hash, slot, firearm, lot, person and site,
//! findings, equivocations and every checkpoint it ever signed:
//!
//! ```text
//! entries      0 → 150 bytes 28 b5 2f fd …  (header ‖ signature ‖ body, compressed; leaf = received_at ‖ entry)
//! by_hash      (99f5476e, 0) → ()
//! by_slot      (site:north, first counter 1) → block [(1, 0), (2, 1), (3, 2)]
//! by_firearm   (ccdc855c…, first index 0) → block [0, 2]
//! half_tiles   (0, 0) → the roots of each full 8-entry group of entries 0..256, 32 bytes each
//! tiles        (1, 0) → the roots of each full 256-entry subtree, 32 bytes each
//! checkpoints  3 → "ledger.example/armsledger/v1\n3\nGTPISfQS…=\n\n— ledger.example/armsledger/v1 D7Uay5n3…\n"
//! notes        5e22bcb5… → the opening of a sealed note (salt, text), or its erasure
//! ```
//!
//! * [`LogStore::append_batch`]: group commit, durable before it returns indexes.
//! * [`LogStore::sign_checkpoint`]: checks consistency with the last signed
//!   checkpoint and persists the new one before returning it.
//! * [`LogReader`]: proofs bound to a stated size, tiles, entry bundles, scans.
//! * [`fsck`]: re-derives every tile, index and root from the entries.
//! * [`ArmouryLedger`]: an armoury's own chain with write-ahead intents around
//!   the device signature, the regulator entries it holds, sync receipts.
//!
//! docs/log.md ("Storage tables") describes every table byte by byte.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod armoury;
mod error;
mod finding;
mod log;
pub mod notes;
pub mod snapshot;
mod terms;

pub use armoury::{ArmouryLedger, DeviceKey, EntryReceipt, Pending, Recovery, SignRequest, Source};
pub use error::StoreError;
pub use finding::StoredFinding;
pub use log::{
    Accepted, Compaction, FsckReport, IndexAnswer, LogReader, LogStore, MapStage, Problem,
    ProvenEntry, READ_THREADS, StoredEntry, decode_row, fsck, thread_cpu_ns,
};
#[cfg(feature = "bench-support")]
pub use log::{entry_of_row, stored_row, training_sample};
pub use notes::{Erasure, NoteClass, NoteRecord};
pub use terms::{IndexKey, Terms};

/// Refuses a file of a retired format before anything opens it for writing,
/// so it is left byte for byte as it was for the release that reads it.
/// (Opening a redb file read-write may write to it even when nothing is
/// committed.) A file that cannot be opened read-only (missing, or needing
/// crash repair) is left to the caller's normal open.
pub(crate) fn refuse_retired(
    path: &std::path::Path,
    meta_table: &str,
    retired: &[&str],
    current: &'static str,
) -> Result<(), StoreError> {
    use redb::ReadableDatabase;
    if !path.exists() {
        return Ok(());
    }
    let Ok(db) = redb::ReadOnlyDatabase::open(path) else {
        return Ok(());
    };
    let Ok(txn) = db.begin_read() else {
        return Ok(());
    };
    let def: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new(meta_table);
    let Ok(meta) = txn.open_table(def) else {
        return Ok(());
    };
    let found = match meta.get("format") {
        Ok(Some(v)) => v.value().to_vec(),
        _ => return Ok(()),
    };
    if retired.iter().any(|r| r.as_bytes() == found) {
        return Err(StoreError::FormatRetired {
            path: path.display().to_string(),
            found: String::from_utf8_lossy(&found).into_owned(),
            current,
            release: EPOCH_1_RELEASE,
        });
    }
    Ok(())
}

/// The releases that read store files of format epoch 1 (before log leaves
/// committed to receipt times), named in [`StoreError::FormatRetired`].
pub const EPOCH_1_RELEASE: &str = "an armsledger release of format epoch 1 (git tag `epoch-1`, the last commit before leaf format v2)";

#[cfg(test)]
mod tests {
    /// The server shares a store across threads and may hold a snapshot
    /// across an await.
    #[test]
    fn stores_and_snapshots_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<super::LogStore>();
        check::<super::LogReader>();
        check::<super::ArmouryLedger>();
        check::<super::StoreError>();
    }
}
