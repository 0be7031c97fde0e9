//! The retention policy end to end (issue 17): `armsledger serve` on
//! loopback with a `[retention]` policy, device processes for the regulator
//! and the site, and `armsledger retention apply` / `archive` as a
//! regulator runs them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod sites;

use std::path::Path;

use sites::{
    Procs, acquire_glock, bin, fails, ok, regulator, root_public, server_with, site_online, token,
};

/// Person and case notes are due as soon as the person leaves or the case
/// closes; operational notes are kept ten years.
const POLICY: &str = "[retention]\nperson_days = 0\ncase_days = 0\noperational_days = 3650\n";

/// The regulator and `north` (pushing to a server with [`POLICY`]), two
/// pistols acquired and synced. Returns the server URL, the regulator
/// token and the server process's index in `procs`.
fn world(dir: &Path, procs: &mut Procs) -> (String, String, usize) {
    let (key, north_dev) = regulator(dir, procs);
    let config = dir.join("server.toml");
    std::fs::write(&config, POLICY).unwrap();
    let url = server_with(dir, &key, procs, &["--config", config.to_str().unwrap()]);
    let server_proc = procs.0.len() - 1;
    let rt = token(dir, "regulator");
    ok(
        dir,
        &["regulator", "push", "--server", &url, "--token", &rt],
    );
    let nt = token(dir, "site:north");
    site_online(dir, "north", &north_dev, &key, &url, &nt);
    ok(dir, &acquire_glock("GLK-1"));
    ok(dir, &acquire_glock("GLK-2"));
    ok(dir, &["sync"]);
    (url, rt, server_proc)
}

/// `retention apply --dry-run --json`, decoded.
fn review(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&ok(
        dir,
        &["retention", "apply", "--dry-run", "--all", "--json"],
    ))
    .unwrap()
}

/// The review's line for the note sealed by an entry of `kind`.
fn note_of<'a>(r: &'a serde_json::Value, kind: &str) -> Option<&'a serde_json::Value> {
    r["review"]["notes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == kind)
}

#[test]
fn retention_apply_erases_only_the_notes_whose_period_ended() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut procs = Procs(Vec::new());
    let (url, rt, server_proc) = world(dir, &mut procs);

    // guard-2 leaves (licence revoked): the reason's period starts.
    ok(
        dir,
        &[
            "regulator",
            "revoke",
            "--person",
            "guard-2",
            "--licence",
            "--reason",
            "guard-2 failed a drug test",
        ],
    );
    // guard-1 is barred for a while but stays licensed: still active.
    ok(
        dir,
        &[
            "regulator",
            "bar-person",
            "--person",
            "guard-1",
            "--reason",
            "under investigation for a negligent discharge",
            "--until",
            "2099-01-01",
        ],
    );
    // A complaint still open.
    ok(
        dir,
        &[
            "regulator",
            "receive-complaint",
            "--reference",
            "C-1",
            "--company",
            "acme",
            "--summary",
            "guard displayed a firearm in a shop",
        ],
    );
    // A loss closed by recovery (a case closed), an issue's purpose
    // (operational, inside its ten years).
    ok(
        dir,
        &[
            "report-loss",
            "--serial",
            "GLK-2",
            "--kind",
            "theft",
            "--circumstances",
            "taken from the patrol car of sup-2",
        ],
    );
    ok(
        dir,
        &["recover", "--serial", "GLK-2", "--location", "vault"],
    );
    ok(
        dir,
        &[
            "issue",
            "--serial",
            "GLK-1",
            "--to",
            "guard-1",
            "--purpose",
            "escort of the Mall cash van",
        ],
    );
    ok(dir, &["sync"]);

    // The review, dry: who is due and why; nothing signed.
    let r = review(dir);
    let revoked = note_of(&r, "person-revoked").unwrap();
    assert_eq!(revoked["due"], true, "{r:#}");
    assert_eq!(revoked["class"], "person", "{r:#}");
    assert!(
        revoked["reason"]
            .as_str()
            .unwrap()
            .starts_with("guard-2 left on "),
        "{r:#}"
    );
    assert!(
        revoked["reason"]
            .as_str()
            .unwrap()
            .ends_with("(licence revoked)")
    );
    let loss = note_of(&r, "loss-reported").unwrap();
    assert_eq!(loss["due"], true, "{r:#}");
    assert!(
        loss["reason"]
            .as_str()
            .unwrap()
            .contains("closed by recovery"),
        "{r:#}"
    );
    let barred = note_of(&r, "person-barred").unwrap();
    assert_eq!(barred["due"], false, "{r:#}");
    assert_eq!(barred["reason"], "guard-1 is still active", "{r:#}");
    assert!(barred["retain_until"].is_null(), "{r:#}");
    let complaint = note_of(&r, "complaint-received").unwrap();
    assert_eq!(complaint["due"], false, "{r:#}");
    assert_eq!(complaint["reason"], "complaint C-1 is open", "{r:#}");
    let purpose = note_of(&r, "issued").unwrap();
    assert_eq!(purpose["due"], false, "{r:#}");
    assert_eq!(purpose["class"], "operational", "{r:#}");
    assert!(!purpose["retain_until"].is_null(), "{r:#}");
    assert_eq!(r["due"].as_array().unwrap().len(), 2, "{r:#}");
    assert!(r["erasures"].as_array().unwrap().is_empty());

    // The dry run changed nothing: the same notes are due again, and the
    // text of the loss is still readable by the regulator.
    let text = ok(dir, &["retention", "apply", "--dry-run"]);
    assert!(
        text.contains("dry run: nothing signed, nothing erased"),
        "{text}"
    );
    assert!(text.contains("2 sealed notes due, "), "{text}");
    assert!(text.contains("due  "), "{text}");
    assert!(!text.contains("kept "), "only the due ones: {text}");
    let again = review(dir);
    assert_eq!(again["due"], r["due"], "{again:#}");
    let trace = ok(dir, &["trace", "GLK-2", "--server", &url, "--token", &rt]);
    assert!(
        trace.contains("taken from the patrol car of sup-2"),
        "{trace}"
    );

    // Apply: one notes-erased entry, signed and pushed.
    let out = ok(dir, &["retention", "apply"]);
    assert!(
        out.contains("recorded notes-erased as regulator #"),
        "{out}"
    );
    assert!(out.contains("pushed 1 entries"), "{out}");
    let after = review(dir);
    assert!(note_of(&after, "person-revoked").is_none(), "{after:#}");
    assert!(note_of(&after, "loss-reported").is_none(), "{after:#}");
    for kind in ["person-barred", "complaint-received", "issued"] {
        assert!(note_of(&after, kind).is_some(), "{kind} kept: {after:#}");
    }
    assert!(after["due"].as_array().unwrap().is_empty(), "{after:#}");
    let nothing = ok(dir, &["retention", "apply"]);
    assert!(nothing.contains("nothing to erase"), "{nothing}");

    // The trace says where the text was; GLK-1's issue is untouched.
    let trace = ok(dir, &["trace", "GLK-2", "--server", &url, "--token", &rt]);
    assert!(
        trace.contains("note erased on ") && trace.contains(" under the retention policy"),
        "{trace}"
    );
    assert!(!trace.contains("taken from the patrol car"), "{trace}");
    let trace1 = ok(dir, &["trace", "GLK-1", "--server", &url, "--token", &rt]);
    assert!(trace1.contains("issued to guard-1"), "{trace1}");
    assert!(!trace1.contains("note erased"), "{trace1}");

    // The site erases its own copy at its next sync, and keeps the rest.
    ok(dir, &["sync"]);
    let sealed = |j: &serde_json::Value| {
        armsledger_core::note::SealedNote(j["note"].as_str().unwrap().parse().unwrap())
    };
    {
        let site =
            armsledger_store::ArmouryLedger::open(dir.join("north").join("site.redb")).unwrap();
        let gone = site.note(&sealed(loss)).unwrap().unwrap();
        assert!(gone.opening.is_none(), "{gone:?}");
        assert_eq!(
            gone.erased.unwrap().ground,
            armsledger_core::note::ErasureGround::RetentionEnded
        );
        let kept = site.note(&sealed(purpose)).unwrap().unwrap();
        assert!(kept.opening.is_some() && kept.erased.is_none(), "{kept:?}");
    }

    // Everything still verifies offline.
    let bundle = dir.join("after.bundle");
    ok(
        dir,
        &[
            "export",
            "--out",
            bundle.to_str().unwrap(),
            "--server",
            &url,
            "--token",
            &rt,
        ],
    );
    let v = ok(dir, &["verify", "--no-state", bundle.to_str().unwrap()]);
    assert!(v.contains(": AUTHENTIC"), "{v}");
    assert!(v.contains("under the retention policy"), "{v}");

    // The archive of the period verifies offline with the key beside it.
    let archive = dir.join("archive.bundle");
    let a = ok(
        dir,
        &[
            "retention",
            "archive",
            "--before",
            "2026-01-01",
            "--out",
            archive.to_str().unwrap(),
            "--server",
            &url,
            "--token",
            &rt,
        ],
    );
    assert!(a.contains("AUTHENTIC"), "{a}");
    let vkey = dir.join("archive.bundle.vkey");
    let v = ok(
        dir,
        &[
            "verify",
            "--no-state",
            archive.to_str().unwrap(),
            "--trusted-key",
            vkey.to_str().unwrap(),
        ],
    );
    assert!(v.contains(": AUTHENTIC"), "{v}");
    let future = fails(
        dir,
        &[
            "retention",
            "archive",
            "--before",
            "2999-01-01",
            "--out",
            dir.join("future.bundle").to_str().unwrap(),
            "--server",
            &url,
            "--token",
            &rt,
        ],
    );
    assert!(future.contains("is in the future"), "{future}");

    // The server's store is clean: no opening of an erased note is kept.
    let mut srv = procs.0.remove(server_proc);
    srv.kill().unwrap();
    srv.wait().unwrap();
    let out = std::process::Command::new(bin())
        .args(["fsck", "--json", "--data"])
        .arg(dir.join("srv"))
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        out.status.success() && report["clean"] == true,
        "{report:#}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn only_the_regulator_may_review_and_apply_prints_json_for_scripts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut procs = Procs(Vec::new());
    let (url, _rt, _) = world(dir, &mut procs);
    let auditor = token(dir, "auditor");
    let err = fails(
        dir,
        &[
            "retention",
            "apply",
            "--dry-run",
            "--server",
            &url,
            "--token",
            &auditor,
        ],
    );
    assert!(err.contains("403"), "{err}");

    // The regulator's own run, for a script: one JSON object on stdout.
    ok(
        dir,
        &[
            "regulator",
            "revoke",
            "--person",
            "sup-2",
            "--licence",
            "--reason",
            "left the company",
        ],
    );
    let j: serde_json::Value =
        serde_json::from_str(&ok(dir, &["retention", "apply", "--json"])).unwrap();
    assert_eq!(j["dry_run"], false, "{j:#}");
    assert_eq!(j["due"].as_array().unwrap().len(), 1, "{j:#}");
    assert_eq!(
        j["due"][0]["reason"].as_str().unwrap().get(..15),
        Some("sup-2 left on 2"),
        "{j:#}"
    );
    assert_eq!(j["erasures"][0]["notes"], 1, "{j:#}");
    assert!(j["erasures"][0]["counter"].as_u64().unwrap() > 0, "{j:#}");
    assert!(review(dir)["due"].as_array().unwrap().is_empty());
}

#[test]
fn a_policy_below_the_thirty_year_entry_floor_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let config = dir.join("short.toml");
    std::fs::write(&config, "[retention]\nentries_years = 10\n").unwrap();
    let out = std::process::Command::new(bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.join("srv"))
        .arg("--config")
        .arg(&config)
        .env_remove("ARMSLEDGER_DATA")
        .env_remove("ARMSLEDGER_LISTEN")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("entries_years = 10"), "{err}");
    assert!(err.contains("at least 30 years"), "{err}");
    assert!(!dir.join("srv").exists(), "nothing was created");

    // At the floor the same server starts.
    std::fs::write(&config, "[retention]\nentries_years = 30\n").unwrap();
    let mut procs = Procs(Vec::new());
    let key = root_public();
    let url = server_with(
        dir,
        &key,
        &mut procs,
        &["--config", config.to_str().unwrap()],
    );
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
}
