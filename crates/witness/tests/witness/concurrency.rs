//! Racing submissions for one log: exactly one wins, whatever the order.
//!
//! Several forks of one log extend the same cosigned prefix to the same
//! size with different roots, and are submitted at once. The witness must
//! cosign exactly one of them and answer the others 409 with its new size.

use std::sync::{Arc, Barrier};

use armsledger_witness::WitnessError;

use crate::common::*;

const RACERS: usize = 8;

/// The shared prefix of 5 leaves, then one fork per racer to size 9.
fn forks() -> (TestLog, Vec<TestLog>) {
    let mut base = TestLog::new(ORIGIN, 1);
    base.grow(5, "a");
    let forks = (0..RACERS)
        .map(|i| {
            let mut f = base.clone();
            f.grow(4, &format!("fork{i}-"));
            f
        })
        .collect();
    (base, forks)
}

#[test]
fn racing_forks_in_process_exactly_one_wins() {
    for _round in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let (base, forks) = forks();
        let w = witness(dir.path(), &[base.verifier()]);
        w.add_checkpoint(base.body(0, 5).as_bytes()).unwrap();
        let barrier = Arc::new(Barrier::new(RACERS));
        let handles: Vec<_> = forks
            .into_iter()
            .map(|fork| {
                let (w, barrier) = (w.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let body = fork.body(5, 9);
                    barrier.wait();
                    (fork.root_at(9), w.add_checkpoint(body.as_bytes()))
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let winners: Vec<_> = results.iter().filter(|(_, r)| r.is_ok()).collect();
        assert_eq!(winners.len(), 1, "{results:?}");
        for (_, r) in &results {
            match r {
                Ok(_) => {}
                Err(WitnessError::OldSizeMismatch { witness_size: 9 }) => {}
                Err(e) => panic!("loser got {e:?}"),
            }
        }
        let latest = w.store().latest(ORIGIN).unwrap().unwrap();
        assert_eq!(latest.root, winners[0].0);
    }
}

#[test]
fn racing_forks_over_http_exactly_one_wins() {
    let dir = tempfile::tempdir().unwrap();
    let (base, forks) = forks();
    let w = witness(dir.path(), &[base.verifier()]);
    w.add_checkpoint(base.body(0, 5).as_bytes()).unwrap();
    let server = Arc::new(Loopback::new(w.clone()));
    let barrier = Arc::new(Barrier::new(RACERS));
    let handles: Vec<_> = forks
        .into_iter()
        .map(|fork| {
            let (server, barrier) = (server.clone(), barrier.clone());
            std::thread::spawn(move || {
                let body = fork.body(5, 9);
                barrier.wait();
                server.post("/add-checkpoint", body.as_bytes())
            })
        })
        .collect();
    let replies: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    for r in replies.iter().filter(|r| r.status != 200) {
        assert_eq!(r.status, 409);
        assert_eq!(text(r), "9\n");
    }
}
