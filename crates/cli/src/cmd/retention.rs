//! `armsledger retention …`: carry out the server's retention policy
//! (`apply`: one `notes-erased` entry for the sealed notes whose period has
//! ended) and keep a period off-site (`archive`: a bundle that verifies
//! offline).

use std::path::PathBuf;

use anyhow::{Context, bail};
use armsledger_agents::ServerClient;
use armsledger_bundle::{VerifyOptions, verify_bundle};
use armsledger_core::event::RegulatorEvent;
use armsledger_core::ids::Timestamp;
use armsledger_core::note::ErasureGround;
use armsledger_log::LogVerifier;
use armsledger_server::retention::{NoteReview, RetentionReview};
use clap::{Args, Subcommand};
use serde::Serialize;

use crate::cmd::act::{explain, parse_time};
use crate::cmd::query::{ExportArgs, ServerArgs};
use crate::cmd::regulator::{RegArgs, open};
use crate::out;

/// Most notes one `notes-erased` entry names (an entry stays well under
/// its 64 KiB limit); more are erased by several entries.
pub const NOTES_PER_ENTRY: usize = 1024;

/// Retention commands.
#[derive(Debug, Subcommand)]
pub enum RetentionCommand {
    /// Erase the sealed notes whose retention period has ended under the server's policy (one notes-erased entry, pushed).
    Apply(ApplyArgs),
    /// Write the log, up to a checkpoint after --before, to an offline bundle that verifies (for off-site keeping; nothing is deleted).
    Archive(ArchiveArgs),
}

/// `retention apply`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  armsledger retention apply --dry-run
  armsledger retention apply --dry-run --all     (the notes kept too, and why)
  armsledger retention apply --json

The server reviews every sealed note of its log against its [retention]
policy (docs/operations.md): a person note's period starts when the person
leaves (licence revoked, barred for good, or licence expired), a case note's
when the case closes (loss report recovered, complaint resolved, finding
closed, discrepancy resolved), any other note's at its act. The notes whose
period has ended are erased by one notes-erased entry on the ground of the
end of retention, signed by the regulator's device and pushed; the server and
the sites delete the texts, every entry still verifies. --dry-run lists the
notes due and why, and signs nothing.")]
pub struct ApplyArgs {
    #[command(flatten)]
    pub reg: RegArgs,
    /// Server [default: regulator.toml's].
    #[arg(long, env = "ARMSLEDGER_SERVER")]
    pub server: Option<String>,
    /// The regulator's bearer token [default: regulator.toml's].
    #[arg(long, env = "ARMSLEDGER_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// List the notes due and why; sign and erase nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print one JSON object (the review, and the entries recorded).
    #[arg(long)]
    pub json: bool,
    /// List the notes still kept too, and why (default: only those due).
    #[arg(long)]
    pub all: bool,
}

/// `retention archive`.
#[derive(Debug, Args)]
#[command(after_help = "Example:
  armsledger retention archive --before 2027-01-01 --out ledger-to-2027.bundle --token $REG_TOKEN

Writes the whole log as of the server's export checkpoint (every chain from
its first entry: a hash chain verifies only from its start); run it once
--before is well past, so that checkpoint covers every entry received before
it. Then verifies the file offline before saying so, and writes the log's
verifier key beside it (FILE.vkey). Keep both off-site;
check later with `armsledger verify FILE --trusted-key FILE.vkey`. Nothing is
deleted from the ledger: entries are kept at least 30 years.")]
pub struct ArchiveArgs {
    /// The end of the period (exclusive): RFC 3339 or YYYY-MM-DD, not in the future.
    #[arg(long, value_parser = parse_time)]
    pub before: Timestamp,
    /// Where to write the bundle.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Runs a retention command.
pub fn run(cmd: RetentionCommand) -> anyhow::Result<u8> {
    match cmd {
        RetentionCommand::Apply(a) => apply(a),
        RetentionCommand::Archive(a) => archive(a),
    }
}

#[derive(Serialize)]
struct Applied<'a> {
    dry_run: bool,
    review: &'a RetentionReview,
    due: Vec<&'a NoteReview>,
    erasures: Vec<Erasure>,
}

/// One `notes-erased` entry recorded.
#[derive(Serialize)]
struct Erasure {
    counter: u64,
    entry: String,
    notes: usize,
}

fn apply(a: ApplyArgs) -> anyhow::Result<u8> {
    let (server, token) = {
        let agent = open(&a.reg)?;
        let c = agent.config();
        (
            a.server.clone().or_else(|| c.server.clone()),
            a.token.clone().or_else(|| c.token.clone()),
        )
    };
    let Some(server) = server else {
        bail!(
            "no server to review the retention with\nhint: did you forget --server? the policy is the server's ([retention] in its config)"
        );
    };
    if token.is_none() {
        bail!(
            "no token for {server}\nhint: the review takes the regulator's token: pass --token or set ARMSLEDGER_TOKEN"
        );
    }
    let client = ServerClient::new(&server, token);
    if !a.json {
        eprintln!("reviewing sealed notes on {server} …");
    }
    let path = if a.all {
        "/v1/retention/review?all=true"
    } else {
        "/v1/retention/review"
    };
    let review: RetentionReview = client.post_json(path).map_err(explain)?;
    let due: Vec<&NoteReview> = review.notes.iter().filter(|n| n.due).collect();
    let mut erasures = Vec::new();
    if !a.dry_run && !due.is_empty() {
        // One entry per NOTES_PER_ENTRY notes, each checked against the
        // rules and signed in turn, then pushed together.
        let mut agent = open(&a.reg)?;
        let chunks: Vec<&[&NoteReview]> = due.chunks(NOTES_PER_ENTRY).collect();
        for (i, chunk) in chunks.iter().enumerate() {
            if !a.json && chunks.len() > 1 {
                eprintln!("signing notes-erased entry {} of {}", i + 1, chunks.len());
            }
            let event = RegulatorEvent::NotesErased {
                notes: chunk.iter().map(|n| n.note).collect(),
                ground: ErasureGround::RetentionEnded,
                erased_on: review.at,
            };
            let violations = agent.verifier().engine().check_regulator(&event);
            if let Some(v) = violations.first() {
                bail!(
                    "the rules refuse the erasure (rule {}: {}); {} entries were signed before it\nhint: run `armsledger regulator push` to send them",
                    v.rule.name(),
                    v.evidence,
                    erasures.len()
                );
            }
            let e = agent.record(&a.reg.officer, event).map_err(explain)?;
            if !a.json {
                println!(
                    "recorded notes-erased as regulator #{} ({}): {} notes, under the retention policy",
                    e.counter(),
                    e.hash().short(),
                    chunk.len()
                );
            }
            erasures.push(Erasure {
                counter: e.counter(),
                entry: e.hash().to_string(),
                notes: chunk.len(),
            });
        }
        let n = agent.push(&client).map_err(|e| {
            anyhow::anyhow!(
                "{}\nhint: the erasure is signed; run `armsledger regulator push` to send it",
                explain(e)
            )
        })?;
        if !a.json {
            println!("pushed {n} entries to {server}");
        }
    }
    if a.json {
        out::json(&Applied {
            dry_run: a.dry_run,
            review: &review,
            due,
            erasures,
        })?;
        return Ok(0);
    }
    let p = &review.policy;
    println!(
        "policy: entries {} years; person notes {} days after the person leaves, case notes {} days after the case closes, operational notes {} days after their act",
        p.entries_years, p.person_days, p.case_days, p.operational_days
    );
    println!(
        "{} sealed notes due, {} kept, as of {} (log size {})",
        due.len(),
        review.kept,
        review.at,
        review.log_size
    );
    for n in &review.notes {
        let until = n
            .retain_until
            .map_or_else(|| "not yet known".to_string(), |t| t.to_string());
        println!(
            "{} {} {:<11} {} ({}): {}; retention ends {until}",
            if n.due { "due " } else { "kept" },
            n.note.short(),
            n.class.word(),
            n.kind,
            n.entry.short(),
            n.reason,
        );
    }
    if a.dry_run {
        println!("dry run: nothing signed, nothing erased");
    } else if due.is_empty() {
        println!("nothing to erase");
    }
    Ok(0)
}

fn archive(a: ArchiveArgs) -> anyhow::Result<u8> {
    if a.before > crate::cmd::now() {
        bail!(
            "--before {} is in the future: a period is archived once it is over",
            a.before
        );
    }
    let client = a.server.client();
    let vkey = client.get_text("/v1/log/key").map_err(explain)?;
    let verifier = LogVerifier::from_vkey(vkey.trim())
        .context("the server's log key is not a C2SP verifier key")?;
    crate::cmd::query::export(ExportArgs {
        out: a.out.clone(),
        company: None,
        site: None,
        server: a.server.clone(),
    })?;
    let file =
        std::fs::File::open(&a.out).with_context(|| format!("opening {}", a.out.display()))?;
    let report = verify_bundle(
        file,
        &VerifyOptions {
            trusted_key: Some(verifier),
            ..VerifyOptions::default()
        },
    )?;
    if !report.authentic {
        bail!(
            "the archive {} does not verify ({} problems); it is not fit for off-site keeping: run `armsledger verify {}` for the detail",
            a.out.display(),
            report.problems.len(),
            a.out.display()
        );
    }
    let Some(cp) = &report.checkpoint else {
        bail!("the archive {} has no checkpoint", a.out.display());
    };
    let key_path = PathBuf::from(format!("{}.vkey", a.out.display()));
    std::fs::write(&key_path, format!("{}\n", vkey.trim()))
        .with_context(|| format!("writing {}", key_path.display()))?;
    println!(
        "archived {} entries (the log up to checkpoint size {}), for the period before {}: AUTHENTIC",
        report.entries, cp.size, a.before
    );
    println!(
        "keep {} and {} off-site; check with: armsledger verify {} --trusted-key {}",
        a.out.display(),
        key_path.display(),
        a.out.display(),
        key_path.display()
    );
    Ok(0)
}
