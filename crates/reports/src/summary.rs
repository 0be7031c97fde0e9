//! The regulator's summary: one row per company, with its alerts by
//! severity, inspection findings still open, lost-and-stolen hits and trace
//! requests unanswered.

use armsledger_core::entry::ChainId;
use armsledger_core::ids::{CompanyId, SiteId, Timestamp};
use armsledger_core::rules::state::{FirearmState, State};
use armsledger_core::rules::{AlertPolicy, AlertSeverity as Severity, RuleId, alerts};

use crate::{Cell, Ledger, Scope, Table};

/// The middle of `v` (of an even number, the lower of the two middles).
pub(crate) fn median(mut v: Vec<u64>) -> Option<u64> {
    v.sort_unstable();
    let mid = v.len().checked_sub(1)? / 2;
    v.get(mid).copied()
}

/// One row per company in scope.
pub(crate) fn summary(ledger: &Ledger<'_>, scope: &Scope) -> Table {
    let state = ledger.state;
    let mut all = alerts(state, scope.now, &AlertPolicy::default());
    all.extend(ledger.extra_alerts.iter().cloned());
    let mut rows = Vec::new();
    for (cid, c) in &state.companies {
        if !scope.has_company(state, Some(cid)) {
            continue;
        }
        let sites: Vec<_> = state
            .sites
            .iter()
            .filter(|(s, r)| &r.company == cid && scope.has_site(state, s))
            .map(|(s, _)| s)
            .collect();
        let mine = |a: &&armsledger_core::rules::Alert| a.company.as_ref() == Some(cid);
        let by = |sev: Severity| {
            all.iter()
                .filter(mine)
                .filter(|a| a.rule.severity() == sev)
                .count()
        };
        let rule = |r: RuleId| all.iter().filter(mine).filter(|a| a.rule == r).count();
        let held = state
            .firearms
            .values()
            .filter(|f| sites.contains(&&f.site))
            .filter(|f| {
                matches!(
                    f.state,
                    FirearmState::InStore { .. }
                        | FirearmState::Issued { .. }
                        | FirearmState::InMaintenance { .. }
                )
            })
            .count();
        let open_discrepancies = state
            .discrepancies
            .iter()
            .filter(|d| !d.resolved && sites.contains(&&d.site))
            .count();
        let losses = state
            .losses
            .values()
            .filter(|l| sites.contains(&&l.site) && scope.has_time(l.reported_at))
            .count();
        let findings = ledger
            .findings
            .iter()
            .filter(|f| matches!(&f.chain, ChainId::Site(s) if sites.contains(&s)))
            .filter(|f| scope.has_time(f.time))
            .count();
        let oversight = OversightFigures::of(state, cid, &sites, scope);
        let mut delays = Vec::new();
        for l in &ledger.entries {
            let ChainId::Site(s) = l.entry.chain() else {
                continue;
            };
            let act = l.entry.body().occurred_at;
            if sites.contains(&s) && scope.has_time(l.entry.header().device_time) {
                delays.push(l.recorded_at().0.saturating_sub(act.0) / Timestamp::SECOND);
            }
        }
        rows.push(vec![
            cid.to_string().into(),
            c.name.to_string().into(),
            format!("{:?}", c.status).to_lowercase().into(),
            sites.len().into(),
            held.into(),
            delays.len().into(),
            by(Severity::Critical).into(),
            by(Severity::Warning).into(),
            by(Severity::Notice).into(),
            rule(RuleId::ReturnOverdue).into(),
            rule(RuleId::MissingInTransit).into(),
            open_discrepancies.into(),
            losses.into(),
            findings.into(),
            oversight.open_findings.into(),
            oversight.stolen_hits.into(),
            oversight.trace_open.into(),
            oversight.trace_overdue.into(),
            Cell::from(median(delays)),
        ]);
    }
    Table {
        report: "summary",
        title: "Regulator's summary by company".to_string(),
        scope: scope.describe(),
        columns: vec![
            "company",
            "name",
            "status",
            "sites",
            "firearms_held",
            "entries",
            "alerts_critical",
            "alerts_warning",
            "alerts_notice",
            "overdue_returns",
            "missing_in_transit",
            "open_discrepancies",
            "losses_reported",
            "rule_findings",
            "open_findings",
            "stolen_hits",
            "trace_open",
            "trace_overdue",
            "median_seconds_act_to_record",
        ],
        rows,
        notes: vec![
            "Alerts, open findings and trace requests are as of the report's time; the other counts cover the period."
                .to_string(),
        ],
    }
}

/// A company's oversight figures: inspection findings open at `now` (at
/// its sites in scope), lost-and-stolen hits at those sites in the period,
/// and trace requests to it opened by `now` and unanswered, before and past
/// their deadline.
#[derive(Debug, Default, PartialEq, Eq)]
struct OversightFigures {
    open_findings: usize,
    stolen_hits: usize,
    trace_open: usize,
    trace_overdue: usize,
}

impl OversightFigures {
    fn of(state: &State, company: &CompanyId, sites: &[&SiteId], scope: &Scope) -> Self {
        let now = scope.now;
        let open_findings = state
            .oversight
            .findings
            .values()
            .filter(|f| &f.company == company && sites.contains(&&f.site))
            .filter(|f| f.recorded_at <= now && f.closed.as_ref().is_none_or(|(at, _)| *at > now))
            .count();
        let stolen_hits = state
            .stolen_hits
            .iter()
            .filter(|h| sites.contains(&&h.site) && scope.has_time(h.at))
            .count();
        let mut out = OversightFigures {
            open_findings,
            stolen_hits,
            ..Self::default()
        };
        // An answer counts once it is on the ledger, as for the
        // `trace-overdue` alert: answers are timed by server receipt, which
        // may come after a report's time.
        let asked = state
            .trace_requests
            .values()
            .filter(|r| &r.company == company && r.opened_at <= now);
        for r in asked {
            match r.status(now) {
                "open" => out.trace_open += 1,
                "overdue" => out.trace_overdue += 1,
                _ => {}
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_takes_the_lower_middle() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![7]), Some(7));
        assert_eq!(median(vec![9, 1, 5]), Some(5));
        assert_eq!(median(vec![10, 2, 4, 8]), Some(4));
    }

    #[test]
    fn summary_severities_are_the_rules_own() {
        // The columns count by core's one mapping: equivocations and stolen
        // hits critical, items missing in transit a warning, expiries notices.
        assert_eq!(RuleId::KeyEquivocated.severity(), Severity::Critical);
        assert_eq!(RuleId::StolenHit.severity(), Severity::Critical);
        assert_eq!(RuleId::MissingInTransit.severity(), Severity::Warning);
        assert_eq!(RuleId::ReturnOverdue.severity(), Severity::Warning);
        assert_eq!(RuleId::ExpiringSoon.severity(), Severity::Notice);
    }
}
