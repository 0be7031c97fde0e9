//! What a signing device signs besides entry headers: its manufacturer
//! certificate, attestations of keys it generated, retire statements, chain
//! checkpoints, and the regulator's authorisations it obeys. Each has its own
//! domain tag (see [`crate::hash::tag`]).

use serde::{Deserialize, Serialize};

use crate::entry::ChainId;
use crate::hash::{Hash, tag};
use crate::ids::{DeviceId, Name, Timestamp};
use crate::sig::{Sig, SigError, Statement};

/// What a manufacturer root certifies about a device it made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceCertBody {
    /// Device serial.
    pub device: DeviceId,
    /// Hardware model.
    pub model: Name,
    /// Firmware version.
    pub firmware_version: u32,
    /// SHA-256 of the firmware image.
    pub firmware_hash: Hash,
    /// The device's identity key, used only to sign attestations.
    pub identity_key: [u8; 32],
    /// The manufacturer root that signs this certificate.
    pub manufacturer_key: [u8; 32],
}

impl Statement for DeviceCertBody {
    const TAG: &'static [u8] = tag::DEVICE_CERT;
}

/// A manufacturer's certificate over a device identity key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceCertificate {
    /// The certified facts.
    pub body: DeviceCertBody,
    /// Signature by `body.manufacturer_key`.
    pub signature: Sig,
}

impl DeviceCertificate {
    /// Checks the certificate against a trusted manufacturer root.
    pub fn verify(&self, trusted_root: &[u8; 32]) -> Result<(), SigError> {
        if &self.body.manufacturer_key != trusted_root {
            return Err(SigError::BadKey);
        }
        self.body.verify(trusted_root, &self.signature)
    }
}

/// Where a key came from. Only keys generated inside the device are attested.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyOrigin {
    /// Generated inside the device; the secret never left it.
    GeneratedOnDevice,
}

/// A device's statement that it generated a site key and holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestationBody {
    /// The verifier's fresh nonce.
    pub nonce: Hash,
    /// Device serial.
    pub device: DeviceId,
    /// Firmware hash at attestation time.
    pub firmware_hash: Hash,
    /// Chain the key is bound to.
    pub chain: ChainId,
    /// Key epoch on this device.
    pub key_epoch: u32,
    /// The site public key.
    pub site_key: [u8; 32],
    /// Where the key came from.
    pub origin: KeyOrigin,
    /// First counter the key will sign.
    pub counter_start: u64,
    /// Device boot count.
    pub boot_count: u32,
}

impl Statement for AttestationBody {
    const TAG: &'static [u8] = tag::ATTESTATION;
}

/// An attestation signed by the device identity key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attestation {
    /// The attested facts.
    pub body: AttestationBody,
    /// Signature by the device identity key.
    pub signature: Sig,
}

/// Why an enrolment's evidence does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AttestationError {
    /// The certificate is not signed by the trusted manufacturer root.
    #[error("device certificate does not chain to the manufacturer root")]
    UntrustedDevice,
    /// The attestation is not signed by the certified identity key.
    #[error("attestation is not signed by the device identity key")]
    BadAttestation,
    /// Certificate and attestation name different devices or firmware.
    #[error("attestation does not match the certificate")]
    Mismatch,
    /// The nonce is not the one the verifier issued.
    #[error("attestation nonce is stale")]
    StaleNonce,
    /// The attested key is weak or malformed.
    #[error("attested key is malformed or weak")]
    WeakKey,
}

impl Attestation {
    /// Checks the chain root → device → key, the nonce, and that the key is sound.
    pub fn verify(
        &self,
        cert: &DeviceCertificate,
        manufacturer_root: &[u8; 32],
        expected_nonce: Option<&Hash>,
    ) -> Result<(), AttestationError> {
        cert.verify(manufacturer_root)
            .map_err(|_| AttestationError::UntrustedDevice)?;
        self.body
            .verify(&cert.body.identity_key, &self.signature)
            .map_err(|_| AttestationError::BadAttestation)?;
        if self.body.device != cert.body.device
            || self.body.firmware_hash != cert.body.firmware_hash
        {
            return Err(AttestationError::Mismatch);
        }
        if expected_nonce.is_some_and(|n| &self.body.nonce != n) {
            return Err(AttestationError::StaleNonce);
        }
        crate::sig::parse_key(&self.body.site_key).map_err(|_| AttestationError::WeakKey)?;
        Ok(())
    }
}

/// A key's last word: its final counter and head, signed by itself before the
/// device destroys it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetireBody {
    /// Chain the key signed.
    pub chain: ChainId,
    /// Device.
    pub device: DeviceId,
    /// Key epoch.
    pub key_epoch: u32,
    /// The retiring key.
    pub public_key: [u8; 32],
    /// Last counter it signed.
    pub final_counter: u64,
    /// Hash of the last entry it signed.
    pub final_head: Hash,
}

impl Statement for RetireBody {
    const TAG: &'static [u8] = tag::RETIRE;
}

/// A signed retire statement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetireStatement {
    /// The facts.
    pub body: RetireBody,
    /// Signature by the retiring key.
    pub signature: Sig,
}

impl RetireStatement {
    /// Checks the signature by the key it names.
    pub fn verify(&self) -> Result<(), SigError> {
        self.body.verify(&self.body.public_key, &self.signature)
    }
}

/// A device's signed statement of its chain head, for the regulator to
/// compare with what the host synced (it exposes withheld entries).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceCheckpointBody {
    /// Chain.
    pub chain: ChainId,
    /// Device.
    pub device: DeviceId,
    /// Key epoch.
    pub key_epoch: u32,
    /// Head counter.
    pub counter: u64,
    /// Head entry hash.
    pub head: Hash,
    /// Verifier's nonce.
    pub nonce: Hash,
    /// Device clock.
    pub device_time: Timestamp,
    /// Boot count.
    pub boot_count: u32,
}

impl Statement for DeviceCheckpointBody {
    const TAG: &'static [u8] = tag::DEVICE_CHECKPOINT;
}

/// What the regulator authorises a device to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthorisedAction {
    /// Generate a signing key bound to this chain.
    GenerateSiteKey {
        /// The chain (a site's, or the regulator's for the regulator's own device).
        chain: ChainId,
    },
    /// Retire the active key.
    RetireKey {
        /// Key epoch to retire.
        key_epoch: u32,
    },
    /// Leave the Locked state and resume at the given head.
    Recover {
        /// Head counter to resume from.
        counter: u64,
        /// Head hash to resume from.
        head: Hash,
        /// Device time of that head entry, so the next entry's time follows it.
        time: Timestamp,
    },
}

/// The body of a regulator authorisation, bound to one device and one nonce it issued.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorisationBody {
    /// The device.
    pub device: DeviceId,
    /// The nonce the device issued (prevents replay).
    pub nonce: Hash,
    /// What is authorised.
    pub action: AuthorisedAction,
}

impl Statement for AuthorisationBody {
    const TAG: &'static [u8] = tag::AUTHORISATION;
}

/// A regulator-signed authorisation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authorisation {
    /// The facts.
    pub body: AuthorisationBody,
    /// Signature by the regulator key.
    pub signature: Sig,
}
