//! `armsledger verify`: offline verification of a bundle or dossier.

use std::path::PathBuf;

use anyhow::Context;
use armsledger_bundle::{
    ChainSummary, Completeness, ProofBasis, Report, VerifyOptions, default_state_path,
    verify_bundle,
};
use armsledger_core::ids::Timestamp;
use armsledger_log::LogVerifier;
use clap::Args;

use crate::{EXIT_NOT_AUTHENTIC, out};

/// Options of `verify`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  armsledger verify export.bundle --trusted-key regulator-log.vkey\n  armsledger verify weapon.dossier --json\n  armsledger verify second-run.bundle --trust-new-log\n\nNo network is used. Every signature (verify_strict), chain link, counter, key\nwindow, per-weapon link and the Merkle root against the signed checkpoint are\nchecked; rule findings are reported, not fatal. The output names the bundle's\nscope and, per chain and dossier weapon, whether it is proven complete up to the\ncheckpoint (a full bundle) or only that no entry is missing in between (a WARNING).\nThe last checkpoint trusted for the log is remembered (--state), and a bundle\ninconsistent with it is refused.\nExit 0 authentic, 1 not authentic, 2 usage or I/O error."
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
    /// Trust this bundle's log although the trusted state pinned another key
    /// for its origin (a new server or demo run under the same name); what
    /// was trusted for that origin is forgotten.
    #[arg(long, conflicts_with = "no_state")]
    pub trust_new_log: bool,
    /// A C2SP tlog-policy file: accept the checkpoint only when it carries
    /// the policy's quorum of valid witness cosignatures.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Where a split view's two checkpoint notes are kept
    /// [default: `evidence/` beside the trusted-state file].
    #[arg(long, value_name = "DIR")]
    pub evidence: Option<PathBuf>,
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
    let policy = a
        .policy
        .as_deref()
        .map(|p| {
            armsledger_server::witnessing::load_policy(p)
                .map_err(|e| anyhow::anyhow!("--policy: {e}"))
        })
        .transpose()?;
    let evidence_dir = a.evidence.clone().or_else(|| {
        state_path
            .as_deref()
            .and_then(std::path::Path::parent)
            .map(|d| d.join("evidence"))
    });
    let options = VerifyOptions {
        trusted_key,
        state_path,
        policy,
        trust_new_log: a.trust_new_log,
        wall_clock: Some(wall_clock()),
        ..VerifyOptions::default()
    };
    let mut report = verify_bundle(reader, &options)?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if let (Some(split), Some(dir)) = (&report.split_view, &evidence_dir) {
        let path = keep_split_view(dir, split, wall_clock())?;
        report.notes.push(format!(
            "split view: the log signed two checkpoints of size {} with different roots; both notes are kept in {}",
            split.size,
            path.display()
        ));
    }
    if a.json {
        out::json(&report)?;
    } else {
        print!("{}", text_report(&report));
    }
    Ok(if report.authentic {
        0
    } else {
        EXIT_NOT_AUTHENTIC
    })
}

/// Writes both notes of a split view to a new file in `dir`, named after
/// the origin, the size and the time; returns its path.
pub fn keep_split_view(
    dir: &std::path::Path,
    split: &armsledger_bundle::SplitView,
    now: Timestamp,
) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let origin: String = split
        .origin
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let path = dir.join(format!("split-view-{origin}-{}-{}.txt", split.size, now.0));
    let text = format!(
        "armsledger split-view evidence\norigin: {}\nsize: {}\n\n# the checkpoint trusted before\n{}\n# the checkpoint offered now\n{}",
        split.origin, split.size, split.trusted_note, split.offered_note
    );
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Now, from the system clock (the CLI is where the clock is read).
pub(crate) fn wall_clock() -> Timestamp {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    Timestamp(u64::try_from(ms).unwrap_or(u64::MAX))
}

/// What a bundle of this scope holds, in words.
fn scope_words(scope: &str) -> String {
    match scope.split_once(':') {
        None if scope == "all" => {
            "every entry of the log, in order; the Merkle root is recomputed".into()
        }
        Some(("site", s)) => {
            format!("the regulator chain and site {s}'s chain, each entry with an inclusion proof")
        }
        Some(("company", c)) => format!(
            "the regulator chain and the chains of company {c}'s sites, each entry with an inclusion proof"
        ),
        Some(("firearm", f)) => format!(
            "a dossier: the regulator chain and every event of firearm {f}, each with an inclusion proof"
        ),
        _ => scope.to_owned(),
    }
}

/// One chain's line: entries, counters, and what is proven (`n`: the
/// checkpoint's size).
fn chain_line(c: &ChainSummary, n: &str) -> String {
    let counters = match c.head_counter {
        Some(n) => format!("{} entries up to counter {n}", c.entries),
        None => "no entries".into(),
    };
    format!(
        "  {:<24} {counters}: {}",
        c.chain,
        completeness_words(&c.chain, &c.completeness, n)
    )
}

/// What is proven about a history being complete, in words.
fn completeness_words(chain: &str, c: &Completeness, n: &str) -> String {
    match c {
        Completeness::Proven {
            basis: ProofBasis::FullLog,
        } => format!("complete up to checkpoint {n} (every leaf rehashed to its root)"),
        Completeness::Proven {
            basis: ProofBasis::Index,
        } => format!(
            "complete up to checkpoint {n} (the verifiable index commits to its last entry)"
        ),
        Completeness::Proven { .. } => format!("complete up to checkpoint {n}"),
        Completeness::NewerEntriesExist { newest_index, .. } => {
            format!("INCOMPLETE: newer entries exist (newest at log index {newest_index})")
        }
        Completeness::NoGapsEndUnproven => {
            "no entry missing in between; newest entries unproven".into()
        }
        Completeness::Excerpt if chain == "regulator" => "only the entries this bundle's reader may see (its company, persons and devices, the public register)".into(),
        Completeness::Excerpt => "only the entries about the dossier's weapon".into(),
        _ => "completeness not stated".into(),
    }
}

/// The human report, as printed.
pub fn text_report(r: &Report) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let mut line = |s: String| {
        let _ = writeln!(o, "{s}");
    };
    for p in &r.problems {
        line(format!("NOT AUTHENTIC: {p}"));
    }
    if r.problems_omitted > 0 {
        line(format!(
            "NOT AUTHENTIC: … and {} more problems (use --json)",
            r.problems_omitted
        ));
    }
    if let Some(s) = &r.scope {
        line(format!("scope: {s} ({})", scope_words(s)));
    }
    if let Some(c) = &r.checkpoint {
        line(format!(
            "checkpoint: {} size {} root {}",
            c.origin, c.size, c.root
        ));
    }
    if let Some(w) = &r.witnesses {
        let names: Vec<String> = w
            .cosigned
            .iter()
            .map(|c| format!("{} (at {})", c.name, c.timestamp))
            .collect();
        line(format!(
            "witnesses: quorum {} {}; cosigned by {}",
            w.quorum.as_deref().unwrap_or("none"),
            if w.quorum_met { "met" } else { "NOT met" },
            if names.is_empty() {
                "none".into()
            } else {
                names.join(", ")
            }
        ));
    }
    if let (Some(k), Some(src)) = (&r.trusted_key, r.trusted_key_source) {
        line(format!(
            "log key: {k} ({})",
            src.describe(r.trusted_key_pinned_at.as_deref())
        ));
    }
    line(format!("chains: {}", r.chains.len()));
    let n = r
        .checkpoint
        .as_ref()
        .map_or_else(|| "?".to_owned(), |c| c.size.to_string());
    for c in &r.chains {
        line(chain_line(c, &n));
    }
    if let Some(d) = &r.dossier {
        let proven = match &d.completeness {
            Completeness::NoGapsEndUnproven => {
                "no gap from its acquisition; newest events unproven".to_owned()
            }
            c => completeness_words("firearm", c, &n),
        };
        line(format!(
            "dossier: firearm {}, {} events: {proven}",
            d.firearm, d.events
        ));
    }
    if let Some(d) = &r.lot_dossier {
        let proven = match &d.completeness {
            Completeness::NoGapsEndUnproven => {
                "no gap from each site's receipt; newest acts unproven".to_owned()
            }
            c => completeness_words("lot", c, &n),
        };
        line(format!(
            "lot dossier: lot {}, {} acts at {} sites: {proven}",
            d.lot,
            d.events,
            d.sites.len()
        ));
        for s in &d.sites {
            let last = s
                .last
                .map_or_else(|| "none".to_owned(), |h| h.short().to_string());
            line(format!("  {}: {} acts, last {last}", s.chain, s.events));
        }
    }
    for w in &r.warnings {
        line(format!("WARNING: {}", w.message));
    }
    line(format!(
        "findings: {} (rule violations recorded as evidence)",
        r.findings.len()
    ));
    for f in r.findings.iter().take(20) {
        line(format!(
            "  {:<28} {} #{}: {}",
            f.rule, f.chain, f.counter, f.evidence
        ));
    }
    if r.findings.len() > 20 {
        line(format!("  … {} more (use --json)", r.findings.len() - 20));
    }
    let s = &r.server;
    let mut server = format!(
        "server findings: {} in the bundle, {} reproduced",
        s.findings, s.reproduced
    );
    if s.not_reproduced > 0 {
        let _ = write!(server, ", {} not reproduced", s.not_reproduced);
    }
    if s.not_rechecked > 0 {
        let _ = write!(
            server,
            ", {} not rechecked (a dossier does not rerun the rules)",
            s.not_rechecked
        );
    }
    line(server);
    for f in s.not_reproduced_listed.iter().take(20) {
        line(format!(
            "  not reproduced: {} on {} #{}: {}",
            f.rule, f.chain, f.counter, f.evidence
        ));
    }
    let eqs = r.equivocations.len() as u64 + r.equivocations_omitted;
    if eqs == 0 {
        line("equivocations: none".into());
    } else {
        line(format!(
            "equivocations: {eqs} (a device key signed two entries at one counter: the device was cloned or broken)"
        ));
        for q in r.equivocations.iter().take(20) {
            line(format!(
                "  {} counter {}: device {} key epoch {} signed {} and {}",
                q.chain,
                q.counter,
                q.device,
                q.key_epoch,
                q.entry.short(),
                q.other.short()
            ));
        }
    }
    for n in &r.notes {
        line(format!("note: {n}"));
    }
    if !r.erased_notes.is_empty() {
        line(format!(
            "sealed notes erased: {} (their entries still verify)",
            r.erased_notes.len()
        ));
        for v in r.erased_notes.iter().take(20) {
            line(format!("  {}: {v}", v.note()));
        }
        if r.erased_notes.len() > 20 {
            line(format!(
                "  … {} more (use --json)",
                r.erased_notes.len() - 20
            ));
        }
    }
    line(format!(
        "{} entries, {} verified: {}",
        r.entries,
        r.entries_checked,
        if r.authentic {
            "AUTHENTIC"
        } else {
            "NOT AUTHENTIC"
        }
    ));
    o
}
