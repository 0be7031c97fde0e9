//! Counts and discrepancies: a stock count (possibly in parts) compared with
//! the ledger, and a discrepancy it raised settled.

use std::collections::{BTreeMap, BTreeSet};

use crate::event::SiteEvent;
use crate::ids::{LocationId, PersonId};
use crate::model::{AmmoLine, CountKind, FirearmId, Item, LotId, Resolution};
use crate::rules::RuleId;
use crate::rules::check::{Act, Out};
use crate::rules::events::shared::reference;
use crate::rules::events::{EventRules, SiteCtx};
use crate::rules::state::{Discrepancy, FirearmState, State};

/// `SiteEvent::CountPerformed`: one part of a count session.
pub(super) struct CountPerformed;

impl EventRules for CountPerformed {
    fn check(&self, _state: &State, act: &Act<'_>, event: &SiteEvent, out: &mut Out) {
        let SiteEvent::CountPerformed { counters, .. } = event else {
            return;
        };
        let mut c: Vec<&PersonId> = counters.iter().collect();
        c.sort();
        c.dedup();
        if c.len() < 2 {
            out.push(
                RuleId::CountTwoCounters,
                format!("{} distinct counter(s)", c.len()),
            );
        }
        if c.contains(&act.officer) {
            out.push(
                RuleId::CountTwoCounters,
                format!("the custodian {} counted their own stock", act.officer),
            );
        }
    }

    fn apply(&self, state: &mut State, ctx: &SiteCtx<'_>, event: &SiteEvent) {
        let SiteEvent::CountPerformed {
            session,
            kind,
            locations,
            part,
            parts,
            counters,
            firearms_seen,
            rounds_seen,
        } = event
        else {
            return;
        };
        let key = (ctx.site.clone(), session.clone());
        let s = state.count_sessions.entry(key.clone()).or_default();
        s.0.extend(firearms_seen.iter().copied());
        for l in rounds_seen {
            let r = s.1.entry(l.lot).or_insert(0);
            *r = r.saturating_add(l.rounds);
        }
        if part >= parts {
            let (seen, rounds) = state.count_sessions.remove(&key).unwrap_or_default();
            let scope = match (kind, locations.is_empty()) {
                (CountKind::Full | CountKind::SerialNumber, true) => Scope::Site,
                (_, false) => Scope::Locations(locations),
                (_, true) => Scope::Seen,
            };
            finish_count(state, ctx, &seen, &rounds, &scope);
            if let Some(lead) = counters.first() {
                let leads = state.count_leads.entry(ctx.site.clone()).or_default();
                leads.push(lead.clone());
                if leads.len() > 2 {
                    leads.remove(0);
                }
            }
            if matches!(kind, CountKind::SerialNumber | CountKind::Full) {
                state.last_count.insert(ctx.site.clone(), ctx.time);
            }
        }
    }
}

/// What a count covers: the whole site (a full or serial-number count), the
/// named locations, or (a partial count naming none) only what it saw.
enum Scope<'a> {
    Site,
    Locations(&'a [LocationId]),
    Seen,
}

impl Scope<'_> {
    fn covers(&self, loc: &LocationId) -> bool {
        match self {
            Scope::Site => true,
            Scope::Locations(l) => l.contains(loc),
            Scope::Seen => false,
        }
    }
}

/// Compares a finished count session with the ledger and records a
/// discrepancy per firearm or lot that differs, judging only what the count
/// covers.
fn finish_count(
    state: &mut State,
    ctx: &SiteCtx<'_>,
    seen: &BTreeSet<FirearmId>,
    rounds: &BTreeMap<LotId, u64>,
    scope: &Scope<'_>,
) {
    let site = ctx.site;
    let expected: Vec<FirearmId> = state
        .firearms_at(site)
        .filter(|f| match &f.state {
            FirearmState::InStore { location } => {
                scope.covers(location) || (matches!(scope, Scope::Seen) && seen.contains(&f.id))
            }
            _ => false,
        })
        .map(|f| f.id)
        .collect();
    let mut found = Vec::new();
    for f in &expected {
        if !seen.contains(f) {
            found.push((Item::Firearm(*f), 1, 0));
        }
    }
    for f in seen {
        if !expected.contains(f) {
            found.push((Item::Firearm(*f), 0, 1));
        }
    }
    let lots: Vec<LotId> = state
        .balances
        .keys()
        .filter(|(s, _)| s == site && !matches!(scope, Scope::Seen))
        .map(|(_, l)| *l)
        .chain(rounds.keys().copied())
        .collect();
    let held = |state: &State, lot: &LotId| -> i64 {
        match scope {
            Scope::Site | Scope::Seen => state.in_store(site, lot),
            Scope::Locations(locs) => locs
                .iter()
                .map(|l| state.balance(site, lot, &crate::model::Holder::Store(l.clone())))
                .sum(),
        }
    };
    let mut done = BTreeSet::new();
    for lot in lots {
        if !done.insert(lot) {
            continue;
        }
        let want = u64::try_from(held(state, &lot).max(0)).unwrap_or(0);
        let got = rounds.get(&lot).copied().unwrap_or(0);
        if want != got {
            found.push((Item::Rounds(AmmoLine { lot, rounds: got }), want, got));
        }
    }
    for (item, expected, found) in found {
        state.discrepancies.push(Discrepancy {
            site: site.clone(),
            count: ctx.hash,
            item,
            expected,
            found,
            resolved: false,
            person: None,
        });
    }
}

/// Whether two items name the same firearm, or rounds of the same lot.
fn same_item(a: &Item, b: &Item) -> bool {
    match (a, b) {
        (Item::Firearm(x), Item::Firearm(y)) => x == y,
        (Item::Rounds(x), Item::Rounds(y)) => x.lot == y.lot,
        _ => false,
    }
}

/// `SiteEvent::DiscrepancyResolved`.
pub(super) struct DiscrepancyResolved;

impl EventRules for DiscrepancyResolved {
    fn check(&self, state: &State, act: &Act<'_>, event: &SiteEvent, out: &mut Out) {
        let SiteEvent::DiscrepancyResolved {
            count, resolution, ..
        } = event
        else {
            return;
        };
        reference(state, count, "count", out);
        if let Resolution::WrittenOff { approver, .. } = resolution
            && approver == act.officer
        {
            out.push(
                RuleId::WriteOffApproved,
                format!("{approver} cannot approve their own write-off"),
            );
        }
    }

    fn apply(&self, state: &mut State, _ctx: &SiteCtx<'_>, event: &SiteEvent) {
        let SiteEvent::DiscrepancyResolved { count, item, .. } = event else {
            return;
        };
        for d in state
            .discrepancies
            .iter_mut()
            .filter(|d| &d.count == count && same_item(&d.item, item))
        {
            d.resolved = true;
        }
    }
}
