//! The hard rules: each act is judged against the state before it. A
//! violation is evidence, not an error; the officer's tool refuses the act
//! before signing unless an override is recorded.

use crate::event::SiteEvent;
use crate::hash::Hash;
use crate::ids::{LocationId, PersonId, SiteId, Timestamp};
use crate::model::{DocKind, FirearmId, Holder, Item, LotId, normalise};
use crate::rules::RuleId;
use crate::rules::state::{FirearmState, State, TransferStatus};

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
    /// Device time.
    pub time: Timestamp,
}

struct Out(Vec<Violation>);

impl Out {
    fn push(&mut self, rule: RuleId, evidence: impl Into<String>) {
        self.0.push(Violation {
            rule,
            evidence: evidence.into(),
        });
    }
}

/// Judges `event` at `act` against `state`. Returns every violation found.
pub fn evaluate(state: &State, act: &Act<'_>, event: &SiteEvent) -> Vec<Violation> {
    let mut out = Out(Vec::new());
    site_checks(state, act, event, &mut out);
    if !matches!(
        event,
        SiteEvent::Corrected { .. } | SiteEvent::Annotated { .. }
    ) {
        for s in event.subjects() {
            if let crate::event::Subject::Firearm(f) = s
                && let Some(FirearmState::Disposed { method }) =
                    state.firearms.get(&f).map(|r| &r.state)
            {
                out.push(
                    RuleId::DisposedIsFinal,
                    format!("firearm {f} was {method:?} earlier"),
                );
            }
        }
    }
    event_checks(state, act, event, &mut out);
    out.0
}

fn site_checks(state: &State, act: &Act<'_>, event: &SiteEvent, out: &mut Out) {
    let Some(site) = state.sites.get(act.site) else {
        out.push(
            RuleId::SiteRegistered,
            format!("site {} is not registered", act.site),
        );
        return;
    };
    let needs_active = matches!(
        event,
        SiteEvent::FirearmAcquired { .. }
            | SiteEvent::AmmunitionReceived { .. }
            | SiteEvent::Issued { .. }
            | SiteEvent::AmmunitionIssued { .. }
            | SiteEvent::TransferredOut { .. }
            | SiteEvent::TransferredIn { .. }
    );
    if needs_active {
        match state.companies.get(&site.company) {
            Some(c) if c.active_at(act.time) => {}
            Some(c) => out.push(
                RuleId::CompanyActive,
                format!(
                    "company {} is {:?} (licence {} valid {}..{})",
                    site.company, c.status, c.licence, c.valid.from, c.valid.until
                ),
            ),
            None => out.push(
                RuleId::CompanyActive,
                format!("company {} is not licensed", site.company),
            ),
        }
    }
}

fn location(state: &State, act: &Act<'_>, loc: &LocationId, out: &mut Out) {
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

fn in_store_here(state: &State, act: &Act<'_>, f: &FirearmId, out: &mut Out) -> bool {
    match state.firearms.get(f) {
        None => {
            out.push(
                RuleId::FirearmInStore,
                format!("firearm {f} was never acquired"),
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

fn take_rounds(
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
            format!("{rounds} rounds of lot {lot} taken from {holder:?}, which holds {have}"),
        );
    }
}

fn recipient(
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
    match &p.licence {
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
    let site_company = state.company_of(act.site);
    match (&p.company, site_company) {
        (Some(c), Some(sc)) if c != sc => out.push(
            RuleId::CompanyActive,
            format!("{to} is employed by {c}, not by {sc}"),
        ),
        (Some(c), _) if !state.companies.get(c).is_some_and(|r| r.active_at(t)) => out.push(
            RuleId::CompanyActive,
            format!("{to}'s employer {c} is not active"),
        ),
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
    let qual = p
        .qualifications
        .iter()
        .filter(|q| q.weapon == f.identity.kind)
        .max_by_key(|q| q.valid.until);
    match qual {
        Some(q) if q.valid.covers(t) => {}
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

fn reference(state: &State, hash: &Hash, what: &str, out: &mut Out) -> bool {
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

fn event_checks(state: &State, act: &Act<'_>, event: &SiteEvent, out: &mut Out) {
    use SiteEvent::*;
    let t = act.time;
    match event {
        FirearmAcquired {
            firearm,
            identity,
            location: loc,
            ..
        } => {
            if *firearm != identity.id() {
                out.push(
                    RuleId::AcquisitionValid,
                    "firearm id is not derived from maker and serial",
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
            if let Some(r) = state
                .firearms
                .get(firearm)
                .filter(|r| !matches!(r.state, FirearmState::Disposed { .. }))
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
        }
        AmmunitionReceived {
            lot,
            identity,
            rounds,
            location: loc,
            ..
        } => {
            if *lot != identity.id() {
                out.push(
                    RuleId::AcquisitionValid,
                    "lot id is not derived from the lot identity",
                );
            }
            if *rounds == 0 {
                out.push(RuleId::AcquisitionValid, "zero rounds received");
            }
            location(state, act, loc, out);
        }
        Issued {
            firearm,
            to,
            ammunition,
            ammunition_from,
            ..
        } => {
            in_store_here(state, act, firearm, out);
            recipient(state, act, to, Some(firearm), out);
            let cal = state
                .firearms
                .get(firearm)
                .map(|f| normalise(f.identity.calibre.as_str()));
            for l in ammunition {
                let lot_cal = state
                    .lots
                    .get(&l.lot)
                    .map(|x| normalise(x.calibre.as_str()));
                if lot_cal.is_none() || lot_cal != cal {
                    out.push(
                        RuleId::CalibreMatches,
                        format!(
                            "lot {} is {:?}, the firearm is {:?}",
                            l.lot,
                            lot_cal.unwrap_or_else(|| "unknown".into()),
                            cal.clone().unwrap_or_default()
                        ),
                    );
                }
                match ammunition_from {
                    Some(from) => take_rounds(
                        state,
                        act,
                        &l.lot,
                        &Holder::Store(from.clone()),
                        l.rounds,
                        out,
                    ),
                    None => out.push(
                        RuleId::LocationRegistered,
                        "rounds issued without a store location",
                    ),
                }
            }
        }
        Returned {
            issue,
            firearm,
            ammunition,
            location: loc,
            ..
        } => {
            match state.open_issues.get(issue) {
                Some(i) if &i.site == act.site && i.firearm.as_ref() == Some(firearm) => {
                    reconcile(&i.outstanding, ammunition, out);
                }
                Some(i) => out.push(
                    RuleId::ReturnMatchesIssue,
                    format!(
                        "issue {} was of {:?} at site {}",
                        issue.short(),
                        i.firearm,
                        i.site
                    ),
                ),
                None => out.push(
                    RuleId::ReturnMatchesIssue,
                    format!("no open issue {} of firearm {firearm}", issue.short()),
                ),
            }
            location(state, act, loc, out);
        }
        AmmunitionIssued {
            to, lines, from, ..
        } => {
            recipient(state, act, to, None, out);
            for l in lines {
                take_rounds(
                    state,
                    act,
                    &l.lot,
                    &Holder::Store(from.clone()),
                    l.rounds,
                    out,
                );
            }
            location(state, act, from, out);
        }
        AmmunitionReturned { issue, lines, to } => {
            match state.open_issues.get(issue) {
                Some(i) if &i.site == act.site && i.firearm.is_none() => {
                    reconcile(&i.outstanding, lines, out);
                }
                _ => out.push(
                    RuleId::ReturnMatchesIssue,
                    format!("no open ammunition issue {}", issue.short()),
                ),
            }
            location(state, act, to, out);
        }
        AmmunitionExpended {
            holder,
            line,
            reason,
            incident,
            issue,
        } => {
            if *reason == crate::model::ExpenditureReason::DutyDischarge && incident.is_none() {
                out.push(
                    RuleId::DischargeHasIncident,
                    "a discharge on duty needs an incident reference",
                );
            }
            take_rounds(state, act, &line.lot, holder, line.rounds, out);
            if let Some(i) = issue {
                let owes = state
                    .open_issues
                    .get(i)
                    .and_then(|x| x.outstanding.get(&line.lot))
                    .copied()
                    .unwrap_or(0);
                if owes < line.rounds {
                    out.push(
                        RuleId::RoundsReconcile,
                        format!(
                            "issue {} has {owes} rounds of lot {} outstanding, {} expended",
                            i.short(),
                            line.lot,
                            line.rounds
                        ),
                    );
                }
            }
        }
        StorageMoved { item, from, to } => {
            match item {
                Item::Firearm(f) => {
                    if in_store_here(state, act, f, out) {
                        let at = state.firearms.get(f).map(|r| &r.state);
                        if !matches!(at, Some(FirearmState::InStore { location }) if location == from)
                        {
                            out.push(
                                RuleId::FirearmInStore,
                                format!("firearm {f} is not at {from}"),
                            );
                        }
                    }
                }
                Item::Rounds(l) => take_rounds(
                    state,
                    act,
                    &l.lot,
                    &Holder::Store(from.clone()),
                    l.rounds,
                    out,
                ),
            }
            location(state, act, to, out);
        }
        TransferredOut {
            to_site,
            to_company,
            firearms,
            rounds,
            rounds_from,
            permit,
            ..
        } => {
            for f in firearms {
                in_store_here(state, act, f, out);
            }
            for l in rounds {
                match rounds_from {
                    Some(from) => take_rounds(
                        state,
                        act,
                        &l.lot,
                        &Holder::Store(from.clone()),
                        l.rounds,
                        out,
                    ),
                    None => out.push(
                        RuleId::LocationRegistered,
                        "rounds sent without a store location",
                    ),
                }
            }
            match state.sites.get(to_site) {
                Some(s) if &s.company == to_company => {}
                _ => out.push(
                    RuleId::SiteRegistered,
                    format!("{to_site} is not a registered site of {to_company}"),
                ),
            }
            if !state
                .companies
                .get(to_company)
                .is_some_and(|c| c.active_at(t))
            {
                out.push(
                    RuleId::CompanyActive,
                    format!("receiving company {to_company} is not active"),
                );
            }
            if !matches!(
                permit.kind,
                DocKind::TransferAuthorisation | DocKind::TransportPermit | DocKind::ExportLicence
            ) || permit.valid_until.is_some_and(|u| u <= t)
            {
                out.push(
                    RuleId::TransferMatches,
                    format!(
                        "permit {} is not a valid transfer authorisation",
                        permit.number
                    ),
                );
            }
        }
        TransferredIn {
            transfer,
            firearms,
            rounds,
            location: loc,
            ..
        } => {
            match state.transfers.get(&transfer.hash) {
                Some(x)
                    if &x.to_site == act.site
                        && x.from_site == transfer.site
                        && x.status == TransferStatus::Pending =>
                {
                    for f in firearms.iter().filter(|f| !x.firearms.contains(f)) {
                        out.push(
                            RuleId::TransferMatches,
                            format!("firearm {f} was not in the transfer"),
                        );
                    }
                    for f in x.firearms.iter().filter(|f| !firearms.contains(f)) {
                        out.push(
                            RuleId::TransferMatches,
                            format!("firearm {f} was sent but is not acknowledged as received"),
                        );
                    }
                    let mut got: std::collections::BTreeMap<LotId, u64> =
                        std::collections::BTreeMap::new();
                    for l in rounds {
                        let g = got.entry(l.lot).or_insert(0);
                        *g = g.saturating_add(l.rounds);
                    }
                    let lots: std::collections::BTreeSet<&LotId> =
                        x.rounds.keys().chain(got.keys()).collect();
                    for lot in lots {
                        let sent = x.rounds.get(lot).copied().unwrap_or(0);
                        let received = got.get(lot).copied().unwrap_or(0);
                        if received != sent {
                            out.push(
                                RuleId::TransferMatches,
                                format!("{received} rounds of lot {lot} received, {sent} sent"),
                            );
                        }
                    }
                }
                Some(x) => out.push(
                    RuleId::TransferMatches,
                    format!(
                        "transfer {} is from {} to {} and {:?}",
                        transfer.hash.short(),
                        x.from_site,
                        x.to_site,
                        x.status
                    ),
                ),
                None => out.push(
                    RuleId::TransferMatches,
                    format!("no transfer out {} to this site", transfer.hash.short()),
                ),
            }
            location(state, act, loc, out);
        }
        TransferCancelled {
            transfer,
            location: loc,
            ..
        } => {
            match state.transfers.get(transfer) {
                Some(x) if &x.from_site == act.site && x.status == TransferStatus::Pending => {}
                _ => out.push(
                    RuleId::TransferMatches,
                    format!("no pending transfer {} from this site", transfer.short()),
                ),
            }
            location(state, act, loc, out);
        }
        LossReported { items, .. } => {
            for i in items {
                match i {
                    Item::Firearm(f) => match state.firearms.get(f) {
                        Some(r) if &r.site == act.site => {
                            if matches!(r.state, FirearmState::Lost { .. }) {
                                out.push(
                                    RuleId::FirearmInStore,
                                    format!(
                                        "firearm {} is already reported lost",
                                        r.identity.serial
                                    ),
                                );
                            }
                        }
                        _ => out.push(
                            RuleId::FirearmInStore,
                            format!("firearm {f} is not held by this site"),
                        ),
                    },
                    Item::Rounds(l) => {
                        if state.in_store(act.site, &l.lot)
                            < i64::try_from(l.rounds).unwrap_or(i64::MAX)
                        {
                            out.push(
                                RuleId::BalanceNonNegative,
                                format!(
                                    "{} rounds of lot {} reported lost, fewer in store",
                                    l.rounds, l.lot
                                ),
                            );
                        }
                    }
                }
            }
        }
        LossReportUpdated { report, .. } => {
            if state.losses.get(report).is_none_or(|l| &l.site != act.site) {
                out.push(
                    RuleId::ReferenceExists,
                    format!("no loss report {} of this site", report.short()),
                );
            }
        }
        Seized { firearm, .. } => match state.firearms.get(firearm) {
            Some(r) if &r.site == act.site => {}
            _ => out.push(
                RuleId::FirearmInStore,
                format!("firearm {firearm} is not held by this site"),
            ),
        },
        Recovered {
            firearm,
            report,
            location: loc,
            ..
        } => {
            let in_report = state
                .losses
                .get(report)
                .is_some_and(|l| l.items.contains(&Item::Firearm(*firearm)))
                || state.seizures.get(report) == Some(firearm);
            let missing = matches!(
                state.firearms.get(firearm).map(|r| &r.state),
                Some(FirearmState::Lost { .. } | FirearmState::Seized { .. })
            );
            if !in_report || !missing {
                out.push(
                    RuleId::RecoveryMatchesReport,
                    format!(
                        "firearm {firearm} is not missing under report {}",
                        report.short()
                    ),
                );
            }
            location(state, act, loc, out);
        }
        CountPerformed { counters, .. } => {
            let mut c: Vec<&PersonId> = counters.iter().collect();
            c.sort();
            c.dedup();
            if c.len() < 2 {
                out.push(
                    RuleId::CountTwoCounters,
                    format!("{} distinct counter(s)", c.len()),
                );
            }
            if c.contains(&act.officer) {
                out.push(
                    RuleId::CountTwoCounters,
                    format!("the custodian {} counted their own stock", act.officer),
                );
            }
        }
        DiscrepancyResolved { count, .. } => {
            reference(state, count, "count", out);
        }
        MaintenanceOut { firearm, .. } => {
            in_store_here(state, act, firearm, out);
        }
        MaintenanceIn {
            firearm,
            location: loc,
            ..
        } => {
            let ok = state.firearms.get(firearm).is_some_and(|r| {
                &r.site == act.site && matches!(r.state, FirearmState::InMaintenance { .. })
            });
            if !ok {
                out.push(
                    RuleId::FirearmInStore,
                    format!("firearm {firearm} is not out for maintenance from this site"),
                );
            }
            location(state, act, loc, out);
        }
        Disposed {
            item,
            witnesses,
            authorisation,
            ..
        } => {
            match item {
                Item::Firearm(f) => {
                    in_store_here(state, act, f, out);
                }
                Item::Rounds(l) => {
                    if state.in_store(act.site, &l.lot)
                        < i64::try_from(l.rounds).unwrap_or(i64::MAX)
                    {
                        out.push(
                            RuleId::BalanceNonNegative,
                            format!(
                                "{} rounds of lot {} disposed, fewer in store",
                                l.rounds, l.lot
                            ),
                        );
                    }
                }
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
            ) || authorisation.valid_until.is_some_and(|u| u <= t)
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
        Corrected {
            supersedes,
            approver,
            corrected,
            ..
        } => {
            match state.entries.get(supersedes) {
                Some(m) if m.chain == crate::entry::ChainId::Site(act.site.clone()) => {
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
            if let SiteEvent::FirearmAcquired { firearm, .. } = corrected.as_ref()
                && state
                    .firearms
                    .get(firearm)
                    .is_none_or(|r| r.acquired != *supersedes)
            {
                out.push(
                    RuleId::ReferenceExists,
                    format!("a correction cannot change a firearm's ledger id (to {firearm})"),
                );
            }
            if let SiteEvent::FirearmAcquired {
                firearm, identity, ..
            } = corrected.as_ref()
            {
                let changed = state
                    .firearms
                    .get(firearm)
                    .is_none_or(|r| &r.identity != identity);
                let second = approver.as_ref().is_some_and(|a| a != act.officer);
                if changed && !second {
                    out.push(
                        RuleId::IdentityCorrectionApproved,
                        "identity fields changed without a second approver",
                    );
                }
            }
        }
        Annotated { about, .. } => {
            reference(state, about, "annotated entry", out);
        }
        Overridden { authoriser, .. } => {
            if authoriser == act.officer {
                out.push(
                    RuleId::OverrideSecondPerson,
                    format!("{authoriser} cannot authorise their own override"),
                );
            }
        }
    }
}

fn reconcile(
    outstanding: &std::collections::BTreeMap<LotId, u64>,
    back: &[crate::model::RoundsBack],
    out: &mut Out,
) {
    for (lot, owed) in outstanding {
        let (r, e) = back
            .iter()
            .filter(|b| &b.lot == lot)
            .fold((0u64, 0u64), |(r, e), b| {
                (r.saturating_add(b.returned), e.saturating_add(b.expended))
            });
        if r.saturating_add(e) != *owed {
            out.push(
                RuleId::RoundsReconcile,
                format!("lot {lot}: {owed} outstanding, {r} returned + {e} expended"),
            );
        }
    }
    for b in back.iter().filter(|b| !outstanding.contains_key(&b.lot)) {
        out.push(
            RuleId::RoundsReconcile,
            format!("lot {} was not issued", b.lot),
        );
    }
}
