//! The dashboard: alerts by severity (equivocations and lost-or-stolen
//! weapons first), the log's size and its last checkpoint.

use std::collections::BTreeMap;

use armsledger_core::rules::{Alert, AlertSeverity};
use armsledger_server::routes::extract::Query;
use armsledger_server::routes::query::{self, ScopeQuery};
use axum::extract::State;
use axum::response::Html;

use crate::Console;
use crate::auth::Signed;
use crate::charts;
use crate::error::ConsoleError;
use crate::views::{AlertGroup, AlertRow, DashboardPage};

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

/// `GET /console/`.
pub async fn page(State(c): State<Console>, s: Signed) -> Result<Html<String>, ConsoleError> {
    let axum::Json(alerts) = query::get_alerts(
        State(c.shared.clone()),
        s.caller.clone(),
        Query(ScopeQuery::default()),
    )
    .await?;
    let groups = groups(&alerts);
    let mut by_month: BTreeMap<String, u64> = BTreeMap::new();
    for a in &alerts {
        let month: String = a.at.rfc3339().chars().take(7).collect();
        *by_month.entry(month).or_default() += 1;
    }
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
    let data: Vec<(String, u64)> = by_month.into_iter().collect();
    let page = DashboardPage {
        nav: super::nav(&s, "dashboard"),
        groups,
        log_size,
        checkpoint_size: checkpoint.as_ref().map(|p| p.size),
        checkpoint_covers,
        checkpoint_note: checkpoint.map(|p| p.note),
        sites,
        chart: charts::bars("Open alerts by the month they started", &data, 1),
    };
    super::html(&page)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use armsledger_core::ids::Timestamp;
    use armsledger_core::rules::RuleId;

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
}
