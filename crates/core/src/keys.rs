//! Which key may sign which chain at which counter, as the regulator chain
//! says. Enrolment, retirement and revocation are all counter-based, so the
//! verdict for an entry does not depend on when anyone looked at it.

use std::collections::BTreeMap;

use crate::chain::ChainError;
use crate::entry::{ChainId, EntryHeader};
use crate::event::RegulatorEvent;
use crate::ids::{DeviceId, SiteId};

/// One enrolled site key and its validity window in counters.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KeyRecord {
    /// The site whose chain it signs.
    pub site: SiteId,
    /// The device holding it.
    pub device: DeviceId,
    /// Key epoch on the device.
    pub key_epoch: u32,
    /// The public key.
    pub public_key: [u8; 32],
    /// First counter it may sign.
    pub counter_start: u64,
    /// Last counter it signed before retiring, once retired.
    pub retired_at: Option<u64>,
    /// Last counter that stays valid, once revoked.
    pub revoked_after: Option<u64>,
}

impl KeyRecord {
    /// The key's status as a word, for reports.
    pub fn status(&self) -> &'static str {
        match (self.revoked_after, self.retired_at) {
            (Some(_), _) => "revoked",
            (None, Some(_)) => "retired",
            (None, None) => "active",
        }
    }
}

/// A registry key, `(site, device, key epoch)`, owned or borrowed: the map
/// is searched with a borrowed one, ordered exactly as the owned tuple.
trait KeyRef<'a> {
    fn parts(&self) -> (&str, &str, u32);
}

impl KeyRef<'_> for (SiteId, DeviceId, u32) {
    fn parts(&self) -> (&str, &str, u32) {
        (self.0.as_str(), self.1.as_str(), self.2)
    }
}

impl<'a> KeyRef<'a> for (&'a SiteId, &'a DeviceId, u32) {
    fn parts(&self) -> (&str, &str, u32) {
        (self.0.as_str(), self.1.as_str(), self.2)
    }
}

impl<'a> std::borrow::Borrow<dyn KeyRef<'a> + 'a> for (SiteId, DeviceId, u32) {
    fn borrow(&self) -> &(dyn KeyRef<'a> + 'a) {
        self
    }
}

impl PartialEq for dyn KeyRef<'_> + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.parts() == other.parts()
    }
}

impl Eq for dyn KeyRef<'_> + '_ {}

impl PartialOrd for dyn KeyRef<'_> + '_ {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for dyn KeyRef<'_> + '_ {
    // `SiteId` and `DeviceId` order as their strings, so this is the
    // owned tuple's derived order.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.parts().cmp(&other.parts())
    }
}

/// The keys trusted for every chain.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct KeyRegistry {
    regulator: Option<[u8; 32]>,
    sites: BTreeMap<(SiteId, DeviceId, u32), KeyRecord>,
}

impl KeyRegistry {
    /// A registry that trusts `regulator_key` for the regulator chain.
    pub fn new(regulator_key: [u8; 32]) -> Self {
        KeyRegistry {
            regulator: Some(regulator_key),
            sites: BTreeMap::new(),
        }
    }

    /// The trusted regulator key.
    pub fn regulator_key(&self) -> Option<&[u8; 32]> {
        self.regulator.as_ref()
    }

    /// Takes note of a verified regulator event that enrols, retires or revokes a key.
    pub fn apply(&mut self, event: &RegulatorEvent) {
        match event {
            RegulatorEvent::DeviceKeyEnrolled {
                site,
                device,
                key_epoch,
                public_key,
                counter_start,
                ..
            } => {
                self.sites
                    .entry((site.clone(), device.clone(), *key_epoch))
                    .or_insert(KeyRecord {
                        site: site.clone(),
                        device: device.clone(),
                        key_epoch: *key_epoch,
                        public_key: *public_key,
                        counter_start: *counter_start,
                        retired_at: None,
                        revoked_after: None,
                    });
            }
            RegulatorEvent::DeviceKeyRetired { site, statement } => {
                let b = &statement.body;
                if let Some(k) = self
                    .sites
                    .get_mut(&(site.clone(), b.device.clone(), b.key_epoch))
                    .filter(|k| k.public_key == b.public_key)
                {
                    k.retired_at = Some(b.final_counter);
                }
            }
            RegulatorEvent::DeviceKeyRevoked {
                site,
                public_key,
                after_counter,
                ..
            } => {
                for k in self.sites.values_mut() {
                    if &k.site == site && &k.public_key == public_key {
                        k.revoked_after = Some(
                            k.revoked_after
                                .map_or(*after_counter, |r| r.min(*after_counter)),
                        );
                    }
                }
            }
            _ => {}
        }
    }

    /// All site keys, for integrity reports.
    pub fn site_keys(&self) -> impl Iterator<Item = &KeyRecord> {
        self.sites.values()
    }

    /// The record of the key a header names, if enrolled.
    pub fn record(&self, site: &SiteId, device: &DeviceId, key_epoch: u32) -> Option<&KeyRecord> {
        // Looked up by reference: no copy of the two names per lookup
        // (several per entry on every path that checks one).
        self.sites
            .get(&(site, device, key_epoch) as &dyn KeyRef<'_>)
    }

    /// The key that must have signed `header`, if it was valid at that counter.
    pub fn key_for(&self, header: &EntryHeader) -> Result<[u8; 32], ChainError> {
        match &header.chain {
            ChainId::Regulator => self.regulator.ok_or(ChainError::KeyUnknown),
            ChainId::Site(site) => {
                let k = self
                    .record(site, &header.device, header.key_epoch)
                    .ok_or(ChainError::KeyUnknown)?;
                let n = header.counter;
                if n < k.counter_start {
                    return Err(ChainError::KeyNotYetValid {
                        counter_start: k.counter_start,
                    });
                }
                if let Some(r) = k.revoked_after.filter(|r| n > *r) {
                    return Err(ChainError::KeyRevoked { after_counter: r });
                }
                if let Some(r) = k.retired_at.filter(|r| n > *r) {
                    return Err(ChainError::KeyRetired { final_counter: r });
                }
                Ok(k.public_key)
            }
        }
    }
}

/// Why a key written in hex did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyHexError {
    /// Not an even number of hex digits.
    #[error("is not hex")]
    NotHex,
    /// Hex, but not of 32 bytes.
    #[error("is not 32 bytes")]
    NotThirtyTwoBytes,
}

/// Parses a 32-byte key written as 64 hex digits, white space around it
/// ignored: a public key (the regulator chain's, a manufacturer root) or a
/// seed, as settings files and command lines carry them. The one hex key
/// parser of the workspace; the caller says which key it was in its error.
pub fn parse_key_hex(text: &str) -> Result<[u8; 32], KeyHexError> {
    let bytes = hex::decode(text.trim()).map_err(|_| KeyHexError::NotHex)?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| KeyHexError::NotThirtyTwoBytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_borrowed_lookup_finds_exactly_what_a_scan_finds() {
        // Names that are prefixes of each other and epochs either side:
        // the borrowed key must order exactly as the owned tuple, or the
        // B-tree search misses records that are there.
        let names = ["a", "ab", "a-b", "b", "ba", "north", "north-2"];
        let mut reg = KeyRegistry::new([0; 32]);
        let mut n = 0u8;
        for (i, site) in names.iter().enumerate() {
            for device in names.iter().skip(i % 3).step_by(2) {
                for epoch in [0u32, 1, u32::MAX] {
                    n = n.wrapping_add(1);
                    let (site, device) =
                        (SiteId::new(*site).unwrap(), DeviceId::new(*device).unwrap());
                    reg.sites.insert(
                        (site.clone(), device.clone(), epoch),
                        KeyRecord {
                            site,
                            device,
                            key_epoch: epoch,
                            public_key: [n; 32],
                            counter_start: 0,
                            retired_at: None,
                            revoked_after: None,
                        },
                    );
                }
            }
        }
        let mut found = 0;
        for site in names {
            for device in names {
                for epoch in [0u32, 1, 2, u32::MAX] {
                    let (site, device) =
                        (SiteId::new(site).unwrap(), DeviceId::new(device).unwrap());
                    let scan = reg
                        .site_keys()
                        .find(|k| k.site == site && k.device == device && k.key_epoch == epoch);
                    assert_eq!(
                        reg.record(&site, &device, epoch),
                        scan,
                        "{site} {device} {epoch}"
                    );
                    found += usize::from(scan.is_some());
                }
            }
        }
        assert_eq!(found, reg.site_keys().count());
    }

    #[test]
    fn hex_keys_parse_and_bad_ones_say_why() {
        let k = "ab".repeat(32);
        assert_eq!(parse_key_hex(&k), Ok([0xab; 32]));
        assert_eq!(
            parse_key_hex(&format!("  {}\n", k.to_uppercase())),
            Ok([0xab; 32])
        );
        assert_eq!(parse_key_hex("abcd"), Err(KeyHexError::NotThirtyTwoBytes));
        assert_eq!(
            parse_key_hex(&"ab".repeat(33)),
            Err(KeyHexError::NotThirtyTwoBytes)
        );
        assert_eq!(parse_key_hex("zz"), Err(KeyHexError::NotHex));
        assert_eq!(parse_key_hex("abc"), Err(KeyHexError::NotHex));
        assert_eq!(parse_key_hex(""), Err(KeyHexError::NotThirtyTwoBytes));
    }
}
