//! `POST /v1/entries`: armouries and the regulator push signed entries.
//!
//! Who may push what is decided before any signature is checked: the
//! bearer token must belong to a role that may write every entry's chain
//! (a site its own, the regulator any), and the batch is charged to that
//! token's rate limit. The device signatures then authenticate every entry
//! as before: a token lets a caller in, it vouches for no entry.

use std::sync::Arc;
use std::time::Duration;

use armsledger_core::entry::{MAX_ENTRY_BYTES, SignedEntry};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use crate::error::ApiError;
use crate::limits::BodyTimedOut;
use crate::queue::{Job, Logged};
use crate::routes::auth::Caller;
use crate::routes::extract::Query;
use crate::state::Shared;

/// The JSON form of a batch: entries as hex.
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
pub struct JsonBatch {
    /// Encoded signed entries, hex, in chain order.
    pub entries: Vec<String>,
}

/// Options of an ingest request.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct IngestParams {
    /// Wait until a signed checkpoint covers the batch and return inclusion proofs.
    #[serde(default)]
    pub wait: bool,
}

/// An inclusion proof of one entry against the receipt's checkpoint.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Inclusion {
    /// Log index.
    pub index: u64,
    /// When the log received the entry, milliseconds since the Unix epoch:
    /// the first 8 bytes of its leaf (`received_at ‖ entry`), so the proof
    /// covers it.
    pub received_at_ms: u64,
    /// Tree size the proof is for.
    pub size: u64,
    /// Proof hashes, hex, leaf to root.
    pub proof: Vec<String>,
}

/// What the server answers for a batch.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Receipt {
    /// Each entry's log index and status, in batch order.
    pub entries: Vec<Logged>,
    /// A signed checkpoint covering the batch (with `wait=true`).
    pub checkpoint: Option<String>,
    /// Inclusion proofs against that checkpoint (with `wait=true`).
    pub proofs: Vec<Inclusion>,
}

fn decode_batch(headers: &HeaderMap, body: &[u8], max: usize) -> Result<Vec<Vec<u8>>, ApiError> {
    let json = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let raw: Vec<Vec<u8>> = if json {
        let b: JsonBatch = serde_json::from_slice(body)
            .map_err(|e| ApiError::BadRequest(format!("batch JSON: {e}")))?;
        if b.entries.len() > max {
            return Err(ApiError::TooLarge(format!(
                "{} entries; at most {max} per batch",
                b.entries.len()
            )));
        }
        b.entries
            .iter()
            .enumerate()
            .map(|(i, h)| {
                hex::decode(h).map_err(|e| ApiError::BadRequest(format!("entry {i}: not hex: {e}")))
            })
            .collect::<Result<_, _>>()?
    } else {
        let (count, _) = postcard::take_from_bytes::<u32>(body)
            .map_err(|e| ApiError::BadRequest(format!("batch: {e}")))?;
        if usize::try_from(count).unwrap_or(usize::MAX) > max {
            return Err(ApiError::TooLarge(format!(
                "{count} entries; at most {max} per batch"
            )));
        }
        postcard::from_bytes(body).map_err(|e| ApiError::BadRequest(format!("batch: {e}")))?
    };
    if raw.is_empty() {
        return Err(ApiError::BadRequest("empty batch".into()));
    }
    Ok(raw)
}

/// The body, or why it could not be read: over the size limit (413), not
/// in full by the body deadline (408), or cut off (400).
fn read_body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|r| {
        if let Some(t) = BodyTimedOut::caused(&r) {
            ApiError::TimedOut(t.to_string())
        } else if r.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(r.body_text())
        } else {
            ApiError::BadRequest(r.body_text())
        }
    })
}

/// Verifies, applies and logs a batch; answers once it is durable.
#[utoipa::path(post, path = "/v1/entries", tag = "ingest",
    params(IngestParams),
    request_body(content = JsonBatch, description = "postcard `Vec<Vec<u8>>` (application/octet-stream) or JSON hex"),
    responses(
        (status = 200, description = "logged (or already logged)", body = Receipt),
        (status = 400, description = "malformed batch or entry"),
        (status = 401, description = "no token, or an unknown or revoked one; nothing was read past the headers"),
        (status = 403, description = "the token's role may not write an entry's chain (a site writes its own, the regulator any; auditors and companies none)"),
        (status = 408, description = "the body did not arrive in full within body_timeout_secs"),
        (status = 409, description = "equivocation: another entry holds that counter; proof recorded"),
        (status = 413, description = "body or batch too large"),
        (status = 422, description = "an entry failed an authenticity check; nothing stored"),
        (status = 429, description = "the token is over its rate limit"),
        (status = 503, description = "the log cannot take writes now; nothing acknowledged was lost"),
    ),
    security(("bearer" = [])))]
pub async fn post_entries(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    Query(params): Query<IngestParams>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Receipt>, ApiError> {
    if !shared.regulator_configured() {
        return Err(ApiError::Unavailable(
            "this server has no regulator key yet: restart it with --regulator-key HEX (the key `armsledger regulator init` printed)".into(),
        ));
    }
    let body = read_body(body)?;
    let raw = decode_batch(&headers, &body, shared.config().max_batch_entries)?;
    let mut entries = Vec::with_capacity(raw.len());
    for (i, b) in raw.iter().enumerate() {
        if b.len() > MAX_ENTRY_BYTES {
            return Err(ApiError::TooLarge(format!(
                "entry {i} is {} bytes; at most {MAX_ENTRY_BYTES}",
                b.len()
            )));
        }
        let e =
            SignedEntry::decode(b).map_err(|e| ApiError::BadRequest(format!("entry {i}: {e}")))?;
        if !caller.0.may_write(e.chain()) {
            return Err(caller.forbidden(&format!("write {} (entry {i})", e.chain())));
        }
        entries.push(Arc::new(e));
    }
    // Charged to the token, before any signature work: a flood costs its
    // sender's allowance only, and a token that may not write a chain
    // never reaches it.
    if !shared.take_rate(caller.token_id(), entries.len()) {
        return Err(ApiError::RateLimited(format!(
            "token {} ({})",
            caller.token_id(),
            caller.0
        )));
    }
    let (reply, rx) = oneshot::channel();
    shared.submit(Job { entries, reply }).await?;
    let logged = rx
        .await
        .map_err(|_| ApiError::Unavailable("the sequencer dropped the batch".into()))??;
    let mut receipt = Receipt {
        entries: logged,
        checkpoint: None,
        proofs: Vec::new(),
    };
    if params.wait {
        let need = receipt
            .entries
            .iter()
            .map(|l| l.index)
            .max()
            .map_or(0, |m| m + 1);
        let mut rx = shared.subscribe_checkpoints();
        shared.log_grew();
        let published = tokio::time::timeout(
            Duration::from_secs(10),
            rx.wait_for(|p| p.as_ref().is_some_and(|p| p.size >= need)),
        )
        .await
        .map_err(|_| ApiError::Unavailable("no checkpoint within 10 s".into()))?
        .map_err(|_| ApiError::Unavailable("checkpointer stopped".into()))?
        .clone();
        if let Some(p) = published {
            let reader = shared
                .store()
                .read()
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            for l in &receipt.entries {
                let proof = reader
                    .inclusion_proof(l.index, p.size)
                    .map_err(|e| ApiError::Internal(e.to_string()))?;
                let received = reader
                    .received_at(l.index)
                    .map_err(|e| ApiError::Internal(e.to_string()))?;
                receipt.proofs.push(Inclusion {
                    index: l.index,
                    received_at_ms: received.millis(),
                    size: p.size,
                    proof: proof.iter().map(|h| h.to_string()).collect(),
                });
            }
            receipt.checkpoint = Some(p.note);
        }
    }
    Ok(Json(receipt))
}
