//! Background compaction of the log file (docs/operations.md, "Disk and
//! compaction"): redb keeps the pages its copy-on-write commits free, and
//! grows the file ahead of use, until the file is compacted. The server
//! compacts on its own at quiet moments: when no entry was committed for
//! `quiet_ms` and the file grew by `min_growth_percent` since the last
//! compaction. Compaction needs the file to itself: it holds back new
//! reads and writes while it runs, and does nothing (and tries again at the
//! next check) while a read is open. `armsledger compact` does the same
//! offline.

use std::sync::Arc;
use std::time::{Duration, Instant};

use armsledger_store::Compaction;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::state::Shared;

/// The compaction and file-size metrics.
#[derive(Debug, Clone)]
pub struct CompactionMetrics {
    /// Compactions done.
    pub runs: Counter,
    /// Compactions put off because a read or write was in progress.
    pub busy: Counter,
    /// Seconds each compaction held the file.
    pub seconds: Histogram,
    /// Bytes returned to the file system by compactions.
    pub reclaimed_bytes: Counter,
    /// The log file's size in bytes.
    pub file_bytes: Gauge,
    /// The log file's size per entry, in bytes (what an operator's disk
    /// holds per entry, every index included).
    pub file_bytes_per_entry: Gauge,
}

impl Default for CompactionMetrics {
    fn default() -> Self {
        CompactionMetrics {
            runs: Counter::default(),
            busy: Counter::default(),
            seconds: Histogram::new(exponential_buckets(0.01, 2.0, 16)),
            reclaimed_bytes: Counter::default(),
            file_bytes: Gauge::default(),
            file_bytes_per_entry: Gauge::default(),
        }
    }
}

impl CompactionMetrics {
    /// Registers them (`armsledger_compaction_*`, `armsledger_log_file_*`).
    pub fn register(&self, registry: &mut Registry) {
        let r = registry.sub_registry_with_prefix("compaction");
        r.register("runs", "Compactions of the log file", self.runs.clone());
        r.register(
            "busy",
            "Compactions put off because a read or write was in progress",
            self.busy.clone(),
        );
        r.register(
            "seconds",
            "Seconds each compaction held the log file",
            self.seconds.clone(),
        );
        r.register(
            "reclaimed_bytes",
            "Bytes compactions returned to the file system",
            self.reclaimed_bytes.clone(),
        );
        let r = registry.sub_registry_with_prefix("log_file");
        r.register("bytes", "The log file's size", self.file_bytes.clone());
        r.register(
            "bytes_per_entry",
            "The log file's size per log entry, every index included",
            self.file_bytes_per_entry.clone(),
        );
    }
}

/// Reads the log file's size and sets the file gauges; returns the size.
pub fn refresh_file_gauges(shared: &Shared) -> Option<u64> {
    let len = std::fs::metadata(shared.store().path()).ok()?.len();
    let m = &shared.metrics().compaction;
    m.file_bytes.set(i64::try_from(len).unwrap_or(i64::MAX));
    if let Ok(size) = shared.store().read().map(|r| r.size())
        && size > 0
    {
        m.file_bytes_per_entry
            .set(i64::try_from(len / size).unwrap_or(i64::MAX));
    }
    Some(len)
}

/// Starts the compactor thread (when `[compaction]` is enabled).
pub fn spawn(shared: Arc<Shared>) {
    let c = shared.config().compaction.clone();
    refresh_file_gauges(&shared);
    if !c.enabled {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("compactor".into())
        .spawn(move || {
            let mut base = refresh_file_gauges(&shared).unwrap_or(0);
            loop {
                std::thread::sleep(Duration::from_millis(c.check_ms.max(10)));
                let Some(len) = refresh_file_gauges(&shared) else {
                    continue;
                };
                let grown = len > base
                    && u128::from(len) * 100
                        >= u128::from(base) * u128::from(100 + c.min_growth_percent);
                let idle_ms = shared.now().0.saturating_sub(shared.last_receipt().0);
                if !grown || idle_ms < c.quiet_ms || shared.store().fault().is_some() {
                    continue;
                }
                if let Some(after) = compact_once(&shared, len) {
                    base = after;
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "starting the compactor");
    }
}

/// One compaction of the live log; the file's size after it, if it ran.
pub fn compact_once(shared: &Shared, before: u64) -> Option<u64> {
    let m = &shared.metrics().compaction;
    let t = Instant::now();
    match shared.store().compact() {
        Ok(Compaction::Busy) => {
            m.busy.inc();
            None
        }
        Ok(done) => {
            let after = refresh_file_gauges(shared).unwrap_or(before);
            m.runs.inc();
            m.seconds.observe(t.elapsed().as_secs_f64());
            m.reclaimed_bytes.inc_by(before.saturating_sub(after));
            tracing::info!(
                before,
                after,
                compacted = done == Compaction::Done,
                ms = t.elapsed().as_millis() as u64,
                "log file compacted"
            );
            Some(after)
        }
        Err(e) => {
            tracing::error!(error = %e, "compacting the log file");
            None
        }
    }
}
