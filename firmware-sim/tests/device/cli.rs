//! The command line: manufacture, serve, and the hints its errors end with.

use std::fs;
use std::process::Command;

use crate::common;

fn run(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(common::bin()).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn manufacture_creates_a_root_and_a_device_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root.key");
    let flash = dir.path().join("d.flash");
    let (root_s, flash_s) = (root.to_str().unwrap(), flash.to_str().unwrap());
    let (ok, out, err) = run(&[
        "manufacture",
        "--root",
        root_s,
        "--device",
        "dev-9",
        "--flash",
        flash_s,
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("device dev-9 manufactured"), "{out}");
    assert!(err.contains("created manufacturer root key"), "{err}");
    let root_hex = fs::read_to_string(&root).unwrap();
    assert_eq!(root_hex.trim().len(), 64);
    assert_eq!(
        fs::metadata(&flash).unwrap().len(),
        u64::from(armsledger_device::layout::FLASH_SIZE)
    );
    assert!(armsledger_device::file::default_monotonic_path(&flash).exists());
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(fs::metadata(&root).unwrap().permissions().mode() & 0o077, 0);
    }
    // The same root is reused; the same flash is never overwritten.
    let (ok, _, err) = run(&[
        "manufacture",
        "--root",
        root_s,
        "--device",
        "dev-9",
        "--flash",
        flash_s,
    ]);
    assert!(!ok);
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(fs::read_to_string(&root).unwrap(), root_hex);
}

#[test]
fn bad_arguments_get_actionable_errors() {
    let dir = tempfile::tempdir().unwrap();
    let flash = common::manufacture_files(dir.path(), "cli-dev");
    let flash_s = flash.to_str().unwrap();
    let (ok, _, err) = run(&["serve", "--flash", flash_s, "--listen", "tcp:0.0.0.0:7000"]);
    assert!(!ok);
    assert!(err.contains("loopback"), "{err}");
    let (ok, _, err) = run(&["serve", "--flash", flash_s, "--listen", "http://x"]);
    assert!(!ok);
    assert!(
        err.contains("unix:PATH, tcp:127.0.0.1:PORT or stdio"),
        "{err}"
    );
    let missing = dir.path().join("nope.flash");
    let (ok, _, err) = run(&[
        "serve",
        "--flash",
        missing.to_str().unwrap(),
        "--listen",
        "stdio",
    ]);
    assert!(!ok);
    assert!(err.contains("nope.flash"), "{err}");
    let (ok, _, err) = run(&[
        "manufacture",
        "--root",
        dir.path().join("r2.key").to_str().unwrap(),
        "--device",
        "x",
        "--flash",
        dir.path().join("x.flash").to_str().unwrap(),
        "--seed",
        "abc",
    ]);
    assert!(!ok);
    assert!(err.contains("64 hex digits"), "{err}");
    let (ok, _, err) = run(&[
        "manufacture",
        "--root",
        "r",
        "--device",
        "bad id",
        "--flash",
        "f",
    ]);
    assert!(!ok);
    assert!(err.contains("device"), "{err}");
}

#[test]
fn an_existing_socket_path_is_not_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    let flash = common::manufacture_files(dir.path(), "cli-sock");
    let sock = dir.path().join("taken.sock");
    fs::write(&sock, b"").unwrap();
    let listen = format!("unix:{}", sock.display());
    let (ok, _, err) = run(&[
        "serve",
        "--flash",
        flash.to_str().unwrap(),
        "--listen",
        &listen,
    ]);
    assert!(!ok);
    assert!(err.contains("already exists"), "{err}");
}
