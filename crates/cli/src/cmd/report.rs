//! `armsledger report NAME`: the regulator's reports (docs/reports.md) from
//! the server (`GET /v1/reports/NAME`, scoped by the token) or offline from a
//! verified bundle, as CSV, JSON or HTML; and `report verify-return FILE
//! --bundle BUNDLE`, which recomputes a filed periodic return from a bundle.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use armsledger_core::ids::{CompanyId, SiteId, Timestamp};
use armsledger_core::rules::View;
use armsledger_reports::periodic::{self, CheckpointRef};
use armsledger_reports::{Format, Ledger, Logged, ReportName, Scope};
use clap::{Args, ValueEnum};

use crate::cmd::local::{Loaded, load};
use crate::cmd::query::{ServerArgs, enc};

/// What to run: a report, or the check of a filed return.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    /// A report.
    Report(ReportName),
    /// `verify-return FILE --bundle BUNDLE`.
    VerifyReturn,
}

fn parse_choice(s: &str) -> Result<Choice, String> {
    if s == "verify-return" {
        return Ok(Choice::VerifyReturn);
    }
    s.parse().map(Choice::Report).map_err(|e| format!("{e}"))
}

fn parse_time(s: &str) -> Result<Timestamp, String> {
    Timestamp::parse(s).ok_or_else(|| format!("{s:?} is not an RFC 3339 time or a date"))
}

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Comma-separated values with a header row.
    Csv,
    /// JSON (a periodic return: the filed return that verify-return checks).
    Json,
    /// A printable HTML page.
    Html,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Csv => Format::Csv,
            FormatArg::Json => Format::Json,
            FormatArg::Html => Format::Html,
        }
    }
}

/// Options of `report`.
#[derive(Debug, Args)]
#[command(after_help = "Reports (columns in docs/reports.md):
  issues      issue register: every issue and its return, open and overdue
  counts      counts and their discrepancies, with how each was settled
  losses      loss register, hours from discovery to report, references, recoveries
  expiries    licences, permits, qualifications, company licences at 30/60/90 days
  transfers   transfers with quantities, what is missing, status and age
  disposals   disposal certificates: method, order, certificate, witnesses
  personnel   overrides and rule findings by person
  access      armoury openings, closings and key hand-overs
  summary     the regulator's summary, one row per company
  return      periodic return of one site for --from..--to (JSON: the file to file)

Examples:
  armsledger report issues --site acme-north --from 2026-01-01 --to 2026-02-01 --bundle ledger.bundle
  armsledger report summary --format html --out summary.html --server http://127.0.0.1:8640 --token $TOKEN
  armsledger report return --site acme-north --from 2026-01-01 --to 2026-04-01 --format json --out q1.json --bundle ledger.bundle
  armsledger report verify-return q1.json --bundle ledger.bundle

verify-return exits 1 and names each figure that differs when the return does not follow from the bundle.")]
pub struct ReportArgs {
    /// The report (see below), or verify-return.
    #[arg(value_name = "NAME", value_parser = parse_choice)]
    pub name: Choice,
    /// With verify-return: the filed return (JSON) to check.
    #[arg(value_name = "RETURN")]
    pub file: Option<PathBuf>,
    /// Only this site (required for return).
    #[arg(long)]
    pub site: Option<SiteId>,
    /// Only this company.
    #[arg(long)]
    pub company: Option<CompanyId>,
    /// Acts at or after this time (RFC 3339 time or date; device time of the act).
    #[arg(long, value_parser = parse_time)]
    pub from: Option<Timestamp>,
    /// Acts before this time.
    #[arg(long, value_parser = parse_time)]
    pub to: Option<Timestamp>,
    /// "Now" for overdue, age, alert and expiry figures (default: now).
    #[arg(long, value_parser = parse_time)]
    pub at: Option<Timestamp>,
    /// csv, json or html.
    #[arg(long, value_enum, default_value = "csv")]
    pub format: FormatArg,
    /// Write here instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Read a bundle instead of the server (verified offline first).
    #[arg(long)]
    pub bundle: Option<PathBuf>,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Runs `report`.
pub fn run(a: ReportArgs) -> anyhow::Result<u8> {
    match a.name {
        Choice::VerifyReturn => verify_return(&a),
        Choice::Report(name) => {
            let bytes = match &a.bundle {
                Some(path) => offline(&a, name, path)?,
                None => online(&a, name)?,
            };
            write(&a.out, &bytes)?;
            Ok(0)
        }
    }
}

fn write(out: &Option<PathBuf>, bytes: &[u8]) -> anyhow::Result<()> {
    match out {
        Some(p) => {
            std::fs::write(p, bytes).with_context(|| format!("writing {}", p.display()))?;
            eprintln!("wrote {}", p.display());
        }
        None => {
            let mut o = std::io::stdout().lock();
            match o.write_all(bytes) {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                r => r?,
            }
        }
    }
    Ok(())
}

fn online(a: &ReportArgs, name: ReportName) -> anyhow::Result<Vec<u8>> {
    let mut q = vec![format!(
        "format={}",
        match a.format {
            FormatArg::Csv => "csv",
            FormatArg::Json => "json",
            FormatArg::Html => "html",
        }
    )];
    if let Some(s) = &a.site {
        q.push(format!("site={}", enc(s.as_str())));
    }
    if let Some(c) = &a.company {
        q.push(format!("company={}", enc(c.as_str())));
    }
    for (k, t) in [("from", a.from), ("to", a.to), ("at", a.at)] {
        if let Some(t) = t {
            q.push(format!("{k}={}", enc(&t.rfc3339())));
        }
    }
    let path = format!("/v1/reports/{}?{}", name.name(), q.join("&"));
    let mut out = Vec::new();
    a.server
        .client()
        .get_to(&path, &mut out)
        .with_context(|| format!("GET {path} (or read a bundle offline with --bundle FILE)"))?;
    Ok(out)
}

/// The loaded bundle as the reports read it.
fn ledger(loaded: &Loaded) -> anyhow::Result<Ledger<'_>> {
    let checkpoint = match (loaded.checkpoint_size, &loaded.checkpoint_root) {
        (Some(size), Some(root)) => Some(CheckpointRef {
            size,
            root: root
                .parse()
                .map_err(|e| anyhow::anyhow!("checkpoint root {root}: {e}"))?,
        }),
        _ => None,
    };
    Ok(Ledger {
        state: loaded.verifier.engine().state(),
        findings: loaded.verifier.engine().findings(),
        entries: loaded
            .entries
            .iter()
            .map(|(index, received_at, e)| Logged {
                index: *index,
                received_at: *received_at,
                entry: e,
            })
            .collect(),
        checkpoint,
        extra_alerts: Vec::new(),
    })
}

fn offline(a: &ReportArgs, name: ReportName, path: &Path) -> anyhow::Result<Vec<u8>> {
    let loaded = load(path, View::Corrected)?;
    eprintln!("{}: {}", path.display(), loaded.evidence());
    let ledger = ledger(&loaded)?;
    let scope = Scope {
        site: a.site.clone(),
        company: a.company.clone(),
        from: a.from,
        to: a.to,
        now: a.at.unwrap_or_else(crate::cmd::now),
        ..Scope::default()
    };
    Ok(armsledger_reports::produce(
        name,
        &ledger,
        &scope,
        a.format.into(),
    )?)
}

fn verify_return(a: &ReportArgs) -> anyhow::Result<u8> {
    let Some(file) = &a.file else {
        bail!(
            "verify-return needs the filed return: armsledger report verify-return RETURN.json --bundle BUNDLE"
        );
    };
    let Some(bundle) = &a.bundle else {
        bail!(
            "verify-return checks offline against a bundle: add --bundle BUNDLE (armsledger export writes one)"
        );
    };
    let meta = std::fs::metadata(file).with_context(|| format!("reading {}", file.display()))?;
    if meta.len() > periodic::MAX_RETURN_BYTES as u64 {
        bail!(
            "{} is {} bytes, over the {}-byte limit of a filed return",
            file.display(),
            meta.len(),
            periodic::MAX_RETURN_BYTES
        );
    }
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let filed = periodic::parse(&bytes).with_context(|| file.display().to_string())?;
    let loaded = load(bundle, View::Corrected)?;
    let ledger = ledger(&loaded)?;
    let check = periodic::verify(&filed, &ledger)?;
    if a.format == FormatArg::Json {
        let mut v = serde_json::to_vec_pretty(&check)?;
        v.push(b'\n');
        write(&a.out, &v)?;
    } else {
        let mut s = String::new();
        let r = &filed.body;
        s.push_str(&format!(
            "return of site {} for {} to {}, chain entries {} to {} below checkpoint size {}\n",
            r.site, r.from, r.to, r.chain.first, r.chain.last, r.checkpoint.size
        ));
        s.push_str(&format!("bundle: {}\n", loaded.evidence()));
        s.push_str(&format!("checkpoint: {}\n", check.checkpoint));
        s.push_str(if check.hash_matches {
            "hash: matches the filed figures\n"
        } else {
            "hash: DOES NOT match the filed figures (a figure was changed after the return was computed)\n"
        });
        for d in &check.differences {
            s.push_str(&format!("DIFFERS {d}\n"));
        }
        s.push_str(if check.ok {
            "FOLLOWS FROM THE LEDGER: every figure recomputed from the bundle is the filed one\n"
        } else {
            "DOES NOT FOLLOW FROM THE LEDGER\n"
        });
        write(&a.out, s.as_bytes())?;
    }
    Ok(if check.ok { 0 } else { 1 })
}
