//! Reports about persons and licences: expiries at 30, 60 and 90 days, and
//! personnel compliance (overrides and rule findings by person).

use std::collections::{BTreeMap, BTreeSet};

use armsledger_core::entry::ChainId;
use armsledger_core::event::SiteEvent;
use armsledger_core::ids::{PersonId, Timestamp};
use armsledger_core::oversight::VettingOutcome;

use crate::registers::site_events;
use crate::{Cell, Ledger, Scope, Table};

/// The expiry windows, in days.
pub const WINDOWS: [u64; 3] = [30, 60, 90];

/// Licences, permits, qualifications and passed vettings of persons, company
/// licences and site armoury approvals that expire within 90 days of now or expired in the last 90 days.
pub(crate) fn expiries(ledger: &Ledger<'_>, scope: &Scope) -> Table {
    let state = ledger.state;
    let now = scope.now;
    let horizon = 90 * Timestamp::DAY;
    let mut rows: Vec<(Timestamp, Vec<Cell>)> = Vec::new();
    let mut push = |company: String,
                    kind: &str,
                    holder: String,
                    doc: &str,
                    number: String,
                    until: Timestamp| {
        if until.0 > now.0.saturating_add(horizon) || until.0.saturating_add(horizon) <= now.0 {
            return;
        }
        let (days, window) = if until <= now {
            let ago = (now.0 - until.0).div_ceil(Timestamp::DAY);
            (
                -i64::try_from(ago).unwrap_or(i64::MAX),
                "expired".to_string(),
            )
        } else {
            let left = (until.0 - now.0) / Timestamp::DAY;
            let w = WINDOWS
                .iter()
                .find(|w| until.0 - now.0 <= *w * Timestamp::DAY)
                .copied()
                .unwrap_or(90);
            (i64::try_from(left).unwrap_or(i64::MAX), w.to_string())
        };
        rows.push((
            until,
            vec![
                company.into(),
                kind.into(),
                holder.into(),
                doc.into(),
                number.into(),
                until.into(),
                days.into(),
                window.into(),
            ],
        ));
    };
    for (cid, c) in &state.companies {
        if scope.has_company(state, Some(cid)) {
            push(
                cid.to_string(),
                "company",
                cid.to_string(),
                "company licence",
                c.licence.to_string(),
                c.valid.until,
            );
        }
    }
    for (site, a) in &state.approvals {
        if scope.has_site(state, site) {
            push(
                state
                    .company_of(site)
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                "site",
                site.to_string(),
                "armoury approval",
                a.approval.to_string(),
                a.valid.until,
            );
        }
    }
    for (pid, p) in &state.persons {
        if !scope.has_company(state, p.company.as_ref()) {
            continue;
        }
        let company = p
            .company
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        if let Some(l) = &p.licence {
            push(
                company.clone(),
                "person",
                pid.to_string(),
                "officer licence",
                l.number.to_string(),
                l.valid.until,
            );
        }
        for pm in &p.permits {
            push(
                company.clone(),
                "person",
                pid.to_string(),
                "firearm permit",
                pm.number.to_string(),
                pm.valid.until,
            );
        }
        if let Some(vet) = p
            .vetting
            .as_ref()
            .filter(|v| v.outcome == VettingOutcome::Passed)
        {
            push(
                company.clone(),
                "person",
                pid.to_string(),
                "vetting",
                vet.reference.to_string(),
                vet.expires,
            );
        }
        for q in &p.qualifications {
            push(
                company.clone(),
                "person",
                pid.to_string(),
                &format!("{:?} qualification", q.weapon),
                q.id.to_string(),
                q.valid.until,
            );
        }
    }
    rows.sort_by_key(|r| r.0);
    Table {
        report: "expiries",
        title: "Expiries at 30, 60 and 90 days".to_string(),
        scope: scope.describe(),
        columns: vec![
            "company",
            "holder_kind",
            "holder",
            "document",
            "number",
            "expires",
            "days_left",
            "window",
        ],
        rows: rows.into_iter().map(|(_, r)| r).collect(),
        notes: Vec::new(),
    }
}

#[derive(Default)]
struct PersonFigures {
    acts: u64,
    overrides_authorised: u64,
    findings: u64,
    overridden: u64,
    rules: BTreeSet<&'static str>,
}

/// Per person, in the period and at the sites in scope: acts recorded,
/// overrides authorised as the second person, and hard-rule findings against
/// the acts they recorded (overridden or not). Only persons with an override
/// or a finding are listed.
pub(crate) fn personnel(ledger: &Ledger<'_>, scope: &Scope) -> Table {
    let state = ledger.state;
    let mut by: BTreeMap<PersonId, PersonFigures> = BTreeMap::new();
    for (l, _, ev) in site_events(ledger, scope) {
        if !scope.has_time(l.entry.header().device_time) {
            continue;
        }
        by.entry(l.entry.body().officer.clone()).or_default().acts += 1;
        if let SiteEvent::Overridden { authoriser, .. } = ev {
            by.entry(authoriser.clone())
                .or_default()
                .overrides_authorised += 1;
        }
    }
    for f in ledger.findings {
        let ChainId::Site(site) = &f.chain else {
            continue;
        };
        if !scope.has_site(state, site) || !scope.has_time(f.time) {
            continue;
        }
        let Some(meta) = state.entries.get(&f.entry) else {
            continue;
        };
        let p = by.entry(meta.officer.clone()).or_default();
        p.findings += 1;
        if f.overridden_by.is_some() {
            p.overridden += 1;
        }
        p.rules.insert(f.rule.name());
    }
    let rows = by
        .into_iter()
        .filter(|(_, f)| f.overrides_authorised > 0 || f.findings > 0)
        .map(|(p, f)| {
            let company = state
                .persons
                .get(&p)
                .and_then(|r| r.company.as_ref())
                .map(ToString::to_string);
            vec![
                p.to_string().into(),
                company.into(),
                f.acts.into(),
                f.overrides_authorised.into(),
                f.findings.into(),
                f.overridden.into(),
                (f.findings - f.overridden).into(),
                f.rules.into_iter().collect::<Vec<_>>().join("; ").into(),
            ]
        })
        .collect();
    let mut out = Table {
        report: "personnel",
        title: "Personnel compliance".to_string(),
        scope: scope.describe(),
        columns: vec![
            "person",
            "company",
            "acts_recorded",
            "overrides_authorised",
            "findings",
            "findings_overridden",
            "findings_not_overridden",
            "rules",
        ],
        rows,
        notes: Vec::new(),
    };
    out.notes.push(
        "findings are the hard-rule findings against acts the person recorded; inspection findings against persons join here once the regulator records them."
            .to_string(),
    );
    out
}
