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
//! corrections, revocations and report replays look back through). A start
//! is ready without them: a thread reads them back from the log, and the
//! first act that needs them waits for it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use armsledger_core::LedgerVerifier;
use armsledger_core::rules::EarlierHistory;
use armsledger_core::snapshot::{HistoryItem, state_digest};
use armsledger_store::snapshot::{SnapshotDir, SnapshotMeta};
use armsledger_store::{LogReader, StoreError};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use rayon::prelude::*;
use serde::Serialize;

use crate::config::{SnapshotConfig, files};
use crate::state::Shared;

/// Rows decoded per parallel chunk when the history is loaded.
const CHUNK: u64 = 16_384;

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
    /// Milliseconds after the last start until the history a snapshot
    /// left out was read back from the log.
    pub history_loaded_ms: Gauge,
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
            history_loaded_ms: Gauge::default(),
        }
    }
}

impl SnapshotMetrics {
    /// Registers them (prefix `armsledger_snapshot_`).
    pub fn register(&self, registry: &mut Registry) {
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
        r.register(
            "history_loaded_ms",
            "Milliseconds after the last start until the history a snapshot left out was read back",
            self.history_loaded_ms.clone(),
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
    let mut earlier: Option<EarlierHistory> = None;
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
            match load_deferred(shared, &reader, n) {
                Ok((v, h)) => {
                    resumed = Some((v, n));
                    earlier = Some(h);
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
    if let Some(h) = earlier {
        fill_history(shared, from, h);
    }
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

/// The snapshot at log size `n` if it matches the log `reader` reads (its
/// identity, size and root); the reason it was refused otherwise.
fn matching(shared: &Shared, reader: &LogReader, n: u64) -> Result<Vec<u8>, String> {
    let size = reader.size();
    if n > size {
        return Err(format!(
            "covers {n} entries and the log holds {size}: it belongs to another (or a rolled-back) log"
        ));
    }
    let snap = shared.snapshots().dir.read(n).map_err(|e| e.to_string())?;
    if snap.meta.identity != shared.log_vkey() {
        return Err(format!(
            "made for the log {:?}; this log is {:?}",
            snap.meta.identity,
            shared.log_vkey()
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

/// The verifier of the snapshot at log size `n`, checked against the log
/// `reader` reads, with its history read back now; the reason it was
/// refused otherwise.
pub(crate) fn load(shared: &Shared, reader: &LogReader, n: u64) -> Result<LedgerVerifier, String> {
    let state = matching(shared, reader, n)?;
    let history = load_history(reader, n).map_err(|e| e.to_string())?;
    LedgerVerifier::decode_state(
        &state,
        shared.regulator_key(),
        shared.manufacturer_roots(),
        history,
    )
    .map_err(|e| format!("{}: {e}", shared.snapshots().dir.file_of(n).display()))
}

/// [`load`] with the history left to be read back later (into the
/// returned cell): what a start does, so that it is ready without reading
/// the whole log.
fn load_deferred(
    shared: &Shared,
    reader: &LogReader,
    n: u64,
) -> Result<(LedgerVerifier, EarlierHistory), String> {
    let state = matching(shared, reader, n)?;
    let earlier = EarlierHistory::default();
    let (v, _) = LedgerVerifier::decode_state_deferred(
        &state,
        shared.regulator_key(),
        shared.manufacturer_roots(),
        earlier.clone(),
    )
    .map_err(|e| format!("{}: {e}", shared.snapshots().dir.file_of(n).display()))?;
    if let Some(i) = n.checked_sub(1) {
        shared.note_received(reader.received_at(i).map_err(|e| e.to_string())?);
    }
    Ok((v, earlier))
}

/// Reads entries `0..n` back into `earlier` on a thread of its own,
/// retrying after an error (the entries are durable: a read that fails is
/// the disk's, and whoever waits for the history waits for the disk).
fn fill_history(shared: &Arc<Shared>, n: u64, earlier: EarlierHistory) {
    let s = shared.clone();
    let spawned = std::thread::Builder::new()
        .name("history-loader".into())
        .spawn(move || {
            let t = Instant::now();
            loop {
                match s.store().read().and_then(|r| load_history(&r, n)) {
                    Ok(h) => {
                        let _ = earlier.set(h);
                        let ms = u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX);
                        s.metrics()
                            .snapshots
                            .history_loaded_ms
                            .set(i64::try_from(ms).unwrap_or(i64::MAX));
                        tracing::info!(entries = n, ms, "history read back from the log");
                        return;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "reading the history back; retrying");
                        std::thread::sleep(Duration::from_secs(1));
                    }
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "starting the history loader");
    }
}

/// The log's entries `0..n` with their receipt times (the history a
/// decoded state takes back), decoded on the rayon pool a chunk at a time.
pub(crate) fn load_history(reader: &LogReader, n: u64) -> Result<Vec<HistoryItem>, StoreError> {
    let mut out = Vec::with_capacity(usize::try_from(n.min(1 << 24)).unwrap_or(0));
    let mut from = 0;
    while from < n {
        let to = n.min(from.saturating_add(CHUNK));
        let rows = reader.rows(from, to)?;
        let decoded: Result<Vec<HistoryItem>, StoreError> = rows
            .par_iter()
            .map(|(i, row, at)| {
                armsledger_store::decode_row(*i, row).map(|e| (Arc::new(e), Some(*at)))
            })
            .collect();
        out.extend(decoded?);
        from = to;
    }
    Ok(out)
}

/// After a durable commit (on the sequencer, between groups): takes a
/// snapshot when one is due and none is being written, and writes it in
/// the background.
pub(crate) fn after_commit(shared: &Shared) {
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
