//! The device firmware: boot, the commit protocol, and dispatch of framed
//! requests to the command handlers. No OS dependency: flash, the monotonic
//! store and the clock are passed in as a [`Platform`].
//!
//! Boot picks the newest valid A/B slot and compares it with the monotonic
//! store. A slot older than the store says it must be, or one claiming values
//! never issued, locks the device:
//!
//! ```text
//! slot.seq  < StateSeq          -> Locked(RolledBack)   (Corrupt if a slot is unreadable)
//! slot.seq  > StateSeq + 1      -> Locked(Corrupt)
//! slot.mark < Committed         -> Locked(RolledBack)
//! slot.mark > Issued            -> Locked(Corrupt)
//! key epoch retired or not newest -> Locked(RolledBack)
//! otherwise                     -> raise Committed to mark and StateSeq to seq (finish the commit)
//! ```
//!
//! A device that boots cleanly with one slot unreadable rewrites its state
//! into that slot, so both slots are readable again.

mod commands;

use armsledger_core::chain::Head;
use armsledger_core::hash::Hash;
use ed25519_dalek::SigningKey;

use crate::factory::FactoryData;
use crate::layout::{
    self, FACTORY_MAGIC, FACTORY_OFFSET, FACTORY_SIZE, FLASH_SIZE, LayoutError, Record, SLOT_MAGIC,
    SLOT_OFFSETS, SLOT_SIZE,
};
use crate::protocol::{
    self, PROTOCOL_VERSION, Request, Response, ResponseFrame, Status, decode_request,
    encode_response,
};
use crate::rng::DeviceRng;
use crate::state::{DeviceState, Lifecycle, LockReason};
use crate::storage::{Cell, Clock, Flash, MonotonicStore, PowerPoint, StorageError};

/// What the firmware runs on.
pub struct Platform {
    /// Non-volatile memory (factory region and A/B slots).
    pub flash: Box<dyn Flash>,
    /// The store whose values only go up.
    pub monotonic: Box<dyn MonotonicStore>,
    /// The wall clock.
    pub clock: Box<dyn Clock>,
}

/// Why a device could not boot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BootError {
    /// The flash is not the expected size.
    #[error("flash is {found} bytes, expected {FLASH_SIZE}; is this a device flash image?")]
    WrongFlashSize {
        /// Its size.
        found: u32,
    },
    /// The factory record is unreadable: the device cannot identify itself.
    #[error("the factory record is unreadable; the device must be replaced")]
    FactoryCorrupt,
    /// The boot counter is exhausted.
    #[error("the boot counter is exhausted")]
    BootCountExhausted,
    /// Storage failed during boot.
    #[error("storage failed during boot: {0}")]
    Storage(#[from] StorageError),
}

/// Why a command did not complete.
#[derive(Debug)]
enum Fail {
    /// Refused with a status and an empty body.
    Refused(Status),
    /// `prev_hash` is not the head; the reply carries the head.
    ChainMismatch(Head),
    /// Power was cut: the device stops and answers nothing.
    PowerLost,
}

impl From<StorageError> for Fail {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::PowerLost => Fail::PowerLost,
            StorageError::Exhausted(_) => Fail::Refused(Status::Exhausted),
            _ => Fail::Refused(Status::StorageFailed),
        }
    }
}

impl From<LayoutError> for Fail {
    fn from(e: LayoutError) -> Self {
        match e {
            LayoutError::Storage(s) => s.into(),
            _ => Fail::Refused(Status::StorageFailed),
        }
    }
}

/// Cached values of the monotonic cells.
#[derive(Clone, Copy, Debug, Default)]
struct Cells {
    issued: u64,
    committed: u64,
    boot_count: u32,
    state_seq: u64,
    key_epoch: u64,
    retired_epoch: u64,
}

/// A running device.
pub struct Device {
    platform: Platform,
    factory: FactoryData,
    identity: SigningKey,
    rng: DeviceRng,
    state: DeviceState,
    /// Sequence number of the slot holding `state` (0: none written yet).
    seq: u64,
    /// The active key, expanded.
    key: Option<SigningKey>,
    cells: Cells,
    /// The nonce the next authorisation must carry.
    pending_nonce: Option<Hash>,
    /// A slot is durable but the monotonic cells are not yet raised to it.
    uncommitted: bool,
    /// Power was lost: nothing more happens until the next boot.
    halted: bool,
}

impl Device {
    /// Boots: reads the factory record and both slots, checks them against the
    /// monotonic store, and finishes an interrupted commit or locks.
    pub fn boot(mut platform: Platform) -> Result<Device, BootError> {
        let size = platform.flash.size();
        if size != FLASH_SIZE {
            return Err(BootError::WrongFlashSize { found: size });
        }
        let factory = match layout::read_record::<FactoryData>(
            platform.flash.as_mut(),
            FACTORY_MAGIC,
            FACTORY_OFFSET,
            FACTORY_SIZE,
        )? {
            Record::Valid { value, .. } => value,
            _ => return Err(BootError::FactoryCorrupt),
        };
        let boot_count = platform.monotonic.increment(Cell::BootCount)?;
        let boot_count = u32::try_from(boot_count).map_err(|_| BootError::BootCountExhausted)?;
        let m = platform.monotonic.as_mut();
        let cells = Cells {
            issued: m.read(Cell::Issued)?,
            committed: m.read(Cell::Committed)?,
            boot_count,
            state_seq: m.read(Cell::StateSeq)?,
            key_epoch: m.read(Cell::KeyEpoch)?,
            retired_epoch: m.read(Cell::RetiredEpoch)?,
        };
        let mut slots = Vec::with_capacity(2);
        for offset in SLOT_OFFSETS {
            slots.push(layout::read_record::<DeviceState>(
                platform.flash.as_mut(),
                SLOT_MAGIC,
                offset,
                SLOT_SIZE,
            )?);
        }
        let unreadable = slots.iter().any(|s| matches!(s, Record::Invalid));
        let (state, seq, lock) = assess(slots, &cells);
        let identity = factory.identity_key();
        let rng = DeviceRng::new(&factory.rng_seed.0, boot_count);
        let mut device = Device {
            platform,
            factory,
            identity,
            rng,
            key: None,
            state,
            seq,
            cells,
            pending_nonce: None,
            uncommitted: lock.is_none(),
            halted: false,
        };
        device.refresh_key();
        match lock {
            None => {
                device.finish_commit()?;
                if unreadable && device.seq > 0 {
                    // Restore the redundancy: rewrite the state into the next
                    // slot, which is the unreadable one (torn or flipped). A
                    // later fault in the other slot then still leaves a
                    // readable, recoverable state behind.
                    if let Err(Fail::PowerLost) = device.commit(device.state.clone(), None) {
                        return Err(StorageError::PowerLost.into());
                    }
                }
            }
            Some(reason) => {
                let mut locked = device.state.clone().locked(reason);
                locked.mark = device.cells.committed;
                // The lock holds in memory whatever happens; persisting it
                // makes it survive a later restore of the newer image.
                match device.commit(locked.clone(), None) {
                    Err(Fail::PowerLost) => return Err(StorageError::PowerLost.into()),
                    Err(_) => device.state = locked,
                    Ok(()) => {}
                }
            }
        }
        Ok(device)
    }

    /// Handles one frame (the bytes before its delimiter) and returns the
    /// reply frame with its delimiter, or `None` if power was lost.
    pub fn handle_frame(&mut self, frame: &[u8]) -> Option<Vec<u8>> {
        if self.halted {
            return None;
        }
        let request = match decode_request(frame) {
            Ok(r) => r,
            Err(e) => return Some(protocol::refusal(e.request_id(), e.status())),
        };
        let (status, body) = match self.execute(request.body) {
            Ok(body) => (Status::Ok, body),
            Err(Fail::Refused(s)) => (s, Response::Empty),
            Err(Fail::ChainMismatch(head)) => (Status::ChainMismatch, Response::Head(head)),
            Err(Fail::PowerLost) => {
                self.halted = true;
                return None;
            }
        };
        let reply = ResponseFrame {
            version: PROTOCOL_VERSION,
            request_id: request.request_id,
            status,
            body,
        };
        // Every reply fits a frame (the largest, an attestation, is under
        // 1 KiB); if one ever did not, the host gets a refusal, not garbage.
        Some(
            encode_response(&reply)
                .unwrap_or_else(|_| protocol::refusal(request.request_id, Status::StorageFailed)),
        )
    }

    /// Whether power was lost (the device answers nothing until rebooted).
    pub fn is_halted(&self) -> bool {
        self.halted
    }

    /// The lifecycle state.
    pub fn lifecycle(&self) -> Lifecycle {
        self.state.lifecycle
    }

    /// Gives the platform back (for a reboot).
    pub fn into_platform(self) -> Platform {
        self.platform
    }

    fn execute(&mut self, request: Request) -> Result<Response, Fail> {
        if !matches!(request, Request::GetInfo) {
            self.finish_commit()?;
        }
        let allowed = match self.state.lifecycle {
            Lifecycle::Locked => matches!(
                request,
                Request::GetInfo
                    | Request::GetNonce
                    | Request::RetireKey { .. }
                    | Request::Recover { .. }
            ),
            Lifecycle::Decommissioned => matches!(
                request,
                Request::GetInfo | Request::GetNonce | Request::GetLastReceipt
            ),
            _ => true,
        };
        if !allowed {
            return Err(self.refuse_for_state());
        }
        match request {
            Request::GetInfo => Ok(Response::Info(Box::new(self.info()))),
            Request::GetNonce => {
                let n = self.rng.nonce();
                self.pending_nonce = Some(n);
                Ok(Response::Nonce(n))
            }
            Request::GetAttestation { nonce } => self.attest(nonce),
            Request::Provision {
                regulator_key,
                chain,
            } => self.provision(regulator_key, chain),
            Request::GenerateSiteKey { authorisation } => {
                self.generate_site_key(authorisation.as_ref())
            }
            Request::SignEntry(r) => self.sign_entry(r),
            Request::SignCheckpoint { nonce } => self.sign_checkpoint(nonce),
            Request::GetLastReceipt => Ok(self.last_receipt()),
            Request::RetireKey { authorisation } => self.retire_key(&authorisation),
            Request::Recover { authorisation } => self.recover(&authorisation),
        }
    }

    /// The refusal for a command the current lifecycle does not allow.
    fn refuse_for_state(&self) -> Fail {
        match self.state.lifecycle {
            Lifecycle::Locked => Fail::Refused(Status::Locked),
            _ => Fail::Refused(Status::WrongState),
        }
    }

    fn require(&self, lifecycle: Lifecycle) -> Result<(), Fail> {
        if self.state.lifecycle == lifecycle {
            Ok(())
        } else {
            Err(self.refuse_for_state())
        }
    }

    /// Writes `next` to the slot after the current one, syncs, adopts it, and
    /// raises the monotonic cells to it. `point` is where power may fail
    /// between the durable slot and the raise.
    fn commit(&mut self, next: DeviceState, point: Option<PowerPoint>) -> Result<(), Fail> {
        let seq = self
            .seq
            .max(self.cells.state_seq)
            .checked_add(1)
            .ok_or(Fail::Refused(Status::Exhausted))?;
        let record = layout::encode_record(SLOT_MAGIC, seq, &next, SLOT_SIZE)?;
        let flash = self.platform.flash.as_mut();
        flash.write(layout::slot_offset(seq), &record)?;
        flash.sync()?;
        self.state = next;
        self.seq = seq;
        self.uncommitted = true;
        self.refresh_key();
        if let Some(p) = point {
            self.platform.flash.power_point(p)?;
        }
        self.finish_commit()?;
        Ok(())
    }

    /// Raises `committed` and `StateSeq` to the durable slot, if not yet done.
    fn finish_commit(&mut self) -> Result<(), StorageError> {
        if !self.uncommitted {
            return Ok(());
        }
        let m = self.platform.monotonic.as_mut();
        if self.state.mark > self.cells.committed {
            m.raise_to(Cell::Committed, self.state.mark)?;
            self.cells.committed = self.state.mark;
        }
        if self.seq > self.cells.state_seq {
            m.raise_to(Cell::StateSeq, self.seq)?;
            self.cells.state_seq = self.seq;
        }
        self.uncommitted = false;
        Ok(())
    }

    /// Reserves the next counter value, durably.
    fn reserve(&mut self) -> Result<u64, Fail> {
        let n = self.platform.monotonic.increment(Cell::Issued)?;
        self.cells.issued = n;
        Ok(n)
    }

    fn refresh_key(&mut self) {
        self.key = self
            .state
            .key
            .as_ref()
            .map(|k| SigningKey::from_bytes(&k.secret.0));
    }

    fn power_point(&mut self, p: PowerPoint) -> Result<(), Fail> {
        Ok(self.platform.flash.power_point(p)?)
    }
}

/// Decides what boot found: the state to run, its slot sequence number, and
/// whether to lock.
fn assess(
    slots: Vec<Record<DeviceState>>,
    cells: &Cells,
) -> (DeviceState, u64, Option<LockReason>) {
    let unreadable = slots.iter().any(|s| matches!(s, Record::Invalid));
    let newest = slots
        .into_iter()
        .filter_map(|s| match s {
            Record::Valid { seq, value } => Some((seq, value)),
            _ => None,
        })
        .max_by_key(|(seq, _)| *seq);
    let older = if unreadable {
        LockReason::Corrupt
    } else {
        LockReason::RolledBack
    };
    let Some((seq, state)) = newest else {
        // Nothing was ever committed: an unreadable slot is a torn first write.
        if cells.state_seq == 0 {
            return (DeviceState::factory(), 0, None);
        }
        return (DeviceState::factory(), cells.state_seq, Some(older));
    };
    let key_stale = state.key.as_ref().is_some_and(|k| {
        u64::from(k.key_epoch) != cells.key_epoch || u64::from(k.key_epoch) <= cells.retired_epoch
    });
    let lock = if seq < cells.state_seq {
        Some(older)
    } else if seq > cells.state_seq.saturating_add(1) || state.mark > cells.issued {
        Some(LockReason::Corrupt)
    } else if state.mark < cells.committed || key_stale {
        Some(LockReason::RolledBack)
    } else {
        None
    };
    (state, seq, lock)
}

#[cfg(test)]
#[cfg(feature = "fault-injection")]
mod tests;
