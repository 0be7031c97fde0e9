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
        self.sites.get(&(site.clone(), device.clone(), key_epoch))
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
