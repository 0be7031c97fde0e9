//! What the firmware is given by its platform: flash, a monotonic store and a
//! clock, as traits, with in-memory implementations for in-process devices.
//!
//! The two storage tiers of a secure element are kept apart on purpose. Flash
//! may be corrupted, torn or rolled back by whoever holds it; the monotonic
//! store (a TPM NV counter, an eMMC RPMB block) refuses to go down, whatever
//! it is asked.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use armsledger_core::ids::Timestamp;

/// Why a storage operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// Power was cut: nothing after this point happens until a reboot.
    #[error("power lost")]
    PowerLost,
    /// The medium reported an error; the operation did not take effect.
    #[error("storage i/o failed: {0}")]
    Io(String),
    /// An access outside the medium.
    #[error("access at {offset}+{len} is outside the {size}-byte flash")]
    OutOfRange {
        /// Offset asked for.
        offset: u32,
        /// Length asked for.
        len: usize,
        /// Size of the flash.
        size: u32,
    },
    /// A monotonic cell was asked to go down; the store refused.
    #[error("monotonic cell {cell:?} is at {current} and cannot go down to {requested}")]
    WouldDecrease {
        /// The cell.
        cell: Cell,
        /// Its value.
        current: u64,
        /// The value refused.
        requested: u64,
    },
    /// A monotonic cell is at its maximum.
    #[error("monotonic cell {0:?} is exhausted")]
    Exhausted(Cell),
}

/// Named points inside the signing order where a simulated power supply may
/// fail (fault-injection builds). Real flash ignores them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PowerPoint {
    /// After the request is checked, before the counter is reserved.
    BeforeReserve,
    /// After `issued` is durably raised, before signing.
    AfterReserve,
    /// After signing, before the head is written.
    AfterSign,
    /// After the head slot is written and synced, before `committed` is raised.
    AfterHeadWrite,
    /// After everything is durable, before the receipt leaves the device.
    BeforeReply,
}

impl PowerPoint {
    /// Every point, in signing order.
    pub const ALL: [PowerPoint; 5] = [
        PowerPoint::BeforeReserve,
        PowerPoint::AfterReserve,
        PowerPoint::AfterSign,
        PowerPoint::AfterHeadWrite,
        PowerPoint::BeforeReply,
    ];
}

/// Byte-addressed non-volatile memory. A write is durable only after `sync`.
pub trait Flash: Send {
    /// Size in bytes.
    fn size(&self) -> u32;
    /// Reads `buf.len()` bytes at `offset`.
    fn read(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), StorageError>;
    /// Writes `data` at `offset` (not yet durable).
    fn write(&mut self, offset: u32, data: &[u8]) -> Result<(), StorageError>;
    /// Makes every earlier write durable.
    fn sync(&mut self) -> Result<(), StorageError>;
    /// A point in the signing order where simulated power may fail.
    fn power_point(&mut self, _point: PowerPoint) -> Result<(), StorageError> {
        Ok(())
    }
}

/// The monotonic cells a device keeps. The discriminant is the cell's index
/// in a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Cell {
    /// Highest counter value ever reserved (raised before signing).
    Issued = 0,
    /// Highest counter value whose head is durable (raised before release).
    Committed = 1,
    /// Number of boots.
    BootCount = 2,
    /// Sequence number of the newest durable flash slot.
    StateSeq = 3,
    /// Highest key epoch ever generated.
    KeyEpoch = 4,
    /// Highest key epoch ever retired.
    RetiredEpoch = 5,
}

impl Cell {
    /// Every cell, in index order.
    pub const ALL: [Cell; 6] = [
        Cell::Issued,
        Cell::Committed,
        Cell::BootCount,
        Cell::StateSeq,
        Cell::KeyEpoch,
        Cell::RetiredEpoch,
    ];
    /// Number of cells.
    pub const COUNT: usize = Cell::ALL.len();

    /// Index into a store's array.
    pub fn index(self) -> usize {
        usize::from(self as u8)
    }
}

/// Storage whose values only go up. Each operation is atomic and durable
/// when it returns.
pub trait MonotonicStore: Send {
    /// The value of `cell`.
    fn read(&mut self, cell: Cell) -> Result<u64, StorageError>;
    /// Raises `cell` to `value`: equal is a no-op, lower is refused.
    fn raise_to(&mut self, cell: Cell, value: u64) -> Result<(), StorageError>;
    /// Adds one and returns the new value.
    fn increment(&mut self, cell: Cell) -> Result<u64, StorageError> {
        let next = self
            .read(cell)?
            .checked_add(1)
            .ok_or(StorageError::Exhausted(cell))?;
        self.raise_to(cell, next)?;
        Ok(next)
    }
}

/// The device's wall clock.
pub trait Clock: Send {
    /// Now.
    fn now(&self) -> Timestamp;
}

/// Flash held in memory (in-process devices; no power loss).
#[derive(Clone, Debug)]
pub struct MemFlash {
    bytes: Vec<u8>,
}

impl MemFlash {
    /// Flash holding `image`.
    pub fn new(image: Vec<u8>) -> Self {
        MemFlash { bytes: image }
    }

    /// The current contents.
    pub fn image(&self) -> &[u8] {
        &self.bytes
    }
}

/// The byte range `offset..offset+len` of a flash of `size` bytes, if inside it.
pub fn flash_range(
    offset: u32,
    len: usize,
    size: u32,
) -> Result<std::ops::Range<usize>, StorageError> {
    let start = usize::try_from(offset).ok();
    let end = start.and_then(|s| s.checked_add(len));
    match (start, end) {
        (Some(s), Some(e)) if u32::try_from(e).is_ok_and(|e| e <= size) => Ok(s..e),
        _ => Err(StorageError::OutOfRange { offset, len, size }),
    }
}

impl Flash for MemFlash {
    fn size(&self) -> u32 {
        u32::try_from(self.bytes.len()).unwrap_or(u32::MAX)
    }

    fn read(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), StorageError> {
        let r = flash_range(offset, buf.len(), self.size())?;
        let src = self.bytes.get(r).ok_or(StorageError::OutOfRange {
            offset,
            len: buf.len(),
            size: 0,
        })?;
        buf.copy_from_slice(src);
        Ok(())
    }

    fn write(&mut self, offset: u32, data: &[u8]) -> Result<(), StorageError> {
        let size = self.size();
        let r = flash_range(offset, data.len(), size)?;
        let dst = self.bytes.get_mut(r).ok_or(StorageError::OutOfRange {
            offset,
            len: data.len(),
            size,
        })?;
        dst.copy_from_slice(data);
        Ok(())
    }

    fn sync(&mut self) -> Result<(), StorageError> {
        Ok(())
    }
}

/// A monotonic store held in memory.
#[derive(Clone, Debug, Default)]
pub struct MemMonotonic {
    values: [u64; Cell::COUNT],
}

impl MemMonotonic {
    /// A fresh store (all cells zero).
    pub fn new() -> Self {
        Self::default()
    }
}

/// Applies a monotonic raise to an array of cell values.
pub fn raise_in(
    values: &mut [u64; Cell::COUNT],
    cell: Cell,
    value: u64,
) -> Result<(), StorageError> {
    let slot = values
        .get_mut(cell.index())
        .ok_or(StorageError::Io(format!("no cell {cell:?}")))?;
    if value < *slot {
        return Err(StorageError::WouldDecrease {
            cell,
            current: *slot,
            requested: value,
        });
    }
    *slot = value;
    Ok(())
}

/// Reads a cell from an array of cell values.
pub fn read_in(values: &[u64; Cell::COUNT], cell: Cell) -> Result<u64, StorageError> {
    values
        .get(cell.index())
        .copied()
        .ok_or(StorageError::Io(format!("no cell {cell:?}")))
}

impl MonotonicStore for MemMonotonic {
    fn read(&mut self, cell: Cell) -> Result<u64, StorageError> {
        read_in(&self.values, cell)
    }

    fn raise_to(&mut self, cell: Cell, value: u64) -> Result<(), StorageError> {
        raise_in(&mut self.values, cell, value)
    }
}

/// The host's system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        Timestamp(u64::try_from(ms).unwrap_or(u64::MAX))
    }
}

/// A simulated clock read from a file holding milliseconds since the epoch
/// (`armsledger device serve --clock-file`), so a simulation can run a year of
/// device time in seconds. Falls back to the system clock when the file is
/// missing or unreadable. A real device has its own clock; this exists only in
/// the simulator, and the device still never lets time go back (it clamps to
/// its head).
#[derive(Clone, Debug)]
pub struct FileClock(pub std::path::PathBuf);

impl Clock for FileClock {
    fn now(&self) -> Timestamp {
        std::fs::read_to_string(&self.0)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .map_or_else(|| SystemClock.now(), Timestamp)
    }
}

/// A clock the caller sets (tests, golden vectors, simulations). Clones share
/// the same time.
#[derive(Clone, Debug, Default)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// A clock reading `t`.
    pub fn new(t: Timestamp) -> Self {
        ManualClock(Arc::new(AtomicU64::new(t.0)))
    }

    /// Sets the time (it may go backwards).
    pub fn set(&self, t: Timestamp) {
        self.0.store(t.0, Ordering::SeqCst);
    }

    /// Moves the time forward by `ms`.
    pub fn advance(&self, ms: u64) {
        let _ = self
            .0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |t| {
                Some(t.saturating_add(ms))
            });
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_refuses_to_go_down() {
        let mut m = MemMonotonic::new();
        assert_eq!(m.increment(Cell::Issued).unwrap(), 1);
        m.raise_to(Cell::Issued, 5).unwrap();
        m.raise_to(Cell::Issued, 5).unwrap();
        assert_eq!(
            m.raise_to(Cell::Issued, 4),
            Err(StorageError::WouldDecrease {
                cell: Cell::Issued,
                current: 5,
                requested: 4
            })
        );
        assert_eq!(m.read(Cell::Issued).unwrap(), 5);
        m.raise_to(Cell::Committed, u64::MAX).unwrap();
        assert_eq!(
            m.increment(Cell::Committed),
            Err(StorageError::Exhausted(Cell::Committed))
        );
    }

    #[test]
    fn mem_flash_bounds() {
        let mut f = MemFlash::new(vec![0; 16]);
        f.write(12, &[1, 2, 3, 4]).unwrap();
        let mut b = [0u8; 4];
        f.read(12, &mut b).unwrap();
        assert_eq!(b, [1, 2, 3, 4]);
        assert!(matches!(
            f.write(13, &[0; 4]),
            Err(StorageError::OutOfRange { .. })
        ));
        assert!(f.read(u32::MAX, &mut b).is_err());
    }

    #[test]
    fn manual_clock_is_shared() {
        let c = ManualClock::new(Timestamp(10));
        let d = c.clone();
        c.advance(5);
        assert_eq!(d.now(), Timestamp(15));
        d.set(Timestamp(1));
        assert_eq!(c.now(), Timestamp(1));
    }
}

#[cfg(test)]
mod file_clock_tests {
    use super::*;

    #[test]
    fn file_clock_reads_the_file_and_falls_back_to_the_system() {
        let dir = std::env::temp_dir().join(format!("armsledger-clock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("clock");
        let clock = FileClock(path.clone());
        std::fs::write(&path, "1767225600000\n").unwrap();
        assert_eq!(clock.now(), Timestamp(1_767_225_600_000));
        std::fs::write(&path, "not a time").unwrap();
        assert!(
            clock.now() > Timestamp(1_700_000_000_000),
            "falls back to the system clock"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
