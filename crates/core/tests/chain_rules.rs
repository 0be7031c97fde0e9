//! Chain verification rules one by one: counters and declared gaps, device
//! time, event kind per chain, link sets, and which key may sign which chain
//! at which counter (enrolment window, retirement, revocation).

// Test helpers outside #[test] fns: clippy.toml's in-test allowances do not reach them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;

use armsledger_core::chain::CLOCK_TOLERANCE_MS;
use armsledger_core::entry::{ChainId, EntryBody, EntryHeader, Link, SignedEntry};
use armsledger_core::event::{Event, RegulatorEvent, SiteEvent, Subject};
use armsledger_core::hash::Hash;
use armsledger_core::ids::Timestamp;
use armsledger_core::model::{Condition, Item, RoundsBack};
use armsledger_core::rules::View;
use armsledger_core::sig::{Sig, Statement};
use armsledger_core::statements::{RetireBody, RetireStatement};
use armsledger_core::testkit::{Scenario, SoftSigner, enrolment, note, v};
use armsledger_core::{ChainError, LedgerVerifier};
use common::verify;

fn annotation(s: &Scenario) -> EntryBody {
    EntryBody {
        format: Default::default(),
        occurred_at: s.now,
        officer: v("armourer-1"),
        links: vec![],
        event: Event::Site(SiteEvent::Annotated {
            about: s.log[0].hash(),
            text: note("note"),
        }),
    }
}

/// Signs `header` (with the body's hash) by the north signer's key.
fn signed(s: &Scenario, mut header: EntryHeader, body: EntryBody) -> Arc<SignedEntry> {
    header.body_hash = body.hash().unwrap();
    let key = s.sites[&v("north")].signing_key();
    let sig = header.sign(key).unwrap();
    Arc::new(SignedEntry::assemble(header, sig, body).unwrap())
}

fn north_header(s: &Scenario, time: Timestamp) -> EntryHeader {
    s.sites[&v("north")].next_header(Hash::ZERO, time, 0)
}

fn with_pistol() -> Scenario {
    let mut s = Scenario::standard();
    s.acquire("north", "AB-123");
    s
}

#[test]
fn a_declared_gap_is_accepted_and_an_undeclared_one_is_not() {
    let s = with_pistol();
    let mut ver = verify(&s, View::Corrected);
    let head = ver.head(&ChainId::Site(v("north"))).unwrap().clone();

    // Counter 5 after 1, declaring prev_counter 1: values burned by power loss.
    let signer = &s.sites[&v("north")];
    let h = signer.next_header(Hash::ZERO, s.now, 3);
    assert_eq!(
        (h.counter, h.prev_counter),
        (head.counter + 4, head.counter)
    );
    let e = signed(&s, h, annotation(&s));
    let mut gap = ver.clone();
    gap.ingest(e, None).unwrap();

    // A prev_counter that is not the previous counter.
    let mut h = north_header(&s, s.now);
    h.prev_counter += 1;
    h.counter += 1;
    let e = signed(&s, h, annotation(&s));
    assert_eq!(
        ver.ingest(e, None).unwrap_err(),
        ChainError::PrevCounterMismatch {
            expected: head.counter,
            found: head.counter + 1
        }
    );

    // A counter that does not increase.
    let mut h = north_header(&s, s.now);
    h.counter = h.prev_counter;
    let e = signed(&s, h, annotation(&s));
    assert!(matches!(
        ver.ingest(e, None).unwrap_err(),
        ChainError::CounterNotIncreasing { .. }
    ));
    assert_eq!(ver.head(&ChainId::Site(v("north"))), Some(&head));
}

#[test]
fn device_time_may_step_back_only_within_the_tolerance() {
    let s = with_pistol();
    let ver = verify(&s, View::Corrected);
    let last = s.log.last().unwrap().header().device_time;

    let ok = signed(
        &s,
        north_header(&s, last.minus(CLOCK_TOLERANCE_MS)),
        annotation(&s),
    );
    ver.clone().ingest(ok, None).unwrap();

    let late = last.minus(CLOCK_TOLERANCE_MS + 1);
    let bad = signed(&s, north_header(&s, late), annotation(&s));
    assert_eq!(
        ver.clone().ingest(bad, None).unwrap_err(),
        ChainError::TimeRegressed {
            time: late,
            previous: last
        }
    );
}

#[test]
fn events_belong_to_their_chain_and_links_name_exactly_their_subjects() {
    let mut s = Scenario::standard();
    let (gun, acq) = s.acquire("north", "AB-123");
    let lot = s.receive("north", "L-1", 100);
    let lot2 = s.receive("north", "L-2", 100);
    let ver = verify(&s, View::Corrected);

    // A regulator event signed onto a site chain.
    let body = EntryBody {
        format: Default::default(),
        occurred_at: s.now,
        officer: v("armourer-1"),
        links: vec![],
        event: Event::Regulator(RegulatorEvent::ComplaintResolved {
            reference: v("C-1"),
            outcome: armsledger_core::oversight::ComplaintOutcome::Withdrawn,
            note: armsledger_core::testkit::note("x"),
        }),
    };
    let e = signed(&s, north_header(&s, s.now), body);
    assert!(matches!(
        ver.clone().ingest(e, None).unwrap_err(),
        ChainError::WrongEventForChain { .. }
    ));

    // A move of the pistol that does not link it.
    let mv = SiteEvent::StorageMoved {
        item: Item::Firearm(gun),
        from: v("vault"),
        to: v("rack-1"),
    };
    let body = EntryBody {
        format: Default::default(),
        occurred_at: s.now,
        officer: v("armourer-1"),
        links: vec![],
        event: Event::Site(mv.clone()),
    };
    let e = signed(&s, north_header(&s, s.now), body);
    assert_eq!(
        ver.clone().ingest(e, None).unwrap_err(),
        ChainError::LinksMismatch
    );

    // Links out of order (subjects are sorted).
    let ret = SiteEvent::Returned {
        incident: None,
        issue: acq.hash(),
        firearm: gun,
        condition: Condition::Serviceable,
        ammunition: vec![
            RoundsBack {
                lot,
                returned: 1,
                expended: 0,
            },
            RoundsBack {
                lot: lot2,
                returned: 1,
                expended: 0,
            },
        ],
        location: v("vault"),
    };
    let mut links = s.links(&v("north"), &ret);
    assert_eq!(links.len(), 3);
    links.reverse();
    let body = EntryBody {
        format: Default::default(),
        occurred_at: s.now,
        officer: v("armourer-1"),
        links,
        event: Event::Site(ret),
    };
    let e = signed(&s, north_header(&s, s.now), body);
    assert_eq!(
        ver.clone().ingest(e, None).unwrap_err(),
        ChainError::LinksMismatch
    );

    // The same move with a link to an unrelated subject as well.
    let body = EntryBody {
        format: Default::default(),
        occurred_at: s.now,
        officer: v("armourer-1"),
        links: vec![
            Link {
                subject: Subject::Firearm(gun),
                prev: Some(acq.hash()),
            },
            Link {
                subject: Subject::Lot(lot),
                prev: None,
            },
        ],
        event: Event::Site(mv),
    };
    let e = signed(&s, north_header(&s, s.now), body);
    assert_eq!(
        ver.clone().ingest(e, None).unwrap_err(),
        ChainError::LinksMismatch
    );
}

#[test]
fn a_key_signs_only_for_its_own_site() {
    let mut s = with_pistol();
    s.company_with_site("bravo", "south");
    let ver = verify(&s, View::Corrected);
    let north = s.sites[&v("north")].clone();

    // South's device signing an entry for north's chain, as itself.
    let mut south = s.sites[&v("south")].clone();
    south.chain = ChainId::Site(v("north"));
    south.head = north.head;
    let e = Arc::new(south.sign(annotation(&s), s.now));
    assert_eq!(
        ver.clone().ingest(e, None).unwrap_err(),
        ChainError::KeyUnknown
    );

    // ...or claiming to be north's device.
    south.device = north.device.clone();
    let e = Arc::new(south.sign(annotation(&s), s.now));
    assert_eq!(
        ver.clone().ingest(e, None).unwrap_err(),
        ChainError::BadSignature
    );
}

#[test]
fn an_enrolment_must_be_attested_for_that_site() {
    let mut s = Scenario::standard();
    // An attestation made for north, presented as the enrolment of a key for `west`.
    s.regulator(RegulatorEvent::SiteRegistered {
        site: v("west"),
        company: v("acme"),
        name: v("west armoury"),
        approval: v("ARM-west"),
        locations: vec![v("vault")],
    });
    let signer = SoftSigner::new("site-west", ChainId::Site(v("west")));
    let root = s.root.clone();
    let mut ev = enrolment(&signer, &v("north"), &root);
    if let RegulatorEvent::DeviceKeyEnrolled { site, .. } = &mut ev {
        *site = v("west");
    }
    let e = s.regulator(ev);
    let mut ver = LedgerVerifier::new(s.regulator_key(), vec![s.root_key()], View::Corrected);
    for x in &s.log[..s.log.len() - 1] {
        ver.ingest(x.clone(), None).unwrap();
    }
    assert_eq!(
        ver.clone().ingest(e.clone(), None).unwrap_err(),
        ChainError::BadEnrolment
    );
    // Without manufacturer roots the attestation is not checked at all.
    let mut open = LedgerVerifier::new(s.regulator_key(), vec![], View::Corrected);
    for x in &s.log {
        open.ingest(x.clone(), None).unwrap();
    }
}

/// North signs entries 2..=n (after its acquisition at 1).
fn north_entries(s: &mut Scenario, n: u64) -> Vec<Arc<SignedEntry>> {
    let about = s.log[0].hash();
    (0..n)
        .map(|i| {
            s.site(
                "north",
                "armourer-1",
                SiteEvent::Annotated {
                    about,
                    text: note(&format!("note {i}")),
                },
            )
        })
        .collect()
}

fn revoke(s: &mut Scenario, after: u64) {
    let key = s.sites[&v("north")].public_key();
    s.regulator(RegulatorEvent::DeviceKeyRevoked {
        site: v("north"),
        public_key: key,
        after_counter: after,
        reason: note("device reported stolen"),
    });
}

fn retire(s: &mut Scenario, final_counter: u64, valid_signature: bool) {
    let north = &s.sites[&v("north")];
    let body = RetireBody {
        chain: north.chain.clone(),
        device: north.device.clone(),
        key_epoch: north.key_epoch,
        public_key: north.public_key(),
        final_counter,
        final_head: north.head.1,
    };
    let signature = if valid_signature {
        body.sign(north.signing_key()).unwrap()
    } else {
        Sig([0; 64])
    };
    s.regulator(RegulatorEvent::DeviceKeyRetired {
        site: v("north"),
        statement: RetireStatement { body, signature },
    });
}

#[test]
fn a_revoked_key_signs_nothing_after_its_last_valid_counter() {
    let mut s = with_pistol();
    revoke(&mut s, 2);
    let later = north_entries(&mut s, 2);
    let mut ver = LedgerVerifier::new(s.regulator_key(), vec![s.root_key()], View::Corrected);
    let n = s.log.len();
    for e in &s.log[..n - 1] {
        ver.ingest(e.clone(), None).unwrap();
    }
    assert_eq!(later[0].counter(), 2);
    assert_eq!(
        ver.ingest(later[1].clone(), None).unwrap_err(),
        ChainError::KeyRevoked { after_counter: 2 }
    );
}

#[test]
fn a_retired_key_signs_nothing_after_its_final_counter() {
    let mut s = with_pistol();
    retire(&mut s, 1, true);
    let later = north_entries(&mut s, 1);
    let mut ver = LedgerVerifier::new(s.regulator_key(), vec![s.root_key()], View::Corrected);
    let n = s.log.len();
    for e in &s.log[..n - 1] {
        ver.ingest(e.clone(), None).unwrap();
    }
    assert_eq!(
        ver.ingest(later[0].clone(), None).unwrap_err(),
        ChainError::KeyRetired { final_counter: 1 }
    );
}

#[test]
fn a_key_enrolled_from_a_later_counter_cannot_sign_earlier_ones() {
    let mut s = Scenario::new();
    s.company_with_site("acme", "north");
    // Re-enrol north's key on epoch 2 from counter 10 (no manufacturer check).
    let mut signer = s.sites[&v("north")].clone();
    signer.key_epoch = 2;
    let root = s.root.clone();
    let mut ev = enrolment(&signer, &v("north"), &root);
    if let RegulatorEvent::DeviceKeyEnrolled { counter_start, .. } = &mut ev {
        *counter_start = 10;
    }
    s.regulator(ev);
    s.sites.insert(v("north"), signer);
    let e = north_entries(&mut s, 1).remove(0);
    let mut ver = LedgerVerifier::new(s.regulator_key(), vec![], View::Corrected);
    let n = s.log.len();
    for x in &s.log[..n - 1] {
        ver.ingest(x.clone(), None).unwrap();
    }
    assert_eq!(
        ver.ingest(e, None).unwrap_err(),
        ChainError::KeyNotYetValid { counter_start: 10 }
    );
}

#[test]
fn a_revocation_later_in_the_log_names_the_entries_it_invalidates() {
    // The device is stolen after counter 2; its entries 3 and 4 were synced
    // before the regulator revoked it "after counter 2".
    let mut s = with_pistol();
    let signed = north_entries(&mut s, 3);
    revoke(&mut s, 2);
    let ver = verify(&s, View::Corrected);
    let invalid: Vec<Hash> = signed
        .iter()
        .filter(|e| e.counter() > 2)
        .map(|e| e.hash())
        .collect();
    assert_eq!(invalid.len(), 2);
    let flagged: Vec<Hash> = ver.engine().findings().iter().map(|f| f.entry).collect();
    for h in &invalid {
        assert!(
            flagged.contains(h),
            "entry {h:?} signed after the revocation counter is neither refused nor flagged"
        );
    }
}

#[test]
fn a_retirement_needs_the_keys_own_statement() {
    let mut s = with_pistol();
    retire(&mut s, 1, false);
    let e = s.log.last().unwrap().clone();
    let mut ver = LedgerVerifier::new(s.regulator_key(), vec![s.root_key()], View::Corrected);
    for x in &s.log[..s.log.len() - 1] {
        ver.ingest(x.clone(), None).unwrap();
    }
    assert!(
        ver.ingest(e, None).is_err(),
        "retirement without the key's own signature was accepted"
    );
}
