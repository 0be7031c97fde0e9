//! What the offline verifier found: serialisable for `armsledger verify --json`.

use serde::Serialize;

use armsledger_core::Hash;
use armsledger_core::rules::{Alert, Finding};
use armsledger_core::sig::batch::SignatureStats;

use crate::format::ServerFinding;

/// Most items of one kind a report lists (equivocations, unreproduced
/// server findings); the rest are counted.
pub const MAX_LISTED: usize = 1000;

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
    /// An equivocation record does not verify, or does not belong to the
    /// entry it follows (another counter, another key).
    Equivocation,
    /// A server record (a finding) that does not belong to the bundle: it
    /// follows no entry, or names an entry the bundle does not hold.
    ServerRecord,
    /// The trusted state pinned another log key for this origin: another log
    /// (or a new key) under a known name. `--trust-new-log` trusts it on purpose.
    LogKeyChanged,
    /// The checkpoint does not carry the `--policy` quorum of valid witness
    /// cosignatures (or its log is not in the policy): it may be one side of
    /// a split view.
    QuorumNotMet,
    /// The checkpoint's verifiable-index root is not the one the entries of
    /// a full bundle give (docs/log.md section 11): a wrong index.
    IndexRoot,
    /// An index proof does not verify against the checkpoint's index root,
    /// or the leaf it proves contradicts the entries of the bundle.
    IndexProof,
    /// A chain of a site, company or dossier bundle stops short of the
    /// newest entry the checkpoint's verifiable index commits to: newer
    /// entries exist and were left out.
    StopsShort,
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
    /// Pinned in the trusted-state file when this log was first trusted
    /// (the date is [`Report::trusted_key_pinned_at`]).
    State,
    /// Taken from the bundle's own Meta record: nothing checked it (trust on
    /// first use; a warning says so).
    Bundle,
    /// No usable key.
    None,
}

impl KeySource {
    /// Why the key is trusted, in words (`pinned_at`: the pin date, if known).
    pub fn describe(self, pinned_at: Option<&str>) -> String {
        match (self, pinned_at) {
            (KeySource::Argument, _) => "trusted because you passed --trusted-key".into(),
            (KeySource::State, Some(at)) => format!(
                "pinned on {} in the trusted state",
                at.get(..10).unwrap_or(at)
            ),
            (KeySource::State, None) => "pinned in the trusted state (date not recorded)".into(),
            (KeySource::Bundle, _) => "taken from the bundle itself: nothing checked it".into(),
            (KeySource::None, _) => "no usable key".into(),
        }
    }
}

/// What a bundle proves about one chain (or one dossier weapon) being
/// complete up to the checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Completeness {
    /// Every entry up to the checkpoint is in the bundle, and it is proven.
    Proven {
        /// What proves it.
        basis: ProofBasis,
    },
    /// No entry is missing between the first (counter 1, or the weapon's
    /// acquisition) and the last present, but nothing proves that the last
    /// present is the newest up to the checkpoint: newer entries may have
    /// been left out. A warning says so.
    NoGapsEndUnproven,
    /// In a dossier: only this chain's entries about the weapon, by design;
    /// the weapon's own history is judged in [`DossierSummary::completeness`].
    /// In a bundle for a company or site: the regulator entries it may see.
    Excerpt,
    /// The verifiable index at the checkpoint proves the history goes on
    /// past the last entry present: the bundle stops short (a warning of
    /// kind `newer_entries_exist` names it).
    NewerEntriesExist {
        /// Log index of the newest entry of the history, as the index commits to it.
        newest_index: u64,
        /// Its counter (a chain) or its number in the weapon's history (a dossier).
        newest_seq: u64,
    },
}

/// What proves a chain complete up to the checkpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ProofBasis {
    /// A full bundle: every leaf up to the checkpoint was hashed to its root,
    /// so no entry of any chain can be missing.
    FullLog,
    /// The verifiable index at the checkpoint (its root signed in the
    /// checkpoint's index line) commits to the last entry present as the
    /// history's newest (docs/log.md section 11).
    Index,
}

impl Completeness {
    /// Whether it is proven.
    pub fn is_proven(&self) -> bool {
        matches!(self, Completeness::Proven { .. })
    }
}

/// One chain of the bundle's scope.
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
    /// Whether the chain is complete up to the checkpoint, or only has no gap.
    pub completeness: Completeness,
}

/// What a warning is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum WarningKind {
    /// A chain or dossier weapon whose newest entries may have been left out.
    EndUnproven,
    /// A chain or dossier weapon the verifiable index proves to go on past
    /// the bundle's last entry of it: newer entries were left out.
    NewerEntriesExist,
    /// The log key came from the bundle itself.
    LogKeyUnchecked,
}

/// Something an authentic bundle does not prove, which a reader must see.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// What it is about.
    pub kind: WarningKind,
    /// The chain (`regulator`, `site:<id>`) or `firearm:<id>`, if one.
    pub subject: Option<String>,
    /// In words, with what to do.
    pub message: String,
}

/// The findings and equivocation proofs the server wrote into the bundle,
/// and what the verifier made of them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ServerRecords {
    /// Finding records read.
    pub findings: u64,
    /// Findings the verifier raised too, on the same entry with the same rule.
    pub reproduced: u64,
    /// Findings naming an entry of the bundle that the verifier did not raise.
    pub not_reproduced: u64,
    /// Findings of a dossier, where the rules are not re-run (no chain neighbours).
    pub not_rechecked: u64,
    /// The findings not reproduced, at most [`MAX_LISTED`].
    pub not_reproduced_listed: Vec<ServerFinding>,
    /// Equivocation records read.
    pub equivocations: u64,
    /// Records following an entry that failed its own checks (not examined).
    pub unchecked: u64,
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

/// A verified equivocation proof found in the bundle: the key the regulator
/// chain enrolled for an entry of the bundle signed another statement for
/// the same counter (a cloned or broken device).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EquivocationSummary {
    /// Record number.
    pub record: u64,
    /// Chain.
    pub chain: String,
    /// Device.
    pub device: String,
    /// Key epoch on the device.
    pub key_epoch: u32,
    /// Counter both statements claim.
    pub counter: u64,
    /// The entry the log holds at that counter (in the bundle).
    pub entry: Hash,
    /// The hash of the other statement's header.
    pub other: Hash,
    /// The enrolled key that signed both, hex.
    pub public_key: String,
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
    /// Whether the weapon's history is complete up to the checkpoint.
    pub completeness: Completeness,
}

/// An ammunition lot dossier's history: one link chain per site that
/// held the lot (the lot's subject key is (site, lot)).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LotDossierSummary {
    /// The lot id, hex.
    pub lot: String,
    /// Acts on the lot in the dossier (entries linking it; the counts that
    /// saw it are checked but not counted, as the index counts acts only).
    pub events: u64,
    /// Per site that acted on the lot: its acts in the dossier and the last one.
    pub sites: Vec<LotSiteSummary>,
    /// Whether every site's history is complete up to the checkpoint:
    /// `proven` only when the index commits to every site's last event.
    pub completeness: Completeness,
}

/// One site's part of a lot dossier.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LotSiteSummary {
    /// The site's chain, `site:…`.
    pub chain: String,
    /// Its acts on the lot in the dossier (the index leaf's sequence number).
    pub events: u64,
    /// Its last act on the lot in the dossier.
    pub last: Option<Hash>,
    /// Whether the index proves `last` is the site's newest act on the lot.
    pub completeness: Completeness,
}

/// The checkpoint's witness cosignatures, checked against a policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WitnessSummary {
    /// The policy's quorum (`None`: `quorum none`).
    pub quorum: Option<String>,
    /// Policy witnesses whose cosignature verified, with its timestamp (Unix seconds).
    pub cosigned: Vec<Cosigner>,
    /// Whether those cosigners meet the quorum.
    pub quorum_met: bool,
}

/// One witness whose cosignature verified.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Cosigner {
    /// Its name in the policy.
    pub name: String,
    /// The cosignature's timestamp, Unix seconds.
    pub timestamp: u64,
}

/// Two checkpoints of one log and one size with different roots, each
/// validly signed by the log: evidence that the log showed two histories.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SplitView {
    /// The log's origin.
    pub origin: String,
    /// The size both claim.
    pub size: u64,
    /// The note trusted before (from the trusted state).
    pub trusted_note: String,
    /// This bundle's note.
    pub offered_note: String,
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
    /// When the trusted state pinned that key (RFC 3339), if it did and
    /// recorded the date.
    pub trusted_key_pinned_at: Option<String>,
    /// Trusted-state outcome.
    pub state: StateSummary,
    /// The chains of the bundle's scope (those seen, and those the scope
    /// must hold even when none of their entries is present), sorted.
    pub chains: Vec<ChainSummary>,
    /// Rule findings, recomputed by the verifier (not authenticity failures).
    pub findings: Vec<Finding>,
    /// Soft-rule alerts as of the bundle's creation time (or the time asked for).
    pub alerts: Vec<Alert>,
    /// Verified equivocation proofs, at most [`MAX_LISTED`].
    pub equivocations: Vec<EquivocationSummary>,
    /// Verified equivocation proofs beyond those listed.
    pub equivocations_omitted: u64,
    /// The server's findings and equivocation records, as checked.
    pub server: ServerRecords,
    /// The single-weapon history, for a dossier.
    pub dossier: Option<DossierSummary>,
    /// The lot's history, for a lot dossier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lot_dossier: Option<LotDossierSummary>,
    /// The witness cosignatures, when checked against a `--policy`.
    pub witnesses: Option<WitnessSummary>,
    /// Two different checkpoints of one size: the one trusted before and
    /// this bundle's. Both notes, as evidence of a split view.
    pub split_view: Option<SplitView>,
    /// How signatures were checked.
    pub signatures: SignatureStats,
    /// Authenticity failures (empty when authentic).
    pub problems: Vec<Problem>,
    /// Problems beyond the report's cap, counted but not listed.
    pub problems_omitted: u64,
    /// What an authentic bundle does not prove (unproven chain ends, a log
    /// key nothing checked). Printed as WARNING lines.
    pub warnings: Vec<Warning>,
    /// Remarks that are neither failures nor warnings.
    pub notes: Vec<String>,
    /// Sealed notes erased by a `NotesErased` entry of the bundle: their
    /// entries still verify; each reads "note erased on DATE under ORDER".
    pub erased_notes: Vec<armsledger_core::note::NoteView>,
}

impl Report {
    /// True when every authenticity check passed (the CLI's exit 0).
    pub fn authentic(&self) -> bool {
        self.authentic
    }
}
