//! `armsledger fsck`: re-derive and check a server's store offline.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use armsledger_agents::ArmouryConfig;
use armsledger_agents::config::{self, files};
use armsledger_core::LedgerVerifier;
use armsledger_core::keys::parse_key_hex;
use armsledger_core::rules::View;
use armsledger_server::files as data_files;
use armsledger_store::LogStore;
use armsledger_store::snapshot::SnapshotDir;
use clap::Args;
use serde::Serialize;

use crate::{EXIT_NOT_AUTHENTIC, out};

/// Options of `fsck`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger fsck --data ./regulator --json\n\nFor a server: checks every stored entry's signature, chain link, counter and key window\n(against the regulator key and manufacturer roots pinned in the data directory), every index, every\ntile, the root, that every signed checkpoint is consistent with the tree, and the access\nlog's hash chain (naming the first broken record).\nFor a site: re-verifies the regulator entries it holds (its scope), received transfers and the site's own\nchain, and every receipt's inclusion proof against its checkpoint (pinned log key).\nExit 0 clean, 1 a disagreement, 2 usage or I/O error. Stop the server first."
)]
pub struct FsckArgs {
    /// A server's data directory (log.redb, regulator.pub) or a site directory (site.redb, site.toml).
    #[arg(long, env = "ARMSLEDGER_DATA")]
    pub data: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Report {
    entries: u64,
    checkpoints: u64,
    clean: bool,
    problems: Vec<String>,
    /// A server's rules state after the whole log, replayed here (the
    /// digest `GET /v1/admin/state` shows for the same log).
    #[serde(skip_serializing_if = "Option::is_none")]
    state_digest: Option<String>,
}

/// Checks a site directory: every regulator entry, transfer received and own
/// entry re-verified in order, and every receipt's inclusion proof against the
/// checkpoint it was given with, opened with the pinned log key.
fn site(a: &FsckArgs) -> anyhow::Result<Report> {
    use armsledger_log::{EntryLeaf, LogVerifier, open_checkpoint, verify_inclusion};
    let config: ArmouryConfig = config::load(&a.data.join(files::SITE_TOML))?;
    let (key, roots) = config::trust_roots(&config)?;
    let ledger = armsledger_store::ArmouryLedger::open(a.data.join(files::SITE_REDB))?;
    let mut v = LedgerVerifier::new(key, roots, View::Corrected);
    let mut problems = Vec::new();
    let mut entries = 0u64;
    // A site holds the regulator entries in its scope (a scoped pull):
    // each is checked by its signature, not its position in the chain.
    for e in ledger.regulator_entries_from(1, usize::MAX)? {
        entries += 1;
        let (c, h) = (e.counter(), e.hash());
        if let Err(err) = v.ingest_scoped(Arc::new(e), None) {
            problems.push(format!("regulator #{c} ({h}): {err}"));
        }
    }
    for e in ledger.inbox()? {
        entries += 1;
        let (chain, c, h) = (e.chain().to_string(), e.counter(), e.hash());
        if let Err(err) = v.ingest_foreign(Arc::new(e), None) {
            problems.push(format!("inbox {chain} #{c} ({h}): {err}"));
        }
    }
    let own = ledger.entries_from(1, usize::MAX)?;
    for e in &own {
        entries += 1;
        if let Err(err) = v.ingest(Arc::new(e.clone()), None) {
            problems.push(format!(
                "{} #{} ({}): {err}",
                e.chain(),
                e.counter(),
                e.hash()
            ));
        }
    }
    let checkpoints = ledger.checkpoints()?;
    let verifier = config
        .log_vkey
        .as_deref()
        .map(LogVerifier::from_vkey)
        .transpose()?;
    let mut opened = std::collections::BTreeMap::new();
    for (size, note) in &checkpoints {
        match &verifier {
            Some(vk) => match open_checkpoint(note.as_bytes(), vk, vk.name()) {
                Ok(c) => {
                    opened.insert(*size, c.checkpoint().clone());
                }
                Err(err) => problems.push(format!("checkpoint of size {size}: {err}")),
            },
            None => problems.push(format!(
                "checkpoint of size {size}: no log key pinned in site.toml to check it"
            )),
        }
    }
    for e in &own {
        let Some(r) = ledger.receipt(e.counter())? else {
            continue;
        };
        let Some(cp) = opened.get(&r.tree_size) else {
            problems.push(format!(
                "receipt of #{}: no checkpoint of size {} kept",
                e.counter(),
                r.tree_size
            ));
            continue;
        };
        if let Err(err) = verify_inclusion(
            &EntryLeaf::new(r.received_at.millis(), e.bytes()).hash(),
            r.log_index,
            r.tree_size,
            &r.proof,
            cp.root(),
        ) {
            problems.push(format!("receipt of #{}: {err}", e.counter()));
        }
    }
    Ok(Report {
        entries,
        checkpoints: checkpoints.len() as u64,
        clean: problems.is_empty(),
        problems,
        state_digest: None,
    })
}

/// Runs fsck. A corrupt page can make redb panic while reading: that is
/// reported as what it is, a damaged file (exit 1), not a crash of fsck.
pub fn run(a: FsckArgs) -> anyhow::Result<u8> {
    let site_dir = a.data.join(files::SITE_REDB).exists();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let checked = std::panic::catch_unwind(|| if site_dir { site(&a) } else { server(&a) });
    std::panic::set_hook(previous);
    let report = match checked {
        Ok(r) => r?,
        Err(_) => Report {
            entries: 0,
            checkpoints: 0,
            clean: false,
            problems: vec![format!(
                "{}: the database file is corrupt (a page could not be read)",
                a.data.display()
            )],
            state_digest: None,
        },
    };
    finish(&a, report)
}

/// Checks a server's data directory.
fn server(a: &FsckArgs) -> anyhow::Result<Report> {
    let db = a.data.join(data_files::LOG_REDB);
    anyhow::ensure!(
        db.exists(),
        "no log database at {} (is --data the server's data directory?)",
        db.display()
    );
    // Opening read-write first lets redb repair an unclean shutdown to its
    // last durable commit (what the server does on start); fsck then reads
    // the repaired file. A corrupt page can make redb panic: that is reported
    // as a finding about the file, not a crash of this command.
    drop(LogStore::open(&db).with_context(|| {
        format!(
            "opening {} (stop the server first; a file redb cannot open is damaged beyond repair)",
            db.display()
        )
    })?);
    let store_report =
        armsledger_store::fsck(&db).with_context(|| format!("reading {}", db.display()))?;
    let mut problems: Vec<String> = store_report
        .problems
        .iter()
        .map(|p| p.to_string())
        .collect();
    if store_report.unlisted > 0 {
        problems.push(format!(
            "… and {} more store disagreements",
            store_report.unlisted
        ));
    }
    // Every signature and link, as the server verified them on ingest.
    let key_file = a.data.join(data_files::REGULATOR_PUB);
    let key = std::fs::read_to_string(&key_file)
        .with_context(|| format!("reading {}", key_file.display()))?;
    let key = parse_key_hex(&key)
        .map_err(|e| anyhow::anyhow!("the pinned regulator key in {} {e}", key_file.display()))?;
    // Enrolments are checked against the pinned manufacturer roots, as the
    // server checked them.
    let roots_file = a.data.join(data_files::MANUFACTURER_ROOTS);
    let roots = match std::fs::read_to_string(&roots_file) {
        Ok(text) => text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| {
                parse_key_hex(l).map_err(|e| {
                    anyhow::anyhow!("a manufacturer root in {} {e}", roots_file.display())
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", roots_file.display())),
    };
    let store = LogStore::open(&db)?;
    let reader = store.read()?;
    let mut v = LedgerVerifier::new(key, roots, View::Corrected);
    // Every rules snapshot must hold the state this replay reaches at its size.
    let snaps = SnapshotDir::new(a.data.join(data_files::SNAPSHOTS));
    let sizes: std::collections::BTreeSet<u64> = snaps
        .list()
        .with_context(|| format!("listing {}", snaps.path().display()))?
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    let check_snapshot = |v: &LedgerVerifier, n: u64, problems: &mut Vec<String>| {
        if !sizes.contains(&n) {
            return;
        }
        let file = snaps.file_of(n);
        match snaps.read(n) {
            Err(e) => problems.push(format!("snapshot: {e}")),
            Ok(s) => {
                let replayed = v.state_digest().map(|d| d.to_string()).unwrap_or_default();
                if s.meta.state_digest.to_string() != replayed {
                    problems.push(format!(
                        "snapshot {}: its rules state {} is not the log's at size {n} ({replayed})",
                        file.display(),
                        s.meta.state_digest
                    ));
                }
                if !reader.root_at(n).is_ok_and(|r| r.0 == s.meta.root.0) {
                    problems.push(format!(
                        "snapshot {}: its root is not the log's at size {n}",
                        file.display()
                    ));
                }
            }
        }
    };
    for n in sizes.iter().filter(|n| **n > reader.size()) {
        problems.push(format!(
            "snapshot {}: covers {n} entries, the log holds {}",
            snaps.file_of(*n).display(),
            reader.size()
        ));
    }
    check_snapshot(&v, 0, &mut problems);
    for i in 0..reader.size() {
        match reader.entry(i) {
            Ok(Some(s)) => {
                let (chain, counter, hash) = (
                    s.entry.chain().to_string(),
                    s.entry.counter(),
                    s.entry.hash(),
                );
                if let Err(e) = v.ingest(Arc::new(s.entry), Some(s.received_at)) {
                    problems.push(format!("entry {i} ({chain} #{counter}, {hash}): {e}"));
                }
            }
            Ok(None) => problems.push(format!("entry {i}: missing")),
            Err(e) => problems.push(format!("entry {i}: {e}")),
        }
        check_snapshot(&v, i + 1, &mut problems);
    }
    let state_digest = v.state_digest().ok().map(|d| d.to_string());
    // The access log's hash chain, when the server has kept one.
    let access = a.data.join(armsledger_server::access_log::ACCESS_REDB);
    if access.exists() {
        let log = armsledger_server::access_log::AccessLog::open(&access)
            .with_context(|| format!("opening {}", access.display()))?;
        if let Err(e) = log.verify() {
            problems.push(e.to_string());
        }
    }
    let report = Report {
        entries: store_report.entries,
        checkpoints: store_report.checkpoints,
        clean: problems.is_empty(),
        problems,
        state_digest,
    };
    Ok(report)
}

fn finish(a: &FsckArgs, report: Report) -> anyhow::Result<u8> {
    if a.json {
        out::json(&report)?;
    } else {
        for p in &report.problems {
            println!("PROBLEM {p}");
        }
        println!(
            "{} entries, {} checkpoints: {}",
            report.entries,
            report.checkpoints,
            if report.clean {
                "clean"
            } else {
                "DISAGREEMENTS FOUND"
            }
        );
    }
    Ok(if report.clean { 0 } else { EXIT_NOT_AUTHENTIC })
}
