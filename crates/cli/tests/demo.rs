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
    // Issue 20: a witness process cosigned the exported checkpoint, and the
    // bundle verified under the demo's policy.
    let w = &s["witness"];
    assert!(w["pid"].as_u64().is_some(), "{s:#}");
    assert_eq!(w["quorum_met"], true, "{s:#}");
    assert_eq!(w["cosigned_size"].as_u64(), Some(entries), "{s:#}");
    assert_eq!(w["cosignatures"][0]["name"], "demo-witness", "{s:#}");
    let policy = w["policy"].as_str().unwrap();
    let out = Command::cargo_bin("armsledger")
        .unwrap()
        .args(["verify", "--no-state", "--policy", policy])
        .arg(dir.join("ledger.bundle"))
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(
        stdout.contains("witnesses: quorum demo-witness met; cosigned by demo-witness"),
        "{stdout}"
    );
    // Firing: a policy that demands another witness (made with `armsledger
    // witness init`) refuses the same bundle for lack of its quorum.
    let out = Command::cargo_bin("armsledger")
        .unwrap()
        .args([
            "witness",
            "init",
            "--name",
            "witness.other.example",
            "--key",
        ])
        .arg(tmp.path().join("other.key"))
        .assert()
        .success();
    let other = String::from_utf8_lossy(&out.get_output().stdout)
        .trim()
        .to_owned();
    assert!(other.starts_with("witness.other.example+"), "{other}");
    let text = std::fs::read_to_string(policy).unwrap();
    let log_line = text.lines().find(|l| l.starts_with("log ")).unwrap();
    let strict = tmp.path().join("strict.policy");
    std::fs::write(
        &strict,
        format!("{log_line}\nwitness other {other}\nquorum other\n"),
    )
    .unwrap();
    let out = Command::cargo_bin("armsledger")
        .unwrap()
        .args(["verify", "--no-state", "--json", "--policy"])
        .arg(&strict)
        .arg(dir.join("ledger.bundle"))
        .assert()
        .code(1);
    let r: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(r["problems"][0]["kind"], "quorum_not_met", "{r:#}");
    assert_eq!(r["witnesses"]["quorum_met"], false);
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
        "key-handed-over",
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
        "a key hand-over",
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

/// Issue 17: no free text the demo wrote is in the signed ledger. The texts
/// are every note the demo sealed, read back from the note stores of its
/// sites, its regulator and its server; the entry bytes of the exported
/// bundle (and the bundle file itself) must contain none of them.
#[test]
fn no_free_text_of_the_demo_is_in_the_entry_bytes_of_its_bundle() {
    use armsledger_bundle::{BundleReader, Record};
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
    let mut texts = std::collections::BTreeSet::new();
    for site in std::fs::read_dir(dir.join("sites")).unwrap() {
        let path = site.unwrap().path().join("site.redb");
        let ledger = armsledger_store::ArmouryLedger::open(&path).unwrap();
        for (_, rec) in ledger.notes().unwrap() {
            texts.insert(rec.opening.unwrap().text.to_string());
        }
    }
    let server = armsledger_store::LogStore::open(dir.join("server").join("log.redb")).unwrap();
    let on_server: Vec<String> = server
        .notes()
        .unwrap()
        .into_iter()
        .filter_map(|(_, r)| r.opening.map(|o| o.text.to_string()))
        .collect();
    // The sites sent the server the openings of the notes their entries carry.
    assert!(!on_server.is_empty());
    assert!(on_server.iter().all(|t| texts.contains(t)), "{on_server:?}");
    // The demo's script: its story's texts are among them.
    for said in [
        "pistol taken from the escort vehicle's lock box during a break-in",
        "armed guarding, day shift",
        "inspected; recoil spring replaced",
        "bore pitted; barrel replaced by the gunsmith",
        "armed-response callout; the only qualified shotgun holder is off sick",
    ] {
        assert!(
            texts.contains(said),
            "the demo sealed no {said:?}: {texts:?}"
        );
    }
    let file = std::fs::read(dir.join("ledger.bundle")).unwrap();
    let mut entries = 0;
    for item in BundleReader::new(&file[..]) {
        if let Record::Entry(e) = item.unwrap().item {
            entries += 1;
            for t in &texts {
                assert!(
                    !contains(&e.bytes, t.as_bytes()),
                    "entry {} carries the text {t:?}",
                    e.index
                );
            }
        }
    }
    assert!(entries > 100, "{entries} entries");
    for t in &texts {
        assert!(!contains(&file, t.as_bytes()), "the bundle carries {t:?}");
    }
    // Firing: the scan finds a text where one is.
    assert!(contains(
        b"xx armed guarding, day shift xx",
        b"armed guarding, day shift"
    ));
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}
