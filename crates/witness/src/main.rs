//! `armsledger-witness`: a standalone C2SP witness (the `armsledger witness`
//! commands are the same, from [`armsledger_witness::cli`]), and the process
//! the crash suite kills.

use std::process::ExitCode;

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "armsledger-witness",
    about = "A C2SP tlog-witness for armsledger logs"
)]
struct Cli {
    #[command(subcommand)]
    command: armsledger_witness::cli::Command,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match armsledger_witness::cli::run(Cli::parse().command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("armsledger-witness: {e}");
            ExitCode::FAILURE
        }
    }
}
