//! `armsledger serve`.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use armsledger_server::Config;
use clap::Args;

/// Options of `serve`; anything not given comes from `--config`, then
/// `ARMSLEDGER_*` environment variables, then defaults.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger serve --data ./regulator --listen 127.0.0.1:8640 --regulator-key 3f1c…\n\nFirst start creates the log database and the log's checkpoint key in --data,\nand pins the regulator key. See docs/operations.md."
)]
pub struct ServeArgs {
    /// Data directory (log database, log key, tokens).
    #[arg(long, env = "ARMSLEDGER_DATA")]
    pub data: Option<PathBuf>,
    /// Address to listen on (loopback by default).
    #[arg(long, env = "ARMSLEDGER_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// A TOML configuration file.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The regulator chain's public key, hex (needed on first start).
    #[arg(long)]
    pub regulator_key: Option<String>,
    /// A device manufacturer root, hex (repeatable); enrolments must chain to one.
    #[arg(long = "manufacturer-root")]
    pub manufacturer_roots: Vec<String>,
    /// The log's origin name, fixed at the first start (default: chosen then,
    /// `armsledger.local/log/<8 hex digits of the new log key>`).
    #[arg(long)]
    pub origin: Option<String>,
    /// Neither load nor write rules snapshots: replay the whole log into
    /// the rules at start (the reference a snapshot is checked against).
    #[arg(long)]
    pub no_snapshot: bool,
}

/// Builds the server configuration from the arguments.
pub fn config(a: &ServeArgs) -> anyhow::Result<Config> {
    let mut c = Config::load(a.config.as_deref())?;
    if let Some(d) = &a.data {
        c.data_dir = d.clone();
    }
    if let Some(l) = a.listen {
        c.listen = l;
    }
    if let Some(k) = &a.regulator_key {
        c.regulator_key = Some(k.clone());
    }
    if !a.manufacturer_roots.is_empty() {
        c.manufacturer_roots = a.manufacturer_roots.clone();
    }
    if let Some(o) = &a.origin {
        c.origin = Some(o.clone());
    }
    if a.no_snapshot {
        c.snapshots.enabled = false;
    }
    Ok(c)
}

/// Runs the server until Ctrl-C.
pub fn run(a: ServeArgs) -> anyhow::Result<u8> {
    let c = config(&a)?;
    let data = c.data_dir.clone();
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let serving = armsledger_server::serve_with(
        c,
        armsledger_server::Clock::System,
        armsledger_console::mount,
        |addr, vkey| {
            println!("armsledger server listening on http://{addr}");
            println!(
                "inspectors' console: http://{addr}{}/",
                armsledger_console::BASE
            );
            println!("data directory: {}", data.display());
            println!("log verifier key: {vkey}");
            println!(
                "create a token: armsledger token create --data {} --role auditor",
                data.display()
            );
        },
        armsledger_server::shutdown_signal(),
    );
    rt.block_on(serving)?;
    Ok(0)
}
