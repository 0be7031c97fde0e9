//! Checkpoints signed by the store: C2SP format checked with `signed_note`
//! and `tlog_tiles`, persistence, consistency across restarts.

use armsledger_log::{LogKey, open_checkpoint, verify_consistency};
use armsledger_store::{LogStore, StoreError};
use signed_note::{Note, StandardVerifier, VerifierList};

use crate::common::{accepted, log_key, store_with, workload};

#[test]
fn store_checkpoints_verify_with_signed_note_and_parse_with_tlog_tiles() {
    let log = workload(300);
    let (_dir, store) = store_with(&log);
    let key = log_key();
    let signed = store.sign_checkpoint(&key).unwrap();
    let note_bytes = signed.note().as_bytes();

    let vkey = key.verifier().to_string();
    let verifier = StandardVerifier::new(&vkey).unwrap();
    let note = Note::from_bytes(note_bytes).unwrap();
    let (verified, _) = note
        .verify(&VerifierList::new(vec![Box::new(verifier)]))
        .unwrap();
    assert_eq!(verified.len(), 1);
    let cp = tlog_tiles::Checkpoint::from_bytes(note.text()).unwrap();
    assert_eq!(cp.origin(), key.name());
    assert_eq!(cp.size(), 300);
    assert_eq!(cp.hash().0, store.read().unwrap().root().0);
    // The one extension line: the verifiable index's root over the same entries.
    let index = store.read().unwrap().index_root().unwrap();
    assert_eq!(
        cp.extension(),
        format!(
            "{}{}\n",
            armsledger_log::INDEX_EXTENSION,
            armsledger_log::Hash(index.0).to_base64()
        )
    );

    // Our own opener agrees, and the note is what the store keeps.
    let opened = open_checkpoint(note_bytes, &key.verifier(), key.name()).unwrap();
    assert_eq!(opened.checkpoint().size(), 300);
    let r = store.read().unwrap();
    assert_eq!(r.checkpoint(300).unwrap().as_deref(), Some(signed.note()));
    assert_eq!(
        r.latest_checkpoint().unwrap().as_deref(),
        Some(signed.note())
    );
}

#[test]
fn checkpoints_chain_consistently_across_restarts() {
    let log = workload(900);
    let (dir, store) = store_with(&[]);
    let key = log_key();
    let mut signed = vec![store.sign_checkpoint(&key).unwrap()];
    let path = dir.path().join("log.redb");
    let mut store = Some(store);
    for chunk in log.chunks(200) {
        let s = store.take().unwrap();
        s.append_batch(&accepted(chunk)).unwrap();
        signed.push(s.sign_checkpoint(&key).unwrap());
        // Same size again: the same note, byte for byte.
        assert_eq!(s.sign_checkpoint(&key).unwrap(), *signed.last().unwrap());
        drop(s);
        store = Some(LogStore::open(&path).unwrap());
    }
    let s = store.unwrap();
    let r = s.read().unwrap();
    assert_eq!(r.checkpoints().unwrap().len(), signed.len());
    for a in &signed {
        for b in &signed {
            let (a, b) = (a.checkpoint(), b.checkpoint());
            if a.size() <= b.size() {
                let p = r.consistency_proof(a.size(), b.size()).unwrap();
                verify_consistency(a.size(), b.size(), a.root(), b.root(), &p).unwrap();
            }
        }
    }
    let report = s.fsck().unwrap();
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.checkpoints, signed.len() as u64);
}

#[test]
fn another_key_is_refused() {
    let log = workload(30);
    let (_dir, store) = store_with(&log);
    store.sign_checkpoint(&log_key()).unwrap();
    let other = LogKey::from_seed("ledger.example/armsledger-test", &[43; 32]).unwrap();
    assert!(matches!(
        store.sign_checkpoint(&other),
        Err(StoreError::LogKeyChanged { .. })
    ));
    let renamed = LogKey::from_seed("ledger.example/other", &[42; 32]).unwrap();
    assert!(matches!(
        store.sign_checkpoint(&renamed),
        Err(StoreError::LogKeyChanged { .. })
    ));
}
