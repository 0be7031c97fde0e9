//! Benchmark support (feature `bench-support`): fills the log with raw
//! leaves fast, to measure proofs on trees of millions of entries.
//!
//! It writes only `entries`, the tree (`tiles`, `half_tiles`, frontier) and `received_at`:
//! no decoding, no signatures, no indexes. fsck on such a log reports every
//! leaf as undecodable. Never use it for a real log.

use armsledger_core::ids::Timestamp;
use armsledger_log::EntryLeaf;

use super::blocks::TimeBlocks;
use super::grow::TileWriter;
use super::tables::*;
use super::{LogStore, load_frontier};
use crate::error::StoreError;

impl LogStore {
    /// Appends `leaves` as raw entries received at `received_at`, `per_txn`
    /// to a durable transaction, without decoding or indexing them (each
    /// leaf is `received_at ‖ bytes`). Returns the new tree size.
    /// Benchmarks and load tests only (see the module docs).
    pub fn bulk_append_leaves(
        &self,
        leaves: impl IntoIterator<Item = Vec<u8>>,
        per_txn: usize,
        received_at: Timestamp,
    ) -> Result<u64, StoreError> {
        let mut leaves = leaves.into_iter().peekable();
        let mut size = self.read()?.size();
        while leaves.peek().is_some() {
            let txn = self.db.begin_write()?;
            {
                let mut meta = txn.open_table(META)?;
                let mut entries = txn.open_table(ENTRIES)?;
                let mut received = txn.open_table(RECEIVED_AT)?;
                let mut tiles = txn.open_table(TILES)?;
                let mut halves = txn.open_table(HALF_TILES)?;
                let mut frontier = load_frontier(&meta)?;
                let mut writer = TileWriter::default();
                let mut times = TimeBlocks::default();
                for leaf in leaves.by_ref().take(per_txn.max(1)) {
                    let index = frontier.size();
                    let leaf_hash = EntryLeaf::new(received_at.millis(), &leaf).hash();
                    let appended = frontier.append(leaf_hash)?;
                    writer.record(&tiles, &halves, index, &appended)?;
                    entries.insert(index, super::stored::encode_raw(&leaf)?.as_slice())?;
                    times.push(&received, index, received_at.millis())?;
                }
                writer.flush(&mut tiles, &mut halves)?;
                times.flush(&mut received)?;
                meta.insert(meta::FRONTIER, frontier.to_bytes().as_slice())?;
                size = frontier.size();
            }
            txn.commit()?;
        }
        Ok(size)
    }
}
