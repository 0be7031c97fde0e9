//! Golden tests of the officer and regulator commands against real parts:
//! signing devices on UNIX sockets and `armsledger serve` on a loopback port.
//!
//! Each device is its own process, `armsledger device serve`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod sites;

use sites::{
    Procs, RECEIVE_L1, acquire_glock, cli, device_addr, fails, ok, regulator, root_public, server,
    site_online, token,
};

/// The server's published log key (public, no token).
fn public_vkey(url: &str) -> String {
    ureq::get(format!("{url}/v1/log/key"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap()
}

/// The latest checkpoint, opened with nothing but the published key.
fn public_checkpoint(url: &str) -> armsledger_log::Checkpoint {
    let verifier = armsledger_log::LogVerifier::from_vkey(public_vkey(url).trim()).unwrap();
    let note = ureq::get(format!("{url}/checkpoint"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    armsledger_log::open_checkpoint(note.as_bytes(), &verifier, verifier.name())
        .unwrap()
        .checkpoint()
        .clone()
}

#[test]
fn officer_day_refusal_override_and_sync() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut procs = Procs(Vec::new());
    let (key, site_dev) = regulator(dir, &mut procs);

    // The site is set up before the server exists: it works offline.
    ok(
        dir,
        &[
            "site",
            "init",
            "--site",
            "north",
            "--device",
            &site_dev,
            "--regulator-key",
            &key,
            "--manufacturer-root",
            &root_public(),
        ],
    );
    let err = fails(dir, &["sync"]);
    assert!(err.contains("did you forget --server?"), "{err}");
    let err = fails(dir, &acquire_glock("GLK-1"));
    assert!(
        err.contains("not enrolled") && err.contains("armsledger sync"),
        "{err}"
    );

    let url = server(dir, &key, &mut procs);
    let rt = token(dir, "regulator");
    let pushed = ok(
        dir,
        &["regulator", "push", "--server", &url, "--token", &rt],
    );
    assert!(pushed.contains("pushed 13 entries"), "{pushed}");
    let st = token(dir, "site:north");
    let s = ok(dir, &["sync", "--server", &url, "--token", &st]);
    assert!(s.contains("13 new regulator entries"), "{s}");
    let first = public_checkpoint(&url);

    let out = ok(dir, &acquire_glock("GLK-1"));
    assert!(
        out.contains("recorded firearm-acquired as north #1"),
        "{out}"
    );
    ok(dir, &RECEIVE_L1);

    // Expired qualification: refused with the rule and the evidence.
    let issue = [
        "issue",
        "--serial",
        "GLK-1",
        "--to",
        "guard-2",
        "--post",
        "gate",
        "--rounds",
        "L1=15",
        "--rounds-from",
        "vault",
    ];
    let err = fails(dir, &issue);
    assert!(err.contains("rule qualification-current"), "{err}");
    assert!(err.contains("Q-g2 expired"), "{err}");
    assert!(err.contains("--override --reason"), "{err}");

    // With a supervised exception both entries are on the chain.
    let mut with = issue.to_vec();
    with.extend([
        "--override",
        "--reason",
        "night cover, requalification booked",
        "--authoriser",
        "sup-2",
    ]);
    let out = ok(dir, &with);
    assert!(out.contains("recorded override as north #3"), "{out}");
    assert!(out.contains("recorded issued as north #4"), "{out}");
    assert!(
        out.contains("finding: rule qualification-current")
            && out.contains("covered by the exception"),
        "{out}"
    );

    let status: serde_json::Value = serde_json::from_str(&ok(dir, &["status", "--json"])).unwrap();
    assert_eq!(status["head"], 4);
    assert_eq!(status["unsynced"], 4);
    assert_eq!(status["open_issues"][0]["to"], "guard-2");

    ok(
        dir,
        &[
            "return",
            "--serial",
            "glk 1",
            "--location",
            "vault",
            "--rounds-back",
            "L1=15:0",
        ],
    );
    let s = ok(dir, &["sync"]);
    assert!(s.contains("pushed 5 entries in 1 batches"), "{s}");
    let status: serde_json::Value = serde_json::from_str(&ok(dir, &["status", "--json"])).unwrap();
    assert_eq!(status["unsynced"], 0);
    assert!(status["checkpoint"].as_u64().unwrap() >= 18);
    let human = ok(dir, &["status"]);
    assert!(human.contains("unsynced    0"), "{human}");

    // Anyone holding only the published key can check that the log grew
    // consistently, and an auditor's export verifies offline against it.
    let last = public_checkpoint(&url);
    assert!(last.size() > first.size());
    let proof: serde_json::Value = ureq::get(format!(
        "{url}/v1/proof/consistency?old={}&new={}",
        first.size(),
        last.size()
    ))
    .header("authorization", format!("Bearer {rt}"))
    .call()
    .unwrap()
    .body_mut()
    .read_json()
    .unwrap();
    let hashes: Vec<armsledger_log::Hash> = proof["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap().parse().unwrap())
        .collect();
    armsledger_log::verify_consistency(
        first.size(),
        last.size(),
        first.root(),
        last.root(),
        &hashes,
    )
    .unwrap();
    let vkey_file = dir.join("log.vkey.pub");
    std::fs::write(&vkey_file, public_vkey(&url)).unwrap();
    let bundle = dir.join("export.bundle");
    ok(
        dir,
        &[
            "export",
            "--server",
            &url,
            "--token",
            &rt,
            "--out",
            bundle.to_str().unwrap(),
        ],
    );
    let report = ok(
        dir,
        &[
            "verify",
            bundle.to_str().unwrap(),
            "--trusted-key",
            vkey_file.to_str().unwrap(),
            "--no-state",
            "--json",
        ],
    );
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(report["authentic"], true, "{report:#}");

    // Who read what: the site's pulls and the auditor's export are in the
    // access log, and the regulator filters it by subject.
    let log: serde_json::Value = serde_json::from_str(&ok(
        dir,
        &[
            "regulator",
            "access-log",
            "--server",
            &url,
            "--token",
            &rt,
            "--subject",
            "north",
            "--json",
        ],
    ))
    .unwrap();
    let records = log["records"].as_array().unwrap();
    assert!(
        !records.is_empty()
            && records
                .iter()
                .all(|r| r["route"] == "/v1/pull/{site}" && r["role"] == "site:north"),
        "{log:#}"
    );
    assert!(log["broken"].is_null(), "{log:#}");
    let listed = ok(
        dir,
        &["regulator", "access-log", "--server", &url, "--token", &rt],
    );
    assert!(
        listed.contains("/v1/export") && listed.contains("access log whole:"),
        "{listed}"
    );

    // The site's own store re-verifies: chains, transfers, receipts against checkpoints.
    let site_dir = dir.join("north");
    let f: serde_json::Value = serde_json::from_str(&ok(
        dir,
        &["fsck", "--data", site_dir.to_str().unwrap(), "--json"],
    ))
    .unwrap();
    assert_eq!(f["clean"], true, "{f:#}");
    assert!(f["entries"].as_u64().unwrap() >= 18, "{f:#}");
    assert_eq!(report["checkpoint"]["size"].as_u64(), Some(last.size()));
    assert!(
        human.contains("finding     #4 qualification-current") && human.contains("(overridden)"),
        "{human}"
    );

    // Mistakes.
    let err = fails(dir, &["issue", "--serial", "NO-SUCH-1", "--to", "guard-1"]);
    assert!(
        err.contains("no firearm with serial \"NO-SUCH-1\""),
        "{err}"
    );
    let err = fails(dir, &["return", "--serial", "GLK-1", "--location", "vault"]);
    assert!(err.contains("not issued"), "{err}");
}

#[test]
fn mistakes_are_explained() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let err = fails(
        dir,
        &["status", "--dir", dir.join("nowhere").to_str().unwrap()],
    );
    assert!(
        err.contains("is not a site directory") && err.contains("armsledger site init"),
        "{err}"
    );
    let err = fails(
        dir,
        &[
            "regulator",
            "bar-person",
            "--person",
            "g-1",
            "--reason",
            "x",
        ],
    );
    assert!(
        err.contains("not a regulator directory") && err.contains("regulator init"),
        "{err}"
    );
    let err = fails(
        dir,
        &["issue", "--serial", "X", "--to", "g-1", "--override"],
    );
    assert!(err.contains("--reason"), "{err}");
    let err = fails(dir, &["issue", "--serial", "X", "--to", "Guard 1"]);
    assert!(err.contains("--to"), "{err}");
    let err = fails(
        dir,
        &[
            "site",
            "init",
            "--site",
            "north",
            "--device",
            "bogus",
            "--regulator-key",
            "00",
        ],
    );
    assert!(err.contains("unix:PATH"), "{err}");
}

#[test]
fn every_officer_command_has_an_example() {
    let tmp = tempfile::tempdir().unwrap();
    for cmd in [
        vec!["acquire"],
        vec!["issue"],
        vec!["return"],
        vec!["move"],
        vec!["transfer-out"],
        vec!["transfer-in"],
        vec!["transfer-reject"],
        vec!["transfer-cancel"],
        vec!["maintenance-out"],
        vec!["maintenance-in"],
        vec!["component"],
        vec!["assign"],
        vec!["hand-over"],
        vec!["armoury-open"],
        vec!["armoury-close"],
        vec!["key-handover"],
        vec!["ammo", "lot-status"],
        vec!["report-loss"],
        vec!["update-loss"],
        vec!["seize"],
        vec!["recover"],
        vec!["count"],
        vec!["resolve-discrepancy"],
        vec!["dispose"],
        vec!["ammo", "receive"],
        vec!["ammo", "issue"],
        vec!["ammo", "return"],
        vec!["ammo", "expend"],
        vec!["correct"],
        vec!["annotate"],
        vec!["site", "init"],
        vec!["sync"],
        vec!["status"],
        vec!["regulator", "init"],
        vec!["regulator", "license-company"],
        vec!["regulator", "register-site"],
        vec!["regulator", "enrol-device"],
        vec!["regulator", "license-person"],
        vec!["regulator", "record-permit"],
        vec!["regulator", "record-qualification"],
        vec!["regulator", "revoke"],
        vec!["regulator", "bar-person"],
        vec!["regulator", "authorise-person"],
        vec!["regulator", "set-policy"],
        vec!["regulator", "revoke-device"],
        vec!["regulator", "retire-device"],
    ] {
        let mut args = cmd.clone();
        args.push("--help");
        let out = ok(tmp.path(), &args);
        assert!(
            out.contains("Example"),
            "{cmd:?} --help has no example:\n{out}"
        );
    }
}

#[test]
fn every_officer_act_and_a_transfer_between_companies() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut procs = Procs(Vec::new());
    let (key, north_dev) = regulator(dir, &mut procs);
    let south_dev = device_addr(dir, "site-dev-2", &mut procs);
    ok(
        dir,
        &[
            "regulator",
            "license-company",
            "--company",
            "beta",
            "--name",
            "Beta Ltd",
            "--licence",
            "PSC-2",
            "--category",
            "B",
            "--valid-from",
            "2025-01-01",
            "--valid-until",
            "2099-01-01",
        ],
    );
    ok(
        dir,
        &[
            "regulator",
            "register-site",
            "--site",
            "south",
            "--company",
            "beta",
            "--name",
            "South",
            "--approval",
            "ARM-2",
            "--location",
            "vault",
        ],
    );
    ok(
        dir,
        &[
            "regulator",
            "enrol-device",
            "--site",
            "south",
            "--device",
            &south_dev,
        ],
    );
    ok(
        dir,
        &[
            "regulator",
            "license-person",
            "--person",
            "armourer-s",
            "--company",
            "beta",
            "--identity",
            "ID s",
            "--licence",
            "LIC-s",
            "--valid-from",
            "2025-01-01",
            "--valid-until",
            "2099-01-01",
        ],
    );
    let url = server(dir, &key, &mut procs);
    let rt = token(dir, "regulator");
    ok(
        dir,
        &["regulator", "push", "--server", &url, "--token", &rt],
    );
    let nt = token(dir, "site:north");
    let out = site_online(dir, "north", &north_dev, &key, &url, &nt);
    assert!(out.contains("first sync"), "{out}");
    let south = dir.join("south");
    let south = south.to_str().unwrap();
    let stok = token(dir, "site:south");
    ok(
        dir,
        &[
            "site",
            "init",
            "--dir",
            south,
            "--site",
            "south",
            "--device",
            &south_dev,
            "--regulator-key",
            &key,
            "--server",
            &url,
            "--token",
            &stok,
        ],
    );

    for serial in ["GLK-1", "GLK-2", "GLK-3"] {
        ok(dir, &acquire_glock(serial));
    }
    ok(dir, &RECEIVE_L1);
    ok(
        dir,
        &[
            "count",
            "--session",
            "C-2026-01",
            "--counter",
            "guard-1",
            "--counter",
            "sup-2",
            "--seen",
            "GLK-1",
            "--seen",
            "GLK-2",
            "--seen",
            "GLK-3",
            "--rounds",
            "L1=500",
        ],
    );
    ok(
        dir,
        &[
            "move", "--serial", "GLK-1", "--from", "vault", "--to", "rack-1",
        ],
    );
    ok(
        dir,
        &[
            "ammo", "issue", "--to", "guard-1", "--rounds", "L1=100", "--from", "vault",
        ],
    );
    ok(
        dir,
        &[
            "ammo",
            "return",
            "--holder",
            "guard-1",
            "--rounds-back",
            "L1=80:20",
            "--to",
            "vault",
        ],
    );
    ok(
        dir,
        &[
            "ammo",
            "expend",
            "--lot",
            "L1",
            "--rounds",
            "2",
            "--store",
            "vault",
            "--cause",
            "test-fire",
        ],
    );
    ok(
        dir,
        &[
            "report-loss",
            "--serial",
            "GLK-2",
            "--kind",
            "theft",
            "--circumstances",
            "vehicle break-in",
            "--police-ref",
            "CAS-1",
            "--regulator-ref",
            "INC-1",
        ],
    );
    ok(
        dir,
        &["recover", "--serial", "GLK-2", "--location", "vault"],
    );
    ok(
        dir,
        &[
            "dispose",
            "--serial",
            "GLK-3",
            "--method",
            "destroyed",
            "--place",
            "smelter",
            "--witness",
            "guard-1",
            "--witness",
            "sup-2",
            "--order",
            "DO-1",
        ],
    );
    ok(
        dir,
        &[
            "correct",
            "--entry",
            "1",
            "--serial",
            "GLK-0001",
            "--correction-reason",
            "serial mistyped",
            "--approver",
            "sup-2",
        ],
    );
    ok(
        dir,
        &[
            "annotate",
            "--entry",
            "1",
            "--text",
            "checked against the invoice",
        ],
    );
    let out = ok(
        dir,
        &[
            "transfer-out",
            "--to-site",
            "south",
            "--to-company",
            "beta",
            "--serial",
            "GLK-0001",
            "--permit",
            "TP-1",
        ],
    );
    assert!(out.contains("recorded transferred-out"), "{out}");
    ok(dir, &["sync"]);

    let err = fails(
        dir,
        &[
            "transfer-in",
            "--dir",
            south,
            "--officer",
            "armourer-s",
            "--location",
            "vault",
        ],
    );
    assert!(err.contains("armsledger sync"), "{err}");
    let s = ok(dir, &["sync", "--dir", south]);
    assert!(s.contains("1 new transfers"), "{s}");
    let out = ok(
        dir,
        &[
            "transfer-in",
            "--dir",
            south,
            "--officer",
            "armourer-s",
            "--location",
            "vault",
        ],
    );
    assert!(out.contains("recorded transferred-in as south #1"), "{out}");
    ok(dir, &["sync", "--dir", south]);
    let status: serde_json::Value =
        serde_json::from_str(&ok(dir, &["status", "--dir", south, "--json"])).unwrap();
    assert_eq!(status["head"], 1);
    assert_eq!(status["unsynced"], 0);
}

/// Issue 20: `sync --policy` accepts the server's checkpoint only with the
/// witnesses' quorum, and checks the site's receipts lie in that history.
/// A real witness process (`armsledger witness serve`) cosigns the server's
/// checkpoints; the server is started with a `witness_policy`.
#[test]
fn sync_with_a_policy_demands_the_witnesses_quorum() {
    use std::process::{Command, Stdio};

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut procs = Procs(Vec::new());
    let (key, site_dev) = regulator(dir, &mut procs);
    ok(
        dir,
        &[
            "site",
            "init",
            "--site",
            "north",
            "--device",
            &site_dev,
            "--regulator-key",
            &key,
            "--manufacturer-root",
            &root_public(),
        ],
    );
    // The witness's key, and a port for it.
    let wdir = dir.join("witness");
    let wdir_s = wdir.to_str().unwrap();
    let wvkey = ok(
        dir,
        &[
            "witness",
            "init",
            "--data",
            wdir_s,
            "--name",
            "witness.b.example",
        ],
    )
    .trim()
    .to_owned();
    assert!(wvkey.starts_with("witness.b.example+"), "{wvkey}");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let wurl = format!("http://127.0.0.1:{port}");
    // The server offers its checkpoints to that witness.
    let server_policy = dir.join("server.policy");
    std::fs::write(
        &server_policy,
        format!("witness w {wvkey} {wurl}\nquorum w\n"),
    )
    .unwrap();
    let config = dir.join("server.toml");
    std::fs::write(
        &config,
        format!(
            "witness_policy = {:?}\nstable_checkpoint_interval_ms = 100\nwitness_retry_max_ms = 200\n",
            server_policy.to_str().unwrap()
        ),
    )
    .unwrap();
    let mut child = Command::new(sites::bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.join("srv"))
        .args([
            "--regulator-key",
            &key,
            "--manufacturer-root",
            &root_public(),
        ])
        .arg("--config")
        .arg(&config)
        .env_remove("ARMSLEDGER_DATA")
        .env_remove("ARMSLEDGER_LISTEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let line = sites::first_line(&mut child);
    procs.0.push(child);
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_string();
    // The witness knows the log, and serves.
    let vkey = public_vkey(&url).trim().to_owned();
    std::fs::write(wdir.join("logs"), format!("log {vkey}\n")).unwrap();
    let mut witness = Command::new(sites::bin())
        .args(["witness", "serve", "--data", wdir_s, "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let line = sites::first_line(&mut witness);
    procs.0.push(witness);
    assert!(line.starts_with("listening "), "{line}");

    let rt = token(dir, "regulator");
    ok(
        dir,
        &["regulator", "push", "--server", &url, "--token", &rt],
    );
    let st = token(dir, "site:north");
    ok(dir, &["sync", "--server", &url, "--token", &st]);
    // An act pushed at sync leaves the site a receipt checkpoint.
    ok(dir, &acquire_glock("GLK-W1"));
    let out = ok(dir, &["sync"]);
    assert!(out.contains("pushed 1 entries"), "{out}");
    // Wait for the witness to cosign the log's newest checkpoint.
    let mut caught_up = false;
    for _ in 0..1200 {
        let st: serde_json::Value = ureq::get(format!("{url}/v1/witnesses"))
            .call()
            .unwrap()
            .body_mut()
            .read_json()
            .unwrap();
        if st["latest_size"].as_u64().is_some() && st["quorum_size"] == st["latest_size"] {
            caught_up = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        caught_up,
        "the witness never cosigned the newest checkpoint"
    );

    // Quiet: the policy names the log and that witness.
    let policy = dir.join("client.policy");
    std::fs::write(
        &policy,
        format!("log {vkey}\nwitness w {wvkey}\nquorum w\n"),
    )
    .unwrap();
    let out = ok(dir, &["sync", "--policy", policy.to_str().unwrap()]);
    assert!(
        out.contains("witnessed: checkpoint size") && out.contains("cosigned by w (quorum w met)"),
        "{out}"
    );
    assert!(
        out.contains(" 1 receipt checkpoints lie in that history"),
        "{out}"
    );
    // Firing: a policy demanding a witness that never cosigned.
    let other = ok(
        dir,
        &[
            "witness",
            "init",
            "--key",
            dir.join("other.key").to_str().unwrap(),
            "--name",
            "witness.c.example",
        ],
    )
    .trim()
    .to_owned();
    let strict = dir.join("strict.policy");
    std::fs::write(
        &strict,
        format!("log {vkey}\nwitness c {other}\nquorum c\n"),
    )
    .unwrap();
    let out = cli(dir)
        .args(["sync", "--policy", strict.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("NOT WITNESSED") && err.contains("does not meet the policy"),
        "{err}"
    );
}
