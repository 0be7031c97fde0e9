//! armsledger storage: the regulator's global log and each armoury's site
//! ledger, each one redb file.
//!
//! The global log ([`LogStore`]) keeps every accepted entry as the exact
//! bytes of its Merkle leaf, the RFC 6962 tree over them as C2SP hash tiles
//! and half tiles, indexes by hash, slot, firearm, lot, person and site,
//! findings, equivocations and every checkpoint it ever signed:
//!
//! ```text
//! entries      0 → 292 bytes 01 05 6e 6f 72 74 68 …  (header ‖ signature ‖ body: the Merkle leaf)
//! by_hash      (99f5476e, 0) → ()
//! by_slot      (site:north, first counter 1) → block [(1, 0), (2, 1), (3, 2)]
//! by_firearm   (ccdc855c…, first index 0) → block [0, 2]
//! half_tiles   (0, 0) → the roots of each full 16-entry group of entries 0..256, 32 bytes each
//! tiles        (1, 0) → the roots of each full 256-entry subtree, 32 bytes each
//! checkpoints  3 → "ledger.example/armsledger/v1\n3\n+N0MTy+W8…=\n\n— ledger.example/armsledger/v1 D7Uay1/s…\n"
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
mod terms;

pub use armoury::{ArmouryLedger, DeviceKey, EntryReceipt, Pending, Recovery, SignRequest, Source};
pub use error::StoreError;
pub use finding::StoredFinding;
pub use log::{Accepted, FsckReport, LogReader, LogStore, Problem, StoredEntry, fsck};
#[cfg(feature = "bench-support")]
pub use log::{leaf_of_row, stored_row, training_sample};
pub use terms::{IndexKey, Terms};

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
