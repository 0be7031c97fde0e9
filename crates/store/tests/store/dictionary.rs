//! The format v3 zstd dictionary (`crates/store/src/log/dict/v3.dict`): how
//! it was trained. Not a test: run it only to make a new format version
//! (changing the dictionary makes every existing v3 file unreadable):
//!
//! ```text
//! cargo test -p armsledger-store --test store -- --ignored train_dictionary --nocapture
//! ```

use armsledger_core::testkit::storage_mix;
use armsledger_store::training_sample;

use crate::common::workload;

/// Dictionary size: 16 KiB, the size measured in issue 8.
const SIZE: usize = 16 * 1024;

#[test]
#[ignore = "trains the format's dictionary; run by hand, see the module doc"]
fn train_dictionary() {
    // Training set: the first 4,000 entries of the storage mix (regulator
    // set-up, acquisitions, cycles, moves, counts) and 1,000 entries of
    // acquire/issue/return cycles; held out: the next 2,500 of the mix.
    let mix = storage_mix(6_500);
    let cycles = workload(1_000);
    let train: Vec<Vec<u8>> = mix[..4_000]
        .iter()
        .chain(cycles.iter())
        .map(|e| training_sample(e))
        .collect();
    let dict = zstd::dict::from_samples(&train, SIZE).unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/log/dict/v3.dict");
    std::fs::write(path, &dict).unwrap();
    let mut c = zstd::bulk::Compressor::with_dictionary(3, &dict).unwrap();
    let held = &mix[4_000..];
    let (mut raw, mut packed) = (0usize, 0usize);
    for e in held {
        raw += e.bytes().len();
        packed += c.compress(&training_sample(e)).unwrap().len();
    }
    println!(
        "dictionary {} bytes; held out {} entries: {:.1} B → {:.1} B",
        dict.len(),
        held.len(),
        raw as f64 / held.len() as f64,
        packed as f64 / held.len() as f64
    );
}

#[test]
fn every_kind_of_the_mix_reads_back_exactly() {
    // Regulator set-up (licences, sites, enrolments, persons), acquisitions,
    // ammunition received, issues, returns, storage moves, counts.
    let log = storage_mix(900);
    let (_dir, store) = crate::common::store_with(&log);
    let r = store.read().unwrap();
    for (i, e) in log.iter().enumerate() {
        let i = i as u64;
        assert_eq!(r.entry_bytes(i).unwrap().as_deref(), Some(e.bytes()));
        assert!(r.stored_row(i).unwrap().unwrap().len() < e.bytes().len());
    }
    assert!(store.fsck().unwrap().is_clean());
}
