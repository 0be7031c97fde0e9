//! Appending and reading the global log.

use std::sync::Arc;

use armsledger_core::chain::Equivocation;
use armsledger_core::entry::{ChainId, SignedHeader};
use armsledger_core::event::SiteEvent;
use armsledger_core::ids::Timestamp;
use armsledger_core::rules::{Finding, RuleId};
use armsledger_core::testkit::{Scenario, note, v};
use armsledger_log::{EntryLeaf, Frontier, Tile, TileKind, decode_entry_bundle, hash_tile_data};
use armsledger_store::{Accepted, IndexKey, LogStore, StoreError};

use crate::common::{accepted, received, store_with, workload};

#[test]
fn append_read_back_and_reopen() {
    let log = workload(40);
    let (dir, store) = store_with(&log[..25]);
    let more = store.append_batch(&accepted(&log[25..])).unwrap();
    assert_eq!(more, (25..40).collect::<Vec<u64>>());
    let r = store.read().unwrap();
    assert_eq!(r.size(), 40);
    for (i, e) in log.iter().enumerate() {
        let got = r.entry(i as u64).unwrap().unwrap();
        assert_eq!(got.entry.bytes(), e.bytes());
        assert_eq!(r.index_of_hash(&e.hash()).unwrap(), Some(i as u64));
        assert_eq!(
            r.index_of_slot(e.chain(), e.counter()).unwrap(),
            Some(i as u64)
        );
    }
    assert!(r.entry(40).unwrap().is_none());
    drop(r);
    drop(store);
    let store = LogStore::open(dir.path().join("log.redb")).unwrap();
    let r = store.read().unwrap();
    assert_eq!(r.size(), 40);
    let mut leaves = crate::common::leaves(&log[..25]);
    leaves.extend(crate::common::leaves(&log[25..]));
    assert_eq!(r.root(), armsledger_log::root_of(&leaves));
    assert!(store.fsck().unwrap().is_clean());
}

#[test]
fn resending_is_idempotent_and_writes_nothing() {
    let log = workload(30);
    let (_dir, store) = store_with(&log[..20]);
    let before = std::fs::metadata(store.path()).unwrap().len();
    let again = store.append_batch(&accepted(&log[5..10])).unwrap();
    assert_eq!(again, (5..10).collect::<Vec<u64>>());
    // Mixed: old, new, a duplicate inside the batch.
    let mut batch = accepted(&log[18..22]);
    batch.push(batch[3].clone());
    let idx = store.append_batch(&batch).unwrap();
    assert_eq!(idx, vec![18, 19, 20, 21, 21]);
    assert_eq!(store.read().unwrap().size(), 22);
    assert!(std::fs::metadata(store.path()).unwrap().len() >= before);
    assert!(store.fsck().unwrap().is_clean());
}

#[test]
fn a_second_entry_for_a_slot_fails_the_whole_batch() {
    let mut s = Scenario::standard();
    let (_gun, first) = s.acquire("north", "AB-1");
    let (dir, store) = store_with(&s.log);
    // A broken device signs another entry at the same counter.
    let mut signer = s.sites[&v("north")].clone();
    signer.head = (first.header().prev_counter, first.header().prev_hash);
    let forged = Arc::new(signer.sign(
        armsledger_core::entry::EntryBody {
            format: Default::default(),
            occurred_at: s.now,
            officer: v("armourer-2"),
            links: vec![],
            event: armsledger_core::event::Event::Site(SiteEvent::Annotated {
                about: first.hash(),
                text: note("second branch"),
            }),
        },
        s.now,
    ));
    let (_, next) = s.acquire("north", "AB-2");
    let size = store.read().unwrap().size();
    let err = store
        .append_batch(&accepted(&[next, forged.clone()]))
        .unwrap_err();
    assert!(matches!(err, StoreError::SlotTaken { .. }), "{err}");
    assert_eq!(store.read().unwrap().size(), size, "nothing written");
    let proof = Equivocation {
        public_key: signer.public_key(),
        a: SignedHeader::from(&*first),
        b: SignedHeader::from(&*forged),
    };
    assert!(store.record_equivocation(&proof).unwrap());
    assert!(!store.record_equivocation(&proof).unwrap());
    assert_eq!(store.read().unwrap().equivocations().unwrap(), vec![proof]);
    assert!(store.fsck().unwrap().is_clean());
    drop(dir);
}

#[test]
fn subject_indexes_find_every_event_in_log_order() {
    let log = workload(60);
    let (_dir, store) = store_with(&log);
    let r = store.read().unwrap();
    // Every entry is found under each of its keys, and nothing else is.
    let mut expected: std::collections::BTreeMap<IndexKey, Vec<u64>> = Default::default();
    for (i, e) in log.iter().enumerate() {
        for k in armsledger_store::Terms::of(e).keys(e.chain()) {
            expected.entry(k).or_default().push(i as u64);
        }
    }
    assert!(expected.len() > 20);
    for (k, want) in &expected {
        assert_eq!(&r.indexes(k).unwrap(), want, "{k:?}");
        let page = r.indexes_from(k, want[want.len() / 2], 3).unwrap();
        assert_eq!(
            page,
            want[want.len() / 2..]
                .iter()
                .take(3)
                .copied()
                .collect::<Vec<_>>()
        );
    }
    let guard = IndexKey::Person(v("guard-1"));
    let scanned = r.scan(&guard, 0, usize::MAX).unwrap();
    assert!(scanned.len() > 3);
    assert!(scanned.windows(2).all(|w| w[0].index < w[1].index));
    let site = r.indexes(&IndexKey::Site(v("north"))).unwrap();
    assert!(site.contains(&1), "registration names the site");
    assert!(site.contains(&59), "own chain entries are included");
    assert!(
        r.indexes(&IndexKey::Person(v("nobody")))
            .unwrap()
            .is_empty()
    );
    let slots = r.chain_slots(&ChainId::Site(v("north")), 2, 3).unwrap();
    assert_eq!(slots.iter().map(|s| s.0).collect::<Vec<_>>(), vec![2, 3, 4]);
}

#[test]
fn findings_and_reception_times_are_kept() {
    let log = workload(25);
    let (_dir, store) = store_with(&[]);
    let e = &log[24];
    let finding = Finding {
        rule: RuleId::FirearmInStore,
        chain: e.chain().clone(),
        counter: e.counter(),
        entry: e.hash(),
        kind: "returned",
        time: e.header().device_time,
        evidence: "not out".into(),
        overridden_by: None,
    };
    let mut batch = accepted(&log);
    batch[24] = Accepted {
        entry: e.clone(),
        received_at: Timestamp(7),
        findings: vec![finding.clone(), finding.clone()],
    };
    store.append_batch(&batch).unwrap();
    let r = store.read().unwrap();
    let got = r.findings(24).unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0], (&finding).into());
    assert!(r.findings(23).unwrap().is_empty());
    assert_eq!(r.findings_from(0, 10).unwrap().len(), 2);
    assert_eq!(r.entry(24).unwrap().unwrap().received_at, Timestamp(7));
    assert!(store.fsck().unwrap().is_clean());
}

#[test]
fn tiles_and_entry_bundles_match_the_log_crate() {
    let log = workload(600);
    let (_dir, store) = store_with(&log);
    let r = store.read().unwrap();
    let mut f = Frontier::new();
    let mut stored = Vec::new();
    for leaf in crate::common::leaves(&log) {
        stored.extend(f.append(leaf).unwrap().hashes);
    }
    for tile in armsledger_log::changed_tiles(0, 600).unwrap() {
        let got = r.tile(&tile).unwrap();
        assert_eq!(got, r.tile_at(&tile.path()).unwrap());
        match tile.kind() {
            TileKind::Hashes(_) => {
                assert_eq!(got, hash_tile_data(&stored, 600, &tile).unwrap(), "{tile}");
            }
            TileKind::Entries => {
                let entries = decode_entry_bundle(&got, tile.width()).unwrap();
                let first = tile.index() as usize * 256;
                // An entry bundle carries the leaf data: receipt time, entry.
                for (i, e) in entries.iter().enumerate() {
                    let leaf = EntryLeaf::parse(e).unwrap();
                    assert_eq!(leaf.entry, log[first + i].bytes());
                    assert_eq!(leaf.received_at, received(first + i).millis());
                }
            }
        }
    }
    // Narrower partial tiles of earlier sizes are still served; wider ones are not.
    r.tile(&Tile::new(TileKind::Hashes(0), 2, 10).unwrap())
        .unwrap();
    r.tile(&Tile::new(TileKind::Entries, 2, 88).unwrap())
        .unwrap();
    assert!(
        r.tile(&Tile::new(TileKind::Entries, 2, 89).unwrap())
            .is_err()
    );
    assert!(
        r.tile(&Tile::new(TileKind::Hashes(1), 0, 3).unwrap())
            .is_err()
    );
    assert!(r.tile_at("tile/8/0/000").is_err());
}

#[test]
fn empty_log_and_foreign_files() {
    let (dir, store) = store_with(&[]);
    let r = store.read().unwrap();
    assert_eq!(r.size(), 0);
    assert_eq!(r.root(), armsledger_log::EMPTY_ROOT);
    assert_eq!(r.root_at(0).unwrap(), armsledger_log::EMPTY_ROOT);
    assert!(matches!(
        r.root_at(1),
        Err(StoreError::SizeBeyondLog { .. })
    ));
    assert!(r.latest_checkpoint().unwrap().is_none());
    assert!(store.fsck().unwrap().is_clean());
    // A site ledger is not a log, and the reverse.
    let site_path = dir.path().join("site.redb");
    let key = armsledger_store::DeviceKey {
        device: v("dev-1"),
        key_epoch: 1,
        public_key: [1; 32],
    };
    drop(
        armsledger_store::ArmouryLedger::create(&site_path, &v("north"), "unix:/dev/null", &key)
            .unwrap(),
    );
    assert!(matches!(
        LogStore::open(&site_path),
        Err(StoreError::FormatUnknown { .. })
    ));
    assert!(matches!(
        armsledger_store::ArmouryLedger::open(store.path()),
        Err(StoreError::FormatUnknown { .. }) | Err(StoreError::StorageFailed(_))
    ));
}

/// Rows compressed ahead of the append (the server's signature stage) are
/// the rows the append makes itself: the same bytes, a clean fsck, and a
/// row compressed for an entry never appended changes nothing.
#[test]
fn rows_compressed_ahead_are_the_rows_the_append_makes() {
    let log = workload(40);
    let (_plain_dir, plain) = store_with(&log);
    let dir = tempfile::tempdir().unwrap();
    let ahead = LogStore::open(dir.path().join("log.redb")).unwrap();
    let refs: Vec<&armsledger_core::entry::SignedEntry> = log.iter().map(|e| &**e).collect();
    // Rows for the first 30 and for one entry that is never appended.
    ahead.precompress(&refs[..30]).unwrap();
    ahead.precompress(&refs[39..]).unwrap();
    ahead.append_batch(&accepted(&log[..39])).unwrap();
    let (a, b) = (plain.read().unwrap(), ahead.read().unwrap());
    assert_eq!(
        a.rows(0, 39).unwrap(),
        b.rows(0, 39).unwrap(),
        "the same rows either way"
    );
    assert_eq!(b.size(), 39);
    drop(b);
    assert!(ahead.fsck().unwrap().is_clean());
}
