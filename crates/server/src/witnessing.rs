//! The server as a witness client (C2SP tlog-witness): every checkpoint
//! offered to witnesses (the stable one) goes to each witness of the
//! configured policy with a consistency proof from that witness's size; the
//! cosignatures that come back are appended to the note, and the newest
//! checkpoint whose cosigners meet the policy's quorum is served.
//!
//! ```text
//! stable checkpoint ──▶ one task per witness ── add-checkpoint (old = witness's size, proof) ──▶ witness
//!                             │ 200: cosignature lines          409: prove from its size, again
//!                             │ down: retried with backoff      422: refused (split view or bad proof)
//!                             ▼
//!                       Board: recent checkpoints and their cosignatures, the newest quorum one,
//!                              the quorum alert (no new checkpoint reached quorum for witness_quorum_alert_ms)
//! ```
//!
//! Ingest never waits for a witness: the tasks only read the log. The
//! cosignatures are held in memory; after a restart the tasks gather them
//! again (a witness cosigns the checkpoint it already holds again).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use armsledger_log::{MAX_POLICY_BYTES, Policy, PolicyWitness};
use armsledger_witness::WitnessError;
use armsledger_witness::client::{Backoff, HttpTransport, WitnessClient};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::state::{Published, Shared};

/// How many recent offered checkpoints keep their cosignatures.
const RECENT: usize = 16;

/// Why the witness policy file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyFileError {
    /// The file could not be read.
    #[error("cannot read the policy file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is larger than any policy may be; nothing was read.
    #[error("the policy file {path} is {len} bytes, over the {max}-byte limit")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its length.
        len: u64,
        /// The limit.
        max: usize,
    },
    /// The file is not a C2SP tlog-policy (the line and reason are in `source`).
    #[error("the policy file {path} is not a C2SP tlog-policy: {source}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where.
        source: armsledger_log::LogError,
    },
}

/// Reads and parses a policy file (C2SP tlog-policy), its size checked
/// before it is read. The server's `witness_policy` and the clients'
/// `--policy` both read it here.
pub fn load_policy(path: &Path) -> Result<Policy, PolicyFileError> {
    let read = |source| PolicyFileError::Read {
        path: path.to_owned(),
        source,
    };
    let len = std::fs::metadata(path).map_err(read)?.len();
    if len > MAX_POLICY_BYTES as u64 {
        return Err(PolicyFileError::TooLarge {
            path: path.to_owned(),
            len,
            max: MAX_POLICY_BYTES,
        });
    }
    let text = std::fs::read_to_string(path).map_err(read)?;
    Policy::parse(&text).map_err(|source| PolicyFileError::Malformed {
        path: path.to_owned(),
        source,
    })
}

/// A checkpoint offered to witnesses, and the cosignature lines each gave.
#[derive(Debug)]
struct Offered {
    note: String,
    /// Policy witness name → its cosignature lines over this checkpoint.
    lines: BTreeMap<String, String>,
}

impl Offered {
    fn cosigned_note(&self) -> String {
        let mut note = self.note.clone();
        for l in self.lines.values() {
            note.push_str(l);
        }
        note
    }
}

/// One witness as the server sees it.
#[derive(Clone, Debug, Default, Serialize, utoipa::ToSchema)]
pub struct WitnessState {
    /// The witness's name in the policy.
    pub name: String,
    /// Its cosignature/v1 verifier key.
    pub vkey: String,
    /// Its submission prefix (`None`: the policy gives no URL, nothing is sent).
    pub url: Option<String>,
    /// The size of the last checkpoint it cosigned for this server.
    pub cosigned_size: Option<u64>,
    /// Failed submissions in a row.
    pub failures: u32,
    /// Why the last submission failed, if it did.
    pub last_error: Option<String>,
}

/// What `GET /v1/witnesses` answers.
#[derive(Clone, Debug, Default, Serialize, utoipa::ToSchema)]
pub struct WitnessingStatus {
    /// Whether a witness policy is configured.
    pub configured: bool,
    /// The policy's quorum (`None`: no policy, or `quorum none`).
    pub quorum: Option<String>,
    /// The newest signed checkpoint's size.
    pub latest_size: Option<u64>,
    /// The newest checkpoint that met the quorum.
    pub quorum_size: Option<u64>,
    /// Milliseconds the log has had a checkpoint newer than the newest
    /// quorum one (`None`: it has not).
    pub pending_ms: Option<u64>,
    /// True while no new checkpoint has reached the quorum for `alert_after_ms`.
    pub alert: bool,
    /// The configured `witness_quorum_alert_ms`.
    pub alert_after_ms: u64,
    /// Each witness of the policy.
    pub witnesses: Vec<WitnessState>,
}

#[derive(Debug, Default)]
struct Inner {
    recent: BTreeMap<u64, Offered>,
    quorum: Option<Published>,
    witnesses: Vec<WitnessState>,
    latest_size: Option<u64>,
    pending_since: Option<Instant>,
    alert: bool,
}

/// The witnessing state the handlers and the tasks share.
#[derive(Debug)]
pub struct Board {
    policy: Option<Policy>,
    alert_after: Duration,
    inner: Mutex<Inner>,
}

impl Board {
    /// A board for `policy` (`None`: no witnessing).
    pub fn new(policy: Option<Policy>, alert_after: Duration) -> Self {
        let witnesses = policy
            .as_ref()
            .map(|p| {
                p.witnesses()
                    .iter()
                    .map(|w| WitnessState {
                        name: w.name().to_owned(),
                        vkey: w.verifier().to_string(),
                        url: w.url().map(str::to_owned),
                        ..WitnessState::default()
                    })
                    .collect()
            })
            .unwrap_or_default();
        Board {
            policy,
            alert_after,
            inner: Mutex::new(Inner {
                witnesses,
                ..Inner::default()
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The policy, if one is configured.
    pub fn policy(&self) -> Option<&Policy> {
        self.policy.as_ref()
    }

    /// The newest checkpoint that met the policy's quorum, with the
    /// cosignatures gathered for it.
    pub fn quorum_checkpoint(&self) -> Option<Published> {
        self.lock().quorum.clone()
    }

    /// The cosignature lines gathered for the checkpoint of `size` whose
    /// note is `note` (empty if none).
    pub fn cosignatures_for(&self, size: u64, note: &str) -> String {
        let g = self.lock();
        match g.recent.get(&size) {
            Some(o) if o.note == note => o.lines.values().map(String::as_str).collect(),
            _ => String::new(),
        }
    }

    /// The status `GET /v1/witnesses` answers.
    pub fn status(&self) -> WitnessingStatus {
        let g = self.lock();
        WitnessingStatus {
            configured: self.policy.is_some(),
            quorum: self
                .policy
                .as_ref()
                .and_then(|p| p.quorum_name())
                .map(str::to_owned),
            latest_size: g.latest_size,
            quorum_size: g.quorum.as_ref().map(|p| p.size),
            pending_ms: g
                .pending_since
                .map(|t| u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)),
            alert: g.alert,
            alert_after_ms: u64::try_from(self.alert_after.as_millis()).unwrap_or(u64::MAX),
            witnesses: g.witnesses.clone(),
        }
    }

    /// Records witness `name`'s cosignature `lines` over the checkpoint
    /// `offered` at `now`, and moves the quorum checkpoint if the quorum is
    /// now met (a larger quorum checkpoint restarts the alert's clock).
    fn cosigned(
        &self,
        name: &str,
        offered: &Published,
        lines: String,
        metrics: &Metrics,
        now: Instant,
    ) {
        let Some(policy) = &self.policy else {
            return;
        };
        let mut guard = self.lock();
        let g = &mut *guard;
        if let Some(w) = g.witnesses.iter_mut().find(|w| w.name == name) {
            w.cosigned_size = Some(offered.size);
            w.failures = 0;
            w.last_error = None;
        }
        let entry = g.recent.entry(offered.size).or_insert_with(|| Offered {
            note: offered.note.clone(),
            lines: BTreeMap::new(),
        });
        if entry.note != offered.note {
            // Another note at this size (a re-signed checkpoint after a
            // restart has another signature, same body): start over.
            *entry = Offered {
                note: offered.note.clone(),
                lines: BTreeMap::new(),
            };
        }
        entry.lines.insert(name.to_owned(), lines);
        let names: Vec<&str> = entry.lines.keys().map(String::as_str).collect();
        if policy.quorum_met(&names) && g.quorum.as_ref().is_none_or(|q| q.size <= offered.size) {
            let note = entry.cosigned_note();
            if g.quorum.as_ref().is_none_or(|q| q.size < offered.size) {
                // A new checkpoint reached the quorum: the clock restarts.
                g.pending_since = None;
            }
            g.quorum = Some(Published {
                size: offered.size,
                note,
            });
            metrics
                .witness_quorum_size
                .set(i64::try_from(offered.size).unwrap_or(i64::MAX));
        }
        while g.recent.len() > RECENT {
            g.recent.pop_first();
        }
        drop(guard);
        self.refresh(None, metrics, now);
    }

    /// Records a failed submission to witness `name`.
    fn failed(&self, name: &str, error: &WitnessError, metrics: &Metrics) -> u32 {
        metrics.witness_failures.inc();
        let mut g = self.lock();
        let Some(w) = g.witnesses.iter_mut().find(|w| w.name == name) else {
            return 1;
        };
        w.failures = w.failures.saturating_add(1);
        w.last_error = Some(error.to_string());
        w.failures
    }

    /// Re-evaluates the quorum alert at `now`, given the newest checkpoint's
    /// size if known: it stands once the log has had a checkpoint newer
    /// than the newest quorum one for `alert_after`, counted from when that
    /// became so or from the last time the quorum moved, whichever is later.
    fn refresh(&self, latest_size: Option<u64>, metrics: &Metrics, now: Instant) {
        if self.policy.is_none() {
            return;
        }
        let mut g = self.lock();
        if latest_size.is_some() {
            g.latest_size = latest_size;
        }
        let quorum_size = g.quorum.as_ref().map(|q| q.size);
        let behind = match (g.latest_size, quorum_size) {
            (Some(l), Some(q)) => l > q,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if !behind {
            g.pending_since = None;
        } else if g.pending_since.is_none() {
            g.pending_since = Some(now);
        }
        let alert = g
            .pending_since
            .is_some_and(|t| now.saturating_duration_since(t) >= self.alert_after);
        if alert != g.alert {
            if alert {
                tracing::warn!(
                    quorum_size = ?quorum_size,
                    latest_size = ?g.latest_size,
                    "witness quorum alert: no new checkpoint has reached the policy's quorum for {:?}",
                    self.alert_after
                );
            } else {
                tracing::info!(?quorum_size, "witness quorum alert cleared");
            }
        }
        g.alert = alert;
        metrics.witness_quorum_alert.set(i64::from(alert));
    }
}

/// Starts one task per policy witness with a URL, and the alert ticker.
/// Does nothing without a policy.
pub fn spawn(shared: Arc<Shared>) {
    let Some(policy) = shared.witnessing().policy().cloned() else {
        return;
    };
    for w in policy.witnesses() {
        if w.url().is_none() {
            tracing::warn!(
                witness = w.name(),
                "the witness policy gives no URL for this witness: its cosignatures are not gathered"
            );
            continue;
        }
        tokio::spawn(submit_forever(shared.clone(), w.clone()));
    }
    let tick = Duration::from_millis((shared.config().witness_quorum_alert_ms / 4).clamp(50, 1000));
    tokio::spawn(async move {
        let mut rx = shared.subscribe_checkpoints();
        loop {
            let latest = shared.latest_checkpoint().map(|p| p.size);
            shared
                .witnessing()
                .refresh(latest, shared.metrics(), Instant::now());
            let _ = tokio::time::timeout(tick, rx.changed()).await;
        }
    });
}

/// Offers every new stable checkpoint to one witness, for ever.
async fn submit_forever(shared: Arc<Shared>, witness: PolicyWitness) {
    let url = witness.url().unwrap_or_default().to_owned();
    let name = witness.name().to_owned();
    let retry_max = Duration::from_millis(shared.config().witness_retry_max_ms.max(10));
    let outer = Backoff {
        attempts: u32::MAX,
        first: Duration::from_millis(100).min(retry_max),
        max: retry_max,
    };
    let timeout = Duration::from_millis(shared.config().witness_timeout_ms.max(10));
    let client = Arc::new(
        WitnessClient::with_transport(
            &url,
            witness.verifier().clone(),
            HttpTransport::new(timeout),
        )
        .backoff(Backoff {
            attempts: 2,
            first: Duration::from_millis(100).min(retry_max),
            max: retry_max,
        }),
    );
    let mut rx = shared.subscribe_checkpoints();
    let mut known_size = 0u64;
    let mut done: Option<Published> = None;
    loop {
        let target = shared.stable_checkpoint();
        let fresh = match (&target, &done) {
            (Some(t), Some(d)) => t.size > d.size || (t.size == d.size && t.note != d.note),
            (Some(_), None) => true,
            (None, _) => false,
        };
        let Some(target) = target.filter(|_| fresh) else {
            // Nothing new: wait for the log to move (the stable checkpoint
            // follows on its own cadence, so look again now and then).
            let _ = tokio::time::timeout(Duration::from_millis(500), rx.changed()).await;
            continue;
        };
        let (s, c, t) = (shared.clone(), client.clone(), target.clone());
        let result = tokio::task::spawn_blocking(move || {
            let mut prove = |old: u64, new: u64| -> Result<Vec<armsledger_log::Hash>, String> {
                s.store()
                    .read()
                    .and_then(|r| r.consistency_proof(old, new))
                    .map_err(|e| e.to_string())
            };
            let mut sleep = std::thread::sleep;
            c.add_checkpoint(&t.note, known_size, &mut prove, &mut sleep)
        })
        .await;
        match result {
            Ok(Ok(cosigned)) => {
                known_size = cosigned.witness_size;
                tracing::debug!(witness = %name, size = target.size, "cosigned");
                shared.witnessing().cosigned(
                    &name,
                    &target,
                    cosigned.lines(),
                    shared.metrics(),
                    Instant::now(),
                );
                done = Some(target);
            }
            Ok(Err(e)) => {
                match &e {
                    WitnessError::WitnessSplitView { .. }
                    | WitnessError::WitnessProofRefused { .. }
                    | WitnessError::WitnessAhead { .. } => {
                        tracing::error!(witness = %name, size = target.size, error = %e,
                            "the witness holds a history this log does not extend");
                        // Learn its size again: it may have moved.
                        known_size = 0;
                    }
                    _ => {
                        tracing::warn!(witness = %name, size = target.size, error = %e, "witness submission failed")
                    }
                }
                let n = shared.witnessing().failed(&name, &e, shared.metrics());
                tokio::time::sleep(outer.wait(n)).await;
            }
            Err(e) => {
                tracing::error!(witness = %name, error = %e, "witness submission task failed");
                tokio::time::sleep(retry_max).await;
            }
        }
    }
}

/// The newest checkpoint that met the witness policy's quorum, with its cosignatures.
#[utoipa::path(get, path = "/v1/checkpoint/cosigned", tag = "log",
    responses((status = 200, description = "signed note with the witnesses' cosignature lines", content_type = "text/plain"),
        (status = 404, description = "no witness policy, or no checkpoint has met its quorum yet")))]
pub async fn cosigned_checkpoint(State(shared): State<Arc<Shared>>) -> Result<Response, ApiError> {
    if shared.witnessing().policy().is_none() {
        return Err(ApiError::NotFound(
            "this server has no witness policy (witness_policy in its configuration)".into(),
        ));
    }
    let Some(p) = shared.witnessing().quorum_checkpoint() else {
        return Err(ApiError::NotFound(
            "no checkpoint has met the witness policy's quorum yet (see GET /v1/witnesses)".into(),
        ));
    };
    let mut r = p.note.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, max-age=10"),
    );
    Ok(r)
}

/// The witnesses, what each cosigned, the newest quorum checkpoint and the quorum alert.
#[utoipa::path(get, path = "/v1/witnesses", tag = "log",
    responses((status = 200, body = WitnessingStatus)))]
pub async fn status(State(shared): State<Arc<Shared>>) -> Json<WitnessingStatus> {
    Json(shared.witnessing().status())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(text: &str) -> Policy {
        Policy::parse(text).unwrap()
    }

    #[test]
    fn the_quorum_alert_rises_while_a_newer_checkpoint_lacks_the_quorum_and_clears_when_one_meets_it()
     {
        let key = armsledger_log::CosignerKey::from_seed("witness.one", &[7; 32]).unwrap();
        let vkey = key.verifier().to_string();
        let log = armsledger_log::LogKey::from_seed("log.example", &[1; 32]).unwrap();
        let p = policy(&format!(
            "log {}\nwitness one {vkey} http://127.0.0.1:1\nquorum one\n",
            log.verifier()
        ));
        let metrics = Metrics::default();
        let t0 = Instant::now();
        let board = Board::new(Some(p), Duration::ZERO);
        // Quiet: nothing signed yet.
        board.refresh(None, &metrics, t0);
        assert!(!board.status().alert);
        // Firing: a checkpoint and no quorum.
        board.refresh(Some(3), &metrics, t0);
        assert!(board.status().alert);
        assert_eq!(board.quorum_checkpoint().map(|q| q.size), None);
        // The witness cosigns it: quorum met, alert cleared.
        let signed = log
            .sign_checkpoint(3, &armsledger_log::Hash::from([9; 32]))
            .unwrap();
        let offered = Published {
            size: 3,
            note: signed.note().to_owned(),
        };
        let cos = key
            .cosign(signed.checkpoint().body().as_str(), 1_750_000_000)
            .unwrap();
        board.cosigned("one", &offered, cos.to_line(), &metrics, t0);
        let st = board.status();
        assert!(!st.alert);
        assert_eq!(st.quorum_size, Some(3));
        let q = board.quorum_checkpoint().unwrap();
        assert!(q.note.starts_with(signed.note()) && q.note.ends_with(&cos.to_line()));
        assert_eq!(board.cosignatures_for(3, signed.note()), cos.to_line());
        assert_eq!(board.cosignatures_for(3, "another note"), "");
        // The log grows past it: the alert rises again.
        board.refresh(Some(4), &metrics, t0);
        assert!(board.status().alert);
    }

    #[test]
    fn a_two_of_two_quorum_waits_for_both() {
        let k1 = armsledger_log::CosignerKey::from_seed("w1.example", &[1; 32]).unwrap();
        let k2 = armsledger_log::CosignerKey::from_seed("w2.example", &[2; 32]).unwrap();
        let log = armsledger_log::LogKey::from_seed("log.example", &[1; 32]).unwrap();
        let p = policy(&format!(
            "log {}\nwitness a {}\nwitness b {}\ngroup both all a b\nquorum both\n",
            log.verifier(),
            k1.verifier(),
            k2.verifier()
        ));
        let metrics = Metrics::default();
        let t0 = Instant::now();
        let board = Board::new(Some(p), Duration::from_secs(3600));
        let signed = log
            .sign_checkpoint(5, &armsledger_log::Hash::from([3; 32]))
            .unwrap();
        let offered = Published {
            size: 5,
            note: signed.note().to_owned(),
        };
        let body = signed.checkpoint().body();
        board.cosigned(
            "a",
            &offered,
            k1.cosign(&body, 1).unwrap().to_line(),
            &metrics,
            t0,
        );
        assert!(board.quorum_checkpoint().is_none());
        // Not timed out yet: no alert though the quorum is not met.
        board.refresh(Some(5), &metrics, t0);
        assert!(!board.status().alert);
        board.cosigned(
            "b",
            &offered,
            k2.cosign(&body, 2).unwrap().to_line(),
            &metrics,
            t0,
        );
        let q = board.quorum_checkpoint().unwrap();
        let checked = board.policy().unwrap().verify(q.note.as_bytes()).unwrap();
        assert_eq!(checked.cosigned().len(), 2);
    }

    /// Under steady ingest the newest checkpoint is always ahead of the
    /// quorum one (witnesses get the slower stable checkpoint): the alert
    /// must count from the last time the quorum moved, not from the first
    /// time the log was ahead.
    #[test]
    fn the_alert_clock_restarts_each_time_the_quorum_moves() {
        let key = armsledger_log::CosignerKey::from_seed("w.example", &[7; 32]).unwrap();
        let log = armsledger_log::LogKey::from_seed("log.example", &[1; 32]).unwrap();
        let p = policy(&format!(
            "log {}\nwitness w {}\nquorum w\n",
            log.verifier(),
            key.verifier()
        ));
        let metrics = Metrics::default();
        let hour = Duration::from_secs(3600);
        let board = Board::new(Some(p), hour);
        let t0 = Instant::now();
        let cosign = |size: u64, at: Instant| {
            let signed = log
                .sign_checkpoint(size, &armsledger_log::Hash::from([size as u8; 32]))
                .unwrap();
            let line = key
                .cosign(&signed.checkpoint().body(), 1_750_000_000)
                .unwrap()
                .to_line();
            let offered = Published {
                size,
                note: signed.note().to_owned(),
            };
            board.cosigned("w", &offered, line, &metrics, at);
        };
        board.refresh(Some(10), &metrics, t0);
        cosign(5, t0);
        // Still ahead, but the quorum just moved: quiet for an hour.
        board.refresh(Some(20), &metrics, t0 + hour / 2);
        assert!(!board.status().alert);
        cosign(15, t0 + hour / 2);
        board.refresh(Some(30), &metrics, t0 + hour + hour / 4);
        assert!(!board.status().alert, "the quorum moved 45 minutes ago");
        // Firing: an hour with no new quorum checkpoint.
        board.refresh(Some(30), &metrics, t0 + hour + hour / 2);
        assert!(board.status().alert);
        assert!(
            metrics
                .render()
                .contains("armsledger_witness_quorum_alert 1")
        );
        // Cosigning the same size again is no new checkpoint: still firing.
        cosign(15, t0 + hour + hour / 2);
        assert!(board.status().alert);
        // The quorum catches up: cleared.
        cosign(30, t0 + 2 * hour);
        assert!(!board.status().alert);
        assert!(
            metrics
                .render()
                .contains("armsledger_witness_quorum_alert 0")
        );
    }
}
