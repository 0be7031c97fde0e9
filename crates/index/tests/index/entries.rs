//! The indexer against a model of the ledger: after any sequence of
//! acquisitions (serials shared between makers, typed differently),
//! corrections of a serial, issues and returns with rounds, lots received
//! and regulator acts, applied in any grouping, every chain, serial and lot
//! leaf says exactly the newest entry and the count of its history, with a
//! proof that verifies; and serials never recorded prove absent.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use armsledger_core::entry::{ChainId, SignedEntry};
use armsledger_core::event::{Event, SiteEvent, Subject};
use armsledger_core::hash::Hash;
use armsledger_core::model::{FirearmId, LotId, normalise};
use armsledger_core::testkit::{Scenario, note, pistol, v};
use armsledger_index::{Kind, LeafValue, MapKey, MemStore, Record, apply, lookup, root_hash};
use proptest::prelude::*;

const SERIALS: [&str; 6] = ["AB-100", "ab100", "CZ 7", "x/9", "Q1", "Q-2"];
const MAKERS: [&str; 2] = ["Glock", "CZ"];
const SITES: [&str; 2] = ["north", "south"];

#[derive(Clone, Debug)]
enum Op {
    Acquire {
        site: usize,
        serial: usize,
        maker: usize,
    },
    Receive {
        site: usize,
        lot: usize,
    },
    IssueReturn {
        gun: usize,
        lot: usize,
    },
    Correct {
        gun: usize,
        serial: usize,
    },
    Regulator,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..2usize, 0..6usize, 0..2usize).prop_map(|(site, serial, maker)| Op::Acquire {
            site,
            serial,
            maker
        }),
        (0..2usize, 0..3usize).prop_map(|(site, lot)| Op::Receive { site, lot }),
        (0..8usize, 0..3usize).prop_map(|(gun, lot)| Op::IssueReturn { gun, lot }),
        (0..8usize, 0..6usize).prop_map(|(gun, serial)| Op::Correct { gun, serial }),
        Just(Op::Regulator),
    ]
}

/// A firearm: id, site, acquisition entry, serials given, maker.
pub type Gun = (FirearmId, usize, Arc<SignedEntry>, BTreeSet<String>, usize);

/// A ledger built from ops, and what the test knows of it independently of
/// the entries: which serials each firearm has been given.
pub struct World {
    pub s: Scenario,
    /// Firearm → (site, acquisition entry, serials given, maker).
    pub guns: Vec<Gun>,
    pub lots: BTreeMap<(usize, usize), LotId>,
}

impl World {
    pub fn new() -> World {
        let mut s = Scenario::standard();
        s.company_with_site("acme", "south");
        World {
            s,
            guns: Vec::new(),
            lots: BTreeMap::new(),
        }
    }

    pub fn acquire(&mut self, site: usize, serial: &str, maker: usize) -> FirearmId {
        let mut identity = pistol(serial);
        identity.manufacturer = v(MAKERS[maker % 2]);
        let id = identity.id();
        let e = self.s.site(
            SITES[site],
            "armourer-1",
            SiteEvent::FirearmAcquired {
                firearm: id,
                identity,
                source: armsledger_core::model::Counterparty {
                    name: v("Dealer"),
                    licence: None,
                },
                authorisation: armsledger_core::testkit::doc(
                    armsledger_core::model::DocKind::AcquisitionPermit,
                    "AP-1",
                ),
                location: v("vault"),
            },
        );
        let serials = BTreeSet::from([normalise(serial)]);
        self.guns.push((id, site, e, serials, maker));
        id
    }

    fn run(&mut self, op: &Op) {
        match *op {
            Op::Acquire {
                site,
                serial,
                maker,
            } => {
                self.acquire(site, SERIALS[serial], maker);
            }
            Op::Receive { site, lot } => {
                let id = self.s.receive(SITES[site], &format!("L{lot}"), 100);
                self.lots.insert((site, lot), id);
            }
            Op::IssueReturn { gun, lot } => {
                let Some((id, site, ..)) = self.guns.get(gun % self.guns.len().max(1)).cloned()
                else {
                    return;
                };
                let Some(l) = self.lots.get(&(site, lot)).copied() else {
                    return;
                };
                let issue = self.s.issue(SITES[site], id, "guard-1", l, 5);
                self.s.return_spent(SITES[site], &issue, 1);
            }
            Op::Correct { gun, serial } => {
                let n = self.guns.len();
                let Some(g) = self.guns.get_mut(gun % n.max(1)) else {
                    return;
                };
                let Event::Site(original) = &g.2.body().event else {
                    return;
                };
                let SiteEvent::FirearmAcquired {
                    firearm,
                    identity,
                    source,
                    authorisation,
                    location,
                } = original.clone()
                else {
                    return;
                };
                let mut identity = identity;
                identity.serial = v(SERIALS[serial]);
                g.3.insert(normalise(SERIALS[serial]));
                let site = g.1;
                let supersedes = g.2.hash();
                self.s.site(
                    SITES[site],
                    "armourer-1",
                    SiteEvent::Corrected {
                        supersedes,
                        reason: note("serial mistyped"),
                        approver: Some(v("armourer-2")),
                        corrected: Box::new(SiteEvent::FirearmAcquired {
                            firearm,
                            identity,
                            source,
                            authorisation,
                            location,
                        }),
                    },
                );
            }
            Op::Regulator => self.s.guard("guard-9", "acme", 30),
        }
    }

    /// What every leaf should say, computed from the log directly.
    pub fn expected(&self) -> BTreeMap<MapKey, LeafValue> {
        let mut out: BTreeMap<MapKey, LeafValue> = BTreeMap::new();
        let mut count: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
        let mut firearm_last: BTreeMap<FirearmId, Record> = BTreeMap::new();
        for (i, e) in self.s.log.iter().enumerate() {
            let chain = e.chain().to_string().into_bytes();
            let rec = |label: Vec<u8>, seq: u64| Record {
                label,
                log_index: i as u64,
                entry_hash: e.hash(),
                seq,
            };
            let mut c = LeafValue::new(Kind::Chain);
            c.put(rec(chain.clone(), e.counter())).unwrap();
            out.insert(MapKey::chain(e.chain()), c);
            for subject in e.body().event.subjects() {
                let label = match subject {
                    Subject::Firearm(f) => [b"F".as_slice(), &f.0].concat(),
                    Subject::Lot(l) => [b"L".as_slice(), &l.0, &chain].concat(),
                };
                let n = count.entry(label).or_default();
                *n += 1;
                match subject {
                    Subject::Firearm(f) => {
                        firearm_last.insert(f, rec(f.0.to_vec(), *n));
                    }
                    Subject::Lot(l) => {
                        out.entry(MapKey::lot(&l))
                            .or_insert_with(|| LeafValue::new(Kind::Lot))
                            .put(rec(chain.clone(), *n))
                            .unwrap();
                    }
                }
            }
        }
        for (id, _, _, serials, _) in &self.guns {
            for s in serials {
                out.entry(MapKey::serial(s))
                    .or_insert_with(|| LeafValue::new(Kind::Serial))
                    .put(firearm_last[id].clone())
                    .unwrap();
            }
        }
        out
    }
}

/// Applies the log to a fresh map in groups of the given sizes (cycled).
pub fn build(log: &[Arc<SignedEntry>], groups: &[usize]) -> MemStore {
    let mut store = MemStore::default();
    let mut at = 0;
    let mut sizes = groups.iter().cycle();
    while at < log.len() {
        let n = (*sizes.next().unwrap_or(&1)).max(1).min(log.len() - at);
        apply(
            &mut store,
            log[at..at + n]
                .iter()
                .enumerate()
                .map(|(j, e)| ((at + j) as u64, &**e)),
        )
        .unwrap();
        at += n;
    }
    store
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn every_leaf_says_the_newest_entry(
        ops in prop::collection::vec(op(), 1..30),
        groups in prop::collection::vec(1usize..9, 1..4),
    ) {
        let mut w = World::new();
        w.acquire(0, "START-1", 0);
        for o in &ops {
            w.run(o);
        }
        let store = build(&w.s.log, &groups);
        let root = root_hash(&store).unwrap();
        let expected = w.expected();
        prop_assert_eq!(store.leaf_count(), expected.len());
        for (key, want) in &expected {
            let (got, proof) = lookup(&store, key).unwrap();
            prop_assert_eq!(got.as_ref(), Some(want));
            let shown = proof.verify_value(&root, key, Some(&want.encode())).unwrap();
            prop_assert_eq!(shown.as_ref(), Some(want));
        }
        for never in ["NEVER-1", "AB-101", "zz 9"] {
            let key = MapKey::serial(never);
            let (got, proof) = lookup(&store, &key).unwrap();
            prop_assert!(got.is_none());
            prop_assert!(proof.verify_value(&root, &key, None).unwrap().is_none());
        }
        // The same entries in one group give the same root.
        prop_assert_eq!(root_hash(&build(&w.s.log, &[usize::MAX])).unwrap(), root);
    }
}

#[test]
fn one_serial_answers_for_every_firearm_sharing_it() {
    let mut w = World::new();
    let a = w.acquire(0, "AB-100", 0);
    let b = w.acquire(1, "ab100", 1);
    let store = build(&w.s.log, &[4]);
    let (value, proof) = lookup(&store, &MapKey::serial("AB 100")).unwrap();
    let value = value.unwrap();
    assert_eq!(value.kind(), Kind::Serial);
    let labels: BTreeSet<Vec<u8>> = value.records().iter().map(|r| r.label.clone()).collect();
    assert_eq!(labels, BTreeSet::from([a.0.to_vec(), b.0.to_vec()]));
    proof
        .verify_value(
            &root_hash(&store).unwrap(),
            &MapKey::serial("AB100"),
            Some(&value.encode()),
        )
        .unwrap();
}

#[test]
fn a_chain_leaf_commits_to_the_head() {
    let mut w = World::new();
    w.acquire(0, "AB-100", 0);
    let store = build(&w.s.log, &[3]);
    let north = ChainId::Site(v("north"));
    let (value, _) = lookup(&store, &MapKey::chain(&north)).unwrap();
    let rec = value.unwrap().records()[0].clone();
    let last = w.s.log.iter().rposition(|e| e.chain() == &north).unwrap();
    assert_eq!(rec.log_index, last as u64);
    assert_eq!(rec.entry_hash, w.s.log[last].hash());
    assert_eq!(rec.seq, w.s.log[last].counter());
    assert_eq!(rec.label, b"site:north".to_vec());
    let _ = Hash::ZERO;
}
