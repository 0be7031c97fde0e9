//! `armsledger site init` and `armsledger status`: setting up a site
//! directory, and its state at a glance.

use anyhow::Context;
use armsledger_agents::{ArmouryAgent, ArmouryConfig, ServerClient};
use armsledger_core::ids::Timestamp;
use clap::{Args, Subcommand};

use crate::cmd::act::{SiteDir, explain, open, parse_time};
use crate::out;

/// Site set-up.
#[derive(Debug, Subcommand)]
pub enum SiteCommand {
    /// Create a site directory for a device the regulator has enrolled.
    #[command(
        after_help = "Example:\n  armsledger site init --site acme-north --device unix:/run/armoury/device.sock \\\n      --regulator-key 3b6a…  --server http://127.0.0.1:8640 --token $SITE_TOKEN"
    )]
    Init(InitArgs),
}

/// `site init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    #[command(flatten)]
    pub site_dir: SiteDir,
    /// The site id the regulator registered.
    #[arg(long)]
    pub site: String,
    /// The device: unix:PATH or tcp:HOST:PORT.
    #[arg(long)]
    pub device: String,
    /// The regulator chain's public key (64 hex digits).
    #[arg(long)]
    pub regulator_key: String,
    /// Manufacturer roots (hex) device enrolments must chain to.
    #[arg(long = "manufacturer-root")]
    pub manufacturer_roots: Vec<String>,
    /// The server to sync with; when given, the first sync runs now.
    #[arg(long, env = "ARMSLEDGER_SERVER")]
    pub server: Option<String>,
    /// The site's bearer token (role site:SITE); needed with --server.
    #[arg(long, env = "ARMSLEDGER_TOKEN")]
    pub token: Option<String>,
}

/// Runs a site set-up command.
pub fn run(cmd: SiteCommand) -> anyhow::Result<u8> {
    match cmd {
        SiteCommand::Init(a) => init(a),
    }
}

fn init(a: InitArgs) -> anyhow::Result<u8> {
    if let (Some(server), None) = (&a.server, &a.token) {
        anyhow::bail!(
            "no token to sync with {server}\nhint: {}",
            crate::cmd::sync::NO_TOKEN_HINT
        );
    }
    let cfg = ArmouryConfig {
        site: a.site.clone(),
        device: a.device.clone(),
        server: a.server.clone(),
        token: a.token.clone(),
        regulator_key: a.regulator_key.clone(),
        manufacturer_roots: a.manufacturer_roots.clone(),
        log_vkey: None,
    };
    let device = armsledger_agents::config::connect(&a.device).map_err(explain)?;
    let mut agent = ArmouryAgent::init(&a.site_dir.dir, cfg, device).map_err(explain)?;
    println!("site {} created in {}", a.site, a.site_dir.dir.display());
    if let Some(server) = &a.server {
        let report = agent
            .sync(&ServerClient::new(server, a.token.clone()))
            .map_err(explain)?;
        println!(
            "first sync: {} regulator entries held",
            report.regulator_entries
        );
    } else {
        println!("next: `armsledger sync --server URL` to fetch the enrolment and licences");
    }
    Ok(0)
}

/// `status`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  armsledger status\n  armsledger status --dir /srv/armoury --json"
)]
pub struct StatusArgs {
    #[command(flatten)]
    pub site: SiteDir,
    /// Status as of this time [default: now].
    #[arg(long, value_parser = parse_time)]
    pub at: Option<Timestamp>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Prints the site's head, sync state, open issues, whether the armoury is
/// open and who holds its keys, unsettled discrepancies, items missing in
/// transit, alerts and findings.
pub fn status(a: StatusArgs) -> anyhow::Result<u8> {
    let agent = open(&a.site)?;
    let s = agent
        .status(a.at.unwrap_or_else(super::now))
        .map_err(explain)
        .context("reading status")?;
    if a.json {
        out::json(&s)?;
        return Ok(0);
    }
    println!("site        {}", s.site);
    println!(
        "head        {}{}",
        s.head,
        s.head_hash
            .as_deref()
            .map(|h| format!(" ({h})"))
            .unwrap_or_default()
    );
    println!("unsynced    {}", s.unsynced);
    println!(
        "regulator   {} entries held{}",
        s.regulator_cursor,
        if s.enrolled {
            ""
        } else {
            " (device not enrolled yet: run `armsledger sync`)"
        }
    );
    println!(
        "checkpoint  {}",
        s.checkpoint
            .map_or("none yet".to_string(), |c| c.to_string())
    );
    println!("recovery    {}", s.recovery);
    if s.open_issues.is_empty() {
        println!("open issues none");
    } else {
        let rows = s.open_issues.iter().map(|i| {
            vec![
                i.serial.clone().unwrap_or_else(|| "(ammunition)".into()),
                i.to.clone(),
                i.due_back.clone(),
                if i.overdue {
                    "OVERDUE".into()
                } else {
                    String::new()
                },
            ]
        });
        println!(
            "{}",
            out::table(&["serial", "holder", "due back", ""], rows)
        );
    }
    println!(
        "armoury     {}",
        if s.armoury_open {
            format!("OPEN (opened by {})", s.opened_by.join(", "))
        } else {
            "closed".to_string()
        }
    );
    for k in &s.keys {
        println!("key         {} held by {}", k.key, k.holder);
    }
    for d in &s.discrepancies {
        println!(
            "discrepancy {}: expected {}, found {}{}",
            d.item,
            d.expected,
            d.found,
            d.person
                .as_ref()
                .map(|p| format!(" (answerable: {p})"))
                .unwrap_or_default()
        );
    }
    for m in &s.missing_in_transit {
        println!("in transit  {m}");
    }
    for al in &s.alerts {
        println!("alert       {al}");
    }
    for f in &s.findings {
        println!("finding     {f}");
    }
    Ok(0)
}
