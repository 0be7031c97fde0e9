//! Scenario 2: offline verification of an N-entry full bundle with
//! `verify_bundle` (what `armsledger verify` runs): decode, hash,
//! signatures, chains, rules, Merkle root.

use std::time::Instant;

use armsledger_bundle::{VerifyOptions, full_bundle, verify_bundle};
use armsledger_core::testkit::T0;
use armsledger_log::LogKey;

use crate::generate::World;
use crate::limits::Limits;
use crate::report::Figure;

/// Runs the scenario with `n` entries.
pub fn run(n: usize, limits: &Limits) -> anyhow::Result<Vec<Figure>> {
    let mut world = World::new(4, 64)?;
    let mut log = world.setup.clone();
    let extra = n.saturating_sub(log.len());
    log.extend(world.moves(extra)?);
    let key = LogKey::from_seed("ledger.example/armsledger/v1", &[7; 32])?;
    let bytes = full_bundle(&log, &key, world.regulator, T0)?;
    let opts = VerifyOptions {
        trusted_key: Some(key.verifier()),
        ..VerifyOptions::default()
    };
    let t = Instant::now();
    let report = verify_bundle(bytes.as_slice(), &opts)?;
    let secs = t.elapsed().as_secs_f64();
    anyhow::ensure!(report.authentic(), "the generated bundle did not verify");
    anyhow::ensure!(report.entries_checked == log.len() as u64, "entries missed");
    let rate = log.len() as f64 / secs;
    let sc = "2 verify";
    Ok(vec![
        Figure::new(
            sc,
            &format!("verify_bundle entries/s, {} entries", log.len()),
            rate,
            "entries/s",
        )
        .against("batch verify, all cores", limits.batch_all)
        .goal("≥ 0.8× batch verify", rate >= 0.8 * limits.batch_all),
        Figure::new(
            sc,
            "bundle bytes per entry",
            bytes.len() as f64 / log.len() as f64,
            "B",
        ),
    ])
}
