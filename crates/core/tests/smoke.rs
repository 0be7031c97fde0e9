//! End-to-end smoke test of the core pipeline: a scenario verifies and folds.

use armsledger_core::LedgerVerifier;
use armsledger_core::rules::state::FirearmState;
use armsledger_core::rules::{RuleId, View};
use armsledger_core::testkit::{Scenario, v};

#[test]
fn issue_and_return_fold_cleanly() {
    let mut s = Scenario::standard();
    let (gun, _) = s.acquire("north", "AB-123");
    let lot = s.receive("north", "L-1", 500);
    let issue = s.issue("north", gun, "guard-1", lot, 30);
    s.return_spent("north", &issue, 2);
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
