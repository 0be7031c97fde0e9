//! Offline verification throughput: builds a full bundle of N entries
//! (default 100,000; `ARMSLEDGER_BENCH_ENTRIES=1000000` for a million) and
//! prints `verify_bundle`'s entries/s next to the raw Ed25519 rates measured
//! in the same run: dalek batch verification on all cores, our
//! verify_strict-exact batch path on all cores, and single `verify_strict`.
//!
//! `cargo bench -p armsledger-bundle --bench verify`
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use ed25519_dalek::{Signature, VerifyingKey};
use rayon::prelude::*;

use armsledger_bundle::{VerifyOptions, full_bundle, verify_bundle};
use armsledger_core::entry::{EntryBody, EntryHeader, Link};
use armsledger_core::event::{Event, SiteEvent};
use armsledger_core::ids::SiteId;
use armsledger_core::model::{FirearmId, Item};
use armsledger_core::sig::Statement as _;
use armsledger_core::sig::batch::{BATCH, SigItem, verify_all, verify_all_in_batches};
use armsledger_core::testkit::{Scenario, T0, loc, v};
use armsledger_core::{Hash, SignedEntry, Subject};
use armsledger_log::LogKey;

const SITES: usize = 4;
const GUNS_PER_SITE: usize = 64;

fn main() {
    let n: usize = std::env::var("ARMSLEDGER_BENCH_ENTRIES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let threads = rayon::current_num_threads();
    println!("armsledger-bundle verify bench: {n} entries, {threads} threads");

    let t = Instant::now();
    let (log, regulator) = build(n);
    let key = LogKey::from_seed("ledger.example/armsledger/v1", &[7; 32]).unwrap();
    let bytes = full_bundle(&log, &key, regulator, T0).unwrap();
    println!(
        "built {} entries, bundle {:.1} MB, in {:.1} s",
        log.len(),
        bytes.len() as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );

    let opts = VerifyOptions {
        trusted_key: Some(key.verifier()),
        ..VerifyOptions::default()
    };
    let t = Instant::now();
    let report = verify_bundle(bytes.as_slice(), &opts).unwrap();
    let verify_s = t.elapsed().as_secs_f64();
    assert!(report.authentic(), "{:#?}", report.problems.first());
    assert_eq!(report.entries_checked, log.len() as u64);

    // The same signatures, raw.
    let messages: Vec<Vec<u8>> = log.par_iter().map(|e| e.signed_message()).collect();
    let keys: HashMap<String, [u8; 32]> = HashMap::new();
    let _ = keys;
    let mut verifier = armsledger_core::KeyRegistry::new(regulator);
    let mut pks = Vec::with_capacity(log.len());
    for e in &log {
        pks.push(verifier.key_for(e.header()).unwrap());
        if let Event::Regulator(ev) = &e.body().event {
            verifier.apply(ev);
        }
    }
    let items: Vec<SigItem<'_>> = log
        .iter()
        .zip(&messages)
        .zip(&pks)
        .map(|((e, m), k)| SigItem {
            key: *k,
            message: m,
            signature: e.signature().0,
        })
        .collect();

    let t = Instant::now();
    let ok = items.par_chunks(64).all(|c| {
        let msgs: Vec<&[u8]> = c.iter().map(|i| i.message).collect();
        let sigs: Vec<Signature> = c
            .iter()
            .map(|i| Signature::from_bytes(&i.signature))
            .collect();
        let vks: Vec<VerifyingKey> = c
            .iter()
            .map(|i| VerifyingKey::from_bytes(&i.key).unwrap())
            .collect();
        ed25519_dalek::verify_batch(&msgs, &sigs, &vks).is_ok()
    });
    let batch_s = t.elapsed().as_secs_f64();
    assert!(ok);

    let t = Instant::now();
    let (verdicts, stats) = verify_all(&items);
    let exact_s = t.elapsed().as_secs_f64();
    assert!(verdicts.iter().all(|v| *v));

    let mut by_batch = Vec::new();
    for batch in [64, 128, 256, 512, 1024, 2048] {
        let t = Instant::now();
        let (verdicts, _) = verify_all_in_batches(&items, batch);
        by_batch.push((batch, t.elapsed().as_secs_f64()));
        assert!(verdicts.iter().all(|v| *v));
    }

    let sample = items.len().min(20_000);
    let t = Instant::now();
    assert!(
        items[..sample]
            .iter()
            .all(armsledger_core::sig::batch::verify_one)
    );
    let single_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    assert!(
        items[..sample]
            .par_iter()
            .all(armsledger_core::sig::batch::verify_one)
    );
    let strict_all_s = t.elapsed().as_secs_f64();

    let rate = |count: usize, s: f64| count as f64 / s;
    println!();
    println!("{:<58} {:>12}", "measure", "entries/s");
    println!(
        "{:<58} {:>12.0}",
        "verify_bundle (decode, hash, sigs, chains, rules, root)",
        rate(log.len(), verify_s)
    );
    println!(
        "{:<58} {:>12.0}",
        format!("raw ed25519 verify_batch/64, {threads} cores (the limit)"),
        rate(items.len(), batch_s)
    );
    println!(
        "{:<58} {:>12.0}",
        format!("verify_strict-exact batch path ({BATCH}/batch), {threads} cores"),
        rate(items.len(), exact_s)
    );
    for (batch, secs) in by_batch {
        println!(
            "{:<58} {:>12.0}",
            format!("  the same with {batch}/batch"),
            rate(items.len(), secs)
        );
    }
    println!(
        "{:<58} {:>12.0}",
        format!("verify_strict, {threads} cores"),
        rate(sample, strict_all_s)
    );
    println!(
        "{:<58} {:>12.0}",
        "verify_strict, 1 core",
        rate(sample, single_s)
    );
    println!();
    println!(
        "verify_bundle: {:.2} s; signatures: {} batched, {} strict, {} batch failures",
        verify_s, stats.batched, stats.strict, stats.batch_failures
    );
}

/// A regulator chain with SITES sites and licensed staff, GUNS_PER_SITE pistols
/// per site, then storage moves until the log has `n` entries. Headers are
/// chained sequentially (cheap hashing); signatures are made in parallel.
fn build(n: usize) -> (Vec<Arc<SignedEntry>>, [u8; 32]) {
    let mut s = Scenario::standard();
    let sites: Vec<SiteId> = (0..SITES).map(|i| v(&format!("site-{i}"))).collect();
    for (i, site) in sites.iter().enumerate() {
        s.company_with_site(&format!("co-{i}"), site.as_str());
    }
    let mut guns: Vec<(usize, FirearmId, bool)> = Vec::new();
    for (i, site) in sites.iter().enumerate() {
        for g in 0..GUNS_PER_SITE {
            let (id, _) = s.acquire(site.as_str(), &format!("S{i}-{g:05}"));
            guns.push((i, id, false));
        }
    }
    let mut latest: HashMap<FirearmId, Hash> = HashMap::new();
    for e in &s.log {
        for l in &e.body().links {
            if let Subject::Firearm(f) = l.subject {
                latest.insert(f, e.hash());
            }
        }
    }
    let mut signers: Vec<_> = sites.iter().map(|site| s.sites[site].clone()).collect();
    let mut time = s.now;
    let extra = n.saturating_sub(s.log.len());
    let mut unsigned: Vec<(usize, EntryHeader, EntryBody)> = Vec::with_capacity(extra);
    for k in 0..extra {
        let slot = k % guns.len();
        let (site, gun, in_rack) = guns[slot];
        let (from, to) = if in_rack {
            ("rack-1", "vault")
        } else {
            ("vault", "rack-1")
        };
        guns[slot].2 = !in_rack;
        let body = EntryBody {
            format: Default::default(),
            occurred_at: time,
            officer: v("armourer-1"),
            links: vec![Link {
                subject: Subject::Firearm(gun),
                prev: latest.get(&gun).copied(),
            }],
            event: Event::Site(SiteEvent::StorageMoved {
                item: Item::Firearm(gun),
                from: loc(from),
                to: loc(to),
            }),
        };
        let signer = &mut signers[site];
        let header = signer.next_header(body.hash().unwrap(), time, 0);
        let hash = header.entry_hash().unwrap();
        signer.head = (header.counter, hash);
        latest.insert(gun, hash);
        time = time.plus(1000);
        unsigned.push((site, header, body));
    }
    let signed: Vec<Arc<SignedEntry>> = unsigned
        .into_par_iter()
        .map(|(site, header, body)| {
            let sig = header.sign(signers[site].signing_key()).unwrap();
            Arc::new(SignedEntry::assemble(header, sig, body).unwrap())
        })
        .collect();
    let regulator = s.regulator_key();
    let mut log = s.log;
    log.extend(signed);
    (log, regulator)
}
