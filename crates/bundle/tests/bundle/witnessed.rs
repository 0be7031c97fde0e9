//! Issue 20: `--policy` demands the quorum of witness cosignatures on the
//! bundle's checkpoint, and two checkpoints of one size are kept as
//! split-view evidence.

use armsledger_bundle::{ProblemKind, Record, Scope, VerifyOptions};
use armsledger_log::{CheckpointNote, CosignerKey, Policy};

use crate::*;

fn witness(name: &str, seed: u8) -> CosignerKey {
    CosignerKey::from_seed(name, &[seed; 32]).unwrap()
}

/// Two witnesses, both required.
fn policy(a: &CosignerKey, b: &CosignerKey) -> Policy {
    Policy::parse(&format!(
        "log {}\nwitness a {}\nwitness b {}\ngroup both all a b\nquorum both\n",
        log_key().verifier(),
        a.verifier(),
        b.verifier()
    ))
    .unwrap()
}

/// The bundle with `lines` appended to its checkpoint note.
fn with_cosignatures(bundle: &[u8], lines: &[String]) -> Vec<u8> {
    let mut recs = records(bundle);
    for r in &mut recs {
        if let Record::Checkpoint(note) = r {
            for l in lines {
                note.push_str(l);
            }
        }
    }
    frame(&recs)
}

fn cosign(bundle: &[u8], key: &CosignerKey, at: u64) -> String {
    let note = records(bundle)
        .into_iter()
        .find_map(|r| match r {
            Record::Checkpoint(n) => Some(n),
            _ => None,
        })
        .unwrap();
    let body = CheckpointNote::parse(note.as_bytes())
        .unwrap()
        .body()
        .to_owned();
    key.cosign(&body, at).unwrap().to_line()
}

fn opts(p: &Policy) -> VerifyOptions {
    VerifyOptions {
        trusted_key: Some(log_key().verifier()),
        policy: Some(p.clone()),
        ..VerifyOptions::default()
    }
}

#[test]
fn the_checkpoint_needs_the_policys_quorum_of_valid_cosignatures() {
    let (s, _) = world();
    let log = memory_log(&s);
    let plain = bundle_of(&s, &log, &log_key(), Scope::All, None);
    let (a, b) = (witness("w-a.example", 0xa1), witness("w-b.example", 0xb2));
    let p = policy(&a, &b);

    // Firing: no cosignature at all.
    let r = verify_with(&plain, &opts(&p));
    assert!(!r.authentic());
    let q = of_kind(&r, ProblemKind::QuorumNotMet);
    assert_eq!(q.len(), 1, "{:#?}", r.problems);
    assert!(q[0].reason.contains("quorum both"), "{}", q[0]);
    let w = r.witnesses.as_ref().unwrap();
    assert!(!w.quorum_met && w.cosigned.is_empty());

    // Firing: one of the two.
    let one = with_cosignatures(&plain, &[cosign(&plain, &a, 1_750_000_000)]);
    let r = verify_with(&one, &opts(&p));
    assert!(!r.authentic());
    assert!(
        of_kind(&r, ProblemKind::QuorumNotMet)[0]
            .reason
            .contains("[a]")
    );

    // Firing: b's line is there but does not verify (signed over another
    // checkpoint): it is not counted.
    let other = bundle_of(&s, &log, &log_key(), Scope::All, Some(log.size() - 1));
    let forged = with_cosignatures(
        &plain,
        &[
            cosign(&plain, &a, 1_750_000_000),
            cosign(&other, &b, 1_750_000_000),
        ],
    );
    let r = verify_with(&forged, &opts(&p));
    assert!(!r.authentic());
    assert_eq!(r.witnesses.as_ref().unwrap().cosigned.len(), 1);

    // Quiet: both cosigned.
    let both = with_cosignatures(
        &plain,
        &[
            cosign(&plain, &a, 1_750_000_000),
            cosign(&plain, &b, 1_750_000_001),
        ],
    );
    let r = verify_with(&both, &opts(&p));
    assert!(r.authentic(), "{:#?}", r.problems);
    let w = r.witnesses.unwrap();
    assert!(w.quorum_met);
    assert_eq!(w.quorum.as_deref(), Some("both"));
    assert_eq!(
        w.cosigned
            .iter()
            .map(|c| (c.name.as_str(), c.timestamp))
            .collect::<Vec<_>>(),
        [("a", 1_750_000_000), ("b", 1_750_000_001)]
    );
    // A cosigned checkpoint still verifies without a policy (old readers
    // ignore the extra signature lines), and nothing about witnesses is said.
    let r = verify_with(
        &both,
        &VerifyOptions {
            trusted_key: Some(log_key().verifier()),
            ..VerifyOptions::default()
        },
    );
    assert!(r.authentic(), "{:#?}", r.problems);
    assert!(r.witnesses.is_none());
    // `quorum none` accepts the plain bundle.
    let none = Policy::parse(&format!("log {}\nquorum none\n", log_key().verifier())).unwrap();
    assert!(verify_with(&plain, &opts(&none)).authentic());
}

#[test]
fn a_log_the_policy_does_not_list_is_refused() {
    let (s, _) = world();
    let log = memory_log(&s);
    let bundle = bundle_of(&s, &log, &log_key(), Scope::All, None);
    let p = Policy::parse(&format!("log {}\nquorum none\n", other_key().verifier())).unwrap();
    let r = verify_with(&bundle, &opts(&p));
    assert!(!r.authentic());
    let q = of_kind(&r, ProblemKind::QuorumNotMet);
    assert!(
        q[0].reason.contains("does not open under the policy"),
        "{}",
        q[0]
    );
}

#[test]
fn two_checkpoints_of_one_size_are_kept_as_split_view_evidence() {
    let (s, _) = world();
    let log = memory_log(&s);
    let n = log.size();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let with_state = VerifyOptions {
        trusted_key: Some(log_key().verifier()),
        state_path: Some(state.clone()),
        ..VerifyOptions::default()
    };
    let first = bundle_of(&s, &log, &log_key(), Scope::All, Some(n - 1));
    let r = verify_with(&first, &with_state);
    assert!(r.authentic() && r.split_view.is_none());
    // Quiet: the same checkpoint again, and a later one, are no split view.
    assert!(verify_with(&first, &with_state).split_view.is_none());
    // Firing: another history of the same size, validly signed.
    // Two adjacent entries of different chains swapped: a valid log with
    // another history (as in malicious.rs).
    let mut entries = s.log.clone();
    let i = (entries.len() - 12..entries.len() - 2)
        .find(|&i| entries[i].chain() != entries[i + 1].chain())
        .unwrap();
    entries.swap(i, i + 1);
    let fork = MemoryLog::from_entries(entries).unwrap();
    let forked = bundle_of(&s, &fork, &log_key(), Scope::All, Some(n - 1));
    let r = verify_with(&forked, &with_state);
    assert!(!r.authentic());
    let split = r.split_view.expect("a split view");
    assert_eq!((split.origin.as_str(), split.size), (ORIGIN, n - 1));
    assert_ne!(split.trusted_note, split.offered_note);
    let root = |note: &str| {
        CheckpointNote::parse(note.as_bytes())
            .unwrap()
            .checkpoint()
            .root()
            .to_owned()
    };
    assert_ne!(root(&split.trusted_note), root(&split.offered_note));
    assert_eq!(
        split.size,
        CheckpointNote::parse(split.offered_note.as_bytes())
            .unwrap()
            .checkpoint()
            .size()
    );
}
