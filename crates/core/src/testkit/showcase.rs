//! A small ledger with one of every thing a reader trips over: two companies,
//! a weapon acquired under a mistyped serial and corrected, ammunition issued
//! and partly expended, a serial-number count, a transfer to the other
//! company, an issue against an expired qualification (a finding), and a loss.
//! The server's every-route test and the CLI's golden outputs read it.

use std::sync::Arc;

use crate::entry::SignedEntry;
use crate::event::{EntryRef, SiteEvent};
use crate::ids::Timestamp;
use crate::model::{
    AmmoLine, CountKind, Counterparty, DocKind, FirearmId, Item, LossKind, LotId, Reliance,
};

use super::{Scenario, doc, note, pistol, v};

/// The showcase ledger and the names in it.
#[derive(Clone, Debug)]
pub struct Showcase {
    /// The scenario: every entry in log order.
    pub scenario: Scenario,
    /// The weapon acquired as `GLK-0O1` (letter O), corrected to `GLK-001`,
    /// counted, then sent to `south` of `other-co`.
    pub corrected: FirearmId,
    /// A weapon issued with rounds, partly expended, returned, then reported stolen.
    pub stolen: FirearmId,
    /// The 9mm lot `L-24-0917` at `north`.
    pub lot: LotId,
}

impl Showcase {
    /// The serial as first (mis)typed.
    pub const MISTYPED: &'static str = "GLK-0O1";
    /// The serial after the correction.
    pub const SERIAL: &'static str = "GLK-001";

    /// Builds the ledger.
    pub fn new() -> Self {
        let mut s = Scenario::standard();
        s.company_with_site("other-co", "south");
        s.guard("guard-9", "acme", 0); // qualification ends today
        s.guard("south-armourer", "other-co", 365);
        let (gun, acq) = s.acquire("north", Self::MISTYPED);
        let (stolen, _) = s.acquire("north", "GLK-002");
        let mut fixed = pistol(Self::MISTYPED);
        fixed.serial = v(Self::SERIAL);
        s.site(
            "north",
            "armourer-1",
            SiteEvent::Corrected {
                supersedes: acq.hash(),
                reason: note("serial mistyped: letter O for zero"),
                approver: Some(v("armourer-2")),
                corrected: Box::new(SiteEvent::FirearmAcquired {
                    firearm: gun,
                    identity: fixed,
                    source: Counterparty {
                        name: v("Dealer"),
                        licence: Some(v("DL-1")),
                    },
                    authorisation: doc(DocKind::AcquisitionPermit, "AP-1"),
                    location: v("vault"),
                }),
            },
        );
        let lot = s.receive("north", "L-24-0917", 500);
        s.tick(Timestamp::HOUR);
        let issue = s.issue("north", stolen, "guard-1", lot, 30);
        s.tick(6 * Timestamp::HOUR);
        s.return_spent("north", &issue, 5);
        s.tick(Timestamp::DAY);
        s.site(
            "north",
            "armourer-1",
            SiteEvent::CountPerformed {
                locations: vec![],
                session: v("C-2026-01"),
                kind: CountKind::SerialNumber,
                part: 1,
                parts: 1,
                counters: vec![v("witness-1"), v("witness-2")],
                firearms_seen: vec![gun, stolen],
                rounds_seen: vec![AmmoLine { lot, rounds: 495 }],
            },
        );
        s.tick(Timestamp::DAY);
        // guard-9's qualification has ended: the issue is a finding.
        let late = s.site(
            "north",
            "armourer-1",
            SiteEvent::Issued {
                firearm: gun,
                to: v("guard-9"),
                purpose: note("patrol"),
                post: v("gate-3"),
                due_back: s.now.plus(8 * Timestamp::HOUR),
                reliance: Reliance {
                    licence: v("LIC-guard-9"),
                    permit: v("PER-guard-9"),
                    qualification: v("Q-guard-9"),
                },
                ammunition: vec![],
                ammunition_from: None,
            },
        );
        s.tick(2 * Timestamp::HOUR);
        s.return_all("north", &late);
        s.tick(Timestamp::DAY);
        let out = s.site(
            "north",
            "armourer-1",
            SiteEvent::TransferredOut {
                to_site: v("south"),
                to_company: v("other-co"),
                firearms: vec![gun],
                rounds: vec![AmmoLine { lot, rounds: 100 }],
                rounds_from: Some(v("vault")),
                permit: doc(DocKind::TransportPermit, "TP-7"),
                carrier: Some(v("SecureMove")),
            },
        );
        s.tick(Timestamp::DAY);
        s.site(
            "south",
            "south-armourer",
            SiteEvent::TransferredIn {
                transfer: EntryRef {
                    site: v("north"),
                    counter: out.counter(),
                    hash: out.hash(),
                },
                firearms: vec![gun],
                rounds: vec![AmmoLine { lot, rounds: 100 }],
                location: v("vault"),
                note: None,
            },
        );
        s.tick(Timestamp::DAY);
        s.site(
            "north",
            "armourer-2",
            SiteEvent::LossReported {
                holder: None,
                items: vec![Item::Firearm(stolen)],
                kind: LossKind::Theft,
                discovered_at: s.now.minus(Timestamp::HOUR),
                circumstances: note("vault door forced overnight"),
                police_ref: Some(v("CAS-118/01/2026")),
                regulator_ref: None,
            },
        );
        Showcase {
            scenario: s,
            corrected: gun,
            stolen,
            lot,
        }
    }

    /// Every entry in log order.
    pub fn log(&self) -> &[Arc<SignedEntry>] {
        &self.scenario.log
    }
}

impl Default for Showcase {
    fn default() -> Self {
        Showcase::new()
    }
}
