//! Disk-fault suite (issue 9): a real `armsledger serve` whose disk fills up.
//!
//! The "full disk" is the server process's own file size limit
//! (`RLIMIT_FSIZE`), lowered from outside with prlimit(2) to a little above
//! the log file's size once the server runs: redb grows its file with
//! `ftruncate` and writes pages with `pwrite`, and both fail with `EFBIG` past
//! the limit, exactly where a full disk fails them with `ENOSPC` (the server
//! catches SIGXFSZ, whose default action would kill it). Only the soft limit
//! is lowered, so the test (same user) may raise it again: that is "space
//! returns". The test checks that:
//!
//! * ingest is refused with 507 and a problem document saying the disk is
//!   full, with `Retry-After`, while reads are still served and `/healthz` and
//!   `/metrics` show the fault;
//! * nothing of the refused batch is in the log, and every acknowledged
//!   entry is;
//! * the refusal holds while the limit stands, and ingest resumes by itself
//!   once it is raised; the re-sent batch is logged;
//! * the checkpoint after recovery is consistent with the one before the
//!   fault, and `armsledger fsck` is clean after a graceful stop.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use armsledger_core::entry::SignedEntry;
use armsledger_core::testkit::Scenario;
use armsledger_log::{Checkpoint, LogVerifier, open_checkpoint, verify_consistency};

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_armsledger"))
}

/// `armsledger serve` as a child; SIGKILLed if the test fails before `stop`.
struct Server {
    child: Option<Child>,
    url: String,
}

impl Server {
    fn start(data: &Path, s: &Scenario) -> Server {
        std::fs::create_dir_all(data).unwrap();
        let cfg = data.with_extension("toml");
        // A small probe so that "space returned" needs no more than the
        // test's own file size limit allows.
        std::fs::write(
            &cfg,
            "checkpoint_interval_ms = 20\ntoken_rate_per_second = 100000\ndisk_probe_bytes = 1048576\n",
        )
        .unwrap();
        let mut child = Command::new(bin())
            .arg("serve")
            .args(["--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .arg("--config")
            .arg(&cfg)
            .args(["--regulator-key", &hex::encode(s.regulator_key())])
            .args(["--manufacturer-root", &hex::encode(s.root_key())])
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
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|e| {
                let _ = child.kill();
                panic!("server did not start: {e}")
            });
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in {line:?}"))
            .to_string();
        Server {
            child: Some(child),
            url,
        }
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Sets the server's soft file size limit (`None`: as high as the hard limit).
    fn file_size_limit(&self, soft: Option<u64>) {
        let soft = soft.map_or("unlimited".to_string(), |b| b.to_string());
        // prlimit(1) keeps the hard limit when only the soft one is given as `SOFT:`.
        let out = Command::new("prlimit")
            .args([
                "--pid",
                &self.pid().to_string(),
                &format!("--fsize={soft}:"),
            ])
            .output()
            .expect("prlimit(1) from util-linux is needed for this test");
        assert!(
            out.status.success(),
            "prlimit: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Whether the process is still running (a SIGXFSZ it did not catch kills it).
    fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// SIGTERM, then waits for a clean exit.
    fn stop(&mut self) {
        let mut c = self.child.take().unwrap();
        let st = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
        let status = c.wait().unwrap();
        assert!(status.success(), "server exited with {status}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// A response: status, `Retry-After`, content type, body.
struct Resp {
    status: u16,
    retry_after: Option<String>,
    content_type: String,
    body: Vec<u8>,
}

impl Resp {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn finish(mut r: ureq::http::Response<ureq::Body>) -> Resp {
    let header = |h: &str| {
        r.headers()
            .get(h)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    };
    let retry_after = header("retry-after");
    let content_type = header("content-type").unwrap_or_default();
    let body = r
        .body_mut()
        .with_config()
        .limit(1 << 30)
        .read_to_vec()
        .unwrap_or_default();
    Resp {
        status: r.status().as_u16(),
        retry_after,
        content_type,
        body,
    }
}

fn get(url: &str, path: &str, token: Option<&str>) -> Resp {
    let mut req = agent().get(format!("{url}{path}"));
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    finish(req.call().unwrap())
}

/// POSTs entries with the regulator's `token` (it may push every chain).
fn push(url: &str, token: &str, entries: &[Arc<SignedEntry>]) -> Resp {
    let raw: Vec<Vec<u8>> = entries.iter().map(|e| e.bytes().to_vec()).collect();
    let body = postcard::to_allocvec(&raw).unwrap();
    finish(
        agent()
            .post(format!("{url}/v1/entries"))
            .header("content-type", "application/octet-stream")
            .header("authorization", format!("Bearer {token}"))
            .send(&body[..])
            .unwrap(),
    )
}

fn token(data: &Path, url: &str) -> String {
    let out = Command::new(bin())
        .args(["token", "create", "--data"])
        .arg(data)
        .args(["--role", "regulator", "--label", "disk test"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let t = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let until = Instant::now() + Duration::from_secs(10);
    while get(url, "/v1/findings", Some(&t)).status == 401 {
        assert!(
            Instant::now() < until,
            "the server never took the new token"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    t
}

fn health(url: &str) -> serde_json::Value {
    let r = get(url, "/healthz", None);
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

/// The latest checkpoint, opened with only the published key, once it covers the log.
fn settled_checkpoint(url: &str) -> Checkpoint {
    let vkey = get(url, "/v1/log/key", None).text();
    let verifier = LogVerifier::from_vkey(vkey.trim()).unwrap();
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let size = health(url)["size"].as_u64().unwrap();
        let note = get(url, "/checkpoint", None);
        if note.status == 200 {
            let cp = open_checkpoint(&note.body, &verifier, verifier.name())
                .unwrap()
                .checkpoint()
                .clone();
            if cp.size() == size {
                return cp;
            }
        }
        assert!(Instant::now() < until, "no checkpoint covers size {size}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_full_disk_refuses_new_entries_keeps_acknowledged_ones_and_recovers() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("srv");
    let mut s = Scenario::standard();
    let mut srv = Server::start(&data, &s);
    let tok = token(&data, &srv.url);
    let r = push(&srv.url, &tok, &s.log);
    assert_eq!(r.status, 200, "{}", r.text());
    let before = settled_checkpoint(&srv.url);
    let mut acked: Vec<Arc<SignedEntry>> = s.log.clone();

    // The disk "fills up": the log file may grow only a little more.
    let file = data.join("log.redb");
    let len = std::fs::metadata(&file).unwrap().len();
    srv.file_size_limit(Some(len + (64 << 10)));

    let mut serial = 0u64;
    let mut next_batch = |s: &mut Scenario| -> Vec<Arc<SignedEntry>> {
        (0..64)
            .map(|_| {
                serial += 1;
                s.acquire("north", &format!("DISK-{serial:06}")).1
            })
            .collect()
    };
    let mut refused = None;
    for _ in 0..400 {
        let batch = next_batch(&mut s);
        let r = push(&srv.url, &tok, &batch);
        match r.status {
            200 => acked.extend(batch),
            _ => {
                refused = Some((batch, r));
                break;
            }
        }
    }
    assert!(srv.alive(), "the server died at the file size limit");
    let (refused, r) = refused.unwrap_or_else(|| {
        panic!(
            "the server never refused, the log is {} bytes against a limit of {}",
            std::fs::metadata(&file).unwrap().len(),
            len + (64 << 10)
        )
    });

    eprintln!(
        "refused after {} entries: log {} bytes, limit {} bytes",
        acked.len(),
        std::fs::metadata(&file).unwrap().len(),
        len + (64 << 10)
    );

    // A clear refusal.
    assert_eq!(r.status, 507, "{}", r.text());
    assert!(r.content_type.starts_with("application/problem+json"));
    let p = r.json();
    assert_eq!(p["type"], "disk-full", "{p}");
    assert_eq!(p["status"], 507);
    let title = p["title"].as_str().unwrap();
    assert!(title.contains("disk is full"), "{title}");
    assert!(title.contains("acknowledged is safe"), "{title}");
    assert!(
        !title.contains("File too large"),
        "OS detail leaked: {title}"
    );
    assert_eq!(r.retry_after.as_deref(), Some("5"));

    // Still refused while the limit stands (the probe runs every second).
    std::thread::sleep(Duration::from_millis(2500));
    let again = push(&srv.url, &tok, &refused);
    assert_eq!(again.status, 507, "{}", again.text());

    // Reads are served, the fault shows, and the log holds exactly what was
    // acknowledged: nothing of the refused batch.
    let h = health(&srv.url);
    assert_eq!(h["status"], "degraded", "{h}");
    assert_eq!(h["ingest"], "refused", "{h}");
    assert_eq!(h["disk"]["fault"], "full", "{h}");
    assert_eq!(h["size"].as_u64(), Some(acked.len() as u64), "{h}");
    let m = get(&srv.url, "/metrics", None).text();
    assert!(m.contains("armsledger_disk_fault 1"), "{m}");
    assert!(m.contains("armsledger_disk_faults_total 1"), "{m}");
    let integrity = get(&srv.url, "/v1/sites/north/integrity", Some(&tok));
    assert_eq!(integrity.status, 200, "{}", integrity.text());
    let last = acked.last().unwrap().hash();
    let incl = get(
        &srv.url,
        &format!("/v1/proof/inclusion?hash={last}&size={}", acked.len()),
        Some(&tok),
    );
    assert_eq!(incl.status, 200, "{}", incl.text());

    // Space returns: ingest resumes by itself; the refused batch goes in.
    srv.file_size_limit(None);
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let r = push(&srv.url, &tok, &refused);
        if r.status == 200 {
            let receipt = r.json();
            let statuses: Vec<&str> = receipt["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["status"].as_str().unwrap())
                .collect();
            assert!(statuses.iter().all(|s| *s == "logged"), "{statuses:?}");
            break;
        }
        assert_eq!(r.status, 507, "{}", r.text());
        assert!(Instant::now() < until, "ingest did not resume");
        std::thread::sleep(Duration::from_millis(100));
    }
    acked.extend(refused);
    for _ in 0..3 {
        let batch = next_batch(&mut s);
        let r = push(&srv.url, &tok, &batch);
        assert_eq!(r.status, 200, "{}", r.text());
        acked.extend(batch);
    }
    let h = health(&srv.url);
    assert_eq!(h["status"], "ok", "{h}");
    assert_eq!(h["size"].as_u64(), Some(acked.len() as u64), "{h}");
    let m = get(&srv.url, "/metrics", None).text();
    assert!(m.contains("armsledger_disk_fault 0"), "{m}");
    // redb refuses everything after a failed write until it is re-opened.
    assert!(m.contains("armsledger_store_reopens_total 1"), "{m}");

    // The checkpointer resumed, and the log only grew.
    let after = settled_checkpoint(&srv.url);
    assert_eq!(after.size(), acked.len() as u64);
    let proof = get(
        &srv.url,
        &format!(
            "/v1/proof/consistency?old={}&new={}",
            before.size(),
            after.size()
        ),
        Some(&tok),
    );
    assert_eq!(proof.status, 200, "{}", proof.text());
    let hashes: Vec<armsledger_log::Hash> = proof.json()["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap().parse().unwrap())
        .collect();
    verify_consistency(
        before.size(),
        after.size(),
        before.root(),
        after.root(),
        &hashes,
    )
    .unwrap();

    // After a graceful stop: everything acknowledged is there, fsck is clean.
    srv.stop();
    {
        let store = armsledger_store::LogStore::open(&file).unwrap();
        let r = store.read().unwrap();
        assert_eq!(r.size(), acked.len() as u64);
        for e in &acked {
            assert!(
                r.index_of_hash(&e.hash()).unwrap().is_some(),
                "acknowledged entry {} is missing",
                e.hash()
            );
        }
    }
    let out = Command::new(bin())
        .args(["fsck", "--json", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert!(
        out.status.success() && report["clean"] == true,
        "fsck: {report:#}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
