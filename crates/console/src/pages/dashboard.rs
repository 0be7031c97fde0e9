//! The dashboard: alerts by severity (equivocations and lost-or-stolen
//! weapons first), the log's size and its last checkpoint.

use std::collections::BTreeMap;

use armsledger_core::rules::{Alert, RuleId};
use armsledger_server::routes::extract::Query;
use armsledger_server::routes::query::{self, ScopeQuery};
use axum::extract::State;
use axum::response::Html;

use crate::Console;
use crate::auth::Signed;
use crate::charts;
use crate::error::ConsoleError;
use crate::views::{AlertGroup, AlertRow, DashboardPage};

/// A rule's severity on the dashboard: 0 critical (a cloned device, a
/// lost or stolen weapon), 1 high (overdue returns, missing in transit),
/// 2 medium (counts overdue), 3 low (expiries).
pub fn severity(rule: RuleId) -> usize {
    match rule {
        RuleId::KeyEquivocated | RuleId::LossReferencesMissing | RuleId::StolenHit => 0,
        RuleId::ReturnOverdue | RuleId::TransferUnacknowledged => 1,
        RuleId::CountOverdue => 2,
        _ => 3,
    }
}

const GROUPS: [(&str, &str); 4] = [
    ("critical", "Equivocations and lost or stolen weapons"),
    ("high", "Overdue returns and items missing in transit"),
    ("medium", "Counts overdue"),
    ("low", "Expiries"),
];

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
    let mut groups: Vec<AlertGroup> = GROUPS
        .iter()
        .map(|(severity, label)| AlertGroup {
            severity,
            label,
            alerts: Vec::new(),
        })
        .collect();
    let mut by_month: BTreeMap<String, u64> = BTreeMap::new();
    for a in &alerts {
        if let Some(g) = groups.get_mut(severity(a.rule)) {
            g.alerts.push(row(a));
        }
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
    use super::*;

    #[test]
    fn a_stolen_hit_is_critical_and_an_expiry_low() {
        assert_eq!(severity(RuleId::StolenHit), 0);
        assert_eq!(severity(RuleId::KeyEquivocated), 0);
        assert_eq!(severity(RuleId::ExpiringSoon), 3);
    }
}
