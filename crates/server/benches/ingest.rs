//! Ingest load test: a real server on a loopback port, several concurrent
//! clients each pushing one site's signed chain in batches. Prints entries/s,
//! p50/p99 acknowledgement latency and checkpoint latency, next to the raw
//! ed25519 batch-verification rate on all cores measured in the same run.
//!
//! `cargo bench -p armsledger-server --bench ingest` (set
//! `ARMSLEDGER_BENCH_ENTRIES` for more than the default 20,000; `--quick`
//! for a smoke run). Bounded in count and time, loopback only.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use armsledger_core::entry::SignedEntry;
use armsledger_core::event::SiteEvent;
use armsledger_core::model::Item;
use armsledger_core::testkit::{Scenario, T0, v};
use armsledger_server::{Config, Shared, app, spawn_workers};
use rayon::prelude::*;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

/// One site's chain of `n` entries: acquisitions then storage moves.
fn site_chain(s: &mut Scenario, site: &str, n: usize) -> Vec<Arc<SignedEntry>> {
    let start = s.log.len();
    let guns: Vec<_> = (0..(n / 20).max(1))
        .map(|i| s.acquire(site, &format!("{site}-{i:05}")).0)
        .collect();
    let mut at = vec![true; guns.len()];
    let mut i = 0;
    while s.log.len() - start < n {
        let k = i % guns.len();
        let (from, to) = if at[k] {
            ("vault", "rack-1")
        } else {
            ("rack-1", "vault")
        };
        at[k] = !at[k];
        s.site(
            site,
            "armourer-1",
            SiteEvent::StorageMoved {
                item: Item::Firearm(guns[k]),
                from: v(from),
                to: v(to),
            },
        );
        i += 1;
    }
    s.log[start..].to_vec()
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let total: usize = std::env::var("ARMSLEDGER_BENCH_ENTRIES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if quick { 2_000 } else { 20_000 });
    let clients = 4;
    let batch = 256;
    let mut s = Scenario::standard();
    let sites: Vec<String> = (0..clients).map(|i| format!("site-{i}")).collect();
    for site in &sites {
        s.company_with_site("acme", site);
    }
    let setup = s.log.clone();
    let chains: Vec<Vec<Arc<SignedEntry>>> = sites
        .iter()
        .map(|site| site_chain(&mut s, site, total / clients))
        .collect();
    let all: Vec<&Arc<SignedEntry>> = chains.iter().flatten().collect();

    // The limit: raw ed25519 batch verification of these same signatures, all cores.
    let t = Instant::now();
    let ok = all.par_chunks(64).all(|c| {
        let msgs: Vec<Vec<u8>> = c.iter().map(|e| e.signed_message()).collect();
        let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
        let sigs: Vec<ed25519_dalek::Signature> = c
            .iter()
            .map(|e| ed25519_dalek::Signature::from_bytes(&e.signature().0))
            .collect();
        let keys: Vec<ed25519_dalek::VerifyingKey> = c
            .iter()
            .map(|e| {
                let site = match e.chain() {
                    armsledger_core::entry::ChainId::Site(site) => site.clone(),
                    armsledger_core::entry::ChainId::Regulator => v("none"),
                };
                ed25519_dalek::VerifyingKey::from_bytes(&s.sites[&site].public_key()).unwrap()
            })
            .collect();
        ed25519_dalek::verify_batch(&refs, &sigs, &keys).is_ok()
    });
    assert!(ok);
    let raw_rate = all.len() as f64 / t.elapsed().as_secs_f64();

    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        regulator_key: Some(hex::encode(s.regulator_key())),
        manufacturer_roots: vec![hex::encode(s.root_key())],
        chain_rate_per_second: 1_000_000,
        ..Config::default()
    };
    let shared = Shared::open(config).unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    {
        let shared = shared.clone();
        rt.spawn(async move {
            spawn_workers(shared.clone());
            axum::serve(listener, app(shared)).await.unwrap();
        });
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let post = |entries: &[Arc<SignedEntry>], wait: bool| -> Duration {
        let raw: Vec<Vec<u8>> = entries.iter().map(|e| e.bytes().to_vec()).collect();
        let body = postcard::to_allocvec(&raw).unwrap();
        let url = format!(
            "http://{addr}/v1/entries{}",
            if wait { "?wait=true" } else { "" }
        );
        let t = Instant::now();
        let resp = agent
            .post(&url)
            .header("content-type", "application/octet-stream")
            .send(&body[..])
            .unwrap();
        assert_eq!(resp.status(), 200);
        t.elapsed()
    };
    post(&setup, true);

    let t = Instant::now();
    let lat: Vec<Duration> = std::thread::scope(|sc| {
        let hs: Vec<_> = chains
            .iter()
            .map(|c| sc.spawn(|| c.chunks(batch).map(|b| post(b, false)).collect::<Vec<_>>()))
            .collect();
        hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let wall = t.elapsed();
    let pushed: usize = chains.iter().map(Vec::len).sum();
    let mut lat = lat;
    lat.sort();
    // Checkpoint latency: from the last acknowledgement until a checkpoint covers it.
    let want = setup.len() + pushed;
    let t = Instant::now();
    loop {
        let size = shared.checkpoint.borrow().as_ref().map_or(0, |p| p.size);
        if size as usize >= want || t.elapsed() > Duration::from_secs(30) {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let cp_latency = t.elapsed();
    let rate = pushed as f64 / wall.as_secs_f64();
    let bytes = std::fs::metadata(dir.path().join("log.redb"))
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "ingest over loopback HTTP: {clients} clients, batches of {batch}, {pushed} entries, durable group commit"
    );
    println!("{:<44} {:>12}", "figure", "value");
    println!(
        "{:<44} {:>12.0}",
        "entries/s ingested (verified, ruled, logged)", rate
    );
    println!(
        "{:<44} {:>12.0}",
        "raw ed25519 batch verify/s, all cores (limit)", raw_rate
    );
    println!(
        "{:<44} {:>11.2}x",
        "ratio to the limit (goal >= 0.5)",
        rate / raw_rate
    );
    println!(
        "{:<44} {:>9.1} ms",
        "ack latency p50 (batch)",
        percentile(&lat, 0.5).as_secs_f64() * 1e3
    );
    println!(
        "{:<44} {:>9.1} ms",
        "ack latency p99 (batch)",
        percentile(&lat, 0.99).as_secs_f64() * 1e3
    );
    println!(
        "{:<44} {:>9.1} ms",
        "checkpoint latency after last ack",
        cp_latency.as_secs_f64() * 1e3
    );
    println!(
        "{:<44} {:>12.0}",
        "bytes on disk per entry (log.redb)",
        bytes as f64 / want as f64
    );
    let _ = T0;
}
