//! The device's persisted state: what one flash slot holds, and the
//! lifecycle it moves through.

use core::fmt;

use armsledger_core::chain::Head;
use armsledger_core::entry::{ChainId, SignedHeader};
use armsledger_core::hash::Hash;
use armsledger_core::ids::Timestamp;
use armsledger_core::statements::RetireStatement;
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

/// A device receipt: the entry header it signed and its signature.
pub type Receipt = SignedHeader;

/// Where a device is in its life. The variant index is its wire encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Lifecycle {
    /// Made and certified; not yet bound to a regulator and chain.
    Factory,
    /// Bound to a regulator key and a chain; no active signing key.
    Provisioned,
    /// Holds an active signing key and signs entries.
    Active,
    /// Refuses to sign: its flash was found rolled back or corrupt.
    Locked,
    /// Its key is destroyed for good; it only answers questions.
    Decommissioned,
}

/// Why a device locked itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LockReason {
    /// The newest flash image is older than the monotonic store says it must be.
    RolledBack,
    /// The flash image is unreadable or claims values never issued.
    Corrupt,
}

/// 32 secret bytes, wiped when dropped and never printed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Secret(pub [u8; 32]);

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// A signing key generated inside the device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteKeyRecord {
    /// Its epoch on this device (1 for the first key).
    pub key_epoch: u32,
    /// The secret seed; it never leaves the device.
    pub secret: Secret,
    /// The public key.
    pub public_key: [u8; 32],
    /// The first counter it may sign.
    pub counter_start: u64,
}

/// Everything a flash slot holds. Written whole, as one record, on every change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceState {
    /// Lifecycle.
    pub lifecycle: Lifecycle,
    /// Set while Locked.
    pub lock_reason: Option<LockReason>,
    /// The regulator key whose authorisations the device obeys.
    pub regulator_key: Option<[u8; 32]>,
    /// The chain the device serves.
    pub chain: Option<ChainId>,
    /// The active signing key.
    pub key: Option<SiteKeyRecord>,
    /// The chain head: counter, entry hash, device time (zero for an empty chain).
    pub head: Head,
    /// The value `committed` must reach once this slot is durable. It is the
    /// head counter, except after a regulator-authorised recovery to an
    /// earlier head, when it stays at what was committed before.
    pub mark: u64,
    /// The last receipt released (or about to be), for idempotent retries.
    pub last_receipt: Option<Receipt>,
    /// The last retire statement, for a host that lost it.
    pub last_retire: Option<RetireStatement>,
}

/// The head of an empty chain.
pub fn empty_head() -> Head {
    Head {
        counter: 0,
        hash: Hash::ZERO,
        time: Timestamp(0),
    }
}

impl DeviceState {
    /// The state of a device fresh from the factory.
    pub fn factory() -> Self {
        DeviceState {
            lifecycle: Lifecycle::Factory,
            lock_reason: None,
            regulator_key: None,
            chain: None,
            key: None,
            head: empty_head(),
            mark: 0,
            last_receipt: None,
            last_retire: None,
        }
    }

    /// This state, locked for `reason`.
    pub fn locked(mut self, reason: LockReason) -> Self {
        self.lifecycle = Lifecycle::Locked;
        self.lock_reason = Some(reason);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_is_not_printed() {
        let s = Secret([7; 32]);
        assert_eq!(format!("{s:?}"), "Secret(..)");
    }

    #[test]
    fn state_round_trips_strictly() {
        let mut s = DeviceState::factory();
        s.key = Some(SiteKeyRecord {
            key_epoch: 1,
            secret: Secret([1; 32]),
            public_key: [2; 32],
            counter_start: 1,
        });
        let b = armsledger_core::codec::encode(&s).unwrap();
        let back: DeviceState = armsledger_core::codec::decode_strict(&b, 4096).unwrap();
        assert_eq!(back, s);
    }
}
