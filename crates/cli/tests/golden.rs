//! Golden outputs: what a person reads from `trace`, `inventory` and
//! `findings`, compared with committed files in `tests/golden/`. The ledger
//! is core's testkit `Showcase` (fixed keys and times), exported as a full
//! bundle, so the files hold no volatile part but the temporary directory,
//! which is masked as `[DIR]`. After a deliberate change of wording, rewrite
//! the files with `GOLDEN=overwrite cargo test -p armsledger-cli --test golden`
//! and review the diff.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use armsledger_core::testkit::Showcase;
use assert_cmd::Command;

fn bundle(dir: &Path) -> PathBuf {
    let show = Showcase::new();
    let s = &show.scenario;
    let key = armsledger_log::LogKey::from_seed("test.example/log", &[9; 32]).unwrap();
    let bytes = armsledger_bundle::full_bundle(&s.log, &key, s.regulator_key(), s.now).unwrap();
    let path = dir.join("showcase.bundle");
    std::fs::write(&path, bytes).unwrap();
    path
}

/// A dossier of the corrected weapon (its history and the count that saw it).
fn dossier(dir: &Path) -> PathBuf {
    use armsledger_bundle::{BundleSpec, MemoryLog, Scope, write_bundle};
    let show = Showcase::new();
    let s = &show.scenario;
    let key = armsledger_log::LogKey::from_seed("test.example/log", &[9; 32]).unwrap();
    let log = MemoryLog::from_entries(s.log.iter().cloned()).unwrap();
    let mut spec = BundleSpec::new(&key, s.regulator_key(), s.now);
    spec.manufacturer_roots = vec![s.root_key()];
    let bytes = write_bundle(&log, &spec, Scope::Firearm(show.corrected), Vec::new()).unwrap();
    let path = dir.join("GLK001.dossier");
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Runs the command and compares its stdout with `tests/golden/{name}.txt`.
fn golden(name: &str, dir: &Path, args: &[&str]) {
    let out = Command::cargo_bin("armsledger")
        .unwrap()
        .args(args)
        .env("HOME", dir)
        .env_remove("ARMSLEDGER_SERVER")
        .env_remove("ARMSLEDGER_TOKEN")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = String::from_utf8(out.stdout)
        .unwrap()
        .replace(dir.to_str().unwrap(), "[DIR]");
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.txt"));
    if std::env::var("GOLDEN").as_deref() == Ok("overwrite") {
        std::fs::write(&file, &got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&file).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; write it with GOLDEN=overwrite\n--- got ---\n{got}",
            file.display()
        )
    });
    assert!(
        got == want,
        "{name}: output differs from {}\n--- want ---\n{want}\n--- got ---\n{got}",
        file.display()
    );
}

#[test]
fn trace_inventory_and_findings_read_as_committed() {
    let tmp = tempfile::tempdir().unwrap();
    let b = bundle(tmp.path());
    let b = b.to_str().unwrap();
    let d = tmp.path();
    golden("trace", d, &["trace", Showcase::SERIAL, "--bundle", b]);
    golden(
        "trace-lot",
        d,
        &[
            "trace",
            "--lot",
            "L-24-0917",
            "--bundle",
            b,
            "--held-between",
            "2026-01-01..2026-01-02T12:00:00Z",
        ],
    );
    golden(
        "trace-mistyped-both",
        d,
        &["trace", Showcase::MISTYPED, "--bundle", b, "--view", "both"],
    );
    golden(
        "trace-original",
        d,
        &[
            "trace",
            Showcase::SERIAL,
            "--bundle",
            b,
            "--view",
            "original",
        ],
    );
    golden(
        "inventory",
        d,
        &["inventory", "--site", "north", "--bundle", b],
    );
    // A dossier: the same events, and each entry's proof checked offline.
    let dos = dossier(d);
    golden(
        "trace-dossier",
        d,
        &[
            "trace",
            Showcase::MISTYPED,
            "--bundle",
            dos.to_str().unwrap(),
        ],
    );
    golden("findings", d, &["findings", "--bundle", b]);
    golden(
        "findings-filtered",
        d,
        &[
            "findings",
            "--bundle",
            b,
            "--rule",
            "qualification-current",
            "--since",
            "2026-01-01",
            "--overridden",
            "false",
        ],
    );
}

#[test]
fn trace_json_has_rfc3339_times_hex_ids_and_no_null_proofs() {
    let tmp = tempfile::tempdir().unwrap();
    let b = bundle(tmp.path());
    let out = Command::cargo_bin("armsledger")
        .unwrap()
        .args(["trace", Showcase::SERIAL, "--json", "--bundle"])
        .arg(&b)
        .output()
        .unwrap();
    assert!(out.status.success());
    let t: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = &t["firearms"][0];
    assert!(f["id"].as_str().is_some_and(|s| s.len() == 32), "{f:#}");
    let e = &f["timeline"]["events"][0];
    assert_eq!(e["time"], "2026-01-01T00:00:30Z", "{e:#}");
    assert!(
        f.get("proofs").is_none(),
        "a bundle trace claims no proofs: {t:#}"
    );
    assert!(
        t["evidence"]
            .as_str()
            .unwrap()
            .contains("Merkle root recomputed from all entries"),
        "{t:#}"
    );
}
