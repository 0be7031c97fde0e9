//! The cosignature and policy worked examples of docs/log.md (sections 9 and
//! 10). The expected values were computed with an independent Ed25519
//! implementation (Python `cryptography`), so they are known-answer vectors
//! for our cosignature/v1 code, not just a snapshot of it.

use armsledger_log::{
    CheckpointNote, Cosignature, CosignatureVerifier, CosignerKey, LogError, Policy,
    cosignature_key_id, cosignature_message,
};

const LOG_NOTE: &str = "\
ledger.example/armsledger/v1
7
3bib5AOAnjJXUNPSY814kpwpQreUKjS3fhIslZSnTIw=

— ledger.example/armsledger/v1 D7Uay89e5KYRrk66n5f6hNB0onoG/5rMy/Pr1cismHr1wr7vOaMFKLJ2wzG4tO+CKIKlXCufWyIU1kzYjCkWFs2R5Qs=
";

const SKEY: &str =
    "PRIVATE+KEY+witness.example+790a8a0d+BCAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4/";
const VKEY: &str = "witness.example+790a8a0d+BCmsuuFBvMrwsi4alNNNC8c2HlJtC/4SyJeUvJMilm3X";
const LINE: &str = "— witness.example eQqKDQAAAABlU/EAiOzUEEb6LiAuAUvuoMPmNGyI9LPEewPqCvWKxcH1VUUSWAv6e+58q4ufCarjcLa4E/Xpb2p3qcYtygbn2tpaBA==\n";
const SIGNATURE: &str = "88ecd41046fa2e202e014beea0c3e6346c88f4b3c47b03ea0af58ac5c1f5554512580bfa7bee7cab8b9f09aae370b6b813f5e96f6a77a9c62dca06e7dada5a04";

const POLICY: &str = "\
# Regulator of State A's log, cosigned by 2 of 3 witnesses.
log ledger.example/armsledger/v1+0fb51acb+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4 https://ledger.example/
witness state-a witness.example+790a8a0d+BCmsuuFBvMrwsi4alNNNC8c2HlJtC/4SyJeUvJMilm3X https://witness.example/
witness state-b witness.state-b.example+7c1d09df+BCVDuS/xCVURR2rcg2nbbdyTNmWhGXjdoUBO4QZsqVWd https://witness.state-b.example/
witness ngo witness.ngo.example+49ad58b6+BBdFU7RW3d/GkI7KscEB/mqyHiuqBhd5W31DpjSCmT/V
group witnesses 2 state-a state-b ngo
quorum witnesses
";

fn example_key() -> CosignerKey {
    let seed: [u8; 32] = std::array::from_fn(|i| 0x20 + i as u8);
    CosignerKey::from_seed("witness.example", &seed).unwrap()
}

fn docs() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/log.md")).unwrap()
}

#[test]
fn worked_example_keys_and_line() {
    let key = example_key();
    assert_eq!(key.to_signer_key().as_str(), SKEY);
    assert_eq!(key.verifier().to_string(), VKEY);
    assert_eq!(
        CosignerKey::from_signer_key(SKEY).unwrap().verifier(),
        key.verifier()
    );
    assert_eq!(
        hex::encode(key.verifier().public_key()),
        "29acbae141bccaf0b22e1a94d34d0bc7361e526d0bfe12c89794bc9322966dd7"
    );
    assert_eq!(
        cosignature_key_id("witness.example", key.verifier().public_key()),
        0x790a8a0d
    );
    let note = CheckpointNote::parse(LOG_NOTE.as_bytes()).unwrap();
    let message = cosignature_message(note.body(), 1_700_000_000);
    assert_eq!(message.len(), 107);
    assert!(message.starts_with(b"cosignature/v1\ntime 1700000000\nledger.example/"));
    let cosig = key.cosign(note.body(), 1_700_000_000).unwrap();
    assert_eq!(cosig.to_line(), LINE);
    assert_eq!(hex::encode(cosig.signature()), SIGNATURE);
    let verifier = CosignatureVerifier::from_vkey(VKEY).unwrap();
    verifier
        .verify(note.body(), &Cosignature::parse_line(LINE).unwrap())
        .unwrap();
}

#[test]
fn worked_examples_are_in_the_docs() {
    let docs = docs();
    let cosigned = format!("{LOG_NOTE}{LINE}");
    for text in [
        SKEY,
        VKEY,
        LINE.trim_end(),
        SIGNATURE,
        cosigned.as_str(),
        POLICY,
    ] {
        assert!(docs.contains(text), "docs/log.md lacks {text:?}");
    }
}

#[test]
fn policy_example_counts_the_cosignature() {
    let policy = Policy::parse(POLICY).unwrap();
    assert_eq!(policy.witnesses().len(), 3);
    assert_eq!(policy.quorum_name(), Some("witnesses"));
    let cosigned = format!("{LOG_NOTE}{LINE}");
    let checked = policy.check(cosigned.as_bytes()).unwrap();
    assert_eq!(checked.cosigned(), [("state-a".to_owned(), 1_700_000_000)]);
    assert!(!checked.quorum_met());
    assert!(matches!(
        policy.verify(cosigned.as_bytes()),
        Err(LogError::QuorumNotMet { .. })
    ));
    let single = Policy::parse(&POLICY.replace("quorum witnesses", "quorum state-a")).unwrap();
    assert_eq!(
        single
            .verify(cosigned.as_bytes())
            .unwrap()
            .checkpoint()
            .size(),
        7
    );
    // A tampered cosignature is not counted, so the quorum fails.
    let tampered = cosigned.replace("eQqKDQAAAABlU/EAiOzU", "eQqKDQAAAABlU/EAiOzV");
    assert!(single.verify(tampered.as_bytes()).is_err());
    assert!(
        single
            .check(tampered.as_bytes())
            .unwrap()
            .cosigned()
            .is_empty()
    );
    let other_log = Policy::parse("log other.example+00000000+AQ== \nquorum none\n");
    assert!(other_log.is_err());
    let none = Policy::parse(&format!(
        "log {}\nquorum none\n",
        "ledger.example/armsledger/v2+0fb51acb+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4"
    ));
    assert!(none.is_err(), "the key id binds the name");
}

#[test]
fn a_note_from_a_log_not_in_the_policy() {
    let log = armsledger_log::LogKey::from_seed("elsewhere.example", &[5; 32]).unwrap();
    let note = log.sign_checkpoint(0, &armsledger_log::EMPTY_ROOT).unwrap();
    let policy = Policy::parse(POLICY).unwrap();
    assert!(matches!(
        policy.check(note.note().as_bytes()),
        Err(LogError::LogNotInPolicy(_))
    ));
}
