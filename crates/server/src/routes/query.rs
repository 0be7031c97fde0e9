//! Queries for inspectors, auditors and companies: traces, inventories,
//! reconciliation, alerts, findings, transfers, chain integrity. Each needs a
//! token, and company and site roles see only their own.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use armsledger_core::LedgerVerifier;
use armsledger_core::entry::ChainId;
use armsledger_core::ids::{CompanyId, SiteId, Timestamp};
use armsledger_core::report::{self, Inventory, Reconciliation, TraceView, TracedFirearm};
use armsledger_core::rules::state::TransferStatus;
use armsledger_core::rules::{Alert, AlertPolicy, View, alerts};
use armsledger_store::IndexKey;
use armsledger_store::StoredFinding;
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::limits::CancelOnDrop;
use crate::routes::auth::Caller;
use crate::routes::extract::{Path, Query};
use crate::routes::visibility::{no_such_serial, reveal_notes, visible_events};
use crate::state::Shared;

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(e.to_string())
}

fn parse_time(s: &str) -> Result<Timestamp, ApiError> {
    Timestamp::parse(s)
        .ok_or_else(|| ApiError::BadRequest(format!("{s:?} is not an RFC 3339 time or a date")))
}

/// Refuses unless the caller may read `site`.
fn may_read_site(shared: &Shared, caller: &Caller, site: &SiteId) -> Result<(), ApiError> {
    let company = shared
        .verifier()
        .ok()
        .and_then(|v| v.engine().state().company_of(site).cloned());
    if caller.0.may_read(Some(site), company.as_ref()) {
        Ok(())
    } else {
        Err(caller.forbidden(&format!("read site {site}")))
    }
}

/// Replays the log up to `at` (by server receipt time) into a fresh
/// verifier, stopping as soon as `stop` is set (the request ended) or the
/// request's deadline passes.
fn replay_until(
    shared: &Shared,
    at: Timestamp,
    view: View,
    stop: &AtomicBool,
    deadline: Instant,
) -> Result<LedgerVerifier, ApiError> {
    let reader = shared.store().read().map_err(internal)?;
    // From the nearest rules snapshot before `at` (they hold the corrected
    // view), else from the beginning.
    let resumed = match view {
        View::Corrected => crate::snapshots::nearest_before(shared, &reader, at),
        View::Original => None,
    };
    let (mut v, start) = resumed.unwrap_or_else(|| {
        let v = LedgerVerifier::new(
            shared.regulator_key(),
            shared.manufacturer_roots().to_vec(),
            view,
        );
        (v, 0)
    });
    // The history stays in the log: the replay holds no more of it than
    // the entries since its last commit below.
    // Nothing past the entry being applied is found by a lookup.
    let history = crate::snapshots::LogHistory::new(shared.store_arc());
    history.applied_to(start);
    v.read_history_from(history.clone());
    let metrics = shared.metrics();
    for i in start..reader.size() {
        if i % 256 == 0 {
            v.history_committed();
        }
        if i % 256 == 0 && (stop.load(Ordering::Acquire) || Instant::now() >= deadline) {
            metrics.replays_cancelled.inc();
            return Err(ApiError::TimedOut(format!(
                "the point-in-time replay stopped after {i} entries: its request ended or ran past {} s",
                shared.config().request_timeout_secs
            )));
        }
        let Some(s) = reader.entry(i).map_err(internal)? else {
            continue;
        };
        if s.received_at > at {
            break;
        }
        metrics.replay_entries.inc();
        history.applied_to(i);
        v.ingest(Arc::new(s.entry), Some(s.received_at))
            .map_err(internal)?;
        if let Some(e) = v.take_history_fault() {
            return Err(ApiError::Unavailable(e.to_string()));
        }
    }
    Ok(v)
}

/// `?view=` of a trace.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct TraceQuery {
    /// `corrected` (default), `original` or `both`.
    pub view: Option<String>,
}

/// One weapon's trace: core's trace (`armsledger_core::report::Trace`, the
/// same the offline `trace --bundle` prints), with an inclusion proof of
/// every event against `checkpoint`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Trace {
    /// The serial asked for.
    pub serial: String,
    /// `corrected`, `original` or `both`.
    #[schema(value_type = String)]
    pub view: TraceView,
    /// Every firearm recorded under that serial, now or before a correction.
    #[schema(value_type = Vec<Object>)]
    pub firearms: Vec<ProvenFirearm>,
    /// The signed checkpoint the proofs are against.
    pub checkpoint: Option<String>,
}

/// One firearm of a trace with its proofs.
#[derive(Debug, Serialize)]
pub struct ProvenFirearm {
    /// The firearm's trace.
    #[serde(flatten)]
    pub trace: TracedFirearm,
    /// Inclusion proof of each timeline event against the checkpoint (hex
    /// hashes, leaf to root), in timeline order; empty for an event logged
    /// after the checkpoint.
    pub proofs: Vec<Vec<String>>,
}

/// A weapon's history across sites and companies, with proofs: all of it
/// for the regulator and auditors, up to the end of the caller's own
/// custody for a company or site (never a later holder's events).
#[utoipa::path(get, path = "/v1/firearms/{serial}/trace", tag = "query",
    params(("serial" = String, Path, description = "serial as marked (any spacing or case), now or before a correction"), TraceQuery),
    responses((status = 200, body = Trace), (status = 404, description = "no firearm with that serial that the caller ever held (the same answer whether it exists or not)")),
    security(("bearer" = [])))]
pub async fn trace(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    Path(serial): Path<String>,
    Query(q): Query<TraceQuery>,
) -> Result<Json<Trace>, ApiError> {
    let view: TraceView = q
        .view
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(ApiError::BadRequest)?
        .unwrap_or_default();
    let shared2 = shared.clone();
    tokio::task::spawn_blocking(move || build_trace(&shared2, &caller, &serial, view))
        .await
        .map_err(internal)?
        .map(Json)
}

fn build_trace(
    shared: &Shared,
    caller: &Caller,
    serial: &str,
    view: TraceView,
) -> Result<Trace, ApiError> {
    let v = shared.read_verifier()?;
    // By its serial now or one a correction replaced.
    let ids = v.engine().find_serial(serial);
    let checkpoint = shared.latest_checkpoint();
    let size = checkpoint.as_ref().map_or(0, |p| p.size);
    let reader = shared.store().read().map_err(internal)?;
    let mut out = Vec::new();
    for id in ids {
        let mut stored = reader
            .scan(&IndexKey::Firearm(id), 0, usize::MAX)
            .map_err(internal)?;
        // Only what the caller may see: up to the end of its own custody.
        let total = stored.len();
        stored.truncate(visible_events(
            &caller.0,
            v.engine().state(),
            stored.iter().map(|s| s.entry.chain()),
        ));
        if stored.is_empty() {
            continue;
        }
        let partial = stored.len() < total;
        let Some(mut traced) = report::trace_firearm(
            v.engine(),
            id,
            serial,
            view,
            stored
                .iter()
                .map(|s| (Some(s.index), Some(s.received_at), &s.entry)),
        ) else {
            continue;
        };
        // A later holder's corrections are not the caller's to see.
        let shown: HashSet<_> = stored.iter().map(|s| s.entry.hash()).collect();
        for e in &mut traced.timeline.events {
            if e.corrected_by.is_some_and(|c| !shown.contains(&c)) {
                e.corrected_by = None;
            }
        }
        traced.serial_changes.retain(|c| shown.contains(&c.entry));
        reveal_notes(shared, &caller.0, v.engine().state(), &mut traced).map_err(internal)?;
        // A former holder's view ends when the weapon left it: where it is
        // and what became of it since are a later holder's.
        if partial && let Some(last) = traced.custody.last() {
            traced.site = last.site.clone();
            traced.state = LEFT_CUSTODY;
        }
        let proofs = traced
            .timeline
            .events
            .iter()
            .map(|e| match e.index.filter(|i| *i < size) {
                Some(i) => reader
                    .inclusion_proof(i, size)
                    .map(|p| p.iter().map(|h| h.to_string()).collect())
                    .map_err(internal),
                None => Ok(Vec::new()),
            })
            .collect::<Result<Vec<_>, _>>()?;
        out.push(ProvenFirearm {
            trace: traced,
            proofs,
        });
    }
    if out.is_empty() {
        return Err(no_such_serial(serial));
    }
    Ok(Trace {
        serial: serial.to_string(),
        view,
        firearms: out,
        checkpoint: checkpoint.map(|p| p.note),
    })
}

/// The state word of a weapon as a former holder sees it: it left the
/// caller's custody, and what became of it since is not the caller's.
pub const LEFT_CUSTODY: &str = "left-custody";

/// `?at=` for point-in-time views.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct AtQuery {
    /// RFC 3339 time or date; default now.
    pub at: Option<String>,
}

/// A site's inventory, now or as of a time (by server receipt).
#[utoipa::path(get, path = "/v1/sites/{site}/inventory", tag = "query",
    params(("site" = String, Path), AtQuery),
    responses((status = 200, body = Object), (status = 403, description = "not your site")),
    security(("bearer" = [])))]
pub async fn inventory(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    Path(site): Path<String>,
    Query(q): Query<AtQuery>,
) -> Result<Json<Inventory>, ApiError> {
    let site: SiteId = site
        .parse()
        .map_err(|e| ApiError::BadRequest(format!("site: {e}")))?;
    may_read_site(&shared, &caller, &site)?;
    let at = q.at.as_deref().map(parse_time).transpose()?;
    let Some(t) = at else {
        return tokio::task::spawn_blocking(move || {
            let v = shared.read_verifier()?;
            Ok(report::inventory(v.engine().state(), &site, None))
        })
        .await
        .map_err(internal)?
        .map(Json);
    };
    // As of a time, the log is replayed from the nearest rules snapshot
    // before it (or from the beginning): one replay per token at a time, a few over all, stopped when the
    // request ends (answered, timed out, or the client gone) or its
    // deadline passes.
    let (_all, _mine) = shared.replay_slot(caller.token_id()).map_err(|mine| {
        if mine {
            ApiError::RateLimited(format!(
                "token {}: one point-in-time query at a time; retry when the last one is answered",
                caller.token_id()
            ))
        } else {
            ApiError::Busy(
                "as many point-in-time queries as allowed are running; retry shortly".into(),
            )
        }
    })?;
    let (_cancel, stop) = CancelOnDrop::new();
    let deadline = Instant::now() + Duration::from_secs(shared.config().request_timeout_secs);
    shared.metrics().replays_running.inc();
    let worker = shared.clone();
    let out = tokio::task::spawn_blocking(move || {
        let v = replay_until(&worker, t, View::Corrected, &stop, deadline);
        worker.metrics().replays_running.dec();
        v.map(|v| report::inventory(v.engine().state(), &site, Some(t)))
    })
    .await
    .map_err(internal)?;
    out.map(Json)
}

/// Ammunition reconciliation per lot and per person at a site.
#[utoipa::path(get, path = "/v1/sites/{site}/reconciliation", tag = "query",
    params(("site" = String, Path)), responses((status = 200, body = Object)), security(("bearer" = [])))]
pub async fn reconciliation(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    Path(site): Path<String>,
) -> Result<Json<Reconciliation>, ApiError> {
    let site: SiteId = site
        .parse()
        .map_err(|e| ApiError::BadRequest(format!("site: {e}")))?;
    may_read_site(&shared, &caller, &site)?;
    tokio::task::spawn_blocking(move || {
        let reader = shared.store().read().map_err(internal)?;
        let entries = reader
            .scan(&IndexKey::Site(site.clone()), 0, usize::MAX)
            .map_err(internal)?;
        let v = shared.read_verifier()?;
        Ok(report::reconciliation(
            v.engine().state(),
            &site,
            entries.iter().map(|s| &s.entry),
        ))
    })
    .await
    .map_err(internal)?
    .map(Json)
}

/// Scope filters for alerts.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct ScopeQuery {
    /// Only this site.
    pub site: Option<String>,
    /// Only this company.
    pub company: Option<String>,
    /// As of (alerts): RFC 3339 time or date; default now.
    pub at: Option<String>,
}

fn in_scope(
    caller: &Caller,
    q_site: Option<&SiteId>,
    q_company: Option<&CompanyId>,
    site: Option<&SiteId>,
    company: Option<&CompanyId>,
) -> bool {
    caller.0.may_read(site, company)
        && q_site.is_none_or(|s| site == Some(s))
        && q_company.is_none_or(|c| company == Some(c))
}

fn scope(q: &ScopeQuery) -> Result<(Option<SiteId>, Option<CompanyId>), ApiError> {
    let s = q
        .site
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|e| ApiError::BadRequest(format!("site: {e}")))?;
    let c = q
        .company
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|e| ApiError::BadRequest(format!("company: {e}")))?;
    Ok((s, c))
}

/// An alert per equivocation proof the store holds: a cloned or broken
/// device (critical). The alerts route and the reports' summary both show them.
pub(crate) fn equivocation_alerts(
    shared: &Shared,
    state: &armsledger_core::rules::state::State,
) -> Result<Vec<Alert>, ApiError> {
    let equivocations = shared
        .store()
        .read()
        .map_err(internal)?
        .equivocations()
        .map_err(internal)?;
    Ok(equivocations
        .iter()
        .map(|e| {
            let site = match &e.a.header.chain {
                ChainId::Site(s) => Some(s.clone()),
                ChainId::Regulator => None,
            };
            Alert {
                rule: armsledger_core::rules::RuleId::KeyEquivocated,
                company: site.as_ref().and_then(|s| state.company_of(s).cloned()),
                site,
                entry: e.b.header.entry_hash().ok(),
                at: e.b.header.device_time,
                detail: format!(
                    "CRITICAL: device {} key {} signed two entries at counter {} of {}",
                    e.a.header.device,
                    e.a.header.key_epoch,
                    e.counter(),
                    e.a.header.chain
                ),
            }
        })
        .collect())
}

/// Soft-rule alerts (overdue returns, transfers in transit, loss references, expiries, counts).
#[utoipa::path(get, path = "/v1/alerts", tag = "query", params(ScopeQuery),
    responses((status = 200, body = Vec<Object>)), security(("bearer" = [])))]
pub async fn get_alerts(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    Query(q): Query<ScopeQuery>,
) -> Result<Json<Vec<Alert>>, ApiError> {
    let (s, c) = scope(&q)?;
    let at =
        q.at.as_deref()
            .map(parse_time)
            .transpose()?
            .unwrap_or_else(|| shared.now());
    let v = shared.read_verifier()?;
    let state = v.engine().state();
    // Equivocations first: a cloned or broken device is the most urgent thing there is.
    let mut out = equivocation_alerts(&shared, state)?;
    // Then the server's own: its copy in object storage lagging or refused.
    out.extend(crate::publish::alert(&shared));
    out.extend(alerts(state, at, &AlertPolicy::default()));
    Ok(Json(
        out.into_iter()
            .filter(|a| {
                in_scope(
                    &caller,
                    s.as_ref(),
                    c.as_ref(),
                    a.site.as_ref(),
                    a.company.as_ref(),
                )
            })
            .collect(),
    ))
}

/// A finding with its log index.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IndexedFinding {
    /// Log index of the entry.
    pub index: u64,
    /// The finding.
    #[schema(value_type = Object)]
    pub finding: StoredFinding,
}

/// Filters of `GET /v1/findings`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct FindingsQuery {
    /// Only this site.
    pub site: Option<String>,
    /// Only this company.
    pub company: Option<String>,
    /// Only this rule (kebab-case, e.g. `qualification-current`).
    pub rule: Option<String>,
    /// Only acts at or after this device time (RFC 3339 time or date).
    pub since: Option<String>,
    /// Only acts before this device time (RFC 3339 time or date).
    pub until: Option<String>,
    /// `true`: only findings a second person's override authorised;
    /// `false`: only those not overridden.
    pub overridden: Option<bool>,
}

/// Hard-rule findings recorded against logged entries, oldest first.
#[utoipa::path(get, path = "/v1/findings", tag = "query", params(FindingsQuery),
    responses((status = 200, body = Vec<IndexedFinding>), (status = 400, description = "bad filter")),
    security(("bearer" = [])))]
pub async fn findings(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    Query(q): Query<FindingsQuery>,
) -> Result<Json<Vec<IndexedFinding>>, ApiError> {
    let (s, c) = scope(&ScopeQuery {
        site: q.site.clone(),
        company: q.company.clone(),
        at: None,
    })?;
    let rule = q
        .rule
        .as_deref()
        .map(|r| {
            armsledger_core::rules::RuleId::from_name(r).ok_or_else(|| {
                ApiError::BadRequest(format!("rule: no rule named {r:?} (see docs/rules.md)"))
            })
        })
        .transpose()?;
    let since = q.since.as_deref().map(parse_time).transpose()?;
    let until = q.until.as_deref().map(parse_time).transpose()?;
    let reader = shared.store().read().map_err(internal)?;
    let all = reader.findings_from(0, usize::MAX).map_err(internal)?;
    let v = shared.read_verifier()?;
    let state = v.engine().state();
    Ok(Json(
        all.into_iter()
            .filter(|(_, f)| {
                let site = match &f.chain {
                    ChainId::Site(s) => Some(s),
                    ChainId::Regulator => None,
                };
                let company = site.and_then(|s| state.company_of(s));
                in_scope(&caller, s.as_ref(), c.as_ref(), site, company)
                    && rule.is_none_or(|r| f.rule == r)
                    && since.is_none_or(|t| f.time >= t)
                    && until.is_none_or(|t| f.time < t)
                    && q.overridden.is_none_or(|o| f.overridden_by.is_some() == o)
            })
            .map(|(index, finding)| IndexedFinding { index, finding })
            .collect(),
    ))
}

/// A transfer between sites.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TransferView {
    /// The transfer-out entry (hex).
    pub entry: String,
    /// Sender.
    pub from_site: String,
    /// Receiver.
    pub to_site: String,
    /// Firearms sent.
    pub firearms: usize,
    /// When sent (server receipt).
    pub sent_at: String,
    /// pending, acknowledged or cancelled.
    pub status: &'static str,
}

/// Transfers between sites, pending first.
#[utoipa::path(get, path = "/v1/transfers", tag = "query",
    responses((status = 200, body = Vec<TransferView>)), security(("bearer" = [])))]
pub async fn transfers(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
) -> Result<Json<Vec<TransferView>>, ApiError> {
    let v = shared.read_verifier()?;
    let state = v.engine().state();
    let mut out: Vec<TransferView> = state
        .transfers
        .iter()
        .filter(|(_, t)| {
            let cf = state.company_of(&t.from_site);
            let ct = state.company_of(&t.to_site);
            caller.0.may_read(Some(&t.from_site), cf) || caller.0.may_read(Some(&t.to_site), ct)
        })
        .map(|(h, t)| TransferView {
            entry: h.to_string(),
            from_site: t.from_site.to_string(),
            to_site: t.to_site.to_string(),
            firearms: t.firearms.len(),
            sent_at: t.sent_at.to_string(),
            status: match t.status {
                TransferStatus::Pending => "pending",
                TransferStatus::Acknowledged(_) => "acknowledged",
                TransferStatus::Cancelled(_) => "cancelled",
                TransferStatus::Rejected(_) => "rejected",
            },
        })
        .collect();
    out.sort_by_key(|t| (t.status != "pending", t.sent_at.clone()));
    Ok(Json(out))
}

/// One chain's integrity.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Integrity {
    /// Chain.
    pub chain: String,
    /// Head counter and hash.
    pub head_counter: Option<u64>,
    /// Head entry hash (hex).
    pub head_hash: Option<String>,
    /// Entries logged for the chain.
    pub entries: usize,
    /// Counter gaps the device declared (burned values), as (after, before).
    pub gaps: Vec<(u64, u64)>,
    /// The site's keys and their status.
    #[schema(value_type = Vec<Object>)]
    pub keys: Vec<armsledger_core::keys::KeyRecord>,
    /// Size of the latest checkpoint.
    pub checkpoint_size: Option<u64>,
    /// Equivocations recorded for the chain.
    pub equivocations: usize,
}

/// Chain integrity of a site: head, gaps, keys, checkpoint, equivocations.
#[utoipa::path(get, path = "/v1/sites/{site}/integrity", tag = "query",
    params(("site" = String, Path)), responses((status = 200, body = Integrity)), security(("bearer" = [])))]
pub async fn integrity(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    Path(site): Path<String>,
) -> Result<Json<Integrity>, ApiError> {
    let site: SiteId = site
        .parse()
        .map_err(|e| ApiError::BadRequest(format!("site: {e}")))?;
    may_read_site(&shared, &caller, &site)?;
    let chain = ChainId::Site(site.clone());
    let reader = shared.store().read().map_err(internal)?;
    let slots = reader
        .chain_slots(&chain, 0, usize::MAX)
        .map_err(internal)?;
    let mut gaps = Vec::new();
    for (counter, idx) in &slots {
        if let Some(e) = reader.entry(*idx).map_err(internal)?
            && e.entry.header().prev_counter + 1 != *counter
        {
            gaps.push((e.entry.header().prev_counter, *counter));
        }
    }
    let equivocations = reader
        .equivocations()
        .map_err(internal)?
        .iter()
        .filter(|e| e.a.header.chain == chain)
        .count();
    let v = shared.read_verifier()?;
    let head = v.head(&chain).cloned();
    Ok(Json(Integrity {
        chain: chain.to_string(),
        head_counter: head.as_ref().map(|h| h.counter),
        head_hash: head.map(|h| h.hash.to_string()),
        entries: slots.len(),
        gaps,
        keys: v
            .keys()
            .site_keys()
            .filter(|k| k.site == site)
            .cloned()
            .collect(),
        checkpoint_size: shared.latest_checkpoint().as_ref().map(|p| p.size),
        equivocations,
    }))
}

/// Every equivocation proof (regulator and auditors).
#[utoipa::path(get, path = "/v1/equivocations", tag = "query",
    responses((status = 200, body = Vec<Object>)), security(("bearer" = [])))]
pub async fn equivocations(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
) -> Result<Json<Vec<armsledger_core::chain::Equivocation>>, ApiError> {
    caller.need_all("read equivocation proofs")?;
    let reader = shared.store().read().map_err(internal)?;
    Ok(Json(reader.equivocations().map_err(internal)?))
}
