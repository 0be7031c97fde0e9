//! Batch verification never decides against `verify_strict`: small-order
//! keys, non-canonical `s`, and a mixed-order `R` that dalek's batch accepts.

use curve25519_dalek::scalar::Scalar;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

use armsledger_core::sig::batch::{SigItem, strict_prechecks, verify_all, verify_one};
use armsledger_testsupport::ed25519::{add_l, mixed_order_signature};

#[test]
fn a_mixed_order_r_fools_the_batch_and_the_prechecks_but_not_us() {
    let key = SigningKey::from_bytes(&[42; 32]);
    let msg = b"armsledger test message";
    let sig = mixed_order_signature(&key, msg);
    let pk = key.verifying_key().to_bytes();
    assert!(
        VerifyingKey::from_bytes(&pk)
            .unwrap()
            .verify_strict(msg, &Signature::from_bytes(&sig))
            .is_err()
    );
    // The cheap pre-checks verify_strict makes all pass: they cannot be the whole rule.
    assert!(strict_prechecks(&pk, &sig));
    let bad = SigItem {
        key: pk,
        message: msg,
        signature: sig,
    };
    assert!(!verify_one(&bad));
    // Alone, in a small group, and among many honest signatures (subset torsion test).
    let honest: Vec<Vec<u8>> = (0..300u32).map(|i| i.to_be_bytes().to_vec()).collect();
    for n in [0usize, 10, 300] {
        let mut items: Vec<SigItem<'_>> = honest[..n]
            .iter()
            .map(|m| SigItem {
                key: pk,
                message: m,
                signature: key.sign(m).to_bytes(),
            })
            .collect();
        items.insert(n / 2, bad);
        let (verdicts, stats) = verify_all(&items);
        for (i, ok) in verdicts.iter().enumerate() {
            assert_eq!(*ok, i != n / 2, "n = {n}, item {i}");
        }
        assert!(stats.batch_failures >= 1);
    }
    // Two torsion parts that cancel in a plain sum are still caught.
    let sig2 = mixed_order_signature(&key, b"second");
    let mut items: Vec<SigItem<'_>> = honest
        .iter()
        .map(|m| SigItem {
            key: pk,
            message: m,
            signature: key.sign(m).to_bytes(),
        })
        .collect();
    items.push(bad);
    items.push(SigItem {
        key: pk,
        message: b"second",
        signature: sig2,
    });
    let (verdicts, _) = verify_all(&items);
    assert_eq!(verdicts.iter().filter(|v| !**v).count(), 2);
}

#[test]
fn a_small_order_key_and_a_non_canonical_s_are_refused() {
    // A = identity, R = identity, s = 0: the batch equation holds exactly.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&identity);
    let weak = SigItem {
        key: identity,
        message: b"anything",
        signature: sig,
    };
    let vk = VerifyingKey::from_bytes(&identity).unwrap();
    assert!(
        ed25519_dalek::verify_batch(
            &[b"anything".as_slice()],
            &[Signature::from_bytes(&sig)],
            &[vk]
        )
        .is_ok()
    );
    assert!(!verify_one(&weak));
    assert!(!strict_prechecks(&identity, &sig));
    // s + ℓ: the same point equation, a different (non-canonical) encoding.
    let key = SigningKey::from_bytes(&[7; 32]);
    let good = key.sign(b"m").to_bytes();
    let s = Scalar::from_canonical_bytes(good[32..].try_into().unwrap()).unwrap();
    let mut wide = [0u8; 64];
    wide[..32].copy_from_slice(&good[..32]);
    wide[32..].copy_from_slice(&add_l(s.as_bytes()));
    let pk = key.verifying_key().to_bytes();
    let items = [
        weak,
        SigItem {
            key: pk,
            message: b"m",
            signature: wide,
        },
        SigItem {
            key: pk,
            message: b"m",
            signature: good,
        },
    ];
    let (verdicts, _) = verify_all(&items);
    assert_eq!(verdicts, [false, false, true]);
}
