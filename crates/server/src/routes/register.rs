//! The lost-and-stolen register, serial checks and trace requests: what the
//! police, an inspector or the regulator asks about one serial, with the
//! verifiable index's proof of it (or of its absence) against a signed
//! checkpoint; and the state of every trace request.

use std::sync::Arc;

use armsledger_core::event::{NoticeSource, NoticedFirearm};
use armsledger_core::hash::Hash;
use armsledger_core::ids::{CompanyId, Ident, SiteId, Timestamp};
use armsledger_core::model::{FirearmId, normalise};
use armsledger_core::rules::state::{RegisterSource, TraceAnswer};
use armsledger_index::MapKey;
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::routes::auth::Caller;
use crate::routes::extract::{Path, Query};
use crate::state::Shared;

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(e.to_string())
}

/// Longest serial accepted (a `Name` is at most this long).
const MAX_SERIAL: usize = 256;

/// One firearm recorded under a serial.
#[derive(Debug, Serialize)]
pub struct SerialFirearm {
    /// Ledger id.
    pub id: FirearmId,
    /// Maker as marked.
    pub manufacturer: String,
    /// Model.
    pub model: String,
    /// Serial as marked (now, corrections folded in).
    pub serial: String,
    /// The site answerable for it.
    pub site: SiteId,
    /// Its company.
    pub company: Option<CompanyId>,
    /// Its state now (`in-store`, `lost`, …).
    pub state: &'static str,
    /// Whether it is on the lost-and-stolen register, and by which record.
    pub reported: Vec<RegisterSource>,
}

/// A notice in force naming the serial.
#[derive(Debug, Serialize)]
pub struct SerialNotice {
    /// Its reference.
    pub reference: Ident,
    /// Who sent it.
    pub source: NoticeSource,
    /// The firearm as marked.
    pub firearm: NoticedFirearm,
    /// The regulator entry that recorded it.
    pub entry: Hash,
}

/// The answer to `GET /v1/serials/{serial}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SerialCheck {
    /// The serial as asked.
    pub serial: String,
    /// Its normalised form (the search key).
    pub normalised: String,
    /// Whether the register had recorded a firearm under it as of the
    /// checkpoint (`size`): one recorded since is in the next one's answer.
    pub recorded: bool,
    /// Every firearm sharing the serial (now or before a correction) that
    /// the checkpoint's map files under it, as the register stands now.
    #[schema(value_type = Vec<Object>)]
    pub firearms: Vec<SerialFirearm>,
    /// Notices in force from the police or abroad naming the serial.
    #[schema(value_type = Vec<Object>)]
    pub notices: Vec<SerialNotice>,
    /// The signed checkpoint the proof is against; its
    /// `armsledger-index/v1` line is the map root.
    pub checkpoint: String,
    /// Its tree size.
    pub size: u64,
    /// The map key of the serial (hex).
    pub map_key: String,
    /// The serial's leaf value (hex), or none when it was never recorded.
    pub value: Option<String>,
    /// The map proof of the leaf, or of its absence (hex, docs/log.md §11).
    pub proof: String,
}

impl SerialCheck {
    /// The parts of this answer its proof covers, for
    /// [`crate::serial_proof::verify_serial_answer`].
    pub fn parts(&self) -> crate::serial_proof::SerialAnswerParts<'_> {
        crate::serial_proof::SerialAnswerParts {
            checkpoint: &self.checkpoint,
            serial: &self.serial,
            map_key: &self.map_key,
            value: self.value.as_deref(),
            proof: &self.proof,
            recorded: self.recorded,
            lists_firearms: !self.firearms.is_empty(),
        }
    }
}

/// A serial as the police would type it: what the register knows of every
/// firearm sharing it, whether it is reported lost or stolen, and the
/// verifiable index's proof of its leaf (or of its absence: "not in the
/// register as of checkpoint N") against a signed checkpoint.
#[utoipa::path(get, path = "/v1/serials/{serial}", tag = "query",
    params(("serial" = String, Path, description = "serial as marked (any spacing or case)")),
    responses((status = 200, body = SerialCheck), (status = 403, description = "company and site roles may not check serials"),
        (status = 503, description = "no-checkpoint: none signed since the server opened its log (a mirror: none followed yet)")),
    security(("bearer" = [])))]
pub async fn serial(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    Path(serial): Path<String>,
) -> Result<Json<SerialCheck>, ApiError> {
    if !caller.0.reads_every_site() {
        return Err(caller.forbidden("check serials"));
    }
    if serial.len() > MAX_SERIAL || normalise(&serial).is_empty() {
        return Err(ApiError::BadRequest(format!(
            "a serial is 1 to {MAX_SERIAL} bytes with at least one letter or digit"
        )));
    }
    tokio::task::spawn_blocking(move || check_serial(&shared, &serial))
        .await
        .map_err(internal)?
        .map(Json)
}

fn check_serial(shared: &Shared, serial: &str) -> Result<SerialCheck, ApiError> {
    let key = MapKey::serial(serial);
    let wanted = normalise(serial);
    // Read only: the proof is against the map root of the checkpoint
    // returned, the one the map sits at in this snapshot (it moves only when
    // a checkpoint is signed: the latest). A serial recorded after it is
    // "not in the register as of" it until the next.
    let reader = shared.store().read().map_err(internal)?;
    let Some((size, note)) = reader.index_checkpoint().map_err(internal)? else {
        return Err(ApiError::NoCheckpoint(if shared.is_mirror() {
            "no checkpoint yet: this mirror holds none of its origin's (it has not \
             followed the origin yet); retry after its first step"
                .into()
        } else {
            "no checkpoint yet: the verifiable index is at no signed checkpoint (none \
             signed since the server opened its log); retry shortly"
                .into()
        }));
    };
    let (value, proof) = reader.index_lookup_at(size, &key).map_err(internal)?;
    let v = shared.read_verifier()?;
    let engine = v.engine();
    let state = engine.state();
    // The firearms as the register stands now, of those the map filed under
    // this serial at the checkpoint: the answer lists none the proof says
    // are absent.
    let mut firearms = Vec::new();
    for id in engine.find_serial(serial) {
        if !reader
            .index_serials(&id.0)
            .map_err(internal)?
            .contains(&wanted)
        {
            continue;
        }
        if let Some(r) = state.firearms.get(&id) {
            firearms.push(SerialFirearm {
                id: r.id,
                manufacturer: r.identity.manufacturer.to_string(),
                model: r.identity.model.to_string(),
                serial: r.identity.serial.to_string(),
                site: r.site.clone(),
                company: state.company_of(&r.site).cloned(),
                state: r.state.word(),
                reported: state.register_matches(&r.id, &r.identity, None),
            });
        }
    }
    let notices = state
        .notices
        .iter()
        .filter(|(_, n)| n.withdrawn.is_none() && normalise(n.firearm.serial.as_str()) == wanted)
        .map(|(reference, n)| SerialNotice {
            reference: reference.clone(),
            source: n.source.clone(),
            firearm: n.firearm.clone(),
            entry: n.entry,
        })
        .collect();
    Ok(SerialCheck {
        serial: serial.to_string(),
        normalised: wanted,
        recorded: value.is_some(),
        firearms,
        notices,
        checkpoint: note,
        size,
        map_key: key.to_string(),
        value: value.map(|v| hex::encode(v.encode())),
        proof: hex::encode(proof.encode()),
    })
}

/// `?status=` of the trace requests.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct TraceRequestsQuery {
    /// Only `open`, `answered` or `overdue`.
    pub status: Option<String>,
    /// Only those addressed to this company.
    pub company: Option<String>,
}

/// One trace request and where it stands.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TraceRequestRow {
    /// Reference.
    #[schema(value_type = String)]
    pub reference: Ident,
    /// `open`, `answered` or `overdue` (now).
    pub status: String,
    /// The serial asked about.
    pub serial: String,
    /// The company asked.
    #[schema(value_type = String)]
    pub company: CompanyId,
    /// Answer by then.
    #[schema(value_type = String)]
    pub deadline: Timestamp,
    /// When it was opened.
    #[schema(value_type = String)]
    pub opened_at: Timestamp,
    /// The regulator entry that opened it.
    #[schema(value_type = String)]
    pub entry: Hash,
    /// The answer, once given.
    #[schema(value_type = Option<Object>)]
    pub answer: Option<TraceAnswer>,
}

/// Every trace request (a company's token sees those addressed to it).
#[utoipa::path(get, path = "/v1/trace-requests", tag = "query", params(TraceRequestsQuery),
    responses((status = 200, body = Vec<TraceRequestRow>), (status = 400, description = "bad filter")),
    security(("bearer" = [])))]
pub async fn trace_requests(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    Query(q): Query<TraceRequestsQuery>,
) -> Result<Json<Vec<TraceRequestRow>>, ApiError> {
    if let Some(s) = q.status.as_deref()
        && !matches!(s, "open" | "answered" | "overdue")
    {
        return Err(ApiError::BadRequest(format!(
            "status {s:?}: one of open, answered, overdue"
        )));
    }
    let company: Option<CompanyId> = q
        .company
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|e| ApiError::BadRequest(format!("company: {e}")))?;
    let now = shared.now();
    let v = shared.read_verifier()?;
    let rows = v
        .engine()
        .state()
        .trace_requests
        .iter()
        .filter(|(_, r)| caller.0.may_read(None, Some(&r.company)))
        .filter(|(_, r)| company.as_ref().is_none_or(|c| c == &r.company))
        .map(|(reference, r)| TraceRequestRow {
            reference: reference.clone(),
            status: r.status(now).to_string(),
            serial: r.serial.to_string(),
            company: r.company.clone(),
            deadline: r.deadline,
            opened_at: r.opened_at,
            entry: r.entry,
            answer: r.answer.clone(),
        })
        .filter(|r| q.status.as_deref().is_none_or(|s| s == r.status))
        .collect();
    Ok(Json(rows))
}
