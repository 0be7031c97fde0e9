//! Fault injection (test builds only): flash with a live and a durable image,
//! power cuts that keep only synced data, torn writes, bit flips, rollback to
//! an older image, failure of the N-th I/O, named power-fail points, reboot,
//! and a settable clock. [`Sim`] puts them together around one device.

use std::sync::{Arc, Mutex, MutexGuard};

use armsledger_core::ids::Timestamp;
use ed25519_dalek::SigningKey;

use crate::factory::{DeviceSpec, ManufactureError, manufacture};
use crate::firmware::{BootError, Device, Platform};
use crate::host::{DeviceClient, InProcess};
use crate::listener::SharedDevice;
use crate::storage::{
    self, Cell, Flash, ManualClock, MonotonicStore, PowerPoint, StorageError, flash_range,
};

/// What the N-th I/O does when it fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoFault {
    /// It reports an error and has no effect; power stays on.
    Error,
    /// Power is cut during it. A write lands its first `torn_bytes` bytes.
    PowerCut {
        /// Bytes of an interrupted write that reach the medium.
        torn_bytes: u32,
    },
}

/// How much of the unsynced writes a power cut lets through.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Torn {
    /// Unsynced writes that land whole, oldest first.
    pub whole_writes: usize,
    /// Bytes of the next unsynced write that land.
    pub partial_bytes: usize,
}

struct Inner {
    live: Vec<u8>,
    durable: Vec<u8>,
    pending: Vec<(u32, Vec<u8>)>,
    mono: [u64; Cell::COUNT],
    powered: bool,
    armed: Option<PowerPoint>,
    countdown: Option<(u32, IoFault)>,
    io_ops: u64,
}

impl Inner {
    /// Counts an I/O and decides whether it fails.
    fn io(&mut self) -> Result<Option<IoFault>, StorageError> {
        if !self.powered {
            return Err(StorageError::PowerLost);
        }
        self.io_ops += 1;
        let Some((n, fault)) = self.countdown else {
            return Ok(None);
        };
        if n > 1 {
            self.countdown = Some((n - 1, fault));
            return Ok(None);
        }
        self.countdown = None;
        Ok(Some(fault))
    }

    fn cut(&mut self, torn: Torn) {
        let pending = std::mem::take(&mut self.pending);
        for (i, (offset, data)) in pending.iter().enumerate() {
            let len = if i < torn.whole_writes {
                data.len()
            } else if i == torn.whole_writes {
                torn.partial_bytes.min(data.len())
            } else {
                break;
            };
            put(&mut self.durable, *offset, data.get(..len).unwrap_or(&[]));
        }
        self.live = self.durable.clone();
        self.powered = false;
        self.armed = None;
        self.countdown = None;
    }
}

fn put(image: &mut [u8], offset: u32, data: &[u8]) {
    let size = u32::try_from(image.len()).unwrap_or(u32::MAX);
    if let Some(dst) = flash_range(offset, data.len(), size)
        .ok()
        .and_then(|r| image.get_mut(r))
    {
        dst.copy_from_slice(data);
    }
}

/// The shared state of a faulty flash and monotonic store. Clones share it.
#[derive(Clone)]
pub struct FaultPlan(Arc<Mutex<Inner>>);

impl FaultPlan {
    /// Storage holding the flash `image` (durable) and zeroed monotonic cells.
    pub fn new(image: &[u8]) -> Self {
        FaultPlan(Arc::new(Mutex::new(Inner {
            live: image.to_vec(),
            durable: image.to_vec(),
            pending: Vec::new(),
            mono: [0; Cell::COUNT],
            powered: true,
            armed: None,
            countdown: None,
            io_ops: 0,
        })))
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The flash, as the firmware sees it.
    pub fn flash(&self) -> FaultFlash {
        FaultFlash(self.clone())
    }

    /// The monotonic store, as the firmware sees it.
    pub fn monotonic(&self) -> FaultMonotonic {
        FaultMonotonic(self.clone())
    }

    /// Cuts power when the firmware reaches `point`.
    pub fn arm(&self, point: PowerPoint) {
        self.lock().armed = Some(point);
    }

    /// Makes the `n`-th I/O from now (1 = the next) fail with `fault`.
    pub fn fail_nth_io(&self, n: u32, fault: IoFault) {
        self.lock().countdown = Some((n.max(1), fault));
    }

    /// Clears armed points and I/O failures.
    pub fn disarm(&self) {
        let mut s = self.lock();
        s.armed = None;
        s.countdown = None;
    }

    /// Cuts power now: unsynced writes are lost except as `torn` lets through.
    pub fn cut_power(&self, torn: Torn) {
        let mut s = self.lock();
        if s.powered {
            s.cut(torn);
        }
    }

    /// Whether power is on.
    pub fn is_powered(&self) -> bool {
        self.lock().powered
    }

    /// Turns power back on (the live image is what was durable).
    pub fn restore_power(&self) {
        self.lock().powered = true;
    }

    /// The durable flash image.
    pub fn durable_image(&self) -> Vec<u8> {
        self.lock().durable.clone()
    }

    /// Puts an older image back (a rollback by whoever holds the flash).
    pub fn restore_image(&self, image: &[u8]) {
        let mut s = self.lock();
        s.live = image.to_vec();
        s.durable = image.to_vec();
        s.pending.clear();
    }

    /// Flips one bit in both images (media corruption).
    pub fn flip_bit(&self, offset: u32, bit: u8) {
        let mut guard = self.lock();
        let s = &mut *guard;
        for image in [&mut s.live, &mut s.durable] {
            if let Some(b) = usize::try_from(offset).ok().and_then(|o| image.get_mut(o)) {
                *b ^= 1 << (bit % 8);
            }
        }
    }

    /// The monotonic cells.
    pub fn cells(&self) -> [u64; Cell::COUNT] {
        self.lock().mono
    }

    /// I/O operations so far.
    pub fn io_count(&self) -> u64 {
        self.lock().io_ops
    }
}

/// Flash over a [`FaultPlan`].
pub struct FaultFlash(FaultPlan);

impl Flash for FaultFlash {
    fn size(&self) -> u32 {
        u32::try_from(self.0.lock().live.len()).unwrap_or(u32::MAX)
    }

    fn read(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), StorageError> {
        let mut s = self.0.lock();
        if let Some(fault) = s.io()? {
            if let IoFault::PowerCut { .. } = fault {
                s.cut(Torn::default());
                return Err(StorageError::PowerLost);
            }
            return Err(StorageError::Io("injected read failure".into()));
        }
        let size = u32::try_from(s.live.len()).unwrap_or(u32::MAX);
        let r = flash_range(offset, buf.len(), size)?;
        buf.copy_from_slice(s.live.get(r).unwrap_or(&[]));
        Ok(())
    }

    fn write(&mut self, offset: u32, data: &[u8]) -> Result<(), StorageError> {
        let mut s = self.0.lock();
        let size = u32::try_from(s.live.len()).unwrap_or(u32::MAX);
        flash_range(offset, data.len(), size)?;
        match s.io()? {
            None => {}
            Some(IoFault::Error) => return Err(StorageError::Io("injected write failure".into())),
            Some(IoFault::PowerCut { torn_bytes }) => {
                s.pending.push((offset, data.to_vec()));
                let whole_writes = s.pending.len() - 1;
                s.cut(Torn {
                    whole_writes,
                    partial_bytes: usize::try_from(torn_bytes).unwrap_or(usize::MAX),
                });
                return Err(StorageError::PowerLost);
            }
        }
        put(&mut s.live, offset, data);
        s.pending.push((offset, data.to_vec()));
        Ok(())
    }

    fn sync(&mut self) -> Result<(), StorageError> {
        let mut s = self.0.lock();
        match s.io()? {
            None => {}
            Some(IoFault::Error) => return Err(StorageError::Io("injected sync failure".into())),
            Some(IoFault::PowerCut { .. }) => {
                s.cut(Torn::default());
                return Err(StorageError::PowerLost);
            }
        }
        s.durable = s.live.clone();
        s.pending.clear();
        Ok(())
    }

    fn power_point(&mut self, point: PowerPoint) -> Result<(), StorageError> {
        let mut s = self.0.lock();
        if !s.powered {
            return Err(StorageError::PowerLost);
        }
        if s.armed == Some(point) {
            s.cut(Torn::default());
            return Err(StorageError::PowerLost);
        }
        Ok(())
    }
}

/// A monotonic store over a [`FaultPlan`]. Each operation is atomic: a
/// failed or interrupted raise leaves the cell as it was.
pub struct FaultMonotonic(FaultPlan);

impl FaultMonotonic {
    fn op<R>(
        &mut self,
        f: impl FnOnce(&mut [u64; Cell::COUNT]) -> Result<R, StorageError>,
    ) -> Result<R, StorageError> {
        let mut s = self.0.lock();
        match s.io()? {
            None => f(&mut s.mono),
            Some(IoFault::Error) => Err(StorageError::Io("injected monotonic failure".into())),
            Some(IoFault::PowerCut { .. }) => {
                s.cut(Torn::default());
                Err(StorageError::PowerLost)
            }
        }
    }
}

impl MonotonicStore for FaultMonotonic {
    fn read(&mut self, cell: Cell) -> Result<u64, StorageError> {
        self.op(|m| storage::read_in(m, cell))
    }

    fn raise_to(&mut self, cell: Cell, value: u64) -> Result<(), StorageError> {
        self.op(|m| storage::raise_in(m, cell, value))
    }
}

/// One simulated device with its faulty storage and settable clock.
pub struct Sim {
    /// Its storage.
    pub plan: FaultPlan,
    /// Its clock.
    pub clock: ManualClock,
    /// The device (empty while off).
    pub device: SharedDevice,
}

/// Why a simulated device could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// Manufacture failed.
    #[error(transparent)]
    Manufacture(#[from] ManufactureError),
    /// Boot failed.
    #[error(transparent)]
    Boot(#[from] BootError),
}

impl Sim {
    /// Manufactures a device certified by `root` and boots it with the clock at `now`.
    pub fn new(root: &SigningKey, spec: &DeviceSpec, now: Timestamp) -> Result<Sim, SimError> {
        let (_, image) = manufacture(root, spec)?;
        let sim = Sim {
            plan: FaultPlan::new(&image),
            clock: ManualClock::new(now),
            device: SharedDevice::default(),
        };
        sim.boot()?;
        Ok(sim)
    }

    /// A client talking to this device in process.
    pub fn client(&self) -> DeviceClient<InProcess> {
        DeviceClient::new(InProcess::new(self.device.clone()))
    }

    /// Powers the device off now, letting `torn` of the unsynced writes through.
    pub fn power_off(&self, torn: Torn) {
        self.device.take();
        self.plan.cut_power(torn);
    }

    /// Power-cycles the device: off (keeping only synced data), on, boot.
    /// After a failed boot the device stays off.
    pub fn reboot(&self) -> Result<(), BootError> {
        self.power_off(Torn::default());
        self.boot()
    }

    fn boot(&self) -> Result<(), BootError> {
        self.plan.restore_power();
        let device = Device::boot(Platform {
            flash: Box::new(self.plan.flash()),
            monotonic: Box::new(self.plan.monotonic()),
            clock: Box::new(self.clock.clone()),
        })?;
        self.device.replace(Some(device));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn power_cut_keeps_only_synced_data() {
        let plan = FaultPlan::new(&[0u8; 8]);
        let mut f = plan.flash();
        f.write(0, &[1, 1]).unwrap();
        f.sync().unwrap();
        f.write(2, &[2, 2]).unwrap();
        f.write(4, &[3, 3, 3]).unwrap();
        plan.cut_power(Torn {
            whole_writes: 1,
            partial_bytes: 2,
        });
        assert_eq!(plan.durable_image(), [1, 1, 2, 2, 3, 3, 0, 0]);
        assert_eq!(f.write(0, &[9]), Err(StorageError::PowerLost));
        plan.restore_power();
        let mut b = [0u8; 8];
        f.read(0, &mut b).unwrap();
        assert_eq!(b, [1, 1, 2, 2, 3, 3, 0, 0]);
    }

    #[test]
    fn nth_io_fails_once() {
        let plan = FaultPlan::new(&[0u8; 8]);
        let mut m = plan.monotonic();
        plan.fail_nth_io(2, IoFault::Error);
        m.raise_to(Cell::Issued, 1).unwrap();
        assert!(matches!(
            m.raise_to(Cell::Issued, 2),
            Err(StorageError::Io(_))
        ));
        assert_eq!(m.read(Cell::Issued).unwrap(), 1);
        m.raise_to(Cell::Issued, 2).unwrap();
        plan.fail_nth_io(1, IoFault::PowerCut { torn_bytes: 0 });
        assert_eq!(m.increment(Cell::Issued), Err(StorageError::PowerLost));
        assert!(!plan.is_powered());
        assert_eq!(plan.cells()[Cell::Issued.index()], 2);
    }

    #[test]
    fn torn_write_on_power_cut() {
        let plan = FaultPlan::new(&[0u8; 8]);
        let mut f = plan.flash();
        plan.fail_nth_io(1, IoFault::PowerCut { torn_bytes: 3 });
        assert_eq!(f.write(1, &[5; 6]), Err(StorageError::PowerLost));
        assert_eq!(plan.durable_image(), [0, 5, 5, 5, 0, 0, 0, 0]);
    }
}
