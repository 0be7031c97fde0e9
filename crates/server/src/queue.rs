//! What a request hands the ingest pipeline ([`Job`]) and what it gets
//! back for each entry ([`Logged`]). The routes queue jobs through
//! [`crate::Shared`]; the pipeline in [`crate::ingest`] answers them.

use std::sync::Arc;

use armsledger_core::entry::SignedEntry;
use armsledger_core::hash::Hash;
use armsledger_core::rules::Finding;
use serde::Serialize;
use tokio::sync::oneshot;

use crate::error::ApiError;

/// One logged entry in a receipt.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Logged {
    /// Its log index (Merkle leaf index).
    pub index: u64,
    /// Its entry hash (hex).
    #[schema(value_type = String)]
    pub hash: Hash,
    /// `logged` if new, `duplicate` if it was already in the log.
    pub status: &'static str,
    /// Compliance findings raised against it (evidence, not refusal).
    #[schema(value_type = Vec<Object>)]
    pub findings: Vec<Finding>,
}

/// A batch waiting for the sequencer.
pub struct Job {
    /// Decoded entries, in chain order.
    pub entries: Vec<Arc<SignedEntry>>,
    /// Where the answer goes.
    pub reply: oneshot::Sender<Result<Vec<Logged>, ApiError>>,
}
