//! Checkpoints: the docs/log.md worked example, cross-checks with
//! `tlog_tiles` and `signed_note`, a hand-written reference verification,
//! and tampering.

use armsledger_log::{
    EMPTY_ROOT, Frontier, Hash, LogError, LogKey, LogVerifier, MAX_NOTE_BYTES, SignedCheckpoint,
    leaf_hash, open_checkpoint,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha2::{Digest as _, Sha256};
use signed_note::{Note, StandardSigner, StandardVerifier, VerifierList};

/// The seed of the worked example: bytes 0x00, 0x01, ..., 0x1f. Example only.
fn example_seed() -> [u8; 32] {
    std::array::from_fn(|i| i as u8)
}

const EXAMPLE_ORIGIN: &str = "ledger.example/armsledger/v1";

const EXAMPLE_NOTE: &str = "\
ledger.example/armsledger/v1
7
3bib5AOAnjJXUNPSY814kpwpQreUKjS3fhIslZSnTIw=

— ledger.example/armsledger/v1 D7Uay89e5KYRrk66n5f6hNB0onoG/5rMy/Pr1cismHr1wr7vOaMFKLJ2wzG4tO+CKIKlXCufWyIU1kzYjCkWFs2R5Qs=
";

const EXAMPLE_VKEY: &str =
    "ledger.example/armsledger/v1+0fb51acb+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4";

const EXAMPLE_SKEY: &str = "PRIVATE+KEY+ledger.example/armsledger/v1+0fb51acb+AQABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f";

fn example_key() -> LogKey {
    LogKey::from_seed(EXAMPLE_ORIGIN, &example_seed()).unwrap()
}

/// The seven RFC 6962 reference leaves, as in the C2SP 7-leaf example.
fn example_tree() -> (u64, Hash) {
    let mut f = Frontier::new();
    for input in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
    ] {
        f.append(leaf_hash(&hex::decode(input).unwrap())).unwrap();
    }
    (f.size(), f.root())
}

fn example() -> SignedCheckpoint {
    let (size, root) = example_tree();
    example_key().sign_checkpoint(size, &root).unwrap()
}

/// Signs an arbitrary note text with the example key, bypassing our checks.
fn sign_raw(text: &str) -> String {
    let signer = StandardSigner::new(EXAMPLE_SKEY).unwrap();
    let mut note = Note::new(text.as_bytes(), &[]).unwrap();
    note.add_sigs(&[&signer]).unwrap();
    String::from_utf8(note.to_bytes()).unwrap()
}

fn open(note: &str) -> Result<SignedCheckpoint, LogError> {
    open_checkpoint(note.as_bytes(), &example_key().verifier(), EXAMPLE_ORIGIN)
}

#[test]
fn worked_example_is_exact() {
    let key = example_key();
    assert_eq!(example().note(), EXAMPLE_NOTE);
    assert_eq!(key.verifier().to_string(), EXAMPLE_VKEY);
    assert_eq!(key.to_signer_key().as_str(), EXAMPLE_SKEY);
    assert_eq!(format!("{:08x}", key.key_id()), "0fb51acb");
    let (_, root) = example_tree();
    assert_eq!(
        root.to_string(),
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"
    );
}

#[test]
fn docs_show_the_worked_example_verbatim() {
    let doc = armsledger_testsupport::repo::doc("log.md");
    assert!(
        doc.contains(EXAMPLE_NOTE),
        "docs/log.md checkpoint example drifted"
    );
    assert!(doc.contains(EXAMPLE_VKEY), "docs/log.md vkey drifted");
    assert!(doc.contains(EXAMPLE_SKEY), "docs/log.md signer key drifted");
    let lib = include_str!("../../src/lib.rs");
    for line in EXAMPLE_NOTE.lines().filter(|l| !l.is_empty()) {
        assert!(
            lib.contains(&format!("//! {line}\n")),
            "lib.rs example drifted: {line}"
        );
    }
}

#[test]
fn round_trip() {
    let signed = example();
    let opened = open(signed.note()).unwrap();
    assert_eq!(opened, signed);
    let cp = opened.checkpoint().clone();
    assert_eq!(cp.origin(), EXAMPLE_ORIGIN);
    assert_eq!(cp.size(), 7);
    assert_eq!(*cp.root(), example_tree().1);
    assert_eq!(opened.into_note(), EXAMPLE_NOTE);
    // Loading the key from its strings gives the same key and signatures.
    let key = LogKey::from_signer_key(EXAMPLE_SKEY).unwrap();
    assert_eq!(key.sign_checkpoint(7, cp.root()).unwrap(), signed);
    let verifier = LogVerifier::from_vkey(EXAMPLE_VKEY).unwrap();
    open_checkpoint(EXAMPLE_NOTE.as_bytes(), &verifier, EXAMPLE_ORIGIN).unwrap();
}

#[test]
fn empty_tree_checkpoint() {
    let signed = example_key().sign_checkpoint(0, &EMPTY_ROOT).unwrap();
    assert!(signed.note().starts_with(&format!(
        "{EXAMPLE_ORIGIN}\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n— "
    )));
    assert_eq!(open(signed.note()).unwrap().checkpoint().size(), 0);
}

#[test]
fn cross_check_tlog_tiles_and_signed_note() {
    let signed = example();
    let cp = signed.checkpoint();
    // The body parses with tlog_tiles' C2SP checkpoint parser.
    let body = signed.note().split_once("\n\n").unwrap().0.to_owned() + "\n";
    let theirs = tlog_tiles::Checkpoint::from_bytes(body.as_bytes()).unwrap();
    assert_eq!(theirs.origin(), cp.origin());
    assert_eq!(theirs.size(), cp.size());
    assert_eq!(theirs.hash().0, cp.root().0);
    assert_eq!(theirs.extension(), "");
    assert_eq!(theirs.to_bytes(), body.as_bytes());
    // The note verifies with signed_note's own verifier from our vkey.
    let note = Note::from_bytes(signed.note().as_bytes()).unwrap();
    let verifier = StandardVerifier::new(&example_key().verifier().to_string()).unwrap();
    let (verified, unverified) = note
        .verify(&VerifierList::new(vec![Box::new(verifier)]))
        .unwrap();
    assert_eq!(verified.len(), 1);
    assert!(unverified.is_empty());
    assert_eq!(verified[0].id(), example_key().key_id());
    assert_eq!(note.text(), body.as_bytes());
    // signed_note signing with our signer key string gives the same note.
    assert_eq!(sign_raw(&body), EXAMPLE_NOTE);
}

#[test]
fn reference_verification_by_hand() {
    let note = EXAMPLE_NOTE;
    let (text, sigs) = note.split_once("\n\n").unwrap();
    let text = format!("{text}\n");
    let line = sigs.strip_suffix('\n').unwrap();
    assert!(!line.contains('\n'), "exactly one signature line");
    let rest = line.strip_prefix("— ").unwrap();
    let (name, b64) = rest.split_once(' ').unwrap();
    assert_eq!(name, EXAMPLE_ORIGIN);
    let sig = BASE64.decode(b64).unwrap();
    assert_eq!(sig.len(), 4 + 64);
    // Key id = SHA-256(name || 0x0A || 0x01 || public key)[:4].
    let verifier = LogVerifier::from_vkey(EXAMPLE_VKEY).unwrap();
    let pk = verifier.public_key();
    let digest = Sha256::new()
        .chain_update(name.as_bytes())
        .chain_update([0x0a, 0x01])
        .chain_update(pk)
        .finalize();
    assert_eq!(sig[..4], digest[..4]);
    assert_eq!(
        u32::from_be_bytes(sig[..4].try_into().unwrap()),
        verifier.key_id()
    );
    // The public key is the one derived from the seed.
    let sk = ed25519_dalek::SigningKey::from_bytes(&example_seed());
    assert_eq!(sk.verifying_key().as_bytes(), pk);
    // Ed25519 over the text including its final newline, strictly.
    let vk = ed25519_dalek::VerifyingKey::from_bytes(pk).unwrap();
    let signature = ed25519_dalek::Signature::from_slice(&sig[4..]).unwrap();
    vk.verify_strict(text.as_bytes(), &signature).unwrap();
}

#[test]
fn unknown_signatures_are_ignored() {
    let signed = example();
    // A witness cosigns (any other key name).
    let witness_key = LogKey::from_seed("witness.example", &[3; 32]).unwrap();
    let witness = StandardSigner::new(&witness_key.to_signer_key()).unwrap();
    let mut note = Note::from_bytes(signed.note().as_bytes()).unwrap();
    note.add_sigs(&[&witness]).unwrap();
    // And a rotated-out key of the same name signs too.
    let old = LogKey::from_seed(EXAMPLE_ORIGIN, &[0xee; 32]).unwrap();
    let old_signer = StandardSigner::new(&old.to_signer_key()).unwrap();
    note.add_sigs(&[&old_signer]).unwrap();
    let text = String::from_utf8(note.to_bytes()).unwrap();
    assert_eq!(text.matches("\n— ").count(), 3);
    let opened = open(&text).unwrap();
    assert_eq!(opened.checkpoint(), signed.checkpoint());
    assert_eq!(
        opened.note(),
        text,
        "the note is kept verbatim, cosignatures included"
    );
    // Unknown signatures alone are not enough.
    let mut only_witness = Note::new(signed.checkpoint().body().as_bytes(), &[]).unwrap();
    only_witness.add_sigs(&[&witness, &old_signer]).unwrap();
    let only_witness = String::from_utf8(only_witness.to_bytes()).unwrap();
    assert!(matches!(
        open(&only_witness),
        Err(LogError::LogSignatureMissing)
    ));
}

#[test]
fn fail_tampered_notes() {
    let good = EXAMPLE_NOTE;
    // A body byte: size 7 → 8.
    let body = good.replacen("\n7\n", "\n8\n", 1);
    assert!(matches!(open(&body), Err(LogError::LogSignatureInvalid)));
    // The root changed.
    let root = good.replacen("3bib5", "3bib6", 1);
    assert!(matches!(open(&root), Err(LogError::LogSignatureInvalid)));
    // A signature byte (not the key id).
    let (head, b64) = good.trim_end().rsplit_once(' ').unwrap();
    let mut sig = BASE64.decode(b64).unwrap();
    sig[10] ^= 1;
    let flipped = format!("{head} {}\n", BASE64.encode(&sig));
    assert!(matches!(open(&flipped), Err(LogError::LogSignatureInvalid)));
    // The key id bytes: the signature no longer claims our key.
    let mut sig = BASE64.decode(b64).unwrap();
    sig[0] ^= 1;
    let other_id = format!("{head} {}\n", BASE64.encode(&sig));
    assert!(matches!(
        open(&other_id),
        Err(LogError::LogSignatureMissing)
    ));
    // The wrong key: same name, different key.
    let other = LogKey::from_seed(EXAMPLE_ORIGIN, &[1; 32]).unwrap();
    assert!(matches!(
        open_checkpoint(good.as_bytes(), &other.verifier(), EXAMPLE_ORIGIN),
        Err(LogError::LogSignatureMissing)
    ));
    // The right key, another log's origin expected.
    match open_checkpoint(
        good.as_bytes(),
        &example_key().verifier(),
        "ledger.example/other",
    ) {
        Err(LogError::OriginMismatch { expected, found }) => {
            assert_eq!(expected, "ledger.example/other");
            assert_eq!(found, EXAMPLE_ORIGIN);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn fail_malformed_notes() {
    let malformed = [
        "",
        "ledger.example/armsledger/v1\n7\n",
        EXAMPLE_NOTE.trim_end(),
        &EXAMPLE_NOTE.replacen("\n\n", "\n", 1),
        &EXAMPLE_NOTE.replacen("— ", "-- ", 1),
        &EXAMPLE_NOTE.replacen("\n7\n", "\n7\r\n", 1),
    ];
    for note in malformed {
        assert!(
            matches!(open(note), Err(LogError::NoteMalformed(_))),
            "{note:?}"
        );
    }
    assert!(matches!(
        open_checkpoint(&[0xff; 8], &example_key().verifier(), EXAMPLE_ORIGIN),
        Err(LogError::NoteMalformed(_))
    ));
    // Too large is refused before parsing.
    let huge = format!("{}{}", "a".repeat(MAX_NOTE_BYTES), EXAMPLE_NOTE);
    assert!(matches!(open(&huge), Err(LogError::InputTooLarge { .. })));
}

#[test]
fn the_index_line_is_signed_and_read_back() {
    let (size, root) = example_tree();
    let index = Hash([7; 32]);
    let signed = example_key()
        .sign_checkpoint_indexed(size, &root, Some(&index))
        .unwrap();
    assert!(signed.note().contains(&format!(
        "\n{}{}\n\n",
        armsledger_log::INDEX_EXTENSION,
        index.to_base64()
    )));
    let opened = open(signed.note()).unwrap();
    assert_eq!(opened.checkpoint().index(), Some(&index));
    assert_eq!(opened.checkpoint().root(), &root);
    // tlog_tiles reads it as a C2SP checkpoint with one extension line.
    let body = signed.note().split_once("\n\n").unwrap().0.to_owned() + "\n";
    let theirs = tlog_tiles::Checkpoint::from_bytes(body.as_bytes()).unwrap();
    assert_eq!(theirs.size(), size);
    // Quiet: without an index there is no line.
    assert_eq!(open(example().note()).unwrap().checkpoint().index(), None);
}

#[test]
fn fail_validly_signed_but_malformed_bodies() {
    let root = "3bib5AOAnjJXUNPSY814kpwpQreUKjS3fhIslZSnTIw=";
    let bodies = [
        format!("{EXAMPLE_ORIGIN}\n07\n{root}\n"),
        format!("{EXAMPLE_ORIGIN}\n7\n{root}\nextension line\n"),
        format!("{EXAMPLE_ORIGIN}\n7\n{}\n", root.trim_end_matches('=')),
        format!("{EXAMPLE_ORIGIN}\n7\n"),
        format!("{EXAMPLE_ORIGIN}\n{}\n{root}\n", u64::MAX),
        // The index line: only ours, only once, only base64 of 32 bytes.
        format!("{EXAMPLE_ORIGIN}\n7\n{root}\narmsledger-index/v1 {root}\nextension line\n"),
        format!(
            "{EXAMPLE_ORIGIN}\n7\n{root}\narmsledger-index/v1 {root}\narmsledger-index/v1 {root}\n"
        ),
        format!("{EXAMPLE_ORIGIN}\n7\n{root}\narmsledger-index/v1 AAAA\n"),
        format!("{EXAMPLE_ORIGIN}\n7\n{root}\narmsledger-index/v2 {root}\n"),
    ];
    for body in bodies {
        assert!(
            matches!(
                open(&sign_raw(&body)),
                Err(LogError::CheckpointMalformed(_) | LogError::TreeTooLarge { .. })
            ),
            "{body:?}"
        );
    }
    // Our origin rules apply to what we parse too.
    let spaced = sign_raw(&format!("ledger.example/a b\n7\n{root}\n"));
    assert!(matches!(open(&spaced), Err(LogError::OriginInvalid(_))));
}
