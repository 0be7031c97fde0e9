//! `armsledger trace`: one weapon cradle to grave, from the server, from a
//! verified bundle, or from a dossier downloaded and checked offline. Every
//! source is traced by core's `report::trace_firearm`, so all list the same
//! events; this module only fetches and prints.

// `serde_json::Value`'s `Index` yields `Null` for a missing key or a
// non-object; it never panics, which is what this lint guards against.
#![allow(clippy::indexing_slicing)]

use std::path::{Path, PathBuf};

use anyhow::Context;
use armsledger_core::report::{self, TraceView};
use clap::Args;
use serde_json::Value;

use crate::cmd::query::{ServerArgs, enc};
use crate::out;

/// Options of `trace`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  armsledger trace \"GLK 0001\" --server http://127.0.0.1:8640 --token $TOKEN\n  armsledger trace GLK-0001 --view both --json\n  armsledger trace GLK-0001 --bundle ledger.bundle\n  armsledger trace GLK-0001 --dossier GLK0001.dossier   (download, check offline, print)\n  armsledger trace --lot LJ-7 --held-between 2026-01-04..2026-01-08 --bundle ledger.bundle\n  armsledger trace --lot LJ-7 --dossier LJ-7.dossier   (download the lot's dossier, check offline, print)\n\nA serial a correction replaced finds the weapon too; the trace says which serial was corrected to which."
)]
pub struct TraceArgs {
    /// Serial as marked, now or before a correction (spacing and case do not matter).
    #[arg(required_unless_present = "lot")]
    pub serial: Option<String>,
    /// Trace an ammunition lot instead of a weapon: its lot number as
    /// marked (spacing and case do not matter) or its ledger id. Every
    /// movement of its rounds, the balance per holder after each, and every
    /// unexplained difference with the entry that shows it.
    #[arg(long, value_name = "LOT", conflicts_with = "serial")]
    pub lot: Option<String>,
    /// With --lot: who held rounds of the lot between two times,
    /// FROM..UNTIL (RFC 3339 times or dates, both inclusive; device times).
    #[arg(long, value_name = "FROM..UNTIL", requires = "lot")]
    pub held_between: Option<crate::cmd::trace_lot::Window>,
    #[command(flatten)]
    pub server: ServerArgs,
    /// corrected (default: corrections folded in), original (as first
    /// recorded) or both (as recorded, with each correction beside it).
    #[arg(long, default_value = "corrected")]
    pub view: TraceView,
    /// Read a bundle or a dossier instead of the server (verified offline first).
    #[arg(long, conflicts_with = "dossier")]
    pub bundle: Option<PathBuf>,
    /// Download the weapon's dossier (with --lot: the lot's) from the server
    /// to this file, check it offline, and trace from it.
    #[arg(long)]
    pub dossier: Option<PathBuf>,
    /// A C2SP tlog-policy file: the bundle's or dossier's checkpoint must
    /// carry the policy's quorum of witness cosignatures (with --bundle or --dossier).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// The trace of `serial` from a bundle or dossier, verified offline first.
fn trace_file(
    path: &Path,
    serial: &str,
    view: TraceView,
    policy: Option<&armsledger_log::Policy>,
) -> anyhow::Result<Value> {
    let loaded =
        crate::cmd::local::load_with(path, armsledger_core::rules::View::Corrected, policy)?;
    let t = report::trace(loaded.verifier.engine(), serial, view, || {
        loaded
            .entries
            .iter()
            .map(|(i, r, e)| (Some(*i), *r, e.as_ref()))
    });
    anyhow::ensure!(
        !t.firearms.is_empty(),
        "no firearm with serial {serial} (now or before a correction) in {}",
        path.display()
    );
    let mut v = serde_json::to_value(&t)?;
    v["source"] = Value::String(path.display().to_string());
    v["evidence"] = Value::String(loaded.evidence());
    Ok(v)
}

/// Prints a weapon's trace (or, with `--lot`, a lot's).
pub fn trace(a: TraceArgs) -> anyhow::Result<u8> {
    let policy = match &a.policy {
        None => None,
        Some(_) if a.bundle.is_none() && a.dossier.is_none() => anyhow::bail!(
            "--policy checks a file's checkpoint offline: add --dossier FILE (downloads the weapon's \
             dossier, written at the server's newest quorum-cosigned checkpoint) or --bundle FILE"
        ),
        Some(p) => Some(
            armsledger_server::witnessing::load_policy(p)
                .map_err(|e| anyhow::anyhow!("--policy: {e}"))?,
        ),
    };
    if let Some(lot) = &a.lot {
        return crate::cmd::trace_lot::trace_lot(&a, lot, policy.as_ref());
    }
    let Some(serial) = a.serial.as_deref() else {
        anyhow::bail!("give the weapon's serial, or --lot LOT to trace an ammunition lot");
    };
    let t: Value = if let Some(out) = &a.dossier {
        let path = format!("/v1/firearms/{}/dossier", enc(serial));
        let mut f =
            std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
        let n = a.server.client().get_to(&path, &mut f)?;
        f.sync_all()?;
        eprintln!(
            "dossier written to {} ({n} bytes); tracing from it after checking it offline",
            out.display()
        );
        trace_file(out, serial, a.view, policy.as_ref())?
    } else if let Some(b) = &a.bundle {
        trace_file(b, serial, a.view, policy.as_ref())?
    } else {
        let path = format!("/v1/firearms/{}/trace?view={}", enc(serial), a.view);
        let mut t: Value = a.server.client().get_json(&path)?;
        let size = t["checkpoint"]
            .as_str()
            .and_then(|n| n.lines().nth(1))
            .unwrap_or("?")
            .to_string();
        t["evidence"] = Value::String(format!(
            "from the server {}: it sent an inclusion proof of each event against its signed \
             checkpoint (tree size {size}), not checked here; add --dossier FILE to download \
             the weapon's dossier and check it offline",
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

pub(crate) fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

pub(crate) fn short(v: &Value) -> &str {
    s(v).get(..16).unwrap_or(s(v))
}

/// The human form of a trace (server or offline JSON alike).
/// A sealed note as the server or the file showed it: the text (quoted),
/// "sealed note 5e22bcb5", or "note erased on DATE under ORDER".
pub(crate) fn note_view(v: &Value) -> String {
    match serde_json::from_value::<armsledger_core::note::NoteView>(v.clone()) {
        Ok(n @ armsledger_core::note::NoteView::Text { .. }) => format!("\"{n}\""),
        Ok(n) => n.to_string(),
        Err(_) => "?".to_string(),
    }
}

fn render(t: &Value) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let view = s(&t["view"]);
    for f in t["firearms"].as_array().into_iter().flatten() {
        let id = &f["identity"];
        let _ = writeln!(
            o,
            "{} {} {}, serial {} (ledger id {}): now {} at {}",
            s(&id["manufacturer"]),
            s(&id["model"]),
            s(&id["calibre"]),
            s(&id["serial"]),
            short(&f["id"]),
            s(&f["state"]),
            s(&f["site"]),
        );
        for c in f["serial_changes"].as_array().into_iter().flatten() {
            let _ = writeln!(
                o,
                "serial corrected: {} → {} on {} by {}, approved by {} ({}, entry {})",
                s(&c["from"]),
                s(&c["to"]),
                s(&c["time"]),
                s(&c["officer"]),
                c["approver"].as_str().unwrap_or("nobody"),
                note_view(&c["reason"]),
                short(&c["entry"]),
            );
        }
        if f["matched_current_serial"] == Value::Bool(false) {
            let now = f["serial_changes"]
                .as_array()
                .and_then(|c| c.last())
                .map_or("?", |c| s(&c["to"]));
            let _ = writeln!(
                o,
                "you asked for {}: a serial since corrected; the weapon's serial now is {now}",
                s(&t["serial"])
            );
        }
        let custody: Vec<String> = f["custody"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| match c["until"].as_str() {
                Some(u) => format!("{} {} to {u}", s(&c["site"]), s(&c["from"])),
                None => format!("{} since {}", s(&c["site"]), s(&c["from"])),
            })
            .collect();
        if !custody.is_empty() {
            let _ = writeln!(o, "custody: {}", custody.join("; "));
        }
        let events = f["timeline"]["events"].as_array();
        let rows = events.into_iter().flatten().map(|e| {
            let mut what = s(&e["summary"]).to_string();
            if let Some(by) = e["corrected_by"].as_str() {
                match e["corrected_summary"].as_str() {
                    Some(c) => {
                        let _ =
                            write!(what, "\n  corrected by {}: {c}", by.get(..16).unwrap_or(by));
                    }
                    None => {
                        let _ = write!(what, "  [corrected by {}]", by.get(..16).unwrap_or(by));
                    }
                }
            }
            if e["link_ok"] == Value::Bool(false) {
                what.push_str("  [LINK BROKEN: does not continue the event before]");
            }
            let site = e["chain"]["Site"]
                .as_str()
                .unwrap_or("regulator")
                .to_string();
            vec![
                s(&e["time"]).to_string(),
                site,
                s(&e["officer"]).to_string(),
                what,
            ]
        });
        let _ = writeln!(
            o,
            "{}",
            out::table(&["time (device)", "site", "officer", "event"], rows)
        );
        let all = events.map_or(0, Vec::len);
        let linked = events
            .into_iter()
            .flatten()
            .filter(|e| e["linked"] == Value::Bool(true))
            .count();
        let complete = f["timeline"]["complete"].as_bool().unwrap_or(false);
        let counts = all.saturating_sub(linked);
        let _ = writeln!(
            o,
            "{all} events ({linked} of the weapon's own history, {counts} {} that saw it); history {}",
            if counts == 1 { "count" } else { "counts" },
            if complete {
                "complete: every event links to the one before"
            } else {
                "BROKEN: an event does not link to the one before"
            },
        );
    }
    if !view.is_empty() && view != "corrected" {
        let _ = writeln!(o, "view: {view}");
    }
    let _ = writeln!(o, "{}", s(&t["evidence"]));
    o
}
