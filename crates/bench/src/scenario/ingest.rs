//! Scenario 1: signed entries pushed over loopback HTTP by concurrent
//! clients to a real server (the server crate's `app` and workers, durable
//! group commit, full verification, rules, Merkle integration): the
//! server's load test. While the clients push, a watcher notes when each
//! signed checkpoint appears, so every acknowledged batch gets its
//! checkpoint latency: the time from its ack to the first checkpoint that
//! covers it.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use armsledger_core::SignedEntry;
use armsledger_core::event::SiteEvent;
use armsledger_core::model::Item;
use armsledger_core::testkit::{Scenario, v};
use armsledger_server::{Config, Shared, app, spawn_workers};

use crate::limits::Limits;
use crate::report::Figure;

const BATCH: usize = 256;

/// Percentile `p` of sorted durations.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
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

/// Runs the scenario with `total` entries.
pub fn run(
    total: usize,
    clients: usize,
    dir: &Path,
    limits: &Limits,
) -> anyhow::Result<Vec<Figure>> {
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
    let pushed_total: usize = chains.iter().map(Vec::len).sum();

    let data = tempfile::tempdir_in(dir)?;
    let rt = tokio::runtime::Runtime::new()?;
    let config = Config {
        data_dir: data.path().to_path_buf(),
        regulator_key: Some(hex::encode(s.regulator_key())),
        manufacturer_roots: vec![hex::encode(s.root_key())],
        token_rate_per_second: 1_000_000,
        ..Config::default()
    };
    let shared = Shared::open(config)?;
    // The server takes a chain's entries only with a token that may write
    // it: the regulator's for the setup, each site's own for its chain.
    let now = armsledger_core::ids::Timestamp(0);
    let (regulator, _) = shared.tokens().create(
        armsledger_server::tokens::Role::Regulator,
        "bench regulator",
        now,
    )?;
    let site_tokens: Vec<String> = sites
        .iter()
        .map(|site| -> anyhow::Result<String> {
            let role = armsledger_server::tokens::Role::Site(site.parse()?);
            Ok(shared.tokens().create(role, site, now)?.0)
        })
        .collect::<anyhow::Result<_>>()?;
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    {
        let shared = shared.clone();
        rt.spawn(async move {
            spawn_workers(shared.clone());
            let _ = axum::serve(listener, app(shared)).await;
        });
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    // One batch: its ack latency, when the ack came, and the log size that
    // covers it (its highest index + 1).
    let post = |token: &str,
                entries: &[Arc<SignedEntry>],
                wait: bool|
     -> anyhow::Result<(Duration, Instant, u64)> {
        let raw: Vec<Vec<u8>> = entries.iter().map(|e| e.bytes().to_vec()).collect();
        let body = postcard::to_allocvec(&raw)?;
        let url = format!(
            "http://{addr}/v1/entries{}",
            if wait { "?wait=true" } else { "" }
        );
        let t = Instant::now();
        let mut resp = agent
            .post(&url)
            .header("content-type", "application/octet-stream")
            .header("authorization", format!("Bearer {token}"))
            .send(&body[..])?;
        let acked = Instant::now();
        anyhow::ensure!(resp.status() == 200, "server answered {}", resp.status());
        let receipt: serde_json::Value = resp.body_mut().read_json()?;
        let need = receipt["entries"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["index"].as_u64())
            .max()
            .map_or(0, |m| m + 1);
        Ok((acked - t, acked, need))
    };
    post(&regulator, &setup, true)?;
    // What the map stage and the whole process spent from here on.
    let map0 = shared.store().map_stage();
    let calls0 = shared.signature_calls();
    let cpu0 = process_cpu();
    // CPU of the bench's own threads (the clients, the watcher), in ns, to
    // take out of the process's: the rest is the server's.
    let own_cpu = std::sync::atomic::AtomicU64::new(0);
    let own_known = AtomicBool::new(true);
    let own = |start: Option<u64>| match (start, armsledger_store::thread_cpu_ns()) {
        (Some(a), Some(b)) => {
            own_cpu.fetch_add(b.saturating_sub(a), Ordering::Relaxed);
        }
        _ => own_known.store(false, Ordering::Relaxed),
    };

    // The watcher: when each new checkpoint (its size) was first seen.
    let pushing = AtomicBool::new(true);
    let mut seen: Vec<(Instant, u64)> = Vec::new();
    let t = Instant::now();
    let lat: anyhow::Result<Vec<Vec<(Duration, Instant, u64)>>> = std::thread::scope(|sc| {
        let watcher = sc.spawn(|| {
            let cpu = armsledger_store::thread_cpu_ns();
            let mut seen = Vec::new();
            let mut last = 0;
            let deadline = Duration::from_secs(30);
            let mut stopped: Option<Instant> = None;
            loop {
                let size = shared.latest_checkpoint().map_or(0, |p| p.size);
                if size > last {
                    seen.push((Instant::now(), size));
                    last = size;
                }
                if !pushing.load(Ordering::Acquire) {
                    let at = *stopped.get_or_insert_with(Instant::now);
                    // Until the clients' last entries are covered.
                    if last as usize >= setup.len() + pushed_total || at.elapsed() > deadline {
                        break;
                    }
                }
                std::thread::sleep(Duration::from_micros(500));
            }
            own(cpu);
            seen
        });
        let hs: Vec<_> = chains
            .iter()
            .zip(&site_tokens)
            .map(|(c, token)| {
                sc.spawn(|| {
                    let cpu = armsledger_store::thread_cpu_ns();
                    let out = c
                        .chunks(BATCH)
                        .map(|b| post(token, b, false))
                        .collect::<anyhow::Result<Vec<_>>>();
                    own(cpu);
                    out
                })
            })
            .collect();
        let out = hs
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| anyhow::anyhow!("client thread panicked"))?
            })
            .collect();
        pushing.store(false, Ordering::Release);
        seen = watcher.join().unwrap_or_default();
        out
    });
    let pushed_at = t.elapsed();
    let map = shared.store().map_stage();
    let calls = shared.signature_calls();
    let cpu = process_cpu();
    let acks: Vec<(Duration, Instant, u64)> = lat?.into_iter().flatten().collect();
    let wall = pushed_at;
    let last_ack = acks.iter().map(|a| a.1).max();
    let mut lat: Vec<Duration> = acks.iter().map(|a| a.0).collect();
    lat.sort();
    let pushed: usize = chains.iter().map(Vec::len).sum();
    // Checkpoint latency of each acknowledged batch (zero if a checkpoint
    // covering it was already out when the ack arrived).
    let mut cp_lat: Vec<Duration> = Vec::with_capacity(acks.len());
    let mut uncovered = 0usize;
    for (_, acked, need) in &acks {
        match seen.iter().find(|(_, size)| size >= need) {
            Some((at, _)) => cp_lat.push(at.saturating_duration_since(*acked)),
            None => uncovered += 1,
        }
    }
    cp_lat.sort();
    let cp = match (seen.last(), last_ack) {
        (Some((at, size)), Some(ack)) if *size as usize >= setup.len() + pushed => {
            at.saturating_duration_since(ack)
        }
        _ => Duration::from_secs(30),
    };
    let rate = pushed as f64 / wall.as_secs_f64();
    rt.shutdown_timeout(Duration::from_secs(2));
    let sc = "1 ingest";
    let map_figures = map_share(
        pushed,
        wall,
        map0,
        map,
        cpu0.zip(cpu).map(|(a, b)| b.saturating_sub(a)),
        own_known
            .load(Ordering::Relaxed)
            .then(|| Duration::from_nanos(own_cpu.load(Ordering::Relaxed))),
    );
    let mut figures = vec![
        Figure::new(
            sc,
            &format!("entries/s, {clients} clients × batches of {BATCH}, {pushed} entries"),
            rate,
            "entries/s",
        )
        .against("batch verify, all cores", limits.batch_all)
        .goal("≥ 0.5× batch verify", rate >= 0.5 * limits.batch_all),
        Figure::new(
            sc,
            "ack latency p50 (per batch)",
            ms(percentile(&lat, 0.5)),
            "ms",
        ),
        Figure::new(
            sc,
            "ack latency p99 (per batch)",
            ms(percentile(&lat, 0.99)),
            "ms",
        ),
        Figure::new(
            sc,
            "signatures per batch-verification call of the signature stage",
            calls.0.saturating_sub(calls0.0) as f64
                / calls.1.saturating_sub(calls0.1).max(1) as f64,
            "entries",
        ),
        Figure::new(
            sc,
            &format!(
                "checkpoint latency p50 (ack to the first checkpoint covering it, {} batches under load{})",
                cp_lat.len(),
                if uncovered > 0 {
                    format!(", {uncovered} never covered within 30 s")
                } else {
                    String::new()
                }
            ),
            ms(percentile(&cp_lat, 0.5)),
            "ms",
        ),
        Figure::new(
            sc,
            "checkpoint latency p99 (same batches)",
            ms(percentile(&cp_lat, 0.99)),
            "ms",
        )
        .goal(
            "p99 ≤ 1 s under sustained ingest",
            uncovered == 0 && percentile(&cp_lat, 0.99) <= Duration::from_secs(1),
        ),
        Figure::new(sc, "checkpoint latency after the last ack", ms(cp), "ms"),
    ];
    figures.extend(map_figures);
    Ok(figures)
}

/// This process's CPU time so far, every thread's, user and system
/// (`/proc/self/stat`, in Linux's fixed USER_HZ ticks of 10 ms); `None`
/// elsewhere.
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command's closing parenthesis, from field 3:
    // utime and stime are fields 14 and 15.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let f: Vec<&str> = rest.split_ascii_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// The map stage against ingest, in the same run (issue 19's goal: ingest
/// within 10 % of its figure without the map). The server has no switch to
/// run without its map (on purpose), so the map's cost is measured where
/// it runs: the checkpointer's thread brings the map up once per
/// checkpoint, off the ack path. Its CPU per entry, against the rest of the
/// server's CPU per entry (the process's, less the bench's client and
/// watcher threads, less the map's): on a machine whose cores ingest keeps
/// busy, the share of ingest's throughput the map takes. And the time the
/// map holds redb's one writer, against ingest's wall time per entry: the
/// share of the log's commit path it takes.
fn map_share(
    pushed: usize,
    wall: Duration,
    before: armsledger_store::MapStage,
    after: armsledger_store::MapStage,
    process: Option<Duration>,
    own: Option<Duration>,
) -> Vec<Figure> {
    let sc = "1 ingest";
    let us = |d: Duration| d.as_secs_f64() * 1e6 / pushed.max(1) as f64;
    let moved = after.entries - before.entries;
    let moves = after.moves - before.moves;
    let mut out = Vec::new();
    let map_wall = us(after.wall.saturating_sub(before.wall));
    let ingest_wall = us(wall);
    out.push(
        Figure::new(
            sc,
            &format!(
                "map stage: redb's writer held per entry ({moved} entries moved in {moves} \
                 checkpoints)"
            ),
            map_wall,
            "µs",
        )
        .against("ingest's wall time per entry", ingest_wall)
        .goal("≤ 10 % of it", map_wall <= 0.1 * ingest_wall),
    );
    if let (Some(a), Some(b), Some(process), Some(own)) = (before.cpu, after.cpu, process, own) {
        let map_cpu = us(b.saturating_sub(a));
        let server = us(process.saturating_sub(own));
        let rest = (server - map_cpu).max(f64::MIN_POSITIVE);
        out.push(Figure::new(
            sc,
            "server CPU per entry, map stage included (the process less its loopback clients)",
            server,
            "µs",
        ));
        out.push(
            Figure::new(
                sc,
                "map stage CPU per entry (checkpointer thread)",
                map_cpu,
                "µs",
            )
            .against("the rest of the server's CPU per entry", rest)
            .goal("≤ 10 % of it", map_cpu <= 0.1 * rest),
        );
    }
    out
}

/// Milliseconds.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
