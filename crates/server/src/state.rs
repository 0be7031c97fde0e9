//! The server's shared state and its start-up: the log store, the log key,
//! the verifier rebuilt from the log, tokens, and the background workers.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use armsledger_core::LedgerVerifier;
use armsledger_core::entry::ChainId;
use armsledger_core::rules::View;
use armsledger_log::{LogKey, SignedCheckpoint};
use tokio::sync::{Notify, mpsc, watch};

use crate::config::{Config, files, parse_key};
use crate::disk::{LiveStore, WriteError};
use crate::ingest::{self, Job};
use crate::metrics::Metrics;
use crate::tokens::TokenStore;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// Configuration problem.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// A file in the data directory could not be used.
    #[error("{path}: {msg}")]
    Data {
        /// The file.
        path: String,
        /// What went wrong.
        msg: String,
    },
    /// The log database could not be opened or replayed.
    #[error("log store: {0}")]
    Store(#[from] armsledger_store::StoreError),
    /// The configured regulator key differs from the pinned one.
    #[error("the regulator key {offered} differs from the one pinned in {path}; refusing to start")]
    RegulatorKeyChanged {
        /// The pinned key file.
        path: String,
        /// The offered key.
        offered: String,
    },
    /// The listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// The latest signed checkpoint.
#[derive(Clone, Debug)]
pub struct Published {
    /// Tree size.
    pub size: u64,
    /// The signed note.
    pub note: String,
}

/// Per-chain token bucket.
#[derive(Debug)]
pub struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Everything the handlers and workers share.
#[derive(Debug)]
pub struct Shared {
    /// Configuration.
    pub config: Config,
    /// The global log (re-opened after a disk fault).
    pub store: LiveStore,
    /// The checkpoint signing key.
    pub log_key: LogKey,
    /// Its C2SP verifier key text.
    pub vkey: String,
    /// The regulator chain's key (all zeros until one is configured).
    pub regulator_key: [u8; 32],
    /// Whether a regulator key is configured; until it is, ingest is refused.
    pub regulator_configured: bool,
    /// The verification pipeline and rules engine, caught up with the log.
    pub verifier: RwLock<LedgerVerifier>,
    /// The verifier holds entries a failed commit did not keep: the
    /// sequencer rebuilds it from the log before its next group.
    pub verifier_stale: AtomicBool,
    /// The latest receipt time logged (ms). Receipt times never go back in
    /// log order, even if the server's clock does: as-of queries replay the
    /// log by receipt time.
    pub last_received: AtomicU64,
    /// Bearer tokens.
    pub tokens: TokenStore,
    /// Metrics.
    pub metrics: Metrics,
    /// The sequencer's queue.
    pub ingest: mpsc::Sender<Job>,
    /// The latest signed checkpoint.
    pub checkpoint: watch::Sender<Option<Published>>,
    /// The checkpoint offered to witnesses (moves on a slower cadence).
    pub stable: RwLock<Option<Published>>,
    /// Wakes the checkpointer when the log grew.
    pub grew: Notify,
    /// Rate limit buckets per chain.
    pub buckets: Mutex<HashMap<ChainId, Bucket>>,
}

fn data_err(path: &Path, e: impl std::fmt::Display) -> StartError {
    StartError::Data {
        path: path.display().to_string(),
        msg: e.to_string(),
    }
}

/// Loads the log key from `dir/log.key`, creating it (and `log.vkey`) on first start.
pub fn load_or_create_log_key(dir: &Path, origin: &str) -> Result<LogKey, StartError> {
    let path = dir.join(files::LOG_KEY);
    match std::fs::read_to_string(&path) {
        Ok(text) => LogKey::from_signer_key(text.trim()).map_err(|e| data_err(&path, e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed).map_err(|e| data_err(&path, e))?;
            let key = LogKey::from_seed(origin, &seed).map_err(|e| data_err(&path, e))?;
            write_private(&path, key.to_signer_key().as_bytes())?;
            let vpath = dir.join(files::LOG_VKEY);
            std::fs::write(&vpath, format!("{}\n", key.verifier()))
                .map_err(|e| data_err(&vpath, e))?;
            Ok(key)
        }
        Err(e) => Err(data_err(&path, e)),
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), StartError> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts.open(path).map_err(|e| data_err(path, e))?;
    f.write_all(bytes).map_err(|e| data_err(path, e))?;
    f.sync_all().map_err(|e| data_err(path, e))
}

/// The regulator key: pinned in `dir/regulator.pub` on first start. `None`
/// until one is given: the server then runs, serves reads, and refuses ingest.
fn pin_regulator_key(dir: &Path, configured: Option<&str>) -> Result<Option<[u8; 32]>, StartError> {
    let path = dir.join(files::REGULATOR_PUB);
    let pinned = match std::fs::read_to_string(&path) {
        Ok(t) => Some(parse_key(&t, "the pinned regulator key")?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(data_err(&path, e)),
    };
    let offered = configured
        .map(|k| parse_key(k, "the regulator key"))
        .transpose()?;
    match (pinned, offered) {
        (Some(p), Some(o)) if p != o => Err(StartError::RegulatorKeyChanged {
            path: path.display().to_string(),
            offered: hex::encode(o),
        }),
        (Some(p), _) => Ok(Some(p)),
        (None, Some(o)) => {
            std::fs::write(&path, format!("{}\n", hex::encode(o)))
                .map_err(|e| data_err(&path, e))?;
            Ok(Some(o))
        }
        (None, None) => Ok(None),
    }
}

impl Shared {
    /// Opens (or creates) everything in the data directory and starts the
    /// sequencer thread. The checkpointer is started by [`crate::spawn_workers`].
    pub fn open(config: Config) -> Result<Arc<Shared>, StartError> {
        let dir = config.data_dir.clone();
        std::fs::create_dir_all(&dir).map_err(|e| data_err(&dir, e))?;
        let pinned = pin_regulator_key(&dir, config.regulator_key.as_deref())?;
        let regulator_key = pinned.unwrap_or([0; 32]);
        let log_key = load_or_create_log_key(&dir, &config.origin)?;
        let vkey = log_key.verifier().to_string();
        let metrics = Metrics::default();
        let store = LiveStore::open(dir.join(files::LOG_REDB), config.disk_probe_bytes, &metrics)?;
        let latest = store.read()?.latest_checkpoint()?.map(|note| Published {
            size: checkpoint_size(&note),
            note,
        });
        let (tx, rx) = mpsc::channel(1024);
        let (checkpoint, _) = watch::channel(latest.clone());
        let roots = config.roots()?;
        let shared = Arc::new(Shared {
            tokens: TokenStore::in_data_dir(&dir),
            verifier: RwLock::new(LedgerVerifier::new(regulator_key, roots, View::Corrected)),
            verifier_stale: AtomicBool::new(false),
            last_received: AtomicU64::new(0),
            config,
            store,
            log_key,
            vkey,
            regulator_key,
            regulator_configured: pinned.is_some(),
            metrics,
            ingest: tx,
            checkpoint,
            stable: RwLock::new(latest),
            grew: Notify::new(),
            buckets: Mutex::new(HashMap::new()),
        });
        shared.rebuild_verifier()?;
        ingest::spawn(shared.clone(), rx).map_err(|e| data_err(&dir, e))?;
        let s = shared.clone();
        std::thread::Builder::new()
            .name("disk-recovery".into())
            .spawn(move || s.store.recover_forever(|| s.grew.notify_one()))
            .map_err(|e| data_err(&dir, e))?;
        Ok(shared)
    }

    /// Replays the whole log into a fresh verifier (start-up, or after a
    /// failed commit). Signatures are checked a chunk at a time with batch
    /// verification, with the keys known at the chunk's start; an entry
    /// whose key the chunk itself enrols is checked on its own.
    pub fn rebuild_verifier(&self) -> Result<(), armsledger_store::StoreError> {
        const CHUNK: u64 = 4096;
        let roots = self.config.roots().unwrap_or_default();
        let mut v = LedgerVerifier::new(self.regulator_key, roots, View::Corrected);
        let reader = self.store.read()?;
        let size = reader.size();
        let mut from = 0;
        while from < size {
            let to = size.min(from.saturating_add(CHUNK));
            let mut chunk = Vec::new();
            for i in from..to {
                if let Some(s) = reader.entry(i)? {
                    self.last_received
                        .fetch_max(s.received_at.0, Ordering::AcqRel);
                    chunk.push((i, Arc::new(s.entry), s.received_at));
                }
            }
            let refs: Vec<&armsledger_core::SignedEntry> =
                chunk.iter().map(|(_, e, _)| &**e).collect();
            let verified = ingest::verify_entries(v.keys(), &refs);
            for ((i, e, at), pre) in chunk.into_iter().zip(verified) {
                let r = if ingest::still_valid(v.keys(), &e, pre) {
                    v.ingest_checked(e, Some(at)).map(|_| ())
                } else {
                    v.ingest(e, Some(at)).map(|_| ())
                };
                if let Err(e) = r {
                    tracing::error!(index = i, error = %e, "logged entry no longer verifies");
                }
            }
            from = to;
        }
        self.metrics
            .tree_size
            .set(i64::try_from(size).unwrap_or(i64::MAX));
        if let Ok(mut w) = self.verifier.write() {
            *w = v;
        }
        self.verifier_stale.store(false, Ordering::Release);
        Ok(())
    }

    /// Takes `n` entries from `chain`'s rate bucket; false when over the limit.
    pub fn take_rate(&self, chain: &ChainId, n: usize) -> bool {
        let rate = f64::from(self.config.chain_rate_per_second);
        let cap = rate * 10.0;
        let Ok(mut b) = self.buckets.lock() else {
            return true;
        };
        let now = Instant::now();
        let bucket = b.entry(chain.clone()).or_insert(Bucket {
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
        if self.store.fault().is_some() {
            return Ok(None);
        }
        let size = self.store.read().map_err(WriteError::Store)?.size();
        let last = self.checkpoint.borrow().as_ref().map(|p| p.size);
        if last == Some(size) || (size == 0 && last.is_some()) {
            return Ok(None);
        }
        let t = Instant::now();
        let signed: SignedCheckpoint = self.store.sign_checkpoint(&self.log_key)?;
        self.metrics
            .checkpoint_seconds
            .observe(t.elapsed().as_secs_f64());
        self.metrics
            .tree_size
            .set(i64::try_from(size).unwrap_or(i64::MAX));
        let p = Published {
            size: signed.checkpoint().size(),
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
        Ok(Some(p))
    }
}

/// The size line of a checkpoint note (second line); 0 if unreadable.
pub fn checkpoint_size(note: &str) -> u64 {
    note.lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .unwrap_or(0)
}
