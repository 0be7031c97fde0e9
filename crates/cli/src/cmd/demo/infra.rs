//! The demo's real parts: simulated devices manufactured into flash files and
//! served as their own processes, a C2SP witness process (`armsledger witness
//! serve`) that cosigns the log's checkpoints, and the regulator's server in
//! process on a loopback port.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use armsledger_core::hash::Hash;
use armsledger_core::ids::{DeviceId, Name, Timestamp};
use armsledger_device::factory::{self, DeviceSpec};
use armsledger_device::file::{FileFlash, FileMonotonic, default_monotonic_path};
use armsledger_server::tokens::{Role, TokenStore};
use armsledger_server::{Clock, Config};
use ed25519_dalek::SigningKey;

use super::DeviceHost;
use super::world::Plan;

/// The simulated manufacturer's root, derived from the demo seed.
pub fn manufacturer_root(seed: u64) -> SigningKey {
    let h = Hash::of(&[b"armsledger-demo manufacturer root", &seed.to_le_bytes()]);
    SigningKey::from_bytes(&h.0)
}

/// One device: its flash file and the socket it is served on.
#[derive(Clone, Debug)]
pub struct DeviceFiles {
    /// Device serial.
    pub serial: String,
    /// Flash file.
    pub flash: PathBuf,
    /// UNIX socket path.
    pub socket: PathBuf,
    /// The device's clock (`--clock-file`): the demo sets it to scenario time.
    pub clock: PathBuf,
}

impl DeviceFiles {
    /// `unix:PATH`, as agents and `site.toml` name it.
    pub fn address(&self) -> String {
        format!("unix:{}", self.socket.display())
    }

    /// Sets the device's clock (written whole, then renamed into place, so
    /// the device never reads half a number).
    pub fn set_time(&self, t: Timestamp) -> anyhow::Result<()> {
        let tmp = self.clock.with_extension("clock.new");
        std::fs::write(&tmp, t.0.to_string())
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &self.clock)
            .with_context(|| format!("setting {}", self.clock.display()))
    }
}

/// Manufactures a device with reproducible entropy into `dir`, its clock
/// set to `time`.
pub fn make_device(
    root: &SigningKey,
    dir: &Path,
    serial: &str,
    seed: u64,
    time: Timestamp,
) -> anyhow::Result<DeviceFiles> {
    let device: DeviceId = serial
        .parse()
        .map_err(|e| anyhow::anyhow!("device serial {serial}: {e:?}"))?;
    let model: Name = "ARMSLEDGER-SIM-1"
        .parse()
        .map_err(|e| anyhow::anyhow!("model: {e:?}"))?;
    let entropy = Hash::of(&[
        b"armsledger-demo device",
        &seed.to_le_bytes(),
        serial.as_bytes(),
    ]);
    let spec = DeviceSpec {
        device,
        model,
        seed: entropy.0,
    };
    let (_, image) = factory::manufacture(root, &spec).map_err(|e| anyhow::anyhow!("{e}"))?;
    let socket = dir.join(format!("{serial}.sock"));
    // sockaddr_un holds 108 bytes, terminator included.
    if socket.as_os_str().len() > 100 {
        bail!(
            "{} is too long for a UNIX socket path; pick a shorter --dir",
            socket.display()
        );
    }
    let flash = dir.join(format!("{serial}.flash"));
    FileFlash::create(&flash, &image).map_err(|e| anyhow::anyhow!("{}: {e}", flash.display()))?;
    let mono = default_monotonic_path(&flash);
    FileMonotonic::create(&mono).map_err(|e| anyhow::anyhow!("{}: {e}", mono.display()))?;
    let d = DeviceFiles {
        serial: serial.to_string(),
        flash,
        socket,
        clock: dir.join(format!("{serial}.clock")),
    };
    d.set_time(time)?;
    Ok(d)
}

/// Manufactures the regulator's device (`REG-0001`) and one per armoury
/// (`SITE-0001`, ...) into `dir`, their clocks set to the plan's start.
pub fn manufacture(root: &SigningKey, dir: &Path, plan: &Plan) -> anyhow::Result<Vec<DeviceFiles>> {
    std::fs::create_dir_all(dir)?;
    let mut made = vec![make_device(root, dir, "REG-0001", plan.seed, plan.start)?];
    for s in &plan.sites {
        made.push(make_device(
            root,
            dir,
            &format!("SITE-{:04}", s.index + 1),
            plan.seed,
            plan.start,
        )?);
    }
    Ok(made)
}

/// Device processes (or, in unit tests, device threads) this demo started.
#[derive(Default)]
pub struct Devices {
    children: Vec<Child>,
}

impl Devices {
    /// Serves every device in `made`, each as `host` says.
    pub fn serve(host: &DeviceHost, made: &[DeviceFiles]) -> anyhow::Result<Devices> {
        let mut devices = Devices::default();
        for f in made {
            match host {
                DeviceHost::Threads => devices.spawn_thread(f)?,
                DeviceHost::CurrentExe => {
                    let exe =
                        std::env::current_exe().context("locating the armsledger executable")?;
                    devices.spawn_process(&exe, f)?;
                }
            }
        }
        Ok(devices)
    }

    /// Serves `d` as its own process (`armsledger device serve`) and waits
    /// for its `listening` line.
    fn spawn_process(&mut self, exe: &Path, d: &DeviceFiles) -> anyhow::Result<u32> {
        let mut child = Command::new(exe)
            .arg("device")
            .arg("serve")
            .arg("--flash")
            .arg(&d.flash)
            .arg("--listen")
            .arg(d.address())
            .arg("--clock-file")
            .arg(&d.clock)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {} device serve", exe.display()))?;
        let pid = child.id();
        let stdout = child.stdout.take();
        self.children.push(child);
        let Some(out) = stdout else {
            bail!("device {} has no stdout", d.serial);
        };
        let mut line = String::new();
        BufReader::new(out)
            .read_line(&mut line)
            .with_context(|| format!("reading device {}'s first line", d.serial))?;
        if !line.starts_with("listening") {
            bail!(
                "device {} did not start (said {:?}); is {} free?",
                d.serial,
                line.trim(),
                d.socket.display()
            );
        }
        Ok(pid)
    }

    /// Serves `d` on a thread of this process (unit tests, where the current
    /// executable is the test harness, not `armsledger`).
    fn spawn_thread(&mut self, d: &DeviceFiles) -> anyhow::Result<()> {
        let listen = d
            .address()
            .parse()
            .map_err(|e| anyhow::anyhow!("listen address: {e}"))?;
        let flash = d.flash.clone();
        let clock = d.clock.clone();
        std::thread::spawn(move || {
            let _ = armsledger_device::cli::run(armsledger_device::cli::Command::Serve {
                flash,
                listen,
                monotonic: None,
                clock_file: Some(clock),
            });
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        while !d.socket.exists() {
            if Instant::now() > deadline {
                bail!("device {} did not start listening", d.serial);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }

    /// Process ids of the device processes.
    pub fn pids(&self) -> Vec<u32> {
        self.children.iter().map(Child::id).collect()
    }
}

impl Drop for Devices {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The regulator's server, run in process on a background runtime through
/// the server crate's public entry point ([`armsledger_server::serve_with`]
/// with the console mounted, what `armsledger serve` runs), on a loopback port.
pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Its data directory.
    pub data: PathBuf,
    rt: Option<tokio::runtime::Runtime>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Server {
    /// The log's verifier key for a server about to start on `data`: the
    /// log key is made now (as the first start would), so a witness can
    /// know the log before the server runs.
    pub fn prepare_log_key(data: &Path) -> anyhow::Result<String> {
        std::fs::create_dir_all(data).with_context(|| format!("creating {}", data.display()))?;
        let config = Config {
            data_dir: data.to_path_buf(),
            ..Config::default()
        };
        let key = armsledger_server::start::load_or_create_log_key(data, &config)?;
        Ok(key.verifier().to_string())
    }

    /// Opens `data` pinned to `regulator_key`, binds 127.0.0.1:0 and serves;
    /// with `witness_policy`, its stable checkpoint (every second) goes to
    /// the policy's witnesses.
    pub fn start(
        data: &Path,
        regulator_key: String,
        root: String,
        witness_policy: Option<PathBuf>,
    ) -> anyhow::Result<Server> {
        let config = Config {
            data_dir: data.to_path_buf(),
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            regulator_key: Some(regulator_key),
            manufacturer_roots: vec![root],
            checkpoint_interval_ms: 50,
            stable_checkpoint_interval_ms: 1_000,
            witness_policy,
            witness_retry_max_ms: 2_000,
            ..Config::default()
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("starting the server runtime")?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (bound, listening) = std::sync::mpsc::channel();
        let serving = rt.spawn(armsledger_server::serve_with(
            config,
            Clock::System,
            armsledger_console::mount,
            move |addr, _vkey| {
                let _ = bound.send(addr);
            },
            async move {
                let _ = stopped.await;
            },
        ));
        let addr = match listening.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) => addr,
            Err(_) => {
                // It stopped before listening: say why.
                let why = rt
                    .block_on(serving)
                    .map_or_else(|e| e.to_string(), |r| format!("{r:?}"));
                bail!("the server did not start: {why}");
            }
        };
        Ok(Server {
            url: format!("http://{addr}"),
            data: data.to_path_buf(),
            rt: Some(rt),
            stop: Some(stop),
        })
    }

    /// Creates a bearer token for `role`, as `armsledger token create --data`
    /// does (the running server picks it up).
    pub fn create_token(&self, role: Role, label: &str, now: Timestamp) -> anyhow::Result<String> {
        let (token, _) = TokenStore::in_data_dir(&self.data).create(role, label, now)?;
        Ok(token)
    }

    /// Waits for Ctrl-C (for `--serve`).
    pub fn wait_for_ctrl_c(&self) {
        if let Some(rt) = &self.rt {
            let _ = rt.block_on(tokio::signal::ctrl_c());
        }
    }

    /// The log's C2SP verifier key file (written at first start).
    pub fn vkey_path(&self) -> PathBuf {
        self.data.join(armsledger_server::files::LOG_VKEY)
    }
}

/// The bearer tokens the demo hands out.
pub struct Tokens {
    /// The regulator's.
    pub regulator: String,
    /// Each armoury's, by site id.
    pub sites: BTreeMap<String, String>,
}

impl Tokens {
    /// A regulator token and one token per armoury, made on `server`.
    pub fn create(server: &Server, plan: &Plan, now: Timestamp) -> anyhow::Result<Tokens> {
        let regulator = server.create_token(Role::Regulator, "demo regulator", now)?;
        let mut sites = BTreeMap::new();
        for s in &plan.sites {
            let t =
                server.create_token(Role::Site(s.id.clone()), &format!("demo {}", s.id), now)?;
            sites.insert(s.id.to_string(), t);
        }
        Ok(Tokens { regulator, sites })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(Duration::from_secs(2));
        }
    }
}

/// The witness the demo runs: `armsledger witness serve` as its own process
/// (or, in unit tests, on a thread of this process), on a loopback port,
/// knowing the demo's log; and the policy that names it.
pub struct DemoWitness {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Its cosignature/v1 verifier key.
    pub vkey: String,
    /// Its data directory (key, known-logs file, witness.redb).
    pub data: PathBuf,
    /// The C2SP tlog-policy naming the log and this witness (quorum: it).
    pub policy: PathBuf,
    child: Option<Child>,
}

/// The witness's name in the demo's policy.
pub const WITNESS_LABEL: &str = "demo-witness";

impl DemoWitness {
    /// Makes the witness key (`armsledger witness init`), lists the log in
    /// `DATA/logs`, serves, and writes the policy to `policy`.
    pub fn start(
        host: &DeviceHost,
        data: &Path,
        log_vkey: &str,
        policy: &Path,
    ) -> anyhow::Result<DemoWitness> {
        std::fs::create_dir_all(data).with_context(|| format!("creating {}", data.display()))?;
        let config = armsledger_witness::Config::new(data);
        let vkey = armsledger_witness::init_key(
            &config.key_file,
            "witness.demo.armsledger.local",
            &mut rand_core::OsRng,
        )?;
        std::fs::write(&config.logs_file, format!("log {log_vkey}\n"))
            .with_context(|| format!("writing {}", config.logs_file.display()))?;
        let (addr, child) = match host {
            DeviceHost::CurrentExe => {
                let exe = std::env::current_exe().context("locating the armsledger executable")?;
                let mut child = Command::new(exe)
                    .args(["witness", "serve", "--listen", "127.0.0.1:0", "--data"])
                    .arg(data)
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::null())
                    .spawn()
                    .context("starting armsledger witness serve")?;
                let mut line = String::new();
                if let Some(out) = child.stdout.take() {
                    BufReader::new(out)
                        .read_line(&mut line)
                        .context("reading the witness's first line")?;
                }
                let Some(addr) = line.trim().strip_prefix("listening ").map(str::to_owned) else {
                    let _ = child.kill();
                    let _ = child.wait();
                    bail!("the witness did not start (said {:?})", line.trim());
                };
                (addr, Some(child))
            }
            DeviceHost::Threads => {
                let (tx, rx) = std::sync::mpsc::channel();
                let mut c = config.clone();
                c.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
                std::thread::spawn(move || {
                    let Ok(rt) = tokio::runtime::Runtime::new() else {
                        return;
                    };
                    let _ = rt.block_on(armsledger_witness::serve(c, |addr, _| {
                        let _ = tx.send(addr);
                    }));
                });
                let addr = rx
                    .recv_timeout(Duration::from_secs(30))
                    .context("the witness did not start listening")?;
                (addr.to_string(), None)
            }
        };
        let url = format!("http://{addr}");
        std::fs::write(
            policy,
            format!(
                "# The demo's policy: its log, and one witness whose cosignature it demands.\n\
                 log {log_vkey}\nwitness {WITNESS_LABEL} {vkey} {url}\nquorum {WITNESS_LABEL}\n"
            ),
        )
        .with_context(|| format!("writing {}", policy.display()))?;
        Ok(DemoWitness {
            url,
            vkey: vkey.to_string(),
            data: data.to_path_buf(),
            policy: policy.to_path_buf(),
            child,
        })
    }

    /// The witness process's id (`None` when it runs on a thread).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

impl Drop for DemoWitness {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
