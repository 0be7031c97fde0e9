//! `armsledger-witness`: a standalone C2SP witness (the `armsledger witness`
//! commands do the same), and the process the crash suite kills.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "armsledger-witness",
    about = "A C2SP tlog-witness for armsledger logs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Creates the witness key (mode 0600) and prints its verifier key.
    Init {
        /// The key file to create.
        #[arg(long)]
        key: PathBuf,
        /// The witness name (on every cosignature line), e.g. witness.regulator.example.
        #[arg(long)]
        name: String,
    },
    /// Serves POST /add-checkpoint and GET /<origin hash>/checkpoint.
    Serve {
        /// Data directory (holds witness.redb).
        #[arg(long)]
        data: PathBuf,
        /// Key file [default: DATA/witness.key].
        #[arg(long)]
        key: Option<PathBuf>,
        /// Known-logs file, `log <vkey>` lines [default: DATA/logs].
        #[arg(long)]
        logs: Option<PathBuf>,
        /// Address to listen on (port 0 picks one).
        #[arg(long, default_value = "127.0.0.1:7380")]
        listen: SocketAddr,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("armsledger-witness: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), armsledger_witness::WitnessError> {
    match cli.command {
        Command::Init { key, name } => {
            let vkey = armsledger_witness::init_key(&key, &name, &mut rand_core::OsRng)?;
            println!("{vkey}");
            Ok(())
        }
        Command::Serve {
            data,
            key,
            logs,
            listen,
        } => {
            let mut config = armsledger_witness::Config::new(&data);
            if let Some(key) = key {
                config.key_file = key;
            }
            if let Some(logs) = logs {
                config.logs_file = logs;
            }
            config.listen = listen;
            let runtime = tokio::runtime::Runtime::new().map_err(|e| {
                armsledger_witness::WitnessError::Serve {
                    addr: listen.to_string(),
                    reason: e.to_string(),
                }
            })?;
            runtime.block_on(armsledger_witness::serve(config, |addr, vkey| {
                // Tests and scripts read this line to learn a picked port.
                println!("listening {addr}");
                let _ = std::io::stdout().flush();
                eprintln!("armsledger-witness: serving on {addr} as {vkey}");
            }))?;
            Ok(())
        }
    }
}
