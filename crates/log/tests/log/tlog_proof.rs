//! The docs/log.md tlog-proof example, and verification of it with
//! nothing but the verifier key.

use armsledger_log::{
    Frontier, LogError, LogKey, LogVerifier, TlogProof, leaf_hash, prove_inclusion,
};

const EXAMPLE_PROOF: &str = "\
c2sp.org/tlog-proof@v1
index 3
ApjRIpBtz8EIkstTpzmS/FufST6kybrbJ7eRtBJ6f+c=
+sVCA+fMaWzw38tCySodnbr3CtnmIfS9jZhmLwDjwSU=
g327FS6bB5AQcX6E6GXaTrwPoZioBtWdMb8VrM7yLQ4=

ledger.example/armsledger/v1
7
3bib5AOAnjJXUNPSY814kpwpQreUKjS3fhIslZSnTIw=

— ledger.example/armsledger/v1 D7Uay89e5KYRrk66n5f6hNB0onoG/5rMy/Pr1cismHr1wr7vOaMFKLJ2wzG4tO+CKIKlXCufWyIU1kzYjCkWFs2R5Qs=
";

const ORIGIN: &str = "ledger.example/armsledger/v1";
const VKEY: &str =
    "ledger.example/armsledger/v1+0fb51acb+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4";

#[test]
fn worked_example_is_exact_and_documented() {
    let key = LogKey::from_seed(ORIGIN, &std::array::from_fn(|i| i as u8)).unwrap();
    let mut f = Frontier::new();
    let mut stored = Vec::new();
    for input in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
    ] {
        stored.extend(
            f.append(leaf_hash(&hex::decode(input).unwrap()))
                .unwrap()
                .hashes,
        );
    }
    let signed = key.sign_checkpoint(f.size(), &f.root()).unwrap();
    let path = prove_inclusion(&stored, 3, 7).unwrap();
    let proof = TlogProof::new(3, path, &signed, None).unwrap();
    assert_eq!(proof.encode(), EXAMPLE_PROOF);
    let doc = armsledger_testsupport::repo::doc("log.md");
    assert!(
        doc.contains(EXAMPLE_PROOF),
        "docs/log.md tlog-proof example drifted"
    );
}

#[test]
fn verifies_offline_from_the_text_alone() {
    let verifier = LogVerifier::from_vkey(VKEY).unwrap();
    let proof = TlogProof::decode(EXAMPLE_PROOF.as_bytes()).unwrap();
    let entry = hex::decode("2021").unwrap();
    let signed = proof.verify(&leaf_hash(&entry), &verifier, ORIGIN).unwrap();
    assert_eq!(signed.checkpoint().size(), 7);
    assert_eq!(proof.index(), 3);
    assert_eq!(proof.extra(), None);
    // Another entry does not verify at that index.
    assert!(matches!(
        proof.verify(&leaf_hash(b"forged"), &verifier, ORIGIN),
        Err(LogError::RootMismatch)
    ));
    // Tampering with the checkpoint inside the bundle is caught by the signature.
    let tampered = EXAMPLE_PROOF.replacen("\n7\n", "\n8\n", 1);
    let tampered = TlogProof::decode(tampered.as_bytes()).unwrap();
    assert!(matches!(
        tampered.verify(&leaf_hash(&entry), &verifier, ORIGIN),
        Err(LogError::LogSignatureInvalid)
    ));
}
