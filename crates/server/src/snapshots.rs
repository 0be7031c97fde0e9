//! Rules snapshots: the verifier's state saved beside the log at a known
//! size, so a start (and a point-in-time query) replays only the entries
//! after it (docs/operations.md, "Rules snapshots"; the file format is
//! docs/formats.md, "Rules snapshots").
//!
//! The sequencer takes a snapshot between two groups, when the verifier is
//! exactly the log (it is the only writer of both): it encodes the state
//! under the verifier's read lock, and a background thread digests, writes,
//! syncs and prunes, so ingest waits only for the encoding. A snapshot is
//! used only if it names this log, its size is within the log, the log's
//! root at that size is the one it recorded, its versions are this build's,
//! its digests hold and its state decodes under the pinned keys; anything
//! else is logged with the reason and the state is rebuilt from the log.
//!
//! The state leaves out the entries themselves (the engine's history, which
//! corrections, revocations and report replays look back through): the
//! engine never holds them. [`LogHistory`] streams them from the log when
//! one of those acts looks back, and the engine keeps in memory only the
//! entries applied since the sequencer's last commit.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use armsledger_core::LedgerVerifier;
use armsledger_core::entry::SignedEntry;
use armsledger_core::ids::Timestamp;
use armsledger_core::rules::{HistoryError, HistorySource, Refold};
use armsledger_core::snapshot::state_digest;
use armsledger_store::snapshot::{SnapshotDir, SnapshotMeta};
use armsledger_store::{LogReader, StoreError};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use rayon::prelude::*;
use serde::Serialize;

use crate::config::{SnapshotConfig, files};
use crate::disk::LiveStore;
use crate::state::Shared;

/// Rows decoded per parallel chunk when the history is read back.
const CHUNK: u64 = 16_384;

/// The rules' history as the server keeps it: the log itself, read back
/// in chunks (decoded on the rayon pool) whenever a correction, a
/// revocation or a report replay looks back through it, and looked up by
/// entry hash (the log's hash index) for a reference, a correction's
/// target or a subject link. Holds only the log indexes of entries the
/// rules did not apply (a logged entry that no longer verifies at a
/// replay), which it skips, and how far the rules have applied the log
/// (an entry beyond is not found).
#[derive(Debug)]
pub(crate) struct LogHistory {
    store: Arc<LiveStore>,
    /// Log indexes not applied, in order.
    skipped: Mutex<Vec<u64>>,
    /// Entries at this log index and beyond are not applied yet.
    applied_to: AtomicU64,
    /// The rules snapshots a correction may refold from (the server's
    /// verifier's history; none for a point-in-time replay).
    kept: Option<SnapshotChecks>,
    /// When the running refold began (a correction, on the sequencer).
    refold_began: Mutex<Option<Instant>>,
    /// Where a refold is counted (the server's verifier's history).
    metrics: Option<SnapshotMetrics>,
}

/// What checks a snapshot against its log before it is used: the log's
/// identity, its root at the snapshot's size, the digests and versions
/// (read), and the state decoded under the pinned keys. With the metrics a
/// refused snapshot and a refold count in.
#[derive(Clone, Debug)]
pub(crate) struct SnapshotChecks {
    dir: SnapshotDir,
    identity: String,
    regulator_key: [u8; 32],
    roots: Vec<[u8; 32]>,
    store: Arc<LiveStore>,
    metrics: SnapshotMetrics,
}

impl SnapshotChecks {
    /// The checks of this server's snapshots.
    pub(crate) fn of(shared: &Shared) -> Self {
        SnapshotChecks {
            dir: shared.snapshots().dir.clone(),
            identity: shared.log_vkey().to_owned(),
            regulator_key: shared.regulator_key(),
            roots: shared.manufacturer_roots().to_vec(),
            store: shared.store_arc(),
            metrics: shared.metrics().snapshots.clone(),
        }
    }

    /// The snapshot at log size `n` if it matches the log `reader` reads
    /// (its identity, size and root); the reason it was refused otherwise.
    fn matching(&self, reader: &LogReader, n: u64) -> Result<Vec<u8>, String> {
        let size = reader.size();
        if n > size {
            return Err(format!(
                "covers {n} entries and the log holds {size}: it belongs to another (or a rolled-back) log"
            ));
        }
        let snap = self.dir.read(n).map_err(|e| e.to_string())?;
        if snap.meta.identity != self.identity {
            return Err(format!(
                "made for the log {:?}; this log is {:?}",
                snap.meta.identity, self.identity
            ));
        }
        let root = reader.root_at(n).map_err(|e| e.to_string())?;
        if root.0 != snap.meta.root.0 {
            return Err(format!(
                "the log's root at size {n} is not the one the snapshot recorded: another log, or a rewritten one"
            ));
        }
        Ok(snap.state)
    }

    /// The verifier of the snapshot at log size `n`, checked against the
    /// log `reader` reads, reading its history back from the log when it
    /// looks back ([`LogHistory`]); the reason it was refused otherwise.
    fn load(&self, reader: &LogReader, n: u64) -> Result<LedgerVerifier, String> {
        let state = self.matching(reader, n)?;
        LedgerVerifier::decode_state_stored(
            &state,
            self.regulator_key,
            &self.roots,
            LogHistory::new(self.store.clone()),
        )
        .map(|(v, _)| v)
        .map_err(|e| format!("{}: {e}", self.dir.file_of(n).display()))
    }

    /// Counts and logs a refused snapshot.
    fn refused(&self, path: &std::path::Path, reason: &str) {
        tracing::warn!(snapshot = %path.display(), %reason, "rules snapshot refused");
        self.metrics.refused.inc();
    }
}

impl LogHistory {
    /// The history of an engine that applies the log from its start (or
    /// from a snapshot) in order; every logged entry counts as applied
    /// until [`Self::applied_to`] says otherwise.
    pub(crate) fn new(store: Arc<LiveStore>) -> Arc<Self> {
        Arc::new(LogHistory {
            store,
            skipped: Mutex::new(Vec::new()),
            applied_to: AtomicU64::new(u64::MAX),
            kept: None,
            refold_began: Mutex::new(None),
            metrics: None,
        })
    }

    /// [`Self::new`] for the server's verifier: a correction refolds from
    /// the newest of the server's snapshots that holds (checked against the
    /// log) instead of from the start, `kept` (none when snapshots are
    /// off), and every refold is counted in `metrics`.
    pub(crate) fn with_snapshots(
        store: Arc<LiveStore>,
        kept: Option<SnapshotChecks>,
        metrics: SnapshotMetrics,
    ) -> Arc<Self> {
        Arc::new(LogHistory {
            store,
            skipped: Mutex::new(Vec::new()),
            applied_to: AtomicU64::new(u64::MAX),
            kept,
            refold_began: Mutex::new(None),
            metrics: Some(metrics),
        })
    }

    /// The log index of the applied entry with this hash and how many
    /// entries before it were skipped; `None` when the log does not hold
    /// it, the rules have not applied it yet, or it was skipped.
    fn applied_at(
        &self,
        reader: &LogReader,
        hash: &armsledger_core::Hash,
    ) -> Result<Option<(u64, u64)>, HistoryError> {
        let Some(i) = reader.index_of_hash(hash).map_err(history_error)? else {
            return Ok(None);
        };
        if i >= self.applied_to.load(Ordering::Acquire) {
            return Ok(None);
        }
        let skipped = self.skipped()?;
        if skipped.binary_search(&i).is_ok() {
            return Ok(None);
        }
        Ok(Some((i, skipped.partition_point(|s| *s < i) as u64)))
    }

    fn skipped(&self) -> Result<Vec<u64>, HistoryError> {
        self.skipped
            .lock()
            .map(|s| s.clone())
            .map_err(|_| HistoryError("skipped entries lock poisoned".into()))
    }

    /// The entry at log index `i` was not applied (indexes in log order).
    pub(crate) fn skip(&self, i: u64) {
        if let Ok(mut s) = self.skipped.lock() {
            s.push(i);
        }
    }

    /// The rules have applied the log up to index `n` (exclusive): a
    /// replay of the log, which must not find entries it has not reached.
    pub(crate) fn applied_to(&self, n: u64) {
        self.applied_to.store(n, Ordering::Release);
    }
}

impl HistorySource for LogHistory {
    fn stream(
        &self,
        n: u64,
        visit: &mut dyn FnMut(&SignedEntry, Option<Timestamp>) -> core::ops::ControlFlow<()>,
    ) -> Result<core::ops::ControlFlow<()>, HistoryError> {
        self.stream_from(0, n, visit)
    }

    /// Seeks to `start` in the log when no entry was skipped (the
    /// history's positions are then the log's indexes); reads from the
    /// start and passes the first `start` over otherwise.
    fn stream_from(
        &self,
        start: u64,
        n: u64,
        visit: &mut dyn FnMut(&SignedEntry, Option<Timestamp>) -> core::ops::ControlFlow<()>,
    ) -> Result<core::ops::ControlFlow<()>, HistoryError> {
        let skipped = self.skipped()?;
        let reader = self.store.read().map_err(history_error)?;
        let size = reader.size();
        let (mut seen, mut from) = if skipped.is_empty() {
            (start.min(n), start.min(n))
        } else {
            (0, 0)
        };
        while seen < n {
            // No further than the entries still wanted and those skipped.
            let want = (n - seen).saturating_add(skipped.len() as u64);
            let to = size.min(from.saturating_add(want.min(CHUNK)));
            if to <= from {
                return Err(HistoryError(format!(
                    "the rules applied {n} entries and the log holds {size} \
                     ({} of them skipped): only {seen} found",
                    skipped.len()
                )));
            }
            let rows = reader.rows(from, to).map_err(history_error)?;
            let decoded: Vec<Result<(SignedEntry, Timestamp), StoreError>> = rows
                .par_iter()
                .map(|(i, row, at)| armsledger_store::decode_row(*i, row).map(|e| (e, *at)))
                .collect();
            for (i, d) in (from..).zip(decoded) {
                if skipped.binary_search(&i).is_ok() {
                    continue;
                }
                if seen == n {
                    break;
                }
                let (e, at) = d.map_err(history_error)?;
                seen += 1;
                if seen <= start {
                    continue;
                }
                if visit(&e, Some(at)).is_break() {
                    return Ok(core::ops::ControlFlow::Break(()));
                }
            }
            from = to;
        }
        Ok(core::ops::ControlFlow::Continue(()))
    }

    fn find(&self, hash: &armsledger_core::Hash) -> Result<Option<SignedEntry>, HistoryError> {
        let reader = self.store.read().map_err(history_error)?;
        let Some((i, _)) = self.applied_at(&reader, hash)? else {
            return Ok(None);
        };
        Ok(reader.entry(i).map_err(history_error)?.map(|s| s.entry))
    }

    fn position(&self, hash: &armsledger_core::Hash) -> Result<Option<u64>, HistoryError> {
        let reader = self.store.read().map_err(history_error)?;
        Ok(self
            .applied_at(&reader, hash)?
            .map(|(i, skipped_before)| i - skipped_before))
    }

    /// By the log's chain index: the first entry of `chain` with a counter
    /// above `counter`, placed in the history (`u64::MAX` when the log has
    /// none the rules applied).
    fn first_after(
        &self,
        chain: &armsledger_core::ChainId,
        counter: u64,
    ) -> Result<u64, HistoryError> {
        let Some(next) = counter.checked_add(1) else {
            return Ok(u64::MAX);
        };
        let reader = self.store.read().map_err(history_error)?;
        let Some(&(_, i)) = reader
            .chain_slots(chain, next, 1)
            .map_err(history_error)?
            .first()
        else {
            return Ok(u64::MAX);
        };
        if i >= self.applied_to.load(Ordering::Acquire) {
            return Ok(u64::MAX);
        }
        let before = self.skipped()?.partition_point(|s| *s < i) as u64;
        Ok(i - before)
    }

    /// The newest snapshot at or before `at_most` entries that passes the
    /// checks a start makes and that `fits`; none while an entry of the log
    /// is skipped (the snapshot's entries are then not the history's).
    fn earlier_state(
        &self,
        at_most: u64,
        fits: &mut dyn FnMut(u64, &armsledger_core::rules::Engine) -> bool,
    ) -> Option<(u64, armsledger_core::rules::Engine)> {
        let kept = self.kept.as_ref()?;
        if !self.skipped().ok()?.is_empty() {
            return None;
        }
        let reader = self.store.read().ok()?;
        let list = kept.dir.list().unwrap_or_else(|e| {
            tracing::warn!(error = %e, "listing rules snapshots for a refold; folding the whole log");
            Vec::new()
        });
        for (k, path) in list.into_iter().filter(|(k, _)| *k <= at_most) {
            match kept.load(&reader, k) {
                Ok(v) => {
                    let engine = v.into_engine();
                    if fits(k, &engine) {
                        return Some((k, engine));
                    }
                    tracing::info!(
                        snapshot = k,
                        "rules snapshot folded an entry corrected since; trying an older one"
                    );
                }
                Err(reason) => kept.refused(&path, &reason),
            }
        }
        None
    }

    fn refold_begins(&self) {
        if let Ok(mut t) = self.refold_began.lock() {
            *t = Some(Instant::now());
        }
    }

    fn refold_ends(&self, refold: Refold) {
        let began = self.refold_began.lock().ok().and_then(|mut t| t.take());
        let seconds = began.map_or(0.0, |t| t.elapsed().as_secs_f64());
        if let Some(m) = &self.metrics {
            m.refold_seconds.observe(seconds);
            m.refold_from
                .set(i64::try_from(refold.from).unwrap_or(i64::MAX));
            m.refold_entries
                .set(i64::try_from(refold.folded).unwrap_or(i64::MAX));
        }
        tracing::info!(
            from = refold.from,
            folded = refold.folded,
            seconds,
            "a correction refolded the rules state"
        );
    }
}

/// How the last start caught up with the log.
#[derive(Clone, Debug, Default, Serialize, utoipa::ToSchema)]
pub struct StartReport {
    /// The log size of the snapshot it started from (none: the whole log).
    pub from_snapshot: Option<u64>,
    /// Entries replayed through the rules after it.
    pub replayed: u64,
    /// Milliseconds from opening the log to a verifier caught up with it.
    pub ready_ms: u64,
    /// Snapshots refused on the way, newest first, each with its reason.
    pub refused: Vec<String>,
}

/// The snapshot metrics.
#[derive(Debug, Clone)]
pub struct SnapshotMetrics {
    /// Snapshots written.
    pub written: Counter,
    /// Snapshots refused at start or for a point-in-time query.
    pub refused: Counter,
    /// Log size of the newest snapshot written.
    pub size: Gauge,
    /// Seconds the sequencer spent encoding the state for a snapshot.
    pub encode_seconds: Histogram,
    /// Seconds the background writer took (digest, write, sync, prune).
    pub write_seconds: Histogram,
    /// Log size of the snapshot the last start resumed from (0: none).
    pub start_from: Gauge,
    /// Entries the last start replayed through the rules.
    pub start_replayed: Gauge,
    /// Milliseconds the last start took to catch the verifier up.
    pub start_ready_ms: Gauge,
    /// Seconds a correction's refold of the rules state took, on the
    /// sequencer: ingest waits as long (`armsledger_refold_seconds`).
    pub refold_seconds: Histogram,
    /// Log size of the state the last refold started from (0: the start).
    pub refold_from: Gauge,
    /// Entries the last refold folded.
    pub refold_entries: Gauge,
}

impl Default for SnapshotMetrics {
    fn default() -> Self {
        SnapshotMetrics {
            written: Counter::default(),
            refused: Counter::default(),
            size: Gauge::default(),
            encode_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            write_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            start_from: Gauge::default(),
            start_replayed: Gauge::default(),
            start_ready_ms: Gauge::default(),
            refold_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 20)),
            refold_from: Gauge::default(),
            refold_entries: Gauge::default(),
        }
    }
}

impl SnapshotMetrics {
    /// Registers them (prefix `armsledger_snapshot_`; the refold's
    /// `armsledger_refold_`).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "refold_seconds",
            "Seconds a correction's refold of the rules state held the sequencer",
            self.refold_seconds.clone(),
        );
        registry.register(
            "refold_from",
            "Log size of the snapshot the last refold started from (0: the whole log)",
            self.refold_from.clone(),
        );
        registry.register(
            "refold_entries",
            "Entries the last refold of the rules state folded",
            self.refold_entries.clone(),
        );
        let r = registry.sub_registry_with_prefix("snapshot");
        r.register("written", "Rules snapshots written", self.written.clone());
        r.register(
            "refused",
            "Rules snapshots refused (the state was rebuilt from the log)",
            self.refused.clone(),
        );
        r.register(
            "size",
            "Log size of the newest rules snapshot",
            self.size.clone(),
        );
        r.register(
            "encode_seconds",
            "Seconds ingest waited while the state was encoded",
            self.encode_seconds.clone(),
        );
        r.register(
            "write_seconds",
            "Seconds the background writer took per snapshot",
            self.write_seconds.clone(),
        );
        r.register(
            "start_from",
            "Log size of the snapshot the last start resumed from (0: none)",
            self.start_from.clone(),
        );
        r.register(
            "start_replayed",
            "Entries the last start replayed through the rules",
            self.start_replayed.clone(),
        );
        r.register(
            "start_ready_ms",
            "Milliseconds the last start took to catch the rules up with the log",
            self.start_ready_ms.clone(),
        );
    }
}

/// The server's snapshot schedule and its directory.
#[derive(Debug)]
pub struct Snapshots {
    dir: SnapshotDir,
    config: SnapshotConfig,
    /// Log size and time of the last snapshot taken (or of the start).
    last: Mutex<(u64, Instant)>,
    /// A background write is running.
    busy: Arc<AtomicBool>,
    start: Mutex<StartReport>,
}

impl Snapshots {
    /// The schedule for a data directory.
    pub(crate) fn new(data_dir: &std::path::Path, config: &SnapshotConfig) -> Self {
        Snapshots {
            dir: SnapshotDir::new(data_dir.join(files::SNAPSHOTS)),
            config: config.clone(),
            last: Mutex::new((0, Instant::now())),
            busy: Arc::new(AtomicBool::new(false)),
            start: Mutex::new(StartReport::default()),
        }
    }

    /// How the last start caught up.
    pub fn start_report(&self) -> StartReport {
        self.start.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Whether snapshots are written and used.
    pub fn enabled(&self) -> bool {
        self.config.enabled
    }

    /// Whether a background write is running.
    pub fn writing(&self) -> bool {
        self.busy.load(Ordering::Acquire)
    }

    /// The directory.
    pub fn dir(&self) -> &SnapshotDir {
        &self.dir
    }
}

/// At start: the verifier from the newest snapshot that matches the log,
/// then the entries after it; the whole log when none matches (or
/// snapshots are off). Puts the verifier in place.
pub fn start(shared: &Arc<Shared>) -> Result<StartReport, StoreError> {
    let t0 = Instant::now();
    let snaps = shared.snapshots();
    let mut report = StartReport::default();
    let mut resumed: Option<(LedgerVerifier, u64)> = None;
    if snaps.config.enabled {
        let reader = shared.store().read()?;
        if let Err(e) = snaps.dir.remove_temporary() {
            tracing::warn!(error = %e, "removing a torn rules snapshot");
        }
        let list = snaps.dir.list().unwrap_or_else(|e| {
            tracing::warn!(error = %e, "listing rules snapshots; rebuilding from the log");
            Vec::new()
        });
        for (n, path) in list {
            match load(shared, &reader, n) {
                Ok(v) => {
                    if let Some(i) = n.checked_sub(1) {
                        shared.note_received(reader.received_at(i)?);
                    }
                    resumed = Some((v, n));
                    break;
                }
                Err(reason) => {
                    tracing::warn!(snapshot = %path.display(), %reason, "rules snapshot refused");
                    shared.metrics().snapshots.refused.inc();
                    report.refused.push(reason);
                }
            }
        }
        // A crash between a write and its pruning leaves one too many.
        if let Err(e) = snaps.dir.prune(snaps.config.kept) {
            tracing::warn!(error = %e, "pruning rules snapshots");
        }
        if resumed.is_none() && !report.refused.is_empty() {
            tracing::warn!(
                "no rules snapshot matches the log: rebuilding the state from the whole log"
            );
        }
    }
    let from = resumed.as_ref().map_or(0, |(_, n)| *n);
    report.from_snapshot = resumed.as_ref().map(|(_, n)| *n);
    report.replayed = crate::ingest::replay_from(shared, resumed.map(|(v, _)| v), from)?;
    report.ready_ms = u64::try_from(t0.elapsed().as_millis()).unwrap_or(u64::MAX);
    let m = &shared.metrics().snapshots;
    m.start_from.set(i64::try_from(from).unwrap_or(i64::MAX));
    m.start_replayed
        .set(i64::try_from(report.replayed).unwrap_or(i64::MAX));
    m.start_ready_ms
        .set(i64::try_from(report.ready_ms).unwrap_or(i64::MAX));
    tracing::info!(
        from_snapshot = ?report.from_snapshot,
        replayed = report.replayed,
        ready_ms = report.ready_ms,
        "rules state caught up with the log"
    );
    if let Ok(mut last) = snaps.last.lock() {
        *last = (from, Instant::now());
    }
    if let Ok(mut s) = snaps.start.lock() {
        *s = report.clone();
    }
    Ok(report)
}

/// The verifier of the snapshot at log size `n`, checked against the log
/// `reader` reads ([`SnapshotChecks`]); the reason it was refused otherwise.
pub(crate) fn load(shared: &Shared, reader: &LogReader, n: u64) -> Result<LedgerVerifier, String> {
    SnapshotChecks::of(shared).load(reader, n)
}

/// After a durable commit (on the sequencer, between groups): takes a
/// snapshot when one is due and none is being written, and writes it in
/// the background.
pub(crate) fn after_commit(shared: &Shared) {
    // Everything the rules applied is in the log now: out of memory. (A
    // read of the log that failed in the group left the state wrong: the
    // verifier counts as stale and is rebuilt before the next group.)
    if let Ok(mut v) = shared.verifier_mut() {
        v.history_committed();
    }
    let snaps = shared.snapshots();
    let c = &snaps.config;
    if !c.enabled || snaps.writing() || shared.verifier_is_stale() {
        return;
    }
    let Ok(size) = shared.store().read().map(|r| r.size()) else {
        return;
    };
    let Ok(last) = snaps.last.lock().map(|l| *l) else {
        return;
    };
    let grown = size.saturating_sub(last.0);
    let by_count = c.every_entries > 0 && grown >= c.every_entries;
    let by_time = c.interval_secs > 0
        && grown > 0
        && last.1.elapsed() >= Duration::from_secs(c.interval_secs);
    if !(by_count || by_time) {
        return;
    }
    let Some((meta, state)) = take(shared) else {
        return;
    };
    snaps.busy.store(true, Ordering::Release);
    let busy = snaps.busy.clone();
    let dir = snaps.dir.clone();
    let kept = c.kept;
    let metrics = shared.metrics().snapshots.clone();
    let spawned = std::thread::Builder::new()
        .name("snapshot-writer".into())
        .spawn(move || {
            if let Err(e) = write(&dir, meta, &state, kept, &metrics) {
                tracing::error!(error = %e, "writing a rules snapshot");
            }
            busy.store(false, Ordering::Release);
        });
    if spawned.is_err() {
        snaps.busy.store(false, Ordering::Release);
    }
}

/// Writes a snapshot now, on this thread, unless the newest one already
/// covers the log (at a graceful shutdown, so the next start replays
/// nothing; and for the restart bench). Returns the size it covers.
pub fn write_now(shared: &Shared) -> Result<Option<u64>, String> {
    let snaps = shared.snapshots();
    if !snaps.config.enabled {
        return Ok(None);
    }
    let size = shared.store().read().map_err(|e| e.to_string())?.size();
    let newest = snaps.dir.list().map_err(|e| e.to_string())?;
    if newest.first().is_some_and(|(n, _)| *n == size) {
        return Ok(Some(size));
    }
    let (meta, state) = take(shared).ok_or("the rules state does not match the log")?;
    let size = meta.size;
    write(
        &snaps.dir,
        meta,
        &state,
        snaps.config.kept,
        &shared.metrics().snapshots,
    )
    .map_err(|e| e.to_string())?;
    Ok(Some(size))
}

/// Encodes the state when the verifier folded exactly the log's entries,
/// with the header that binds it to the log; `None` otherwise.
fn take(shared: &Shared) -> Option<(SnapshotMeta, Vec<u8>)> {
    let snaps = shared.snapshots();
    let t = Instant::now();
    let reader = shared.store().read().ok()?;
    let size = reader.size();
    let state = match shared.verifier() {
        // Only when the verifier folded exactly the log's entries (a
        // logged entry that no longer verifies leaves it short: then
        // every start replays the whole log, and says so).
        Ok(v) if v.engine().history_len() == size => v.encode_state(),
        Ok(v) => {
            tracing::warn!(
                applied = v.engine().history_len(),
                size,
                "the rules folded fewer entries than the log holds; no snapshot"
            );
            if let Ok(mut l) = snaps.last.lock() {
                *l = (size, Instant::now());
            }
            return None;
        }
        Err(_) => return None,
    };
    shared
        .metrics()
        .snapshots
        .encode_seconds
        .observe(t.elapsed().as_secs_f64());
    let state = match state {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "encoding the rules state for a snapshot");
            return None;
        }
    };
    let last_received = match size.checked_sub(1) {
        Some(i) => reader.received_at(i).ok()?,
        None => armsledger_core::ids::Timestamp(0),
    };
    let meta = SnapshotMeta {
        identity: shared.log_vkey().to_owned(),
        size,
        root: armsledger_core::Hash(reader.root().0),
        last_received,
        state_digest: armsledger_core::Hash([0; 32]),
    };
    if let Ok(mut l) = snaps.last.lock() {
        *l = (size, Instant::now());
    }
    Some((meta, state))
}

/// Digests, writes, syncs and prunes one snapshot.
fn write(
    dir: &SnapshotDir,
    meta: SnapshotMeta,
    state: &[u8],
    kept: usize,
    metrics: &SnapshotMetrics,
) -> Result<(), armsledger_store::snapshot::SnapshotError> {
    let t = Instant::now();
    let size = meta.size;
    let meta = SnapshotMeta {
        state_digest: state_digest(state),
        ..meta
    };
    dir.write(&meta, state)?;
    dir.prune(kept)?;
    metrics.written.inc();
    metrics.size.set(i64::try_from(size).unwrap_or(i64::MAX));
    metrics.write_seconds.observe(t.elapsed().as_secs_f64());
    tracing::info!(size, bytes = state.len(), "rules snapshot written");
    Ok(())
}

/// For a point-in-time query at `at` (corrected view): the verifier of the
/// newest snapshot whose every entry was received at or before `at`, and
/// the log size it covers; `None` when no snapshot fits.
pub(crate) fn nearest_before(
    shared: &Shared,
    reader: &LogReader,
    at: armsledger_core::ids::Timestamp,
) -> Option<(LedgerVerifier, u64)> {
    if !shared.snapshots().config.enabled {
        return None;
    }
    for (n, path) in shared.snapshots().dir.list().ok()? {
        let fits = match n.checked_sub(1) {
            None => true,
            Some(i) => reader.received_at(i).is_ok_and(|t| t <= at),
        };
        if !fits || n > reader.size() {
            continue;
        }
        match load(shared, reader, n) {
            Ok(v) => return Some((v, n)),
            Err(reason) => {
                tracing::warn!(snapshot = %path.display(), %reason, "rules snapshot refused");
                shared.metrics().snapshots.refused.inc();
            }
        }
    }
    None
}

/// A store error as the history source reports it.
fn history_error(e: StoreError) -> HistoryError {
    HistoryError(e.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::ops::ControlFlow;

    use armsledger_core::testkit::Scenario;
    use armsledger_store::Accepted;

    use super::*;
    use crate::metrics::Metrics;
    use armsledger_core::Hash;

    /// A real log file holding the standard scenario, receipt times 1000+i.
    fn log(dir: &std::path::Path) -> (Arc<LiveStore>, Vec<Arc<SignedEntry>>) {
        let s = Scenario::standard();
        let store =
            LiveStore::open(dir.join("log.redb"), 0, &Metrics::default()).expect("the log opens");
        let batch: Vec<Accepted> = (1_000..)
            .zip(&s.log)
            .map(|(t, e)| Accepted {
                entry: e.clone(),
                received_at: Timestamp(t),
                findings: Vec::new(),
            })
            .collect();
        store.append_batch(&batch).unwrap();
        (Arc::new(store), s.log.clone())
    }

    fn read(h: &LogHistory, n: u64) -> Result<Vec<(Hash, Option<Timestamp>)>, HistoryError> {
        let mut seen = Vec::new();
        let r = h.stream(n, &mut |e, at| {
            seen.push((e.hash(), at));
            ControlFlow::Continue(())
        })?;
        assert!(r.is_continue());
        Ok(seen)
    }

    #[test]
    fn the_history_is_the_log_in_order_with_receipt_times_less_what_was_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let (store, entries) = log(dir.path());
        let n = entries.len() as u64;
        let h = LogHistory::new(store);
        let want: Vec<_> = (1_000..)
            .zip(&entries)
            .map(|(t, e)| (e.hash(), Some(Timestamp(t))))
            .collect();
        assert_eq!(read(&h, n).unwrap(), want);
        assert_eq!(read(&h, 2).unwrap(), want[..2].to_vec());
        // Broken off by the visitor: no further.
        let mut seen = 0;
        let r = h
            .stream(n, &mut |_, _| {
                seen += 1;
                ControlFlow::Break(())
            })
            .unwrap();
        assert!(r.is_break());
        assert_eq!(seen, 1);
        // An entry the rules did not apply is not part of their history.
        h.skip(1);
        let mut less = want.clone();
        less.remove(1);
        assert_eq!(read(&h, n - 1).unwrap(), less);
    }

    fn read_from(h: &LogHistory, from: u64, n: u64) -> Vec<(Hash, Option<Timestamp>)> {
        let mut seen = Vec::new();
        let r = h
            .stream_from(from, n, &mut |e, at| {
                seen.push((e.hash(), at));
                ControlFlow::Continue(())
            })
            .unwrap();
        assert!(r.is_continue());
        seen
    }

    #[test]
    fn a_refold_reads_from_a_position_on_and_places_entries_less_what_was_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let (store, entries) = log(dir.path());
        let n = entries.len() as u64;
        let h = LogHistory::new(store);
        let want = read(&h, n).unwrap();
        // Seeking: the entries from position 2 on, and none past `n`.
        assert_eq!(read_from(&h, 2, n), want[2..].to_vec());
        assert_eq!(read_from(&h, 2, 4), want[2..4].to_vec());
        assert_eq!(read_from(&h, n, n), Vec::new());
        assert_eq!(h.position(&entries[3].hash()).unwrap(), Some(3));
        assert_eq!(h.position(&Hash([7; 32])).unwrap(), None);
        // No snapshots kept: no earlier state.
        assert!(h.earlier_state(n, &mut |_, _| true).is_none());
        // An entry skipped: positions shift past it; it has none.
        h.skip(1);
        let mut less = want.clone();
        less.remove(1);
        assert_eq!(read_from(&h, 2, n - 1), less[2..].to_vec());
        assert_eq!(h.position(&entries[3].hash()).unwrap(), Some(2));
        assert_eq!(h.position(&entries[1].hash()).unwrap(), None);
        // A chain's first entry past a counter, placed the same way; none
        // past its last.
        let e3 = &entries[3];
        let chain = e3.header().chain.clone();
        let prev = entries[..3]
            .iter()
            .rev()
            .find(|e| e.header().chain == chain)
            .map_or(0, |e| e.counter());
        assert_eq!(h.first_after(&chain, prev).unwrap(), 2);
        let last = entries
            .iter()
            .rev()
            .find(|e| e.header().chain == chain)
            .unwrap()
            .counter();
        assert_eq!(h.first_after(&chain, last).unwrap(), u64::MAX);
        // Not applied yet: no position.
        h.applied_to(3);
        assert_eq!(h.position(&entries[3].hash()).unwrap(), None);
        assert_eq!(h.first_after(&chain, prev).unwrap(), u64::MAX);
    }

    #[test]
    fn a_history_longer_than_the_log_is_an_error_naming_both() {
        let dir = tempfile::tempdir().unwrap();
        let (store, entries) = log(dir.path());
        let n = entries.len() as u64;
        let h = LogHistory::new(store);
        assert!(read(&h, n).is_ok());
        let e = read(&h, n + 1).unwrap_err().to_string();
        assert!(
            e.contains(&format!("applied {} entries and the log holds {n}", n + 1)),
            "{e}"
        );
        h.skip(0);
        let e = read(&h, n).unwrap_err().to_string();
        assert!(e.contains("(1 of them skipped)"), "{e}");
    }
}
