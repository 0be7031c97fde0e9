//! Shared by the attack, crash and tamper suites: a real `armsledger serve`
//! child process on a loopback port, a plain HTTP client, testkit-signed
//! entries, and a small seeded PRNG (no extra dependencies).

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use armsledger_core::entry::SignedEntry;
use armsledger_core::testkit::Scenario;

/// A running `armsledger serve`; killed (SIGKILL) when dropped.
pub struct Server {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The data directory.
    pub data: PathBuf,
    /// The regulator's bearer token, which may push entries of every chain.
    pub writer: String,
    args: Vec<String>,
    /// The open-file limit (`ulimit -n`) the process runs under, if set.
    nofile: Option<u64>,
}

/// The `armsledger` binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_armsledger"))
}

impl Server {
    /// Starts a server on a fresh port over `data`, trusting the scenario's
    /// regulator and manufacturer root; `config` is extra TOML.
    pub fn start(data: &Path, s: &Scenario, config: &str) -> Server {
        Server::start_limited(data, s, config, None)
    }

    /// [`Server::start`] under an open-file limit (`ulimit -n nofile`).
    pub fn start_limited(data: &Path, s: &Scenario, config: &str, nofile: Option<u64>) -> Server {
        std::fs::create_dir_all(data).unwrap();
        let cfg = data.with_extension("toml");
        std::fs::write(&cfg, config).unwrap();
        let args = vec![
            "serve".to_string(),
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--data".into(),
            data.display().to_string(),
            "--config".into(),
            cfg.display().to_string(),
            "--regulator-key".into(),
            hex::encode(s.regulator_key()),
            "--manufacturer-root".into(),
            hex::encode(s.root_key()),
        ];
        let mut srv = Server {
            child: None,
            url: String::new(),
            data: data.to_path_buf(),
            writer: String::new(),
            args,
            nofile,
        };
        srv.restart();
        srv.writer = srv.token("regulator");
        srv
    }

    /// Starts the process again (after a kill) on a new port.
    pub fn restart(&mut self) {
        self.restart_with(&[]);
    }

    /// [`Server::restart`] with extra `serve` arguments (e.g. `--no-snapshot`).
    pub fn restart_with(&mut self, extra: &[&str]) {
        assert!(self.child.is_none(), "already running");
        let mut cmd = match self.nofile {
            None => Command::new(bin()),
            Some(n) => {
                let mut c = Command::new("sh");
                c.arg("-c")
                    .arg(format!("ulimit -n {n} && exec \"$0\" \"$@\""))
                    .arg(bin());
                c
            }
        };
        let mut child = cmd
            .args(&self.args)
            .args(extra)
            .env_remove("ARMSLEDGER_DATA")
            .env_remove("ARMSLEDGER_LISTEN")
            .env_remove("ARMSLEDGER_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(l)) = lines.next() {
                let _ = tx.send(l);
            }
            for _ in lines {}
        });
        let line = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(l) => l,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("server did not start: {e}");
            }
        };
        self.url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in {line:?}"))
            .to_string();
        self.child = Some(child);
    }

    /// SIGTERM, then waits for the exit (the graceful shutdown: the last
    /// snapshot written, the store closed).
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("running");
        let st = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success(), "kill -TERM");
        c.wait().unwrap()
    }

    /// SIGKILL: no chance to flush or shut down.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The process is still running.
    pub fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// `host:port`.
    pub fn addr(&self) -> String {
        self.url.trim_start_matches("http://").to_string()
    }

    /// Creates a token with `role` through the CLI on the data directory.
    pub fn token(&self, role: &str) -> String {
        let out = Command::new(bin())
            .args(["token", "create", "--data"])
            .arg(&self.data)
            .args(["--role", role, "--label", role])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "token create: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let t = String::from_utf8(out.stdout).unwrap().trim().to_string();
        // The server notices the file change; wait until the token works.
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if get(&self.url, "/v1/findings", Some(&t)).0 != 401 {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        t
    }

    /// POSTs a batch of entries with the regulator's token; the status and JSON body.
    pub fn post(&self, entries: &[Arc<SignedEntry>]) -> (u16, serde_json::Value) {
        post_as(&self.url, Some(&self.writer), entries)
    }

    /// POSTs a raw body to `/v1/entries` with the regulator's token.
    pub fn post_raw(&self, body: &[u8]) -> (u16, serde_json::Value) {
        post_raw_as(&self.url, Some(&self.writer), body)
    }

    /// The log size from `/healthz`.
    pub fn size(&self) -> u64 {
        let (st, b) = get(&self.url, "/healthz", None);
        assert_eq!(st, 200);
        json(&b)["size"].as_u64().unwrap()
    }

    /// The published verifier key.
    pub fn vkey(&self) -> String {
        let (st, b) = get(&self.url, "/v1/log/key", None);
        assert_eq!(st, 200);
        String::from_utf8(b).unwrap().trim().to_string()
    }

    /// The latest checkpoint, opened with only the published key.
    pub fn checkpoint(&self) -> Option<armsledger_log::Checkpoint> {
        let verifier = armsledger_log::LogVerifier::from_vkey(&self.vkey()).unwrap();
        let (st, note) = get(&self.url, "/checkpoint", None);
        if st != 200 {
            return None;
        }
        Some(
            armsledger_log::open_checkpoint(&note, &verifier, verifier.name())
                .unwrap()
                .checkpoint()
                .clone(),
        )
    }

    /// Waits until a checkpoint covers the whole log; returns it.
    pub fn settled_checkpoint(&self) -> armsledger_log::Checkpoint {
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            let size = self.size();
            if let Some(cp) = self.checkpoint()
                && cp.size() == size
            {
                return cp;
            }
            assert!(Instant::now() < until, "no checkpoint covers size {size}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// GET; the status and body.
pub fn get(url: &str, path: &str, token: Option<&str>) -> (u16, Vec<u8>) {
    let mut req = agent().get(format!("{url}{path}"));
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let mut resp = req.call().unwrap();
    let st = resp.status().as_u16();
    let body = resp
        .body_mut()
        .with_config()
        .limit(1 << 30)
        .read_to_vec()
        .unwrap_or_default();
    (st, body)
}

/// GET without a token; the status and body, or the transport error.
pub fn try_get(url: &str, path: &str) -> Result<(u16, Vec<u8>), ureq::Error> {
    let mut resp = agent().get(format!("{url}{path}")).call()?;
    let st = resp.status().as_u16();
    let body = resp.body_mut().read_to_vec()?;
    Ok((st, body))
}

/// POST raw bytes without a token; the status and body, or the transport error.
pub fn try_post(
    url: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> Result<(u16, Vec<u8>), ureq::Error> {
    try_post_as(url, path, None, content_type, body)
}

/// POST raw bytes with `token`; the status and body, or the transport error.
pub fn try_post_as(
    url: &str,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    body: &[u8],
) -> Result<(u16, Vec<u8>), ureq::Error> {
    let mut req = agent()
        .post(format!("{url}{path}"))
        .header("content-type", content_type);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let mut resp = req.send(body)?;
    let st = resp.status().as_u16();
    let body = resp.body_mut().read_to_vec().unwrap_or_default();
    Ok((st, body))
}

/// POST raw bytes to `/v1/entries` with `token`; the status and JSON body.
pub fn post_raw_as(url: &str, token: Option<&str>, body: &[u8]) -> (u16, serde_json::Value) {
    let (st, b) = try_post_as(url, "/v1/entries", token, "application/octet-stream", body).unwrap();
    (st, json(&b))
}

/// The postcard batch of `entries`.
pub fn batch(entries: &[Arc<SignedEntry>]) -> Vec<u8> {
    let raw: Vec<Vec<u8>> = entries.iter().map(|e| e.bytes().to_vec()).collect();
    postcard::to_allocvec(&raw).unwrap()
}

/// POSTs a batch of entries with `token`; the status and JSON body.
pub fn post_as(
    url: &str,
    token: Option<&str>,
    entries: &[Arc<SignedEntry>],
) -> (u16, serde_json::Value) {
    post_raw_as(url, token, &batch(entries))
}

/// A JSON body, or `Null`.
/// `armsledger fsck --json --data DATA`, which must be clean; `after` names
/// what the check follows (for the failure message). Returns its report.
pub fn fsck(data: &Path, after: &str) -> serde_json::Value {
    let out = Command::new(bin())
        .args(["fsck", "--json", "--data"])
        .arg(data)
        .output()
        .unwrap();
    let report = json(&out.stdout);
    assert!(
        out.status.success() && report["clean"] == true,
        "fsck after {after}: {report:#}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    report
}

pub fn json(b: &[u8]) -> serde_json::Value {
    serde_json::from_slice(b).unwrap_or(serde_json::Value::Null)
}

/// Hex hashes from a proof's JSON array.
pub fn hashes(v: &serde_json::Value) -> Vec<armsledger_log::Hash> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap().parse().unwrap())
        .collect()
}

/// A small, seeded PRNG (splitmix64); the seed is printed so a failure can
/// be replayed with `ARMSLEDGER_SEED`.
pub struct Rng(u64);

impl Rng {
    /// From a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// From `ARMSLEDGER_SEED`, else from the clock.
    pub fn from_env(what: &str) -> Rng {
        let seed = std::env::var("ARMSLEDGER_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
            });
        eprintln!("{what}: ARMSLEDGER_SEED={seed}");
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// Uniform in `lo..hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi.saturating_sub(lo))
    }
}

/// An environment variable as a number, else `default`.
pub fn env_count(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}
