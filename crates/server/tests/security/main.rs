//! Regression tests for issue 13's server and access-control findings,
//! driven in process: who may write which chain and what that costs, what
//! a trace or dossier shows to whom, the pinned manufacturer root, the
//! permissions of secret files, and the bounds on slow or stalled clients.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::expect_used,
    clippy::panic
)]

mod access;
mod access_log;
mod common;
mod files;
mod limits;
mod lot_dossier;
mod lot_scope;
mod lot_trace;
mod map_stage;
mod need_to_know;
mod scope;
