//! Corrections, annotations and overrides: entries about other entries.
//! They change no custody here; the engine folds corrections in by replay
//! and credits overrides to the act they name (`engine.rs`).

use crate::entry::ChainId;
use crate::event::SiteEvent;
use crate::rules::RuleId;
use crate::rules::check::{Act, Out};
use crate::rules::events::shared::reference;
use crate::rules::events::{EventRules, SiteCtx};
use crate::rules::state::State;

/// `SiteEvent::Corrected`: supersedes an earlier entry of this chain.
pub(super) struct Corrected;

impl EventRules for Corrected {
    fn check(&self, state: &State, act: &Act<'_>, event: &SiteEvent, out: &mut Out) {
        let SiteEvent::Corrected {
            supersedes,
            approver,
            corrected,
            ..
        } = event
        else {
            return;
        };
        match state.entries.get(supersedes) {
            Some(m) if m.chain == ChainId::Site(act.site.clone()) => {
                if m.kind != corrected.kind() {
                    out.push(
                        RuleId::ReferenceExists,
                        format!(
                            "a {} cannot be corrected into a {}",
                            m.kind,
                            corrected.kind()
                        ),
                    );
                }
            }
            _ => out.push(
                RuleId::ReferenceExists,
                format!("no entry {} on this chain to correct", supersedes.short()),
            ),
        }
        if let SiteEvent::FirearmAcquired {
            firearm, identity, ..
        } = corrected.as_ref()
        {
            let record = state.firearms.get(firearm);
            if record.is_none_or(|r| r.acquired != *supersedes) {
                out.push(
                    RuleId::ReferenceExists,
                    format!("a correction cannot change a firearm's ledger id (to {firearm})"),
                );
            }
            let changed = record.is_none_or(|r| &r.identity != identity);
            let second = approver.as_ref().is_some_and(|a| a != act.officer);
            if changed && !second {
                out.push(
                    RuleId::IdentityCorrectionApproved,
                    "identity fields changed without a second approver",
                );
            }
        }
    }

    fn apply(&self, _state: &mut State, _ctx: &SiteCtx<'_>, _event: &SiteEvent) {}

    fn allowed_after_disposal(&self) -> bool {
        true
    }
}

/// `SiteEvent::Annotated`: a note on an earlier entry.
pub(super) struct Annotated;

impl EventRules for Annotated {
    fn check(&self, state: &State, _act: &Act<'_>, event: &SiteEvent, out: &mut Out) {
        let SiteEvent::Annotated { about, .. } = event else {
            return;
        };
        reference(state, about, "annotated entry", out);
    }

    fn apply(&self, _state: &mut State, _ctx: &SiteCtx<'_>, _event: &SiteEvent) {}

    fn allowed_after_disposal(&self) -> bool {
        true
    }
}

/// `SiteEvent::Overridden`: a second person authorises an act that breaks a
/// hard rule. Only an overridable rule ([`RuleId::is_overridable`]) can be
/// authorised; the engine credits nothing else.
pub(super) struct Overridden;

impl EventRules for Overridden {
    fn check(&self, _state: &State, act: &Act<'_>, event: &SiteEvent, out: &mut Out) {
        let SiteEvent::Overridden {
            rule, authoriser, ..
        } = event
        else {
            return;
        };
        if authoriser == act.officer {
            out.push(
                RuleId::OverrideSecondPerson,
                format!("{authoriser} cannot authorise their own override"),
            );
        }
        if let Some(why) = rule.why_not_overridable() {
            out.push(
                RuleId::OverrideNotAllowed,
                format!("{rule} cannot be overridden: {why}"),
            );
        }
    }

    fn apply(&self, _state: &mut State, _ctx: &SiteCtx<'_>, _event: &SiteEvent) {}
}
