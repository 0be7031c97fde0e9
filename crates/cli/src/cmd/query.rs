//! Reading the regulator's server: inventory, alerts, export (trace and
//! findings have modules of their own).

// `serde_json::Value`'s `Index` yields `Null` for a missing key or a
// non-object; it never panics, which is what this lint guards against.
#![allow(clippy::indexing_slicing)]

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use serde_json::Value;

use crate::out;
use armsledger_agents::ServerClient;

/// Where the server is and who is asking.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// The regulator's server.
    #[arg(
        long,
        env = "ARMSLEDGER_SERVER",
        default_value = "http://127.0.0.1:8640"
    )]
    pub server: String,
    /// Bearer token (regulator, auditor, company:<id> or site:<id>).
    #[arg(long, env = "ARMSLEDGER_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

impl ServerArgs {
    /// The server's client with this token.
    pub fn client(&self) -> ServerClient {
        ServerClient::new(&self.server, self.token.clone())
    }
}

/// Percent-encodes a path segment or query value.
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Options of `inventory`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  armsledger inventory --site acme-north --at 2026-06-30")]
pub struct InventoryArgs {
    /// The site.
    #[arg(long)]
    pub site: String,
    /// As of (RFC 3339 time or date); default now.
    #[arg(long)]
    pub at: Option<String>,
    #[command(flatten)]
    pub server: ServerArgs,
    /// Read a verified bundle instead of the server (offline; as of the bundle's end).
    #[arg(long, conflicts_with = "at")]
    pub bundle: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Prints a site's inventory.
pub fn inventory(a: InventoryArgs) -> anyhow::Result<u8> {
    let inv: Value = match &a.bundle {
        Some(b) => {
            let loaded = crate::cmd::local::load(b, armsledger_core::rules::View::Corrected)?;
            let site: armsledger_core::ids::SiteId = a.site.parse()?;
            serde_json::to_value(armsledger_core::report::inventory(
                loaded.verifier.engine().state(),
                &site,
                None,
            ))?
        }
        None => {
            let mut path = format!("/v1/sites/{}/inventory", enc(&a.site));
            if let Some(t) = &a.at {
                path.push_str(&format!("?at={}", enc(t)));
            }
            a.server.client().get_json(&path)?
        }
    };
    if a.json {
        out::json(&inv)?;
        return Ok(0);
    }
    let rows = inv["firearms"].as_array().into_iter().flatten().map(|f| {
        vec![
            f["serial"].as_str().unwrap_or("").to_string(),
            f["make_model"].as_str().unwrap_or("").to_string(),
            f["calibre"].as_str().unwrap_or("").to_string(),
            f["state"].as_str().unwrap_or("").to_string(),
            state_words(&f["detail"]),
        ]
    });
    println!(
        "{}",
        out::table(
            &[
                "serial",
                "make and model",
                "calibre",
                "state",
                "where / who"
            ],
            rows
        )
    );
    let rows = inv["rounds"].as_array().into_iter().flatten().map(|r| {
        vec![
            r["lot_number"].as_str().unwrap_or("").to_string(),
            r["calibre"].as_str().unwrap_or("").to_string(),
            holder_words(&r["holder"]),
            r["rounds"].to_string(),
        ]
    });
    println!(
        "{}",
        out::table(&["lot", "calibre", "holder", "rounds"], rows)
    );
    Ok(0)
}

/// Who holds rounds, in words: `in store at vault`, `with g-0012`.
fn holder_words(h: &Value) -> String {
    match (h["Store"].as_str(), h["Person"].as_str()) {
        (Some(l), _) => format!("in store at {l}"),
        (_, Some(p)) => format!("with {p}"),
        _ => h.to_string(),
    }
}

/// Where a firearm is or who holds it, in words, from its state details.
fn state_words(d: &Value) -> String {
    let w = |k: &str| d[k].as_str().unwrap_or("?").to_string();
    match d["state"].as_str().unwrap_or("") {
        "in-store" => w("location"),
        "issued" => format!("{} (due back {})", w("to"), w("due_back")),
        "in-transit" => format!("to {}", w("to_site")),
        "in-maintenance" => w("provider"),
        "disposed" => w("method").to_lowercase(),
        _ => String::new(),
    }
}

/// Options of `alerts`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  armsledger alerts --company acme --json")]
pub struct AlertsArgs {
    /// Only this site.
    #[arg(long)]
    pub site: Option<String>,
    /// Only this company.
    #[arg(long)]
    pub company: Option<String>,
    /// As of (RFC 3339 time or date); default now.
    #[arg(long)]
    pub at: Option<String>,
    #[command(flatten)]
    pub server: ServerArgs,
    /// Read a verified bundle instead of the server (offline).
    #[arg(long)]
    pub bundle: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Prints alerts.
pub fn alerts(a: AlertsArgs) -> anyhow::Result<u8> {
    let list: Value = match &a.bundle {
        Some(b) => {
            use armsledger_core::ids::Timestamp;
            let loaded = crate::cmd::local::load(b, armsledger_core::rules::View::Corrected)?;
            let at = match &a.at {
                Some(t) => Timestamp::parse(t)
                    .with_context(|| format!("--at {t}: not an RFC 3339 time or date"))?,
                None => crate::cmd::now(),
            };
            let state = loaded.verifier.engine().state();
            let all = armsledger_core::rules::alerts(
                state,
                at,
                &armsledger_core::rules::AlertPolicy::default(),
            );
            let keep: Vec<_> = all
                .into_iter()
                .filter(|x| {
                    a.site
                        .as_deref()
                        .is_none_or(|s| x.site.as_ref().is_some_and(|y| y.as_str() == s))
                })
                .filter(|x| {
                    a.company
                        .as_deref()
                        .is_none_or(|c| x.company.as_ref().is_some_and(|y| y.as_str() == c))
                })
                .collect();
            serde_json::to_value(keep)?
        }
        None => {
            let mut q = Vec::new();
            for (k, v) in [("site", &a.site), ("company", &a.company), ("at", &a.at)] {
                if let Some(v) = v {
                    q.push(format!("{k}={}", enc(v)));
                }
            }
            a.server
                .client()
                .get_json(&format!("/v1/alerts?{}", q.join("&")))?
        }
    };
    if a.json {
        out::json(&list)?;
        return Ok(0);
    }
    let rows = list.as_array().into_iter().flatten().map(|x| {
        vec![
            x["rule"].as_str().unwrap_or("").to_string(),
            x["site"].as_str().unwrap_or("").to_string(),
            x["detail"].as_str().unwrap_or("").to_string(),
        ]
    });
    println!("{}", out::table(&["alert", "site", "detail"], rows));
    Ok(0)
}

/// Options of `export`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger export --out regulator.bundle --token $TOKEN\n  armsledger verify regulator.bundle --trusted-key log.vkey"
)]
pub struct ExportArgs {
    /// Where to write the bundle.
    #[arg(long)]
    pub out: PathBuf,
    /// Only this company.
    #[arg(long)]
    pub company: Option<String>,
    /// Only this site.
    #[arg(long)]
    pub site: Option<String>,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Downloads a bundle.
pub fn export(a: ExportArgs) -> anyhow::Result<u8> {
    let mut q = Vec::new();
    for (k, v) in [("site", &a.site), ("company", &a.company)] {
        if let Some(v) = v {
            q.push(format!("{k}={}", enc(v)));
        }
    }
    let path = format!("/v1/export?{}", q.join("&"));
    let tmp = a.out.with_extension("partial");
    let mut f =
        std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let n = a.server.client().get_to(&path, &mut f)?;
    f.sync_all()?;
    std::fs::rename(&tmp, &a.out)?;
    eprintln!(
        "wrote {} ({n} bytes); check it with: armsledger verify {}",
        a.out.display(),
        a.out.display()
    );
    Ok(0)
}
