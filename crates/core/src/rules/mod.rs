//! The rules engine: folds verified entries into state and judges each act
//! against the hard rules of the trade; computes soft alerts for a given time.

mod ids;

pub use ids::RuleId;
