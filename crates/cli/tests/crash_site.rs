//! Crash suite for the site ledger: a real officer process (`armsledger
//! acquire` / `armsledger annotate`) killed with SIGKILL mid-sign, next to a
//! real device process (`armsledger device serve`) and a real `armsledger
//! serve`.
//!
//! The officer reaches its device through a UNIX-socket proxy in this test
//! that reads every frame, so the dangerous windows can be held open:
//!
//! * **intent written, device not asked**: the SignEntry request is held and
//!   the officer killed; the next command must drop the intent;
//! * **device signed, host not committed**: the device's receipt is held and
//!   the officer killed; the next command must commit that receipt once;
//! * **receipt delivered**: the officer killed the moment it has the receipt;
//!
//! then `ARMSLEDGER_SITE_CRASH_ROUNDS` kills at random moments of a command
//! (default 5; `scripts/long-suites.sh` runs 50), and half as many kills of
//! the device process itself while it signs (restarted on its files; it may
//! burn a counter, which the next entry declares), and as many kills of
//! `armsledger sync` pushing a backlog. After every kill:
//!
//! * the next command recovers: nothing stays pending, the device's last
//!   receipt is on the ledger exactly once, the ledger's head is the device's;
//! * every act acknowledged (exit 0) is on the ledger exactly once, a killed
//!   act at most once; counters only go up, with no duplicate and no gap but
//!   one the device declared after a device kill (none from officer kills);
//! * `armsledger fsck` of the site directory is clean, right after an
//!   officer or sync kill, and after every recovery;
//! * `armsledger sync` to the server is accepted and the server's view of the
//!   chain (head, entries, gaps, equivocations) is the ledger's.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod sites;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use armsledger_core::entry::SignedEntry;
use armsledger_core::event::{Event, SiteEvent};
use armsledger_device::host::{DeviceClient, UnixSocket};
use armsledger_device::protocol::{self, Request};
use armsledger_store::ArmouryLedger;
use sites::{
    HANG, Procs, acquire_glock, cli, device, ok, root_public, serve_device, server, token,
};

/// Where the proxy holds the officer's conversation with its device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hold {
    /// Pass everything.
    Nothing,
    /// Hold the next SignEntry request: the intent is written, the device
    /// not yet asked.
    SignRequest,
    /// Let the device sign, hold its receipt: signed, not committed.
    SignReply,
    /// Deliver the receipt, then report: the host is committing.
    AfterReply,
    /// Send the request to the device, then report (the suite kills the
    /// device process while it signs) and hang up.
    DeviceSigning,
}

/// A UNIX-socket proxy between the officer and its device that reads each
/// frame and can hold the conversation at a [`Hold`] point. When it holds,
/// it reports on `held` and waits for `release` before hanging up.
struct Proxy {
    path: PathBuf,
    hold: Arc<Mutex<Hold>>,
    held: Receiver<Hold>,
    release: Sender<()>,
}

impl Proxy {
    fn start(path: PathBuf, device: PathBuf) -> Proxy {
        let listener = UnixListener::bind(&path).unwrap();
        let hold = Arc::new(Mutex::new(Hold::Nothing));
        let (held_tx, held) = channel();
        let (release, release_rx) = channel::<()>();
        let release_rx = Arc::new(Mutex::new(release_rx));
        let h = hold.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                let (h, held_tx, release_rx, device) = (
                    h.clone(),
                    held_tx.clone(),
                    release_rx.clone(),
                    device.clone(),
                );
                std::thread::spawn(move || {
                    let _ = relay(conn, &device, &h, &held_tx, &release_rx);
                });
            }
        });
        Proxy {
            path,
            hold,
            held,
            release,
        }
    }

    fn set(&self, hold: Hold) {
        *self.hold.lock().unwrap() = hold;
        // Forget any stale report.
        while self.held.try_recv().is_ok() {}
    }
}

/// Reads one 0x00-delimited frame (with its delimiter); `None` at the end.
fn read_frame(r: &mut impl Read) -> Option<Vec<u8>> {
    let mut frame = Vec::new();
    let mut b = [0u8; 1];
    loop {
        match r.read(&mut b) {
            Ok(1) => {
                frame.push(b[0]);
                if b[0] == 0 {
                    return Some(frame);
                }
            }
            _ => return None,
        }
    }
}

fn relay(
    mut officer: UnixStream,
    device: &Path,
    hold: &Mutex<Hold>,
    held: &Sender<Hold>,
    release: &Mutex<Receiver<()>>,
) -> Option<()> {
    let mut dev = UnixStream::connect(device).ok()?;
    let wait = |point: Hold| {
        *hold.lock().unwrap() = Hold::Nothing;
        let _ = held.send(point);
        let _ = release.lock().unwrap().recv_timeout(HANG);
    };
    loop {
        let req = read_frame(&mut officer)?;
        let is_sign = protocol::decode_request(&req[..req.len() - 1])
            .is_ok_and(|f| matches!(f.body, Request::SignEntry(_)));
        let point = *hold.lock().unwrap();
        if is_sign && point == Hold::SignRequest {
            wait(point);
            return None;
        }
        dev.write_all(&req).ok()?;
        if is_sign && point == Hold::DeviceSigning {
            wait(point);
            return None;
        }
        let reply = read_frame(&mut dev)?;
        if is_sign && point == Hold::SignReply {
            wait(point);
            return None;
        }
        officer.write_all(&reply).ok()?;
        if is_sign && point == Hold::AfterReply {
            wait(point);
            return None;
        }
    }
}

/// What an entry is about: the serial acquired or the note's text.
/// An act's label: the serial acquired, or the note's text, opened from the
/// site's note store (the entry carries only its commitment).
fn label(ledger: &ArmouryLedger, e: &SignedEntry) -> Option<String> {
    match &e.body().event {
        Event::Site(SiteEvent::FirearmAcquired { identity, .. }) => {
            Some(identity.serial.to_string())
        }
        Event::Site(SiteEvent::Annotated { text, .. }) => Some(
            ledger
                .note(text)
                .unwrap()
                .and_then(|r| r.opening)
                .map_or_else(|| text.to_string(), |o| o.text.to_string()),
        ),
        _ => None,
    }
}

/// The test's own record of what must be on the ledger.
struct Site {
    dir: PathBuf,
    site: PathBuf,
    device: PathBuf,
    device_flash: PathBuf,
    /// The site's device process (killed and restarted by the suite).
    device_proc: Procs,
    /// Device processes killed mid-sign: each may burn a counter.
    device_kills: u64,
    proxy: Proxy,
    url: String,
    token: String,
    regulator_token: String,
    /// Acts acknowledged (exit 0): each must be on the ledger once.
    acked: Vec<String>,
    /// What the last uninterrupted act printed on stderr (recovery notes).
    last_stderr: String,
    /// Acts whose process was killed: each at most once.
    killed: Vec<String>,
    next: u64,
    /// Where each kill landed, as the ledger and device showed it.
    landed: HashMap<&'static str, u64>,
}

impl Site {
    /// The arguments of the next act: acquisitions and notes in turn.
    fn act(&mut self) -> (String, Vec<String>) {
        self.next += 1;
        let n = self.next;
        if n % 2 == 1 {
            let serial = format!("CS-{n}");
            (serial.clone(), acquire_glock(&serial))
        } else {
            let text = format!("note-{n}");
            let args = ["annotate", "--entry", "1", "--text", &text];
            (text.clone(), args.iter().map(|s| s.to_string()).collect())
        }
    }

    fn spawn(&self, args: &[String]) -> Child {
        cli(&self.dir)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Runs the next act to completion.
    fn run_act(&mut self) {
        let (label, args) = self.act();
        let out = cli(&self.dir).args(&args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.last_stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        self.acked.push(label);
    }

    /// Runs the next act with the proxy holding at `point`, kills the
    /// officer there, and lets the proxy hang up.
    fn kill_at(&mut self, point: Hold) {
        let (label, args) = self.act();
        self.proxy.set(point);
        let mut child = self.spawn(&args);
        let got = self.proxy.held.recv_timeout(HANG);
        child.kill().unwrap();
        let status = child.wait().unwrap();
        let _ = self.proxy.release.send(());
        assert_eq!(
            got,
            Ok(point),
            "the officer never reached {point:?}: {status:?}"
        );
        self.proxy.set(Hold::Nothing);
        self.killed.push(label);
        self.after_kill();
    }

    /// Runs the next act and kills it after `delay`; returns false if it
    /// finished first (then it counts as acknowledged, or refused).
    fn kill_after(&mut self, delay: Duration) -> bool {
        let (label, args) = self.act();
        let mut child = self.spawn(&args);
        std::thread::sleep(delay);
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            assert!(status.success(), "{args:?}: {err}");
            self.acked.push(label);
            return false;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        self.killed.push(label);
        self.after_kill();
        true
    }

    /// Runs the next act, kills the device process `delay` after the sign
    /// request reached it, restarts the device on its files, and lets the
    /// officer see the connection drop (it fails; its intent stays).
    fn kill_device(&mut self, delay: Duration) {
        let (label, args) = self.act();
        let issued = self.device_client().info().unwrap().issued;
        self.proxy.set(Hold::DeviceSigning);
        let mut child = self.spawn(&args);
        let got = self.proxy.held.recv_timeout(HANG);
        std::thread::sleep(delay);
        drop(std::mem::take(&mut self.device_proc));
        self.device_proc = Procs(vec![serve_device(&self.device_flash, &self.device)]);
        let _ = self.proxy.release.send(());
        let status = child.wait().unwrap();
        assert_eq!(got, Ok(Hold::DeviceSigning), "{status:?}");
        assert!(!status.success(), "an act succeeded without its receipt");
        self.proxy.set(Hold::Nothing);
        self.device_kills += 1;
        self.killed.push(label);
        let info = self.device_client().info().unwrap();
        let at = if info.issued == issued {
            "device killed before reserving a counter"
        } else if info.issued > info.head.counter {
            "device killed after reserving, before its head was durable"
        } else {
            "device killed after its head was durable"
        };
        *self.landed.entry(at).or_default() += 1;
        self.recover_and_check();
    }

    /// Records three acts, then runs `sync` and kills it after `delay`;
    /// returns false if it finished first. Then the checks, and a sync that
    /// must finish the job.
    fn kill_sync(&mut self, delay: Duration) -> bool {
        for _ in 0..3 {
            self.run_act();
        }
        let mut child = self.spawn(&self.sync_args());
        std::thread::sleep(delay);
        if let Ok(Some(status)) = child.try_wait() {
            assert!(status.success(), "sync failed");
            return false;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        *self.landed.entry("sync killed").or_default() += 1;
        self.check_ledger();
        self.fsck();
        self.sync_and_compare();
        true
    }

    fn sync_args(&self) -> Vec<String> {
        ["sync", "--server", &self.url, "--token", &self.token]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    fn device_client(&self) -> DeviceClient<UnixSocket> {
        DeviceClient::new(UnixSocket::connect(&self.device).unwrap())
    }

    /// Looks at what the kill left, before any command recovers it.
    fn landed(&mut self) -> &'static str {
        let ledger = ArmouryLedger::open(self.site.join("site.redb")).unwrap();
        let head = ledger.head().unwrap().map_or(0, |h| h.counter);
        let pending = ledger.pending().unwrap();
        drop(ledger);
        let info = self.device_client().info().unwrap();
        match (pending, info.head.counter > head) {
            (None, false) => "before the intent or after the commit",
            (None, true) => panic!("the device signed past a ledger with nothing pending"),
            (Some(_), false) => "intent written, device not signed",
            (Some(_), true) => "device signed, host not committed",
        }
    }

    /// Where the kill landed, then the checks.
    fn after_kill(&mut self) {
        let at = self.landed();
        *self.landed.entry(at).or_default() += 1;
        // What an operator runs first: clean before anything recovered.
        self.fsck();
        self.recover_and_check();
    }

    /// The next command recovers, and records its own act; then the checks.
    fn recover_and_check(&mut self) {
        self.run_act();
        self.check_ledger();
        self.fsck();
        self.sync_and_compare();
    }

    /// Nothing pending, counters 1, 2, 3, …, the device's head and last
    /// receipt on the ledger once, every acknowledged act once, every killed
    /// act at most once.
    fn check_ledger(&self) {
        let ledger = ArmouryLedger::open(self.site.join("site.redb")).unwrap();
        assert_eq!(ledger.pending().unwrap(), None, "an intent survived");
        let entries = ledger.entries_from(1, usize::MAX).unwrap();
        let mut labels: HashMap<String, u64> = HashMap::new();
        let mut prev = 0;
        let mut gaps = 0;
        for e in &entries {
            // Strictly up, every gap declared by the device; a gap only
            // where a device process died holding a reserved counter.
            assert!(e.counter() > prev, "counter {} after {prev}", e.counter());
            assert_eq!(e.header().prev_counter, prev, "undeclared gap");
            if e.counter() != prev + 1 {
                gaps += 1;
            }
            prev = e.counter();
            if let Some(l) = label(&ledger, e) {
                *labels.entry(l).or_default() += 1;
            }
        }
        drop(ledger);
        assert!(
            gaps <= self.device_kills,
            "{gaps} counter gaps, {} device kills",
            self.device_kills
        );
        for l in &self.acked {
            assert_eq!(labels.get(l), Some(&1), "acknowledged act {l}");
        }
        for l in &self.killed {
            assert!(
                labels.get(l).is_none_or(|n| *n == 1),
                "killed act {l} twice"
            );
        }
        let mut c = self.device_client();
        let info = c.info().unwrap();
        let last = entries.last().unwrap();
        assert_eq!(
            (info.head.counter, info.head.hash),
            (last.counter(), last.hash()),
            "the ledger's head is not the device's"
        );
        let receipt = c.last_receipt().unwrap().receipt.unwrap();
        let hash = receipt.header.entry_hash().unwrap();
        assert_eq!(
            entries.iter().filter(|e| e.hash() == hash).count(),
            1,
            "the device's last receipt is not on the ledger exactly once"
        );
    }

    fn fsck(&self) {
        let out = cli(&self.dir)
            .args(["fsck", "--json", "--data"])
            .arg(&self.site)
            .output()
            .unwrap();
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        assert!(
            out.status.success() && report["clean"] == true,
            "fsck of the site after a kill: {report:#}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn sync_and_compare(&self) {
        ok(
            &self.dir,
            &["sync", "--server", &self.url, "--token", &self.token],
        );
        let ledger = ArmouryLedger::open(self.site.join("site.redb")).unwrap();
        let head = ledger.head().unwrap().unwrap();
        assert_eq!(
            ledger.sync_cursor().unwrap(),
            head.counter,
            "not all pushed"
        );
        drop(ledger);
        let mut resp = ureq::get(format!("{}/v1/sites/north/integrity", self.url))
            .header("authorization", format!("Bearer {}", self.regulator_token))
            .call()
            .unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
        assert_eq!(v["head_counter"], head.counter, "{v:#}");
        assert_eq!(v["head_hash"], head.hash.to_string(), "{v:#}");
        let entries = ledger_entries(&self.site);
        let gaps: Vec<(u64, u64)> = entries
            .iter()
            .filter(|e| e.header().prev_counter + 1 != e.counter())
            .map(|e| (e.header().prev_counter, e.counter()))
            .collect();
        assert_eq!(v["entries"], entries.len(), "{v:#}");
        assert_eq!(v["gaps"], serde_json::json!(gaps), "{v:#}");
        assert_eq!(v["equivocations"], 0, "{v:#}");
    }
}

fn ledger_entries(site: &Path) -> Vec<SignedEntry> {
    ArmouryLedger::open(site.join("site.redb"))
        .unwrap()
        .entries_from(1, usize::MAX)
        .unwrap()
}

/// The regulator licenses `acme`, registers `north`, enrols its device
/// (reached by the officer through the proxy) and licenses the armourer; the
/// site is set up and synced once.
fn set_up(dir: &Path, procs: &mut Procs) -> Site {
    let (reg_dev, _, reg_proc) = device(dir, "reg-dev-1");
    procs.0.push(reg_proc);
    let (site_dev, site_flash, site_proc) = device(dir, "site-dev-1");
    let proxy = Proxy::start(dir.join("proxy.sock"), site_dev.clone());
    let proxied = format!("unix:{}", proxy.path.display());
    let out = ok(
        dir,
        &[
            "regulator",
            "init",
            "--device",
            &format!("unix:{}", reg_dev.display()),
            "--manufacturer-root",
            &root_public(),
        ],
    );
    let key = out
        .lines()
        .find_map(|l| l.strip_prefix("regulator key "))
        .unwrap()
        .to_string();
    let steps: [&[&str]; 6] = [
        &[
            "regulator",
            "license-company",
            "--company",
            "acme",
            "--name",
            "Acme Ltd",
            "--licence",
            "PSC-1",
            "--category",
            "B",
            "--valid-from",
            "2025-01-01",
            "--valid-until",
            "2099-01-01",
        ],
        &[
            "regulator",
            "register-site",
            "--site",
            "north",
            "--company",
            "acme",
            "--name",
            "North",
            "--approval",
            "ARM-1",
            "--location",
            "vault",
        ],
        &[
            "regulator",
            "enrol-device",
            "--site",
            "north",
            "--device",
            &proxied,
        ],
        &[
            "regulator",
            "license-person",
            "--person",
            "armourer-1",
            "--company",
            "acme",
            "--identity",
            "ID of armourer-1",
            "--licence",
            "LIC-armourer-1",
            "--valid-from",
            "2025-01-01",
            "--valid-until",
            "2099-01-01",
        ],
        &[
            "regulator",
            "record-permit",
            "--person",
            "armourer-1",
            "--permit",
            "PER-armourer-1",
            "--category",
            "B",
            "--calibre",
            "9x19mm",
            "--valid-from",
            "2025-01-01",
            "--valid-until",
            "2099-01-01",
        ],
        &[
            "site",
            "init",
            "--site",
            "north",
            "--device",
            &proxied,
            "--regulator-key",
            &key,
            "--manufacturer-root",
            &root_public(),
        ],
    ];
    for args in steps {
        ok(dir, args);
    }
    let url = server(dir, &key, procs);
    let regulator_token = token(dir, "regulator");
    ok(
        dir,
        &[
            "regulator",
            "push",
            "--server",
            &url,
            "--token",
            &regulator_token,
        ],
    );
    let site_token = token(dir, "site:north");
    ok(dir, &["sync", "--server", &url, "--token", &site_token]);
    let mut site = Site {
        dir: dir.to_path_buf(),
        site: dir.join("north"),
        device: site_dev,
        device_flash: site_flash,
        device_proc: Procs(vec![site_proc]),
        device_kills: 0,
        proxy,
        url,
        token: site_token,
        regulator_token,
        acked: Vec::new(),
        last_stderr: String::new(),
        killed: Vec::new(),
        next: 0,
        landed: HashMap::new(),
    };
    site.run_act();
    site.check_ledger();
    site
}

/// A small seeded PRNG (splitmix64); the seed is printed for a replay with
/// `ARMSLEDGER_SEED`.
struct Rng(u64);

impl Rng {
    fn from_env() -> Rng {
        let seed = std::env::var("ARMSLEDGER_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
            });
        eprintln!("site crash: ARMSLEDGER_SEED={seed}");
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[test]
fn kills_mid_sign_and_mid_sync_lose_nothing_and_double_nothing() {
    let started = Instant::now();
    let rounds: u64 = std::env::var("ARMSLEDGER_SITE_CRASH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let mut rng = Rng::from_env();
    let tmp = tempfile::tempdir().unwrap();
    let mut procs = Procs::default();
    let mut site = set_up(tmp.path(), &mut procs);

    // The dangerous windows, held open.
    for point in [Hold::SignRequest, Hold::SignReply, Hold::AfterReply] {
        let before = site.landed.clone();
        site.kill_at(point);
        let expected = match point {
            Hold::SignRequest => Some("intent written, device not signed"),
            Hold::SignReply => Some("device signed, host not committed"),
            _ => None,
        };
        // The command after the kill tells the officer what became of it.
        let note = match point {
            Hold::SignRequest => Some("was never signed and is not recorded"),
            Hold::SignReply => Some("is now recorded as entry"),
            _ => None,
        };
        if let Some(note) = note {
            assert!(site.last_stderr.contains(note), "{}", site.last_stderr);
        }
        if let Some(at) = expected {
            assert_eq!(
                site.landed.get(at).copied().unwrap_or(0),
                before.get(at).copied().unwrap_or(0) + 1,
                "a kill held at {point:?} did not land at {at}"
            );
        }
    }
    let dropped = site.killed[0].clone();
    let completed = site.killed[1].clone();
    {
        let ledger = ArmouryLedger::open(site.site.join("site.redb")).unwrap();
        let labels: Vec<String> = ledger
            .entries_from(1, usize::MAX)
            .unwrap()
            .iter()
            .filter_map(|e| label(&ledger, e))
            .collect();
        assert!(
            !labels.contains(&dropped),
            "an unsigned intent was committed"
        );
        assert!(labels.contains(&completed), "a signed receipt was lost");
    }

    // Random moments: the spread of one uninterrupted act sets the range.
    let t0 = Instant::now();
    site.run_act();
    let span = t0.elapsed().as_micros().max(1) as u64;
    let mut kills = 0;
    let mut attempts = 0;
    while kills < rounds {
        attempts += 1;
        assert!(attempts < rounds * 20 + 50, "commands keep finishing first");
        let delay = Duration::from_micros(rng.next() % span);
        if site.kill_after(delay) {
            kills += 1;
        }
    }
    // The device process killed while it signs, at spread-out moments: it
    // may burn a counter, which the next entry declares.
    let device_rounds = rounds.div_ceil(2);
    for i in 0..device_rounds {
        // Log-uniform from 1 µs to 20 ms: the reserve, the head write and
        // its sync each take a share.
        let exp = (rng.next() % 1000) as f64 / 1000.0 * 20_000f64.log10();
        let delay = Duration::from_micros(if i == 0 { 0 } else { 10f64.powf(exp) as u64 });
        site.kill_device(delay);
    }
    // `sync` killed at random moments of a push of three entries.
    for _ in 0..3 {
        site.run_act();
    }
    let t0 = Instant::now();
    ok(
        &site.dir,
        &site
            .sync_args()
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    let sync_span = t0.elapsed().as_micros().max(1) as u64;
    let sync_rounds = rounds.div_ceil(2);
    let mut sync_kills = 0;
    let mut attempts = 0;
    while sync_kills < sync_rounds {
        attempts += 1;
        assert!(
            attempts < sync_rounds * 20 + 50,
            "syncs keep finishing first"
        );
        if site.kill_sync(Duration::from_micros(rng.next() % sync_span)) {
            sync_kills += 1;
        }
    }
    let total = 3 + kills + device_rounds + sync_kills;
    let entries = ArmouryLedger::open(site.site.join("site.redb"))
        .unwrap()
        .head()
        .unwrap()
        .unwrap()
        .counter;
    let mut landed: Vec<_> = site.landed.iter().collect();
    landed.sort();
    eprintln!(
        "kills survived: {total} (officer: {kills} at random moments, 3 held; device process mid-sign: \
         {device_rounds}; sync: {sync_kills}); landed: {landed:?}; \
         {} acts acknowledged, {} entries on the ledger and the server, fsck clean and sync \
         consistent after every kill; {:.1} s",
        site.acked.len(),
        entries,
        started.elapsed().as_secs_f64()
    );
}
