//! Server configuration: defaults that work with no setup, a TOML file for
//! the rest, and environment variables over both.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Everything the server can be told.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Directory holding the log database, the log key and the token file.
    pub data_dir: PathBuf,
    /// Where to listen.
    pub listen: SocketAddr,
    /// The log's origin line (also its key name), e.g.
    /// `regulator.example/armsledger`, fixed at the first start. Unset: the
    /// first start chooses `<origin_prefix>/<8 hex digits of the new log
    /// key>`, so every new log has an origin of its own.
    pub origin: Option<String>,
    /// Where a chosen origin starts (see `origin`).
    pub origin_prefix: String,
    /// The regulator chain's public key (hex). Pinned in the data directory on first use.
    pub regulator_key: Option<String>,
    /// Manufacturer roots (hex) that device enrolments must chain to, pinned
    /// in the data directory on first use. Empty (and none pinned): not checked.
    pub manufacturer_roots: Vec<String>,
    /// Largest request body, in bytes; refused before it is read.
    pub max_body_bytes: usize,
    /// Most entries in one ingest batch.
    pub max_batch_entries: usize,
    /// How often a new checkpoint is signed while the log grows, in milliseconds.
    pub checkpoint_interval_ms: u64,
    /// How often the checkpoint offered to witnesses as "stable" moves, in milliseconds.
    pub stable_checkpoint_interval_ms: u64,
    /// Most entries per second one bearer token may push (burst: ten
    /// seconds' worth). Charged once the token is known and before any
    /// signature is checked. (`chain_rate_per_second` is read as this.)
    #[serde(alias = "chain_rate_per_second")]
    pub token_rate_per_second: u32,
    /// Most entries committed in one group commit.
    pub group_commit_max_entries: usize,
    /// Longest the signature stage waits for more batches to verify in one
    /// call while the sequencer is busy with the group before, in
    /// milliseconds (it stops sooner when the sequencer is about to be
    /// free; an idle sequencer is never kept waiting). 0: takes only what
    /// is waiting.
    pub signature_gather_ms: u64,
    /// After a disk fault, ingest resumes once a file as large as the log
    /// plus this many bytes could be written beside it.
    pub disk_probe_bytes: u64,
    /// Seconds a connection has to send a request's headers, from its
    /// accept and from each response it is kept alive after; a silent or
    /// idle connection is closed then.
    pub header_timeout_secs: u64,
    /// Seconds a request body has to arrive in full, from the request's start.
    pub body_timeout_secs: u64,
    /// Seconds a request may take before it is answered 408 (a streamed
    /// export's body is bounded by `export_stall_secs` instead).
    pub request_timeout_secs: u64,
    /// Most connections open at once (lowered to fit `ulimit -n`); further
    /// clients wait in the listen backlog.
    pub max_connections: usize,
    /// Most exports and dossiers written at once; more are answered 503.
    pub max_concurrent_exports: usize,
    /// Seconds an export waits for its reader to take the next chunk before
    /// it gives up on it.
    pub export_stall_secs: u64,
    /// Most point-in-time (`?at=`) replays at once, over all tokens; one
    /// token runs one at a time.
    pub max_concurrent_replays: usize,
    /// A C2SP tlog-policy file naming the witnesses (with their submission
    /// URLs) every checkpoint is offered to, and the quorum
    /// `/v1/checkpoint/cosigned` needs. Unset: no witnessing.
    pub witness_policy: Option<PathBuf>,
    /// Milliseconds the log may have a checkpoint newer than the newest
    /// quorum-cosigned one before the quorum alert rises (keep it above
    /// `stable_checkpoint_interval_ms`: witnesses are offered the stable one).
    pub witness_quorum_alert_ms: u64,
    /// Longest wait between two submissions to a witness that fails.
    pub witness_retry_max_ms: u64,
    /// Milliseconds one request to a witness may take.
    pub witness_timeout_ms: u64,
    /// Publishing the checkpoint and tiles to S3-compatible object storage
    /// (`[publish]`); unset: not published.
    pub publish: Option<crate::publish::PublishConfig>,
    /// How long entries and sealed notes are kept (`[retention]`; entries
    /// at least 30 years, a shorter policy is refused at load).
    pub retention: crate::retention::RetentionPolicy,
    /// Rules snapshots (`[snapshots]`): how often the rules engine's state
    /// is saved beside the log, so a start replays only what follows it.
    pub snapshots: SnapshotConfig,
    /// Background compaction of the log file (`[compaction]`).
    pub compaction: CompactionConfig,
}

/// When the server compacts its log file on its own (docs/operations.md,
/// "Disk and compaction").
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CompactionConfig {
    /// Compact in the background at all.
    pub enabled: bool,
    /// How often to look, in milliseconds.
    pub check_ms: u64,
    /// Compact only when no entry was received for this long (ms).
    pub quiet_ms: u64,
    /// Compact only when the file grew by this many percent since the
    /// last compaction (or the start).
    pub min_growth_percent: u64,
}

impl Default for CompactionConfig {
    fn default() -> Self {
        CompactionConfig {
            enabled: true,
            check_ms: 60_000,
            quiet_ms: 30_000,
            min_growth_percent: 20,
        }
    }
}

/// When rules snapshots are written and whether they are used
/// (docs/operations.md, "Rules snapshots").
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SnapshotConfig {
    /// Load the newest matching snapshot at start and write new ones. Off
    /// (`armsledger serve --no-snapshot`): every start replays the whole log.
    pub enabled: bool,
    /// Write a snapshot once the log grew by this many entries since the
    /// last one (0: never by count).
    pub every_entries: u64,
    /// Write a snapshot once this many seconds passed since the last one
    /// and the log grew (0: never by time).
    pub interval_secs: u64,
    /// How many snapshots to keep (the newest; older ones serve as-of queries).
    pub kept: usize,
}

impl Default for SnapshotConfig {
    fn default() -> Self {
        SnapshotConfig {
            enabled: true,
            every_entries: 250_000,
            interval_secs: 600,
            kept: 4,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("armsledger-data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 8640)),
            origin: None,
            origin_prefix: "armsledger.local/log".to_string(),
            regulator_key: None,
            manufacturer_roots: Vec::new(),
            max_body_bytes: 8 << 20,
            max_batch_entries: 1024,
            checkpoint_interval_ms: 250,
            stable_checkpoint_interval_ms: 60_000,
            token_rate_per_second: 2_000,
            group_commit_max_entries: 4096,
            signature_gather_ms: 20,
            disk_probe_bytes: 64 << 20,
            header_timeout_secs: 10,
            body_timeout_secs: 30,
            request_timeout_secs: 120,
            max_connections: 512,
            max_concurrent_exports: 8,
            export_stall_secs: 30,
            max_concurrent_replays: 2,
            witness_policy: None,
            witness_quorum_alert_ms: 600_000,
            witness_retry_max_ms: 30_000,
            witness_timeout_ms: 10_000,
            publish: None,
            retention: crate::retention::RetentionPolicy::default(),
            snapshots: SnapshotConfig::default(),
            compaction: CompactionConfig::default(),
        }
    }
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid.
    #[error("config {path}: {msg}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        msg: String,
    },
    /// An environment variable has a bad value.
    #[error("environment variable {name}: {msg}")]
    Env {
        /// The variable.
        name: &'static str,
        /// What is wrong.
        msg: String,
    },
    /// The retention policy keeps ledger entries less than the 30-year floor.
    #[error("config: {0}")]
    Retention(String),
    /// A key is not 32 bytes of hex.
    #[error("{what} is not a 64-digit hex Ed25519 public key")]
    BadKey {
        /// Which key.
        what: &'static str,
    },
}

impl Config {
    /// Defaults, then `file` if given, then `ARMSLEDGER_*` environment variables.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut c = match file {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.to_path_buf(),
                    source,
                })?;
                toml::from_str(&text).map_err(|e| ConfigError::Parse {
                    path: p.to_path_buf(),
                    msg: e.to_string(),
                })?
            }
            None => Config::default(),
        };
        c.apply_env(|k| std::env::var(k).ok())?;
        c.retention.check().map_err(ConfigError::Retention)?;
        Ok(c)
    }

    /// Overrides fields from environment variables read through `get`.
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        fn parse<T: std::str::FromStr>(name: &'static str, v: &str) -> Result<T, ConfigError>
        where
            T::Err: std::fmt::Display,
        {
            v.parse().map_err(|e: T::Err| ConfigError::Env {
                name,
                msg: e.to_string(),
            })
        }
        if let Some(v) = get("ARMSLEDGER_DATA") {
            self.data_dir = v.into();
        }
        if let Some(v) = get("ARMSLEDGER_LISTEN") {
            self.listen = parse("ARMSLEDGER_LISTEN", &v)?;
        }
        if let Some(v) = get("ARMSLEDGER_ORIGIN") {
            self.origin = Some(v);
        }
        if let Some(v) = get("ARMSLEDGER_ORIGIN_PREFIX") {
            self.origin_prefix = v;
        }
        if let Some(v) = get("ARMSLEDGER_REGULATOR_KEY") {
            self.regulator_key = Some(v);
        }
        if let Some(v) = get("ARMSLEDGER_MANUFACTURER_ROOTS") {
            self.manufacturer_roots = v
                .split(',')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
        }
        if let Some(v) = get("ARMSLEDGER_MAX_BODY_BYTES") {
            self.max_body_bytes = parse("ARMSLEDGER_MAX_BODY_BYTES", &v)?;
        }
        if let Some(v) = get("ARMSLEDGER_WITNESS_POLICY") {
            self.witness_policy = Some(v.into());
        }
        if let Some(v) = get("ARMSLEDGER_CHECKPOINT_INTERVAL_MS") {
            self.checkpoint_interval_ms = parse("ARMSLEDGER_CHECKPOINT_INTERVAL_MS", &v)?;
        }
        if let Some(v) = get("ARMSLEDGER_SNAPSHOT_EVERY_ENTRIES") {
            self.snapshots.every_entries = parse("ARMSLEDGER_SNAPSHOT_EVERY_ENTRIES", &v)?;
        }
        if let Some(v) = get("ARMSLEDGER_SNAPSHOT_INTERVAL_SECS") {
            self.snapshots.interval_secs = parse("ARMSLEDGER_SNAPSHOT_INTERVAL_SECS", &v)?;
        }
        if let Some(v) = get("ARMSLEDGER_SNAPSHOTS_KEPT") {
            self.snapshots.kept = parse("ARMSLEDGER_SNAPSHOTS_KEPT", &v)?;
        }
        if let Some(v) = get("ARMSLEDGER_NO_SNAPSHOT") {
            self.snapshots.enabled = !parse::<bool>("ARMSLEDGER_NO_SNAPSHOT", &v)?;
        }
        Ok(())
    }

    /// The manufacturer roots as keys.
    pub fn roots(&self) -> Result<Vec<[u8; 32]>, ConfigError> {
        self.manufacturer_roots
            .iter()
            .map(|h| parse_key(h, "a manufacturer root"))
            .collect()
    }
}

/// File names inside the server's data directory.
pub mod files {
    /// The global log's redb file.
    pub const LOG_REDB: &str = "log.redb";
    /// The checkpoint signing key (C2SP signer key text; keep it private).
    pub const LOG_KEY: &str = "log.key";
    /// The log's C2SP verifier key, for auditors and sites.
    pub const LOG_VKEY: &str = "log.vkey";
    /// The regulator chain's key, pinned at first start (hex).
    pub const REGULATOR_PUB: &str = "regulator.pub";
    /// Bearer tokens (hashes, roles, labels; keep it private).
    pub const TOKENS_JSON: &str = "tokens.json";
    /// The manufacturer roots, pinned at the first start that gives any (hex, one a line).
    pub const MANUFACTURER_ROOTS: &str = "manufacturer-roots.pub";
    /// The rules snapshots (`rules-<size>.snap`, docs/formats.md).
    pub const SNAPSHOTS: &str = "snapshots";
}

/// Parses a 64-digit hex public key (with core's one parser), naming `what`
/// in the error.
pub fn parse_key(hex_key: &str, what: &'static str) -> Result<[u8; 32], ConfigError> {
    armsledger_core::keys::parse_key_hex(hex_key).map_err(|_| ConfigError::BadKey { what })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_defaults() {
        let mut c = Config::default();
        c.apply_env(|k| match k {
            "ARMSLEDGER_LISTEN" => Some("127.0.0.1:9999".into()),
            "ARMSLEDGER_MANUFACTURER_ROOTS" => {
                Some(format!("{},{}", "00".repeat(32), "11".repeat(32)))
            }
            _ => None,
        })
        .unwrap();
        assert_eq!(c.listen.port(), 9999);
        assert_eq!(c.roots().unwrap().len(), 2);
        let err = c.apply_env(|k| (k == "ARMSLEDGER_LISTEN").then(|| "nowhere".into()));
        assert!(matches!(
            err,
            Err(ConfigError::Env {
                name: "ARMSLEDGER_LISTEN",
                ..
            })
        ));
    }

    #[test]
    fn toml_refuses_unknown_fields() {
        assert!(toml::from_str::<Config>("listen = \"127.0.0.1:1\"\n").is_ok());
        assert!(toml::from_str::<Config>("lisen = \"127.0.0.1:1\"\n").is_err());
        // The rate's old name still reads.
        let c: Config = toml::from_str("chain_rate_per_second = 7\n").unwrap();
        assert_eq!(c.token_rate_per_second, 7);
    }

    #[test]
    fn the_retention_policy_loads_and_is_refused_below_the_entry_floor() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        // Unset keys keep their defaults.
        std::fs::write(&file, "[retention]\nperson_days = 1\n").unwrap();
        let c = Config::load(Some(&file)).unwrap();
        assert_eq!(c.retention.person_days, 1);
        assert_eq!(c.retention.entries_years, 30);
        assert_eq!(c.retention.case_days, 3650);
        std::fs::write(&file, "[retention]\nperson_dayz = 1\n").unwrap();
        assert!(matches!(
            Config::load(Some(&file)),
            Err(ConfigError::Parse { .. })
        ));
        std::fs::write(&file, "[retention]\nentries_years = 29\n").unwrap();
        let err = Config::load(Some(&file)).unwrap_err();
        assert!(matches!(err, ConfigError::Retention(_)), "{err}");
        assert!(err.to_string().contains("at least 30 years"), "{err}");
    }
}
