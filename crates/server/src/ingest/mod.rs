//! Ingest: two threads in a pipeline.
//!
//! Requests queue batches. The **signature stage** takes every batch waiting
//! (up to a limit) as one group and checks all its signatures at once with
//! batch verification on the rayon pool (`armsledger_core::sig::batch`,
//! whose verdict is exactly `verify_strict`'s). The **sequencer** then checks
//! each batch as a whole against the chain state (nothing of a batch is kept
//! if one entry fails), applies it to the rules engine, and writes the whole
//! group in one durable redb transaction. Each request is answered only after
//! that commit.
//!
//! While the sequencer processes and commits group N, the signature stage
//! verifies group N+1. Keys are looked up for that ahead of time, so a
//! verdict is only a claim "this signature holds under key K"; the sequencer
//! uses it only if K is still the key its registry assigns to the entry when
//! the entry's turn comes (enrolments, retirements and revocations in group N
//! apply to group N+1). Every other entry is checked in full then.

mod replay;
mod sequencer;
mod signatures;

pub(crate) use replay::replay_onto;
pub use replay::{rebuild_verifier, replay_from};

use std::sync::Arc;
use std::sync::mpsc as std_mpsc;

use tokio::sync::mpsc;

use crate::queue::Job;
use crate::state::Shared;

/// Starts the signature stage and the sequencer.
pub fn spawn(
    shared: Arc<Shared>,
    mut rx: mpsc::Receiver<Job>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    // A rendezvous channel: the signature stage runs at most one group ahead.
    let (tx, verified) = std_mpsc::sync_channel::<signatures::Verified>(0);
    let seq = shared.clone();
    std::thread::Builder::new()
        .name("sequencer".into())
        .spawn(move || {
            while let Ok(group) = verified.recv() {
                sequencer::run_group(&seq, group);
            }
        })?;
    std::thread::Builder::new()
        .name("signatures".into())
        .spawn(move || {
            while let Some(first) = rx.blocking_recv() {
                let mut group = vec![first];
                let mut n = group.first().map_or(0, |j| j.entries.len());
                while n < shared.config().group_commit_max_entries {
                    match rx.try_recv() {
                        Ok(j) => {
                            n += j.entries.len();
                            group.push(j);
                        }
                        Err(_) => break,
                    }
                }
                shared
                    .metrics()
                    .queue_depth
                    .set(i64::try_from(rx.len()).unwrap_or(i64::MAX));
                let Some(group) = sequencer::refuse_while_faulty(&shared, group) else {
                    continue;
                };
                if tx.send(signatures::verify(&shared, group)).is_err() {
                    break;
                }
            }
        })
}
