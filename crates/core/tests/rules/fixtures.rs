//! The worlds the rule tests start from, the acts they record, and the two
//! judgements: a case fires exactly its rules on exactly its culprit, or a
//! ledger raises nothing.

use std::sync::Arc;

use armsledger_core::entry::{EntryBody, Link, SignedEntry};
use armsledger_core::event::{
    CompanyStatus, EntryRef, Event, RegulatorEvent, Revocable, SiteEvent,
};
use armsledger_core::hash::Hash;
use armsledger_core::ids::Timestamp;
use armsledger_core::model::{
    AmmoLine, Condition, CountKind, Counterparty, DisposalMethod, DocKind, ExpenditureReason,
    FirearmId, FirearmIdentity, Holder, Item, LossKind, LotId, LotIdentity, RoundsBack,
};
use armsledger_core::rules::{Finding, RuleId};
use armsledger_core::testkit::{Scenario, doc, lot9, note, pistol, v};

use crate::common::{findings, issued, sign_body, transfer_permit};

// ---------------------------------------------------------------------------
// Worlds
// ---------------------------------------------------------------------------

/// A scenario, its pistol `AB-123` (in the vault of `north`) and a 9mm lot.
pub struct World {
    pub s: Scenario,
    pub gun: FirearmId,
    /// The pistol's acquisition.
    pub acq: Arc<SignedEntry>,
    /// Lot `L-1`: 500 rounds in the vault in `world()`, none in `gun_only()`.
    pub lot: LotId,
}

/// Company `acme` with site `north`, six licensed people, and the pistol.
pub fn gun_only() -> World {
    let mut s = Scenario::standard();
    let (gun, acq) = s.acquire("north", "AB-123");
    World {
        s,
        gun,
        acq,
        lot: lot9("L-1").id(),
    }
}

/// `gun_only()` plus 500 rounds of lot `L-1` in the vault.
pub fn world() -> World {
    let mut w = gun_only();
    w.lot = w.s.receive("north", "L-1", 500);
    w
}

/// `world()` plus company `bravo` with site `south` and its guard `guard-3`.
pub fn two_sites() -> World {
    let mut w = world();
    w.s.company_with_site("bravo", "south");
    w.s.guard("guard-3", "bravo", 365);
    w
}

// ---------------------------------------------------------------------------
// Judgements
// ---------------------------------------------------------------------------

/// Every finding is on the culprit (chain, counter, hash, kind, time), none
/// is overridden, each has evidence, and the rules raised are exactly
/// `rules`.
#[track_caller]
pub fn check_fires(s: &Scenario, culprit: &SignedEntry, rules: &[RuleId]) -> Vec<Finding> {
    let f = findings(s);
    assert!(!f.is_empty(), "expected {rules:?}, got no finding");
    for x in &f {
        assert_eq!(
            x.entry,
            culprit.hash(),
            "finding not on the culprit: {x:#?}"
        );
        assert_eq!(&x.chain, culprit.chain());
        assert_eq!(x.counter, culprit.counter());
        assert_eq!(x.kind, culprit.body().event.kind());
        assert_eq!(x.time, culprit.header().device_time);
        assert_eq!(x.overridden_by, None);
        assert!(!x.evidence.is_empty());
    }
    let mut got: Vec<RuleId> = f.iter().map(|x| x.rule).collect();
    got.sort();
    got.dedup();
    let mut want = rules.to_vec();
    want.sort();
    want.dedup();
    assert_eq!(got, want, "findings: {f:#?}");
    f
}

/// No finding at all.
#[track_caller]
pub fn check_quiet(s: &Scenario) {
    let f = findings(s);
    assert!(f.is_empty(), "a legal act raised findings: {f:#?}");
}

// ---------------------------------------------------------------------------
// Acts
// ---------------------------------------------------------------------------

/// `armourer-1` records `ev` at `north`.
pub fn north(w: &mut World, ev: SiteEvent) -> Arc<SignedEntry> {
    w.s.site("north", "armourer-1", ev)
}

/// `armourer-2` records `ev` at `south`.
pub fn south(w: &mut World, ev: SiteEvent) -> Arc<SignedEntry> {
    w.s.site("south", "armourer-2", ev)
}

pub fn revoke(s: &mut Scenario, person: &str, what: Revocable) {
    s.regulator(RegulatorEvent::PersonRevoked {
        person: v(person),
        what,
        reason: v("test"),
    });
}

/// Bars `person` until `until` (None: for good).
pub fn bar(s: &mut Scenario, person: &str, until: Option<Timestamp>) {
    s.regulator(RegulatorEvent::PersonBarred {
        person: v(person),
        reason: v("pending inquiry"),
        until,
    });
}

pub fn set_company(s: &mut Scenario, company: &str, status: CompanyStatus) {
    s.regulator(RegulatorEvent::CompanyStatusChanged {
        company: v(company),
        status,
        reason: note("test"),
    });
}

pub fn acquire_identity(
    s: &mut Scenario,
    identity: FirearmIdentity,
    location: &str,
) -> (FirearmId, Arc<SignedEntry>) {
    let id = identity.id();
    let e = s.site(
        "north",
        "armourer-1",
        SiteEvent::FirearmAcquired {
            firearm: id,
            identity,
            source: Counterparty {
                name: v("Dealer"),
                licence: Some(v("DL-1")),
            },
            authorisation: doc(DocKind::AcquisitionPermit, "AP-2"),
            location: v(location),
        },
    );
    (id, e)
}

/// Acquires `identity` at `north` and issues it to `guard-1`.
pub fn acquire_and_issue(w: &mut World, identity: FirearmIdentity) -> Arc<SignedEntry> {
    let (gun, _) = acquire_identity(&mut w.s, identity, "vault");
    let ev = issued(&w.s, gun, "guard-1", vec![]);
    north(w, ev)
}

pub fn receive_identity(s: &mut Scenario, identity: LotIdentity, rounds: u64) -> Arc<SignedEntry> {
    s.site(
        "north",
        "armourer-1",
        SiteEvent::AmmunitionReceived {
            lot: identity.id(),
            identity,
            rounds,
            source: Counterparty {
                name: v("PMP"),
                licence: None,
            },
            authorisation: None,
            location: v("vault"),
        },
    )
}

fn lines(lot: LotId, rounds: u64) -> Vec<AmmoLine> {
    if rounds == 0 {
        vec![]
    } else {
        vec![AmmoLine { lot, rounds }]
    }
}

/// `armourer-1` issues the pistol to `to`, with `rounds` from the vault.
pub fn issue(w: &mut World, to: &str, rounds: u64) -> Arc<SignedEntry> {
    let ev = issued(&w.s, w.gun, to, lines(w.lot, rounds));
    north(w, ev)
}

pub fn returned(w: &mut World, issue: &SignedEntry, back: u64, spent: u64) -> Arc<SignedEntry> {
    let ammunition = if back + spent == 0 {
        vec![]
    } else {
        vec![RoundsBack {
            lot: w.lot,
            returned: back,
            expended: spent,
        }]
    };
    let ev = SiteEvent::Returned {
        incident: (spent > 0).then(|| v("INC-1")),
        issue: issue.hash(),
        firearm: w.gun,
        condition: Condition::Serviceable,
        ammunition,
        location: v("vault"),
    };
    north(w, ev)
}

/// `north` sends the pistol and `rounds` to `south` (company `bravo`).
pub fn transfer_out(w: &mut World, rounds: u64) -> Arc<SignedEntry> {
    let ev = SiteEvent::TransferredOut {
        to_site: v("south"),
        to_company: v("bravo"),
        firearms: vec![w.gun],
        rounds_from: (rounds > 0).then(|| v("vault")),
        rounds: lines(w.lot, rounds),
        permit: transfer_permit(),
        carrier: Some(v("SecureTransit")),
    };
    north(w, ev)
}

/// `south` acknowledges `out`, naming what it received.
pub fn transfer_in(
    w: &mut World,
    out: &SignedEntry,
    firearms: Vec<FirearmId>,
    rounds: u64,
) -> Arc<SignedEntry> {
    let ev = SiteEvent::TransferredIn {
        transfer: EntryRef {
            site: v("north"),
            counter: out.counter(),
            hash: out.hash(),
        },
        firearms,
        rounds: lines(w.lot, rounds),
        location: v("vault"),
        note: None,
    };
    south(w, ev)
}

/// A cancellation of the transfer `out`, the items back in store at `location`.
pub fn cancel(out: &SignedEntry, location: &str) -> SiteEvent {
    SiteEvent::TransferCancelled {
        transfer: out.hash(),
        reason: v("vehicle broke down"),
        location: v(location),
    }
}

pub fn disposal(gun: FirearmId, witnesses: &[&str], kind: DocKind) -> SiteEvent {
    SiteEvent::Disposed {
        item: Item::Firearm(gun),
        method: DisposalMethod::Destroyed,
        place: v("Central furnace"),
        witnesses: witnesses.iter().map(|w| v(w)).collect(),
        authorisation: doc(kind, "DO-7"),
        certificate: None,
    }
}

/// A lawful destruction of the pistol.
pub fn destroy(w: &mut World) -> Arc<SignedEntry> {
    let ev = disposal(w.gun, &["witness-1", "witness-2"], DocKind::DisposalOrder);
    north(w, ev)
}

pub fn dispose_rounds(lot: LotId, rounds: u64) -> SiteEvent {
    SiteEvent::Disposed {
        item: Item::Rounds(AmmoLine { lot, rounds }),
        method: DisposalMethod::Destroyed,
        place: v("range"),
        witnesses: vec![v("witness-1"), v("witness-2")],
        authorisation: doc(DocKind::DisposalOrder, "DO-1"),
        certificate: None,
    }
}

pub fn count(counters: &[&str], firearms: Vec<FirearmId>, rounds: Vec<AmmoLine>) -> SiteEvent {
    SiteEvent::CountPerformed {
        locations: vec![],
        session: v("count-1"),
        kind: CountKind::SerialNumber,
        part: 1,
        parts: 1,
        counters: counters.iter().map(|c| v(c)).collect(),
        firearms_seen: firearms,
        rounds_seen: rounds,
    }
}

/// A count by `counters` that sees the pistol and all 500 rounds.
pub fn full_count(w: &World, counters: &[&str]) -> SiteEvent {
    count(counters, vec![w.gun], lines(w.lot, 500))
}

pub fn loss(
    gun: FirearmId,
    police: Option<&str>,
    regulator: Option<&str>,
    at: Timestamp,
) -> SiteEvent {
    SiteEvent::LossReported {
        holder: None,
        items: vec![Item::Firearm(gun)],
        kind: LossKind::Theft,
        discovered_at: at,
        circumstances: v("vehicle break-in"),
        police_ref: police.map(v),
        regulator_ref: regulator.map(v),
    }
}

/// A theft of `gun` reported at `north` with both references.
pub fn report_theft(w: &mut World, gun: FirearmId) -> Arc<SignedEntry> {
    let ev = loss(gun, Some("CAS-1"), Some("REG-1"), w.s.now);
    north(w, ev)
}

pub fn seize(gun: FirearmId) -> SiteEvent {
    SiteEvent::Seized {
        firearm: gun,
        authority: v("SAPS"),
        order: v("SO-1"),
    }
}

pub fn recover(gun: FirearmId, report: &SignedEntry) -> SiteEvent {
    SiteEvent::Recovered {
        firearm: gun,
        report: report.hash(),
        condition: Condition::Serviceable,
        location: v("vault"),
    }
}

pub fn maintenance_out(gun: FirearmId) -> SiteEvent {
    SiteEvent::MaintenanceOut {
        kind: armsledger_core::model::MaintenanceKind::Repair,
        firearm: gun,
        provider: v("Gunsmith"),
        reason: v("inspection"),
    }
}

pub fn moved(item: Item, from: &str, to: &str) -> SiteEvent {
    SiteEvent::StorageMoved {
        item,
        from: v(from),
        to: v(to),
    }
}

/// `guard-1` expends `rounds` of `lot` from `issue`.
pub fn expended(
    lot: LotId,
    rounds: u64,
    reason: ExpenditureReason,
    incident: Option<&str>,
    issue: &SignedEntry,
) -> SiteEvent {
    SiteEvent::AmmunitionExpended {
        holder: Holder::Person(v("guard-1")),
        line: AmmoLine { lot, rounds },
        reason,
        incident: incident.map(v),
        issue: Some(issue.hash()),
    }
}

pub fn annotate(about: Hash) -> SiteEvent {
    SiteEvent::Annotated {
        about,
        text: v("checked by the inspector"),
    }
}

/// An override by a second authoriser of `rule` for the act `body`.
pub fn override_of(rule: RuleId, authoriser: &str, act: &EntryBody) -> SiteEvent {
    SiteEvent::Overridden {
        rule,
        reason: v("court-ordered escort, inquiry notified"),
        authoriser: v(authoriser),
        act: act.hash().unwrap(),
    }
}

pub fn correction_of_acquisition(
    original: &SignedEntry,
    serial: &str,
    approver: Option<&str>,
) -> SiteEvent {
    let Event::Site(SiteEvent::FirearmAcquired {
        firearm,
        source,
        authorisation,
        location,
        ..
    }) = &original.body().event
    else {
        panic!("not an acquisition");
    };
    SiteEvent::Corrected {
        supersedes: original.hash(),
        reason: v("serial mistyped at intake"),
        approver: approver.map(v),
        corrected: Box::new(SiteEvent::FirearmAcquired {
            firearm: *firearm,
            identity: pistol(serial),
            source: source.clone(),
            authorisation: authorisation.clone(),
            location: location.clone(),
        }),
    }
}

/// The sample pistol with another calibre and category.
pub fn pistol_with(serial: &str, calibre: &str, category: &str) -> FirearmIdentity {
    let mut p = pistol(serial);
    p.calibre = v(calibre);
    p.category = v(category);
    p
}

/// A storage move of `gun` at `north` whose firearm link names `prev`
/// (instead of the latest event).
pub fn move_with_link(
    s: &mut Scenario,
    gun: FirearmId,
    from: &str,
    to: &str,
    prev: Option<Hash>,
) -> Arc<SignedEntry> {
    let body = EntryBody {
        format: Default::default(),
        occurred_at: s.now,
        officer: v("armourer-1"),
        links: vec![Link {
            subject: armsledger_core::Subject::Firearm(gun),
            prev,
        }],
        event: Event::Site(moved(Item::Firearm(gun), from, to)),
    };
    sign_body(s, "north", body)
}
