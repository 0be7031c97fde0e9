//! Interoperability: our witness's cosignatures checked by an independent
//! implementation (the `sigsum` crate, which verifies cosignature/v1 over
//! Sigsum tree heads), our quorum logic against sigsum's, and the
//! litewitness-style request/response cases of `tests/data/litewitness/`.

use std::path::{Path, PathBuf};

use armsledger_log::{
    CheckpointNote, Cosignature, CosignerKey, EMPTY_ROOT, Frontier, LogKey, Policy, leaf_hash,
    prove_inclusion,
};
use armsledger_witness::AddCheckpoint;
use ed25519_dalek::Signer as _;
use sha2::{Digest as _, Sha256};

use crate::common::*;

fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// A two-leaf Sigsum log whose tree head our witness cosigns; the sigsum
/// crate then verifies the whole signature, cosignature and quorum included.
#[test]
fn sigsum_crate_verifies_our_cosignature() {
    // The log: Sigsum's origin is its key hash.
    let log_seed = [0x11; 32];
    let log_pub = ed25519_dalek::SigningKey::from_bytes(&log_seed).verifying_key();
    let origin = format!(
        "sigsum.org/v1/tree/{}",
        hex::encode(sha256(log_pub.as_bytes()))
    );
    let log = LogKey::from_seed(&origin, &log_seed).unwrap();

    // One signed leaf (Sigsum's leaf: checksum, signature, key hash).
    let data = b"armsledger interop\n";
    let message = sha256(data);
    let checksum = sha256(&message);
    let signer = ed25519_dalek::SigningKey::from_bytes(&[0x22; 32]);
    let signed = [b"sigsum.org/v1/tree-leaf\0".as_slice(), &checksum].concat();
    let leaf_sig = signer.sign(&signed).to_bytes();
    let signer_keyhash = sha256(signer.verifying_key().as_bytes());
    let leaf = [&checksum[..], &leaf_sig, &signer_keyhash].concat();
    let mut frontier = Frontier::new();
    let mut stored = Vec::new();
    for l in [leaf_hash(&leaf), leaf_hash(b"another leaf")] {
        stored.extend(frontier.append(l).unwrap().hashes);
    }
    let proof = prove_inclusion(&stored, 0, 2).unwrap();
    let note = log.sign_checkpoint(2, &frontier.root()).unwrap();

    // Our witness cosigns it.
    let dir = tempfile::tempdir().unwrap();
    let w = witness(dir.path(), &[log.verifier()]);
    let cosig = w
        .add_checkpoint(AddCheckpoint::encode(0, &[], note.note()).as_bytes())
        .unwrap()
        .remove(0);
    let log_sig = CheckpointNote::parse(note.note().as_bytes())
        .unwrap()
        .signatures()[0]
        .bytes()
        .to_vec();
    let witness_pub = witness_verifier().public_key().to_owned();

    let ascii = |cosig_line: Option<(u64, [u8; 64])>| {
        let mut s = format!(
            "version=2\nlog={}\nleaf={} {}\n\nsize=2\nroot_hash={}\nsignature={}\n",
            hex::encode(sha256(log_pub.as_bytes())),
            hex::encode(signer_keyhash),
            hex::encode(leaf_sig),
            hex::encode(frontier.root().as_bytes()),
            hex::encode(&log_sig),
        );
        if let Some((time, sig)) = cosig_line {
            s += &format!(
                "cosignature={} {time} {}\n",
                hex::encode(sha256(&witness_pub)),
                hex::encode(sig)
            );
        }
        s += &format!(
            "\nleaf_index=0\nnode_hash={}\n",
            hex::encode(proof[0].as_bytes())
        );
        s
    };
    let policy = sigsum::Policy::parse(&format!(
        "log {}\nwitness W {}\nquorum W\n",
        hex::encode(log_pub.as_bytes()),
        hex::encode(witness_pub)
    ))
    .unwrap();
    let signers = [sigsum::PublicKey::from(signer.verifying_key().to_bytes())];
    let verify = |text: &str| {
        let sig = sigsum::SigsumSignature::from_ascii(text).unwrap();
        sigsum::verify(&sigsum::Hash::from(message), &sig, &signers, &policy)
    };

    verify(&ascii(Some((cosig.timestamp(), *cosig.signature())))).unwrap();
    // Firing: another timestamp, an altered signature, no cosignature.
    assert!(verify(&ascii(Some((cosig.timestamp() + 1, *cosig.signature())))).is_err());
    let mut bad = *cosig.signature();
    bad[0] ^= 1;
    assert!(verify(&ascii(Some((cosig.timestamp(), bad)))).is_err());
    assert!(verify(&ascii(None)).is_err());
}

/// Our policy's quorum agrees with sigsum's on every subset of cosigners.
#[test]
fn quorum_logic_agrees_with_sigsum() {
    let log = LogKey::from_seed("log.example", &[1; 32]).unwrap();
    let witnesses: Vec<CosignerKey> = (1..=5)
        .map(|i| CosignerKey::from_seed(&format!("w{i}.example"), &[i; 32]).unwrap())
        .collect();
    let groups = "group G1 2 W1 W2 W3\ngroup G2 any W4 W5\ngroup Q all G1 G2\nquorum Q\n";
    let ours = Policy::parse(&format!(
        "log {}\n{}{groups}",
        log.verifier(),
        witnesses
            .iter()
            .enumerate()
            .map(|(i, w)| format!("witness W{} {}\n", i + 1, w.verifier()))
            .collect::<String>()
    ))
    .unwrap();
    let theirs = sigsum::Policy::parse(&format!(
        "log {}\n{}{groups}",
        hex::encode(log.verifier().public_key()),
        witnesses
            .iter()
            .enumerate()
            .map(|(i, w)| format!(
                "witness W{} {}\n",
                i + 1,
                hex::encode(w.verifier().public_key())
            ))
            .collect::<String>()
    ))
    .unwrap();
    for mask in 0u32..32 {
        let names: Vec<String> = (0..5)
            .filter(|i| mask & (1 << i) != 0)
            .map(|i| format!("W{}", i + 1))
            .collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let hashes: Vec<sigsum::Hash> = (0..5)
            .filter(|i| mask & (1 << i) != 0)
            .map(|i| sigsum::Hash::new(witnesses[i].verifier().public_key()))
            .collect();
        assert_eq!(
            ours.quorum_met(&refs),
            theirs.check_quorum(&hashes),
            "{names:?}"
        );
    }
}

// ---- litewitness-style cases ----

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/litewitness")
}

/// The logs of the cases: the main one and a fresh one for the old-0 rules.
fn case_logs() -> (TestLog, TestLog) {
    let mut main = TestLog::new(ORIGIN, 1);
    main.grow(10, "leaf");
    let mut second = TestLog::new("example.com/SecondLog", 2);
    second.grow(3, "x");
    (main, second)
}

/// The cases, in order: (name, request body). Regenerate the files with
/// `ARMSLEDGER_REGENERATE=1 cargo test -p armsledger-witness --test witness litewitness`.
fn cases() -> Vec<(&'static str, String)> {
    let (main, second) = case_logs();
    let unknown = {
        let mut l = TestLog::new("example.com/UnknownLog", 3);
        l.grow(1, "u");
        l
    };
    let mut fork = TestLog::new(ORIGIN, 1);
    fork.grow(8, "fork");
    let mut bad_proof = main.proof(8, 10);
    bad_proof[0] = armsledger_log::Hash([0xee; 32]);
    let impostor = LogKey::from_seed(ORIGIN, &[9; 32])
        .unwrap()
        .sign_checkpoint(5, &main.root_at(5))
        .unwrap();
    let ext_body = format!(
        "example.com/SecondLog\n3\n{}\nextension: armsledger test\n",
        second.root_at(3).to_base64()
    );
    let ext_note = {
        let skey = second.key.to_signer_key();
        let signer = signed_note::StandardSigner::new(&skey).unwrap();
        let mut n = signed_note::Note::new(ext_body.as_bytes(), &[]).unwrap();
        n.add_sigs(&[&signer]).unwrap();
        String::from_utf8(n.to_bytes()).unwrap()
    };
    let empty = second.key.sign_checkpoint(0, &EMPTY_ROOT).unwrap();
    vec![
        ("01-unknown-log", unknown.body(0, 1)),
        ("02-first-checkpoint-old-0", main.body(0, 5)),
        ("03-replay-learns-size", main.body(0, 5)),
        ("04-same-checkpoint-again", main.body(5, 5)),
        ("05-consistency-proof-5-to-8", main.body(5, 8)),
        ("06-stale-old-size", main.body(5, 10)),
        (
            "07-bad-consistency-proof",
            AddCheckpoint::encode(8, &bad_proof, &main.note_at(10)),
        ),
        (
            "08-old-beyond-checkpoint",
            AddCheckpoint::encode(10, &[], &main.note_at(8)),
        ),
        (
            "09-same-size-other-root",
            AddCheckpoint::encode(8, &[], &fork.note_at(8)),
        ),
        (
            "10-unknown-key",
            AddCheckpoint::encode(8, &[], impostor.note()),
        ),
        ("11-no-blank-line", format!("old 8\n{}", main.note_at(8))),
        (
            "12-proof-with-old-0",
            AddCheckpoint::encode(0, &main.proof(5, 8), &second.note_at(3)),
        ),
        ("13-empty-tree", AddCheckpoint::encode(0, &[], empty.note())),
        (
            "14-extension-lines",
            AddCheckpoint::encode(0, &[], &ext_note),
        ),
        ("15-consistency-proof-8-to-10", main.body(8, 10)),
    ]
}

/// Runs the cases against a fresh in-process witness; the replies.
fn replies() -> Vec<(&'static str, String, armsledger_witness::client::Reply)> {
    let (main, second) = case_logs();
    let dir = tempfile::tempdir().unwrap();
    let driver = InProcess::new(witness(dir.path(), &[main.verifier(), second.verifier()]));
    cases()
        .into_iter()
        .map(|(name, body)| {
            let reply = driver.post("/add-checkpoint", body.as_bytes());
            (name, body, reply)
        })
        .collect()
}

/// `status N`, then `content-type: X` and the body after a blank line for
/// 200 and 409 (their bodies are exact; error texts are ours, not the spec's).
fn response_file(reply: &armsledger_witness::client::Reply) -> String {
    let mut s = format!("status {}\n", reply.status);
    if matches!(reply.status, 200 | 409) {
        s += &format!(
            "content-type: {}\n\n{}",
            reply.content_type.as_deref().unwrap_or(""),
            text(reply)
        );
    }
    s
}

#[test]
fn litewitness_cases_answer_as_recorded() {
    let dir = data_dir();
    if std::env::var_os("ARMSLEDGER_REGENERATE").is_some() {
        for (name, body, reply) in replies() {
            std::fs::write(dir.join(format!("{name}.request")), body).unwrap();
            std::fs::write(dir.join(format!("{name}.response")), response_file(&reply)).unwrap();
        }
    }
    // The files drive the witness; the generator only wrote them.
    let (main, second) = case_logs();
    let (wdir, ldir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let w = witness(wdir.path(), &[main.verifier(), second.verifier()]);
    let served = witness(ldir.path(), &[main.verifier(), second.verifier()]);
    for driver in [
        Box::new(InProcess::new(w.clone())) as Box<dyn Driver>,
        Box::new(Loopback::new(served)),
    ] {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "request"))
            .collect();
        names.sort();
        assert_eq!(names.len(), cases().len());
        for request in names {
            let body = std::fs::read(&request).unwrap();
            let expected = std::fs::read_to_string(request.with_extension("response")).unwrap();
            let reply = driver.post("/add-checkpoint", &body);
            assert_eq!(response_file(&reply), expected, "{}", request.display());
            if reply.status == 200 {
                // Every cosignature verifies over the request's checkpoint.
                let req = AddCheckpoint::parse(&body).unwrap();
                let parsed = CheckpointNote::parse(req.note).unwrap();
                let cosig = Cosignature::parse_line(text(&reply)).unwrap();
                witness_verifier().verify(parsed.body(), &cosig).unwrap();
            }
        }
    }
    // The split view of case 09 was kept as evidence.
    let evidence = w.store().evidence(ORIGIN).unwrap();
    assert!(
        evidence
            .iter()
            .any(|e| e.kind == armsledger_witness::EvidenceKind::SameSizeDifferentRoot)
    );
}
