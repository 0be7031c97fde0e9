//! `armsledger book`: the acquisition and disposition book of one site in the
//! regulator's column layout (ATF-style bound book), chronological by
//! acquisition, in the original, corrected or both views, with a separate
//! corrections report. Built from a verified bundle.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;
use armsledger_core::entry::{ChainId, SignedEntry};
use armsledger_core::event::{Event, SiteEvent};
use armsledger_core::hash::Hash;
use armsledger_core::ids::SiteId;
use armsledger_core::model::{DisposalMethod, FirearmId, FirearmIdentity, Item};
use armsledger_core::report::summarise;
use armsledger_core::rules::View;
use clap::{Args, ValueEnum};

use crate::cmd::local::{Loaded, load};
use crate::cmd::query::ServerArgs;

/// Which view of corrected history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BookView {
    /// As first recorded.
    Original,
    /// With corrections folded in.
    Corrected,
    /// Both, side by side.
    Both,
}

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BookFormat {
    /// Comma-separated values.
    Csv,
    /// A printable HTML page.
    Html,
}

/// Options of `book`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  armsledger book --site acme-north --bundle ledger.bundle --format html --out book.html\n  armsledger book --site acme-north --view both --server http://127.0.0.1:8640 --token $TOKEN\n\nThe corrections report (every correction: when, what it supersedes, why, who approved)\nis printed after the book, or written to --corrections FILE."
)]
pub struct BookArgs {
    /// The site.
    #[arg(long)]
    pub site: SiteId,
    /// original, corrected or both.
    #[arg(long, value_enum, default_value = "corrected")]
    pub view: BookView,
    /// csv or html.
    #[arg(long, value_enum, default_value = "csv")]
    pub format: BookFormat,
    /// Read a bundle instead of the server.
    #[arg(long)]
    pub bundle: Option<PathBuf>,
    #[command(flatten)]
    pub server: ServerArgs,
    /// Write the book here instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write the corrections report here (same format; default with --out:
    /// beside the book, e.g. book.corrections.html).
    #[arg(long)]
    pub corrections: Option<PathBuf>,
}

const COLUMNS: &[&str] = &[
    "acquired",
    "entry",
    "received from",
    "source licence",
    "manufacturer",
    "importer",
    "model",
    "serial",
    "type",
    "calibre",
    "disposed",
    "disposed to",
    "disposition entry",
];

fn identity_cells(id: &FirearmIdentity) -> Vec<String> {
    vec![
        id.manufacturer.to_string(),
        id.importer
            .as_ref()
            .map(|i| i.to_string())
            .unwrap_or_default(),
        id.model.to_string(),
        id.serial.to_string(),
        format!("{:?}", id.kind),
        id.calibre.to_string(),
    ]
}

struct Row {
    acquired: String,
    entry: u64,
    from: String,
    licence: String,
    firearm: FirearmId,
    original: FirearmIdentity,
    disposed: String,
    to: String,
    disposal_entry: String,
}

/// Each entry's counter by its hash, to name an entry the way the book does.
fn counters(loaded: &Loaded) -> BTreeMap<Hash, u64> {
    loaded
        .entries
        .iter()
        .map(|(_, _, e)| (e.hash(), e.counter()))
        .collect()
}

/// A referenced entry by its counter, or its short hash when it is not in
/// the bundle.
fn entry_name(counters: &BTreeMap<Hash, u64>, h: &Hash) -> String {
    counters.get(h).map_or_else(|| h.short(), |c| c.to_string())
}

/// The book: one line per stay of a firearm at the site, opened by an
/// acquisition, a transfer in or a recovery (a lost, stolen or seized
/// firearm back in the armoury starts a new line that names the entry it
/// closes), and closed in the disposition columns by a transfer out, a
/// destruction or deactivation (with its certificate), a loss, a seizure or
/// a departure from the ledger (sold to a dealer, handed to a licensee,
/// returned to a lessor, surrendered to the police, exported).
fn rows(loaded: &Loaded, site: &SiteId) -> Vec<Row> {
    let chain = ChainId::Site(site.clone());
    let counters = counters(loaded);
    let mut out: Vec<Row> = Vec::new();
    let mut open: BTreeMap<FirearmId, usize> = BTreeMap::new();
    let identity_at_transfer = |f: &FirearmId| {
        loaded
            .verifier
            .engine()
            .state()
            .firearms
            .get(f)
            .map(|r| r.identity.clone())
    };
    for (_, _, e) in &loaded.entries {
        let Event::Site(ev) = &e.body().event else {
            continue;
        };
        if e.chain() != &chain {
            continue;
        }
        let time = e.header().device_time.to_string();
        let mut acquire = |f: FirearmId,
                           id: Option<FirearmIdentity>,
                           from: String,
                           licence: String,
                           e: &SignedEntry| {
            if let Some(id) = id {
                open.insert(f, out.len());
                out.push(Row {
                    acquired: time.clone(),
                    entry: e.counter(),
                    from,
                    licence,
                    firearm: f,
                    original: id,
                    disposed: String::new(),
                    to: String::new(),
                    disposal_entry: String::new(),
                });
            }
        };
        match ev {
            SiteEvent::FirearmAcquired {
                firearm,
                identity,
                source,
                ..
            } => acquire(
                *firearm,
                Some(identity.clone()),
                source.name.to_string(),
                source
                    .licence
                    .as_ref()
                    .map(|l| l.to_string())
                    .unwrap_or_default(),
                e,
            ),
            SiteEvent::TransferredIn {
                transfer, firearms, ..
            } => {
                for f in firearms {
                    acquire(
                        *f,
                        identity_at_transfer(f),
                        format!("transfer from site {}", transfer.site),
                        String::new(),
                        e,
                    );
                }
            }
            SiteEvent::Recovered {
                firearm, report, ..
            } => acquire(
                *firearm,
                identity_at_transfer(firearm),
                format!(
                    "{}; closes entry {}",
                    summarise(ev),
                    entry_name(&counters, report)
                ),
                String::new(),
                e,
            ),
            _ => {}
        }
        let dispositions: Vec<(FirearmId, String)> = match ev {
            SiteEvent::TransferredOut {
                firearms,
                to_site,
                to_company,
                permit,
                ..
            } => firearms
                .iter()
                .map(|f| {
                    (
                        *f,
                        format!("{to_company} site {to_site} under {}", permit.number),
                    )
                })
                .collect(),
            SiteEvent::Disposed {
                item: Item::Firearm(f),
                method,
                place,
                authorisation,
                certificate,
                ..
            } => {
                let mut to = format!("{method:?} at {place} under {}", authorisation.number);
                if *method == DisposalMethod::Deactivated {
                    to.push_str(&format!(
                        "; certificate {}",
                        certificate
                            .as_ref()
                            .map_or("—".to_string(), |c| c.number.to_string())
                    ));
                }
                vec![(*f, to)]
            }
            SiteEvent::Seized { firearm, .. } => vec![(*firearm, summarise(ev))],
            SiteEvent::LeftLedger {
                item: Item::Firearm(f),
                ..
            } => vec![(*f, summarise(ev))],
            SiteEvent::LossReported {
                items,
                kind,
                police_ref,
                ..
            } => items
                .iter()
                .filter_map(|i| match i {
                    Item::Firearm(f) => Some((
                        *f,
                        format!(
                            "{kind:?}; police {}",
                            police_ref
                                .as_ref()
                                .map_or("—".to_string(), |r| r.to_string())
                        ),
                    )),
                    Item::Rounds(_) => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        for (f, to) in dispositions {
            if let Some(r) = open.remove(&f).and_then(|i| out.get_mut(i)) {
                r.disposed = time.clone();
                r.to = to;
                r.disposal_entry = e.counter().to_string();
            }
        }
    }
    out
}

fn corrections(loaded: &Loaded, site: &SiteId) -> Vec<Vec<String>> {
    let chain = ChainId::Site(site.clone());
    let counters = counters(loaded);
    loaded
        .entries
        .iter()
        .filter(|(_, _, e)| e.chain() == &chain)
        .filter_map(|(_, _, e)| match &e.body().event {
            Event::Site(SiteEvent::Corrected {
                supersedes,
                reason,
                approver,
                corrected,
            }) => Some(vec![
                e.header().device_time.to_string(),
                e.counter().to_string(),
                entry_name(&counters, supersedes),
                e.body().officer.to_string(),
                approver.as_ref().map(|a| a.to_string()).unwrap_or_default(),
                reason.to_string(),
                summarise(corrected),
            ]),
            _ => None,
        })
        .collect()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn render(
    format: BookFormat,
    title: &str,
    header: &[String],
    rows: &[Vec<String>],
) -> anyhow::Result<Vec<u8>> {
    match format {
        BookFormat::Csv => {
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record(header)?;
            for r in rows {
                w.write_record(r)?;
            }
            Ok(w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?)
        }
        BookFormat::Html => {
            let mut s = format!(
                "<!doctype html>\n<meta charset=\"utf-8\">\n<title>{t}</title>\n<style>body{{font-family:sans-serif}}table{{border-collapse:collapse}}td,th{{border:1px solid #888;padding:2px 6px;font-size:12px}}</style>\n<h1>{t}</h1>\n<table>\n<tr>",
                t = html_escape(title)
            );
            for h in header {
                s.push_str(&format!("<th>{}</th>", html_escape(h)));
            }
            s.push_str("</tr>\n");
            for r in rows {
                s.push_str("<tr>");
                for c in r {
                    s.push_str(&format!("<td>{}</td>", html_escape(c)));
                }
                s.push_str("</tr>\n");
            }
            s.push_str("</table>\n");
            Ok(s.into_bytes())
        }
    }
}

/// Prints or writes the book and the corrections report.
pub fn run(a: BookArgs) -> anyhow::Result<u8> {
    let tmp;
    let path = match &a.bundle {
        Some(p) => p.clone(),
        None => {
            tmp = tempfile::NamedTempFile::new()?;
            let mut f = tmp.reopen()?;
            let path = format!("/v1/export?site={}", a.site);
            armsledger_agents::ServerClient::new(&a.server.server, a.server.token.clone())
                .get_to(&path, &mut f)?;
            tmp.path().to_path_buf()
        }
    };
    let corrected = load(&path, View::Corrected)?;
    let book_rows = rows(&corrected, &a.site);
    let now_identity = |f: &FirearmId| {
        corrected
            .verifier
            .engine()
            .state()
            .firearms
            .get(f)
            .map(|r| r.identity.clone())
    };
    let mut header: Vec<String> = COLUMNS.iter().map(|c| c.to_string()).collect();
    if a.view == BookView::Both {
        for c in [
            "corrected manufacturer",
            "corrected importer",
            "corrected model",
            "corrected serial",
            "corrected type",
            "corrected calibre",
        ] {
            header.push(c.to_string());
        }
    }
    let table: Vec<Vec<String>> = book_rows
        .iter()
        .map(|r| {
            let shown = match a.view {
                BookView::Corrected => {
                    now_identity(&r.firearm).unwrap_or_else(|| r.original.clone())
                }
                _ => r.original.clone(),
            };
            let mut cells = vec![
                r.acquired.clone(),
                r.entry.to_string(),
                r.from.clone(),
                r.licence.clone(),
            ];
            cells.extend(identity_cells(&shown));
            cells.extend([r.disposed.clone(), r.to.clone(), r.disposal_entry.clone()]);
            if a.view == BookView::Both {
                let now = now_identity(&r.firearm).unwrap_or_else(|| r.original.clone());
                cells.extend(if now == r.original {
                    vec![String::new(); 6]
                } else {
                    identity_cells(&now)
                });
            }
            cells
        })
        .collect();
    let view = match a.view {
        BookView::Original => "originals only",
        BookView::Corrected => "corrected",
        BookView::Both => "originals and corrections",
    };
    let title = format!("Acquisition and disposition book, site {} ({view})", a.site);
    let book = render(a.format, &title, &header, &table)?;
    let corr_header: Vec<String> = [
        "date",
        "entry",
        "supersedes entry",
        "recorded by",
        "approved by",
        "reason",
        "corrected to",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let corr = render(
        a.format,
        &format!("Corrections report, site {}", a.site),
        &corr_header,
        &corrections(&corrected, &a.site),
    )?;
    let rows = table.len();
    let corrections_out = a.corrections.clone().or_else(|| {
        // With --out, the corrections report goes beside the book.
        a.out.as_ref().map(|p| {
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("txt");
            p.with_extension(format!("corrections.{ext}"))
        })
    });
    match &a.out {
        Some(p) => {
            std::fs::write(p, &book).with_context(|| format!("writing {}", p.display()))?;
            eprintln!("wrote {} ({rows} firearms, {view})", p.display());
        }
        None => {
            use std::io::Write;
            let mut o = std::io::stdout().lock();
            o.write_all(&book)?;
            if a.corrections.is_none() {
                o.write_all(b"\n")?;
                o.write_all(&corr)?;
            }
        }
    }
    if let Some(p) = &corrections_out {
        std::fs::write(p, &corr).with_context(|| format!("writing {}", p.display()))?;
        eprintln!("wrote the corrections report to {}", p.display());
    }
    Ok(0)
}
