//! A malicious log or server: forks, rollbacks, swapped entries, a dropped
//! middle event, proofs for the wrong size, a checkpoint signed by another
//! key. Each is refused with a precise problem.

use std::path::Path;
use std::sync::Arc;

use armsledger_bundle::{KeySource, MemoryLog, ProblemKind, Record, Scope, VerifyOptions};
use armsledger_core::testkit::{Scenario, v};
use armsledger_core::{ChainId, SignedEntry};

use crate::*;

fn with_state(path: &Path) -> VerifyOptions {
    VerifyOptions {
        trusted_key: Some(log_key().verifier()),
        state_path: Some(path.to_path_buf()),
        ..VerifyOptions::default()
    }
}

/// The same entries with two adjacent entries of different chains swapped
/// after `from`: a perfectly valid log with a different history.
fn forked(s: &Scenario, from: usize) -> MemoryLog {
    let mut entries: Vec<Arc<SignedEntry>> = s.log.clone();
    let i = (from..entries.len() - 1)
        .find(|&i| entries[i].chain() != entries[i + 1].chain())
        .unwrap();
    entries.swap(i, i + 1);
    MemoryLog::from_entries(entries).unwrap()
}

#[test]
fn a_forked_log_is_refused_full_and_scoped() {
    let (s, gun) = world();
    let log = memory_log(&s);
    let n = log.size();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let ok = verify_with(
        &bundle_of(&s, &log, &log_key(), Scope::All, Some(n - 8)),
        &with_state(&state),
    );
    assert!(ok.authentic(), "{:#?}", ok.problems);
    let fork = forked(&s, (n - 12) as usize);
    // Full bundle: the trusted prefix rehashes to another root.
    let r = verify_with(
        &bundle_of(&s, &fork, &log_key(), Scope::All, None),
        &with_state(&state),
    );
    assert!(!r.authentic());
    let p = of_kind(&r, ProblemKind::Forked);
    assert_eq!(p.len(), 1, "{:#?}", r.problems);
    assert!(p[0].reason.contains("trusted root"), "{}", p[0]);
    assert!(!r.state.updated);
    // Same size, other root.
    let r = verify_with(
        &bundle_of(&s, &fork, &log_key(), Scope::All, Some(n - 8)),
        &with_state(&state),
    );
    assert_eq!(
        of_kind(&r, ProblemKind::Forked).len(),
        1,
        "{:#?}",
        r.problems
    );
    // Scoped: the consistency proof from the fork's tree does not hold.
    let key = log_key();
    let mut spec = armsledger_bundle::BundleSpec::new(&key, s.regulator_key(), s.now);
    spec.manufacturer_roots = vec![s.root_key()];
    spec.consistency_from = vec![n - 8];
    let b = armsledger_bundle::write_bundle(&fork, &spec, Scope::Firearm(gun), Vec::new()).unwrap();
    let r = verify_with(&b, &with_state(&state));
    let p = of_kind(&r, ProblemKind::Forked);
    assert_eq!(p.len(), 1, "{:#?}", r.problems);
    assert!(p[0].reason.contains("not consistent"));
    // Scoped without any proof from the trusted size: refused, with the fix.
    spec.consistency_from = vec![];
    let b = armsledger_bundle::write_bundle(&log, &spec, Scope::Firearm(gun), Vec::new()).unwrap();
    let r = verify_with(&b, &with_state(&state));
    assert!(
        of_kind(&r, ProblemKind::Forked)[0]
            .reason
            .contains("ask the server")
    );
    // The state still holds the first checkpoint.
    let st = armsledger_bundle::TrustedState::load(&state).unwrap();
    assert_eq!(st.logs[ORIGIN].size, n - 8);
}

#[test]
fn a_rolled_back_log_is_refused() {
    let (s, _) = world();
    let log = memory_log(&s);
    let n = log.size();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    assert!(
        verify_with(
            &bundle_of(&s, &log, &log_key(), Scope::All, None),
            &with_state(&state)
        )
        .authentic()
    );
    let r = verify_with(
        &bundle_of(&s, &log, &log_key(), Scope::All, Some(n - 3)),
        &with_state(&state),
    );
    assert!(!r.authentic());
    let p = of_kind(&r, ProblemKind::RolledBack);
    assert_eq!(p.len(), 1, "{:#?}", r.problems);
    assert_eq!(p[0].record, Some(1));
    assert!(p[0].reason.contains(&format!("{n} entries was trusted")));
}

#[test]
fn a_swapped_entry_is_named() {
    let (s, _) = world();
    let log = memory_log(&s);
    let bytes = bundle_of(&s, &log, &log_key(), Scope::All, None);
    let mut recs = records(&bytes);
    // Two entries of the north chain exchange places (indexes kept in order).
    let north: Vec<usize> = recs
        .iter()
        .enumerate()
        .filter(|(_, r)| entry_of(r).is_some_and(|e| *e.chain() == ChainId::Site(v("north"))))
        .map(|(i, _)| i)
        .collect();
    let (a, b) = (north[2], north[3]);
    let (Record::Entry(ea), Record::Entry(eb)) = (recs[a].clone(), recs[b].clone()) else {
        unreachable!()
    };
    recs[a] = Record::Entry(armsledger_bundle::EntryRecord {
        index: ea.index,
        ..eb.clone()
    });
    recs[b] = Record::Entry(armsledger_bundle::EntryRecord {
        index: eb.index,
        ..ea
    });
    let r = verify(&frame(&recs));
    assert!(!r.authentic());
    let chain = of_kind(&r, ProblemKind::Chain);
    assert_eq!(chain[0].record, Some(a as u64), "{:#?}", r.problems);
    assert_eq!(
        chain[0].counter,
        Some(entry_of(&recs[a]).unwrap().counter())
    );
    assert!(chain[0].reason.contains("does not link"), "{}", chain[0]);
    assert_eq!(of_kind(&r, ProblemKind::MerkleRoot).len(), 1);
}

#[test]
fn a_dropped_middle_event_of_a_dossier_is_named() {
    let (s, gun) = world();
    let log = memory_log(&s);
    let bytes = bundle_of(&s, &log, &log_key(), Scope::Firearm(gun), None);
    let mut recs = records(&bytes);
    let events: Vec<usize> = recs
        .iter()
        .enumerate()
        .filter(|(_, r)| entry_of(r).is_some_and(|e| matches!(e.chain(), ChainId::Site(_))))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(events.len(), 6);
    let dropped = entry_of(&recs[events[2]]).unwrap();
    let before = entry_of(&recs[events[1]]).unwrap();
    let after = entry_of(&recs[events[3]]).unwrap();
    // Remove the third event and its inclusion proof.
    recs.drain(events[2]..events[2] + 2);
    let r = verify(&frame(&recs));
    assert!(!r.authentic());
    let p = of_kind(&r, ProblemKind::Dossier);
    assert_eq!(p.len(), 1, "{:#?}", r.problems);
    assert_eq!(p[0].entry, Some(after.hash()));
    assert_eq!(p[0].counter, Some(after.counter()));
    assert_eq!(p[0].record, Some(events[3] as u64 - 2));
    assert!(p[0].reason.contains(&dropped.hash().short()), "{}", p[0]);
    assert!(p[0].reason.contains(&before.hash().short()), "{}", p[0]);
    assert_eq!(r.problems.len(), 1, "only the gap: {:#?}", r.problems);
}

#[test]
fn a_proof_for_the_wrong_size_is_refused() {
    let (s, gun) = world();
    let log = memory_log(&s);
    let n = log.size();
    let bytes = bundle_of(&s, &log, &log_key(), Scope::Firearm(gun), None);
    let recs: Vec<Record> = records(&bytes)
        .into_iter()
        .map(|r| match r {
            Record::Inclusion(mut i) if i.index < n - 1 => {
                i.proof = log.inclusion(i.index, n - 1).unwrap();
                Record::Inclusion(i)
            }
            other => other,
        })
        .collect();
    let r = verify(&frame(&recs));
    assert!(!r.authentic());
    let p = of_kind(&r, ProblemKind::Inclusion);
    assert!(!p.is_empty());
    assert!(
        p.iter().all(|p| p.reason.contains(&format!("size {n}"))),
        "{p:#?}"
    );
    // Every entry whose proof was swapped is named.
    let swapped = recs
        .iter()
        .filter(|r| matches!(r, Record::Inclusion(_)))
        .count();
    assert!(p.len() + 1 >= swapped);
}

#[test]
fn a_checkpoint_signed_by_another_key_is_refused() {
    let (s, _) = world();
    let log = memory_log(&s);
    let forged = bundle_of(&s, &log, &other_key(), Scope::All, None);
    let r = verify(&forged);
    assert!(!r.authentic());
    let p = of_kind(&r, ProblemKind::Checkpoint);
    assert_eq!(p.len(), 1, "{:#?}", r.problems);
    assert_eq!(p[0].record, Some(1));
    assert!(r.notes.iter().any(|n| n.contains("names log key")));
    // With no --trusted-key, the key pinned by the state file still decides.
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    assert!(
        verify_with(
            &bundle_of(&s, &log, &log_key(), Scope::All, Some(5)),
            &with_state(&state)
        )
        .authentic()
    );
    let pinned = VerifyOptions {
        state_path: Some(state),
        ..VerifyOptions::default()
    };
    // The forged bundle names its own key: another key under a pinned
    // origin is refused as that, before anything is opened with it.
    let r = verify_with(&forged, &pinned);
    assert_eq!(r.trusted_key_source, Some(KeySource::State));
    assert_eq!(
        of_kind(&r, ProblemKind::LogKeyChanged).len(),
        1,
        "{:#?}",
        r.problems
    );
    // Naming the pinned key while signed by another does not open either.
    let mut recs = records(&forged);
    if let Record::Meta(m) = &mut recs[0] {
        m.log_key = log_key().verifier().to_string();
    }
    let r = verify_with(&frame(&recs), &pinned);
    assert_eq!(r.trusted_key_source, Some(KeySource::State));
    assert_eq!(
        of_kind(&r, ProblemKind::Checkpoint).len(),
        1,
        "{:#?}",
        r.problems
    );
}
