//! A device held entirely in memory, for hosts that want a real device in
//! process (other crates' tests, examples, the benchmark). It has no power
//! faults; the `fault-injection` feature's `Sim` has them.

use ed25519_dalek::SigningKey;

use crate::factory::{DeviceSpec, ManufactureError, manufacture};
use crate::firmware::{BootError, Device, Platform};
use crate::listener::SharedDevice;
use crate::storage::{Clock, MemFlash, MemMonotonic};

/// Why an in-memory device could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MemoryDeviceError {
    /// Manufacture failed.
    #[error(transparent)]
    Manufacture(#[from] ManufactureError),
    /// Boot failed.
    #[error(transparent)]
    Boot(#[from] BootError),
}

/// Manufactures a device certified by `root` and boots it on in-memory storage.
pub fn memory_device(
    root: &SigningKey,
    spec: &DeviceSpec,
    clock: Box<dyn Clock>,
) -> Result<SharedDevice, MemoryDeviceError> {
    let (_, image) = manufacture(root, spec)?;
    let device = Device::boot(Platform {
        flash: Box::new(MemFlash::new(image.to_vec())),
        monotonic: Box::new(MemMonotonic::new()),
        clock,
    })?;
    Ok(SharedDevice::new(device))
}
