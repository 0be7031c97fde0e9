//! Bundles (exports and dossiers) as the offline verifier reads them: the
//! record reader and the whole verifier never panic on any input, and every
//! record the reader yields lies inside the input.
#![no_main]

use armsledger_bundle::{BundleReader, VerifyOptions, verify_bundle};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut last = None;
    for item in BundleReader::new(data) {
        match item {
            Ok(l) => {
                assert!(l.offset < data.len() as u64);
                if let Some(prev) = last {
                    assert!(l.offset > prev, "records go forward");
                }
                last = Some(l.offset);
            }
            Err(_) => break,
        }
    }
    if let Ok(report) = verify_bundle(data, &VerifyOptions::default()) {
        // Without a trusted key nothing can be authentic beyond its own key,
        // but a report with problems is never authentic.
        if !report.problems.is_empty() {
            assert!(!report.authentic());
        }
    }
});
