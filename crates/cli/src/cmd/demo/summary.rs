//! The year's end: the ledger exported and verified offline, a weapon that
//! changed company traced through the server's API, and the figures written
//! to `summary.json` and printed. Everything here is read the way an auditor
//! or an inspector reads it: the export and trace endpoints, the bundle, the
//! log's published key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Instant;

use anyhow::Context;
use armsledger_agents::ServerClient;
use armsledger_bundle::{Report, VerifyOptions, verify_bundle};
use armsledger_core::model::FirearmId;
use armsledger_log::LogVerifier;
use serde::Serialize;

use super::armouries::{Common, Outcome, Refusal};
use super::infra::{DemoWitness, Devices, Server, Tokens};
use super::oversight::{self, Hit, Oversight};
use super::world::{self, Plan};

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
    /// An ammunition lot to trace (`armsledger trace --lot`).
    pub sample_lot: Option<String>,
    /// The entry hashes of its trace's acts, as the server gave them.
    pub sample_lot_acts: Vec<String>,
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
    /// The year's story, act by act (`armouries::STORY`): how many times
    /// each was recorded.
    pub story: BTreeMap<String, u64>,
    /// Wall time, seconds.
    pub wall_seconds: f64,
    /// Entries signed per second of wall time.
    pub entries_per_second: f64,
    /// Device process ids (empty when devices ran in process).
    pub device_pids: Vec<u32>,
    /// The witness and what it cosigned.
    pub witness: WitnessReport,
    /// The regulator's work in the year: notices, inspections, findings,
    /// sanctions, complaints, trace requests and lost-and-stolen hits, by
    /// reference with the entries that record them.
    pub oversight: Oversight,
    /// How to read the figures.
    pub notes: Vec<String>,
}

/// What the year left, as the demo counted it while it ran.
pub struct Tally {
    /// Entries per site chain, and the regulator's.
    pub chains: BTreeMap<String, u64>,
    /// Entries per firearm on the site chains.
    pub per_firearm: BTreeMap<FirearmId, u64>,
    /// When the demo started.
    pub started: Instant,
    /// Seconds from the start until the last entry was signed.
    pub signing_secs: f64,
}

impl Tally {
    /// Counts the chains and the entries naming each firearm, now that the
    /// last entry is signed.
    pub fn new(started: Instant, regulator: u64, plan: &Plan, outcomes: Vec<Outcome>) -> Tally {
        let mut tally = Tally {
            chains: BTreeMap::new(),
            per_firearm: BTreeMap::new(),
            started,
            signing_secs: started.elapsed().as_secs_f64(),
        };
        tally.chains.insert("regulator".to_string(), regulator);
        for (s, o) in plan.sites.iter().zip(outcomes) {
            tally.chains.insert(s.id.to_string(), o.entries);
            for (f, k) in o.per_firearm {
                *tally.per_firearm.entry(f).or_default() += k;
            }
        }
        tally
    }
}

/// The sample weapon's trace, as the server's trace endpoint shows it.
#[derive(Default)]
struct SampleTrace {
    serial: Option<String>,
    events: u64,
    complete: bool,
    custody: Vec<String>,
    chain_entries: u64,
}

/// Export, offline verification, trace, and the figures.
#[allow(clippy::too_many_arguments)]
pub fn conclude(
    dir: &Path,
    plan: &Plan,
    server: &Server,
    witness: &DemoWitness,
    tokens: Tokens,
    tally: Tally,
    common: &Common,
    devices: &Devices,
    oversight: Oversight,
) -> anyhow::Result<Summary> {
    let client = ServerClient::new(&server.url, Some(tokens.regulator.clone()));
    let caught_up = wait_for_quorum(&client)?;
    let (bundle, report) = export_and_verify(&client, dir, server, plan, witness)?;
    let witness_report = WitnessReport {
        url: witness.url.clone(),
        vkey: witness.vkey.clone(),
        data: witness.data.clone(),
        policy: witness.policy.clone(),
        pid: witness.pid(),
        caught_up,
        quorum_met: report.witnesses.as_ref().is_some_and(|w| w.quorum_met),
        cosigned_size: report.checkpoint.as_ref().map(|c| c.size),
        cosignatures: report
            .witnesses
            .as_ref()
            .map(|w| w.cosigned.clone())
            .unwrap_or_default(),
    };
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
    let sample = trace_sample(&client, common.sample(), &tally.per_firearm)?;
    let (sample_lot, sample_lot_acts) = trace_lot_sample(&client)?;
    let oversight = complete_oversight(&client, plan, oversight, common, &report)?;
    let recorded: u64 = tally.chains.values().sum();
    let wall = tally.started.elapsed().as_secs_f64();
    Ok(Summary {
        entries,
        recorded,
        chains: tally.chains,
        sites: plan.sites.iter().map(|s| s.id.to_string()).collect(),
        days: plan.days,
        seed: plan.seed,
        scenario: (plan.start.to_string(), plan.end().to_string()),
        sample_serial: sample.serial,
        sample_trace_events: sample.events,
        sample_trace_complete: sample.complete,
        sample_chain_entries: sample.chain_entries,
        sample_custody: sample.custody,
        sample_lot,
        sample_lot_acts,
        bundle,
        bundle_authentic: report.authentic(),
        bundle_entries: report.entries,
        server_data: server.data.clone(),
        server_url: server.url.clone(),
        log_vkey: server.vkey_path(),
        regulator_token: tokens.regulator,
        site_tokens: tokens.sites,
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
        story: common.story.lock().map(|k| k.clone()).unwrap_or_default(),
        wall_seconds: wall,
        entries_per_second: if tally.signing_secs > 0.0 {
            recorded as f64 / tally.signing_secs
        } else {
            0.0
        },
        device_pids: devices.pids(),
        witness: witness_report,
        oversight,
        notes: vec![
            "each device's clock (--clock-file, simulation only) was set to the scenario time of each act before it signed; the server's receipt times are real".into(),
            "alerts are computed at the scenario's end (yesterday); deadlines that run from the server's receipt time have not passed then".into(),
            "refusals were never signed; they appear here, not in the ledger".into(),
            "oversight: entries are counters on the named chain; a trace request's status is the server's now, by_company the server's summary report at the scenario's end".into(),
        ],
    })
}

/// Joins the armouries' part of the regulator's story (the stolen hit, the
/// trace answer) to the regulator's acts, and reads back what the server
/// says of them: each trace request's status, the critical alert of the
/// hit (from the offline verification at the scenario's end) and the
/// regulator's summary report by company.
fn complete_oversight(
    client: &ServerClient,
    plan: &Plan,
    mut o: Oversight,
    common: &Common,
    report: &Report,
) -> anyhow::Result<Oversight> {
    let stages = common
        .site_stages
        .lock()
        .map(|v| v.clone())
        .unwrap_or_default();
    for (key, stage) in stages {
        if key == "stolen-hit" {
            let serial = oversight::NOTICED.2;
            let alert = report
                .alerts
                .iter()
                .find(|a| {
                    a.rule == armsledger_core::rules::RuleId::StolenHit && a.detail.contains(serial)
                })
                .map(|a| a.detail.clone());
            o.stolen_hits.push(Hit {
                serial: serial.to_string(),
                matched: oversight::NOTICE.to_string(),
                act: stage,
                alert,
            });
        } else if let Some(a) = o.trace_requests.iter_mut().find(|a| a.reference == key) {
            a.stages.push(stage);
        }
    }
    let rows: Vec<serde_json::Value> = client.get_json("/v1/trace-requests")?;
    for row in rows {
        let reference = row.get("reference").and_then(|v| v.as_str());
        let status = row.get("status").and_then(|v| v.as_str());
        if let (Some(r), Some(st)) = (reference, status)
            && let Some(a) = o.trace_requests.iter_mut().find(|a| a.reference == r)
        {
            a.status = st.to_string();
        }
    }
    let table: serde_json::Value = client.get_json(&format!(
        "/v1/reports/summary?format=json&at={}",
        plan.end()
    ))?;
    let keep = [
        "company",
        "open_findings",
        "stolen_hits",
        "trace_open",
        "trace_overdue",
        "alerts_critical",
        "alerts_warning",
    ];
    for row in table
        .get("rows")
        .and_then(|r| r.as_array())
        .into_iter()
        .flatten()
    {
        o.by_company.push(
            keep.iter()
                .filter_map(|k| Some((k.to_string(), row.get(*k)?.clone())))
                .collect(),
        );
    }
    Ok(o)
}

/// The witness, and the cosignatures the exported checkpoint carries.
#[derive(Debug, Serialize)]
pub struct WitnessReport {
    /// The witness's URL.
    pub url: String,
    /// Its cosignature/v1 verifier key.
    pub vkey: String,
    /// Its data directory.
    pub data: PathBuf,
    /// The policy the bundle was verified with (`--policy`).
    pub policy: PathBuf,
    /// The witness process's id (`None`: it ran on a thread).
    pub pid: Option<u32>,
    /// Whether the quorum caught up with the log's newest checkpoint before the export.
    pub caught_up: bool,
    /// Whether the bundle's checkpoint met the policy's quorum.
    pub quorum_met: bool,
    /// The size of the bundle's (cosigned) checkpoint.
    pub cosigned_size: Option<u64>,
    /// The valid cosignatures on it: witness name and timestamp.
    pub cosignatures: Vec<armsledger_bundle::Cosigner>,
}

/// Waits (at most a minute) until the newest checkpoint met the witness
/// quorum, so the export is written at it; false if it did not in time.
fn wait_for_quorum(client: &ServerClient) -> anyhow::Result<bool> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let st: serde_json::Value = client.get_json("/v1/witnesses")?;
        let size = |k: &str| st.get(k).and_then(serde_json::Value::as_u64);
        let latest = size("latest_size");
        if latest.is_some() && size("quorum_size") == latest {
            return Ok(true);
        }
        if std::time::Instant::now() > deadline {
            return Ok(false);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Downloads the whole ledger as a bundle and verifies it offline against
/// the log's published key and the witness policy, as an auditor would.
fn export_and_verify(
    client: &ServerClient,
    dir: &Path,
    server: &Server,
    plan: &Plan,
    witness: &DemoWitness,
) -> anyhow::Result<(PathBuf, Report)> {
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
    let policy = armsledger_server::witnessing::load_policy(&witness.policy)?;
    let options = VerifyOptions {
        trusted_key: Some(trusted),
        now: Some(plan.end()),
        policy: Some(policy),
        ..VerifyOptions::default()
    };
    let report = verify_bundle(
        std::fs::File::open(&bundle).with_context(|| format!("opening {}", bundle.display()))?,
        &options,
    )?;
    Ok((bundle, report))
}

/// Traces `sample` through the server's trace endpoint, as an inspector
/// would, and checks it against what its chains hold.
fn trace_sample(
    client: &ServerClient,
    sample: Option<(FirearmId, String)>,
    per_firearm: &BTreeMap<FirearmId, u64>,
) -> anyhow::Result<SampleTrace> {
    let mut out = SampleTrace::default();
    let Some((id, serial)) = sample else {
        return Ok(out);
    };
    let t: serde_json::Value = client.get_json(&format!("/v1/firearms/{serial}/trace"))?;
    out.complete = true;
    let firearms = t.get("firearms").and_then(|v| v.as_array());
    for f in firearms.into_iter().flatten() {
        let timeline = f.get("timeline");
        let events = timeline.map_or(0, timeline_len);
        out.events += events;
        let proofs = f
            .get("proofs")
            .and_then(|v| v.as_array())
            .map_or(0, Vec::len);
        out.complete &= timeline
            .and_then(|t| t.get("complete"))
            .and_then(|c| c.as_bool())
            .unwrap_or(false)
            && u64::try_from(proofs).unwrap_or(0) == events;
        let custody = f.get("custody").and_then(|v| v.as_array());
        for c in custody.into_iter().flatten() {
            if let Some(s) = c.get("site").and_then(|s| s.as_str()) {
                out.custody.push(s.to_string());
            }
        }
    }
    out.chain_entries = per_firearm.get(&id).copied().unwrap_or(0);
    out.serial = Some(serial);
    Ok(out)
}

/// The first lot of the first site, traced by the server: its number and
/// the entry hashes of its acts (`None` if no act named it).
fn trace_lot_sample(client: &ServerClient) -> anyhow::Result<(Option<String>, Vec<String>)> {
    let lot = super::world::lot_identity(0, 0)?.lot_number.to_string();
    let t: serde_json::Value = match client.get_json(&format!("/v1/lots/{lot}/trace")) {
        Ok(t) => t,
        Err(_) => return Ok((None, Vec::new())),
    };
    let acts = t
        .pointer("/lots/0/steps")
        .and_then(serde_json::Value::as_array)
        .map(|steps| {
            steps
                .iter()
                .filter_map(|s| s.get("hash").and_then(|h| h.as_str()).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    Ok((Some(lot), acts))
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

/// Prints the summary for a person.
pub fn print_summary(s: &Summary, dir: &Path) {
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
    let w = &s.witness;
    println!(
        "  witness      {} — checkpoint {} cosigned by {} (policy {}: quorum {})",
        w.url,
        w.cosigned_size.map_or("?".into(), |n| n.to_string()),
        if w.cosignatures.is_empty() {
            "nobody".to_string()
        } else {
            w.cosignatures
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        },
        w.policy.display(),
        if w.quorum_met { "met" } else { "NOT met" }
    );
    if let Some(serial) = &s.sample_serial {
        println!(
            "  trace        {serial}: {} events, custody {}",
            s.sample_trace_events,
            s.sample_custody.join(" → ")
        );
    }
    if let Some(lot) = &s.sample_lot {
        println!(
            "  lot trace    {lot}: {} acts (armsledger trace --lot {lot})",
            s.sample_lot_acts.len()
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
    let o = &s.oversight;
    let refs = |v: &[oversight::Act]| {
        v.iter()
            .map(|a| format!("{} {}", a.reference, a.status))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "  oversight    inspection {}; finding {}; sanction {}; complaint {}; trace requests {}",
        refs(&o.inspections),
        refs(&o.findings),
        refs(&o.sanctions),
        refs(&o.complaints),
        refs(&o.trace_requests)
    );
    for h in &o.stolen_hits {
        println!(
            "  stolen hit   {} at {} (entry {}), on notice {}{}",
            h.serial,
            h.act.chain,
            h.act.entry,
            h.matched,
            if h.alert.is_some() {
                " — critical alert"
            } else {
                ""
            }
        );
    }
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

/// What to try against the server `--serve` keeps running.
pub fn print_serve_hints(s: &Summary) {
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
        "  armsledger trace {} --view both --server {} --token {}",
        world::MISTYPED.1,
        s.server_url,
        s.regulator_token
    );
    println!(
        "  armsledger inventory --site {site} --server {} --token {}",
        s.server_url, s.regulator_token
    );
    println!(
        "  armsledger findings --server {} --token {}",
        s.server_url, s.regulator_token
    );
    println!(
        "  armsledger verify {} --trusted-key {}",
        s.bundle.display(),
        s.log_vkey.display()
    );
}
