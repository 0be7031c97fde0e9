//! Scenario 3: one weapon's dossier with proofs. A log of `n` valid signed
//! entries is written through `LogStore::append_batch` (indexes included),
//! then for random pistols: `LogReader::scan(IndexKey::Firearm)` and an
//! inclusion proof for every entry found, timed together, as the server's
//! trace endpoint does before encoding.

use std::path::Path;
use std::time::Instant;

use armsledger_core::ids::Timestamp;
use armsledger_log::{EntryLeaf, verify_inclusion};
use armsledger_store::{Accepted, IndexKey, LogStore};

use crate::generate::World;
use crate::report::Figure;
use crate::scenario::ingest::{ms, percentile};

/// Events per pistol in the generated log (a busy armoury's year).
const EVENTS_PER_GUN: usize = 50;
/// Entries per durable transaction while filling.
const FILL_BATCH: usize = 8192;
/// Entries generated and signed at once.
const CHUNK: usize = 100_000;

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
                received_at: Timestamp(t0 + (at + i) as u64),
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
    }
    Ok((world, store))
}

/// Runs the scenario at `n` entries with `samples` dossiers.
pub fn run(n: usize, samples: usize, dir: &Path) -> anyhow::Result<Vec<Figure>> {
    let t = Instant::now();
    let path = dir.join(format!("trace-{n}.redb"));
    let (world, store) = fill(&path, n, 0)?;
    let fill = t.elapsed();

    let r = store.read()?;
    let size = r.size();
    let root = r.root();
    let mut x = 0x1234_5678_9abc_def1u64;
    let mut times = Vec::with_capacity(samples);
    let mut scans = Vec::with_capacity(samples);
    let (mut events, mut proof_bytes, mut entry_bytes) = (0usize, 0usize, 0usize);
    for k in 0..samples {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let gun = world.guns[(x % world.guns.len() as u64) as usize].1;
        let t = Instant::now();
        let found = r.scan(&IndexKey::Firearm(gun), 0, usize::MAX)?;
        scans.push(t.elapsed());
        let proofs = found
            .iter()
            .map(|e| r.inclusion_proof(e.index, size))
            .collect::<Result<Vec<_>, _>>()?;
        times.push(t.elapsed());
        events += found.len();
        proof_bytes += proofs.iter().map(|p| p.len() * 32).sum::<usize>();
        entry_bytes += found.iter().map(|e| e.entry.bytes().len()).sum::<usize>();
        if k == 0
            && let (Some(e), Some(p)) = (found.first(), proofs.first())
        {
            let leaf = EntryLeaf::new(e.received_at.millis(), e.entry.bytes());
            verify_inclusion(&leaf.hash(), e.index, size, p, &root)?;
        }
    }
    // The same dossiers again: their pages are now in redb's cache and the
    // OS page cache, so the difference from the first pass is the cost of
    // reading cold pages (the tail at 10M).
    let mut warm = Vec::with_capacity(samples);
    let mut y = 0x1234_5678_9abc_def1u64;
    for _ in 0..samples {
        y ^= y << 13;
        y ^= y >> 7;
        y ^= y << 17;
        let gun = world.guns[(y % world.guns.len() as u64) as usize].1;
        let t = Instant::now();
        let found = r.scan(&IndexKey::Firearm(gun), 0, usize::MAX)?;
        for e in &found {
            std::hint::black_box(r.inclusion_proof(e.index, size)?);
        }
        warm.push(t.elapsed());
    }
    warm.sort();
    times.sort();
    scans.sort();
    let p99 = percentile(&times, 0.99);
    let s = samples.max(1) as f64;
    let sc = "3 trace";
    let label = if size >= 1_000_000 {
        format!("{}M", size / 1_000_000)
    } else {
        format!("{}k", size / 1_000)
    };
    let goal_ms = 3.0;
    drop(r);
    drop(store);
    let file = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let _ = std::fs::remove_file(&path);
    Ok(vec![
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
            &format!("{label}: of which scan, p50"),
            ms(percentile(&scans, 0.5)),
            "ms",
        ),
        Figure::new(
            sc,
            &format!("{label}: of which scan, p99"),
            ms(percentile(&scans, 0.99)),
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
    ])
}
