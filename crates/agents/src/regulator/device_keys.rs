//! Ending a site device's key: retirement (the device, under this
//! regulator's authorisation, signs its final counter and head and destroys
//! the key; `DeviceKeyRetired` carries that statement) and revocation (the
//! regulator alone declares every entry the key signs after a counter
//! invalid: for a device that is stolen, lost or broken).

use armsledger_core::entry::{ChainId, SignedEntry};
use armsledger_core::event::RegulatorEvent;
use armsledger_core::ids::{DeviceId, PersonId, SiteId, Text};
use armsledger_core::keys::KeyRecord;
use armsledger_core::statements::{AuthorisedAction, RetireStatement};
use armsledger_device::Lifecycle;
use armsledger_device::host::{DeviceClient, Transport, authorise};

use super::RegulatorAgent;
use crate::error::AgentError;
use armsledger_store::NoteClass;

/// Which enrolled key of a site.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceKey {
    /// By its public key.
    Public([u8; 32]),
    /// By device and key epoch.
    Epoch(DeviceId, u32),
}

impl std::fmt::Display for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceKey::Public(k) => write!(f, "key {}", hex::encode(k)),
            DeviceKey::Epoch(d, e) => write!(f, "device {d} key epoch {e}"),
        }
    }
}

impl<T: Transport> RegulatorAgent<T> {
    /// The enrolment record of `key` at `site`, from the regulator chain.
    pub fn device_key(&self, site: &SiteId, key: &DeviceKey) -> Result<KeyRecord, AgentError> {
        let keys = self.verifier.keys();
        let found = match key {
            DeviceKey::Epoch(device, epoch) => keys.record(site, device, *epoch),
            DeviceKey::Public(k) => keys
                .site_keys()
                .find(|r| &r.site == site && &r.public_key == k),
        };
        found.cloned().ok_or_else(|| {
            AgentError::Input(format!(
                "{key} is not enrolled for site {site} on this regulator chain"
            ))
        })
    }

    /// Revokes a site's device key: every entry it signs after
    /// `after_counter` is refused by the server and by offline verification
    /// from the moment the revocation is logged; entries up to it stay valid.
    pub fn revoke_device_key(
        &mut self,
        officer: &PersonId,
        site: &SiteId,
        key: &DeviceKey,
        after_counter: u64,
        reason: Text,
    ) -> Result<SignedEntry, AgentError> {
        let record = self.device_key(site, key)?;
        if let Some(r) = record.revoked_after.filter(|r| *r <= after_counter) {
            return Err(AgentError::Input(format!(
                "{key} of {site} is already revoked after counter {r}"
            )));
        }
        let reason = self.seal(reason, NoteClass::Case)?;
        self.record(
            officer,
            RegulatorEvent::DeviceKeyRevoked {
                site: site.clone(),
                public_key: record.public_key,
                after_counter,
                reason,
            },
        )
    }

    /// Retires the active key of `site`'s device: authorises `RetireKey`
    /// over the device's nonce with the admin key, checks the retire
    /// statement the device signs with the retiring key (its final counter
    /// and head), and records `DeviceKeyRetired`. If an earlier attempt
    /// retired the key but was not recorded, the device's kept statement
    /// is recorded instead. A locked device is refused: it cannot vouch for
    /// its head, so the key must be revoked.
    pub fn retire_device_key<U: Transport>(
        &mut self,
        officer: &PersonId,
        site: &SiteId,
        device: &mut DeviceClient<U>,
    ) -> Result<SignedEntry, AgentError> {
        let chain = ChainId::Site(site.clone());
        let info = device.info()?;
        if info.chain.as_ref() != Some(&chain) {
            return Err(AgentError::Config(format!(
                "device {} does not serve site {site}'s chain",
                info.device
            )));
        }
        let statement = match (&info.lifecycle, &info.key) {
            (Lifecycle::Active, Some(k)) => {
                let epoch = DeviceKey::Epoch(info.device.clone(), k.key_epoch);
                let record = self.device_key(site, &epoch)?;
                if record.public_key != k.public_key {
                    return Err(AgentError::Attestation(format!(
                        "device {} holds another key than the one enrolled for epoch {}",
                        info.device, k.key_epoch
                    )));
                }
                let nonce = device.nonce()?;
                let auth = authorise(
                    &self.admin,
                    info.device.clone(),
                    nonce,
                    AuthorisedAction::RetireKey {
                        key_epoch: k.key_epoch,
                    },
                )
                .map_err(|e| AgentError::Attestation(format!("signing the authorisation: {e}")))?;
                device.retire_key(auth)?.ok_or_else(|| {
                    AgentError::Config(format!("device {} signed no retire statement", info.device))
                })?
            }
            (Lifecycle::Locked, _) => {
                return Err(AgentError::Config(format!(
                    "device {} is locked and cannot vouch for its head; revoke its key instead \
                     (`armsledger regulator revoke-device --site {site} --device-id {} --key-epoch N --after-counter LAST-TRUSTED`)",
                    info.device, info.device
                )));
            }
            // Retired by an earlier attempt that was not recorded.
            _ => device.last_receipt()?.retire.ok_or_else(|| {
                AgentError::Config(format!(
                    "device {} has no active key to retire ({:?})",
                    info.device, info.lifecycle
                ))
            })?,
        };
        self.check_retirement(site, &statement)?;
        self.record(
            officer,
            RegulatorEvent::DeviceKeyRetired {
                site: site.clone(),
                statement,
            },
        )
    }

    /// A retire statement may be recorded: signed by the enrolled key it
    /// names, for this site's chain, and that key not retired yet.
    fn check_retirement(&self, site: &SiteId, st: &RetireStatement) -> Result<(), AgentError> {
        let b = &st.body;
        let record = self.device_key(site, &DeviceKey::Epoch(b.device.clone(), b.key_epoch))?;
        if st.verify().is_err()
            || record.public_key != b.public_key
            || b.chain != ChainId::Site(site.clone())
        {
            return Err(AgentError::Attestation(format!(
                "the retire statement of device {} is not signed by its enrolled key for {site}",
                b.device
            )));
        }
        if let Some(r) = record.retired_at {
            return Err(AgentError::Input(format!(
                "device {} key epoch {} of {site} is already retired at counter {r}",
                b.device, b.key_epoch
            )));
        }
        Ok(())
    }
}
