//! `armsledger demo` as a user runs it: device processes, the server, a
//! small scenario, then the summary checked against what it points at.
//! The unit test in `src/cmd/demo/mod.rs` runs the same story with devices
//! on threads.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::Path;

use assert_cmd::Command;

#[test]
fn small_demo_summary_matches_the_ledger() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    Command::cargo_bin("armsledger")
        .unwrap()
        .args([
            "demo", "--days", "10", "--sites", "2", "--seed", "7", "--json", "--dir",
        ])
        .arg(&dir)
        .assert()
        .success();
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap();
    let entries = s["entries"].as_u64().unwrap();
    assert_eq!(entries, s["recorded"].as_u64().unwrap(), "{s:#}");
    assert_eq!(entries, s["bundle_entries"].as_u64().unwrap(), "{s:#}");
    assert_eq!(s["bundle_authentic"], true);
    assert_eq!(s["device_pids"].as_array().unwrap().len(), 3, "{s:#}");
    assert_eq!(s["sample_trace_complete"], true, "{s:#}");
    assert_eq!(
        s["sample_trace_events"].as_u64().unwrap(),
        s["sample_chain_entries"].as_u64().unwrap()
    );
    assert!(
        s["alerts"]["return-overdue"].as_u64().unwrap_or(0) >= 1,
        "{s:#}"
    );
    assert_eq!(s["refusals"].as_array().unwrap().len(), 1, "{s:#}");
    // Devices signed at scenario time, which is before the server received
    // anything: no entry is dated ahead of its receipt.
    assert!(s["findings"].get("device-clock-ahead").is_none(), "{s:#}");
    // Every kind of act the year is meant to show was recorded at least once.
    for kind in [
        "loss-reported",
        "loss-report-updated",
        "recovered",
        "seized",
        "disposed",
        "maintenance-out",
        "maintenance-in",
        "transferred-out",
        "transferred-in",
        "corrected",
        "armoury-opened",
        "armoury-closed",
        "component-changed",
        "left-ledger",
    ] {
        assert!(
            s["kinds"][kind].as_u64().unwrap_or(0) >= 1,
            "the year recorded no {kind}: {s:#}"
        );
    }
    // The summary names the acts of the year's story, each recorded.
    for act in [
        "a two-person armoury opening",
        "a component change",
        "a sale to a dealer",
        "a short delivery",
        "a seizure",
        "a renewal recorded in advance",
    ] {
        assert!(
            s["story"][act].as_u64().unwrap_or(0) >= 1,
            "the year's story lacks {act}: {s:#}"
        );
    }
    // The bundle verifies with the command line too, against the log key file.
    Command::cargo_bin("armsledger")
        .unwrap()
        .arg("verify")
        .arg(s["bundle"].as_str().unwrap())
        .arg("--trusted-key")
        .arg(s["log_vkey"].as_str().unwrap())
        .arg("--no-state")
        .assert()
        .success();
    assert!(Path::new(s["server_data"].as_str().unwrap()).is_dir());

    // Issue 14: a second run is a new log with an origin of its own, so a
    // newcomer verifying both bundles with one trusted state is told
    // AUTHENTIC both times (before, the second was NOT AUTHENTIC: another
    // key under the origin the first had pinned).
    let second = tmp.path().join("demo-2");
    Command::cargo_bin("armsledger")
        .unwrap()
        .args([
            "demo", "--days", "5", "--sites", "1", "--seed", "8", "--json", "--dir",
        ])
        .arg(&second)
        .assert()
        .success();
    let state = tmp.path().join("state.json");
    for bundle in [dir.join("ledger.bundle"), second.join("ledger.bundle")] {
        Command::cargo_bin("armsledger")
            .unwrap()
            .arg("verify")
            .arg(&bundle)
            .arg("--state")
            .arg(&state)
            .assert()
            .success();
    }
    let pinned: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    let origins: Vec<&String> = pinned["logs"].as_object().unwrap().keys().collect();
    assert_eq!(origins.len(), 2, "two logs, two origins: {origins:?}");
    assert!(
        origins
            .iter()
            .all(|o| o.starts_with("armsledger.local/log/")),
        "{origins:?}"
    );
}
