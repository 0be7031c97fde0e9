//! Disposal: a firearm or rounds destroyed or deactivated. Terminal for a
//! firearm (`disposed-is-final`, judged for every act in `check::evaluate`).

use crate::event::SiteEvent;
use crate::ids::PersonId;
use crate::model::{DocKind, ExitKind, Item};
use crate::rules::RuleId;
use crate::rules::check::{Act, Out};
use crate::rules::events::shared::{in_store_here, set_state, store_holds, take_from_store};
use crate::rules::events::{EventRules, SiteCtx};
use crate::rules::state::{FirearmState, State};

/// `SiteEvent::Disposed`.
pub(super) struct Disposed;

impl EventRules for Disposed {
    fn check(&self, state: &State, act: &Act<'_>, event: &SiteEvent, out: &mut Out) {
        let SiteEvent::Disposed {
            item,
            witnesses,
            authorisation,
            ..
        } = event
        else {
            return;
        };
        match item {
            Item::Firearm(f) => {
                in_store_here(state, act, f, out);
            }
            Item::Rounds(l) => store_holds(state, act, l, "disposed", out),
        }
        let mut w: Vec<&PersonId> = witnesses.iter().filter(|w| *w != act.officer).collect();
        w.sort();
        w.dedup();
        if w.len() < 2 {
            out.push(
                RuleId::DisposalAuthorised,
                format!("{} witness(es) besides the officer", w.len()),
            );
        }
        if !matches!(
            authorisation.kind,
            DocKind::DisposalOrder | DocKind::DeactivationCertificate | DocKind::CourtOrder
        ) || authorisation.valid_until.is_some_and(|u| u <= act.time)
        {
            out.push(
                RuleId::DisposalAuthorised,
                format!(
                    "{:?} {} does not authorise disposal",
                    authorisation.kind, authorisation.number
                ),
            );
        }
    }

    fn apply(&self, state: &mut State, ctx: &SiteCtx<'_>, event: &SiteEvent) {
        let SiteEvent::Disposed { item, method, .. } = event else {
            return;
        };
        match item {
            Item::Firearm(f) => set_state(
                state,
                f,
                ctx.site,
                false,
                FirearmState::Disposed { method: *method },
            ),
            Item::Rounds(l) => take_from_store(state, ctx.site, l.lot, l.rounds),
        }
    }
}

/// `SiteEvent::LeftLedger`: a firearm or rounds handed to someone outside
/// the ledger. Not blocked by a suspended company: handing stock to a
/// licensed receiver or the police is what a suspended company must do.
pub(super) struct LeftLedger;

impl EventRules for LeftLedger {
    fn check(&self, state: &State, act: &Act<'_>, event: &SiteEvent, out: &mut Out) {
        let SiteEvent::LeftLedger {
            item,
            exit,
            counterparty,
            documents,
        } = event
        else {
            return;
        };
        match item {
            Item::Firearm(f) => {
                in_store_here(state, act, f, out);
            }
            Item::Rounds(l) => store_holds(state, act, l, "handed out of the ledger", out),
        }
        if *exit != ExitKind::SurrenderedToPolice && counterparty.licence.is_none() {
            out.push(
                RuleId::ExitDocumented,
                format!(
                    "{} ({}) has no licence number on record",
                    counterparty.name,
                    exit.word()
                ),
            );
        }
        let valid = |k: DocKind| {
            documents
                .iter()
                .any(|d| d.kind == k && d.valid_until.is_none_or(|u| u > act.time))
        };
        if *exit == ExitKind::Exported && !valid(DocKind::ExportLicence) {
            out.push(
                RuleId::ExitDocumented,
                "an export needs an export licence valid on the day",
            );
        }
        for d in documents
            .iter()
            .filter(|d| d.valid_until.is_some_and(|u| u <= act.time))
        {
            out.push(
                RuleId::ExitDocumented,
                format!("{:?} {} had expired", d.kind, d.number),
            );
        }
    }

    fn apply(&self, state: &mut State, ctx: &SiteCtx<'_>, event: &SiteEvent) {
        let SiteEvent::LeftLedger { item, exit, .. } = event else {
            return;
        };
        match item {
            Item::Firearm(f) => set_state(
                state,
                f,
                ctx.site,
                false,
                FirearmState::Left {
                    exit: *exit,
                    entry: ctx.hash,
                },
            ),
            Item::Rounds(l) => take_from_store(state, ctx.site, l.lot, l.rounds),
        }
    }
}
