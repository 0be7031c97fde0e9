//! The crate's one error type, and the one place where a witness failure
//! becomes an HTTP response (C2SP tlog-witness status codes, plain text).
//! Internal details (paths, redb messages) are logged, never sent.

use std::path::PathBuf;

use armsledger_log::LogError;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Why the witness, its storage or its client refused or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WitnessError {
    /// The add-checkpoint body is not `old`, proof lines, blank line, note (HTTP 400).
    #[error("malformed add-checkpoint request: {0}")]
    RequestMalformed(&'static str),
    /// The request body is over the limit; nothing past it was read (HTTP 413).
    #[error("request body is over {max} bytes")]
    RequestTooLarge {
        /// The limit.
        max: usize,
    },
    /// The checkpoint does not parse as a C2SP signed checkpoint (HTTP 400).
    #[error("malformed checkpoint: {0}")]
    CheckpointMalformed(#[source] LogError),
    /// The checkpoint's origin is not a log this witness knows (HTTP 404).
    #[error("unknown log {0:?}")]
    UnknownLog(String),
    /// No signature by a trusted key of the log verifies (HTTP 403).
    #[error("checkpoint is not signed by the log: {0}")]
    NotSignedByLog(#[source] LogError),
    /// `old` is larger than the checkpoint's size (HTTP 400).
    #[error("old size {old} is larger than the checkpoint size {size}")]
    OldSizeBeyondCheckpoint {
        /// The old size sent.
        old: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// `old` is not the size this witness last cosigned for the log (HTTP
    /// 409, body `<size>\n`, `text/x.tlog.size`).
    #[error("old size is not the witness's size {witness_size} for this log")]
    OldSizeMismatch {
        /// The size of the witness's latest cosigned checkpoint of the log.
        witness_size: u64,
    },
    /// The consistency proof (or an empty-proof rule) fails (HTTP 422).
    #[error("consistency proof refused: {0}")]
    ProofRefused(#[source] LogError),
    /// The witness cosigned another root at this size: a split view,
    /// refused and kept as evidence (HTTP 422).
    #[error("the witness cosigned another root at size {size}: split view refused")]
    SplitView {
        /// The size both checkpoints claim.
        size: u64,
    },
    /// Nothing at that path (HTTP 404).
    #[error("not found")]
    NotFound,
    /// The witness could not cosign (e.g. its clock reads 0) (HTTP 500).
    #[error("cannot cosign: {0}")]
    CosignFailed(#[source] LogError),
    /// redb failed (HTTP 500).
    #[error("witness storage failed: {0}")]
    Storage(String),
    /// A stored record does not decode (HTTP 500).
    #[error("witness storage is corrupt: {0}")]
    StorageCorrupt(&'static str),
    /// The key file cannot be created, read or parsed.
    #[error("witness key file {path}: {reason}")]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// What went wrong, with the fix where there is one.
        reason: String,
    },
    /// The known-logs file cannot be read or parsed.
    #[error("known-logs file {path}, line {line}: {reason}")]
    LogsFile {
        /// The file.
        path: PathBuf,
        /// The line, from 1 (0: the whole file).
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The listen address cannot be bound, or serving failed.
    #[error("cannot serve on {addr}: {reason}")]
    Serve {
        /// The address.
        addr: String,
        /// Why.
        reason: String,
    },
    /// Client: the witness refused the checkpoint for good (400, 403, 404, 413).
    #[error("witness refused the checkpoint with HTTP {status}: {detail}")]
    WitnessRejected {
        /// The HTTP status.
        status: u16,
        /// The witness's text, cut short.
        detail: String,
    },
    /// Client: the witness holds another root for this size (422, or 409 from
    /// witnesses that follow the spec before C2SP PR #280).
    #[error("witness has cosigned a different root at size {size} (HTTP {status}): split view")]
    WitnessSplitView {
        /// The checkpoint's size.
        size: u64,
        /// 422, or 409 from an older witness.
        status: u16,
    },
    /// Client: the witness refused the consistency proof from its size (422).
    #[error("witness refused the consistency proof from {old} to {size} (HTTP 422)")]
    WitnessProofRefused {
        /// The witness's size the proof started from.
        old: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// Client: the witness has cosigned a larger tree than this checkpoint.
    #[error(
        "witness is at size {witness_size}, beyond this checkpoint's {size}: submit a newer checkpoint"
    )]
    WitnessAhead {
        /// The witness's size.
        witness_size: u64,
        /// This checkpoint's size.
        size: u64,
    },
    /// Client: no usable answer after every attempt.
    #[error("witness unreachable after {attempts} attempts: {last}")]
    WitnessUnreachable {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// Client: the witness answered something the protocol does not allow.
    #[error("witness reply malformed: {0}")]
    WitnessReplyMalformed(&'static str),
    /// Client: the caller could not produce the consistency proof.
    #[error("cannot prove consistency from {old} to {size}: {reason}")]
    ProofUnavailable {
        /// From.
        old: u64,
        /// To.
        size: u64,
        /// Why.
        reason: String,
    },
}

impl WitnessError {
    /// The HTTP status the witness answers with.
    pub fn status(&self) -> StatusCode {
        use WitnessError::*;
        match self {
            RequestMalformed(_) | CheckpointMalformed(_) | OldSizeBeyondCheckpoint { .. } => {
                StatusCode::BAD_REQUEST
            }
            RequestTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            UnknownLog(_) | NotFound => StatusCode::NOT_FOUND,
            NotSignedByLog(_) => StatusCode::FORBIDDEN,
            OldSizeMismatch { .. } => StatusCode::CONFLICT,
            ProofRefused(_) | SplitView { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<redb::Error> for WitnessError {
    fn from(e: redb::Error) -> Self {
        Self::Storage(e.to_string())
    }
}

macro_rules! storage_errors {
    ($($t:ty),*) => {$(
        impl From<$t> for WitnessError {
            fn from(e: $t) -> Self {
                Self::from(redb::Error::from(e))
            }
        }
    )*};
}

storage_errors!(
    redb::StorageError,
    redb::TableError,
    redb::TransactionError,
    redb::CommitError,
    redb::DatabaseError
);

impl IntoResponse for WitnessError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let WitnessError::OldSizeMismatch { witness_size } = self {
            return (
                status,
                [(header::CONTENT_TYPE, "text/x.tlog.size")],
                format!("{witness_size}\n"),
            )
                .into_response();
        }
        let text = if status.is_server_error() {
            tracing::error!(error = %self, "add-checkpoint failed");
            "internal error\n".to_owned()
        } else {
            tracing::info!(error = %self, status = status.as_u16(), "request refused");
            format!("{self}\n")
        };
        (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            text,
        )
            .into_response()
    }
}
