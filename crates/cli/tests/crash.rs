//! Crash suite: a real `armsledger serve` under sustained loopback ingest
//! from two sites is killed with SIGKILL at random moments,
//! `ARMSLEDGER_CRASH_ROUNDS` times (default 5; `scripts/long-suites.sh` runs
//! 50). After each kill:
//!
//! * every entry the server acknowledged (HTTP 200) is in the store, found by
//!   hash when the store is reopened;
//! * `armsledger fsck --data` is clean (nothing half-written: tiles, indexes,
//!   root, signatures, links and every stored checkpoint re-derived);
//! * after the restart, the new checkpoint (opened with the published key
//!   only) covers the whole log, and is consistent — by a consistency proof
//!   from the server, checked locally — with the previous restart's checkpoint
//!   and with every checkpoint published during the round. Consistency is
//!   transitive over prefixes, so each new checkpoint is consistent with every
//!   earlier one.
//!
//! The ingesting clients then re-send whatever was not acknowledged (the
//! server answers `duplicate` for what it had committed) and go on.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod harness;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use armsledger_core::entry::SignedEntry;
use armsledger_core::testkit::Scenario;
use armsledger_log::{Checkpoint, LogVerifier, open_checkpoint, verify_consistency};
use harness::{Rng, Server, env_count, fsck, get, hashes, json, try_get, try_post_as};

/// One ingesting site: its own copy of the scenario (it signs only its own
/// chain), what the server acknowledged, and what it sent without an answer.
struct Client {
    s: Scenario,
    site: &'static str,
    /// The site's bearer token.
    token: String,
    next_serial: u64,
    unacked: Vec<Arc<SignedEntry>>,
    acked: Vec<Arc<SignedEntry>>,
}

/// Posts batches until the server goes away; returns the client and the
/// checkpoints it saw published on the way.
fn ingest(
    mut c: Client,
    url: String,
    seed: u64,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<String>>>,
) -> Client {
    let mut rng = Rng::new(seed);
    loop {
        if stop.load(Ordering::Relaxed) && c.unacked.is_empty() {
            return c;
        }
        if c.unacked.is_empty() {
            for _ in 0..rng.range(1, 24) {
                let serial = format!("{}-{}", c.site.to_uppercase(), c.next_serial);
                c.next_serial += 1;
                let (_, e) = c.s.acquire(c.site, &serial);
                c.unacked.push(e);
            }
        }
        let body = harness::batch(&c.unacked);
        match try_post_as(
            &url,
            "/v1/entries",
            Some(&c.token),
            "application/octet-stream",
            &body,
        ) {
            Ok((200, _)) => c.acked.append(&mut c.unacked),
            Ok((st, b)) => panic!(
                "{}: ingest answered {st}: {}",
                c.site,
                String::from_utf8_lossy(&b)
            ),
            Err(_) => return c, // killed under us: keep the batch for later
        }
        if rng.below(3) == 0
            && let Ok((200, note)) = try_get(&url, "/checkpoint")
        {
            seen.lock().unwrap().push(String::from_utf8(note).unwrap());
        }
    }
}

fn consistent(srv: &Server, token: &str, old: &Checkpoint, new: &Checkpoint) {
    assert!(
        old.size() <= new.size(),
        "checkpoint went back from {} to {}",
        old.size(),
        new.size()
    );
    if old.size() == new.size() {
        assert_eq!(old.root(), new.root(), "two roots for size {}", old.size());
        return;
    }
    if old.size() == 0 {
        return;
    }
    let (st, b) = get(
        &srv.url,
        &format!(
            "/v1/proof/consistency?old={}&new={}",
            old.size(),
            new.size()
        ),
        Some(token),
    );
    assert_eq!(st, 200, "{}", String::from_utf8_lossy(&b));
    let proof = hashes(&json(&b)["proof"]);
    verify_consistency(old.size(), new.size(), old.root(), new.root(), &proof).unwrap_or_else(
        |e| {
            panic!(
                "checkpoint {} is not consistent with {}: {e}",
                new.size(),
                old.size()
            )
        },
    );
}

#[test]
fn acknowledged_entries_survive_sigkill() {
    let rounds = env_count("ARMSLEDGER_CRASH_ROUNDS", 5);
    let mut rng = Rng::from_env("crash");
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("srv");
    let mut s = Scenario::standard();
    s.company_with_site("other-co", "south");
    let mut srv = Server::start(&data, &s, "checkpoint_interval_ms = 20\n");
    let (st, b) = srv.post(&s.log);
    assert_eq!(st, 200, "{b}");
    let token = srv.token("regulator");
    let vkey = srv.vkey();
    let verifier = LogVerifier::from_vkey(&vkey).unwrap();
    let open = |note: &str| {
        open_checkpoint(note.as_bytes(), &verifier, verifier.name())
            .unwrap_or_else(|e| panic!("a published checkpoint does not open: {e}\n{note}"))
            .checkpoint()
            .clone()
    };
    let base = s.log.clone();
    let mut clients: Vec<Client> = ["north", "south"]
        .into_iter()
        .map(|site| Client {
            s: s.clone(),
            site,
            token: srv.token(&format!("site:{site}")),
            next_serial: 0,
            unacked: Vec::new(),
            acked: Vec::new(),
        })
        .collect();
    let mut last = srv.settled_checkpoint();
    let mut survived = 0;
    let mut max_size = 0;
    for round in 0..rounds {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let threads: Vec<_> = clients
            .drain(..)
            .map(|c| {
                let (url, seed, stop, seen) =
                    (srv.url.clone(), rng.next(), stop.clone(), seen.clone());
                std::thread::spawn(move || ingest(c, url, seed, stop, seen))
            })
            .collect();
        // Kill at a random moment of sustained ingest.
        std::thread::sleep(Duration::from_millis(rng.range(80, 700)));
        srv.kill();
        stop.store(true, Ordering::Relaxed);
        clients = threads.into_iter().map(|t| t.join().unwrap()).collect();

        // Every acknowledged entry is in the store.
        let acked: Vec<&Arc<SignedEntry>> = base
            .iter()
            .chain(clients.iter().flat_map(|c| c.acked.iter()))
            .collect();
        {
            let store = armsledger_store::LogStore::open(data.join("log.redb")).unwrap();
            let r = store.read().unwrap();
            for e in &acked {
                assert!(
                    r.index_of_hash(&e.hash()).unwrap().is_some(),
                    "round {round}: acknowledged entry {} #{} lost",
                    e.chain(),
                    e.counter()
                );
            }
            assert!(r.size() >= acked.len() as u64);
            max_size = r.size();
        }
        let report = fsck(&data, "a crash");

        // Restart: same key, a checkpoint over everything, consistent with the past.
        srv.restart();
        assert_eq!(srv.vkey(), vkey, "the log key changed across a crash");
        let now = srv.settled_checkpoint();
        assert!(now.size() >= acked.len() as u64);
        consistent(&srv, &token, &last, &now);
        let published: Vec<String> = seen.lock().unwrap().clone();
        for note in &published {
            consistent(&srv, &token, &open(note), &now);
        }
        eprintln!(
            "crash round {round}: {} acknowledged, log {}, fsck {} entries / {} checkpoints clean, {} published checkpoints consistent",
            acked.len(),
            now.size(),
            report["entries"],
            report["checkpoints"],
            published.len() + 1
        );
        last = now;
        survived += 1;
    }
    // The clients finish what was in flight; everything is logged once.
    for c in &mut clients {
        if !c.unacked.is_empty() {
            let (st, b) = srv.post(&c.unacked);
            assert_eq!(st, 200, "{b}");
            c.acked.append(&mut c.unacked);
        }
    }
    let total = base.len() + clients.iter().map(|c| c.acked.len()).sum::<usize>();
    assert_eq!(
        srv.size(),
        total as u64,
        "an entry was logged twice or lost"
    );
    eprintln!(
        "crashes survived: {survived}/{rounds}; {total} entries acknowledged, largest log {max_size}, {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// After a crash, `armsledger fsck` should check the store as docs/operations.md
/// says ("Run `armsledger fsck --data DIR` first"); today it stops at redb's
/// crash-repair flag ("Database repair aborted", exit 2) until the server or
/// `LogStore::open` has repaired the file.
#[test]
fn fsck_right_after_a_crash() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("srv");
    let s = Scenario::standard();
    let mut srv = Server::start(&data, &s, "checkpoint_interval_ms = 20\n");
    assert_eq!(srv.post(&s.log).0, 200);
    srv.kill();
    fsck(&data, "a crash");
}
