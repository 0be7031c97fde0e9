//! Token management for the regulator, and health and metrics endpoints.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::routes::auth::Caller;
use crate::routes::extract::{JsonBody, Path};
use crate::state::Shared;
use crate::tokens::{Role, TokenRecord};

/// A token to create.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewToken {
    /// `regulator`, `auditor`, `company:<id>` or `site:<id>`.
    #[schema(value_type = String)]
    pub role: Role,
    /// A label for people.
    pub label: String,
}

/// A created token: the secret is shown once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    /// The bearer token. Store it now; the server keeps only its hash.
    pub token: String,
    /// Its record.
    #[schema(value_type = Object)]
    pub record: TokenRecord,
}

/// Creates a token (regulator only).
#[utoipa::path(post, path = "/v1/tokens", tag = "admin", request_body = NewToken,
    responses((status = 200, body = CreatedToken), (status = 403, description = "regulator only")),
    security(("bearer" = [])))]
pub async fn create_token(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    JsonBody(req): JsonBody<NewToken>,
) -> Result<Json<CreatedToken>, ApiError> {
    caller.need_regulator("create tokens")?;
    let (token, record) = shared
        .tokens()
        .create(req.role, &req.label, shared.now())
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(CreatedToken { token, record }))
}

/// Lists tokens, without secrets (regulator only).
#[utoipa::path(get, path = "/v1/tokens", tag = "admin",
    responses((status = 200, body = Vec<Object>)), security(("bearer" = [])))]
pub async fn list_tokens(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
) -> Result<Json<Vec<TokenRecord>>, ApiError> {
    caller.need_regulator("list tokens")?;
    shared
        .tokens()
        .list()
        .map(Json)
        .map_err(|e| ApiError::Internal(e.to_string()))
}

/// Revokes a token by id (regulator only).
#[utoipa::path(delete, path = "/v1/tokens/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 404, description = "no such token")),
    security(("bearer" = [])))]
pub async fn revoke_token(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<TokenRecord>, ApiError> {
    caller.need_regulator("revoke tokens")?;
    shared
        .tokens()
        .revoke(&id, shared.now())
        .map(Json)
        .map_err(|e| match e {
            crate::tokens::TokenError::NotFound(id) => ApiError::NotFound(format!("no token {id}")),
            other => ApiError::Internal(other.to_string()),
        })
}

/// Liveness, the log size, and whether ingest is open: `"status":
/// "degraded"` with the fault while a full or failing disk stops ingest
/// (reads are still served), or while the object-storage publisher is on
/// an alarm or further behind than `publish.alert_lag_secs`.
#[utoipa::path(get, path = "/healthz", tag = "admin", responses((status = 200, body = Object)))]
pub async fn healthz(
    State(shared): State<Arc<Shared>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let fault = shared.store().fault();
    let size = match shared.store().read() {
        Ok(r) => Some(r.size()),
        // Between a disk fault and the re-open, the store answers nothing.
        Err(_) if fault.is_some() => None,
        Err(e) => return Err(ApiError::Unavailable(e.to_string())),
    };
    let checkpoint = shared.latest_checkpoint().as_ref().map(|p| p.size);
    let disk = fault.map(
        |f| serde_json::json!({"fault": f.kind, "since": armsledger_core::ids::Timestamp(f.since_ms), "message": f.message()}),
    );
    let publish = crate::publish::health(&shared);
    let publish_bad = publish.as_ref().is_some_and(|p| p["state"] != "ok");
    Ok(Json(serde_json::json!({
        "status": if disk.is_some() || publish_bad { "degraded" } else { "ok" },
        "ingest": if disk.is_some() { "refused" } else { "open" },
        "size": size,
        "checkpoint_size": checkpoint,
        "disk": disk,
        "publish": publish,
    })))
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "admin", responses((status = 200, content_type = "text/plain")))]
pub async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    crate::compaction::refresh_file_gauges(&shared);
    let mut r = shared.metrics().render().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    r
}

/// The rules state as the server holds it now (regulator only).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RulesState {
    /// The log's size.
    pub size: u64,
    /// Entries the rules folded (the log's size unless one no longer verifies).
    pub applied: u64,
    /// Applied entries the rules hold in memory: those not yet committed to
    /// the log (the rest are read back from the log when a correction, a
    /// revocation or a report replay looks back; 0 between groups).
    pub history_in_memory: u64,
    /// SHA-256 of the state's canonical encoding (docs/formats.md, "Rules
    /// snapshots"): equal digests, equal states.
    pub state_digest: String,
    /// How the last start caught up with the log.
    pub start: crate::snapshots::StartReport,
}

/// The rules state's digest and how the last start caught up (regulator
/// only). Encodes the whole state to digest it: an operator's and a test's
/// check, not a hot path.
#[utoipa::path(get, path = "/v1/admin/state", tag = "admin",
    responses((status = 200, body = RulesState), (status = 403, description = "regulator only")),
    security(("bearer" = [])))]
pub async fn rules_state(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
) -> Result<Json<RulesState>, ApiError> {
    caller.need_regulator("read the rules state")?;
    tokio::task::spawn_blocking(move || {
        let v = shared.read_verifier()?;
        let digest = v
            .state_digest()
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let size = shared
            .store()
            .read()
            .map_err(|e| ApiError::Unavailable(e.to_string()))?
            .size();
        Ok(Json(RulesState {
            size,
            applied: v.engine().history_len(),
            history_in_memory: u64::try_from(v.engine().history_in_memory()).unwrap_or(u64::MAX),
            state_digest: digest.to_string(),
            start: shared.snapshots().start_report(),
        }))
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
}
