//! The verifiable index in the log's file: its `map_*` tables
//! (`armsledger_index::redb_store`) move forward in each append's
//! transaction, and a file whose map covers fewer entries than its log (one
//! written before the index existed) catches up when opened.

use armsledger_core::entry::SignedEntry;
use armsledger_index::redb_store::RedbMap;
use redb::{Database, ReadableTable, WriteTransaction};

use crate::error::StoreError;
use crate::log::tables::{ENTRIES, META};
use crate::log::{entry_bytes, load_frontier};

/// Entries decoded and indexed per transaction while catching up.
const CATCH_UP: u64 = 4096;

/// Moves the map over `fresh`, the entries this transaction appended at
/// `start..`. The map must cover exactly `0..start` before.
pub(crate) fn extend(
    txn: &WriteTransaction,
    start: u64,
    fresh: &[(u64, &SignedEntry)],
) -> Result<(), StoreError> {
    let mut map = RedbMap::open(txn)?;
    let covered = map.indexed()?;
    if covered != start {
        return Err(StoreError::TreeInconsistent(format!(
            "the index covers {covered} entries but the log had {start} before this append"
        )));
    }
    armsledger_index::apply(&mut map, fresh.iter().copied())?;
    map.set_indexed(start + fresh.len() as u64)?;
    Ok(())
}

/// Brings the map up to the log's size, 4096 entries per transaction.
pub(crate) fn catch_up(db: &Database) -> Result<(), StoreError> {
    loop {
        let txn = db.begin_write()?;
        let done = {
            let size = load_frontier(&txn.open_table(META)?)?.size();
            let covered = RedbMap::open(&txn)?.indexed()?;
            if covered >= size {
                true
            } else {
                let end = size.min(covered + CATCH_UP);
                let entries = txn.open_table(ENTRIES)?;
                let mut batch = Vec::new();
                for i in covered..end {
                    let row = entries
                        .get(i)?
                        .ok_or_else(|| StoreError::missing("entries", i))?;
                    let e = SignedEntry::decode(&entry_bytes(i, row.value())?)
                        .map_err(|err| StoreError::malformed("entries", i, err))?;
                    batch.push((i, e));
                }
                drop(entries);
                let refs: Vec<(u64, &SignedEntry)> = batch.iter().map(|(i, e)| (*i, e)).collect();
                extend(&txn, covered, &refs)?;
                false
            }
        };
        txn.commit()?;
        if done {
            return Ok(());
        }
    }
}
