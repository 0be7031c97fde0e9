//! Overrides: a second person's authorisation turns a finding into a flagged
//! exception, for its rule and its act only, and only when recorded first.

use std::sync::Arc;

use armsledger_core::entry::SignedEntry;
use armsledger_core::event::{Event, Revocable, SiteEvent};
use armsledger_core::rules::state::FirearmState;
use armsledger_core::rules::{RuleId, View};
use armsledger_core::testkit::{Scenario, v};

use crate::common::{body_for, findings, issued, verify};
use crate::fixtures::*;

/// guard-1's qualification is revoked; the act (issuing to them) is
/// prepared, an override of `rule` recorded by `override_officer` and
/// authorised by `authoriser` names its body hash, then armourer-1 signs
/// the act.
fn unqualified_issue_with_override(
    override_officer: &str,
    authoriser: &str,
    rule: RuleId,
) -> (Scenario, Arc<SignedEntry>, Arc<SignedEntry>) {
    let mut w = world();
    revoke(
        &mut w.s,
        "guard-1",
        Revocable::Qualification(v("Q-guard-1")),
    );
    let act = issued(&w.s, w.gun, "guard-1", vec![]);
    let body = body_for(&w.s, "north", "armourer-1", act.clone());
    let o = w.s.site(
        "north",
        override_officer,
        override_of(rule, authoriser, &body),
    );
    let e = north(&mut w, act);
    assert_eq!(e.header().body_hash, body.hash().unwrap());
    (w.s, o, e)
}

#[test]
fn an_override_by_a_second_authoriser_flags_the_finding_as_an_exception() {
    let (s, o, act) =
        unqualified_issue_with_override("armourer-1", "armourer-2", RuleId::QualificationCurrent);
    let f = findings(&s);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].rule, RuleId::QualificationCurrent);
    assert_eq!(f[0].entry, act.hash());
    assert_eq!(f[0].overridden_by, Some(o.hash()));
    // The act is still applied: the state follows the record.
    let ver = verify(&s, View::Corrected);
    let gun = match &act.body().event {
        Event::Site(SiteEvent::Issued { firearm, .. }) => *firearm,
        _ => unreachable!(),
    };
    assert!(matches!(
        ver.engine().state().firearms[&gun].state,
        FirearmState::Issued { .. }
    ));
}

#[test]
fn an_override_authorised_by_the_acting_officer_does_not_count() {
    // armourer-2 records it, but names armourer-1 (who performs the act).
    let (s, _, act) =
        unqualified_issue_with_override("armourer-2", "armourer-1", RuleId::QualificationCurrent);
    let f = findings(&s);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].entry, act.hash());
    assert_eq!(f[0].overridden_by, None);

    // armourer-1 records and authorises it themself: two findings, neither excused.
    let (s, o, act) =
        unqualified_issue_with_override("armourer-1", "armourer-1", RuleId::QualificationCurrent);
    let f = findings(&s);
    assert_eq!(f.len(), 2, "{f:#?}");
    assert_eq!(f[0].rule, RuleId::OverrideSecondPerson);
    assert_eq!(f[0].entry, o.hash());
    assert_eq!(f[1].rule, RuleId::QualificationCurrent);
    assert_eq!(f[1].entry, act.hash());
    assert!(f.iter().all(|x| x.overridden_by.is_none()));
}

#[test]
fn an_override_covers_only_its_rule_and_its_act() {
    // Wrong rule.
    let (s, _, _) =
        unqualified_issue_with_override("armourer-1", "armourer-2", RuleId::RecipientLicensed);
    let f = findings(&s);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].overridden_by, None);

    // Right rule, different act: the override names the body of an issue to guard-2.
    let mut w = world();
    revoke(
        &mut w.s,
        "guard-1",
        Revocable::Qualification(v("Q-guard-1")),
    );
    let other = issued(&w.s, w.gun, "guard-2", vec![]);
    let other_body = body_for(&w.s, "north", "armourer-1", other);
    north(
        &mut w,
        override_of(RuleId::QualificationCurrent, "armourer-2", &other_body),
    );
    let act = issued(&w.s, w.gun, "guard-1", vec![]);
    let e = north(&mut w, act);
    let f = findings(&w.s);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].entry, e.hash());
    assert_eq!(f[0].overridden_by, None);

    // An override recorded after the act does not reach back.
    let mut w = world();
    revoke(
        &mut w.s,
        "guard-1",
        Revocable::Qualification(v("Q-guard-1")),
    );
    let act = issued(&w.s, w.gun, "guard-1", vec![]);
    let e = north(&mut w, act);
    let late = SiteEvent::Overridden {
        rule: RuleId::QualificationCurrent,
        reason: v("late"),
        authoriser: v("armourer-2"),
        act: e.header().body_hash,
    };
    north(&mut w, late);
    let f = findings(&w.s);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].overridden_by, None);
}
