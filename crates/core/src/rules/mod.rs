//! The rules engine: folds verified entries into state and judges each act
//! against the hard rules of the trade; computes soft alerts for a given time.
//! docs/rules.md lists every rule with the standard it comes from.

mod alerts;
mod apply;
mod check;
mod engine;
mod ids;
pub mod state;

pub use alerts::{Alert, AlertPolicy, alerts};
pub use check::{Act, Violation, evaluate};
pub use engine::{Engine, Finding, View};
pub use ids::RuleId;
