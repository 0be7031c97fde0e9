//! armsledger-device: a simulated per-armoury signing device that behaves like
//! a secure element, so that a site chain's integrity rests on the device and
//! not on the armoury PC.
//!
//! A host asks the device to sign the next entry of its chain; the device
//! refuses unless the host's previous hash is the device's own head, reserves
//! a counter durably before signing, and persists its new head before the
//! receipt leaves it. One request on the wire (GetInfo, request id 1):
//!
//! ```text
//! 03 01 01 01 00    COBS(01 01 00) then the 0x00 delimiter:
//!                   version 1, request id 1, command 0 (GetInfo)
//! ```
//!
//! ```
//! use armsledger_device::protocol::{self, Request, RequestFrame};
//! let frame = RequestFrame { version: 1, request_id: 1, body: Request::GetInfo };
//! assert_eq!(protocol::encode_request(&frame)?, [0x03, 0x01, 0x01, 0x01, 0x00]);
//! # Ok::<(), protocol::FrameError>(())
//! ```
//!
//! * [`firmware`]: the device itself, over an injected [`firmware::Platform`]
//!   (flash, monotonic store, clock): no OS dependency.
//! * [`protocol`]: postcard messages in COBS frames, version, request id, size cap.
//! * [`host`]: the [`host::Transport`] trait (in-process, stdio child, UNIX
//!   socket, loopback TCP) and the typed [`host::DeviceClient`].
//! * [`listener`] and [`file`](mod@file): a device served as its own process with its
//!   flash and monotonic cells in files (`armsledger-device serve`).
//! * `fault` (feature `fault-injection`, test builds only): power cuts, torn
//!   writes, bit flips, rollback, failing I/O, reboots; `kill`: a served
//!   device process that stops dead at the N-th storage I/O.
//!
//! docs/device-protocol.md specifies the protocol and flash layout byte by
//! byte; docs/threat-model.md says what the device guarantees and what not.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(all(feature = "fault-injection", not(debug_assertions)))]
compile_error!(
    "the `fault-injection` feature is for tests only and cannot be built into a release binary"
);

pub mod bench;
pub mod cli;
pub mod cobs;
pub mod factory;
#[cfg(feature = "fault-injection")]
pub mod fault;
pub mod file;
pub mod firmware;
pub mod host;
#[cfg(feature = "fault-injection")]
pub mod kill;
pub mod layout;
pub mod listener;
pub mod memory;
pub mod protocol;
pub mod rng;
pub mod state;
pub mod storage;

pub use factory::{DeviceSpec, manufacture};
pub use firmware::{BootError, Device, Platform};
pub use host::{DeviceClient, DeviceError, Transport};
pub use listener::SharedDevice;
pub use memory::memory_device;
pub use protocol::Status;
pub use state::{Lifecycle, LockReason, Receipt};
