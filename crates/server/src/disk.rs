//! The log store as the server holds it, and what a full or failing disk does.
//!
//! redb latches the first failed write or fsync: every later operation on
//! that database, reads included, answers `PreviousIo` until it is closed and
//! opened again, which repairs the file to its last durable commit. So a write
//! that fails for a disk reason (no space, the file size limit, an I/O error):
//!
//! 1. records a [`DiskFault`]. While it stands, ingest refuses new entries
//!    with `507 Insufficient Storage` before verifying them, the checkpointer
//!    signs nothing, and nothing unacknowledged was acknowledged: the failed
//!    group's requests get the same 507;
//! 2. wakes the recovery thread, which re-opens the store at once so reads
//!    are served again, then probes once a second whether a file the size of
//!    the log plus [`Config::disk_probe_bytes`](crate::Config) could be
//!    written (`fallocate` of a scratch file: real free blocks *and* the file
//!    size limit);
//! 3. when the probe passes, the fault clears; the sequencer re-derives its
//!    state from the log before the next group, and the checkpointer resumes.

use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, PoisonError, RwLock};
use std::time::Duration;

use armsledger_log::LogKey;
use armsledger_log::SignedCheckpoint;
use armsledger_store::{Accepted, LogReader, LogStore, StoreError};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use serde::Serialize;

use crate::metrics::Metrics;

/// How often the recovery thread probes for room, and retries a re-open.
const PROBE_EVERY: Duration = Duration::from_secs(1);

/// Why the log cannot take writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// No space left, the quota or the file size limit reached.
    Full,
    /// Any other failed write or fsync (an I/O error).
    WriteFailed,
}

/// A disk fault that stops ingest until the recovery thread clears it.
#[derive(Clone, Debug, Serialize)]
pub struct DiskFault {
    /// What kind of fault.
    pub kind: FaultKind,
    /// When it began, in milliseconds since the Unix epoch.
    pub since_ms: u64,
    /// The error as the operating system gave it (logged; never sent to clients).
    #[serde(skip)]
    pub detail: String,
}

impl DiskFault {
    /// The sentence clients and operators see.
    pub fn message(&self) -> &'static str {
        match self.kind {
            FaultKind::Full => {
                "the server's disk is full (or its file size limit is reached): new entries are refused until space returns; every entry already acknowledged is safe"
            }
            FaultKind::WriteFailed => {
                "a write to the server's disk failed: new entries are refused until writes work again; every entry already acknowledged is safe"
            }
        }
    }
}

/// Why a write through [`LiveStore`] did not happen.
#[derive(Debug)]
pub enum WriteError {
    /// A disk fault stands (or this write raised one): nothing was written.
    Fault(DiskFault),
    /// The store refused for another reason.
    Store(StoreError),
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteError::Fault(d) => write!(f, "{}: {}", d.message(), d.detail),
            WriteError::Store(e) => e.fmt(f),
        }
    }
}

#[derive(Debug, Default)]
struct FaultState {
    fault: Option<DiskFault>,
    /// The database latched the failure: it must be closed and opened again.
    needs_reopen: bool,
    /// Closed for good ([`LiveStore::close`]): never opened again.
    closed: bool,
}

/// The global log, re-opened after a disk fault.
#[derive(Debug)]
pub struct LiveStore {
    path: PathBuf,
    db: RwLock<Option<LogStore>>,
    state: Mutex<FaultState>,
    wake: Condvar,
    probe_bytes: u64,
    faulty: Gauge,
    faults: Counter,
    reopens: Counter,
}

impl LiveStore {
    /// Opens the log at `path`.
    pub fn open(path: PathBuf, probe_bytes: u64, metrics: &Metrics) -> Result<Self, StoreError> {
        let store = LogStore::open(&path)?;
        Ok(LiveStore {
            path,
            db: RwLock::new(Some(store)),
            state: Mutex::new(FaultState::default()),
            wake: Condvar::new(),
            probe_bytes,
            faulty: metrics.disk_fault.clone(),
            faults: metrics.disk_faults.clone(),
            reopens: metrics.store_reopens.clone(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes the database for good (at shutdown, after the last write):
    /// redb then marks the file clean, so the next open does not repair it
    /// (a repair reads and checksums every page of the file, filling the
    /// page cache: docs/performance.md, section 9). Reads and writes fail
    /// afterwards, and the recovery thread ends instead of re-opening it.
    pub fn close(&self) {
        {
            let mut st = self.lock();
            st.closed = true;
            self.wake.notify_all();
        }
        let mut g = self.db.write().unwrap_or_else(PoisonError::into_inner);
        *g = None;
    }

    /// A consistent read snapshot.
    pub fn read(&self) -> Result<LogReader, StoreError> {
        let g = self.db.read().unwrap_or_else(PoisonError::into_inner);
        match g.as_ref() {
            Some(s) => s.read(),
            None => Err(StoreError::StorageFailed(redb::Error::DatabaseClosed)),
        }
    }

    /// Compacts the log file ([`LogStore::compact`]), holding back new
    /// reads and writes while it runs; [`Compaction::Busy`] while a read is
    /// open or the store is closed after a fault.
    pub fn compact(&self) -> Result<armsledger_store::Compaction, StoreError> {
        let mut g = self.db.write().unwrap_or_else(PoisonError::into_inner);
        match g.as_mut() {
            Some(s) => s.compact(),
            None => Ok(armsledger_store::Compaction::Busy),
        }
    }

    /// The standing fault, if any.
    pub fn fault(&self) -> Option<DiskFault> {
        self.lock().fault.clone()
    }

    /// Appends a group in one durable transaction (see [`LogStore::append_batch`]).
    pub fn append_batch(&self, batch: &[Accepted]) -> Result<Vec<u64>, WriteError> {
        self.write(|s| s.append_batch(batch))
    }

    /// Keeps an equivocation proof (see [`LogStore::record_equivocation`]).
    pub fn record_equivocation(
        &self,
        proof: &armsledger_core::chain::Equivocation,
    ) -> Result<bool, WriteError> {
        self.write(|s| s.record_equivocation(proof))
    }

    /// Keeps a note's opening (see [`LogStore::put_note`]).
    pub fn put_note(
        &self,
        entry: &armsledger_core::hash::Hash,
        opening: &armsledger_core::note::NoteOpening,
        class: armsledger_store::NoteClass,
    ) -> Result<bool, WriteError> {
        self.write(|s| s.put_note(entry, opening, class))
    }

    /// Sets when a note's retention ends (see [`LogStore::set_note_retention`]).
    pub fn set_note_retention(
        &self,
        note: &armsledger_core::note::SealedNote,
        until: armsledger_core::ids::Timestamp,
    ) -> Result<bool, WriteError> {
        self.write(|s| s.set_note_retention(note, until))
    }

    /// Sets when each note's retention ends, in one transaction (see
    /// [`LogStore::set_note_retentions`]).
    pub fn set_note_retentions(
        &self,
        notes: &[(
            armsledger_core::note::SealedNote,
            armsledger_core::ids::Timestamp,
        )],
    ) -> Result<usize, WriteError> {
        self.write(|s| s.set_note_retentions(notes))
    }

    /// The note store's record of `note`.
    pub fn note(
        &self,
        note: &armsledger_core::note::SealedNote,
    ) -> Result<Option<armsledger_store::NoteRecord>, StoreError> {
        let g = self.db.read().unwrap_or_else(PoisonError::into_inner);
        match g.as_ref() {
            Some(s) => s.note(note),
            None => Err(StoreError::StorageFailed(redb::Error::DatabaseClosed)),
        }
    }

    /// Checks every table against the entries (see [`LogStore::fsck`]).
    pub fn fsck(&self) -> Result<armsledger_store::FsckReport, StoreError> {
        let g = self.db.read().unwrap_or_else(PoisonError::into_inner);
        match g.as_ref() {
            Some(s) => s.fsck(),
            None => Err(StoreError::StorageFailed(redb::Error::DatabaseClosed)),
        }
    }

    /// Every note record.
    pub fn notes(
        &self,
    ) -> Result<
        Vec<(
            armsledger_core::note::SealedNote,
            armsledger_store::NoteRecord,
        )>,
        StoreError,
    > {
        let g = self.db.read().unwrap_or_else(PoisonError::into_inner);
        match g.as_ref() {
            Some(s) => s.notes(),
            None => Err(StoreError::StorageFailed(redb::Error::DatabaseClosed)),
        }
    }

    /// Compresses the rows of entries about to be appended, off the
    /// sequencer (see [`LogStore::precompress`]); skipped while the store
    /// is closed after a fault.
    pub fn precompress(
        &self,
        entries: &[&armsledger_core::entry::SignedEntry],
    ) -> Result<(), StoreError> {
        let g = self.db.read().unwrap_or_else(PoisonError::into_inner);
        match g.as_ref() {
            Some(s) => s.precompress(entries),
            None => Ok(()),
        }
    }

    /// What moving the verifiable index has cost this process so far (see
    /// [`LogStore::map_stage`]); zeros while the store is closed.
    pub fn map_stage(&self) -> armsledger_store::MapStage {
        let g = self.db.read().unwrap_or_else(PoisonError::into_inner);
        g.as_ref().map(LogStore::map_stage).unwrap_or_default()
    }

    /// Signs and stores a checkpoint of the whole log.
    pub fn sign_checkpoint(&self, key: &LogKey) -> Result<SignedCheckpoint, WriteError> {
        self.write(|s| s.sign_checkpoint(key))
    }

    /// A mirror's append of the origin's entries with the origin's
    /// checkpoint (see [`LogStore::append_mirrored`]).
    pub fn append_mirrored(
        &self,
        batch: &[Accepted],
        note: &str,
        verifier: &armsledger_log::LogVerifier,
    ) -> Result<(), WriteError> {
        self.write(|s| s.append_mirrored(batch, note, verifier))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FaultState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs a write unless a fault stands; a disk error raises one.
    fn write<T>(
        &self,
        f: impl FnOnce(&LogStore) -> Result<T, StoreError>,
    ) -> Result<T, WriteError> {
        if let Some(fault) = self.fault() {
            return Err(WriteError::Fault(fault));
        }
        let g = self.db.read().unwrap_or_else(PoisonError::into_inner);
        let Some(store) = g.as_ref() else {
            drop(g);
            if self.lock().closed {
                // Shutting down: not a disk fault.
                return Err(WriteError::Store(StoreError::StorageFailed(
                    redb::Error::DatabaseClosed,
                )));
            }
            return Err(WriteError::Fault(
                self.raise(FaultKind::WriteFailed, "the log is closed"),
            ));
        };
        match f(store) {
            Ok(v) => Ok(v),
            Err(e) => match disk_fault(&e) {
                Some(kind) => {
                    drop(g);
                    Err(WriteError::Fault(self.raise(kind, &e.to_string())))
                }
                None => Err(WriteError::Store(e)),
            },
        }
    }

    /// Records a fault (the first one stands) and wakes the recovery thread.
    fn raise(&self, kind: FaultKind, detail: &str) -> DiskFault {
        let mut st = self.lock();
        st.needs_reopen = true;
        let fault = match &st.fault {
            Some(f) => f.clone(),
            None => {
                let f = DiskFault {
                    kind,
                    since_ms: crate::clock::system_now().0,
                    detail: detail.to_string(),
                };
                tracing::error!(?kind, %detail, "DISK FAULT: the log refuses new entries until writes work again");
                self.faults.inc();
                self.faulty.set(1);
                st.fault = Some(f.clone());
                f
            }
        };
        self.wake.notify_all();
        fault
    }

    /// Closes the database and opens it again: redb repairs it to its last
    /// durable commit. Readers holding a snapshot of the old one get errors.
    fn reopen(&self) -> Result<(), StoreError> {
        let mut g = self.db.write().unwrap_or_else(PoisonError::into_inner);
        *g = None;
        if self.lock().closed {
            return Ok(());
        }
        *g = Some(LogStore::open(&self.path)?);
        self.reopens.inc();
        Ok(())
    }

    /// The recovery thread's loop: waits for a fault, re-opens the store,
    /// probes for room, clears the fault and calls `resumed`. Returns once
    /// the store is closed ([`Self::close`]).
    pub(crate) fn recover_forever(&self, resumed: impl Fn()) {
        loop {
            let needs_reopen = {
                let mut st = self.lock();
                while st.fault.is_none() && !st.closed {
                    st = self.wake.wait(st).unwrap_or_else(PoisonError::into_inner);
                }
                if st.closed {
                    return;
                }
                st.needs_reopen
            };
            if needs_reopen {
                match self.reopen() {
                    Ok(()) => {
                        tracing::warn!("log re-opened after a disk fault; reads are served");
                        self.lock().needs_reopen = false;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "re-opening the log after a disk fault");
                        std::thread::sleep(PROBE_EVERY);
                        continue;
                    }
                }
            }
            match self.probe() {
                Ok(()) => {
                    let mut st = self.lock();
                    if !st.needs_reopen {
                        st.fault = None;
                        self.faulty.set(0);
                        drop(st);
                        tracing::warn!("the disk takes writes again: ingest resumes");
                        resumed();
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "disk still refuses writes");
                    std::thread::sleep(PROBE_EVERY);
                }
            }
        }
    }

    /// Whether a file as large as the log plus `probe_bytes` could be written
    /// next to it, with that many bytes really allocated.
    fn probe(&self) -> std::io::Result<()> {
        let len = std::fs::metadata(&self.path)?.len();
        let dir = self.path.parent().unwrap_or_else(|| Path::new("."));
        let probe = dir.join(".armsledger-space-probe");
        let result = probe_file(&probe, len, self.probe_bytes);
        let _ = std::fs::remove_file(&probe);
        result
    }
}

fn probe_file(path: &Path, offset: u64, len: u64) -> std::io::Result<()> {
    let f = std::fs::File::create(path)?;
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{FallocateFlags, fallocate};
        match fallocate(&f, FallocateFlags::empty(), offset, len) {
            Err(e) if e == rustix::io::Errno::OPNOTSUPP => {}
            other => return other.map_err(std::io::Error::from),
        }
    }
    f.set_len(offset.saturating_add(len))
}

/// Whether a store error is the disk's doing, and which kind.
pub fn disk_fault(e: &StoreError) -> Option<FaultKind> {
    let StoreError::StorageFailed(e) = e else {
        return None;
    };
    match e {
        redb::Error::Io(io) => Some(io_kind(io)),
        redb::Error::PreviousIo | redb::Error::DatabaseClosed => Some(FaultKind::WriteFailed),
        _ => None,
    }
}

fn io_kind(e: &std::io::Error) -> FaultKind {
    use std::io::ErrorKind;
    const ENOSPC: i32 = 28;
    const EFBIG: i32 = 27;
    const EDQUOT: i32 = 122;
    let full_kind = matches!(
        e.kind(),
        ErrorKind::StorageFull | ErrorKind::FileTooLarge | ErrorKind::QuotaExceeded
    );
    if full_kind || matches!(e.raw_os_error(), Some(ENOSPC | EFBIG | EDQUOT)) {
        FaultKind::Full
    } else {
        FaultKind::WriteFailed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Opens `path` with redb: whether it had to repair it (it was not
    /// closed cleanly); an error while another handle holds it open.
    fn repaired_on_open(path: &Path) -> Result<bool, redb::DatabaseError> {
        let repaired = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let r = repaired.clone();
        let db = redb::Database::builder()
            .set_repair_callback(move |_| r.store(true, std::sync::atomic::Ordering::Relaxed))
            .create(path)?;
        drop(db);
        Ok(repaired.load(std::sync::atomic::Ordering::Relaxed))
    }

    #[test]
    fn a_closed_store_opens_again_without_a_repair_and_stays_closed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.redb");
        let m = Metrics::default();
        let s = std::sync::Arc::new(LiveStore::open(path.clone(), 1 << 20, &m).unwrap());
        assert!(s.append_batch(&[]).is_ok());
        let s2 = s.clone();
        let recovery = std::thread::spawn(move || s2.recover_forever(|| {}));
        // Firing: while the recovery thread holds the store (as it does
        // until a server's process exits), the database stays open: at
        // exit it was never closed, and the next open repaired it.
        assert!(matches!(
            repaired_on_open(&path),
            Err(redb::DatabaseError::DatabaseAlreadyOpen)
        ));
        // Quiet: closed, the recovery thread ends, the file is clean.
        s.close();
        recovery.join().unwrap();
        assert!(s.read().is_err());
        assert!(!repaired_on_open(&path).unwrap());
        // A write after the close is refused without a fault, and nothing
        // opens it again.
        assert!(matches!(s.append_batch(&[]), Err(WriteError::Store(_))));
        assert!(s.fault().is_none());
        assert!(s.reopen().is_ok());
        assert!(s.read().is_err());
        assert!(!repaired_on_open(&path).unwrap());
    }

    #[test]
    fn disk_errors_are_classified() {
        let io = |kind| StoreError::StorageFailed(redb::Error::Io(std::io::Error::from(kind)));
        use std::io::ErrorKind;
        assert_eq!(
            disk_fault(&io(ErrorKind::StorageFull)),
            Some(FaultKind::Full)
        );
        assert_eq!(
            disk_fault(&io(ErrorKind::FileTooLarge)),
            Some(FaultKind::Full)
        );
        assert_eq!(
            disk_fault(&io(ErrorKind::Other)),
            Some(FaultKind::WriteFailed)
        );
        assert_eq!(
            disk_fault(&StoreError::StorageFailed(redb::Error::PreviousIo)),
            Some(FaultKind::WriteFailed)
        );
        // Not the disk: a logic refusal stays what it is.
        assert_eq!(disk_fault(&StoreError::TreeInconsistent("x".into())), None);
    }

    #[test]
    fn a_fault_refuses_writes_until_the_probe_passes() {
        let dir = tempfile::tempdir().unwrap();
        let m = Metrics::default();
        let s = LiveStore::open(dir.path().join("log.redb"), 1 << 20, &m).unwrap();
        assert!(s.fault().is_none());
        assert!(s.append_batch(&[]).is_ok());
        let f = s.raise(FaultKind::Full, "test");
        assert_eq!(f.kind, FaultKind::Full);
        assert!(matches!(s.append_batch(&[]), Err(WriteError::Fault(_))));
        // Reads still work while the fault stands.
        assert_eq!(s.read().unwrap().size(), 0);
        assert!(m.render().contains("armsledger_disk_fault 1"));
        // The recovery thread re-opens, probes (there is room), clears.
        let s = std::sync::Arc::new(s);
        let (tx, rx) = std::sync::mpsc::channel();
        let s2 = s.clone();
        std::thread::spawn(move || {
            s2.recover_forever(move || {
                let _ = tx.send(());
            })
        });
        rx.recv().unwrap();
        assert!(s.fault().is_none());
        assert!(s.append_batch(&[]).is_ok());
        assert!(m.render().contains("armsledger_disk_fault 0"));
        assert!(m.render().contains("armsledger_store_reopens_total 1"));
        assert!(!dir.path().join(".armsledger-space-probe").exists());
    }
}
