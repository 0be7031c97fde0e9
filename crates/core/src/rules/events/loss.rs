//! Loss and recovery: items reported lost or stolen (and the report's
//! references added later), a firearm seized by an authority, and a lost or
//! seized firearm recovered.

use crate::event::SiteEvent;
use crate::hash::Hash;
use crate::model::{FirearmId, Holder, Item};
use crate::rules::RuleId;
use crate::rules::check::{Act, Out};
use crate::rules::events::shared::{
    delta, location, set_state, store_holds, take_from_store, take_rounds,
};
use crate::rules::events::{EventRules, SiteCtx};
use crate::rules::state::{FirearmState, LossRecord, State};

/// `SiteEvent::LossReported`.
pub(super) struct LossReported;

impl EventRules for LossReported {
    fn check(&self, state: &State, act: &Act<'_>, event: &SiteEvent, out: &mut Out) {
        let SiteEvent::LossReported { items, holder, .. } = event else {
            return;
        };
        for i in items {
            match i {
                Item::Firearm(f) => match state.firearms.get(f) {
                    Some(r) if &r.site == act.site => {
                        if matches!(r.state, FirearmState::Lost { .. }) {
                            out.push(
                                RuleId::FirearmInStore,
                                format!("firearm {} is already reported lost", r.identity.serial),
                            );
                        }
                    }
                    _ => out.push(
                        RuleId::FirearmInStore,
                        format!("{} is not held by this site", state.firearm_words(f)),
                    ),
                },
                Item::Rounds(l) => match holder {
                    Some(p) => take_rounds(
                        state,
                        act,
                        &l.lot,
                        &Holder::Person(p.clone()),
                        l.rounds,
                        out,
                    ),
                    None => store_holds(state, act, l, "reported lost", out),
                },
            }
        }
    }

    fn apply(&self, state: &mut State, ctx: &SiteCtx<'_>, event: &SiteEvent) {
        let SiteEvent::LossReported {
            items,
            kind,
            holder,
            discovered_at,
            police_ref,
            regulator_ref,
            ..
        } = event
        else {
            return;
        };
        let site = ctx.site;
        for it in items {
            match it {
                Item::Firearm(f) => {
                    // A firearm lost while issued: the issue stays open for
                    // the rounds still owed, as an ammunition-only issue.
                    let issued = state
                        .firearms
                        .get(f)
                        .filter(|r| &r.site == site)
                        .and_then(|r| match &r.state {
                            FirearmState::Issued { issue, .. } => Some(*issue),
                            _ => None,
                        });
                    release_issue(state, issued);
                    set_state(
                        state,
                        f,
                        site,
                        false,
                        FirearmState::Lost { report: ctx.hash },
                    );
                }
                // Rounds a guard lost come out of the guard's holding, and
                // are no longer owed back on the guard's issues.
                Item::Rounds(l) => match holder {
                    Some(p) => {
                        state.add(site, l.lot, Holder::Person(p.clone()), -delta(l.rounds));
                        let mut left = l.rounds;
                        for o in state
                            .open_issues
                            .values_mut()
                            .filter(|o| &o.site == site && &o.to == p)
                        {
                            if let Some(owed) = o.outstanding.get_mut(&l.lot) {
                                let take = left.min(*owed);
                                *owed -= take;
                                left -= take;
                            }
                        }
                    }
                    None => take_from_store(state, site, l.lot, l.rounds),
                },
            }
        }
        state.losses.insert(
            ctx.hash,
            LossRecord {
                site: site.clone(),
                items: items.clone(),
                kind: *kind,
                discovered_at: *discovered_at,
                reported_at: ctx.official_time(),
                police_ref: police_ref.clone(),
                regulator_ref: regulator_ref.clone(),
            },
        );
    }
}

/// `SiteEvent::LossReportUpdated`: police or regulator references added.
pub(super) struct LossReportUpdated;

impl EventRules for LossReportUpdated {
    fn check(&self, state: &State, act: &Act<'_>, event: &SiteEvent, out: &mut Out) {
        let SiteEvent::LossReportUpdated { report, .. } = event else {
            return;
        };
        if state.losses.get(report).is_none_or(|l| &l.site != act.site) {
            out.push(
                RuleId::ReferenceExists,
                format!("no loss report {} of this site", report.short()),
            );
        }
    }

    fn apply(&self, state: &mut State, ctx: &SiteCtx<'_>, event: &SiteEvent) {
        let SiteEvent::LossReportUpdated {
            report,
            police_ref,
            regulator_ref,
            ..
        } = event
        else {
            return;
        };
        if let Some(l) = state.losses.get_mut(report).filter(|l| &l.site == ctx.site) {
            if police_ref.is_some() {
                l.police_ref = police_ref.clone();
            }
            if regulator_ref.is_some() {
                l.regulator_ref = regulator_ref.clone();
            }
        }
    }
}

/// `SiteEvent::Seized`: a firearm taken by an authority.
pub(super) struct Seized;

impl EventRules for Seized {
    fn check(&self, state: &State, act: &Act<'_>, event: &SiteEvent, out: &mut Out) {
        let SiteEvent::Seized { firearm, .. } = event else {
            return;
        };
        match state.firearms.get(firearm) {
            Some(r) if &r.site == act.site => {}
            _ => out.push(
                RuleId::FirearmInStore,
                format!("{} is not held by this site", state.firearm_words(firearm)),
            ),
        }
    }

    fn apply(&self, state: &mut State, ctx: &SiteCtx<'_>, event: &SiteEvent) {
        let SiteEvent::Seized { firearm, .. } = event else {
            return;
        };
        // A seizure closes an open issue of the firearm (its rounds stay
        // owed, as an ammunition-only issue).
        let issued = state
            .firearms
            .get(firearm)
            .filter(|r| &r.site == ctx.site)
            .and_then(|r| match &r.state {
                FirearmState::Issued { issue, .. } => Some(*issue),
                _ => None,
            });
        release_issue(state, issued);
        state.seizures.insert(ctx.hash, *firearm);
        set_state(
            state,
            firearm,
            ctx.site,
            false,
            FirearmState::Seized { entry: ctx.hash },
        );
    }
}

/// `SiteEvent::Recovered`: a lost, stolen or seized firearm is back.
pub(super) struct Recovered;

impl EventRules for Recovered {
    fn check(&self, state: &State, act: &Act<'_>, event: &SiteEvent, out: &mut Out) {
        let SiteEvent::Recovered {
            firearm,
            report,
            location: loc,
            ..
        } = event
        else {
            return;
        };
        let missing = matches!(
            state.firearms.get(firearm).map(|r| &r.state),
            Some(FirearmState::Lost { .. } | FirearmState::Seized { .. })
        );
        if !closes_report(state, firearm, report) || !missing {
            out.push(
                RuleId::RecoveryMatchesReport,
                format!(
                    "{} is not missing under report {}",
                    state.firearm_words(firearm),
                    report.short()
                ),
            );
        }
        location(state, act, loc, out);
    }

    fn apply(&self, state: &mut State, ctx: &SiteCtx<'_>, event: &SiteEvent) {
        let SiteEvent::Recovered {
            firearm,
            report,
            location,
            ..
        } = event
        else {
            return;
        };
        // The recovery moves custody here only if it closes the firearm's report.
        let matches = closes_report(state, firearm, report);
        set_state(
            state,
            firearm,
            ctx.site,
            matches,
            FirearmState::InStore {
                location: location.clone(),
            },
        );
    }
}

/// A firearm issue whose firearm is gone (lost, seized): the issue stays
/// open for the rounds still owed, as an ammunition-only issue.
fn release_issue(state: &mut State, issue: Option<Hash>) {
    let Some(i) = issue else {
        return;
    };
    if let Some(open) = state.open_issues.get_mut(&i) {
        open.firearm = None;
        if open.outstanding.values().all(|n| *n == 0) {
            state.open_issues.remove(&i);
        }
    }
}

/// Whether `report` is a loss report or seizure of `firearm`.
fn closes_report(state: &State, firearm: &FirearmId, report: &Hash) -> bool {
    state
        .losses
        .get(report)
        .is_some_and(|l| l.items.contains(&Item::Firearm(*firearm)))
        || state.seizures.get(report) == Some(firearm)
}
