//! Store benchmarks: prints figures, asserts nothing about time.
//!
//! ```text
//! cargo bench -p armsledger-store              # default: 1M-leaf proofs
//! cargo bench -p armsledger-store -- --quick   # smaller everything
//! cargo bench -p armsledger-store -- --10m     # also 10M-leaf proofs (≈3 GB disk)
//! ```
//!
//! Figures: durable appends per second with group commit at batch sizes 1,
//! 64 and 1024 next to raw redb durable commits per second from the same
//! run; bytes on disk per entry with every index, per table; proof
//! generation time and size at 1M (and 10M) leaves. The big trees are filled
//! with `bulk_append_leaves` (feature `bench-support`): synthetic 250-byte
//! leaves, no signatures, no indexes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use armsledger_core::entry::SignedEntry;
use armsledger_core::event::SiteEvent;
use armsledger_core::ids::Timestamp;
use armsledger_core::testkit::{Scenario, v};
use armsledger_log::{leaf_hash, verify_consistency, verify_inclusion};
use armsledger_store::{Accepted, LogStore};
use redb::{ReadableDatabase, ReadableTableMetadata, TableDefinition};

struct Opts {
    quick: bool,
    ten_million: bool,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let opts = Opts {
        quick: args.iter().any(|a| a == "--quick")
            || std::env::var("ARMSLEDGER_BENCH_QUICK").is_ok(),
        ten_million: args.iter().any(|a| a == "--10m")
            || std::env::var("ARMSLEDGER_BENCH_10M").is_ok(),
    };
    let dir = tempfile::tempdir_in(
        std::env::var("ARMSLEDGER_BENCH_DIR")
            .unwrap_or_else(|_| std::env::temp_dir().display().to_string()),
    )
    .unwrap();
    println!(
        "armsledger-store benchmarks ({})",
        if opts.quick { "quick" } else { "full" }
    );
    println!("directory: {}", dir.path().display());
    println!();

    let total = if opts.quick { 10_000 } else { 50_000 };
    let t = Instant::now();
    let log = workload(total);
    let mean = log.iter().map(|e| e.bytes().len()).sum::<usize>() as f64 / log.len() as f64;
    println!(
        "workload: {} signed entries, mean {mean:.0} bytes, built in {:.1?}",
        log.len(),
        t.elapsed()
    );
    println!();

    appends(dir.path(), &log, &opts);
    bytes_per_entry(dir.path(), "issue/return", &log);
    let moves = moves(total);
    bytes_per_entry(dir.path(), "storage moves", &moves);
    proofs(dir.path(), 1_000_000, &opts);
    if opts.ten_million {
        proofs(dir.path(), 10_000_000, &opts);
    }
}

// ------------------------------------------------------------------ appends

const RAW: TableDefinition<u64, &[u8]> = TableDefinition::new("raw");

fn appends(dir: &Path, log: &[Arc<SignedEntry>], opts: &Opts) {
    let commits = if opts.quick { 100 } else { 300 };
    let db = redb::Database::create(dir.join("raw.redb")).unwrap();
    let value = [0xa5u8; 250];
    let t = Instant::now();
    for i in 0..commits {
        let txn = db.begin_write().unwrap();
        txn.open_table(RAW)
            .unwrap()
            .insert(i, value.as_slice())
            .unwrap();
        txn.commit().unwrap();
    }
    let raw = commits as f64 / t.elapsed().as_secs_f64();
    drop(db);

    println!("## Durable appends (group commit, one redb write transaction per batch)");
    println!();
    println!("| batch | commits | entries | entries/s | commits/s | raw redb durable commits/s |");
    println!("|---:|---:|---:|---:|---:|---:|");
    for (batch, n_commits) in [
        (1usize, commits as usize),
        (64, commits as usize / 10),
        (1024, if opts.quick { 4 } else { 10 }),
    ] {
        let n = (batch * n_commits).min(log.len());
        let store = LogStore::open(dir.join(format!("append-{batch}.redb"))).unwrap();
        let accepted = accept(&log[..n]);
        let t = Instant::now();
        for chunk in accepted.chunks(batch) {
            store.append_batch(chunk).unwrap();
        }
        let s = t.elapsed().as_secs_f64();
        let c = n.div_ceil(batch);
        println!(
            "| {batch} | {c} | {n} | {:.0} | {:.0} | {raw:.0} |",
            n as f64 / s,
            c as f64 / s
        );
    }
    println!();
}

fn accept(entries: &[Arc<SignedEntry>]) -> Vec<Accepted> {
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| Accepted {
            entry: e.clone(),
            received_at: Timestamp(1_767_225_600_000 + i as u64),
            findings: vec![],
        })
        .collect()
}

// ----------------------------------------------------------- bytes on disk

fn bytes_per_entry(dir: &Path, name: &str, log: &[Arc<SignedEntry>]) {
    let path = dir.join(format!("size-{}.redb", name.replace(['/', ' '], "-")));
    let store = LogStore::open(&path).unwrap();
    for chunk in accept(log).chunks(1024) {
        store.append_batch(chunk).unwrap();
    }
    drop(store);
    let n = log.len() as f64;
    let payload = log.iter().map(|e| e.bytes().len()).sum::<usize>() as f64;
    let file = std::fs::metadata(&path).unwrap().len() as f64;

    println!(
        "## Bytes on disk per entry: {name} ({} entries, mean entry {:.0} B, batches of 1024)",
        log.len(),
        payload / n
    );
    println!();
    println!("| table | rows | stored B/entry | +metadata +fragmented B/entry | pages |");
    println!("|---|---:|---:|---:|---:|");
    let db = redb::ReadOnlyDatabase::open(&path).unwrap();
    let txn = db.begin_read().unwrap();
    let mut total_alloc = 0u64;
    for handle in txn.list_tables().unwrap() {
        let name = redb::TableHandle::name(&handle).to_owned();
        let t = txn.open_untyped_table(handle).unwrap();
        let s = t.stats().unwrap();
        let rows = t.len().unwrap();
        let all = s.stored_bytes() + s.metadata_bytes() + s.fragmented_bytes();
        total_alloc += all;
        println!(
            "| {name} | {rows} | {:.1} | {:.1} | {} |",
            s.stored_bytes() as f64 / n,
            all as f64 / n,
            s.leaf_pages() + s.branch_pages()
        );
    }
    drop(txn);
    drop(db);
    let mut db = redb::Database::open(&path).unwrap();
    while db.compact().unwrap() {}
    drop(db);
    let compacted = std::fs::metadata(&path).unwrap().len() as f64;
    println!("| **all tables** | | | {:.1} | |", total_alloc as f64 / n);
    println!();
    println!("| measure | B/entry | goal |");
    println!("|---|---:|---:|");
    println!("| entry bytes alone | {:.1} | |", payload / n);
    println!("| file as written | {:.1} | < 300 |", file / n);
    println!("| file after compact() | {:.1} | < 300 |", compacted / n);
    println!();
}

// ------------------------------------------------------------------ proofs

fn proofs(dir: &Path, leaves: u64, opts: &Opts) {
    let path = dir.join(format!("proofs-{leaves}.redb"));
    let store = LogStore::open(&path).unwrap();
    let t = Instant::now();
    let synthetic = (0..leaves).map(|i| {
        let mut b = vec![0u8; 250];
        let mut x = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        for c in b.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            c.copy_from_slice(&x.to_le_bytes()[..c.len()]);
        }
        b
    });
    store
        .bulk_append_leaves(synthetic, 100_000, Timestamp(0))
        .unwrap();
    let fill = t.elapsed();
    let r = store.read().unwrap();
    let size = r.size();
    let root = r.root();
    let samples = if opts.quick { 200 } else { 1000 };
    let mut x = 0x1234_5678_9abc_def1u64;
    let mut next = |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % m
    };

    let t = Instant::now();
    let root_at = r.root_at(size).unwrap();
    let root_time = t.elapsed();
    assert_eq!(root_at, root);

    let (mut inc, mut inc_len) = (Duration::ZERO, 0usize);
    for _ in 0..samples {
        let i = next(size);
        let t = Instant::now();
        let p = r.inclusion_proof(i, size).unwrap();
        inc += t.elapsed();
        inc_len = inc_len.max(p.len());
        let leaf = leaf_hash(&r.leaf_data(i).unwrap().unwrap());
        verify_inclusion(&leaf, i, size, &p, &root).unwrap();
    }
    let (mut con, mut con_len) = (Duration::ZERO, 0usize);
    for _ in 0..samples {
        let old = 1 + next(size - 1);
        let t = Instant::now();
        let p = r.consistency_proof(old, size).unwrap();
        con += t.elapsed();
        con_len = con_len.max(p.len());
        if con_len == p.len() {
            verify_consistency(old, size, &r.root_at(old).unwrap(), &root, &p).unwrap();
        }
    }
    let tile =
        armsledger_log::Tile::new(armsledger_log::TileKind::Hashes(0), next(size / 256), 256)
            .unwrap();
    let t = Instant::now();
    let data = r.tile(&tile).unwrap();
    let tile_time = t.elapsed();
    let bundle = tile.entry_bundle().unwrap();
    let t = Instant::now();
    let bundle_data = r.tile(&bundle).unwrap();
    let bundle_time = t.elapsed();
    let file = std::fs::metadata(&path).unwrap().len();

    println!(
        "## Proofs at {size} leaves (synthetic 250-byte leaves, bulk-filled in {fill:.1?}, file {:.0} MB)",
        file as f64 / 1e6
    );
    println!();
    println!("| operation | mean time | size |");
    println!("|---|---:|---:|");
    println!("| root_at(size) | {root_time:.1?} | 32 B |");
    println!(
        "| inclusion proof ({samples} random leaves) | {:.1?} | ≤ {inc_len} hashes = {} B |",
        inc / samples,
        inc_len * 32
    );
    println!(
        "| consistency proof ({samples} random old sizes) | {:.1?} | ≤ {con_len} hashes = {} B |",
        con / samples,
        con_len * 32
    );
    println!(
        "| hash tile {} | {tile_time:.1?} | {} B |",
        tile.path(),
        data.len()
    );
    println!(
        "| entry bundle {} | {bundle_time:.1?} | {} B |",
        bundle.path(),
        bundle_data.len()
    );
    println!();
    drop(r);
    drop(store);
    std::fs::remove_file(&path).unwrap();
}

// ---------------------------------------------------------------- workload

/// A realistic log: the standard world, an armoury of 500 pistols and a
/// lot of rounds, then daily issue and return cycles (each firearm ends up
/// with about 2n/500 events, as in an armoury that issues every day).
fn workload(n: usize) -> Vec<Arc<SignedEntry>> {
    let mut s = Scenario::standard();
    let lot = s.receive("north", "L-1", 1_000_000_000);
    let guns: Vec<_> = (0..500)
        .map(|k| s.acquire("north", &format!("SN-{k:07}")).0)
        .collect();
    let mut k = 0usize;
    while s.log.len() < n {
        let gun = guns[k % guns.len()];
        let guard = if k.is_multiple_of(2) {
            "guard-1"
        } else {
            "guard-2"
        };
        let issue = s.issue("north", gun, guard, lot, 30);
        s.return_all("north", &issue);
        k += 1;
    }
    s.log.truncate(n);
    s.log
}

/// Small entries: the armoury's 500 pistols moved between vault and rack.
fn moves(n: usize) -> Vec<Arc<SignedEntry>> {
    let mut s = Scenario::standard();
    let guns: Vec<_> = (0..500)
        .map(|k| s.acquire("north", &format!("SN-{k:07}")).0)
        .collect();
    let mut k = 0usize;
    while s.log.len() < n {
        let (from, to) = if (k / guns.len()).is_multiple_of(2) {
            ("vault", "rack-1")
        } else {
            ("rack-1", "vault")
        };
        s.site(
            "north",
            "armourer-1",
            SiteEvent::StorageMoved {
                item: armsledger_core::model::Item::Firearm(guns[k % guns.len()]),
                from: v(from),
                to: v(to),
            },
        );
        k += 1;
    }
    s.log.truncate(n);
    s.log
}
