//! End-to-end smoke test of the core pipeline: a scenario verifies and folds.

use armsledger_core::LedgerVerifier;
use armsledger_core::event::SiteEvent;
use armsledger_core::model::{AmmoLine, Condition, Reliance, RoundsBack};
use armsledger_core::rules::state::FirearmState;
use armsledger_core::rules::{RuleId, View};
use armsledger_core::testkit::{Scenario, v};

#[test]
fn issue_and_return_fold_cleanly() {
    let mut s = Scenario::standard();
    let (gun, _) = s.acquire("north", "AB-123");
    let lot = s.receive("north", "L-1", 500);
    let issue = s.site(
        "north",
        "armourer-1",
        SiteEvent::Issued {
            firearm: gun,
            to: v("guard-1"),
            purpose: v("patrol"),
            post: v("gate-3"),
            due_back: s.now.plus(8 * 3_600_000),
            reliance: Reliance {
                licence: v("LIC-guard-1"),
                permit: v("PER-guard-1"),
                qualification: v("Q-guard-1"),
            },
            ammunition: vec![AmmoLine { lot, rounds: 30 }],
            ammunition_from: Some(v("vault")),
        },
    );
    s.site(
        "north",
        "armourer-1",
        SiteEvent::Returned {
            issue: issue.hash(),
            firearm: gun,
            condition: Condition::Serviceable,
            ammunition: vec![RoundsBack {
                lot,
                returned: 28,
                expended: 2,
            }],
            location: v("vault"),
        },
    );
    let mut verifier = LedgerVerifier::new(s.regulator_key(), vec![s.root_key()], View::Corrected);
    for e in &s.log {
        let f = verifier.ingest(e.clone(), None).unwrap();
        assert!(f.is_empty(), "unexpected findings {f:?}");
    }
    let st = verifier.engine().state();
    assert!(matches!(
        st.firearms[&gun].state,
        FirearmState::InStore { .. }
    ));
    assert_eq!(st.in_store(&v("north"), &lot), 498);
    assert!(st.open_issues.is_empty());
    let _ = RuleId::ALL;
}
