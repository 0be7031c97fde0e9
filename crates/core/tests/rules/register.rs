//! The lost-and-stolen register and trace requests: a hit on every receipt
//! is a critical alert naming both records, never a refusal; a trace request
//! runs from open to answered, or to overdue past its deadline.

use armsledger_core::event::{
    NoticeSource, NoticeWithdrawal, NoticedFirearm, RegulatorEvent, SiteEvent, TraceOutcome,
};
use armsledger_core::ids::Timestamp;
use armsledger_core::rules::state::RegisterSource;
use armsledger_core::rules::{RuleId, View};
use armsledger_core::testkit::{Scenario, v};

use crate::alerts::alerts_at;
use crate::common::verify;
use crate::fixtures::*;

fn notice(s: &mut Scenario, reference: &str, maker: &str, serial: &str) {
    s.regulator(RegulatorEvent::StolenNoticeRecorded {
        reference: v(reference),
        source: NoticeSource {
            agency: v("INTERPOL-ISTRAC"),
            country: armsledger_core::ids::Country::new("FR").unwrap(),
        },
        firearm: NoticedFirearm {
            manufacturer: v(maker),
            model: None,
            serial: v(serial),
        },
    });
}

#[test]
fn a_firearm_stolen_at_one_site_and_acquired_at_another_is_a_critical_hit_not_a_refusal() {
    let mut w = two_sites();
    let gun = w.gun;
    let theft = report_theft(&mut w, gun);
    // A clean acquisition at the other site raises no hit.
    w.s.acquire("south", "CLEAN-1");
    assert!(alerts_at(&w.s, w.s.now, RuleId::StolenHit).is_empty());
    check_quiet(&w.s);

    // The stolen pistol turns up at south, offered for acquisition.
    let (same, acq) = w.s.acquire("south", "AB-123");
    assert_eq!(same, gun);
    // Recorded as the truth (no refusal: no acquisition-valid finding) ...
    check_quiet(&w.s);
    let ver = verify(&w.s, View::Corrected);
    assert_eq!(ver.engine().state().firearms[&gun].site, v("south"));
    // ... and a critical alert naming both records.
    let a = alerts_at(&w.s, w.s.now, RuleId::StolenHit);
    assert_eq!(a.len(), 1, "{a:#?}");
    assert_eq!(a[0].entry, Some(acq.hash()));
    assert_eq!(a[0].site, Some(v("south")));
    assert_eq!(a[0].company, Some(v("bravo")));
    assert!(
        a[0].detail
            .starts_with("CRITICAL: firearm-acquired of firearm AB-123")
    );
    assert!(
        a[0].detail.contains(&theft.hash().short()),
        "{}",
        a[0].detail
    );
    assert!(
        a[0].detail.contains("reported by site north"),
        "{}",
        a[0].detail
    );
    let hits = &ver.engine().state().stolen_hits;
    assert_eq!(
        hits[0].matched,
        RegisterSource::LossReport {
            site: v("north"),
            entry: theft.hash(),
            kind: armsledger_core::model::LossKind::Theft
        }
    );
    // Handed to the police, the hit is settled.
    w.s.site("south", "armourer-2", seize(gun));
    assert!(alerts_at(&w.s, w.s.now, RuleId::StolenHit).is_empty());
}

#[test]
fn the_reporting_site_recovering_its_own_firearm_is_no_hit() {
    let mut w = world();
    let gun = w.gun;
    let theft = report_theft(&mut w, gun);
    north(
        &mut w,
        SiteEvent::Recovered {
            firearm: gun,
            report: theft.hash(),
            condition: armsledger_core::model::Condition::Serviceable,
            location: v("vault"),
        },
    );
    check_quiet(&w.s);
    assert!(alerts_at(&w.s, w.s.now, RuleId::StolenHit).is_empty());
    let ver = verify(&w.s, View::Corrected);
    assert!(ver.engine().state().lost_and_stolen().is_empty());
}

#[test]
fn a_police_notice_hits_an_acquisition_until_it_is_withdrawn() {
    let mut w = two_sites();
    notice(&mut w.s, "FR-2026-0042", "GLOCK", "xy 999");
    let ver = verify(&w.s, View::Corrected);
    assert_eq!(ver.engine().state().lost_and_stolen().len(), 1);
    // Another maker with the same serial is not the noticed firearm.
    let mut other = armsledger_core::testkit::pistol("XY-999");
    other.manufacturer = v("Beretta");
    acquire_identity(&mut w.s, other, "vault");
    assert!(alerts_at(&w.s, w.s.now, RuleId::StolenHit).is_empty());
    // The noticed one, typed differently, is a hit.
    let (_, acq) = w.s.acquire("south", "XY-999");
    let a = alerts_at(&w.s, w.s.now, RuleId::StolenHit);
    assert_eq!(a.len(), 1, "{a:#?}");
    assert_eq!(a[0].entry, Some(acq.hash()));
    assert!(
        a[0].detail
            .contains("notice FR-2026-0042 from INTERPOL-ISTRAC (FR)"),
        "{}",
        a[0].detail
    );
    check_quiet(&w.s);
    // Withdrawn, the notice leaves the register and hits nothing more.
    w.s.regulator(RegulatorEvent::StolenNoticeWithdrawn {
        reference: v("FR-2026-0042"),
        reason: NoticeWithdrawal::EnteredInError,
    });
    let ver = verify(&w.s, View::Corrected);
    assert!(ver.engine().state().lost_and_stolen().is_empty());
    w.s.acquire("north", "XY999");
    assert_eq!(alerts_at(&w.s, w.s.now, RuleId::StolenHit).len(), 1);
}

fn request(s: &mut Scenario, reference: &str, company: &str, days: u64) -> Timestamp {
    let deadline = s.now.plus(days * Timestamp::DAY);
    s.regulator(RegulatorEvent::TraceRequested {
        reference: v(reference),
        serial: v("AB 123"),
        company: v(company),
        deadline,
    });
    deadline
}

#[test]
fn a_trace_request_runs_from_open_to_answered() {
    let mut w = world();
    let deadline = request(&mut w.s, "TR-1", "acme", 7);
    let status = |w: &World, at: Timestamp| {
        verify(&w.s, View::Corrected)
            .engine()
            .state()
            .trace_requests[&v("TR-1")]
            .status(at)
            .to_string()
    };
    assert_eq!(status(&w, w.s.now), "open");
    let gun = w.gun;
    let answer = north(
        &mut w,
        SiteEvent::TraceAnswered {
            request: v("TR-1"),
            outcome: TraceOutcome::Held,
            firearms: vec![gun],
        },
    );
    check_quiet(&w.s);
    assert_eq!(status(&w, deadline.plus(Timestamp::DAY)), "answered");
    let ver = verify(&w.s, View::Corrected);
    let r = &ver.engine().state().trace_requests[&v("TR-1")];
    assert_eq!(r.answer.as_ref().map(|a| a.entry), Some(answer.hash()));
    assert!(alerts_at(&w.s, deadline.plus(1), RuleId::TraceOverdue).is_empty());
}

#[test]
fn a_trace_request_unanswered_past_its_deadline_is_overdue() {
    let mut w = world();
    let deadline = request(&mut w.s, "TR-2", "acme", 3);
    assert!(alerts_at(&w.s, deadline, RuleId::TraceOverdue).is_empty());
    let a = alerts_at(&w.s, deadline.plus(1), RuleId::TraceOverdue);
    assert_eq!(a.len(), 1, "{a:#?}");
    assert_eq!(a[0].company, Some(v("acme")));
    assert_eq!(a[0].at, deadline);
    let ver = verify(&w.s, View::Corrected);
    assert_eq!(
        ver.engine().state().trace_requests[&v("TR-2")].status(deadline.plus(1)),
        "overdue"
    );
}

#[test]
fn an_answer_to_a_request_addressed_elsewhere_or_unknown_is_a_finding() {
    let mut w = two_sites();
    request(&mut w.s, "TR-3", "bravo", 3);
    let wrong = north(
        &mut w,
        SiteEvent::TraceAnswered {
            request: v("TR-3"),
            outcome: TraceOutcome::NeverHeld,
            firearms: vec![],
        },
    );
    check_fires(&w.s, &wrong, &[RuleId::ReferenceExists]);
    let ver = verify(&w.s, View::Corrected);
    assert!(
        ver.engine().state().trace_requests[&v("TR-3")]
            .answer
            .is_none()
    );
}
