//! The one error type of this crate.
//!
//! Reading a bundle stops at the first framing error, which names the record
//! (0-based, the Meta record is 0) and the byte offset where it starts. The
//! offline verifier turns these into report problems (CLI exit 1); only
//! [`BundleError::Io`] and [`BundleError::State`] are operational failures
//! (CLI exit 2). A server writing a bundle maps every variant to HTTP 500: it
//! only writes what it built itself.

use std::io;
use std::path::PathBuf;

/// Why a bundle could not be read, written or verified.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// Reading or writing the underlying file or stream failed (exit 2).
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// The file does not start with the bundle magic line.
    #[error(
        "not an armsledger bundle: the file does not start with \"armsledger-bundle/v3\\n\" (or v2)"
    )]
    BadMagic,
    /// A bundle of a format this release no longer verifies (format epoch
    /// 1: leaves without receipt times, entries of format v1).
    #[error(
        "a bundle of format v{version} (format epoch 1): this release verifies v2 and v3 only; verify it \
         with {release}",
        release = crate::EPOCH_1_RELEASE
    )]
    FormatRetired {
        /// The bundle format version found in the magic line.
        version: u8,
    },
    /// A record kind byte this version does not know.
    #[error("record {record} at byte {offset}: unknown record kind 0x{kind:02x}")]
    UnknownKind {
        /// The kind byte.
        kind: u8,
        /// Record number.
        record: u64,
        /// Byte offset of the record header.
        offset: u64,
    },
    /// A record's length is over the cap for its kind; nothing was allocated.
    #[error("record {record} at byte {offset}: {kind} of {len} bytes is over its {max}-byte limit")]
    TooLarge {
        /// Record kind name.
        kind: &'static str,
        /// Stated or offered length.
        len: u64,
        /// The cap.
        max: u64,
        /// Record number.
        record: u64,
        /// Byte offset of the record header.
        offset: u64,
    },
    /// The file ends inside a record (cut short).
    #[error("record {record} at byte {offset}: the file ends inside the record (truncated)")]
    Truncated {
        /// Record number.
        record: u64,
        /// Byte offset of the record header.
        offset: u64,
    },
    /// The file ends cleanly between records but before the End record.
    #[error("record {record} at byte {offset}: the file ends without an End record (truncated)")]
    MissingEnd {
        /// Number the End record would have had.
        record: u64,
        /// File length.
        offset: u64,
    },
    /// A record's payload does not decode as its kind.
    #[error("record {record} at byte {offset}: malformed {kind}: {reason}")]
    Malformed {
        /// Record kind name.
        kind: &'static str,
        /// Record number.
        record: u64,
        /// Byte offset of the record header.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// The End record's SHA-256 does not match the bytes before it (altered or spliced).
    #[error(
        "record {record} at byte {offset}: the End digest does not match the bundle bytes (altered, spliced or truncated)"
    )]
    EndDigestMismatch {
        /// Record number of End.
        record: u64,
        /// Byte offset of End.
        offset: u64,
    },
    /// The End record's entry count does not match the Entry records read.
    #[error(
        "record {record} at byte {offset}: End states {stated} entries but the bundle holds {counted}"
    )]
    EndCountMismatch {
        /// What End states.
        stated: u64,
        /// What was read.
        counted: u64,
        /// Record number of End.
        record: u64,
        /// Byte offset of End.
        offset: u64,
    },
    /// Bytes follow the End record.
    #[error("byte {offset}: data after the End record")]
    TrailingBytes {
        /// Offset of the first extra byte.
        offset: u64,
    },
    /// A writer was used out of the bundle's record order.
    #[error("bundle writer: {0}")]
    OutOfOrder(&'static str),
    /// A value could not be encoded.
    #[error("cannot encode {what}: {reason}")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// Why it failed.
        reason: String,
    },
    /// A log operation failed while building a bundle (checkpoint signing, proofs).
    #[error("log: {0}")]
    Log(#[from] armsledger_log::LogError),
    /// The verifiable index could not be computed over the log's entries
    /// (a leaf over its limits).
    #[error("verifiable index: {0}")]
    Index(String),
    /// The trusted-state file cannot be read or written (exit 2: fix the path or the file).
    #[error("trusted state {}: {reason}", path.display())]
    State {
        /// The state file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

impl BundleError {
    /// The record number and byte offset an error points at, when it has them.
    pub fn location(&self) -> (Option<u64>, Option<u64>) {
        match self {
            BundleError::UnknownKind { record, offset, .. }
            | BundleError::TooLarge { record, offset, .. }
            | BundleError::Truncated { record, offset }
            | BundleError::MissingEnd { record, offset }
            | BundleError::Malformed { record, offset, .. }
            | BundleError::EndDigestMismatch { record, offset }
            | BundleError::EndCountMismatch { record, offset, .. } => {
                (Some(*record), Some(*offset))
            }
            BundleError::BadMagic | BundleError::FormatRetired { .. } => (None, Some(0)),
            BundleError::TrailingBytes { offset } => (None, Some(*offset)),
            _ => (None, None),
        }
    }
}
