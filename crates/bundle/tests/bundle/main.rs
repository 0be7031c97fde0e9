//! Integration tests of the bundle format and the offline verifier.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod chunks;
mod complete;
mod doc;
mod index;
mod malicious;
mod roundtrip;
mod server;
mod sigs;
mod tamper;
mod trust;
mod witnessed;

use std::sync::Arc;

use sha2::{Digest as _, Sha256};

use armsledger_bundle::{
    BundleReader, BundleSpec, MAGIC, MemoryLog, Problem, ProblemKind, Record, Report, Scope,
    ServerFinding, VerifyOptions, verify_bundle, write_bundle,
};
use armsledger_core::event::SiteEvent;
use armsledger_core::model::{FirearmId, Item, Reliance};
use armsledger_core::testkit::{Scenario, T0, loc, note, v};
use armsledger_core::{Hash, SignedEntry};
use armsledger_log::LogKey;

/// The log's origin in every test.
pub const ORIGIN: &str = "ledger.example/armsledger/v1";

/// The test log key.
pub fn log_key() -> LogKey {
    LogKey::from_seed(ORIGIN, &[1; 32]).unwrap()
}

/// Another key with the same origin (a forger's).
pub fn other_key() -> LogKey {
    LogKey::from_seed(ORIGIN, &[2; 32]).unwrap()
}

/// Two companies, two sites, and pistol `AB-1` with a six-event history at
/// `north` (acquired, issued, returned, moved three times), a second pistol,
/// ammunition, and one issue to an unlicensed person (a finding).
pub fn world() -> (Scenario, FirearmId) {
    let mut s = Scenario::standard();
    s.company_with_site("bravo", "south");
    let (gun, _) = s.acquire("north", "AB-1");
    let (gun2, _) = s.acquire("north", "AB-2");
    let lot = s.receive("north", "L-1", 500);
    let issue = s.issue("north", gun, "guard-1", lot, 30);
    s.acquire("south", "ZZ-9");
    s.return_spent("north", &issue, 2);
    for (from, to) in [
        ("vault", "rack-1"),
        ("rack-1", "vault"),
        ("vault", "rack-1"),
    ] {
        s.site(
            "north",
            "armourer-2",
            SiteEvent::StorageMoved {
                item: Item::Firearm(gun),
                from: loc(from),
                to: loc(to),
            },
        );
    }
    // A finding: an issue to someone with no licence.
    s.site(
        "north",
        "armourer-1",
        SiteEvent::Issued {
            firearm: gun2,
            to: v("stranger"),
            purpose: note("patrol"),
            post: v("gate-1"),
            due_back: s.now.plus(8 * 3_600_000),
            reliance: Reliance {
                licence: v("LIC-x"),
                permit: v("PER-x"),
                qualification: v("Q-x"),
            },
            ammunition: vec![],
            ammunition_from: None,
        },
    );
    (s, gun)
}

/// A memory log of the scenario, entries received one second after signing.
pub fn memory_log(s: &Scenario) -> MemoryLog {
    let mut log = MemoryLog::new();
    for e in &s.log {
        log.push(e.clone(), Some(e.header().device_time.plus(1000)))
            .unwrap();
    }
    log
}

/// [`memory_log`] with the findings a server keeps: each entry's findings as
/// the server's verifier raised them when it accepted the entry.
pub fn server_log(s: &Scenario) -> MemoryLog {
    let mut log = MemoryLog::new();
    let mut v = armsledger_core::LedgerVerifier::new(
        s.regulator_key(),
        vec![s.root_key()],
        armsledger_core::rules::View::Corrected,
    );
    for e in &s.log {
        let at = e.header().device_time.plus(1000);
        let index = log.push(e.clone(), Some(at)).unwrap();
        for f in v.ingest(e.clone(), Some(at)).unwrap() {
            log.add_finding(index, server_finding(f));
        }
    }
    log
}

/// A finding as the server's export writes it.
pub fn server_finding(f: &armsledger_core::rules::Finding) -> ServerFinding {
    ServerFinding {
        rule: f.rule.name().to_owned(),
        chain: f.chain.clone(),
        counter: f.counter,
        entry: f.entry,
        evidence: f.evidence.clone(),
    }
}

/// A bundle of `log` for `scope`, checkpoint at `size` (all when `None`).
pub fn bundle_of(
    s: &Scenario,
    log: &MemoryLog,
    key: &LogKey,
    scope: Scope,
    size: Option<u64>,
) -> Vec<u8> {
    let mut spec = BundleSpec::new(key, s.regulator_key(), T0.plus(30 * 86_400_000));
    spec.manufacturer_roots = vec![s.root_key()];
    spec.size = size;
    write_bundle(log, &spec, scope, Vec::new()).unwrap()
}

/// Verifies with the test key as `--trusted-key`.
pub fn verify(bytes: &[u8]) -> Report {
    verify_with(
        bytes,
        &VerifyOptions {
            trusted_key: Some(log_key().verifier()),
            ..VerifyOptions::default()
        },
    )
}

/// Verifies with options.
pub fn verify_with(bytes: &[u8], opts: &VerifyOptions) -> Report {
    verify_bundle(bytes, opts).unwrap()
}

/// Every record of a (valid) bundle.
pub fn records(bytes: &[u8]) -> Vec<Record> {
    BundleReader::new(bytes).map(|r| r.unwrap().item).collect()
}

/// Frames records as they are, with no order checks, and a correct End.
pub fn frame(records: &[Record]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
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

/// Record number, byte offset and length of every record.
pub fn layout(bytes: &[u8]) -> Vec<(u64, u64, u64, Record)> {
    let mut out = Vec::new();
    let mut rd = BundleReader::new(bytes);
    let mut prev = None::<(u64, u64, Record)>;
    for r in rd.by_ref() {
        let l = r.unwrap();
        if let Some((rec, off, item)) = prev.take() {
            out.push((rec, off, l.offset - off, item));
        }
        prev = Some((l.record, l.offset, l.item));
    }
    if let Some((rec, off, item)) = prev {
        out.push((rec, off, bytes.len() as u64 - off, item));
    }
    out
}

/// The problems of a kind.
pub fn of_kind(r: &Report, kind: ProblemKind) -> Vec<&Problem> {
    r.problems.iter().filter(|p| p.kind == kind).collect()
}

/// An entry's decoded form from a record.
pub fn entry_of(r: &Record) -> Option<Arc<SignedEntry>> {
    match r {
        Record::Entry(e) => Some(Arc::new(SignedEntry::decode(&e.bytes).unwrap())),
        _ => None,
    }
}

/// Hash helper for readable asserts.
pub fn short(h: &Hash) -> String {
    h.short()
}
