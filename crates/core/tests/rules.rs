//! The rules engine, judged from signed ledgers: every hard rule fires on the
//! act that breaks it (and only on that entry) and stays quiet on the closest
//! legal act (`rules/cases.rs`, one table); overrides, corrections, the soft
//! alerts at and around their deadlines, and the state behind findings.
// Test helpers outside #[test] fns: clippy.toml's in-test allowances do not reach them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "rules/alerts.rs"]
mod alerts;
#[path = "rules/cases.rs"]
mod cases;
mod common;
#[path = "rules/corrections.rs"]
mod corrections;
#[path = "rules/fixtures.rs"]
mod fixtures;
#[path = "rules/overrides.rs"]
mod overrides;
#[path = "rules/oversight.rs"]
mod oversight;
#[path = "rules/register.rs"]
mod register;
#[path = "rules/scope.rs"]
mod scope;
#[path = "rules/state.rs"]
mod state;
