//! armsledger export bundles: the file `GET /v1/export` streams and
//! `armsledger verify` checks offline, with no network, years later.
//!
//! A bundle is a magic line and a sequence of self-delimiting records, each
//! `kind (u8) || length (u32, big-endian) || payload`:
//!
//! ```text
//! 61726d736c65646765722d62756e646c652f76330a   "armsledger-bundle/v3\n"
//! 01 00000098 1c6c65646765722e...80d0eab6b733   Meta: origin, log key, regulator key, roots, scope, created_at
//! 02 000000cb 6c65646765722e6578...             the signed checkpoint note everything is checked against
//! 08 ........ <key><value length><value><proof> a chain's or the weapon's index leaf and proof (scoped bundles)
//! 04 000000e3 0000000000000000 0000...  <entry> index, then the log leaf: received_at ‖ entry bytes
//! 05 ........ <index><n><n hashes>              its inclusion proof (scoped bundles only)
//! 07 ........ <postcard ServerFinding>          a finding the server raised on accepting it (any number)
//! 06 ........ <postcard Equivocation>           the proof its device key signed another entry at its counter
//! ff 00000028 0000000000000001 a86076eb...      End: entry count, SHA-256 of every byte before it
//! ```
//!
//! docs/formats.md ("Bundles") specifies every record byte by byte with a
//! worked example that `tests/bundle/doc.rs` checks against the code.
//!
//! * [`BundleWriter`] and [`BundleReader`]: streaming, neither side holds the file.
//! * [`verify_bundle`]: the offline verifier; returns a [`Report`]. Its
//!   signatures are checked with `armsledger_core::sig::batch`.
//! * [`TrustedState`]: the last checkpoint trusted per log, to refuse rollbacks and forks.
//! * [`MemoryLog`], [`write_bundle`], [`full_bundle`]: bundles from a log in memory.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod build;
mod error;
mod format;
mod reader;
mod report;
mod state;
mod verify;
mod writer;

pub use build::{BundleSpec, MemoryLog, full_bundle, write_bundle};
pub use error::BundleError;
pub use format::{
    ConsistencyRecord, END_BYTES, EndRecord, EntryRecord, InclusionRecord, IndexLeavesRecord, Kind,
    Located, MAGIC, MAGIC_V1, MAGIC_V2, MAX_CHECKPOINT_BYTES, MAX_ENTRY_BYTES,
    MAX_ENTRY_PAYLOAD_BYTES, MAX_EQUIVOCATION_BYTES, MAX_FINDING_BYTES,
    MAX_INDEX_LEAVES_PER_RECORD, MAX_MAP_PROOF_BYTES, MAX_META_BYTES, MAX_PROOF_BYTES,
    MAX_PROOF_HASHES, MapProofRecord, Meta, RECORD_HEADER_BYTES, Record, Scope, ServerFinding,
};
pub use reader::BundleReader;
pub use report::{
    ChainSummary, CheckpointSummary, Completeness, Cosigner, DossierSummary, EquivocationSummary,
    KeySource, LotDossierSummary, LotSiteSummary, MAX_LISTED, Problem, ProblemKind, ProofBasis,
    Report, ServerRecords, SplitView, StateSummary, Warning, WarningKind, WitnessSummary,
};
pub use state::{STATE_FORMAT, TrustedLog, TrustedState, default_state_path};
pub use verify::{ProgressFn, VerifyOptions, verify_bundle};
pub use writer::BundleWriter;

/// The releases that verify bundles of format epoch 1 (`armsledger-bundle/v1`),
/// named in [`BundleError::FormatRetired`].
pub const EPOCH_1_RELEASE: &str = "an armsledger release of format epoch 1 (git tag `epoch-1`, the last commit before leaf format v2)";
