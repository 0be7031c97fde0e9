//! What a site pulls to work offline: the regulator chain (licences, permits,
//! qualifications, enrolments, revocations) and the transfer-outs addressed to
//! it, from a position onward, each with its inclusion proof.

use std::sync::Arc;

use armsledger_core::entry::ChainId;
use armsledger_core::event::{Event, SiteEvent};
use armsledger_core::ids::SiteId;
use armsledger_store::IndexKey;
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::routes::auth::Caller;
use crate::routes::extract::{Path, Query};
use crate::state::Shared;
use crate::tokens::Role;

/// Where a site's last pull stopped.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct PullQuery {
    /// First regulator-chain counter wanted (default 1).
    pub regulator_from: Option<u64>,
    /// First log index wanted for the inbox (default 0).
    pub inbox_from: Option<u64>,
}

/// A logged entry with its proof against the pull's checkpoint.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProvenEntry {
    /// Log index.
    pub index: u64,
    /// When the log received it, milliseconds since the Unix epoch: the
    /// first 8 bytes of its leaf (`received_at ‖ entry`).
    pub received_at_ms: u64,
    /// The entry bytes, hex.
    pub entry: String,
    /// Inclusion proof (hex hashes) against `checkpoint`; empty if the entry
    /// is newer than it.
    pub proof: Vec<String>,
}

/// What a site pulls.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Pull {
    /// The checkpoint the proofs are against (signed note).
    pub checkpoint: Option<String>,
    /// Regulator-chain entries from `regulator_from`.
    pub regulator: Vec<ProvenEntry>,
    /// Transfer-outs addressed to the site from `inbox_from`.
    pub inbox: Vec<ProvenEntry>,
}

/// The regulator chain and the transfers addressed to a site.
#[utoipa::path(get, path = "/v1/pull/{site}", tag = "sync",
    params(("site" = String, Path), PullQuery),
    responses((status = 200, body = Pull), (status = 403, description = "another site's inbox")),
    security(("bearer" = [])))]
pub async fn pull(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    Path(site): Path<String>,
    Query(q): Query<PullQuery>,
) -> Result<Json<Pull>, ApiError> {
    let site: SiteId = site
        .parse()
        .map_err(|e| ApiError::BadRequest(format!("site: {e}")))?;
    if !(caller.0 == Role::Regulator || caller.0 == Role::Site(site.clone())) {
        return Err(caller.forbidden(&format!("pull for site {site}")));
    }
    tokio::task::spawn_blocking(move || build(&shared, &site, &q))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map(Json)
}

fn build(shared: &Shared, site: &SiteId, q: &PullQuery) -> Result<Pull, ApiError> {
    let internal = |e: armsledger_store::StoreError| ApiError::Internal(e.to_string());
    let checkpoint = shared.latest_checkpoint();
    let size = checkpoint.as_ref().map_or(0, |p| p.size);
    let reader = shared.store().read().map_err(internal)?;
    let prove = |index: u64, bytes: Vec<u8>| -> Result<ProvenEntry, ApiError> {
        let proof = if index < size {
            reader
                .inclusion_proof(index, size)
                .map_err(internal)?
                .iter()
                .map(|h| h.to_string())
                .collect()
        } else {
            Vec::new()
        };
        Ok(ProvenEntry {
            index,
            received_at_ms: reader.received_at(index).map_err(internal)?.millis(),
            entry: hex::encode(bytes),
            proof,
        })
    };
    let mut regulator = Vec::new();
    for (_, index) in reader
        .chain_slots(
            &ChainId::Regulator,
            q.regulator_from.unwrap_or(1),
            usize::MAX,
        )
        .map_err(internal)?
    {
        if let Some(b) = reader.entry_bytes(index).map_err(internal)? {
            regulator.push(prove(index, b)?);
        }
    }
    let mut inbox = Vec::new();
    for s in reader
        .scan(
            &IndexKey::Site(site.clone()),
            q.inbox_from.unwrap_or(0),
            usize::MAX,
        )
        .map_err(internal)?
    {
        let addressed = matches!(
            &s.entry.body().event,
            Event::Site(SiteEvent::TransferredOut { to_site, .. }) if to_site == site
        ) && s.entry.chain() != &ChainId::Site(site.clone());
        if addressed {
            inbox.push(prove(s.index, s.entry.into_bytes())?);
        }
    }
    Ok(Pull {
        checkpoint: checkpoint.map(|p| p.note),
        regulator,
        inbox,
    })
}
