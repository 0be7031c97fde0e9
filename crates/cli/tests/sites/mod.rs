//! Shared by the suites that run an armoury end to end through the
//! `armsledger` binary: device processes (`armsledger device serve`) on UNIX
//! sockets, `armsledger serve` on a loopback port, and the officer and
//! regulator commands with their directories under one test directory.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::channel;
use std::time::Duration;

use armsledger_core::hash::Hash;

/// The simulated manufacturer's root seed.
pub const ROOT_SEED: [u8; 32] = [42; 32];

/// Generous bound for one step, so a hang fails the test instead of
/// blocking it; nothing is asserted about time.
pub const HANG: Duration = Duration::from_secs(120);

/// The `armsledger` binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_armsledger"))
}

/// Child processes killed when the test ends.
#[derive(Default)]
pub struct Procs(pub Vec<Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The first line of a child's output; the rest is drained so it never
/// blocks or fails writing.
pub fn first_line(child: &mut Child) -> String {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        if let Some(Ok(l)) = lines.next() {
            let _ = tx.send(l);
        }
        for _ in lines {}
    });
    rx.recv_timeout(HANG).unwrap()
}

/// The manufacturer root's public key (hex).
pub fn root_public() -> String {
    let k = ed25519_dalek::SigningKey::from_bytes(&ROOT_SEED);
    hex::encode(k.verifying_key().to_bytes())
}

/// Manufactures a device and serves it (`armsledger device serve`) at
/// `dir/serial.sock`; returns the socket, the flash file and the process.
pub fn device(dir: &Path, serial: &str) -> (PathBuf, PathBuf, Child) {
    let root = dir.join("root.key");
    std::fs::write(&root, hex::encode(ROOT_SEED)).unwrap();
    let flash = dir.join(format!("{serial}.flash"));
    let seed = hex::encode(Hash::of(&[serial.as_bytes()]).0);
    let out = Command::new(bin())
        .args(["device", "manufacture", "--root"])
        .arg(&root)
        .args(["--device", serial, "--seed", &seed, "--flash"])
        .arg(&flash)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let sock = dir.join(format!("{serial}.sock"));
    let child = serve_device(&flash, &sock);
    (sock, flash, child)
}

/// Serves the device in `flash` at `sock` (again, after a kill).
pub fn serve_device(flash: &Path, sock: &Path) -> Child {
    let mut child = Command::new(bin())
        .args(["device", "serve", "--flash"])
        .arg(flash)
        .arg("--listen")
        .arg(format!("unix:{}", sock.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    first_line(&mut child);
    child
}

/// Starts `armsledger serve` on `dir/srv`; returns its URL.
pub fn server(dir: &Path, regulator_key: &str, procs: &mut Procs) -> String {
    let mut child = Command::new(bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.join("srv"))
        .args([
            "--regulator-key",
            regulator_key,
            "--manufacturer-root",
            &root_public(),
        ])
        .env_remove("ARMSLEDGER_DATA")
        .env_remove("ARMSLEDGER_LISTEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let line = first_line(&mut child);
    procs.0.push(child);
    line.split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_string()
}

/// `armsledger` with the regulator at `dir/reg`, the site at `dir/north`
/// and `armourer-1` as the officer.
pub fn cli(dir: &Path) -> Command {
    let mut c = Command::new(bin());
    c.env("ARMSLEDGER_REGULATOR", dir.join("reg"))
        .env("ARMSLEDGER_SITE", dir.join("north"))
        .env("ARMSLEDGER_OFFICER", "armourer-1")
        .env_remove("ARMSLEDGER_SERVER")
        .env_remove("ARMSLEDGER_TOKEN")
        .stdin(Stdio::null());
    c
}

/// Runs a command that must succeed; its stdout.
pub fn ok<S: AsRef<std::ffi::OsStr> + std::fmt::Debug>(dir: &Path, args: &[S]) -> String {
    let out = cli(dir).args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "armsledger {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// A bearer token for `role` from the server's data directory.
pub fn token(dir: &Path, role: &str) -> String {
    ok(
        dir,
        &[
            "token",
            "create",
            "--data",
            dir.join("srv").to_str().unwrap(),
            "--role",
            role,
        ],
    )
    .trim()
    .to_string()
}

/// `acquire` of a Glock 17 (category B, 9x19mm, made in AT) with serial
/// `serial`, bought from a dealer under permit AP-1, into the vault.
pub fn acquire_glock(serial: &str) -> Vec<String> {
    [
        "acquire",
        "--serial",
        serial,
        "--manufacturer",
        "Glock",
        "--model",
        "17",
        "--category",
        "B",
        "--calibre",
        "9x19mm",
        "--country",
        "AT",
        "--from",
        "Dealer",
        "--permit",
        "AP-1",
        "--location",
        "vault",
    ]
    .map(String::from)
    .to_vec()
}

/// `ammo receive` of 500 rounds of 9x19mm lot L1 from PMP into the vault.
pub const RECEIVE_L1: [&str; 14] = [
    "ammo",
    "receive",
    "--lot",
    "L1",
    "--manufacturer",
    "PMP",
    "--calibre",
    "9x19mm",
    "--rounds",
    "500",
    "--from",
    "PMP",
    "--location",
    "vault",
];

/// Manufactures a device and serves it at `dir/serial.sock`, killed with
/// `procs`; its address for `--device`.
pub fn device_addr(dir: &Path, serial: &str, procs: &mut Procs) -> String {
    let (sock, _, child) = device(dir, serial);
    procs.0.push(child);
    format!("unix:{}", sock.display())
}

/// Runs a command that must fail; its stderr.
pub fn fails<S: AsRef<std::ffi::OsStr> + std::fmt::Debug>(dir: &Path, args: &[S]) -> String {
    let out = cli(dir).args(args).output().unwrap();
    assert!(!out.status.success(), "armsledger {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `armsledger site init` for `site` with its device at `device`, pinning
/// the regulator key and the test manufacturer root, against the server at
/// `url` with `token` (the first sync runs). Returns the output.
pub fn site_online(
    dir: &Path,
    site: &str,
    device: &str,
    regulator_key: &str,
    url: &str,
    token: &str,
) -> String {
    ok(
        dir,
        &[
            "site",
            "init",
            "--site",
            site,
            "--device",
            device,
            "--regulator-key",
            regulator_key,
            "--manufacturer-root",
            &root_public(),
            "--server",
            url,
            "--token",
            token,
        ],
    )
}

/// The regulator licenses `acme`, registers `north`, enrols its device and
/// licenses people; `guard-2`'s qualification expired in 2025.
pub fn regulator(dir: &Path, procs: &mut Procs) -> (String, String) {
    let reg_dev = device_addr(dir, "reg-dev-1", procs);
    let site_dev = device_addr(dir, "site-dev-1", procs);
    let out = ok(
        dir,
        &[
            "regulator",
            "init",
            "--device",
            &reg_dev,
            "--manufacturer-root",
            &root_public(),
        ],
    );
    let key = out
        .lines()
        .find_map(|l| l.strip_prefix("regulator key "))
        .unwrap()
        .to_string();
    ok(
        dir,
        &[
            "regulator",
            "license-company",
            "--company",
            "acme",
            "--name",
            "Acme Ltd",
            "--licence",
            "PSC-1",
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
            "north",
            "--company",
            "acme",
            "--name",
            "North",
            "--approval",
            "ARM-1",
            "--location",
            "vault",
            "--location",
            "rack-1",
        ],
    );
    let enrol = ok(
        dir,
        &[
            "regulator",
            "enrol-device",
            "--site",
            "north",
            "--device",
            &site_dev,
        ],
    );
    assert!(enrol.contains("attestation checked"), "{enrol}");
    for p in ["armourer-1", "guard-1", "guard-2", "sup-2"] {
        ok(
            dir,
            &[
                "regulator",
                "license-person",
                "--person",
                p,
                "--company",
                "acme",
                "--identity",
                &format!("ID of {p}"),
                "--licence",
                &format!("LIC-{p}"),
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
                "record-permit",
                "--person",
                p,
                "--permit",
                &format!("PER-{p}"),
                "--category",
                "B",
                "--calibre",
                "9x19mm",
                "--valid-from",
                "2025-01-01",
                "--valid-until",
                "2099-01-01",
            ],
        );
    }
    ok(
        dir,
        &[
            "regulator",
            "record-qualification",
            "--person",
            "guard-1",
            "--id",
            "Q-g1",
            "--provider",
            "range",
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
            "record-qualification",
            "--person",
            "guard-2",
            "--id",
            "Q-g2",
            "--provider",
            "range",
            "--valid-from",
            "2024-01-01",
            "--valid-until",
            "2025-01-01",
        ],
    );
    (key, site_dev)
}
