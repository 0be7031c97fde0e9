//! Integration tests of armsledger-witness.
//!
//! * `conformance`: one test per status code and rule of C2SP tlog-witness,
//!   each run in-process (`oneshot`) and over a real loopback server.
//! * `concurrency`: racing submissions for one log; exactly one wins.
//! * `process_crash`: a real witness process killed at every persist point
//!   and every storage I/O never cosigns two roots for one size.
//! * `interop`: our cosignatures checked by the `sigsum` crate; the
//!   litewitness-style request/response cases in `tests/data/`.
//! * `client`: the client against our witness and against canned replies
//!   (409 with a size, 422 and the older 409 for a split view, retries).

// clippy.toml allows these inside `#[test]` functions; the shared helpers
// of this test crate need them too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod client;
mod common;
mod concurrency;
mod conformance;
mod interop;
mod process_crash;
