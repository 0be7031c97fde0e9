//! `armsledger trace --lot LOT`: an ammunition lot's movements across sites
//! and companies, from the server or from a bundle verified offline. Both
//! are traced by core's `report::trace_lot`, so both list the same acts
//! with the same balances; this module only fetches and prints.

// `serde_json::Value`'s `Index` yields `Null` for a missing key or a
// non-object; it never panics, which is what this lint guards against.
#![allow(clippy::indexing_slicing)]

use std::fmt::Write as _;
use std::path::Path;
use std::str::FromStr;

use anyhow::Context as _;
use armsledger_core::ids::Timestamp;
use armsledger_core::report::{self, TraceView};
use serde_json::Value;

use crate::cmd::query::enc;
use crate::cmd::trace::{TraceArgs, s, short};
use crate::out;

/// A `FROM..UNTIL` window of `--held-between`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// From (inclusive).
    pub from: Timestamp,
    /// Until (inclusive).
    pub until: Timestamp,
}

impl FromStr for Window {
    type Err = String;
    fn from_str(w: &str) -> Result<Self, String> {
        let Some((from, until)) = w.split_once("..") else {
            return Err(format!(
                "{w:?} is not FROM..UNTIL (e.g. 2026-01-04..2026-01-08T12:00:00Z)"
            ));
        };
        let parse = |t: &str| {
            Timestamp::parse(t.trim())
                .ok_or_else(|| format!("{t:?} is not an RFC 3339 time or a date"))
        };
        let (from, until) = (parse(from)?, parse(until)?);
        if until < from {
            return Err(format!(
                "the window ends ({until}) before it starts ({from})"
            ));
        }
        Ok(Window { from, until })
    }
}

/// The trace of `lot` from a bundle, verified offline first.
fn from_file(
    path: &Path,
    lot: &str,
    view: TraceView,
    window: Option<Window>,
    policy: Option<&armsledger_log::Policy>,
) -> anyhow::Result<Value> {
    let loaded =
        crate::cmd::local::load_with(path, armsledger_core::rules::View::Corrected, policy)?;
    let mut t = report::trace_lots(loaded.verifier.engine(), lot, view, || {
        loaded
            .entries
            .iter()
            .map(|(i, r, e)| (Some(*i), *r, e.as_ref()))
    });
    anyhow::ensure!(
        !t.lots.is_empty(),
        "no ammunition lot {lot} in {} (give the lot number as marked, or the lot's ledger id)",
        path.display()
    );
    if let Some(w) = window {
        for l in &mut t.lots {
            l.window(w.from, w.until);
        }
    }
    let mut v = serde_json::to_value(&t)?;
    v["source"] = Value::String(path.display().to_string());
    v["evidence"] = Value::String(loaded.evidence());
    Ok(v)
}

/// Prints a lot's trace.
pub fn trace_lot(
    a: &TraceArgs,
    lot: &str,
    policy: Option<&armsledger_log::Policy>,
) -> anyhow::Result<u8> {
    let t = if let Some(out) = &a.dossier {
        let path = format!("/v1/lots/{}/dossier", enc(lot));
        let mut f =
            std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
        let n = a.server.client().get_to(&path, &mut f)?;
        f.sync_all()?;
        eprintln!(
            "lot dossier written to {} ({n} bytes); tracing from it after checking it offline",
            out.display()
        );
        from_file(out, lot, a.view, a.held_between, policy)?
    } else if let Some(b) = &a.bundle {
        from_file(b, lot, a.view, a.held_between, policy)?
    } else {
        let mut path = format!("/v1/lots/{}/trace?view={}", enc(lot), a.view);
        if let Some(w) = a.held_between {
            let _ = write!(
                path,
                "&held_from={}&held_until={}",
                enc(&w.from.to_string()),
                enc(&w.until.to_string())
            );
        }
        let mut t: Value = a.server.client().get_json(&path)?;
        let size = t["checkpoint"]
            .as_str()
            .and_then(|n| n.lines().nth(1))
            .unwrap_or("?")
            .to_string();
        t["evidence"] = Value::String(format!(
            "from the server {}: it sent an inclusion proof of each act against its signed \
             checkpoint (tree size {size}), not checked here; add --dossier FILE to download \
             the lot's dossier and check the acts offline",
            a.server.server
        ));
        t
    };
    if a.json {
        out::json(&t)?;
        return Ok(0);
    }
    print!("{}", render(&t));
    Ok(0)
}

/// A holder in words, from its JSON: `north in store at vault`.
fn holder(h: &Value) -> String {
    let who = &h["holder"];
    let what = match s(&who["kind"]) {
        "store" => format!("in store at {}", s(&who["location"])),
        "person" => format!("with {}", s(&who["person"])),
        "in-transit" => format!("in transit to {}", s(&who["to_site"])),
        other => other.to_string(),
    };
    format!("{} {what}", s(&h["site"]))
}

fn issues(h: &Value) -> String {
    let list: Vec<&str> = h["issues"]
        .as_array()
        .into_iter()
        .flatten()
        .map(short)
        .collect();
    if list.is_empty() {
        String::new()
    } else {
        format!(" under issue {}", list.join(", "))
    }
}

fn flag(f: &Value) -> String {
    format!(
        "DIFFERENCE at {}: expected {}, found {}{} (entry {}){}",
        s(&f["site"]),
        f["expected"],
        f["found"],
        f["person"]
            .as_str()
            .map_or(String::new(), |p| format!(", answerable {p}")),
        short(&f["entry"]),
        match f["resolved_by"].as_str() {
            Some(r) => format!(", settled by {}", r.get(..16).unwrap_or(r)),
            None => ", not settled".to_string(),
        }
    )
}

/// The human form of a lot trace (server or offline JSON alike).
fn render(t: &Value) -> String {
    let mut o = String::new();
    for l in t["lots"].as_array().into_iter().flatten() {
        let id = &l["identity"];
        let _ = writeln!(
            o,
            "lot {} of {}, {} {} (ledger id {})",
            s(&id["lot_number"]),
            s(&id["manufacturer"]),
            s(&id["calibre"]),
            id["year"]
                .as_u64()
                .map_or(String::new(), |y| format!("made {y}")),
            short(&l["lot"]),
        );
        for r in l["receipts"].as_array().into_iter().flatten() {
            let _ = writeln!(
                o,
                "received {} rounds at {} on {} from {} into {} (entry {})",
                r["rounds"],
                s(&r["site"]),
                s(&r["time"]),
                s(&r["source"]),
                s(&r["location"]),
                short(&r["entry"]),
            );
        }
        let steps = l["steps"].as_array();
        let rows = steps.into_iter().flatten().map(|e| {
            let mut what = s(&e["summary"]).to_string();
            if let Some(i) = e["incident"].as_str()
                && !what.contains(i)
            {
                let _ = write!(what, " (incident {i})");
            }
            if let Some(n) = e["counted"].as_u64() {
                let _ = write!(what, "\n  {n} rounds of the lot counted");
            }
            for c in e["changes"].as_array().into_iter().flatten() {
                let _ = write!(what, "\n  {}: {} → {}", holder(c), c["before"], c["after"]);
            }
            for f in e["flags"].as_array().into_iter().flatten() {
                let _ = write!(what, "\n  {}", flag(f));
            }
            if e["link_ok"] == Value::Bool(false) {
                what.push_str("\n  [LINK BROKEN: does not continue the site's act before]");
            }
            vec![
                s(&e["time"]).to_string(),
                e["chain"]["Site"]
                    .as_str()
                    .unwrap_or("regulator")
                    .to_string(),
                s(&e["officer"]).to_string(),
                what,
            ]
        });
        let _ = writeln!(
            o,
            "{}",
            out::table(
                &["time (device)", "site", "officer", "act and rounds moved"],
                rows
            )
        );
        let now: Vec<String> = l["balances"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|h| format!("{} {}{}", holder(h), h["rounds"], issues(h)))
            .collect();
        let _ = writeln!(
            o,
            "now: {}",
            if now.is_empty() {
                "no rounds held".to_string()
            } else {
                now.join("; ")
            }
        );
        let flags = l["flags"].as_array().map_or(0, Vec::len);
        let _ = writeln!(
            o,
            "{} {}",
            flags,
            if flags == 1 {
                "unexplained difference"
            } else {
                "unexplained differences"
            }
        );
        if let Some(w) = l.get("held_between") {
            let _ = writeln!(
                o,
                "held rounds of the lot between {} and {}:",
                s(&w["from"]),
                s(&w["until"])
            );
            let holders = w["holders"].as_array();
            if holders.is_none_or(|h| h.is_empty()) {
                let _ = writeln!(o, "  nobody");
            }
            for h in holders.into_iter().flatten() {
                let _ = writeln!(
                    o,
                    "  {}: {} at the start, at most {}, {} at the end{}",
                    holder(h),
                    h["at_start"],
                    h["most"],
                    h["at_end"],
                    issues(h)
                );
            }
        }
        let n = steps.map_or(0, Vec::len);
        let _ = writeln!(
            o,
            "{n} acts; history {}",
            if l["complete"].as_bool().unwrap_or(false) {
                "complete: every site's act on the lot links to the one before"
            } else {
                "BROKEN: an act does not link to the one before"
            }
        );
    }
    let _ = writeln!(o, "{}", s(&t["evidence"]));
    o
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_window_parses_and_a_bad_one_says_why() {
        let w: Window = "2026-01-04..2026-01-08T12:00:00Z".parse().unwrap();
        assert_eq!(w.from, Timestamp::parse("2026-01-04").unwrap());
        assert_eq!(w.until, Timestamp::parse("2026-01-08T12:00:00Z").unwrap());
        assert!(
            "2026-01-04"
                .parse::<Window>()
                .unwrap_err()
                .contains("FROM..UNTIL")
        );
        assert!(
            "2026-01-08..2026-01-04"
                .parse::<Window>()
                .unwrap_err()
                .contains("before")
        );
        assert!(
            "soon..later"
                .parse::<Window>()
                .unwrap_err()
                .contains("not an RFC 3339")
        );
    }
}
