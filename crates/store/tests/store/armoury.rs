//! The site ledger: write-ahead intents around the device signature,
//! recovery after a crash, regulator entries, inbox and sync receipts.

use armsledger_core::entry::{ChainId, SignedEntry};
use armsledger_core::event::SiteEvent;
use armsledger_core::sig::Sig;
use armsledger_core::testkit::{Scenario, v};
use armsledger_store::{ArmouryLedger, EntryReceipt, LogStore, Recovery, Source, StoreError};

use crate::common::{TestDevice, accepted, acquisition, log_key};

fn ledger(dir: &tempfile::TempDir) -> ArmouryLedger {
    ArmouryLedger::create(
        dir.path().join("site.redb"),
        &v("north"),
        "unix:/run/dev.sock",
        &TestDevice::key(),
    )
    .unwrap()
}

fn append(l: &ArmouryLedger, d: &mut TestDevice, serial: &str) -> SignedEntry {
    let req = l.prepare(&acquisition(serial, "armourer-1")).unwrap();
    let (h, s) = d.sign(&req);
    l.commit_signed(h, s).unwrap()
}

#[test]
fn append_index_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let l = ledger(&dir);
    let mut d = TestDevice::new();
    let entries: Vec<SignedEntry> = (0..5)
        .map(|i| append(&l, &mut d, &format!("S-{i}")))
        .collect();
    assert_eq!(l.head().unwrap().unwrap().counter, 5);
    assert_eq!(l.head().unwrap().unwrap().hash, d.hash);
    assert!(l.pending().unwrap().is_none());
    let gun = armsledger_core::testkit::pistol("S-3").id();
    assert_eq!(l.firearm_counters(&gun).unwrap(), vec![4]);
    assert_eq!(l.person_counters(&v("armourer-1")).unwrap().len(), 5);
    assert_eq!(l.device_address().unwrap(), "unix:/run/dev.sock");
    drop(l);
    let l = ArmouryLedger::open(dir.path().join("site.redb")).unwrap();
    assert_eq!(l.entries_from(0, 100).unwrap(), entries);
    assert_eq!(l.unsynced().unwrap().len(), 5);
    // Creating again for the same site opens it; for another site refuses.
    drop(l);
    let l = ledger(&dir);
    drop(l);
    let other = ArmouryLedger::create(
        dir.path().join("site.redb"),
        &v("south"),
        "x",
        &TestDevice::key(),
    );
    assert!(matches!(other, Err(StoreError::ChainBroken(_))));
}

#[test]
fn the_store_never_holds_what_the_device_did_not_sign() {
    let dir = tempfile::tempdir().unwrap();
    let l = ledger(&dir);
    let mut d = TestDevice::new();
    append(&l, &mut d, "S-0");
    let req = l.prepare(&acquisition("S-1", "armourer-1")).unwrap();
    assert!(matches!(
        l.prepare(&acquisition("S-2", "armourer-1")),
        Err(StoreError::AlreadyPending { head: 1 })
    ));
    let (h, s) = d.clone().sign(&req);
    // A forged signature.
    let mut bad = s;
    bad.0[0] ^= 1;
    assert!(matches!(
        l.commit_signed(h.clone(), bad),
        Err(StoreError::DeviceSignatureInvalid)
    ));
    // A signature over another body.
    let other = l.prepare(&acquisition("S-9", "armourer-1"));
    assert!(other.is_err());
    let mut h2 = h.clone();
    h2.body_hash = armsledger_core::hash::Hash([7; 32]);
    assert!(matches!(
        l.commit_signed(h2, s),
        Err(StoreError::DeviceMismatch(_))
    ));
    // A zero signature from a host pretending to be the device.
    assert!(l.commit_signed(h.clone(), Sig([0; 64])).is_err());
    assert_eq!(l.head().unwrap().unwrap().counter, 1, "nothing appended");
    assert!(l.pending().unwrap().is_some(), "intent kept");
    let (h, s) = d.sign(&req);
    l.commit_signed(h, s).unwrap();
    assert_eq!(l.head().unwrap().unwrap().counter, 2);
    assert!(matches!(
        l.commit_signed(d.last.clone().unwrap().0, s),
        Err(StoreError::NothingPending)
    ));
    // Only site events with exact links are prepared.
    let mut body = acquisition("S-3", "armourer-1");
    body.links.clear();
    assert!(matches!(l.prepare(&body), Err(StoreError::ChainBroken(_))));
}

#[test]
fn recover_completes_what_the_device_signed_and_drops_what_it_did_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("site.redb");
    let mut d = TestDevice::new();
    {
        let l = ledger(&dir);
        assert_eq!(l.recover(None).unwrap(), Recovery::Clean);
        append(&l, &mut d, "S-0");
        // Device signed, host died before committing.
        let req = l.prepare(&acquisition("S-1", "armourer-1")).unwrap();
        d.sign(&req);
    }
    let l = ArmouryLedger::open(&path).unwrap();
    let Recovery::Completed(e) = l.recover(d.last.clone()).unwrap() else {
        panic!("expected Completed");
    };
    assert_eq!(e.counter(), 2);
    assert_eq!(l.head().unwrap().unwrap().hash, d.hash);
    assert_eq!(l.recover(d.last.clone()).unwrap(), Recovery::Clean);
    // Host died before the device signed.
    l.prepare(&acquisition("S-2", "armourer-1")).unwrap();
    drop(l);
    let l = ArmouryLedger::open(&path).unwrap();
    assert!(matches!(
        l.recover(d.last.clone()).unwrap(),
        Recovery::Dropped(_)
    ));
    assert!(l.pending().unwrap().is_none());
    assert_eq!(l.head().unwrap().unwrap().counter, 2);
    append(&l, &mut d, "S-3");
    // A device that signed something the ledger has no intent for.
    let mut rogue = d.clone();
    let req = l.prepare(&acquisition("S-4", "armourer-1")).unwrap();
    let (h, s) = rogue.sign(&req);
    assert!(matches!(l.recover(None).unwrap(), Recovery::Dropped(_)));
    // The device is one entry ahead of the ledger with nothing pending: the
    // ledger is behind (a restored backup), and says by how much.
    let behind = l.recover(Some((h, s)));
    assert!(
        matches!(
            behind,
            Err(StoreError::LedgerBehindDevice {
                device: 4,
                ledger: 3
            })
        ),
        "{behind:?}"
    );
    assert!(
        behind
            .unwrap_err()
            .to_string()
            .contains("behind the device by 1 entry:"),
    );
}

#[test]
fn sync_receipts_are_checked_against_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let l = ledger(&dir);
    let mut d = TestDevice::new();
    for i in 0..4 {
        append(&l, &mut d, &format!("S-{i}"));
    }
    let log = LogStore::open(dir.path().join("log.redb")).unwrap();
    let pending: Vec<_> = l
        .unsynced()
        .unwrap()
        .into_iter()
        .map(std::sync::Arc::new)
        .collect();
    let idx = log.append_batch(&accepted(&pending)).unwrap();
    let cp = log.sign_checkpoint(&log_key()).unwrap();
    let r = log.read().unwrap();
    let receipts: Vec<EntryReceipt> = pending
        .iter()
        .zip(&idx)
        .map(|(e, &i)| EntryReceipt {
            counter: e.counter(),
            log_index: i,
            received_at: r.received_at(i).unwrap(),
            tree_size: 4,
            proof: r.inclusion_proof(i, 4).unwrap(),
        })
        .collect();
    let mut bad = receipts.clone();
    bad[1].log_index = 2;
    assert!(matches!(
        l.mark_synced(4, &cp, &bad),
        Err(StoreError::ReceiptInvalid(_))
    ));
    // The receipt time is under the log's signature: another time is refused.
    let mut moved = receipts.clone();
    moved[1].received_at = moved[1].received_at.plus(1);
    assert!(matches!(
        l.mark_synced(4, &cp, &moved),
        Err(StoreError::ReceiptInvalid(_))
    ));
    assert!(matches!(
        l.mark_synced(5, &cp, &receipts),
        Err(StoreError::ReceiptInvalid(_))
    ));
    l.mark_synced(4, &cp, &receipts).unwrap();
    assert!(l.unsynced().unwrap().is_empty());
    assert_eq!(l.receipt(3).unwrap().unwrap(), receipts[2]);
    assert_eq!(l.checkpoints().unwrap(), vec![(4, cp.note().to_owned())]);
    assert!(matches!(
        l.mark_synced(3, &cp, &[]),
        Err(StoreError::ReceiptInvalid(_))
    ));
}

#[test]
fn regulator_entries_and_inbox() {
    let mut s = Scenario::standard();
    s.company_with_site("acme", "south");
    let dir = tempfile::tempdir().unwrap();
    let l = ledger(&dir);
    let reg: Vec<SignedEntry> = s
        .log
        .iter()
        .filter(|e| e.chain() == &ChainId::Regulator)
        .map(|e| (**e).clone())
        .collect();
    let n = reg.len() as u64;
    assert_eq!(
        l.add_regulator_entries(&reg[..5], &s.regulator_key())
            .unwrap(),
        5
    );
    assert_eq!(
        l.add_regulator_entries(&reg, &s.regulator_key()).unwrap(),
        n
    );
    assert_eq!(l.regulator_cursor().unwrap(), n);
    assert_eq!(l.regulator_entries_from(0, 1000).unwrap(), reg);
    assert!(
        l.person_counters(&v("guard-1"))
            .unwrap()
            .iter()
            .all(|(src, _)| *src == Source::Regulator)
    );
    assert!(
        l.add_regulator_entries(&reg[3..4], &[9; 32]).is_ok(),
        "held entries are skipped"
    );
    let other = Scenario::new();
    let mut forged = other.clone();
    forged.company_with_site("evil", "x");
    assert!(
        l.add_regulator_entries(&[(*forged.log[0]).clone()], &s.regulator_key())
            .is_err()
    );

    // A transfer from south to north lands in north's inbox; others do not.
    let (gun, _) = s.acquire("south", "T-1");
    let out = s.site(
        "south",
        "armourer-1",
        SiteEvent::TransferredOut {
            to_site: v("north"),
            to_company: v("acme"),
            firearms: vec![gun],
            rounds: vec![],
            rounds_from: None,
            permit: armsledger_core::testkit::doc(
                armsledger_core::model::DocKind::TransportPermit,
                "TP-1",
            ),
            carrier: None,
        },
    );
    assert!(l.add_to_inbox(&out).unwrap());
    assert!(!l.add_to_inbox(&out).unwrap());
    assert_eq!(l.inbox().unwrap(), vec![(*out).clone()]);
    let (_, acq) = s.acquire("south", "T-2");
    assert!(l.add_to_inbox(&acq).is_err());
}
