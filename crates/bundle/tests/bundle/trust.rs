//! Which log key a bundle is checked with, and why (issue 14): passed on
//! the command line, pinned in the trusted state (with the date), or taken
//! from the bundle itself (a warning); and a bundle of another log under an
//! origin the state already knows, refused as that unless trusted on purpose.

use armsledger_bundle::{KeySource, Scope, TrustedState, WarningKind};
use armsledger_core::ids::Timestamp;

use crate::*;

const PIN_TIME: Timestamp = Timestamp(1_796_000_000_000);

fn state_opts(path: &std::path::Path) -> VerifyOptions {
    VerifyOptions {
        state_path: Some(path.to_path_buf()),
        wall_clock: Some(PIN_TIME),
        ..VerifyOptions::default()
    }
}

fn unchecked_warning(r: &Report) -> bool {
    r.warnings
        .iter()
        .any(|w| w.kind == WarningKind::LogKeyUnchecked)
}

#[test]
fn the_key_source_is_said_in_words_and_the_bundles_own_key_is_a_warning() {
    let (s, _) = world();
    let log = memory_log(&s);
    let bytes = bundle_of(&s, &log, &log_key(), Scope::All, None);
    let passed = verify(&bytes);
    assert_eq!(passed.trusted_key_source, Some(KeySource::Argument));
    assert!(!unchecked_warning(&passed));
    assert_eq!(
        KeySource::Argument.describe(None),
        "trusted because you passed --trusted-key"
    );
    let own = verify_with(&bytes, &VerifyOptions::default());
    assert!(own.authentic());
    assert_eq!(own.trusted_key_source, Some(KeySource::Bundle));
    assert!(unchecked_warning(&own), "{:#?}", own.warnings);
    assert_eq!(
        KeySource::Bundle.describe(None),
        "taken from the bundle itself: nothing checked it"
    );
}

#[test]
fn a_pinned_key_carries_its_date_and_old_state_files_still_read() {
    let (s, _) = world();
    let log = memory_log(&s);
    let n = log.size();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let first = verify_with(
        &bundle_of(&s, &log, &log_key(), Scope::All, Some(n - 3)),
        &state_opts(&path),
    );
    assert!(first.authentic(), "{:#?}", first.problems);
    let pinned = TrustedState::load(&path).unwrap().logs[ORIGIN]
        .pinned_at
        .clone();
    assert_eq!(pinned.as_deref(), Some(PIN_TIME.to_string().as_str()));
    // Later: the key comes from the state, with the day it was pinned; the
    // date stays the first one.
    let later = VerifyOptions {
        wall_clock: Some(PIN_TIME.plus(86_400_000)),
        ..state_opts(&path)
    };
    let r = verify_with(&bundle_of(&s, &log, &log_key(), Scope::All, None), &later);
    assert!(r.authentic(), "{:#?}", r.problems);
    assert_eq!(r.trusted_key_source, Some(KeySource::State));
    assert_eq!(r.trusted_key_pinned_at, pinned);
    assert_eq!(
        KeySource::State.describe(r.trusted_key_pinned_at.as_deref()),
        format!(
            "pinned on {} in the trusted state",
            &PIN_TIME.to_string()[..10]
        )
    );
    assert_eq!(
        TrustedState::load(&path).unwrap().logs[ORIGIN].pinned_at,
        pinned
    );
    // A state file from before pin dates: read as it is, said as it is.
    let mut old: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    old["logs"][ORIGIN]
        .as_object_mut()
        .unwrap()
        .remove("pinned_at");
    std::fs::write(&path, serde_json::to_vec(&old).unwrap()).unwrap();
    let r = verify_with(&bundle_of(&s, &log, &log_key(), Scope::All, None), &later);
    assert!(r.authentic(), "{:#?}", r.problems);
    assert_eq!(r.trusted_key_source, Some(KeySource::State));
    assert_eq!(r.trusted_key_pinned_at, None);
    assert_eq!(
        KeySource::State.describe(None),
        "pinned in the trusted state (date not recorded)"
    );
}

#[test]
fn another_log_under_a_known_origin_is_refused_as_that_and_trusted_on_purpose() {
    // Two demo runs: two logs, two keys, one origin.
    let (s, _) = world();
    let log = memory_log(&s);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let run1 = bundle_of(&s, &log, &log_key(), Scope::All, None);
    let run2 = bundle_of(&s, &log, &other_key(), Scope::All, None);
    assert!(verify_with(&run1, &state_opts(&path)).authentic());
    let before = std::fs::read(&path).unwrap();

    let r = verify_with(&run2, &state_opts(&path));
    assert!(!r.authentic());
    let p = of_kind(&r, ProblemKind::LogKeyChanged);
    assert_eq!(p.len(), 1, "{:#?}", r.problems);
    assert_eq!(r.problems.len(), 1, "one clear problem: {:#?}", r.problems);
    for want in [
        ORIGIN,
        &log_key().verifier().to_string(),
        &other_key().verifier().to_string(),
        "--trust-new-log",
        "pinned",
    ] {
        assert!(p[0].reason.contains(want), "{want}: {}", p[0].reason);
    }
    assert_eq!(std::fs::read(&path).unwrap(), before, "the state is kept");
    // The same with --trusted-key naming the new log's key.
    let passed = VerifyOptions {
        trusted_key: Some(other_key().verifier()),
        ..state_opts(&path)
    };
    let r = verify_with(&run2, &passed);
    assert_eq!(of_kind(&r, ProblemKind::LogKeyChanged).len(), 1);

    // On purpose: trusted, said so, and the state now pins the new key.
    let on_purpose = VerifyOptions {
        trust_new_log: true,
        wall_clock: Some(PIN_TIME.plus(1000)),
        ..state_opts(&path)
    };
    let r = verify_with(&run2, &on_purpose);
    assert!(r.authentic(), "{:#?}", r.problems);
    assert_eq!(r.trusted_key_source, Some(KeySource::Bundle));
    assert!(unchecked_warning(&r));
    assert!(
        r.notes.iter().any(|n| n.contains("--trust-new-log")),
        "{:#?}",
        r.notes
    );
    let now = TrustedState::load(&path).unwrap();
    assert_eq!(now.logs[ORIGIN].log_key, other_key().verifier().to_string());
    assert_eq!(
        now.logs[ORIGIN].pinned_at.as_deref(),
        Some(PIN_TIME.plus(1000).to_string().as_str())
    );
    // And the first log is now the stranger.
    let r = verify_with(&run1, &state_opts(&path));
    assert_eq!(of_kind(&r, ProblemKind::LogKeyChanged).len(), 1);
}
