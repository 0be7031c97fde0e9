//! `armsledger`: the one command armoury officers, the regulator, inspectors
//! and auditors use. See `armsledger --help` and docs/cli.md.

#![forbid(unsafe_code)]

mod cli;
mod cmd;
mod out;

use std::process::ExitCode;

use clap::Parser;

/// Exit codes: 0 success (or authentic), 1 an authenticity check failed, 2
/// usage or I/O errors.
pub const EXIT_NOT_AUTHENTIC: u8 = 1;
/// Usage or I/O error.
pub const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("ARMSLEDGER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    match cmd::run(args) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}
