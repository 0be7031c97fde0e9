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
    assert!(
        s["kinds"]["loss-reported"].as_u64().unwrap_or(0) >= 1,
        "{s:#}"
    );
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
}
