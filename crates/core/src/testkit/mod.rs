//! Test and benchmark support: an in-memory signer that behaves like a
//! device's chain logic, and a scenario builder with a licensed company, a
//! registered site and licensed people. Not for production: real entries are
//! signed by a device (firmware-sim), whose key never leaves it.
#![allow(clippy::expect_used, clippy::panic)]

mod lot_journey;
mod showcase;

pub use lot_journey::LotJourney;
pub use showcase::Showcase;

use std::collections::BTreeMap;
use std::sync::Arc;

use ed25519_dalek::SigningKey;

use crate::chain::SubjectTracker;
use crate::entry::{ChainId, EntryBody, EntryHeader, Link, SignedEntry};
use crate::event::{Event, RegulatorEvent, SiteEvent};
use crate::hash::Hash;
use crate::ids::{
    CompanyId, Country, DeviceId, Ident, LocationId, Name, PersonId, SiteId, Text, Timestamp,
};
use crate::model::{
    AmmoLine, AmmoType, Condition, Counterparty, DocKind, DocRef, FirearmId, FirearmIdentity,
    FirearmType, LotId, LotIdentity, OfficerLicence, Permit, Qualification, Reliance, RoundsBack,
    Validity,
};
use crate::sig::{Sig, Statement};
use crate::statements::{
    Attestation, AttestationBody, DeviceCertBody, DeviceCertificate, KeyOrigin,
};

/// Start of test time: 2026-01-01T00:00:00Z.
pub const T0: Timestamp = Timestamp(1_767_225_600_000);

/// A key derived from a label (deterministic across runs).
pub fn key(label: &str) -> SigningKey {
    SigningKey::from_bytes(&Hash::of(&[b"armsledger-testkit\0", label.as_bytes()]).0)
}

/// Parses a test value, panicking on a typo in the test itself.
#[allow(clippy::expect_used)]
pub fn v<T: core::str::FromStr>(s: &str) -> T
where
    T::Err: core::fmt::Debug,
{
    s.parse().expect("test literal")
}

/// A signer holding a chain head, signing the next entry on request.
#[derive(Clone, Debug)]
pub struct SoftSigner {
    key: SigningKey,
    /// Chain it signs.
    pub chain: ChainId,
    /// Device id it claims.
    pub device: DeviceId,
    /// Key epoch.
    pub key_epoch: u32,
    /// Head (counter, hash).
    pub head: (u64, Hash),
}

impl SoftSigner {
    /// A signer for `chain` with a key derived from `label`.
    pub fn new(label: &str, chain: ChainId) -> Self {
        SoftSigner {
            key: key(label),
            chain,
            device: v(&format!("dev-{}", Hash::of(&[label.as_bytes()]).short())),
            key_epoch: 1,
            head: (0, Hash::ZERO),
        }
    }

    /// The public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// The signing key (tests that forge or equivocate need it).
    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    /// The header the next entry with `body_hash` would get, skipping `gap` counters.
    pub fn next_header(&self, body_hash: Hash, time: Timestamp, gap: u64) -> EntryHeader {
        EntryHeader {
            chain: self.chain.clone(),
            device: self.device.clone(),
            key_epoch: self.key_epoch,
            counter: self.head.0 + 1 + gap,
            prev_counter: self.head.0,
            prev_hash: self.head.1,
            device_time: time,
            boot_count: 1,
            body_hash,
        }
    }

    /// Signs `body` as the next entry and advances the head.
    #[allow(clippy::expect_used)]
    pub fn sign(&mut self, body: EntryBody, time: Timestamp) -> SignedEntry {
        let header = self.next_header(body.hash().expect("encodable"), time, 0);
        let sig = header.sign(&self.key).expect("encodable");
        let e = SignedEntry::assemble(header, sig, body).expect("consistent");
        self.head = (e.counter(), e.hash());
        e
    }
}

/// A manufacturer certificate and attestation for a soft signer's key.
#[allow(clippy::expect_used)]
pub fn enrolment(signer: &SoftSigner, site: &SiteId, root: &SigningKey) -> RegulatorEvent {
    let identity = key(&format!("identity-{}", signer.device));
    let cert_body = DeviceCertBody {
        device: signer.device.clone(),
        model: v("sim-se-1"),
        firmware_version: 1,
        firmware_hash: Hash::of(&[b"firmware"]),
        identity_key: identity.verifying_key().to_bytes(),
        manufacturer_key: root.verifying_key().to_bytes(),
    };
    let cert = DeviceCertificate {
        signature: cert_body.sign(root).expect("encodable"),
        body: cert_body,
    };
    let att_body = AttestationBody {
        nonce: Hash::of(&[b"nonce"]),
        device: signer.device.clone(),
        firmware_hash: cert.body.firmware_hash,
        chain: ChainId::Site(site.clone()),
        key_epoch: signer.key_epoch,
        site_key: signer.public_key(),
        origin: KeyOrigin::GeneratedOnDevice,
        counter_start: 1,
        boot_count: 1,
    };
    let att = Attestation {
        signature: att_body.sign(&identity).expect("encodable"),
        body: att_body,
    };
    RegulatorEvent::DeviceKeyEnrolled {
        site: site.clone(),
        device: signer.device.clone(),
        key_epoch: signer.key_epoch,
        public_key: signer.public_key(),
        counter_start: 1,
        certificate: Box::new(cert),
        attestation: Box::new(att),
    }
}

/// A sample pistol identity with the given serial.
pub fn pistol(serial: &str) -> FirearmIdentity {
    FirearmIdentity {
        manufacturer: v("Glock"),
        importer: Some(v("Arms Import Ltd")),
        model: v("17 Gen5"),
        kind: FirearmType::Pistol,
        category: v("B"),
        calibre: v("9x19mm"),
        serial: v(serial),
        markings: vec![],
        country_of_manufacture: Country::new("AT").expect("literal"),
        year_of_manufacture: Some(2023),
        country_of_import: Some(Country::new("ZA").expect("literal")),
        year_of_import: Some(2024),
        components: vec![],
    }
}

/// A sample 9mm lot.
pub fn lot9(number: &str) -> LotIdentity {
    LotIdentity {
        lot_number: v(number),
        manufacturer: v("PMP"),
        calibre: v("9x19mm"),
        kind: AmmoType::FullMetalJacket,
        year: Some(2025),
    }
}

/// A document reference.
pub fn doc(kind: DocKind, number: &str) -> DocRef {
    DocRef {
        kind,
        number: v(number),
        issuer: v("Regulator"),
        valid_until: None,
        content_hash: None,
    }
}

/// A regulator, signers per site, and every entry in log order.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// The regulator's signer.
    pub regulator: SoftSigner,
    /// Manufacturer root for enrolments.
    pub root: SigningKey,
    /// Site signers.
    pub sites: BTreeMap<SiteId, SoftSigner>,
    /// Links for the next entries.
    pub tracker: SubjectTracker,
    /// Every entry, in log order.
    pub log: Vec<Arc<SignedEntry>>,
    /// The clock used for the next entry.
    pub now: Timestamp,
    /// Server receipt times, for entries that have one (the others are
    /// verified as if received when signed).
    pub received: BTreeMap<Hash, Timestamp>,
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario::new()
    }
}

impl Scenario {
    /// An empty ledger: only the regulator.
    pub fn new() -> Self {
        Scenario {
            regulator: SoftSigner::new("regulator", ChainId::Regulator),
            root: key("manufacturer-root"),
            sites: BTreeMap::new(),
            tracker: SubjectTracker::default(),
            log: Vec::new(),
            now: T0,
            received: BTreeMap::new(),
        }
    }

    /// The regulator's public key (the trust root).
    pub fn regulator_key(&self) -> [u8; 32] {
        self.regulator.public_key()
    }

    /// The manufacturer root public key.
    pub fn root_key(&self) -> [u8; 32] {
        self.root.verifying_key().to_bytes()
    }

    /// Advances the clock.
    pub fn tick(&mut self, ms: u64) {
        self.now = self.now.plus(ms);
    }

    /// Records a regulator event.
    pub fn regulator(&mut self, event: RegulatorEvent) -> Arc<SignedEntry> {
        let body = EntryBody {
            format: Default::default(),
            officer: v("reg-official"),
            occurred_at: self.now,
            links: vec![],
            event: Event::Regulator(event),
        };
        let e = Arc::new(self.regulator.sign(body, self.now));
        self.log.push(e.clone());
        self.tick(1000);
        e
    }

    /// The links the next event at `site` must carry.
    pub fn links(&self, site: &SiteId, event: &SiteEvent) -> Vec<Link> {
        event
            .subjects()
            .into_iter()
            .map(|s| Link {
                subject: s,
                prev: self.tracker.latest(site, &s),
            })
            .collect()
    }

    /// Records a site event signed by the site's signer.
    #[allow(clippy::expect_used)]
    pub fn site(&mut self, site: &str, officer: &str, event: SiteEvent) -> Arc<SignedEntry> {
        let site: SiteId = v(site);
        let body = EntryBody {
            format: Default::default(),
            officer: v(officer),
            occurred_at: self.now,
            links: self.links(&site, &event),
            event: Event::Site(event),
        };
        let signer = self.sites.get_mut(&site).expect("site signer exists");
        let e = Arc::new(signer.sign(body, self.now));
        self.tracker.record(&site, &e);
        self.log.push(e.clone());
        self.tick(1000);
        e
    }

    /// Licenses `company`, registers `site` with locations `vault` and
    /// `rack-1`, and enrols a site key.
    pub fn company_with_site(&mut self, company: &str, site: &str) {
        let c: CompanyId = v(company);
        let s: SiteId = v(site);
        self.regulator(RegulatorEvent::CompanyLicensed {
            company: c.clone(),
            name: v(&format!("{company} Ltd")),
            licence: v(&format!("PSC-{company}")),
            valid: Validity {
                from: T0.minus(Timestamp::DAY),
                until: T0.plus(3 * 365 * Timestamp::DAY),
            },
            categories: vec![v("B")],
        });
        self.regulator(RegulatorEvent::SiteRegistered {
            site: s.clone(),
            company: c,
            name: v(&format!("{site} armoury")),
            approval: v(&format!("ARM-{site}")),
            locations: vec![v("vault"), v("rack-1")],
        });
        let signer = SoftSigner::new(&format!("site-{site}"), ChainId::Site(s.clone()));
        let root = self.root.clone();
        let ev = enrolment(&signer, &s, &root);
        self.sites.insert(s, signer);
        self.regulator(ev);
    }

    /// Licenses a guard of `company` with a 9mm pistol permit and qualification
    /// valid for `days` from now.
    pub fn guard(&mut self, person: &str, company: &str, days: u64) {
        let p: PersonId = v(person);
        let valid = Validity {
            from: self.now.minus(Timestamp::DAY),
            until: self.now.plus(days * Timestamp::DAY),
        };
        self.regulator(RegulatorEvent::PersonLicensed {
            person: p.clone(),
            company: v(company),
            identity_hash: Hash::of(&[person.as_bytes()]),
            licence: OfficerLicence {
                number: v(&format!("LIC-{person}")),
                grade: v("A"),
                valid,
            },
        });
        self.regulator(RegulatorEvent::PermitRecorded {
            person: p.clone(),
            permit: Permit {
                number: v(&format!("PER-{person}")),
                categories: vec![v("B")],
                calibres: vec![v("9x19mm")],
                valid,
            },
        });
        self.regulator(RegulatorEvent::QualificationRecorded {
            person: p,
            qualification: Qualification {
                id: v(&format!("Q-{person}")),
                weapon: FirearmType::Pistol,
                provider: v("range-academy"),
                valid,
            },
        });
    }

    /// Acquires a pistol with `serial` at `site` into `vault`.
    pub fn acquire(&mut self, site: &str, serial: &str) -> (FirearmId, Arc<SignedEntry>) {
        let identity = pistol(serial);
        let id = identity.id();
        let e = self.site(
            site,
            "armourer-1",
            SiteEvent::FirearmAcquired {
                firearm: id,
                identity,
                source: Counterparty {
                    name: v("Dealer"),
                    licence: Some(v("DL-1")),
                },
                authorisation: doc(DocKind::AcquisitionPermit, "AP-1"),
                location: v("vault"),
            },
        );
        (id, e)
    }

    /// Receives `rounds` of a 9mm lot at `site` into `vault`.
    pub fn receive(&mut self, site: &str, lot: &str, rounds: u64) -> LotId {
        let identity = lot9(lot);
        let id = identity.id();
        self.site(
            site,
            "armourer-1",
            SiteEvent::AmmunitionReceived {
                lot: id,
                identity,
                rounds,
                source: Counterparty {
                    name: v("PMP"),
                    licence: None,
                },
                authorisation: None,
                location: v("vault"),
            },
        );
        id
    }

    /// `armourer-1` issues `gun` at `site` to `to` (a guard licensed with
    /// [`Scenario::guard`]) with `rounds` of `lot` from `vault`, due back in 8 hours.
    pub fn issue(
        &mut self,
        site: &str,
        gun: FirearmId,
        to: &str,
        lot: LotId,
        rounds: u64,
    ) -> Arc<SignedEntry> {
        let due_back = self.now.plus(8 * Timestamp::HOUR);
        self.site(
            site,
            "armourer-1",
            SiteEvent::Issued {
                firearm: gun,
                to: v(to),
                purpose: note("patrol"),
                post: v("gate-3"),
                due_back,
                reliance: Reliance {
                    licence: v(&format!("LIC-{to}")),
                    permit: v(&format!("PER-{to}")),
                    qualification: v(&format!("Q-{to}")),
                },
                ammunition: vec![AmmoLine { lot, rounds }],
                ammunition_from: Some(v("vault")),
            },
        )
    }

    /// `armourer-2` takes back the firearm and every round of `issue` (an
    /// entry made by [`Scenario::issue`]) into `vault`.
    pub fn return_all(&mut self, site: &str, issue: &SignedEntry) -> Arc<SignedEntry> {
        let Event::Site(SiteEvent::Issued {
            firearm,
            ammunition,
            ..
        }) = &issue.body().event
        else {
            panic!("return_all takes an issue entry");
        };
        let back = ammunition
            .iter()
            .map(|l| RoundsBack {
                lot: l.lot,
                returned: l.rounds,
                expended: 0,
            })
            .collect();
        let event = SiteEvent::Returned {
            incident: None,
            issue: issue.hash(),
            firearm: *firearm,
            condition: Condition::Serviceable,
            ammunition: back,
            location: v("vault"),
        };
        self.site(site, "armourer-2", event)
    }

    /// `armourer-1` takes back the firearm of `issue` (an entry made by
    /// [`Scenario::issue`]) into `vault`, serviceable, with `expended` rounds
    /// of each lot used and the rest returned.
    pub fn return_spent(
        &mut self,
        site: &str,
        issue: &SignedEntry,
        expended: u64,
    ) -> Arc<SignedEntry> {
        let Event::Site(SiteEvent::Issued {
            firearm,
            ammunition,
            ..
        }) = &issue.body().event
        else {
            panic!("return_spent takes an issue entry");
        };
        let back = ammunition
            .iter()
            .map(|l| RoundsBack {
                lot: l.lot,
                returned: l.rounds.saturating_sub(expended),
                expended,
            })
            .collect();
        let event = SiteEvent::Returned {
            incident: (expended > 0).then(|| v("INC-1")),
            issue: issue.hash(),
            firearm: *firearm,
            condition: Condition::Serviceable,
            ammunition: back,
            location: v("vault"),
        };
        self.site(site, "armourer-1", event)
    }

    /// A standard world: company `acme` with site `north`, armourers and two
    /// guards licensed for a year.
    pub fn standard() -> Self {
        let mut s = Scenario::new();
        s.company_with_site("acme", "north");
        for p in [
            "armourer-1",
            "armourer-2",
            "guard-1",
            "guard-2",
            "witness-1",
            "witness-2",
        ] {
            s.guard(p, "acme", 365);
        }
        s
    }
}

/// Text literal helper.
pub fn text(s: &str) -> Text {
    v(s)
}

/// The opening of a test note: its salt derived from the text, so that test
/// ledgers and vectors stay byte-for-byte reproducible. Real notes use
/// [`crate::note::NoteOpening::random`].
pub fn opening(s: &str) -> crate::note::NoteOpening {
    let salt = crate::hash::Hash::of(&[b"armsledger:testkit-note-salt\0", s.as_bytes()]);
    crate::note::NoteOpening::new(text(s), salt.0)
}

/// A sealed note of `s` (see [`opening`]).
pub fn note(s: &str) -> crate::note::SealedNote {
    opening(s).seal()
}

/// Name literal helper.
pub fn name(s: &str) -> Name {
    v(s)
}

/// Ident literal helper.
pub fn ident(s: &str) -> Ident {
    v(s)
}

/// Location literal helper.
pub fn loc(s: &str) -> LocationId {
    v(s)
}

/// A signature of all zeros (for forgery tests).
pub const ZERO_SIG: Sig = Sig([0; 64]);

/// `n` entries of a busy armoury's mix, as the storage benchmark and the
/// store's compression dictionary use it: each day 40 issue/return cycles
/// with rounds, 20 storage moves, and every seventh day a serial-number
/// count in parts of 60 firearms, at site `north` of [`Scenario::standard`].
pub fn storage_mix(n: usize) -> Vec<Arc<SignedEntry>> {
    let mut s = Scenario::standard();
    let lot = s.receive("north", "L-1", 1_000_000_000);
    let guns: Vec<FirearmId> = (0..500)
        .map(|k| s.acquire("north", &format!("SN-{k:07}")).0)
        .collect();
    let mut rack = vec![false; guns.len()];
    let mut day = 0usize;
    while s.log.len() < n {
        for i in 0..40 {
            let Some(&gun) = guns.get((day * 40 + i) % guns.len()) else {
                continue;
            };
            let guard = if i % 2 == 0 { "guard-1" } else { "guard-2" };
            let issue = s.issue("north", gun, guard, lot, 30);
            s.return_all("north", &issue);
        }
        for i in 0..20 {
            let k = (day * 20 + i * 7) % guns.len();
            let (Some(&gun), Some(in_rack)) = (guns.get(k), rack.get_mut(k)) else {
                continue;
            };
            let (from, to) = if *in_rack {
                ("rack-1", "vault")
            } else {
                ("vault", "rack-1")
            };
            *in_rack = !*in_rack;
            s.site(
                "north",
                "armourer-1",
                SiteEvent::StorageMoved {
                    item: crate::model::Item::Firearm(gun),
                    from: v(from),
                    to: v(to),
                },
            );
        }
        if day % 7 == 6 {
            let parts: Vec<&[FirearmId]> = guns.chunks(60).collect();
            let total = u16::try_from(parts.len()).unwrap_or(u16::MAX);
            for (part, seen) in (1u16..).zip(&parts) {
                s.site(
                    "north",
                    "armourer-1",
                    SiteEvent::CountPerformed {
                        locations: vec![],
                        session: v(&format!("count-{day}")),
                        kind: crate::model::CountKind::SerialNumber,
                        part,
                        parts: total,
                        counters: vec![v("witness-1"), v("witness-2")],
                        firearms_seen: seen.to_vec(),
                        rounds_seen: vec![],
                    },
                );
            }
        }
        s.tick(Timestamp::DAY);
        day += 1;
    }
    s.log.truncate(n);
    s.log
}
