//! An independent, naive RFC 6962 tree (§2.1), used as the oracle for the
//! log's maths and the store's tiles and proofs. It deliberately shares no
//! code with the crates it checks (only the log's `Hash` type).

use armsledger_log::Hash;
use sha2::{Digest as _, Sha256};

/// The leaf hash `SHA-256(0x00 ‖ data)`.
pub fn leaf(data: &[u8]) -> Hash {
    Hash(
        Sha256::new()
            .chain_update([0u8])
            .chain_update(data)
            .finalize()
            .into(),
    )
}

/// The interior node hash `SHA-256(0x01 ‖ l ‖ r)`.
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
    match d {
        [] => Hash(Sha256::digest(b"").into()),
        [one] => *one,
        _ => {
            let (l, r) = d.split_at(split(d.len()));
            node(&mth(l), &mth(r))
        }
    }
}

/// PATH(m, D[n]), RFC 6962 §2.1.1: the inclusion proof of leaf `m`.
pub fn path(m: usize, d: &[Hash]) -> Vec<Hash> {
    if d.len() <= 1 {
        return vec![];
    }
    let (l, r) = d.split_at(split(d.len()));
    if m < l.len() {
        let mut p = path(m, l);
        p.push(mth(r));
        p
    } else {
        let mut p = path(m - l.len(), r);
        p.push(mth(l));
        p
    }
}

/// PROOF(m, D[n]), RFC 6962 §2.1.2: the consistency proof from size `m`
/// (empty for m = 0 and m = n).
pub fn consistency(m: usize, d: &[Hash]) -> Vec<Hash> {
    fn sub(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
        if m == d.len() {
            return if b { vec![] } else { vec![mth(d)] };
        }
        let (l, r) = d.split_at(split(d.len()));
        if m <= l.len() {
            let mut p = sub(m, l, b);
            p.push(mth(r));
            p
        } else {
            let mut p = sub(m - l.len(), r, false);
            p.push(mth(l));
            p
        }
    }
    if m == 0 || m == d.len() {
        return vec![];
    }
    sub(m, d, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_empty_tree_and_a_tree_of_seven() {
        assert_eq!(
            mth(&[]).to_string(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let d: Vec<Hash> = (0u8..7).map(|i| leaf(&[i])).collect();
        assert_eq!(mth(&d[..1]), d[0]);
        assert_eq!(mth(&d[..2]), node(&d[0], &d[1]));
        assert_eq!(path(0, &d).len(), 3);
        assert_eq!(path(6, &d), vec![node(&d[4], &d[5]), mth(&d[..4])]);
        assert_eq!(consistency(3, &d).len(), 4);
        assert!(consistency(0, &d).is_empty() && consistency(7, &d).is_empty());
    }
}
