//! Compaction suite (docs/operations.md, "Disk and compaction"):
//!
//! * a real `armsledger serve` told to compact its log file whenever it
//!   grew (no quiet time) compacts again and again while one client ingests
//!   and another reads; every acknowledged entry is then in the file and
//!   `armsledger fsck` is clean;
//! * `armsledger compact` refuses while a server holds the file (naming
//!   the reason) and compacts it once the server is stopped.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod harness;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use armsledger_core::entry::SignedEntry;
use armsledger_core::testkit::Scenario;
use harness::{Server, bin, fsck, get, json};

/// A counter or gauge from `/metrics`.
fn metric(srv: &Server, name: &str) -> u64 {
    let (st, b) = get(&srv.url, "/metrics", None);
    assert_eq!(st, 200);
    let text = String::from_utf8(b).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn compaction_under_concurrent_reads_and_writes_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("srv");
    let mut s = Scenario::standard();
    let mut srv = Server::start(
        &data,
        &s,
        "[compaction]\ncheck_ms = 20\nquiet_ms = 0\nmin_growth_percent = 0\n",
    );
    let (st, b) = srv.post(&s.log);
    assert_eq!(st, 200, "{b}");
    let mut acked: Vec<Arc<SignedEntry>> = s.log.clone();

    // A reader: health (the store's size), findings (the rules) and
    // consistency proofs (the tree), over and over.
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (url, token, stop) = (srv.url.clone(), srv.writer.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut reads = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let (st, b) = get(&url, "/healthz", None);
                assert_eq!(st, 200);
                let size = json(&b)["size"].as_u64().unwrap();
                let (st, _) = get(&url, "/v1/findings", Some(&token));
                assert_eq!(st, 200);
                let (st, b) = get(
                    &url,
                    &format!("/v1/proof/consistency?old=1&new={size}"),
                    Some(&token),
                );
                assert_eq!(st, 200, "{}", String::from_utf8_lossy(&b));
                reads += 3;
            }
            reads
        })
    };

    // The writer: batches until the server compacted a few times while
    // it wrote (bounded).
    let until = Instant::now() + Duration::from_secs(120);
    let mut serial = 0;
    while metric(&srv, "armsledger_compaction_runs_total") < 5 {
        assert!(Instant::now() < until, "the server did not compact");
        let mut batch = Vec::new();
        for _ in 0..20 {
            serial += 1;
            batch.push(s.acquire("north", &format!("C-{serial}")).1);
        }
        let (st, b) = srv.post(&batch);
        assert_eq!(st, 200, "{b}");
        acked.extend(batch);
    }
    stop.store(true, Ordering::Relaxed);
    let reads = reader.join().unwrap();
    assert!(reads > 0);
    let per_entry = metric(&srv, "armsledger_log_file_bytes_per_entry");
    assert!(per_entry > 0, "no file size per entry in /metrics");
    srv.kill();

    let store = armsledger_store::LogStore::open(data.join("log.redb")).unwrap();
    let r = store.read().unwrap();
    assert_eq!(r.size(), acked.len() as u64);
    for e in &acked {
        assert!(
            r.index_of_hash(&e.hash()).unwrap().is_some(),
            "acknowledged entry {} #{} lost",
            e.chain(),
            e.counter()
        );
    }
    drop(r);
    drop(store);
    fsck(&data, "compaction");
}

#[test]
fn compact_refuses_a_running_servers_file_and_compacts_it_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("srv");
    let mut s = Scenario::standard();
    let mut srv = Server::start(&data, &s, "[compaction]\nenabled = false\n");
    let (st, b) = srv.post(&s.log);
    assert_eq!(st, 200, "{b}");
    for k in 0..30 {
        let batch: Vec<_> = (0..10)
            .map(|i| s.acquire("north", &format!("K-{k}-{i}")).1)
            .collect();
        let (st, b) = srv.post(&batch);
        assert_eq!(st, 200, "{b}");
    }
    let compact = || {
        Command::new(bin())
            .args(["compact", "--json", "--data"])
            .arg(&data)
            .output()
            .unwrap()
    };
    let busy = compact();
    assert!(!busy.status.success());
    let err = String::from_utf8_lossy(&busy.stderr);
    assert!(err.contains("stop it first"), "{err}");
    // A checkpoint covering the whole log first: the map moves at
    // checkpoints, and a map left behind by the kill would be caught up by
    // the offline open, growing the file the compaction is measured on.
    srv.settled_checkpoint();
    let size = srv.size();
    srv.kill();

    let done = compact();
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let report = json(&done.stdout);
    assert_eq!(report["entries"], size);
    let (before, after) = (
        report["bytes_before"].as_u64().unwrap(),
        report["bytes_after"].as_u64().unwrap(),
    );
    assert!(after < before, "{report:#}");
    assert_eq!(
        std::fs::metadata(data.join("log.redb")).unwrap().len(),
        after
    );
    fsck(&data, "compaction");
}
