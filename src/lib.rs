//! armsledger facade
pub use armsledger_core as core;
