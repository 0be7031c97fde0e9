//! The lost-and-stolen register and trace requests: every acquisition,
//! transfer in and recovery is checked against the register (a hit is a
//! critical alert, never a refusal: an armoury that receives a stolen
//! firearm must still record that it holds it), and a company answers the
//! regulator's trace request with an entry naming it.

use crate::event::SiteEvent;
use crate::model::{FirearmId, FirearmIdentity};
use crate::rules::RuleId;
use crate::rules::check::{Act, Out};
use crate::rules::events::{EventRules, SiteCtx};
use crate::rules::state::{State, StolenHit, TraceAnswer};

/// Records a hit for each firearm an acquisition, transfer in or recovery
/// names that is on the register. A site's own open loss report is no hit
/// for that site: recovering its own firearm is what the report awaits.
pub(super) fn note_hits(state: &mut State, ctx: &SiteCtx<'_>, event: &SiteEvent) {
    let named: Vec<(FirearmId, FirearmIdentity)> = match event {
        SiteEvent::FirearmAcquired {
            firearm, identity, ..
        } => vec![(*firearm, identity.clone())],
        SiteEvent::TransferredIn { firearms, .. } => firearms
            .iter()
            .filter_map(|f| state.firearms.get(f).map(|r| (*f, r.identity.clone())))
            .collect(),
        SiteEvent::Recovered { firearm, .. } => state
            .firearms
            .get(firearm)
            .map(|r| (*firearm, r.identity.clone()))
            .into_iter()
            .collect(),
        _ => return,
    };
    let at = ctx.official_time();
    for (f, identity) in named {
        for matched in state.register_matches(&f, &identity, Some(ctx.site)) {
            state.stolen_hits.push(StolenHit {
                site: ctx.site.clone(),
                entry: ctx.hash,
                kind: event.kind(),
                at,
                firearm: f,
                serial: identity.serial.clone(),
                matched,
            });
        }
    }
}

/// `SiteEvent::TraceAnswered`.
pub(super) struct TraceAnswered;

impl EventRules for TraceAnswered {
    fn check(&self, state: &State, act: &Act<'_>, event: &SiteEvent, out: &mut Out) {
        let SiteEvent::TraceAnswered {
            request, firearms, ..
        } = event
        else {
            return;
        };
        match state.trace_requests.get(request) {
            None => out.push(
                RuleId::ReferenceExists,
                format!("no trace request {request} on the regulator's chain"),
            ),
            Some(r) if state.company_of(act.site) != Some(&r.company) => out.push(
                RuleId::ReferenceExists,
                format!(
                    "trace request {request} is addressed to company {}, not this site's",
                    r.company
                ),
            ),
            Some(_) => {}
        }
        for f in firearms {
            if !state.firearms.contains_key(f) {
                out.push(
                    RuleId::ReferenceExists,
                    format!("the answer names {}", state.firearm_words(f)),
                );
            }
        }
    }

    fn apply(&self, state: &mut State, ctx: &SiteCtx<'_>, event: &SiteEvent) {
        let SiteEvent::TraceAnswered {
            request,
            outcome,
            firearms,
        } = event
        else {
            return;
        };
        let company = state.company_of(ctx.site).cloned();
        if let Some(r) = state.trace_requests.get_mut(request)
            && r.answer.is_none()
            && company.as_ref() == Some(&r.company)
        {
            r.answer = Some(TraceAnswer {
                entry: ctx.hash,
                site: ctx.site.clone(),
                at: ctx.official_time(),
                outcome: *outcome,
                firearms: firearms.clone(),
            });
        }
    }

    fn allowed_after_disposal(&self) -> bool {
        true
    }
}
