//! `armsledger demo` as a user runs it: device processes, the server, a
//! small scenario, then the summary checked against what it points at.
//! The unit test in `src/cmd/demo/mod.rs` runs the same story with devices
//! on threads.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::Path;

use assert_cmd::Command;
use redb::ReadableDatabase;

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
    oversight_year(&s, &dir);
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
    // The regulator's own notes (its oversight acts seal theirs).
    let reg = redb::Database::open(dir.join("regulator").join("regulator.redb")).unwrap();
    let txn = reg.begin_read().unwrap();
    let mut regulators = 0;
    for (_, rec) in armsledger_store::notes::all(&txn).unwrap() {
        texts.insert(rec.opening.unwrap().text.to_string());
        regulators += 1;
    }
    assert!(regulators > 0, "the regulator sealed nothing");
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
        // The complaint's summary: the complainant is never in the ledger.
        "a client reports a guard posted armed without showing a permit",
        "key log: two key hand-overs signed by one person only",
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

/// Issue 18: the regulator's year in `summary.json`, each act by reference
/// with the entries that record it, and the figures of the regulator's
/// summary report, read again offline from the bundle.
fn oversight_year(s: &serde_json::Value, dir: &Path) {
    let o = &s["oversight"];
    let act = |kind: &str| {
        let v = o[kind].as_array().unwrap();
        assert_eq!(v.len(), 1, "{kind}: {o:#}");
        v[0].clone()
    };
    let regulator_entries = s["chains"]["regulator"].as_u64().unwrap();
    let stages = |a: &serde_json::Value| -> Vec<(String, String, u64)> {
        a["stages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|st| {
                (
                    st["what"].as_str().unwrap().to_string(),
                    st["chain"].as_str().unwrap().to_string(),
                    st["entry"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    // Inspection planned then performed; its finding recorded then closed.
    let inspection = act("inspections");
    assert_eq!(inspection["status"], "performed", "{o:#}");
    let st = stages(&inspection);
    assert_eq!(st.len(), 2);
    assert!(st[0].0.starts_with("planned for "), "{st:?}");
    assert_eq!(st[1].0, "performed");
    assert!(st[0].2 < st[1].2 && st[1].2 <= regulator_entries, "{st:?}");
    let finding = act("findings");
    assert_eq!(finding["status"], "closed", "{o:#}");
    assert!(
        finding["about"]
            .as_str()
            .unwrap()
            .ends_with(inspection["reference"].as_str().unwrap())
    );
    assert_eq!(stages(&finding).len(), 2);
    // The fine follows from the finding.
    let sanction = act("sanctions");
    assert!(
        stages(&sanction)[0]
            .0
            .ends_with(finding["reference"].as_str().unwrap()),
        "{o:#}"
    );
    let complaint = act("complaints");
    assert_eq!(complaint["status"], "resolved", "{o:#}");
    assert_eq!(stages(&complaint)[1].0, "resolved: not upheld");
    // Every regulator act is on the regulator chain.
    for a in [
        &inspection,
        &finding,
        &sanction,
        &complaint,
        &act("notices"),
    ] {
        assert!(
            stages(a)
                .iter()
                .all(|(_, chain, n)| chain == "regulator" && *n <= regulator_entries),
            "{a:#}"
        );
    }
    // One trace request answered by the company's site, one overdue.
    let traces = o["trace_requests"].as_array().unwrap();
    let status: Vec<&str> = traces
        .iter()
        .map(|t| t["status"].as_str().unwrap())
        .collect();
    assert_eq!(status, ["answered", "overdue"], "{o:#}");
    let answered = stages(&traces[0]);
    let last_site = s["sites"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .as_str()
        .unwrap();
    assert_eq!(answered.len(), 2, "{answered:?}");
    assert_eq!(answered[1].0, "answered: held");
    assert_eq!(answered[1].1, last_site);
    assert_eq!(stages(&traces[1]).len(), 1);
    // The noticed revolver acquired at a site: a critical stolen-hit alert.
    let hit = act("stolen_hits");
    assert_eq!(hit["act"]["chain"], last_site, "{o:#}");
    assert_eq!(hit["matched"], act("notices")["reference"]);
    assert!(
        hit["alert"].as_str().unwrap().starts_with(&format!(
            "CRITICAL: firearm-acquired of firearm {}",
            hit["serial"].as_str().unwrap()
        )),
        "{o:#}"
    );
    assert_eq!(s["alerts"]["stolen-hit"], 1, "{s:#}");
    assert_eq!(s["alerts"]["trace-overdue"], 1, "{s:#}");
    // The server's summary report says the same per company...
    let figures = |rows: &[serde_json::Value], col: &str| -> Vec<(String, u64)> {
        rows.iter()
            .map(|r| {
                (
                    r["company"].as_str().unwrap().to_string(),
                    r[col].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let served = o["by_company"].as_array().unwrap();
    let expect = |acme: u64, bastion: u64| {
        vec![
            ("acme-security".to_string(), acme),
            ("bastion-guarding".to_string(), bastion),
        ]
    };
    let checks = [
        ("open_findings", 0, 0),
        ("stolen_hits", 0, 1),
        ("trace_open", 0, 0),
        ("trace_overdue", 1, 0),
    ];
    for (col, acme, bastion) in checks {
        assert_eq!(figures(served, col), expect(acme, bastion), "{col}: {o:#}");
    }
    // ... and so does the same report computed offline from the bundle.
    let end = s["scenario"][1].as_str().unwrap();
    let out = Command::cargo_bin("armsledger")
        .unwrap()
        .args([
            "report", "summary", "--format", "json", "--at", end, "--bundle",
        ])
        .arg(dir.join("ledger.bundle"))
        .assert()
        .success();
    let t: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let rows = t["rows"].as_array().unwrap();
    for (col, acme, bastion) in checks {
        assert_eq!(figures(rows, col), expect(acme, bastion), "{col}: {t:#}");
    }
}
