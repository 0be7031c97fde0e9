//! `armsledger mirror` as a user meets it: its help, a bad key refused
//! before anything is written, an unreachable origin reported (exit 2), and
//! the key pinned in the mirror's directory; and a real `armsledger mirror`
//! process following a real `armsledger serve`, against which `trace
//! --server`, `trace --dossier` and `verify` work as against the origin.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod harness;

use armsledger_log::LogKey;
use assert_cmd::Command;

fn vkey(name: &str) -> String {
    LogKey::from_seed(name, &[9; 32])
        .unwrap()
        .verifier()
        .to_string()
}

fn mirror(dir: &std::path::Path, key: &str) -> Command {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut c = Command::cargo_bin("armsledger").unwrap();
    c.args(["mirror", "--once", "--json", "--from"])
        .arg(format!("http://127.0.0.1:{port}"))
        .args(["--log-key", key, "--data"])
        .arg(dir);
    c
}

#[test]
fn help_says_what_is_checked_and_what_a_refusal_does() {
    let out = Command::cargo_bin("armsledger")
        .unwrap()
        .args(["mirror", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for want in [
        "--from",
        "--log-key",
        "--regulator-key",
        "evidence",
        "--once",
        "--entries-s3-bucket",
        "not-mirrored",
        "armsledger token create --data",
    ] {
        assert!(text.contains(want), "{want} missing from:\n{text}");
    }
}

#[test]
fn s3_bundles_need_the_regulator_key_and_exclude_entries_from() {
    let dir = tempfile::tempdir().unwrap();
    let out = mirror(dir.path(), &vkey("a.example/log"))
        .args(["--entries-s3-bucket", "entries"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("--regulator-key"), "{err}");
    let out = mirror(dir.path(), &vkey("a.example/log"))
        .args([
            "--entries-s3-bucket",
            "entries",
            "--entries-from",
            "http://x",
        ])
        .args(["--regulator-key", &"ab".repeat(32)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("cannot be used with"), "{err}");
    // The S3 options alone, without a bucket, are refused too.
    let out = mirror(dir.path(), &vkey("a.example/log"))
        .args(["--s3-endpoint", "http://minio:9000"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("--entries-s3-bucket")
    );
}

#[test]
fn an_unreachable_origin_is_an_error_and_the_key_is_pinned() {
    let dir = tempfile::tempdir().unwrap();
    let out = mirror(dir.path(), &vkey("a.example/log")).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["size"], 0);
    assert!(
        json["result"].as_str().unwrap().contains("fetching"),
        "{json}"
    );
    // Another log's key on the same directory is refused.
    let out = mirror(dir.path(), &vkey("b.example/log")).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("another"), "{err}");
}

#[test]
fn a_malformed_log_key_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("m");
    let out = mirror(&data, "not-a-key").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr).unwrap().contains("--log-key"));
    assert!(!data.exists());
}

/// A running `armsledger mirror`; killed when dropped.
struct MirrorProcess(std::process::Child, String);

impl Drop for MirrorProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !done() {
        assert!(
            std::time::Instant::now() < until,
            "waited too long for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(harness::bin())
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn trace_and_verify_work_against_a_mirror_as_against_the_origin() {
    use armsledger_core::testkit::{Scenario, storage_mix};
    use harness::{Server, get, json};
    use std::io::BufRead as _;

    let tmp = tempfile::tempdir().unwrap();
    let s = Scenario::standard();
    let srv = Server::start(&tmp.path().join("srv"), &s, "checkpoint_interval_ms = 20\n");
    let log = storage_mix(900);
    assert_eq!(srv.post(&log).0, 200);
    let size = srv.settled_checkpoint().size();
    let origin_token = srv.token("auditor");

    let data = tmp.path().join("mirror");
    let mut child = std::process::Command::new(harness::bin())
        .args(["mirror", "--from", &srv.url, "--token", &origin_token])
        .args(["--log-key", &srv.vkey(), "--regulator-key"])
        .arg(hex::encode(s.regulator_key()))
        .arg("--manufacturer-root")
        .arg(hex::encode(s.root_key()))
        .arg("--data")
        .arg(&data)
        .args(["--listen", "127.0.0.1:0", "--interval-ms", "100"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first
        .rsplit_once("serving on ")
        .map(|(_, u)| u.trim().to_string())
        .unwrap_or_else(|| panic!("{first}"));
    let mirror = MirrorProcess(child, url);
    let m = &mirror.1;

    // The mirror's own reader, made with the same tool as the origin's.
    let (code, token, err) = run(&[
        "token",
        "create",
        "--data",
        data.to_str().unwrap(),
        "--role",
        "auditor",
        "--label",
        "court",
    ]);
    assert_eq!(code, 0, "{err}");
    let token = token.trim().to_string();
    wait_until("the mirror to catch up and know its token", || {
        let h = json(&get(m, "/healthz", None).1);
        h["size"].as_u64() == Some(size) && get(m, "/v1/findings", Some(&token)).0 == 200
    });
    assert_eq!(json(&get(m, "/healthz", None).1)["state"], "following");

    // trace --server: the same weapons and timeline from either.
    let trace = |server: &str, t: &str| {
        let (code, out, err) = run(&[
            "trace",
            "SN-0000007",
            "--server",
            server,
            "--token",
            t,
            "--json",
        ]);
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        (v["firearms"].clone(), v["checkpoint"].clone())
    };
    let (ours, cp) = trace(m, &token);
    assert_eq!((ours.clone(), cp), trace(&srv.url, &origin_token));
    assert!(!ours[0]["timeline"]["events"].as_array().unwrap().is_empty());

    // trace --dossier: downloaded from the mirror, checked offline; verify too.
    let file = tmp.path().join("sn7.dossier");
    let (code, out, err) = run(&[
        "trace",
        "SN-0000007",
        "--server",
        m,
        "--token",
        &token,
        "--dossier",
        file.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let offline: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        offline["firearms"][0]["timeline"]["events"]
            .as_array()
            .map(Vec::len),
        ours[0]["timeline"]["events"].as_array().map(Vec::len)
    );
    let (code, out, err) = run(&["verify", file.to_str().unwrap(), "--no-state"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("complete up to checkpoint"), "{out}");

    // The console on the mirror: signed in with the mirror's token, the
    // weapon's page is the mirror's copy.
    let page = console_page(m, &token, "/console/firearms/SN-0000007");
    assert!(
        page.contains("<h2>SN-0000007 <span class=\"id\">"),
        "{page}"
    );

    // Only the mirror's own tokens read it.
    let (code, _, err) = run(&[
        "trace",
        "SN-0000007",
        "--server",
        m,
        "--token",
        &origin_token,
        "--json",
    ]);
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("401") || err.contains("token"), "{err}");
    // The origin's equivocation proofs were read: /v1/equivocations is answered.
    let (st, body) = get(m, "/v1/equivocations", Some(&token));
    assert_eq!(st, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(json(&body), serde_json::json!([]));
    // What is the origin's own (its witnesses' cosignatures) is refused, not answered.
    let (st, body) = get(m, "/v1/witnesses", Some(&token));
    assert_eq!(st, 501, "{}", String::from_utf8_lossy(&body));
    assert_eq!(json(&body)["type"], "not-mirrored");

    // SIGTERM, as a server: a rules snapshot of the whole copy at shutdown,
    // so the next start replays nothing (issue 23).
    let mut mirror = mirror;
    let st = std::process::Command::new("kill")
        .args(["-TERM", &mirror.0.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success(), "kill -TERM");
    assert!(mirror.0.wait().unwrap().success());
    let snaps = armsledger_store::snapshot::SnapshotDir::new(data.join("snapshots"));
    let listed: Vec<u64> = snaps.list().unwrap().into_iter().map(|(n, _)| n).collect();
    assert_eq!(listed.first(), Some(&size), "{listed:?}");
}

/// Signs in to the console at `base` with `token` (form, CSRF, cookies)
/// and GETs `path`: the page's HTML.
fn console_page(base: &str, token: &str, path: &str) -> String {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let cookie = |r: &ureq::http::Response<ureq::Body>, name: &str| -> String {
        r.headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.split(';').next())
            .unwrap_or_else(|| panic!("no {name} cookie"))
            .to_string()
    };
    let mut form = agent.get(format!("{base}/console/sign-in")).call().unwrap();
    assert_eq!(form.status(), 200);
    let pre = cookie(&form, "als_console_pre");
    let body = form.body_mut().read_to_string().unwrap();
    let csrf = body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();
    let signed = agent
        .post(format!("{base}/console/sign-in"))
        .header("cookie", format!("als_console_pre={pre}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .send(format!("csrf={csrf}&token={token}&log_key="))
        .unwrap();
    assert_eq!(signed.status(), 303);
    let session = cookie(&signed, "als_console");
    let mut page = agent
        .get(format!("{base}{path}"))
        .header("cookie", format!("als_console={session}"))
        .call()
        .unwrap();
    assert_eq!(page.status(), 200);
    page.body_mut().read_to_string().unwrap()
}
