//! Signature checking whose verdict is exactly ed25519-dalek's `verify_strict`,
//! with batch verification as the fast path, spread over all cores.
//!
//! # The rule
//!
//! `verify_strict(A, M, (R, s))` accepts iff `s < ℓ`, `R` decodes and is not of
//! small order, `A` is not of small order, and the bytes of `R` equal the
//! encoding of `[s]B − [k]A` with `k = SHA-512(R ‖ A ‖ M) mod ℓ`. Batch
//! verification (`ed25519_dalek::verify_batch`) instead checks
//! `Σ zᵢ·(Rᵢ − [sᵢ]B + [kᵢ]Aᵢ) = 0` for 128-bit `zᵢ`. Write
//! `Dᵢ = Rᵢ − [sᵢ]B + [kᵢ]Aᵢ`; strict accepts iff `Dᵢ = 0` (and the encodings are canonical).
//! When some `Dᵢ` is a non-zero *torsion* point (order 2, 4 or 8), the sum
//! vanishes whenever `zᵢ` is a multiple of its order — one chance in two for
//! order 2 — so a batch can accept what strict rejects. A key holder can make
//! such signatures on purpose (add a torsion point to `R`: `R` is then of
//! mixed order, not small order, so **the cheap pre-checks alone do not close
//! the gap**; `tests/bundle/sigs.rs` builds one).
//!
//! A batch success is therefore taken as the strict verdict only for items
//! where all of these hold; every other item gets its own `verify_strict`:
//!
//! 1. `A` decodes, is not of small order and is torsion-free (checked once per
//!    distinct key, cached: a ledger has few keys);
//! 2. `s` is canonical (`s < ℓ`);
//! 3. `R` is a canonical encoding (`y < p`), decodes, and is not of small order;
//! 4. every `R` of the group is torsion-free. Checking `[ℓ]R = 0` per signature
//!    costs as much as a verification, so the group is tested at once: 128
//!    random subset sums `Qⱼ = Σ_{i∈Sⱼ} Rᵢ` (secret subsets from the OS RNG),
//!    each checked with `is_torsion_free`. If some `Rᵢ` has a torsion part, each
//!    subset sum misses it with probability at most ½, so all 128 do with
//!    probability at most 2⁻¹²⁸. Any failure sends the whole group to
//!    `verify_strict`.
//!
//! Under 1–4 every `Dᵢ` lies in the prime-order subgroup, where a non-zero
//! `Dᵢ` survives the random combination only with probability about 2⁻¹²⁸
//! (batch verification's own soundness bound), so batch success implies
//! `Dᵢ = 0` for all `i`, which is exactly strict acceptance; and strict
//! acceptance of all items implies batch success. A failed batch is never
//! trusted either way: its items get `verify_strict` one by one.

use std::collections::HashMap;

use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::Identity as _;
use ed25519_dalek::{Signature, VerifyingKey};
use rand_core::{OsRng, RngCore as _};
use rayon::prelude::*;
use serde::Serialize;

use armsledger_core::sig::{Sig, verify_strict};

/// Signatures per `verify_batch` call (dalek's sweet spot is about 64–128).
const BATCH: usize = 64;
/// Subset sums in the torsion test: the false-accept bound is 2^-ROUNDS.
const ROUNDS: usize = 128;
/// Below this many points, checking each `R` on its own is cheaper than 128 subset sums.
const SUBSET_MIN: usize = 192;
/// Largest group one task handles.
const MAX_GROUP: usize = 4096;

/// One signature to check, as `verify_strict(key, message, signature)` would.
#[derive(Clone, Copy, Debug)]
pub struct SigItem<'a> {
    /// The signer's public key.
    pub key: [u8; 32],
    /// The signed message.
    pub message: &'a [u8],
    /// The signature.
    pub signature: [u8; 64],
}

/// How the verdicts were reached.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SignatureStats {
    /// Signatures checked.
    pub checked: u64,
    /// Accepted by a batch that passed every strict-equivalence condition.
    pub batched: u64,
    /// Batches (or torsion tests) that failed and fell back to per-item `verify_strict`.
    pub batch_failures: u64,
    /// Items decided by their own `verify_strict`.
    pub strict: u64,
}

impl SignatureStats {
    fn add(&mut self, o: &SignatureStats) {
        self.checked += o.checked;
        self.batched += o.batched;
        self.batch_failures += o.batch_failures;
        self.strict += o.strict;
    }
}

/// The cheap checks `verify_strict` makes before its equation: `A` decodes and
/// is not of small order, `s` is canonical, `R` decodes and is not of small order.
///
/// Passing them is **not** enough to trust a batch (see the module docs):
/// a mixed-order `R` passes them.
pub fn strict_prechecks(key: &[u8; 32], signature: &[u8; 64]) -> bool {
    let key_ok = CompressedEdwardsY(*key)
        .decompress()
        .is_some_and(|a| !a.is_small_order());
    key_ok && signature_point(signature, false).is_some()
}

/// Verifies every item; `verdicts[i]` is exactly `verify_strict(items[i])`
/// (up to the 2^-128 bounds in the module docs). Runs on the rayon pool.
pub fn verify_all(items: &[SigItem<'_>]) -> (Vec<bool>, SignatureStats) {
    let mut keys: HashMap<[u8; 32], Option<VerifyingKey>> = HashMap::new();
    for it in items {
        keys.entry(it.key).or_insert_with(|| batch_key(&it.key));
    }
    let threads = rayon::current_num_threads().max(1);
    let group = items.len().div_ceil(threads).clamp(SUBSET_MIN, MAX_GROUP);
    let parts: Vec<(Vec<bool>, SignatureStats)> = items
        .par_chunks(group)
        .map(|g| verify_group(g, &keys))
        .collect();
    let mut verdicts = Vec::with_capacity(items.len());
    let mut stats = SignatureStats::default();
    for (v, s) in parts {
        verdicts.extend(v);
        stats.add(&s);
    }
    (verdicts, stats)
}

/// One item's `verify_strict` verdict (the same function the server uses).
pub fn verify_one(item: &SigItem<'_>) -> bool {
    verify_strict(&item.key, item.message, &Sig(item.signature)).is_ok()
}

/// A key usable in a trusted batch: decodes, not small order, torsion-free.
fn batch_key(key: &[u8; 32]) -> Option<VerifyingKey> {
    let point = CompressedEdwardsY(*key).decompress()?;
    if point.is_small_order() || !point.is_torsion_free() {
        return None;
    }
    VerifyingKey::from_bytes(key).ok()
}

/// Checks `s` canonical and `R` decodable and not small order; with
/// `canonical_r`, also that `R`'s encoding is canonical (`y < p`).
fn signature_point(signature: &[u8; 64], canonical_r: bool) -> Option<EdwardsPoint> {
    let (r, s) = signature.split_first_chunk::<32>()?;
    let s: [u8; 32] = s.try_into().ok()?;
    if bool::from(Scalar::from_canonical_bytes(s).is_none()) {
        return None;
    }
    if canonical_r && !canonical_y(r) {
        return None;
    }
    let point = CompressedEdwardsY(*r).decompress()?;
    (!point.is_small_order()).then_some(point)
}

/// Whether the y coordinate of an encoded point is below p = 2^255 − 19.
/// (A point with x = 0 and the sign bit set is y = ±1, small order, refused anyway.)
fn canonical_y(encoded: &[u8; 32]) -> bool {
    let [low, middle @ .., high] = encoded;
    !(high & 0x7f == 0x7f && middle.iter().all(|b| *b == 0xff) && *low >= 0xed)
}

fn verify_group(
    items: &[SigItem<'_>],
    keys: &HashMap<[u8; 32], Option<VerifyingKey>>,
) -> (Vec<bool>, SignatureStats) {
    let mut stats = SignatureStats {
        checked: items.len() as u64,
        ..SignatureStats::default()
    };
    let mut verdicts = vec![false; items.len()];
    // (position, key, R point) of every item a batch may decide.
    let mut eligible: Vec<(usize, VerifyingKey, EdwardsPoint)> = Vec::with_capacity(items.len());
    for (i, it) in items.iter().enumerate() {
        let key = keys.get(&it.key).copied().flatten();
        match (key, signature_point(&it.signature, true)) {
            (Some(k), Some(r)) => eligible.push((i, k, r)),
            _ => {
                set(&mut verdicts, i, verify_one(it));
                stats.strict += 1;
            }
        }
    }
    let points: Vec<EdwardsPoint> = eligible.iter().map(|(_, _, r)| *r).collect();
    if !all_torsion_free(&points) {
        stats.batch_failures += 1;
        for (i, _, _) in &eligible {
            if let Some(it) = items.get(*i) {
                set(&mut verdicts, *i, verify_one(it));
                stats.strict += 1;
            }
        }
        return (verdicts, stats);
    }
    for batch in eligible.chunks(BATCH) {
        let mut messages = Vec::with_capacity(batch.len());
        let mut signatures = Vec::with_capacity(batch.len());
        let mut vks = Vec::with_capacity(batch.len());
        for (i, k, _) in batch {
            if let Some(it) = items.get(*i) {
                messages.push(it.message);
                signatures.push(Signature::from_bytes(&it.signature));
                vks.push(*k);
            }
        }
        let ok = messages.len() == batch.len()
            && ed25519_dalek::verify_batch(&messages, &signatures, &vks).is_ok();
        if ok {
            stats.batched += batch.len() as u64;
            for (i, _, _) in batch {
                set(&mut verdicts, *i, true);
            }
        } else {
            stats.batch_failures += 1;
            for (i, _, _) in batch {
                if let Some(it) = items.get(*i) {
                    set(&mut verdicts, *i, verify_one(it));
                    stats.strict += 1;
                }
            }
        }
    }
    (verdicts, stats)
}

fn set(verdicts: &mut [bool], i: usize, v: bool) {
    if let Some(slot) = verdicts.get_mut(i) {
        *slot = v;
    }
}

/// Whether every point is in the prime-order subgroup (false on any doubt).
fn all_torsion_free(points: &[EdwardsPoint]) -> bool {
    if points.len() < SUBSET_MIN {
        return points.iter().all(EdwardsPoint::is_torsion_free);
    }
    let mut sums = vec![EdwardsPoint::identity(); ROUNDS];
    for p in points {
        let mut bytes = [0u8; 16];
        if OsRng.try_fill_bytes(&mut bytes).is_err() {
            return false;
        }
        let mut mask = u128::from_le_bytes(bytes);
        while mask != 0 {
            let j = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            if let Some(q) = sums.get_mut(j) {
                *q += p;
            }
        }
    }
    sums.iter().all(EdwardsPoint::is_torsion_free)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer as _, SigningKey};

    #[test]
    fn canonical_y_bounds() {
        let mut p = [0xffu8; 32];
        p[31] = 0x7f;
        p[0] = 0xec; // p - 1
        assert!(canonical_y(&p));
        p[0] = 0xed; // p
        assert!(!canonical_y(&p));
        p[31] = 0xff; // sign bit does not matter
        assert!(!canonical_y(&p));
        assert!(canonical_y(&[0; 32]));
    }

    #[test]
    fn honest_signatures_batch_and_a_bad_one_falls_back() {
        let k = SigningKey::from_bytes(&[9; 32]);
        let msgs: Vec<Vec<u8>> = (0..300u32).map(|i| i.to_be_bytes().to_vec()).collect();
        let mut items: Vec<SigItem<'_>> = msgs
            .iter()
            .map(|m| SigItem {
                key: k.verifying_key().to_bytes(),
                message: m,
                signature: k.sign(m).to_bytes(),
            })
            .collect();
        let (v, stats) = verify_all(&items);
        assert!(v.iter().all(|x| *x));
        assert_eq!(stats.batched, 300);
        items[123].signature[5] ^= 1;
        let (v, stats) = verify_all(&items);
        assert_eq!(v.iter().filter(|x| !**x).count(), 1);
        assert!(!v[123]);
        assert!(stats.batch_failures >= 1);
    }
}
