//! Integration tests of armsledger-log: known-answer vectors, properties,
//! cross-checks against `tlog_tiles` / `signed_note`, and the worked
//! examples of `docs/log.md`.

// clippy.toml allows these inside `#[test]` functions; the shared helpers and
// oracles of this test crate need them too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod checkpoint;
mod cosignature;
mod cross;
mod kat;
mod leaf;
mod props;
mod reference;
mod tlog_proof;
