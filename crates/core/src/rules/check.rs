//! The hard rules: each act is judged against the state before it. A
//! violation is evidence, not an error; the officer's tool refuses the act
//! before signing unless an override is recorded.
//!
//! This file holds what every site act is judged on (the site is registered,
//! its company active, no disposed firearm touched); each event kind's own
//! rules live with its family in [`super::events`].

use crate::event::{SiteEvent, Subject};
use crate::ids::{PersonId, SiteId, Timestamp};
use crate::rules::RuleId;
use crate::rules::events;
use crate::rules::state::{FirearmState, State};

/// One broken rule, with the evidence.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Violation {
    /// The rule.
    pub rule: RuleId,
    /// What the ledger shows.
    pub evidence: String,
}

/// The context of an act: where, when, by whom.
#[derive(Clone, Debug)]
pub struct Act<'a> {
    /// The site whose chain records it.
    pub site: &'a SiteId,
    /// The acting officer.
    pub officer: &'a PersonId,
    /// When the act occurred (the body's `occurred_at`, entered by the
    /// officer): validity is judged at this time.
    pub time: Timestamp,
    /// When it was recorded (the device time; for a pre-sign check, now).
    pub recorded: Timestamp,
}

/// The violations found so far, in the order the rules were judged.
pub(super) struct Out(Vec<Violation>);

impl Out {
    /// No violations yet.
    pub(super) fn new() -> Out {
        Out(Vec::new())
    }

    /// The violations, in order.
    pub(super) fn into_inner(self) -> Vec<Violation> {
        self.0
    }

    /// Records a broken rule.
    pub(super) fn push(&mut self, rule: RuleId, evidence: impl Into<String>) {
        self.0.push(Violation {
            rule,
            evidence: evidence.into(),
        });
    }
}

/// Judges `event` at `act` against `state`. Returns every violation found.
pub fn evaluate(state: &State, act: &Act<'_>, event: &SiteEvent) -> Vec<Violation> {
    let rules = events::rules_of(event);
    let mut out = Out(Vec::new());
    site_checks(state, act, rules.needs_active_company(), &mut out);
    if !rules.allowed_after_disposal() {
        for s in event.subjects() {
            if let Subject::Firearm(f) = s
                && let Some(FirearmState::Disposed { method }) =
                    state.firearms.get(&f).map(|r| &r.state)
            {
                out.push(
                    RuleId::DisposedIsFinal,
                    format!("{} was {method:?} earlier", state.firearm_words(&f)),
                );
            }
        }
    }
    recorded_in_time(state, act, &mut out);
    rules.check(state, act, event, &mut out);
    out.0
}

/// `recorded-in-time`: recorded within the regulator's window after the
/// act occurred, and not before it occurred (beyond the clock tolerance).
fn recorded_in_time(state: &State, act: &Act<'_>, out: &mut Out) {
    let window = state.policy.record_within_ms;
    if act.recorded > act.time.plus(window) {
        out.push(
            RuleId::RecordedInTime,
            format!(
                "occurred {}, recorded {}: {} h later, the window is {} h",
                act.time,
                act.recorded,
                act.recorded.0.saturating_sub(act.time.0) / Timestamp::HOUR,
                window / Timestamp::HOUR
            ),
        );
    }
    if act.time > act.recorded.plus(crate::chain::CLOCK_TOLERANCE_MS) {
        out.push(
            RuleId::RecordedInTime,
            format!(
                "occurred {} is after it was recorded {}",
                act.time, act.recorded
            ),
        );
    }
}

/// The site is registered; for acts that need it, its company is active.
fn site_checks(state: &State, act: &Act<'_>, needs_active: bool, out: &mut Out) {
    let Some(site) = state.sites.get(act.site) else {
        out.push(
            RuleId::SiteRegistered,
            format!("site {} is not registered", act.site),
        );
        return;
    };
    if needs_active
        && let Some((rule, evidence)) =
            super::oversight::company_standing(state, &site.company, act.time)
    {
        out.push(rule, evidence);
    }
}
