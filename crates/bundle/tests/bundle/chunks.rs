//! Bundles longer than one verification chunk (16,384 entries): the parallel
//! stage of one chunk overlaps the sequential pass of the one before, and no
//! verdict or location changes.

use std::sync::Arc;

use armsledger_bundle::{ProblemKind, Scope};
use armsledger_core::SignedEntry;
use armsledger_core::event::SiteEvent;
use armsledger_core::model::Item;
use armsledger_core::sig::Sig;
use armsledger_core::testkit::loc;

use crate::*;
use armsledger_testsupport::ed25519::mixed_order_signature;

#[test]
fn a_bundle_of_three_chunks_verifies_and_a_late_bad_signature_is_named() {
    let (mut s, gun) = world();
    let (other, _) = s.acquire("south", "ZZ-8");
    let mut forged_at = None;
    for i in 0..34_000 {
        // `gun` ends `world()` in rack-1.
        let (from, to) = if i % 2 == 0 {
            ("rack-1", "vault")
        } else {
            ("vault", "rack-1")
        };
        s.site(
            "north",
            "armourer-2",
            SiteEvent::StorageMoved {
                item: Item::Firearm(gun),
                from: loc(from),
                to: loc(to),
            },
        );
        if i == 25_000 {
            // The last south entry, so nothing after it depends on it.
            s.site(
                "south",
                "armourer-1",
                SiteEvent::StorageMoved {
                    item: Item::Firearm(other),
                    from: loc("vault"),
                    to: loc("rack-1"),
                },
            );
            forged_at = Some(s.log.len() - 1);
        }
    }
    let n = s.log.len();
    let bytes = bundle_of(&s, &memory_log(&s), &log_key(), Scope::All, None);
    let r = verify(&bytes);
    assert!(r.authentic(), "{:#?}", r.problems.first());
    assert_eq!(r.entries_checked, n as u64);
    assert_eq!(r.signatures.checked, n as u64);
    assert_eq!(r.signatures.batched, n as u64);

    let at = forged_at.unwrap();
    let honest = s.log[at].clone();
    let key = s.sites[&v("south")].signing_key().clone();
    let sig = mixed_order_signature(&key, &honest.signed_message());
    s.log[at] = Arc::new(
        SignedEntry::assemble(honest.header().clone(), Sig(sig), honest.body().clone()).unwrap(),
    );
    let bytes = bundle_of(&s, &memory_log(&s), &log_key(), Scope::All, None);
    let r = verify(&bytes);
    assert!(!r.authentic());
    assert_eq!(r.problems.len(), 1, "{:#?}", r.problems);
    let p = &r.problems[0];
    assert_eq!(p.kind, ProblemKind::Signature);
    assert_eq!(p.entry, Some(honest.hash()));
    assert_eq!(p.log_index, Some(at as u64));
    assert_eq!(r.entries_checked, n as u64 - 1);
}
