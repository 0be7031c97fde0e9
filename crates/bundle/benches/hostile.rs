//! The offline verifier against hostile bundles (issue 13): time and peak
//! memory of `verify_bundle` on bundles crafted to exhaust it.
//!
//! * `findings`: a small log and 200,000 finding records of 1 KB after its
//!   last entry, naming that entry (kept as claims, listed up to 1,000);
//! * `stray findings`: the same records naming no entry (each a problem);
//! * `equivocations`: 100,000 entries, each followed by a valid proof that
//!   its (cloned) device key signed another entry at its counter, and the
//!   same entries without the proofs (what the proofs add);
//! * `equivocation flood`: 100,000 copies of one proof after one entry.
//!
//! Each bundle is written to a file, then verified in a child process of
//! this bench so that its peak RSS (`VmHWM`) is the verifier's alone.
//! `-- --quick` divides every count by ten.
//!
//! `cargo bench -p armsledger-bundle --bench hostile`
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::time::Instant;

use armsledger_bundle::{
    BundleSpec, MemoryLog, Record, Scope, ServerFinding, VerifyOptions, verify_bundle, write_bundle,
};
use armsledger_core::chain::Equivocation;
use armsledger_core::entry::EntryBody;
use armsledger_core::event::{Event, SiteEvent};
use armsledger_core::model::Item;
use armsledger_core::testkit::{Scenario, T0, loc, note, v};
use armsledger_core::{Hash, SignedEntry};
use armsledger_log::LogKey;

fn key() -> LogKey {
    LogKey::from_seed("ledger.example/armsledger/v1", &[7; 32]).unwrap()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [cmd, file] = args.as_slice()
        && cmd == "verify-child"
    {
        child(Path::new(file));
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let scale = if quick { 10 } else { 1 };
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("hostile-bundles");
    std::fs::create_dir_all(&dir).unwrap();
    println!(
        "hostile bundles, {} threads{}",
        rayon::current_num_threads(),
        if quick { ", --quick" } else { "" }
    );
    for (name, bytes) in [
        ("findings", findings(200_000 / scale, true)),
        ("stray findings", findings(200_000 / scale, false)),
        ("equivocations", equivocations(100_000 / scale, true)),
        ("same, no proofs", equivocations(100_000 / scale, false)),
        ("equivocation flood", flood(100_000 / scale)),
    ] {
        let file = dir.join(name.replace(' ', "-"));
        std::fs::write(&file, &bytes).unwrap();
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .arg("verify-child")
            .arg(&file)
            .output()
            .unwrap();
        print!(
            "{name:<20} {:>7.1} MB  {}",
            bytes.len() as f64 / 1e6,
            String::from_utf8_lossy(&out.stdout)
        );
        std::fs::remove_file(&file).unwrap();
    }
}

/// Verifies `file` and prints the time, the peak RSS and what was found.
fn child(file: &Path) {
    let t = Instant::now();
    let r = verify_bundle(
        std::fs::File::open(file).unwrap(),
        &VerifyOptions {
            trusted_key: Some(key().verifier()),
            ..VerifyOptions::default()
        },
    )
    .unwrap();
    let s = t.elapsed().as_secs_f64();
    let hwm = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|st| {
            st.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.trim_start_matches("VmHWM:").trim().to_owned())
        })
        .unwrap_or_else(|| "?".into());
    println!(
        "verify {s:>6.2} s, peak RSS {hwm:>10}: {}, {} problems (+{} counted), server findings {} ({} not reproduced, {} listed), equivocations {} verified (+{} counted)",
        if r.authentic() {
            "AUTHENTIC"
        } else {
            "NOT AUTHENTIC"
        },
        r.problems.len(),
        r.problems_omitted,
        r.server.findings,
        r.server.not_reproduced,
        r.server.not_reproduced_listed.len(),
        r.equivocations.len(),
        r.equivocations_omitted,
    );
}

/// A bundle of a small log with `n` finding records after its last entry,
/// naming that entry (`named`) or an entry that is not there.
fn findings(n: usize, named: bool) -> Vec<u8> {
    let mut s = Scenario::standard();
    for k in 0..20 {
        s.acquire("north", &format!("F-{k}"));
    }
    let mut log = MemoryLog::new();
    for e in &s.log {
        log.push(e.clone(), Some(e.header().device_time.plus(1000)))
            .unwrap();
    }
    let last = s.log.last().unwrap();
    let entry = if named { last.hash() } else { Hash([9; 32]) };
    // Framed by hand: a writer leaves out findings naming no entry it wrote.
    let mut recs = records(&write(&s, &log));
    let end = recs.pop().unwrap();
    recs.extend((0..n).map(|k| {
        Record::Finding(ServerFinding {
            rule: format!("crafted-{k}"),
            chain: last.chain().clone(),
            counter: last.counter(),
            entry,
            evidence: "x".repeat(1000),
        })
    }));
    recs.push(end);
    frame(&recs)
}

fn records(bytes: &[u8]) -> Vec<Record> {
    armsledger_bundle::BundleReader::new(bytes)
        .map(|r| r.unwrap().item)
        .collect()
}

/// `n` entries of north, each followed by a valid equivocation proof (or not).
fn equivocations(n: usize, with_proofs: bool) -> Vec<u8> {
    let mut s = Scenario::standard();
    let (gun, _) = s.acquire("north", "EQ");
    let mut pairs: Vec<(std::sync::Arc<SignedEntry>, Equivocation)> = Vec::with_capacity(n);
    let key = s.sites[&v("north")].public_key();
    for k in 0..n {
        let mut clone = s.sites[&v("north")].clone();
        let (from, to) = if k % 2 == 0 {
            ("vault", "rack-1")
        } else {
            ("rack-1", "vault")
        };
        let logged = s.site(
            "north",
            "armourer-1",
            SiteEvent::StorageMoved {
                item: Item::Firearm(gun),
                from: loc(from),
                to: loc(to),
            },
        );
        let other = clone.sign(
            EntryBody {
                format: Default::default(),
                occurred_at: s.now,
                officer: v("armourer-2"),
                links: vec![],
                event: Event::Site(SiteEvent::Annotated {
                    about: logged.hash(),
                    text: note("another story"),
                }),
            },
            s.now,
        );
        let proof = Equivocation::from_entries(key, &logged, &other).unwrap();
        pairs.push((logged, proof));
    }
    let mut log = MemoryLog::new();
    let mut pairs = pairs.into_iter().peekable();
    for e in &s.log {
        let index = log
            .push(e.clone(), Some(e.header().device_time.plus(1000)))
            .unwrap();
        if pairs.peek().is_some_and(|(l, _)| l.hash() == e.hash()) {
            let (_, q) = pairs.next().unwrap();
            if with_proofs {
                log.add_equivocation(index, q);
            }
        }
    }
    write(&s, &log)
}

/// One entry followed by `n` copies of its equivocation proof.
fn flood(n: usize) -> Vec<u8> {
    let mut s = Scenario::standard();
    let mut clone = s.sites[&v("north")].clone();
    let (_, logged) = s.acquire("north", "FLOOD");
    let other = clone.sign(
        EntryBody {
            format: Default::default(),
            occurred_at: s.now,
            officer: v("armourer-2"),
            links: vec![],
            event: Event::Site(SiteEvent::Annotated {
                about: logged.hash(),
                text: note("another story"),
            }),
        },
        s.now,
    );
    let proof =
        Equivocation::from_entries(s.sites[&v("north")].public_key(), &logged, &other).unwrap();
    let mut log = MemoryLog::new();
    for e in &s.log {
        log.push(e.clone(), Some(e.header().device_time.plus(1000)))
            .unwrap();
    }
    // Framed by hand: a MemoryLog keeps one proof per entry.
    let mut recs = records(&write(&s, &log));
    let end = recs.pop().unwrap();
    recs.extend(std::iter::repeat_n(Record::Equivocation(proof), n));
    recs.push(end);
    frame(&recs)
}

fn write(s: &Scenario, log: &MemoryLog) -> Vec<u8> {
    let key = key();
    let mut spec = BundleSpec::new(&key, s.regulator_key(), T0.plus(86_400_000));
    spec.manufacturer_roots = vec![s.root_key()];
    write_bundle(log, &spec, Scope::All, Vec::new()).unwrap()
}

/// Frames records with a correct End (no order checks).
fn frame(records: &[Record]) -> Vec<u8> {
    use sha2::{Digest as _, Sha256};
    let mut out = armsledger_bundle::MAGIC.to_vec();
    let mut entries = 0u64;
    for r in records {
        let payload = match r {
            Record::End(_) => {
                let mut p = entries.to_be_bytes().to_vec();
                p.extend_from_slice(&Sha256::digest(&out));
                p
            }
            other => other.payload().unwrap(),
        };
        if matches!(r, Record::Entry(_)) {
            entries += 1;
        }
        out.push(r.kind() as u8);
        out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        out.extend_from_slice(&payload);
    }
    out
}
