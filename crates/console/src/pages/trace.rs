//! Weapon search and trace: the server's trace (core's one trace function,
//! scoped to what the caller may see), with each event's leaf data and
//! inclusion proof on the page for the browser to check.

use armsledger_core::report::TracedFirearm;
use armsledger_server::ApiError;
use armsledger_server::routes::export;
use armsledger_server::routes::extract::{Path, Query};
use armsledger_server::routes::query::{self, Trace, TraceQuery};
use axum::extract::State;
use axum::response::{Html, Response};
use serde::Deserialize;

use crate::Console;
use crate::auth::Signed;
use crate::charts;
use crate::error::ConsoleError;
use crate::views::{EventRow, Hit, SearchPage, TracePage, TracedView};

/// The longest serial the search takes.
const MAX_SERIAL: usize = 128;

async fn trace_of(
    c: &Console,
    s: &Signed,
    serial: &str,
    view: Option<String>,
) -> Result<Trace, ConsoleError> {
    if serial.len() > MAX_SERIAL {
        return Err(ApiError::BadRequest(format!("a serial is at most {MAX_SERIAL} bytes")).into());
    }
    let axum::Json(t) = query::trace(
        State(c.shared.clone()),
        s.caller.clone(),
        Path(serial.to_string()),
        Query(TraceQuery { view }),
    )
    .await?;
    Ok(t)
}

/// `?serial=` of the search.
#[derive(Debug, Default, Deserialize)]
pub struct SearchForm {
    /// As typed.
    pub serial: Option<String>,
}

/// `GET /console/search`.
pub async fn search(
    State(c): State<Console>,
    s: Signed,
    axum::extract::Query(q): axum::extract::Query<SearchForm>,
) -> Result<Html<String>, ConsoleError> {
    let query = super::given(&q.serial).unwrap_or_default();
    let mut hits = Vec::new();
    if !query.is_empty() {
        match trace_of(&c, &s, &query, None).await {
            Ok(t) => {
                for f in t.firearms {
                    let id = &f.trace.identity;
                    hits.push(Hit {
                        serial: id.serial.to_string(),
                        make_model: format!("{} {}", id.manufacturer, id.model),
                        site: f.trace.site.to_string(),
                        state: f.trace.state.to_string(),
                    });
                }
            }
            // Not found and not the caller's look the same, as in the API.
            Err(ConsoleError::Api(ApiError::NotFound(_))) => {}
            Err(e) => return Err(e),
        }
    }
    super::html(&SearchPage {
        nav: super::nav(&s, "search"),
        searched: !query.is_empty(),
        query,
        hits,
    })
}

/// `?view=` of a trace.
#[derive(Debug, Default, Deserialize)]
pub struct ViewForm {
    /// `corrected`, `original` or `both`.
    pub view: Option<String>,
}

/// A firearm's custody as the chart draws it: the periods, its events'
/// times (ms), and the span `[start, end]`.
struct Custody {
    periods: Vec<charts::Period>,
    ticks: Vec<u64>,
    start: u64,
    end: u64,
}

fn custody_data(tr: &TracedFirearm, now: u64) -> Custody {
    let start = tr
        .custody
        .first()
        .map(|c| c.from.millis())
        .or_else(|| tr.timeline.events.first().map(|e| e.time.millis()))
        .unwrap_or(now);
    let end = tr
        .custody
        .iter()
        .map(|c| c.until.map_or(now, |u| u.millis()))
        .chain(tr.timeline.events.iter().map(|e| e.time.millis()))
        .max()
        .unwrap_or(now)
        .max(start + 1);
    let periods = tr
        .custody
        .iter()
        .map(|c| {
            (
                c.site.to_string(),
                c.from.millis(),
                c.until.map_or(end, |u| u.millis()),
            )
        })
        .collect();
    let ticks = tr.timeline.events.iter().map(|e| e.time.millis()).collect();
    Custody {
        periods,
        ticks,
        start,
        end,
    }
}

/// The custody chart's figures in words (its `alt` text).
fn custody_alt(tr: &TracedFirearm) -> String {
    let periods: Vec<String> = tr
        .custody
        .iter()
        .map(|c| {
            format!(
                "{} from {} until {}",
                c.site,
                c.from.rfc3339(),
                c.until.map_or_else(|| "now".to_string(), |u| u.rfc3339())
            )
        })
        .collect();
    format!(
        "Custody of {}: {}; {} events.",
        tr.identity.serial,
        periods.join("; "),
        tr.timeline.events.len()
    )
}

/// `?view=&firearm=` of a custody chart.
#[derive(Debug, Default, Deserialize)]
pub struct ChartForm {
    /// `corrected`, `original` or `both`.
    pub view: Option<String>,
    /// Which firearm of those under the serial (from 0).
    pub firearm: Option<usize>,
}

/// `GET /console/firearms/{serial}/custody.svg?firearm=`: the custody
/// timeline of one firearm of the trace, as the caller may see it.
pub async fn custody_chart(
    State(c): State<Console>,
    s: Signed,
    axum::extract::Path(serial): axum::extract::Path<String>,
    axum::extract::Query(q): axum::extract::Query<ChartForm>,
) -> Result<Response, ConsoleError> {
    let t = trace_of(&c, &s, &serial, super::given(&q.view)).await?;
    let n = q.firearm.unwrap_or(0);
    let f = t.firearms.get(n).ok_or_else(|| {
        ConsoleError::Api(ApiError::NotFound(format!(
            "no firearm {n} under serial {serial}"
        )))
    })?;
    let d = custody_data(&f.trace, c.shared.now().millis());
    Ok(charts::svg_response(charts::custody(
        &format!("Custody of {}", f.trace.identity.serial),
        &d.periods,
        &d.ticks,
        d.start,
        d.end,
    )?))
}

/// `GET /console/firearms/{serial}`.
pub async fn page(
    State(c): State<Console>,
    s: Signed,
    axum::extract::Path(serial): axum::extract::Path<String>,
    axum::extract::Query(q): axum::extract::Query<ViewForm>,
) -> Result<Html<String>, ConsoleError> {
    let t = trace_of(&c, &s, &serial, super::given(&q.view)).await?;
    let reader = c.shared.store().read().map_err(super::internal)?;
    let mut firearms = Vec::new();
    for f in &t.firearms {
        let tr = &f.trace;
        let mut events = Vec::new();
        for (i, e) in tr.timeline.events.iter().enumerate() {
            let leaf = match e.index {
                Some(ix) => reader
                    .leaf_data(ix)
                    .map_err(super::internal)?
                    .map(hex::encode)
                    .unwrap_or_default(),
                None => String::new(),
            };
            events.push(EventRow {
                index: e.index,
                time: e.time.rfc3339(),
                site: e.chain.to_string(),
                officer: e.officer.to_string(),
                kind: e.kind.to_string(),
                summary: e.summary.clone(),
                corrected_summary: e.corrected_summary.clone(),
                leaf,
                proof: f.proofs.get(i).map(|p| p.join(" ")).unwrap_or_default(),
            });
        }
        let id = &tr.identity;
        firearms.push(TracedView {
            serial: id.serial.to_string(),
            description: format!("{} {}, {}", id.manufacturer, id.model, id.calibre),
            site: tr.site.to_string(),
            state: tr.state.to_string(),
            serial_changes: tr
                .serial_changes
                .iter()
                .map(|c| {
                    format!(
                        "{} corrected to {} on {} by {}{}: {}",
                        c.from,
                        c.to,
                        c.time.rfc3339(),
                        c.officer,
                        c.approver
                            .as_ref()
                            .map(|a| format!(", approved by {a}"))
                            .unwrap_or_default(),
                        c.reason
                    )
                })
                .collect(),
            custody: tr
                .custody
                .iter()
                .map(|c| {
                    (
                        c.site.to_string(),
                        c.from.rfc3339(),
                        c.until.map_or_else(|| "now".to_string(), |u| u.rfc3339()),
                    )
                })
                .collect(),
            chart_alt: custody_alt(tr),
            events,
            complete: tr.timeline.complete,
        });
    }
    super::html(&TracePage {
        nav: super::nav(&s, "search"),
        serial,
        view: t.view.to_string(),
        firearms,
        checkpoint: t.checkpoint.unwrap_or_default(),
    })
}

/// `GET /console/firearms/{serial}/dossier`: the server's dossier, the
/// same events the trace shows.
pub async fn dossier(
    State(c): State<Console>,
    s: Signed,
    axum::extract::Path(serial): axum::extract::Path<String>,
) -> Result<Response, ConsoleError> {
    Ok(export::dossier(State(c.shared.clone()), s.caller.clone(), Path(serial)).await?)
}
