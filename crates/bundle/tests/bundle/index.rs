//! A full bundle's verifiable index: the verifier recomputes the index from
//! the entries and compares it with the root the checkpoint commits to.

use armsledger_bundle::{ProblemKind, Record, Scope};
use armsledger_core::event::Subject;
use armsledger_index::{MemStore, apply, root_hash};
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
