//! The reference RFC 6962 tree (from armsledger-testsupport, shared with the
//! store's tests), and helpers over it for this crate's tests.

use armsledger_log::Hash;
pub use armsledger_testsupport::rfc6962::{consistency, leaf, mth, path};

/// Leaf hashes of `n` distinct entries, and the stored hashes of that tree.
pub fn tree(n: u64) -> (Vec<Hash>, Vec<Hash>) {
    let mut frontier = armsledger_log::Frontier::new();
    let mut stored = Vec::new();
    let mut leaves = Vec::new();
    for i in 0..n {
        let l = leaf(format!("entry {i}").as_bytes());
        leaves.push(l);
        stored.extend(frontier.append(l).unwrap().hashes);
    }
    (leaves, stored)
}

pub fn hex(s: &str) -> Hash {
    s.parse().unwrap()
}
