//! `armsledger verify`: offline verification of a bundle or dossier.

use std::path::PathBuf;

use anyhow::Context;
use armsledger_bundle::{VerifyOptions, default_state_path, verify_bundle};
use armsledger_log::LogVerifier;
use clap::Args;

use crate::{EXIT_NOT_AUTHENTIC, out};

/// Options of `verify`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  armsledger verify export.bundle --trusted-key regulator-log.vkey\n  armsledger verify weapon.dossier --json\n\nNo network is used. Every signature (verify_strict), chain link, counter, key\nwindow, per-weapon link and the Merkle root against the signed checkpoint are\nchecked; rule findings are reported, not fatal. The last checkpoint trusted for\nthe log is remembered (--state), and a bundle inconsistent with it is refused.\nExit 0 authentic, 1 not authentic, 2 usage or I/O error."
)]
pub struct VerifyArgs {
    /// The bundle or dossier file.
    pub bundle: PathBuf,
    /// The log's verifier key (C2SP vkey text, or a file holding it).
    #[arg(long)]
    pub trusted_key: Option<String>,
    /// Trusted-state file (default: in the user's data directory).
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Do not read or update any trusted state.
    #[arg(long, conflicts_with = "state")]
    pub no_state: bool,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Runs verify.
pub fn run(a: VerifyArgs) -> anyhow::Result<u8> {
    let trusted_key = match &a.trusted_key {
        None => None,
        Some(k) => {
            let text = match std::fs::read_to_string(k) {
                Ok(t) => t,
                Err(_) => k.clone(),
            };
            Some(
                LogVerifier::from_vkey(text.trim())
                    .with_context(|| format!("--trusted-key {k} is not a C2SP verifier key"))?,
            )
        }
    };
    let state_path = if a.no_state {
        None
    } else {
        a.state.clone().or_else(default_state_path)
    };
    let file = std::fs::File::open(&a.bundle)
        .with_context(|| format!("opening {}", a.bundle.display()))?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = (!a.json && out::interactive()).then(|| {
        let b = indicatif::ProgressBar::new(len);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} verifying {bytes}/{total_bytes} {wide_bar} {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let reader: Box<dyn std::io::Read> = match &bar {
        Some(b) => Box::new(b.wrap_read(file)),
        None => Box::new(file),
    };
    let options = VerifyOptions {
        trusted_key,
        state_path,
        ..VerifyOptions::default()
    };
    let report = verify_bundle(reader, &options)?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if a.json {
        out::json(&report)?;
    } else {
        print_report(&report);
    }
    Ok(if report.authentic {
        0
    } else {
        EXIT_NOT_AUTHENTIC
    })
}

fn print_report(r: &armsledger_bundle::Report) {
    for p in &r.problems {
        println!("NOT AUTHENTIC: {p}");
    }
    if let Some(c) = &r.checkpoint {
        println!("checkpoint: size {} root {}", c.size, c.root);
    }
    if let (Some(k), Some(src)) = (&r.trusted_key, &r.trusted_key_source) {
        println!("log key: {k} ({src:?})");
    }
    println!("chains: {}", r.chains.len());
    println!(
        "findings: {} (rule violations recorded as evidence)",
        r.findings.len()
    );
    for f in r.findings.iter().take(20) {
        println!(
            "  {:<28} {} #{}: {}",
            f.rule, f.chain, f.counter, f.evidence
        );
    }
    if r.findings.len() > 20 {
        println!("  … {} more (use --json)", r.findings.len() - 20);
    }
    for n in &r.notes {
        println!("note: {n}");
    }
    println!(
        "{} entries, {} verified: {}",
        r.entries,
        r.entries_checked,
        if r.authentic {
            "AUTHENTIC"
        } else {
            "NOT AUTHENTIC"
        }
    );
}
