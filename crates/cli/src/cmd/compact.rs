//! `armsledger compact`: compacts a server's log file offline.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use armsledger_server::files as data_files;
use armsledger_store::{Compaction, LogStore, StoreError};
use clap::Args;
use serde::Serialize;

use crate::out;

/// Options of `compact`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger compact --data ./regulator --json\n\nReturns to the file system the pages redb's copy-on-write commits freed and the\ngrowth ahead of use (the server also compacts on its own at quiet moments, see\n[compaction] in docs/operations.md). Needs the file to itself: refused while a\nserver has it open. Nothing in the log changes; a crash during it leaves the log\nas it was. Exit 0 done, 2 usage or I/O error (a running server included)."
)]
pub struct CompactArgs {
    /// A server's data directory (log.redb).
    #[arg(long, env = "ARMSLEDGER_DATA")]
    pub data: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Report {
    file: String,
    entries: u64,
    bytes_before: u64,
    bytes_after: u64,
    bytes_per_entry_before: u64,
    bytes_per_entry_after: u64,
    seconds: f64,
}

/// Runs the compaction.
pub fn run(a: CompactArgs) -> anyhow::Result<u8> {
    let db = a.data.join(data_files::LOG_REDB);
    anyhow::ensure!(
        db.exists(),
        "no log database at {} (is --data the server's data directory?)",
        db.display()
    );
    let size = |p: &std::path::Path| -> anyhow::Result<u64> {
        Ok(std::fs::metadata(p)
            .with_context(|| format!("reading {}", p.display()))?
            .len())
    };
    let before = size(&db)?;
    let mut store = match LogStore::open(&db) {
        Err(e @ StoreError::InUse { .. }) => {
            anyhow::bail!("{e}: `armsledger compact` needs the log to itself")
        }
        r => r.with_context(|| format!("opening {}", db.display()))?,
    };
    let entries = store.read()?.size();
    if !a.json {
        eprintln!(
            "compacting {} ({} bytes, {entries} entries)…",
            db.display(),
            before
        );
    }
    let t = Instant::now();
    let mut passes = 0;
    loop {
        passes += 1;
        match store.compact()? {
            Compaction::Done if passes < 4 => {
                if !a.json {
                    eprintln!("  pass {passes}: {} bytes", size(&db)?);
                }
            }
            Compaction::Done | Compaction::NothingToDo => break,
            Compaction::Busy => anyhow::bail!("{}: a transaction is in progress", db.display()),
        }
    }
    drop(store);
    let after = size(&db)?;
    let per = |b: u64| b.checked_div(entries).unwrap_or(0);
    let report = Report {
        file: db.display().to_string(),
        entries,
        bytes_before: before,
        bytes_after: after,
        bytes_per_entry_before: per(before),
        bytes_per_entry_after: per(after),
        seconds: t.elapsed().as_secs_f64(),
    };
    if a.json {
        out::json(&report)?;
    } else {
        println!(
            "{}: {} → {} bytes ({} → {} B per entry over {} entries) in {:.1} s",
            report.file,
            report.bytes_before,
            report.bytes_after,
            report.bytes_per_entry_before,
            report.bytes_per_entry_after,
            report.entries,
            report.seconds
        );
    }
    Ok(0)
}
