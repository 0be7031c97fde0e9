//! Batch verification never decides against `verify_strict`: small-order
//! keys, non-canonical `s`, and a mixed-order `R` that dalek's batch accepts.

use std::sync::Arc;

use curve25519_dalek::constants::EIGHT_TORSION;
use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::scalar::Scalar;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha512};

use armsledger_bundle::signatures::{SigItem, strict_prechecks, verify_all, verify_one};
use armsledger_bundle::{ProblemKind, Scope};
use armsledger_core::ids::SiteId;
use armsledger_core::sig::Sig;
use armsledger_core::testkit::v;
use armsledger_core::{ChainId, SignedEntry};

use crate::*;

/// A signature by `key` on `msg` whose R carries the order-2 torsion point.
/// The prime-order equation holds, so only the torsion differs from a valid
/// signature: `verify_strict` rejects it, dalek's batch accepts it whenever its
/// coefficient is even. Grinds the nonce until the single-item batch accepts.
pub(crate) fn mixed_order_signature(key: &SigningKey, msg: &[u8]) -> [u8; 64] {
    let a = key.to_scalar();
    let a_bytes = key.verifying_key().to_bytes();
    for attempt in 0u32..200 {
        let r = Scalar::from_bytes_mod_order_wide(
            &Sha512::new()
                .chain_update(b"nonce")
                .chain_update(attempt.to_be_bytes())
                .chain_update(msg)
                .finalize()
                .into(),
        );
        let big_r = EdwardsPoint::mul_base(&r) + EIGHT_TORSION[4];
        let r_bytes = big_r.compress().to_bytes();
        let k = Scalar::from_bytes_mod_order_wide(
            &Sha512::new()
                .chain_update(r_bytes)
                .chain_update(a_bytes)
                .chain_update(msg)
                .finalize()
                .into(),
        );
        let s = r + k * a;
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(&r_bytes);
        sig[32..].copy_from_slice(s.as_bytes());
        let batch = ed25519_dalek::verify_batch(
            &[msg],
            &[Signature::from_bytes(&sig)],
            &[key.verifying_key()],
        );
        if batch.is_ok() {
            return sig;
        }
    }
    panic!("no nonce made the batch accept");
}

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

/// `s + ℓ` as 32 little-endian bytes.
pub(crate) fn add_l(s: &[u8; 32]) -> [u8; 32] {
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let t = u16::from(s[i]) + u16::from(L[i]) + carry;
        out[i] = t as u8;
        carry = t >> 8;
    }
    out
}

#[test]
fn an_entry_with_a_mixed_order_signature_is_refused_in_a_bundle() {
    let (mut s, _) = world();
    let north: SiteId = v("north");
    let last = s.log.pop().unwrap();
    assert_eq!(*last.chain(), ChainId::Site(north.clone()));
    let key = s.sites[&north].signing_key().clone();
    let sig = mixed_order_signature(&key, &last.signed_message());
    let forged =
        SignedEntry::assemble(last.header().clone(), Sig(sig), last.body().clone()).unwrap();
    s.log.push(Arc::new(forged));
    // The log itself is consistent; only the signature is wrong.
    let bytes = bundle_of(&s, &memory_log(&s), &log_key(), Scope::All, None);
    let r = verify(&bytes);
    assert!(!r.authentic());
    assert_eq!(r.problems.len(), 1, "{:#?}", r.problems);
    let p = &r.problems[0];
    assert_eq!(p.kind, ProblemKind::Signature);
    assert_eq!(p.entry, Some(last.hash()));
    assert_eq!(p.log_index, Some(s.log.len() as u64 - 1));
}
