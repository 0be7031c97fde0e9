//! Issue 20 as an auditor runs it: `armsledger verify --policy` and the
//! split-view evidence it keeps, on bundles made here.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::Path;

use armsledger_bundle::{BundleSpec, MemoryLog, Scope, write_bundle};
use armsledger_core::testkit::Scenario;
use armsledger_log::{CheckpointNote, CosignerKey, LogKey};
use assert_cmd::Command;

const ORIGIN: &str = "ledger.example/witnessed";

fn key() -> LogKey {
    LogKey::from_seed(ORIGIN, &[9; 32]).unwrap()
}

/// A full bundle of `s`'s log in the order given, at its whole size.
fn bundle(s: &Scenario, order: Vec<std::sync::Arc<armsledger_core::SignedEntry>>, out: &Path) {
    let log = MemoryLog::from_entries(order).unwrap();
    let k = key();
    let mut spec = BundleSpec::new(&k, s.regulator_key(), s.now);
    spec.manufacturer_roots = vec![s.root_key()];
    let bytes = write_bundle(&log, &spec, Scope::All, Vec::new()).unwrap();
    std::fs::write(out, bytes).unwrap();
}

/// The bundle rewritten record by record with `w`'s cosignature appended
/// to its checkpoint note (what a server with a witness policy exports).
fn with_cosignature(bytes: &[u8], w: &CosignerKey) -> Vec<u8> {
    use armsledger_bundle::{BundleReader, BundleWriter, Record};
    let mut writer = None;
    for r in BundleReader::new(bytes) {
        match r.unwrap().item {
            Record::Meta(m) => writer = Some(BundleWriter::new(Vec::new(), &m).unwrap()),
            Record::Checkpoint(mut note) => {
                let body = CheckpointNote::parse(note.as_bytes())
                    .unwrap()
                    .body()
                    .to_owned();
                note.push_str(&w.cosign(&body, 1_750_000_000).unwrap().to_line());
                writer.as_mut().unwrap().checkpoint(&note).unwrap();
            }
            Record::Entry(e) => writer
                .as_mut()
                .unwrap()
                .entry(e.index, e.received_at, &e.bytes)
                .unwrap(),
            Record::End(_) => {}
            other => panic!("a full bundle of this scenario has no {other:?}"),
        }
    }
    writer.unwrap().finish().unwrap()
}

fn verify(args: &[&str], bundle: &Path) -> (i32, String) {
    let out = Command::cargo_bin("armsledger")
        .unwrap()
        .arg("verify")
        .args(args)
        .arg(bundle)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Two checkpoints of one size with different roots, each signed by the log:
/// the second is refused as a fork, and both notes are kept as evidence.
#[test]
fn a_split_view_is_reported_and_both_notes_are_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = Scenario::standard();
    s.acquire("north", "AB-1");
    s.company_with_site("bravo", "south");
    s.acquire("south", "ZZ-9");
    let honest = tmp.path().join("honest.bundle");
    let forked = tmp.path().join("forked.bundle");
    bundle(&s, s.log.clone(), &honest);
    // The fork: the last two entries (of two chains) in the other order.
    let mut order = s.log.clone();
    let n = order.len();
    assert_ne!(order[n - 2].chain(), order[n - 1].chain());
    order.swap(n - 2, n - 1);
    bundle(&s, order, &forked);

    let state = tmp.path().join("state").join("trusted-state.json");
    let vkey = key().verifier().to_string();
    let base = [
        "--trusted-key",
        vkey.as_str(),
        "--state",
        state.to_str().unwrap(),
    ];
    // Quiet: the honest bundle, twice; no evidence is written.
    for _ in 0..2 {
        let (code, out) = verify(&base, &honest);
        assert_eq!(code, 0, "{out}");
        assert!(!out.contains("split view"), "{out}");
    }
    let evidence = tmp.path().join("state").join("evidence");
    assert!(!evidence.exists());
    // Firing: the fork's checkpoint of the same size.
    let (code, out) = verify(&base, &forked);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("the log forked"), "{out}");
    assert!(out.contains("note: split view"), "{out}");
    let files: Vec<_> = std::fs::read_dir(&evidence)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_str().unwrap().to_owned();
    assert!(
        name.starts_with(&format!("split-view-ledger.example_witnessed-{n}-")),
        "{name}"
    );
    assert!(out.contains(&name), "{out}");
    // The file holds both notes, each a valid note of the log at size n
    // with its own root.
    let text = std::fs::read_to_string(&files[0]).unwrap();
    let (_, rest) = text
        .split_once("# the checkpoint trusted before\n")
        .unwrap();
    let (trusted, offered) = rest.split_once("\n# the checkpoint offered now\n").unwrap();
    let t = CheckpointNote::parse(trusted.as_bytes()).unwrap();
    let o = CheckpointNote::parse(offered.as_bytes()).unwrap();
    t.verify_log(&[key().verifier()]).unwrap();
    o.verify_log(&[key().verifier()]).unwrap();
    assert_eq!(t.checkpoint().size(), o.checkpoint().size());
    assert_ne!(t.checkpoint().root(), o.checkpoint().root());
    // --evidence chooses the directory.
    let elsewhere = tmp.path().join("elsewhere");
    let mut args = base.to_vec();
    args.extend(["--evidence", elsewhere.to_str().unwrap()]);
    assert_eq!(verify(&args, &forked).0, 1);
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 1);
}

/// `--policy`: refused without the quorum, accepted with it.
#[test]
fn verify_demands_the_policys_quorum() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = Scenario::standard();
    s.acquire("north", "AB-1");
    let plain = tmp.path().join("plain.bundle");
    bundle(&s, s.log.clone(), &plain);
    let w = CosignerKey::from_seed("witness.example", &[0x77; 32]).unwrap();
    let policy = tmp.path().join("p.policy");
    std::fs::write(
        &policy,
        format!(
            "log {}\nwitness w {}\nquorum w\n",
            key().verifier(),
            w.verifier()
        ),
    )
    .unwrap();
    let args = ["--no-state", "--policy", policy.to_str().unwrap()];
    // Firing: no cosignature.
    let (code, out) = verify(&args, &plain);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("lacks the policy's quorum w"), "{out}");
    assert!(
        out.contains("witnesses: quorum w NOT met; cosigned by none"),
        "{out}"
    );
    // Quiet: the same bundle with the witness's cosignature on its checkpoint.
    let bytes = std::fs::read(&plain).unwrap();
    let cosigned = tmp.path().join("cosigned.bundle");
    std::fs::write(&cosigned, with_cosignature(&bytes, &w)).unwrap();
    let (code, out) = verify(&args, &cosigned);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("witnesses: quorum w met; cosigned by w (at 1750000000)"),
        "{out}"
    );
    // An unreadable policy is a usage error, named.
    let bad = tmp.path().join("bad.policy");
    std::fs::write(&bad, "quorum nobody\n").unwrap();
    let out = Command::cargo_bin("armsledger")
        .unwrap()
        .args(["verify", "--no-state", "--policy"])
        .arg(&bad)
        .arg(&cosigned)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--policy"));
}

/// `trace --policy` checks the file's checkpoint before tracing from it.
#[test]
fn trace_from_a_file_demands_the_quorum_too() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = Scenario::standard();
    s.acquire("north", "AB-1");
    let plain = tmp.path().join("plain.bundle");
    bundle(&s, s.log.clone(), &plain);
    let w = CosignerKey::from_seed("witness.example", &[0x78; 32]).unwrap();
    let cosigned = tmp.path().join("cosigned.bundle");
    std::fs::write(
        &cosigned,
        with_cosignature(&std::fs::read(&plain).unwrap(), &w),
    )
    .unwrap();
    let policy = tmp.path().join("p.policy");
    std::fs::write(
        &policy,
        format!(
            "log {}\nwitness w {}\nquorum w\n",
            key().verifier(),
            w.verifier()
        ),
    )
    .unwrap();
    let trace = |file: Option<&Path>| {
        let mut c = Command::cargo_bin("armsledger").unwrap();
        c.args(["trace", "AB-1", "--policy", policy.to_str().unwrap()]);
        if let Some(f) = file {
            c.arg("--bundle").arg(f);
        }
        c.env_remove("ARMSLEDGER_SERVER").output().unwrap()
    };
    // Quiet: the cosigned file traces.
    let out = trace(Some(&cosigned));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("AB-1"));
    // Firing: the same file without the cosignature is refused.
    let out = trace(Some(&plain));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("is not authentic") && err.contains("quorum"),
        "{err}"
    );
    // Without a file there is no checkpoint to check offline: refused, with the fix.
    let out = trace(None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("add --dossier FILE"));
}
