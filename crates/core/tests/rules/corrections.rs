//! Corrections: the corrected view replays history with each superseded
//! event replaced; the original view ignores them; a correction that may
//! not apply is a finding and changes nothing.

use armsledger_core::event::{Event, SiteEvent};
use armsledger_core::model::Holder;
use armsledger_core::rules::state::FirearmState;
use armsledger_core::rules::{RuleId, View};
use armsledger_core::testkit::{note, v};

use crate::common::{findings, verify};
use crate::fixtures::*;

#[test]
fn an_approved_identity_correction_shows_in_the_corrected_view_only() {
    let mut w = gun_only();
    let (gun, acq) = (w.gun, w.acq.clone());
    let corr = north(
        &mut w,
        correction_of_acquisition(&acq, "AB-128", Some("armourer-2")),
    );
    let s = w.s;
    check_quiet(&s);

    let corrected = verify(&s, View::Corrected);
    let st = corrected.engine().state();
    assert_eq!(st.firearms[&gun].identity.serial.as_str(), "AB-128");
    assert_eq!(st.firearms[&gun].acquired, acq.hash());
    assert_eq!(st.find_serial("ab 128").count(), 1);
    assert_eq!(st.find_serial("AB-123").count(), 0);
    assert_eq!(
        corrected.engine().corrections().collect::<Vec<_>>(),
        vec![(&acq.hash(), &corr.hash())]
    );

    let original = verify(&s, View::Original);
    let st = original.engine().state();
    assert_eq!(st.firearms[&gun].identity.serial.as_str(), "AB-123");
    assert_eq!(st.find_serial("AB128").count(), 0);
    assert_eq!(original.engine().corrections().count(), 0);

    // The superseded entry stays in the log and in the index of entries.
    assert!(s.log.iter().any(|e| e.hash() == acq.hash()));
    for ver in [&corrected, &original] {
        let meta = ver.engine().state().entries.get(&acq.hash()).unwrap();
        assert_eq!(meta.kind, "firearm-acquired");
        assert_eq!(meta.counter, acq.counter());
        assert!(ver.engine().state().entries.contains_key(&corr.hash()));
    }
}

#[test]
fn a_correction_that_keeps_the_identity_needs_no_approver() {
    let mut w = gun_only();
    let Event::Site(SiteEvent::FirearmAcquired {
        identity,
        source,
        authorisation,
        ..
    }) = w.acq.body().event.clone()
    else {
        unreachable!()
    };
    let ev = SiteEvent::Corrected {
        supersedes: w.acq.hash(),
        reason: note("stored in the rack, not the vault"),
        approver: None,
        corrected: Box::new(SiteEvent::FirearmAcquired {
            firearm: w.gun,
            identity,
            source,
            authorisation,
            location: v("rack-1"),
        }),
    };
    north(&mut w, ev);
    check_quiet(&w.s);
    let ver = verify(&w.s, View::Corrected);
    assert_eq!(
        ver.engine().state().firearms[&w.gun].state,
        FirearmState::InStore {
            location: v("rack-1")
        }
    );
}

#[test]
fn correcting_an_old_issue_replays_later_history_consistently() {
    let mut w = world();
    let i = issue(&mut w, "guard-1", 30);
    returned(&mut w, &i, 30, 0);
    let Event::Site(mut ev) = i.body().event.clone() else {
        unreachable!()
    };
    if let SiteEvent::Issued { post, .. } = &mut ev {
        *post = v("gate-4");
    }
    let fix = SiteEvent::Corrected {
        supersedes: i.hash(),
        reason: note("wrong post"),
        approver: None,
        corrected: Box::new(ev),
    };
    north(&mut w, fix);
    check_quiet(&w.s);
    for view in [View::Corrected, View::Original] {
        let ver = verify(&w.s, view);
        let st = ver.engine().state();
        assert!(st.open_issues.is_empty(), "{view:?}");
        assert!(matches!(
            st.firearms[&w.gun].state,
            FirearmState::InStore { .. }
        ));
        assert_eq!(st.in_store(&v("north"), &w.lot), 500, "{view:?}");
        assert_eq!(
            st.balance(&v("north"), &w.lot, &Holder::Person(v("guard-1"))),
            0
        );
    }
}

#[test]
fn a_correction_from_another_chain_is_a_finding_and_changes_nothing() {
    let mut w = two_sites();
    let ev = correction_of_acquisition(&w.acq, "XX-999", Some("armourer-1"));
    let e = south(&mut w, ev);
    check_fires(&w.s, &e, &[RuleId::ReferenceExists]);
    let ver = verify(&w.s, View::Corrected);
    assert_eq!(
        ver.engine().state().firearms[&w.gun]
            .identity
            .serial
            .as_str(),
        "AB-123",
        "south rewrote north's acquisition"
    );
    assert_eq!(ver.engine().corrections().count(), 0);
}

#[test]
fn a_correction_cannot_change_a_firearms_ledger_id() {
    let mut w = world();
    let acq = w.acq.clone();
    issue(&mut w, "guard-1", 0);
    // The corrected acquisition carries the id derived from the new serial.
    let mut ev = correction_of_acquisition(&acq, "AB-128", Some("armourer-2"));
    if let SiteEvent::Corrected { corrected, .. } = &mut ev
        && let SiteEvent::FirearmAcquired {
            firearm, identity, ..
        } = corrected.as_mut()
    {
        *firearm = identity.id();
    }
    let e = north(&mut w, ev);
    let f = findings(&w.s);
    assert!(
        f.iter().any(|x| x.entry == e.hash()),
        "an id-changing correction raised nothing"
    );
    let ver = verify(&w.s, View::Corrected);
    assert!(
        ver.engine().state().firearms.contains_key(&w.gun),
        "the pistol's history now names a firearm the state does not have"
    );
}
