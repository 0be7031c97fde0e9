//! Property tests over sampled tree sizes up to 2000: every proof of the
//! sampled tree verifies, and a sampled proof fails under every tampering.

use armsledger_log::{
    Frontier, Hash, LogError, LogKey, LogVerifier, Tile, TileKind, TlogProof, decode_entry_bundle,
    encode_entry_bundle, open_checkpoint, prove_consistency, prove_inclusion, tree_root,
    verify_consistency, verify_inclusion,
};
use proptest::prelude::*;

use crate::reference::{leaf, mth, tree};

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 40,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn frontier_root_is_the_naive_root(size in 0u64..2000, salt in any::<u8>()) {
        let leaves: Vec<Hash> = (0..size).map(|i| leaf(&[&i.to_le_bytes()[..], &[salt]].concat())).collect();
        let mut f = Frontier::new();
        for l in &leaves {
            f.append(*l).unwrap();
        }
        prop_assert_eq!(f.root(), mth(&leaves));
        prop_assert_eq!(Frontier::from_bytes(&f.to_bytes()).unwrap(), f);
    }

    #[test]
    fn inclusion_proofs_verify_and_tampering_fails(
        size in 1u64..2000,
        index_seed in any::<u64>(),
        other_size_seed in any::<u64>(),
        byte in 0usize..32,
    ) {
        let (leaves, stored) = tree(size);
        let root = |n: u64| mth(&leaves[..n as usize]);
        let full_root = root(size);
        prop_assert_eq!(tree_root(&stored, size).unwrap(), full_root);
        // Every leaf's proof verifies.
        for (i, leaf) in leaves.iter().enumerate() {
            let p = prove_inclusion(&stored, i as u64, size).unwrap();
            prop_assert!(verify_inclusion(leaf, i as u64, size, &p, &full_root).is_ok());
        }
        // Then one sampled leaf is attacked every way.
        let index = index_seed % size;
        let l = leaves[index as usize];
        let p = prove_inclusion(&stored, index, size).unwrap();
        verify_inclusion(&l, index, size, &p, &root(size)).unwrap();

        // Any flipped bit in any proof hash.
        for i in 0..p.len() {
            let mut bad = p.clone();
            bad[i].0[byte] ^= 1 << (index_seed % 8);
            prop_assert!(verify_inclusion(&l, index, size, &bad, &root(size)).is_err());
        }
        // Another leaf, or the right leaf at another index.
        let mut wrong_leaf = l;
        wrong_leaf.0[byte] ^= 1;
        prop_assert!(verify_inclusion(&wrong_leaf, index, size, &p, &root(size)).is_err());
        for other in [index.wrapping_sub(1), index + 1, index ^ 2] {
            if other != index {
                prop_assert!(verify_inclusion(&l, other, size, &p, &root(size)).is_err());
            }
        }
        // A proof for this size shown against a checkpoint of another size.
        let other_size = 1 + other_size_seed % 2000;
        if other_size != size && index < other_size {
            let (more, _) = tree(other_size);
            let r = mth(&more);
            prop_assert!(verify_inclusion(&l, index, other_size, &p, &r).is_err());
        }
        // Out-of-range index.
        prop_assert!(matches!(
            verify_inclusion(&l, size, size, &p, &root(size)),
            Err(LogError::IndexBeyondTree { .. })
        ), "index == size must be refused");
        prop_assert!(matches!(
            prove_inclusion(&stored, size, size),
            Err(LogError::IndexBeyondTree { .. })
        ), "index == size must be refused");
    }

    #[test]
    fn consistency_proofs_verify_and_tampering_fails(
        size in 1u64..2000,
        old_seed in any::<u64>(),
        other_seed in any::<u64>(),
        byte in 0usize..32,
    ) {
        let (leaves, stored) = tree(size);
        let root = |n: u64| mth(&leaves[..n as usize]);
        let new_root = root(size);
        // Every earlier size's proof verifies (old roots from the stored
        // hashes, which the cross tests pin to the naive roots).
        for old in 0..=size {
            let p = prove_consistency(&stored, old, size).unwrap();
            let old_root = tree_root(&stored, old).unwrap();
            prop_assert!(verify_consistency(old, size, &old_root, &new_root, &p).is_ok());
        }
        // Then one sampled old size is attacked every way.
        let old = old_seed % (size + 1);
        let p = prove_consistency(&stored, old, size).unwrap();
        verify_consistency(old, size, &root(old), &root(size), &p).unwrap();

        for i in 0..p.len() {
            let mut bad = p.clone();
            bad[i].0[byte] ^= 0x40;
            prop_assert!(verify_consistency(old, size, &root(old), &root(size), &bad).is_err());
        }
        // Roots swapped or altered.
        if old != size {
            prop_assert!(verify_consistency(old, size, &root(size), &root(old), &p).is_err());
        }
        let mut bad_root = root(size);
        bad_root.0[byte] ^= 1;
        if old > 0 {
            prop_assert!(verify_consistency(old, size, &root(old), &bad_root, &p).is_err());
        }
        // The proof presented for another old size (with that size's real root).
        // (Not an empty proof, from size 0, shown as `size` to itself: that
        // empty proof is the right one there.)
        for other in [old.wrapping_sub(1), old + 1] {
            if other != 0 && other <= size && other != old && !(other == size && p.is_empty()) {
                prop_assert!(verify_consistency(other, size, &root(other), &root(size), &p).is_err());
            }
        }
        // The proof presented against another new size's checkpoint.
        let other_new = other_seed % (size + 2);
        if old > 0 && other_new >= old && other_new != size && other_new <= size {
            prop_assert!(verify_consistency(old, other_new, &root(old), &root(other_new), &p).is_err());
        }
        // Logs do not shrink.
        if old < size {
            prop_assert!(matches!(
                verify_consistency(size, old, &root(size), &root(old), &p),
                Err(LogError::TreeShrank { .. })
            ), "old > new must be refused");
            prop_assert!(matches!(
                prove_consistency(&stored, size, old),
                Err(LogError::TreeShrank { .. })
            ), "old > new must be refused");
        }
    }
}

fn any_tile() -> impl Strategy<Value = Tile> {
    let kind = prop_oneof![
        (0u8..=63).prop_map(TileKind::Hashes),
        Just(TileKind::Entries)
    ];
    let index = prop_oneof![0u64..3000, any::<u64>()];
    (kind, index, 1u16..=256).prop_map(|(k, i, w)| Tile::new(k, i, w).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn tile_paths_round_trip(tile in any_tile()) {
        prop_assert_eq!(Tile::from_path(&tile.path()).unwrap(), tile);
    }

    #[test]
    fn entry_bundles_round_trip(entries in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 1..=256)) {
        let bundle = encode_entry_bundle(&entries).unwrap();
        let width = u16::try_from(entries.len()).unwrap();
        let decoded = decode_entry_bundle(&bundle, width).unwrap();
        prop_assert_eq!(decoded.len(), entries.len());
        for (d, e) in decoded.iter().zip(&entries) {
            prop_assert_eq!(*d, e.as_slice());
        }
    }

    /// Decoders refuse garbage with an error, never a panic.
    #[test]
    fn decoders_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600), width in 0u16..300) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = Tile::from_path(&text);
        let _ = Tile::from_path(&format!("tile/{text}"));
        let _ = decode_entry_bundle(&bytes, width);
        let _ = TlogProof::decode(&bytes);
        let _ = TlogProof::decode(format!("c2sp.org/tlog-proof@v1\nindex 1\n{text}").as_bytes());
        let _ = Frontier::from_bytes(&bytes);
        let _ = Hash::from_base64(&text);
        let _ = text.parse::<Hash>();
        let _ = LogVerifier::from_vkey(&text);
        let _ = LogKey::from_signer_key(&text);
        let key = LogKey::from_seed("ledger.example/fuzz", &[5; 32]).unwrap();
        let _ = open_checkpoint(&bytes, &key.verifier(), "ledger.example/fuzz");
        let signed = key.sign_checkpoint(3, &Hash::default()).unwrap();
        let mut note = signed.note().as_bytes().to_vec();
        if !bytes.is_empty() {
            let at = usize::from(bytes[0]) % note.len();
            note[at] ^= bytes[bytes.len() - 1] | 1;
        }
        prop_assert!(open_checkpoint(&note, &key.verifier(), "ledger.example/fuzz").is_err() || bytes.is_empty());
    }
}
