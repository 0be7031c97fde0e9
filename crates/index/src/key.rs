//! Map keys: where each subject lives in the map. A key is a domain-separated
//! SHA-256, so keys spread evenly whatever the serials look like, and a
//! serial is found from what the police type (normalised) without knowing
//! the maker or the firearm id.

use armsledger_core::entry::ChainId;
use armsledger_core::hash::Hash;
use armsledger_core::model::{FirearmId, LotId, normalise};

/// Domain tags of the key derivations (docs/log.md, "Map keys").
pub mod tag {
    /// A chain's leaf: `SHA-256(CHAIN ‖ chain label)`.
    pub const CHAIN: &[u8] = b"armsledger:map-key:chain:v1\0";
    /// A serial's leaf: `SHA-256(SERIAL ‖ normalised serial)`.
    pub const SERIAL: &[u8] = b"armsledger:map-key:serial:v1\0";
    /// A lot's leaf: `SHA-256(LOT ‖ lot id)`.
    pub const LOT: &[u8] = b"armsledger:map-key:lot:v1\0";
    /// A firearm recorded before any entry gave its serial: `SHA-256(FIREARM ‖ firearm id)`.
    pub const FIREARM: &[u8] = b"armsledger:map-key:firearm:v1\0";
}

/// A position in the map: 256 bits, most significant bit of byte 0 first.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MapKey(pub [u8; 32]);

impl MapKey {
    /// The leaf of a chain (a site's or the regulator's).
    pub fn chain(chain: &ChainId) -> MapKey {
        MapKey(Hash::of(&[tag::CHAIN, chain_label(chain).as_bytes()]).0)
    }

    /// The leaf of the chain known by `label` in the map (`regulator` or
    /// `site:<site id>`, see [`chain_label`]).
    pub fn chain_labelled(label: &str) -> MapKey {
        MapKey(Hash::of(&[tag::CHAIN, label.as_bytes()]).0)
    }

    /// The leaf of every firearm whose serial normalises to `normalise(serial)`.
    pub fn serial(serial: &str) -> MapKey {
        MapKey(Hash::of(&[tag::SERIAL, normalise(serial).as_bytes()]).0)
    }

    /// The leaf of an ammunition lot (one record per site chain holding it).
    pub fn lot(lot: &LotId) -> MapKey {
        MapKey(Hash::of(&[tag::LOT, &lot.0]).0)
    }

    /// The leaf of a firearm no entry has given a serial for yet.
    pub fn firearm(firearm: &FirearmId) -> MapKey {
        MapKey(Hash::of(&[tag::FIREARM, &firearm.0]).0)
    }

    /// Bit `i` (0 = the most significant bit of byte 0); 0 goes left.
    pub fn bit(&self, i: usize) -> bool {
        bit(&self.0, i)
    }
}

impl core::fmt::Display for MapKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl core::fmt::Debug for MapKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "MapKey({self})")
    }
}

/// The text a chain is known by in the map: `regulator` or `site:<site id>`
/// (its `Display` form, which the CLI and the API show too).
pub fn chain_label(chain: &ChainId) -> String {
    chain.to_string()
}

/// Bit `i` of 32 bytes, most significant first; bits past 255 read as 0.
pub(crate) fn bit(bytes: &[u8; 32], i: usize) -> bool {
    bytes
        .get(i / 8)
        .is_some_and(|b| (b >> (7 - (i % 8))) & 1 == 1)
}

/// How many leading bits `a` and `b` share (256 when equal).
pub(crate) fn common_prefix(a: &[u8; 32], b: &[u8; 32]) -> usize {
    for (i, (x, y)) in a.iter().zip(b.iter()).enumerate() {
        let d = x ^ y;
        if d != 0 {
            return i * 8 + d.leading_zeros() as usize;
        }
    }
    256
}

/// `bytes` with every bit from `depth` on cleared.
pub(crate) fn prefix(bytes: &[u8; 32], depth: usize) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, (o, b)) in out.iter_mut().zip(bytes.iter()).enumerate() {
        let start = i * 8;
        if start + 8 <= depth {
            *o = *b;
        } else if start < depth {
            let keep = depth - start;
            *o = b & (0xffu8 << (8 - keep));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_serial_is_found_however_it_is_typed() {
        assert_eq!(MapKey::serial("ab-12 345"), MapKey::serial("AB12345"));
        assert_ne!(MapKey::serial("AB12345"), MapKey::serial("AB12346"));
    }

    #[test]
    fn the_domains_do_not_meet() {
        let id = [7u8; 16];
        assert_ne!(MapKey::lot(&LotId(id)), MapKey::firearm(&FirearmId(id)));
    }

    #[test]
    fn bits_and_prefixes() {
        let mut k = [0u8; 32];
        k[0] = 0b1010_0000;
        assert!(bit(&k, 0));
        assert!(!bit(&k, 1));
        assert!(bit(&k, 2));
        assert!(!bit(&k, 300));
        assert_eq!(common_prefix(&k, &[0u8; 32]), 0);
        assert_eq!(common_prefix(&k, &k), 256);
        let mut j = k;
        j[0] = 0b1011_0000;
        assert_eq!(common_prefix(&k, &j), 3);
        assert_eq!(prefix(&j, 3)[0], 0b1010_0000);
        assert_eq!(prefix(&j, 0), [0u8; 32]);
        assert_eq!(prefix(&j, 256), j);
    }
}
