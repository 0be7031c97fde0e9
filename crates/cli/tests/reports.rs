//! `armsledger report` offline from a real bundle, as separate processes:
//! CSV and HTML escaped, and the periodic return filed, checked, and refused
//! when a figure is changed or an entry was withheld from its computation.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use armsledger_core::LedgerVerifier;
use armsledger_core::event::SiteEvent;
use armsledger_core::ids::Timestamp;
use armsledger_core::model::{DisposalMethod, DocKind, Item, LossKind};
use armsledger_core::rules::View;
use armsledger_core::testkit::{Scenario, doc, note, v};
use armsledger_reports::periodic::{self, CheckpointRef};
use armsledger_reports::{Ledger, Logged};
use assert_cmd::Command;

const HOSTILE: &str = "<script>alert(1)</script>, \"quoted\"";

struct World {
    s: Scenario,
    from: Timestamp,
    to: Timestamp,
    disposal: usize,
}

/// North: SN-1 and SN-2 and 500 rounds before the period; in it, SN-1
/// issued with 30 rounds and back with 5 expended, SN-2 destroyed, and a
/// loss of 10 rounds whose circumstances are hostile text.
fn world() -> World {
    let mut s = Scenario::standard();
    let (sn1, _) = s.acquire("north", "SN-1");
    let (sn2, _) = s.acquire("north", "SN-2");
    let lot = s.receive("north", "L-1", 500);
    s.tick(Timestamp::HOUR);
    let from = s.now;
    let issue = s.issue("north", sn1, "guard-1", lot, 30);
    s.return_spent("north", &issue, 5);
    s.site(
        "north",
        "armourer-1",
        SiteEvent::Disposed {
            item: Item::Firearm(sn2),
            method: DisposalMethod::Destroyed,
            place: v(HOSTILE),
            witnesses: vec![v("witness-1"), v("witness-2")],
            authorisation: doc(DocKind::DisposalOrder, "DO-1"),
            certificate: None,
        },
    );
    let disposal = s.log.len() - 1;
    s.site(
        "north",
        "armourer-1",
        SiteEvent::LossReported {
            items: vec![Item::Rounds(armsledger_core::model::AmmoLine {
                lot,
                rounds: 10,
            })],
            kind: LossKind::Loss,
            holder: None,
            discovered_at: s.now.minus(2 * Timestamp::HOUR),
            circumstances: note("lost on patrol near the river"),
            police_ref: None,
            regulator_ref: None,
        },
    );
    s.tick(Timestamp::HOUR);
    let to = s.now;
    World {
        s,
        from,
        to,
        disposal,
    }
}

fn write_bundle(dir: &Path, s: &Scenario) -> PathBuf {
    let key = armsledger_log::LogKey::from_seed("test.example/log", &[9; 32]).unwrap();
    let bytes = armsledger_bundle::full_bundle(&s.log, &key, s.regulator_key(), s.now).unwrap();
    let path = dir.join("ledger.bundle");
    std::fs::write(&path, bytes).unwrap();
    path
}

fn armsledger(args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("armsledger")
        .unwrap()
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn period(w: &World) -> (String, String) {
    (w.from.rfc3339(), w.to.rfc3339())
}

#[test]
fn registers_from_a_bundle_in_csv_json_and_html_escaped() {
    let w = world();
    let dir = tempfile::tempdir().unwrap();
    let b = write_bundle(dir.path(), &w.s);
    let b = b.to_str().unwrap();
    let (from, to) = period(&w);
    let args = |name: &'static str, format: &'static str| {
        vec![
            "report",
            name,
            "--site",
            "north",
            "--from",
            from.as_str(),
            "--to",
            to.as_str(),
            "--format",
            format,
            "--bundle",
            b,
        ]
    };
    let (code, csv_text, err) = armsledger(&args("losses", "csv"));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("verified offline"), "{err}");
    let mut r = csv::Reader::from_reader(csv_text.as_bytes());
    let header = r.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1, "{csv_text}");
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    // The circumstances are a sealed note: the register names it, the text
    // stays in the note stores.
    assert!(
        rows[0][col("circumstances")].starts_with("sealed note "),
        "{csv_text}"
    );
    assert!(!csv_text.contains("river"), "{csv_text}");
    assert_eq!(&rows[0][col("items")], "L-1 x10");
    assert_eq!(&rows[0][col("hours_to_report")], "2");

    let (code, csv_text, err) = armsledger(&args("disposals", "csv"));
    assert_eq!(code, 0, "{err}");
    let mut r = csv::Reader::from_reader(csv_text.as_bytes());
    let header = r.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert_eq!(&rows[0][col("place")], HOSTILE);
    // The comma and quotes are quoted, not split.
    assert!(
        csv_text.contains("\"<script>alert(1)</script>, \"\"quoted\"\"\""),
        "{csv_text}"
    );

    let (code, html, err) = armsledger(&args("disposals", "html"));
    assert_eq!(code, 0, "{err}");
    assert!(!html.contains("<script>"), "{html}");
    assert!(
        html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "{html}"
    );

    let (code, json, err) = armsledger(&args("issues", "json"));
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["report"], "issues");
    assert_eq!(v["rows"][0]["serial"], "SN-1");
    assert_eq!(v["rows"][0]["rounds_expended"], 5);
    assert_eq!(v["rows"][0]["status"], "returned");

    let (code, _, err) = armsledger(&["report", "return", "--bundle", b]);
    assert_eq!(code, 2);
    assert!(err.contains("--site"), "{err}");
    let (code, _, err) = armsledger(&["report", "nonsense", "--bundle", b]);
    assert_eq!(code, 2);
    assert!(err.contains("no report named"), "{err}");
}

/// The return from the CLI's JSON, checked by verify-return against the bundle.
#[test]
fn a_filed_return_is_checked_against_the_bundle() {
    let w = world();
    let dir = tempfile::tempdir().unwrap();
    let b = write_bundle(dir.path(), &w.s);
    let b = b.to_str().unwrap();
    let (from, to) = period(&w);
    let q = dir.path().join("q.json");
    let q = q.to_str().unwrap();
    let (code, _, err) = armsledger(&[
        "report",
        "return",
        "--site",
        "north",
        "--from",
        from.as_str(),
        "--to",
        to.as_str(),
        "--format",
        "json",
        "--out",
        q,
        "--bundle",
        b,
    ]);
    assert_eq!(code, 0, "{err}");
    let filed = periodic::parse(&std::fs::read(q).unwrap()).unwrap();
    let r = &filed.body;
    // Written by hand from the story: SN-1 and SN-2 open, SN-2 destroyed;
    // 500 rounds open, 5 expended, 10 lost.
    assert_eq!(r.firearms.opening, 2);
    assert_eq!(r.firearms.disposed, 1);
    assert_eq!(r.firearms.closing, 1);
    assert_eq!(r.lots[0].opening, 500);
    assert_eq!(r.lots[0].expended, 5);
    assert_eq!(r.lots[0].lost, 10);
    assert_eq!(r.lots[0].closing, 485);
    assert_eq!(r.checkpoint.size, w.s.log.len() as u64);

    let (code, out, err) = armsledger(&["report", "verify-return", q, "--bundle", b]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("FOLLOWS FROM THE LEDGER"), "{out}");

    // A figure changed in the file: the hash no longer matches, and the figure is named.
    let mut text = std::fs::read_to_string(q).unwrap();
    text = text.replace("\"disposed\": 1,", "\"disposed\": 0,");
    let edited = dir.path().join("edited.json");
    std::fs::write(&edited, &text).unwrap();
    let (code, out, _) = armsledger(&[
        "report",
        "verify-return",
        edited.to_str().unwrap(),
        "--bundle",
        b,
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("hash: DOES NOT match"), "{out}");
    assert!(
        out.contains("DIFFERS firearms.disposed: the return says 0, the ledger says 1"),
        "{out}"
    );
    assert!(out.contains("DOES NOT FOLLOW FROM THE LEDGER"), "{out}");
}

#[test]
fn a_return_computed_with_one_entry_withheld_is_refused() {
    let w = world();
    let dir = tempfile::tempdir().unwrap();
    let b = write_bundle(dir.path(), &w.s);
    // The licensee computes its return leaving out the destruction of SN-2.
    let mut verifier =
        LedgerVerifier::new(w.s.regulator_key(), vec![w.s.root_key()], View::Corrected);
    let kept: Vec<(u64, Arc<armsledger_core::entry::SignedEntry>)> =
        w.s.log
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != w.disposal)
            .map(|(i, e)| (i as u64, e.clone()))
            .collect();
    for e in &w.s.log {
        verifier.ingest(e.clone(), None).unwrap();
    }
    let ledger = Ledger {
        state: verifier.engine().state(),
        findings: &[],
        entries: kept
            .iter()
            .map(|(i, e)| Logged {
                index: *i,
                received_at: None,
                entry: e,
            })
            .collect(),
        checkpoint: Some(CheckpointRef {
            size: w.s.log.len() as u64,
            root: bundle_root(&w, &b),
        }),
        extra_alerts: vec![],
    };
    let short = periodic::compute(
        &ledger,
        &v("north"),
        w.from,
        w.to,
        ledger.checkpoint.unwrap(),
    );
    let q = dir.path().join("short.json");
    std::fs::write(
        &q,
        serde_json::to_vec_pretty(&short.file().unwrap()).unwrap(),
    )
    .unwrap();
    let (code, out, err) = armsledger(&[
        "report",
        "verify-return",
        q.to_str().unwrap(),
        "--bundle",
        b.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("hash: matches"), "{out}");
    assert!(out.contains("root compared"), "{out}");
    assert!(out.contains("DIFFERS chain.entries"), "{out}");
    assert!(
        out.contains("DIFFERS firearms.disposed: the return says 0, the ledger says 1"),
        "{out}"
    );
    assert!(
        out.contains("DIFFERS firearms.closing: the return says 2, the ledger says 1"),
        "{out}"
    );
    // As JSON for scripts.
    let (code, out, _) = armsledger(&[
        "report",
        "verify-return",
        q.to_str().unwrap(),
        "--bundle",
        b.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["ok"], false);
    assert!(
        v["differences"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["field"] == "firearms.disposed"
                && d["claimed"] == "0"
                && d["ledger"] == "1")
    );
}

/// The bundle's checkpoint root, from the return the command files.
fn bundle_root(w: &World, b: &Path) -> armsledger_core::hash::Hash {
    let (from, to) = period(w);
    let (code, out, err) = armsledger(&[
        "report",
        "return",
        "--site",
        "north",
        "--from",
        from.as_str(),
        "--to",
        to.as_str(),
        "--format",
        "json",
        "--bundle",
        b.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    periodic::parse(out.as_bytes())
        .unwrap()
        .body
        .checkpoint
        .root
}
