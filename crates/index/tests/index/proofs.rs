//! Proofs under attack: a forged absence proof for a recorded serial, a
//! proof moved to another key, a changed value, and hostile bytes.

use std::sync::OnceLock;

use armsledger_core::hash::Hash;
use armsledger_index::node::EMPTY;
use armsledger_index::proof::{MAX_PROOF_BYTES, Terminal};
use armsledger_index::{Answer, MapError, MapKey, Proof, lookup, prove, root_hash};
use proptest::prelude::*;

use crate::entries::{World, build};

fn world() -> World {
    let mut w = World::new();
    for (i, s) in ["AB-100", "CZ 7", "Q1", "Q-2", "x/9"].iter().enumerate() {
        w.acquire(i % 2, s, 0);
    }
    w
}

#[test]
fn an_absence_proof_for_a_never_recorded_serial_verifies() {
    let w = world();
    let store = build(&w.s.log, &[5]);
    let root = root_hash(&store).unwrap();
    let key = MapKey::serial("NEVER-1");
    let proof = Proof::decode(&prove(&store, &key).unwrap().encode()).unwrap();
    assert_eq!(proof.verify(&root, &key).unwrap(), Answer::Absent);
}

#[test]
fn a_forged_absence_proof_for_a_recorded_serial_fails() {
    let w = world();
    let store = build(&w.s.log, &[5]);
    let root = root_hash(&store).unwrap();
    let key = MapKey::serial("CZ7");
    let honest = prove(&store, &key).unwrap();
    assert!(matches!(
        honest.verify(&root, &key).unwrap(),
        Answer::Present(_)
    ));

    // 1. The honest path, but an empty subtree where the leaf is.
    let mut bytes = honest.encode();
    let cut = bytes.len() - 65;
    bytes.truncate(cut);
    bytes.push(0);
    let forged = Proof::decode(&bytes).unwrap();
    assert!(matches!(
        forged.verify(&root, &key),
        Err(MapError::RootMismatch { .. })
    ));

    // 2. Another recorded serial's leaf in its place, claiming the key is absent.
    let other = lookup(&store, &MapKey::serial("Q1")).unwrap();
    let other_leaf = other.1.encode();
    let mut bytes = honest.encode();
    bytes.truncate(cut);
    bytes.extend_from_slice(&other_leaf[other_leaf.len() - 65..]);
    let forged = Proof::decode(&bytes).unwrap();
    assert!(
        forged.verify(&root, &key).is_err(),
        "a leaf off the path or a wrong root"
    );

    // 3. Every recorded key's proof, shown for the recorded serial.
    for probe in ["AB100", "Q1", "Q2", "X9", "NEVER-2"] {
        let p = prove(&store, &MapKey::serial(probe)).unwrap();
        assert!(
            !matches!(p.verify(&root, &key), Ok(Answer::Absent)),
            "the proof of {probe} must not show CZ7 absent"
        );
    }

    // 4. An absence proof that verified under an older root fails today.
    let mut early = World::new();
    early.acquire(0, "Q1", 0);
    let old = build(&early.s.log, &[5]);
    let stale = prove(&old, &key).unwrap();
    assert_eq!(
        stale.verify(&root_hash(&old).unwrap(), &key).unwrap(),
        Answer::Absent
    );
    assert!(stale.verify(&root, &key).is_err());
}

#[test]
fn a_value_that_is_not_the_leafs_fails() {
    let w = world();
    let store = build(&w.s.log, &[5]);
    let root = root_hash(&store).unwrap();
    let key = MapKey::serial("Q1");
    let (value, proof) = lookup(&store, &key).unwrap();
    let mut value = value.unwrap();
    let mut rec = value.records()[0].clone();
    rec.log_index -= 1;
    value.put(rec).unwrap();
    assert!(matches!(
        proof.verify_value(&root, &key, Some(&value.encode())),
        Err(MapError::ValueMismatch { .. })
    ));
    assert!(matches!(
        proof.verify_value(&root, &key, None),
        Err(MapError::ValueMismatch { .. })
    ));
    // And a value shown with an absence proof.
    let absent = prove(&store, &MapKey::serial("NEVER-3")).unwrap();
    assert!(
        absent
            .verify_value(&root, &MapKey::serial("NEVER-3"), Some(&value.encode()))
            .is_err()
    );
}

#[test]
fn non_canonical_proofs_are_refused() {
    let w = world();
    let store = build(&w.s.log, &[5]);
    let p = prove(&store, &MapKey::serial("Q1")).unwrap();
    let good = p.encode();
    assert!(p.depth() > 0);
    for cut in 0..good.len() {
        assert!(Proof::decode(&good[..cut]).is_err(), "truncated at {cut}");
    }
    let mut trailing = good.clone();
    trailing.push(0);
    assert!(Proof::decode(&trailing).is_err());
    // Depth over 256.
    assert!(matches!(
        Proof::decode(&[1, 1, 1, 0]),
        Err(MapError::BadProof {
            why: "deeper than 256 levels"
        })
    ));
    // Padding bits set: depth 1, bitmap 0b0100_0000.
    assert!(Proof::decode(&[1, 0, 1, 0x40, 0]).is_err());
    // An empty sibling written out: depth 1, bit set, 32 zero bytes.
    let mut zero = vec![1, 0, 1, 0x80];
    zero.extend_from_slice(&EMPTY.0);
    zero.push(0);
    assert!(Proof::decode(&zero).is_err());
    // Unknown version and terminal.
    assert!(Proof::decode(&[2, 0, 0, 0]).is_err());
    assert!(Proof::decode(&[1, 0, 0, 2]).is_err());
    assert!(matches!(
        Proof::decode(&vec![1u8; MAX_PROOF_BYTES + 1]),
        Err(MapError::TooLarge { .. })
    ));
    // The quiet case: the canonical empty-map proof.
    let empty = Proof::decode(&[1, 0, 0, 0]).unwrap();
    assert_eq!(empty.terminal(), &Terminal::Empty);
    assert_eq!(
        empty.verify(&EMPTY, &MapKey([0; 32])).unwrap(),
        Answer::Absent
    );
}

proptest! {
    #[test]
    fn hostile_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(p) = Proof::decode(&bytes) {
            prop_assert_eq!(&p.encode(), &bytes);
            let _ = p.verify(&EMPTY, &MapKey([7; 32]));
        }
        let _ = armsledger_index::LeafValue::decode(&bytes);
    }

    #[test]
    fn a_flipped_bit_in_a_proof_never_verifies(at in any::<prop::sample::Index>(), bit in 0u8..8) {
        static HONEST: OnceLock<(Hash, Vec<u8>)> = OnceLock::new();
        let (root, honest) = HONEST.get_or_init(|| {
            let store = build(&world().s.log, &[5]);
            (root_hash(&store).unwrap(), prove(&store, &MapKey::serial("Q1")).unwrap().encode())
        });
        let (root, key) = (*root, MapKey::serial("Q1"));
        let mut bytes = honest.clone();
        let i = at.index(bytes.len());
        bytes[i] ^= 1 << bit;
        if let Ok(p) = Proof::decode(&bytes) {
            prop_assert!(p.verify(&root, &key).is_err());
        }
    }
}
