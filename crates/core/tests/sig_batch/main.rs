//! The batch signature verifier (`armsledger_core::sig::batch`) against
//! `verify_strict`, verdict by verdict: the hand-written batch equation
//! (`batch`) and the signatures built to fool a batch (`strict`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod batch;
mod strict;
