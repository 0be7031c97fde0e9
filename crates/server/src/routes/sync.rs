//! What a site pulls to work offline: the regulator entries in its scope
//! (its company, persons and devices, and the public register; see
//! [`crate::scope`]), the bar list without reasons, and the transfer-outs
//! addressed to it, from a position onward, each with its inclusion proof.

use std::collections::HashSet;
use std::sync::Arc;

use armsledger_core::entry::ChainId;
use armsledger_core::event::{Event, SiteEvent};
use armsledger_core::ids::{SiteId, Timestamp};
use armsledger_store::IndexKey;
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::routes::auth::Caller;
use crate::routes::extract::{Path, Query};
use crate::scope::SiteScope;
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
    /// Inclusion proof (hex hashes) against `checkpoint`.
    pub proof: Vec<String>,
}

/// The version of the pull response's shape ([`Pull::format`]).
pub const PULL_FORMAT: u32 = 2;

/// One person on the bar list: no reason, only who and until when.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BarredPerson {
    /// The person id.
    pub person: String,
    /// Until when, milliseconds since the Unix epoch; absent for good.
    pub until_ms: Option<u64>,
    /// The log index of the bar entry (its reason stays on the server).
    pub index: u64,
}

/// What a site pulls (format 2): only what it needs ([`crate::scope`]).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Pull {
    /// The shape of this response: 2 ([`PULL_FORMAT`]).
    pub format: u32,
    /// The checkpoint the proofs are against (signed note).
    pub checkpoint: Option<String>,
    /// The regulator-chain entries in the site's scope, from
    /// `regulator_from` (and earlier ones of persons and sending sites
    /// that entered the scope since), each proven against `checkpoint`.
    pub regulator: Vec<ProvenEntry>,
    /// Transfer-outs addressed to the site from `inbox_from`, each proven.
    pub inbox: Vec<ProvenEntry>,
    /// Every person barred now, without the reason.
    pub bars: Vec<BarredPerson>,
}

/// The regulator entries in a site's scope, its bar list and the transfers
/// addressed to it, each entry with its inclusion proof.
#[utoipa::path(get, path = "/v1/pull/{site}", tag = "sync",
    params(("site" = String, Path), PullQuery),
    responses((status = 200, body = Pull), (status = 403, description = "another site's pull")),
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
    // Only what the checkpoint covers is sent, each with its proof; newer
    // entries wait for the next pull.
    let size = checkpoint.as_ref().map_or(0, |p| p.size);
    let reader = shared.store().read().map_err(internal)?;
    let prove = |index: u64, bytes: Vec<u8>| -> Result<ProvenEntry, ApiError> {
        let proof = reader
            .inclusion_proof(index, size)
            .map_err(internal)?
            .iter()
            .map(|h| h.to_string())
            .collect();
        Ok(ProvenEntry {
            index,
            received_at_ms: reader.received_at(index).map_err(internal)?.millis(),
            entry: hex::encode(bytes),
            proof,
        })
    };
    let mut inbox = Vec::new();
    let mut senders = HashSet::new();
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
        if addressed && s.index < size {
            if let ChainId::Site(from) = s.entry.chain() {
                senders.insert(from.clone());
            }
            inbox.push(prove(s.index, s.entry.into_bytes())?);
        }
    }
    let chain = crate::scope::regulator_chain(&reader, size).map_err(internal)?;
    let scope = SiteScope::of(site, chain.iter().map(|(i, e)| (*i, e)));
    let from = q.regulator_from.unwrap_or(1);
    let mut regulator = Vec::new();
    for (index, e) in chain {
        let Event::Regulator(ev) = &e.body().event else {
            continue;
        };
        if scope.receives(e.counter(), from, ev, &senders) {
            regulator.push(prove(index, e.into_bytes())?);
        }
    }
    let bars = scope
        .bars(shared.now())
        .into_iter()
        .map(|b| BarredPerson {
            person: b.person.to_string(),
            until_ms: b.until.map(Timestamp::millis),
            index: b.index,
        })
        .collect();
    Ok(Pull {
        format: PULL_FORMAT,
        checkpoint: checkpoint.map(|p| p.note),
        regulator,
        inbox,
        bars,
    })
}
