//! Ammunition: rounds received from outside the ledger, issued and returned
//! without a firearm, and expended outside a return.

use crate::event::SiteEvent;
use crate::model::{ExpenditureReason, Holder};
use crate::rules::RuleId;
use crate::rules::check::{Act, Out};
use crate::rules::events::shared::{
    close_issue, delta, location, lots_serviceable, no_open_shortfall, open_issue, recipient,
    reconcile, take_rounds,
};
use crate::rules::events::{EventRules, SiteCtx, scope};
use crate::rules::state::State;

/// `SiteEvent::AmmunitionReceived`.
pub(super) struct AmmunitionReceived;

impl EventRules for AmmunitionReceived {
    fn check(&self, state: &State, act: &Act<'_>, event: &SiteEvent, out: &mut Out) {
        let SiteEvent::AmmunitionReceived {
            lot,
            identity,
            rounds,
            location: loc,
            ..
        } = event
        else {
            return;
        };
        if *lot != identity.id() {
            out.push(
                RuleId::AcquisitionValid,
                "lot id is not derived from the lot identity",
            );
        }
        if *rounds == 0 {
            out.push(RuleId::AcquisitionValid, "zero rounds received");
        }
        location(state, act, loc, out);
        let what = scope::Intake {
            firearms: Vec::new(),
            rounds: true,
        };
        scope::intake(state, act, &what, out);
    }

    fn apply(&self, state: &mut State, ctx: &SiteCtx<'_>, event: &SiteEvent) {
        let SiteEvent::AmmunitionReceived {
            lot,
            identity,
            rounds: n,
            location,
            ..
        } = event
        else {
            return;
        };
        state.lots.entry(*lot).or_insert_with(|| identity.clone());
        state.add(ctx.site, *lot, Holder::Store(location.clone()), delta(*n));
    }

    fn needs_active_company(&self) -> bool {
        true
    }
}

/// `SiteEvent::AmmunitionIssued`: rounds issued without a firearm.
pub(super) struct AmmunitionIssued;

impl EventRules for AmmunitionIssued {
    fn check(&self, state: &State, act: &Act<'_>, event: &SiteEvent, out: &mut Out) {
        let SiteEvent::AmmunitionIssued {
            to, lines, from, ..
        } = event
        else {
            return;
        };
        recipient(state, act, to, None, out);
        no_open_shortfall(state, act, to, out);
        lots_serviceable(state, act, lines, out);
        for l in lines {
            take_rounds(
                state,
                act,
                &l.lot,
                &Holder::Store(from.clone()),
                l.rounds,
                out,
            );
        }
        location(state, act, from, out);
    }

    fn apply(&self, state: &mut State, ctx: &SiteCtx<'_>, event: &SiteEvent) {
        let SiteEvent::AmmunitionIssued {
            to,
            lines,
            from,
            due_back,
            ..
        } = event
        else {
            return;
        };
        open_issue(state, ctx, None, to, *due_back, lines, Some(from));
    }

    fn needs_active_company(&self) -> bool {
        true
    }
}

/// `SiteEvent::AmmunitionReturned`: rounds of an ammunition-only issue back.
pub(super) struct AmmunitionReturned;

impl EventRules for AmmunitionReturned {
    fn check(&self, state: &State, act: &Act<'_>, event: &SiteEvent, out: &mut Out) {
        let SiteEvent::AmmunitionReturned { issue, lines, to } = event else {
            return;
        };
        match state.open_issues.get(issue) {
            Some(i) if &i.site == act.site && i.firearm.is_none() => {
                reconcile(state, &i.outstanding, lines, out);
            }
            _ => out.push(
                RuleId::ReturnMatchesIssue,
                format!("no open ammunition issue {}", issue.short()),
            ),
        }
        location(state, act, to, out);
    }

    fn apply(&self, state: &mut State, ctx: &SiteCtx<'_>, event: &SiteEvent) {
        let SiteEvent::AmmunitionReturned { issue, lines, to } = event else {
            return;
        };
        close_issue(state, ctx.site, ctx.hash, issue, lines, to);
    }
}

/// `SiteEvent::AmmunitionExpended`: rounds used outside a return.
pub(super) struct AmmunitionExpended;

impl EventRules for AmmunitionExpended {
    fn check(&self, state: &State, act: &Act<'_>, event: &SiteEvent, out: &mut Out) {
        let SiteEvent::AmmunitionExpended {
            holder,
            line,
            reason,
            incident,
            issue,
        } = event
        else {
            return;
        };
        if *reason == ExpenditureReason::DutyDischarge && incident.is_none() {
            out.push(
                RuleId::DischargeHasIncident,
                "a discharge on duty needs an incident reference",
            );
        }
        take_rounds(state, act, &line.lot, holder, line.rounds, out);
        if let Some(i) = issue {
            let owes = state
                .open_issues
                .get(i)
                .and_then(|x| x.outstanding.get(&line.lot))
                .copied()
                .unwrap_or(0);
            if owes < line.rounds {
                out.push(
                    RuleId::RoundsReconcile,
                    format!(
                        "issue {} has {owes} rounds of {} outstanding, {} expended",
                        i.short(),
                        state.lot_words(&line.lot),
                        line.rounds
                    ),
                );
            }
        }
    }

    fn apply(&self, state: &mut State, ctx: &SiteCtx<'_>, event: &SiteEvent) {
        let SiteEvent::AmmunitionExpended {
            holder,
            line,
            issue,
            ..
        } = event
        else {
            return;
        };
        state.add(ctx.site, line.lot, holder.clone(), -delta(line.rounds));
        if let Some(o) = issue
            .and_then(|h| state.open_issues.get_mut(&h))
            .and_then(|x| x.outstanding.get_mut(&line.lot))
        {
            *o = o.saturating_sub(line.rounds);
        }
    }
}

/// `SiteEvent::LotStatusChanged`: a lot becomes serviceable, quarantined or
/// unserviceable at this site.
pub(super) struct LotStatusChanged;

impl EventRules for LotStatusChanged {
    fn check(&self, state: &State, _act: &Act<'_>, event: &SiteEvent, out: &mut Out) {
        let SiteEvent::LotStatusChanged { lot, .. } = event else {
            return;
        };
        if !state.lots.contains_key(lot) {
            out.push(
                RuleId::ReferenceExists,
                format!("{} was never received", state.lot_words(lot)),
            );
        }
    }

    fn apply(&self, state: &mut State, ctx: &SiteCtx<'_>, event: &SiteEvent) {
        let SiteEvent::LotStatusChanged { lot, status, .. } = event else {
            return;
        };
        state.lot_status.insert((ctx.site.clone(), *lot), *status);
    }
}
