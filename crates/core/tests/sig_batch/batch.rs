//! The hand-written batch equation against `verify_strict`, item by item:
//! honest batches, a bad signature at every batch boundary, many keys, every
//! malformed or torsion-tweaked kind we can build, and random mixtures.

use std::sync::OnceLock;

use curve25519_dalek::constants::EIGHT_TORSION;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use ed25519_dalek::{Signer as _, SigningKey};
use proptest::prelude::*;
use sha2::{Digest as _, Sha512};

use armsledger_core::sig::batch::{
    BATCH, SigItem, SignatureStats, verify_all, verify_all_in_batches, verify_one,
};

use armsledger_testsupport::ed25519::add_l;

/// A signer whose secret scalar we use directly, so we can build any `(R, s)`.
struct Signer {
    a: Scalar,
    /// The public key bytes (possibly a mixed- or small-order point).
    key: [u8; 32],
}

impl Signer {
    fn honest(seed: u8) -> Signer {
        let k = SigningKey::from_bytes(&[seed; 32]);
        Signer {
            a: k.to_scalar(),
            key: k.verifying_key().to_bytes(),
        }
    }

    /// A key `aB + T` with a torsion part: not small order, not torsion-free.
    fn mixed(seed: u8, torsion: usize) -> Signer {
        let a = SigningKey::from_bytes(&[seed; 32]).to_scalar();
        let point = EdwardsPoint::mul_base(&a) + EIGHT_TORSION[torsion];
        Signer {
            a,
            key: point.compress().to_bytes(),
        }
    }

    /// `(R, s)` with `R = [r]B + extra` and `s = r + k·a` (`k` over R's bytes).
    fn sign_with(&self, r: Scalar, extra: EdwardsPoint, msg: &[u8]) -> [u8; 64] {
        let big_r = (EdwardsPoint::mul_base(&r) + extra).compress().to_bytes();
        let s = r + challenge(&big_r, &self.key, msg) * self.a;
        join(&big_r, &s.to_bytes())
    }

    fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.sign_with(nonce(msg), EdwardsPoint::default(), msg)
    }

    fn item<'a>(&self, msg: &'a [u8], signature: [u8; 64]) -> SigItem<'a> {
        SigItem {
            key: self.key,
            message: msg,
            signature,
        }
    }
}

fn challenge(r: &[u8; 32], a: &[u8; 32], msg: &[u8]) -> Scalar {
    Scalar::from_bytes_mod_order_wide(
        &Sha512::new()
            .chain_update(r)
            .chain_update(a)
            .chain_update(msg)
            .finalize()
            .into(),
    )
}

fn nonce(msg: &[u8]) -> Scalar {
    Scalar::from_bytes_mod_order_wide(
        &Sha512::new()
            .chain_update(b"n")
            .chain_update(msg)
            .finalize()
            .into(),
    )
}

fn join(r: &[u8; 32], s: &[u8; 32]) -> [u8; 64] {
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(r);
    sig[32..].copy_from_slice(s);
    sig
}

fn messages(n: usize, tag: &str) -> Vec<Vec<u8>> {
    (0..n).map(|i| format!("{tag}-{i}").into_bytes()).collect()
}

/// Honest items over `msgs`, signed by `signers` in turn.
fn signed_in_turn<'a>(signers: &'a [Signer], msgs: &'a [Vec<u8>]) -> Vec<SigItem<'a>> {
    msgs.iter()
        .enumerate()
        .map(|(i, m)| {
            let s = &signers[i % signers.len()];
            s.item(m, s.sign(m))
        })
        .collect()
}

/// Asserts every verdict is `verify_strict`'s and returns the verdicts and stats.
fn agrees(items: &[SigItem<'_>], batch: usize) -> (Vec<bool>, SignatureStats) {
    let (verdicts, stats) = verify_all_in_batches(items, batch);
    assert_eq!(verdicts.len(), items.len());
    assert_eq!(stats.checked, items.len() as u64);
    for (i, (v, it)) in verdicts.iter().zip(items).enumerate() {
        assert_eq!(*v, verify_one(it), "item {i} of {}", items.len());
    }
    (verdicts, stats)
}

#[test]
fn honest_batches_accept_in_every_batch_size() {
    let signers = [Signer::honest(1), Signer::honest(2), Signer::honest(3)];
    let msgs = messages(2 * BATCH + 37, "honest");
    let items: Vec<SigItem<'_>> = signed_in_turn(&signers, &msgs);
    for batch in [1, 64, 256, 1024, 4096, BATCH] {
        let (verdicts, stats) = verify_all_in_batches(&items, batch);
        assert!(verdicts.iter().all(|v| *v), "batch {batch}");
        assert_eq!(stats.batched, items.len() as u64, "batch {batch}");
        assert_eq!((stats.strict, stats.batch_failures), (0, 0));
    }
    // The hand-built signatures are ordinary Ed25519 ones.
    let dalek = SigningKey::from_bytes(&[1; 32]);
    assert_eq!(dalek.verifying_key().to_bytes(), signers[0].key);
    assert!(verify_one(
        &signers[0].item(b"y", dalek.sign(b"y").to_bytes())
    ));
}

#[test]
fn a_single_bad_signature_anywhere_is_located() {
    let signers = [Signer::honest(4), Signer::honest(5)];
    let msgs = messages(2 * BATCH + 37, "locate");
    let good: Vec<SigItem<'_>> = signed_in_turn(&signers, &msgs);
    let n = good.len();
    for at in [
        0,
        1,
        BATCH - 1,
        BATCH,
        BATCH + 1,
        2 * BATCH - 1,
        2 * BATCH,
        n - 1,
    ] {
        for tweak in 0..3 {
            let mut items = good.clone();
            match tweak {
                0 => items[at].message = b"another message",
                1 => items[at].signature[40] ^= 1,
                _ => items[at].key = signers[(at + 1) % 2].key,
            }
            let (verdicts, stats) = verify_all(&items);
            let refused: Vec<usize> = (0..n).filter(|i| !verdicts[*i]).collect();
            assert_eq!(refused, [at], "tweak {tweak}");
            assert!(stats.batch_failures >= 1);
            // Only the failed batch went to verify_strict.
            assert!(stats.strict <= BATCH as u64, "{stats:?}");
        }
    }
}

/// What the bundle verifier runs: equations of 2,048 signatures and groups
/// of up to 8,192 (one torsion test each). A forged `s` and a torsion point
/// added to `R` (which the equation alone may miss), at each edge of an
/// equation and of a group, are each named alone.
#[test]
fn a_bad_signature_in_each_position_of_a_wide_equation_is_named() {
    let signers = [Signer::honest(6), Signer::honest(7)];
    let msgs = messages(8192 + 2048 + 37, "wide");
    let good: Vec<SigItem<'_>> = signed_in_turn(&signers, &msgs);
    let n = good.len();
    let (verdicts, stats) = verify_all_in_batches(&good, 2048);
    assert!(verdicts.iter().all(|v| *v));
    assert_eq!(stats.batched, n as u64);
    for width in [2048, 4096] {
        for at in [0, 1, 2047, 2048, 2049, 4095, 4096, 8191, 8192, n - 1] {
            for torsion in [false, true] {
                let mut items = good.clone();
                let s = &signers[at % 2];
                if torsion {
                    let m = items[at].message;
                    items[at].signature = s.sign_with(nonce(m), EIGHT_TORSION[4], m);
                } else {
                    items[at].signature[40] ^= 1;
                }
                let (verdicts, stats) = verify_all_in_batches(&items, width);
                let refused: Vec<usize> = (0..n).filter(|i| !verdicts[*i]).collect();
                assert_eq!(refused, [at], "width {width}, torsion {torsion}");
                assert!(stats.batch_failures >= 1);
                assert!(stats.strict <= width as u64, "{stats:?}");
                assert_eq!(stats.batched + stats.strict, n as u64);
            }
        }
    }
}

#[test]
fn many_distinct_keys_in_one_batch() {
    let signers: Vec<Signer> = (0..=255u8).map(Signer::honest).collect();
    let msgs = messages(600, "keys");
    let mut items: Vec<SigItem<'_>> = msgs
        .iter()
        .enumerate()
        .map(|(i, m)| {
            // Every key once in the first batch, then repeats in a scattered order.
            let s = &signers[(i * 7) % signers.len()];
            s.item(m, s.sign(m))
        })
        .collect();
    let (verdicts, stats) = verify_all(&items);
    assert!(verdicts.iter().all(|v| *v));
    assert_eq!(stats.batched, 600);
    // A signature valid under another key of the same batch is still refused.
    items[150].key = items[151].key;
    items[400].signature = items[401].signature;
    let (verdicts, _) = agrees(&items, BATCH);
    let refused: Vec<usize> = (0..items.len()).filter(|i| !verdicts[*i]).collect();
    assert_eq!(refused, [150, 400]);
}

/// `p + y` as an encoding: a non-canonical name for the point with that `y`.
fn non_canonical_encodings() -> Vec<[u8; 32]> {
    let mut out = Vec::new();
    for y in 0u8..19 {
        for sign in [0u8, 0x80] {
            let mut e = [0xffu8; 32];
            e[0] = 0xed + y;
            e[31] = 0x7f | sign;
            if CompressedEdwardsY(e)
                .decompress()
                .is_some_and(|p| !p.is_small_order())
            {
                out.push(e);
            }
        }
    }
    out
}

/// Every malformed or torsion-tweaked kind of signature we can build, with
/// how `verify_strict` should judge it.
fn odd_items() -> Vec<(String, SigItem<'static>, Option<bool>)> {
    let honest = Signer::honest(6);
    let mut out: Vec<(String, SigItem<'static>, Option<bool>)> = Vec::new();
    let msg: &'static [u8] = b"odd";
    // Mixed-order R: valid up to a torsion point of each order.
    for (t, tp) in EIGHT_TORSION.iter().enumerate().skip(1) {
        let sig = honest.sign_with(Scalar::from(1000u64 + t as u64), *tp, msg);
        out.push((format!("R + T{t}"), honest.item(msg, sig), Some(false)));
    }
    // Small-order R with s = k·a: R = [s]B − [k]A holds exactly for the identity.
    for (t, tp) in EIGHT_TORSION.iter().enumerate() {
        let r = tp.compress().to_bytes();
        let s = challenge(&r, &honest.key, msg) * honest.a;
        out.push((
            format!("R = T{t}"),
            honest.item(msg, join(&r, &s.to_bytes())),
            Some(false),
        ));
    }
    // Non-canonical s (s + ℓ) on an otherwise valid signature.
    let good = honest.sign(msg);
    let s = add_l(good[32..].try_into().unwrap());
    out.push((
        "s + l".into(),
        honest.item(msg, join(good[..32].try_into().unwrap(), &s)),
        Some(false),
    ));
    // Non-canonical R encodings (with any s the equation fails too).
    let encodings = non_canonical_encodings();
    assert!(!encodings.is_empty());
    for e in encodings {
        let s = challenge(&e, &honest.key, msg) * honest.a;
        out.push((
            "R not canonical".into(),
            honest.item(msg, join(&e, &s.to_bytes())),
            Some(false),
        ));
    }
    // Small-order keys: R = [r]B, s = r, so [s]B − [k]A = R − [k]T is off by torsion.
    for (t, tp) in EIGHT_TORSION.iter().enumerate() {
        let key = tp.compress().to_bytes();
        let r = Scalar::from(77u64);
        let sig = join(
            &EdwardsPoint::mul_base(&r).compress().to_bytes(),
            &r.to_bytes(),
        );
        out.push((
            format!("A = T{t}"),
            SigItem {
                key,
                message: msg,
                signature: sig,
            },
            Some(false),
        ));
    }
    // Mixed-order keys: strict accepts exactly when k·T = 0; both happen.
    for t in [1, 2, 4] {
        let signer = Signer::mixed(7, t);
        for i in 0..8u8 {
            let m: &'static [u8] = Box::leak(vec![b'm', i].into_boxed_slice());
            let sig = signer.sign(m);
            out.push((format!("A + T{t}, message {i}"), signer.item(m, sig), None));
        }
    }
    out
}

#[test]
fn every_odd_kind_gets_verify_stricts_verdict_alone_and_in_a_crowd() {
    let odd = odd_items();
    for (name, item, expected) in &odd {
        if let Some(e) = expected {
            assert_eq!(verify_one(item), *e, "{name}");
        }
    }
    // The mixed-order keys gave both verdicts, so they test something.
    let mixed: Vec<bool> = odd
        .iter()
        .filter(|(_, _, e)| e.is_none())
        .map(|(_, it, _)| verify_one(it))
        .collect();
    assert!(mixed.contains(&true) && mixed.contains(&false));

    let honest = Signer::honest(8);
    let msgs = messages(400, "crowd");
    let crowd: Vec<SigItem<'_>> = msgs
        .iter()
        .map(|m| honest.item(m, honest.sign(m)))
        .collect();
    for (name, item, _) in &odd {
        // Alone, in a group checked point by point, and in a subset-sum group.
        for n in [0, 20, 400] {
            let mut items = crowd[..n].to_vec();
            items.insert(n / 2, *item);
            let (verdicts, stats) = agrees(&items, BATCH);
            assert_eq!(
                verdicts.iter().filter(|v| !**v).count(),
                usize::from(!verify_one(item)),
                "{name}, n = {n}"
            );
            // Only the odd one is left to verify_strict: a torsion part in
            // one R does not take its honest neighbours out of the batch.
            assert_eq!(
                (stats.strict, stats.batched),
                (1, n as u64),
                "{name}, n = {n}"
            );
        }
    }
    // All of them at once.
    let mut items = crowd.clone();
    for (i, (_, item, _)) in odd.iter().enumerate() {
        items.insert(i * 7 % items.len(), *item);
    }
    agrees(&items, BATCH);
}

/// Honest signatures by three keys, and the odd ones.
fn pool() -> &'static (Vec<SigItem<'static>>, Vec<SigItem<'static>>) {
    static POOL: OnceLock<(Vec<SigItem<'static>>, Vec<SigItem<'static>>)> = OnceLock::new();
    POOL.get_or_init(|| {
        let signers = [Signer::honest(10), Signer::honest(11), Signer::honest(12)];
        let honest = messages(600, "pool")
            .into_iter()
            .enumerate()
            .map(|(i, m)| {
                let m: &'static [u8] = Box::leak(m.into_boxed_slice());
                let s = &signers[i % 3];
                s.item(m, s.sign(m))
            })
            .collect();
        let odd = odd_items().into_iter().map(|(_, it, _)| it).collect();
        (honest, odd)
    })
}

/// One item of a random mixture.
#[derive(Clone, Debug)]
enum Pick {
    Honest(usize),
    /// An honest signature with one bit flipped (in R, s, the key or the message).
    Flipped(usize, usize),
    Odd(usize),
}

fn pick() -> impl Strategy<Value = Pick> {
    prop_oneof![
        20 => (0usize..600).prop_map(Pick::Honest),
        1 => (0usize..600, 0usize..(96 * 8)).prop_map(|(i, b)| Pick::Flipped(i, b)),
        1 => (0usize..1000).prop_map(Pick::Odd),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_mixtures_get_verify_stricts_verdicts(
        picks in prop::collection::vec(pick(), 0..700),
        batch in prop_oneof![Just(1usize), Just(7), Just(64), Just(BATCH)],
    ) {
        let (honest, odd) = pool();
        let flipped_msgs: Vec<Vec<u8>> = picks
            .iter()
            .map(|p| match p {
                Pick::Flipped(i, bit) if *bit >= 96 * 8 - 8 => {
                    let mut m = honest[*i].message.to_vec();
                    m[0] ^= 1 << (bit % 8);
                    m
                }
                _ => Vec::new(),
            })
            .collect();
        let items: Vec<SigItem<'_>> = picks
            .iter()
            .zip(&flipped_msgs)
            .map(|(p, fm)| match p {
                Pick::Honest(i) => honest[*i],
                Pick::Odd(i) => odd[i % odd.len()],
                Pick::Flipped(i, bit) => {
                    let mut it = honest[*i];
                    let (byte, mask) = (bit / 8, 1u8 << (bit % 8));
                    if byte < 64 {
                        it.signature[byte] ^= mask;
                    } else if byte < 95 {
                        it.key[byte - 64] ^= mask;
                    } else {
                        it.message = fm;
                    }
                    it
                }
            })
            .collect();
        let (verdicts, stats) = verify_all_in_batches(&items, batch);
        prop_assert_eq!(stats.checked, items.len() as u64);
        for (v, it) in verdicts.iter().zip(&items) {
            prop_assert_eq!(*v, verify_one(it));
        }
    }
}
