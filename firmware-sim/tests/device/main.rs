//! Integration tests of the signing device: one binary, themed modules.
//!
//! * `conformance`: one suite run against every transport.
//! * `crash`: random commands, power cuts, reboots and rollbacks against an
//!   independent checker.
//! * `process_crash`: a real device process killed at every storage I/O of
//!   every state-changing command, restarted on its files, checked.
//! * `attacks`: replay, forks, rolled-back flash files, bad frames.
//! * `vectors`: golden frames under tests/vectors/device.
//! * `cli`: the `armsledger-device` command line.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod attacks;
mod cli;
mod common;
mod conformance;
mod crash;
mod process_crash;
mod vectors;
