//! Verifying an exported bundle from Rust, exactly as `armsledger verify` does.
//!
//! Run: `cargo run --example verify_bundle -- PATH [VKEY-FILE]` (for example
//! on the demo's `armsledger-demo/ledger.bundle` and
//! `armsledger-demo/server/log.vkey`). With no path it builds a small signed
//! ledger in memory first.

use armsledger::core::testkit::Scenario;
use armsledger_bundle::{VerifyOptions, full_bundle, verify_bundle};
use armsledger_log::{LogKey, LogVerifier};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (bytes, trusted) = match args.first() {
        Some(path) => {
            let key = match args.get(1) {
                Some(f) => Some(LogVerifier::from_vkey(std::fs::read_to_string(f)?.trim())?),
                None => None,
            };
            (std::fs::read(path)?, key)
        }
        None => {
            let mut s = Scenario::standard();
            s.acquire("north", "GLK-0001");
            let key = LogKey::from_seed("example.org/log", &[7; 32])?;
            let bundle = full_bundle(&s.log, &key, s.regulator_key(), s.now)?;
            (bundle, Some(key.verifier()))
        }
    };
    let options = VerifyOptions {
        trusted_key: trusted,
        ..VerifyOptions::default()
    };
    let report = verify_bundle(bytes.as_slice(), &options)?;
    println!("authentic: {}", report.authentic);
    println!(
        "entries: {} ({} verified)",
        report.entries, report.entries_checked
    );
    if let Some(c) = &report.checkpoint {
        println!("checkpoint: {} size {} root {}", c.origin, c.size, c.root);
    }
    for p in &report.problems {
        println!("problem: {p}");
    }
    println!("findings: {}", report.findings.len());
    Ok(())
}
