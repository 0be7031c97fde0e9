//! Registers read from the site chains: issues, counts and discrepancies,
//! losses, transfers, disposals, and armoury access. Each row is an act as
//! signed (corrections are listed by `armsledger book`'s corrections report),
//! named by its site and its entry counter on that chain.

use std::collections::{BTreeMap, HashMap};

use armsledger_core::entry::ChainId;
use armsledger_core::event::{Event, SiteEvent};
use armsledger_core::hash::Hash;
use armsledger_core::ids::{SiteId, Timestamp};
use armsledger_core::model::{AmmoLine, FirearmId, Item, LotId, Resolution};
use armsledger_core::rules::state::{State, TransferStatus};

use crate::{Cell, Ledger, Logged, Scope, Table};

/// The site events of the sites in scope, in log order, with their site.
pub(crate) fn site_events<'l, 'a>(
    ledger: &'l Ledger<'a>,
    scope: &'l Scope,
) -> impl Iterator<Item = (&'l Logged<'a>, &'l SiteId, &'l SiteEvent)> + 'l {
    ledger.entries.iter().filter_map(move |l| {
        let ChainId::Site(site) = l.entry.chain() else {
            return None;
        };
        let Event::Site(ev) = &l.entry.body().event else {
            return None;
        };
        scope.has_site(ledger.state, site).then_some((l, site, ev))
    })
}

/// A firearm by its serial (or its ledger id when the state does not know it).
pub(crate) fn serial(state: &State, f: &FirearmId) -> String {
    state
        .firearms
        .get(f)
        .map_or_else(|| f.to_string(), |r| r.identity.serial.to_string())
}

/// A lot by its number as marked.
pub(crate) fn lot_number(state: &State, l: &LotId) -> String {
    state
        .lots
        .get(l)
        .map_or_else(|| l.to_string(), |i| i.lot_number.to_string())
}

fn lines(state: &State, v: &[AmmoLine]) -> String {
    v.iter()
        .map(|l| format!("{} x{}", lot_number(state, &l.lot), l.rounds))
        .collect::<Vec<_>>()
        .join("; ")
}

pub(crate) fn item(state: &State, i: &Item) -> String {
    match i {
        Item::Firearm(f) => serial(state, f),
        Item::Rounds(l) => format!("{} x{}", lot_number(state, &l.lot), l.rounds),
    }
}

fn rounds(v: &[AmmoLine]) -> u64 {
    v.iter().fold(0u64, |n, l| n.saturating_add(l.rounds))
}

fn t(ts: Timestamp) -> Cell {
    ts.into()
}

fn time(l: &Logged<'_>) -> Timestamp {
    l.entry.header().device_time
}

/// Whole hours from `a` to `b` (0 when `b` is not after `a`).
pub(crate) fn hours(a: Timestamp, b: Timestamp) -> u64 {
    b.0.saturating_sub(a.0) / Timestamp::HOUR
}

fn table(
    report: &'static str,
    title: &str,
    scope: &Scope,
    columns: Vec<&'static str>,
    rows: Vec<Vec<Cell>>,
) -> Table {
    Table {
        report,
        title: title.to_string(),
        scope: scope.describe(),
        columns,
        rows,
        notes: Vec::new(),
    }
}

const ISSUE_COLUMNS: [&str; 17] = [
    "issued_at",
    "site",
    "entry",
    "kind",
    "serial",
    "to",
    "issued_by",
    "purpose",
    "due_back",
    "rounds_out",
    "returned_at",
    "return_entry",
    "received_by",
    "condition",
    "rounds_back",
    "rounds_expended",
    "status",
];

/// The issue register: every issue, assignment and ammunition issue in the
/// period, with its return (at any time up to now) and its status now.
pub(crate) fn issues(ledger: &Ledger<'_>, scope: &Scope) -> Table {
    let state = ledger.state;
    let mut rows: Vec<Vec<Cell>> = Vec::new();
    let mut open: HashMap<Hash, (usize, Timestamp)> = HashMap::new();
    for (l, site, ev) in site_events(ledger, scope) {
        let at = time(l);
        let issued = match ev {
            SiteEvent::Issued {
                firearm,
                to,
                purpose,
                due_back,
                ammunition,
                ..
            } => Some((
                "issue",
                Some(firearm),
                to,
                purpose.to_string(),
                *due_back,
                rounds(ammunition),
            )),
            SiteEvent::Assigned {
                firearm,
                to,
                contract,
                until,
                ..
            } => Some((
                "assignment",
                Some(firearm),
                to,
                contract.to_string(),
                *until,
                0,
            )),
            SiteEvent::AmmunitionIssued {
                to,
                lines,
                purpose,
                due_back,
                ..
            } => Some((
                "ammunition",
                None,
                to,
                purpose.to_string(),
                *due_back,
                rounds(lines),
            )),
            _ => None,
        };
        if let Some((kind, firearm, to, purpose, due, out)) = issued {
            if !scope.has_time(at) {
                continue;
            }
            open.insert(l.entry.hash(), (rows.len(), due));
            rows.push(vec![
                t(at),
                site.to_string().into(),
                l.entry.counter().into(),
                kind.into(),
                firearm.map(|f| serial(state, f)).into(),
                to.to_string().into(),
                l.entry.body().officer.to_string().into(),
                purpose.into(),
                t(due),
                out.into(),
                Cell::Empty,
                Cell::Empty,
                Cell::Empty,
                Cell::Empty,
                Cell::Empty,
                Cell::Empty,
                Cell::Empty,
            ]);
            continue;
        }
        let back = match ev {
            SiteEvent::Returned {
                issue,
                condition,
                ammunition,
                ..
            } => Some((issue, Some(format!("{condition:?}")), ammunition)),
            SiteEvent::AmmunitionReturned { issue, lines, .. } => Some((issue, None, lines)),
            _ => None,
        };
        if let Some((issue, condition, lines)) = back
            && let Some((row, _)) = open.remove(issue)
            && let Some(r) = rows.get_mut(row)
        {
            let (b, x) = lines.iter().fold((0u64, 0u64), |(b, x), l| {
                (b.saturating_add(l.returned), x.saturating_add(l.expended))
            });
            let cells: [Cell; 6] = [
                t(at),
                l.entry.counter().into(),
                l.entry.body().officer.to_string().into(),
                condition.into(),
                b.into(),
                x.into(),
            ];
            for (slot, c) in r.iter_mut().skip(10).zip(cells) {
                *slot = c;
            }
        }
    }
    for (row, due) in open.values() {
        if let Some(r) = rows.get_mut(*row)
            && let Some(slot) = r.get_mut(16)
        {
            *slot = if *due < scope.now { "overdue" } else { "open" }.into();
        }
    }
    for r in &mut rows {
        if let Some(slot) = r.get_mut(16)
            && *slot == Cell::Empty
        {
            *slot = "returned".into();
        }
    }
    table(
        "issues",
        "Issue register",
        scope,
        ISSUE_COLUMNS.to_vec(),
        rows,
    )
}

fn resolution(r: &Resolution, counters: &HashMap<Hash, u64>) -> String {
    match r {
        Resolution::Found => "found".to_string(),
        Resolution::ReportedLost(h) => format!(
            "reported lost in entry {}",
            counters.get(h).map_or_else(|| h.short(), u64::to_string)
        ),
        Resolution::Clerical(t) => format!("clerical: {t}"),
        Resolution::WrittenOff { reason, approver } => {
            format!("written off, approved by {approver}: {reason}")
        }
    }
}

/// The same firearm, or rounds of the same lot.
fn same(a: &Item, b: &Item) -> bool {
    match (a, b) {
        (Item::Firearm(x), Item::Firearm(y)) => x == y,
        (Item::Rounds(x), Item::Rounds(y)) => x.lot == y.lot,
        _ => false,
    }
}

/// Counts and discrepancies: one row per count entry without a discrepancy,
/// one per discrepancy (of a count, a transfer in or a return short of
/// rounds) with how it was settled.
pub(crate) fn counts(ledger: &Ledger<'_>, scope: &Scope) -> Table {
    let state = ledger.state;
    let counters = ledger.counters();
    // How each discrepancy was settled: by (count entry, item).
    let mut settled: Vec<(Hash, Item, String, Timestamp, u64)> = Vec::new();
    for (l, _, ev) in site_events(ledger, scope) {
        if let SiteEvent::DiscrepancyResolved {
            count,
            item,
            resolution: r,
        } = ev
        {
            settled.push((
                *count,
                *item,
                resolution(r, &counters),
                time(l),
                l.entry.counter(),
            ));
        }
    }
    let mut rows = Vec::new();
    for (l, site, ev) in site_events(ledger, scope) {
        let at = time(l);
        if !scope.has_time(at) {
            continue;
        }
        let (source, session, counters_cell, seen_f, seen_r) = match ev {
            SiteEvent::CountPerformed {
                session,
                kind,
                part,
                parts,
                counters,
                firearms_seen,
                rounds_seen,
                ..
            } => (
                format!("{kind:?} count"),
                Cell::from(format!("{session} part {part}/{parts}")),
                Cell::from(
                    counters
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; "),
                ),
                Cell::from(firearms_seen.len()),
                Cell::from(rounds(rounds_seen)),
            ),
            SiteEvent::TransferredIn { .. } => (
                "transfer in".to_string(),
                Cell::Empty,
                Cell::Empty,
                Cell::Empty,
                Cell::Empty,
            ),
            SiteEvent::Returned { .. } | SiteEvent::AmmunitionReturned { .. } => (
                "return".to_string(),
                Cell::Empty,
                Cell::Empty,
                Cell::Empty,
                Cell::Empty,
            ),
            _ => continue,
        };
        let h = l.entry.hash();
        let found: Vec<_> = state
            .discrepancies
            .iter()
            .filter(|d| d.count == h)
            .collect();
        let head = |rows: &mut Vec<Vec<Cell>>, rest: [Cell; 7]| {
            let mut r = vec![
                t(at),
                site.to_string().into(),
                l.entry.counter().into(),
                source.clone().into(),
                session.clone(),
                counters_cell.clone(),
                seen_f.clone(),
                seen_r.clone(),
            ];
            r.extend(rest);
            rows.push(r);
        };
        if found.is_empty() {
            if matches!(ev, SiteEvent::CountPerformed { .. }) {
                head(
                    &mut rows,
                    [
                        Cell::Empty,
                        Cell::Empty,
                        Cell::Empty,
                        "none".into(),
                        Cell::Empty,
                        Cell::Empty,
                        Cell::Empty,
                    ],
                );
            }
            continue;
        }
        for d in found {
            let s = settled
                .iter()
                .find(|(c, i, ..)| *c == h && same(i, &d.item));
            head(
                &mut rows,
                [
                    item(state, &d.item).into(),
                    d.expected.into(),
                    d.found.into(),
                    if d.resolved || s.is_some() {
                        "resolved"
                    } else {
                        "open"
                    }
                    .into(),
                    s.map(|s| s.2.clone()).into(),
                    s.map(|s| s.3).into(),
                    s.map(|s| s.4).into(),
                ],
            );
        }
    }
    table(
        "counts",
        "Counts and discrepancies",
        scope,
        vec![
            "at",
            "site",
            "entry",
            "source",
            "session",
            "counters",
            "firearms_seen",
            "rounds_seen",
            "item",
            "expected",
            "found",
            "status",
            "resolution",
            "resolved_at",
            "resolution_entry",
        ],
        rows,
    )
}

/// The loss register: every loss report in the period with the hours from
/// discovery to report, its references (as updated since) and its recovery.
pub(crate) fn losses(ledger: &Ledger<'_>, scope: &Scope) -> Table {
    let state = ledger.state;
    let within = state.policy.loss_report_within_ms;
    let mut rows: Vec<Vec<Cell>> = Vec::new();
    let mut by_hash: HashMap<Hash, usize> = HashMap::new();
    for (l, site, ev) in site_events(ledger, scope) {
        let at = time(l);
        match ev {
            SiteEvent::LossReported {
                items,
                kind,
                holder,
                discovered_at,
                circumstances,
                police_ref,
                regulator_ref,
            } if scope.has_time(at) => {
                by_hash.insert(l.entry.hash(), rows.len());
                rows.push(vec![
                    t(at),
                    site.to_string().into(),
                    l.entry.counter().into(),
                    format!("{kind:?}").into(),
                    items
                        .iter()
                        .map(|i| item(state, i))
                        .collect::<Vec<_>>()
                        .join("; ")
                        .into(),
                    holder.as_ref().map(ToString::to_string).into(),
                    t(*discovered_at),
                    hours(*discovered_at, at).into(),
                    if at.0.saturating_sub(discovered_at.0) <= within {
                        "yes"
                    } else {
                        "no"
                    }
                    .into(),
                    police_ref.as_ref().map(ToString::to_string).into(),
                    regulator_ref.as_ref().map(ToString::to_string).into(),
                    note(state, circumstances).into(),
                    Cell::Empty,
                    Cell::Empty,
                ]);
            }
            SiteEvent::LossReportUpdated {
                report,
                police_ref,
                regulator_ref,
                circumstances,
            } => {
                if let Some(r) = by_hash.get(report).and_then(|i| rows.get_mut(*i)) {
                    let mut set = |i: usize, v: Option<String>| {
                        if let (Some(v), Some(slot)) = (v, r.get_mut(i)) {
                            *slot = v.into();
                        }
                    };
                    set(9, police_ref.as_ref().map(ToString::to_string));
                    set(10, regulator_ref.as_ref().map(ToString::to_string));
                    set(11, circumstances.as_ref().map(|n| note(state, n)));
                }
            }
            SiteEvent::Recovered {
                firearm, report, ..
            } => {
                if let Some(r) = by_hash.get(report).and_then(|i| rows.get_mut(*i)) {
                    let note = format!("{} {}", serial(state, firearm), at.rfc3339());
                    if let Some(slot) = r.get_mut(12) {
                        *slot = match slot {
                            Cell::Text(s) => format!("{s}; {note}").into(),
                            _ => note.into(),
                        };
                    }
                    if let Some(slot) = r.get_mut(13) {
                        *slot = l.entry.counter().into();
                    }
                }
            }
            _ => {}
        }
    }
    let mut out = table(
        "losses",
        "Loss register",
        scope,
        vec![
            "reported_at",
            "site",
            "entry",
            "kind",
            "items",
            "holder",
            "discovered_at",
            "hours_to_report",
            "reported_in_time",
            "police_ref",
            "regulator_ref",
            "circumstances",
            "recovered",
            "recovery_entry",
        ],
        rows,
    );
    out.notes.push(format!(
        "reported_in_time: within the regulator's policy of {} hours from discovery.",
        within / Timestamp::HOUR
    ));
    out
}

/// A transfer in: when, firearms and rounds received, its counter.
type Receipt<'a> = (Timestamp, &'a [FirearmId], &'a [AmmoLine], u64);

/// Transfers sent or received by a site in scope, in the period: what was
/// sent, what arrived, what is missing, and the age.
pub(crate) fn transfers(ledger: &Ledger<'_>, scope: &Scope) -> Table {
    let state = ledger.state;
    let mut rows = Vec::new();
    // Each transfer in by the transfer out it acknowledges.
    let mut received: HashMap<Hash, Receipt<'_>> = HashMap::new();
    for l in &ledger.entries {
        if let Event::Site(SiteEvent::TransferredIn {
            transfer,
            firearms,
            rounds,
            ..
        }) = &l.entry.body().event
        {
            received.insert(
                transfer.hash,
                (time(l), firearms, rounds, l.entry.counter()),
            );
        }
    }
    for l in &ledger.entries {
        let ChainId::Site(from_site) = l.entry.chain() else {
            continue;
        };
        let Event::Site(SiteEvent::TransferredOut {
            to_site,
            to_company,
            firearms,
            rounds: sent,
            permit,
            carrier,
            ..
        }) = &l.entry.body().event
        else {
            continue;
        };
        let at = time(l);
        if !(scope.has_site(state, from_site) || scope.has_site(state, to_site))
            || !scope.has_time(at)
        {
            continue;
        }
        let h = l.entry.hash();
        let status = match state.transfers.get(&h).map(|t| &t.status) {
            Some(TransferStatus::Pending) => "in transit",
            Some(TransferStatus::Acknowledged(_)) => "received",
            Some(TransferStatus::Cancelled(_)) => "cancelled",
            Some(TransferStatus::Rejected(_)) => "rejected",
            None => "unknown",
        };
        let got = received.get(&h);
        let missing_f: Vec<String> = got.map_or_else(Vec::new, |(_, f, ..)| {
            firearms
                .iter()
                .filter(|x| !f.contains(x))
                .map(|x| serial(state, x))
                .collect()
        });
        let mut got_rounds: BTreeMap<LotId, u64> = BTreeMap::new();
        for r in got.map_or(&[][..], |g| g.2) {
            let n = got_rounds.entry(r.lot).or_default();
            *n = n.saturating_add(r.rounds);
        }
        let missing_r: u64 = if got.is_some() {
            sent.iter().fold(0u64, |n, s| {
                let g = got_rounds.get(&s.lot).copied().unwrap_or(0);
                n.saturating_add(s.rounds.saturating_sub(g))
            })
        } else {
            0
        };
        let end = got.map_or(scope.now, |g| g.0);
        rows.push(vec![
            t(at),
            from_site.to_string().into(),
            l.entry.counter().into(),
            to_site.to_string().into(),
            to_company.to_string().into(),
            permit.number.to_string().into(),
            carrier.as_ref().map(ToString::to_string).into(),
            firearms.len().into(),
            rounds(sent).into(),
            lines(state, sent).into(),
            got.map(|g| g.0).into(),
            got.map(|g| g.3).into(),
            got.map(|g| g.1.len()).into(),
            got.map(|g| rounds(g.2)).into(),
            missing_f.join("; ").into(),
            missing_r.into(),
            status.into(),
            hours(at, end).into(),
        ]);
    }
    table(
        "transfers",
        "Transfers",
        scope,
        vec![
            "sent_at",
            "from_site",
            "entry",
            "to_site",
            "to_company",
            "permit",
            "carrier",
            "firearms_sent",
            "rounds_sent",
            "lots_sent",
            "received_at",
            "receipt_entry",
            "firearms_received",
            "rounds_received",
            "firearms_missing",
            "rounds_missing",
            "status",
            "age_hours",
        ],
        rows,
    )
}

/// Disposal certificates: every destruction or deactivation in the period.
pub(crate) fn disposals(ledger: &Ledger<'_>, scope: &Scope) -> Table {
    let state = ledger.state;
    let mut rows = Vec::new();
    for (l, site, ev) in site_events(ledger, scope) {
        let SiteEvent::Disposed {
            item: what,
            method,
            place,
            witnesses,
            authorisation,
            certificate,
        } = ev
        else {
            continue;
        };
        let at = time(l);
        if !scope.has_time(at) {
            continue;
        }
        rows.push(vec![
            t(at),
            site.to_string().into(),
            l.entry.counter().into(),
            item(state, what).into(),
            format!("{method:?}").into(),
            place.to_string().into(),
            authorisation.number.to_string().into(),
            authorisation.issuer.to_string().into(),
            certificate.as_ref().map(|c| c.number.to_string()).into(),
            l.entry.body().officer.to_string().into(),
            witnesses
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
                .into(),
        ]);
    }
    table(
        "disposals",
        "Disposal certificates",
        scope,
        vec![
            "disposed_at",
            "site",
            "entry",
            "item",
            "method",
            "place",
            "order",
            "order_issuer",
            "certificate",
            "recorded_by",
            "witnesses",
        ],
        rows,
    )
}

/// Armoury access and the key log: openings, closings and key hand-overs.
pub(crate) fn access(ledger: &Ledger<'_>, scope: &Scope) -> Table {
    let mut rows = Vec::new();
    let people = |v: &[armsledger_core::ids::PersonId]| {
        v.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    };
    for (l, site, ev) in site_events(ledger, scope) {
        let at = time(l);
        if !scope.has_time(at) {
            continue;
        }
        let (what, with, key, from, to) = match ev {
            SiteEvent::ArmouryOpened { with } => ("opened", people(with), None, None, None),
            SiteEvent::ArmouryClosed { with } => ("closed", people(with), None, None, None),
            SiteEvent::KeyHandedOver { key, from, to } => (
                "key handed over",
                String::new(),
                Some(key.to_string()),
                Some(from.to_string()),
                Some(to.to_string()),
            ),
            _ => continue,
        };
        rows.push(vec![
            t(at),
            site.to_string().into(),
            l.entry.counter().into(),
            what.into(),
            l.entry.body().officer.to_string().into(),
            with.into(),
            key.into(),
            from.into(),
            to.into(),
        ]);
    }
    table(
        "access",
        "Armoury access and key log",
        scope,
        vec![
            "at", "site", "entry", "event", "officer", "with", "key", "from", "to",
        ],
        rows,
    )
}

/// A sealed note as a register shows it from the ledger alone: "sealed note
/// 5e22bcb5" (the text is in the note stores, read by role), or "note erased
/// on DATE under ORDER".
fn note(state: &State, n: &armsledger_core::note::SealedNote) -> String {
    use armsledger_core::note::NoteView;
    match state.erased_notes.get(n) {
        Some((on, ground)) => NoteView::Erased {
            note: *n,
            on: *on,
            ground: ground.clone(),
        }
        .to_string(),
        None => format!("sealed note {}", &n.to_string()[..8]),
    }
}
