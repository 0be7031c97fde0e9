//! `armsledger sync`: push what the server has not acknowledged, pull the
//! regulator chain and transfers addressed to this site.

use std::path::PathBuf;

use anyhow::bail;
use armsledger_agents::config;
use armsledger_agents::{ArmouryConfig, ServerClient};
use clap::Args;

use crate::cmd::act::{SiteDir, explain, open};

/// `sync`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  armsledger sync --server http://127.0.0.1:8640 --token $SITE_TOKEN   (saved in site.toml)\n  armsledger sync                                                      (later, after days offline)"
)]
pub struct SyncArgs {
    #[command(flatten)]
    pub site: SiteDir,
    /// The server [default: the one in site.toml]; saved for next time.
    #[arg(long, env = "ARMSLEDGER_SERVER")]
    pub server: Option<String>,
    /// The site's bearer token [default: the one in site.toml]; saved for next time.
    #[arg(long, env = "ARMSLEDGER_TOKEN")]
    pub token: Option<String>,
    /// A C2SP tlog-policy file: after syncing, fetch the server's newest
    /// quorum-cosigned checkpoint, require the policy's quorum on it, and
    /// check that every checkpoint this site was given is in that history
    /// (a split view's notes are kept in SITE/evidence/). Exit 1 if not.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
}

/// What to do without a site token (sync and `site init --server`).
pub const NO_TOKEN_HINT: &str = "the server takes a site's entries only with that site's token: \
     pass --token TOKEN (or set ARMSLEDGER_TOKEN; it is saved in site.toml); the regulator makes it \
     with `armsledger token create --data DATA --role site:SITE`";

/// Runs `sync`.
pub fn run(a: SyncArgs) -> anyhow::Result<u8> {
    config::remember_server::<ArmouryConfig>(&a.site.dir, a.server, a.token).map_err(explain)?;
    let mut agent = open(&a.site)?;
    let Some(server) = agent.config().server.clone() else {
        bail!(
            "no server to sync with\nhint: did you forget --server? e.g. `armsledger sync --server http://HOST:8640 --token TOKEN` (it is saved in site.toml)"
        );
    };
    let Some(token) = agent.config().token.clone() else {
        bail!("no token to sync with {server}\nhint: {NO_TOKEN_HINT}");
    };
    let client = ServerClient::new(&server, Some(token));
    let r = agent.sync(&client).map_err(explain)?;
    println!(
        "pushed {} entries in {} batches; checkpoint {}; {} new regulator entries; {} new transfers in the inbox; {} persons barred",
        r.pushed,
        r.batches,
        r.checkpoint_size
            .map_or("unchanged".into(), |s| format!("size {s}")),
        r.regulator_entries,
        r.inbox_new,
        r.barred
    );
    if let Some(p) = &a.policy {
        let policy = armsledger_server::witnessing::load_policy(p)
            .map_err(|e| anyhow::anyhow!("--policy: {e}"))?;
        let receipts = agent.ledger().checkpoints()?;
        let evidence = a.site.dir.join("evidence");
        return match crate::cmd::witnessed::check_receipts(&client, &policy, &receipts, &evidence) {
            Ok(line) => {
                println!("{line}");
                Ok(0)
            }
            Err(e) => {
                eprintln!("NOT WITNESSED: {e:#}");
                Ok(crate::EXIT_NOT_AUTHENTIC)
            }
        };
    }
    Ok(0)
}
