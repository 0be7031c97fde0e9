//! Armoury access: the armoury opened and closed, and its keys handed over.
//! These acts change no custody; they keep the access record and the key
//! roster.

use crate::event::SiteEvent;
use crate::rules::check::{Act, Out};
use crate::rules::events::{EventRules, SiteCtx};
use crate::rules::state::State;

/// `SiteEvent::ArmouryOpened`.
pub(super) struct ArmouryOpened;

impl EventRules for ArmouryOpened {
    fn check(&self, _state: &State, _act: &Act<'_>, _event: &SiteEvent, _out: &mut Out) {}

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
    fn check(&self, _state: &State, _act: &Act<'_>, _event: &SiteEvent, _out: &mut Out) {}

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
    fn check(&self, _state: &State, _act: &Act<'_>, _event: &SiteEvent, _out: &mut Out) {}

    fn apply(&self, state: &mut State, ctx: &SiteCtx<'_>, event: &SiteEvent) {
        let SiteEvent::KeyHandedOver { key, to, .. } = event else {
            return;
        };
        state
            .keys
            .insert((ctx.site.clone(), key.clone()), to.clone());
    }
}
