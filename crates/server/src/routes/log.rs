//! The log's read side: checkpoints, the verifier key and hash tiles are
//! public (they reveal only hashes); entry bundles and proofs need a token.

use std::sync::Arc;

use armsledger_core::hash::Hash;
use armsledger_log::{Tile, TileKind};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::routes::auth::Caller;
use crate::routes::extract::{Path, Query};
use crate::state::Shared;

fn text(body: String, cache: &'static str) -> Response {
    let mut r = body.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    r
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(e.to_string())
}

/// The latest signed checkpoint (C2SP tlog-checkpoint signed note), with
/// any witness cosignatures gathered for it.
#[utoipa::path(get, path = "/checkpoint", tag = "log",
    responses((status = 200, description = "signed note", content_type = "text/plain"), (status = 404, description = "no checkpoint yet")))]
pub async fn checkpoint(State(shared): State<Arc<Shared>>) -> Result<Response, ApiError> {
    let latest = shared.latest_checkpoint();
    match latest {
        Some(p) => {
            let cosigned = shared.witnessing().cosignatures_for(p.size, &p.note);
            Ok(text(p.note + &cosigned, "no-cache, max-age=1"))
        }
        None => Err(ApiError::NotFound(
            "no checkpoint has been signed yet".into(),
        )),
    }
}

/// The checkpoint offered to witnesses (it moves on a slower cadence), with
/// the cosignatures gathered for it so far.
#[utoipa::path(get, path = "/v1/checkpoint/stable", tag = "log",
    responses((status = 200, description = "signed note", content_type = "text/plain"), (status = 404, description = "none yet")))]
pub async fn stable_checkpoint(State(shared): State<Arc<Shared>>) -> Result<Response, ApiError> {
    let stable = shared.stable_checkpoint();
    match stable {
        Some(p) => {
            let cosigned = shared.witnessing().cosignatures_for(p.size, &p.note);
            Ok(text(p.note + &cosigned, "no-cache, max-age=10"))
        }
        None => Err(ApiError::NotFound("no stable checkpoint yet".into())),
    }
}

/// The log's verifier key (C2SP vkey).
#[utoipa::path(get, path = "/v1/log/key", tag = "log",
    responses((status = 200, description = "vkey text", content_type = "text/plain")))]
pub async fn log_key(State(shared): State<Arc<Shared>>) -> Response {
    text(format!("{}\n", shared.log_vkey()), "public, max-age=3600")
}

/// A C2SP tile: `tile/<L>/<N>[.p/<W>]` (public) or `tile/entries/<N>[.p/<W>]` (token).
#[utoipa::path(get, path = "/tile/{path}", tag = "log",
    params(("path" = String, Path, description = "C2SP tile path after tile/")),
    responses((status = 200, description = "tile bytes", content_type = "application/octet-stream"),
        (status = 400, description = "malformed path"), (status = 401, description = "entry bundles need a token"),
        (status = 404, description = "beyond the tree")))]
pub async fn tile(
    State(shared): State<Arc<Shared>>,
    Path(path): Path<String>,
    caller: Option<Caller>,
) -> Result<Response, ApiError> {
    let full = format!("tile/{path}");
    let t = Tile::from_path(&full).map_err(|e| ApiError::BadRequest(format!("{full}: {e}")))?;
    if t.kind() == TileKind::Entries {
        caller
            .ok_or(ApiError::Unauthenticated)?
            .need_all("read entry bundles")?;
    }
    let reader = shared.store().read().map_err(internal)?;
    let bytes = reader.tile(&t).map_err(|e| match e {
        armsledger_store::StoreError::SizeBeyondLog { .. } => {
            ApiError::NotFound(format!("{full} is beyond the tree"))
        }
        other => ApiError::NotFound(format!("{full}: {other}")),
    })?;
    let mut r = bytes.into_response();
    let cache = if t.is_partial() {
        "public, max-age=5"
    } else {
        "public, max-age=31536000, immutable"
    };
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    Ok(r)
}

/// Query of an inclusion proof.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct InclusionQuery {
    /// Entry hash (hex).
    pub hash: String,
    /// Tree size the proof must be for (a signed checkpoint's size).
    pub size: u64,
}

/// An inclusion proof.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InclusionProof {
    /// Log index of the entry.
    pub index: u64,
    /// Tree size.
    pub size: u64,
    /// Leaf hash (hex): SHA-256(0x00 || received_at (u64 BE ms) || entry bytes).
    pub leaf: String,
    /// When the log received the entry, milliseconds since the Unix epoch
    /// (the leaf's first 8 bytes).
    pub received_at_ms: u64,
    /// Proof hashes (hex).
    pub proof: Vec<String>,
}

/// The inclusion proof of an entry in the tree of a stated size.
#[utoipa::path(get, path = "/v1/proof/inclusion", tag = "log", params(InclusionQuery),
    responses((status = 200, body = InclusionProof), (status = 404, description = "not in the log or not at that size")),
    security(("bearer" = [])))]
pub async fn inclusion(
    State(shared): State<Arc<Shared>>,
    _caller: Caller,
    Query(q): Query<InclusionQuery>,
) -> Result<Json<InclusionProof>, ApiError> {
    let h: Hash = q
        .hash
        .parse()
        .map_err(|_| ApiError::BadRequest("hash must be 64 hex digits".into()))?;
    let reader = shared.store().read().map_err(internal)?;
    let index = reader
        .index_of_hash(&h)
        .map_err(internal)?
        .ok_or_else(|| ApiError::NotFound(format!("no entry {h} in the log")))?;
    if index >= q.size || q.size > reader.size() {
        return Err(ApiError::NotFound(format!(
            "entry {h} (index {index}) is not in a tree of size {} (log size {})",
            q.size,
            reader.size()
        )));
    }
    let proof = reader.inclusion_proof(index, q.size).map_err(internal)?;
    let leaf = reader
        .leaf_data(index)
        .map_err(internal)?
        .unwrap_or_default();
    Ok(Json(InclusionProof {
        index,
        size: q.size,
        leaf: armsledger_log::leaf_hash(&leaf).to_string(),
        received_at_ms: reader.received_at(index).map_err(internal)?.millis(),
        proof: proof.iter().map(|h| h.to_string()).collect(),
    }))
}

/// Query of a consistency proof.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ConsistencyQuery {
    /// The older tree size.
    pub old: u64,
    /// The newer tree size.
    pub new: u64,
}

/// A consistency proof.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConsistencyProof {
    /// Older size.
    pub old: u64,
    /// Newer size.
    pub new: u64,
    /// Proof hashes (hex).
    pub proof: Vec<String>,
}

/// The consistency proof between two tree sizes.
#[utoipa::path(get, path = "/v1/proof/consistency", tag = "log", params(ConsistencyQuery),
    responses((status = 200, body = ConsistencyProof), (status = 400, description = "old > new or beyond the log")),
    security(("bearer" = [])))]
pub async fn consistency(
    State(shared): State<Arc<Shared>>,
    _caller: Caller,
    Query(q): Query<ConsistencyQuery>,
) -> Result<Json<ConsistencyProof>, ApiError> {
    let reader = shared.store().read().map_err(internal)?;
    if q.old > q.new || q.new > reader.size() {
        return Err(ApiError::BadRequest(format!(
            "need old <= new <= {} (the log size); got old={} new={}",
            reader.size(),
            q.old,
            q.new
        )));
    }
    let proof = reader
        .consistency_proof(q.old, q.new)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    Ok(Json(ConsistencyProof {
        old: q.old,
        new: q.new,
        proof: proof.iter().map(|h| h.to_string()).collect(),
    }))
}
