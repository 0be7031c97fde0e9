//! The publisher's metrics, registered with the server's.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::Published;

/// What `/metrics` shows of the publisher (all zero when it is not configured).
#[derive(Clone, Debug, Default)]
pub struct PublishMetrics {
    /// Size of the checkpoint in the object store.
    pub published_size: Gauge,
    /// Entries signed into a checkpoint but not yet in the object store.
    pub lag_entries: Gauge,
    /// Seconds the object store's checkpoint has been behind the latest one
    /// while publishing fails (0 when caught up).
    pub lag_seconds: Gauge,
    /// Objects written.
    pub objects: Counter,
    /// Bytes written.
    pub bytes: Counter,
    /// Failed publishing steps (each retried).
    pub errors: Counter,
    /// 1 while the store holds something this log did not write.
    pub alarm: Gauge,
}

impl PublishMetrics {
    /// Adds them to `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "publish_published_size",
            "Size of the checkpoint in the object store",
            self.published_size.clone(),
        );
        registry.register(
            "publish_lag_entries",
            "Entries checkpointed but not yet in the object store",
            self.lag_entries.clone(),
        );
        registry.register(
            "publish_lag_seconds",
            "Seconds the object store has been behind while publishing fails",
            self.lag_seconds.clone(),
        );
        registry.register(
            "publish_objects",
            "Objects written to the object store",
            self.objects.clone(),
        );
        registry.register(
            "publish_bytes",
            "Bytes written to the object store",
            self.bytes.clone(),
        );
        registry.register(
            "publish_errors",
            "Failed publishing steps",
            self.errors.clone(),
        );
        registry.register(
            "publish_alarm",
            "1 while the object store holds what this log did not write",
            self.alarm.clone(),
        );
    }

    pub(crate) fn set_latest(&self, latest: u64, published: Option<u64>) {
        let gauge = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        if let Some(p) = published {
            self.published_size.set(gauge(p));
        }
        let p = published.unwrap_or(self.published_size.get().max(0).unsigned_abs());
        self.lag_entries.set(gauge(latest.saturating_sub(p)));
    }

    pub(crate) fn record(&self, done: &Published) {
        self.objects.inc_by(done.objects);
        self.bytes.inc_by(done.bytes);
    }
}
