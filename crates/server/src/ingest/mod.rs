//! Ingest: two threads in a pipeline.
//!
//! Requests queue batches. The **signature stage** takes the batches waiting
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
//!
//! Each call to `verify_all` pays a fixed cost (the torsion test of the `R`
//! points), so the signature stage makes its calls large: while the
//! sequencer is busy with group N it keeps gathering batches for group N+1
//! (see [`Gather`]), stopping when the sequencer is idle, when what it
//! holds would take as long to verify as the sequencer has left on its
//! group (estimated from the last group and the last call), at
//! `group_commit_max_entries`, or after `signature_gather_ms`. An idle
//! sequencer is never kept waiting for a gather.

mod replay;
mod sequencer;
mod signatures;

pub(crate) use replay::replay_onto;
pub use replay::{rebuild_verifier, replay_from};

use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

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
    let pace = Arc::new(Pace::default());
    let seq_pace = pace.clone();
    let handle = std::thread::Builder::new()
        .name("signatures".into())
        .spawn(move || {
            let mut gather = Gather::new(shared.config().signature_gather_ms);
            while let Some(first) = rx.blocking_recv() {
                let mut group = vec![first];
                let cap = shared.config().group_commit_max_entries;
                gather.more(&mut rx, &mut group, cap, &pace);
                shared
                    .metrics()
                    .queue_depth
                    .set(i64::try_from(rx.len()).unwrap_or(i64::MAX));
                let Some(group) = sequencer::refuse_while_faulty(&shared, group) else {
                    continue;
                };
                let started = Instant::now();
                let n = entries_in(&group);
                let verified = signatures::verify(&shared, group);
                gather.verified(n, started.elapsed());
                if tx.send(verified).is_err() {
                    break;
                }
            }
        })?;
    let waker = handle.thread().clone();
    std::thread::Builder::new()
        .name("sequencer".into())
        .spawn(move || {
            while let Ok(group) = verified.recv() {
                let started = seq_pace.start();
                sequencer::run_group(&seq, group);
                seq_pace.done(started);
                // A gather waiting on this group stops now.
                waker.unpark();
            }
        })?;
    Ok(handle)
}

fn entries_in(group: &[Job]) -> usize {
    group.iter().map(|j| j.entries.len()).sum()
}

/// What the signature stage knows of the sequencer's pace.
#[derive(Default)]
struct Pace {
    state: Mutex<PaceState>,
}

#[derive(Default, Clone, Copy)]
struct PaceState {
    /// When the sequencer took the group it is on; `None` while idle.
    busy_since: Option<Instant>,
    /// How long its last group took.
    last: Duration,
}

impl Pace {
    fn start(&self) -> Instant {
        let now = Instant::now();
        self.lock().busy_since = Some(now);
        now
    }

    fn done(&self, started: Instant) {
        let mut s = self.lock();
        s.busy_since = None;
        s.last = started.elapsed();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PaceState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// When the sequencer is expected to finish its group, if it is busy.
    fn expected_free(&self) -> Option<Instant> {
        let s = *self.lock();
        s.busy_since.map(|t| t + s.last)
    }
}

/// Wakes the signature stage's thread when a job is queued.
struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// The signature stage's gathering of one group (see the module docs).
struct Gather {
    max_wait: Duration,
    /// The last call's size and duration, for the estimate of the next.
    last: Option<(usize, Duration)>,
    waker: Waker,
}

impl Gather {
    fn new(max_wait_ms: u64) -> Self {
        Gather {
            max_wait: Duration::from_millis(max_wait_ms),
            last: None,
            waker: Waker::from(Arc::new(Unpark(std::thread::current()))),
        }
    }

    /// Notes a call of `n` entries that took `took`.
    fn verified(&mut self, n: usize, took: Duration) {
        self.last = Some((n.max(1), took));
    }

    /// How long `n` entries are expected to take to verify.
    fn estimate(&self, n: usize) -> Duration {
        match self.last {
            // Per entry, from the last call (its fixed cost included, so an
            // estimate for a larger call errs long: the gather stops early).
            Some((m, took)) => took.mul_f64(n as f64 / m as f64),
            None => Duration::MAX,
        }
    }

    /// Adds the jobs waiting to `group`, then, while the sequencer is busy
    /// and the group can still be verified before it is free, waits for
    /// more (never past `max_wait`, never beyond `cap` entries).
    fn more(
        &mut self,
        rx: &mut mpsc::Receiver<Job>,
        group: &mut Vec<Job>,
        cap: usize,
        pace: &Pace,
    ) {
        let mut n = entries_in(group);
        let deadline = Instant::now() + self.max_wait;
        let mut cx = Context::from_waker(&self.waker);
        while n < cap {
            match rx.poll_recv(&mut cx) {
                Poll::Ready(Some(j)) => {
                    n += j.entries.len();
                    group.push(j);
                    continue;
                }
                Poll::Ready(None) => return,
                // Nothing waiting: the waker is registered for the next job.
                Poll::Pending => {}
            }
            let now = Instant::now();
            let Some(free) = pace.expected_free() else {
                return;
            };
            let Some(stop) = free
                .checked_sub(self.estimate(n))
                .map(|t| t.min(deadline))
                .filter(|t| *t > now)
            else {
                return;
            };
            // Woken by a job, by the sequencer finishing, or at `stop`.
            std::thread::park_timeout(stop - now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::oneshot;

    fn job(n: usize) -> Job {
        let s = armsledger_core::testkit::Scenario::standard();
        let e = s.log.first().cloned().unwrap_or_else(|| unreachable!());
        let (reply, _) = oneshot::channel();
        Job {
            entries: vec![e; n],
            reply,
        }
    }

    /// A sequencer busy for a long while yet.
    fn busy() -> Pace {
        let pace = Pace::default();
        {
            let mut s = pace.lock();
            s.busy_since = Some(Instant::now());
            s.last = Duration::from_secs(3600);
        }
        pace
    }

    #[test]
    fn while_the_sequencer_is_busy_the_gather_waits_for_more() {
        let (tx, mut rx) = mpsc::channel(8);
        let mut gather = Gather::new(3_600_000);
        gather.verified(100, Duration::from_millis(1));
        let pace = busy();
        // The second batch is queued only once the gather waits for it.
        let sender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            tx.blocking_send(job(3)).is_ok()
        });
        let mut group = vec![job(2)];
        gather.more(&mut rx, &mut group, 5, &pace);
        assert!(sender.join().unwrap());
        assert_eq!(group.len(), 2);
        assert_eq!(entries_in(&group), 5);
    }

    #[test]
    fn an_idle_sequencer_is_not_kept_waiting() {
        let (tx, mut rx) = mpsc::channel(8);
        let mut gather = Gather::new(3_600_000);
        gather.verified(100, Duration::from_millis(1));
        let pace = Pace::default();
        // What is waiting is taken; nothing more is waited for (a gather
        // that waited would block this test until the channel closed).
        tx.try_send(job(1)).unwrap();
        let mut group = vec![job(2)];
        gather.more(&mut rx, &mut group, 100, &pace);
        assert_eq!(entries_in(&group), 3);
        drop(tx);
    }

    #[test]
    fn the_gather_stops_when_the_sequencer_finishes() {
        let (_tx, mut rx) = mpsc::channel::<Job>(8);
        let mut gather = Gather::new(3_600_000);
        gather.verified(100, Duration::from_millis(1));
        let pace = Arc::new(busy());
        let seq = pace.clone();
        let me = std::thread::current();
        let sequencer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            seq.done(Instant::now());
            me.unpark();
        });
        let mut group = vec![job(2)];
        gather.more(&mut rx, &mut group, 100, &pace);
        sequencer.join().unwrap();
        assert!(pace.expected_free().is_none());
        assert_eq!(group.len(), 1);
    }

    #[test]
    fn no_gather_without_an_estimate_or_past_the_cap() {
        let (tx, mut rx) = mpsc::channel(8);
        let pace = busy();
        // The first call: no estimate of its cost yet.
        let mut first = Gather::new(3_600_000);
        let mut group = vec![job(2)];
        first.more(&mut rx, &mut group, 100, &pace);
        assert_eq!(group.len(), 1);
        // At the cap, nothing more is taken even though a batch waits.
        let mut gather = Gather::new(3_600_000);
        gather.verified(100, Duration::from_millis(1));
        tx.try_send(job(1)).unwrap();
        let mut group = vec![job(4)];
        gather.more(&mut rx, &mut group, 4, &pace);
        assert_eq!(group.len(), 1);
        assert_eq!(rx.len(), 1);
    }

    #[test]
    fn the_gather_stops_in_time_to_verify_before_the_sequencer_is_free() {
        let (_tx, mut rx) = mpsc::channel::<Job>(8);
        let mut gather = Gather::new(3_600_000);
        // The last call: 1 entry in an hour; the sequencer's group is
        // expected to end within the hour: no time to wait.
        gather.verified(1, Duration::from_secs(3600));
        let pace = busy();
        let mut group = vec![job(1)];
        gather.more(&mut rx, &mut group, 100, &pace);
        assert_eq!(group.len(), 1);
    }
}
