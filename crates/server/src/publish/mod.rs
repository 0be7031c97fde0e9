//! Publishing the log to S3-compatible object storage (C2SP tlog-tiles
//! layout), so reads scale past one machine and the log outlives it.
//!
//! ```text
//! <public bucket>/<prefix>/checkpoint                 signed note, written last
//! <public bucket>/<prefix>/tile/<L>/<N>[.p/<W>]        hash tiles
//! <private bucket>/<private prefix>/tile/entries/<N>[.p/<W>]   entry bundles (serials)
//! ```
//!
//! redb stays the source of truth. The publisher follows the checkpoints the
//! server signs, in a task of its own: a store that is down never holds up
//! ingest, and the publisher catches up when it returns. Its lag is in
//! `/metrics` and `/healthz`. See docs/operations.md.

mod config;
mod metrics;
mod publisher;

use std::sync::Arc;
use std::time::{Duration, Instant};

pub use config::{Location, PublishConfig};
pub use metrics::PublishMetrics;
pub use publisher::{CHECKPOINT, Published, Publisher, TileSource};

use crate::state::Shared;

/// Why a publishing step failed. The `alarm` ones need a person: the store
/// holds something this log did not write.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// The `[publish]` configuration cannot be used.
    #[error("publish configuration: {0}")]
    Config(String),
    /// The store refused or could not be reached (retried).
    #[error("object store, {path}: {reason}")]
    Store {
        /// The object.
        path: String,
        /// What the store said.
        reason: String,
    },
    /// The log could not be read.
    #[error("reading the log: {0}")]
    Source(String),
    /// A full tile in the store has other bytes than the log's: tiles are
    /// immutable, so someone else wrote it.
    #[error(
        "ALARM: {path} in the store ({stored} bytes) differs from the log's tile ({ours} bytes); \
         full tiles never change: find out who wrote it before publishing again"
    )]
    ImmutableTileDiffers {
        /// The object.
        path: String,
        /// Length of the stored object.
        stored: usize,
        /// Length of the log's tile.
        ours: usize,
    },
    /// The store's checkpoint is larger than the log: the log was restored
    /// from an older copy, or the store belongs to another log.
    #[error(
        "ALARM: {path} in the store is at size {store}, the log only at {local}; \
         publishing would roll it back: restore the log's missing entries first (docs/operations.md)"
    )]
    StoreAhead {
        /// The object.
        path: String,
        /// Size in the store.
        store: u64,
        /// Size of the log.
        local: u64,
    },
    /// The store's checkpoint is not one of this log's.
    #[error("ALARM: {path} in the store is not this log's checkpoint: {reason}")]
    ForeignCheckpoint {
        /// The object.
        path: String,
        /// Why.
        reason: String,
    },
}

impl PublishError {
    /// Whether a person must look: retrying will not help.
    pub fn is_alarm(&self) -> bool {
        matches!(
            self,
            PublishError::ImmutableTileDiffers { .. }
                | PublishError::StoreAhead { .. }
                | PublishError::ForeignCheckpoint { .. }
        )
    }
}

/// Reads tiles through the server's live store, a fresh read transaction
/// per tile (the store may be re-opened after a disk fault).
#[derive(Debug)]
pub struct LiveSource(Arc<Shared>);

impl LiveSource {
    /// The tiles of `shared`'s log.
    pub fn new(shared: Arc<Shared>) -> Self {
        LiveSource(shared)
    }
}

impl TileSource for LiveSource {
    fn tile(&self, tile: &armsledger_log::Tile) -> Result<Vec<u8>, String> {
        let r = self.0.store().read().map_err(|e| e.to_string())?;
        r.tile(tile).map_err(|e| e.to_string())
    }
    fn root_at(&self, size: u64) -> Result<armsledger_log::Hash, String> {
        let r = self.0.store().read().map_err(|e| e.to_string())?;
        r.root_at(size).map_err(|e| e.to_string())
    }
}

/// Builds the publisher from the server's `[publish]` section, with
/// credentials from the process environment. `None` when not configured.
pub fn from_config(shared: &Shared) -> Result<Option<Publisher>, PublishError> {
    let Some(c) = &shared.config().publish else {
        return Ok(None);
    };
    let (public, private) = c.locations(|k| std::env::var(k).ok())?;
    let verifier = armsledger_log::LogVerifier::from_vkey(shared.log_vkey())
        .map_err(|e| PublishError::Config(format!("the log's verifier key: {e}")))?;
    Ok(Some(Publisher::new(
        public,
        private,
        verifier,
        c.concurrency,
    )))
}

/// Runs `publisher` for as long as the server runs: each new checkpoint is
/// published with its tiles; failures are retried with a growing pause (up
/// to `retry_max_secs`), and counted, and an alarm sets `publish_alarm`.
pub fn spawn(shared: Arc<Shared>, publisher: Publisher) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(shared, publisher))
}

async fn run(shared: Arc<Shared>, mut publisher: Publisher) {
    let (retry_max, interval) = shared.config().publish.as_ref().map_or(
        (Duration::from_secs(30), Duration::from_secs(10)),
        |c| {
            (
                Duration::from_secs(c.retry_max_secs.max(1)),
                Duration::from_millis(c.interval_ms),
            )
        },
    );
    let m = shared.metrics().publish.clone();
    let source = Arc::new(LiveSource(shared.clone()));
    let mut checkpoints = shared.subscribe_checkpoints();
    let mut pause = Duration::from_millis(250);
    let mut behind_since: Option<Instant> = None;
    loop {
        let latest = checkpoints.borrow_and_update().clone();
        let Some(latest) = latest else {
            if checkpoints.changed().await.is_err() {
                return;
            }
            continue;
        };
        m.set_latest(latest.size, publisher.published());
        if publisher.published() != Some(latest.size) && behind_since.is_none() {
            behind_since = Some(Instant::now());
        }
        match publisher
            .publish(source.clone(), latest.size, &latest.note)
            .await
        {
            Ok(done) => {
                m.record(&done);
                m.set_latest(latest.size, Some(done.to));
                m.alarm.set(0);
                m.lag_seconds.set(0);
                behind_since = None;
                pause = Duration::from_millis(250);
                if done.objects > 0 {
                    tracing::info!(
                        from = done.from,
                        to = done.to,
                        objects = done.objects,
                        bytes = done.bytes,
                        "published to object storage"
                    );
                }
                tokio::time::sleep(interval).await;
                if !checkpoints.has_changed().unwrap_or(false)
                    && checkpoints.changed().await.is_err()
                {
                    return;
                }
            }
            Err(e) => {
                m.errors.inc();
                if e.is_alarm() {
                    m.alarm.set(1);
                    tracing::error!(error = %e, "publisher stopped on an alarm");
                } else {
                    tracing::warn!(error = %e, retry_in_ms = pause.as_millis() as u64, "publishing failed; retrying");
                }
                // The store may have changed while away: read its checkpoint again.
                publisher.forget();
                if let Some(t) = behind_since {
                    m.lag_seconds
                        .set(i64::try_from(t.elapsed().as_secs()).unwrap_or(i64::MAX));
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(retry_max);
            }
        }
    }
}

/// `alarm`, `behind` (for longer than `alert_lag_secs`) or `ok`.
fn state(c: &PublishConfig, m: &metrics::PublishMetrics) -> &'static str {
    let lag = m.lag_seconds.get();
    if m.alarm.get() != 0 {
        "alarm"
    } else if lag > 0 && lag.unsigned_abs() >= c.alert_lag_secs {
        "behind"
    } else {
        "ok"
    }
}

/// The publisher's part of `/healthz`: `None` when not configured; `state`
/// is `alarm`, `behind` (longer than `alert_lag_secs`) or `ok`.
pub fn health(shared: &Shared) -> Option<serde_json::Value> {
    let c = shared.config().publish.as_ref()?;
    let m = &shared.metrics().publish;
    let lag = m.lag_seconds.get();
    let state = state(c, m);
    Some(serde_json::json!({
        "state": state,
        "published_size": m.published_size.get(),
        "lag_entries": m.lag_entries.get(),
        "lag_seconds": lag,
        "errors": m.errors.get(),
    }))
}

/// The publisher's alert for `/v1/alerts` (rule `publish-behind`, for
/// readers of every site): while [`health`] says `alarm` or `behind`;
/// `None` while it is `ok` or no publisher is configured.
pub fn alert(shared: &Shared) -> Option<armsledger_core::rules::Alert> {
    let c = shared.config().publish.as_ref()?;
    let m = &shared.metrics().publish;
    let (lag, size, behind) = (
        m.lag_seconds.get(),
        m.published_size.get(),
        m.lag_entries.get(),
    );
    let detail = if state(c, m) == "alarm" {
        format!(
            "object-storage publisher stopped on an alarm: the store holds what this log did not \
             write (published size {size}, {behind} entries behind; see the server log and \
             docs/operations.md)"
        )
    } else if state(c, m) == "behind" {
        format!(
            "object-storage publisher behind for {lag} s (over publish.alert_lag_secs = {}): \
             published size {size}, {behind} entries behind, {} failed steps",
            c.alert_lag_secs,
            m.errors.get()
        )
    } else {
        return None;
    };
    Some(armsledger_core::rules::Alert {
        rule: armsledger_core::rules::RuleId::PublishBehind,
        site: None,
        company: None,
        entry: None,
        at: shared.now(),
        detail,
    })
}
