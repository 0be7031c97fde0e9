//! The regulator's oversight acts end to end (issue 18): `armsledger
//! regulator …` against device processes and a real `armsledger serve` on
//! loopback. Each act is signed by the regulator's device and pushed; the
//! server judges site acts against it, and the site refuses after its next
//! sync. Free text is sealed: the openings stay in the regulator directory.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod sites;

use std::path::Path;

use sites::{Procs, acquire_glock, fails, ok, regulator, server, site_online, token};

/// The regulator (pushing to a real server), and `north` set up with two
/// pistols acquired and synced. Returns the server URL and the regulator token.
fn world(dir: &Path, procs: &mut Procs) -> (String, String) {
    let (key, north_dev) = regulator(dir, procs);
    let url = server(dir, &key, procs);
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
    (url, rt)
}

/// A regulator act that must be signed and pushed; its regulator counter.
fn act(dir: &Path, args: &[&str], kind: &str) -> u64 {
    let out = ok(dir, args);
    assert!(
        out.contains(&format!("recorded {kind} as regulator #")),
        "{out}"
    );
    assert!(out.contains("pushed 1 entries"), "{out}");
    out.split("regulator #")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap()
}

/// A regulator act the rules refuse before signing; its error.
fn refused(dir: &Path, args: &[&str], rule: &str) -> String {
    let err = fails(dir, args);
    assert!(err.contains("nothing was signed"), "{err}");
    assert!(err.contains(&format!("rule {rule}")), "{err}");
    err
}

const ISSUE: [&str; 5] = ["issue", "--serial", "GLK-1", "--to", "guard-1"];
const RETURN: [&str; 5] = ["return", "--serial", "GLK-1", "--location", "vault"];

/// The server's findings of `rule`.
fn server_findings(url: &str, token: &str, rule: &str) -> Vec<serde_json::Value> {
    let body = ureq::get(format!("{url}/v1/findings?rule={rule}"))
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    serde_json::from_str(&body).unwrap()
}

#[test]
fn a_suspension_refuses_issues_not_hand_overs_until_reinstated() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut procs = Procs(Vec::new());
    let (url, rt) = world(dir, &mut procs);

    act(
        dir,
        &[
            "regulator",
            "sanction",
            "--company",
            "acme",
            "--reference",
            "S-1",
            "--suspend",
            "--note",
            "vault left open on inspection",
        ],
        "sanction-recorded",
    );
    // North has not synced: its own check passes, and the server, which
    // applied the suspension, records the finding when the issue arrives.
    ok(dir, &ISSUE);
    assert!(server_findings(&url, &rt, "company-not-suspended").is_empty());
    ok(dir, &["sync"]);
    // On the issue: the site's company, and the guard's employer.
    let f = server_findings(&url, &rt, "company-not-suspended");
    assert!(!f.is_empty());
    for x in &f {
        assert_eq!(x["finding"]["kind"], "issued", "{f:#?}");
        assert_eq!(x["finding"]["counter"], 3, "{f:#?}");
    }
    ok(dir, &RETURN);
    // Synced: the site refuses the next issue itself, but the stock may go.
    ok(dir, &["sync"]);
    let err = fails(dir, &ISSUE);
    assert!(err.contains("rule company-not-suspended"), "{err}");
    assert!(err.contains("acme is suspended"), "{err}");
    ok(
        dir,
        &[
            "hand-over",
            "--serial",
            "GLK-2",
            "--how",
            "surrendered-to-police",
            "--to",
            "SAPS Sandton",
            "--document",
            "SR-4471",
        ],
    );

    // Reinstatement lifts it (and only a suspension can be lifted).
    act(
        dir,
        &[
            "regulator",
            "reinstate-company",
            "--company",
            "acme",
            "--reason",
            "vault secured, seen on re-inspection",
        ],
        "company-status-changed",
    );
    refused(
        dir,
        &[
            "regulator",
            "reinstate-company",
            "--company",
            "acme",
            "--reason",
            "again",
        ],
        "reinstatement-lifts-suspension",
    );
    ok(dir, &["sync"]);
    ok(dir, &ISSUE);
    ok(dir, &RETURN);

    // A suspension by status alone (no sanction) refuses the same way, and
    // a reinstatement lifts it again.
    act(
        dir,
        &[
            "regulator",
            "suspend-company",
            "--company",
            "acme",
            "--reason",
            "inquiry opened",
        ],
        "company-status-changed",
    );
    ok(dir, &["sync"]);
    let err = fails(dir, &ISSUE);
    assert!(err.contains("rule company-not-suspended"), "{err}");
    act(
        dir,
        &[
            "regulator",
            "reinstate-company",
            "--company",
            "acme",
            "--reason",
            "inquiry closed",
        ],
        "company-status-changed",
    );
    ok(dir, &["sync"]);
    ok(dir, &ISSUE);
    ok(dir, &RETURN);

    // Ceasing blocks as a withdrawn licence does.
    act(
        dir,
        &[
            "regulator",
            "cease-company",
            "--company",
            "acme",
            "--reason",
            "wound up",
        ],
        "company-status-changed",
    );
    ok(dir, &["sync"]);
    let err = fails(dir, &ISSUE);
    assert!(err.contains("rule company-not-ceased"), "{err}");
}

#[test]
fn inspections_findings_sanctions_complaints_vetting_and_corrections() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut procs = Procs(Vec::new());
    let (url, rt) = world(dir, &mut procs);

    // Inspection, planned then performed, with a finding; closed once.
    act(
        dir,
        &[
            "regulator",
            "plan-inspection",
            "--reference",
            "INS-1",
            "--site",
            "north",
            "--on",
            "2026-12-10",
            "--note",
            "annual",
        ],
        "inspection-recorded",
    );
    refused(
        dir,
        &[
            "regulator",
            "record-finding",
            "--inspection",
            "INS-9",
            "--finding",
            "F-1",
            "--site",
            "north",
            "--code",
            "register-incomplete",
            "--severity",
            "major",
            "--note",
            "x",
        ],
        "reference-exists",
    );
    act(
        dir,
        &[
            "regulator",
            "record-inspection",
            "--reference",
            "INS-1",
            "--site",
            "north",
            "--note",
            "registers and vault seen",
        ],
        "inspection-recorded",
    );
    let secret = "two returns not countersigned by armourer-1";
    act(
        dir,
        &[
            "regulator",
            "record-finding",
            "--inspection",
            "INS-1",
            "--finding",
            "F-1",
            "--site",
            "north",
            "--code",
            "register-incomplete",
            "--severity",
            "major",
            "--note",
            secret,
        ],
        "finding-recorded",
    );
    act(
        dir,
        &[
            "regulator",
            "sanction",
            "--company",
            "acme",
            "--reference",
            "S-2",
            "--fine",
            "25000.50",
            "--currency",
            "ZAR",
            "--finding",
            "F-1",
            "--note",
            "fine for F-1",
        ],
        "sanction-recorded",
    );
    let close = [
        "regulator",
        "close-finding",
        "--finding",
        "F-1",
        "--note",
        "countersigned",
    ];
    act(dir, &close, "finding-closed");
    let err = refused(dir, &close, "reference-exists");
    assert!(err.contains("F-1 is already closed"), "{err}");

    // A complaint against a person: received, resolved; an unknown one is refused.
    act(
        dir,
        &[
            "regulator",
            "receive-complaint",
            "--reference",
            "C-1",
            "--person",
            "guard-1",
            "--summary",
            "threatening conduct at the gate, said Mrs Example of 12 Main Rd",
        ],
        "complaint-received",
    );
    refused(
        dir,
        &[
            "regulator",
            "resolve-complaint",
            "--reference",
            "C-9",
            "--outcome",
            "upheld",
            "--note",
            "x",
        ],
        "reference-exists",
    );
    act(
        dir,
        &[
            "regulator",
            "resolve-complaint",
            "--reference",
            "C-1",
            "--outcome",
            "not-upheld",
            "--note",
            "CCTV shows otherwise",
        ],
        "complaint-resolved",
    );

    // A failed vetting refuses an issue; corrected to passed, it does not.
    let vetting = act(
        dir,
        &[
            "regulator",
            "record-vetting",
            "--person",
            "guard-1",
            "--outcome",
            "failed",
            "--expires",
            "2099-01-01",
            "--reference",
            "V-1",
        ],
        "vetting-recorded",
    );
    ok(dir, &["sync"]);
    let err = fails(dir, &ISSUE);
    assert!(err.contains("rule recipient-vetted"), "{err}");
    act(
        dir,
        &[
            "regulator",
            "correct",
            "--entry",
            &vetting.to_string(),
            "--outcome",
            "passed",
            "--reason",
            "keyed as failed; the file says passed",
        ],
        "regulator-corrected",
    );
    act(
        dir,
        &[
            "regulator",
            "annotate",
            "--entry",
            &vetting.to_string(),
            "--note",
            "see the correction",
        ],
        "regulator-annotated",
    );
    ok(dir, &["sync"]);
    ok(dir, &ISSUE);
    ok(dir, &RETURN);
    ok(dir, &["sync"]);

    // A bar, then lifted.
    act(
        dir,
        &[
            "regulator",
            "bar-person",
            "--person",
            "guard-1",
            "--reason",
            "inquiry",
        ],
        "person-barred",
    );
    ok(dir, &["sync"]);
    assert!(fails(dir, &ISSUE).contains("rule recipient-not-barred"));
    act(
        dir,
        &[
            "regulator",
            "unbar-person",
            "--person",
            "guard-1",
            "--note",
            "inquiry closed",
        ],
        "person-unbarred",
    );
    ok(dir, &["sync"]);
    ok(dir, &ISSUE);

    // The server applied every act and found nothing wrong with them.
    let all = ureq::get(format!("{url}/v1/findings"))
        .header("Authorization", &format!("Bearer {rt}"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    let all: Vec<serde_json::Value> = serde_json::from_str(&all).unwrap();
    assert!(all.is_empty(), "{all:#?}");

    // No text reached the ledger; each note's opening is kept and opens it.
    let export = dir.join("all.bundle");
    ok(
        dir,
        &[
            "export",
            "--server",
            &url,
            "--token",
            &rt,
            "--out",
            export.to_str().unwrap(),
        ],
    );
    let bytes = std::fs::read(&export).unwrap();
    let needle = "Mrs Example".as_bytes();
    assert!(!bytes.windows(needle.len()).any(|w| w == needle));
    // The openings are in the regulator's note store, one per sealed note.
    let agent = armsledger_agents::RegulatorAgent::open_dir(&dir.join("reg")).unwrap();
    let (mut sealed, mut opened) = (0, 0);
    for e in agent.entries_from(0).unwrap() {
        for n in e.body().event.notes() {
            sealed += 1;
            let record = agent
                .note(&n)
                .unwrap()
                .expect("every sealed note has its record");
            let opening = record.opening.expect("not erased");
            assert!(opening.opens(&n));
            opened += usize::from(opening.text.as_str() == secret);
        }
    }
    assert!(sealed > 5, "{sealed} sealed notes");
    assert_eq!(opened, 1);
}

/// docs/cli.md's regulator and inspector guides show every `armsledger
/// regulator` subcommand and every report, as `--help` lists them today.
#[test]
fn the_guides_show_every_regulator_command_and_report() {
    let guide =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/cli.md"))
            .unwrap();
    let help = assert_cmd::Command::cargo_bin("armsledger")
        .unwrap()
        .args(["regulator", "--help"])
        .assert()
        .success();
    let help = String::from_utf8_lossy(&help.get_output().stdout).into_owned();
    let commands: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(commands.len() > 30, "{help}");
    let missing: Vec<&&str> = commands
        .iter()
        .filter(|c| !guide.contains(&format!("armsledger regulator {c} ")))
        .collect();
    assert!(missing.is_empty(), "docs/cli.md shows no {missing:?}");
    let reports = armsledger_reports::ReportName::ALL
        .iter()
        .map(|r| r.name())
        .chain(["verify-return"]);
    for r in reports {
        assert!(
            guide.contains(&format!("armsledger report {r} ")),
            "docs/cli.md shows no `armsledger report {r}`"
        );
    }
    // Firing: a command the guide does not show is caught.
    assert!(!guide.contains("armsledger regulator no-such-command "));
}
