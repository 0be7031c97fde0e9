//! C2SP tlog-witness conformance: one test per status code and rule, each
//! run against the router in-process and against a loopback server.

use std::sync::Arc;

use armsledger_log::{
    CheckpointNote, Cosignature, EMPTY_ROOT, Hash, LogKey, MAX_NOTE_BYTES, NoteSignature,
};
use armsledger_witness::client::Reply;
use armsledger_witness::{AddCheckpoint, EvidenceKind, MAX_REQUEST_BYTES, Witness};
use sha2::{Digest as _, Sha256};

use crate::common::*;

/// A fresh witness that knows the test log, and a driver for it.
struct Case {
    driver: Box<dyn Driver>,
    witness: Arc<Witness>,
    log: TestLog,
    _dir: tempfile::TempDir,
}

/// Runs `test` once in-process and once over loopback HTTP.
fn on_both(test: impl Fn(&mut Case)) {
    for loopback in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let mut log = TestLog::new(ORIGIN, 1);
        log.grow(5, "a");
        let witness = witness(dir.path(), &[log.verifier()]);
        let driver: Box<dyn Driver> = if loopback {
            Box::new(Loopback::new(witness.clone()))
        } else {
            Box::new(InProcess::new(witness.clone()))
        };
        test(&mut Case {
            driver,
            witness,
            log,
            _dir: dir,
        });
    }
}

fn add(case: &Case, body: &str) -> Reply {
    case.driver.post("/add-checkpoint", body.as_bytes())
}

/// Asserts a 200 whose body is exactly one valid cosignature of `note`.
fn assert_cosigned(reply: &Reply, note: &str) -> Cosignature {
    assert_eq!(reply.status, 200, "{}", text(reply));
    assert_eq!(
        reply.content_type.as_deref(),
        Some("text/plain; charset=utf-8")
    );
    let body = text(reply);
    assert_eq!(body.lines().count(), 1, "{body:?}");
    let cosig = Cosignature::parse_line(body).unwrap();
    assert_eq!(cosig.to_line(), body, "one canonical line ending in \\n");
    assert_eq!(cosig.timestamp(), NOW);
    let parsed = CheckpointNote::parse(note.as_bytes()).unwrap();
    witness_verifier().verify(parsed.body(), &cosig).unwrap();
    cosig
}

fn assert_status(reply: &Reply, status: u16) {
    assert_eq!(reply.status, status, "{}", text(reply));
}

#[test]
fn ok_200_first_checkpoint_with_old_0() {
    on_both(|c| {
        let reply = add(c, &c.log.body(0, 5));
        assert_cosigned(&reply, &c.log.note());
        assert_eq!(c.witness.store().latest(ORIGIN).unwrap().unwrap().size, 5);
    });
}

#[test]
fn ok_200_consistency_proof_advances_the_witness() {
    on_both(|c| {
        assert_status(&add(c, &c.log.body(0, 5)), 200);
        c.log.grow(6, "b");
        for (old, new) in [(5, 8), (8, 11)] {
            let reply = add(c, &c.log.body(old, new));
            assert_cosigned(&reply, &c.log.note_at(new));
        }
    });
}

#[test]
fn ok_200_same_size_same_root_is_cosigned_again() {
    on_both(|c| {
        assert_status(&add(c, &c.log.body(0, 5)), 200);
        let reply = add(c, &c.log.body(5, 5));
        assert_cosigned(&reply, &c.log.note());
    });
}

#[test]
fn ok_200_extension_lines_and_other_signatures() {
    on_both(|c| {
        // The log signs a body with extension lines; the note also carries
        // a stranger's signature and another witness's cosignature.
        let body = format!(
            "{ORIGIN}\n5\n{}\nextension one\nextension two\n",
            c.log.root_at(5).to_base64()
        );
        let other_witness = armsledger_log::CosignerKey::from_seed("other.example", &[2; 32])
            .unwrap()
            .cosign(&body, 7)
            .unwrap();
        let stranger = LogKey::from_seed("stranger.example", &[3; 32]).unwrap();
        let note = format!(
            "{}{}",
            sign_body(&body, &[&c.log.key, &stranger]),
            other_witness.to_line()
        );
        let reply = add(c, &AddCheckpoint::encode(0, &[], &note));
        let cosig = assert_cosigned(&reply, &note);
        // The cosignature covers the extension lines.
        let plain = c.log.note_at(5);
        let plain_body = CheckpointNote::parse(plain.as_bytes()).unwrap();
        assert!(
            witness_verifier()
                .verify(plain_body.body(), &cosig)
                .is_err()
        );
        // The note served to monitors keeps the body, the log's line and ours.
        let served = c.witness.store().latest(ORIGIN).unwrap().unwrap().note;
        let parsed = CheckpointNote::parse(served.as_bytes()).unwrap();
        assert_eq!(parsed.body(), body);
        let names: Vec<&str> = parsed
            .signatures()
            .iter()
            .map(NoteSignature::name)
            .collect();
        assert_eq!(names, [ORIGIN, WITNESS_NAME]);
    });
}

/// Signs a note text with several log keys through signed_note.
fn sign_body(body: &str, keys: &[&LogKey]) -> String {
    let signers: Vec<signed_note::StandardSigner> = keys
        .iter()
        .map(|k| signed_note::StandardSigner::new(&k.to_signer_key()).unwrap())
        .collect();
    let refs: Vec<&dyn signed_note::Signer> = signers
        .iter()
        .map(|s| s as &dyn signed_note::Signer)
        .collect();
    let mut note = signed_note::Note::new(body.as_bytes(), &[]).unwrap();
    note.add_sigs(&refs).unwrap();
    String::from_utf8(note.to_bytes()).unwrap()
}

#[test]
fn fail_400_malformed_bodies() {
    on_both(|c| {
        let note = c.log.note();
        let proof_line = Hash([1; 32]).to_base64();
        for body in [
            String::new(),
            note.clone(),
            format!("old 0\n{note}"),
            format!("old 00\n\n{note}"),
            format!("old x\n\n{note}"),
            format!("old 0\n{}\n\n{note}", &proof_line[1..]),
            format!("old 0\n{}\n{note}", format!("{proof_line}\n").repeat(64)),
            "old 0\n\n".to_owned(),
            format!("old 0\n\n{}", note.replace("— ", "-- ")),
            format!("old 0\n\n{}", note.replacen("\n5\n", "\n05\n", 1)),
        ] {
            let reply = add(c, &body);
            assert_status(&reply, 400);
            assert_eq!(
                reply.content_type.as_deref(),
                Some("text/plain; charset=utf-8")
            );
        }
    });
}

#[test]
fn fail_400_old_size_beyond_the_checkpoint() {
    on_both(|c| {
        assert_status(&add(c, &AddCheckpoint::encode(6, &[], &c.log.note())), 400);
        // Nothing was persisted.
        assert!(c.witness.store().latest(ORIGIN).unwrap().is_none());
    });
}

#[test]
fn fail_403_no_valid_signature_by_the_log() {
    on_both(|c| {
        // Signed by another key under the log's name: an unknown key.
        let impostor = LogKey::from_seed(ORIGIN, &[99; 32]).unwrap();
        let forged = impostor.sign_checkpoint(5, &c.log.root_at(5)).unwrap();
        assert_status(&add(c, &AddCheckpoint::encode(0, &[], forged.note())), 403);
        // The log's own line over an altered body.
        let altered =
            c.log
                .note()
                .replacen(&c.log.root_at(5).to_base64(), &Hash([7; 32]).to_base64(), 1);
        assert_status(&add(c, &AddCheckpoint::encode(0, &[], &altered)), 403);
        assert!(c.witness.store().latest(ORIGIN).unwrap().is_none());
    });
}

#[test]
fn fail_404_unknown_log() {
    on_both(|c| {
        let mut other = TestLog::new("other.example/log", 4);
        other.grow(2, "x");
        assert_status(&add(c, &other.body(0, 2)), 404);
        // A known origin signed by a key the witness does not know is 403, not 404.
        let same_name = TestLog::new(ORIGIN, 5);
        assert_status(&add(c, &same_name.body(0, 0)), 403);
    });
}

#[test]
fn fail_409_old_size_is_not_the_witness_size() {
    on_both(|c| {
        assert_status(&add(c, &c.log.body(0, 5)), 200);
        c.log.grow(3, "b");
        // A client that knows nothing sends old 0 and learns the size.
        for old in [0, 3] {
            let reply = add(c, &c.log.body(old, 8));
            assert_status(&reply, 409);
            assert_eq!(reply.content_type.as_deref(), Some("text/x.tlog.size"));
            assert_eq!(text(&reply), "5\n");
        }
        assert_cosigned(&add(c, &c.log.body(5, 8)), &c.log.note_at(8));
    });
}

#[test]
fn fail_422_bad_consistency_proof() {
    on_both(|c| {
        assert_status(&add(c, &c.log.body(0, 5)), 200);
        c.log.grow(3, "b");
        let mut proof = c.log.proof(5, 8);
        proof[0] = Hash([9; 32]);
        let reply = add(c, &AddCheckpoint::encode(5, &proof, &c.log.note_at(8)));
        assert_status(&reply, 422);
        // Too short a proof too.
        let short = &c.log.proof(5, 8)[1..];
        assert_status(
            &add(c, &AddCheckpoint::encode(5, short, &c.log.note_at(8))),
            422,
        );
        assert_eq!(c.witness.store().latest(ORIGIN).unwrap().unwrap().size, 5);
        // The log-signed checkpoint that could not be proven is kept once.
        let evidence = c.witness.store().evidence(ORIGIN).unwrap();
        assert_eq!(evidence.len(), 1);
        assert_eq!(evidence[0].kind, EvidenceKind::Inconsistent);
    });
}

#[test]
fn fail_422_non_empty_proof_with_old_0() {
    on_both(|c| {
        let body = AddCheckpoint::encode(0, &[Hash([1; 32])], &c.log.note());
        assert_status(&add(c, &body), 422);
        // A client error is not evidence against the log.
        assert!(c.witness.store().evidence(ORIGIN).unwrap().is_empty());
        assert!(c.witness.store().latest(ORIGIN).unwrap().is_none());
    });
}

#[test]
fn fail_422_empty_tree_with_a_root_other_than_sha256_of_nothing() {
    on_both(|c| {
        let bad = c.log.key.sign_checkpoint(0, &Hash([1; 32])).unwrap();
        assert_status(&add(c, &AddCheckpoint::encode(0, &[], bad.note())), 422);
        let evidence = c.witness.store().evidence(ORIGIN).unwrap();
        assert_eq!(evidence[0].kind, EvidenceKind::EmptyTreeRoot);
        // The true empty tree is fine.
        let empty = c.log.key.sign_checkpoint(0, &EMPTY_ROOT).unwrap();
        assert_cosigned(
            &add(c, &AddCheckpoint::encode(0, &[], empty.note())),
            empty.note(),
        );
    });
}

#[test]
fn fail_422_same_size_different_root_is_a_split_view_kept_as_evidence() {
    on_both(|c| {
        assert_status(&add(c, &c.log.body(0, 5)), 200);
        // The same log key signs another tree of the same size.
        let mut fork = TestLog::new(ORIGIN, 1);
        fork.grow(5, "fork");
        let reply = add(c, &AddCheckpoint::encode(5, &[], &fork.note()));
        assert_status(&reply, 422);
        // Replayed: still refused, kept once.
        assert_status(&add(c, &AddCheckpoint::encode(5, &[], &fork.note())), 422);
        let evidence = c.witness.store().evidence(ORIGIN).unwrap();
        assert_eq!(evidence.len(), 1);
        let ev = &evidence[0];
        assert_eq!(ev.kind, EvidenceKind::SameSizeDifferentRoot);
        assert_eq!(ev.time, NOW);
        // Both notes are there: what we cosigned and what we refused.
        let cosigned = CheckpointNote::parse(ev.cosigned_note.as_bytes()).unwrap();
        assert_eq!(*cosigned.checkpoint().root(), c.log.root_at(5));
        let refused = AddCheckpoint::parse(&ev.request).unwrap();
        assert_eq!(refused.note, fork.note().as_bytes());
        // The witness still holds the first root.
        assert_eq!(
            c.witness.store().latest(ORIGIN).unwrap().unwrap().root,
            c.log.root_at(5)
        );
    });
}

#[test]
fn fail_413_body_over_the_limit_is_refused_before_reading() {
    on_both(|c| {
        let huge = format!("old 0\n\n{}", "x".repeat(MAX_REQUEST_BYTES));
        assert_status(&add(c, &huge), 413);
        // A note just over the note limit inside an allowed body.
        let note = format!("{}{}", c.log.note(), "y".repeat(MAX_NOTE_BYTES));
        let reply = add(c, &AddCheckpoint::encode(0, &[], &note));
        assert!(reply.status == 413 || reply.status == 400, "{reply:?}");
    });
}

#[test]
fn monitoring_read_returns_the_latest_cosigned_checkpoint() {
    on_both(|c| {
        let path = format!("/{}/checkpoint", hex::encode(Sha256::digest(ORIGIN)));
        assert_status(&c.driver.get(&path), 404);
        assert_status(&add(c, &c.log.body(0, 5)), 200);
        let reply = c.driver.get(&path);
        assert_status(&reply, 200);
        let served = text(&reply);
        // It opens as the log's checkpoint and carries our cosignature.
        let parsed = CheckpointNote::parse(served.as_bytes()).unwrap();
        parsed.verify_log(&[c.log.verifier()]).unwrap();
        let ours = parsed
            .signatures()
            .iter()
            .find(|s| witness_verifier().is_signer_of(s))
            .unwrap();
        let cosig = Cosignature::from_note_signature(ours).unwrap();
        witness_verifier().verify(parsed.body(), &cosig).unwrap();
        for bad in [
            format!("/{}/checkpoint", hex::encode(Sha256::digest("nope"))),
            format!(
                "/{}/checkpoint",
                hex::encode(Sha256::digest(ORIGIN)).to_uppercase()
            ),
            "/xyz/checkpoint".to_owned(),
        ] {
            assert_status(&c.driver.get(&bad), 404);
        }
    });
}

#[test]
fn state_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = TestLog::new(ORIGIN, 1);
    log.grow(5, "a");
    {
        let w = witness(dir.path(), &[log.verifier()]);
        assert_status(
            &InProcess::new(w).post("/add-checkpoint", log.body(0, 5).as_bytes()),
            200,
        );
    }
    let w = witness(dir.path(), &[log.verifier()]);
    let reply = InProcess::new(w).post("/add-checkpoint", log.body(0, 5).as_bytes());
    assert_status(&reply, 409);
    assert_eq!(text(&reply), "5\n");
}

#[test]
fn open_reads_the_files_and_never_forgets_a_log() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = TestLog::new(ORIGIN, 1);
    log.grow(5, "a");
    let config = write_files(dir.path(), &[log.verifier()]);
    let clock = Arc::new(armsledger_witness::FixedClock(NOW));
    let (w, added) = armsledger_witness::open(&config, clock.clone(), Default::default()).unwrap();
    assert_eq!(added, [log.verifier().to_string()]);
    w.add_checkpoint(log.body(0, 5).as_bytes()).unwrap();
    drop(w);
    // The log's line is removed from the file: the log and its state stay.
    std::fs::write(&config.logs_file, "# nothing\n").unwrap();
    let (w, added) = armsledger_witness::open(&config, clock, Default::default()).unwrap();
    assert!(added.is_empty());
    assert!(matches!(
        w.add_checkpoint(log.body(0, 5).as_bytes()),
        Err(armsledger_witness::WitnessError::OldSizeMismatch { witness_size: 5 })
    ));
}
