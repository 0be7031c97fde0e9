//! `armsledger demo`: the whole system on one machine, seeded and end to end.
//!
//! A simulated manufacturer root; one signing device per site plus the
//! regulator's, each served as its own `armsledger device serve` process on a
//! UNIX socket; the regulator's server in process on a loopback port with its
//! own redb; an armoury's agent per armoury. The regulator licenses, registers and
//! enrols (attestation checked); the sites run their days in parallel and
//! sync every few days; the end exports a bundle, verifies it offline,
//! traces a weapon that changed company and writes `DIR/summary.json`.
//!
//! [`run`] reads as the script of the year; each step is a module:
//! `world` (who and what, from the seed), `infra` (devices, the server, its
//! tokens), `regulator` (the regulator's licensing acts), `oversight` (its
//! inspections, sanction, complaint, notice and trace requests), `armouries`
//! (one armoury's days), `year` (the armouries and the regulator in step, on
//! threads), `summary` (export, offline verification, trace, figures),
//! `progress`. The demo uses the
//! system only as its users can: the agents, the server's public entry point
//! and HTTP API, the bundle verifier; never a crate's internals.
//!
//! Time: the scenario runs the year that ended yesterday, a year in a few
//! seconds. Each device serves with `--clock-file`, a simulation-only
//! setting, and the demo sets a device's clock to each act's scenario time
//! just before the device signs it, so every entry carries the time the act
//! happened; the server's receipt times are real (now), and alerts are
//! computed at the scenario's end.

mod armouries;
pub(crate) mod infra;
mod oversight;
mod progress;
mod regulator;
mod summary;
mod world;
mod year;

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Instant;

use anyhow::{Context, bail};
use armsledger_agents::{
    ArmouryAgent, ArmouryConfig, RegulatorAgent, ServerClient, config::connect,
};
use armsledger_core::ids::Timestamp;
use clap::Args;

use armouries::{ArmouryRun, Common};
use infra::{DemoWitness, Devices, Server, Tokens};
use progress::Progress;
use summary::Tally;
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
    // The year that ended yesterday (UTC), so every act is signed before the
    // server receives it; each device's clock is set to the act's time.
    let now = crate::cmd::now();
    let today = Timestamp(now.0 - now.0 % Timestamp::DAY);
    let start = today.minus((a.days + 1) * Timestamp::DAY);
    let plan = Plan::new(a.seed, a.sites, a.days, start)?;

    // A manufacturer makes a signing device for the regulator and one per
    // armoury; each serves on its own UNIX socket.
    let root = infra::manufacturer_root(a.seed);
    let root_hex = hex::encode(root.verifying_key().to_bytes());
    let made = infra::manufacture(&root, &dir.join("devices"), &plan)?;
    let devices = Devices::serve(&a.device_host, &made)?;
    say(&format!(
        "devices: {} manufactured under root {}…, serving on UNIX sockets in {}",
        made.len(),
        root_hex.get(..12).unwrap_or(""),
        dir.join("devices").display()
    ));
    let (reg_dev, site_devs) = made.split_first().context("no devices")?;

    // The regulator takes its own device; its key is the server's trust root.
    let mut reg = RegulatorAgent::init(
        &dir.join("regulator"),
        &reg_dev.address(),
        vec![root_hex.clone()],
        connect(&reg_dev.address())?,
    )?;
    let reg_key = hex::encode(reg.regulator_key());

    // The regulator's server starts, with a token for the regulator and one
    // for each armoury.
    // A witness (its own process, as another State's regulator would run
    // it) knows the log before the server starts, and the server offers it
    // every stable checkpoint.
    let log_vkey = Server::prepare_log_key(&dir.join("server"))?;
    let witness = DemoWitness::start(
        &a.device_host,
        &dir.join("witness"),
        &log_vkey,
        &dir.join("witnesses.policy"),
    )?;
    say(&format!(
        "witness: {} ({}), policy {}",
        witness.url,
        witness.vkey,
        witness.policy.display()
    ));
    let server = Server::start(
        &dir.join("server"),
        reg_key.clone(),
        root_hex.clone(),
        Some(witness.policy.clone()),
    )?;
    let tokens = Tokens::create(&server, &plan, now)?;
    say(&format!(
        "server: {} (data {})",
        server.url,
        server.data.display()
    ));
    let reg_http = ServerClient::new(&server.url, Some(tokens.regulator.clone()));

    // The regulator licenses the companies, registers their armouries and
    // enrols each armoury's device, its attestation checked.
    let mut clients = site_devs
        .iter()
        .map(|d| connect(&d.address()))
        .collect::<Result<Vec<_>, _>>()?;
    let registered = regulator::register(&mut reg, &plan, &mut clients)?;
    reg.push(&reg_http)?;
    say(&format!(
        "regulator: companies licensed {}, sites registered {}, devices enrolled {} (attestation checked)",
        plan.companies.len(),
        plan.sites.len(),
        plan.sites.len()
    ));

    // Each armoury sets up its directory for its enrolled device and syncs.
    let common = Common::default();
    common.entries.store(registered, Ordering::Relaxed);
    let mut armouries = Vec::new();
    for ((s, d), client) in plan.sites.iter().zip(site_devs).zip(clients) {
        let token = tokens.sites.get(s.id.as_str()).cloned();
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
        armouries.push(run);
    }

    // The year: the guards are licensed while the armouries stock up, then
    // every armoury lives it day by day.
    let progress = Progress::new(&a, plan.sites.len(), plan.days);
    let (licensed, oversight, outcomes) = year::run(
        &mut reg, reg_dev, &reg_http, armouries, &plan, &common, &progress,
    )?;
    let tally = Tally::new(started, registered + licensed, &plan, outcomes);

    // The year's end: the ledger exported and verified offline, a weapon
    // that changed company traced, the figures written down.
    let summary = summary::conclude(
        &dir, &plan, &server, &witness, tokens, tally, &common, &devices, oversight,
    )?;
    let json = serde_json::to_string_pretty(&summary)?;
    // The summary holds the demo's bearer tokens: readable by its owner only.
    armsledger_agents::config::write_private(
        &dir.join("summary.json"),
        format!("{json}\n").as_bytes(),
    )?;
    if a.json {
        println!("{json}");
    } else {
        summary::print_summary(&summary, &dir);
    }
    if a.serve {
        summary::print_serve_hints(&summary);
        println!(
            "inspectors' console: {}{}/ (sign in with the regulator token above)",
            summary.server_url,
            armsledger_console::BASE
        );
        server.wait_for_ctrl_c();
    }
    drop(devices);
    drop(witness);
    Ok(if summary.bundle_authentic {
        0
    } else {
        crate::EXIT_NOT_AUTHENTIC
    })
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use super::*;

    /// A small demo, checked against the ledger: the log holds exactly what
    /// was signed, the bundle verifies, the trace of the weapon that changed
    /// company has every event its chains hold, and the story's findings are
    /// there (the refused issue, the overdue return, the theft, the override,
    /// the regulator's oversight).
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
        // The witness (on a thread here) cosigned the exported checkpoint.
        assert_eq!(s["witness"]["quorum_met"], true, "{s:#}");
        assert_eq!(s["witness"]["cosigned_size"].as_u64(), Some(entries));
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
            "seized",
            "disposed",
            "corrected",
            "transferred-in",
        ] {
            assert!(s["kinds"][kind].as_u64().unwrap_or(0) >= 1, "{kind}: {s:#}");
        }
        // The regulator's year (issue 18; tests/demo.rs checks it in
        // detail): each kind named, the hit and the overdue request alerted.
        for kind in [
            "notices",
            "inspections",
            "findings",
            "sanctions",
            "complaints",
            "trace_requests",
            "stolen_hits",
        ] {
            assert!(
                !s["oversight"][kind].as_array().unwrap().is_empty(),
                "{kind}: {s:#}"
            );
        }
        assert_eq!(s["alerts"]["stolen-hit"], 1, "{s:#}");
        assert_eq!(s["alerts"]["trace-overdue"], 1, "{s:#}");
        // Every act of the story (issue 16) was recorded at least once.
        for act in armouries::STORY {
            assert!(s["story"][act].as_u64().unwrap_or(0) >= 1, "{act}: {s:#}");
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
