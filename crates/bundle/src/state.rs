//! The verifier's memory: the last checkpoint it trusted for each log, so a
//! later bundle from a rolled-back or forked log is refused (the Go sumdb
//! lesson: a client that forgets cannot detect a fork).
//!
//! The file is JSON, written atomically (temporary file, then rename):
//!
//! ```json
//! {"format":"armsledger-trusted-state/v1","logs":{"ledger.example/armsledger/v1":
//!   {"size":7,"root":"ddb8…4c8c","log_key":"ledger.example/armsledger/v1+0fb51acb+AQOh…","checkpoint":"ledger.example/…",
//!    "pinned_at":"2026-12-02T09:30:00Z"}}}
//! ```
//!
//! `pinned_at` (when the key was first trusted) is optional: files written
//! before it existed are read as they are.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::BundleError;

/// Format tag of the state file.
pub const STATE_FORMAT: &str = "armsledger-trusted-state/v1";

/// Largest state file read.
const MAX_STATE_BYTES: u64 = 16 * 1024 * 1024;

/// What the verifier trusts about one log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustedLog {
    /// Tree size of the last trusted checkpoint.
    pub size: u64,
    /// Its root, 64 hex digits.
    pub root: String,
    /// The log verifier key it was opened with (pinned for later bundles).
    pub log_key: String,
    /// The signed checkpoint note, verbatim.
    pub checkpoint: String,
    /// When `log_key` was first trusted (RFC 3339 UTC), if recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned_at: Option<String>,
}

/// Every log the verifier has trusted, by origin.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustedState {
    /// Always [`STATE_FORMAT`].
    pub format: String,
    /// Per log origin.
    pub logs: BTreeMap<String, TrustedLog>,
}

impl TrustedState {
    /// Loads the state; a missing file is an empty state.
    pub fn load(path: &Path) -> Result<Self, BundleError> {
        let err = |reason: String| BundleError::State {
            path: path.to_path_buf(),
            reason,
        };
        let bytes = match std::fs::metadata(path) {
            Ok(m) if m.len() > MAX_STATE_BYTES => {
                return Err(err(format!("over {MAX_STATE_BYTES} bytes")));
            }
            Ok(_) => std::fs::read(path).map_err(|e| err(e.to_string()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(TrustedState::empty());
            }
            Err(e) => return Err(err(e.to_string())),
        };
        let state: TrustedState = serde_json::from_slice(&bytes).map_err(|e| {
            err(format!(
                "not a trusted-state file ({e}); move it aside to start over"
            ))
        })?;
        if state.format != STATE_FORMAT {
            return Err(err(format!(
                "format {:?}, expected {STATE_FORMAT:?}",
                state.format
            )));
        }
        Ok(state)
    }

    /// An empty state.
    pub fn empty() -> Self {
        TrustedState {
            format: STATE_FORMAT.to_owned(),
            logs: BTreeMap::new(),
        }
    }

    /// Writes the state atomically next to `path`, creating its directory.
    pub fn save(&self, path: &Path) -> Result<(), BundleError> {
        let err = |reason: String| BundleError::State {
            path: path.to_path_buf(),
            reason,
        };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&dir).map_err(|e| err(e.to_string()))?;
        let mut tmp = tempfile::NamedTempFile::new_in(&dir).map_err(|e| err(e.to_string()))?;
        let json = serde_json::to_vec_pretty(self).map_err(|e| err(e.to_string()))?;
        tmp.write_all(&json).map_err(|e| err(e.to_string()))?;
        tmp.as_file().sync_all().map_err(|e| err(e.to_string()))?;
        tmp.persist(path).map_err(|e| err(e.to_string()))?;
        Ok(())
    }
}

/// The default state file: `<user data dir>/armsledger/trusted-state.json`
/// (`~/.local/share` on Linux), or `None` when the platform has no data dir.
pub fn default_state_path() -> Option<PathBuf> {
    dirs::data_dir().map(|d| d.join("armsledger").join("trusted-state.json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_is_empty_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("state.json");
        let mut s = TrustedState::load(&path).unwrap();
        assert!(s.logs.is_empty());
        s.logs.insert(
            "o".into(),
            TrustedLog {
                size: 1,
                root: "00".repeat(32),
                log_key: "k".into(),
                checkpoint: "c".into(),
                pinned_at: Some("2026-12-02T09:30:00Z".into()),
            },
        );
        s.save(&path).unwrap();
        assert_eq!(TrustedState::load(&path).unwrap(), s);
        // A file written before `pinned_at` existed still reads.
        std::fs::write(
            &path,
            br#"{"format":"armsledger-trusted-state/v1","logs":{"o":{"size":1,"root":"00","log_key":"k","checkpoint":"c"}}}"#,
        )
        .unwrap();
        assert_eq!(TrustedState::load(&path).unwrap().logs["o"].pinned_at, None);
        std::fs::write(&path, b"{").unwrap();
        assert!(matches!(
            TrustedState::load(&path),
            Err(BundleError::State { .. })
        ));
    }
}
