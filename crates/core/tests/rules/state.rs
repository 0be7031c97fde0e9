//! What the folded state shows around some findings and legal acts: one
//! site's entries never change another site's custody record; expenditures
//! and cancellations settle balances; a dangling link is no evidence at all.

use armsledger_core::ChainError;
use armsledger_core::LedgerVerifier;
use armsledger_core::event::SiteEvent;
use armsledger_core::ids::Timestamp;
use armsledger_core::model::{AmmoLine, Condition, ExpenditureReason, Holder, Item};
use armsledger_core::rules::state::{FirearmState, TransferStatus};
use armsledger_core::rules::{RuleId, View};
use armsledger_core::testkit::{note, v};

use crate::alerts::alerts_at;
use crate::common::{bogus_hash, findings, verify};
use crate::fixtures::*;

#[test]
fn rounds_expended_during_an_issue_reduce_what_the_return_owes() {
    let mut w = world();
    let i = issue(&mut w, "guard-1", 30);
    let ev = expended(w.lot, 5, ExpenditureReason::Training, None, &i);
    north(&mut w, ev);
    let ok = returned(&mut w, &i, 25, 0);
    let f = findings(&w.s);
    assert!(f.is_empty(), "{f:#?}");
    let st = verify(&w.s, View::Corrected);
    let st = st.engine().state();
    assert_eq!(st.in_store(&v("north"), &w.lot), 495);
    assert_eq!(
        st.balance(&v("north"), &w.lot, &Holder::Person(v("guard-1"))),
        0
    );
    assert!(st.open_issues.is_empty(), "{:?} left open", ok.hash());
}

#[test]
fn a_transfer_can_be_cancelled_once_by_its_sender() {
    let mut w = two_sites();
    let out = transfer_out(&mut w, 20);
    north(&mut w, cancel(&out, "rack-1"));
    check_quiet(&w.s);
    let ver = verify(&w.s, View::Corrected);
    let st = ver.engine().state();
    assert_eq!(
        st.firearms[&w.gun].state,
        FirearmState::InStore {
            location: v("rack-1")
        }
    );
    assert_eq!(
        st.balance(&v("north"), &w.lot, &Holder::Store(v("rack-1"))),
        20
    );
    assert_eq!(st.in_store(&v("north"), &w.lot), 500);
    // A late acknowledgement of the cancelled transfer is refused.
    let gun = w.gun;
    let e = transfer_in(&mut w, &out, vec![gun], 0);
    check_fires(&w.s, &e, &[RuleId::TransferMatches]);
}

#[test]
fn only_the_sender_can_cancel_a_transfer() {
    let mut w = two_sites();
    let out = transfer_out(&mut w, 20);
    let e = south(&mut w, cancel(&out, "vault"));
    check_fires(&w.s, &e, &[RuleId::TransferMatches]);
    let ver = verify(&w.s, View::Corrected);
    let st = ver.engine().state();
    assert_eq!(st.transfers[&out.hash()].status, TransferStatus::Pending);
    assert!(matches!(
        st.firearms[&w.gun].state,
        FirearmState::InTransit { .. }
    ));
    assert_eq!(
        st.in_store(&v("south"), &w.lot),
        0,
        "rounds booked into south's store"
    );
}

#[test]
fn another_sites_return_does_not_close_this_sites_issue() {
    let mut w = two_sites();
    let i = issue(&mut w, "guard-1", 0);
    let ev = SiteEvent::Returned {
        incident: None,
        issue: i.hash(),
        firearm: w.gun,
        condition: Condition::Serviceable,
        ammunition: vec![],
        location: v("vault"),
    };
    let e = south(&mut w, ev);
    check_fires(&w.s, &e, &[RuleId::ReturnMatchesIssue]);
    let ver = verify(&w.s, View::Corrected);
    let st = ver.engine().state();
    assert!(
        st.open_issues.contains_key(&i.hash()),
        "north's issue was closed by south"
    );
    assert!(matches!(
        st.firearms[&w.gun].state,
        FirearmState::Issued { .. }
    ));
}

#[test]
fn another_sites_loss_update_does_not_silence_this_sites_alert() {
    let mut w = two_sites();
    let ev = loss(w.gun, None, None, w.s.now);
    let report = north(&mut w, ev);
    let update = SiteEvent::LossReportUpdated {
        circumstances: None,
        report: report.hash(),
        police_ref: Some(v("CAS-X")),
        regulator_ref: Some(v("REG-X")),
    };
    let e = south(&mut w, update);
    check_fires(&w.s, &e, &[RuleId::ReferenceExists]);
    let later = report.header().device_time.plus(49 * Timestamp::HOUR);
    assert_eq!(
        alerts_at(&w.s, later, RuleId::LossReferencesMissing).len(),
        1,
        "south's update cleared north's missing references"
    );
}

#[test]
fn a_link_to_an_event_that_does_not_exist_is_refused() {
    let mut w = gun_only();
    let bad = move_with_link(
        &mut w.s,
        w.gun,
        "vault",
        "rack-1",
        Some(bogus_hash("nowhere")),
    );
    let s = w.s;
    let mut ver = LedgerVerifier::new(s.regulator_key(), vec![s.root_key()], View::Corrected);
    let n = s.log.len();
    for e in &s.log[..n - 1] {
        ver.ingest(e.clone(), None).unwrap();
    }
    let err = ver.ingest(bad.clone(), None).unwrap_err();
    assert!(
        matches!(err, ChainError::DanglingLink { prev, .. } if prev == bogus_hash("nowhere")),
        "{err:?}"
    );
    assert_eq!(
        ver.head(bad.chain()).map(|h| h.counter),
        Some(bad.counter() - 1)
    );
}

#[test]
fn a_seizure_closes_the_open_issue_and_a_recovery_brings_it_back() {
    let mut w = world();
    let i = issue(&mut w, "guard-1", 0);
    let gun = w.gun;
    let seized = north(&mut w, seize(gun));
    let ver = verify(&w.s, View::Corrected);
    assert!(!ver.engine().state().open_issues.contains_key(&i.hash()));
    north(&mut w, recover(gun, &seized));
    check_quiet(&w.s);
    let ver = verify(&w.s, View::Corrected);
    assert!(matches!(
        ver.engine().state().firearms[&gun].state,
        FirearmState::InStore { .. }
    ));
}

#[test]
fn rounds_a_guard_loses_come_out_of_the_guards_holding() {
    let mut w = world();
    let i = issue(&mut w, "guard-1", 30);
    let lot = w.lot;
    let now = w.s.now;
    north(
        &mut w,
        SiteEvent::LossReported {
            items: vec![Item::Rounds(AmmoLine { lot, rounds: 5 })],
            kind: armsledger_core::model::LossKind::Loss,
            holder: Some(v("guard-1")),
            discovered_at: now,
            circumstances: note("magazine lost on patrol"),
            police_ref: Some(v("CAS-5")),
            regulator_ref: Some(v("REG-5")),
        },
    );
    let ver = verify(&w.s, View::Corrected);
    let st = ver.engine().state();
    assert_eq!(
        st.balance(&v("north"), &lot, &Holder::Person(v("guard-1"))),
        25
    );
    assert_eq!(st.in_store(&v("north"), &lot), 470);
    // The return owes only the 25 left: no shortfall.
    returned(&mut w, &i, 25, 0);
    check_quiet(&w.s);
    let ver = verify(&w.s, View::Corrected);
    assert!(ver.engine().state().discrepancies.is_empty());
}

#[test]
fn serials_differing_only_by_separators_are_two_firearms_and_search_lists_both() {
    let mut w = gun_only();
    let (a, _) = w.s.acquire("north", "XY-12345");
    let (b, _) = w.s.acquire("north", "XY1-2345");
    assert_ne!(a, b);
    check_quiet(&w.s);
    let ver = verify(&w.s, View::Corrected);
    assert_eq!(ver.engine().find_serial("xy 12345"), {
        let mut v = vec![a, b];
        v.sort();
        v
    });
}
