//! `armsledger token create|list|revoke`: works on the server's data
//! directory directly (the server picks changes up while running).

use std::path::PathBuf;

use armsledger_server::tokens::{Role, TokenStore};
use clap::Subcommand;

use crate::out;

/// Token actions.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it once.
    #[command(
        after_help = "Example:\n  armsledger token create --data ./regulator --role company:acme --label \"ACME compliance\""
    )]
    Create {
        /// Server data directory.
        #[arg(long, env = "ARMSLEDGER_DATA", default_value = "armsledger-data")]
        data: PathBuf,
        /// regulator, auditor, police, company:<id> or site:<id> (docs/api.md, "Access").
        #[arg(long)]
        role: Role,
        /// A label for people.
        #[arg(long, default_value = "")]
        label: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List tokens (never their secrets).
    List {
        /// Server data directory.
        #[arg(long, env = "ARMSLEDGER_DATA", default_value = "armsledger-data")]
        data: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by id.
    Revoke {
        /// Token id (from `token list`).
        id: String,
        /// Server data directory.
        #[arg(long, env = "ARMSLEDGER_DATA", default_value = "armsledger-data")]
        data: PathBuf,
    },
}

/// Runs a token action.
pub fn run(c: TokenCommand) -> anyhow::Result<u8> {
    match c {
        TokenCommand::Create {
            data,
            role,
            label,
            json,
        } => {
            let store = TokenStore::in_data_dir(&data);
            let (token, rec) = store.create(role, &label, super::now())?;
            if json {
                out::json(&serde_json::json!({"token": token, "record": rec}))?;
            } else {
                println!("{token}");
                eprintln!(
                    "token {} for role {} created; it is shown only now",
                    rec.id, rec.role
                );
            }
        }
        TokenCommand::List { data, json } => {
            let list = TokenStore::in_data_dir(&data).list()?;
            if json {
                out::json(&list)?;
            } else {
                let rows = list.iter().map(|r| {
                    vec![
                        r.id.clone(),
                        r.role.to_string(),
                        r.label.clone(),
                        r.created_at.to_string(),
                        r.revoked_at
                            .map_or("active".into(), |t| format!("revoked {t}")),
                    ]
                });
                println!(
                    "{}",
                    out::table(&["id", "role", "label", "created", "status"], rows)
                );
            }
        }
        TokenCommand::Revoke { id, data } => {
            let r = TokenStore::in_data_dir(&data).revoke(&id, super::now())?;
            println!("revoked {} ({})", r.id, r.role);
        }
    }
    Ok(0)
}
