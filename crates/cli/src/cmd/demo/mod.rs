//! `armsledger demo`: the whole system on one machine, seeded and end to end.
//!
//! A simulated manufacturer root; one signing device per site plus the
//! regulator's, each served as its own `armsledger device serve` process on a
//! UNIX socket; the regulator's server in process on a loopback port with its
//! own redb; a site agent per armoury. The regulator licenses, registers and
//! enrols (attestation checked); the sites run their days in parallel and
//! sync every few days; the end exports a bundle, verifies it offline,
//! traces a weapon that changed company and writes `DIR/summary.json`.
//!
//! Time: the scenario runs the year that ended yesterday, a year in a few
//! seconds. Each device serves with `--clock-file`, a simulation-only
//! setting, and the demo sets a device's clock to each act's scenario time
//! just before the device signs it, so every entry carries the time the act
//! happened; the server's receipt times are real (now), and alerts are
//! computed at the scenario's end.

mod armouries;
mod infra;
mod regulator;
mod world;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Barrier;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{Context, bail};
use armsledger_agents::{
    ArmouryAgent, ArmouryConfig, RegulatorAgent, ServerClient, config::connect,
};
use armsledger_bundle::{VerifyOptions, verify_bundle};
use armsledger_core::ids::Timestamp;
use armsledger_core::model::FirearmId;
use armsledger_log::LogVerifier;
use armsledger_server::tokens::Role;
use clap::Args;
use serde::Serialize;

use armouries::{ArmouryRun, Common, Outcome, Refusal};
use infra::{DeviceFiles, Devices, Server};
use world::Plan;

/// A file that marks a directory as the demo's own, so a rerun may clear it.
const MARKER: &str = ".armsledger-demo";

/// Options of `demo`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger demo                      a year at three armouries, then export, verify, trace\n  armsledger demo --days 30 --serve    a month, then keep the server running to explore\n\nEverything is written under --dir (cleared first if it holds an earlier demo)."
)]
pub struct DemoArgs {
    /// Where devices, agents, the server data, the bundle and summary.json go.
    #[arg(long, default_value = "./armsledger-demo")]
    pub dir: PathBuf,
    /// Seed for the scenario (same seed, same story).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Armoury sites (1-8); the last belongs to the second company.
    #[arg(long, default_value_t = 3)]
    pub sites: usize,
    /// Days of operations to simulate (at least 5).
    #[arg(long, default_value_t = 365)]
    pub days: u64,
    /// Keep the server and devices running afterwards, until Ctrl-C.
    #[arg(long)]
    pub serve: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// How device processes are started (tests change it: their executable
    /// is the test harness, not `armsledger`).
    #[arg(skip)]
    pub device_host: DeviceHost,
}

/// Where the simulated devices run.
#[derive(Clone, Debug, Default)]
pub enum DeviceHost {
    /// `armsledger device serve` processes of the running executable.
    #[default]
    CurrentExe,
    /// Threads of this process (same firmware and socket protocol).
    #[cfg_attr(not(test), allow(dead_code))]
    Threads,
}

/// What `summary.json` holds.
#[derive(Debug, Serialize)]
pub struct Summary {
    /// Entries in the server's log (all chains).
    pub entries: u64,
    /// Entries the demo signed (regulator and sites).
    pub recorded: u64,
    /// Entries per site chain, and the regulator's.
    pub chains: BTreeMap<String, u64>,
    /// Sites.
    pub sites: Vec<String>,
    /// Scenario days.
    pub days: u64,
    /// Seed.
    pub seed: u64,
    /// Scenario start and end (alerts are computed at the end).
    pub scenario: (String, String),
    /// A weapon that changed company.
    pub sample_serial: Option<String>,
    /// Events in its trace.
    pub sample_trace_events: u64,
    /// Whether its per-weapon link chain is unbroken and every event has an
    /// inclusion proof.
    pub sample_trace_complete: bool,
    /// Entries naming it on the site chains.
    pub sample_chain_entries: u64,
    /// Sites that held it, in order.
    pub sample_custody: Vec<String>,
    /// The exported bundle.
    pub bundle: PathBuf,
    /// Whether it verified offline against the log key.
    pub bundle_authentic: bool,
    /// Entries the verifier read from it.
    pub bundle_entries: u64,
    /// The server's data directory.
    pub server_data: PathBuf,
    /// The server's URL.
    pub server_url: String,
    /// The log's C2SP verifier key file.
    pub log_vkey: PathBuf,
    /// A regulator bearer token.
    pub regulator_token: String,
    /// Site tokens.
    pub site_tokens: BTreeMap<String, String>,
    /// Rule findings by rule (from the offline verification).
    pub findings: BTreeMap<String, u64>,
    /// Findings covered by a recorded override.
    pub findings_overridden: u64,
    /// Alerts at the scenario's end, by rule.
    pub alerts: BTreeMap<String, u64>,
    /// Acts refused before signing (not recorded).
    pub refusals: Vec<Refusal>,
    /// Overrides recorded.
    pub overrides: u64,
    /// Acts recorded by kind (site chains).
    pub kinds: BTreeMap<String, u64>,
    /// Wall time, seconds.
    pub wall_seconds: f64,
    /// Entries signed per second of wall time.
    pub entries_per_second: f64,
    /// Device process ids (empty when devices ran in process).
    pub device_pids: Vec<u32>,
    /// How to read the figures.
    pub notes: Vec<String>,
}

/// Runs the demo; returns the exit code.
pub fn run(a: DemoArgs) -> anyhow::Result<u8> {
    let started = Instant::now();
    if !(1..=8).contains(&a.sites) {
        bail!("--sites takes 1 to 8");
    }
    if a.days < 5 {
        bail!("--days must be at least 5 (the story needs a few days)");
    }
    prepare_dir(&a.dir)?;
    let dir =
        std::path::absolute(&a.dir).with_context(|| format!("resolving {}", a.dir.display()))?;
    let say = |s: &str| {
        if !a.json {
            eprintln!("{s}");
        }
    };
    // The scenario ends yesterday (UTC), so every act is signed before the
    // server receives it; each device's clock is set to the act's time.
    let now = crate::cmd::now();
    let today = Timestamp(now.0 - now.0 % Timestamp::DAY);
    let start = today.minus((a.days + 1) * Timestamp::DAY);
    let plan = Plan::new(a.seed, a.sites, a.days, start)?;

    // Devices: the regulator's and one per site, each its own process.
    let root = infra::manufacturer_root(a.seed);
    let root_hex = hex::encode(root.verifying_key().to_bytes());
    let dev_dir = dir.join("devices");
    std::fs::create_dir_all(&dev_dir)?;
    let mut files: Vec<DeviceFiles> = Vec::new();
    files.push(infra::make_device(
        &root, &dev_dir, "REG-0001", a.seed, start,
    )?);
    for s in &plan.sites {
        files.push(infra::make_device(
            &root,
            &dev_dir,
            &format!("SITE-{:04}", s.index + 1),
            a.seed,
            start,
        )?);
    }
    let mut devices = Devices::default();
    for f in &files {
        match &a.device_host {
            DeviceHost::Threads => devices.spawn_thread(f)?,
            DeviceHost::CurrentExe => {
                let exe = std::env::current_exe().context("locating the armsledger executable")?;
                devices.spawn_process(&exe, f)?;
            }
        }
    }
    say(&format!(
        "devices: {} manufactured under root {}…, serving on UNIX sockets in {}",
        files.len(),
        root_hex.get(..12).unwrap_or(""),
        dev_dir.display()
    ));
    let (reg_dev, site_devs) = files.split_first().context("no devices")?;

    // The regulator takes its own device; its key is the server's trust root.
    let mut reg = RegulatorAgent::init(
        &dir.join("regulator"),
        &reg_dev.address(),
        vec![root_hex.clone()],
        connect(&reg_dev.address())?,
    )?;
    let reg_key = hex::encode(reg.regulator_key());
    let server = Server::start(&dir.join("server"), reg_key.clone(), root_hex.clone())?;
    let reg_token = server.create_token(Role::Regulator, "demo regulator", now)?;
    let mut site_tokens = BTreeMap::new();
    for s in &plan.sites {
        let t = server.create_token(Role::Site(s.id.clone()), &format!("demo {}", s.id), now)?;
        site_tokens.insert(s.id.to_string(), t);
    }
    say(&format!(
        "server: {} (data {})",
        server.url,
        server.data.display()
    ));
    let reg_http = ServerClient::new(&server.url, Some(reg_token.clone()));

    let mut clients = site_devs
        .iter()
        .map(|d| connect(&d.address()))
        .collect::<Result<Vec<_>, _>>()?;
    let mut reg_entries = regulator::register(&mut reg, &plan, &mut clients)?;
    reg.push(&reg_http)?;
    say(&format!(
        "regulator: companies licensed {}, sites registered {}, devices enrolled {} (attestation checked)",
        plan.companies.len(),
        plan.sites.len(),
        plan.sites.len()
    ));

    let common = Common::default();
    common.entries.store(reg_entries, Ordering::Relaxed);
    let mut agents = Vec::new();
    for ((s, d), client) in plan.sites.iter().zip(site_devs).zip(clients) {
        let token = site_tokens.get(s.id.as_str()).cloned();
        let cfg = ArmouryConfig {
            site: s.id.to_string(),
            device: d.address(),
            server: Some(server.url.clone()),
            token: token.clone(),
            regulator_key: reg_key.clone(),
            manufacturer_roots: vec![root_hex.clone()],
            log_vkey: None,
        };
        let agent = ArmouryAgent::init(&dir.join("sites").join(s.id.as_str()), cfg, client)?;
        let http = ServerClient::new(&server.url, token);
        let mut run = ArmouryRun::new(&plan, s, agent, http, d.clone(), &common);
        run.sync()?;
        agents.push(run);
    }

    // The regulator licenses the guards while the sites stock their armouries.
    let progress = Progress::new(&a, plan.sites.len(), plan.days);
    let n = plan.sites.len();
    let stocked = Barrier::new(n + 1);
    let daily = Barrier::new(n);
    let (reg_result, outcomes) = std::thread::scope(|scope| {
        let reg_thread = scope.spawn(|| {
            let r = regulator::license_guards(&mut reg, &plan, || {
                common.entries.fetch_add(3, Ordering::Relaxed);
            })
            .and_then(|k| {
                reg.push(&reg_http)?;
                Ok(k)
            });
            if r.is_err() {
                common.abort.store(true, Ordering::Relaxed);
            }
            stocked.wait();
            r
        });
        let handles: Vec<_> = agents
            .into_iter()
            .map(|mut run| {
                let (stocked, daily, common, progress, plan) =
                    (&stocked, &daily, &common, &progress, &plan);
                scope.spawn(move || -> anyhow::Result<Outcome> {
                    let mut failed = run.acquire().err();
                    stocked.wait();
                    if failed.is_none() && !common.abort.load(Ordering::Relaxed) {
                        failed = run.sync().err();
                    }
                    for d in 0..plan.days {
                        if failed.is_none() && !common.abort.load(Ordering::Relaxed) {
                            failed = run.day(d).err();
                            if failed.is_some() {
                                common.abort.store(true, Ordering::Relaxed);
                            }
                        }
                        progress.day_done(d, common);
                        daily.wait();
                    }
                    match failed {
                        Some(e) => Err(e),
                        None if common.abort.load(Ordering::Relaxed) => {
                            bail!("stopped: another part of the demo failed")
                        }
                        None => run.finish(),
                    }
                })
            })
            .collect();
        let reg_result = reg_thread
            .join()
            .map_err(|_| anyhow::anyhow!("the regulator thread panicked"));
        let outcomes: Vec<anyhow::Result<Outcome>> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| anyhow::anyhow!("a site thread panicked"))
                    .and_then(|r| r)
            })
            .collect();
        (reg_result, outcomes)
    });
    progress.finish();
    reg_entries += reg_result??;
    let mut chains = BTreeMap::new();
    chains.insert("regulator".to_string(), reg_entries);
    let mut per_firearm: BTreeMap<FirearmId, u64> = BTreeMap::new();
    for (s, o) in plan.sites.iter().zip(outcomes) {
        let o = o?;
        chains.insert(s.id.to_string(), o.entries);
        for (f, k) in o.per_firearm {
            *per_firearm.entry(f).or_default() += k;
        }
    }
    let recorded: u64 = chains.values().sum();
    let signing_secs = started.elapsed().as_secs_f64();

    let summary = conclude(
        &dir,
        &plan,
        &server,
        &reg_token,
        site_tokens,
        chains,
        recorded,
        &per_firearm,
        &common,
        &devices,
        started,
        signing_secs,
    )?;
    let json = serde_json::to_string_pretty(&summary)?;
    std::fs::write(dir.join("summary.json"), format!("{json}\n"))?;
    if a.json {
        println!("{json}");
    } else {
        print_summary(&summary, &dir);
    }
    if a.serve {
        print_serve_hints(&summary);
        server.wait_for_ctrl_c();
    }
    drop(devices);
    Ok(if summary.bundle_authentic {
        0
    } else {
        crate::EXIT_NOT_AUTHENTIC
    })
}

/// Export, offline verification, trace, and the figures.
#[allow(clippy::too_many_arguments)]
fn conclude(
    dir: &Path,
    plan: &Plan,
    server: &Server,
    reg_token: &str,
    site_tokens: BTreeMap<String, String>,
    chains: BTreeMap<String, u64>,
    recorded: u64,
    per_firearm: &BTreeMap<FirearmId, u64>,
    common: &Common,
    devices: &Devices,
    started: Instant,
    signing_secs: f64,
) -> anyhow::Result<Summary> {
    let client = ServerClient::new(&server.url, Some(reg_token.to_string()));
    let bundle = dir.join("ledger.bundle");
    {
        let mut f = std::fs::File::create(&bundle)
            .with_context(|| format!("creating {}", bundle.display()))?;
        client.get_to("/v1/export", &mut f)?;
        f.sync_all()?;
    }
    let vkey_path = server.vkey_path();
    let vkey = std::fs::read_to_string(&vkey_path)
        .with_context(|| format!("reading {}", vkey_path.display()))?;
    let trusted =
        LogVerifier::from_vkey(vkey.trim()).map_err(|e| anyhow::anyhow!("log key: {e}"))?;
    let options = VerifyOptions {
        trusted_key: Some(trusted),
        now: Some(plan.end()),
        ..VerifyOptions::default()
    };
    let report = verify_bundle(
        std::fs::File::open(&bundle).with_context(|| format!("opening {}", bundle.display()))?,
        &options,
    )?;
    let mut findings = BTreeMap::new();
    let mut findings_overridden = 0;
    for f in &report.findings {
        *findings.entry(f.rule.name().to_string()).or_default() += 1;
        if f.overridden_by.is_some() {
            findings_overridden += 1;
        }
    }
    let mut alerts = BTreeMap::new();
    for al in &report.alerts {
        *alerts.entry(al.rule.name().to_string()).or_default() += 1;
    }
    let checkpoint = client.get_text("/checkpoint")?;
    let entries: u64 = checkpoint
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .context("the server's checkpoint has no size line")?;

    // A weapon that changed company (with one site: the corrected one), as
    // the sites that sent or corrected it know it.
    let sample = common.sample();
    let mut sample_serial = None;
    let mut sample_trace_events = 0;
    let mut sample_trace_complete = false;
    let mut sample_custody = Vec::new();
    let mut sample_chain_entries = 0;
    if let Some((id, serial)) = sample {
        let t: serde_json::Value = client.get_json(&format!("/v1/firearms/{serial}/trace"))?;
        sample_trace_complete = true;
        let firearms = t.get("firearms").and_then(|v| v.as_array());
        for f in firearms.into_iter().flatten() {
            let timeline = f.get("timeline");
            let events = timeline.map_or(0, timeline_len);
            sample_trace_events += events;
            let proofs = f
                .get("proofs")
                .and_then(|v| v.as_array())
                .map_or(0, Vec::len);
            sample_trace_complete &= timeline
                .and_then(|t| t.get("complete"))
                .and_then(|c| c.as_bool())
                .unwrap_or(false)
                && u64::try_from(proofs).unwrap_or(0) == events;
            let custody = f.get("custody").and_then(|v| v.as_array());
            for c in custody.into_iter().flatten() {
                if let Some(s) = c.get("site").and_then(|s| s.as_str()) {
                    sample_custody.push(s.to_string());
                }
            }
        }
        sample_chain_entries = per_firearm.get(&id).copied().unwrap_or(0);
        sample_serial = Some(serial);
    }
    let wall = started.elapsed().as_secs_f64();
    Ok(Summary {
        entries,
        recorded,
        chains,
        sites: plan.sites.iter().map(|s| s.id.to_string()).collect(),
        days: plan.days,
        seed: plan.seed,
        scenario: (plan.start.to_string(), plan.end().to_string()),
        sample_serial,
        sample_trace_events,
        sample_trace_complete,
        sample_chain_entries,
        sample_custody,
        bundle,
        bundle_authentic: report.authentic(),
        bundle_entries: report.entries,
        server_data: server.data.clone(),
        server_url: server.url.clone(),
        log_vkey: vkey_path,
        regulator_token: reg_token.to_string(),
        site_tokens,
        findings,
        findings_overridden,
        alerts,
        refusals: common
            .refusals
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default(),
        overrides: common.overrides.load(Ordering::Relaxed),
        kinds: common.kinds.lock().map(|k| k.clone()).unwrap_or_default(),
        wall_seconds: wall,
        entries_per_second: if signing_secs > 0.0 {
            recorded as f64 / signing_secs
        } else {
            0.0
        },
        device_pids: devices.pids(),
        notes: vec![
            "each device's clock (--clock-file, simulation only) was set to the scenario time of each act before it signed; the server's receipt times are real".into(),
            "alerts are computed at the scenario's end (yesterday); deadlines that run from the server's receipt time have not passed then".into(),
            "refusals were never signed; they appear here, not in the ledger".into(),
        ],
    })
}

/// Events in a timeline, whatever its JSON shape (a list, or an object with one).
fn timeline_len(t: &serde_json::Value) -> u64 {
    let n = match t {
        serde_json::Value::Array(v) => v.len(),
        serde_json::Value::Object(o) => o
            .get("events")
            .or_else(|| o.get("entries"))
            .and_then(|v| v.as_array())
            .map_or(0, Vec::len),
        _ => 0,
    };
    u64::try_from(n).unwrap_or(0)
}

/// Refuses to clear a directory that is not an earlier demo's.
fn prepare_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        let empty = std::fs::read_dir(dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .next()
            .is_none();
        if !empty {
            if !dir.join(MARKER).exists() {
                bail!(
                    "{} exists and is not an earlier demo's directory; pick another --dir",
                    dir.display()
                );
            }
            std::fs::remove_dir_all(dir).with_context(|| format!("clearing {}", dir.display()))?;
        }
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(
        dir.join(MARKER),
        "armsledger demo directory; `armsledger demo` may clear it\n",
    )?;
    Ok(())
}

/// A bar on a terminal, a line per tenth of the run otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    plain: bool,
    days: u64,
    /// The last day a plain line was printed for.
    printed: AtomicU64,
}

impl Progress {
    fn new(a: &DemoArgs, sites: usize, days: u64) -> Progress {
        let total = days * u64::try_from(sites).unwrap_or(1);
        let term = std::io::stderr().is_terminal() && !a.json;
        let bar = term.then(|| {
            let b = indicatif::ProgressBar::new(total);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{spinner} site-days {pos}/{len} {wide_bar} {msg} [{elapsed}]",
            ) {
                b.set_style(style);
            }
            b
        });
        Progress {
            bar,
            plain: !term && !a.json,
            days,
            printed: AtomicU64::new(0),
        }
    }

    fn day_done(&self, d: u64, common: &Common) {
        let entries = common.entries.load(Ordering::Relaxed);
        if let Some(b) = &self.bar {
            b.inc(1);
            b.set_message(format!("{entries} entries"));
        } else if self.plain && self.days >= 10 && (d + 1).is_multiple_of(self.days / 10) {
            // Printed by whichever site reaches the day first.
            if self.printed.fetch_max(d + 1, Ordering::Relaxed) < d + 1 {
                eprintln!("day {}/{}: {entries} entries signed", d + 1, self.days);
            }
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

fn print_summary(s: &Summary, dir: &Path) {
    println!();
    println!(
        "armsledger demo: {} days at {} sites",
        s.days,
        s.sites.len()
    );
    println!(
        "  entries      {} in the log ({} signed by devices: {})",
        s.entries,
        s.recorded,
        s.chains
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "  bundle       {} — {} ({} entries verified offline)",
        s.bundle.display(),
        if s.bundle_authentic {
            "AUTHENTIC"
        } else {
            "NOT AUTHENTIC"
        },
        s.bundle_entries
    );
    if let Some(serial) = &s.sample_serial {
        println!(
            "  trace        {serial}: {} events, custody {}",
            s.sample_trace_events,
            s.sample_custody.join(" → ")
        );
    }
    let kv = |m: &BTreeMap<String, u64>| {
        if m.is_empty() {
            "none".to_string()
        } else {
            m.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    println!(
        "  findings     {} ({} covered by an override)",
        kv(&s.findings),
        s.findings_overridden
    );
    println!(
        "  alerts       {} (at the scenario's end; see notes in summary.json)",
        kv(&s.alerts)
    );
    for r in &s.refusals {
        println!(
            "  refused      {} at {}: issue to {} ({}) — not recorded",
            r.site,
            r.at,
            r.person,
            r.rules.join(", ")
        );
    }
    println!(
        "  time         {:.1} s wall, {:.0} entries/s signed",
        s.wall_seconds, s.entries_per_second
    );
    println!("  summary      {}", dir.join("summary.json").display());
}

fn print_serve_hints(s: &Summary) {
    let serial = s.sample_serial.as_deref().unwrap_or(world::MISTYPED.0);
    let site = s.sites.last().map_or("acme-north", String::as_str);
    println!();
    println!("server running at {} (Ctrl-C to stop)", s.server_url);
    println!("regulator token: {}", s.regulator_token);
    println!("try:");
    println!(
        "  armsledger trace {serial} --server {} --token {}",
        s.server_url, s.regulator_token
    );
    println!(
        "  armsledger inventory --site {site} --server {} --token {}",
        s.server_url, s.regulator_token
    );
    println!(
        "  armsledger verify {} --trusted-key {}",
        s.bundle.display(),
        s.log_vkey.display()
    );
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use super::*;

    /// A small demo, checked against the ledger: the log holds exactly what
    /// was signed, the bundle verifies, the trace of the weapon that changed
    /// company has every event its chains hold, and the story's findings are
    /// there (the refused issue, the overdue return, the theft, the override).
    #[test]
    fn small_demo_matches_the_ledger() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("demo");
        let code = run(DemoArgs {
            dir: dir.clone(),
            seed: 7,
            sites: 2,
            days: 10,
            serve: false,
            json: true,
            device_host: DeviceHost::Threads,
        })
        .unwrap();
        assert_eq!(code, 0);
        let s: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap();
        let entries = s["entries"].as_u64().unwrap();
        assert!(entries > 0);
        assert_eq!(entries, s["recorded"].as_u64().unwrap(), "{s:#}");
        assert_eq!(entries, s["bundle_entries"].as_u64().unwrap(), "{s:#}");
        assert_eq!(s["bundle_authentic"], true);
        assert!(Path::new(s["bundle"].as_str().unwrap()).exists());
        assert!(Path::new(s["log_vkey"].as_str().unwrap()).exists());
        assert!(Path::new(s["server_data"].as_str().unwrap()).is_dir());
        assert!(s["regulator_token"].as_str().unwrap().starts_with("als_"));
        // The trace of the transferred weapon is complete and crosses companies.
        assert!(s["sample_serial"].is_string(), "{s:#}");
        let chain = s["sample_chain_entries"].as_u64().unwrap();
        assert!(chain >= 3, "{s:#}");
        assert_eq!(s["sample_trace_events"].as_u64().unwrap(), chain, "{s:#}");
        assert_eq!(s["sample_trace_complete"], true, "{s:#}");
        let custody: Vec<&str> = s["sample_custody"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(
            custody.len() >= 2 && custody[0] != custody[custody.len() - 1],
            "{custody:?}"
        );
        // The refusal was reported, not recorded.
        let refusals = s["refusals"].as_array().unwrap();
        assert_eq!(refusals.len(), 1);
        assert!(
            refusals[0]["rules"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r == "qualification-current"),
            "{refusals:?}"
        );
        // The overdue return and the override's finding.
        assert!(
            s["alerts"]["return-overdue"].as_u64().unwrap_or(0) >= 1,
            "{s:#}"
        );
        assert!(s["overrides"].as_u64().unwrap() >= 1);
        assert!(s["findings_overridden"].as_u64().unwrap() >= 1, "{s:#}");
        // The theft and its recovery, the destruction and the correction.
        for kind in [
            "loss-reported",
            "loss-report-updated",
            "recovered",
            "disposed",
            "corrected",
            "transferred-in",
        ] {
            assert!(s["kinds"][kind].as_u64().unwrap_or(0) >= 1, "{kind}: {s:#}");
        }
    }

    #[test]
    fn arguments_and_defaults() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            demo: DemoArgs,
        }
        let d = Cli::try_parse_from(["demo"]).unwrap().demo;
        assert_eq!(d.dir, PathBuf::from("./armsledger-demo"));
        assert_eq!(
            (d.seed, d.sites, d.days, d.serve, d.json),
            (1, 3, 365, false, false)
        );
        assert!(matches!(d.device_host, DeviceHost::CurrentExe));
        let d = Cli::try_parse_from([
            "demo", "--dir", "x", "--seed", "9", "--sites", "2", "--days", "30", "--serve",
            "--json",
        ])
        .unwrap()
        .demo;
        assert_eq!(
            (d.seed, d.sites, d.days, d.serve, d.json),
            (9, 2, 30, true, true)
        );
        assert!(run(DemoArgs { sites: 0, ..d }).is_err());
    }
}
