//! Start-up: open (or create) everything in the data directory, refuse
//! secrets others may read, pin the regulator key and the manufacturer
//! roots, load or create the log key, replay the log into the verifier, and
//! start the ingest pipeline and the disk-recovery thread.

use std::path::Path;
use std::sync::Arc;

use armsledger_log::LogKey;
use tokio::sync::mpsc;

use crate::clock::Clock;
use crate::config::{Config, files, parse_key};
use crate::disk::LiveStore;
use crate::ingest;
use crate::metrics::Metrics;
use crate::state::{Parts, Published, Shared, Signer, checkpoint_size};
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
    /// The configured origin differs from the one the log was created with.
    #[error(
        "the log in {path} was created with origin {existing}; the configuration asks for {configured}. \
         An origin is fixed at the first start: remove `origin` from the configuration, or use a new data directory"
    )]
    OriginChanged {
        /// The log key file.
        path: String,
        /// The origin of the existing log.
        existing: String,
        /// The origin configured now.
        configured: String,
    },
    /// The configured regulator key differs from the pinned one.
    #[error("the regulator key {offered} differs from the one pinned in {path}; refusing to start")]
    RegulatorKeyChanged {
        /// The pinned key file.
        path: String,
        /// The offered key.
        offered: String,
    },
    /// The manufacturer roots were pinned at an earlier start and this
    /// start gives none: device attestation would silently go unchecked.
    #[error(
        "the manufacturer roots {pinned} are pinned in {path}, and this start gives none; \
         refusing to start without attestation checks: pass --manufacturer-root {pinned} \
         (or set ARMSLEDGER_MANUFACTURER_ROOTS)"
    )]
    ManufacturerRootsMissing {
        /// The pinned roots file.
        path: String,
        /// The pinned roots, hex, comma-separated.
        pinned: String,
    },
    /// The configured manufacturer roots differ from the pinned ones.
    #[error(
        "the manufacturer roots {offered} differ from {pinned}, pinned in {path}; refusing to start"
    )]
    ManufacturerRootsChanged {
        /// The pinned roots file.
        path: String,
        /// The pinned roots, hex, comma-separated.
        pinned: String,
        /// The offered roots, hex, comma-separated.
        offered: String,
    },
    /// A file holding a secret may be read by group or others.
    #[error(transparent)]
    ExposedSecret(#[from] crate::secret::ExposedSecret),
    /// The object-storage publisher could not be set up.
    #[error(transparent)]
    Publish(#[from] crate::publish::PublishError),
    /// The listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// The cause.
        source: std::io::Error,
    },
}

impl Shared {
    /// Opens (or creates) everything in the data directory and starts the
    /// sequencer thread, on the system clock. The checkpointer is started by
    /// [`crate::spawn_workers`].
    pub fn open(config: Config) -> Result<Arc<Shared>, StartError> {
        Shared::open_with_clock(config, Clock::System)
    }

    /// [`Shared::open`] with the clock the server reads the time from.
    pub fn open_with_clock(config: Config, clock: Clock) -> Result<Arc<Shared>, StartError> {
        let dir = config.data_dir.clone();
        std::fs::create_dir_all(&dir).map_err(|e| data_err(&dir, e))?;
        for secret in [files::LOG_KEY, files::TOKENS_JSON] {
            crate::secret::check_private(&dir.join(secret))?;
        }
        let regulator_key = pin_regulator_key(&dir, config.regulator_key.as_deref())?;
        let roots = pin_manufacturer_roots(&dir, &config.roots()?)?;
        let log_key = load_or_create_log_key(&dir, &config)?;
        let witnessing = crate::witnessing::Board::new(
            config
                .witness_policy
                .as_deref()
                .map(|p| crate::witnessing::load_policy(p).map_err(|e| data_err(p, e)))
                .transpose()?,
            std::time::Duration::from_millis(config.witness_quorum_alert_ms),
        );
        let (tx, rx) = mpsc::channel(1024);
        let shared = Shared::open_parts(Opened {
            config,
            signer: Signer::Key(log_key),
            regulator_key,
            roots,
            witnessing,
            ingest: tx,
            clock,
        })?;
        ingest::spawn(shared.clone(), rx).map_err(|e| data_err(&dir, e))?;
        let s = shared.clone();
        std::thread::Builder::new()
            .name("disk-recovery".into())
            .spawn(move || s.store().recover_forever(|| s.log_grew()))
            .map_err(|e| data_err(&dir, e))?;
        Ok(shared)
    }
}

/// What a server's and a mirror's starts decide before the parts they share
/// are opened ([`Shared::open_parts`]).
pub(crate) struct Opened {
    pub config: Config,
    pub signer: Signer,
    pub regulator_key: Option<[u8; 32]>,
    pub roots: Vec<[u8; 32]>,
    pub witnessing: crate::witnessing::Board,
    pub ingest: mpsc::Sender<crate::queue::Job>,
    pub clock: Clock,
}

impl Shared {
    /// The start both a server and a mirror make once their keys are
    /// pinned: opens the log store (`log.redb`), its latest checkpoint, the
    /// access log and the tokens, and catches the rules up with the log from
    /// the newest rules snapshot that matches it ([`crate::snapshots::start`]).
    pub(crate) fn open_parts(o: Opened) -> Result<Arc<Shared>, StartError> {
        let dir = o.config.data_dir.clone();
        let metrics = Metrics::default();
        let store = LiveStore::open(
            dir.join(files::LOG_REDB),
            o.config.disk_probe_bytes,
            &metrics,
        )?;
        let latest = store.read()?.latest_checkpoint()?.map(|note| Published {
            size: checkpoint_size(&note),
            note,
        });
        let access_path = dir.join(crate::access_log::ACCESS_REDB);
        let access = crate::access_log::AccessLog::open(&access_path)
            .map_err(|e| data_err(&access_path, e))?;
        let shared = Arc::new(Shared::new(Parts {
            tokens: TokenStore::in_data_dir(&dir),
            config: o.config,
            store,
            signer: o.signer,
            regulator_key: o.regulator_key,
            roots: o.roots,
            metrics,
            ingest: o.ingest,
            latest,
            clock: o.clock,
            witnessing: o.witnessing,
            access,
        }));
        crate::snapshots::start(&shared)?;
        Ok(shared)
    }
}

fn data_err(path: &Path, e: impl std::fmt::Display) -> StartError {
    StartError::Data {
        path: path.display().to_string(),
        msg: e.to_string(),
    }
}

/// Loads the log key from `dir/log.key`, creating it (and `log.vkey`) on
/// first start. Its name is the log's origin: `config.origin` if set, else
/// [`chosen_origin`] of the configured prefix and the new key. A later start
/// with another configured origin is refused.
pub fn load_or_create_log_key(dir: &Path, config: &Config) -> Result<LogKey, StartError> {
    let path = dir.join(files::LOG_KEY);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let key = LogKey::from_signer_key(text.trim()).map_err(|e| data_err(&path, e))?;
            match &config.origin {
                Some(o) if o != key.name() => Err(StartError::OriginChanged {
                    path: path.display().to_string(),
                    existing: key.name().to_owned(),
                    configured: o.clone(),
                }),
                _ => Ok(key),
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed).map_err(|e| data_err(&path, e))?;
            let origin = match &config.origin {
                Some(o) => o.clone(),
                None => {
                    chosen_origin(&config.origin_prefix, &seed).map_err(|e| data_err(&path, e))?
                }
            };
            let key = LogKey::from_seed(&origin, &seed).map_err(|e| data_err(&path, e))?;
            crate::secret::create_private(&path, key.to_signer_key().as_bytes())
                .map_err(|e| data_err(&path, e))?;
            let vpath = dir.join(files::LOG_VKEY);
            std::fs::write(&vpath, format!("{}\n", key.verifier()))
                .map_err(|e| data_err(&vpath, e))?;
            Ok(key)
        }
        Err(e) => Err(data_err(&path, e)),
    }
}

/// The origin a new log gets when none is configured:
/// `<prefix>/<first 8 hex digits of the log's Ed25519 public key>`, so two
/// logs (two demo runs, a test server) never share an origin by accident.
pub fn chosen_origin(prefix: &str, seed: &[u8; 32]) -> Result<String, armsledger_log::LogError> {
    let public = LogKey::from_seed(prefix, seed)?.verifier();
    let id = hex::encode(public.public_key().get(..4).unwrap_or_default());
    Ok(format!("{}/{id}", prefix.trim_end_matches('/')))
}

/// The regulator key: pinned in `dir/regulator.pub` on first start. `None`
/// until one is given: the server then runs, serves reads, and refuses ingest.
pub(crate) fn pin_regulator_key(
    dir: &Path,
    configured: Option<&str>,
) -> Result<Option<[u8; 32]>, StartError> {
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

/// The manufacturer roots device enrolments must chain to: pinned in
/// `dir/manufacturer-roots.pub` by the first start that gives any. Once
/// pinned, a start that gives none or another set is refused: attestation
/// checks never turn off by omission, and exports always carry the roots.
pub fn pin_manufacturer_roots(
    dir: &Path,
    configured: &[[u8; 32]],
) -> Result<Vec<[u8; 32]>, StartError> {
    let path = dir.join(files::MANUFACTURER_ROOTS);
    let pinned = match std::fs::read_to_string(&path) {
        Ok(t) => Some(
            t.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(|l| parse_key(l, "a pinned manufacturer root"))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(data_err(&path, e)),
    };
    let set = |keys: &[[u8; 32]]| -> Vec<[u8; 32]> {
        let mut v = keys.to_vec();
        v.sort_unstable();
        v.dedup();
        v
    };
    let list = |keys: &[[u8; 32]]| -> String {
        keys.iter().map(hex::encode).collect::<Vec<_>>().join(",")
    };
    let offered = set(configured);
    match pinned.map(|p| set(&p)) {
        Some(p) if offered.is_empty() && !p.is_empty() => {
            Err(StartError::ManufacturerRootsMissing {
                path: path.display().to_string(),
                pinned: list(&p),
            })
        }
        Some(p) if p != offered => Err(StartError::ManufacturerRootsChanged {
            path: path.display().to_string(),
            pinned: list(&p),
            offered: list(&offered),
        }),
        Some(p) => Ok(p),
        None if offered.is_empty() => Ok(offered),
        None => {
            let text: String = offered
                .iter()
                .map(|k| format!("{}\n", hex::encode(k)))
                .collect();
            std::fs::write(&path, text).map_err(|e| data_err(&path, e))?;
            Ok(offered)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manufacturer_roots_are_pinned_by_the_first_start_that_gives_them() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = ([1u8; 32], [2u8; 32]);
        // None given, none pinned: nothing to check, nothing written.
        assert!(pin_manufacturer_roots(dir.path(), &[]).unwrap().is_empty());
        assert!(!dir.path().join(files::MANUFACTURER_ROOTS).exists());
        // The first roots given are pinned, as a set (order and repeats do not matter).
        assert_eq!(
            pin_manufacturer_roots(dir.path(), &[b, a, b]).unwrap(),
            vec![a, b]
        );
        assert_eq!(
            pin_manufacturer_roots(dir.path(), &[a, b]).unwrap(),
            vec![a, b]
        );
        // Firing: none, fewer, another.
        assert!(matches!(
            pin_manufacturer_roots(dir.path(), &[]),
            Err(StartError::ManufacturerRootsMissing { .. })
        ));
        for other in [vec![a], vec![a, b, [3; 32]], vec![[3; 32]]] {
            assert!(matches!(
                pin_manufacturer_roots(dir.path(), &other),
                Err(StartError::ManufacturerRootsChanged { .. })
            ));
        }
    }

    fn config(dir: &Path, origin: Option<&str>) -> Config {
        Config {
            data_dir: dir.to_path_buf(),
            origin: origin.map(str::to_owned),
            ..Config::default()
        }
    }

    /// Issue 14: two logs started with no origin configured (two demo runs)
    /// get origins of their own, each kept across restarts.
    #[test]
    fn each_new_log_chooses_an_origin_of_its_own_and_keeps_it() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let ka = load_or_create_log_key(a.path(), &config(a.path(), None)).unwrap();
        let kb = load_or_create_log_key(b.path(), &config(b.path(), None)).unwrap();
        assert_ne!(ka.name(), kb.name());
        for k in [&ka, &kb] {
            let (prefix, id) = k.name().rsplit_once('/').unwrap();
            assert_eq!(prefix, "armsledger.local/log");
            assert_eq!(id, hex::encode(&k.verifier().public_key()[..4]));
        }
        let again = load_or_create_log_key(a.path(), &config(a.path(), None)).unwrap();
        assert_eq!(again.verifier().to_string(), ka.verifier().to_string());
        // Naming the same origin is fine; another is refused.
        assert!(load_or_create_log_key(a.path(), &config(a.path(), Some(ka.name()))).is_ok());
        let err = load_or_create_log_key(a.path(), &config(a.path(), Some("other.example/log")))
            .unwrap_err();
        assert!(matches!(err, StartError::OriginChanged { .. }), "{err}");
    }

    #[test]
    fn an_explicit_origin_is_used_as_given() {
        let dir = tempfile::tempdir().unwrap();
        let c = config(dir.path(), Some("regulator.example/armsledger"));
        let k = load_or_create_log_key(dir.path(), &c).unwrap();
        assert_eq!(k.name(), "regulator.example/armsledger");
        let prefixed = Config {
            origin_prefix: "reg.example/log/".into(),
            ..config(dir.path(), None)
        };
        let origin = chosen_origin(&prefixed.origin_prefix, &[5; 32]).unwrap();
        assert!(
            origin.starts_with("reg.example/log/") && origin.len() == "reg.example/log/".len() + 8
        );
    }
}
