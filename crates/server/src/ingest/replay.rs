//! Replaying the log into a fresh verifier: at start-up, and when a failed
//! commit left the verifier holding entries the log did not keep.

use std::sync::Arc;

use armsledger_core::LedgerVerifier;
use armsledger_core::rules::View;

use super::signatures::{still_valid, verify_entries};
use crate::state::Shared;

/// Replays the whole log into a fresh verifier and puts it in place.
/// Signatures are checked a chunk at a time with batch verification, with
/// the keys known at the chunk's start; an entry whose key the chunk itself
/// enrols is checked on its own.
pub fn rebuild_verifier(shared: &Shared) -> Result<(), armsledger_store::StoreError> {
    const CHUNK: u64 = 4096;
    let mut v = LedgerVerifier::new(
        shared.regulator_key(),
        shared.manufacturer_roots().to_vec(),
        View::Corrected,
    );
    let reader = shared.store().read()?;
    let size = reader.size();
    let mut from = 0;
    while from < size {
        let to = size.min(from.saturating_add(CHUNK));
        let mut chunk = Vec::new();
        for i in from..to {
            if let Some(s) = reader.entry(i)? {
                shared.note_received(s.received_at);
                chunk.push((i, Arc::new(s.entry), s.received_at));
            }
        }
        let refs: Vec<&armsledger_core::SignedEntry> = chunk.iter().map(|(_, e, _)| &**e).collect();
        let verified = verify_entries(v.keys(), &refs);
        for ((i, e, at), pre) in chunk.into_iter().zip(verified) {
            let r = if still_valid(v.keys(), &e, pre) {
                v.ingest_checked(e, Some(at)).map(|_| ())
            } else {
                v.ingest(e, Some(at)).map(|_| ())
            };
            if let Err(e) = r {
                tracing::error!(index = i, error = %e, "logged entry no longer verifies");
            }
        }
        from = to;
    }
    shared
        .metrics()
        .tree_size
        .set(i64::try_from(size).unwrap_or(i64::MAX));
    shared.replace_verifier(v);
    Ok(())
}
