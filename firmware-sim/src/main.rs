//! `armsledger-device`: manufacture simulated signing devices and serve one as
//! its own process, as an armoury's host would reach real hardware.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use armsledger_device::cli::{Cli, run};
use clap::Parser;

fn main() -> ExitCode {
    match run(Cli::parse().command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("armsledger-device: {e}");
            ExitCode::FAILURE
        }
    }
}
