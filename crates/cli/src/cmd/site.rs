//! `armsledger site init` and `armsledger status`, and what every site-mode
//! command shares: the site directory, the acting officer, the time.

use std::path::PathBuf;

use anyhow::{Context, bail};
use armsledger_agents::{AgentError, ArmouryAgent, ArmouryConfig, OverrideSpec, ServerClient};
use armsledger_core::ids::{PersonId, Text, Timestamp};
use armsledger_device::host::Transport;
use armsledger_store::Recovery;
use clap::{Args, Subcommand};

use crate::out;

/// Where the site directory is.
#[derive(Debug, Clone, Args)]
pub struct SiteDir {
    /// The site directory (site.toml and site.redb).
    #[arg(long, env = "ARMSLEDGER_SITE", default_value = "./armsledger-site")]
    pub dir: PathBuf,
}

/// Who acts, when, and any supervised exception. Shared by every officer command.
#[derive(Debug, Clone, Args)]
pub struct ActArgs {
    #[command(flatten)]
    pub site: SiteDir,
    /// The acting officer's person id (never a name).
    #[arg(long, env = "ARMSLEDGER_OFFICER")]
    pub officer: PersonId,
    /// When the act happened, for data entry after the fact (RFC 3339 or
    /// YYYY-MM-DD) [default: now]. The device still stamps its own time.
    #[arg(long, value_parser = parse_time)]
    pub at: Option<Timestamp>,
    /// Record a supervised exception to the rules the act breaks (needs --reason and --authoriser).
    #[arg(long = "override", requires_all = ["reason", "authoriser"])]
    pub override_: bool,
    /// Why the exception is made.
    #[arg(long, requires = "override_")]
    pub reason: Option<Text>,
    /// The second person authorising the exception (person id).
    #[arg(long, requires = "override_")]
    pub authoriser: Option<PersonId>,
}

impl ActArgs {
    /// The act's time.
    pub fn time(&self) -> Timestamp {
        self.at.unwrap_or_else(super::now)
    }

    /// The override, if asked for.
    pub fn exception(&self) -> Option<OverrideSpec> {
        match (self.override_, &self.reason, &self.authoriser) {
            (true, Some(reason), Some(authoriser)) => Some(OverrideSpec {
                reason: reason.clone(),
                authoriser: authoriser.clone(),
            }),
            _ => None,
        }
    }
}

/// Parses a time argument.
pub fn parse_time(s: &str) -> Result<Timestamp, String> {
    Timestamp::parse(s).ok_or_else(|| {
        format!("{s:?} is not a time; use RFC 3339 (2026-11-28T09:00:00Z) or a date (2026-11-28)")
    })
}

/// Turns an agent error into a message that ends with what to do next.
pub fn explain(e: AgentError) -> anyhow::Error {
    let mut msg = match &e {
        AgentError::Refused { violations } => {
            let mut m = String::from("the rules refuse this act; nothing was signed:");
            for v in violations {
                m.push_str(&format!("\n  rule {}: {}", v.rule.name(), v.evidence));
            }
            m
        }
        other => other.to_string(),
    };
    msg.push_str(&format!("\nhint: {}", e.hint()));
    anyhow::anyhow!(msg)
}

/// Opens the site directory and its device.
pub fn open(dir: &SiteDir) -> anyhow::Result<ArmouryAgent<Box<dyn Transport>>> {
    if !dir.dir.join("site.toml").exists() {
        bail!(
            "{} is not a site directory\nhint: create one with `armsledger site init`, or pass --dir (or set ARMSLEDGER_SITE)",
            dir.dir.display()
        );
    }
    let agent = ArmouryAgent::open_dir(&dir.dir).map_err(explain)?;
    if let Some(note) = recovery_note(agent.recovery()) {
        eprintln!("{note}");
    }
    Ok(agent)
}

/// What the officer must know when the last command was interrupted
/// mid-sign: whether that act is on the ledger or has to be recorded again.
fn recovery_note(r: &Recovery) -> Option<String> {
    match r {
        Recovery::Clean => None,
        Recovery::Completed(e) => Some(format!(
            "note: the act interrupted last time ({}) had been signed by the device and is now recorded as entry #{} ({}); do not record it again",
            e.body().event.kind(),
            e.counter(),
            e.hash().short()
        )),
        Recovery::Dropped(body) => Some(format!(
            "note: the act interrupted last time ({}) was never signed and is not recorded; record it again if it happened",
            body.event.kind()
        )),
    }
}

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
    /// The site's bearer token.
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

/// Prints the site's head, sync state, open issues and alerts.
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
    for al in &s.alerts {
        println!("alert       {al}");
    }
    for f in &s.findings {
        println!("finding     {f}");
    }
    Ok(0)
}
