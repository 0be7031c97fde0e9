//! HTTP routes.

pub mod admin;
pub mod auth;
pub mod export;
pub mod extract;
pub mod ingest;
pub mod log;
pub mod query;
pub mod reports;
pub mod sync;
pub(crate) mod visibility;
