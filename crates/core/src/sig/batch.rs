//! Signature checking whose verdict is exactly ed25519-dalek's `verify_strict`,
//! with batch verification as the fast path, spread over all cores.
//!
//! # The rule
//!
//! `verify_strict(A, M, (R, s))` accepts iff `s < ℓ`, `R` decodes and is not of
//! small order, `A` is not of small order, and the bytes of `R` equal the
//! encoding of `[s]B − [k]A` with `k = SHA-512(R ‖ A ‖ M) mod ℓ` (over the bytes
//! of `R` and `A` as given). Write `Dᵢ = Rᵢ − [sᵢ]B + [kᵢ]Aᵢ`; strict accepts
//! iff `Dᵢ = 0` (and the encodings are canonical).
//!
//! # The batch equation
//!
//! A batch of up to [`BATCH`] signatures is accepted when
//! `Σ zᵢ·Dᵢ = [−Σ zᵢsᵢ]B + Σ zᵢRᵢ + Σ_A (Σ_{i: Aᵢ=A} zᵢkᵢ)·A = 0`
//! for fresh random 128-bit `zᵢ`, one variable-time multiscalar multiplication
//! over points already decoded: each `R` once (the pre-checks below need it
//! anyway) and each distinct key once per call, its terms folded so a batch of
//! `n` signatures by `m` keys costs `n + m + 1` points, not `2n + 1`. The `zᵢ`
//! come straight from the OS RNG, one read per batch: a few kilobytes per
//! batch costs far less than the multiplication, and it needs no CSPRNG of our
//! own to seed and reason about.
//!
//! When some `Dᵢ` is a non-zero *torsion* point (order 2, 4 or 8), the sum
//! vanishes whenever `zᵢ` is a multiple of its order — one chance in two for
//! order 2 — so a batch can accept what strict rejects. A key holder can make
//! such signatures on purpose (add a torsion point to `R`: `R` is then of
//! mixed order, not small order, so **the cheap pre-checks alone do not close
//! the gap**; `tests/bundle/sigs.rs` builds one). Multiplying the equation by
//! the cofactor 8 would not help: that is cofactored verification, which
//! accepts exactly those signatures.
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
//!    each checked for `[ℓ]Qⱼ = 0` (in variable time). If some `Rᵢ` has a torsion part, each
//!    subset sum misses it with probability at most ½, so all 128 do with
//!    probability at most 2⁻¹²⁸ (per test; a group takes at most a few dozen).
//!    A failing group is halved and retested until the `R` with a torsion part
//!    are found; their items go to `verify_strict`, the rest still batch. (The
//!    batch equation cannot stand in for this test: its torsion part is
//!    `Σ (zᵢ mod 8)·Tᵢ`, which misses an order-2 `Tᵢ` whenever `zᵢ` is even,
//!    so it is worth one subset sum, not 128.)
//!
//! Under 1–4 every `Dᵢ` lies in the prime-order subgroup (`B`, every `A` and
//! every `R` do), which is why the equation needs no cofactor: there a non-zero
//! `Dᵢ` survives the random combination only with probability about 2⁻¹²⁸
//! (batch verification's own soundness bound), so batch success implies
//! `Dᵢ = 0` for all `i`, which is exactly strict acceptance; and strict
//! acceptance of all items implies batch success. A failed batch is never
//! trusted either way: its items get `verify_strict` one by one.

use std::collections::HashMap;

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity as _, VartimeMultiscalarMul as _};
use rand_core::{OsRng, RngCore as _};
use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest as _, Sha512};

use super::{Sig, verify_strict};

/// Signatures per batch equation (one multiscalar multiplication).
pub const BATCH: usize = 512;
/// Subset sums in the torsion test: the false-accept bound is 2^-ROUNDS.
const ROUNDS: usize = 128;
/// Subset sums found per bucket pass of the torsion test (2^BITS buckets).
const BITS: usize = 8;
/// Below this many points, checking each `R` on its own is cheaper than the subset sums.
const SUBSET_MIN: usize = 192;
/// Largest group one torsion test covers: its fixed cost (`ROUNDS` checks of
/// `[ℓ]Q` and the bucket folds) is shared by the group's points, so a
/// caller that hands over 16,384 signatures at once pays half as much per
/// signature as with groups of 4,096.
const MAX_GROUP: usize = 8192;
/// Smallest share of a call worth a torsion test of its own: the test costs
/// about `ROUNDS` scalar multiplications whatever the group's size, so small
/// calls are one group whose stages run in parallel instead.
const MIN_SPLIT: usize = 2048;

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
    key_ok && decode_signature(signature, false).is_some()
}

/// Verifies every item; `verdicts[i]` is exactly `verify_strict(items[i])`
/// (up to the 2^-128 bounds in the module docs). Runs on the rayon pool.
pub fn verify_all(items: &[SigItem<'_>]) -> (Vec<bool>, SignatureStats) {
    verify_all_in_batches(items, BATCH)
}

/// [`verify_all`] with `batch` signatures per batch equation instead of
/// [`BATCH`] (for benchmarks; the verdicts do not depend on it).
pub fn verify_all_in_batches(items: &[SigItem<'_>], batch: usize) -> (Vec<bool>, SignatureStats) {
    let keys = Keys::of(items);
    let threads = rayon::current_num_threads().max(1);
    let group = items.len().div_ceil(threads).clamp(MIN_SPLIT, MAX_GROUP);
    let parts: Vec<(Vec<bool>, SignatureStats)> = items
        .par_chunks(group)
        .map(|g| verify_group(g, &keys, batch.max(1)))
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

/// The distinct keys of one call, each decoded once.
struct Keys {
    /// Key bytes to a position in `points`, or `None` if the key may not batch.
    index: HashMap<[u8; 32], Option<usize>>,
    /// Decoded keys that meet condition 1.
    points: Vec<EdwardsPoint>,
}

impl Keys {
    fn of(items: &[SigItem<'_>]) -> Keys {
        let mut keys = Keys {
            index: HashMap::new(),
            points: Vec::new(),
        };
        for it in items {
            if !keys.index.contains_key(&it.key) {
                let slot = batch_key(&it.key).map(|a| {
                    keys.points.push(a);
                    keys.points.len() - 1
                });
                keys.index.insert(it.key, slot);
            }
        }
        keys
    }
}

/// A key usable in a trusted batch: decodes, not small order, torsion-free.
fn batch_key(key: &[u8; 32]) -> Option<EdwardsPoint> {
    let point = CompressedEdwardsY(*key).decompress()?;
    (!point.is_small_order() && prime_order(&point)).then_some(point)
}

/// `(R, s)` if `s` is canonical and `R` decodes and is not of small order;
/// with `canonical_r`, also only if `R`'s encoding is canonical (`y < p`).
fn decode_signature(signature: &[u8; 64], canonical_r: bool) -> Option<(EdwardsPoint, Scalar)> {
    let (r, s) = signature.split_first_chunk::<32>()?;
    let s: [u8; 32] = s.try_into().ok()?;
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s))?;
    if canonical_r && !canonical_y(r) {
        return None;
    }
    let point = CompressedEdwardsY(*r).decompress()?;
    (!point.is_small_order()).then_some((point, s))
}

/// Whether the y coordinate of an encoded point is below p = 2^255 − 19.
/// (A point with x = 0 and the sign bit set is y = ±1, small order, refused anyway.)
fn canonical_y(encoded: &[u8; 32]) -> bool {
    let [low, middle @ .., high] = encoded;
    !(high & 0x7f == 0x7f && middle.iter().all(|b| *b == 0xff) && *low >= 0xed)
}

/// An item a batch may decide: conditions 1–3 hold.
struct Eligible {
    /// Position in the group.
    item: usize,
    /// Position of its key in [`Keys::points`].
    key: usize,
    r: EdwardsPoint,
    s: Scalar,
}

fn verify_group(items: &[SigItem<'_>], keys: &Keys, batch: usize) -> (Vec<bool>, SignatureStats) {
    let mut stats = SignatureStats {
        checked: items.len() as u64,
        ..SignatureStats::default()
    };
    let mut verdicts = vec![false; items.len()];
    let strict = |verdicts: &mut [bool], stats: &mut SignatureStats, i: usize| {
        if let Some(it) = items.get(i) {
            set(verdicts, i, verify_one(it));
            stats.strict += 1;
        }
    };
    let decoded: Vec<Result<Eligible, usize>> = items
        .par_iter()
        .enumerate()
        .map(|(i, it)| {
            let key = keys.index.get(&it.key).copied().flatten();
            match (key, decode_signature(&it.signature, true)) {
                (Some(key), Some((r, s))) => Ok(Eligible { item: i, key, r, s }),
                _ => Err(i),
            }
        })
        .collect();
    let mut eligible: Vec<Eligible> = Vec::with_capacity(items.len());
    for d in decoded {
        match d {
            Ok(e) => eligible.push(e),
            Err(i) => strict(&mut verdicts, &mut stats, i),
        }
    }
    let points: Vec<EdwardsPoint> = eligible.iter().map(|e| e.r).collect();
    let torsion_free = torsion_free_mask(&points);
    if torsion_free.iter().any(|ok| !ok) {
        stats.batch_failures += 1;
        let mut clean = Vec::with_capacity(eligible.len());
        for (e, ok) in eligible.into_iter().zip(&torsion_free) {
            if *ok {
                clean.push(e);
            } else {
                strict(&mut verdicts, &mut stats, e.item);
            }
        }
        eligible = clean;
    }
    // Batches spread over the pool, never smaller than a core's share.
    let threads = rayon::current_num_threads().max(1);
    let size = batch.min(eligible.len().div_ceil(threads)).max(1);
    let held: Vec<bool> = eligible
        .par_chunks(size)
        .map(|b| batch_holds(b, items, &keys.points))
        .collect();
    for (b, ok) in eligible.chunks(size).zip(held) {
        if ok {
            stats.batched += b.len() as u64;
            for e in b {
                set(&mut verdicts, e.item, true);
            }
        } else {
            stats.batch_failures += 1;
            for e in b {
                strict(&mut verdicts, &mut stats, e.item);
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

/// Whether `[−Σ zᵢsᵢ]B + Σ zᵢRᵢ + Σ_A (Σ_{i: Aᵢ=A} zᵢkᵢ)A = 0` for fresh
/// random 128-bit `zᵢ` (false on any doubt, including an RNG failure).
fn batch_holds(batch: &[Eligible], items: &[SigItem<'_>], keys: &[EdwardsPoint]) -> bool {
    let mut random = vec![0u8; 16 * batch.len()];
    if OsRng.try_fill_bytes(&mut random).is_err() {
        return false;
    }
    let (zs, _) = random.as_chunks::<16>();
    let mut scalars = Vec::with_capacity(batch.len() + 2);
    let mut points = Vec::with_capacity(batch.len() + 2);
    let mut b_coefficient = Scalar::ZERO;
    // (key position, Σ zᵢkᵢ) per distinct key of the batch; a ledger has a
    // handful, so a linear search beats hashing (and is at worst BATCH² / 2).
    let mut folded: Vec<(usize, Scalar)> = Vec::new();
    for (e, z) in batch.iter().zip(zs) {
        let Some(it) = items.get(e.item) else {
            return false;
        };
        let z = Scalar::from(u128::from_le_bytes(*z));
        b_coefficient -= z * e.s;
        scalars.push(z);
        points.push(e.r);
        let zk = z * challenge(&it.signature, &it.key, it.message);
        match folded.iter_mut().find(|(k, _)| *k == e.key) {
            Some((_, sum)) => *sum += zk,
            None => folded.push((e.key, zk)),
        }
    }
    for (k, sum) in folded {
        let Some(a) = keys.get(k) else {
            return false;
        };
        scalars.push(sum);
        points.push(*a);
    }
    scalars.push(b_coefficient);
    points.push(ED25519_BASEPOINT_POINT);
    EdwardsPoint::vartime_multiscalar_mul(&scalars, &points).is_identity()
}

/// `k = SHA-512(R ‖ A ‖ M) mod ℓ`, over the bytes as given (as `verify_strict` hashes them).
fn challenge(signature: &[u8; 64], key: &[u8; 32], message: &[u8]) -> Scalar {
    let (r, _) = signature.split_at(32);
    let h: [u8; 64] = Sha512::new()
        .chain_update(r)
        .chain_update(key)
        .chain_update(message)
        .finalize()
        .into();
    Scalar::from_bytes_mod_order_wide(&h)
}

/// For each point, whether it is in the prime-order subgroup (false on any
/// doubt). A group that fails the subset-sum test is halved until the points
/// with a torsion part are found one by one, so one bad `R` sends one item,
/// not the whole group, to `verify_strict`.
fn torsion_free_mask(points: &[EdwardsPoint]) -> Vec<bool> {
    if points.len() < SUBSET_MIN {
        return points.par_iter().map(prime_order).collect();
    }
    if all_torsion_free(points) {
        return vec![true; points.len()];
    }
    let (low, high) = points.split_at(points.len() / 2);
    let mut mask = torsion_free_mask(low);
    mask.extend(torsion_free_mask(high));
    mask
}

/// Whether `[ℓ]Q` is the identity, i.e. `Q` has no torsion part: the same
/// answer as `EdwardsPoint::is_torsion_free`, computed in variable time as
/// `[ℓ − 1]Q + Q` (a sum of public points needs no constant time; `ℓ − 1` is
/// the canonical scalar `−1`, and the multiplication works on its integer
/// digits, so this is the integer multiple `[ℓ]Q` for any point of the curve).
fn prime_order(q: &EdwardsPoint) -> bool {
    let minus_one = -Scalar::ONE;
    (EdwardsPoint::vartime_double_scalar_mul_basepoint(&minus_one, q, &Scalar::ZERO) + q)
        .is_identity()
}

/// Whether every point is in the prime-order subgroup (false on any doubt).
///
/// `ROUNDS` secret random subset sums, each tested with [`prime_order`].
/// They are found `BITS` at a time: each point goes into the bucket named by a
/// random byte, and subset sum `r` of the pass is the sum of the buckets whose
/// number has bit `r` set — about `ROUNDS / BITS` additions per point instead
/// of `ROUNDS / 2`. Every point's membership in every subset is still an
/// independent fair coin (one bit of one fresh random byte).
fn all_torsion_free(points: &[EdwardsPoint]) -> bool {
    if points.len() < SUBSET_MIN {
        return points.iter().all(prime_order);
    }
    const PASSES: usize = ROUNDS / BITS;
    let mut random = vec![0u8; points.len() * PASSES];
    if OsRng.try_fill_bytes(&mut random).is_err() {
        return false;
    }
    let (masks, _) = random.as_chunks::<PASSES>();
    // The passes are independent: they run in parallel.
    (0..PASSES).into_par_iter().all(|pass| {
        let mut buckets = vec![EdwardsPoint::default(); 1 << BITS];
        for (p, mask) in points.iter().zip(masks) {
            let bucket = mask.get(pass).map_or(0, |m| usize::from(*m));
            if bucket != 0
                && let Some(b) = buckets.get_mut(bucket)
            {
                *b += p;
            }
        }
        // From the top bit down: the sum of the upper half is subset sum `r`;
        // folding the upper half onto the lower leaves the same problem on r bits.
        for r in (0..BITS).rev() {
            let (lower, upper) = buckets.split_at_mut(1 << r);
            let q: EdwardsPoint = upper.iter().sum();
            if !prime_order(&q) {
                return false;
            }
            for (l, u) in lower.iter_mut().zip(upper.iter()) {
                *l += u;
            }
            buckets.truncate(1 << r);
        }
        true
    })
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
    fn prime_order_agrees_with_is_torsion_free() {
        use curve25519_dalek::constants::EIGHT_TORSION;
        let p = ED25519_BASEPOINT_POINT * Scalar::from(123_456_789u64);
        assert!(prime_order(&p) && p.is_torsion_free());
        assert!(prime_order(&EdwardsPoint::default()));
        for (i, t) in EIGHT_TORSION.iter().enumerate().skip(1) {
            // Small order alone, and mixed order: both have a torsion part.
            assert!(!prime_order(t), "torsion point {i}");
            let mixed = p + t;
            assert!(!mixed.is_torsion_free());
            assert!(!prime_order(&mixed), "mixed with torsion point {i}");
        }
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
