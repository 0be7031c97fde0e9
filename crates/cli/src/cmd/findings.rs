//! `armsledger findings`: hard-rule findings recorded against validly signed
//! entries, from the server (`GET /v1/findings`) or from a verified bundle,
//! with the same filters either way.

// `serde_json::Value`'s `Index` yields `Null` for a missing key or a
// non-object; it never panics, which is what this lint guards against.
#![allow(clippy::indexing_slicing)]

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::Context;
use armsledger_core::entry::ChainId;
use armsledger_core::ids::Timestamp;
use armsledger_core::rules::RuleId;
use clap::Args;
use serde_json::Value;

use crate::cmd::query::{ServerArgs, enc};
use crate::out;

/// Options of `findings`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  armsledger findings --company acme --since 2026-01-01\n  armsledger findings --rule qualification-current --overridden false --json\n  armsledger findings --site acme-north --bundle ledger.bundle\n\nRules are named as in docs/rules.md (kebab-case). Times are device times of the act."
)]
pub struct FindingsArgs {
    /// Only this site.
    #[arg(long)]
    pub site: Option<String>,
    /// Only this company.
    #[arg(long)]
    pub company: Option<String>,
    /// Only this rule (e.g. qualification-current).
    #[arg(long, value_parser = parse_rule)]
    pub rule: Option<RuleId>,
    /// Only acts at or after this time (RFC 3339 time or date).
    #[arg(long, value_parser = parse_time)]
    pub since: Option<Timestamp>,
    /// Only acts before this time (RFC 3339 time or date).
    #[arg(long, value_parser = parse_time)]
    pub until: Option<Timestamp>,
    /// true: only findings a second person's override authorised; false: only the others.
    #[arg(long)]
    pub overridden: Option<bool>,
    #[command(flatten)]
    pub server: ServerArgs,
    /// Read a bundle instead of the server (verified offline first; the
    /// findings are recomputed from its entries).
    #[arg(long)]
    pub bundle: Option<PathBuf>,
    /// Print JSON: `[{"index": N, "finding": {...}}]`, as the API gives it.
    #[arg(long)]
    pub json: bool,
}

fn parse_rule(s: &str) -> Result<RuleId, String> {
    RuleId::from_name(s).ok_or_else(|| {
        format!("no rule named {s:?}; the rules are listed in docs/rules.md (e.g. qualification-current)")
    })
}

fn parse_time(s: &str) -> Result<Timestamp, String> {
    Timestamp::parse(s).ok_or_else(|| format!("{s:?} is not an RFC 3339 time or a date"))
}

/// Findings from a verified bundle, filtered like the server filters them.
fn from_bundle(a: &FindingsArgs, path: &std::path::Path) -> anyhow::Result<Value> {
    let loaded = crate::cmd::local::load(path, armsledger_core::rules::View::Corrected)?;
    let index: HashMap<_, _> = loaded
        .entries
        .iter()
        .map(|(i, _, e)| (e.hash(), *i))
        .collect();
    let state = loaded.verifier.engine().state();
    let mut out = Vec::new();
    for f in loaded.verifier.engine().findings() {
        let site = match &f.chain {
            ChainId::Site(s) => Some(s),
            ChainId::Regulator => None,
        };
        let company = site.and_then(|s| state.company_of(s));
        let keep = a
            .site
            .as_deref()
            .is_none_or(|s| site.is_some_and(|x| x.as_str() == s))
            && a.company
                .as_deref()
                .is_none_or(|c| company.is_some_and(|x| x.as_str() == c))
            && a.rule.is_none_or(|r| f.rule == r)
            && a.since.is_none_or(|t| f.time >= t)
            && a.until.is_none_or(|t| f.time < t)
            && a.overridden.is_none_or(|o| f.overridden_by.is_some() == o);
        if keep {
            out.push(serde_json::json!({
                "index": index.get(&f.entry),
                "finding": f,
            }));
        }
    }
    Ok(Value::Array(out))
}

/// Prints findings.
pub fn findings(a: FindingsArgs) -> anyhow::Result<u8> {
    let list = match &a.bundle {
        Some(b) => from_bundle(&a, b)?,
        None => {
            let mut q = Vec::new();
            for (k, v) in [("site", &a.site), ("company", &a.company)] {
                if let Some(v) = v {
                    q.push(format!("{k}={}", enc(v)));
                }
            }
            if let Some(r) = a.rule {
                q.push(format!("rule={}", r.name()));
            }
            if let Some(t) = a.since {
                q.push(format!("since={}", enc(&t.rfc3339())));
            }
            if let Some(t) = a.until {
                q.push(format!("until={}", enc(&t.rfc3339())));
            }
            if let Some(o) = a.overridden {
                q.push(format!("overridden={o}"));
            }
            a.server
                .client()
                .get_json(&format!("/v1/findings?{}", q.join("&")))
                .context("reading findings")?
        }
    };
    if a.json {
        out::json(&list)?;
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = list
        .as_array()
        .into_iter()
        .flatten()
        .map(|x| {
            let f = &x["finding"];
            let site = f["chain"]["Site"].as_str().unwrap_or("regulator");
            vec![
                f["time"].as_str().unwrap_or("").to_string(),
                site.to_string(),
                f["rule"].as_str().unwrap_or("").to_string(),
                f["kind"].as_str().unwrap_or("").to_string(),
                match f["overridden_by"].as_str() {
                    Some(h) => format!("overridden by {}", h.get(..16).unwrap_or(h)),
                    None => "no".to_string(),
                },
                f["evidence"].as_str().unwrap_or("").to_string(),
            ]
        })
        .collect();
    let n = rows.len();
    println!(
        "{}",
        out::table(
            &[
                "time (device)",
                "site",
                "rule",
                "act",
                "override",
                "what the ledger shows"
            ],
            rows
        )
    );
    println!("{n} {}", if n == 1 { "finding" } else { "findings" });
    Ok(0)
}
