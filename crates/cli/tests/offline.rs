//! Offline reading of a bundle: book (views and corrections report), trace,
//! inventory and alerts, all from a verified file with no server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use armsledger_core::event::SiteEvent;
use armsledger_core::model::{DocKind, Item};
use armsledger_core::testkit::{Scenario, doc, pistol, text, v};
use assert_cmd::Command;

fn bundle(dir: &std::path::Path) -> std::path::PathBuf {
    let mut s = Scenario::standard();
    let (gun, acq) = s.acquire("north", "GLK-0O1"); // mistyped: letter O
    let (gun2, _) = s.acquire("north", "GLK-002");
    let mut fixed = pistol("GLK-0O1");
    fixed.serial = v("GLK-001");
    s.site(
        "north",
        "armourer-1",
        SiteEvent::Corrected {
            supersedes: acq.hash(),
            reason: text("serial mistyped: letter O for zero"),
            approver: Some(v("armourer-2")),
            corrected: Box::new(SiteEvent::FirearmAcquired {
                firearm: gun,
                identity: fixed,
                source: armsledger_core::model::Counterparty {
                    name: v("Dealer"),
                    licence: Some(v("DL-1")),
                },
                authorisation: doc(DocKind::AcquisitionPermit, "AP-1"),
                location: v("vault"),
            }),
        },
    );
    s.site(
        "north",
        "armourer-1",
        SiteEvent::Disposed {
            item: Item::Firearm(gun2),
            method: armsledger_core::model::DisposalMethod::Destroyed,
            place: v("Police smelter"),
            witnesses: vec![v("witness-1"), v("witness-2")],
            authorisation: doc(DocKind::DisposalOrder, "DO-9"),
            certificate: None,
        },
    );
    let key = armsledger_log::LogKey::from_seed("test.example/log", &[9; 32]).unwrap();
    let bytes = armsledger_bundle::full_bundle(&s.log, &key, s.regulator_key(), s.now).unwrap();
    let path = dir.join("ledger.bundle");
    std::fs::write(&path, bytes).unwrap();
    path
}

fn run(args: &[&str]) -> String {
    let out = Command::cargo_bin("armsledger")
        .unwrap()
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn book_views_and_corrections_report() {
    let dir = tempfile::tempdir().unwrap();
    let b = bundle(dir.path());
    let b = b.to_str().unwrap();
    let corrected = run(&["book", "--site", "north", "--bundle", b]);
    assert!(
        corrected.contains("GLK-001") && !corrected.contains("GLK-0O1,"),
        "{corrected}"
    );
    assert!(
        corrected.contains("Destroyed at Police smelter under DO-9"),
        "{corrected}"
    );
    assert!(
        corrected.contains("serial mistyped"),
        "corrections report follows the book: {corrected}"
    );
    let original = run(&[
        "book", "--site", "north", "--bundle", b, "--view", "original",
    ]);
    assert!(original.contains("GLK-0O1"), "{original}");
    let both = run(&[
        "book", "--site", "north", "--bundle", b, "--view", "both", "--format", "html",
    ]);
    assert!(
        both.contains("<td>GLK-0O1</td>") && both.contains("<td>GLK-001</td>"),
        "{both}"
    );
    assert!(both.contains("corrected serial"));
}

#[test]
fn trace_inventory_and_alerts_from_a_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let b = bundle(dir.path());
    let b = b.to_str().unwrap();
    let t: serde_json::Value =
        serde_json::from_str(&run(&["trace", "glk 001", "--bundle", b, "--json"])).unwrap();
    let events = t["firearms"][0]["timeline"]["events"].as_array().unwrap();
    assert_eq!(events.len(), 2, "acquisition and its correction: {t:#}");
    assert_eq!(t["firearms"][0]["timeline"]["complete"], true);
    assert!(!events[0]["corrected_by"].is_null());
    let inv: serde_json::Value = serde_json::from_str(&run(&[
        "inventory",
        "--site",
        "north",
        "--bundle",
        b,
        "--json",
    ]))
    .unwrap();
    assert_eq!(inv["by_state"]["in-store"], 1);
    assert_eq!(inv["by_state"]["disposed"], 1);
    let alerts: serde_json::Value = serde_json::from_str(&run(&[
        "alerts",
        "--bundle",
        b,
        "--at",
        "2026-06-01",
        "--json",
    ]))
    .unwrap();
    assert!(
        alerts
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["rule"] == "count-overdue"),
        "{alerts:#}"
    );
    // A tampered bundle is refused before anything is shown.
    let mut bytes = std::fs::read(b).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 1;
    std::fs::write(b, bytes).unwrap();
    let out = Command::cargo_bin("armsledger")
        .unwrap()
        .args(["trace", "GLK-001", "--bundle", b])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not authentic"));
}
