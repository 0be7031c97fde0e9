//! Scenario 4: bytes on disk per entry, every index included, for a mix of
//! events like the demo's: daily issue/return cycles, storage moves and a
//! weekly serial-number count in parts of 60 firearms. Written through
//! `LogStore::append_batch` in batches of 1024, measured as written and
//! after redb's `compact()`.

use std::path::Path;
use std::sync::Arc;

use armsledger_core::SignedEntry;
use armsledger_core::event::SiteEvent;
use armsledger_core::ids::Timestamp;
use armsledger_core::model::{CountKind, Item};
use armsledger_core::testkit::{Scenario, v};
use armsledger_store::{Accepted, LogStore};

use crate::report::Figure;

/// The demo-like mix, `n` entries.
fn workload(n: usize) -> Vec<Arc<SignedEntry>> {
    let mut s = Scenario::standard();
    let lot = s.receive("north", "L-1", 1_000_000_000);
    let guns: Vec<_> = (0..500)
        .map(|k| s.acquire("north", &format!("SN-{k:07}")).0)
        .collect();
    let mut day = 0usize;
    let mut rack = vec![false; guns.len()];
    while s.log.len() < n {
        for i in 0..40 {
            let gun = guns[(day * 40 + i) % guns.len()];
            let guard = if i % 2 == 0 { "guard-1" } else { "guard-2" };
            let issue = s.issue("north", gun, guard, lot, 30);
            s.return_all("north", &issue);
        }
        for i in 0..20 {
            let k = (day * 20 + i * 7) % guns.len();
            let (from, to) = if rack[k] {
                ("rack-1", "vault")
            } else {
                ("vault", "rack-1")
            };
            rack[k] = !rack[k];
            s.site(
                "north",
                "armourer-1",
                SiteEvent::StorageMoved {
                    item: Item::Firearm(guns[k]),
                    from: v(from),
                    to: v(to),
                },
            );
        }
        if day % 7 == 6 {
            let parts: Vec<_> = guns.chunks(60).collect();
            for (p, seen) in parts.iter().enumerate() {
                s.site(
                    "north",
                    "armourer-1",
                    SiteEvent::CountPerformed {
                        session: v(&format!("count-{day}")),
                        kind: CountKind::SerialNumber,
                        part: (p + 1) as u16,
                        parts: parts.len() as u16,
                        counters: vec![v("witness-1"), v("witness-2")],
                        firearms_seen: seen.to_vec(),
                        rounds_seen: vec![],
                    },
                );
            }
        }
        s.tick(Timestamp::HOUR * 24);
        day += 1;
    }
    s.log.truncate(n);
    s.log
}

/// Runs the scenario with `n` entries.
pub fn run(n: usize, dir: &Path) -> anyhow::Result<Vec<Figure>> {
    let log = workload(n);
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
    drop(store);
    let n = log.len() as f64;
    let payload = log.iter().map(|e| e.bytes().len()).sum::<usize>() as f64 / n;
    let written = std::fs::metadata(&path)?.len() as f64 / n;
    let mut db = redb::Database::open(&path)?;
    while db.compact()? {}
    drop(db);
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
        Figure::new(sc, "file per entry, after compact()", compacted, "B")
            .against("entry bytes", payload)
            .goal("< 300 B", compacted < 300.0),
    ])
}
