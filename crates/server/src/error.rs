//! The one place where failures become HTTP responses: a JSON problem
//! document (RFC 9457) naming the problem. Internal details (paths, redb
//! messages) are logged, never sent.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// A request that failed, and why.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// No bearer token, or an unknown or revoked one.
    #[error("a valid bearer token is required")]
    Unauthenticated,
    /// The token's role may not see or do this.
    #[error("role {role} may not {what}")]
    Forbidden {
        /// The role presented.
        role: String,
        /// What was attempted.
        what: String,
    },
    /// Nothing at that path or with that key.
    #[error("{0}")]
    NotFound(String),
    /// The request is malformed (bad JSON, bad parameter, undecodable entry).
    #[error("{0}")]
    BadRequest(String),
    /// The route exists but not for this method.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The body or batch is over a limit; nothing was read past it.
    #[error("{0}")]
    TooLarge(String),
    /// An entry in the batch failed an authenticity check; nothing of the batch was stored.
    #[error("entry {index} ({chain} #{counter}): {reason}")]
    Rejected {
        /// Position in the batch.
        index: usize,
        /// Chain.
        chain: String,
        /// Counter.
        counter: u64,
        /// Entry hash.
        hash: String,
        /// Why.
        reason: String,
    },
    /// The entry conflicts with what the log holds (a fork); recorded as equivocation.
    #[error("entry {index} ({chain} #{counter}) conflicts with the logged entry for that counter")]
    Equivocation {
        /// Position in the batch.
        index: usize,
        /// Chain.
        chain: String,
        /// Counter.
        counter: u64,
    },
    /// Too many requests with this token; try later.
    #[error("rate limit exceeded for {0}; retry later")]
    RateLimited(String),
    /// The server is already doing as much of this as it allows at once
    /// (exports, point-in-time replays); try again shortly.
    #[error("{0}")]
    Busy(String),
    /// The answer needs a signed checkpoint and there is none yet (a server
    /// that has signed none since it opened its log, a mirror that has not
    /// followed its origin yet); retry shortly.
    #[error("{0}")]
    NoCheckpoint(String),
    /// The request took longer than its deadline; its work was stopped.
    #[error("{0}")]
    TimedOut(String),
    /// The store refuses writes (disk full or failing); acknowledged data is safe.
    #[error("the log cannot accept entries right now: {0}")]
    Unavailable(String),
    /// The disk is full or a write failed: new entries are refused until the
    /// recovery thread sees writes work again; nothing of the request was
    /// acknowledged, everything acknowledged before is durable.
    #[error("{}", .0.message())]
    DiskFault(crate::disk::DiskFault),
    /// A bug or an I/O failure; details are in the server log.
    #[error("internal error")]
    Internal(String),
}

/// Seconds a client is told to wait before retrying after a disk fault.
pub const DISK_RETRY_AFTER_SECS: u32 = 5;

impl From<crate::disk::WriteError> for ApiError {
    fn from(e: crate::disk::WriteError) -> Self {
        match e {
            crate::disk::WriteError::Fault(f) => ApiError::DiskFault(f),
            crate::disk::WriteError::Store(e) => ApiError::Unavailable(e.to_string()),
        }
    }
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    title: String,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    entry: Option<EntryProblem<'a>>,
}

#[derive(Serialize)]
struct EntryProblem<'a> {
    index: usize,
    chain: &'a str,
    counter: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    hash: Option<&'a str>,
}

impl ApiError {
    /// The HTTP status for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthenticated => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Rejected { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Equivocation { .. } => StatusCode::CONFLICT,
            ApiError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Busy(_) | ApiError::NoCheckpoint(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::TimedOut(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::DiskFault(_) => StatusCode::INSUFFICIENT_STORAGE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            ApiError::Unauthenticated => "unauthenticated",
            ApiError::Forbidden { .. } => "forbidden",
            ApiError::NotFound(_) => "not-found",
            ApiError::BadRequest(_) => "bad-request",
            ApiError::MethodNotAllowed(_) => "method-not-allowed",
            ApiError::TooLarge(_) => "too-large",
            ApiError::Rejected { .. } => "entry-rejected",
            ApiError::Equivocation { .. } => "equivocation",
            ApiError::RateLimited(_) => "rate-limited",
            ApiError::Busy(_) => "busy",
            ApiError::NoCheckpoint(_) => "no-checkpoint",
            ApiError::TimedOut(_) => "timed-out",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::DiskFault(f) => match f.kind {
                crate::disk::FaultKind::Full => "disk-full",
                crate::disk::FaultKind::WriteFailed => "disk-write-failed",
            },
            ApiError::Internal(_) => "internal",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(detail) | ApiError::Unavailable(detail) = &self {
            tracing::error!(%detail, "request failed");
        }
        if let ApiError::DiskFault(f) = &self {
            tracing::warn!(detail = %f.detail, "ingest refused: disk fault");
        }
        let status = self.status();
        let entry = match &self {
            ApiError::Rejected {
                index,
                chain,
                counter,
                hash,
                ..
            } => Some(EntryProblem {
                index: *index,
                chain,
                counter: *counter,
                hash: Some(hash),
            }),
            ApiError::Equivocation {
                index,
                chain,
                counter,
            } => Some(EntryProblem {
                index: *index,
                chain,
                counter: *counter,
                hash: None,
            }),
            _ => None,
        };
        let body = Problem {
            kind: self.kind(),
            title: self.to_string(),
            status: status.as_u16(),
            entry,
        };
        let mut resp = (status, Json(body)).into_response();
        if let Ok(v) = "application/problem+json".parse() {
            resp.headers_mut()
                .insert(axum::http::header::CONTENT_TYPE, v);
        }
        let retry_after = match self {
            ApiError::DiskFault(_) => Some(DISK_RETRY_AFTER_SECS),
            ApiError::Busy(_) | ApiError::RateLimited(_) | ApiError::NoCheckpoint(_) => Some(1),
            _ => None,
        };
        if let Some(secs) = retry_after {
            resp.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(secs),
            );
        }
        resp
    }
}
