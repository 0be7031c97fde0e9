//! Reading the regulator's server: trace, inventory, alerts, export.

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
#[derive(Debug, Args)]
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
    fn client(&self) -> ServerClient {
        ServerClient::new(&self.server, self.token.clone())
    }
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Options of `trace`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger trace \"GLK 0001\" --server http://127.0.0.1:8640 --token $TOKEN\n  armsledger trace GLK-0001 --json --view both"
)]
pub struct TraceArgs {
    /// Serial as marked (spacing and case do not matter).
    pub serial: String,
    #[command(flatten)]
    pub server: ServerArgs,
    /// corrected (default), original or both.
    #[arg(long, default_value = "corrected")]
    pub view: String,
    /// Read a verified bundle or dossier instead of the server (offline).
    #[arg(long, conflicts_with = "dossier")]
    pub bundle: Option<PathBuf>,
    /// Also download the weapon's dossier here (it verifies offline).
    #[arg(long)]
    pub dossier: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// The timeline of `serial` from a verified bundle.
fn trace_bundle(path: &std::path::Path, serial: &str, view: &str) -> anyhow::Result<Value> {
    use armsledger_core::rules::View;
    let view = if view == "original" {
        View::Original
    } else {
        View::Corrected
    };
    let loaded = crate::cmd::local::load(path, view)?;
    let state = loaded.verifier.engine().state();
    let corrections: std::collections::BTreeMap<_, _> = loaded
        .verifier
        .engine()
        .corrections()
        .map(|(a, b)| (*a, *b))
        .collect();
    let mut firearms = Vec::new();
    for f in state.find_serial(serial) {
        let subject = armsledger_core::event::Subject::Firearm(f.id);
        let timeline = armsledger_core::report::timeline(
            f.id,
            loaded
                .entries
                .iter()
                .filter(|(_, _, e)| e.body().link_for(&subject).is_some())
                .map(|(i, r, e)| (Some(*i), *r, e.as_ref())),
            &corrections,
        );
        firearms.push(serde_json::json!({
            "id": f.id.to_string(), "identity": f.identity, "site": f.site, "state": f.state.word(),
            "timeline": timeline, "proofs": timeline.events.iter().map(|_| Value::Null).collect::<Vec<_>>(),
        }));
    }
    anyhow::ensure!(
        !firearms.is_empty(),
        "no firearm with serial {serial} in {}",
        path.display()
    );
    Ok(
        serde_json::json!({"serial": serial, "firearms": firearms, "source": path.display().to_string()}),
    )
}

/// Prints a weapon's timeline.
pub fn trace(a: TraceArgs) -> anyhow::Result<u8> {
    if let Some(out) = &a.dossier {
        let path = format!("/v1/firearms/{}/dossier", enc(&a.serial));
        let mut f =
            std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
        let n = a.server.client().get_to(&path, &mut f)?;
        eprintln!(
            "dossier written to {} ({n} bytes); check it offline: armsledger verify {}",
            out.display(),
            out.display()
        );
    }
    let t: Value = match &a.bundle {
        Some(b) => trace_bundle(b, &a.serial, &a.view)?,
        None => {
            let path = format!(
                "/v1/firearms/{}/trace?view={}",
                enc(&a.serial),
                enc(&a.view)
            );
            a.server.client().get_json(&path)?
        }
    };
    if a.json {
        out::json(&t)?;
        return Ok(0);
    }
    print_trace(&t);
    Ok(0)
}

fn print_trace(t: &Value) {
    for f in t["firearms"].as_array().into_iter().flatten() {
        let id = &f["identity"];
        println!(
            "{} {} {} serial {} ({}), now {} at {}",
            id["manufacturer"].as_str().unwrap_or("?"),
            id["model"].as_str().unwrap_or("?"),
            id["calibre"].as_str().unwrap_or("?"),
            id["serial"].as_str().unwrap_or("?"),
            f["id"].as_str().unwrap_or("?"),
            f["state"].as_str().unwrap_or("?"),
            f["site"].as_str().unwrap_or("?"),
        );
        let rows = f["timeline"]["events"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                vec![
                    e["time"].as_str().unwrap_or("").to_string(),
                    e["chain"]["Site"]
                        .as_str()
                        .unwrap_or("regulator")
                        .to_string(),
                    e["officer"].as_str().unwrap_or("").to_string(),
                    format!(
                        "{}{}",
                        e["summary"].as_str().unwrap_or(""),
                        if e["corrected_by"].is_null() {
                            ""
                        } else {
                            "  [corrected]"
                        }
                    ),
                ]
            });
        println!(
            "{}",
            out::table(&["time", "chain", "officer", "event"], rows)
        );
        let complete = f["timeline"]["complete"].as_bool().unwrap_or(false);
        println!(
            "history {}; {} events, each with an inclusion proof against the checkpoint",
            if complete {
                "complete (every link continues the one before)"
            } else {
                "BROKEN: a link does not continue"
            },
            f["proofs"].as_array().map_or(0, Vec::len)
        );
    }
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
            f["detail"]
                .get("location")
                .or_else(|| f["detail"].get("to"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
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
            r["holder"].to_string(),
            r["rounds"].to_string(),
        ]
    });
    println!(
        "{}",
        out::table(&["lot", "calibre", "holder", "rounds"], rows)
    );
    Ok(0)
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
