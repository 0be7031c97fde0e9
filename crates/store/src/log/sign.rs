//! Signing checkpoints: never two inconsistent ones.
//!
//! In one write transaction (so no append can slip in between): bring the
//! verifiable index up to the log's size (the map stage), read the size and
//! root, recompute the root from the stored tree and require it to
//! match the frontier, load the last signed checkpoint and check its
//! signature, recompute the stored tree's root at its size, prove and verify
//! consistency from it to the new head, and only then sign (with the
//! verifiable index's root over the same entries as the note's one extension
//! line), persist the note durably, and return it.

use armsledger_log::{
    LogKey, SignedCheckpoint, open_checkpoint, prove_consistency, tree_root, verify_consistency,
};
use redb::ReadableTable;

use super::tables::*;
use super::tree::{NodeCache, StoredTree, store_error};
use super::{LogStore, load_frontier};
use crate::error::StoreError;

impl LogStore {
    /// Signs a checkpoint of the current tree with `key`, after checking it
    /// is consistent with the last checkpoint the log signed, and persists
    /// it durably before returning it.
    ///
    /// Refuses ([`StoreError::CheckpointInconsistent`],
    /// [`StoreError::CheckpointTampered`], [`StoreError::TreeInconsistent`],
    /// [`StoreError::LogKeyChanged`]) rather than sign anything a damaged or
    /// tampered file would make inconsistent.
    pub fn sign_checkpoint(&self, key: &LogKey) -> Result<SignedCheckpoint, StoreError> {
        let txn = self.db.begin_write()?;
        // The map stage: the map moves over the entries appended since the
        // last checkpoint, once for all of them, in the transaction that
        // signs its root (an ack never waits for it).
        let (covered, size) = self.meter.bring_up(&txn, &self.fresh, u64::MAX)?;
        if covered != size {
            return Err(StoreError::TreeInconsistent(format!(
                "the index covers {covered} entries after its update, the log {size}"
            )));
        }
        let signed = {
            let mut meta = txn.open_table(META)?;
            let mut checkpoints = txn.open_table(CHECKPOINTS)?;
            let entries = txn.open_table(ENTRIES)?;
            let received = txn.open_table(RECEIVED_AT)?;
            let tiles = txn.open_table(TILES)?;
            let halves = txn.open_table(HALF_TILES)?;
            let cache = NodeCache::default();
            let verifier = key.verifier();
            let vkey = verifier.to_string();
            if let Some(stored) = get_meta(&meta, meta::LOG_VKEY)? {
                let stored = String::from_utf8_lossy(&stored).into_owned();
                if stored != vkey {
                    return Err(StoreError::LogKeyChanged {
                        stored,
                        offered: vkey,
                    });
                }
            }
            let frontier = load_frontier(&meta)?;
            let size = frontier.size();
            super::check_entry_count(&entries, size)?;
            let tree = StoredTree::new(&entries, &received, &tiles, &halves, &cache, size);
            let root = tree_root(&tree, size).map_err(store_error)?;
            if root != frontier.root() {
                return Err(StoreError::TreeInconsistent(format!(
                    "stored tree root {root} at size {size} differs from the frontier's {}",
                    frontier.root()
                )));
            }

            let last_meta = get_meta(&meta, meta::LAST_CHECKPOINT)?;
            let last_row = checkpoints
                .last()?
                .map(|(k, v)| (k.value(), v.value().as_bytes().to_vec()));
            match (&last_meta, &last_row) {
                (None, None) => {}
                (Some(m), Some((_, r))) if m == r => {}
                _ => {
                    return Err(StoreError::CheckpointTampered {
                        size: last_row.as_ref().map_or(0, |(s, _)| *s),
                        reason: "meta.last_checkpoint and the last checkpoints row differ".into(),
                    });
                }
            }
            if let Some((row_size, note)) = last_row {
                let old = open_checkpoint(&note, &verifier, key.name()).map_err(|e| {
                    StoreError::CheckpointTampered {
                        size: row_size,
                        reason: e.to_string(),
                    }
                })?;
                let old = old.checkpoint();
                let inconsistent = |reason: String| StoreError::CheckpointInconsistent {
                    old_size: old.size(),
                    new_size: size,
                    reason,
                };
                if old.size() != row_size {
                    return Err(StoreError::CheckpointTampered {
                        size: row_size,
                        reason: format!("note is for size {}", old.size()),
                    });
                }
                if old.size() > size {
                    return Err(inconsistent(
                        "the log is smaller than the checkpoint".into(),
                    ));
                }
                let old_root =
                    tree_root(&tree, old.size()).map_err(|e| inconsistent(e.to_string()))?;
                if old_root != *old.root() {
                    return Err(inconsistent(format!(
                        "stored tree gives root {old_root} at that size, the note says {}",
                        old.root()
                    )));
                }
                let proof = prove_consistency(&tree, old.size(), size)
                    .map_err(|e| inconsistent(e.to_string()))?;
                verify_consistency(old.size(), size, old.root(), &root, &proof)
                    .map_err(|e| inconsistent(e.to_string()))?;
            }

            // Brought up above, in this transaction: the index covers exactly
            // these `size` entries; the checkpoint commits to its root.
            let map = armsledger_index::redb_store::RedbMap::open(&txn)?;
            let covered = map.indexed()?;
            if covered != size {
                return Err(StoreError::TreeInconsistent(format!(
                    "the index covers {covered} entries, the log {size}"
                )));
            }
            let index = armsledger_log::Hash(armsledger_index::root_hash(&map)?.0);
            drop(map);
            let signed = key.sign_checkpoint_indexed(size, &root, Some(&index))?;
            checkpoints.insert(size, signed.note())?;
            meta.insert(meta::LAST_CHECKPOINT, signed.note().as_bytes())?;
            meta.insert(meta::LOG_VKEY, vkey.as_bytes())?;
            signed
        };
        txn.commit()?;
        Ok(signed)
    }
}

/// A map key's leaf value (if any) and the proof of it, or of its absence,
/// against the index root of the checkpoint it was made with (a reader's
/// [`super::LogReader::index_lookup_at`] at the checkpoint's size).
#[derive(Clone, Debug)]
pub struct IndexAnswer {
    /// The key asked.
    pub key: armsledger_index::MapKey,
    /// Its leaf value; `None`: absent.
    pub value: Option<armsledger_index::LeafValue>,
    /// The proof.
    pub proof: armsledger_index::Proof,
}
