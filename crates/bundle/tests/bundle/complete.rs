//! What a bundle proves about completeness (issue 13): a full bundle proves
//! every chain complete up to its checkpoint; a scoped bundle or a dossier
//! proves only that no middle entry is missing, so dropping the newest
//! entries still verifies, and the report says so, naming each chain, with a
//! warning. A dropped middle entry is still named as a gap.

use armsledger_bundle::{Completeness, ProofBasis, Record, Report, Scope, WarningKind};
use armsledger_core::event::RegulatorEvent;
use armsledger_core::testkit::{Scenario, note, v};
use armsledger_core::{ChainId, SignedEntry};

use crate::*;

/// The world, then the regulator bars guard-1: the regulator chain's newest
/// entry is one a relay would like to cut off.
fn world_with_bar() -> (Scenario, armsledger_core::model::FirearmId) {
    let (mut s, gun) = world();
    s.regulator(RegulatorEvent::PersonBarred {
        person: v("guard-1"),
        reason: note("misconduct"),
        until: None,
    });
    (s, gun)
}

/// Records of `bytes` without the entries `drop` picks (and the records
/// that follow each: inclusion proof, findings, equivocation).
fn without(bytes: &[u8], drop: impl Fn(&SignedEntry) -> bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut skipping = false;
    for r in records(bytes) {
        match &r {
            Record::Entry(_) => skipping = drop(&entry_of(&r).unwrap()),
            Record::End(_) => skipping = false,
            Record::Inclusion(_) | Record::Finding(_) | Record::Equivocation(_) => {}
            _ => skipping = false,
        }
        if !skipping {
            out.push(r);
        }
    }
    frame(&out)
}

fn chain<'r>(r: &'r Report, name: &str) -> &'r armsledger_bundle::ChainSummary {
    r.chains
        .iter()
        .find(|c| c.chain == name)
        .unwrap_or_else(|| panic!("no chain {name} in {:#?}", r.chains))
}

fn warned(r: &Report, subject: &str) -> bool {
    r.warnings
        .iter()
        .any(|w| w.kind == WarningKind::EndUnproven && w.subject.as_deref() == Some(subject))
}

#[test]
fn a_full_bundle_proves_every_chain_complete_and_warns_of_nothing() {
    let (s, _) = world_with_bar();
    let log = memory_log(&s);
    let r = verify(&bundle_of(&s, &log, &log_key(), Scope::All, None));
    assert!(r.authentic(), "{:#?}", r.problems);
    assert_eq!(r.scope.as_deref(), Some("all"));
    assert!(r.chains.len() >= 3);
    for c in &r.chains {
        assert_eq!(
            c.completeness,
            Completeness::Proven {
                basis: ProofBasis::FullLog
            },
            "{}",
            c.chain
        );
    }
    assert!(r.warnings.is_empty(), "{:#?}", r.warnings);
}

#[test]
fn a_site_bundle_cut_short_still_verifies_and_says_its_ends_are_unproven() {
    let (s, _) = world_with_bar();
    let log = memory_log(&s);
    let bytes = bundle_of(&s, &log, &log_key(), Scope::Site(v("north")), None);
    let whole = verify(&bytes);
    assert!(whole.authentic(), "{:#?}", whole.problems);
    // Even whole, a site bundle cannot show its chains end where they do.
    for name in ["regulator", "site:north"] {
        assert_eq!(
            chain(&whole, name).completeness,
            Completeness::NoGapsEndUnproven
        );
        assert!(warned(&whole, name), "{name}: {:#?}", whole.warnings);
    }
    let north_head = chain(&whole, "site:north").head_counter.unwrap();
    let reg_head = chain(&whole, "regulator").head_counter.unwrap();

    // Drop north's three newest entries and the regulator's bar.
    let cut = without(&bytes, |e| match e.chain() {
        ChainId::Site(site) => *site == v("north") && e.counter() + 3 > north_head,
        ChainId::Regulator => e.counter() == reg_head,
    });
    let r = verify(&cut);
    assert!(
        r.authentic(),
        "cut at the end, nothing shows: {:#?}",
        r.problems
    );
    assert_eq!(chain(&r, "site:north").head_counter, Some(north_head - 3));
    assert_eq!(chain(&r, "regulator").head_counter, Some(reg_head - 1));
    for name in ["regulator", "site:north"] {
        assert!(warned(&r, name), "{name}: {:#?}", r.warnings);
    }
    let reg = r
        .warnings
        .iter()
        .find(|w| w.subject.as_deref() == Some("regulator"))
        .unwrap();
    assert!(
        reg.message.contains("revocation")
            && reg.message.contains(&format!("counter {}", reg_head - 1)),
        "{}",
        reg.message
    );

    // A dropped middle entry is a named gap, as before.
    let gap = without(&bytes, |e| {
        *e.chain() == ChainId::Site(v("north")) && e.counter() == 3
    });
    let r = verify(&gap);
    assert!(!r.authentic());
    let p = of_kind(&r, armsledger_bundle::ProblemKind::Chain);
    assert!(
        p.iter()
            .any(|p| p.chain.as_deref() == Some("site:north") && p.counter == Some(4)),
        "{p:#?}"
    );
}

#[test]
fn a_site_bundle_with_every_site_entry_dropped_still_lists_the_chain() {
    let (s, _) = world();
    let log = memory_log(&s);
    let bytes = bundle_of(&s, &log, &log_key(), Scope::Site(v("north")), None);
    let cut = without(&bytes, |e| *e.chain() == ChainId::Site(v("north")));
    let r = verify(&cut);
    assert!(r.authentic(), "{:#?}", r.problems);
    let c = chain(&r, "site:north");
    assert_eq!((c.entries, c.head_counter), (0, None));
    assert!(warned(&r, "site:north"));
}

#[test]
fn a_company_bundle_lists_every_site_of_the_company() {
    let (s, _) = world();
    let log = memory_log(&s);
    let r = verify(&bundle_of(
        &s,
        &log,
        &log_key(),
        Scope::Company(v("acme")),
        None,
    ));
    assert!(r.authentic(), "{:#?}", r.problems);
    assert!(warned(&r, "regulator") && warned(&r, "site:north"));
    assert!(r.chains.iter().all(|c| c.chain != "site:south"));
}

#[test]
fn a_dossier_cut_short_still_verifies_and_says_the_weapon_end_is_unproven() {
    let (s, gun) = world_with_bar();
    let log = memory_log(&s);
    let bytes = bundle_of(&s, &log, &log_key(), Scope::Firearm(gun), None);
    let whole = verify(&bytes);
    assert!(whole.authentic(), "{:#?}", whole.problems);
    let d = whole.dossier.as_ref().unwrap();
    assert_eq!(d.completeness, Completeness::NoGapsEndUnproven);
    let subject = format!("firearm:{gun}");
    assert!(warned(&whole, &subject), "{:#?}", whole.warnings);
    assert!(warned(&whole, "regulator"));
    // The site chains of a dossier are excerpts, by design.
    assert_eq!(
        chain(&whole, "site:north").completeness,
        Completeness::Excerpt
    );

    // Drop the weapon's two newest events: still authentic, still warned.
    let events: Vec<_> = records(&bytes)
        .iter()
        .filter_map(entry_of)
        .filter(|e| matches!(e.chain(), ChainId::Site(_)))
        .collect();
    let last_two: Vec<_> = events.iter().rev().take(2).map(|e| e.hash()).collect();
    let r = verify(&without(&bytes, |e| last_two.contains(&e.hash())));
    assert!(r.authentic(), "{:#?}", r.problems);
    assert_eq!(r.dossier.as_ref().unwrap().events, d.events - 2);
    assert!(warned(&r, &subject));

    // A dropped middle event is named as a gap.
    let middle = events[2].hash();
    let r = verify(&without(&bytes, |e| e.hash() == middle));
    assert!(!r.authentic());
    assert!(
        !of_kind(&r, armsledger_bundle::ProblemKind::Dossier).is_empty(),
        "{:#?}",
        r.problems
    );
}

/// A lot dossier written offline (`write_bundle`, as the server writes
/// one): every act of the lot, checked per site; a dropped middle act is a
/// gap naming the site, a dropped last act only leaves that site's end
/// unproven (no index proof in a bundle written without an index).
#[test]
fn a_lot_dossier_is_checked_per_site() {
    let j = armsledger_core::testkit::LotJourney::new();
    let log = memory_log(&j.scenario);
    let bytes = bundle_of(&j.scenario, &log, &log_key(), Scope::Lot(j.lot), None);
    let whole = verify(&bytes);
    assert!(whole.authentic(), "{:#?}", whole.problems);
    let lot = whole.lot_dossier.as_ref().unwrap();
    assert_eq!(lot.completeness, Completeness::NoGapsEndUnproven);
    assert!(warned(&whole, &format!("lot:{}", j.lot)));
    assert!(whole.dossier.is_none());
    let held: Vec<_> = records(&bytes)
        .iter()
        .filter_map(entry_of)
        .filter(|e| matches!(e.chain(), ChainId::Site(_)))
        .map(|e| e.hash())
        .collect();
    assert_eq!(held, j.acts.iter().map(|e| e.hash()).collect::<Vec<_>>());
    assert_eq!(
        chain(&whole, "site:south").completeness,
        Completeness::Excerpt
    );

    // South's issue dropped: south's return links to it.
    let south: Vec<_> = j
        .acts
        .iter()
        .filter(|e| e.chain().to_string() == "site:south")
        .map(|e| e.hash())
        .collect();
    let r = verify(&without(&bytes, |e| e.hash() == south[1]));
    assert!(!r.authentic());
    let gap = of_kind(&r, armsledger_bundle::ProblemKind::Dossier);
    assert_eq!(gap.len(), 1, "{:#?}", r.problems);
    assert!(
        gap[0].reason.contains("site:south") && gap[0].reason.contains(&short(&south[1])),
        "{}",
        gap[0].reason
    );
    // Quiet: a count (south's, not linked) dropped is no gap.
    let count = j
        .acts
        .iter()
        .find(|e| e.body().links.is_empty())
        .map(|e| e.hash())
        .expect("the journey's count at south links nothing");
    let r = verify(&without(&bytes, |e| e.hash() == count));
    assert!(r.authentic(), "{:#?}", r.problems);
    assert_eq!(r.lot_dossier.as_ref().unwrap().events, lot.events);
}
