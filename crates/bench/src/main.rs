//! `armsledger-bench`: issue 8's performance harness. Every figure is
//! printed beside the physical limit it is judged against, measured in the
//! same run on the same machine, with their ratio and the goal.
//!
//! ```text
//! armsledger-bench [--quick] [--json FILE] [--scenario NAME]...
//! ```
//!
//! Scenarios: `ingest`, `verify`, `trace`, `storage`, `device`, `demo`,
//! `index` (default: all), and `publish` (only when named: a 10M-entry log's tiles
//! to an in-memory object store, `--publish-entries N`, `--bundles`). `--quick` uses small sizes (under a minute in release
//! mode, for CI smoke runs); no figure is ever asserted.

// A bench program: its setup panics are bugs in the bench, not input paths.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod generate;
mod limits;
mod report;
mod scenario;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;

use report::Figure;

/// Command-line options.
#[derive(Parser, Debug)]
#[command(name = "armsledger-bench", about = "armsledger performance harness")]
struct Args {
    /// Small sizes: a smoke run in under a minute.
    #[arg(long)]
    quick: bool,
    /// Also write the figures as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Run only these scenarios (ingest, verify, trace, storage, device, demo, index).
    #[arg(long = "scenario")]
    scenarios: Vec<String>,
    /// Full mode: also trace at 10M entries (several minutes, ≈ 4 GB disk),
    /// and the index at 10M subjects (≈ 4.2 GB of map file).
    #[arg(long = "10m")]
    ten_million: bool,
    /// Where temporary databases go (default: the system temp directory).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Concurrent clients (sites) in the ingest scenario, each with one
    /// 256-entry batch in flight.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    clients: u16,
    /// Entries of the log the `publish` scenario publishes (run only when
    /// named with `--scenario publish`).
    #[arg(long, default_value_t = 10_000_000)]
    publish_entries: u64,
    /// `publish` also writes the entry bundles (368-byte leaves: ≈ 3.7 GB
    /// of memory at 10M entries).
    #[arg(long)]
    bundles: bool,
    /// Starts from the snapshot in the `restart` scenario (run only when
    /// named; its log is 1M entries, 10M with `--10m`, 100k with
    /// `--quick`: the trace scenario's size, whose log it takes over when
    /// both run).
    #[arg(long, default_value_t = 3)]
    restart_runs: usize,
    /// Entries of the `restart` scenario's log, instead of the trace
    /// scenario's size (for the slope: 1M, then 3M).
    #[arg(long)]
    restart_entries: Option<usize>,
    /// Keep the `restart` scenario's data directory (log and snapshot),
    /// moved to this path (on the same file system as `--dir`), to profile
    /// a server on it afterwards.
    #[arg(long)]
    restart_keep: Option<std::path::PathBuf>,
}

const ALL: [&str; 7] = [
    "ingest", "verify", "trace", "storage", "device", "demo", "index",
];

/// Scenarios run only when named.
const ON_REQUEST: [&str; 2] = ["publish", "restart"];

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    for s in &args.scenarios {
        anyhow::ensure!(
            ALL.contains(&s.as_str()) || ON_REQUEST.contains(&s.as_str()),
            "unknown scenario {s:?}: expected one of {}, {}",
            ALL.join(", "),
            ON_REQUEST.join(", ")
        );
    }
    let want = |s: &str| args.scenarios.is_empty() || args.scenarios.iter().any(|a| a == s);
    let base = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::tempdir_in(base)?;
    let q = args.quick;
    let started = Instant::now();
    let mode = if q { "quick" } else { "full" };
    eprintln!(
        "armsledger-bench ({mode}), {} threads, temp dir {}",
        rayon::current_num_threads(),
        dir.path().display()
    );

    let step = |name: &str| eprintln!("[{:>6.1}s] {name}", started.elapsed().as_secs_f64());
    let mut figures: Vec<Figure> = Vec::new();
    let mut notes: Vec<String> = Vec::new();

    // A scenario that fails (hours into a --10m run) must not take the
    // figures already measured with it: they are printed, then the error.
    let want_restart = args.scenarios.iter().any(|s| s == "restart");
    let restart_n = match (args.restart_entries, q, args.ten_million) {
        (Some(n), _, _) => n,
        (None, true, _) => 100_000,
        (None, false, false) => 1_000_000,
        (None, false, true) => 10_000_000,
    };
    let restart_log = scenario::restart::log_path(restart_n, dir.path());
    let mut restart_key: Option<[u8; 32]> = None;
    let outcome = (|| -> anyhow::Result<()> {
        step("limits");
        let limits = limits::measure(if q { 4096 } else { 32_768 }, dir.path())?;
        figures.extend(limits.figures());

        if want("ingest") {
            step("1 ingest");
            figures.extend(scenario::ingest::run(
                if q { 4_000 } else { 40_000 },
                usize::from(args.clients),
                dir.path(),
                &limits,
            )?);
        }
        if want("verify") {
            step("2 verify");
            figures.extend(scenario::verify::run(
                if q { 20_000 } else { 1_000_000 },
                &limits,
            )?);
        }
        if want("trace") {
            let sizes: &[usize] = match (q, args.ten_million) {
                (true, _) => &[100_000],
                (false, false) => &[1_000_000],
                (false, true) => &[1_000_000, 10_000_000],
            };
            for &n in sizes {
                step(&format!("3 trace at {n}"));
                // The restart scenario at the same size takes this log.
                let keep = (n == restart_n && want_restart)
                    .then(|| scenario::trace::KeepLog { to: &restart_log });
                let (f, key) =
                    scenario::trace::run(n, if q { 200 } else { 1000 }, dir.path(), keep)?;
                figures.extend(f);
                if key.is_some() {
                    restart_key = key;
                }
            }
            if !q && !args.ten_million {
                notes
                    .push("trace at 10M not run: pass --10m (several minutes, ≈ 4 GB disk)".into());
            }
        }
        if want("storage") {
            step("4 storage");
            figures.extend(scenario::storage::run(
                if q { 10_000 } else { 100_000 },
                dir.path(),
            )?);
        }
        if want("device") {
            step("5 device");
            let per = Duration::from_millis(if q { 300 } else { 2000 });
            figures.extend(scenario::device::run(per, &limits)?);
        }
        if want("demo") {
            step("6 demo");
            let (days, timeout) = if q {
                (Some(5), Duration::from_secs(20))
            } else {
                (None, Duration::from_secs(600))
            };
            match scenario::demo::run(days, timeout, dir.path())? {
                Ok(f) => figures.extend(f),
                Err(note) => notes.push(format!("demo: {note}")),
            }
        }
        if want("index") {
            step("7 index");
            // Ingest's time per entry from this run, when it ran.
            let ingest_us = figures
                .iter()
                .find(|f| f.scenario == "1 ingest" && f.name.starts_with("entries/s"))
                .map(|f| 1e6 / f.value);
            // With --10m: a map of 10M subjects (the long run; from the 1M
            // figures, a 4.2 GB map file and 10 to 40 minutes on the 2-core
            // machine, depending on its load).
            figures.extend(scenario::index::run(
                match (q, args.ten_million) {
                    (true, _) => 20_000,
                    (false, false) => 1_000_000,
                    (false, true) => 10_000_000,
                },
                if q { 4_096 } else { 40_960 },
                dir.path(),
                ingest_us,
            )?);
        }
        if args.scenarios.iter().any(|s| s == "publish") {
            let n = if q { 100_000 } else { args.publish_entries };
            step(&format!(
                "8 publish {n} entries to an in-memory object store"
            ));
            figures.extend(scenario::publish::run(n, args.bundles)?);
        }
        if want_restart {
            let n = restart_n;
            step(&format!("9 restart over {n} entries"));
            match scenario::restart::run(
                n,
                args.restart_runs,
                dir.path(),
                restart_key,
                args.restart_keep.as_deref(),
            )? {
                Ok(f) => figures.extend(f),
                Err(note) => notes.push(note),
            }
        }
        Ok(())
    })();
    if let Err(e) = &outcome {
        notes.push(format!("the run stopped early: {e:#}"));
    }
    step("done");

    println!(
        "armsledger-bench ({mode}) on {} threads, {:.0} s",
        rayon::current_num_threads(),
        started.elapsed().as_secs_f64()
    );
    println!();
    report::print(&figures);
    for n in &notes {
        println!();
        println!("note: {n}");
    }
    if let Some(path) = &args.json {
        let doc = serde_json::json!({
            "mode": mode,
            "threads": rayon::current_num_threads(),
            "seconds": started.elapsed().as_secs_f64(),
            "figures": figures,
            "notes": notes,
        });
        std::fs::write(path, serde_json::to_string_pretty(&doc)? + "\n")?;
    }
    outcome
}
