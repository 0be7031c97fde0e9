//! A real device process (`armsledger-device serve` on a UNIX socket, file
//! flash and monotonic file) stopped dead at every storage I/O of every
//! state-changing command, then restarted on the same files and checked by
//! an independent host-side checker:
//!
//! * a kill before the N-th storage I/O (flash write, flash sync, monotonic
//!   raise) of a SignEntry, a RetireKey, a GenerateSiteKey, a Recover, a
//!   boot that finishes an interrupted commit and a boot that locks a
//!   rolled-back image, for N = 1, 2, … until the command completes; flash
//!   writes also torn in half;
//! * after each kill the device boots on the same files; the counters never
//!   go down; it is never Locked by a kill alone (a rolled-back image stays
//!   Locked whatever kill interrupts its boot or its recovery);
//! * the retried request returns the receipt the device committed, or a
//!   fresh one at a higher counter that declares the gap; no (key, counter)
//!   is ever released with two statements, no counter under two keys; every
//!   receipt extends the host's chain (`ChainCursor`, `verify_strict`);
//! * key epochs are never reused and a new key starts above every counter
//!   ever released; a retire statement names the host's head.
//!
//! The kill plan is `ARMSLEDGER_DEVICE_KILL_AT_IO` (firmware-sim/src/kill.rs),
//! honoured only in `fault-injection` builds: the dev-dependency on this
//! crate with the feature builds the binary under test with it.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use armsledger_core::entry::EntryBody;
use armsledger_core::hash::Hash;
use armsledger_core::ids::{DeviceId, Timestamp};
use armsledger_core::sig::Statement;
use armsledger_core::statements::AuthorisedAction;
use armsledger_device::host::{DeviceClient, DeviceError, UnixSocket};
use armsledger_device::kill::KILL_ENV;
use armsledger_device::protocol::SignRequest;
use armsledger_device::state::{Lifecycle, Receipt};

use crate::common::{self, Ledger};

/// A served device process.
struct Proc {
    child: Child,
}

impl Proc {
    /// Waits for a planned kill; returns the kill point the device named.
    fn killed(mut self) -> String {
        let status = self.child.wait().unwrap();
        let mut err = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert!(
            matches!(status.signal(), Some(9 | 6)),
            "the device should have been killed, exited {status:?}: {err}"
        );
        err.lines()
            .find_map(|l| l.strip_prefix("armsledger-device: killed at "))
            .unwrap_or_else(|| panic!("no kill point named: {err}"))
            .to_string()
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a kill-point run did.
enum Run<T> {
    /// The device died at the planned I/O, named.
    Killed(String),
    /// The command finished before the plan was reached.
    Done(T),
}

/// The checker: the host's chain, and everything the device ever released.
struct World {
    _dir: tempfile::TempDir,
    flash: PathBuf,
    sock: PathBuf,
    device: DeviceId,
    ledger: Ledger,
    bodies: HashMap<Hash, EntryBody>,
    next_body: u64,
    keys: HashMap<u32, [u8; 32]>,
    epoch: Option<u32>,
    released: HashMap<(u32, u64), Receipt>,
    counters: HashMap<u64, u32>,
    max_issued: u64,
    max_committed: u64,
    /// Kill points exercised, by command.
    points: Vec<(String, String)>,
    /// Retries that got back the receipt committed before the kill.
    recovered_receipts: u64,
    /// Retries that got a fresh receipt over a burned counter.
    burned: u64,
}

impl World {
    /// A provisioned device with a key, its process stopped.
    fn new() -> World {
        let mut w = World::manufactured();
        let p = w.serve(None).unwrap();
        let mut c = w.client();
        let key = common::activate(&mut c, &common::site_chain());
        w.keys.insert(1, key);
        w.epoch = Some(1);
        p.stop();
        w
    }

    /// A device fresh from the factory, its process not started.
    fn manufactured() -> World {
        let dir = tempfile::tempdir().unwrap();
        let flash = common::manufacture_files(dir.path(), "proc-dev");
        let sock = dir.path().join("dev.sock");
        World {
            flash,
            sock,
            _dir: dir,
            device: DeviceId::new("proc-dev").unwrap(),
            ledger: Ledger::new(common::site_chain()),
            bodies: HashMap::new(),
            next_body: 0,
            keys: HashMap::new(),
            epoch: None,
            released: HashMap::new(),
            counters: HashMap::new(),
            max_issued: 0,
            max_committed: 0,
            points: Vec::new(),
            recovered_receipts: 0,
            burned: 0,
        }
    }

    /// Starts the device with a kill plan; `Err(kill point)` if it died
    /// during boot.
    fn serve(&self, plan: Option<&str>) -> Result<Proc, String> {
        let mut cmd = Command::new(common::bin());
        cmd.args(["serve", "--listen"])
            .arg(format!("unix:{}", self.sock.display()))
            .arg("--flash")
            .arg(&self.flash)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env_remove(KILL_ENV);
        if let Some(p) = plan {
            cmd.env(KILL_ENV, p);
        }
        let mut child = cmd.spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let p = Proc { child };
        if line.is_empty() {
            assert!(
                plan.is_some_and(|p| p.starts_with("boot:")),
                "the device did not start"
            );
            return Err(p.killed());
        }
        assert!(line.starts_with("listening unix:"), "{line:?}");
        Ok(p)
    }

    fn client(&self) -> DeviceClient<UnixSocket> {
        DeviceClient::new(UnixSocket::connect(&self.sock).unwrap())
    }

    /// Starts the device cleanly and checks what it booted into. A locked
    /// device is recovered only if `lock_expected`.
    fn boot_and_check(&mut self, lock_expected: bool) -> Proc {
        let p = self.serve(None).expect("a clean boot");
        let mut c = self.client();
        let info = c.info().unwrap();
        assert!(info.issued >= self.max_issued, "issued went down");
        assert!(info.committed >= self.max_committed, "committed went down");
        assert!(info.committed <= info.issued);
        self.max_issued = info.issued;
        self.max_committed = info.committed;
        if info.lifecycle == Lifecycle::Locked {
            assert!(lock_expected, "a kill alone locked the device: {info:?}");
        }
        p
    }

    fn request(&mut self) -> SignRequest {
        self.next_body += 1;
        let b = common::body(self.next_body);
        let h = b.hash().unwrap();
        self.bodies.insert(h, b);
        SignRequest {
            chain: common::site_chain(),
            prev_hash: self.ledger.head_hash(),
            body_hash: h,
        }
    }

    /// Checks and records a receipt the device released.
    fn release(&mut self, r: &Receipt) {
        let slot = (r.header.key_epoch, r.header.counter);
        if let Some(old) = self.released.get(&slot) {
            assert_eq!(old, r, "two statements released for {slot:?}");
            return;
        }
        if let Some(epoch) = self.counters.get(&r.header.counter) {
            panic!(
                "counter {} released under epochs {epoch} and {}",
                r.header.counter, r.header.key_epoch
            );
        }
        let key = self.keys[&r.header.key_epoch];
        r.header.verify(&key, &r.signature).unwrap();
        let body = self.bodies[&r.header.body_hash].clone();
        // Link, counters (strictly up, gaps declared), time, signature.
        self.ledger.append(r, body, &key);
        self.released.insert(slot, r.clone());
        self.counters.insert(r.header.counter, r.header.key_epoch);
    }

    fn sign(&mut self, c: &mut DeviceClient<UnixSocket>, r: &SignRequest) -> Receipt {
        let receipt = c
            .sign_entry(r.chain.clone(), r.prev_hash, r.body_hash)
            .unwrap();
        self.release(&receipt);
        receipt
    }

    fn authorisation(
        &self,
        c: &mut DeviceClient<UnixSocket>,
        action: AuthorisedAction,
    ) -> armsledger_core::statements::Authorisation {
        common::authorisation(c, &self.device, action)
    }

    /// Runs `f` against a device that dies at `plan`.
    fn with_kill<T>(
        &mut self,
        plan: &str,
        f: impl FnOnce(&mut World, &mut DeviceClient<UnixSocket>) -> Result<T, DeviceError>,
    ) -> Run<T> {
        let p = self.serve(Some(plan)).expect("boot is not counted");
        let mut c = self.client();
        match f(self, &mut c) {
            Ok(v) => {
                p.stop();
                Run::Done(v)
            }
            Err(DeviceError::Transport(_)) => Run::Killed(p.killed()),
            Err(e) => panic!("refused with {e:?} under kill plan {plan}"),
        }
    }

    /// Kills a SignEntry at its n-th I/O (torn or not); restarts; retries.
    /// Returns false once the sign completes before the plan.
    fn sign_killed_at(&mut self, n: u64, torn: bool) -> bool {
        let r = self.request();
        let plan = if torn {
            format!("{n}:torn")
        } else {
            n.to_string()
        };
        let req = r.clone();
        match self.with_kill(&plan, |_, c| {
            c.sign_entry(req.chain.clone(), req.prev_hash, req.body_hash)
        }) {
            Run::Done(receipt) => {
                self.release(&receipt);
                return false;
            }
            Run::Killed(at) => self.points.push(("sign".into(), at)),
        }
        let p = self.boot_and_check(false);
        let mut c = self.client();
        let before = self.ledger.cursor.head().map_or(0, |h| h.counter);
        let issued_before = self.max_issued;
        let receipt = self.sign(&mut c, &r);
        if receipt.header.counter <= issued_before {
            // The device had committed it: the retry returned that receipt.
            self.recovered_receipts += 1;
        }
        if receipt.header.counter > before + 1 {
            assert_eq!(receipt.header.prev_counter, before, "gap not declared");
            self.burned += 1;
        }
        p.stop();
        true
    }

    /// The device's key; it must be new, above every counter released.
    fn adopt_key(&mut self, k: &armsledger_device::protocol::KeyInfo) {
        if self.epoch == Some(k.key_epoch) {
            assert_eq!(self.keys[&k.key_epoch], k.public_key);
            return;
        }
        assert!(
            !self.keys.contains_key(&k.key_epoch),
            "epoch {} reused",
            k.key_epoch
        );
        assert!(
            self.keys.keys().all(|e| *e < k.key_epoch),
            "key epochs went down"
        );
        assert!(
            self.counters.keys().all(|n| *n < k.counter_start),
            "key {} starts at {}, not above every released counter",
            k.key_epoch,
            k.counter_start
        );
        self.keys.insert(k.key_epoch, k.public_key);
        self.epoch = Some(k.key_epoch);
    }

    /// Retires the active key (killed at `plan`, if any) and checks the
    /// outcome on a clean restart. Returns whether the plan was reached.
    fn retire(&mut self, plan: Option<String>) -> bool {
        let epoch = self.epoch.unwrap();
        let action = AuthorisedAction::RetireKey { key_epoch: epoch };
        let killed = match plan {
            Some(plan) => match self.with_kill(&plan, |w, c| {
                let a = w.authorisation(c, action.clone());
                c.retire_key(a)
            }) {
                Run::Killed(at) => {
                    self.points.push(("retire".into(), at));
                    true
                }
                Run::Done(_) => false,
            },
            None => false,
        };
        let p = self.boot_and_check(false);
        let mut c = self.client();
        let info = c.info().unwrap();
        if info.lifecycle == Lifecycle::Active {
            // Not retired: the key is still the one the host knows. Retire it.
            assert_eq!(info.key.as_ref().map(|k| k.key_epoch), Some(epoch));
            let a = self.authorisation(&mut c, action);
            c.retire_key(a).unwrap();
        }
        let info = c.info().unwrap();
        assert_eq!(info.lifecycle, Lifecycle::Provisioned);
        assert!(info.key.is_none(), "a retired key is gone");
        let st = c
            .last_receipt()
            .unwrap()
            .retire
            .expect("a retire statement");
        st.verify().unwrap();
        assert_eq!(st.body.key_epoch, epoch);
        assert_eq!(st.body.public_key, self.keys[&epoch]);
        assert_eq!(
            st.body.final_counter,
            self.ledger.cursor.head().map_or(0, |h| h.counter)
        );
        assert_eq!(st.body.final_head, self.ledger.head_hash());
        let r = self.request();
        let got = c.sign_entry(r.chain, r.prev_hash, r.body_hash);
        assert!(
            matches!(got, Err(DeviceError::WrongState | DeviceError::NoKey)),
            "a device without a key signed: {got:?}"
        );
        self.epoch = None;
        p.stop();
        killed
    }

    /// Generates a key (killed at `plan`, if any) and checks the outcome.
    fn generate(&mut self, plan: Option<String>) -> bool {
        let action = AuthorisedAction::GenerateSiteKey {
            chain: common::site_chain(),
        };
        let killed = match plan {
            Some(plan) => match self.with_kill(&plan, |w, c| {
                let a = w.authorisation(c, action.clone());
                c.generate_site_key(Some(a))
            }) {
                Run::Killed(at) => {
                    self.points.push(("generate key".into(), at));
                    true
                }
                Run::Done(k) => {
                    self.adopt_key(&k);
                    false
                }
            },
            None => false,
        };
        let p = self.boot_and_check(false);
        let mut c = self.client();
        let info = c.info().unwrap();
        match info.lifecycle {
            // The key was made and is durable; the host learns it (the
            // regulator would, from an attestation).
            Lifecycle::Active => self.adopt_key(info.key.as_ref().unwrap()),
            Lifecycle::Provisioned => {
                let a = self.authorisation(&mut c, action);
                let k = c.generate_site_key(Some(a)).unwrap();
                self.adopt_key(&k);
            }
            other => panic!("after a killed key generation: {other:?}"),
        }
        // The new key signs on the host's head.
        let r = self.request();
        self.sign(&mut c, &r);
        p.stop();
        killed
    }

    /// Leaves the device Locked: its flash rolled back to `image`.
    fn roll_back(&mut self, image: &[u8]) {
        std::fs::write(&self.flash, image).unwrap();
        let p = self.boot_and_check(true);
        let info = self.client().info().unwrap();
        assert_eq!(
            info.lifecycle,
            Lifecycle::Locked,
            "a rolled-back image must lock"
        );
        p.stop();
    }

    /// Recovers a locked device at the host's head (killed at `plan`, if
    /// any); checks it resumes there. Returns whether the plan was reached.
    fn recover(&mut self, plan: Option<String>) -> bool {
        let head = self.ledger.cursor.head().cloned();
        let (counter, hash) = head.map_or((0, Hash::ZERO), |h| (h.counter, h.hash));
        let action = AuthorisedAction::Recover {
            counter,
            head: hash,
            time: Timestamp(0),
        };
        let killed = match plan {
            Some(plan) => match self.with_kill(&plan, |w, c| {
                let a = w.authorisation(c, action.clone());
                c.recover(a)
            }) {
                Run::Killed(at) => {
                    self.points.push(("recover".into(), at));
                    true
                }
                Run::Done(_) => false,
            },
            None => false,
        };
        let p = self.boot_and_check(true);
        let mut c = self.client();
        let info = c.info().unwrap();
        if info.lifecycle == Lifecycle::Locked {
            let a = self.authorisation(&mut c, action);
            let h = c.recover(a).unwrap();
            assert_eq!((h.counter, h.hash), (counter, hash));
        }
        let info = c.info().unwrap();
        assert_eq!(info.head.hash, hash, "recovered at another head");
        match info.lifecycle {
            Lifecycle::Active => {}
            Lifecycle::Provisioned => {
                let a = self.authorisation(
                    &mut c,
                    AuthorisedAction::GenerateSiteKey {
                        chain: common::site_chain(),
                    },
                );
                let k = c.generate_site_key(Some(a)).unwrap();
                self.adopt_key(&k);
            }
            other => panic!("after recovery: {other:?}"),
        }
        // It signs on the host's head again, above every counter issued.
        let r = self.request();
        let receipt = self.sign(&mut c, &r);
        assert!(receipt.header.counter > self.max_issued);
        p.stop();
        killed
    }

    /// A sign killed at its `committed_at`-th I/O (after the head is durable,
    /// before Committed is raised), then the boot that finishes that commit
    /// killed at `boot:N`: the device comes back unlocked and the retry gets
    /// the receipt that was committed. Returns whether the plan was reached.
    fn finishing_boot_killed_at(&mut self, committed_at: u64, n: &str) -> bool {
        let r = self.request();
        let req = r.clone();
        match self.with_kill(&committed_at.to_string(), |_, c| {
            c.sign_entry(req.chain.clone(), req.prev_hash, req.body_hash)
        }) {
            Run::Killed(at) => assert!(at.starts_with("monotonic raise of Committed"), "{at}"),
            Run::Done(_) => panic!("the sign finished before I/O {committed_at}"),
        }
        let reached = match self.serve(Some(&format!("boot:{n}"))) {
            Ok(p) => {
                p.stop();
                false
            }
            Err(at) => {
                self.points.push(("finishing boot".into(), at));
                true
            }
        };
        let p = self.boot_and_check(false);
        let mut c = self.client();
        let issued = self.max_issued;
        let receipt = self.sign(&mut c, &r);
        assert!(
            receipt.header.counter <= issued,
            "the committed receipt was not returned"
        );
        self.recovered_receipts += 1;
        p.stop();
        reached
    }

    /// A boot of a rolled-back image killed at `plan` (`boot:N…`): the next
    /// boot must still be Locked. Returns whether the plan was reached.
    fn locked_boot_killed_at_plan(&mut self, plan: &str) -> bool {
        match self.serve(Some(plan)) {
            Ok(p) => {
                p.stop();
                false
            }
            Err(at) => {
                self.points.push(("locked boot".into(), at));
                let p = self.boot_and_check(true);
                let info = self.client().info().unwrap();
                assert_eq!(info.lifecycle, Lifecycle::Locked, "a kill unlocked it");
                p.stop();
                true
            }
        }
    }
}

/// Runs `step` with kill plans N = 1, 2, … until it completes before the
/// plan; then again with every flash write torn (there must be one if
/// `writes_flash`). Returns the number of I/Os.
fn every_io(
    w: &mut World,
    what: &str,
    writes_flash: bool,
    mut step: impl FnMut(&mut World, String) -> bool,
) -> u64 {
    let first = w.points.len();
    let mut n = 1;
    while step(w, n.to_string()) {
        n += 1;
    }
    let ios = n - 1;
    let writes: Vec<u64> = w.points[first..]
        .iter()
        .zip(1..)
        .filter(|((_, at), _)| at.starts_with("flash write"))
        .map(|(_, n)| n)
        .collect();
    assert_eq!(
        !writes.is_empty(),
        writes_flash,
        "{what}: flash writes among {ios} I/Os: {writes:?} (no I/O at all: was the \
         binary built without the fault-injection feature?)"
    );
    for n in writes {
        assert!(
            step(w, format!("{n}:torn")),
            "{what}: torn write {n} not reached"
        );
    }
    eprintln!(
        "{what}: {ios} storage I/Os, each killed: {}",
        w.points[first..first + usize::try_from(ios).unwrap()]
            .iter()
            .map(|(_, at)| at.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    ios
}

#[test]
fn a_device_process_killed_at_every_storage_io_keeps_its_promises() {
    let mut w = World::new();
    let genesis = std::fs::read(&w.flash).unwrap();
    {
        let p = w.boot_and_check(false);
        let mut c = w.client();
        for _ in 0..2 {
            let r = w.request();
            w.sign(&mut c, &r);
        }
        p.stop();
    }

    let sign = every_io(&mut w, "sign", true, |w, plan| {
        let (n, torn) = match plan.strip_suffix(":torn") {
            Some(n) => (n.parse().unwrap(), true),
            None => (plan.parse().unwrap(), false),
        };
        w.sign_killed_at(n, torn)
    });
    // Reserve, slot write, slot sync, raise Committed, raise StateSeq.
    let kinds: Vec<&str> = w.points.iter().map(|(_, at)| at.as_str()).collect();
    for kind in [
        "monotonic raise of Issued",
        "flash write",
        "flash sync",
        "monotonic raise of Committed",
        "monotonic raise of StateSeq",
    ] {
        assert!(
            kinds.iter().any(|k| k.starts_with(kind)),
            "sign never killed at {kind}: {kinds:?}"
        );
    }
    assert!(
        sign >= 5,
        "a sign has at least five storage I/Os, saw {sign}"
    );

    every_io(&mut w, "retire key", true, |w, plan| {
        let reached = w.retire(Some(plan));
        w.generate(None);
        reached
    });
    every_io(&mut w, "generate key", true, |w, plan| {
        w.retire(None);
        w.generate(Some(plan))
    });
    // A boot that finishes a commit: the slot is durable, Committed not
    // yet raised (the sign's kill point named so).
    let committed_at = w
        .points
        .iter()
        .filter(|(c, _)| c == "sign")
        .position(|(_, at)| at.starts_with("monotonic raise of Committed"))
        .unwrap() as u64
        + 1;
    every_io(&mut w, "boot finishing a commit", false, |w, plan| {
        w.finishing_boot_killed_at(committed_at, &plan)
    });
    every_io(&mut w, "recover", true, |w, plan| {
        w.roll_back(&genesis);
        w.recover(Some(plan))
    });
    every_io(&mut w, "recover keeping the key", true, |w, plan| {
        // An image as new as the key, rolled back over one more entry.
        let image = std::fs::read(&w.flash).unwrap();
        let epoch = w.epoch;
        {
            let p = w.boot_and_check(false);
            let mut c = w.client();
            let r = w.request();
            w.sign(&mut c, &r);
            p.stop();
        }
        w.roll_back(&image);
        let reached = w.recover(Some(plan));
        assert_eq!(
            w.epoch, epoch,
            "the newest key did not survive the recovery"
        );
        reached
    });
    every_io(&mut w, "boot of a rolled-back image", true, |w, plan| {
        std::fs::write(&w.flash, &genesis).unwrap();
        let reached = match plan.strip_suffix(":torn") {
            Some(n) => w.locked_boot_killed_at_plan(&format!("boot:{n}:torn")),
            None => w.locked_boot_killed_at_plan(&format!("boot:{plan}")),
        };
        w.recover(None);
        reached
    });

    // The host's chain, walked again from the start under the keys it learnt.
    let mut cursor = armsledger_core::ChainCursor::new(common::site_chain());
    for e in &w.ledger.entries {
        e.verify_signature(&w.keys[&e.header().key_epoch]).unwrap();
        cursor.advance(e).unwrap();
    }
    assert_eq!(w.released.len(), w.ledger.entries.len());
    eprintln!(
        "device process kill points exercised: {} ({} sign, {} torn writes); {} receipts released, \
         {} retries got back the receipt committed before the kill, {} declared a burned counter; \
         {} key epochs",
        w.points.len(),
        w.points.iter().filter(|(c, _)| c == "sign").count(),
        w.points
            .iter()
            .filter(|(_, at)| at.contains("torn"))
            .count(),
        w.released.len(),
        w.recovered_receipts,
        w.burned,
        w.keys.len()
    );
}

/// Provision killed at each of its I/Os: the device comes back Factory (a
/// torn first slot is ignored) or Provisioned for the chain asked, and then
/// takes a key and signs.
#[test]
fn a_device_process_killed_while_provisioning_comes_back_whole() {
    let mut points = Vec::new();
    let mut torn = Vec::new();
    let mut n = 1u64;
    let mut plans = Vec::new();
    loop {
        let plan = plans.pop().unwrap_or_else(|| n.to_string());
        let mut w = World::manufactured();
        let regulator = common::regulator().verifying_key().to_bytes();
        let run = w.with_kill(&plan, |_, c| c.provision(regulator, common::site_chain()));
        let reached = match run {
            Run::Killed(at) => {
                if plan.ends_with(":torn") {
                    torn.push(at);
                } else {
                    if at.starts_with("flash write") {
                        plans.push(format!("{n}:torn"));
                    }
                    points.push(at);
                }
                true
            }
            Run::Done(()) => false,
        };
        let p = w.boot_and_check(false);
        let mut c = w.client();
        let info = c.info().unwrap();
        match info.lifecycle {
            Lifecycle::Factory => c.provision(regulator, common::site_chain()).unwrap(),
            Lifecycle::Provisioned => assert_eq!(info.chain, Some(common::site_chain())),
            other => panic!("after a killed provisioning: {other:?}"),
        }
        let a = w.authorisation(
            &mut c,
            AuthorisedAction::GenerateSiteKey {
                chain: common::site_chain(),
            },
        );
        let k = c.generate_site_key(Some(a)).unwrap();
        w.adopt_key(&k);
        let r = w.request();
        w.sign(&mut c, &r);
        p.stop();
        if !plan.ends_with(":torn") {
            if !reached {
                break;
            }
            n += 1;
        }
    }
    assert!(
        points.iter().any(|p| p.starts_with("flash write")) && !torn.is_empty(),
        "{points:?}"
    );
    eprintln!(
        "provision: {} storage I/Os, each killed: {}; and {} torn",
        points.len(),
        points.join(", "),
        torn.len()
    );
}
