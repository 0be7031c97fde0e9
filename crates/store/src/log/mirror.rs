//! A mirror's copy of another server's log: the origin's entries appended
//! in the origin's order with the origin's receipt times, kept only with the
//! origin's signed checkpoint over exactly them. The copy signs nothing.
//!
//! In one write transaction: append the entries (the same appends as
//! [`LogStore::append_batch`]: tree, indexes, findings), bring the
//! verifiable index up to the new size (as a checkpoint does), then require the checkpoint's size, tree root and
//! `armsledger-index/v1` root to be the copy's, and only then keep the note
//! as the latest checkpoint. Any difference aborts the transaction: the copy
//! stays at its last checkpoint.

use armsledger_log::{Hash, LogVerifier, open_checkpoint};
use redb::ReadableTable;

use super::tables::*;
use super::{Accepted, LogStore, append_in, load_frontier};
use crate::error::StoreError;

impl LogStore {
    /// Appends `batch` (the origin's next entries, already verified, with
    /// their receipt times and findings) and keeps `note`, the origin's
    /// checkpoint over the log so extended, as the latest checkpoint.
    ///
    /// Refused with [`StoreError::MirrorMismatch`], writing nothing, when
    /// the note does not verify under `verifier`, goes back from the last
    /// checkpoint kept, or when the copy's size, tree root or verifiable
    /// index root differs from the note's (`what`: `signature`, `rollback`,
    /// `position`, `size`, `root`, `index`).
    pub fn append_mirrored(
        &self,
        batch: &[Accepted],
        note: &str,
        verifier: &LogVerifier,
    ) -> Result<(), StoreError> {
        let signed = open_checkpoint(note.as_bytes(), verifier, verifier.name());
        let txn = self.db.begin_write()?;
        {
            let cp = signed.map_err(|e| StoreError::MirrorMismatch {
                size: 0,
                what: "signature",
                reason: e.to_string(),
            })?;
            let cp = cp.checkpoint();
            let size = cp.size();
            let mismatch = |what: &'static str, reason: String| StoreError::MirrorMismatch {
                size,
                what,
                reason,
            };
            let vkey = verifier.to_string();
            {
                let meta = txn.open_table(META)?;
                if let Some(stored) = get_meta(&meta, meta::LOG_VKEY)?
                    && stored != vkey.as_bytes()
                {
                    return Err(StoreError::LogKeyChanged {
                        stored: String::from_utf8_lossy(&stored).into_owned(),
                        offered: vkey,
                    });
                }
                let checkpoints = txn.open_table(CHECKPOINTS)?;
                if let Some((last, _)) = checkpoints.last()?
                    && last.value() > size
                {
                    return Err(mismatch(
                        "rollback",
                        format!("the copy holds a checkpoint of size {}", last.value()),
                    ));
                }
            }
            let (out, start) = append_in(&txn, batch, &mut Default::default())?;
            // The copy's map moves with the origin's checkpoint, in this
            // transaction, so that its root can be compared with the note's.
            super::index::bring_up(&txn, &self.fresh, u64::MAX)?;
            if let Some((k, i)) = out
                .iter()
                .enumerate()
                .find(|(k, i)| **i != start + *k as u64)
            {
                return Err(mismatch(
                    "position",
                    format!(
                        "entry {k} of the batch is already in the copy at {i}, not new at {}",
                        start + k as u64
                    ),
                ));
            }
            let frontier = load_frontier(&txn.open_table(META)?)?;
            if frontier.size() != size {
                return Err(mismatch(
                    "size",
                    format!("the copy holds {} entries", frontier.size()),
                ));
            }
            if frontier.root() != *cp.root() {
                return Err(mismatch(
                    "root",
                    format!(
                        "the copy's tree root is {}, the checkpoint's {}",
                        frontier.root(),
                        cp.root()
                    ),
                ));
            }
            let map = armsledger_index::redb_store::RedbMap::open(&txn)?;
            let ours = Hash(armsledger_index::root_hash(&map)?.0);
            drop(map);
            match cp.index() {
                Some(theirs) if *theirs == ours => {}
                Some(theirs) => {
                    return Err(mismatch(
                        "index",
                        format!(
                            "the copy's verifiable index root is {ours}, the checkpoint's armsledger-index/v1 line says {theirs}"
                        ),
                    ));
                }
                None => {
                    return Err(mismatch(
                        "index",
                        "the checkpoint carries no armsledger-index/v1 line".into(),
                    ));
                }
            }
            let mut checkpoints = txn.open_table(CHECKPOINTS)?;
            let mut meta = txn.open_table(META)?;
            checkpoints.insert(size, note)?;
            meta.insert(meta::LAST_CHECKPOINT, note.as_bytes())?;
            meta.insert(meta::LOG_VKEY, vkey.as_bytes())?;
        }
        txn.commit()?;
        Ok(())
    }
}
