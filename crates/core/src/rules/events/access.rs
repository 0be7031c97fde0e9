//! Armoury access: the armoury opened and closed, and its keys handed over.
//! These acts change no custody; they keep the access record and the key
//! roster.

use crate::event::SiteEvent;
use crate::ids::PersonId;
use crate::rules::RuleId;
use crate::rules::check::{Act, Out};
use crate::rules::events::{EventRules, SiteCtx};
use crate::rules::state::State;

/// `SiteEvent::ArmouryOpened`.
pub(super) struct ArmouryOpened;

impl EventRules for ArmouryOpened {
    fn check(&self, _state: &State, act: &Act<'_>, event: &SiteEvent, out: &mut Out) {
        if let SiteEvent::ArmouryOpened { with } = event {
            two_persons(act, with, "opened", out);
        }
    }

    fn apply(&self, state: &mut State, ctx: &SiteCtx<'_>, event: &SiteEvent) {
        let SiteEvent::ArmouryOpened { with } = event else {
            return;
        };
        let mut present = vec![ctx.officer.clone()];
        present.extend(with.iter().cloned());
        state.armoury_open.insert(ctx.site.clone(), present);
    }
}

/// `SiteEvent::ArmouryClosed`.
pub(super) struct ArmouryClosed;

impl EventRules for ArmouryClosed {
    fn check(&self, _state: &State, act: &Act<'_>, event: &SiteEvent, out: &mut Out) {
        if let SiteEvent::ArmouryClosed { with } = event {
            two_persons(act, with, "closed", out);
        }
    }

    fn apply(&self, state: &mut State, ctx: &SiteCtx<'_>, event: &SiteEvent) {
        let SiteEvent::ArmouryClosed { .. } = event else {
            return;
        };
        state.armoury_open.remove(ctx.site);
    }
}

/// `SiteEvent::KeyHandedOver`.
pub(super) struct KeyHandedOver;

impl EventRules for KeyHandedOver {
    fn check(&self, state: &State, act: &Act<'_>, event: &SiteEvent, out: &mut Out) {
        let SiteEvent::KeyHandedOver { key, from, to } = event else {
            return;
        };
        if from == to {
            out.push(
                RuleId::KeyRoster,
                format!("{from} hands key {key} to themself"),
            );
        }
        if let Some(holder) = state.keys.get(&(act.site.clone(), key.clone()))
            && holder != from
        {
            out.push(
                RuleId::KeyRoster,
                format!("the roster has key {key} with {holder}, not {from}"),
            );
        }
    }

    fn apply(&self, state: &mut State, ctx: &SiteCtx<'_>, event: &SiteEvent) {
        let SiteEvent::KeyHandedOver { key, to, .. } = event else {
            return;
        };
        state
            .keys
            .insert((ctx.site.clone(), key.clone()), to.clone());
    }
}

/// `armoury-two-persons`: someone besides the acting officer was present.
fn two_persons(act: &Act<'_>, with: &[PersonId], verb: &str, out: &mut Out) {
    let mut others: Vec<&PersonId> = with.iter().filter(|p| *p != act.officer).collect();
    others.sort();
    others.dedup();
    if others.is_empty() {
        out.push(
            RuleId::ArmouryTwoPersons,
            format!("the armoury was {verb} by {} alone", act.officer),
        );
    }
}
