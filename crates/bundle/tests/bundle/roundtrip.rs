//! Honest bundles verify, in every scope, and the state file follows the log.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use armsledger_bundle::{
    BundleSpec, KeySource, Record, Scope, TrustedState, VerifyOptions, write_bundle,
};
use armsledger_core::testkit::{T0, v};

use crate::*;

#[test]
fn a_full_bundle_verifies_with_findings_reported_not_fatal() {
    let (s, _) = world();
    let log = memory_log(&s);
    let bytes = bundle_of(&s, &log, &log_key(), Scope::All, None);
    let r = verify(&bytes);
    assert!(r.authentic(), "{:#?}", r.problems);
    assert_eq!(r.entries, s.log.len() as u64);
    assert_eq!(r.entries_checked, s.log.len() as u64);
    let cp = r.checkpoint.as_ref().unwrap();
    assert_eq!(cp.size, log.size());
    assert_eq!(cp.root, log.root_at(log.size()).unwrap().to_string());
    assert_eq!(r.trusted_key_source, Some(KeySource::Argument));
    let chains: Vec<&str> = r.chains.iter().map(|c| c.chain.as_str()).collect();
    assert_eq!(chains, ["regulator", "site:north", "site:south"]);
    assert!(
        r.findings.iter().any(|f| f.evidence.contains("stranger")),
        "{:#?}",
        r.findings
    );
    assert_eq!(r.signatures.checked, s.log.len() as u64);
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["authentic"], true);
    assert_eq!(json["problems"].as_array().unwrap().len(), 0);
}

#[test]
fn without_a_trusted_key_the_bundle_key_is_used_and_said_so() {
    let (s, _) = world();
    let bytes = bundle_of(&s, &memory_log(&s), &log_key(), Scope::All, None);
    let r = verify_with(&bytes, &VerifyOptions::default());
    assert!(r.authentic());
    assert_eq!(r.trusted_key_source, Some(KeySource::Bundle));
}

#[test]
fn reader_and_writer_round_trip_byte_for_byte() {
    let (s, gun) = world();
    let log = memory_log(&s);
    for scope in [Scope::All, Scope::Site(v("north")), Scope::Firearm(gun)] {
        let bytes = bundle_of(&s, &log, &log_key(), scope, None);
        let recs = records(&bytes);
        assert!(matches!(recs.first(), Some(Record::Meta(_))));
        assert!(matches!(recs.last(), Some(Record::End(_))));
        assert_eq!(frame(&recs), bytes);
    }
}

#[test]
fn scoped_bundles_and_a_dossier_verify() {
    let (s, gun) = world();
    let log = memory_log(&s);
    let site = verify(&bundle_of(
        &s,
        &log,
        &log_key(),
        Scope::Site(v("north")),
        None,
    ));
    assert!(site.authentic(), "{:#?}", site.problems);
    assert!(site.chains.iter().all(|c| c.chain != "site:south"));
    let company = verify(&bundle_of(
        &s,
        &log,
        &log_key(),
        Scope::Company(v("bravo")),
        None,
    ));
    assert!(company.authentic(), "{:#?}", company.problems);
    assert!(company.chains.iter().any(|c| c.chain == "site:south"));
    let dossier = verify(&bundle_of(&s, &log, &log_key(), Scope::Firearm(gun), None));
    assert!(dossier.authentic(), "{:#?}", dossier.problems);
    let d = dossier.dossier.unwrap();
    assert_eq!(d.events, 6);
    assert_eq!(d.firearm, gun.to_string());
}

#[test]
fn the_state_follows_a_growing_log_by_prefix_and_by_proof() {
    let (s, gun) = world();
    let log = memory_log(&s);
    let dir = tempfile::tempdir().unwrap();
    let opts = VerifyOptions {
        trusted_key: Some(log_key().verifier()),
        state_path: Some(dir.path().join("state.json")),
        ..VerifyOptions::default()
    };
    let n = log.size();
    let first = verify_with(
        &bundle_of(&s, &log, &log_key(), Scope::All, Some(n - 10)),
        &opts,
    );
    assert!(first.authentic() && first.state.updated && first.state.previous_size.is_none());
    // A full bundle shows consistency by rehashing the trusted prefix.
    let second = verify_with(
        &bundle_of(&s, &log, &log_key(), Scope::All, Some(n - 5)),
        &opts,
    );
    assert!(second.authentic(), "{:#?}", second.problems);
    assert_eq!(second.state.previous_size, Some(n - 10));
    assert!(second.state.consistency.unwrap().contains("first"));
    // A scoped bundle needs a consistency proof from the trusted size.
    let key = log_key();
    let mut spec = BundleSpec::new(&key, s.regulator_key(), T0);
    spec.manufacturer_roots = vec![s.root_key()];
    spec.consistency_from = vec![3, n - 5];
    let scoped = write_bundle(&log, &spec, Scope::Firearm(gun), Vec::new()).unwrap();
    let third = verify_with(&scoped, &opts);
    assert!(third.authentic(), "{:#?}", third.problems);
    assert!(third.state.consistency.unwrap().contains("proof"));
    let state = TrustedState::load(&dir.path().join("state.json")).unwrap();
    assert_eq!(state.logs[ORIGIN].size, n);
    // The pinned key is used when none is given.
    let again = verify_with(
        &scoped,
        &VerifyOptions {
            state_path: opts.state_path.clone(),
            ..VerifyOptions::default()
        },
    );
    assert_eq!(again.trusted_key_source, Some(KeySource::State));
    assert!(again.authentic());
}

#[test]
fn progress_is_reported() {
    let (s, _) = world();
    let bytes = bundle_of(&s, &memory_log(&s), &log_key(), Scope::All, None);
    let seen = Arc::new(AtomicU64::new(0));
    let seen2 = seen.clone();
    let opts = VerifyOptions {
        progress: Some(Arc::new(move |done, total| {
            assert_eq!(total, Some(done));
            seen2.store(done, Ordering::SeqCst);
        })),
        ..VerifyOptions::default()
    };
    assert!(verify_with(&bytes, &opts).authentic());
    assert_eq!(seen.load(Ordering::SeqCst), s.log.len() as u64);
}
