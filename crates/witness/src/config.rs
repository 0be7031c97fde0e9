//! Where the witness keeps its files, and the known-logs file.
//!
//! The known-logs file lists the logs to witness, one `log <verifier key>`
//! line each (the `log` line of C2SP tlog-policy; a URL after the key is
//! allowed and ignored). `#` starts a comment line. Logs and keys are added
//! to the witness's redb at start; removing a line removes nothing (see
//! [`crate::Store::add_logs`]).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use armsledger_log::LogVerifier;

use crate::WitnessError;

/// Largest known-logs file read.
const MAX_LOGS_FILE_BYTES: u64 = 1024 * 1024;

/// How to run a witness.
#[derive(Clone, Debug)]
pub struct Config {
    /// Holds `witness.redb`.
    pub data_dir: PathBuf,
    /// The key file made by [`crate::init_key`].
    pub key_file: PathBuf,
    /// The known-logs file.
    pub logs_file: PathBuf,
    /// Where to listen.
    pub listen: SocketAddr,
}

impl Config {
    /// `data_dir/witness.key`, `data_dir/logs`, listening on 127.0.0.1:7380.
    pub fn new(data_dir: &Path) -> Self {
        Self {
            data_dir: data_dir.to_owned(),
            key_file: data_dir.join("witness.key"),
            logs_file: data_dir.join("logs"),
            listen: SocketAddr::from(([127, 0, 0, 1], 7380)),
        }
    }

    /// The redb file.
    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("witness.redb")
    }
}

/// Reads a known-logs file.
pub fn read_logs_file(path: &Path) -> Result<Vec<LogVerifier>, WitnessError> {
    let fail = |line: usize, reason: String| WitnessError::LogsFile {
        path: path.to_owned(),
        line,
        reason,
    };
    let len = std::fs::metadata(path)
        .map_err(|e| fail(0, e.to_string()))?
        .len();
    if len > MAX_LOGS_FILE_BYTES {
        return Err(fail(0, format!("over {MAX_LOGS_FILE_BYTES} bytes")));
    }
    let text = std::fs::read_to_string(path).map_err(|e| fail(0, e.to_string()))?;
    parse_logs(&text).map_err(|(line, reason)| fail(line, reason))
}

/// Parses known-logs text; errors carry the line number.
pub fn parse_logs(text: &str) -> Result<Vec<LogVerifier>, (usize, String)> {
    let mut logs = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let tokens: Vec<&str> = line.split_ascii_whitespace().collect();
        match tokens.as_slice() {
            [] => {}
            [first, ..] if first.starts_with('#') => {}
            ["log", vkey] | ["log", vkey, _] => {
                let key = LogVerifier::from_vkey(vkey).map_err(|e| (n + 1, e.to_string()))?;
                logs.push(key);
            }
            _ => {
                return Err((
                    n + 1,
                    "expected `log <verifier key> [url]` (the log's origin is the key's name)"
                        .into(),
                ));
            }
        }
    }
    Ok(logs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_file_lines() {
        let key = armsledger_log::LogKey::from_seed("log.example", &[1; 32])
            .unwrap()
            .verifier();
        let logs = parse_logs(&format!("# c\n\nlog {key}\nlog {key} https://x\n")).unwrap();
        assert_eq!(logs, [key.clone(), key.clone()]);
        assert_eq!(parse_logs("log x").unwrap_err().0, 1);
        assert_eq!(parse_logs(&format!("\nwitness {key}")).unwrap_err().0, 2);
    }
}
