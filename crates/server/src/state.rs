//! Everything the handlers and workers share ([`Shared`]): the log store,
//! the log key, the verifier caught up with the log, the latest checkpoints,
//! tokens, metrics, the ingest queue and the clock. Its fields are private:
//! the routes and the pipeline use the methods below. Opening it from a
//! data directory is [`crate::start`]'s; keeping the verifier in step with
//! the log is [`crate::ingest`]'s.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LockResult, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;

use armsledger_core::LedgerVerifier;
use armsledger_core::SignedEntry;
use armsledger_core::ids::Timestamp;
use armsledger_core::rules::View;
use armsledger_core::verify::CheckedBatch;
use armsledger_log::{LogKey, LogVerifier, SignedCheckpoint};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, watch};

use crate::clock::Clock;
use crate::config::Config;
use crate::disk::{LiveStore, WriteError};
use crate::error::ApiError;
use crate::limits::{Slot, TokenSlots};
use crate::metrics::Metrics;
use crate::queue::Job;
use crate::tokens::TokenStore;

/// The latest signed checkpoint.
#[derive(Clone, Debug)]
pub struct Published {
    /// Tree size.
    pub size: u64,
    /// The signed note.
    pub note: String,
}

/// What signs the log's checkpoints.
#[derive(Debug)]
pub(crate) enum Signer {
    /// This server's log key: it writes the log.
    Key(LogKey),
    /// Nobody: a verifying mirror, whose store holds another server's log
    /// and keeps that server's checkpoints (verified under this key). It
    /// signs nothing and ingests nothing.
    Mirror(LogVerifier),
}

/// Per-token rate bucket.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Everything the handlers and workers share.
#[derive(Debug)]
pub struct Shared {
    config: Config,
    /// The global log (re-opened after a disk fault); shared with the
    /// rules engine, which reads its history back from it.
    store: Arc<LiveStore>,
    /// The checkpoint signing key (none for a mirror).
    signer: Signer,
    /// Its C2SP verifier key text.
    vkey: String,
    /// The regulator chain's key (all zeros until one is configured).
    regulator_key: [u8; 32],
    /// Whether a regulator key is configured; until it is, ingest is refused.
    regulator_configured: bool,
    /// The pinned manufacturer roots device enrolments must chain to.
    roots: Vec<[u8; 32]>,
    /// The verification pipeline and rules engine, caught up with the log.
    verifier: RwLock<LedgerVerifier>,
    /// The verifier holds entries a failed commit did not keep: the
    /// sequencer rebuilds it from the log before its next group.
    verifier_stale: AtomicBool,
    /// The latest receipt time logged (ms). Receipt times never go back in
    /// log order, even if the server's clock does: as-of queries replay the
    /// log by receipt time.
    last_received: AtomicU64,
    tokens: TokenStore,
    metrics: Metrics,
    /// The sequencer's queue.
    ingest: mpsc::Sender<Job>,
    /// The latest signed checkpoint.
    checkpoint: watch::Sender<Option<Published>>,
    /// The checkpoint offered to witnesses (moves on a slower cadence).
    stable: RwLock<Option<Published>>,
    /// Wakes the checkpointer when the log grew.
    grew: Notify,
    /// Rate limit buckets per bearer token (by id).
    buckets: Mutex<HashMap<String, Bucket>>,
    /// Exports and dossiers being written (each holds a blocking thread).
    exports: Arc<Semaphore>,
    /// Point-in-time replays running, over all tokens.
    replays: Arc<Semaphore>,
    /// Tokens running a point-in-time replay (one each).
    replay_tokens: TokenSlots,
    clock: Clock,
    /// What the witnesses cosigned ([`crate::witnessing`]).
    witnessing: crate::witnessing::Board,
    /// Who read what ([`crate::access_log`]).
    access: crate::access_log::AccessLog,
    /// Rules snapshots ([`crate::snapshots`]).
    snapshots: crate::snapshots::Snapshots,
}

/// What [`Shared::new`] is made of: the data directory's contents, opened.
pub(crate) struct Parts {
    pub config: Config,
    pub store: LiveStore,
    pub signer: Signer,
    /// The pinned regulator key, if one is configured.
    pub regulator_key: Option<[u8; 32]>,
    pub roots: Vec<[u8; 32]>,
    pub tokens: TokenStore,
    pub metrics: Metrics,
    pub ingest: mpsc::Sender<Job>,
    pub latest: Option<Published>,
    pub clock: Clock,
    pub witnessing: crate::witnessing::Board,
    pub access: crate::access_log::AccessLog,
}

impl Shared {
    /// Shared state over opened parts, with an empty verifier (the caller
    /// replays the log into it).
    pub(crate) fn new(p: Parts) -> Shared {
        let regulator_key = p.regulator_key.unwrap_or([0; 32]);
        let (checkpoint, _) = watch::channel(p.latest.clone());
        Shared {
            vkey: match &p.signer {
                Signer::Key(k) => k.verifier().to_string(),
                Signer::Mirror(v) => v.to_string(),
            },
            verifier: RwLock::new(LedgerVerifier::new(
                regulator_key,
                p.roots.clone(),
                View::Corrected,
            )),
            roots: p.roots,
            verifier_stale: AtomicBool::new(false),
            last_received: AtomicU64::new(0),
            store: Arc::new(p.store),
            signer: p.signer,
            regulator_key,
            regulator_configured: p.regulator_key.is_some(),
            tokens: p.tokens,
            metrics: p.metrics,
            ingest: p.ingest,
            checkpoint,
            stable: RwLock::new(p.latest),
            grew: Notify::new(),
            buckets: Mutex::new(HashMap::new()),
            exports: Arc::new(Semaphore::new(p.config.max_concurrent_exports.max(1))),
            replays: Arc::new(Semaphore::new(p.config.max_concurrent_replays.max(1))),
            replay_tokens: TokenSlots::default(),
            clock: p.clock,
            witnessing: p.witnessing,
            access: p.access,
            snapshots: crate::snapshots::Snapshots::new(&p.config.data_dir, &p.config.snapshots),
            config: p.config,
        }
    }

    /// The rules snapshots.
    pub fn snapshots(&self) -> &crate::snapshots::Snapshots {
        &self.snapshots
    }

    /// The access log: who read what.
    pub fn access_log(&self) -> &crate::access_log::AccessLog {
        &self.access
    }

    /// The configuration it was started with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The global log (re-opened after a disk fault).
    pub fn store(&self) -> &LiveStore {
        &self.store
    }

    /// The log's origin line (also its key's name).
    pub fn origin(&self) -> &str {
        match &self.signer {
            Signer::Key(k) => k.name(),
            Signer::Mirror(v) => v.name(),
        }
    }

    /// Whether this is a verifying mirror's state (it signs and ingests
    /// nothing; [`Self::append_mirrored`] extends it).
    pub fn is_mirror(&self) -> bool {
        matches!(self.signer, Signer::Mirror(_))
    }

    /// The log's C2SP verifier key text.
    pub fn log_vkey(&self) -> &str {
        &self.vkey
    }

    /// The regulator chain's key (all zeros until one is configured).
    pub fn regulator_key(&self) -> [u8; 32] {
        self.regulator_key
    }

    /// Whether a regulator key is configured; until it is, ingest is refused.
    pub fn regulator_configured(&self) -> bool {
        self.regulator_configured
    }

    /// The manufacturer roots pinned in the data directory (empty: none
    /// was ever given, and enrolments' attestations are not checked).
    pub fn manufacturer_roots(&self) -> &[[u8; 32]] {
        &self.roots
    }

    /// The server's clock, now.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// What the witnesses cosigned, and the quorum alert.
    pub fn witnessing(&self) -> &crate::witnessing::Board {
        &self.witnessing
    }

    /// The checkpoint exports and dossiers are written at: the newest
    /// quorum-cosigned one when a witness policy is configured and one met
    /// it, else the newest.
    pub fn export_checkpoint(&self) -> Option<Published> {
        self.witnessing
            .quorum_checkpoint()
            .or_else(|| self.latest_checkpoint())
    }

    /// The latest signed checkpoint.
    pub fn latest_checkpoint(&self) -> Option<Published> {
        self.checkpoint.borrow().clone()
    }

    /// Every checkpoint published from now on.
    pub(crate) fn subscribe_checkpoints(&self) -> watch::Receiver<Option<Published>> {
        self.checkpoint.subscribe()
    }

    /// The checkpoint offered to witnesses.
    pub fn stable_checkpoint(&self) -> Option<Published> {
        self.stable.read().ok().and_then(|s| s.clone())
    }

    /// Moves the stable checkpoint to the latest one, if there is one.
    pub(crate) fn advance_stable(&self) {
        let latest = self.latest_checkpoint();
        if latest.is_some()
            && let Ok(mut st) = self.stable.write()
        {
            *st = latest;
        }
    }

    /// The verifier and rules engine, caught up with the log.
    pub(crate) fn verifier(&self) -> LockResult<RwLockReadGuard<'_, LedgerVerifier>> {
        self.verifier.read()
    }

    /// The verifier, for the sequencer to apply a group to.
    pub(crate) fn verifier_mut(&self) -> LockResult<RwLockWriteGuard<'_, LedgerVerifier>> {
        self.verifier.write()
    }

    /// The verifier for a read, or an internal error.
    pub fn read_verifier(&self) -> Result<RwLockReadGuard<'_, LedgerVerifier>, ApiError> {
        self.verifier
            .read()
            .map_err(|_| ApiError::Internal("verifier lock".into()))
    }

    /// The global log, for a reader that outlives a borrow (the rules
    /// engine's history source).
    pub(crate) fn store_arc(&self) -> Arc<LiveStore> {
        self.store.clone()
    }

    /// Puts a verifier rebuilt from the log (or extended by what was just
    /// logged) in place: every entry it applied is in the log now.
    pub(crate) fn replace_verifier(&self, mut v: LedgerVerifier) {
        v.history_committed();
        if let Ok(mut w) = self.verifier.write() {
            *w = v;
        }
        self.verifier_stale.store(false, Ordering::Release);
    }

    /// Marks the verifier as holding entries the log did not keep.
    pub(crate) fn mark_verifier_stale(&self) {
        self.verifier_stale.store(true, Ordering::Release);
    }

    /// Whether the verifier must be rebuilt before the next group: a
    /// failed commit left it holding entries the log did not keep, or a
    /// read of the log (its history, an entry looked up) failed while it
    /// applied one, which left its state wrong.
    pub(crate) fn verifier_is_stale(&self) -> bool {
        if self.verifier_stale.load(Ordering::Acquire) {
            return true;
        }
        let Ok(mut v) = self.verifier.write() else {
            return true;
        };
        match v.take_history_fault() {
            Some(e) => {
                tracing::error!(error = %e, "the rules could not read the log back; rebuilding their state from the log");
                self.verifier_stale.store(true, Ordering::Release);
                true
            }
            None => false,
        }
    }

    /// The receipt time for the next group: the clock, but never before the
    /// last receipt (a clock that steps back must not reorder receipt times).
    pub(crate) fn receipt_time(&self) -> Timestamp {
        Timestamp(
            self.clock
                .now()
                .0
                .max(self.last_received.load(Ordering::Acquire)),
        )
    }

    /// Records that entries received at `t` are in the log.
    /// The latest receipt time logged (0 before the first entry).
    pub(crate) fn last_receipt(&self) -> Timestamp {
        Timestamp(self.last_received.load(Ordering::Acquire))
    }

    pub(crate) fn note_received(&self, t: Timestamp) {
        self.last_received.fetch_max(t.0, Ordering::AcqRel);
    }

    /// The bearer tokens (the same file `armsledger token` manages).
    pub fn tokens(&self) -> &TokenStore {
        &self.tokens
    }

    /// The metrics.
    pub(crate) fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Signatures the signature stage checked and its calls of batch
    /// verification so far (for the bench: entries per call).
    pub fn signature_calls(&self) -> (u64, u64) {
        (
            self.metrics.signatures_checked.get(),
            self.metrics.signature_calls.get(),
        )
    }

    /// Queues a batch for the sequencer.
    pub(crate) async fn submit(&self, job: Job) -> Result<(), ApiError> {
        self.ingest
            .send(job)
            .await
            .map_err(|_| ApiError::Unavailable("the sequencer has stopped".into()))
    }

    /// Wakes the checkpointer: the log grew (or may sign now).
    pub(crate) fn log_grew(&self) {
        self.grew.notify_one();
    }

    /// Waits until the log grew.
    pub(crate) async fn wait_for_growth(&self) {
        self.grew.notified().await;
    }

    /// A slot to write an export in, or `None` while
    /// `max_concurrent_exports` are being written.
    pub(crate) fn export_slot(&self) -> Option<OwnedSemaphorePermit> {
        self.exports.clone().try_acquire_owned().ok()
    }

    /// A slot for a point-in-time replay by token `id`: `Err(true)` while
    /// that token runs one already, `Err(false)` while
    /// `max_concurrent_replays` run.
    pub(crate) fn replay_slot(&self, id: &str) -> Result<(OwnedSemaphorePermit, Slot<'_>), bool> {
        let mine = self.replay_tokens.try_take(id).ok_or(true)?;
        let any = self
            .replays
            .clone()
            .try_acquire_owned()
            .map_err(|_| false)?;
        Ok((any, mine))
    }

    /// Takes `n` entries from token `id`'s rate bucket; false when over the limit.
    pub fn take_rate(&self, id: &str, n: usize) -> bool {
        let rate = f64::from(self.config.token_rate_per_second);
        let cap = rate * 10.0;
        let Ok(mut b) = self.buckets.lock() else {
            return true;
        };
        let now = Instant::now();
        let bucket = b.entry(id.to_string()).or_insert(Bucket {
            tokens: cap,
            at: now,
        });
        bucket.tokens =
            (bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * rate).min(cap);
        bucket.at = now;
        let want = n as f64;
        if bucket.tokens >= want {
            bucket.tokens -= want;
            true
        } else {
            false
        }
    }

    /// Signs a checkpoint if the log grew since the last one, and publishes
    /// it. Signs nothing while a disk fault stands.
    pub fn checkpoint_now(&self) -> Result<Option<Published>, WriteError> {
        let Signer::Key(key) = &self.signer else {
            return Ok(None);
        };
        if self.store.fault().is_some() {
            return Ok(None);
        }
        let size = self.store.read().map_err(WriteError::Store)?.size();
        let last = self.checkpoint.borrow().as_ref().map(|p| p.size);
        if last == Some(size) || (size == 0 && last.is_some()) {
            return Ok(None);
        }
        let t = Instant::now();
        let signed: SignedCheckpoint = self.store.sign_checkpoint(key)?;
        Ok(Some(self.publish(&signed, t)))
    }

    /// A mirror keeps the origin's next entries (each with the receipt time
    /// the origin logged; `first` is the log index of the first) with the
    /// origin's checkpoint over them, then serves that checkpoint.
    ///
    /// Under the verifier's write lock, without copying the state: `check`
    /// (the mirror's own checks, core's code only) sees the live state and
    /// refuses the entries as a whole, or not (`Err((k, reason))`: entry
    /// `first + k` fails; nothing changed) or hands back the checked batch
    /// ([`armsledger_core::LedgerVerifier::check_batch`]), which is then applied as checked, and
    /// written in one transaction that checks the copy's size, tree root and
    /// verifiable index root against the checkpoint
    /// ([`armsledger_store::LogStore::append_mirrored`]). If that
    /// transaction fails, the entries just applied are taken out again (the
    /// state is rebuilt from the newest rules snapshot and the log) before
    /// the lock is released: nothing of a refused step is kept or served.
    /// Refused on a server that signs its own log.
    pub fn append_mirrored(
        &self,
        entries: &[(Arc<SignedEntry>, Timestamp)],
        first: u64,
        note: &str,
        check: impl FnOnce(&LedgerVerifier) -> Result<CheckedBatch, (usize, String)>,
    ) -> Result<Published, MirrorAppendError> {
        let Signer::Mirror(key) = &self.signer else {
            return Err(MirrorAppendError::Write(WriteError::Store(
                armsledger_store::StoreError::MirrorMismatch {
                    size: 0,
                    what: "signature",
                    reason: "this server signs its own log; only a mirror keeps another's".into(),
                },
            )));
        };
        // A state an earlier step could not put back, or one a failed read
        // of the log left wrong: rebuilt before anything is checked on it.
        if self.verifier_is_stale() {
            let v = self.rebuilt_state().map_err(|e| {
                MirrorAppendError::Stale(format!("the state could not be rebuilt: {e}"))
            })?;
            self.replace_verifier(v);
        }
        let t = Instant::now();
        let mut v = self
            .verifier
            .write()
            .map_err(|_| MirrorAppendError::Stale("the verifier lock is poisoned".into()))?;
        let rejected = |k: usize, reason: String| MirrorAppendError::Rejected {
            index: first.saturating_add(k as u64),
            reason,
        };
        let checked = check(&v).map_err(|(k, reason)| rejected(k, reason))?;
        // Applied as checked (each with its own receipt time): the chain
        // checks are not run a second time.
        let arcs: Vec<Arc<SignedEntry>> = entries.iter().map(|(e, _)| e.clone()).collect();
        let found = match v.apply_checked(checked, &arcs, |k| entries.get(k).map(|(_, at)| *at)) {
            Ok(f) => f,
            Err((k, err)) => {
                // check_batch passed: a bug. Nothing of it is kept.
                return Err(self.take_back(v, rejected(k, format!("apply after check: {err}"))));
            }
        };
        let batch: Vec<armsledger_store::Accepted> = entries
            .iter()
            .zip(found)
            .map(|((e, at), findings)| armsledger_store::Accepted {
                entry: e.clone(),
                received_at: *at,
                findings,
            })
            .collect();
        if let Err(e) = self.store.append_mirrored(&batch, note, key) {
            return Err(self.take_back(v, MirrorAppendError::Write(e)));
        }
        drop(v);
        let size = checkpoint_size(note);
        if let Some((_, at)) = entries.last() {
            self.note_received(*at);
        }
        self.metrics.entries_ingested.inc_by(batch.len() as u64);
        self.metrics
            .tree_size
            .set(i64::try_from(size).unwrap_or(i64::MAX));
        let p = Published {
            size,
            note: note.to_string(),
        };
        self.metrics
            .checkpoint_seconds
            .observe(t.elapsed().as_secs_f64());
        self.checkpoint.send_replace(Some(p.clone()));
        if let Ok(mut st) = self.stable.write() {
            *st = Some(p.clone());
        }
        // Out of memory what is in the log now; a rules snapshot when one
        // is due (the server's schedule).
        crate::snapshots::after_commit(self);
        Ok(p)
    }

    /// Takes back entries a mirror's step applied and did not keep: the
    /// state is rebuilt from the newest rules snapshot that matches the log,
    /// and the log after it, while `held` keeps readers out; `why` is
    /// returned (or why the rebuild failed too).
    fn take_back(
        &self,
        held: RwLockWriteGuard<'_, LedgerVerifier>,
        why: MirrorAppendError,
    ) -> MirrorAppendError {
        self.verifier_stale.store(true, Ordering::Release);
        let rebuilt = self.rebuilt_state();
        let mut held = held;
        match rebuilt {
            Ok(v) => {
                *held = v;
                self.verifier_stale.store(false, Ordering::Release);
                why
            }
            Err(e) => {
                tracing::error!(error = %e, "rebuilding the mirror's state after a refused step");
                MirrorAppendError::Stale(format!("{why}; and the state could not be rebuilt: {e}"))
            }
        }
    }

    /// Publishes a checkpoint just signed (`t`: when signing began).
    fn publish(&self, signed: &SignedCheckpoint, t: Instant) -> Published {
        self.metrics
            .checkpoint_seconds
            .observe(t.elapsed().as_secs_f64());
        let size = signed.checkpoint().size();
        self.metrics
            .tree_size
            .set(i64::try_from(size).unwrap_or(i64::MAX));
        let p = Published {
            size,
            note: signed.note().to_string(),
        };
        self.checkpoint.send_replace(Some(p.clone()));
        // The first checkpoint is also the first stable one; later ones move
        // it on the slower cadence (`spawn_workers`).
        if let Ok(mut st) = self.stable.write()
            && st.is_none()
        {
            *st = Some(p.clone());
        }
        p
    }
}

/// Why a mirror's step was not kept ([`Shared::append_mirrored`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MirrorAppendError {
    /// An entry fails a check (key, signature, chain position, subject
    /// links, enrolment): nothing of the step was kept.
    #[error("entry {index} does not verify: {reason}")]
    Rejected {
        /// Its log index.
        index: u64,
        /// Why.
        reason: String,
    },
    /// The copy's transaction failed (a check against the checkpoint, or
    /// the disk): nothing of the step was kept.
    #[error("{0}")]
    Write(WriteError),
    /// The state could not be put back after a refused step (or rebuilt
    /// before this one): it is rebuilt at the next step.
    #[error("{0}")]
    Stale(String),
}

/// The size line of a checkpoint note (second line); 0 if unreadable.
pub fn checkpoint_size(note: &str) -> u64 {
    note.lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .unwrap_or(0)
}
