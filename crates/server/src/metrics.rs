//! Prometheus metrics: ingest rate, queue depth, commit latency, tree size.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The server's metrics and their registry.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Entries written to the log.
    pub entries_ingested: Counter,
    /// Batches refused for an authenticity failure.
    pub entries_rejected: Counter,
    /// Compliance findings raised.
    pub findings_raised: Counter,
    /// Equivocation proofs recorded.
    pub equivocations: Counter,
    /// Batches waiting for the sequencer.
    pub queue_depth: Gauge,
    /// Entries in the log.
    pub tree_size: Gauge,
    /// Seconds from taking a group to its durable commit.
    pub commit_seconds: Histogram,
    /// Seconds to sign and persist a checkpoint.
    pub checkpoint_seconds: Histogram,
    /// 1 while a disk fault stops ingest, else 0.
    pub disk_fault: Gauge,
    /// Disk faults raised (each stops ingest until space or writes return).
    pub disk_faults: Counter,
    /// Times the log was closed and opened again after a disk fault.
    pub store_reopens: Counter,
    /// Entry signatures the signature stage checked (callers refused on
    /// their token never reach it).
    pub signatures_checked: Counter,
    /// Calls of the signature stage's batch verification (entries per
    /// call: `signatures_checked` over this).
    pub signature_calls: Counter,
    /// Exports and dossiers being written now.
    pub exports_running: Gauge,
    /// Exports given up because the reader stopped taking data or left.
    pub exports_abandoned: Counter,
    /// Point-in-time (`?at=`) replays running now.
    pub replays_running: Gauge,
    /// Entries replayed for point-in-time queries.
    pub replay_entries: Counter,
    /// Point-in-time replays stopped because their request ended or ran out of time.
    pub replays_cancelled: Counter,
    /// 1 while no new checkpoint has reached the witness quorum for
    /// `witness_quorum_alert_ms`, else 0.
    pub witness_quorum_alert: Gauge,
    /// Size of the newest checkpoint that met the witness quorum.
    pub witness_quorum_size: Gauge,
    /// Submissions to witnesses that failed (each retried with backoff).
    pub witness_failures: Counter,
    /// The object-storage publisher's.
    pub publish: crate::publish::PublishMetrics,
    /// The rules snapshots'.
    pub snapshots: crate::snapshots::SnapshotMetrics,
    /// Compaction and the log file's size.
    pub compaction: crate::compaction::CompactionMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("armsledger");
        let m = Metrics {
            entries_ingested: Counter::default(),
            entries_rejected: Counter::default(),
            findings_raised: Counter::default(),
            equivocations: Counter::default(),
            queue_depth: Gauge::default(),
            tree_size: Gauge::default(),
            commit_seconds: Histogram::new(exponential_buckets(0.0005, 2.0, 14)),
            checkpoint_seconds: Histogram::new(exponential_buckets(0.0005, 2.0, 14)),
            disk_fault: Gauge::default(),
            disk_faults: Counter::default(),
            store_reopens: Counter::default(),
            signatures_checked: Counter::default(),
            signature_calls: Counter::default(),
            exports_running: Gauge::default(),
            exports_abandoned: Counter::default(),
            replays_running: Gauge::default(),
            replay_entries: Counter::default(),
            replays_cancelled: Counter::default(),
            witness_quorum_alert: Gauge::default(),
            witness_quorum_size: Gauge::default(),
            witness_failures: Counter::default(),
            publish: crate::publish::PublishMetrics::default(),
            snapshots: crate::snapshots::SnapshotMetrics::default(),
            compaction: crate::compaction::CompactionMetrics::default(),
            registry: Registry::default(),
        };
        registry.register(
            "entries_ingested",
            "Entries written to the log",
            m.entries_ingested.clone(),
        );
        registry.register(
            "batches_rejected",
            "Batches refused for an authenticity failure",
            m.entries_rejected.clone(),
        );
        registry.register(
            "findings_raised",
            "Compliance findings raised",
            m.findings_raised.clone(),
        );
        registry.register(
            "equivocations",
            "Equivocation proofs recorded",
            m.equivocations.clone(),
        );
        registry.register(
            "queue_depth",
            "Batches waiting for the sequencer",
            m.queue_depth.clone(),
        );
        registry.register("tree_size", "Entries in the log", m.tree_size.clone());
        registry.register(
            "commit_seconds",
            "Group commit latency",
            m.commit_seconds.clone(),
        );
        registry.register(
            "checkpoint_seconds",
            "Checkpoint signing latency",
            m.checkpoint_seconds.clone(),
        );
        registry.register(
            "disk_fault",
            "1 while a full or failing disk stops ingest",
            m.disk_fault.clone(),
        );
        registry.register("disk_faults", "Disk faults raised", m.disk_faults.clone());
        registry.register(
            "store_reopens",
            "Log re-opened after a disk fault",
            m.store_reopens.clone(),
        );
        registry.register(
            "signatures_checked",
            "Entry signatures checked by the signature stage",
            m.signatures_checked.clone(),
        );
        registry.register(
            "signature_calls",
            "Batch verification calls of the signature stage",
            m.signature_calls.clone(),
        );
        registry.register(
            "exports_running",
            "Exports and dossiers being written",
            m.exports_running.clone(),
        );
        registry.register(
            "exports_abandoned",
            "Exports given up on a reader that stopped taking data",
            m.exports_abandoned.clone(),
        );
        registry.register(
            "replays_running",
            "Point-in-time replays running",
            m.replays_running.clone(),
        );
        registry.register(
            "replay_entries",
            "Entries replayed for point-in-time queries",
            m.replay_entries.clone(),
        );
        registry.register(
            "replays_cancelled",
            "Point-in-time replays stopped when their request ended",
            m.replays_cancelled.clone(),
        );
        registry.register(
            "witness_quorum_alert",
            "1 while no new checkpoint has reached the witness quorum in time",
            m.witness_quorum_alert.clone(),
        );
        registry.register(
            "witness_quorum_size",
            "Size of the newest checkpoint that met the witness quorum",
            m.witness_quorum_size.clone(),
        );
        registry.register(
            "witness_failures",
            "Submissions to witnesses that failed",
            m.witness_failures.clone(),
        );
        m.publish.register(&mut registry);
        m.snapshots.register(&mut registry);
        m.compaction.register(&mut registry);
        Metrics { registry, ..m }
    }
}

impl Metrics {
    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
