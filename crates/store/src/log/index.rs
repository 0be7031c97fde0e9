//! The verifiable index in the log's file: its `map_*` tables
//! (`armsledger_index::redb_store`) are not written by the appends. An ack
//! waits for the log's leaves only; the map is brought up to the log's size
//! in the transaction that signs a checkpoint (which binds its root), by
//! [`LogStore::update_index`](super::LogStore::update_index), and when a
//! file is opened. `map_meta["size"]` says how many entries it covers.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use armsledger_core::entry::SignedEntry;
use armsledger_index::redb_store::RedbMap;
use redb::{Database, ReadableTable, WriteTransaction};

use crate::error::StoreError;
use crate::log::tables::{ENTRIES, META};
use crate::log::{entry_bytes, load_frontier};

/// Entries indexed per transaction while catching up on open.
const CATCH_UP: u64 = 4096;

/// Entries applied to the map in one batch (each node on their paths is
/// written once per batch): bounds the memory of a long catch-up.
const CHUNK: u64 = 16_384;

/// Most entries [`Fresh`] holds (about a megabyte per thousand entries);
/// past it the map stage decodes the rest from the file.
const FRESH_MAX: usize = 32_768;

/// The entries appended since the map last moved, as the sequencer handed
/// them over, so the map stage need not decompress and decode them from
/// the file again. Filled after each append's commit (never before: a
/// failed commit's entries must not reach the map); an entry not held here
/// is read from the file, so what this holds changes speed, not results.
#[derive(Debug, Default)]
pub(crate) struct Fresh {
    held: Mutex<VecDeque<(u64, Arc<SignedEntry>)>>,
}

impl Fresh {
    /// Keeps the entries just committed at `start..`, if they follow the
    /// ones held and there is room.
    pub(crate) fn push(&self, committed: impl ExactSizeIterator<Item = (u64, Arc<SignedEntry>)>) {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if held.len() + committed.len() > FRESH_MAX {
            return;
        }
        for (i, e) in committed {
            if held.back().is_some_and(|(last, _)| *last + 1 != i) {
                // Another commit got in first: these are read from the file.
                held.clear();
            }
            held.push_back((i, e));
        }
    }

    /// Takes the entries held at `from..to`, in order, dropping older ones.
    fn take(&self, from: u64, to: u64) -> VecDeque<(u64, Arc<SignedEntry>)> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        while held.front().is_some_and(|(i, _)| *i < from) {
            held.pop_front();
        }
        let n = held.iter().take_while(|(i, _)| *i < to).count();
        held.drain(..n).collect()
    }
}

/// What moving the map has cost this process so far, counted by
/// [`LogStore::map_stage`](super::LogStore::map_stage): the map's own work
/// in the transactions that moved it (checkpoints and
/// [`LogStore::update_index`](super::LogStore::update_index); not the
/// catch-up on open, nor the commit that writes its pages, which the
/// checkpoint's signature shares).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MapStage {
    /// Log entries the map was moved over.
    pub entries: u64,
    /// Transactions that moved it at least one entry.
    pub moves: u64,
    /// Wall-clock time of that work.
    pub wall: Duration,
    /// CPU time the moving threads spent on it (their on-CPU time from
    /// `/proc/thread-self/schedstat`, in nanoseconds); `None` where the
    /// system does not say (not Linux).
    pub cpu: Option<Duration>,
}

/// The running totals behind [`MapStage`].
#[derive(Debug)]
pub(crate) struct Meter {
    entries: AtomicU64,
    moves: AtomicU64,
    wall_ns: AtomicU64,
    cpu_ns: AtomicU64,
    cpu_known: AtomicBool,
}

impl Default for Meter {
    fn default() -> Self {
        Meter {
            entries: AtomicU64::new(0),
            moves: AtomicU64::new(0),
            wall_ns: AtomicU64::new(0),
            cpu_ns: AtomicU64::new(0),
            cpu_known: AtomicBool::new(true),
        }
    }
}

/// The calling thread's on-CPU time so far, in nanoseconds (Linux's
/// scheduler statistics; `None` elsewhere).
pub fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_ascii_whitespace().next()?.parse().ok()
}

impl Meter {
    pub(crate) fn totals(&self) -> MapStage {
        let cpu = self
            .cpu_known
            .load(Ordering::Relaxed)
            .then(|| Duration::from_nanos(self.cpu_ns.load(Ordering::Relaxed)));
        MapStage {
            entries: self.entries.load(Ordering::Relaxed),
            moves: self.moves.load(Ordering::Relaxed),
            wall: Duration::from_nanos(self.wall_ns.load(Ordering::Relaxed)),
            cpu,
        }
    }

    /// [`bring_up`], counted.
    pub(crate) fn bring_up(
        &self,
        txn: &WriteTransaction,
        fresh: &Fresh,
        limit: u64,
    ) -> Result<(u64, u64), StoreError> {
        let cpu0 = thread_cpu_ns();
        let t = Instant::now();
        let before = RedbMap::open(txn)?.indexed()?;
        let (covered, size) = bring_up(txn, fresh, limit)?;
        if covered > before {
            let wall = u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX);
            self.entries.fetch_add(covered - before, Ordering::Relaxed);
            self.moves.fetch_add(1, Ordering::Relaxed);
            self.wall_ns.fetch_add(wall, Ordering::Relaxed);
            match (cpu0, thread_cpu_ns()) {
                (Some(a), Some(b)) => {
                    self.cpu_ns
                        .fetch_add(b.saturating_sub(a), Ordering::Relaxed);
                }
                _ => self.cpu_known.store(false, Ordering::Relaxed),
            }
        }
        Ok((covered, size))
    }
}

/// Brings the map in `txn` forward over the log's entries, at most `limit`
/// of them, taking each from `fresh` where held and from the file
/// otherwise. Returns the map's size and the log's after.
pub(crate) fn bring_up(
    txn: &WriteTransaction,
    fresh: &Fresh,
    limit: u64,
) -> Result<(u64, u64), StoreError> {
    let size = load_frontier(&txn.open_table(META)?)?.size();
    let mut map = RedbMap::open(txn)?;
    let mut covered = map.indexed()?;
    if covered > size {
        return Err(StoreError::TreeInconsistent(format!(
            "the index covers {covered} entries, the log holds {size}"
        )));
    }
    let end = size.min(covered.saturating_add(limit));
    if covered == end {
        return Ok((covered, size));
    }
    let mut held = fresh.take(covered, end);
    let entries = txn.open_table(ENTRIES)?;
    while covered < end {
        let stop = end.min(covered.saturating_add(CHUNK));
        let mut batch: Vec<(u64, Arc<SignedEntry>)> = Vec::new();
        for i in covered..stop {
            while held.front().is_some_and(|(h, _)| *h < i) {
                held.pop_front();
            }
            match held.front() {
                Some((h, _)) if *h == i => {
                    if let Some(pair) = held.pop_front() {
                        batch.push(pair);
                    }
                }
                _ => {
                    let row = entries
                        .get(i)?
                        .ok_or_else(|| StoreError::missing("entries", i))?;
                    let e = SignedEntry::decode(&entry_bytes(i, row.value())?)
                        .map_err(|err| StoreError::malformed("entries", i, err))?;
                    batch.push((i, Arc::new(e)));
                }
            }
        }
        armsledger_index::apply(&mut map, batch.iter().map(|(i, e)| (*i, &**e)))?;
        covered = stop;
    }
    map.set_indexed(covered)?;
    Ok((covered, size))
}

/// Brings the map up to the log's size on open, [`CATCH_UP`] entries per
/// transaction: a file written before the index existed, or one whose
/// process stopped between an append's commit and the next checkpoint.
pub(crate) fn catch_up(db: &Database) -> Result<(), StoreError> {
    let none = Fresh::default();
    loop {
        let txn = db.begin_write()?;
        let (covered, size) = bring_up(&txn, &none, CATCH_UP)?;
        txn.commit()?;
        if covered >= size {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_keeps_a_contiguous_run_and_hands_out_a_range() {
        let f = Fresh::default();
        let e = armsledger_core::testkit::Scenario::standard().log[0].clone();
        f.push([(5, e.clone()), (6, e.clone()), (7, e.clone())].into_iter());
        // Not following 7: what is held is dropped, the new run kept.
        f.push([(9, e.clone()), (10, e.clone())].into_iter());
        let got: Vec<u64> = f.take(0, 10).iter().map(|(i, _)| *i).collect();
        assert_eq!(got, [9]);
        let rest: Vec<u64> = f.take(10, 100).iter().map(|(i, _)| *i).collect();
        assert_eq!(rest, [10]);
        // Too many at once: nothing kept.
        let many: Vec<_> = (0..=FRESH_MAX as u64).map(|i| (i, e.clone())).collect();
        f.push(many.into_iter());
        assert!(f.take(0, u64::MAX).is_empty());
    }
}
