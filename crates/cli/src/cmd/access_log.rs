//! `armsledger regulator access-log`: who read what on the server, filtered,
//! and whether the access log's hash chain is whole.

// `serde_json::Value`'s `Index` yields `Null` for a missing key or a
// non-object; it never panics, which is what this lint guards against.
#![allow(clippy::indexing_slicing)]

use armsledger_core::ids::Timestamp;
use clap::Args;
use serde_json::Value;

use crate::cmd::act::parse_time;
use crate::cmd::query::{ServerArgs, enc};
use crate::out;

/// Options of `regulator access-log`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  armsledger regulator access-log --subject GLK-4\n  armsledger regulator access-log --token-id 3f9a12bc --since 2026-11-01 --json\n\nExit 1 when the access log's hash chain is broken (the first broken record is named)."
)]
pub struct AccessLogArgs {
    /// Only reads by this token (its id, as `armsledger token list` shows it).
    #[arg(long = "token-id")]
    pub token_id: Option<String>,
    /// Only reads naming this serial, site, person id or other parameter.
    #[arg(long)]
    pub subject: Option<String>,
    /// Only reads at or after this time (RFC 3339 or a date).
    #[arg(long, value_parser = parse_time)]
    pub since: Option<Timestamp>,
    /// At most this many records.
    #[arg(long, default_value_t = 1000)]
    pub limit: usize,
    #[command(flatten)]
    pub server: ServerArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Prints the access log's records and its head; exit 1 if the chain is broken.
pub fn run(a: AccessLogArgs) -> anyhow::Result<u8> {
    let mut path = format!("/v1/access-log?limit={}", a.limit);
    if let Some(t) = &a.token_id {
        path.push_str(&format!("&token_id={}", enc(t)));
    }
    if let Some(s) = &a.subject {
        path.push_str(&format!("&subject={}", enc(s)));
    }
    if let Some(t) = a.since {
        path.push_str(&format!("&since_ms={}", t.millis()));
    }
    let answer: Value = a.server.client().get_json(&path)?;
    let broken = answer["broken"].as_str().map(str::to_string);
    if a.json {
        out::json(&answer)?;
    } else {
        let rows = answer["records"].as_array().into_iter().flatten().map(|r| {
            vec![
                r["seq"].to_string(),
                r["time"].as_str().unwrap_or("").to_string(),
                r["token_id"].as_str().unwrap_or("").to_string(),
                r["role"].as_str().unwrap_or("").to_string(),
                r["route"].as_str().unwrap_or("").to_string(),
                [r["subject"].as_str(), r["query"].as_str()]
                    .into_iter()
                    .flatten()
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(" "),
            ]
        });
        println!(
            "{}",
            out::table(&["#", "time", "token", "role", "route", "subject"], rows)
        );
        match (&broken, answer["head"]["size"].as_u64()) {
            (Some(b), _) => println!("access log BROKEN: {b}"),
            (None, Some(size)) => println!(
                "access log whole: {size} records, head {}",
                answer["head"]["hash"].as_str().unwrap_or("")
            ),
            (None, None) => {}
        }
    }
    Ok(if broken.is_some() {
        crate::EXIT_NOT_AUTHENTIC
    } else {
        0
    })
}
