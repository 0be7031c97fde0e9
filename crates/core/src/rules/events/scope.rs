//! Licence and approval scope: what a company's licence and a site's armoury
//! approval allow to come in, and whose training counts. Acquisitions,
//! ammunition receipts and transfers in call [`intake`]; issues call
//! [`provider_accredited`] on the qualifications they rely on.

use crate::ids::{Ident, PersonId, Timestamp};
use crate::model::{FirearmId, FirearmIdentity, FirearmType, Qualification};
use crate::rules::RuleId;
use crate::rules::check::{Act, Out};
use crate::rules::state::{FirearmState, State};

/// What an act brings into the site: firearms (id and identity) and whether
/// rounds come too.
pub(super) struct Intake<'a> {
    /// Firearms coming in.
    pub firearms: Vec<(FirearmId, &'a FirearmIdentity)>,
    /// Whether rounds come in.
    pub rounds: bool,
}

impl Intake<'_> {
    fn is_empty(&self) -> bool {
        self.firearms.is_empty() && !self.rounds
    }
}

/// `licence-covers-category`, `approval-in-force` and `approval-conditions`
/// for what comes in at `act`.
pub(super) fn intake(state: &State, act: &Act<'_>, what: &Intake<'_>, out: &mut Out) {
    if what.is_empty() {
        return;
    }
    licence_covers(state, act, what, out);
    approval(state, act, what, out);
}

/// Categories for evidence: `B, C`, or `none`.
fn list(categories: &[Ident]) -> String {
    if categories.is_empty() {
        return "none".into();
    }
    categories
        .iter()
        .map(Ident::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `licence-covers-category`: the site's company licence covers each
/// firearm's category; a licence with no category takes in nothing armed.
fn licence_covers(state: &State, act: &Act<'_>, what: &Intake<'_>, out: &mut Out) {
    // An unregistered site or unlicensed company is reported by the shared
    // checks (`site-registered`, `company-active`).
    let Some(company) = state.company_of(act.site) else {
        return;
    };
    let Some(c) = state.companies.get(company) else {
        return;
    };
    if c.categories.is_empty() {
        out.push(
            RuleId::LicenceCoversCategory,
            format!(
                "company {company}'s licence {} covers no firearm category (a licence without \
                 firearms, such as unarmed guarding): it takes in neither firearms nor ammunition",
                c.licence
            ),
        );
        return;
    }
    for (_, f) in &what.firearms {
        if !c.categories.contains(&f.category) {
            out.push(
                RuleId::LicenceCoversCategory,
                format!(
                    "firearm {} is category {}; company {company}'s licence {} covers {}",
                    f.serial,
                    f.category,
                    c.licence,
                    list(&c.categories)
                ),
            );
        }
    }
}

/// `approval-in-force` and `approval-conditions`, where the regulator has
/// recorded an approval with conditions for the site.
fn approval(state: &State, act: &Act<'_>, what: &Intake<'_>, out: &mut Out) {
    let Some(a) = state.approvals.get(act.site) else {
        return;
    };
    if !a.valid.covers(act.time) {
        out.push(
            RuleId::ApprovalInForce,
            format!(
                "site {}'s armoury approval {} is valid {}..{}, not at {}",
                act.site, a.approval, a.valid.from, a.valid.until, act.time
            ),
        );
    }
    if !a.categories.is_empty() {
        for (_, f) in what
            .firearms
            .iter()
            .filter(|(_, f)| !a.categories.contains(&f.category))
        {
            out.push(
                RuleId::ApprovalConditions,
                format!(
                    "firearm {} is category {}; armoury approval {} of site {} allows {}",
                    f.serial,
                    f.category,
                    a.approval,
                    act.site,
                    list(&a.categories)
                ),
            );
        }
    }
    if let Some(max) = a.max_firearms
        && !what.firearms.is_empty()
    {
        let present = present_firearms(state, act, what);
        let after = present.saturating_add(what.firearms.len() as u64);
        if after > u64::from(max) {
            out.push(
                RuleId::ApprovalConditions,
                format!(
                    "site {} holds {present} firearms (issued out and in maintenance included); \
                     {} more make {after}, over the {max} armoury approval {} allows",
                    act.site,
                    what.firearms.len(),
                    a.approval
                ),
            );
        }
    }
}

/// Firearms the site answers for and holds now: in store, issued out or in
/// maintenance (not lost, seized, sent away or gone). Those coming in are
/// left out, so a repeated acquisition is not counted twice.
fn present_firearms(state: &State, act: &Act<'_>, what: &Intake<'_>) -> u64 {
    state
        .firearms_at(act.site)
        .filter(|f| {
            matches!(
                f.state,
                FirearmState::InStore { .. }
                    | FirearmState::Issued { .. }
                    | FirearmState::InMaintenance { .. }
            )
        })
        .filter(|f| !what.firearms.iter().any(|(id, _)| *id == f.id))
        .count() as u64
}

/// `provider-accredited`: of `to`'s qualifications for `kind` current at
/// `t`, one at least was awarded (its validity's start) while its provider
/// was accredited. Judged once the regulator keeps its register of
/// providers, that is once any accreditation is on its chain.
pub(super) fn provider_accredited(
    state: &State,
    to: &PersonId,
    kind: FirearmType,
    current: &[&Qualification],
    t: Timestamp,
    out: &mut Out,
) {
    if state.providers.is_empty() || current.is_empty() {
        return;
    }
    let accredited = |q: &&Qualification| {
        state
            .providers
            .get(&q.provider)
            .is_some_and(|v| v.iter().any(|a| a.covers(q.valid.from)))
    };
    if current.iter().any(accredited) {
        return;
    }
    for q in current {
        let why = match state.providers.get(&q.provider) {
            None => "a provider the regulator has never accredited".to_string(),
            Some(v) => format!(
                "accredited {}",
                v.iter()
                    .map(|a| format!("{}..{}", a.from, a.until))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        out.push(
            RuleId::ProviderAccredited,
            format!(
                "{to}'s {kind:?} qualification {} (awarded {}, current at {t}) is from {} \
                 ({why}), not accredited when it was awarded",
                q.id, q.valid.from, q.provider
            ),
        );
    }
}
