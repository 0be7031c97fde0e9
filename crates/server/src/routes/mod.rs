//! HTTP routes.

pub mod admin;
pub mod auth;
pub mod export;
pub mod extract;
pub mod ingest;
pub mod log;
pub mod lot;
pub mod notes;
pub mod query;
pub mod register;
pub mod reports;
pub mod sync;
pub(crate) mod visibility;
