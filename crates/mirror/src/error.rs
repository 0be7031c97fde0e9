//! What can go wrong while mirroring.

use std::path::PathBuf;

/// Why a mirror step or start failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MirrorError {
    /// The mirror's options cannot be used.
    #[error("mirror configuration: {0}")]
    Config(String),
    /// The origin could not be read (retried at the next step).
    #[error("fetching {url}: {reason}")]
    Fetch {
        /// What was fetched.
        url: String,
        /// Why it failed.
        reason: String,
    },
    /// The origin served something malformed or unsigned (retried; nothing kept).
    #[error("the origin served {what}: {reason}")]
    Malformed {
        /// What.
        what: String,
        /// Why it is refused.
        reason: String,
    },
    /// The origin's log contradicts the copy held: a fork, a rollback, or
    /// data that does not match its own checkpoint. Evidence is kept and
    /// the mirror stops following.
    #[error("REFUSED ({kind}): {reason}; evidence in {}", evidence.display())]
    Refused {
        /// `fork`, `rollback`, `inconsistent`, `bad-entry`, `index` (the
        /// verifiable index root differs from the checkpoint's `armsledger-index/v1` line).
        kind: &'static str,
        /// What was seen.
        reason: String,
        /// The evidence directory.
        evidence: PathBuf,
    },
    /// The mirror refused earlier and follows no more until `DIR/REFUSED` is removed.
    #[error(
        "this mirror refused its origin before ({0}); remove DIR/REFUSED after looking at DIR/evidence to follow again"
    )]
    Stopped(String),
    /// The mirror's own files.
    #[error("{path}: {reason}")]
    Disk {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}
