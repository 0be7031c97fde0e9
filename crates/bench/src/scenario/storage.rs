//! Scenario 4: bytes on disk per entry, every index included, for a mix of
//! events like the demo's: daily issue/return cycles, storage moves and a
//! weekly serial-number count in parts of 60 firearms. Written through
//! `LogStore::append_batch` in batches of 1024, measured as written and
//! after `LogStore::compact` (what the server runs at quiet moments and
//! `armsledger compact` offline).

use std::path::Path;

use armsledger_core::ids::Timestamp;
use armsledger_core::testkit::storage_mix;
use armsledger_store::{Accepted, LogStore};

use crate::report::Figure;

/// Runs the scenario with `n` entries.
pub fn run(n: usize, dir: &Path) -> anyhow::Result<Vec<Figure>> {
    let log = storage_mix(n);
    let path = dir.join("storage.redb");
    let store = LogStore::open(&path)?;
    let accepted: Vec<Accepted> = log
        .iter()
        .enumerate()
        .map(|(i, e)| Accepted {
            entry: e.clone(),
            received_at: Timestamp(1_767_225_600_000 + i as u64),
            findings: vec![],
        })
        .collect();
    for b in accepted.chunks(1024) {
        store.append_batch(b)?;
    }
    let n = log.len() as f64;
    let payload = log.iter().map(|e| e.bytes().len()).sum::<usize>() as f64 / n;
    let written = std::fs::metadata(&path)?.len() as f64 / n;
    // The server's own call, at a quiet moment (or `armsledger compact`).
    let mut store = store;
    while store.compact()? == armsledger_store::Compaction::Done {}
    drop(store);
    let compacted = std::fs::metadata(&path)?.len() as f64 / n;
    let _ = std::fs::remove_file(&path);
    let sc = "4 storage";
    Ok(vec![
        Figure::new(
            sc,
            &format!("entry bytes alone (mean of {n})"),
            payload,
            "B",
        ),
        Figure::new(sc, "file per entry, as written", written, "B")
            .against("entry bytes", payload)
            .goal("< 300 B", written < 300.0),
        Figure::new(
            sc,
            "file per entry, after the server's compaction (quiet moments, or armsledger compact)",
            compacted,
            "B",
        )
        .against("entry bytes", payload)
        .goal("< 300 B", compacted < 300.0),
    ])
}
