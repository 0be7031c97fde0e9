//! Command implementations, one module per group.

pub mod access_log;
pub mod act;
pub mod book;
pub mod compact;
pub mod demo;
pub mod findings;
pub mod fsck;
pub mod local;
pub mod mirror;
pub mod officer;
pub mod oversight;
pub mod query;
pub mod register;
pub mod regulator;
pub mod report;
pub mod retention;
pub mod serve;
pub mod setup;
pub mod sync;
pub mod token;
pub mod trace;
pub mod trace_lot;
pub mod verify;
pub mod witnessed;

use clap::CommandFactory;

use crate::cli::{Cli, Command};

/// Runs a parsed command; returns the exit code.
pub fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Demo(a) => demo::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Mirror(a) => mirror::run(a),
        Command::Token { action } => token::run(action),
        Command::Verify(a) => verify::run(a),
        Command::Fsck(a) => fsck::run(a),
        Command::Compact(a) => compact::run(a),
        Command::Trace(a) => trace::trace(a),
        Command::Inventory(a) => query::inventory(a),
        Command::Alerts(a) => query::alerts(a),
        Command::CheckSerial(a) => register::check_serial(a),
        Command::Export(a) => query::export(a),
        Command::Findings(a) => findings::findings(a),
        Command::Book(a) => book::run(a),
        Command::Report(a) => report::run(a),
        Command::Officer(c) => officer::run(*c),
        Command::Site { action } => setup::run(action),
        Command::Sync(a) => sync::run(a),
        Command::Status(a) => setup::status(a),
        Command::Regulator { action } => regulator::run(action),
        Command::Retention { action } => retention::run(action),
        Command::Witness { action } => match armsledger_witness::cli::run(action) {
            Ok(()) => Ok(0),
            Err(e) => anyhow::bail!("witness: {e}"),
        },
        Command::Device { action } => match armsledger_device::cli::run(action) {
            Ok(()) => Ok(0),
            Err(e) => anyhow::bail!("device: {e}"),
        },
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "armsledger",
                &mut std::io::stdout(),
            );
            Ok(0)
        }
    }
}

/// Now, in ledger time.
pub fn now() -> armsledger_core::ids::Timestamp {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    armsledger_core::ids::Timestamp(u64::try_from(ms).unwrap_or(u64::MAX))
}
