//! Custody inside a site: a firearm issued to a person and returned, moved
//! between storage locations, sent out for maintenance and back.

use crate::event::SiteEvent;
use crate::model::{ComponentChange, Holder, Item, normalise};
use crate::rules::RuleId;
use crate::rules::check::{Act, Out};
use crate::rules::events::shared::{
    back_in_store, close_issue, delta, in_store_here, location, lots_serviceable,
    no_open_shortfall, open_issue, recipient, reconcile, set_state, take_rounds,
};
use crate::rules::events::{EventRules, SiteCtx};
use crate::rules::state::{FirearmRecord, FirearmState, State};

/// `SiteEvent::Issued`: a firearm, with rounds, to a person.
pub(super) struct Issued;

impl EventRules for Issued {
    fn check(&self, state: &State, act: &Act<'_>, event: &SiteEvent, out: &mut Out) {
        let SiteEvent::Issued {
            firearm,
            to,
            ammunition,
            ammunition_from,
            ..
        } = event
        else {
            return;
        };
        in_store_here(state, act, firearm, out);
        recipient(state, act, to, Some(firearm), out);
        no_open_shortfall(state, act, to, out);
        lots_serviceable(state, act, ammunition, out);
        let cal = state
            .firearms
            .get(firearm)
            .map(|f| normalise(f.identity.calibre.as_str()));
        for l in ammunition {
            let lot_cal = state
                .lots
                .get(&l.lot)
                .map(|x| normalise(x.calibre.as_str()));
            if lot_cal.is_none() || lot_cal != cal {
                out.push(
                    RuleId::CalibreMatches,
                    format!(
                        "{} is {:?}, the firearm is {:?}",
                        state.lot_words(&l.lot),
                        lot_cal.unwrap_or_else(|| "unknown".into()),
                        cal.clone().unwrap_or_default()
                    ),
                );
            }
            match ammunition_from {
                Some(from) => take_rounds(
                    state,
                    act,
                    &l.lot,
                    &Holder::Store(from.clone()),
                    l.rounds,
                    out,
                ),
                None => out.push(
                    RuleId::LocationRegistered,
                    "rounds issued without a store location",
                ),
            }
        }
    }

    fn apply(&self, state: &mut State, ctx: &SiteCtx<'_>, event: &SiteEvent) {
        let SiteEvent::Issued {
            firearm,
            to,
            due_back,
            ammunition,
            ammunition_from,
            ..
        } = event
        else {
            return;
        };
        set_state(
            state,
            firearm,
            ctx.site,
            false,
            FirearmState::Issued {
                to: to.clone(),
                issue: ctx.hash,
                due_back: *due_back,
            },
        );
        open_issue(
            state,
            ctx,
            Some(*firearm),
            to,
            *due_back,
            ammunition,
            ammunition_from.as_ref(),
        );
    }

    fn needs_active_company(&self) -> bool {
        true
    }
}

/// `SiteEvent::Returned`: an issued firearm, and its rounds, back.
pub(super) struct Returned;

impl EventRules for Returned {
    fn check(&self, state: &State, act: &Act<'_>, event: &SiteEvent, out: &mut Out) {
        let SiteEvent::Returned {
            issue,
            firearm,
            ammunition,
            incident,
            location: loc,
            ..
        } = event
        else {
            return;
        };
        let expended: u64 = ammunition.iter().map(|b| b.expended).sum();
        if expended > 0 && incident.is_none() {
            out.push(
                RuleId::DischargeHasIncident,
                format!("{expended} rounds expended on duty without an incident reference"),
            );
        }
        match state.open_issues.get(issue) {
            Some(i) if &i.site == act.site && i.firearm.as_ref() == Some(firearm) => {
                reconcile(state, &i.outstanding, ammunition, out);
            }
            Some(i) => out.push(
                RuleId::ReturnMatchesIssue,
                format!(
                    "issue {} was of {} at site {}",
                    issue.short(),
                    i.firearm
                        .map_or("no firearm".to_string(), |f| state.firearm_words(&f)),
                    i.site
                ),
            ),
            None => out.push(
                RuleId::ReturnMatchesIssue,
                format!(
                    "no open issue {} of {}",
                    issue.short(),
                    state.firearm_words(firearm)
                ),
            ),
        }
        location(state, act, loc, out);
    }

    fn apply(&self, state: &mut State, ctx: &SiteCtx<'_>, event: &SiteEvent) {
        let SiteEvent::Returned {
            issue,
            firearm,
            ammunition,
            location,
            ..
        } = event
        else {
            return;
        };
        back_in_store(state, firearm, ctx.site, location);
        close_issue(state, ctx.site, ctx.hash, issue, ammunition, location);
    }
}

/// `SiteEvent::StorageMoved`: a firearm or rounds between locations of the site.
pub(super) struct StorageMoved;

impl EventRules for StorageMoved {
    fn check(&self, state: &State, act: &Act<'_>, event: &SiteEvent, out: &mut Out) {
        let SiteEvent::StorageMoved { item, from, to } = event else {
            return;
        };
        match item {
            Item::Firearm(f) => {
                if in_store_here(state, act, f, out) {
                    let at = state.firearms.get(f).map(|r| &r.state);
                    if !matches!(at, Some(FirearmState::InStore { location }) if location == from) {
                        out.push(
                            RuleId::FirearmInStore,
                            format!("{} is not at {from}", state.firearm_words(f)),
                        );
                    }
                }
            }
            Item::Rounds(l) => take_rounds(
                state,
                act,
                &l.lot,
                &Holder::Store(from.clone()),
                l.rounds,
                out,
            ),
        }
        location(state, act, to, out);
    }

    fn apply(&self, state: &mut State, ctx: &SiteCtx<'_>, event: &SiteEvent) {
        let SiteEvent::StorageMoved { item, from, to } = event else {
            return;
        };
        match item {
            Item::Firearm(f) => back_in_store(state, f, ctx.site, to),
            Item::Rounds(l) => {
                let n = delta(l.rounds);
                state.add(ctx.site, l.lot, Holder::Store(from.clone()), -n);
                state.add(ctx.site, l.lot, Holder::Store(to.clone()), n);
            }
        }
    }
}

/// `SiteEvent::MaintenanceOut`: a firearm leaves for a gunsmith or armourer.
pub(super) struct MaintenanceOut;

impl EventRules for MaintenanceOut {
    fn check(&self, state: &State, act: &Act<'_>, event: &SiteEvent, out: &mut Out) {
        let SiteEvent::MaintenanceOut { firearm, .. } = event else {
            return;
        };
        in_store_here(state, act, firearm, out);
    }

    fn apply(&self, state: &mut State, ctx: &SiteCtx<'_>, event: &SiteEvent) {
        let SiteEvent::MaintenanceOut {
            firearm, provider, ..
        } = event
        else {
            return;
        };
        set_state(
            state,
            firearm,
            ctx.site,
            false,
            FirearmState::InMaintenance {
                provider: provider.clone(),
            },
        );
    }
}

/// `SiteEvent::MaintenanceIn`: a firearm back from maintenance.
pub(super) struct MaintenanceIn;

impl EventRules for MaintenanceIn {
    fn check(&self, state: &State, act: &Act<'_>, event: &SiteEvent, out: &mut Out) {
        let SiteEvent::MaintenanceIn {
            firearm,
            location: loc,
            ..
        } = event
        else {
            return;
        };
        let ok = state.firearms.get(firearm).is_some_and(|r| {
            &r.site == act.site && matches!(r.state, FirearmState::InMaintenance { .. })
        });
        if !ok {
            out.push(
                RuleId::FirearmInStore,
                format!(
                    "{} is not out for maintenance from this site",
                    state.firearm_words(firearm)
                ),
            );
        }
        location(state, act, loc, out);
    }

    fn apply(&self, state: &mut State, ctx: &SiteCtx<'_>, event: &SiteEvent) {
        let SiteEvent::MaintenanceIn {
            firearm, location, ..
        } = event
        else {
            return;
        };
        back_in_store(state, firearm, ctx.site, location);
    }
}

/// `SiteEvent::Assigned`: a firearm to a guard for a contract, long-term.
/// Judged like an issue without rounds; a `Returned` naming it ends it.
pub(super) struct Assigned;

impl EventRules for Assigned {
    fn check(&self, state: &State, act: &Act<'_>, event: &SiteEvent, out: &mut Out) {
        let SiteEvent::Assigned { firearm, to, .. } = event else {
            return;
        };
        in_store_here(state, act, firearm, out);
        recipient(state, act, to, Some(firearm), out);
        no_open_shortfall(state, act, to, out);
    }

    fn apply(&self, state: &mut State, ctx: &SiteCtx<'_>, event: &SiteEvent) {
        let SiteEvent::Assigned {
            firearm, to, until, ..
        } = event
        else {
            return;
        };
        set_state(
            state,
            firearm,
            ctx.site,
            false,
            FirearmState::Issued {
                to: to.clone(),
                issue: ctx.hash,
                due_back: *until,
            },
        );
        open_issue(state, ctx, Some(*firearm), to, *until, &[], None);
    }

    fn needs_active_company(&self) -> bool {
        true
    }
}

/// `SiteEvent::ComponentChanged`: a regulated part fitted or removed. The
/// firearm's identity keeps the components fitted now.
pub(super) struct ComponentChanged;

impl EventRules for ComponentChanged {
    fn check(&self, state: &State, act: &Act<'_>, event: &SiteEvent, out: &mut Out) {
        let SiteEvent::ComponentChanged { firearm, .. } = event else {
            return;
        };
        match state.firearms.get(firearm) {
            Some(r)
                if &r.site == act.site
                    && matches!(
                        r.state,
                        FirearmState::InStore { .. } | FirearmState::InMaintenance { .. }
                    ) => {}
            Some(FirearmRecord {
                state: FirearmState::Disposed { .. },
                ..
            }) => {}
            _ => out.push(
                RuleId::FirearmInStore,
                format!(
                    "{} is not in store or in maintenance at this site",
                    state.firearm_words(firearm)
                ),
            ),
        }
    }

    fn apply(&self, state: &mut State, ctx: &SiteCtx<'_>, event: &SiteEvent) {
        let SiteEvent::ComponentChanged {
            firearm,
            change,
            component,
            ..
        } = event
        else {
            return;
        };
        let Some(r) = state
            .firearms
            .get_mut(firearm)
            .filter(|r| &r.site == ctx.site)
        else {
            return;
        };
        let parts = &mut r.identity.components;
        match change {
            ComponentChange::Fitted => parts.push(component.clone()),
            ComponentChange::Removed => {
                if let Some(i) = parts.iter().position(|c| {
                    c.kind == component.kind
                        && normalise(c.marking.as_str()) == normalise(component.marking.as_str())
                }) {
                    parts.remove(i);
                }
            }
        }
    }
}
