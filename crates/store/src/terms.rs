//! What an entry is indexed under: the firearms, lots, people and sites it
//! names. Both ledgers and fsck derive index keys from here, so the rule for
//! "which entries concern firearm X" lives in one place.

use std::collections::BTreeSet;

use armsledger_core::entry::{ChainId, SignedEntry};
use armsledger_core::event::{Event, RegulatorEvent, SiteEvent, Subject};
use armsledger_core::ids::{PersonId, SiteId};
use armsledger_core::model::{FirearmId, Holder, LotId};

/// A key of one of the subject indexes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IndexKey {
    /// Every event touching a firearm: its history links, and stock counts that saw it.
    Firearm(FirearmId),
    /// Every event touching an ammunition lot (at any site).
    Lot(LotId),
    /// Every event a person is named in: the acting officer, and any
    /// recipient, counter, witness, approver, authoriser or licensee.
    Person(PersonId),
    /// Every event of a site's own chain, and every other event naming the
    /// site (registration, key enrolment, transfers to or from it, inspections).
    Site(SiteId),
}

/// Everything an entry is indexed under, sorted and without repeats.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Terms {
    /// Firearms: subjects of `body.links`, and firearms a stock count saw.
    pub firearms: BTreeSet<FirearmId>,
    /// Lots: subjects of `body.links`, and lots a stock count saw.
    pub lots: BTreeSet<LotId>,
    /// People named in the entry, the officer first among equals.
    pub persons: BTreeSet<PersonId>,
    /// Sites named by the event, other than the entry's own chain (a site's
    /// own chain is found through the slot index, not stored twice).
    pub sites: BTreeSet<SiteId>,
}

impl Terms {
    /// The index terms of `entry`.
    pub fn of(entry: &SignedEntry) -> Terms {
        let mut t = Terms::default();
        let body = entry.body();
        t.persons.insert(body.officer.clone());
        for link in &body.links {
            match link.subject {
                Subject::Firearm(f) => {
                    t.firearms.insert(f);
                }
                Subject::Lot(l) => {
                    t.lots.insert(l);
                }
            }
        }
        match &body.event {
            Event::Site(e) => t.site_event(e),
            Event::Regulator(e) => t.regulator_event(e),
        }
        if let ChainId::Site(own) = entry.chain() {
            t.sites.remove(own);
        }
        t
    }

    /// Every key this entry appears under, own chain's site included.
    pub fn keys(&self, chain: &ChainId) -> Vec<IndexKey> {
        let mut out: Vec<IndexKey> = Vec::new();
        out.extend(self.firearms.iter().map(|f| IndexKey::Firearm(*f)));
        out.extend(self.lots.iter().map(|l| IndexKey::Lot(*l)));
        out.extend(self.persons.iter().cloned().map(IndexKey::Person));
        out.extend(self.sites.iter().cloned().map(IndexKey::Site));
        if let ChainId::Site(s) = chain {
            out.push(IndexKey::Site(s.clone()));
        }
        out
    }

    fn site_event(&mut self, e: &SiteEvent) {
        use SiteEvent::*;
        match e {
            Issued { to, .. } | AmmunitionIssued { to, .. } => {
                self.persons.insert(to.clone());
            }
            AmmunitionExpended {
                holder: Holder::Person(p),
                ..
            } => {
                self.persons.insert(p.clone());
            }
            CountPerformed {
                counters,
                firearms_seen,
                rounds_seen,
                ..
            } => {
                self.persons.extend(counters.iter().cloned());
                self.firearms.extend(firearms_seen.iter().copied());
                self.lots.extend(rounds_seen.iter().map(|l| l.lot));
            }
            Disposed { witnesses, .. } => self.persons.extend(witnesses.iter().cloned()),
            Corrected {
                approver,
                corrected,
                ..
            } => {
                self.persons.extend(approver.iter().cloned());
                self.site_event(corrected);
            }
            Overridden { authoriser, .. } => {
                self.persons.insert(authoriser.clone());
            }
            TransferredOut { to_site, .. } => {
                self.sites.insert(to_site.clone());
            }
            TransferredIn { transfer, .. } => {
                self.sites.insert(transfer.site.clone());
            }
            _ => {}
        }
    }

    fn regulator_event(&mut self, e: &RegulatorEvent) {
        use RegulatorEvent::*;
        match e {
            PersonLicensed { person, .. }
            | PermitRecorded { person, .. }
            | QualificationRecorded { person, .. }
            | PersonRevoked { person, .. }
            | PersonBarred { person, .. }
            | PersonUnbarred { person, .. }
            | VettingRecorded { person, .. }
            | ComplaintReceived {
                against: armsledger_core::oversight::Respondent::Person(person),
                ..
            } => {
                self.persons.insert(person.clone());
            }
            SiteRegistered { site, .. }
            | DeviceKeyEnrolled { site, .. }
            | DeviceKeyRetired { site, .. }
            | DeviceKeyRevoked { site, .. }
            | InspectionRecorded { site, .. }
            | FindingRecorded { site, .. }
            | SiteApproved { site, .. } => {
                self.sites.insert(site.clone());
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use armsledger_core::model::{AmmoLine, CountKind, Reliance};
    use armsledger_core::testkit::{Scenario, note, v};

    #[test]
    fn issue_names_officer_recipient_firearm_and_lot() {
        let mut s = Scenario::standard();
        let (gun, _) = s.acquire("north", "AB-1");
        let lot = s.receive("north", "L-1", 100);
        let e = s.site(
            "north",
            "armourer-1",
            SiteEvent::Issued {
                firearm: gun,
                to: v("guard-1"),
                purpose: note("patrol"),
                post: v("gate"),
                due_back: s.now.plus(1000),
                reliance: Reliance {
                    licence: v("LIC-guard-1"),
                    permit: v("PER-guard-1"),
                    qualification: v("Q-guard-1"),
                },
                ammunition: vec![AmmoLine { lot, rounds: 10 }],
                ammunition_from: Some(v("vault")),
            },
        );
        let t = Terms::of(&e);
        assert_eq!(t.firearms.into_iter().collect::<Vec<_>>(), vec![gun]);
        assert_eq!(t.lots.into_iter().collect::<Vec<_>>(), vec![lot]);
        let persons: Vec<String> = t.persons.iter().map(|p| p.to_string()).collect();
        assert_eq!(persons, ["armourer-1", "guard-1"]);
        assert!(t.sites.is_empty(), "own site is not stored as a term");
    }

    #[test]
    fn counts_regulator_events_and_transfers() {
        let mut s = Scenario::standard();
        let (gun, _) = s.acquire("north", "AB-2");
        let count = s.site(
            "north",
            "armourer-1",
            SiteEvent::CountPerformed {
                locations: vec![],
                session: v("c-1"),
                kind: CountKind::Full,
                part: 1,
                parts: 1,
                counters: vec![v("witness-1"), v("witness-2")],
                firearms_seen: vec![gun],
                rounds_seen: vec![],
            },
        );
        let t = Terms::of(&count);
        assert!(t.firearms.contains(&gun));
        assert_eq!(t.persons.len(), 3);
        // The standard scenario's second entry registers site "north".
        let reg = Terms::of(&s.log[1]);
        assert!(reg.sites.contains(&v::<SiteId>("north")));
        assert!(reg.persons.contains(&v::<PersonId>("reg-official")));
        let keys = reg.keys(s.log[1].chain());
        assert!(keys.contains(&IndexKey::Site(v("north"))));
    }
}
