//! Integration tests of armsledger-store: the global log (append, reads,
//! proofs against a naive tree, checkpoints, tampering, crashes) and the
//! site ledger (write-ahead intents, recovery, sync).

// clippy.toml allows these inside `#[test]` functions; the shared helpers of
// this test crate need them too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod armoury;
mod checkpoint;
mod common;
mod crash;
mod dictionary;
mod docs;
mod format;
mod index;
mod log_basic;
mod proofs;
mod tamper;
