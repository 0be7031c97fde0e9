//! The reference: a sparse Merkle tree's root computed the slow, obvious
//! way from the full list of leaves.

use std::collections::BTreeMap;

use armsledger_core::hash::Hash;
use armsledger_index::MapKey;
use armsledger_index::node::{EMPTY, leaf_hash, node_hash};

/// Root of the leaves (key → value hash): empty is zero, one leaf is its
/// leaf hash, more split on the bit at `depth`.
pub fn root(leaves: &BTreeMap<MapKey, Hash>) -> Hash {
    let all: Vec<(MapKey, Hash)> = leaves.iter().map(|(k, v)| (*k, *v)).collect();
    subtree(&all, 0)
}

fn subtree(leaves: &[(MapKey, Hash)], depth: usize) -> Hash {
    match leaves {
        [] => EMPTY,
        [(k, v)] => leaf_hash(k, v),
        _ => {
            let (l, r): (Vec<_>, Vec<_>) = leaves.iter().partition(|(k, _)| !k.bit(depth));
            node_hash(&subtree(&l, depth + 1), &subtree(&r, depth + 1))
        }
    }
}
