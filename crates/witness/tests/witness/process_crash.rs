//! A real witness process, killed at every persist point and at every
//! storage I/O, never cosigns two different roots for one size.
//!
//! Each run starts the `armsledger-witness` binary (built with the
//! `fault-injection` feature for tests) with `ARMSLEDGER_WITNESS_KILL_AT`
//! set, and plays a scenario: the log's prefix, then fork A and fork B of the
//! same size, alternately, each submitted like a client would (learning the
//! witness's size from a 409). When the process dies, the submission is lost,
//! a new process starts on the same files without a kill plan, and the
//! scenario goes on with the next step. Every cosignature answered and every
//! checkpoint the monitoring endpoint serves is recorded; for each size there
//! must be exactly one root. The I/O plans go up from `io:1` until a run
//! finishes without a kill, so every write, sync and resize is covered.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Read as _};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use armsledger_log::{CheckpointNote, Cosignature, Hash};
use armsledger_witness::{AddCheckpoint, KILL_ENV, KILL_POINTS};
use sha2::{Digest as _, Sha256};

use crate::common::*;

/// A witness process serving on a loopback port.
struct Proc {
    child: Child,
    base: String,
}

impl Proc {
    fn start(dir: &Path, kill: Option<&str>) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_armsledger-witness"));
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(dir)
            .env_remove(KILL_ENV)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(plan) = kill {
            cmd.env(KILL_ENV, plan);
        }
        let mut child = cmd.spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line.trim().strip_prefix("listening ").unwrap_or_else(|| {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            panic!("witness did not start: {line:?} {err}")
        });
        Self {
            base: format!("http://{addr}"),
            child,
        }
    }

    /// Waits for a planned kill; returns the point the witness named.
    fn killed(mut self) -> String {
        let status = self.child.wait().unwrap();
        let mut err = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert!(!status.success(), "exited {status:?}: {err}");
        err.lines()
            .find_map(|l| l.strip_prefix("armsledger-witness: killed at "))
            .unwrap_or_else(|| panic!("died without naming a kill point: {status:?} {err}"))
            .to_owned()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a run saw.
#[derive(Default)]
struct Seen {
    /// size → roots cosigned or served at that size.
    roots: BTreeMap<u64, Vec<Hash>>,
    kills: Vec<String>,
}

impl Seen {
    fn record(&mut self, size: u64, root: Hash) {
        let roots = self.roots.entry(size).or_default();
        if !roots.contains(&root) {
            roots.push(root);
        }
    }
}

/// Submits `note` like a client: learns the size from a 409 and tries
/// again. `None` if the process died under it.
fn submit(agent: &ureq::Agent, base: &str, log: &TestLog, size: u64) -> Option<(u16, String)> {
    let note = log.note_at(size);
    let mut old = 0;
    for _ in 0..4 {
        let proof = if old == 0 || old > size {
            Vec::new()
        } else {
            log.proof(old, size)
        };
        let body = AddCheckpoint::encode(old.min(size), &proof, &note);
        let reply = agent
            .post(format!("{base}/add-checkpoint"))
            .send(body.as_bytes())
            .ok()
            .map(|r| reply_of(Ok(r)))?;
        if reply.status == 409 {
            old = text(&reply).trim().parse().unwrap();
            continue;
        }
        return Some((reply.status, text(&reply).to_owned()));
    }
    panic!("409 loop")
}

/// Plays the scenario under `plan`; returns what it saw and whether the
/// first process was killed.
fn run(plan: &str) -> (Seen, bool) {
    let dir = tempfile::tempdir().unwrap();
    let mut base = TestLog::new(ORIGIN, 1);
    base.grow(5, "a");
    let (mut fork_a, mut fork_b) = (base.clone(), base.clone());
    fork_a.grow(4, "A");
    fork_b.grow(4, "B");
    write_files(dir.path(), &[base.verifier()]);
    let agent = http_agent();
    let monitor = format!("/{}/checkpoint", hex::encode(Sha256::digest(ORIGIN)));
    let steps: [(&TestLog, u64); 6] = [
        (&base, 5),
        (&fork_a, 9),
        (&fork_b, 9),
        (&fork_a, 9),
        (&fork_b, 9),
        (&fork_a, 9),
    ];
    let mut seen = Seen::default();
    let mut proc = Proc::start(dir.path(), Some(plan));
    let mut killed = false;
    for (log, size) in steps {
        match submit(&agent, &proc.base, log, size) {
            Some((200, body)) => {
                let cosig = Cosignature::parse_line(&body).unwrap();
                let parsed = CheckpointNote::parse(log.note_at(size).as_bytes()).unwrap();
                witness_verifier().verify(parsed.body(), &cosig).unwrap();
                seen.record(size, log.root_at(size));
            }
            Some((status, body)) => assert!(
                status == 422 || status == 409,
                "unexpected {status}: {body}"
            ),
            None => {
                // The client gives up on this submission; the operator
                // restarts the witness on the same files.
                seen.kills.push(proc.killed());
                killed = true;
                proc = Proc::start(dir.path(), None);
            }
        }
        // What the witness now serves to monitors must agree too.
        let served = reply_of(agent.get(format!("{}{monitor}", proc.base)).call());
        if served.status == 200 {
            let note = CheckpointNote::parse(&served.body).unwrap();
            seen.record(note.checkpoint().size(), *note.checkpoint().root());
        }
    }
    for (size, roots) in &seen.roots {
        assert_eq!(
            roots.len(),
            1,
            "plan {plan}: two roots at size {size} (kills: {:?})",
            seen.kills
        );
    }
    (seen, killed)
}

#[test]
fn killed_at_every_named_persist_point() {
    for point in KILL_POINTS {
        let (seen, killed) = run(point);
        assert!(killed, "{point} never fired");
        assert_eq!(seen.kills, [point], "{point}");
    }
}

#[test]
fn killed_at_every_storage_io() {
    let mut fired = 0;
    for n in 1.. {
        let (seen, killed) = run(&format!("io:{n}"));
        if !killed {
            break;
        }
        assert!(
            seen.kills[0].starts_with(&format!("io:{n} (")),
            "{:?}",
            seen.kills
        );
        fired += 1;
        assert!(n < 500, "the scenario should do far fewer storage I/Os");
    }
    eprintln!("storage I/O kill points covered: {fired}");
    // The scenario commits at least five times; each commit writes and syncs.
    assert!(fired >= 10, "only {fired} I/O kill points");
}

#[test]
fn a_bad_kill_plan_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    write_files(dir.path(), &[TestLog::new(ORIGIN, 1).verifier()]);
    let out = Command::new(env!("CARGO_BIN_EXE_armsledger-witness"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path())
        .env(KILL_ENV, "sometime")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(KILL_ENV));
}
