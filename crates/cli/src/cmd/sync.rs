//! `armsledger sync`: push what the server has not acknowledged, pull the
//! regulator chain and transfers addressed to this site.

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
        "pushed {} entries in {} batches; checkpoint {}; {} new regulator entries; {} new transfers in the inbox",
        r.pushed,
        r.batches,
        r.checkpoint_size
            .map_or("unchanged".into(), |s| format!("size {s}")),
        r.regulator_entries,
        r.inbox_new
    );
    Ok(0)
}
