//! The dashboard: alerts by severity (equivocations and lost-or-stolen
//! weapons first), the log's size and its last checkpoint.

use std::collections::BTreeMap;

use armsledger_core::ids::Timestamp;
use armsledger_core::rules::{Alert, AlertSeverity};
use armsledger_log::Cosignature;
use armsledger_server::Shared;
use armsledger_server::routes::extract::Query;
use armsledger_server::routes::query::{self, ScopeQuery};
use armsledger_server::routes::register::{self, TraceRequestsQuery};
use axum::extract::State;
use axum::response::{Html, Response};

use crate::Console;
use crate::auth::Signed;
use crate::charts;
use crate::error::ConsoleError;
use crate::views::{AlertGroup, AlertRow, DashboardPage, TraceRequestView};

/// What each severity's group holds, in words.
fn group_label(sev: AlertSeverity) -> &'static str {
    match sev {
        AlertSeverity::Critical => "Equivocations and lost-and-stolen hits",
        AlertSeverity::Warning => {
            "Overdue returns, items missing in transit, trace requests overdue and other missed rules"
        }
        AlertSeverity::Notice => "Expiries and other things coming up",
    }
}

/// Alerts grouped by core's one severity per rule (`RuleId::severity`),
/// most urgent group first, and within a group in the rule's urgency order,
/// then by time.
pub fn groups(alerts: &[Alert]) -> Vec<AlertGroup> {
    let mut sorted: Vec<&Alert> = alerts.iter().collect();
    sorted.sort_by_key(|a| (a.rule.urgency(), a.at));
    AlertSeverity::ALL
        .iter()
        .map(|sev| AlertGroup {
            severity: sev.name(),
            label: group_label(*sev),
            alerts: sorted
                .iter()
                .filter(|a| a.rule.severity() == *sev)
                .map(|a| row(a))
                .collect(),
        })
        .collect()
}

/// An alert as a row.
pub fn row(a: &Alert) -> AlertRow {
    AlertRow {
        rule: a.rule.name().to_string(),
        site: a.site.as_ref().map(ToString::to_string),
        company: a.company.as_ref().map(ToString::to_string),
        at: a.at.rfc3339(),
        detail: a.detail.clone(),
    }
}

/// The newest cosignature among `lines` (C2SP `tlog-cosignature/v1`
/// lines; others are skipped): its time in Unix seconds and the witness.
pub fn newest_cosignature(lines: &str) -> Option<(u64, String)> {
    lines
        .lines()
        .filter_map(|l| Cosignature::parse_line(l).ok())
        .max_by_key(Cosignature::timestamp)
        .map(|c| (c.timestamp(), c.name().to_string()))
}

/// When the last checkpoint was signed, as far as a witness attests it: the
/// newest cosignature of the latest checkpoint, else of the newest one that
/// met the witness quorum. The server keeps no signing time of its own
/// (docs/console.md says why); `None` when no witness cosigned.
fn witnessed(shared: &Shared) -> Option<String> {
    let board = shared.witnessing();
    for p in [shared.latest_checkpoint(), board.quorum_checkpoint()]
        .into_iter()
        .flatten()
    {
        let mut lines = board.cosignatures_for(p.size, &p.note);
        lines.push('\n');
        lines.push_str(&p.note);
        if let Some((secs, witness)) = newest_cosignature(&lines) {
            return Some(format!(
                "{} by witness {witness} (checkpoint of size {})",
                Timestamp(secs.saturating_mul(Timestamp::SECOND)).rfc3339(),
                p.size
            ));
        }
    }
    None
}

/// The alerts chart's title.
const ALERTS_CHART: &str = "Open alerts by the month they started";

/// Alerts counted by the month (`YYYY-MM`) they started, oldest first.
pub fn by_month(alerts: &[Alert]) -> Vec<(String, u64)> {
    let mut months: BTreeMap<String, u64> = BTreeMap::new();
    for a in alerts {
        let month: String = a.at.rfc3339().chars().take(7).collect();
        *months.entry(month).or_default() += 1;
    }
    months.into_iter().collect()
}

/// A chart's figures in words, for its `alt` text.
pub fn charts_alt(title: &str, data: &[(String, u64)]) -> String {
    if data.is_empty() {
        return format!("{title}: none.");
    }
    let figures: Vec<String> = data.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    format!("{title}: {}.", figures.join(", "))
}

/// `GET /console/charts/alerts.svg`: the dashboard's alerts over time.
pub async fn alerts_chart(State(c): State<Console>, s: Signed) -> Result<Response, ConsoleError> {
    let axum::Json(alerts) = query::get_alerts(
        State(c.shared.clone()),
        s.caller.clone(),
        Query(ScopeQuery::default()),
    )
    .await?;
    Ok(charts::svg_response(charts::bars(
        ALERTS_CHART,
        &by_month(&alerts),
    )?))
}

/// `GET /console/`.
pub async fn page(State(c): State<Console>, s: Signed) -> Result<Html<String>, ConsoleError> {
    let axum::Json(alerts) = query::get_alerts(
        State(c.shared.clone()),
        s.caller.clone(),
        Query(ScopeQuery::default()),
    )
    .await?;
    let groups = groups(&alerts);
    let reader = c.shared.store().read().map_err(super::internal)?;
    let log_size = reader.size();
    let checkpoint = c.shared.latest_checkpoint();
    let checkpoint_covers = match checkpoint.as_ref().and_then(|p| p.size.checked_sub(1)) {
        Some(last) => reader
            .entry(last)
            .map_err(super::internal)?
            .map(|e| e.received_at.rfc3339()),
        None => None,
    };
    let sites = {
        let v = c.shared.read_verifier()?;
        let state = v.engine().state();
        state
            .sites
            .iter()
            .filter(|(id, r)| s.role().may_read(Some(id), Some(&r.company)))
            .count()
    };
    let data = by_month(&alerts);
    // Trace requests not yet answered, as the API lists them to this role.
    let axum::Json(requests) = register::trace_requests(
        State(c.shared.clone()),
        s.caller.clone(),
        Query(TraceRequestsQuery::default()),
    )
    .await?;
    let trace_requests = requests
        .iter()
        .filter(|r| r.status != "answered")
        .map(|r| TraceRequestView {
            reference: r.reference.to_string(),
            status: r.status.clone(),
            serial: r.serial.clone(),
            company: r.company.to_string(),
            opened_at: r.opened_at.rfc3339(),
            deadline: r.deadline.rfc3339(),
        })
        .collect();
    let page = DashboardPage {
        witnessed: witnessed(&c.shared),
        trace_requests,
        nav: super::nav(&s, "dashboard"),
        groups,
        log_size,
        checkpoint_size: checkpoint.as_ref().map(|p| p.size),
        checkpoint_covers,
        checkpoint_note: checkpoint.map(|p| p.note),
        sites,
        chart_alt: charts_alt(ALERTS_CHART, &data),
    };
    super::html(&page)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use armsledger_core::rules::RuleId;
    use armsledger_log::CosignerKey;

    use super::*;

    fn alert(rule: RuleId, at: u64) -> Alert {
        Alert {
            rule,
            site: None,
            company: None,
            entry: None,
            at: Timestamp(at),
            detail: format!("{rule} at {at}"),
        }
    }

    #[test]
    fn stolen_hits_and_equivocations_lead_and_expiries_come_last() {
        let g = groups(&[
            alert(RuleId::ExpiringSoon, 1),
            alert(RuleId::TraceOverdue, 2),
            alert(RuleId::MissingInTransit, 3),
            alert(RuleId::ReturnOverdue, 4),
            alert(RuleId::StolenHit, 5),
            alert(RuleId::KeyEquivocated, 6),
        ]);
        let names: Vec<Vec<&str>> = g
            .iter()
            .map(|g| g.alerts.iter().map(|a| a.rule.as_str()).collect())
            .collect();
        assert_eq!(
            names,
            [
                vec!["key-equivocated", "stolen-hit"],
                vec!["return-overdue", "missing-in-transit", "trace-overdue"],
                vec!["expiring-soon"],
            ]
        );
        assert_eq!(g[0].severity, "critical");
        // Quiet: with only an expiry, the critical group is empty.
        let g = groups(&[alert(RuleId::ExpiringSoon, 1)]);
        assert!(g[0].alerts.is_empty() && g[1].alerts.is_empty());
        assert_eq!(g[2].alerts.len(), 1);
    }

    #[test]
    fn the_newest_witness_cosignature_dates_the_checkpoint() {
        let body = "armsledger.local/log/x\n3\nAAAA\n";
        let a = CosignerKey::from_seed("w1.example", &[1; 32]).unwrap();
        let b = CosignerKey::from_seed("w2.example", &[2; 32]).unwrap();
        let lines = format!(
            "{}\n{}\nnot a cosignature\n",
            a.cosign(body, 1_700_000_000).unwrap().to_line().trim_end(),
            b.cosign(body, 1_700_000_600).unwrap().to_line().trim_end()
        );
        assert_eq!(
            newest_cosignature(&lines),
            Some((1_700_000_600, "w2.example".to_string()))
        );
        // Quiet: a note with only the log's own signature has none.
        assert_eq!(newest_cosignature(body), None);
    }
}
