//! `armsledger verify` as a person reads it: each case runs the binary on a
//! bundle made here, masks what changes from run to run (today's date, the
//! temporary directory) and compares the output with the committed text in
//! `tests/snapshots/verify/<case>.txt`. `ARMSLEDGER_BLESS=1` rewrites them.
//!
//! The cases are the issues' (13, 14): the scope and what is proven per
//! chain, the WARNING lines for unproven chain ends and a log key nothing
//! checked, the trust line in words, another log under a known origin and
//! trusting it on purpose, a dossier, and a cloned device caught in a full
//! export with the server's findings.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use armsledger_bundle::{BundleSpec, MemoryLog, Scope, ServerFinding, write_bundle};
use armsledger_core::chain::Equivocation;
use armsledger_core::event::SiteEvent;
use armsledger_core::ids::Timestamp;
use armsledger_core::model::{FirearmId, Item, Reliance};
use armsledger_core::rules::View;
use armsledger_core::testkit::{Scenario, loc, note, v};
use armsledger_core::{LedgerVerifier, SignedEntry};
use armsledger_log::LogKey;
use assert_cmd::Command;

const ORIGIN: &str = "ledger.example/log";

fn key(seed: u8) -> LogKey {
    LogKey::from_seed(ORIGIN, &[seed; 32]).unwrap()
}

/// A small ledger: pistol AB-1 acquired, moved, issued to someone with no
/// licence (a finding); north's device cloned at the move (an equivocation).
fn world() -> (
    Scenario,
    FirearmId,
    Option<(Arc<SignedEntry>, Equivocation)>,
) {
    let mut s = Scenario::standard();
    let (gun, _) = s.acquire("north", "AB-1");
    s.acquire("north", "AB-2");
    let mut clone = s.clone();
    let moved = s.site(
        "north",
        "armourer-2",
        SiteEvent::StorageMoved {
            item: Item::Firearm(gun),
            from: loc("vault"),
            to: loc("rack-1"),
        },
    );
    let (_, other) = clone.acquire("north", "CLONED");
    let proof =
        Equivocation::from_entries(s.sites[&v("north")].public_key(), &moved, &other).unwrap();
    s.site(
        "north",
        "armourer-1",
        SiteEvent::Issued {
            firearm: gun,
            to: v("stranger"),
            purpose: note("patrol"),
            post: v("gate-1"),
            due_back: s.now.plus(8 * 3_600_000),
            reliance: Reliance {
                licence: v("LIC-x"),
                permit: v("PER-x"),
                qualification: v("Q-x"),
            },
            ammunition: vec![],
            ammunition_from: None,
        },
    );
    (s, gun, Some((moved, proof)))
}

/// The log a server keeps: receipt times, its findings, the clone's proof.
fn server_log(s: &Scenario, proof: Option<&(Arc<SignedEntry>, Equivocation)>) -> MemoryLog {
    let mut log = MemoryLog::new();
    let mut verifier = LedgerVerifier::new(s.regulator_key(), vec![s.root_key()], View::Corrected);
    for e in &s.log {
        let at = e.header().device_time.plus(1000);
        let index = log.push(e.clone(), Some(at)).unwrap();
        for f in verifier.ingest(e.clone(), Some(at)).unwrap() {
            log.add_finding(
                index,
                ServerFinding {
                    rule: f.rule.name().to_owned(),
                    chain: f.chain.clone(),
                    counter: f.counter,
                    entry: f.entry,
                    evidence: f.evidence.clone(),
                },
            );
        }
        if let Some((_, q)) = proof.filter(|(logged, _)| logged.hash() == e.hash()) {
            log.add_equivocation(index, q.clone());
        }
    }
    log
}

fn write(
    dir: &Path,
    name: &str,
    s: &Scenario,
    log: &MemoryLog,
    key: &LogKey,
    scope: Scope,
) -> PathBuf {
    let mut spec = BundleSpec::new(key, s.regulator_key(), Timestamp(1_767_312_000_000));
    spec.manufacturer_roots = vec![s.root_key()];
    let path = dir.join(name);
    std::fs::write(&path, write_bundle(log, &spec, scope, Vec::new()).unwrap()).unwrap();
    path
}

/// Runs `armsledger verify` with `args`; returns (exit code, stdout masked).
fn verify(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::cargo_bin("armsledger")
        .unwrap()
        .arg("verify")
        .args(args)
        .output()
        .unwrap();
    let today = now_date();
    let text = String::from_utf8(out.stdout)
        .unwrap()
        .replace(&today, "<TODAY>")
        .replace(&dir.display().to_string(), "<TMP>");
    (out.status.code().unwrap_or(-1), text)
}

fn now_date() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    Timestamp(ms).to_string()[..10].to_owned()
}

/// Compares with (or, with `ARMSLEDGER_BLESS=1`, writes) the snapshot.
fn snapshot(case: &str, code: i32, text: &str) {
    let got = format!("exit {code}\n{text}");
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots/verify")
        .join(format!("{case}.txt"));
    if std::env::var_os("ARMSLEDGER_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{} missing: run with ARMSLEDGER_BLESS=1", path.display()));
    assert!(
        want == got,
        "{case}: the output differs from {}:\n--- want\n{want}\n--- got\n{got}",
        path.display()
    );
}

#[test]
fn a_full_bundle_with_the_trusted_key() {
    let tmp = tempfile::tempdir().unwrap();
    let (s, _, proof) = world();
    let log = server_log(&s, proof.as_ref());
    let b = write(tmp.path(), "full.bundle", &s, &log, &key(1), Scope::All);
    let vkey = key(1).verifier().to_string();
    let (code, text) = verify(
        tmp.path(),
        &[b.to_str().unwrap(), "--trusted-key", &vkey, "--no-state"],
    );
    assert_eq!(code, 0);
    assert!(!text.contains("WARNING"), "{text}");
    assert!(text.contains("equivocations: 1"), "{text}");
    snapshot("full-trusted-key", code, &text);
}

#[test]
fn a_site_bundle_first_trusted_on_first_use_then_pinned() {
    let tmp = tempfile::tempdir().unwrap();
    let (s, _, _) = world();
    let log = server_log(&s, None);
    let b = write(
        tmp.path(),
        "north.bundle",
        &s,
        &log,
        &key(1),
        Scope::Site(v("north")),
    );
    let state = tmp.path().join("state.json");
    let args = [b.to_str().unwrap(), "--state", state.to_str().unwrap()];
    let (code, text) = verify(tmp.path(), &args);
    assert_eq!(code, 0);
    assert!(text.contains("WARNING: the log key"), "{text}");
    assert!(text.contains("WARNING: regulator:"), "{text}");
    assert!(text.contains("WARNING: site:north:"), "{text}");
    snapshot("site-first-use", code, &text);
    let (code, text) = verify(tmp.path(), &args);
    assert_eq!(code, 0);
    assert!(
        text.contains("(pinned on <TODAY> in the trusted state)"),
        "{text}"
    );
    snapshot("site-pinned", code, &text);
}

#[test]
fn another_log_under_a_known_origin_and_trusting_it_on_purpose() {
    let tmp = tempfile::tempdir().unwrap();
    let (s, _, _) = world();
    let log = server_log(&s, None);
    let first = write(tmp.path(), "run-1.bundle", &s, &log, &key(1), Scope::All);
    let second = write(tmp.path(), "run-2.bundle", &s, &log, &key(2), Scope::All);
    let state = tmp.path().join("state.json");
    let state = state.to_str().unwrap();
    assert_eq!(
        verify(tmp.path(), &[first.to_str().unwrap(), "--state", state]).0,
        0
    );
    let (code, text) = verify(tmp.path(), &[second.to_str().unwrap(), "--state", state]);
    assert_eq!(code, 1);
    assert!(text.contains("--trust-new-log"), "{text}");
    snapshot("new-log-refused", code, &text);
    let (code, text) = verify(
        tmp.path(),
        &[
            second.to_str().unwrap(),
            "--state",
            state,
            "--trust-new-log",
        ],
    );
    assert_eq!(code, 0);
    snapshot("new-log-trusted", code, &text);
}

#[test]
fn a_dossier() {
    let tmp = tempfile::tempdir().unwrap();
    let (s, gun, proof) = world();
    let log = server_log(&s, proof.as_ref());
    let b = write(
        tmp.path(),
        "ab-1.dossier",
        &s,
        &log,
        &key(1),
        Scope::Firearm(gun),
    );
    let vkey = key(1).verifier().to_string();
    let (code, text) = verify(
        tmp.path(),
        &[b.to_str().unwrap(), "--trusted-key", &vkey, "--no-state"],
    );
    assert_eq!(code, 0);
    assert!(text.contains(&format!("WARNING: firearm {gun}")), "{text}");
    snapshot("dossier", code, &text);
}
