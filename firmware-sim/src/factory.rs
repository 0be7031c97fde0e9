//! Manufacture: a device's identity, certified by a manufacturer root, burned
//! into the factory region of a fresh flash image.

use armsledger_core::hash::Hash;
use armsledger_core::ids::{DeviceId, Name};
use armsledger_core::sig::{SigError, Statement};
use armsledger_core::statements::{DeviceCertBody, DeviceCertificate};
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::layout::{self, FACTORY_MAGIC, FACTORY_OFFSET, FACTORY_SIZE, FLASH_SIZE, LayoutError};
use crate::state::Secret;

/// The firmware version this simulator reports and certifies.
pub const FIRMWARE_VERSION: u32 = 1;

/// Name hashed into the firmware hash.
const FIRMWARE_IMAGE: &[u8] = b"armsledger-device firmware-sim v1";

/// Domain tag deriving the identity key from the manufacturing seed.
const IDENTITY_TAG: &[u8] = b"armsledger-device:identity-key:v1\0";
/// Domain tag deriving the RNG seed from the manufacturing seed.
const RNG_SEED_TAG: &[u8] = b"armsledger-device:rng-seed:v1\0";

/// The hash of the simulated firmware image (what a real device measures at boot).
pub fn firmware_hash() -> Hash {
    Hash::of(&[FIRMWARE_IMAGE])
}

/// What the factory burns into a device: identity, certificate and entropy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FactoryData {
    /// Device serial.
    pub device: DeviceId,
    /// Hardware model.
    pub model: Name,
    /// Identity key secret; it signs attestations only.
    pub identity_secret: Secret,
    /// The manufacturer's certificate over the identity key.
    pub certificate: DeviceCertificate,
    /// Seed of the device's random number generator.
    pub rng_seed: Secret,
}

impl FactoryData {
    /// The identity signing key.
    pub fn identity_key(&self) -> SigningKey {
        SigningKey::from_bytes(&self.identity_secret.0)
    }
}

/// Why a device could not be manufactured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManufactureError {
    /// The certificate could not be signed.
    #[error("signing the device certificate: {0}")]
    Sign(#[from] SigError),
    /// The factory record does not fit.
    #[error(transparent)]
    Layout(#[from] LayoutError),
}

/// What to manufacture.
#[derive(Clone, Debug)]
pub struct DeviceSpec {
    /// Serial.
    pub device: DeviceId,
    /// Model.
    pub model: Name,
    /// Manufacturing entropy: the identity key and the RNG seed derive from it.
    pub seed: [u8; 32],
}

/// Makes a device: derives its identity key, has `root` certify it, and returns
/// the factory data and a full flash image with both state slots blank.
pub fn manufacture(
    root: &SigningKey,
    spec: &DeviceSpec,
) -> Result<(FactoryData, Zeroizing<Vec<u8>>), ManufactureError> {
    let identity_secret = Secret(Hash::of(&[IDENTITY_TAG, &spec.seed]).0);
    let rng_seed = Secret(Hash::of(&[RNG_SEED_TAG, &spec.seed]).0);
    let identity = SigningKey::from_bytes(&identity_secret.0);
    let body = DeviceCertBody {
        device: spec.device.clone(),
        model: spec.model.clone(),
        firmware_version: FIRMWARE_VERSION,
        firmware_hash: firmware_hash(),
        identity_key: identity.verifying_key().to_bytes(),
        manufacturer_key: root.verifying_key().to_bytes(),
    };
    let signature = body.sign(root)?;
    let data = FactoryData {
        device: spec.device.clone(),
        model: spec.model.clone(),
        identity_secret,
        certificate: DeviceCertificate { body, signature },
        rng_seed,
    };
    let record = layout::encode_record(FACTORY_MAGIC, 0, &data, FACTORY_SIZE)?;
    let mut image = Zeroizing::new(vec![0u8; usize::try_from(FLASH_SIZE).unwrap_or(0)]);
    let start = usize::try_from(FACTORY_OFFSET).unwrap_or(0);
    if let Some(dst) = image.get_mut(start..start + record.len()) {
        dst.copy_from_slice(&record);
    }
    Ok((data, image))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{Record, decode_record};

    #[test]
    fn manufactured_image_holds_a_certified_identity() {
        let root = SigningKey::from_bytes(&[9; 32]);
        let spec = DeviceSpec {
            device: DeviceId::new("dev-1").unwrap(),
            model: Name::new("SIM-1").unwrap(),
            seed: [3; 32],
        };
        let (data, image) = manufacture(&root, &spec).unwrap();
        data.certificate
            .verify(&root.verifying_key().to_bytes())
            .unwrap();
        assert_eq!(
            data.certificate.body.identity_key,
            data.identity_key().verifying_key().to_bytes()
        );
        match decode_record::<FactoryData>(FACTORY_MAGIC, &image[..FACTORY_SIZE as usize]) {
            Record::Valid { seq: 0, value } => assert_eq!(value, data),
            other => panic!("{other:?}"),
        }
        assert!(image[FACTORY_SIZE as usize..].iter().all(|&b| b == 0));
    }
}
