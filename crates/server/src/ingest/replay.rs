//! Replaying the log into a fresh verifier: at start-up, and when a failed
//! commit left the verifier holding entries the log did not keep.

use std::sync::Arc;

use armsledger_core::LedgerVerifier;
use armsledger_core::rules::View;

use super::signatures::{still_valid, verify_entries};
use crate::state::Shared;

/// Replays the whole log into a fresh verifier and puts it in place.
pub fn rebuild_verifier(shared: &Shared) -> Result<(), armsledger_store::StoreError> {
    replay_from(shared, None, 0).map(|_| ())
}

/// Replays the log from entry `start` into `verifier` (a fresh one when
/// `None`, with `start` 0) and puts it in place; returns how many entries
/// it replayed. Signatures are checked a chunk at a time with batch
/// verification, with the keys known at the chunk's start; an entry whose
/// key the chunk itself enrols is checked on its own. The verifier reads
/// its history back from the log ([`crate::snapshots::LogHistory`]): it
/// holds no more than a chunk of entries at a time.
pub fn replay_from(
    shared: &Shared,
    verifier: Option<LedgerVerifier>,
    start: u64,
) -> Result<u64, armsledger_store::StoreError> {
    let (v, replayed) = replay_onto(shared, verifier, start)?;
    shared.replace_verifier(v);
    Ok(replayed)
}

/// [`replay_from`] without putting the verifier in place: it is returned
/// (for a caller that holds the verifier's lock) with how many entries it
/// replayed.
pub(crate) fn replay_onto(
    shared: &Shared,
    verifier: Option<LedgerVerifier>,
    start: u64,
) -> Result<(LedgerVerifier, u64), armsledger_store::StoreError> {
    const CHUNK: u64 = 4096;
    let (mut v, start) = match verifier {
        Some(v) => (v, start),
        None => (
            LedgerVerifier::new(
                shared.regulator_key(),
                shared.manufacturer_roots().to_vec(),
                View::Corrected,
            ),
            0,
        ),
    };
    // A correction refolds from the nearest snapshot before its target.
    let kept = shared
        .snapshots()
        .enabled()
        .then(|| crate::snapshots::SnapshotChecks::of(shared));
    let history = crate::snapshots::LogHistory::with_snapshots(
        shared.store_arc(),
        kept,
        shared.metrics().snapshots.clone(),
    );
    v.read_history_from(history.clone());
    let reader = shared.store().read()?;
    let size = reader.size();
    let mut from = start;
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
            history.applied_to(i);
            let r = if still_valid(v.keys(), &e, pre) {
                v.ingest_checked(e, Some(at)).map(|_| ())
            } else {
                v.ingest(e, Some(at)).map(|_| ())
            };
            if let Err(e) = r {
                history.skip(i);
                tracing::error!(index = i, error = %e, "logged entry no longer verifies");
            }
        }
        v.history_committed();
        if let Some(e) = v.take_history_fault() {
            return Err(armsledger_store::StoreError::StorageFailed(
                redb::Error::Io(std::io::Error::other(e.to_string())),
            ));
        }
        from = to;
    }
    history.applied_to(u64::MAX);
    shared
        .metrics()
        .tree_size
        .set(i64::try_from(size).unwrap_or(i64::MAX));
    v.history_committed();
    Ok((v, size.saturating_sub(start)))
}
