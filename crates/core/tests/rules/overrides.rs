//! Overrides: a second person's authorisation turns a finding into a flagged
//! exception, for its rule and its act only, and only when recorded first.

use std::sync::Arc;

use armsledger_core::entry::SignedEntry;
use armsledger_core::event::{Event, Revocable, SiteEvent};
use armsledger_core::rules::state::FirearmState;
use armsledger_core::rules::{RuleId, View};
use armsledger_core::testkit::{Scenario, note, v};

use crate::common::{body_for, bogus_hash, findings, issued, sign_body, verify};
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
    let e = sign_body(&mut w.s, "north", body.clone());
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
        reason: note("late"),
        authoriser: v("armourer-2"),
        act: e.header().body_hash,
    };
    north(&mut w, late);
    let f = findings(&w.s);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].overridden_by, None);
}

/// The pistol is destroyed; an override of `rule` authorised by armourer-2
/// names the body of an issue of it to guard-1, which armourer-1 then signs.
fn issue_after_destruction_with_override(
    rule: RuleId,
) -> (Scenario, Arc<SignedEntry>, Arc<SignedEntry>) {
    let mut w = world();
    destroy(&mut w);
    let act = issued(&w.s, w.gun, "guard-1", vec![]);
    let body = body_for(&w.s, "north", "armourer-1", act.clone());
    let o = north(&mut w, override_of(rule, "armourer-2", &body));
    let e = sign_body(&mut w.s, "north", body.clone());
    (w.s, o, e)
}

#[test]
fn an_override_of_a_destroyed_firearm_is_refused_and_credits_nothing() {
    let (s, o, act) = issue_after_destruction_with_override(RuleId::DisposedIsFinal);
    let f = findings(&s);
    assert_eq!(f.len(), 2, "{f:#?}");
    assert_eq!(f[0].rule, RuleId::OverrideNotAllowed);
    assert_eq!(f[0].entry, o.hash());
    assert!(
        f[0].evidence.contains("disposed-is-final"),
        "{}",
        f[0].evidence
    );
    assert_eq!(f[1].rule, RuleId::DisposedIsFinal);
    assert_eq!(f[1].entry, act.hash());
    assert_eq!(
        f[1].overridden_by, None,
        "the issue was credited as an exception"
    );
}

#[test]
fn an_override_of_a_bar_is_refused_and_credits_nothing() {
    let mut w = world();
    bar(&mut w.s, "guard-1", None);
    let act = issued(&w.s, w.gun, "guard-1", vec![]);
    let body = body_for(&w.s, "north", "armourer-1", act.clone());
    let o = north(
        &mut w,
        override_of(RuleId::RecipientNotBarred, "armourer-2", &body),
    );
    let e = sign_body(&mut w.s, "north", body.clone());
    let f = findings(&w.s);
    let rules: Vec<(RuleId, bool, bool)> = f
        .iter()
        .map(|x| (x.rule, x.entry == o.hash(), x.overridden_by.is_some()))
        .collect();
    assert_eq!(
        rules,
        vec![
            (RuleId::OverrideNotAllowed, true, false),
            (RuleId::RecipientNotBarred, false, false),
        ]
    );
    assert_eq!(f[1].entry, e.hash());
}

#[test]
fn the_officers_tool_learns_before_signing_which_rules_an_override_cannot_cover() {
    // What `Engine::check` says of an override entry, for every rule: the
    // same judgement the engine applies when it credits overrides.
    let w = world();
    let ver = verify(&w.s, View::Corrected);
    for &rule in RuleId::ALL {
        let ev = SiteEvent::Overridden {
            rule,
            reason: note("exception"),
            authoriser: v("armourer-2"),
            act: bogus_hash("act"),
        };
        let got = ver
            .engine()
            .check(&v("north"), &v("armourer-1"), w.s.now, &ev);
        if rule.is_overridable() {
            assert!(got.is_empty(), "{rule}: {got:?}");
            assert!(rule.is_hard(), "{rule} is soft but overridable");
        } else {
            assert_eq!(got.len(), 1, "{rule}: {got:?}");
            assert_eq!(got[0].rule, RuleId::OverrideNotAllowed);
            let why = rule.why_not_overridable().unwrap();
            assert!(got[0].evidence.contains(why), "{rule}: {}", got[0].evidence);
        }
    }
}

#[test]
fn the_rules_that_cannot_be_overridden_are_the_documented_ones() {
    let not: Vec<&str> = RuleId::ALL
        .iter()
        .filter(|r| !r.is_overridable())
        .map(|r| r.name())
        .collect();
    assert_eq!(
        not,
        [
            "recipient-not-barred",
            "disposed-is-final",
            "reference-exists",
            "override-second-person",
            "history-continues",
            "site-registered",
            "return-overdue",
            "transfer-unacknowledged",
            "loss-references-missing",
            "expiring-soon",
            "count-overdue",
            "signed-after-key-end",
            "key-equivocated",
            "device-clock-ahead",
            "override-not-allowed",
            "loss-reported-late",
            "missing-in-transit",
            "holder-limit",
            "counter-rotates",
            "stolen-hit",
            "trace-overdue",
            "company-not-suspended",
            "company-not-ceased",
            "recipient-vetted",
            "reinstatement-lifts-suspension",
            "licence-covers-category",
            "approval-in-force",
            "approval-conditions",
            "provider-accredited",
            "publish-behind",
        ]
    );
    // docs/rules.md names each of them in its list of rules that cannot be overridden.
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/rules.md"))
        .unwrap();
    let (_, section) = doc
        .split_once("Rules that cannot be overridden")
        .expect("docs/rules.md lists the rules that cannot be overridden");
    for name in not {
        assert!(
            section.contains(&format!("`{name}`")),
            "docs/rules.md does not list {name}"
        );
    }
}
