//! The regulator's oversight acts in the folded state (issue 18): a
//! suspension refuses an issue while the stock may still go to the police,
//! and a reinstatement lifts it; inspections, findings, sanctions and
//! complaints are kept by reference; a regulator entry is corrected as a
//! site's is, in the corrected view only.

use armsledger_core::event::{CompanyStatus, RegulatorEvent};
use armsledger_core::ids::Timestamp;
use armsledger_core::model::{Counterparty, ExitKind, Item};
use armsledger_core::oversight::{
    ComplaintOutcome, InspectionStage, Respondent, Sanction, Severity, VettingOutcome,
};
use armsledger_core::rules::{RuleId, View};
use armsledger_core::testkit::{note, v};

use crate::common::{issued, verify};
use crate::fixtures::world;

fn rules_of(v: &[armsledger_core::rules::Violation]) -> Vec<RuleId> {
    v.iter().map(|x| x.rule).collect()
}

#[test]
fn a_suspension_refuses_an_issue_not_a_hand_over_and_reinstatement_lifts_it() {
    let mut w = world();
    w.s.regulator(RegulatorEvent::SanctionRecorded {
        reference: v("S-1"),
        company: v("acme"),
        sanction: Sanction::Suspension,
        finding: None,
        note: note("critical finding F-1 not put right"),
    });
    let ver = verify(&w.s, View::Corrected);
    let state = ver.engine().state();
    assert_eq!(state.companies[&v("acme")].status, CompanyStatus::Suspended);
    let issue = issued(&w.s, w.gun, "guard-1", vec![]);
    let got = ver
        .engine()
        .check(&v("north"), &v("armourer-1"), w.s.now, &issue);
    assert!(
        rules_of(&got).contains(&RuleId::CompanyNotSuspended),
        "{got:?}"
    );
    assert!(
        got.iter().any(|x| x.evidence.contains("acme is suspended")),
        "{got:?}"
    );
    let hand_over = armsledger_core::event::SiteEvent::LeftLedger {
        item: Item::Firearm(w.gun),
        exit: ExitKind::SurrenderedToPolice,
        counterparty: Counterparty {
            name: v("SAPS Sandton"),
            licence: None,
        },
        documents: vec![],
    };
    let got = ver
        .engine()
        .check(&v("north"), &v("armourer-1"), w.s.now, &hand_over);
    assert!(
        got.is_empty(),
        "a hand-over to the police is allowed: {got:?}"
    );

    w.s.regulator(RegulatorEvent::CompanyStatusChanged {
        company: v("acme"),
        status: CompanyStatus::Active,
        reason: note("F-1 closed"),
    });
    let ver = verify(&w.s, View::Corrected);
    let got = ver
        .engine()
        .check(&v("north"), &v("armourer-1"), w.s.now, &issue);
    assert!(got.is_empty(), "reinstated: {got:?}");
    let s = &ver.engine().state().oversight;
    assert_eq!(s.sanctions[&v("S-1")].sanction, Sanction::Suspension);
}

#[test]
fn inspections_findings_complaints_and_fines_are_kept_by_reference() {
    let mut w = world();
    let planned_for = w.s.now.plus(Timestamp::DAY);
    w.s.regulator(RegulatorEvent::InspectionRecorded {
        reference: v("INS-1"),
        site: v("north"),
        stage: InspectionStage::Planned,
        at: planned_for,
        note: note("annual"),
    });
    w.s.tick(Timestamp::DAY);
    let performed = w.s.now;
    w.s.regulator(RegulatorEvent::InspectionRecorded {
        reference: v("INS-1"),
        site: v("north"),
        stage: InspectionStage::Performed,
        at: performed,
        note: note("register and vault seen"),
    });
    w.s.regulator(RegulatorEvent::FindingRecorded {
        inspection: v("INS-1"),
        finding: v("F-1"),
        site: v("north"),
        company: v("acme"),
        code: v("register-incomplete"),
        severity: Severity::Major,
        note: note("two returns unsigned"),
    });
    w.s.regulator(RegulatorEvent::SanctionRecorded {
        reference: v("S-2"),
        company: v("acme"),
        sanction: Sanction::Fine {
            amount_minor: 2_500_000,
            currency: v("ZAR"),
        },
        finding: Some(v("F-1")),
        note: note("fine for F-1"),
    });
    w.s.regulator(RegulatorEvent::ComplaintReceived {
        reference: v("C-1"),
        against: Respondent::Company(v("acme")),
        summary: note("a guard showed a firearm in a shop"),
    });
    let ver = verify(&w.s, View::Corrected);
    assert!(
        ver.engine().findings().is_empty(),
        "{:?}",
        ver.engine().findings()
    );
    let o = &ver.engine().state().oversight;
    let i = &o.inspections[&v("INS-1")];
    assert_eq!(
        (i.planned_for, i.performed_at),
        (Some(planned_for), Some(performed))
    );
    assert_eq!(o.open_findings().count(), 1);
    assert_eq!(o.open_complaints().count(), 1);
    // A fine blocks nothing.
    assert_eq!(
        ver.engine().state().companies[&v("acme")].status,
        CompanyStatus::Active
    );

    w.s.regulator(RegulatorEvent::FindingClosed {
        finding: v("F-1"),
        note: note("register completed and countersigned"),
    });
    w.s.regulator(RegulatorEvent::ComplaintResolved {
        reference: v("C-1"),
        outcome: ComplaintOutcome::Upheld,
        note: note("guard retrained"),
    });
    let ver = verify(&w.s, View::Corrected);
    let o = &ver.engine().state().oversight;
    assert_eq!(o.open_findings().count(), 0);
    assert_eq!(o.open_complaints().count(), 0);
    assert_eq!(
        o.complaints[&v("C-1")].resolved.as_ref().map(|r| r.outcome),
        Some(ComplaintOutcome::Upheld)
    );
}

#[test]
fn a_regulator_correction_folds_in_the_corrected_view_only() {
    let mut w = world();
    // Vetting recorded as failed by mistake: guard-1 is refused ...
    let wrong = w.s.regulator(RegulatorEvent::VettingRecorded {
        person: v("guard-1"),
        outcome: VettingOutcome::Failed,
        expires: w.s.now.plus(365 * Timestamp::DAY),
        reference: v("V-17"),
    });
    let issue = issued(&w.s, w.gun, "guard-1", vec![]);
    let refused = |s: &armsledger_core::testkit::Scenario, view| {
        rules_of(
            &verify(s, view)
                .engine()
                .check(&v("north"), &v("armourer-1"), s.now, &issue),
        )
        .contains(&RuleId::RecipientVetted)
    };
    assert!(refused(&w.s, View::Corrected));
    // ... until the regulator corrects it; the original view keeps it.
    w.s.regulator(RegulatorEvent::RegulatorCorrected {
        supersedes: wrong.hash(),
        reason: note("keyed as failed; the file says passed"),
        corrected: Box::new(RegulatorEvent::VettingRecorded {
            person: v("guard-1"),
            outcome: VettingOutcome::Passed,
            expires: w.s.now.plus(365 * Timestamp::DAY),
            reference: v("V-17"),
        }),
    });
    w.s.regulator(RegulatorEvent::RegulatorAnnotated {
        about: wrong.hash(),
        note: note("see the correction"),
    });
    assert!(!refused(&w.s, View::Corrected));
    assert!(refused(&w.s, View::Original));
    let ver = verify(&w.s, View::Corrected);
    assert!(ver.engine().findings().is_empty());
    assert!(
        ver.engine()
            .regulator_correction_of(&wrong.hash())
            .is_some()
    );
}
