//! A first look at armsledger's core: a regulator licenses a company, a site
//! and guards; the armoury acquires a pistol and rounds, issues and returns
//! them, and makes one mistake (an issue to a guard whose qualification has
//! expired). Every entry is signed, verified as the server and the offline
//! verifier would, and folded by the rules engine.
//!
//! Run: `cargo run --release --example walkthrough`

use armsledger::core::LedgerVerifier;
use armsledger::core::event::SiteEvent;
use armsledger::core::ids::Timestamp;
use armsledger::core::model::{AmmoLine, Condition, Reliance, RoundsBack};
use armsledger::core::rules::{AlertPolicy, View, alerts};
use armsledger::core::testkit::{Scenario, note, v};

fn issue(
    s: &mut Scenario,
    gun: armsledger::core::model::FirearmId,
    to: &str,
    lot: armsledger::core::model::LotId,
) -> armsledger::core::Hash {
    let due = s.now.plus(8 * Timestamp::HOUR);
    s.site(
        "north",
        "armourer-1",
        SiteEvent::Issued {
            firearm: gun,
            to: v(to),
            purpose: note("static guard"),
            post: v("bank-gate"),
            due_back: due,
            reliance: Reliance {
                licence: v(&format!("LIC-{to}")),
                permit: v(&format!("PER-{to}")),
                qualification: v(&format!("Q-{to}")),
            },
            ammunition: vec![AmmoLine { lot, rounds: 15 }],
            ammunition_from: Some(v("vault")),
        },
    )
    .hash()
}

fn main() {
    let mut s = Scenario::standard();
    s.guard("guard-late", "acme", 2); // qualification lapses in two days
    let (gun, _) = s.acquire("north", "GLK-0001");
    let (gun2, _) = s.acquire("north", "GLK-0002");
    let lot = s.receive("north", "PMP-2025-17", 1000);

    let i1 = issue(&mut s, gun, "guard-1", lot);
    s.tick(8 * Timestamp::HOUR);
    s.site(
        "north",
        "armourer-1",
        SiteEvent::Returned {
            incident: None,
            issue: i1,
            firearm: gun,
            condition: Condition::Serviceable,
            ammunition: vec![RoundsBack {
                lot,
                returned: 15,
                expended: 0,
            }],
            location: v("vault"),
        },
    );
    s.tick(3 * Timestamp::DAY);
    issue(&mut s, gun2, "guard-late", lot); // breaks qualification-current

    let mut verifier = LedgerVerifier::new(s.regulator_key(), vec![s.root_key()], View::Corrected);
    for e in &s.log {
        if let Err(err) = verifier.ingest(e.clone(), None) {
            eprintln!("entry {} refused: {err}", e.counter());
            std::process::exit(1);
        }
    }
    println!(
        "{} entries verified (signatures, links, counters, key windows)",
        s.log.len()
    );
    for f in verifier.engine().findings() {
        println!(
            "finding  {:<24} {} #{}: {}",
            f.rule, f.chain, f.counter, f.evidence
        );
    }
    let now = s.now.plus(Timestamp::DAY);
    for a in alerts(verifier.engine().state(), now, &AlertPolicy::default()) {
        println!("alert    {:<24} {}", a.rule, a.detail);
    }
    let st = verifier.engine().state();
    for f in st.firearms.values() {
        println!("firearm  {:<10} {}", f.identity.serial, f.state.word());
    }
    println!(
        "rounds of {} in store at north: {}",
        lot,
        st.in_store(&v("north"), &lot)
    );
}
