//! A full bundle's verifiable index: the verifier recomputes the index from
//! the entries and compares it with the root the checkpoint commits to.

use armsledger_bundle::{IndexLeavesRecord, ProblemKind, Record, Scope};
use armsledger_core::Hash;
use armsledger_core::event::Subject;
use armsledger_index::tree::Batch;
use armsledger_index::value::value_hash;
use armsledger_index::{MapKey, MemStore, NodeStore as _, apply, root_hash};
use armsledger_log::Hash as LogHash;

use crate::{bundle_of, frame, log_key, memory_log, of_kind, records, verify, world};

/// The bundle of `s` with its checkpoint replaced by one committing to `index`.
fn with_index(bytes: &[u8], log: &armsledger_bundle::MemoryLog, index: LogHash) -> Vec<u8> {
    let size = log.size();
    let note = log_key()
        .sign_checkpoint_indexed(size, &log.root_at(size).unwrap(), Some(&index))
        .unwrap();
    let recs: Vec<Record> = records(bytes)
        .into_iter()
        .map(|r| match r {
            Record::Checkpoint(_) => Record::Checkpoint(note.note().to_owned()),
            other => other,
        })
        .collect();
    frame(&recs)
}

#[test]
fn a_full_bundle_checks_the_index_the_checkpoint_commits_to() {
    let (s, _) = world();
    let log = memory_log(&s);
    let note = log.checkpoint_indexed(&log_key(), log.size()).unwrap();
    let plain = bundle_of(&s, &log, &log_key(), Scope::All, None);
    let bytes = with_index(&plain, &log, *note.checkpoint().index().unwrap());
    let r = verify(&bytes);
    assert!(r.authentic(), "{:#?}", r.problems);
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("verifiable index: the entries give the root")),
        "{:#?}",
        r.notes
    );
    // A checkpoint without the index line (signed before the index existed)
    // commits to no index: nothing is checked or claimed.
    let r = verify(&plain);
    assert!(r.authentic());
    assert!(!r.notes.iter().any(|n| n.contains("verifiable index")));
}

#[test]
fn a_server_whose_index_misstates_one_weapon_fails_a_full_verify() {
    let (s, gun) = world();
    let log = memory_log(&s);
    // The server's index leaves out the weapon's newest event.
    let newest = s
        .log
        .iter()
        .rposition(|e| e.body().event.subjects().contains(&Subject::Firearm(gun)))
        .unwrap();
    let mut wrong = MemStore::default();
    apply(
        &mut wrong,
        s.log
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != newest)
            .map(|(i, e)| (i as u64, &**e)),
    )
    .unwrap();
    let wrong = LogHash(root_hash(&wrong).unwrap().0);
    let bytes = with_index(
        &bundle_of(&s, &log, &log_key(), Scope::All, None),
        &log,
        wrong,
    );
    let r = verify(&bytes);
    assert!(!r.authentic());
    let p = of_kind(&r, ProblemKind::IndexRoot);
    assert_eq!(p.len(), 1, "{:#?}", r.problems);
    assert!(p[0].reason.contains("misstates"), "{}", p[0].reason);
}

/// Every leaf of `map`, (key, value hash), by key.
fn leaves_of(map: &MemStore) -> Vec<([u8; 32], Hash)> {
    let mut l: Vec<([u8; 32], Hash)> = map.leaves().map(|(k, v)| (k.0, value_hash(v))).collect();
    l.sort_unstable_by_key(|a| a.0);
    l
}

/// The full bundle of `s` at a checkpoint committing to the root of
/// `claimed`, carrying `claimed` as its IndexLeaves records.
fn with_leaves(
    s: &armsledger_core::testkit::Scenario,
    log: &armsledger_bundle::MemoryLog,
    claimed: &[([u8; 32], Hash)],
    root: LogHash,
) -> Vec<u8> {
    let bytes = with_index(&bundle_of(s, log, &log_key(), Scope::All, None), log, root);
    let mut recs = records(&bytes);
    let at = recs
        .iter()
        .position(|r| matches!(r, Record::Entry(_)))
        .unwrap();
    for (i, run) in claimed.chunks(3).enumerate() {
        recs.insert(
            at + i,
            Record::IndexLeaves(IndexLeavesRecord {
                leaves: run.to_vec(),
            }),
        );
    }
    frame(&recs)
}

/// The root of a map holding exactly `leaves`.
fn root_of(leaves: &[([u8; 32], Hash)]) -> LogHash {
    let mut m = MemStore::default();
    let mut b = Batch::new(&mut m).unwrap();
    for (k, h) in leaves {
        b.set(&MapKey(*k), *h).unwrap();
    }
    LogHash(b.commit().unwrap().0)
}

#[test]
fn a_server_whose_index_is_wrong_for_one_serial_is_named_by_a_full_verify() {
    let (s, gun) = world();
    let log = memory_log(&s);
    let mut right = MemStore::default();
    apply(
        &mut right,
        s.log.iter().enumerate().map(|(i, e)| (i as u64, &**e)),
    )
    .unwrap();
    let leaves = leaves_of(&right);

    // The server's own leaves, at the root it committed to: quiet.
    let bytes = with_leaves(&s, &log, &leaves, root_of(&leaves));
    let r = verify(&bytes);
    assert!(r.authentic(), "{:#?}", r.problems);

    // One leaf wrong: the serial AB-1's, which leaves out the weapon's
    // newest event (the value of an index built without it).
    let newest = s
        .log
        .iter()
        .rposition(|e| e.body().event.subjects().contains(&Subject::Firearm(gun)))
        .unwrap();
    let mut stale = MemStore::default();
    apply(
        &mut stale,
        s.log
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != newest)
            .map(|(i, e)| (i as u64, &**e)),
    )
    .unwrap();
    let key = MapKey::serial("AB-1");
    let stale_value = value_hash(&stale.value(&key).unwrap().unwrap());
    let forged: Vec<([u8; 32], Hash)> = leaves
        .iter()
        .map(|(k, h)| (*k, if *k == key.0 { stale_value } else { *h }))
        .collect();
    assert_ne!(forged, leaves);
    let r = verify(&with_leaves(&s, &log, &forged, root_of(&forged)));
    assert!(!r.authentic());
    let p = of_kind(&r, ProblemKind::IndexRoot);
    assert_eq!(p.len(), 1, "{:#?}", r.problems);
    assert!(
        p[0].reason.starts_with(&format!(
            "serial AB1 (firearm {gun}): the server's verifiable index misstates"
        )),
        "{}",
        p[0].reason
    );
    assert!(
        p[0].reason
            .contains(&format!("newest entry at log index {newest} ")),
        "{}",
        p[0].reason
    );

    // A site chain's leaf wrong: named as the chain.
    let key = MapKey::chain_labelled("site:south");
    let forged: Vec<([u8; 32], Hash)> = leaves
        .iter()
        .map(|(k, h)| (*k, if *k == key.0 { Hash([7; 32]) } else { *h }))
        .collect();
    let r = verify(&with_leaves(&s, &log, &forged, root_of(&forged)));
    let p = of_kind(&r, ProblemKind::IndexRoot);
    assert_eq!(p.len(), 1, "{:#?}", r.problems);
    assert_eq!(p[0].chain.as_deref(), Some("site:south"));
    assert!(
        p[0].reason.starts_with("chain site:south: "),
        "{}",
        p[0].reason
    );

    // An ammunition lot's leaf wrong: named by the lot's id.
    let lot = s
        .log
        .iter()
        .flat_map(|e| e.body().event.subjects())
        .find_map(|sub| match sub {
            Subject::Lot(l) => Some(l),
            Subject::Firearm(_) => None,
        })
        .unwrap();
    let key = MapKey::lot(&lot);
    let forged: Vec<([u8; 32], Hash)> = leaves
        .iter()
        .map(|(k, h)| (*k, if *k == key.0 { Hash([8; 32]) } else { *h }))
        .collect();
    let r = verify(&with_leaves(&s, &log, &forged, root_of(&forged)));
    let p = of_kind(&r, ProblemKind::IndexRoot);
    assert_eq!(p.len(), 1, "{:#?}", r.problems);
    assert!(
        p[0].reason.starts_with(&format!("ammunition lot {lot}: ")),
        "{}",
        p[0].reason
    );

    // A leaf for a serial no entry gives: named by its key.
    let ghost = MapKey::serial("NEVER-1");
    let mut forged = leaves.clone();
    forged.push((ghost.0, Hash([9; 32])));
    forged.sort_unstable_by_key(|a| a.0);
    let r = verify(&with_leaves(&s, &log, &forged, root_of(&forged)));
    let p = of_kind(&r, ProblemKind::IndexRoot);
    assert_eq!(p.len(), 1, "{:#?}", r.problems);
    assert!(
        p[0].reason.contains(&format!("key {ghost}")),
        "{}",
        p[0].reason
    );
    assert!(p[0].reason.contains("no entry gives"), "{}", p[0].reason);

    // Leaves that do not give the committed root cannot name anything.
    let r = verify(&with_leaves(&s, &log, &forged, LogHash([5; 32])));
    let p = of_kind(&r, ProblemKind::IndexRoot);
    assert_eq!(p.len(), 1, "{:#?}", r.problems);
    assert!(p[0].reason.contains("cannot name it"), "{}", p[0].reason);

    // The entries' root with other leaves: the leaves are not that index.
    assert_eq!(root_of(&leaves).0, root_hash(&right).unwrap().0);
    let r = verify(&with_leaves(&s, &log, &forged, root_of(&leaves)));
    let p = of_kind(&r, ProblemKind::IndexRoot);
    assert_eq!(p.len(), 1, "{:#?}", r.problems);
    assert!(
        p[0].reason.contains("not the index the checkpoint"),
        "{}",
        p[0].reason
    );
}

#[test]
fn index_leaves_belong_to_full_bundles_in_key_order() {
    let (s, _) = world();
    let log = memory_log(&s);
    let mut right = MemStore::default();
    apply(
        &mut right,
        s.log.iter().enumerate().map(|(i, e)| (i as u64, &**e)),
    )
    .unwrap();
    let leaves = leaves_of(&right);
    // Records out of key order, each sorted within.
    let mut recs = records(&with_leaves(&s, &log, &leaves, root_of(&leaves)));
    let runs: Vec<usize> = recs
        .iter()
        .enumerate()
        .filter(|(_, r)| matches!(r, Record::IndexLeaves(_)))
        .map(|(i, _)| i)
        .collect();
    recs.swap(runs[0], runs[1]);
    let r = verify(&frame(&recs));
    assert!(
        of_kind(&r, ProblemKind::Order)
            .iter()
            .any(|p| p.reason.contains("increasing key order")),
        "{:#?}",
        r.problems
    );
    // Within a record, the decoder refuses them.
    let mut bad = IndexLeavesRecord {
        leaves: leaves[..2].to_vec(),
    };
    bad.leaves.swap(0, 1);
    assert!(Record::IndexLeaves(bad).payload().is_err());

    // A site bundle carries proofs, not leaves.
    let site = bundle_of(
        &s,
        &log,
        &log_key(),
        Scope::Site("north".parse().unwrap()),
        None,
    );
    let mut recs = records(&site);
    let at = recs
        .iter()
        .position(|r| matches!(r, Record::Entry(_)))
        .unwrap();
    recs.insert(
        at,
        Record::IndexLeaves(IndexLeavesRecord {
            leaves: leaves[..1].to_vec(),
        }),
    );
    let r = verify(&frame(&recs));
    assert!(
        of_kind(&r, ProblemKind::Order)
            .iter()
            .any(|p| p.reason.contains("not the index's leaves")),
        "{:#?}",
        r.problems
    );
}
