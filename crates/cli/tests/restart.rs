//! Restart suite: rules snapshots (docs/operations.md, "Rules snapshots").
//!
//! * A real `armsledger serve` writing a snapshot after every commit is
//!   killed with SIGKILL at random moments of ingest, so kills land while a
//!   snapshot is being encoded, written or renamed. After each kill it
//!   restarts from its snapshots, and then once more with `--no-snapshot`
//!   (the whole log replayed): both serve the same rules state, compared by
//!   the state digest (`GET /v1/admin/state`); `armsledger fsck` finds
//!   every snapshot kept equal to its replay at that size.
//! * A snapshot of another log, and one of a newer state version, are
//!   refused (the reason named) and the state rebuilt from the log; the
//!   server's own snapshot is used and only what follows it is replayed.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod harness;

use std::time::{Duration, Instant};

use armsledger_core::testkit::Scenario;
use harness::{Rng, Server, env_count, fsck, get, json};

/// `GET /v1/admin/state` as the regulator.
fn state(srv: &Server) -> serde_json::Value {
    let (st, b) = get(&srv.url, "/v1/admin/state", Some(&srv.writer));
    assert_eq!(st, 200, "{}", String::from_utf8_lossy(&b));
    json(&b)
}

/// The snapshots in a data directory, newest first.
fn snapshots(data: &std::path::Path) -> Vec<(u64, std::path::PathBuf)> {
    armsledger_store::snapshot::SnapshotDir::new(data.join("snapshots"))
        .list()
        .unwrap()
}

/// Waits (bounded) until a snapshot of exactly the log's size is on disk.
fn snapshot_of_size(srv: &Server, size: u64) {
    let until = Instant::now() + Duration::from_secs(60);
    while snapshots(&srv.data).first().map(|(n, _)| *n) != Some(size) {
        assert!(
            Instant::now() < until,
            "no snapshot of size {size} was written"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn push(srv: &Server, s: &mut Scenario, site: &str, n: u64, serial: &mut u64) {
    let mut batch = Vec::new();
    for _ in 0..n {
        *serial += 1;
        let (_, e) = s.acquire(site, &format!("R-{serial}"));
        batch.push(e);
    }
    let (st, b) = srv.post(&batch);
    assert_eq!(st, 200, "{b}");
}

#[test]
fn every_restart_after_sigkill_serves_the_state_a_full_replay_does() {
    let rounds = env_count("ARMSLEDGER_RESTART_ROUNDS", 6);
    let mut rng = Rng::from_env("restart");
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("srv");
    let mut s = Scenario::standard();
    let mut srv = Server::start(&data, &s, "[snapshots]\nevery_entries = 1\nkept = 3\n");
    let (st, b) = srv.post(&s.log);
    assert_eq!(st, 200, "{b}");
    let mut serial = 0;
    let mut resumed = 0;
    for round in 0..rounds {
        for _ in 0..rng.range(1, 12) {
            let n = rng.range(1, 40);
            push(&srv, &mut s, "north", n, &mut serial);
        }
        // Each commit starts a snapshot: kill somewhere in its encoding,
        // writing, syncing or renaming.
        std::thread::sleep(Duration::from_millis(rng.below(25)));
        srv.kill();

        srv.restart();
        let from_snapshots = state(&srv);
        let size = srv.size();
        assert_eq!(from_snapshots["size"], size);
        assert_eq!(from_snapshots["applied"], size, "{from_snapshots:#}");
        let start = &from_snapshots["start"];
        assert!(
            start["refused"].as_array().unwrap().is_empty(),
            "round {round}: a snapshot this server wrote was refused: {start:#}"
        );
        if let Some(n) = start["from_snapshot"].as_u64() {
            resumed += 1;
            assert_eq!(start["replayed"].as_u64().unwrap(), size - n);
        }
        srv.kill();

        srv.restart_with(&["--no-snapshot"]);
        let full = state(&srv);
        assert_eq!(full["start"]["from_snapshot"], serde_json::Value::Null);
        assert_eq!(full["start"]["replayed"], size);
        assert_eq!(
            from_snapshots["state_digest"], full["state_digest"],
            "round {round}: the state from snapshots differs from a full replay \
             ({from_snapshots:#} against {full:#})"
        );
        srv.kill();
        // Offline: every snapshot kept holds the state a replay reaches at
        // its size, and the whole replay ends at the server's digest.
        let report = fsck(&data, "a restart");
        assert_eq!(report["state_digest"], full["state_digest"], "{report:#}");
        srv.restart();
    }
    assert!(resumed > 0, "no restart resumed from a snapshot");
    assert!(
        snapshots(&data).len() <= 3,
        "more snapshots kept than configured"
    );
}

/// The server's newest snapshot as bytes, with its size.
fn newest(data: &std::path::Path) -> (u64, Vec<u8>) {
    let (n, p) = snapshots(data).into_iter().next().expect("a snapshot");
    (n, std::fs::read(p).unwrap())
}

#[test]
fn snapshots_of_another_log_or_a_newer_version_are_refused_and_rebuilt() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = Scenario::standard();
    // Two logs of the same entries under the same regulator: only the log
    // (its key and receipt times) differs.
    let config = "[snapshots]\nevery_entries = 1\n";
    let mut a = Server::start(&tmp.path().join("a"), &s, config);
    let mut b = Server::start(&tmp.path().join("b"), &s, config);
    let mut log = s.log.clone();
    let mut serial = 0;
    for _ in 0..3 {
        serial += 1;
        log.push(s.acquire("north", &format!("X-{serial}")).1);
    }
    for srv in [&a, &b] {
        let (st, body) = srv.post(&log);
        assert_eq!(st, 200, "{body}");
        snapshot_of_size(srv, log.len() as u64);
    }
    let size = log.len() as u64;
    a.kill();
    b.kill();
    let b_dir = b.data.join("snapshots");
    let (n, own) = newest(&b.data);
    assert_eq!(n, size);

    // Another log's snapshot under B's name: refused, rebuilt.
    let (_, other) = newest(&a.data);
    for (m, p) in snapshots(&b.data) {
        assert!(m <= size);
        std::fs::remove_file(p).unwrap();
    }
    let name = b_dir.join(format!("rules-{size:020}.snap"));
    std::fs::write(&name, &other).unwrap();
    // fsck names it too (firing; the clean runs are in the suite above).
    let out = std::process::Command::new(harness::bin())
        .args(["fsck", "--json", "--data"])
        .arg(&b.data)
        .output()
        .unwrap();
    let report = json(&out.stdout);
    assert!(
        !out.status.success() && report["clean"] == false,
        "{report:#}"
    );
    assert!(
        report["problems"]
            .to_string()
            .contains("is not the log's at size"),
        "{report:#}"
    );
    b.restart();
    let st = state(&b);
    let start = &st["start"];
    assert_eq!(start["from_snapshot"], serde_json::Value::Null, "{st:#}");
    assert_eq!(start["replayed"], size);
    let refused = start["refused"].as_array().unwrap();
    assert_eq!(refused.len(), 1, "{st:#}");
    assert!(
        refused[0].as_str().unwrap().contains("made for the log"),
        "{st:#}"
    );
    let rebuilt = st["state_digest"].clone();
    b.kill();

    // A newer state version (its digest made to fit): refused, rebuilt.
    let mut newer = own[..own.len() - 32].to_vec();
    let v = u32::from_le_bytes(newer[12..16].try_into().unwrap());
    newer[12..16].copy_from_slice(&(v + 1).to_le_bytes());
    let digest = armsledger_core::Hash::of(&[&newer]);
    newer.extend_from_slice(&digest.0);
    for (_, p) in snapshots(&b.data) {
        std::fs::remove_file(p).unwrap();
    }
    std::fs::write(&name, &newer).unwrap();
    b.restart();
    let st = state(&b);
    let start = &st["start"];
    assert_eq!(start["from_snapshot"], serde_json::Value::Null, "{st:#}");
    let refused = start["refused"].as_array().unwrap();
    assert_eq!(refused.len(), 1, "{st:#}");
    let reason = refused[0].as_str().unwrap();
    assert!(
        reason.contains(&format!("state version {}", v + 1))
            && reason.contains(&format!("this build reads version {v}")),
        "{reason}"
    );
    assert_eq!(st["state_digest"], rebuilt);
    b.kill();

    // Its own snapshot: used, nothing replayed, the same state.
    for (_, p) in snapshots(&b.data) {
        std::fs::remove_file(p).unwrap();
    }
    std::fs::write(&name, &own).unwrap();
    b.restart();
    let st = state(&b);
    let start = &st["start"];
    assert_eq!(start["from_snapshot"], size, "{st:#}");
    assert_eq!(start["replayed"], 0);
    assert!(start["refused"].as_array().unwrap().is_empty());
    assert_eq!(st["state_digest"], rebuilt);
}

/// Both answers, with the log's settled checkpoint (the proofs are against it).
fn answers(srv: &Server, token: &str) -> (serde_json::Value, Vec<serde_json::Value>) {
    srv.settled_checkpoint();
    let mut bodies = Vec::new();
    for path in [
        "/v1/lots/L-77/trace",
        "/v1/firearms/GLK-001/trace",
        "/v1/findings?rule=signed-after-key-end",
    ] {
        let (st, b) = get(&srv.url, path, Some(token));
        assert_eq!(st, 200, "{path}: {}", String::from_utf8_lossy(&b));
        bodies.push(json(&b));
    }
    (state(srv), bodies)
}

#[test]
fn a_correction_a_revocation_and_a_lot_trace_after_a_snapshot_start_answer_as_a_replay_does() {
    use armsledger_core::event::{Event, RegulatorEvent, SiteEvent};
    use armsledger_core::testkit::{note, v};

    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("srv");
    let mut s = Scenario::standard();
    let mut srv = Server::start(
        &data,
        &s,
        "checkpoint_interval_ms = 20\n[snapshots]\nevery_entries = 1\n",
    );
    let (_, acq) = s.acquire("north", "GLK-0O1");
    let (_, kept) = s.acquire("north", "GLK-777");
    s.receive("north", "L-77", 500);
    let (_, late) = s.acquire("north", "GLK-778");
    let (st, b) = srv.post(&s.log);
    assert_eq!(st, 200, "{b}");
    let size = srv.size();
    snapshot_of_size(&srv, size);
    srv.kill();

    // From the snapshot: nothing replayed, no entry held in memory; the
    // history is the log's.
    srv.restart();
    let st = state(&srv);
    assert_eq!(st["start"]["from_snapshot"], size, "{st:#}");
    assert_eq!(st["start"]["replayed"], 0);
    assert_eq!(st["history_in_memory"], 0, "{st:#}");
    // A correction (the state is folded again from the history) and a
    // revocation reaching back past `kept` (the history is searched).
    let Event::Site(mut fixed) = acq.body().event.clone() else {
        panic!("an acquisition");
    };
    if let SiteEvent::FirearmAcquired { identity, .. } = &mut fixed {
        identity.serial = v("GLK-001");
    }
    let correction = s.site(
        "north",
        "armourer-1",
        SiteEvent::Corrected {
            supersedes: acq.hash(),
            reason: note("serial mistyped"),
            approver: Some(v("armourer-2")),
            corrected: Box::new(fixed),
        },
    );
    let north = s.sites.get(&v("north")).unwrap().public_key();
    let revocation = s.regulator(RegulatorEvent::DeviceKeyRevoked {
        site: v("north"),
        public_key: north,
        after_counter: kept.counter(),
        reason: note("device stolen"),
    });
    let (st, b) = srv.post(&[correction, revocation]);
    assert_eq!(st, 200, "{b}");
    let token = srv.token("regulator");
    let (resumed, bodies) = answers(&srv, &token);
    assert_eq!(resumed["history_in_memory"], 0, "{resumed:#}");
    // Firing: the correction took (the serial is found), the revocation
    // flagged the entries past `kept` (the lot's receipt and `late`);
    // quiet: not `kept` itself.
    assert!(!bodies[1]["firearms"].as_array().unwrap().is_empty());
    let flagged = bodies[2].to_string();
    assert!(flagged.contains(&late.hash().to_string()), "{flagged}");
    assert!(!flagged.contains(&kept.hash().to_string()), "{flagged}");
    let lots = bodies[0]["lots"].as_array().unwrap();
    assert_eq!(lots.len(), 1, "{:#}", bodies[0]);
    assert!(
        !lots[0]["steps"].as_array().unwrap().is_empty(),
        "{:#}",
        bodies[0]
    );
    srv.kill();

    // The same log replayed from its start answers the same, and so does
    // an offline replay holding its whole history in memory.
    srv.restart_with(&["--no-snapshot"]);
    let (replayed, again) = answers(&srv, &token);
    assert_eq!(replayed["start"]["from_snapshot"], serde_json::Value::Null);
    assert_eq!(resumed["state_digest"], replayed["state_digest"]);
    assert_eq!(bodies, again);
    srv.kill();
    let report = fsck(&data, "a correction after a snapshot start");
    assert_eq!(
        report["state_digest"], resumed["state_digest"],
        "{report:#}"
    );
}

/// A metric of the server's (`GET /metrics`), as a number.
fn metric(srv: &Server, name: &str) -> f64 {
    let (st, b) = get(&srv.url, "/metrics", None);
    assert_eq!(st, 200);
    let text = String::from_utf8(b).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in {text}"))
        .trim()
        .parse()
        .unwrap()
}

/// A correction of `acq`'s serial.
fn correction(
    s: &mut Scenario,
    acq: &armsledger_core::SignedEntry,
    serial: &str,
) -> std::sync::Arc<armsledger_core::SignedEntry> {
    use armsledger_core::event::{Event, SiteEvent};
    use armsledger_core::testkit::{note, v};
    let Event::Site(mut fixed) = acq.body().event.clone() else {
        panic!("an acquisition");
    };
    if let SiteEvent::FirearmAcquired { identity, .. } = &mut fixed {
        identity.serial = v(serial);
    }
    s.site(
        "north",
        "armourer-1",
        SiteEvent::Corrected {
            supersedes: acq.hash(),
            reason: note("serial mistyped"),
            approver: Some(v("armourer-2")),
            corrected: Box::new(fixed),
        },
    )
}

/// A correction refolds the rules state from the newest snapshot at or
/// before its target that still holds (issue 23: not the whole log on the
/// sequencer), says so in `/metrics` (`armsledger_refold_from`,
/// `armsledger_refold_entries`, `armsledger_refold_seconds`), and ends in
/// the state the whole log's replay reaches.
#[test]
fn a_correction_refolds_from_the_nearest_snapshot_before_its_target() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("srv");
    let mut s = Scenario::standard();
    let mut srv = Server::start(&data, &s, "[snapshots]\nevery_entries = 1\nkept = 10\n");
    let (st, b) = srv.post(&s.log);
    assert_eq!(st, 200, "{b}");
    let s0 = srv.size();
    snapshot_of_size(&srv, s0);
    let acquire = |s: &mut Scenario, first: u64| {
        (first..first + 3)
            .map(|i| s.acquire("north", &format!("F-{i}")).1)
            .collect::<Vec<_>>()
    };
    let a = acquire(&mut s, 0);
    assert_eq!(srv.post(&a).0, 200);
    let s1 = srv.size();
    snapshot_of_size(&srv, s1);
    let b = acquire(&mut s, 10);
    assert_eq!(srv.post(&b).0, 200);
    let s2 = srv.size();
    snapshot_of_size(&srv, s2);
    assert_eq!(metric(&srv, "armsledger_refold_seconds_count"), 0.0);

    // Firing: b[1] lies after the snapshot at s1 and before the one at s2.
    let c = correction(&mut s, &b[1], "F-11X");
    assert_eq!(srv.post(&[c]).0, 200);
    assert_eq!(metric(&srv, "armsledger_refold_seconds_count"), 1.0);
    assert_eq!(metric(&srv, "armsledger_refold_from"), s1 as f64);
    assert_eq!(
        metric(&srv, "armsledger_refold_entries"),
        (s2 + 1 - s1) as f64
    );
    // a[1] lies before s1: from the snapshot at s0.
    let c = correction(&mut s, &a[1], "F-1X");
    assert_eq!(srv.post(&[c]).0, 200);
    assert_eq!(metric(&srv, "armsledger_refold_from"), s0 as f64);
    // b[2] lies after s1, but the snapshot at s1 folded a[1] before its
    // correction: stale, passed over for the one at s0.
    let c = correction(&mut s, &b[2], "F-12X");
    assert_eq!(srv.post(&[c]).0, 200);
    assert_eq!(metric(&srv, "armsledger_refold_from"), s0 as f64);
    assert_eq!(metric(&srv, "armsledger_refold_seconds_count"), 3.0);
    let s3 = srv.size();
    // Quiet: an entry that corrects nothing refolds nothing.
    let more = acquire(&mut s, 20);
    assert_eq!(srv.post(&more).0, 200);
    assert_eq!(metric(&srv, "armsledger_refold_seconds_count"), 3.0);
    assert_eq!(metric(&srv, "armsledger_snapshot_refused_total"), 0.0);
    // A snapshot that fails its checks (a flipped byte) is refused, never
    // trusted: the refold starts from an older one. (The newest at or
    // before more[1], at position s3 + 1.)
    let (bad, path) = snapshots(&data)
        .into_iter()
        .find(|(n, _)| *n <= s3)
        .unwrap();
    assert!(bad > s0, "snapshots after the corrections were kept");
    let original = std::fs::read(&path).unwrap();
    let mut bytes = original.clone();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&path, bytes).unwrap();
    let c = correction(&mut s, &more[1], "F-21X");
    assert_eq!(srv.post(&[c]).0, 200);
    assert_eq!(metric(&srv, "armsledger_snapshot_refused_total"), 1.0);
    let from = metric(&srv, "armsledger_refold_from");
    assert!(from > 0.0 && from < bad as f64, "refolded from {from}");
    // (Put back for fsck below, which would name it.)
    std::fs::write(&path, original).unwrap();
    let refolded = state(&srv);
    srv.kill();

    // Snapshots off: the whole log is folded again, to the same state a
    // replay of the whole log reaches.
    srv.restart_with(&["--no-snapshot"]);
    let full = state(&srv);
    assert_eq!(
        full["state_digest"], refolded["state_digest"],
        "{full:#} {refolded:#}"
    );
    // (The start's replay refolded at each of the four corrections.)
    assert_eq!(metric(&srv, "armsledger_refold_seconds_count"), 4.0);
    let c = correction(&mut s, &more[0], "F-20X");
    assert_eq!(srv.post(&[c]).0, 200);
    assert_eq!(metric(&srv, "armsledger_refold_seconds_count"), 5.0);
    assert_eq!(metric(&srv, "armsledger_refold_from"), 0.0);
    assert_eq!(metric(&srv, "armsledger_refold_entries"), srv.size() as f64);
    let whole = state(&srv);
    srv.kill();
    let report = fsck(&data, "corrections refolded from snapshots");
    assert_eq!(report["state_digest"], whole["state_digest"], "{report:#}");
}

/// A graceful stop (SIGTERM) closes the log: the next open of `log.redb`
/// needs no repair (a repair reads and checksums every page of the file,
/// docs/performance.md section 9), and the next start resumes from the
/// snapshot written at shutdown. (Firing, a store held open until the
/// process exits: crates/server/src/disk.rs's unit test.)
#[test]
fn a_graceful_stop_leaves_the_log_closed_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("srv");
    let mut s = Scenario::standard();
    let mut srv = Server::start(&data, &s, "checkpoint_interval_ms = 20\n");
    let (st, b) = srv.post(&s.log);
    assert_eq!(st, 200, "{b}");
    let mut serial = 0;
    push(&srv, &mut s, "north", 20, &mut serial);
    let size = srv.size();
    assert!(srv.terminate().success());
    let repaired = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let r = repaired.clone();
    let db = redb::Database::builder()
        .set_repair_callback(move |_| r.store(true, std::sync::atomic::Ordering::Relaxed))
        .open(data.join("log.redb"))
        .unwrap();
    drop(db);
    assert!(!repaired.load(std::sync::atomic::Ordering::Relaxed));
    srv.restart();
    let st = state(&srv);
    assert_eq!(st["start"]["from_snapshot"], size, "{st:#}");
    assert_eq!(st["start"]["replayed"], 0, "{st:#}");
    srv.kill();
}
