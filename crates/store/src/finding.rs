//! Findings as stored: the rules engine's `Finding` with an owned kind, so it
//! can be read back (the core type borrows a `&'static str` and only
//! serializes).

use armsledger_core::entry::ChainId;
use armsledger_core::hash::Hash;
use armsledger_core::ids::Timestamp;
use armsledger_core::rules::{Finding, RuleId};
use serde::{Deserialize, Serialize};

/// A hard-rule violation recorded against a validly signed entry, as kept in
/// the `findings` table (postcard).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredFinding {
    /// The rule.
    pub rule: RuleId,
    /// The chain.
    pub chain: ChainId,
    /// The entry's counter.
    pub counter: u64,
    /// The entry.
    pub entry: Hash,
    /// Event kind.
    pub kind: String,
    /// Device time of the act.
    pub time: Timestamp,
    /// What the ledger shows.
    pub evidence: String,
    /// The override entry that authorised it as an exception, if any.
    pub overridden_by: Option<Hash>,
}

impl From<&Finding> for StoredFinding {
    fn from(f: &Finding) -> Self {
        StoredFinding {
            rule: f.rule,
            chain: f.chain.clone(),
            counter: f.counter,
            entry: f.entry,
            kind: f.kind.to_owned(),
            time: f.time,
            evidence: f.evidence.clone(),
            overridden_by: f.overridden_by,
        }
    }
}
