//! How each event changes the state. Applied whatever the rules said: the
//! state follows what the signed record says happened, so a wrong act shows
//! up in inventories and balances exactly as recorded.

use std::collections::BTreeMap;

use crate::event::{CompanyStatus, RegulatorEvent, Revocable, SiteEvent};
use crate::hash::Hash;
use crate::ids::{SiteId, Timestamp};
use crate::model::{CountKind, FirearmId, Holder, Item};
use crate::rules::state::{
    CompanyRecord, Discrepancy, FirearmRecord, FirearmState, LossRecord, OpenIssue, SiteRecord,
    State, Transfer, TransferStatus,
};

/// Where and when a site event is applied.
pub struct SiteCtx<'a> {
    /// Site.
    pub site: &'a SiteId,
    /// Entry hash (the act's id).
    pub hash: Hash,
    /// Acting officer.
    pub officer: &'a crate::ids::PersonId,
    /// Device time.
    pub time: Timestamp,
    /// Server receipt time, when known; deadlines run from it.
    pub received_at: Option<Timestamp>,
}

impl SiteCtx<'_> {
    fn official_time(&self) -> Timestamp {
        self.received_at.unwrap_or(self.time)
    }
}

/// Sets a firearm's state for an act at `here`. A site changes only the
/// firearms it answers for; `moves_here` (a matched transfer in or recovery)
/// makes `here` answerable. Anything else is another site's firearm: the
/// finding records the act, and the other site's custody stays as it is.
fn set_state(state: &mut State, f: &FirearmId, here: &SiteId, moves_here: bool, s: FirearmState) {
    if let Some(r) = state.firearms.get_mut(f)
        && (&r.site == here || moves_here)
    {
        r.state = s;
        r.site = here.clone();
    }
}

fn i(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Takes `rounds` of `lot` out of any store locations at `site`, largest first.
fn take_from_store(state: &mut State, site: &SiteId, lot: crate::model::LotId, rounds: u64) {
    let mut left = i(rounds);
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
        let loc = crate::ids::LocationId::new("unallocated").ok();
        if let Some(loc) = loc {
            state.add(site, lot, Holder::Store(loc), -left);
        }
    }
}

/// Applies a site event.
pub fn apply_site(state: &mut State, ctx: &SiteCtx<'_>, event: &SiteEvent) {
    use SiteEvent::*;
    let site = ctx.site;
    match event {
        FirearmAcquired {
            firearm,
            identity,
            location,
            ..
        } => {
            let live_elsewhere = state.firearms.get(firearm).is_some_and(|r| {
                &r.site != site && !matches!(r.state, FirearmState::Disposed { .. })
            });
            if live_elsewhere {
                return;
            }
            state.firearms.insert(
                *firearm,
                FirearmRecord {
                    id: *firearm,
                    identity: identity.clone(),
                    site: site.clone(),
                    state: FirearmState::InStore {
                        location: location.clone(),
                    },
                    acquired: ctx.hash,
                },
            );
        }
        AmmunitionReceived {
            lot,
            identity,
            rounds,
            location,
            ..
        } => {
            state.lots.entry(*lot).or_insert_with(|| identity.clone());
            state.add(site, *lot, Holder::Store(location.clone()), i(*rounds));
        }
        Issued {
            firearm,
            to,
            due_back,
            ammunition,
            ammunition_from,
            ..
        } => {
            set_state(
                state,
                firearm,
                site,
                false,
                FirearmState::Issued {
                    to: to.clone(),
                    issue: ctx.hash,
                    due_back: *due_back,
                },
            );
            open_issue(
                state,
                ctx,
                Some(*firearm),
                to,
                *due_back,
                ammunition,
                ammunition_from.as_ref(),
            );
        }
        Returned {
            issue,
            firearm,
            ammunition,
            location,
            ..
        } => {
            set_state(
                state,
                firearm,
                site,
                false,
                FirearmState::InStore {
                    location: location.clone(),
                },
            );
            close_issue(state, site, issue, ammunition, location);
        }
        AmmunitionIssued {
            to,
            lines,
            from,
            due_back,
            ..
        } => {
            open_issue(state, ctx, None, to, *due_back, lines, Some(from));
        }
        AmmunitionReturned { issue, lines, to } => close_issue(state, site, issue, lines, to),
        AmmunitionExpended {
            holder,
            line,
            issue,
            ..
        } => {
            state.add(site, line.lot, holder.clone(), -i(line.rounds));
            if let Some(o) = issue
                .and_then(|h| state.open_issues.get_mut(&h))
                .and_then(|x| x.outstanding.get_mut(&line.lot))
            {
                *o = o.saturating_sub(line.rounds);
            }
        }
        StorageMoved { item, from, to } => match item {
            Item::Firearm(f) => set_state(
                state,
                f,
                site,
                false,
                FirearmState::InStore {
                    location: to.clone(),
                },
            ),
            Item::Rounds(l) => {
                state.add(site, l.lot, Holder::Store(from.clone()), -i(l.rounds));
                state.add(site, l.lot, Holder::Store(to.clone()), i(l.rounds));
            }
        },
        TransferredOut {
            to_site,
            firearms,
            rounds,
            rounds_from,
            ..
        } => {
            for f in firearms {
                set_state(
                    state,
                    f,
                    site,
                    false,
                    FirearmState::InTransit {
                        transfer: ctx.hash,
                        to_site: to_site.clone(),
                    },
                );
            }
            let mut sent = BTreeMap::new();
            for l in rounds {
                match rounds_from {
                    Some(from) => state.add(site, l.lot, Holder::Store(from.clone()), -i(l.rounds)),
                    None => take_from_store(state, site, l.lot, l.rounds),
                }
                let s = sent.entry(l.lot).or_insert(0u64);
                *s = s.saturating_add(l.rounds);
            }
            state.transfers.insert(
                ctx.hash,
                Transfer {
                    from_site: site.clone(),
                    to_site: to_site.clone(),
                    firearms: firearms.clone(),
                    rounds: sent,
                    sent_at: ctx.official_time(),
                    status: TransferStatus::Pending,
                },
            );
        }
        TransferredIn {
            transfer,
            firearms,
            rounds,
            location,
            ..
        } => {
            // Only a pending transfer addressed to this site moves custody.
            let matched = state
                .transfers
                .get(&transfer.hash)
                .filter(|x| &x.to_site == site && x.status == TransferStatus::Pending)
                .map(|x| x.firearms.clone());
            for f in firearms {
                let sent = matched.as_ref().is_some_and(|m| m.contains(f));
                set_state(
                    state,
                    f,
                    site,
                    sent,
                    FirearmState::InStore {
                        location: location.clone(),
                    },
                );
            }
            for l in rounds {
                state.add(site, l.lot, Holder::Store(location.clone()), i(l.rounds));
            }
            if matched.is_some()
                && let Some(x) = state.transfers.get_mut(&transfer.hash)
            {
                x.status = TransferStatus::Acknowledged(ctx.hash);
            }
        }
        TransferCancelled {
            transfer, location, ..
        } => {
            let Some(x) = state
                .transfers
                .get(transfer)
                .filter(|x| &x.from_site == site && x.status == TransferStatus::Pending)
                .cloned()
            else {
                return;
            };
            for f in &x.firearms {
                set_state(
                    state,
                    f,
                    site,
                    false,
                    FirearmState::InStore {
                        location: location.clone(),
                    },
                );
            }
            for (lot, n) in &x.rounds {
                state.add(site, *lot, Holder::Store(location.clone()), i(*n));
            }
            if let Some(x) = state.transfers.get_mut(transfer) {
                x.status = TransferStatus::Cancelled(ctx.hash);
            }
        }
        LossReported {
            items,
            kind,
            police_ref,
            regulator_ref,
            ..
        } => {
            for it in items {
                match it {
                    Item::Firearm(f) => {
                        // A firearm lost while issued: the issue stays open for
                        // the rounds still owed, as an ammunition-only issue.
                        let issued = state.firearms.get(f).filter(|r| &r.site == site).and_then(
                            |r| match &r.state {
                                FirearmState::Issued { issue, .. } => Some(*issue),
                                _ => None,
                            },
                        );
                        if let Some(open) = issued.and_then(|i| state.open_issues.get_mut(&i)) {
                            open.firearm = None;
                            if open.outstanding.values().all(|n| *n == 0) {
                                let _ = issued.map(|i| state.open_issues.remove(&i));
                            }
                        }
                        set_state(
                            state,
                            f,
                            site,
                            false,
                            FirearmState::Lost { report: ctx.hash },
                        );
                    }
                    Item::Rounds(l) => take_from_store(state, site, l.lot, l.rounds),
                }
            }
            state.losses.insert(
                ctx.hash,
                LossRecord {
                    site: site.clone(),
                    items: items.clone(),
                    kind: *kind,
                    reported_at: ctx.official_time(),
                    police_ref: police_ref.clone(),
                    regulator_ref: regulator_ref.clone(),
                },
            );
        }
        LossReportUpdated {
            report,
            police_ref,
            regulator_ref,
        } => {
            if let Some(l) = state.losses.get_mut(report).filter(|l| &l.site == site) {
                if police_ref.is_some() {
                    l.police_ref = police_ref.clone();
                }
                if regulator_ref.is_some() {
                    l.regulator_ref = regulator_ref.clone();
                }
            }
        }
        Seized { firearm, .. } => {
            state.seizures.insert(ctx.hash, *firearm);
            set_state(
                state,
                firearm,
                site,
                false,
                FirearmState::Seized { entry: ctx.hash },
            );
        }
        Recovered {
            firearm,
            report,
            location,
            ..
        } => {
            let matches = state
                .losses
                .get(report)
                .is_some_and(|l| l.items.contains(&Item::Firearm(*firearm)))
                || state.seizures.get(report) == Some(firearm);
            set_state(
                state,
                firearm,
                site,
                matches,
                FirearmState::InStore {
                    location: location.clone(),
                },
            )
        }
        CountPerformed {
            session,
            kind,
            part,
            parts,
            firearms_seen,
            rounds_seen,
            ..
        } => {
            let key = (site.clone(), session.clone());
            let s = state.count_sessions.entry(key.clone()).or_default();
            s.0.extend(firearms_seen.iter().copied());
            for l in rounds_seen {
                let r = s.1.entry(l.lot).or_insert(0);
                *r = r.saturating_add(l.rounds);
            }
            if part >= parts {
                let (seen, rounds) = state.count_sessions.remove(&key).unwrap_or_default();
                finish_count(state, ctx, &seen, &rounds);
                if matches!(kind, CountKind::SerialNumber | CountKind::Full) {
                    state.last_count.insert(site.clone(), ctx.time);
                }
            }
        }
        DiscrepancyResolved { count, item, .. } => {
            for d in state
                .discrepancies
                .iter_mut()
                .filter(|d| &d.count == count && &d.item == item)
            {
                d.resolved = true;
            }
        }
        MaintenanceOut {
            firearm, provider, ..
        } => set_state(
            state,
            firearm,
            site,
            false,
            FirearmState::InMaintenance {
                provider: provider.clone(),
            },
        ),
        MaintenanceIn {
            firearm, location, ..
        } => set_state(
            state,
            firearm,
            site,
            false,
            FirearmState::InStore {
                location: location.clone(),
            },
        ),
        Disposed { item, method, .. } => match item {
            Item::Firearm(f) => set_state(
                state,
                f,
                site,
                false,
                FirearmState::Disposed { method: *method },
            ),
            Item::Rounds(l) => take_from_store(state, site, l.lot, l.rounds),
        },
        Corrected { .. } | Annotated { .. } | Overridden { .. } => {}
    }
}

/// Opens an issue: rounds move from the store location (if named) to the
/// recipient and are owed back per lot.
fn open_issue(
    state: &mut State,
    ctx: &SiteCtx<'_>,
    firearm: Option<FirearmId>,
    to: &crate::ids::PersonId,
    due_back: Timestamp,
    lines: &[crate::model::AmmoLine],
    from: Option<&crate::ids::LocationId>,
) {
    let site = ctx.site;
    let mut outstanding = BTreeMap::new();
    for l in lines {
        if let Some(from) = from {
            state.add(site, l.lot, Holder::Store(from.clone()), -i(l.rounds));
        }
        state.add(site, l.lot, Holder::Person(to.clone()), i(l.rounds));
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
            issued_at: ctx.time,
            due_back,
            outstanding,
        },
    );
}

fn close_issue(
    state: &mut State,
    site: &SiteId,
    issue: &Hash,
    back: &[crate::model::RoundsBack],
    to: &crate::ids::LocationId,
) {
    let own = state
        .open_issues
        .get(issue)
        .is_some_and(|o| &o.site == site);
    let Some(open) = own.then(|| state.open_issues.remove(issue)).flatten() else {
        for b in back {
            state.add(site, b.lot, Holder::Store(to.clone()), i(b.returned));
        }
        return;
    };
    let person = Holder::Person(open.to.clone());
    for b in back {
        state.add(
            site,
            b.lot,
            person.clone(),
            -i(b.returned.saturating_add(b.expended)),
        );
        state.add(site, b.lot, Holder::Store(to.clone()), i(b.returned));
    }
}

fn finish_count(
    state: &mut State,
    ctx: &SiteCtx<'_>,
    seen: &std::collections::BTreeSet<FirearmId>,
    rounds: &BTreeMap<crate::model::LotId, u64>,
) {
    let site = ctx.site;
    let expected: Vec<FirearmId> = state
        .firearms_at(site)
        .filter(|f| matches!(f.state, FirearmState::InStore { .. }))
        .map(|f| f.id)
        .collect();
    let mut found = Vec::new();
    for f in &expected {
        if !seen.contains(f) {
            found.push((Item::Firearm(*f), 1, 0));
        }
    }
    for f in seen {
        if !expected.contains(f) {
            found.push((Item::Firearm(*f), 0, 1));
        }
    }
    let lots: Vec<crate::model::LotId> = state
        .balances
        .keys()
        .filter(|(s, _)| s == site)
        .map(|(_, l)| *l)
        .chain(rounds.keys().copied())
        .collect();
    let mut done = std::collections::BTreeSet::new();
    for lot in lots {
        if !done.insert(lot) {
            continue;
        }
        let want = u64::try_from(state.in_store(site, &lot).max(0)).unwrap_or(0);
        let got = rounds.get(&lot).copied().unwrap_or(0);
        if want != got {
            found.push((
                Item::Rounds(crate::model::AmmoLine { lot, rounds: got }),
                want,
                got,
            ));
        }
    }
    for (item, expected, found) in found {
        state.discrepancies.push(Discrepancy {
            site: site.clone(),
            count: ctx.hash,
            item,
            expected,
            found,
            resolved: false,
        });
    }
}

/// Applies a regulator event.
pub fn apply_regulator(state: &mut State, event: &RegulatorEvent) {
    use RegulatorEvent::*;
    match event {
        CompanyLicensed {
            company,
            name,
            licence,
            valid,
            ..
        } => {
            state.companies.insert(
                company.clone(),
                CompanyRecord {
                    name: name.clone(),
                    licence: licence.clone(),
                    valid: *valid,
                    status: CompanyStatus::Active,
                },
            );
        }
        CompanyStatusChanged {
            company, status, ..
        } => {
            if let Some(c) = state.companies.get_mut(company) {
                c.status = *status;
            }
        }
        SiteRegistered {
            site,
            company,
            name,
            locations,
            ..
        } => {
            state.sites.insert(
                site.clone(),
                SiteRecord {
                    company: company.clone(),
                    name: name.clone(),
                    locations: locations.iter().cloned().collect(),
                },
            );
        }
        PersonLicensed {
            person,
            company,
            identity_hash,
            licence,
        } => {
            let p = state.persons.entry(person.clone()).or_default();
            p.company = Some(company.clone());
            p.identity_hash = Some(*identity_hash);
            p.licence = Some(licence.clone());
        }
        PermitRecorded { person, permit } => {
            let p = state.persons.entry(person.clone()).or_default();
            p.permits.retain(|x| x.number != permit.number);
            p.permits.push(permit.clone());
        }
        QualificationRecorded {
            person,
            qualification,
        } => {
            let p = state.persons.entry(person.clone()).or_default();
            p.qualifications.retain(|x| x.id != qualification.id);
            p.qualifications.push(qualification.clone());
        }
        PersonRevoked { person, what, .. } => {
            if let Some(p) = state.persons.get_mut(person) {
                match what {
                    Revocable::Licence => p.licence = None,
                    Revocable::Permit(n) => p.permits.retain(|x| &x.number != n),
                    Revocable::Qualification(q) => p.qualifications.retain(|x| &x.id != q),
                }
            }
        }
        PersonBarred { person, until, .. } => {
            state.persons.entry(person.clone()).or_default().barred = Some(*until);
        }
        DeviceKeyEnrolled { .. }
        | DeviceKeyRetired { .. }
        | DeviceKeyRevoked { .. }
        | ComplaintReceived { .. }
        | ComplaintResolved { .. }
        | InspectionRecorded { .. }
        | FindingRecorded { .. }
        | SanctionRecorded { .. }
        | TrainingProviderAccredited { .. } => {}
    }
}
