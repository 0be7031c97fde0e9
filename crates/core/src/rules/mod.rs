//! The rules engine: folds verified entries into state and judges each act
//! against the hard rules of the trade; computes soft alerts for a given time.
//! docs/rules.md lists every rule with the standard it comes from.
//!
//! * `check`: [`evaluate`], the checks every site act shares, in order;
//! * `events`: one module per family of site events, each event's checks
//!   beside its effect on the state, and the one dispatch (`rules_of`);
//! * `engine`: [`Engine`], which folds entries, credits overrides and
//!   replays corrections; `state`: what is folded; `alerts`: the soft rules;
//! * `oversight`: the regulator's inspections, findings, sanctions,
//!   complaints and vetting, a company's standing, and the checks on the
//!   regulator's own acts.

mod alerts;
mod check;
mod engine;
mod events;
mod ids;
pub mod oversight;
pub mod state;

pub use alerts::{Alert, AlertPolicy, alerts};
pub use check::{Act, Violation, evaluate};
pub(crate) use engine::Lookup;
pub use engine::{Engine, Finding, HistoryError, HistoryItem, HistorySource, Refold, View};
pub use ids::{AlertSeverity, RuleId};
pub use oversight::check_regulator;
