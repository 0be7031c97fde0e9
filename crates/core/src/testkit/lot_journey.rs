//! One ammunition lot's whole life, for the lot trace's tests: 1000 rounds
//! of `LJ-7` received at `north` (acme), 300 sent to `south` (other-co), issued
//! to three guards, 20 expended by `guard-2` on incident `INC-7`, one box
//! of 50 lost from the vault, a count at `south` 10 short, and the rest of
//! `north`'s rounds disposed of. The acts are a day apart, so a window
//! between them is unambiguous.

use std::sync::Arc;

use crate::entry::SignedEntry;
use crate::event::{EntryRef, SiteEvent};
use crate::ids::Timestamp;
use crate::model::{
    AmmoLine, CountKind, DisposalMethod, DocKind, ExpenditureReason, Holder, Item, LossKind, LotId,
    RoundsBack,
};

use super::{Scenario, doc, note, v};

/// The lot's ledger and the entries of its life, in order.
#[derive(Clone, Debug)]
pub struct LotJourney {
    /// The scenario: every entry in log order.
    pub scenario: Scenario,
    /// The lot.
    pub lot: LotId,
    /// The acts on the lot, in log order (the registrations before are not).
    pub acts: Vec<Arc<SignedEntry>>,
}

impl LotJourney {
    /// The lot number as marked.
    pub const NUMBER: &'static str = "LJ-7";

    /// Builds the ledger.
    pub fn new() -> Self {
        let mut s = Scenario::standard();
        s.company_with_site("other-co", "south");
        for p in [
            "south-armourer",
            "guard-3",
            "south-witness-1",
            "south-witness-2",
        ] {
            s.guard(p, "other-co", 365);
        }
        let mut acts = Vec::new();
        let day = Timestamp::DAY;
        s.tick(day);
        let lot = s.receive("north", Self::NUMBER, 1000);
        acts.push(s.log.last().cloned().expect("received"));
        s.tick(day);
        let out = s.site(
            "north",
            "armourer-1",
            SiteEvent::TransferredOut {
                to_site: v("south"),
                to_company: v("other-co"),
                firearms: vec![],
                rounds: vec![AmmoLine { lot, rounds: 300 }],
                rounds_from: Some(v("vault")),
                permit: doc(DocKind::TransportPermit, "TP-77"),
                carrier: Some(v("SecureMove")),
            },
        );
        acts.push(out.clone());
        s.tick(day);
        acts.push(s.site(
            "south",
            "south-armourer",
            SiteEvent::TransferredIn {
                transfer: EntryRef {
                    site: v("north"),
                    counter: out.counter(),
                    hash: out.hash(),
                },
                firearms: vec![],
                rounds: vec![AmmoLine { lot, rounds: 300 }],
                location: v("vault"),
                note: None,
            },
        ));
        s.tick(day);
        let issue = |s: &mut Scenario, site: &str, officer: &str, to: &str, rounds: u64| {
            let due_back = s.now.plus(3 * day);
            s.site(
                site,
                officer,
                SiteEvent::AmmunitionIssued {
                    to: v(to),
                    lines: vec![AmmoLine { lot, rounds }],
                    from: v("vault"),
                    purpose: note("range and patrol"),
                    due_back,
                },
            )
        };
        let i1 = issue(&mut s, "north", "armourer-1", "guard-1", 100);
        acts.push(i1.clone());
        s.tick(day);
        let i2 = issue(&mut s, "north", "armourer-1", "guard-2", 50);
        acts.push(i2.clone());
        s.tick(day);
        let i3 = issue(&mut s, "south", "south-armourer", "guard-3", 40);
        acts.push(i3.clone());
        s.tick(day);
        acts.push(s.site(
            "north",
            "armourer-1",
            SiteEvent::AmmunitionExpended {
                holder: Holder::Person(v("guard-2")),
                line: AmmoLine { lot, rounds: 20 },
                reason: ExpenditureReason::DutyDischarge,
                incident: Some(v("INC-7")),
                issue: Some(i2.hash()),
            },
        ));
        s.tick(day);
        let back = |s: &mut Scenario, site: &str, officer: &str, issue: &SignedEntry, n: u64| {
            s.site(
                site,
                officer,
                SiteEvent::AmmunitionReturned {
                    issue: issue.hash(),
                    lines: vec![RoundsBack {
                        lot,
                        returned: n,
                        expended: 0,
                    }],
                    to: v("vault"),
                },
            )
        };
        acts.push(back(&mut s, "north", "armourer-2", &i2, 30));
        s.tick(day);
        acts.push(back(&mut s, "north", "armourer-2", &i1, 100));
        s.tick(day);
        acts.push(back(&mut s, "south", "south-armourer", &i3, 40));
        s.tick(day);
        acts.push(s.site(
            "north",
            "armourer-1",
            SiteEvent::LossReported {
                items: vec![Item::Rounds(AmmoLine { lot, rounds: 50 })],
                kind: LossKind::Loss,
                holder: None,
                discovered_at: s.now,
                circumstances: note("one box of 50 not on the shelf"),
                police_ref: Some(v("CAS-12/2026")),
                regulator_ref: None,
            },
        ));
        s.tick(day);
        acts.push(s.site(
            "south",
            "south-armourer",
            SiteEvent::CountPerformed {
                session: v("SC-1"),
                kind: CountKind::Full,
                locations: vec![],
                part: 1,
                parts: 1,
                counters: vec![v("south-witness-1"), v("south-witness-2")],
                firearms_seen: vec![],
                rounds_seen: vec![AmmoLine { lot, rounds: 290 }],
            },
        ));
        s.tick(day);
        acts.push(s.site(
            "north",
            "armourer-1",
            SiteEvent::Disposed {
                item: Item::Rounds(AmmoLine { lot, rounds: 630 }),
                method: DisposalMethod::Destroyed,
                place: v("range-pit"),
                witnesses: vec![v("witness-1"), v("witness-2")],
                authorisation: doc(DocKind::DisposalOrder, "DO-3"),
                certificate: None,
            },
        ));
        LotJourney {
            scenario: s,
            lot,
            acts,
        }
    }

    /// Every entry, in log order.
    pub fn log(&self) -> &[Arc<SignedEntry>] {
        &self.scenario.log
    }
}

impl Default for LotJourney {
    fn default() -> Self {
        LotJourney::new()
    }
}
