//! The soft rules: each alert is quiet up to its deadline, fires just after
//! it, and stops once the cause is settled.

use armsledger_core::event::{Event, SiteEvent};
use armsledger_core::ids::Timestamp;
use armsledger_core::model::{AmmoLine, Item, Resolution};
use armsledger_core::rules::{Alert, AlertPolicy, RuleId, View, alerts};
use armsledger_core::testkit::{Scenario, v};

use crate::common::verify;
use crate::fixtures::*;

/// The alerts of `rule` at `now`.
pub fn alerts_at(s: &Scenario, now: Timestamp, rule: RuleId) -> Vec<Alert> {
    let ver = verify(s, View::Corrected);
    alerts(ver.engine().state(), now, &AlertPolicy::default())
        .into_iter()
        .filter(|a| a.rule == rule)
        .collect()
}

#[test]
fn return_overdue_fires_after_the_due_time_only() {
    let mut w = world();
    let i = issue(&mut w, "guard-1", 10);
    let Event::Site(SiteEvent::Issued { due_back, .. }) = i.body().event.clone() else {
        unreachable!()
    };
    assert!(alerts_at(&w.s, due_back, RuleId::ReturnOverdue).is_empty());
    let a = alerts_at(&w.s, due_back.plus(1), RuleId::ReturnOverdue);
    assert_eq!(a.len(), 1, "{a:#?}");
    assert_eq!(a[0].entry, Some(i.hash()));
    assert_eq!(a[0].site, Some(v("north")));
    assert_eq!(a[0].company, Some(v("acme")));
    assert_eq!(a[0].at, due_back);
    // Once returned, nothing is overdue.
    returned(&mut w, &i, 10, 0);
    assert!(alerts_at(&w.s, due_back.plus(Timestamp::DAY), RuleId::ReturnOverdue).is_empty());
}

#[test]
fn an_unacknowledged_transfer_alerts_after_the_window() {
    let mut w = two_sites();
    let out = transfer_out(&mut w, 0);
    let sent = out.header().device_time;
    let window = AlertPolicy::default().transfer_window_ms;
    assert!(alerts_at(&w.s, sent.plus(window), RuleId::TransferUnacknowledged).is_empty());
    let a = alerts_at(&w.s, sent.plus(window + 1), RuleId::TransferUnacknowledged);
    assert_eq!(a.len(), 1, "{a:#?}");
    assert_eq!(a[0].entry, Some(out.hash()));
    assert_eq!(a[0].site, Some(v("north")));
    assert_eq!(a[0].at, sent);
    let gun = w.gun;
    transfer_in(&mut w, &out, vec![gun], 0);
    assert!(alerts_at(&w.s, sent.plus(window + 1), RuleId::TransferUnacknowledged).is_empty());
}

#[test]
fn a_loss_without_references_alerts_after_48_hours() {
    let mut w = world();
    let ev = loss(w.gun, None, None, w.s.now);
    let report = north(&mut w, ev);
    let at = report.header().device_time;
    let window = 48 * Timestamp::HOUR;
    assert_eq!(AlertPolicy::default().loss_reference_window_ms, window);
    assert!(alerts_at(&w.s, at.plus(window), RuleId::LossReferencesMissing).is_empty());
    let a = alerts_at(&w.s, at.plus(window + 1), RuleId::LossReferencesMissing);
    assert_eq!(a.len(), 1, "{a:#?}");
    assert_eq!(a[0].entry, Some(report.hash()));

    // With only the police reference it still alerts; with both it does not.
    let police = SiteEvent::LossReportUpdated {
        circumstances: None,
        report: report.hash(),
        police_ref: Some(v("CAS-12/2026")),
        regulator_ref: None,
    };
    north(&mut w, police);
    assert_eq!(
        alerts_at(&w.s, at.plus(window + 1), RuleId::LossReferencesMissing).len(),
        1
    );
    let regulator = SiteEvent::LossReportUpdated {
        circumstances: None,
        report: report.hash(),
        police_ref: None,
        regulator_ref: Some(v("REG-77")),
    };
    north(&mut w, regulator);
    check_quiet(&w.s);
    assert!(alerts_at(&w.s, at.plus(window + 1), RuleId::LossReferencesMissing).is_empty());

    // A report made with both references never alerts.
    let mut w = world();
    let gun = w.gun;
    report_theft(&mut w, gun);
    assert!(
        alerts_at(
            &w.s,
            at.plus(10 * Timestamp::DAY),
            RuleId::LossReferencesMissing
        )
        .is_empty()
    );
}

/// A world with only `guard-9`, licensed for a year, and when that ends.
fn guard_9() -> (Scenario, Timestamp) {
    let mut s = Scenario::new();
    s.company_with_site("acme", "north");
    s.guard("guard-9", "acme", 365);
    let ver = verify(&s, View::Corrected);
    let until = ver.engine().state().persons[&v("guard-9")]
        .licence
        .as_ref()
        .unwrap()
        .valid
        .until;
    (s, until)
}

#[test]
fn expiries_alert_within_30_60_and_90_days() {
    let (s, until) = guard_9();
    let ver = verify(&s, View::Corrected);
    let mine = |now: Timestamp| -> Vec<Alert> {
        alerts(ver.engine().state(), now, &AlertPolicy::default())
            .into_iter()
            .filter(|a| a.rule == RuleId::ExpiringSoon && a.detail.starts_with("guard-9"))
            .collect()
    };
    let day = Timestamp::DAY;
    // More than 90 days ahead: quiet.
    assert!(mine(until.minus(90 * day + 1)).is_empty());
    // Licence, permit and qualification each alert, in the right bucket.
    for (left, bucket) in [
        (90 * day, 90),
        (89 * day, 90),
        (59 * day, 60),
        (29 * day, 30),
        (1, 30),
    ] {
        let a = mine(until.minus(left));
        assert_eq!(a.len(), 3, "{left} ms left: {a:#?}");
        for x in &a {
            assert_eq!(x.at, until);
            assert_eq!(x.company, Some(v("acme")));
            assert!(
                x.detail.ends_with(&format!("(within {bucket} days)")),
                "{left} ms left: {}",
                x.detail
            );
        }
    }
    // Expired: no longer "expiring".
    assert!(mine(until).is_empty());
}

#[test]
fn a_site_approval_and_a_company_licence_alert_before_they_expire() {
    use armsledger_core::event::RegulatorEvent;
    use armsledger_core::model::Validity;
    let mut s = Scenario::new();
    s.company_with_site("acme", "north");
    let until = s.now.plus(400 * Timestamp::DAY);
    s.regulator(RegulatorEvent::SiteApproved {
        site: v("north"),
        approval: v("ARM-7"),
        valid: Validity { from: s.now, until },
        categories: vec![],
        max_firearms: None,
    });
    let ver = verify(&s, View::Corrected);
    let state = ver.engine().state();
    let licence_until = state.companies[&v("acme")].valid.until;
    let about = |now: Timestamp, what: &str| -> Vec<Alert> {
        alerts(state, now, &AlertPolicy::default())
            .into_iter()
            .filter(|a| a.rule == RuleId::ExpiringSoon && a.detail.contains(what))
            .collect()
    };
    let day = Timestamp::DAY;
    // Firing: 45 days before the approval ends, in the 60-day bucket.
    let a = about(until.minus(45 * day), "armoury approval ARM-7");
    assert_eq!(a.len(), 1, "{a:#?}");
    assert_eq!(a[0].site, Some(v("north")));
    assert_eq!(a[0].company, Some(v("acme")));
    assert_eq!(a[0].at, until);
    assert!(a[0].detail.ends_with("(within 60 days)"), "{}", a[0].detail);
    // Quiet: more than 90 days ahead, and once expired.
    assert!(about(until.minus(91 * day), "armoury approval").is_empty());
    assert!(about(until, "armoury approval").is_empty());
    // The company's licence alike.
    let c = about(licence_until.minus(10 * day), "company acme's licence");
    assert_eq!(c.len(), 1, "{c:#?}");
    assert!(c[0].detail.ends_with("(within 30 days)"), "{}", c[0].detail);
    assert!(about(licence_until.minus(91 * day), "company acme's licence").is_empty());
}

#[test]
fn expiry_buckets_are_inclusive_like_the_horizon() {
    let (s, until) = guard_9();
    let ver = verify(&s, View::Corrected);
    for (days, bucket) in [(30, 30), (60, 60), (90, 90)] {
        let a: Vec<Alert> = alerts(
            ver.engine().state(),
            until.minus(days * Timestamp::DAY),
            &AlertPolicy::default(),
        )
        .into_iter()
        .filter(|a| a.rule == RuleId::ExpiringSoon)
        .collect();
        assert!(!a.is_empty());
        for x in a {
            assert!(
                x.detail.ends_with(&format!("(within {bucket} days)")),
                "{days} days left: {}",
                x.detail
            );
        }
    }
}

#[test]
fn a_serial_number_count_is_due_every_31_days() {
    let mut w = world();
    // A new site holding firearms with no count on record: quiet through its
    // grace (from its registration), overdue after it.
    let registered = w.s.log[1].body().occurred_at;
    let grace = armsledger_core::model::Policy::default().count_grace_ms;
    assert!(alerts_at(&w.s, registered.plus(grace), RuleId::CountOverdue).is_empty());
    let a = alerts_at(&w.s, registered.plus(grace + 1), RuleId::CountOverdue);
    assert_eq!(a.len(), 1, "{a:#?}");
    assert_eq!(a[0].site, Some(v("north")));
    assert_eq!(a[0].at, registered.plus(grace));

    let ev = full_count(&w, &["witness-1", "witness-2"]);
    let c = north(&mut w, ev);
    check_quiet(&w.s);
    let counted = c.header().device_time;
    let interval = AlertPolicy::default().count_interval_ms;
    assert_eq!(interval, 31 * Timestamp::DAY);
    assert!(alerts_at(&w.s, counted.plus(interval), RuleId::CountOverdue).is_empty());
    let a = alerts_at(&w.s, counted.plus(interval + 1), RuleId::CountOverdue);
    assert_eq!(a.len(), 1, "{a:#?}");
    assert_eq!(a[0].at, counted.plus(interval));
    // The count matched the ledger: no discrepancy.
    let ver = verify(&w.s, View::Corrected);
    assert!(ver.engine().state().discrepancies.is_empty());

    // A site holding nothing is never overdue.
    let s = Scenario::standard();
    assert!(alerts_at(&s, s.now.plus(365 * Timestamp::DAY), RuleId::CountOverdue).is_empty());
}

#[test]
fn a_count_that_misses_a_firearm_records_a_discrepancy() {
    let mut w = world();
    let ev = count(
        &["witness-1", "witness-2"],
        vec![],
        vec![AmmoLine {
            lot: w.lot,
            rounds: 499,
        }],
    );
    let c = north(&mut w, ev);
    let ver = verify(&w.s, View::Corrected);
    let d = &ver.engine().state().discrepancies;
    assert_eq!(d.len(), 2, "{d:#?}");
    assert!(d.iter().all(|x| x.count == c.hash() && !x.resolved));
    assert!(
        d.iter()
            .any(|x| x.item == Item::Firearm(w.gun) && x.expected == 1 && x.found == 0)
    );
    assert!(
        d.iter()
            .any(|x| matches!(x.item, Item::Rounds(l) if l.lot == w.lot)
                && x.expected == 500
                && x.found == 499)
    );
    let resolved = SiteEvent::DiscrepancyResolved {
        count: c.hash(),
        item: Item::Firearm(w.gun),
        resolution: Resolution::Found,
    };
    north(&mut w, resolved);
    check_quiet(&w.s);
    let ver = verify(&w.s, View::Corrected);
    let d = &ver.engine().state().discrepancies;
    assert_eq!(d.iter().filter(|x| x.resolved).count(), 1);
}

#[test]
fn a_loss_reported_after_its_deadline_is_alerted() {
    let deadline = armsledger_core::model::Policy::default().loss_report_within_ms;
    // Discovered just inside the deadline: quiet.
    let mut w = world();
    let gun = w.gun;
    let ev = loss(gun, Some("CAS-1"), Some("REG-1"), w.s.now.minus(deadline));
    north(&mut w, ev);
    assert!(alerts_at(&w.s, w.s.now, RuleId::LossReportedLate).is_empty());
    // Discovered two days before the report: alerted, naming the report.
    let mut w = world();
    let gun = w.gun;
    let ev = loss(
        gun,
        Some("CAS-1"),
        Some("REG-1"),
        w.s.now.minus(2 * Timestamp::DAY),
    );
    let r = north(&mut w, ev);
    let a = alerts_at(&w.s, w.s.now, RuleId::LossReportedLate);
    assert_eq!(a.len(), 1, "{a:#?}");
    assert_eq!(a[0].entry, Some(r.hash()));
    assert_eq!(a[0].site, Some(v("north")));
}

#[test]
fn a_short_delivery_is_missing_in_transit_until_reported_lost() {
    let mut w = two_sites();
    let (second, _) = w.s.acquire("north", "AB-777");
    let out = w.s.site(
        "north",
        "armourer-1",
        SiteEvent::TransferredOut {
            to_site: v("south"),
            to_company: v("bravo"),
            firearms: vec![w.gun, second],
            rounds: vec![],
            rounds_from: None,
            permit: crate::common::transfer_permit(),
            carrier: None,
        },
    );
    // Everything arrived: nothing missing.
    let mut full = w.s.clone();
    let ev = SiteEvent::TransferredIn {
        transfer: armsledger_core::event::EntryRef {
            site: v("north"),
            counter: out.counter(),
            hash: out.hash(),
        },
        firearms: vec![w.gun, second],
        rounds: vec![],
        location: v("vault"),
        note: None,
    };
    full.site("south", "armourer-2", ev.clone());
    check_quiet(&full);
    assert!(alerts_at(&full, full.now, RuleId::MissingInTransit).is_empty());
    // Only the pistol arrived: recorded without a finding, the second is
    // missing in transit.
    let gun = w.gun;
    let got = transfer_in(&mut w, &out, vec![gun], 0);
    check_quiet(&w.s);
    let a = alerts_at(&w.s, w.s.now, RuleId::MissingInTransit);
    assert_eq!(a.len(), 1, "{a:#?}");
    assert_eq!(a[0].entry, Some(got.hash()));
    assert!(a[0].detail.contains("AB-777"), "{}", a[0].detail);
    // The sender reports it lost: no longer missing in transit.
    w.s.site(
        "north",
        "armourer-1",
        loss(second, Some("CAS-9"), Some("REG-9"), w.s.now),
    );
    assert!(alerts_at(&w.s, w.s.now, RuleId::MissingInTransit).is_empty());
}

#[test]
fn one_person_holding_two_firearms_is_over_the_limit() {
    let mut w = world();
    issue(&mut w, "guard-1", 0);
    assert!(alerts_at(&w.s, w.s.now, RuleId::HolderLimit).is_empty());
    let (second, _) = w.s.acquire("north", "AB-778");
    let ev = crate::common::issued(&w.s, second, "guard-1", vec![]);
    north(&mut w, ev);
    let a = alerts_at(&w.s, w.s.now, RuleId::HolderLimit);
    assert_eq!(a.len(), 1, "{a:#?}");
    assert!(
        a[0].detail.contains("guard-1 holds 2 firearms"),
        "{}",
        a[0].detail
    );
}

#[test]
fn the_same_lead_counter_twice_is_alerted() {
    let mut w = world();
    let ev = full_count(&w, &["witness-1", "witness-2"]);
    north(&mut w, ev);
    let mut rotated = w.s.clone();
    let ev = full_count(&w, &["witness-2", "witness-1"]);
    rotated.site("north", "armourer-1", ev);
    assert!(alerts_at(&rotated, rotated.now, RuleId::CounterRotates).is_empty());
    let ev = full_count(&w, &["witness-1", "witness-2"]);
    north(&mut w, ev);
    let a = alerts_at(&w.s, w.s.now, RuleId::CounterRotates);
    assert_eq!(a.len(), 1, "{a:#?}");
    assert!(a[0].detail.contains("witness-1"), "{}", a[0].detail);
}

#[test]
fn a_partial_count_judges_only_the_locations_it_covers() {
    let mut w = world();
    // The pistol is in the vault; a cyclic count of rack-1 sees nothing and
    // finds nothing missing.
    north(
        &mut w,
        SiteEvent::CountPerformed {
            session: v("cyc-1"),
            kind: armsledger_core::model::CountKind::Cyclic,
            locations: vec![v("rack-1")],
            part: 1,
            parts: 1,
            counters: vec![v("witness-1"), v("witness-2")],
            firearms_seen: vec![],
            rounds_seen: vec![],
        },
    );
    let ver = verify(&w.s, View::Corrected);
    assert!(ver.engine().state().discrepancies.is_empty());
    // The same count of the vault misses the pistol and the rounds.
    north(
        &mut w,
        SiteEvent::CountPerformed {
            session: v("cyc-2"),
            kind: armsledger_core::model::CountKind::Cyclic,
            locations: vec![v("vault")],
            part: 1,
            parts: 1,
            counters: vec![v("witness-1"), v("witness-2")],
            firearms_seen: vec![],
            rounds_seen: vec![],
        },
    );
    let ver = verify(&w.s, View::Corrected);
    assert_eq!(ver.engine().state().discrepancies.len(), 2);
}
