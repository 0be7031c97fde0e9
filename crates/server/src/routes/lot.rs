//! `GET /v1/lots/{lot}/trace`: an ammunition lot's trace (core's
//! `report::trace_lot`, the same the offline `trace --lot --bundle` prints)
//! with an inclusion proof of every act, and who held rounds of it in a
//! window. Scoped by `visibility::lot_site_visible`, the lot dossier's rule
//! too: the regulator, auditors and the police see every holder; a company
//! or site its own holders and acts, and the rounds in transit it sent or
//! that are on their way to it (`LotTrace::retain_sites`).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use armsledger_core::entry::ChainId;
use armsledger_core::ids::Timestamp;
use armsledger_core::report::{self, LotTrace, TraceView};
use armsledger_store::IndexKey;
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::limits::CancelOnDrop;
use crate::routes::auth::Caller;
use crate::routes::extract::{Path, Query};
use crate::routes::visibility::{lot_site_visible, reveal_events};
use crate::state::Shared;

/// `?view=&held_from=&held_until=` of a lot trace.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct LotTraceQuery {
    /// `corrected` (default), `original` or `both`.
    pub view: Option<String>,
    /// Start of the held-between window (RFC 3339 or a date); needs `held_until`.
    pub held_from: Option<String>,
    /// End of the window (inclusive); needs `held_from`.
    pub held_until: Option<String>,
}

/// A lot number's trace with proofs.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LotTraces {
    /// The lot number (or ledger id) asked for.
    pub lot_number: String,
    /// `corrected`, `original` or `both`.
    #[schema(value_type = String)]
    pub view: TraceView,
    /// Every lot recorded under that number that the caller held.
    #[schema(value_type = Vec<Object>)]
    pub lots: Vec<ProvenLot>,
    /// The signed checkpoint the proofs are against.
    pub checkpoint: Option<String>,
}

/// One lot's trace with its proofs.
#[derive(Debug, Serialize)]
pub struct ProvenLot {
    /// The lot's trace.
    #[serde(flatten)]
    pub trace: LotTrace,
    /// Inclusion proof of each step against the checkpoint (hex hashes,
    /// leaf to root), in step order; empty for an act logged after it.
    pub proofs: Vec<Vec<String>>,
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(e.to_string())
}

/// The lot not found, or not the caller's: the same 404 either way.
fn no_such_lot(lot: &str) -> ApiError {
    ApiError::NotFound(format!("no ammunition lot {lot}"))
}

/// The window asked for, if any.
fn window(q: &LotTraceQuery) -> Result<Option<(Timestamp, Timestamp)>, ApiError> {
    let parse = |s: &str| {
        Timestamp::parse(s)
            .ok_or_else(|| ApiError::BadRequest(format!("{s:?} is not an RFC 3339 time or a date")))
    };
    match (&q.held_from, &q.held_until) {
        (None, None) => Ok(None),
        (Some(f), Some(u)) => {
            let (f, u) = (parse(f)?, parse(u)?);
            if u < f {
                return Err(ApiError::BadRequest(format!(
                    "held_until {u} is before held_from {f}"
                )));
            }
            Ok(Some((f, u)))
        }
        _ => Err(ApiError::BadRequest(
            "a window needs both held_from and held_until".into(),
        )),
    }
}

/// An ammunition lot's movements across sites and companies, the balance
/// per holder after each, differences flagged with their entry, and with
/// `held_from`/`held_until` who held rounds of it in that window.
#[utoipa::path(get, path = "/v1/lots/{lot}/trace", tag = "query",
    params(("lot" = String, Path, description = "lot number as marked (any spacing or case) or the lot's ledger id"), LotTraceQuery),
    responses((status = 200, body = LotTraces), (status = 400, description = "a bad view or window"), (status = 404, description = "no lot by that number that the caller ever held (the same answer whether it exists or not)")),
    security(("bearer" = [])))]
pub async fn trace(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    Path(lot): Path<String>,
    Query(q): Query<LotTraceQuery>,
) -> Result<Json<LotTraces>, ApiError> {
    let view: TraceView = q
        .view
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(ApiError::BadRequest)?
        .unwrap_or_default();
    let window = window(&q)?;
    // A lot's trace folds the whole ledger again, as a point-in-time query
    // does: the same slots (one per token, a few over all), stopped when
    // the request ends or its deadline passes.
    let (_all, _mine) = shared.replay_slot(caller.token_id()).map_err(|mine| {
        if mine {
            ApiError::RateLimited(format!(
                "token {}: one full replay of the ledger (a point-in-time query or a lot trace) \
                 at a time; retry when the last one is answered",
                caller.token_id()
            ))
        } else {
            ApiError::Busy(
                "as many full replays of the ledger as allowed are running; retry shortly".into(),
            )
        }
    })?;
    let (_cancel, stop) = CancelOnDrop::new();
    let deadline = Instant::now() + Duration::from_secs(shared.config().request_timeout_secs);
    shared.metrics().replays_running.inc();
    let worker = shared.clone();
    tokio::task::spawn_blocking(move || {
        let give_up = || stop.load(Ordering::Acquire) || Instant::now() >= deadline;
        let out = build(&worker, &caller, &lot, view, window, &give_up);
        worker.metrics().replays_running.dec();
        out
    })
    .await
    .map_err(internal)?
    .map(Json)
}

fn build(
    shared: &Shared,
    caller: &Caller,
    asked: &str,
    view: TraceView,
    window: Option<(Timestamp, Timestamp)>,
    give_up: &dyn Fn() -> bool,
) -> Result<LotTraces, ApiError> {
    let v = shared.read_verifier()?;
    let state = v.engine().state();
    let checkpoint = shared.latest_checkpoint();
    let size = checkpoint.as_ref().map_or(0, |p| p.size);
    let reader = shared.store().read().map_err(internal)?;
    let mut out = Vec::new();
    for id in report::find_lots(v.engine(), asked) {
        let stored = reader
            .scan(&IndexKey::Lot(id), 0, usize::MAX)
            .map_err(internal)?;
        let traced = report::trace_lot_until(
            v.engine(),
            id,
            view,
            stored
                .iter()
                .map(|s| (Some(s.index), Some(s.received_at), &s.entry)),
            give_up,
        )
        .map_err(|e| match e {
            report::TraceError::Stopped(stopped) => {
                shared.metrics().replays_cancelled.inc();
                ApiError::TimedOut(format!(
                    "{stopped}: its request ended or ran past {} s",
                    shared.config().request_timeout_secs
                ))
            }
            other => ApiError::Unavailable(other.to_string()),
        })?;
        let Some(mut traced) = traced else {
            continue;
        };
        if !caller.0.reads_every_site() {
            traced.retain_sites(|s| lot_site_visible(&caller.0, s, state.company_of(s)));
            if traced.steps.is_empty() {
                continue;
            }
        }
        // An act that moved rounds without naming the lot (a cancelled
        // transfer) is not under the lot's index: find its place by hash.
        for s in traced.steps.iter_mut().filter(|s| s.event.index.is_none()) {
            s.event.index = reader.index_of_hash(&s.event.hash).map_err(internal)?;
        }
        // A correction by a site the caller may not read is not its to see.
        let shown: std::collections::HashSet<_> =
            traced.steps.iter().map(|s| s.event.hash).collect();
        for s in &mut traced.steps {
            if s.event.corrected_by.is_some_and(|c| !shown.contains(&c)) {
                s.event.corrected_by = None;
            }
        }
        reveal_events(
            shared,
            &caller.0,
            state,
            traced.steps.iter_mut().map(|s| &mut s.event),
        )
        .map_err(internal)?;
        if let Some((from, until)) = window {
            traced.window(from, until);
        }
        let proofs = traced
            .steps
            .iter()
            .map(|s| match s.event.index.filter(|i| *i < size) {
                Some(i) if matches!(s.event.chain, ChainId::Site(_)) => reader
                    .inclusion_proof(i, size)
                    .map(|p| p.iter().map(|h| h.to_string()).collect())
                    .map_err(internal),
                _ => Ok(Vec::new()),
            })
            .collect::<Result<Vec<_>, _>>()?;
        out.push(ProvenLot {
            trace: traced,
            proofs,
        });
    }
    if out.is_empty() {
        return Err(no_such_lot(asked));
    }
    Ok(LotTraces {
        lot_number: asked.to_string(),
        view,
        lots: out,
        checkpoint: checkpoint.map(|p| p.note),
    })
}
