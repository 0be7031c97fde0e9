//! `armsledger fsck`: re-derive and check a server's store offline.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use armsledger_core::LedgerVerifier;
use armsledger_core::rules::View;
use armsledger_store::LogStore;
use clap::Args;
use serde::Serialize;

use crate::{EXIT_NOT_AUTHENTIC, out};

/// Options of `fsck`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger fsck --data ./regulator --json\n\nChecks every stored entry's signature, chain link, counter and key window\n(against the regulator key pinned in the data directory), every index, every\ntile, the root, and that every signed checkpoint is consistent with the tree.\nExit 0 clean, 1 a disagreement, 2 usage or I/O error. Stop the server first."
)]
pub struct FsckArgs {
    /// Server data directory (holds log.redb and regulator.pub).
    #[arg(long, env = "ARMSLEDGER_DATA")]
    pub data: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Report {
    entries: u64,
    checkpoints: u64,
    clean: bool,
    problems: Vec<String>,
}

/// Runs fsck.
pub fn run(a: FsckArgs) -> anyhow::Result<u8> {
    let db = a.data.join("log.redb");
    anyhow::ensure!(
        db.exists(),
        "no log database at {} (is --data the server's data directory?)",
        db.display()
    );
    let store_report =
        armsledger_store::fsck(&db).with_context(|| format!("reading {}", db.display()))?;
    let mut problems: Vec<String> = store_report
        .problems
        .iter()
        .map(|p| p.to_string())
        .collect();
    if store_report.unlisted > 0 {
        problems.push(format!(
            "… and {} more store disagreements",
            store_report.unlisted
        ));
    }
    // Every signature and link, as the server verified them on ingest.
    let key_file = a.data.join("regulator.pub");
    let key = std::fs::read_to_string(&key_file)
        .with_context(|| format!("reading {}", key_file.display()))?;
    let key = armsledger_server::config::parse_key(&key, "the pinned regulator key")?;
    let store = LogStore::open(&db)?;
    let reader = store.read()?;
    let mut v = LedgerVerifier::new(key, Vec::new(), View::Corrected);
    for i in 0..reader.size() {
        match reader.entry(i) {
            Ok(Some(s)) => {
                let (chain, counter, hash) = (
                    s.entry.chain().to_string(),
                    s.entry.counter(),
                    s.entry.hash(),
                );
                if let Err(e) = v.ingest(Arc::new(s.entry), Some(s.received_at)) {
                    problems.push(format!("entry {i} ({chain} #{counter}, {hash}): {e}"));
                }
            }
            Ok(None) => problems.push(format!("entry {i}: missing")),
            Err(e) => problems.push(format!("entry {i}: {e}")),
        }
    }
    let report = Report {
        entries: store_report.entries,
        checkpoints: store_report.checkpoints,
        clean: problems.is_empty(),
        problems,
    };
    if a.json {
        out::json(&report)?;
    } else {
        for p in &report.problems {
            println!("PROBLEM {p}");
        }
        println!(
            "{} entries, {} checkpoints: {}",
            report.entries,
            report.checkpoints,
            if report.clean {
                "clean"
            } else {
                "DISAGREEMENTS FOUND"
            }
        );
    }
    Ok(if report.clean { 0 } else { EXIT_NOT_AUTHENTIC })
}
