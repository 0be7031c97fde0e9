//! Keeps the storage worked example in docs/log.md true: a dump of every
//! table row of a three-entry log must appear there verbatim.

use std::fmt::Write as _;
use std::sync::Arc;

use armsledger_core::entry::ChainId;
use armsledger_core::event::SiteEvent;
use armsledger_core::ids::Timestamp;
use armsledger_core::model::{AmmoLine, Reliance};
use armsledger_core::testkit::{SoftSigner, note, v};
use armsledger_log::LogKey;
use armsledger_store::{Accepted, LogStore};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use crate::common::acquisition;

/// Three entries of site `north`: two acquisitions and an issue.
fn example_log() -> Vec<Accepted> {
    let mut s = SoftSigner::new("storage-example", ChainId::Site(v("north")));
    s.device = v("dev-7");
    let t0 = Timestamp(1_767_225_600_000);
    let a = s.sign(acquisition("AB-1", "arm-1"), t0);
    let b = s.sign(acquisition("AB-2", "arm-1"), t0.plus(60_000));
    let gun = armsledger_core::testkit::pistol("AB-1").id();
    let lot = armsledger_core::model::LotId([0x22; 16]);
    let issue = armsledger_core::entry::EntryBody {
        format: Default::default(),
        occurred_at: t0.plus(120_000),
        officer: v("arm-1"),
        links: vec![
            armsledger_core::entry::Link {
                subject: armsledger_core::event::Subject::Firearm(gun),
                prev: Some(a.hash()),
            },
            armsledger_core::entry::Link {
                subject: armsledger_core::event::Subject::Lot(lot),
                prev: None,
            },
        ],
        event: armsledger_core::event::Event::Site(SiteEvent::Issued {
            firearm: gun,
            to: v("guard-1"),
            purpose: note("patrol"),
            post: v("gate-3"),
            due_back: t0.plus(8 * Timestamp::HOUR),
            reliance: Reliance {
                licence: v("LIC-1"),
                permit: v("PER-1"),
                qualification: v("Q-1"),
            },
            ammunition: vec![AmmoLine { lot, rounds: 15 }],
            ammunition_from: Some(v("vault")),
        }),
    };
    let c = s.sign(issue, t0.plus(120_000));
    [a, b, c]
        .into_iter()
        .enumerate()
        .map(|(i, e)| Accepted {
            entry: Arc::new(e),
            received_at: t0.plus(3_600_000 + i as u64 * 1000),
            findings: vec![],
        })
        .collect()
}

fn short(b: &[u8]) -> String {
    let h = hex::encode(b);
    if h.len() > 24 {
        format!("{}…", &h[..24])
    } else {
        h
    }
}

/// Every row of every table, one line each, as docs/log.md shows them.
fn dump(path: &std::path::Path) -> String {
    const ENTRIES: TableDefinition<u64, &[u8]> = TableDefinition::new("entries");
    const RECEIVED: TableDefinition<u64, &[u8]> = TableDefinition::new("received_at");
    const TILES: TableDefinition<(u8, u64), &[u8]> = TableDefinition::new("tiles");
    const HALF_TILES: TableDefinition<(u8, u64), &[u8]> = TableDefinition::new("half_tiles");
    const BY_HASH: TableDefinition<(u32, u64), ()> = TableDefinition::new("by_hash");
    const BLOCKS: [&str; 5] = ["by_slot", "by_firearm", "by_lot", "by_person", "by_site"];
    const CHECKPOINTS: TableDefinition<u64, &str> = TableDefinition::new("checkpoints");
    const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
    let db = redb::ReadOnlyDatabase::open(path).unwrap();
    let txn = db.begin_read().unwrap();
    let mut out = String::new();
    for row in txn.open_table(ENTRIES).unwrap().iter().unwrap() {
        let (k, v) = row.unwrap();
        writeln!(
            out,
            "entries      {} → {} bytes {}",
            k.value(),
            v.value().len(),
            short(v.value())
        )
        .unwrap();
    }
    for row in txn.open_table(RECEIVED).unwrap().iter().unwrap() {
        let (k, v) = row.unwrap();
        writeln!(
            out,
            "received_at  {} → {}",
            k.value(),
            hex::encode(v.value())
        )
        .unwrap();
    }
    for row in txn.open_table(TILES).unwrap().iter().unwrap() {
        let (k, v) = row.unwrap();
        writeln!(
            out,
            "tiles        {:?} → {} bytes",
            k.value(),
            v.value().len()
        )
        .unwrap();
    }
    for row in txn.open_table(HALF_TILES).unwrap().iter().unwrap() {
        let (k, v) = row.unwrap();
        writeln!(
            out,
            "half_tiles   {:?} → {} bytes",
            k.value(),
            v.value().len()
        )
        .unwrap();
    }
    for row in txn.open_table(BY_HASH).unwrap().iter().unwrap() {
        let (p, i) = row.unwrap().0.value();
        writeln!(out, "by_hash      ({p:08x}, {i}) → ()").unwrap();
    }
    for name in BLOCKS {
        let def: TableDefinition<(&[u8], u64), &[u8]> = TableDefinition::new(name);
        for row in txn.open_table(def).unwrap().iter().unwrap() {
            let (k, v) = row.unwrap();
            let (key, first) = k.value();
            let key = match std::str::from_utf8(key) {
                Ok(s) if name == "by_person" || name == "by_site" => format!("{s:?}"),
                _ => hex::encode(key),
            };
            writeln!(
                out,
                "{name:<12} ({key}, {first}) → {:?}",
                hex::encode(v.value())
            )
            .unwrap();
        }
    }
    for row in txn.open_table(META).unwrap().iter().unwrap() {
        let (k, v) = row.unwrap();
        let v = v.value();
        let shown = match std::str::from_utf8(v) {
            Ok(s) if !s.contains('\n') => format!("{s:?}"),
            _ => format!("{} bytes {}", v.len(), short(v)),
        };
        writeln!(out, "meta         {:?} → {shown}", k.value()).unwrap();
    }
    for row in txn.open_table(CHECKPOINTS).unwrap().iter().unwrap() {
        let (k, v) = row.unwrap();
        writeln!(out, "checkpoints  {} → {:?}", k.value(), v.value()).unwrap();
    }
    out
}

#[test]
fn storage_example_matches_docs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.redb");
    let store = LogStore::open(&path).unwrap();
    store.append_batch(&example_log()).unwrap();
    let seed: [u8; 32] = std::array::from_fn(|i| i as u8);
    let key = LogKey::from_seed("ledger.example/armsledger/v1", &seed).unwrap();
    store.sign_checkpoint(&key).unwrap();
    drop(store);
    let text = dump(&path);
    if std::env::var_os("ARMSLEDGER_PRINT").is_some() {
        println!("{text}");
    }
    let doc = armsledger_testsupport::repo::doc("log.md");
    assert!(
        doc.contains(&text),
        "docs/log.md storage example drifted:\n{text}"
    );
}
