//! What every armoury-mode command shares: the site directory, the acting
//! officer, the act's time and any supervised exception (one
//! `#[command(flatten)]` group, [`ActArgs`]), opening the directory, and
//! turning an agent's error into a message that ends with what to do next.

use std::path::PathBuf;

use anyhow::bail;
use armsledger_agents::config::files;
use armsledger_agents::{AgentError, ArmouryAgent, OverrideSpec};
use armsledger_core::ids::{PersonId, Text, Timestamp};
use armsledger_device::host::Transport;
use armsledger_store::Recovery;
use clap::Args;

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
    /// When the act happened, for an entry made after the fact (RFC 3339 or
    /// YYYY-MM-DD) [default: now]. Signed in the entry beside the device's
    /// own time; the rules judge the act at this time, and an entry made
    /// later than the regulator's window after it is refused (recorded-in-time).
    #[arg(long = "occurred-at", visible_alias = "at", value_parser = parse_time)]
    pub occurred_at: Option<Timestamp>,
    /// Print what was recorded as JSON (entry, findings, overrides) for scripts.
    #[arg(long)]
    pub json: bool,
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
        self.occurred_at.unwrap_or_else(super::now)
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
    if !dir.dir.join(files::SITE_TOML).exists() {
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
