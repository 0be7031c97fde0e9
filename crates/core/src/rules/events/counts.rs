//! Counts and discrepancies: a stock count (possibly in parts) compared with
//! the ledger, and a discrepancy it raised settled.

use std::collections::{BTreeMap, BTreeSet};

use crate::event::SiteEvent;
use crate::ids::PersonId;
use crate::model::{AmmoLine, CountKind, FirearmId, Item, LotId};
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
            part,
            parts,
            firearms_seen,
            rounds_seen,
            ..
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
            finish_count(state, ctx, &seen, &rounds);
            if matches!(kind, CountKind::SerialNumber | CountKind::Full) {
                state.last_count.insert(ctx.site.clone(), ctx.time);
            }
        }
    }
}

/// Compares a finished count session with the ledger and records a
/// discrepancy per firearm or lot that differs.
fn finish_count(
    state: &mut State,
    ctx: &SiteCtx<'_>,
    seen: &BTreeSet<FirearmId>,
    rounds: &BTreeMap<LotId, u64>,
) {
    let site = ctx.site;
    let expected: Vec<FirearmId> = state
        .firearms_at(site)
        .filter(|f| matches!(f.state, FirearmState::InStore { .. }))
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
        .filter(|(s, _)| s == site)
        .map(|(_, l)| *l)
        .chain(rounds.keys().copied())
        .collect();
    let mut done = BTreeSet::new();
    for lot in lots {
        if !done.insert(lot) {
            continue;
        }
        let want = u64::try_from(state.in_store(site, &lot).max(0)).unwrap_or(0);
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
        });
    }
}

/// `SiteEvent::DiscrepancyResolved`.
pub(super) struct DiscrepancyResolved;

impl EventRules for DiscrepancyResolved {
    fn check(&self, state: &State, _act: &Act<'_>, event: &SiteEvent, out: &mut Out) {
        let SiteEvent::DiscrepancyResolved { count, .. } = event else {
            return;
        };
        reference(state, count, "count", out);
    }

    fn apply(&self, state: &mut State, _ctx: &SiteCtx<'_>, event: &SiteEvent) {
        let SiteEvent::DiscrepancyResolved { count, item, .. } = event else {
            return;
        };
        for d in state
            .discrepancies
            .iter_mut()
            .filter(|d| &d.count == count && &d.item == item)
        {
            d.resolved = true;
        }
    }
}
