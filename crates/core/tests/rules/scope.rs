//! Licence and approval scope: the company licence's firearm categories
//! (`licence-covers-category`), the armoury approval's expiry and conditions
//! (`approval-in-force`, `approval-conditions`) and accredited training
//! (`provider-accredited`). Rows of the one rule table in `cases.rs`.

use std::sync::Arc;

use armsledger_core::entry::SignedEntry;
use armsledger_core::event::RegulatorEvent;
use armsledger_core::ids::Timestamp;
use armsledger_core::model::Validity;
use armsledger_core::rules::RuleId::*;
use armsledger_core::testkit::{Scenario, T0, lot9, v};

use crate::cases::{Case, case};
use crate::fixtures::*;

/// A year around `T0`: every licence and approval here is in force.
fn year() -> Validity {
    Validity {
        from: T0.minus(30 * Timestamp::DAY),
        until: T0.plus(365 * Timestamp::DAY),
    }
}

/// The regulator (re-)licenses `company` for firearm `categories` (none:
/// unarmed guarding).
pub fn license(s: &mut Scenario, company: &str, categories: &[&str]) {
    s.regulator(RegulatorEvent::CompanyLicensed {
        company: v(company),
        name: v(&format!("{company} Ltd")),
        licence: v(&format!("PSC-{company}-2")),
        valid: year(),
        categories: categories.iter().map(|c| v(c)).collect(),
    });
}

/// The regulator approves `site`'s armoury until `until`, for `categories`
/// (none: no condition) and at most `max` firearms.
fn approve(s: &mut Scenario, site: &str, until: Timestamp, categories: &[&str], max: Option<u32>) {
    s.regulator(RegulatorEvent::SiteApproved {
        site: v(site),
        approval: v(&format!("ARM-{site}-2")),
        valid: Validity {
            from: T0.minus(30 * Timestamp::DAY),
            until,
        },
        categories: categories.iter().map(|c| v(c)).collect(),
        max_firearms: max,
    });
}

/// The regulator accredits training `provider` during `valid`.
fn accredit(s: &mut Scenario, provider: &str, valid: Validity) {
    s.regulator(RegulatorEvent::TrainingProviderAccredited {
        provider: v(provider),
        name: v(&format!("{provider} Ltd")),
        valid,
    });
}

/// `north` acquires pistol `serial` of `category`.
fn acquire_category(w: &mut World, serial: &str, category: &str) -> Arc<SignedEntry> {
    acquire_identity(&mut w.s, pistol_with(serial, "9x19mm", category), "vault").1
}

/// North's approval allows `max` firearms; with the pistol issued out, two
/// more are acquired (three present then).
fn third_firearm(w: &mut World, max: u32) -> Arc<SignedEntry> {
    approve(&mut w.s, "north", year().until, &["B"], Some(max));
    issue(w, "guard-1", 0);
    w.s.acquire("north", "AB-2");
    w.s.acquire("north", "AB-3").1
}

/// South's licence covers `categories`; north sends it the pistol and south
/// acknowledges it.
fn received_by_south(w: &mut World, categories: &[&str]) -> Arc<SignedEntry> {
    license(&mut w.s, "bravo", categories);
    let out = transfer_out(w, 0);
    transfer_in(w, &out, vec![w.gun], 0)
}

/// guard-1 (qualified on pistols by `range-academy` a day before `T0`) is
/// issued the pistol after the regulator accredited `provider` during `valid`.
fn issue_after_accrediting(w: &mut World, provider: &str, valid: Validity) -> Arc<SignedEntry> {
    accredit(&mut w.s, provider, valid);
    issue(w, "guard-1", 0)
}

pub fn cases() -> Vec<Case> {
    vec![
        // --- licence scope ---------------------------------------------------
        case(
            "an unarmed-guarding licence acquires",
            &[LicenceCoversCategory],
            gun_only,
        )
        .fires(|w| {
            license(&mut w.s, "acme", &[]);
            w.s.acquire("north", "AB-1").1
        })
        .quiet(|w| {
            license(&mut w.s, "acme", &["B"]);
            w.s.acquire("north", "AB-1").1
        }),
        // Decided: ammunition goes only to a licence for firearms.
        case(
            "an unarmed-guarding licence receives rounds",
            &[LicenceCoversCategory],
            gun_only,
        )
        .fires(|w| {
            license(&mut w.s, "acme", &[]);
            receive_identity(&mut w.s, lot9("L-2"), 100)
        })
        .quiet(|w| {
            license(&mut w.s, "acme", &["C"]);
            receive_identity(&mut w.s, lot9("L-2"), 100)
        }),
        case(
            "a category the licence lacks",
            &[LicenceCoversCategory],
            gun_only,
        )
        .fires(|w| acquire_category(w, "C-2", "C"))
        .quiet(|w| {
            license(&mut w.s, "acme", &["B", "C"]);
            acquire_category(w, "C-2", "C")
        }),
        case(
            "received by a licence for another category",
            &[LicenceCoversCategory],
            two_sites,
        )
        .fires(|w| received_by_south(w, &["C"]))
        .quiet(|w| received_by_south(w, &["B", "C"])),
        // --- armoury approval ------------------------------------------------
        case(
            "acquired after the approval expired",
            &[ApprovalInForce],
            gun_only,
        )
        .fires(|w| {
            let until = w.s.now.plus(Timestamp::HOUR);
            approve(&mut w.s, "north", until, &[], None);
            w.s.tick(2 * Timestamp::HOUR);
            w.s.acquire("north", "AB-1").1
        })
        .quiet(|w| {
            let until = w.s.now.plus(3 * Timestamp::HOUR);
            approve(&mut w.s, "north", until, &[], None);
            w.s.tick(2 * Timestamp::HOUR);
            w.s.acquire("north", "AB-1").1
        }),
        case(
            "rounds received after the approval expired",
            &[ApprovalInForce],
            gun_only,
        )
        .fires(|w| {
            let until = w.s.now.plus(Timestamp::HOUR);
            approve(&mut w.s, "north", until, &[], None);
            w.s.tick(2 * Timestamp::HOUR);
            receive_identity(&mut w.s, lot9("L-2"), 100)
        }),
        case(
            "a category the approval lacks",
            &[ApprovalConditions],
            gun_only,
        )
        .fires(|w| {
            license(&mut w.s, "acme", &["B", "C"]);
            approve(&mut w.s, "north", year().until, &["B"], None);
            acquire_category(w, "C-2", "C")
        })
        .quiet(|w| {
            license(&mut w.s, "acme", &["B", "C"]);
            approve(&mut w.s, "north", year().until, &["B", "C"], None);
            acquire_category(w, "C-2", "C")
        }),
        // The pistol issued out still counts against the maximum.
        case(
            "one firearm over the approval's maximum",
            &[ApprovalConditions],
            world,
        )
        .fires(|w| third_firearm(w, 2))
        .quiet(|w| third_firearm(w, 3)),
        case(
            "a transfer in over the maximum",
            &[ApprovalConditions],
            two_sites,
        )
        .fires(|w| {
            approve(&mut w.s, "south", year().until, &[], Some(0));
            received_by_south(w, &["B"])
        })
        .quiet(|w| {
            approve(&mut w.s, "south", year().until, &[], Some(1));
            received_by_south(w, &["B"])
        }),
        // --- accredited training ---------------------------------------------
        // Accredited from T0 on: the qualification was awarded the day before.
        case(
            "trained before the provider's accreditation",
            &[ProviderAccredited],
            world,
        )
        .fires(|w| {
            let valid = Validity {
                from: T0,
                until: T0.plus(365 * Timestamp::DAY),
            };
            issue_after_accrediting(w, "range-academy", valid)
        })
        .quiet(|w| issue_after_accrediting(w, "range-academy", year())),
        case(
            "trained by a provider never accredited",
            &[ProviderAccredited],
            world,
        )
        .fires(|w| issue_after_accrediting(w, "other-academy", year())),
    ]
}
