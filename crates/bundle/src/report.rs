//! What the offline verifier found: serialisable for `armsledger verify --json`.

use serde::Serialize;

use armsledger_core::Hash;
use armsledger_core::rules::{Alert, Finding};

use armsledger_core::sig::batch::SignatureStats;

/// What kind of authenticity check failed. Stable names (snake_case in JSON).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ProblemKind {
    /// The file's framing is broken: magic, record header, size cap, payload, truncation.
    Framing,
    /// The End record's digest or count does not match (altered, spliced or cut).
    End,
    /// Records out of the order the format requires.
    Order,
    /// The Meta record is unusable (bad log key text).
    Meta,
    /// The checkpoint does not open with the trusted log key, or is malformed.
    Checkpoint,
    /// The entries do not hash to the checkpoint's root (full bundles).
    MerkleRoot,
    /// An inclusion proof does not lead to the checkpoint's root (scoped bundles).
    Inclusion,
    /// Log indexes are not what the scope requires (gaps, repeats, beyond the checkpoint).
    Index,
    /// The entry's bytes are not a valid entry.
    Entry,
    /// The device or regulator signature does not verify (`verify_strict`).
    Signature,
    /// Chain link, counter, key validity, enrolment or subject link is wrong.
    Chain,
    /// A single-weapon dossier's history is not one unbroken chain.
    Dossier,
    /// The checkpoint is smaller than the one trusted before: the log was rolled back.
    RolledBack,
    /// The checkpoint is not consistent with the one trusted before: the log forked.
    Forked,
    /// An equivocation record does not verify.
    Equivocation,
}

/// One authenticity failure, located as precisely as the bundle allows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// What failed.
    pub kind: ProblemKind,
    /// Record number in the file (Meta is 0), when one record is at fault.
    pub record: Option<u64>,
    /// Byte offset of that record.
    pub offset: Option<u64>,
    /// The entry's log index.
    pub log_index: Option<u64>,
    /// The chain (`regulator` or `site:<id>`).
    pub chain: Option<String>,
    /// The entry's counter on its chain.
    pub counter: Option<u64>,
    /// The entry hash, when the entry decodes.
    pub entry: Option<Hash>,
    /// Why, in words.
    pub reason: String,
}

impl Problem {
    /// A problem not tied to an entry.
    pub fn new(
        kind: ProblemKind,
        record: Option<u64>,
        offset: Option<u64>,
        reason: impl Into<String>,
    ) -> Self {
        Problem {
            kind,
            record,
            offset,
            log_index: None,
            chain: None,
            counter: None,
            entry: None,
            reason: reason.into(),
        }
    }
}

impl core::fmt::Display for Problem {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let kind = serde_json::to_value(self.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        write!(f, "{kind}")?;
        if let Some(r) = self.record {
            write!(f, " record {r}")?;
        }
        if let Some(i) = self.log_index {
            write!(f, " log index {i}")?;
        }
        if let Some(c) = &self.chain {
            write!(f, " {c}")?;
        }
        if let Some(c) = self.counter {
            write!(f, " counter {c}")?;
        }
        if let Some(h) = &self.entry {
            write!(f, " entry {}", h.short())?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// Where the log key the checkpoint was opened with came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeySource {
    /// Given by the caller (`--trusted-key`).
    Argument,
    /// Pinned in the trusted-state file when this log was first trusted.
    State,
    /// Taken from the bundle's own Meta record (trust on first use).
    Bundle,
    /// No usable key.
    None,
}

/// One chain seen in the bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChainSummary {
    /// `regulator` or `site:<id>`.
    pub chain: String,
    /// Entries of this chain that verified.
    pub entries: u64,
    /// Counter of the last verified entry.
    pub head_counter: Option<u64>,
    /// Hash of the last verified entry.
    pub head: Option<Hash>,
}

/// The checkpoint the bundle was checked against.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CheckpointSummary {
    /// Log origin.
    pub origin: String,
    /// Tree size.
    pub size: u64,
    /// Root hash, hex.
    pub root: String,
}

/// What happened to the trusted state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StateSummary {
    /// The state file, if one was used.
    pub path: Option<String>,
    /// Size of the checkpoint trusted before this run, if any.
    pub previous_size: Option<u64>,
    /// How consistency with it was shown, if it was.
    pub consistency: Option<String>,
    /// Whether the state was updated to this bundle's checkpoint.
    pub updated: bool,
}

/// A verified equivocation proof found in the bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EquivocationSummary {
    /// Record number.
    pub record: u64,
    /// Chain.
    pub chain: String,
    /// Device.
    pub device: String,
    /// Counter both statements claim.
    pub counter: u64,
    /// Whether the key is the one the regulator chain enrolled for that device.
    pub key_enrolled: bool,
}

/// A single-weapon dossier's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DossierSummary {
    /// The firearm id, hex.
    pub firearm: String,
    /// Events of the weapon in the dossier.
    pub events: u64,
    /// The first event (its acquisition), if present.
    pub first: Option<Hash>,
    /// The last event in the dossier.
    pub last: Option<Hash>,
}

/// The outcome of verifying one bundle.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    /// True when no authenticity check failed (findings do not count).
    pub authentic: bool,
    /// The bundle's scope, as the Meta record states it.
    pub scope: Option<String>,
    /// Entry records read.
    pub entries: u64,
    /// Entries whose every check passed.
    pub entries_checked: u64,
    /// The checkpoint, once it opened.
    pub checkpoint: Option<CheckpointSummary>,
    /// The log key the checkpoint was opened with (vkey text).
    pub trusted_key: Option<String>,
    /// Where that key came from.
    pub trusted_key_source: Option<KeySource>,
    /// Trusted-state outcome.
    pub state: StateSummary,
    /// Chains seen, sorted.
    pub chains: Vec<ChainSummary>,
    /// Rule findings, recomputed by the verifier (not authenticity failures).
    pub findings: Vec<Finding>,
    /// Soft-rule alerts as of the bundle's creation time (or the time asked for).
    pub alerts: Vec<Alert>,
    /// Verified equivocation proofs.
    pub equivocations: Vec<EquivocationSummary>,
    /// Findings the server listed in the bundle.
    pub server_findings: u64,
    /// The single-weapon history, for a dossier.
    pub dossier: Option<DossierSummary>,
    /// How signatures were checked.
    pub signatures: SignatureStats,
    /// Authenticity failures (empty when authentic).
    pub problems: Vec<Problem>,
    /// Problems beyond the report's cap, counted but not listed.
    pub problems_omitted: u64,
    /// Remarks that are not failures (key source mismatch, unreproduced server findings).
    pub notes: Vec<String>,
}

impl Report {
    /// True when every authenticity check passed (the CLI's exit 0).
    pub fn authentic(&self) -> bool {
        self.authentic
    }
}
