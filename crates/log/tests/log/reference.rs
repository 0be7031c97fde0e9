//! Independent, naive implementations straight from RFC 6962 §2.1, used as
//! oracles. Deliberately share no code with the crate.

use armsledger_log::Hash;
use sha2::{Digest as _, Sha256};

pub fn leaf(data: &[u8]) -> Hash {
    Hash(
        Sha256::new()
            .chain_update([0u8])
            .chain_update(data)
            .finalize()
            .into(),
    )
}

pub fn node(l: &Hash, r: &Hash) -> Hash {
    Hash(
        Sha256::new()
            .chain_update([1u8])
            .chain_update(l.0)
            .chain_update(r.0)
            .finalize()
            .into(),
    )
}

/// Largest power of two strictly below n (n >= 2).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// MTH(D[n]) over leaf hashes.
pub fn mth(d: &[Hash]) -> Hash {
    match d.len() {
        0 => Hash(Sha256::digest(b"").into()),
        1 => d[0],
        n => {
            let k = split(n);
            node(&mth(&d[..k]), &mth(&d[k..]))
        }
    }
}

/// PATH(m, D[n]), RFC 6962 §2.1.1.
pub fn path(m: usize, d: &[Hash]) -> Vec<Hash> {
    let n = d.len();
    if n <= 1 {
        return vec![];
    }
    let k = split(n);
    if m < k {
        let mut p = path(m, &d[..k]);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = path(m - k, &d[k..]);
        p.push(mth(&d[..k]));
        p
    }
}

/// PROOF(m, D[n]), RFC 6962 §2.1.2, for 0 < m < n.
pub fn proof(m: usize, d: &[Hash]) -> Vec<Hash> {
    subproof(m, d, true)
}

fn subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
    let n = d.len();
    if m == n {
        return if b { vec![] } else { vec![mth(d)] };
    }
    let k = split(n);
    if m <= k {
        let mut p = subproof(m, &d[..k], b);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = subproof(m - k, &d[k..], false);
        p.push(mth(&d[..k]));
        p
    }
}

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
