//! Companies and sites: the list, and a site's inventory (now or as of a
//! date), open issues, alerts, count discrepancies and chain integrity.

use std::collections::BTreeMap;

use armsledger_core::ids::SiteId;
use armsledger_core::report;
use armsledger_server::ApiError;
use armsledger_server::routes::extract::{Path, Query};
use armsledger_server::routes::query::{self, AtQuery, ScopeQuery};
use armsledger_store::IndexKey;
use axum::extract::State;
use axum::response::{Html, Response};
use serde::Deserialize;

use crate::Console;
use crate::auth::Signed;
use crate::charts;
use crate::error::ConsoleError;
use crate::views::{InventoryRow, IssueRow, KeyRow, SitePage, SiteRow, SitesPage};

/// `GET /console/sites`.
pub async fn list(State(c): State<Console>, s: Signed) -> Result<Html<String>, ConsoleError> {
    let axum::Json(alerts) = query::get_alerts(
        State(c.shared.clone()),
        s.caller.clone(),
        Query(ScopeQuery::default()),
    )
    .await?;
    let v = c.shared.read_verifier()?;
    let state = v.engine().state();
    let sites = state
        .sites
        .iter()
        .filter(|(id, r)| s.role().may_read(Some(id), Some(&r.company)))
        .map(|(id, r)| SiteRow {
            id: id.to_string(),
            name: r.name.to_string(),
            company: r.company.to_string(),
            company_name: state
                .companies
                .get(&r.company)
                .map(|c| c.name.to_string())
                .unwrap_or_default(),
            firearms: report::inventory(state, id, None).firearms.len(),
            open_issues: state.open_issues.values().filter(|i| &i.site == id).count(),
            alerts: alerts
                .iter()
                .filter(|a| a.site.as_ref() == Some(id))
                .count(),
        })
        .collect();
    super::html(&SitesPage {
        nav: super::nav(&s, "sites"),
        sites,
    })
}

/// `?at=` of a site's page.
#[derive(Debug, Default, Deserialize)]
pub struct AtForm {
    /// A date (the picker's) or an RFC 3339 time; empty is now.
    pub at: Option<String>,
}

async fn inventory_of(
    c: &Console,
    s: &Signed,
    site: &str,
    at: Option<String>,
) -> Result<report::Inventory, ConsoleError> {
    let axum::Json(inv) = query::inventory(
        State(c.shared.clone()),
        s.caller.clone(),
        Path(site.to_string()),
        Query(AtQuery { at }),
    )
    .await?;
    Ok(inv)
}

/// `GET /console/sites/{site}`.
pub async fn page(
    State(c): State<Console>,
    s: Signed,
    axum::extract::Path(site): axum::extract::Path<String>,
    axum::extract::Query(q): axum::extract::Query<AtForm>,
) -> Result<Html<String>, ConsoleError> {
    let at = super::given(&q.at);
    // The server's handler decides who may read the site (403 otherwise).
    let inv = inventory_of(&c, &s, &site, at.clone()).await?;
    let axum::Json(integrity) = query::integrity(
        State(c.shared.clone()),
        s.caller.clone(),
        Path(site.clone()),
    )
    .await?;
    let axum::Json(alerts) = query::get_alerts(
        State(c.shared.clone()),
        s.caller.clone(),
        Query(ScopeQuery {
            site: Some(site.clone()),
            ..ScopeQuery::default()
        }),
    )
    .await?;
    let id: SiteId = inv.site.clone();
    let (per_day, last_sync) = entries_per_day(&c, &id)?;
    let v = c.shared.read_verifier()?;
    let state = v.engine().state();
    let record = state.sites.get(&id);
    let issues = state
        .open_issues
        .values()
        .filter(|i| i.site == id)
        .map(|i| IssueRow {
            person: i.to.to_string(),
            what: {
                let mut w: Vec<String> = i.firearm.iter().map(|f| state.firearm_words(f)).collect();
                w.extend(
                    i.outstanding
                        .iter()
                        .map(|(lot, n)| format!("{n} rounds of lot {lot}")),
                );
                w.join(", ")
            },
            since: i.issued_at.rfc3339(),
            due: i.due_back.rfc3339(),
        })
        .collect();
    let discrepancies = state
        .discrepancies
        .iter()
        .filter(|d| d.site == id && !d.resolved)
        .map(|d| format!("{:?}: expected {}, found {}", d.item, d.expected, d.found))
        .collect();
    let page = SitePage {
        nav: super::nav(&s, "sites"),
        site: id.to_string(),
        name: record.map(|r| r.name.to_string()).unwrap_or_default(),
        company: record.map(|r| r.company.to_string()).unwrap_or_default(),
        at,
        firearms: inv
            .firearms
            .iter()
            .map(|f| InventoryRow {
                serial: f.serial.clone(),
                make_model: f.make_model.clone(),
                calibre: f.calibre.clone(),
                state: f.state.to_string(),
            })
            .collect(),
        by_state: inv
            .by_state
            .iter()
            .map(|(k, n)| ((*k).to_string(), *n))
            .collect(),
        rounds: inv
            .rounds
            .iter()
            .map(|r| {
                (
                    r.lot_number.clone(),
                    r.calibre.clone(),
                    r.holder.to_string(),
                    r.rounds,
                )
            })
            .collect(),
        issues,
        alerts: alerts.iter().map(super::dashboard::row).collect(),
        discrepancies,
        head_counter: integrity.head_counter,
        head_hash: integrity.head_hash,
        entries: integrity.entries,
        gaps: integrity.gaps,
        keys: integrity
            .keys
            .iter()
            .map(|k| KeyRow {
                device: k.device.to_string(),
                epoch: k.key_epoch,
                status: k.status().to_string(),
            })
            .collect(),
        equivocations: integrity.equivocations,
        last_sync,
        chart_alt: super::dashboard::charts_alt(&format!("Entries per day at {id}"), &per_day),
    };
    super::html(&page)
}

/// The site's entries counted by the day (device time) they were signed,
/// and the receipt time of its last entry (its last sync).
fn entries_per_day(
    c: &Console,
    id: &SiteId,
) -> Result<(charts::Bars, Option<String>), ConsoleError> {
    let reader = c.shared.store().read().map_err(super::internal)?;
    let entries = reader
        .scan(&IndexKey::Site(id.clone()), 0, usize::MAX)
        .map_err(super::internal)?;
    let mut days: BTreeMap<String, u64> = BTreeMap::new();
    for e in &entries {
        let day: String = e
            .entry
            .header()
            .device_time
            .rfc3339()
            .chars()
            .take(10)
            .collect();
        *days.entry(day).or_default() += 1;
    }
    Ok((
        days.into_iter().collect(),
        entries.last().map(|e| e.received_at.rfc3339()),
    ))
}

/// `GET /console/sites/{site}/entries.svg`: entries per day, for readers
/// of the site (the server's integrity handler decides, as on the page).
pub async fn entries_chart(
    State(c): State<Console>,
    s: Signed,
    axum::extract::Path(site): axum::extract::Path<String>,
) -> Result<Response, ConsoleError> {
    let _ = query::integrity(
        State(c.shared.clone()),
        s.caller.clone(),
        Path(site.clone()),
    )
    .await?;
    let id: SiteId = site
        .parse()
        .map_err(|e| ConsoleError::Api(ApiError::BadRequest(format!("site: {e}"))))?;
    let (per_day, _) = entries_per_day(&c, &id)?;
    Ok(charts::svg_response(charts::bars(
        &format!("Entries per day at {id}"),
        &per_day,
    )?))
}

/// `GET /console/sites/{site}/inventory.csv`.
pub async fn inventory_csv(
    State(c): State<Console>,
    s: Signed,
    axum::extract::Path(site): axum::extract::Path<String>,
    axum::extract::Query(q): axum::extract::Query<AtForm>,
) -> Result<Response, ConsoleError> {
    let inv = inventory_of(&c, &s, &site, super::given(&q.at)).await?;
    let mut rows = vec![vec![
        "site".into(),
        "as_of".into(),
        "serial".into(),
        "make_model".into(),
        "calibre".into(),
        "state".into(),
    ]];
    let as_of = inv.at.map_or_else(|| "now".to_string(), |t| t.rfc3339());
    for f in &inv.firearms {
        rows.push(vec![
            inv.site.to_string(),
            as_of.clone(),
            f.serial.clone(),
            f.make_model.clone(),
            f.calibre.clone(),
            f.state.to_string(),
        ]);
    }
    super::csv_response(&format!("inventory-{}.csv", inv.site), rows)
}
