//! `armsledger trace --lot` (issue 24) against a real `armsledger serve`
//! (its redb file, a loopback port) and against the server's export read
//! offline: the same acts, the same balances after each, the same answer to
//! who held rounds in a window; and the human form names the holders.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod harness;

use std::process::Command;

use armsledger_core::ids::Timestamp;
use armsledger_core::testkit::LotJourney;
use harness::{Server, bin, get};
use serde_json::Value;

struct World {
    _tmp: tempfile::TempDir,
    srv: Server,
    token: String,
    bundle: std::path::PathBuf,
    j: LotJourney,
}

fn world() -> World {
    let tmp = tempfile::tempdir().unwrap();
    let j = LotJourney::new();
    let srv = Server::start(
        &tmp.path().join("srv"),
        &j.scenario,
        "checkpoint_interval_ms = 20\n",
    );
    assert_eq!(srv.post(j.log()).0, 200);
    srv.settled_checkpoint();
    let token = srv.token("regulator");
    let (st, b) = get(&srv.url, "/v1/export", Some(&token));
    assert_eq!(st, 200, "{}", String::from_utf8_lossy(&b));
    let bundle = tmp.path().join("ledger.bundle");
    std::fs::write(&bundle, b).unwrap();
    World {
        _tmp: tmp,
        srv,
        token,
        bundle,
        j,
    }
}

fn run(args: &[&str]) -> String {
    let out = Command::new(bin())
        .args(args)
        .env_remove("ARMSLEDGER_SERVER")
        .env_remove("ARMSLEDGER_TOKEN")
        .env("HOME", std::env::temp_dir())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "armsledger {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

impl World {
    fn online(&self, extra: &[&str]) -> String {
        let mut a = vec![
            "trace",
            "--lot",
            "lj 7",
            "--server",
            &self.srv.url,
            "--token",
            &self.token,
        ];
        a.extend_from_slice(extra);
        run(&a)
    }

    fn offline(&self, extra: &[&str]) -> String {
        let b = self.bundle.to_str().unwrap();
        let mut a = vec!["trace", "--lot", "LJ-7", "--bundle", b];
        a.extend_from_slice(extra);
        run(&a)
    }
}

/// What must agree between the two: each act's hash, kind, summary,
/// changes, balances and flags, and the window.
fn timeline(t: &Value) -> Value {
    let l = &t["lots"][0];
    let steps: Vec<Value> = l["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            serde_json::json!({
                "hash": s["hash"], "kind": s["kind"], "summary": s["summary"],
                "changes": s["changes"], "balances": s["balances"], "flags": s["flags"],
                "incident": s["incident"], "issue": s["issue"], "link_ok": s["link_ok"],
                "index": s["index"],
            })
        })
        .collect();
    serde_json::json!({
        "identity": l["identity"], "receipts": l["receipts"], "steps": steps,
        "balances": l["balances"], "flags": l["flags"], "complete": l["complete"],
        "held_between": l["held_between"],
    })
}

#[test]
fn online_and_offline_give_the_same_timeline_and_window() {
    let w = world();
    let at = |i: usize| w.j.acts[i].header().device_time;
    let window = format!(
        "{}..{}",
        at(4).plus(Timestamp::HOUR),
        at(7).plus(Timestamp::HOUR)
    );
    let on: Value =
        serde_json::from_str(&w.online(&["--json", "--held-between", &window])).unwrap();
    let off: Value =
        serde_json::from_str(&w.offline(&["--json", "--held-between", &window])).unwrap();
    assert_eq!(timeline(&on), timeline(&off));
    let steps = on["lots"][0]["steps"].as_array().unwrap();
    assert_eq!(steps.len(), w.j.acts.len());
    assert!(steps.iter().all(|s| s["index"].is_u64()));
    assert_eq!(
        on["lots"][0]["proofs"].as_array().unwrap().len(),
        steps.len(),
        "a proof per act online"
    );
    assert!(
        off["lots"][0].get("proofs").is_none(),
        "a bundle claims no proofs"
    );
    let holders = on["lots"][0]["held_between"]["holders"].as_array().unwrap();
    assert_eq!(holders.len(), 5, "{holders:#?}");
    // Quiet: no window asked, none answered.
    let plain: Value = serde_json::from_str(&w.offline(&["--json"])).unwrap();
    assert!(plain["lots"][0].get("held_between").is_none());
}

#[test]
fn the_human_form_names_holders_moves_the_difference_and_the_window() {
    let w = world();
    let at = |i: usize| w.j.acts[i].header().device_time;
    let window = format!(
        "{}..{}",
        at(4).plus(Timestamp::HOUR),
        at(5).plus(Timestamp::HOUR)
    );
    let text = w.offline(&["--held-between", &window]);
    for want in [
        "lot LJ-7 of PMP, 9x19mm made 2025",
        "received 1000 rounds at north",
        "north in transit to south: 0 → 300",
        "north with guard-2: 50 → 30",
        "incident INC-7",
        "DIFFERENCE at south: expected 300, found 290",
        "now: south in store at vault 300",
        "1 unexplained difference",
        "north with guard-1: 100 at the start, at most 100, 100 at the end under issue",
        "south with guard-3: 0 at the start, at most 40, 40 at the end under issue",
        "13 acts; history complete",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    assert_eq!(
        text,
        w.online(&["--held-between", &window])
            .replace(&evidence_online(&w), &evidence_offline(&w))
    );
}

fn evidence_online(w: &World) -> String {
    let t: Value = serde_json::from_str(&w.online(&["--json"])).unwrap();
    t["evidence"].as_str().unwrap().to_string()
}

fn evidence_offline(w: &World) -> String {
    let t: Value = serde_json::from_str(&w.offline(&["--json"])).unwrap();
    t["evidence"].as_str().unwrap().to_string()
}

#[test]
fn an_unknown_lot_and_a_bad_window_fail_with_the_reason() {
    let w = world();
    let b = w.bundle.to_str().unwrap();
    let out = Command::new(bin())
        .args(["trace", "--lot", "LJ-8", "--bundle", b])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no ammunition lot LJ-8"));
    let out = Command::new(bin())
        .args([
            "trace",
            "--lot",
            "LJ-7",
            "--bundle",
            b,
            "--held-between",
            "2026-02-01..2026-01-01",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("before it starts"));
    // --held-between is for lots only.
    let out = Command::new(bin())
        .args([
            "trace",
            "GLK-1",
            "--bundle",
            b,
            "--held-between",
            "2026-01-01..2026-02-01",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn the_lots_dossier_is_downloaded_checked_offline_and_gives_the_same_timeline() {
    let w = world();
    let file = w._tmp.path().join("lj7.dossier");
    let f = file.to_str().unwrap();
    let on: Value = serde_json::from_str(&w.online(&["--json"])).unwrap();
    let from_dossier: Value = serde_json::from_str(&w.online(&["--json", "--dossier", f])).unwrap();
    assert!(file.exists(), "the dossier is kept where asked");
    assert_eq!(timeline(&on), timeline(&from_dossier));
    let evidence = from_dossier["evidence"].as_str().unwrap();
    assert!(
        evidence.starts_with("verified offline") && evidence.contains("each of its 2 sites"),
        "{evidence}"
    );
    // `verify` names the lot dossier and its sites.
    let text = run(&["verify", f]);
    assert!(
        text.contains(&format!("lot dossier: lot {}", w.j.lot)),
        "{text}"
    );
    assert!(
        text.contains("  site:north: ") && text.contains("  site:south: "),
        "{text}"
    );
    // A dossier file cut short is refused before anything is traced.
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    let out = Command::new(bin())
        .args(["trace", "--lot", "LJ-7", "--bundle", f])
        .output()
        .unwrap();
    assert!(!out.status.success(), "a truncated dossier was traced");
}
