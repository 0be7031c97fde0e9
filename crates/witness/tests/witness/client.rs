//! The witness client: against our witness over HTTP, and against canned
//! replies for what our witness never says (the older 409 for a split view,
//! 5xx, a bad cosignature).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use armsledger_log::Hash;
use armsledger_witness::WitnessError;
use armsledger_witness::client::{Backoff, Reply, Transport, WitnessClient};

use crate::common::*;

fn prove_with(log: &TestLog) -> impl FnMut(u64, u64) -> Result<Vec<Hash>, String> + '_ {
    move |old, new| Ok(log.proof(old, new))
}

#[test]
fn learns_the_size_from_a_409_and_gets_a_valid_cosignature() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = TestLog::new(ORIGIN, 1);
    log.grow(5, "a");
    let w = witness(dir.path(), &[log.verifier()]);
    w.add_checkpoint(log.body(0, 5).as_bytes()).unwrap();
    let server = Loopback::new(w);
    log.grow(3, "b");
    let client = WitnessClient::new(server.base(), witness_verifier());
    let mut sleeps = Vec::new();
    let cosigned = client
        .add_checkpoint(&log.note(), 0, &mut prove_with(&log), &mut |d| {
            sleeps.push(d)
        })
        .unwrap();
    assert_eq!(cosigned.witness_size, 8);
    assert!(sleeps.is_empty(), "a 409 costs a request, not a wait");
    // The lines append to the note and open under a policy requiring the witness.
    let note = format!("{}{}", log.note(), cosigned.lines());
    let policy = armsledger_log::Policy::parse(&format!(
        "log {}\nwitness W {}\nquorum W\n",
        log.verifier(),
        witness_verifier()
    ))
    .unwrap();
    assert!(policy.verify(note.as_bytes()).unwrap().quorum_met());
    // Without the lines the quorum is not met.
    assert!(policy.verify(log.note().as_bytes()).is_err());
}

#[test]
fn a_split_view_over_http_is_reported_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = TestLog::new(ORIGIN, 1);
    log.grow(5, "a");
    let w = witness(dir.path(), &[log.verifier()]);
    w.add_checkpoint(log.body(0, 5).as_bytes()).unwrap();
    let server = Loopback::new(w);
    let mut fork = TestLog::new(ORIGIN, 1);
    fork.grow(5, "fork");
    let client = WitnessClient::new(server.base(), witness_verifier());
    for known in [0, 5] {
        let err = client
            .add_checkpoint(&fork.note(), known, &mut prove_with(&fork), &mut |_| {})
            .unwrap_err();
        assert!(
            matches!(
                err,
                WitnessError::WitnessSplitView {
                    size: 5,
                    status: 422
                }
            ),
            "{err:?}"
        );
    }
    // A fork that diverges below the witness's size: the proof is refused.
    fork.grow(3, "more");
    let err = client
        .add_checkpoint(&fork.note(), 5, &mut prove_with(&fork), &mut |_| {})
        .unwrap_err();
    assert!(
        matches!(err, WitnessError::WitnessProofRefused { old: 5, size: 8 }),
        "{err:?}"
    );
}

/// Replies from a script, recording the requests.
struct Canned {
    replies: Mutex<Vec<Result<Reply, String>>>,
    requests: Mutex<Vec<String>>,
}

impl Canned {
    fn new(replies: Vec<Result<Reply, String>>) -> Self {
        Self {
            replies: Mutex::new(replies.into_iter().rev().collect()),
            requests: Mutex::new(Vec::new()),
        }
    }
}

impl Transport for Canned {
    fn post(&self, url: &str, body: &[u8]) -> Result<Reply, String> {
        assert!(url.ends_with("/add-checkpoint"), "{url}");
        self.requests
            .lock()
            .unwrap()
            .push(String::from_utf8(body.to_vec()).unwrap());
        self.replies
            .lock()
            .unwrap()
            .pop()
            .expect("no more canned replies")
    }
}

fn reply(status: u16, content_type: Option<&str>, body: &str) -> Result<Reply, String> {
    Ok(Reply {
        status,
        content_type: content_type.map(str::to_owned),
        body: body.as_bytes().to_vec(),
    })
}

type Outcome = (Result<u64, WitnessError>, Vec<String>, Vec<Duration>);

/// Submits the log's checkpoint against canned replies: the result, the
/// request bodies sent and the waits.
fn run(log: &TestLog, known: u64, replies: Vec<Result<Reply, String>>) -> Outcome {
    let transport = Arc::new(Canned::new(replies));
    let client =
        WitnessClient::with_transport("http://w.example/", witness_verifier(), transport.clone())
            .backoff(Backoff {
                attempts: 3,
                first: Duration::from_millis(10),
                max: Duration::from_millis(15),
            });
    let mut sleeps = Vec::new();
    let result = client
        .add_checkpoint(&log.note(), known, &mut prove_with(log), &mut |d| {
            sleeps.push(d)
        })
        .map(|c| c.witness_size);
    let requests = transport.requests.lock().unwrap().clone();
    (result, requests, sleeps)
}

fn good_cosignature(log: &TestLog) -> String {
    let body = armsledger_log::CheckpointNote::parse(log.note().as_bytes()).unwrap();
    witness_key().cosign(body.body(), NOW).unwrap().to_line()
}

#[test]
fn the_older_409_for_the_same_size_is_a_split_view_too() {
    let mut log = TestLog::new(ORIGIN, 1);
    log.grow(5, "a");
    // Without a size body (the spec before C2SP PR #280).
    let (r, _, _) = run(&log, 5, vec![reply(409, Some("text/plain"), "conflict\n")]);
    assert!(
        matches!(
            r,
            Err(WitnessError::WitnessSplitView {
                size: 5,
                status: 409
            })
        ),
        "{r:?}"
    );
    // With the witness's size, equal to ours: not a size to learn.
    let (r, _, _) = run(
        &log,
        0,
        vec![
            reply(409, Some("text/x.tlog.size"), "5\n"),
            reply(409, Some("text/x.tlog.size"), "5\n"),
        ],
    );
    assert!(
        matches!(
            r,
            Err(WitnessError::WitnessSplitView {
                size: 5,
                status: 409
            })
        ),
        "{r:?}"
    );
    // And the current 422.
    let (r, _, _) = run(&log, 5, vec![reply(422, Some("text/plain"), "split\n")]);
    assert!(
        matches!(
            r,
            Err(WitnessError::WitnessSplitView {
                size: 5,
                status: 422
            })
        ),
        "{r:?}"
    );
}

#[test]
fn transient_failures_are_retried_with_backoff() {
    let mut log = TestLog::new(ORIGIN, 1);
    log.grow(5, "a");
    let ok = good_cosignature(&log);
    let (r, _, sleeps) = run(
        &log,
        0,
        vec![
            Err("connection refused".into()),
            reply(503, None, "busy"),
            reply(200, Some("text/plain"), &ok),
        ],
    );
    assert_eq!(r.unwrap(), 5);
    assert_eq!(
        sleeps,
        [Duration::from_millis(10), Duration::from_millis(15)]
    );
    // Quiet: a first-time success never sleeps.
    let (r, _, sleeps) = run(&log, 0, vec![reply(200, None, &ok)]);
    assert_eq!(r.unwrap(), 5);
    assert!(sleeps.is_empty());
    // Every attempt fails: unreachable, after attempts − 1 waits.
    let (r, _, sleeps) = run(
        &log,
        0,
        vec![
            reply(500, None, "x"),
            reply(502, None, "x"),
            reply(504, None, "x"),
        ],
    );
    assert!(
        matches!(r, Err(WitnessError::WitnessUnreachable { attempts: 3, .. })),
        "{r:?}"
    );
    assert_eq!(sleeps.len(), 2);
}

#[test]
fn permanent_refusals_and_bad_replies() {
    let mut log = TestLog::new(ORIGIN, 1);
    log.grow(5, "a");
    for status in [400, 403, 404, 413] {
        let (r, _, sleeps) = run(&log, 0, vec![reply(status, None, "no")]);
        assert!(
            matches!(r, Err(WitnessError::WitnessRejected { status: s, .. }) if s == status),
            "{r:?}"
        );
        assert!(sleeps.is_empty());
    }
    // The witness is beyond our checkpoint.
    let (r, _, _) = run(&log, 0, vec![reply(409, Some("text/x.tlog.size"), "9\n")]);
    assert!(
        matches!(
            r,
            Err(WitnessError::WitnessAhead {
                witness_size: 9,
                size: 5
            })
        ),
        "{r:?}"
    );
    // A 200 whose line is not the witness's valid cosignature.
    let other = armsledger_log::CosignerKey::from_seed(WITNESS_NAME, &[1; 32]).unwrap();
    let body = armsledger_log::CheckpointNote::parse(log.note().as_bytes()).unwrap();
    let forged = other.cosign(body.body(), NOW).unwrap().to_line();
    for bad in [forged.as_str(), "", "hello\n"] {
        let (r, _, _) = run(&log, 0, vec![reply(200, None, bad)]);
        assert!(
            matches!(r, Err(WitnessError::WitnessReplyMalformed(_))),
            "{r:?}"
        );
    }
}

#[test]
fn requests_carry_the_proof_from_the_learnt_size() {
    let mut log = TestLog::new(ORIGIN, 1);
    log.grow(8, "a");
    let (r, requests, _) = run(
        &log,
        0,
        vec![
            reply(409, Some("text/x.tlog.size"), "5\n"),
            reply(200, None, &good_cosignature(&log)),
        ],
    );
    assert_eq!(r.unwrap(), 8);
    assert_eq!(
        requests,
        [
            armsledger_witness::AddCheckpoint::encode(0, &[], &log.note()),
            armsledger_witness::AddCheckpoint::encode(5, &log.proof(5, 8), &log.note()),
        ]
    );
    // A known size beyond the checkpoint is treated as unknown.
    let (_, requests, _) = run(&log, 99, vec![reply(200, None, &good_cosignature(&log))]);
    assert!(requests[0].starts_with("old 0\n\n"));
}
