//! Random command sequences with random power cuts, failing I/O, reboots,
//! bit flips and flash rollbacks, against an independent checker:
//!
//! * no (key, counter) is ever released with two different statements;
//! * the counter never goes down, across reboots too;
//! * every released receipt extends one chain (checked with `ChainCursor`
//!   and `verify_strict`);
//! * a rolled-back flash image always locks the device, and power faults
//!   alone never do.

use std::collections::HashMap;

use armsledger_core::entry::{EntryBody, EntryHeader};
use armsledger_core::hash::Hash;
use armsledger_core::ids::{DeviceId, Timestamp};
use armsledger_core::sig::Statement;
use armsledger_core::statements::AuthorisedAction;
use armsledger_device::fault::{IoFault, Sim, Torn};
use armsledger_device::host::{DeviceClient, DeviceError, InProcess};
use armsledger_device::layout::{SLOT_OFFSETS, SLOT_SIZE};
use armsledger_device::protocol::SignRequest;
use armsledger_device::state::{Lifecycle, Receipt};
use armsledger_device::storage::PowerPoint;
use proptest::prelude::*;

use crate::common::{self, Ledger};

#[derive(Clone, Debug)]
enum Op {
    Sign,
    Retry,
    Fork,
    Checkpoint,
    PowerFailAt(PowerPoint),
    FailIo { nth: u32, cut: bool, torn: u32 },
    PowerCut { whole: usize, partial: usize },
    Reboot,
    Rollback(prop::sample::Index),
    FlipBit { slot: usize, offset: u16, bit: u8 },
    Clock(i64),
    Rotate,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => Just(Op::Sign),
        2 => Just(Op::Retry),
        1 => Just(Op::Fork),
        1 => Just(Op::Checkpoint),
        3 => prop::sample::select(PowerPoint::ALL.to_vec()).prop_map(Op::PowerFailAt),
        2 => (1u32..8, any::<bool>(), 0u32..300).prop_map(|(nth, cut, torn)| Op::FailIo { nth, cut, torn }),
        1 => (0usize..2, 0usize..300).prop_map(|(whole, partial)| Op::PowerCut { whole, partial }),
        2 => Just(Op::Reboot),
        1 => any::<prop::sample::Index>().prop_map(Op::Rollback),
        1 => (0usize..2, 0u16..400, 0u8..8).prop_map(|(slot, offset, bit)| Op::FlipBit { slot, offset, bit }),
        1 => (-90i64..600).prop_map(Op::Clock),
        1 => Just(Op::Rotate),
    ]
}

/// The checker's view: what was released, and what the device must remember.
struct World {
    sim: Sim,
    device: DeviceId,
    ledger: Ledger,
    bodies: HashMap<Hash, EntryBody>,
    keys: HashMap<u32, [u8; 32]>,
    released: HashMap<(u32, u64), EntryHeader>,
    last_request: Option<SignRequest>,
    next_body: u64,
    /// Acknowledged state changes (receipts, keys, retirements, recoveries).
    acked: u64,
    snapshots: Vec<(Vec<u8>, u64)>,
    max_issued: u64,
    max_committed: u64,
    boot_count: u32,
    /// A rollback or bit flip happened since the device last ran cleanly.
    lock_allowed: bool,
    /// A rollback to an image older than an acknowledged change: must lock.
    lock_required: bool,
    /// A bit flip hit flash while the device was off. On top of a torn write
    /// in the other slot, that leaves no readable state: the device stays
    /// locked for good and must be replaced (a double fault).
    flipped: bool,
    bricked: bool,
    max_clock: u64,
}

impl World {
    fn new() -> World {
        let sim = Sim::new(&common::root(), &common::spec("crash-dev"), common::T0).unwrap();
        let mut c = sim.client();
        let key = common::activate(&mut c, &common::site_chain());
        let mut w = World {
            device: c.info().unwrap().device,
            sim,
            ledger: Ledger::new(common::site_chain()),
            bodies: HashMap::new(),
            keys: HashMap::from([(1, key)]),
            released: HashMap::new(),
            last_request: None,
            next_body: 0,
            acked: 1,
            snapshots: Vec::new(),
            max_issued: 0,
            max_committed: 0,
            boot_count: 1,
            lock_allowed: false,
            lock_required: false,
            flipped: false,
            bricked: false,
            max_clock: common::T0.0,
        };
        w.snapshot();
        w
    }

    fn client(&self) -> DeviceClient<InProcess> {
        self.sim.client()
    }

    fn snapshot(&mut self) {
        self.snapshots
            .push((self.sim.plan.durable_image(), self.acked));
    }

    fn ack(&mut self) {
        self.acked += 1;
        let image = self.sim.plan.durable_image();
        match self.snapshots.last_mut() {
            // Two acknowledgements of one state (a recovery that also made a
            // key): the image is as new as the later one.
            Some((last, tag)) if *last == image => *tag = self.acked,
            _ => self.snapshots.push((image, self.acked)),
        }
    }

    /// Checks and records a receipt the device released.
    fn release(&mut self, r: &Receipt) {
        let slot = (r.header.key_epoch, r.header.counter);
        if let Some(h) = self.released.get(&slot) {
            assert_eq!(h, &r.header, "two statements released for {slot:?}");
            return;
        }
        let key = self.keys[&r.header.key_epoch];
        r.header.verify(&key, &r.signature).unwrap();
        let body = self.bodies[&r.header.body_hash].clone();
        // Checks the link, counters (strictly up, gaps declared), time and chain.
        self.ledger.append(r, body, &key);
        self.released.insert(slot, r.header.clone());
        self.ack();
    }

    fn up(&mut self) {
        if self.sim.device.with(|d| d.is_halted()) == Some(false) {
            return;
        }
        self.sim.plan.disarm();
        self.sim.reboot().unwrap();
        self.after_boot();
    }

    fn after_boot(&mut self) {
        self.boot_count += 1;
        let mut c = self.client();
        let info = c.info().unwrap();
        assert_eq!(info.boot_count, self.boot_count);
        assert!(info.issued >= self.max_issued, "issued went down");
        assert!(info.committed >= self.max_committed, "committed went down");
        assert!(info.committed <= info.issued);
        self.max_issued = info.issued;
        self.max_committed = info.committed;
        if self.lock_required {
            assert_eq!(
                info.lifecycle,
                Lifecycle::Locked,
                "a rolled-back image must lock"
            );
        }
        if info.lifecycle == Lifecycle::Locked {
            assert!(self.lock_allowed, "power faults alone locked the device");
            if info.chain.is_none() {
                assert!(
                    self.flipped,
                    "only a double fault may lose the provisioning"
                );
                self.bricked = true;
                return;
            }
            self.recover(&mut c);
        }
        self.lock_allowed = false;
        self.lock_required = false;
        self.flipped = false;
    }

    fn recover(&mut self, c: &mut DeviceClient<InProcess>) {
        let head = self.ledger.cursor.head().cloned();
        let (counter, hash) = head.map_or((0, Hash::ZERO), |h| (h.counter, h.hash));
        let a = common::authorisation(
            c,
            &self.device,
            AuthorisedAction::Recover {
                counter,
                head: hash,
                time: armsledger_core::ids::Timestamp(0),
            },
        );
        let h = c.recover(a).unwrap();
        assert_eq!((h.counter, h.hash), (counter, hash));
        self.last_request = None;
        if c.info().unwrap().lifecycle == Lifecycle::Provisioned {
            self.new_key(c);
        }
        self.ack();
    }

    fn new_key(&mut self, c: &mut DeviceClient<InProcess>) {
        let a = common::authorisation(
            c,
            &self.device,
            AuthorisedAction::GenerateSiteKey {
                chain: common::site_chain(),
            },
        );
        let k = c.generate_site_key(Some(a)).unwrap();
        assert!(
            self.released.keys().all(|(_, n)| *n < k.counter_start),
            "a new key must start above every counter released"
        );
        assert!(
            self.keys.insert(k.key_epoch, k.public_key).is_none(),
            "epoch reused"
        );
        self.ack();
    }

    fn sign_request(&mut self, prev: Hash) -> SignRequest {
        self.next_body += 1;
        let b = common::body(self.next_body);
        let h = b.hash().unwrap();
        self.bodies.insert(h, b);
        SignRequest {
            chain: common::site_chain(),
            prev_hash: prev,
            body_hash: h,
        }
    }

    fn send(&mut self, r: SignRequest) {
        self.last_request = Some(r.clone());
        let mut c = self.client();
        match c.sign_entry(r.chain, r.prev_hash, r.body_hash) {
            Ok(receipt) => self.release(&receipt),
            Err(DeviceError::ChainMismatch { head }) => {
                // The device may hold a receipt it signed but never released
                // (power cut after the head write): adopt it if it extends ours.
                assert!(head.counter >= self.ledger.cursor.head().map_or(0, |h| h.counter));
                self.sync(&mut c);
            }
            Err(DeviceError::Transport(_) | DeviceError::StorageFailed) => {}
            Err(e) => panic!("sign refused with {e:?}"),
        }
    }

    fn sync(&mut self, c: &mut DeviceClient<InProcess>) {
        let head = self.ledger.head_hash();
        if let Some(r) = c
            .last_receipt()
            .ok()
            .and_then(|l| l.receipt)
            .filter(|r| r.header.prev_hash == head)
        {
            self.release(&r);
        }
    }

    fn apply(&mut self, op: Op) {
        if self.bricked {
            return;
        }
        match op {
            Op::Sign => {
                self.up();
                let r = self.sign_request(self.ledger.head_hash());
                self.send(r);
            }
            Op::Retry => {
                self.up();
                if let Some(r) = self.last_request.clone() {
                    self.send(r);
                }
            }
            Op::Fork => {
                self.up();
                let Some(prev) = self.ledger.entries.last().map(|e| e.header().prev_hash) else {
                    return;
                };
                let r = self.sign_request(prev);
                let mut c = self.client();
                let got = c.sign_entry(r.chain, r.prev_hash, r.body_hash);
                assert!(
                    matches!(got, Err(DeviceError::ChainMismatch { .. })),
                    "fork answered {got:?}"
                );
            }
            Op::Checkpoint => {
                self.up();
                let mut c = self.client();
                let cp = c.sign_checkpoint(Hash([3; 32])).unwrap();
                cp.verify(&self.keys[&cp.body.key_epoch]).unwrap();
                let ours = self.ledger.cursor.head().map_or(0, |h| h.counter);
                assert!(cp.body.counter >= ours);
                if cp.body.counter == ours {
                    assert_eq!(cp.body.head, self.ledger.head_hash());
                }
            }
            Op::PowerFailAt(p) => {
                self.up();
                self.sim.plan.arm(p);
                let r = self.sign_request(self.ledger.head_hash());
                self.send(r);
                self.sim.plan.disarm();
            }
            Op::FailIo { nth, cut, torn } => {
                self.up();
                let fault = if cut {
                    IoFault::PowerCut { torn_bytes: torn }
                } else {
                    IoFault::Error
                };
                self.sim.plan.fail_nth_io(nth, fault);
                let r = self.sign_request(self.ledger.head_hash());
                self.send(r);
                self.sim.plan.disarm();
            }
            Op::PowerCut { whole, partial } => {
                self.sim.power_off(Torn {
                    whole_writes: whole,
                    partial_bytes: partial,
                });
                self.up();
            }
            Op::Reboot => {
                self.sim.reboot().unwrap();
                self.after_boot();
            }
            Op::Rollback(i) => {
                let (image, tag) = self.snapshots[i.index(self.snapshots.len())].clone();
                self.sim.power_off(Torn::default());
                // Any older image may lock; one older than an acknowledged
                // change must.
                self.lock_allowed |= image != self.sim.plan.durable_image();
                self.lock_required |= tag < self.acked;
                self.lock_allowed |= self.lock_required;
                self.sim.plan.restore_image(&image);
                self.up();
            }
            Op::FlipBit { slot, offset, bit } => {
                let base = SLOT_OFFSETS[slot];
                let offset = u32::from(offset) % SLOT_SIZE;
                self.sim.power_off(Torn::default());
                self.sim.plan.flip_bit(base + offset, bit);
                self.lock_allowed = true;
                self.flipped = true;
                self.up();
            }
            Op::Clock(secs) => {
                let now = self.sim.clock.now_ms();
                let t = if secs >= 0 {
                    now + secs as u64 * 1000
                } else {
                    now.saturating_sub(secs.unsigned_abs() * 1000)
                };
                // Never more than two minutes behind the latest time seen, so
                // a recovery to an old image stays within the chain's tolerance.
                let t = t.max(self.max_clock.saturating_sub(120_000));
                self.max_clock = self.max_clock.max(t);
                self.sim.clock.set(Timestamp(t));
            }
            Op::Rotate => {
                self.up();
                let mut c = self.client();
                // Bring the host up to the device's head first.
                self.sync(&mut c);
                let Ok(info) = c.info() else { return };
                let Some(k) = info.key else { return };
                let a = common::authorisation(
                    &mut c,
                    &self.device,
                    AuthorisedAction::RetireKey {
                        key_epoch: k.key_epoch,
                    },
                );
                match c.retire_key(a) {
                    Ok(Some(st)) => {
                        st.verify().unwrap();
                        assert_eq!(st.body.public_key, self.keys[&k.key_epoch]);
                        let head = self.ledger.cursor.head();
                        assert_eq!(st.body.final_counter, head.map_or(0, |h| h.counter));
                        assert_eq!(st.body.final_head, self.ledger.head_hash());
                        self.ack();
                        self.new_key(&mut c);
                    }
                    other => panic!("retire answered {other:?}"),
                }
            }
        }
    }
}

/// Reads the manual clock in milliseconds.
trait NowMs {
    fn now_ms(&self) -> u64;
}

impl NowMs for armsledger_device::storage::ManualClock {
    fn now_ms(&self) -> u64 {
        use armsledger_device::storage::Clock;
        self.now().0
    }
}

/// Longest command sequence (CRASH_MAX_OPS=200 for a deeper hunt).
fn max_ops() -> usize {
    std::env::var("CRASH_MAX_OPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(48)
}

proptest! {
    #![proptest_config(ProptestConfig {
        // PROPTEST_CASES=5000 for a longer hunt; the default keeps CI quick.
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(256),
        max_shrink_iters: 2000,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_faults_never_break_the_invariants(ops in prop::collection::vec(op(), 1..max_ops())) {
        let mut w = World::new();
        for op in ops {
            w.apply(op);
        }
        if w.bricked {
            return Ok(());
        }
        // Bring the device up one last time and make sure it still signs on
        // the checker's head.
        w.up();
        let mut c = w.client();
        w.sync(&mut c);
        let r = w.sign_request(w.ledger.head_hash());
        w.send(r);
        let info = c.info().unwrap();
        prop_assert_eq!(info.head.hash, w.ledger.head_hash());
        prop_assert!(info.issued >= w.max_issued);
    }
}
