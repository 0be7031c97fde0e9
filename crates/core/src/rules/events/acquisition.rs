//! Acquisition: a firearm enters the ledger from outside it.

use crate::event::SiteEvent;
use crate::rules::RuleId;
use crate::rules::check::{Act, Out};
use crate::rules::events::scope::{Intake, intake};
use crate::rules::events::shared::location;
use crate::rules::events::{EventRules, SiteCtx};
use crate::rules::state::{FirearmRecord, FirearmState, State};

/// `SiteEvent::FirearmAcquired`.
pub(super) struct FirearmAcquired;

impl EventRules for FirearmAcquired {
    fn check(&self, state: &State, act: &Act<'_>, event: &SiteEvent, out: &mut Out) {
        let SiteEvent::FirearmAcquired {
            firearm,
            identity,
            authorisation,
            location: loc,
            ..
        } = event
        else {
            return;
        };
        if let Some(until) = authorisation.valid_until.filter(|u| *u <= act.time) {
            out.push(
                RuleId::AcquisitionValid,
                format!(
                    "{:?} {} (issued by {}) expired {until}",
                    authorisation.kind, authorisation.number, authorisation.issuer
                ),
            );
        }
        if *firearm != identity.id() {
            out.push(
                RuleId::AcquisitionValid,
                "firearm id is not derived from maker, model and serial",
            );
        }
        let imported = identity
            .country_of_import
            .is_some_and(|c| c != identity.country_of_manufacture);
        if imported && identity.importer.is_none() {
            out.push(
                RuleId::AcquisitionValid,
                "imported firearm without importer",
            );
        }
        // Another site's firearm reported lost or stolen and not recovered
        // is no refusal: the acquiring site must be able to record that it
        // holds it, and the register's hit is a critical alert instead.
        if let Some(r) = state
            .firearms
            .get(firearm)
            .filter(|r| !r.state.is_gone() && !lost_elsewhere(r, act.site))
        {
            out.push(
                RuleId::AcquisitionValid,
                format!(
                    "{} {} is already live at site {} ({})",
                    r.identity.manufacturer,
                    r.identity.serial,
                    r.site,
                    r.state.word()
                ),
            );
        }
        location(state, act, loc, out);
        let what = Intake {
            firearms: vec![(*firearm, identity)],
            rounds: false,
        };
        intake(state, act, &what, out);
    }

    fn apply(&self, state: &mut State, ctx: &SiteCtx<'_>, event: &SiteEvent) {
        let SiteEvent::FirearmAcquired {
            firearm,
            identity,
            location,
            ..
        } = event
        else {
            return;
        };
        // Another site's live firearm stays theirs (the finding records the act).
        let live_elsewhere = state.firearms.get(firearm).is_some_and(|r| {
            &r.site != ctx.site && !r.state.is_gone() && !lost_elsewhere(r, ctx.site)
        });
        if live_elsewhere {
            return;
        }
        state.firearms.insert(
            *firearm,
            FirearmRecord {
                id: *firearm,
                identity: identity.clone(),
                site: ctx.site.clone(),
                state: FirearmState::InStore {
                    location: location.clone(),
                },
                acquired: ctx.hash,
            },
        );
    }

    fn needs_active_company(&self) -> bool {
        true
    }
}

/// Whether `r` is another site's firearm reported lost or stolen and not
/// recovered: found again, it is acquired where it turned up.
fn lost_elsewhere(r: &FirearmRecord, site: &crate::ids::SiteId) -> bool {
    &r.site != site && matches!(r.state, FirearmState::Lost { .. })
}
