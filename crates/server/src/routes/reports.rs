//! `GET /v1/reports/{name}`: the regulator's reports (docs/reports.md),
//! computed by `armsledger-reports` exactly as `armsledger report --bundle`
//! computes them offline, scoped by the token's role: the regulator and
//! auditors see every company, a company its own sites and persons, a site
//! its own registers.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use armsledger_core::ids::{CompanyId, SiteId, Timestamp};
use armsledger_reports::periodic::CheckpointRef;
use armsledger_reports::{Format, Ledger, Logged, ReportError, ReportName, Scope};
use armsledger_store::StoredEntry;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::error::ApiError;
use crate::limits::CancelOnDrop;
use crate::routes::auth::Caller;
use crate::routes::extract::{Path, Query};
use crate::routes::query::equivocation_alerts;
use crate::state::Shared;
use crate::tokens::Role;

/// Filters of a report.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct ReportQuery {
    /// Only this site (required for `return`).
    pub site: Option<String>,
    /// Only this company.
    pub company: Option<String>,
    /// Acts at or after this device time (RFC 3339 time or date).
    pub from: Option<String>,
    /// Acts before this device time.
    pub to: Option<String>,
    /// "Now" for overdue, age, alert and expiry figures; default now.
    pub at: Option<String>,
    /// `csv` (default), `json` or `html`.
    pub format: Option<String>,
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(e.to_string())
}

fn time(s: Option<&str>) -> Result<Option<Timestamp>, ApiError> {
    s.map(|s| {
        Timestamp::parse(s)
            .ok_or_else(|| ApiError::BadRequest(format!("{s:?} is not an RFC 3339 time or a date")))
    })
    .transpose()
}

/// A report as CSV, JSON or HTML. The whole log is read (one report per
/// token at a time, a few over all, stopped when the request ends or its
/// deadline passes, as point-in-time queries are).
#[utoipa::path(get, path = "/v1/reports/{name}", tag = "query",
    params(("name" = String, Path, description = "issues, counts, losses, expiries, transfers, disposals, personnel, access, summary or return"), ReportQuery),
    responses((status = 200, description = "the report in the format asked for (columns in docs/reports.md)"),
        (status = 400, description = "unknown report, bad filter, or a return without site and period"),
        (status = 403, description = "a site or company the token may not read")),
    security(("bearer" = [])))]
pub async fn report(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    Path(name): Path<String>,
    Query(q): Query<ReportQuery>,
) -> Result<Response, ApiError> {
    let name: ReportName = name
        .parse()
        .map_err(|e: ReportError| ApiError::BadRequest(e.to_string()))?;
    let format: Format = q
        .format
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(ApiError::BadRequest)?
        .unwrap_or_default();
    let site: Option<SiteId> = q
        .site
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|e| ApiError::BadRequest(format!("site: {e}")))?;
    let company: Option<CompanyId> = q
        .company
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|e| ApiError::BadRequest(format!("company: {e}")))?;
    let from = time(q.from.as_deref())?;
    let to = time(q.to.as_deref())?;
    let at = time(q.at.as_deref())?;
    let (_all, _mine) = shared.replay_slot(caller.token_id()).map_err(|mine| {
        if mine {
            ApiError::RateLimited(format!(
                "token {}: one report or point-in-time query at a time; retry when the last one is answered",
                caller.token_id()
            ))
        } else {
            ApiError::Busy("as many reports and point-in-time queries as allowed are running; retry shortly".into())
        }
    })?;
    let (_cancel, stop) = CancelOnDrop::new();
    let deadline = Instant::now() + Duration::from_secs(shared.config().request_timeout_secs);
    let worker = shared.clone();
    let bytes = tokio::task::spawn_blocking(move || {
        build(
            &worker,
            &caller,
            name,
            format,
            Scope {
                site,
                company,
                from,
                to,
                now: at.unwrap_or_else(|| worker.now()),
                ..Scope::default()
            },
            &stop,
            deadline,
        )
    })
    .await
    .map_err(internal)??;
    Ok(([(header::CONTENT_TYPE, format.content_type())], bytes).into_response())
}

#[allow(clippy::too_many_arguments)]
fn build(
    shared: &Shared,
    caller: &Caller,
    name: ReportName,
    format: Format,
    mut scope: Scope,
    stop: &AtomicBool,
    deadline: Instant,
) -> Result<Vec<u8>, ApiError> {
    let v = shared.read_verifier()?;
    let state = v.engine().state();
    // What the token may see.
    match &caller.0 {
        Role::Regulator | Role::Auditor => {}
        // Compliance reports are the regulator's and the licensees' business.
        Role::Police => return Err(caller.forbidden("read reports")),
        Role::Company(c) => {
            scope.visible_companies = Some(BTreeSet::from([c.clone()]));
            scope.visible_sites = Some(
                state
                    .sites
                    .iter()
                    .filter(|(_, r)| &r.company == c)
                    .map(|(s, _)| s.clone())
                    .collect(),
            );
        }
        Role::Site(s) => {
            scope.visible_companies = Some(BTreeSet::new());
            scope.visible_sites = Some(BTreeSet::from([s.clone()]));
        }
    }
    if let Some(s) = &scope.site
        && !caller.0.may_read(Some(s), state.company_of(s))
    {
        return Err(caller.forbidden(&format!("read site {s}")));
    }
    if let Some(c) = &scope.company
        && !caller.0.reads_all()
        && caller.0 != Role::Company(c.clone())
    {
        return Err(caller.forbidden(&format!("read company {c}")));
    }
    let reader = shared.store().read().map_err(internal)?;
    let checkpoint = match shared.latest_checkpoint() {
        Some(p) => Some(CheckpointRef {
            size: p.size,
            root: armsledger_core::hash::Hash(reader.root_at(p.size).map_err(internal)?.0),
        }),
        None => None,
    };
    let mut stored: Vec<StoredEntry> = Vec::new();
    for i in 0..reader.size() {
        if i % 256 == 0 && (stop.load(Ordering::Acquire) || Instant::now() >= deadline) {
            return Err(ApiError::TimedOut(format!(
                "the report stopped after reading {i} entries: its request ended or ran past {} s",
                shared.config().request_timeout_secs
            )));
        }
        if let Some(s) = reader.entry(i).map_err(internal)? {
            stored.push(s);
        }
    }
    let ledger = Ledger {
        state,
        findings: v.engine().findings(),
        entries: stored
            .iter()
            .map(|s| Logged {
                index: s.index,
                received_at: Some(s.received_at),
                entry: &s.entry,
            })
            .collect(),
        checkpoint,
        extra_alerts: equivocation_alerts(shared, state)?,
    };
    armsledger_reports::produce(name, &ledger, &scope, format).map_err(|e| match e {
        ReportError::NotVisible(what) => caller.forbidden(&format!("read {what}")),
        ReportError::NoCheckpoint => ApiError::Unavailable(e.to_string()),
        ReportError::Render(m) => ApiError::Internal(m),
        other => ApiError::BadRequest(other.to_string()),
    })
}
