//! The witness's commands, shared by the standalone `armsledger-witness`
//! binary and `armsledger witness` (one parser, one behaviour).

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Subcommand;

use crate::{Config, WitnessError};

/// `init` and `serve`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Creates the witness key (mode 0600, never overwritten) and prints its
    /// verifier key: give it to every log you witness and every client policy.
    #[command(
        after_help = "Example:\n  armsledger witness init --data /var/lib/witness --name witness.regulator-b.example"
    )]
    Init {
        /// The witness name (on every cosignature line), e.g. witness.regulator.example.
        #[arg(long)]
        name: String,
        /// Data directory: the key is DATA/witness.key (created if missing).
        #[arg(long, required_unless_present = "key")]
        data: Option<PathBuf>,
        /// The key file to create [default: DATA/witness.key].
        #[arg(long)]
        key: Option<PathBuf>,
    },
    /// Serves C2SP tlog-witness: POST /add-checkpoint and GET /<hex SHA-256(origin)>/checkpoint.
    #[command(
        after_help = "Example:\n  armsledger witness serve --data /var/lib/witness --listen 0.0.0.0:7380\n\nDATA/logs lists the logs to witness, one `log <verifier key>` line each (a log's\nkey is what its server publishes at GET /v1/log/key). See docs/operations.md."
    )]
    Serve {
        /// Data directory (holds witness.redb, and by default the key and the logs file).
        #[arg(long)]
        data: PathBuf,
        /// Key file [default: DATA/witness.key].
        #[arg(long)]
        key: Option<PathBuf>,
        /// Known-logs file, `log <vkey>` lines [default: DATA/logs].
        #[arg(long)]
        logs: Option<PathBuf>,
        /// Address to listen on (port 0 picks one; `listening ADDR` is printed on stdout).
        #[arg(long, default_value = "127.0.0.1:7380")]
        listen: SocketAddr,
    },
}

/// Runs one command; `serve` runs until Ctrl-C or SIGTERM.
pub fn run(command: Command) -> Result<(), WitnessError> {
    match command {
        Command::Init { name, data, key } => {
            let path = match (key, data) {
                (Some(k), _) => k,
                (None, Some(d)) => {
                    std::fs::create_dir_all(&d)
                        .map_err(|e| WitnessError::Storage(format!("{}: {e}", d.display())))?;
                    Config::new(&d).key_file
                }
                (None, None) => {
                    return Err(WitnessError::Storage(
                        "give --data DIR or --key FILE".into(),
                    ));
                }
            };
            let vkey = crate::init_key(&path, &name, &mut rand_core::OsRng)?;
            println!("{vkey}");
            Ok(())
        }
        Command::Serve {
            data,
            key,
            logs,
            listen,
        } => {
            let mut config = Config::new(&data);
            if let Some(key) = key {
                config.key_file = key;
            }
            if let Some(logs) = logs {
                config.logs_file = logs;
            }
            config.listen = listen;
            let runtime = tokio::runtime::Runtime::new().map_err(|e| WitnessError::Serve {
                addr: listen.to_string(),
                reason: e.to_string(),
            })?;
            runtime.block_on(crate::serve(config, |addr, vkey| {
                // Tests and scripts read this line to learn a picked port.
                println!("listening {addr}");
                let _ = std::io::stdout().flush();
                eprintln!("witness: serving on {addr} as {vkey}");
            }))
        }
    }
}
