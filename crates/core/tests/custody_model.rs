//! Random legal event sequences, generated from a small reference model of
//! custody and balances written here, are signed, verified and folded; after
//! every step the engine's state must agree with the model, and no hard rule
//! may fire on a legal act.
// Test helpers outside #[test] fns: clippy.toml's in-test allowances do not reach them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use armsledger_core::LedgerVerifier;
use armsledger_core::entry::SignedEntry;
use armsledger_core::event::{EntryRef, SiteEvent};
use armsledger_core::hash::Hash;
use armsledger_core::ids::{LocationId, PersonId, Timestamp};
use armsledger_core::model::{
    AmmoLine, Component, ComponentChange, ComponentKind, Condition, CountKind, Counterparty,
    DisposalMethod, DocKind, ExitKind, ExpenditureReason, FirearmId, Holder, Item, LossKind, LotId,
    LotStatus, RoundsBack,
};
use armsledger_core::rules::View;
use armsledger_core::rules::state::{FirearmState, TransferStatus};
use armsledger_core::testkit::{Scenario, doc, lot9, note, pistol, v};
use common::{reliance, transfer_permit};
use proptest::prelude::*;

const SITES: [&str; 2] = ["north", "south"];
const COMPANIES: [&str; 2] = ["acme", "bravo"];
const OFFICERS: [&str; 2] = ["armourer-1", "armourer-2"];
const GUARDS: [[&str; 2]; 2] = [["guard-1", "guard-2"], ["guard-3", "guard-4"]];
const LOCS: [&str; 2] = ["vault", "rack-1"];
const SERIALS: [&str; 6] = ["SN-100", "SN-101", "SN-102", "SN-103", "SN-104", "SN-105"];
const LOTS: [&str; 2] = ["L-A", "L-B"];

/// Where the model says a firearm is.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Gun {
    InStore {
        site: usize,
        loc: usize,
    },
    Issued {
        site: usize,
        to: PersonId,
        issue: Hash,
        due_back: Timestamp,
    },
    InTransit {
        from: usize,
        to: usize,
        transfer: Hash,
    },
    InMaintenance {
        site: usize,
    },
    Lost {
        site: usize,
        report: Hash,
    },
    Seized {
        site: usize,
        entry: Hash,
    },
    Disposed {
        site: usize,
    },
    Left {
        site: usize,
        exit: ExitKind,
        entry: Hash,
    },
}

#[derive(Clone, Debug)]
struct Issue {
    site: usize,
    gun: Option<FirearmId>,
    to: PersonId,
    out: BTreeMap<LotId, u64>,
}

#[derive(Clone, Debug)]
struct Transfer {
    from: usize,
    to: usize,
    counter: u64,
    guns: Vec<FirearmId>,
    rounds: BTreeMap<LotId, u64>,
    pending: bool,
}

/// The reference model: firearms, rounds per (site, lot, holder), open
/// issues and transfers.
#[derive(Clone, Debug, Default)]
struct Model {
    guns: BTreeMap<FirearmId, Gun>,
    balances: BTreeMap<(usize, LotId, Holder), i64>,
    issues: BTreeMap<Hash, Issue>,
    transfers: BTreeMap<Hash, Transfer>,
}

impl Model {
    fn bal(&self, site: usize, lot: LotId, h: &Holder) -> i64 {
        self.balances
            .get(&(site, lot, h.clone()))
            .copied()
            .unwrap_or(0)
    }

    fn add(&mut self, site: usize, lot: LotId, h: Holder, delta: i64) {
        let k = (site, lot, h);
        let n = self.balances.get(&k).copied().unwrap_or(0) + delta;
        assert!(n >= 0, "model went negative at {k:?}");
        if n == 0 {
            self.balances.remove(&k);
        } else {
            self.balances.insert(k, n);
        }
    }

    fn guns_where(&self, f: impl Fn(&Gun) -> bool) -> Vec<FirearmId> {
        self.guns
            .iter()
            .filter(|(_, g)| f(g))
            .map(|(id, _)| *id)
            .collect()
    }

    fn store_total(&self, site: usize, lot: LotId) -> i64 {
        LOCS.iter()
            .map(|l| self.bal(site, lot, &Holder::Store(v(l))))
            .sum()
    }
}

fn store(loc: usize) -> Holder {
    Holder::Store(v(LOCS[loc]))
}

fn loc_id(loc: usize) -> LocationId {
    v(LOCS[loc])
}

fn pick<T: Clone>(xs: &[T], n: u16) -> Option<T> {
    if xs.is_empty() {
        None
    } else {
        xs.get(usize::from(n) % xs.len()).cloned()
    }
}

/// `1..=max` chosen by `n`.
fn amount(n: u16, max: i64) -> u64 {
    let max = u64::try_from(max).unwrap();
    1 + u64::from(n) % max
}

/// An open issue as compared: site, firearm, recipient, rounds outstanding.
type IssueView = (String, Option<FirearmId>, String, BTreeMap<LotId, u64>);

/// One generated step: an operation and four choice values that the model
/// turns into a legal act (or a no-op when nothing fits).
#[derive(Clone, Copy, Debug)]
struct Op {
    kind: u8,
    a: u16,
    b: u16,
    c: u16,
    d: u16,
}

const OPS: u8 = 28;

fn op() -> impl Strategy<Value = Op> {
    (
        0..OPS,
        any::<u16>(),
        any::<u16>(),
        any::<u16>(),
        any::<u16>(),
    )
        .prop_map(|(kind, a, b, c, d)| Op { kind, a, b, c, d })
}

struct Sim {
    s: Scenario,
    ver: LedgerVerifier,
    fed: usize,
    m: Model,
    lots: [LotId; 2],
    counts: u32,
    /// Who holds key `k-main` at each site (the roster).
    keys: [PersonId; 2],
}

impl Sim {
    fn new(base: &(Scenario, LedgerVerifier)) -> Sim {
        Sim {
            s: base.0.clone(),
            ver: base.1.clone(),
            fed: base.0.log.len(),
            m: Model::default(),
            lots: [lot9(LOTS[0]).id(), lot9(LOTS[1]).id()],
            counts: 0,
            keys: [v("witness-1"), v("witness-1")],
        }
    }

    fn act(&mut self, site: usize, ev: SiteEvent) -> Arc<SignedEntry> {
        self.s.site(SITES[site], OFFICERS[site], ev)
    }

    fn site_of(&self, gun: &FirearmId) -> usize {
        match self.m.guns[gun] {
            Gun::InStore { site, .. }
            | Gun::Issued { site, .. }
            | Gun::InMaintenance { site }
            | Gun::Lost { site, .. }
            | Gun::Seized { site, .. }
            | Gun::Disposed { site }
            | Gun::Left { site, .. } => site,
            Gun::InTransit { from, .. } => from,
        }
    }

    /// Lines of every lot held at `site`/`loc`, each 1..=held rounds.
    fn lines_from(&self, site: usize, loc: usize, d: u16) -> Vec<AmmoLine> {
        self.lots
            .iter()
            .enumerate()
            .filter_map(|(i, lot)| {
                let have = self.m.bal(site, *lot, &store(loc));
                (have > 0).then(|| AmmoLine {
                    lot: *lot,
                    rounds: amount(d.wrapping_add(u16::try_from(i).unwrap() * 37), have),
                })
            })
            .collect()
    }

    /// Splits each outstanding lot into returned + expended.
    fn split(out: &BTreeMap<LotId, u64>, d: u16) -> Vec<RoundsBack> {
        out.iter()
            .filter(|(_, k)| **k > 0)
            .map(|(lot, k)| {
                let r = u64::from(d) % (k + 1);
                RoundsBack {
                    lot: *lot,
                    returned: r,
                    expended: k - r,
                }
            })
            .collect()
    }

    /// Applies one op; returns a label of what was done (None = no-op).
    fn step(&mut self, op: Op) -> Option<&'static str> {
        let Op { kind, a, b, c, d } = op;
        let loc = usize::from(c % 2);
        match kind {
            0 => {
                let free: Vec<&str> = SERIALS
                    .iter()
                    .copied()
                    .filter(|s| {
                        self.m
                            .guns
                            .get(&pistol(s).id())
                            .is_none_or(|g| matches!(g, Gun::Left { .. }))
                    })
                    .collect();
                let serial = pick(&free, a)?;
                let site = usize::from(b % 2);
                let identity = pistol(serial);
                let id = identity.id();
                self.act(
                    site,
                    SiteEvent::FirearmAcquired {
                        firearm: id,
                        identity,
                        source: Counterparty {
                            name: v("Dealer"),
                            licence: Some(v("DL-1")),
                        },
                        authorisation: doc(DocKind::AcquisitionPermit, "AP-1"),
                        location: loc_id(loc),
                    },
                );
                self.m.guns.insert(id, Gun::InStore { site, loc });
                Some("acquire")
            }
            1 => {
                let i = usize::from(a % 2);
                let site = usize::from(b % 2);
                let rounds = 1 + u64::from(d % 300);
                let identity = lot9(LOTS[i]);
                self.act(
                    site,
                    SiteEvent::AmmunitionReceived {
                        lot: self.lots[i],
                        identity,
                        rounds,
                        source: Counterparty {
                            name: v("PMP"),
                            licence: None,
                        },
                        authorisation: None,
                        location: loc_id(loc),
                    },
                );
                self.m.add(
                    site,
                    self.lots[i],
                    store(loc),
                    i64::try_from(rounds).unwrap(),
                );
                Some("receive")
            }
            2 => {
                let gun = pick(&self.m.guns_where(|g| matches!(g, Gun::InStore { .. })), a)?;
                let site = self.site_of(&gun);
                let to: PersonId = v(GUARDS[site][usize::from(b % 2)]);
                let lines = if d % 3 == 0 {
                    vec![]
                } else {
                    self.lines_from(site, loc, d)
                };
                let due_back = self.s.now.plus(8 * Timestamp::HOUR);
                let e = self.act(
                    site,
                    SiteEvent::Issued {
                        firearm: gun,
                        to: to.clone(),
                        purpose: note("patrol"),
                        post: v("gate"),
                        due_back,
                        reliance: reliance(to.as_str()),
                        ammunition_from: (!lines.is_empty()).then(|| loc_id(loc)),
                        ammunition: lines.clone(),
                    },
                );
                let mut out = BTreeMap::new();
                for l in &lines {
                    let n = i64::try_from(l.rounds).unwrap();
                    self.m.add(site, l.lot, store(loc), -n);
                    self.m.add(site, l.lot, Holder::Person(to.clone()), n);
                    out.insert(l.lot, l.rounds);
                }
                self.m.guns.insert(
                    gun,
                    Gun::Issued {
                        site,
                        to: to.clone(),
                        issue: e.hash(),
                        due_back,
                    },
                );
                self.m.issues.insert(
                    e.hash(),
                    Issue {
                        site,
                        gun: Some(gun),
                        to,
                        out,
                    },
                );
                Some("issue")
            }
            3 | 18 => {
                let with_gun = kind == 3;
                let open: Vec<Hash> = self
                    .m
                    .issues
                    .iter()
                    .filter(|(_, i)| i.gun.is_some() == with_gun)
                    .map(|(h, _)| *h)
                    .collect();
                let h = pick(&open, a)?;
                let issue = self.m.issues[&h].clone();
                let back = Self::split(&issue.out, d);
                let ev = match issue.gun {
                    Some(gun) => SiteEvent::Returned {
                        incident: Some(v("INC-1")),
                        issue: h,
                        firearm: gun,
                        condition: Condition::Serviceable,
                        ammunition: back.clone(),
                        location: loc_id(loc),
                    },
                    None => SiteEvent::AmmunitionReturned {
                        issue: h,
                        lines: back.clone(),
                        to: loc_id(loc),
                    },
                };
                self.act(issue.site, ev);
                for r in &back {
                    let person = Holder::Person(issue.to.clone());
                    self.m.add(
                        issue.site,
                        r.lot,
                        person,
                        -i64::try_from(r.returned + r.expended).unwrap(),
                    );
                    self.m.add(
                        issue.site,
                        r.lot,
                        store(loc),
                        i64::try_from(r.returned).unwrap(),
                    );
                }
                if let Some(gun) = issue.gun {
                    self.m.guns.insert(
                        gun,
                        Gun::InStore {
                            site: issue.site,
                            loc,
                        },
                    );
                }
                self.m.issues.remove(&h);
                Some(if with_gun { "return" } else { "ammo-return" })
            }
            4 => {
                let owing: Vec<(Hash, LotId)> = self
                    .m
                    .issues
                    .iter()
                    .flat_map(|(h, i)| {
                        i.out
                            .iter()
                            .filter(|(_, k)| **k > 0)
                            .map(move |(l, _)| (*h, *l))
                    })
                    .collect();
                let (h, lot) = pick(&owing, a)?;
                let issue = self.m.issues[&h].clone();
                let n = amount(d, i64::try_from(issue.out[&lot]).unwrap());
                self.act(
                    issue.site,
                    SiteEvent::AmmunitionExpended {
                        holder: Holder::Person(issue.to.clone()),
                        line: AmmoLine { lot, rounds: n },
                        reason: if b % 2 == 0 {
                            ExpenditureReason::Training
                        } else {
                            ExpenditureReason::DutyDischarge
                        },
                        incident: Some(v("INC-1")),
                        issue: Some(h),
                    },
                );
                self.m.add(
                    issue.site,
                    lot,
                    Holder::Person(issue.to.clone()),
                    -i64::try_from(n).unwrap(),
                );
                if let Some(o) = self.m.issues.get_mut(&h).and_then(|i| i.out.get_mut(&lot)) {
                    *o -= n;
                }
                Some("expend")
            }
            5 => {
                let gun = pick(&self.m.guns_where(|g| matches!(g, Gun::InStore { .. })), a)?;
                let Gun::InStore { site, loc: at } = self.m.guns[&gun].clone() else {
                    unreachable!()
                };
                self.act(
                    site,
                    SiteEvent::StorageMoved {
                        item: Item::Firearm(gun),
                        from: loc_id(at),
                        to: loc_id(1 - at),
                    },
                );
                self.m.guns.insert(gun, Gun::InStore { site, loc: 1 - at });
                Some("move-gun")
            }
            6 => {
                let held: Vec<(usize, LotId, usize, i64)> = self
                    .m
                    .balances
                    .iter()
                    .filter_map(|((site, lot, h), n)| match h {
                        Holder::Store(l) if *n > 0 => Some((
                            *site,
                            *lot,
                            LOCS.iter().position(|x| *x == l.as_str()).unwrap(),
                            *n,
                        )),
                        _ => None,
                    })
                    .collect();
                let (site, lot, at, have) = pick(&held, a)?;
                let n = amount(d, have);
                self.act(
                    site,
                    SiteEvent::StorageMoved {
                        item: Item::Rounds(AmmoLine { lot, rounds: n }),
                        from: loc_id(at),
                        to: loc_id(1 - at),
                    },
                );
                let n = i64::try_from(n).unwrap();
                self.m.add(site, lot, store(at), -n);
                self.m.add(site, lot, store(1 - at), n);
                Some("move-rounds")
            }
            7 => {
                let gun = pick(&self.m.guns_where(|g| matches!(g, Gun::InStore { .. })), a)?;
                let from = self.site_of(&gun);
                let to = 1 - from;
                let lines = if d % 2 == 0 {
                    self.lines_from(from, loc, d)
                } else {
                    vec![]
                };
                let e = self.act(
                    from,
                    SiteEvent::TransferredOut {
                        to_site: v(SITES[to]),
                        to_company: v(COMPANIES[to]),
                        firearms: vec![gun],
                        rounds: lines.clone(),
                        rounds_from: (!lines.is_empty()).then(|| loc_id(loc)),
                        permit: transfer_permit(),
                        carrier: None,
                    },
                );
                let mut rounds = BTreeMap::new();
                for l in &lines {
                    self.m
                        .add(from, l.lot, store(loc), -i64::try_from(l.rounds).unwrap());
                    rounds.insert(l.lot, l.rounds);
                }
                self.m.guns.insert(
                    gun,
                    Gun::InTransit {
                        from,
                        to,
                        transfer: e.hash(),
                    },
                );
                self.m.transfers.insert(
                    e.hash(),
                    Transfer {
                        from,
                        to,
                        counter: e.counter(),
                        guns: vec![gun],
                        rounds,
                        pending: true,
                    },
                );
                Some("transfer-out")
            }
            8 | 9 => {
                let pending: Vec<Hash> = self
                    .m
                    .transfers
                    .iter()
                    .filter(|(_, t)| t.pending)
                    .map(|(h, _)| *h)
                    .collect();
                let h = pick(&pending, a)?;
                let t = self.m.transfers[&h].clone();
                let lines: Vec<AmmoLine> = t
                    .rounds
                    .iter()
                    .map(|(lot, n)| AmmoLine {
                        lot: *lot,
                        rounds: *n,
                    })
                    .collect();
                let (site, label) = if kind == 8 {
                    self.act(
                        t.to,
                        SiteEvent::TransferredIn {
                            transfer: EntryRef {
                                site: v(SITES[t.from]),
                                counter: t.counter,
                                hash: h,
                            },
                            firearms: t.guns.clone(),
                            rounds: lines.clone(),
                            location: loc_id(loc),
                            note: None,
                        },
                    );
                    (t.to, "transfer-in")
                } else {
                    self.act(
                        t.from,
                        SiteEvent::TransferCancelled {
                            transfer: h,
                            reason: note("recalled"),
                            location: loc_id(loc),
                        },
                    );
                    (t.from, "transfer-cancel")
                };
                for g in &t.guns {
                    self.m.guns.insert(*g, Gun::InStore { site, loc });
                }
                for l in &lines {
                    self.m
                        .add(site, l.lot, store(loc), i64::try_from(l.rounds).unwrap());
                }
                if let Some(t) = self.m.transfers.get_mut(&h) {
                    t.pending = false;
                }
                Some(label)
            }
            10 | 12 | 14 | 15 => {
                let gun = pick(&self.m.guns_where(|g| matches!(g, Gun::InStore { .. })), a)?;
                let site = self.site_of(&gun);
                let ev = match kind {
                    10 => SiteEvent::MaintenanceOut {
                        kind: armsledger_core::model::MaintenanceKind::Repair,
                        firearm: gun,
                        provider: v("Gunsmith"),
                        reason: note("service"),
                    },
                    12 => SiteEvent::LossReported {
                        holder: None,
                        items: vec![Item::Firearm(gun)],
                        kind: LossKind::Theft,
                        discovered_at: self.s.now,
                        circumstances: note("missing at handover"),
                        police_ref: Some(v("CAS-1")),
                        regulator_ref: Some(v("REG-1")),
                    },
                    14 => SiteEvent::Seized {
                        firearm: gun,
                        authority: v("Police"),
                        order: v("SO-1"),
                    },
                    _ => SiteEvent::Disposed {
                        item: Item::Firearm(gun),
                        method: DisposalMethod::Destroyed,
                        place: v("furnace"),
                        witnesses: vec![v("witness-1"), v("witness-2")],
                        authorisation: doc(DocKind::DisposalOrder, "DO-1"),
                        certificate: None,
                    },
                };
                let e = self.act(site, ev);
                let (g, label) = match kind {
                    10 => (Gun::InMaintenance { site }, "maintenance-out"),
                    12 => (
                        Gun::Lost {
                            site,
                            report: e.hash(),
                        },
                        "loss",
                    ),
                    14 => (
                        Gun::Seized {
                            site,
                            entry: e.hash(),
                        },
                        "seize",
                    ),
                    _ => (Gun::Disposed { site }, "dispose"),
                };
                self.m.guns.insert(gun, g);
                Some(label)
            }
            11 => {
                let gun = pick(
                    &self
                        .m
                        .guns_where(|g| matches!(g, Gun::InMaintenance { .. })),
                    a,
                )?;
                let site = self.site_of(&gun);
                self.act(
                    site,
                    SiteEvent::MaintenanceIn {
                        firearm: gun,
                        condition: Condition::Serviceable,
                        work: note("cleaned"),
                        location: loc_id(loc),
                    },
                );
                self.m.guns.insert(gun, Gun::InStore { site, loc });
                Some("maintenance-in")
            }
            13 => {
                let gun = pick(
                    &self
                        .m
                        .guns_where(|g| matches!(g, Gun::Lost { .. } | Gun::Seized { .. })),
                    a,
                )?;
                let (site, report) = match self.m.guns[&gun] {
                    Gun::Lost { site, report } => (site, report),
                    Gun::Seized { site, entry } => (site, entry),
                    _ => unreachable!(),
                };
                self.act(
                    site,
                    SiteEvent::Recovered {
                        firearm: gun,
                        report,
                        condition: Condition::Damaged,
                        location: loc_id(loc),
                    },
                );
                self.m.guns.insert(gun, Gun::InStore { site, loc });
                Some("recover")
            }
            16 => {
                // Rounds leave the store (lost or destroyed) where exactly one
                // location holds the lot, so which location is unambiguous.
                let single: Vec<(usize, LotId, usize, i64)> = (0..2)
                    .flat_map(|site| self.lots.iter().map(move |lot| (site, *lot)))
                    .filter_map(|(site, lot)| {
                        let held: Vec<(usize, i64)> = (0..2)
                            .map(|l| (l, self.m.bal(site, lot, &store(l))))
                            .filter(|(_, n)| *n != 0)
                            .collect();
                        match held.as_slice() {
                            [(l, n)] if *n > 0 => Some((site, lot, *l, *n)),
                            _ => None,
                        }
                    })
                    .collect();
                let (site, lot, at, have) = pick(&single, a)?;
                let n = amount(d, have);
                let line = AmmoLine { lot, rounds: n };
                let ev = if b % 2 == 0 {
                    SiteEvent::Disposed {
                        item: Item::Rounds(line),
                        method: DisposalMethod::Destroyed,
                        place: v("range"),
                        witnesses: vec![v("witness-1"), v("witness-2")],
                        authorisation: doc(DocKind::DisposalOrder, "DO-2"),
                        certificate: None,
                    }
                } else {
                    SiteEvent::LossReported {
                        holder: None,
                        items: vec![Item::Rounds(line)],
                        kind: LossKind::MissingInventory,
                        discovered_at: self.s.now,
                        circumstances: note("box missing"),
                        police_ref: Some(v("CAS-2")),
                        regulator_ref: Some(v("REG-2")),
                    }
                };
                self.act(site, ev);
                self.m.add(site, lot, store(at), -i64::try_from(n).unwrap());
                Some("rounds-out")
            }
            17 => {
                let site = usize::from(a % 2);
                let lines = self.lines_from(site, loc, d);
                if lines.is_empty() {
                    return None;
                }
                let to: PersonId = v(GUARDS[site][usize::from(b % 2)]);
                let e = self.act(
                    site,
                    SiteEvent::AmmunitionIssued {
                        to: to.clone(),
                        lines: lines.clone(),
                        from: loc_id(loc),
                        purpose: note("range session"),
                        due_back: self.s.now.plus(4 * Timestamp::HOUR),
                    },
                );
                let mut out = BTreeMap::new();
                for l in &lines {
                    let n = i64::try_from(l.rounds).unwrap();
                    self.m.add(site, l.lot, store(loc), -n);
                    self.m.add(site, l.lot, Holder::Person(to.clone()), n);
                    out.insert(l.lot, l.rounds);
                }
                self.m.issues.insert(
                    e.hash(),
                    Issue {
                        site,
                        gun: None,
                        to,
                        out,
                    },
                );
                Some("ammo-issue")
            }
            20 => {
                // A firearm leaves the ledger: sold, handed over, returned to
                // its lessor, surrendered or exported.
                let gun = pick(&self.m.guns_where(|g| matches!(g, Gun::InStore { .. })), a)?;
                let site = self.site_of(&gun);
                let exit = [
                    ExitKind::SoldToDealer,
                    ExitKind::HandedToLicensee,
                    ExitKind::ReturnedToLessor,
                    ExitKind::SurrenderedToPolice,
                    ExitKind::Exported,
                ][usize::from(b % 5)];
                let e = self.act(
                    site,
                    SiteEvent::LeftLedger {
                        item: Item::Firearm(gun),
                        exit,
                        counterparty: Counterparty {
                            name: v("Receiver"),
                            licence: Some(v("LIC-R")),
                        },
                        documents: vec![doc(DocKind::ExportLicence, "EXP-1")],
                    },
                );
                self.m.guns.insert(
                    gun,
                    Gun::Left {
                        site,
                        exit,
                        entry: e.hash(),
                    },
                );
                Some("left-ledger")
            }
            21 => {
                // An issued firearm seized: its issue closes, the rounds stay
                // owed as an ammunition-only issue.
                let gun = pick(&self.m.guns_where(|g| matches!(g, Gun::Issued { .. })), a)?;
                let Gun::Issued { site, issue, .. } = self.m.guns[&gun].clone() else {
                    unreachable!()
                };
                let e = self.act(
                    site,
                    SiteEvent::Seized {
                        firearm: gun,
                        authority: v("Court"),
                        order: v("CO-1"),
                    },
                );
                if let Some(i) = self.m.issues.get_mut(&issue) {
                    i.gun = None;
                    if i.out.values().all(|n| *n == 0) {
                        self.m.issues.remove(&issue);
                    }
                }
                self.m.guns.insert(
                    gun,
                    Gun::Seized {
                        site,
                        entry: e.hash(),
                    },
                );
                Some("seize-issued")
            }
            22 => {
                // A barrel fitted (or removed): no custody change.
                let gun = pick(&self.m.guns_where(|g| matches!(g, Gun::InStore { .. })), a)?;
                let site = self.site_of(&gun);
                self.act(
                    site,
                    SiteEvent::ComponentChanged {
                        firearm: gun,
                        change: if b % 2 == 0 {
                            ComponentChange::Fitted
                        } else {
                            ComponentChange::Removed
                        },
                        component: Component {
                            kind: ComponentKind::Barrel,
                            marking: v("BRL-1"),
                        },
                        reason: note("worn barrel"),
                    },
                );
                Some("component")
            }
            23 => {
                // The armoury opened and closed by two persons: no custody change.
                let site = usize::from(a % 2);
                let other: PersonId = v(OFFICERS[1 - site]);
                self.act(
                    site,
                    SiteEvent::ArmouryOpened {
                        with: vec![other.clone()],
                    },
                );
                self.act(site, SiteEvent::ArmouryClosed { with: vec![other] });
                Some("armoury")
            }
            24 => {
                // A key handed on by whoever the roster says holds it.
                let site = usize::from(a % 2);
                let holder = self.keys[site].clone();
                let to: PersonId = if holder.as_str() == "witness-1" {
                    v("witness-2")
                } else {
                    v("witness-1")
                };
                self.act(
                    site,
                    SiteEvent::KeyHandedOver {
                        key: v("k-main"),
                        from: holder,
                        to: to.clone(),
                    },
                );
                self.keys[site] = to;
                Some("key")
            }
            25 => {
                // A long-term assignment: an issue without rounds.
                let gun = pick(&self.m.guns_where(|g| matches!(g, Gun::InStore { .. })), a)?;
                let site = self.site_of(&gun);
                let to: PersonId = v(GUARDS[site][usize::from(b % 2)]);
                let until = self.s.now.plus(90 * Timestamp::DAY);
                let e = self.act(
                    site,
                    SiteEvent::Assigned {
                        firearm: gun,
                        to: to.clone(),
                        contract: v("Mall contract"),
                        until,
                        reliance: reliance(to.as_str()),
                    },
                );
                self.m.guns.insert(
                    gun,
                    Gun::Issued {
                        site,
                        to: to.clone(),
                        issue: e.hash(),
                        due_back: until,
                    },
                );
                self.m.issues.insert(
                    e.hash(),
                    Issue {
                        site,
                        gun: Some(gun),
                        to,
                        out: BTreeMap::new(),
                    },
                );
                Some("assign")
            }
            26 => {
                // A guard loses rounds: out of the guard's holding and out
                // of what the guard's issues owe (oldest first), so the
                // return still reconciles.
                let held: Vec<(usize, LotId, PersonId, i64)> = self
                    .m
                    .balances
                    .iter()
                    .filter_map(|((site, lot, h), n)| match h {
                        Holder::Person(p) if *n > 0 => Some((*site, *lot, p.clone(), *n)),
                        _ => None,
                    })
                    .collect();
                let (site, lot, who, n) = pick(&held, a)?;
                let rounds = amount(b, n);
                let now = self.s.now;
                self.act(
                    site,
                    SiteEvent::LossReported {
                        items: vec![Item::Rounds(AmmoLine { lot, rounds })],
                        kind: LossKind::Loss,
                        holder: Some(who.clone()),
                        discovered_at: now,
                        circumstances: note("magazine lost"),
                        police_ref: Some(v("CAS-2")),
                        regulator_ref: Some(v("REG-2")),
                    },
                );
                self.m.add(
                    site,
                    lot,
                    Holder::Person(who.clone()),
                    -i64::try_from(rounds).unwrap(),
                );
                let mut left = rounds;
                for i in self
                    .m
                    .issues
                    .values_mut()
                    .filter(|i| i.site == site && i.to == who)
                {
                    if let Some(owed) = i.out.get_mut(&lot) {
                        let take = left.min(*owed);
                        *owed -= take;
                        left -= take;
                    }
                }
                Some("rounds-lost")
            }
            27 => {
                // A lot quarantined and released again: issues unaffected after.
                let site = usize::from(a % 2);
                let lot = self.lots[usize::from(b % 2)];
                if !self.ver.engine().state().lots.contains_key(&lot) {
                    return None;
                }
                for status in [LotStatus::Quarantined, LotStatus::Serviceable] {
                    self.act(
                        site,
                        SiteEvent::LotStatusChanged {
                            lot,
                            status,
                            reason: note("inspection"),
                        },
                    );
                }
                Some("lot-status")
            }
            _ => {
                // A serial-number count that sees exactly what the model holds.
                let site = usize::from(a % 2);
                let firearms_seen = self
                    .m
                    .guns_where(|g| matches!(g, Gun::InStore { site: s, .. } if *s == site));
                let rounds_seen: Vec<AmmoLine> = self
                    .lots
                    .iter()
                    .filter_map(|lot| {
                        let n = self.m.store_total(site, *lot);
                        (n > 0).then(|| AmmoLine {
                            lot: *lot,
                            rounds: u64::try_from(n).unwrap(),
                        })
                    })
                    .collect();
                self.counts += 1;
                self.act(
                    site,
                    SiteEvent::CountPerformed {
                        locations: vec![],
                        session: v(&format!("count-{}", self.counts)),
                        kind: CountKind::SerialNumber,
                        part: 1,
                        parts: 1,
                        counters: vec![v("witness-1"), v("witness-2")],
                        firearms_seen,
                        rounds_seen,
                    },
                );
                Some("count")
            }
        }
    }

    /// Verifies and folds the new entries; none may raise a finding.
    fn sync(&mut self) -> Result<(), TestCaseError> {
        let new: Vec<Arc<SignedEntry>> = self.s.log[self.fed..].to_vec();
        for e in new {
            let f = self
                .ver
                .ingest(e.clone(), None)
                .map_err(|err| TestCaseError::fail(format!("refused: {err}")))?;
            prop_assert!(
                f.is_empty(),
                "legal {} raised {:#?}",
                e.body().event.kind(),
                f
            );
        }
        self.fed = self.s.log.len();
        Ok(())
    }

    /// The engine's state agrees with the model.
    fn agree(&self) -> Result<(), TestCaseError> {
        let st = self.ver.engine().state();
        prop_assert_eq!(st.firearms.len(), self.m.guns.len());
        for (id, g) in &self.m.guns {
            let r = st
                .firearms
                .get(id)
                .ok_or_else(|| TestCaseError::fail(format!("{id} unknown to the engine")))?;
            let (site, want) = match g.clone() {
                Gun::InStore { site, loc } => (
                    site,
                    FirearmState::InStore {
                        location: loc_id(loc),
                    },
                ),
                Gun::Issued {
                    site,
                    to,
                    issue,
                    due_back,
                } => (
                    site,
                    FirearmState::Issued {
                        to,
                        issue,
                        due_back,
                    },
                ),
                Gun::InTransit { from, to, transfer } => (
                    from,
                    FirearmState::InTransit {
                        transfer,
                        to_site: v(SITES[to]),
                    },
                ),
                Gun::InMaintenance { site } => (
                    site,
                    FirearmState::InMaintenance {
                        provider: v("Gunsmith"),
                    },
                ),
                Gun::Lost { site, report } => (site, FirearmState::Lost { report }),
                Gun::Seized { site, entry } => (site, FirearmState::Seized { entry }),
                Gun::Disposed { site } => (
                    site,
                    FirearmState::Disposed {
                        method: DisposalMethod::Destroyed,
                    },
                ),
                Gun::Left { site, exit, entry } => (site, FirearmState::Left { exit, entry }),
            };
            prop_assert_eq!(&r.state, &want, "firearm {}", id);
            prop_assert_eq!(r.site.as_str(), SITES[site], "site of firearm {}", id);
        }

        let engine: BTreeMap<(String, LotId, Holder), i64> = st
            .balances
            .iter()
            .flat_map(|((site, lot), m)| {
                m.iter()
                    .filter(|(_, n)| **n != 0)
                    .map(move |(h, n)| ((site.to_string(), *lot, h.clone()), *n))
            })
            .collect();
        let model: BTreeMap<(String, LotId, Holder), i64> = self
            .m
            .balances
            .iter()
            .map(|((site, lot, h), n)| ((SITES[*site].to_string(), *lot, h.clone()), *n))
            .collect();
        prop_assert_eq!(engine, model, "balances");

        let engine_issues: BTreeMap<Hash, IssueView> = st
            .open_issues
            .iter()
            .map(|(h, i)| {
                (
                    *h,
                    (
                        i.site.to_string(),
                        i.firearm,
                        i.to.to_string(),
                        i.outstanding.clone(),
                    ),
                )
            })
            .collect();
        let model_issues: BTreeMap<Hash, IssueView> = self
            .m
            .issues
            .iter()
            .map(|(h, i)| {
                (
                    *h,
                    (
                        SITES[i.site].to_string(),
                        i.gun,
                        i.to.to_string(),
                        i.out.clone(),
                    ),
                )
            })
            .collect();
        prop_assert_eq!(engine_issues, model_issues, "open issues");

        prop_assert_eq!(st.transfers.len(), self.m.transfers.len());
        for (h, t) in &self.m.transfers {
            let x = &st.transfers[h];
            prop_assert_eq!(x.status == TransferStatus::Pending, t.pending);
            prop_assert_eq!(x.from_site.as_str(), SITES[t.from]);
            prop_assert_eq!(x.to_site.as_str(), SITES[t.to]);
            prop_assert_eq!(&x.firearms, &t.guns);
            prop_assert_eq!(&x.rounds, &t.rounds);
        }
        prop_assert!(
            st.discrepancies.is_empty(),
            "counts of exactly what the model holds found {:#?}",
            st.discrepancies
        );
        Ok(())
    }
}

/// The world every case starts from: two companies with a site each, their
/// armourers, guards and witnesses, verified once and cloned per case.
fn base() -> (Scenario, LedgerVerifier) {
    let mut s = Scenario::standard();
    s.company_with_site("bravo", "south");
    for p in GUARDS[1] {
        s.guard(p, "bravo", 365);
    }
    let ver = common::verify(&s, View::Corrected);
    (s, ver)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn legal_sequences_agree_with_the_reference_model(ops in prop::collection::vec(op(), 1..60)) {
        let base = base();
        let mut sim = Sim::new(&base);
        let mut done = 0usize;
        for op in ops {
            // When nothing fits the chosen operation, bring something in instead.
            let did = sim
                .step(op)
                .or_else(|| sim.step(Op { kind: 0, ..op }))
                .or_else(|| sim.step(Op { kind: 1, ..op }));
            if did.is_some() {
                done += 1;
                sim.sync()?;
            }
            sim.agree()?;
        }
        if std::env::var_os("ARMSLEDGER_MODEL_STATS").is_some() {
            eprintln!("{done} acts, {} entries", sim.s.log.len() - base.0.log.len());
        }
        // The whole log, verified again from scratch, folds to the same state.
        let again = common::verify(&sim.s, View::Corrected);
        prop_assert!(again.engine().findings().is_empty());
        sim.ver = again;
        sim.agree()?;
    }
}

/// A fixed sequence that touches every operation, so a change that makes an
/// operation a silent no-op is noticed even if proptest never hits it.
#[test]
fn every_operation_is_reachable() {
    let base = base();
    let mut sim = Sim::new(&base);
    let mut seen = std::collections::BTreeSet::new();
    let script: &[(u8, u16, u16, u16, u16)] = &[
        (0, 0, 0, 0, 0),   // acquire at north, vault
        (0, 0, 0, 1, 0),   // acquire another at north, rack-1
        (0, 0, 1, 0, 0),   // acquire at south
        (1, 0, 0, 0, 199), // 200 rounds of L-A, north vault
        (1, 1, 1, 0, 99),  // 100 rounds of L-B, south vault
        (2, 0, 0, 0, 5),   // issue with rounds
        (4, 0, 0, 0, 3),   // expend during the issue
        (3, 0, 0, 1, 2),   // return into rack-1
        (5, 0, 0, 0, 0),   // move a gun
        (6, 0, 0, 0, 9),   // move rounds
        (7, 0, 0, 0, 4),   // transfer out with rounds
        (8, 0, 0, 0, 0),   // transfer in
        (7, 0, 0, 0, 1),   // transfer out
        (9, 0, 0, 0, 0),   // cancel it
        (10, 0, 0, 0, 0),  // maintenance out
        (11, 0, 0, 0, 0),  // maintenance in
        (12, 0, 0, 0, 0),  // loss
        (13, 0, 0, 0, 0),  // recovery
        (14, 0, 0, 0, 0),  // seizure
        (13, 0, 0, 0, 0),  // recovery
        (17, 1, 0, 0, 7),  // ammunition-only issue at south
        (18, 0, 0, 0, 3),  // its return
        (16, 0, 0, 0, 2),  // rounds destroyed
        (16, 0, 1, 0, 2),  // rounds lost
        (19, 0, 0, 0, 0),  // count at north
        (19, 1, 0, 0, 0),  // count at south
        (2, 0, 0, 0, 5),   // issue with rounds
        (26, 0, 0, 0, 0),  // the guard loses some of them
        (21, 0, 0, 0, 0),  // the issued firearm is seized
        (13, 0, 0, 0, 0),  // and recovered
        (25, 0, 0, 0, 0),  // long-term assignment
        (3, 0, 0, 0, 0),   // its end
        (22, 0, 0, 0, 0),  // a barrel fitted
        (23, 0, 0, 0, 0),  // armoury opened and closed
        (24, 0, 0, 0, 0),  // key handed over
        (24, 0, 0, 0, 0),  // and on again
        (27, 0, 0, 0, 0),  // lot quarantined and released
        (20, 0, 0, 0, 0),  // a firearm leaves the ledger
        (15, 0, 0, 0, 0),  // disposal
    ];
    for &(kind, a, b, c, d) in script {
        let did = sim.step(Op { kind, a, b, c, d });
        assert!(did.is_some(), "op {kind} was a no-op");
        seen.insert(did.unwrap());
        sim.sync().unwrap();
        sim.agree().unwrap();
    }
    assert_eq!(seen.len(), usize::from(OPS), "{seen:?}");
}
