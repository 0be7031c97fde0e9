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
