//! Checks and state changes several event families share: locations,
//! custody of a firearm, round balances, recipients, references, and the
//! opening and closing of issues.

use std::collections::BTreeMap;

use crate::hash::Hash;
use crate::ids::{LocationId, PersonId, SiteId, Timestamp};
use crate::model::{AmmoLine, FirearmId, Holder, LotId, RoundsBack, normalise};
use crate::rules::RuleId;
use crate::rules::check::{Act, Out};
use crate::rules::events::{SiteCtx, scope};
use crate::rules::oversight::company_standing;
use crate::rules::state::{FirearmState, OpenIssue, State};

// ---------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------

/// `location-registered`: `loc` is approved for the acting site.
pub(super) fn location(state: &State, act: &Act<'_>, loc: &LocationId, out: &mut Out) {
    let known = state
        .sites
        .get(act.site)
        .is_some_and(|s| s.locations.contains(loc));
    if !known {
        out.push(
            RuleId::LocationRegistered,
            format!("location {loc} is not registered for site {}", act.site),
        );
    }
}

/// `firearm-in-store`: `f` is in store at the acting site. A disposed
/// firearm is left to `disposed-is-final`.
pub(super) fn in_store_here(state: &State, act: &Act<'_>, f: &FirearmId, out: &mut Out) -> bool {
    match state.firearms.get(f) {
        None => {
            out.push(
                RuleId::FirearmInStore,
                format!("{} was never acquired", state.firearm_words(f)),
            );
            false
        }
        Some(r) if &r.site != act.site => {
            out.push(
                RuleId::FirearmInStore,
                format!("firearm {} is held by site {}", r.identity.serial, r.site),
            );
            false
        }
        Some(r) => match &r.state {
            FirearmState::InStore { .. } => true,
            FirearmState::Disposed { .. } => false, // DisposedIsFinal already says so
            s => {
                out.push(
                    RuleId::FirearmInStore,
                    format!("firearm {} is {}", r.identity.serial, s.word()),
                );
                false
            }
        },
    }
}

/// `balance-non-negative`: `holder` holds at least `rounds` of `lot` here.
pub(super) fn take_rounds(
    state: &State,
    act: &Act<'_>,
    lot: &LotId,
    holder: &Holder,
    rounds: u64,
    out: &mut Out,
) {
    let have = state.balance(act.site, lot, holder);
    if i128::from(have) < i128::from(rounds) {
        out.push(
            RuleId::BalanceNonNegative,
            format!(
                "{rounds} rounds of {} taken from the holder {holder}, which holds {have}",
                state.lot_words(lot)
            ),
        );
    }
}

/// `balance-non-negative` for acts that take rounds from the store as a
/// whole (losses, disposals): `verb` is what the act did to them.
pub(super) fn store_holds(state: &State, act: &Act<'_>, l: &AmmoLine, verb: &str, out: &mut Out) {
    if state.in_store(act.site, &l.lot) < delta(l.rounds) {
        out.push(
            RuleId::BalanceNonNegative,
            format!(
                "{} rounds of {} {verb}, fewer in store",
                l.rounds,
                state.lot_words(&l.lot)
            ),
        );
    }
}

/// The rules on who may receive a firearm (`weapon`) or rounds: not the
/// issuer, licensed, not barred, vetting neither failed nor expired, employed by an active company that owns
/// the site, and for a firearm a permit and a qualification covering it.
pub(super) fn recipient(
    state: &State,
    act: &Act<'_>,
    to: &PersonId,
    weapon: Option<&FirearmId>,
    out: &mut Out,
) {
    if to == act.officer {
        out.push(
            RuleId::IssuerNotRecipient,
            format!("{to} cannot issue to themself"),
        );
    }
    let t = act.time;
    let Some(p) = state.persons.get(to) else {
        out.push(
            RuleId::RecipientLicensed,
            format!("{to} holds no security-officer licence"),
        );
        return;
    };
    let current = p.licences.iter().find(|l| l.valid.covers(t));
    let latest = p.licences.iter().max_by_key(|l| l.valid.until);
    match current.or(latest) {
        Some(l) if l.valid.covers(t) => {}
        Some(l) => out.push(
            RuleId::RecipientLicensed,
            format!(
                "{to}'s licence {} is valid {}..{}",
                l.number, l.valid.from, l.valid.until
            ),
        ),
        None => out.push(
            RuleId::RecipientLicensed,
            format!("{to} holds no licence in force"),
        ),
    }
    if p.barred_at(t) {
        out.push(RuleId::RecipientNotBarred, format!("{to} is barred"));
    }
    if let Some(why) = p.vetting.as_ref().and_then(|v| v.fails_at(t)) {
        out.push(RuleId::RecipientVetted, format!("{to}: {why}"));
    }
    let site_company = state.company_of(act.site);
    let authorised = state
        .authorisations
        .get(&(to.clone(), act.site.clone()))
        .is_some_and(|v| v.iter().any(|x| x.covers(t)));
    match (&p.company, site_company) {
        (Some(c), Some(sc)) if c != sc && !authorised => out.push(
            RuleId::RecipientAuthorised,
            format!(
                "{to} is employed by {c}, not by {sc}, and not authorised for site {}",
                act.site
            ),
        ),
        (Some(c), _) => {
            if let Some((rule, why)) = company_standing(state, c, t) {
                out.push(rule, format!("{to}'s employer: {why}"));
            }
        }
        _ => {}
    }
    let Some(f) = weapon.and_then(|w| state.firearms.get(w)) else {
        return;
    };
    let cal = normalise(f.identity.calibre.as_str());
    let permit = p.permits.iter().find(|pm| {
        pm.valid.covers(t)
            && pm.categories.contains(&f.identity.category)
            && pm.calibres.iter().any(|c| normalise(c.as_str()) == cal)
    });
    if permit.is_none() {
        out.push(
            RuleId::PermitCoversWeapon,
            format!(
                "no permit of {to} in force covers category {} calibre {}",
                f.identity.category, f.identity.calibre
            ),
        );
    }
    let quals = || {
        p.qualifications
            .iter()
            .filter(|q| q.weapon == f.identity.kind)
    };
    let qual = quals()
        .find(|q| q.valid.covers(t))
        .or_else(|| quals().max_by_key(|q| q.valid.until));
    match qual {
        Some(q) if q.valid.covers(t) => {
            let current: Vec<_> = quals().filter(|q| q.valid.covers(t)).collect();
            scope::provider_accredited(state, to, f.identity.kind, &current, t, out);
        }
        Some(q) => out.push(
            RuleId::QualificationCurrent,
            format!(
                "{to}'s {:?} qualification {} expired {}",
                f.identity.kind, q.id, q.valid.until
            ),
        ),
        None => out.push(
            RuleId::QualificationCurrent,
            format!("{to} holds no {:?} qualification", f.identity.kind),
        ),
    }
}

/// `shortfall-unresolved`: `to` has no unresolved rounds shortfall here.
pub(super) fn no_open_shortfall(state: &State, act: &Act<'_>, to: &PersonId, out: &mut Out) {
    for d in state
        .discrepancies
        .iter()
        .filter(|d| !d.resolved && &d.site == act.site && d.person.as_ref() == Some(to))
    {
        out.push(
            RuleId::ShortfallUnresolved,
            format!(
                "{to} returned {} of {} rounds owed under return {}; resolve it first",
                d.found,
                d.expected,
                d.count.short()
            ),
        );
    }
}

/// `lot-serviceable`: each lot issued is serviceable at this site.
pub(super) fn lots_serviceable(state: &State, act: &Act<'_>, lines: &[AmmoLine], out: &mut Out) {
    for l in lines {
        let status = state.lot_status(act.site, &l.lot);
        if status != crate::model::LotStatus::Serviceable {
            out.push(
                RuleId::LotServiceable,
                format!("{} is {status:?}", state.lot_words(&l.lot)),
            );
        }
    }
}

/// `reference-exists`: `hash` names an entry in the ledger.
pub(super) fn reference(state: &State, hash: &Hash, what: &str, out: &mut Out) -> bool {
    if state.entries.contains_key(hash) {
        true
    } else {
        out.push(
            RuleId::ReferenceExists,
            format!("{what} {} is not in the ledger", hash.short()),
        );
        false
    }
}

/// `rounds-reconcile`: per lot, returned + expended equals what is outstanding.
pub(super) fn reconcile(
    state: &State,
    outstanding: &BTreeMap<LotId, u64>,
    back: &[RoundsBack],
    out: &mut Out,
) {
    for (lot, owed) in outstanding {
        let (r, e) = back
            .iter()
            .filter(|b| &b.lot == lot)
            .fold((0u64, 0u64), |(r, e), b| {
                (r.saturating_add(b.returned), e.saturating_add(b.expended))
            });
        // Fewer back than owed opens a shortfall (`close_issue`); only
        // more back than owed is wrong on its face.
        if r.saturating_add(e) > *owed {
            out.push(
                RuleId::RoundsReconcile,
                format!(
                    "{}: {owed} outstanding, {r} returned + {e} expended",
                    state.lot_words(lot)
                ),
            );
        }
    }
    for b in back.iter().filter(|b| !outstanding.contains_key(&b.lot)) {
        out.push(
            RuleId::RoundsReconcile,
            format!("{} was not issued", state.lot_words(&b.lot)),
        );
    }
}

// ---------------------------------------------------------------------------
// State changes
// ---------------------------------------------------------------------------

/// A round count as a balance delta (saturating).
pub(super) fn delta(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Sets a firearm's state for an act at `here`. A site changes only the
/// firearms it answers for; `moves_here` (a matched transfer in or recovery)
/// makes `here` answerable. Anything else is another site's firearm: the
/// finding records the act, and the other site's custody stays as it is.
pub(super) fn set_state(
    state: &mut State,
    f: &FirearmId,
    here: &SiteId,
    moves_here: bool,
    s: FirearmState,
) {
    if let Some(r) = state.firearms.get_mut(f)
        && (&r.site == here || moves_here)
    {
        r.state = s;
        r.site = here.clone();
    }
}

/// Puts a firearm of this site back in store at `location`.
pub(super) fn back_in_store(state: &mut State, f: &FirearmId, here: &SiteId, loc: &LocationId) {
    set_state(
        state,
        f,
        here,
        false,
        FirearmState::InStore {
            location: loc.clone(),
        },
    );
}

/// Takes `n` rounds of `lot` out of any store locations at `site`, largest first.
pub(super) fn take_from_store(state: &mut State, site: &SiteId, lot: LotId, n: u64) {
    let mut left = delta(n);
    let holders: Vec<(Holder, i64)> = state
        .balances
        .get(&(site.clone(), lot))
        .map(|m| {
            let mut v: Vec<_> = m
                .iter()
                .filter(|(h, _)| matches!(h, Holder::Store(_)))
                .map(|(h, v)| (h.clone(), *v))
                .collect();
            v.sort_by_key(|(_, v)| core::cmp::Reverse(*v));
            v
        })
        .unwrap_or_default();
    for (h, have) in holders {
        if left == 0 {
            break;
        }
        let take = left.min(have.max(0));
        state.add(site, lot, h, -take);
        left -= take;
    }
    if left > 0 {
        // Recorded shortfall: the balance goes negative at an unnamed store.
        let loc = LocationId::new("unallocated").ok();
        if let Some(loc) = loc {
            state.add(site, lot, Holder::Store(loc), -left);
        }
    }
}

/// Opens an issue: rounds move from the store location (if named) to the
/// recipient and are owed back per lot.
pub(super) fn open_issue(
    state: &mut State,
    ctx: &SiteCtx<'_>,
    firearm: Option<FirearmId>,
    to: &PersonId,
    due_back: Timestamp,
    lines: &[AmmoLine],
    from: Option<&LocationId>,
) {
    let site = ctx.site;
    let mut outstanding = BTreeMap::new();
    for l in lines {
        if let Some(from) = from {
            state.add(site, l.lot, Holder::Store(from.clone()), -delta(l.rounds));
        }
        state.add(site, l.lot, Holder::Person(to.clone()), delta(l.rounds));
        let o = outstanding.entry(l.lot).or_insert(0u64);
        *o = o.saturating_add(l.rounds);
    }
    state.open_issues.insert(
        ctx.hash,
        OpenIssue {
            site: site.clone(),
            firearm,
            to: to.clone(),
            by: ctx.officer.clone(),
            issued_at: ctx.occurred_at,
            due_back,
            outstanding,
        },
    );
}

/// Closes this site's issue: rounds returned go to store at `to`; returned
/// and expended come off the recipient. An issue of no record (or another
/// site's) stays as it is, and the rounds returned are booked into store.
pub(super) fn close_issue(
    state: &mut State,
    site: &SiteId,
    ctx_hash: Hash,
    issue: &Hash,
    back: &[RoundsBack],
    to: &LocationId,
) {
    let own = state
        .open_issues
        .get(issue)
        .is_some_and(|o| &o.site == site);
    let Some(open) = own.then(|| state.open_issues.remove(issue)).flatten() else {
        for b in back {
            state.add(site, b.lot, Holder::Store(to.clone()), delta(b.returned));
        }
        return;
    };
    let person = Holder::Person(open.to.clone());
    for (lot, owed) in &open.outstanding {
        let got = back.iter().filter(|b| &b.lot == lot).fold(0u64, |n, b| {
            n.saturating_add(b.returned).saturating_add(b.expended)
        });
        if got < *owed {
            state.discrepancies.push(crate::rules::state::Discrepancy {
                site: site.clone(),
                count: ctx_hash,
                item: crate::model::Item::Rounds(AmmoLine {
                    lot: *lot,
                    rounds: owed - got,
                }),
                expected: *owed,
                found: got,
                resolved: false,
                person: Some(open.to.clone()),
            });
        }
    }
    for b in back {
        state.add(
            site,
            b.lot,
            person.clone(),
            -delta(b.returned.saturating_add(b.expended)),
        );
        state.add(site, b.lot, Holder::Store(to.clone()), delta(b.returned));
    }
}
