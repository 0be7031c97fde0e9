//! Every tampering of a signed multi-chain log is detected, and the failure is
//! attributed to the exact entry: byte flips, drops, reorders, duplicates,
//! splices from another ledger, substitutions and truncations. Forks of one
//! key at one counter yield a self-contained equivocation proof.
// Test helpers outside #[test] fns: clippy.toml's in-test allowances do not reach them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use armsledger_core::chain::{Equivocation, EquivocationError};
use armsledger_core::entry::{ChainId, EntryBody, SignedEntry, SignedHeader};
use armsledger_core::event::{Event, RegulatorEvent, SiteEvent};
use armsledger_core::hash::Hash;
use armsledger_core::ids::Timestamp;
use armsledger_core::model::{AmmoLine, Condition, Item, RoundsBack};
use armsledger_core::rules::View;
use armsledger_core::sig::Statement;
use armsledger_core::testkit::{Scenario, note, v};
use armsledger_core::{ChainError, LedgerVerifier};
use common::{issued, transfer_permit};
use proptest::prelude::*;

/// A ledger with a regulator chain and two site chains, interleaved. `shift`
/// moves every clock so that two ledgers built alike share no entry.
fn ledger(shift: u64) -> Scenario {
    let mut s = Scenario::new();
    s.tick(shift);
    s.company_with_site("acme", "north");
    s.guard("guard-1", "acme", 365);
    let (g1, _) = s.acquire("north", "AB-1");
    let lot = s.receive("north", "L-1", 100);
    s.company_with_site("bravo", "south");
    s.guard("guard-3", "bravo", 365);
    let (g2, _) = s.acquire("south", "CD-2");
    let ev = issued(&s, g1, "guard-1", vec![AmmoLine { lot, rounds: 10 }]);
    let i = s.site("north", "armourer-1", ev);
    s.site(
        "south",
        "armourer-2",
        SiteEvent::StorageMoved {
            item: Item::Firearm(g2),
            from: v("vault"),
            to: v("rack-1"),
        },
    );
    s.site(
        "north",
        "armourer-1",
        SiteEvent::Returned {
            incident: Some(v("INC-3")),
            issue: i.hash(),
            firearm: g1,
            condition: Condition::Serviceable,
            ammunition: vec![RoundsBack {
                lot,
                returned: 9,
                expended: 1,
            }],
            location: v("vault"),
        },
    );
    let out = s.site(
        "north",
        "armourer-1",
        SiteEvent::TransferredOut {
            to_site: v("south"),
            to_company: v("bravo"),
            firearms: vec![g1],
            rounds: vec![AmmoLine { lot, rounds: 20 }],
            rounds_from: Some(v("vault")),
            permit: transfer_permit(),
            carrier: None,
        },
    );
    s.regulator(RegulatorEvent::InspectionRecorded {
        reference: v("INS-1"),
        site: v("north"),
        stage: armsledger_core::oversight::InspectionStage::Performed,
        at: s.now,
        note: armsledger_core::testkit::note("routine"),
    });
    s.site(
        "south",
        "armourer-2",
        SiteEvent::TransferredIn {
            transfer: armsledger_core::event::EntryRef {
                site: v("north"),
                counter: out.counter(),
                hash: out.hash(),
            },
            firearms: vec![g1],
            rounds: vec![AmmoLine { lot, rounds: 20 }],
            location: v("vault"),
            note: None,
        },
    );
    let ev = issued(&s, g1, "guard-3", vec![]);
    s.site("south", "armourer-2", ev);
    s.site(
        "north",
        "armourer-1",
        SiteEvent::StorageMoved {
            item: Item::Rounds(AmmoLine { lot, rounds: 30 }),
            from: v("vault"),
            to: v("rack-1"),
        },
    );
    s.regulator(RegulatorEvent::ComplaintReceived {
        reference: v("C-1"),
        against: armsledger_core::oversight::Respondent::Company(v("acme")),
        summary: armsledger_core::testkit::note("late return"),
    });
    s
}

struct Fixture {
    scenario: Scenario,
    entries: Vec<SignedEntry>,
    bytes: Vec<Vec<u8>>,
    /// The same kind of ledger built with other clocks: no entry in common.
    other: Vec<SignedEntry>,
    regulator_key: [u8; 32],
    root_key: [u8; 32],
}

static FIX: LazyLock<Fixture> = LazyLock::new(|| {
    let s = ledger(0);
    let entries: Vec<SignedEntry> = s.log.iter().map(|e| e.as_ref().clone()).collect();
    let bytes = entries.iter().map(|e| e.bytes().to_vec()).collect();
    let other = ledger(7).log.iter().map(|e| e.as_ref().clone()).collect();
    Fixture {
        regulator_key: s.regulator_key(),
        root_key: s.root_key(),
        scenario: s,
        entries,
        bytes,
        other,
    }
});

/// Where and why a log was refused: the index of the entry in the log and,
/// when its bytes decode, the chain and counter it claims.
#[derive(Debug)]
struct Failure {
    index: usize,
    chain: Option<ChainId>,
    counter: Option<u64>,
    error: ChainError,
}

fn verify_log(bytes: &[Vec<u8>]) -> Result<LedgerVerifier, Failure> {
    let f = &*FIX;
    let mut ver = LedgerVerifier::new(f.regulator_key, vec![f.root_key], View::Corrected);
    for (index, b) in bytes.iter().enumerate() {
        let e = SignedEntry::decode(b).map_err(|err| Failure {
            index,
            chain: None,
            counter: None,
            error: err.into(),
        })?;
        let (chain, counter) = (e.chain().clone(), e.counter());
        ver.ingest(Arc::new(e), None).map_err(|error| Failure {
            index,
            chain: Some(chain),
            counter: Some(counter),
            error,
        })?;
    }
    Ok(ver)
}

fn heads_of(entries: &[SignedEntry]) -> BTreeMap<ChainId, (u64, Hash)> {
    let mut h = BTreeMap::new();
    for e in entries {
        h.insert(e.chain().clone(), (e.counter(), e.hash()));
    }
    h
}

fn heads(ver: &LedgerVerifier) -> BTreeMap<ChainId, (u64, Hash)> {
    ver.heads()
        .filter_map(|(c, h)| h.map(|h| (c.clone(), (h.counter, h.hash))))
        .collect()
}

/// The index of the next entry on the same chain as `entries[i]`.
fn next_on_chain(entries: &[SignedEntry], i: usize) -> Option<usize> {
    let c = entries[i].chain();
    (i + 1..entries.len()).find(|&j| entries[j].chain() == c)
}

/// The entry before `entries[i]` on its chain (its hash, or zero).
fn prev_on_chain(entries: &[SignedEntry], i: usize) -> Hash {
    let c = entries[i].chain();
    (0..i)
        .rev()
        .find(|&j| entries[j].chain() == c)
        .map_or(Hash::ZERO, |j| entries[j].hash())
}

#[test]
fn the_untampered_log_verifies_and_folds_cleanly() {
    let f = &*FIX;
    let ver = verify_log(&f.bytes).unwrap();
    assert!(
        ver.engine().findings().is_empty(),
        "{:#?}",
        ver.engine().findings()
    );
    assert_eq!(heads(&ver), heads_of(&f.entries));
    assert_eq!(heads(&ver).len(), 3);
    // Three chains really are interleaved.
    let chains: Vec<&ChainId> = f.entries.iter().map(|e| e.chain()).collect();
    assert!(chains.windows(2).filter(|w| w[0] != w[1]).count() >= 8);
    assert_eq!(f.scenario.log.len(), f.entries.len());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any flipped bit pattern at any position of any entry is caught at that
    /// entry: by the strict decoder or by verification.
    #[test]
    fn a_byte_flip_is_caught_at_that_entry(i in any::<prop::sample::Index>(), pos in any::<prop::sample::Index>(), mask in 1u8..=255) {
        let f = &*FIX;
        let i = i.index(f.bytes.len());
        let mut bytes = f.bytes.clone();
        let p = pos.index(bytes[i].len());
        bytes[i][p] ^= mask;
        let fail = verify_log(&bytes).expect_err("tampered log verified");
        prop_assert_eq!(fail.index, i, "{:?}", fail);
        let header_len = f.entries[i].header_bytes().len();
        if p >= header_len {
            // Outside the header: either undecodable, or the header (and so
            // the chain and counter named) is the original one.
            if let Some(c) = &fail.chain {
                prop_assert_eq!(c, f.entries[i].chain());
                prop_assert_eq!(fail.counter, Some(f.entries[i].counter()));
            }
        }
        if p >= header_len && p < header_len + 64 {
            // A flipped signature still decodes and is refused as a forgery.
            prop_assert!(matches!(fail.error, ChainError::BadSignature), "{:?}", fail);
        }
        if p >= header_len + 64 {
            // A flipped body never decodes to an entry.
            prop_assert!(fail.chain.is_none(), "{:?}", fail);
        }
    }

    /// Dropping an entry is caught no later than the next entry of its chain,
    /// which names the missing entry as its predecessor; dropping a chain's
    /// last entry leaves a head that differs from the published one.
    #[test]
    fn a_dropped_entry_is_caught_and_named(i in any::<prop::sample::Index>()) {
        let f = &*FIX;
        let i = i.index(f.entries.len());
        let dropped = &f.entries[i];
        let mut bytes = f.bytes.clone();
        bytes.remove(i);
        // Something before the chain's next entry may need the dropped one:
        // the key it enrolled, or the subject history it continued.
        let depends = |fail: &Failure| match &fail.error {
            ChainError::DanglingLink { prev, .. } => *prev == dropped.hash(),
            ChainError::KeyUnknown => matches!(
                dropped.body().event,
                Event::Regulator(RegulatorEvent::DeviceKeyEnrolled { .. })
            ),
            _ => false,
        };
        match (next_on_chain(&f.entries, i), verify_log(&bytes)) {
            (Some(next), Err(fail)) => {
                // In the shortened log the next entry of the chain sits at next - 1.
                prop_assert!(fail.index >= i && fail.index < next, "{:?}", fail);
                if fail.index == next - 1 {
                    prop_assert_eq!(fail.chain.as_ref(), Some(dropped.chain()));
                    prop_assert_eq!(fail.counter, Some(f.entries[next].counter()));
                    prop_assert_eq!(
                        &fail.error,
                        &ChainError::BrokenLink { expected: prev_on_chain(&f.entries, i), found: dropped.hash() }
                    );
                } else {
                    prop_assert!(depends(&fail), "{:?} after dropping {}", fail, dropped.body().event.kind());
                }
            }
            (Some(_), Ok(_)) => prop_assert!(false, "dropping entry {} went unnoticed", i),
            (None, Err(fail)) => {
                prop_assert!(fail.index >= i, "{:?}", fail);
                prop_assert!(depends(&fail), "{:?} after dropping {}", fail, dropped.body().event.kind());
            }
            (None, Ok(ver)) => {
                // The chain's last entry: only the published head can tell.
                let got = heads(&ver);
                let published = heads_of(&f.entries);
                prop_assert_ne!(got.get(dropped.chain()), published.get(dropped.chain()));
                let missing_from = got.get(dropped.chain()).map_or(1, |h| h.0 + 1);
                prop_assert_eq!(missing_from, dropped.counter());
            }
        }
    }

    /// Swapping two entries of one chain is caught at the first position.
    #[test]
    fn a_reorder_within_a_chain_is_caught_at_the_first_position(a in any::<prop::sample::Index>(), b in any::<prop::sample::Index>()) {
        let f = &*FIX;
        let firsts: Vec<usize> = (0..f.entries.len())
            .filter(|&i| next_on_chain(&f.entries, i).is_some())
            .collect();
        let i = firsts[a.index(firsts.len())];
        let same: Vec<usize> = (i + 1..f.entries.len())
            .filter(|&j| f.entries[j].chain() == f.entries[i].chain())
            .collect();
        let j = same[b.index(same.len())];
        let mut bytes = f.bytes.clone();
        bytes.swap(i, j);
        let fail = verify_log(&bytes).expect_err("reordered log verified");
        prop_assert_eq!(fail.index, i);
        prop_assert_eq!(fail.chain.as_ref(), Some(f.entries[j].chain()));
        prop_assert_eq!(fail.counter, Some(f.entries[j].counter()));
        prop_assert_eq!(
            fail.error,
            ChainError::BrokenLink { expected: prev_on_chain(&f.entries, i), found: f.entries[j].header().prev_hash }
        );
    }

    /// Swapping neighbours on different chains is not tampering when neither
    /// depends on the other: the log verifies to the same heads. When one
    /// does depend on the other, it is refused at the swapped pair.
    #[test]
    fn a_reorder_across_chains_changes_nothing_or_is_caught(a in any::<prop::sample::Index>()) {
        let f = &*FIX;
        let seams: Vec<usize> = (0..f.entries.len() - 1)
            .filter(|&i| f.entries[i].chain() != f.entries[i + 1].chain())
            .collect();
        let i = seams[a.index(seams.len())];
        let mut bytes = f.bytes.clone();
        bytes.swap(i, i + 1);
        match verify_log(&bytes) {
            Ok(ver) => prop_assert_eq!(heads(&ver), heads_of(&f.entries)),
            Err(fail) => prop_assert!(fail.index == i || fail.index == i + 1, "{:?}", fail),
        }
    }

    /// A replayed copy of an entry is caught where it is replayed.
    #[test]
    fn a_duplicate_is_caught_where_it_is_inserted(a in any::<prop::sample::Index>(), b in any::<prop::sample::Index>()) {
        let f = &*FIX;
        let i = a.index(f.entries.len());
        let p = i + 1 + b.index(f.entries.len() - i);
        let mut bytes = f.bytes.clone();
        bytes.insert(p, f.bytes[i].clone());
        let fail = verify_log(&bytes).expect_err("log with a duplicate verified");
        prop_assert_eq!(fail.index, p);
        prop_assert_eq!(fail.chain.as_ref(), Some(f.entries[i].chain()));
        prop_assert_eq!(fail.counter, Some(f.entries[i].counter()));
        prop_assert!(matches!(fail.error, ChainError::BrokenLink { found, .. } if found == prev_on_chain(&f.entries, i)), "{:?}", fail);
    }

    /// A validly signed entry from another ledger (same keys, other history)
    /// spliced in anywhere is caught where it is spliced.
    #[test]
    fn a_splice_from_another_ledger_is_caught_where_it_is_inserted(a in any::<prop::sample::Index>(), b in any::<prop::sample::Index>()) {
        let f = &*FIX;
        let candidates: Vec<&SignedEntry> = f.other.iter().filter(|e| e.counter() > 1).collect();
        let e = candidates[a.index(candidates.len())];
        let p = b.index(f.entries.len() + 1);
        let mut bytes = f.bytes.clone();
        bytes.insert(p, e.bytes().to_vec());
        let fail = verify_log(&bytes).expect_err("spliced log verified");
        prop_assert_eq!(fail.index, p, "{:?}", fail);
        prop_assert_eq!(fail.chain.as_ref(), Some(e.chain()));
        prop_assert_eq!(fail.counter, Some(e.counter()));
        prop_assert!(
            matches!(fail.error, ChainError::BrokenLink { .. } | ChainError::KeyUnknown),
            "{:?}", fail
        );
    }

    /// Cutting an entry's bytes short anywhere is refused by the decoder.
    #[test]
    fn a_truncated_entry_is_refused(a in any::<prop::sample::Index>(), b in any::<prop::sample::Index>()) {
        let f = &*FIX;
        let i = a.index(f.bytes.len());
        let mut bytes = f.bytes.clone();
        let keep = b.index(bytes[i].len());
        bytes[i].truncate(keep);
        let fail = verify_log(&bytes).expect_err("truncated entry verified");
        prop_assert_eq!(fail.index, i);
        prop_assert!(fail.chain.is_none());
        prop_assert!(matches!(fail.error, ChainError::Undecodable(_)));
    }

    /// A log cut short verifies as a prefix, but its heads fall short of the
    /// published ones, naming the first missing counter of each chain.
    #[test]
    fn a_truncated_log_falls_short_of_the_published_heads(k in any::<prop::sample::Index>()) {
        let f = &*FIX;
        let k = k.index(f.entries.len());
        let ver = verify_log(&f.bytes[..k]).expect("a prefix is a valid log");
        let got = heads(&ver);
        let published = heads_of(&f.entries);
        prop_assert_eq!(&got, &heads_of(&f.entries[..k]));
        for (chain, (counter, _)) in &published {
            let cut: Vec<&SignedEntry> = f.entries[k..].iter().filter(|e| e.chain() == chain).collect();
            if let Some(first_missing) = cut.first() {
                prop_assert_ne!(got.get(chain), Some(&published[chain]));
                let reached = got.get(chain).map_or(0, |h| h.0);
                prop_assert_eq!(reached, first_missing.header().prev_counter);
                prop_assert_eq!(reached + 1, first_missing.counter());
            } else {
                prop_assert_eq!(got.get(chain).map(|h| h.0), Some(*counter));
            }
        }
    }
}

/// A tampered log as entries (every tampering here keeps each entry decodable).
fn tampered(kind: u8, a: usize, b: usize) -> Vec<SignedEntry> {
    let f = &*FIX;
    let n = f.entries.len();
    let mut v = f.entries.clone();
    match kind % 5 {
        0 => {
            v.remove(a % n);
        }
        1 => v.swap(a % n, b % n),
        2 => {
            let i = a % n;
            let at = (b % (n - i)) + i + 1;
            v.insert(at, f.entries[i].clone());
        }
        3 => v.insert(b % (n + 1), f.other[a % f.other.len()].clone()),
        _ => v.truncate(a % n),
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// `check_batch` (a whole batch judged before anything is applied) names
    /// the same entry and reason as ingesting one entry at a time, whatever
    /// part of the log was applied before the batch.
    #[test]
    fn a_batch_check_names_the_same_entry_as_sequential_ingest(
        kind in 0u8..5, a in any::<usize>(), b in any::<usize>(), split in any::<prop::sample::Index>(),
    ) {
        let f = &*FIX;
        let log = tampered(kind, a, b);
        let bytes: Vec<Vec<u8>> = log.iter().map(|e| e.bytes().to_vec()).collect();
        let sequential = verify_log(&bytes);
        let fail_at = sequential.as_ref().err().map_or(log.len(), |x| x.index);
        // Apply an untouched prefix one by one, then check the rest as a batch.
        let k = split.index(fail_at + 1);
        let mut ver = LedgerVerifier::new(f.regulator_key, vec![f.root_key], View::Corrected);
        for e in &log[..k] {
            ver.ingest(Arc::new(e.clone()), None).unwrap();
        }
        let rest: Vec<Arc<SignedEntry>> = log[k..].iter().cloned().map(Arc::new).collect();
        let before = heads(&ver);
        let batch = ver.check_batch(&rest, &vec![false; rest.len()]);
        prop_assert_eq!(heads(&ver), before, "check_batch changed the verifier");
        match (&sequential, batch) {
            (Ok(seq), Ok(checked)) => {
                // Applied as checked (no second check): the same state and
                // the same findings as ingesting one entry at a time.
                let prefix = ver.engine().findings().len();
                let found = ver.apply_checked(checked, &rest, |_| None).unwrap();
                prop_assert_eq!(found.concat(), ver.engine().findings()[prefix..].to_vec());
                prop_assert_eq!(ver.engine().findings(), seq.engine().findings());
                prop_assert_eq!(heads(&ver), heads(seq));
                prop_assert_eq!(ver.state_digest().unwrap(), seq.state_digest().unwrap());
            }
            (Err(x), Err((i, err))) => {
                prop_assert_eq!(k + i, x.index);
                prop_assert_eq!(&err, &x.error);
            }
            (s, b) => prop_assert!(false, "sequential {:?} but batch {:?}", s.as_ref().err(), b),
        }
    }
}

/// The batch path the server takes (`check_batch`, then `apply_checked`):
/// a batch with a broken link is refused whole, a good one is applied, and
/// a checked batch is not applied to a verifier that moved since.
#[test]
fn a_checked_batch_is_applied_once_and_a_broken_link_refuses_the_batch() {
    let f = &*FIX;
    let all: Vec<Arc<SignedEntry>> = f.entries.iter().cloned().map(Arc::new).collect();
    // A site entry past the middle with a later entry on its chain.
    let k = (all.len() / 2..all.len())
        .find(|&i| {
            matches!(all[i].chain(), ChainId::Site(_)) && next_on_chain(&f.entries, i).is_some()
        })
        .unwrap();
    let mut ver = LedgerVerifier::new(f.regulator_key, vec![f.root_key], View::Corrected);
    for e in &all[..k] {
        ver.ingest(e.clone(), None).unwrap();
    }
    let rest = &all[k..];
    let sigs = vec![false; rest.len()];
    // Firing: the batch's first entry dropped, so the next entry of its
    // chain links to an entry the verifier does not have.
    let j = next_on_chain(&f.entries, k).unwrap();
    let broken = rest[1..].to_vec();
    let before = ver.state_digest().unwrap();
    let (at, err) = ver.check_batch(&broken, &sigs[1..]).unwrap_err();
    assert_eq!(at, j - k - 1);
    assert!(matches!(err, ChainError::BrokenLink { .. }), "{err:?}");
    assert_eq!(
        ver.state_digest().unwrap(),
        before,
        "nothing of the batch applied"
    );
    // Quiet: the untouched rest is checked and applied, to the same state as
    // a sequential ingest of the whole log.
    let checked = ver.check_batch(rest, &sigs).unwrap();
    let stale = ver.check_batch(rest, &sigs).unwrap();
    ver.apply_checked(checked, rest, |_| None).unwrap();
    let seq = verify_log(&f.bytes).unwrap();
    assert_eq!(ver.state_digest().unwrap(), seq.state_digest().unwrap());
    assert_eq!(ver.engine().findings(), seq.engine().findings());
    // The same verdicts once more, after the verifier moved: refused.
    let (i, err) = ver.apply_checked(stale, rest, |_| None).unwrap_err();
    assert_eq!(i, 0);
    assert!(matches!(err, ChainError::BrokenLink { .. }), "{err:?}");
    assert_eq!(ver.state_digest().unwrap(), seq.state_digest().unwrap());
    // Verdicts for other entries than the ones given: refused.
    let other = ver.check_batch(&[], &[]).unwrap();
    assert!(ver.apply_checked(other, rest, |_| None).is_err());
}

#[test]
fn substituting_an_entry_signed_by_the_same_key_is_caught_and_proves_equivocation() {
    // The two ledgers share keys but not history; their first site entries
    // both link to nothing, so the substitute passes at its own position and
    // the next entry of the chain refuses it. The pair is an equivocation.
    let f = &*FIX;
    let north = ChainId::Site(v("north"));
    let i = f.entries.iter().position(|e| e.chain() == &north).unwrap();
    let sub = f
        .other
        .iter()
        .find(|e| e.chain() == &north && e.counter() == 1)
        .unwrap();
    assert_ne!(sub.hash(), f.entries[i].hash());
    let mut bytes = f.bytes.clone();
    bytes[i] = sub.bytes().to_vec();
    let fail = verify_log(&bytes).expect_err("substituted log verified");
    let next = next_on_chain(&f.entries, i).unwrap();
    assert_eq!(fail.index, next);
    assert_eq!(fail.chain, Some(north.clone()));
    assert_eq!(fail.counter, Some(2));
    assert_eq!(
        fail.error,
        ChainError::BrokenLink {
            expected: sub.hash(),
            found: f.entries[i].hash()
        }
    );
    let key = f.scenario.sites[&v("north")].public_key();
    let proof = Equivocation {
        public_key: key,
        a: SignedHeader::from(&f.entries[i]),
        b: SignedHeader::from(sub),
    };
    assert_eq!(proof.verify(), Ok(()));
    assert_eq!(proof.counter(), 1);
}

// ---------------------------------------------------------------------------
// Equivocation proofs
// ---------------------------------------------------------------------------

fn body(officer: &str, text: &str, about: Hash) -> EntryBody {
    EntryBody {
        format: Default::default(),
        occurred_at: armsledger_core::testkit::T0,
        officer: v(officer),
        links: vec![],
        event: Event::Site(SiteEvent::Annotated {
            about,
            text: note(text),
        }),
    }
}

/// Two different entries signed by one key at one counter (a cloned device).
fn fork() -> (Scenario, SignedEntry, SignedEntry) {
    let mut s = Scenario::standard();
    s.acquire("north", "AB-1");
    let about = s.log[0].hash();
    let signer = s.sites[&v("north")].clone();
    let a = body("armourer-1", "first", about);
    let b = body("armourer-1", "second", about);
    let ha = signer.next_header(a.hash().unwrap(), s.now, 0);
    let hb = signer.next_header(b.hash().unwrap(), s.now.plus(Timestamp::SECOND), 0);
    let ea = SignedEntry::assemble(ha.clone(), ha.sign(signer.signing_key()).unwrap(), a).unwrap();
    let eb = SignedEntry::assemble(hb.clone(), hb.sign(signer.signing_key()).unwrap(), b).unwrap();
    (s, ea, eb)
}

#[test]
fn a_fork_yields_an_equivocation_that_verifies_on_its_own() {
    let (s, ea, eb) = fork();
    assert_eq!(ea.counter(), eb.counter());
    assert_ne!(ea.hash(), eb.hash());
    let key = s.sites[&v("north")].public_key();
    // Both are validly signed by the enrolled key...
    assert!(ea.verify_signature(&key).is_ok());
    assert!(eb.verify_signature(&key).is_ok());
    // ...and a verifier accepts the first and refuses the second.
    let mut ver = common::verify(&s, View::Corrected);
    ver.ingest(Arc::new(ea.clone()), None).unwrap();
    let err = ver.ingest(Arc::new(eb.clone()), None).unwrap_err();
    assert_eq!(
        err,
        ChainError::BrokenLink {
            expected: ea.hash(),
            found: eb.header().prev_hash
        }
    );

    let proof = Equivocation {
        public_key: key,
        a: (&ea).into(),
        b: (&eb).into(),
    };
    assert_eq!(proof.verify(), Ok(()));
    assert_eq!(proof.counter(), ea.counter());
    // It needs nothing else: it survives a trip through JSON and still holds.
    let json = serde_json::to_string(&proof).unwrap();
    let back: Equivocation = serde_json::from_str(&json).unwrap();
    assert_eq!(back, proof);
    assert_eq!(back.verify(), Ok(()));
    // Order does not matter.
    let swapped = Equivocation {
        public_key: key,
        a: proof.b.clone(),
        b: proof.a.clone(),
    };
    assert_eq!(swapped.verify(), Ok(()));
}

#[test]
fn a_non_fork_pair_is_refused_as_equivocation() {
    let (s, ea, eb) = fork();
    let key = s.sites[&v("north")].public_key();
    let proof = |a: SignedHeader, b: SignedHeader, k: [u8; 32]| Equivocation {
        public_key: k,
        a,
        b,
    };
    let (ha, hb) = (SignedHeader::from(&ea), SignedHeader::from(&eb));

    // The same statement twice.
    assert_eq!(
        proof(ha.clone(), ha.clone(), key).verify(),
        Err(EquivocationError::Identical)
    );
    // Two honest consecutive entries: different counters.
    let (x, y) = (&s.log[0], &s.log[1]);
    assert_eq!(x.chain(), y.chain());
    assert_eq!(y.counter(), x.counter() + 1);
    assert_eq!(
        proof(x.as_ref().into(), y.as_ref().into(), s.regulator_key()).verify(),
        Err(EquivocationError::NotSameSlot)
    );
    // Same counter on different chains (north's and the regulator's #1).
    let reg1 = s
        .log
        .iter()
        .find(|e| e.chain() == &ChainId::Regulator)
        .unwrap();
    let north1 = s
        .log
        .iter()
        .find(|e| e.chain() == &ChainId::Site(v("north")))
        .unwrap();
    assert_eq!(reg1.counter(), north1.counter());
    assert_eq!(
        proof(reg1.as_ref().into(), north1.as_ref().into(), key).verify(),
        Err(EquivocationError::NotSameSlot)
    );
    // Another key epoch is another slot.
    let mut other_epoch = hb.clone();
    other_epoch.header.key_epoch += 1;
    other_epoch.signature = other_epoch
        .header
        .sign(s.sites[&v("north")].signing_key())
        .unwrap();
    assert_eq!(
        proof(ha.clone(), other_epoch, key).verify(),
        Err(EquivocationError::NotSameSlot)
    );
    // A forged or mismatched signature.
    let mut forged = hb.clone();
    forged.signature.0[5] ^= 1;
    assert_eq!(
        proof(ha.clone(), forged, key).verify(),
        Err(EquivocationError::BadSignature)
    );
    let mut swapped_sig = hb.clone();
    swapped_sig.signature = ha.signature;
    assert_eq!(
        proof(ha.clone(), swapped_sig, key).verify(),
        Err(EquivocationError::BadSignature)
    );
    // The right pair against the wrong key.
    let regulator_key = s.regulator_key();
    assert_eq!(
        proof(ha.clone(), hb.clone(), regulator_key).verify(),
        Err(EquivocationError::BadSignature)
    );
    // A second header signed by a different key claiming the same slot.
    let mut impostor = hb.clone();
    impostor.signature = impostor.header.sign(s.regulator.signing_key()).unwrap();
    assert_eq!(
        proof(ha, impostor, key).verify(),
        Err(EquivocationError::BadSignature)
    );
}
