//! Scenario 3: one weapon's dossier with proofs. A log of `n` valid signed
//! entries is written through `LogStore::append_batch` (indexes included),
//! then for random pistols: the firearm's postings and every entry found
//! with its inclusion proof (`LogReader::entries_with_proofs`, spread over
//! `READ_THREADS`), timed together from a fresh reader per dossier, as the
//! server's dossier opens one per request before encoding. The same
//! dossiers again on 1, 2 and 4 threads, cold (the file dropped from the
//! page cache), and asked by 2 or 4 clients at once. Then the cost of one proof against
//! the tree's depth (random leaves at sizes `n/64`, `n/8` and `n`), from
//! which the proofs of a dossier at 10M are predicted without building it,
//! and likewise the proofs of 50 random leaves from one reader (the nodes
//! they share hashed once, as in a dossier).

use std::path::Path;
use std::time::{Duration, Instant};

use armsledger_core::ids::Timestamp;
use armsledger_core::model::FirearmId;
use armsledger_log::{EntryLeaf, Hash, verify_inclusion};
use armsledger_store::{Accepted, IndexKey, LogStore, READ_THREADS, StoredEntry};

use crate::generate::World;
use crate::report::Figure;
use crate::scenario::ingest::{ms, percentile};

/// Events per pistol in the generated log (a busy armoury's year).
const EVENTS_PER_GUN: usize = 50;
/// Entries per durable transaction while filling.
const FILL_BATCH: usize = 8192;
/// Entries generated and signed at once.
const CHUNK: usize = 100_000;
/// Random leaves timed at each tree size for the depth figures.
const DEPTH_SAMPLES: usize = 4000;
/// The depth of a 10M-entry tree: ⌈log2(10,000,000)⌉.
const DEPTH_10M: u32 = 24;

/// Writes an `n`-entry log at `path` (entries received from `t0` on, one
/// millisecond apart): the trace and restart scenarios' log. Returns the
/// world that signed it and the open store.
pub(crate) fn fill(path: &Path, n: usize, t0: u64) -> anyhow::Result<(World, LogStore)> {
    let sites = 4;
    let per_site = (n / EVENTS_PER_GUN / sites).max(16);
    let mut world = World::new(sites, per_site)?;
    let store = LogStore::open(path)?;
    let accept = |entries: &[std::sync::Arc<armsledger_core::SignedEntry>], at: usize| {
        entries
            .iter()
            .enumerate()
            .map(|(i, e)| Accepted {
                entry: e.clone(),
                received_at: Timestamp(crate::generate::received_ms(t0, at + i, e)),
                findings: vec![],
            })
            .collect::<Vec<_>>()
    };
    let mut written = 0usize;
    for b in world.setup.chunks(FILL_BATCH) {
        store.append_batch(&accept(b, written))?;
        written += b.len();
    }
    while written < n {
        let chunk = world.moves(CHUNK.min(n - written))?;
        for b in chunk.chunks(FILL_BATCH) {
            store.append_batch(&accept(b, written))?;
            written += b.len();
        }
        // The map moves at checkpoints (the server's checkpointer does
        // this every 250 ms); here once per chunk.
        store.update_index()?;
    }
    store.update_index()?;
    Ok((world, store))
}

/// When the restart scenario runs at the same size, the trace's log is
/// handed to it (moved to this path, with the regulator key that signed
/// it) instead of being written a second time: at 10M that saves about a
/// quarter of an hour.
pub struct KeepLog<'a> {
    /// Where the restart scenario expects its `log.redb`.
    pub to: &'a Path,
}

/// The receipt time of the first entry of the trace and restart logs
/// (2026-01-01).
pub(crate) const T0: u64 = 1_767_225_600_000;

/// Runs the scenario at `n` entries with `samples` dossiers; with `keep`,
/// the log is moved there afterwards and its regulator key returned.
pub fn run(
    n: usize,
    samples: usize,
    dir: &Path,
    keep: Option<KeepLog<'_>>,
) -> anyhow::Result<(Vec<Figure>, Option<[u8; 32]>)> {
    let t = Instant::now();
    let path = dir.join(format!("trace-{n}.redb"));
    let (world, store) = fill(&path, n, T0)?;
    let fill = t.elapsed();

    let r = store.read()?;
    let size = r.size();
    let root = r.root();
    let guns = dossier_guns(&world, samples);
    let mut times = Vec::with_capacity(samples);
    let (mut events, mut proof_bytes, mut entry_bytes) = (0usize, 0usize, 0usize);
    for (k, gun) in guns.iter().enumerate() {
        // A fresh reader per dossier, as the server opens one per request:
        // its node cache starts empty, so only one dossier's proofs share.
        let d = dossier(&store, gun, size, READ_THREADS)?;
        times.push(d.total);
        events += d.found.len();
        proof_bytes += d.proofs.iter().map(|p| p.len() * 32).sum::<usize>();
        entry_bytes += d.found.iter().map(|e| e.entry.bytes().len()).sum::<usize>();
        if k == 0
            && let (Some(e), Some(p)) = (d.found.first(), d.proofs.first())
        {
            let leaf = EntryLeaf::new(e.received_at.millis(), e.entry.bytes());
            verify_inclusion(&leaf.hash(), e.index, size, p, &root)?;
        }
    }
    // The same dossiers again: their pages are now in redb's cache and the
    // OS page cache, so the difference from the first pass is the cost of
    // reading cold pages (the tail at 10M; the two-step pass above warmed
    // them already). Then once more on one thread
    // (the reads and proofs one after another, as before issue 23's fifth
    // session) and on two, so that the threads' gain is measured in the
    // same run.
    times.sort();
    // The scan's and the proofs' shares: the same dossiers in two steps
    // (each spread), so with their pages cached from the first pass.
    let (mut scans, mut proofs_only) = (Vec::new(), Vec::new());
    for gun in &guns {
        let d = dossier_in_two_steps(&store, gun, size, READ_THREADS)?;
        scans.push(d.scan);
        proofs_only.push(d.total.saturating_sub(d.scan));
    }
    scans.sort();
    proofs_only.sort();
    let warm = pass(&store, &guns, size, READ_THREADS)?;
    let fewer = [1, 2]
        .into_iter()
        .filter(|t| *t < READ_THREADS)
        .map(|t| Ok((t, pass(&store, &guns, size, t)?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    // Two and four clients asking for dossiers at once, each dossier on
    // one thread and spread: whether the threads cut a loaded server's
    // latency or only move it (the machine has few cores).
    let mut concurrent = Vec::new();
    for clients in [2usize, 4] {
        for threads in [1, 2, READ_THREADS] {
            concurrent.push((
                clients,
                threads,
                together(&store, &guns, size, threads, clients)?,
            ));
        }
    }
    let depth = proof_cost_by_depth(&store, size)?;
    let shared = dossier_proofs_by_depth(&store, size)?;
    let p99 = percentile(&times, 0.99);
    let s = samples.max(1) as f64;
    let sc = "3 trace";
    let label = if size >= 1_000_000 {
        format!("{}M", size / 1_000_000)
    } else {
        format!("{}k", size / 1_000)
    };
    let goal_ms = 3.0;
    let map = crate::scenario::index::log_map(&r, &label, &world.guns)?;
    drop(r);
    // Cold: the store closed (redb's own cache gone), the file dropped from
    // the OS page cache, reopened; the same dossiers on one thread, then
    // (dropped again) spread. None when the kernel would not drop it.
    let mut cold = Vec::new();
    let mut store = Some(store);
    for threads in [1, 2, READ_THREADS] {
        drop(store.take());
        let dropped = drop_from_page_cache(&path);
        let reopened = LogStore::open(&path)?;
        if dropped.is_ok() {
            cold.push((threads, pass(&reopened, &guns, size, threads)?));
        } else if let Err(e) = dropped {
            eprintln!("trace: the file could not be dropped from the page cache: {e}");
        }
        store = Some(reopened);
    }
    drop(store);
    let file = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let kept = match keep {
        Some(k) => {
            if let Some(parent) = k.to.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::rename(&path, k.to)?;
            Some(world.regulator)
        }
        None => {
            let _ = std::fs::remove_file(&path);
            None
        }
    };
    let mut figures = vec![
        Figure::new(
            sc,
            &format!("{label}: log built (signed, indexed, durable)"),
            size as f64 / fill.as_secs_f64(),
            "entries/s",
        ),
        Figure::new(
            sc,
            &format!("{label}: dossier p50 (scan + proofs)"),
            ms(percentile(&times, 0.5)),
            "ms",
        ),
        Figure::new(
            sc,
            &format!("{label}: dossier p99 (scan + proofs)"),
            ms(p99),
            "ms",
        )
        .goal("p99 ≤ 3 ms (at 10M)", ms(p99) <= goal_ms),
        Figure::new(
            sc,
            &format!("{label}: of which scan (second pass, in two steps), p50"),
            ms(percentile(&scans, 0.5)),
            "ms",
        ),
        Figure::new(
            sc,
            &format!("{label}: of which scan (second pass, in two steps), p99"),
            ms(percentile(&scans, 0.99)),
            "ms",
        ),
        Figure::new(
            sc,
            &format!("{label}: of which proofs (second pass: dossier less scan), p50"),
            ms(percentile(&proofs_only, 0.5)),
            "ms",
        ),
        Figure::new(
            sc,
            &format!("{label}: of which proofs (second pass: dossier less scan), p99"),
            ms(percentile(&proofs_only, 0.99)),
            "ms",
        ),
        Figure::new(
            sc,
            &format!("{label}: the same dossiers again (pages cached), p50"),
            ms(percentile(&warm, 0.5)),
            "ms",
        ),
        Figure::new(
            sc,
            &format!("{label}: the same dossiers again (pages cached), p99"),
            ms(percentile(&warm, 0.99)),
            "ms",
        ),
        Figure::new(
            sc,
            &format!("{label}: events per dossier (mean)"),
            events as f64 / s,
            "events",
        ),
        Figure::new(
            sc,
            &format!("{label}: proof bytes per dossier (mean)"),
            proof_bytes as f64 / s,
            "B",
        ),
        Figure::new(
            sc,
            &format!("{label}: entry bytes per dossier (mean)"),
            entry_bytes as f64 / s,
            "B",
        ),
        Figure::new(
            sc,
            &format!("{label}: file bytes per entry"),
            file as f64 / size.max(1) as f64,
            "B",
        ),
    ];
    for (threads, t) in &fewer {
        for (q, name) in [(0.5, "p50"), (0.99, "p99")] {
            figures.push(Figure::new(
                sc,
                &format!(
                    "{label}: the same dossiers on {threads} thread{} (pages cached), {name}",
                    if *threads == 1 { "" } else { "s" }
                ),
                ms(percentile(t, q)),
                "ms",
            ));
        }
    }
    for (threads, t) in &cold {
        for (q, name) in [(0.5, "p50"), (0.99, "p99")] {
            figures.push(Figure::new(
                sc,
                &format!(
                    "{label}: the same dossiers cold (store reopened, file dropped from the \
                     page cache), {} thread{}, {name}",
                    threads,
                    if *threads == 1 { "" } else { "s" }
                ),
                ms(percentile(t, q)),
                "ms",
            ));
        }
    }
    for (clients, threads, c) in &concurrent {
        figures.push(Figure::new(
            sc,
            &format!(
                "{label}: {clients} dossiers at once, {threads} thread{} each (pages cached): \
                 p50 {:.2} ms, p99 {:.2} ms; dossiers per second",
                if *threads == 1 { "" } else { "s" },
                ms(percentile(&c.latencies, 0.5)),
                ms(percentile(&c.latencies, 0.99)),
            ),
            c.latencies.len() as f64 / c.wall.as_secs_f64().max(1e-9),
            "dossiers/s",
        ));
    }
    let mean_events = events as f64 / s;
    for d in &depth {
        figures.push(Figure::new(
            sc,
            &format!(
                "{label}: one proof (fresh reader) at size {} (depth {}), p50; p99 {:.1} µs",
                d.size,
                d.depth,
                d.p99 * 1e3
            ),
            d.p50 * 1e3,
            "µs",
        ));
    }
    // Linear in depth: each level adds at most one stored hash to fold
    // (and a tile row every 4 levels); the leaf-group cost is constant.
    if let Some(at_10m) = p50_at_10m(&depth) {
        figures.push(Figure::new(
            sc,
            &format!(
                "{label}: proofs of a {mean_events:.0}-event dossier predicted at 10M \
                     (depth {DEPTH_10M}; p50 per proof, linear in depth; cached pages, \
                     the scan's cold reads at 10M come on top)"
            ),
            at_10m * mean_events,
            "ms",
        ));
    }
    for d in &shared {
        figures.push(Figure::new(
            sc,
            &format!(
                "{label}: proofs of {EVENTS_PER_GUN} random leaves from one fresh reader \
                 (nodes shared) at size {} (depth {}), p50; p99 {:.2} ms",
                d.size, d.depth, d.p99
            ),
            d.p50,
            "ms",
        ));
    }
    // Below the levels the leaves share, each level adds one sibling per
    // leaf; above them, one node for all: linear in depth errs high.
    if let Some(at_10m) = p50_at_10m(&shared) {
        figures.push(Figure::new(
            sc,
            &format!(
                "{label}: proofs of a {EVENTS_PER_GUN}-event dossier predicted at 10M from \
                 one reader (depth {DEPTH_10M}; p50, linear in depth; cached pages)"
            ),
            at_10m,
            "ms",
        ));
    }
    figures.extend(map);
    Ok((figures, kept))
}

/// The pistols whose dossiers are timed: `samples` of them, random but the
/// same in every pass.
fn dossier_guns(world: &World, samples: usize) -> Vec<FirearmId> {
    let mut x = 0x1234_5678_9abc_def1u64;
    (0..samples)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            world.guns[(x % world.guns.len() as u64) as usize].1
        })
        .collect()
}

/// One dossier as the server builds it: a fresh reader, the firearm's
/// events, their proofs at `size`; its reads and proofs spread over
/// `threads` threads.
struct Dossier {
    total: Duration,
    scan: Duration,
    found: Vec<StoredEntry>,
    proofs: Vec<Vec<Hash>>,
}

fn dossier(
    store: &LogStore,
    gun: &FirearmId,
    size: u64,
    threads: usize,
) -> anyhow::Result<Dossier> {
    let t = Instant::now();
    let rd = store.read()?.with_threads(threads);
    let indexes = rd.indexes(&IndexKey::Firearm(*gun))?;
    let scan = t.elapsed();
    let (found, proofs): (Vec<StoredEntry>, Vec<Option<Vec<Hash>>>) = rd
        .entries_with_proofs(&indexes, size, |_| true)?
        .into_iter()
        .unzip();
    let proofs = proofs.into_iter().flatten().collect();
    Ok(Dossier {
        total: t.elapsed(),
        scan,
        found,
        proofs,
    })
}

/// [`dossier`] in two steps, each spread over `threads` threads: the scan
/// (the entries' reads), then the proofs; for the time of each.
fn dossier_in_two_steps(
    store: &LogStore,
    gun: &FirearmId,
    size: u64,
    threads: usize,
) -> anyhow::Result<Dossier> {
    let t = Instant::now();
    let rd = store.read()?.with_threads(threads);
    let found = rd.scan(&IndexKey::Firearm(*gun), 0, usize::MAX)?;
    let scan = t.elapsed();
    let indexes: Vec<u64> = found.iter().map(|e| e.index).collect();
    let proofs = rd.inclusion_proofs(&indexes, size)?;
    Ok(Dossier {
        total: t.elapsed(),
        scan,
        found,
        proofs,
    })
}

/// The dossiers of `guns` one after another; their times, sorted.
fn pass(
    store: &LogStore,
    guns: &[FirearmId],
    size: u64,
    threads: usize,
) -> anyhow::Result<Vec<Duration>> {
    let mut t = guns
        .iter()
        .map(|g| Ok(std::hint::black_box(dossier(store, g, size, threads)?).total))
        .collect::<anyhow::Result<Vec<_>>>()?;
    t.sort();
    Ok(t)
}

/// Dossiers asked by several clients at once.
struct Concurrent {
    /// Each dossier's time, sorted.
    latencies: Vec<Duration>,
    /// From the first start to the last end.
    wall: Duration,
}

/// `guns`' dossiers split over `clients` threads asking at the same time.
fn together(
    store: &LogStore,
    guns: &[FirearmId],
    size: u64,
    threads: usize,
    clients: usize,
) -> anyhow::Result<Concurrent> {
    let per = guns.len().div_ceil(clients.max(1)).max(1);
    let t = Instant::now();
    let parts = std::thread::scope(|s| {
        let handles: Vec<_> = guns
            .chunks(per)
            .map(|part| s.spawn(move || pass(store, part, size, threads)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| anyhow::anyhow!("a dossier client panicked"))?
            })
            .collect::<anyhow::Result<Vec<_>>>()
    })?;
    let wall = t.elapsed();
    let mut latencies: Vec<Duration> = parts.into_iter().flatten().collect();
    latencies.sort();
    Ok(Concurrent { latencies, wall })
}

/// Asks the kernel to drop `path`'s pages from its page cache
/// (`posix_fadvise(DONTNEED)`: no root needed, clean pages only).
fn drop_from_page_cache(path: &Path) -> anyhow::Result<()> {
    let file = std::fs::File::open(path)?;
    file.sync_all()?;
    rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed)?;
    Ok(())
}

/// Dossiers timed at one tree size: the proofs of `EVENTS_PER_GUN` random
/// leaves from one fresh reader, as the server builds a dossier's.
const DEPTH_DOSSIERS: usize = 200;

/// The proofs of `EVENTS_PER_GUN` random leaves, all from one fresh reader
/// (opened outside the timing) so that they share the nodes it hashes,
/// at sizes `n/64`, `n/8` and `n` after an untimed pass over the same
/// leaves; milliseconds per set.
fn dossier_proofs_by_depth(store: &LogStore, n: u64) -> anyhow::Result<Vec<DepthCost>> {
    proofs_by_depth(
        store,
        n,
        DEPTH_DOSSIERS,
        EVENTS_PER_GUN,
        0x6a09_e667_f3bc_c909,
    )
}

/// One proof of a random leaf at sizes `n/64`, `n/8` and `n`, each
/// measured on `DEPTH_SAMPLES` leaves after one untimed pass over the same
/// leaves (so the pages are cached at every size alike). Each timed proof
/// has a fresh reader (opened outside the timing), whose node cache is
/// empty: it hashes its leaf group and reads every row on its path, as a
/// request for one proof does, so what differs between sizes is the depth
/// alone (a shared reader would hit its cache far more at the small sizes).
fn proof_cost_by_depth(store: &LogStore, n: u64) -> anyhow::Result<Vec<DepthCost>> {
    proofs_by_depth(store, n, DEPTH_SAMPLES, 1, 0x9e37_79b9_7f4a_7c15)
}

/// `sets` sets of `per_set` random leaves (from `seed`) at sizes `n/64`,
/// `n/8` and `n`: after one untimed pass over every leaf, each set's proofs
/// timed from one fresh reader (opened outside the timing); milliseconds
/// per set.
fn proofs_by_depth(
    store: &LogStore,
    n: u64,
    sets: usize,
    per_set: usize,
    seed: u64,
) -> anyhow::Result<Vec<DepthCost>> {
    let mut out = Vec::new();
    for size in [n / 64, n / 8, n] {
        if size < 2 {
            continue;
        }
        let mut x = seed ^ size;
        let sets: Vec<Vec<u64>> = (0..sets)
            .map(|_| {
                let mut set: Vec<u64> = (0..per_set)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        x % size
                    })
                    .collect();
                set.sort_unstable();
                set
            })
            .collect();
        let warm = store.read()?;
        for &i in sets.iter().flatten() {
            std::hint::black_box(warm.inclusion_proof(i, size)?);
        }
        drop(warm);
        let mut t = Vec::with_capacity(sets.len());
        for set in &sets {
            let r = store.read()?;
            let s = Instant::now();
            for &i in set {
                std::hint::black_box(r.inclusion_proof(i, size)?);
            }
            t.push(s.elapsed());
        }
        t.sort();
        out.push(DepthCost {
            size,
            depth: 64 - (size - 1).leading_zeros(),
            p50: ms(percentile(&t, 0.5)),
            p99: ms(percentile(&t, 0.99)),
        });
    }
    Ok(out)
}

/// The cost of one inclusion proof at one tree size.
struct DepthCost {
    size: u64,
    depth: u32,
    /// Milliseconds.
    p50: f64,
    /// Milliseconds.
    p99: f64,
}

/// The median at the depth of a 10M-entry tree, on the line through the
/// shallowest and the deepest of `costs` (none when they share a depth).
fn p50_at_10m(costs: &[DepthCost]) -> Option<f64> {
    let (lo, hi) = (costs.first()?, costs.last()?);
    if hi.depth <= lo.depth {
        return None;
    }
    let per_level = (hi.p50 - lo.p50).max(0.0) / f64::from(hi.depth - lo.depth);
    Some(hi.p50 + per_level * f64::from(DEPTH_10M.saturating_sub(hi.depth)))
}
