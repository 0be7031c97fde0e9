//! `armsledger mirror` as a user meets it: its help, a bad key refused
//! before anything is written, an unreachable origin reported (exit 2), and
//! the key pinned in the mirror's directory.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

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
    ] {
        assert!(text.contains(want), "{want} missing from:\n{text}");
    }
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
