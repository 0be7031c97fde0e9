//! The physical limits, measured in the same run: ed25519 verification
//! (strict and batched, one core and all cores), raw signing, SHA-256 and
//! raw redb commits.
//!
//! Each limit is the best the library reaches on this machine, not one
//! setting in one run: every rate is the best of [`RUNS`] runs, and
//! `verify_batch` is tried at every width of [`WIDTHS`] (each the best of
//! its runs) and judged at the fastest, whose width is printed.

use std::path::Path;
use std::time::{Duration, Instant};

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rayon::prelude::*;
use redb::TableDefinition;
use sha2::{Digest, Sha256};

use armsledger_core::sig::batch::SigItem;

use crate::report::Figure;

/// The limits the scenarios are judged against.
#[derive(Clone, Copy, Debug, Default)]
pub struct Limits {
    /// `verify_strict` per second, one core.
    pub strict_one: f64,
    /// `verify_strict` per second, all cores.
    pub strict_all: f64,
    /// `verify_batch` signatures per second, one core, at [`Self::batch_width`].
    pub batch_one: f64,
    /// `verify_batch` signatures per second, all cores, at [`Self::batch_width`]:
    /// the limit ingest and offline verification are judged against.
    pub batch_all: f64,
    /// The `verify_batch` width (signatures per call) that was fastest on
    /// all cores.
    pub batch_width: usize,
    /// armsledger's own exact-verdict path (`armsledger_core::sig::batch`,
    /// what the server and `verify` run), all cores, at its fastest width:
    /// not a limit, the library code the scenarios run, beside it.
    pub exact_all: f64,
    /// The width (signatures per batch equation) that was fastest for it.
    pub exact_width: usize,
    /// Signatures per second, one core.
    pub sign: f64,
    /// SHA-256 MB/s, one core.
    pub sha256_mbs: f64,
    /// Durable redb commits per second (one 250-byte row each).
    pub redb_commits: f64,
    /// Rows per second inserted in 10,000-row durable transactions.
    pub redb_rows: f64,
}

/// Runs of each measurement; the best counts.
pub const RUNS: usize = 3;

/// The `verify_batch` widths tried.
pub const WIDTHS: [usize; 9] = [16, 32, 64, 128, 256, 512, 1024, 2048, 4096];

/// The batch-equation widths tried for armsledger's own exact path.
pub const EXACT_WIDTHS: [usize; 5] = [256, 512, 1024, 2048, 4096];

/// The best rate of [`RUNS`] runs of `f`, which handles `n` items per run
/// and says whether all of them were good.
fn best_of(n: usize, mut f: impl FnMut() -> bool) -> anyhow::Result<f64> {
    let mut best = 0.0f64;
    for _ in 0..RUNS {
        let t = Instant::now();
        let ok = f();
        let r = rate(n, t.elapsed());
        anyhow::ensure!(ok, "a limit's verifier refused good signatures");
        best = best.max(r);
    }
    Ok(best)
}

const RAW: TableDefinition<u64, &[u8]> = TableDefinition::new("raw");

struct Signed {
    key: VerifyingKey,
    msg: Vec<u8>,
    sig: Signature,
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

/// Measures every limit with `n` signatures (≈ entry-sized messages).
pub fn measure(n: usize, dir: &Path) -> anyhow::Result<Limits> {
    let keys: Vec<SigningKey> = (0..8u8)
        .map(|i| SigningKey::from_bytes(&[i + 1; 32]))
        .collect();
    let msgs: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            let mut m = vec![0u8; 220];
            m[..8].copy_from_slice(&(i as u64).to_le_bytes());
            m
        })
        .collect();

    let t = Instant::now();
    let items: Vec<Signed> = msgs
        .into_iter()
        .enumerate()
        .map(|(i, msg)| {
            let k = &keys[i % keys.len()];
            Signed {
                key: k.verifying_key(),
                sig: k.sign(&msg),
                msg,
            }
        })
        .collect();
    let first = rate(n, t.elapsed());
    let sample = &items[..n.min(8192)];
    let sign = best_of(sample.len(), || {
        for (i, s) in sample.iter().enumerate() {
            std::hint::black_box(keys[i % keys.len()].sign(&s.msg));
        }
        true
    })?
    .max(first);

    let strict_one = best_of(sample.len(), || {
        sample
            .iter()
            .all(|s| s.key.verify_strict(&s.msg, &s.sig).is_ok())
    })?;
    let strict_all = best_of(n, || {
        items
            .par_iter()
            .all(|s| s.key.verify_strict(&s.msg, &s.sig).is_ok())
    })?;

    let batch = |c: &[Signed]| {
        let m: Vec<&[u8]> = c.iter().map(|s| s.msg.as_slice()).collect();
        let g: Vec<Signature> = c.iter().map(|s| s.sig).collect();
        let k: Vec<VerifyingKey> = c.iter().map(|s| s.key).collect();
        ed25519_dalek::verify_batch(&m, &g, &k).is_ok()
    };
    // Every width on all cores (a width wider than the input per thread
    // leaves cores idle: it is measured anyway, and loses).
    let mut batch_all = 0.0f64;
    let mut batch_width = WIDTHS[0];
    for w in WIDTHS {
        let r = best_of(n, || items.par_chunks(w).all(batch))?;
        if r > batch_all {
            batch_all = r;
            batch_width = w;
        }
    }
    let batch_one = best_of(sample.len(), || sample.chunks(batch_width).all(batch))?;

    let exact: Vec<SigItem<'_>> = items
        .iter()
        .map(|s| SigItem {
            key: s.key.to_bytes(),
            message: &s.msg,
            signature: s.sig.to_bytes(),
        })
        .collect();
    let mut exact_all = 0.0f64;
    let mut exact_width = EXACT_WIDTHS[0];
    for w in EXACT_WIDTHS {
        let r = best_of(n, || {
            armsledger_core::sig::batch::verify_all_in_batches(&exact, w)
                .0
                .iter()
                .all(|ok| *ok)
        })?;
        if r > exact_all {
            exact_all = r;
            exact_width = w;
        }
    }
    drop(exact);

    let buf = vec![0x5au8; 1 << 20];
    let rounds = (n / 256).clamp(16, 256);
    let sha256_mbs = best_of(rounds * buf.len(), || {
        let mut h = Sha256::new();
        for _ in 0..rounds {
            h.update(&buf);
        }
        std::hint::black_box(h.finalize());
        true
    })? / 1e6;

    let path = dir.join("limits.redb");
    let db = redb::Database::create(&path)?;
    let value = [0xa5u8; 250];
    let commits = (n / 64).clamp(50, 500);
    let mut key = 0u64;
    let mut redb_commits = 0.0f64;
    for _ in 0..RUNS {
        let t = Instant::now();
        for _ in 0..commits {
            let txn = db.begin_write()?;
            txn.open_table(RAW)?.insert(key, value.as_slice())?;
            txn.commit()?;
            key += 1;
        }
        redb_commits = redb_commits.max(rate(commits, t.elapsed()));
    }
    let rows = (n * 4).max(40_000);
    let mut redb_rows = 0.0f64;
    let mut i = 1_000_000u64;
    for _ in 0..RUNS {
        let t = Instant::now();
        for _ in 0..rows / 10_000 {
            let txn = db.begin_write()?;
            {
                let mut table = txn.open_table(RAW)?;
                for _ in 0..10_000 {
                    table.insert(i, value.as_slice())?;
                    i += 1;
                }
            }
            txn.commit()?;
        }
        redb_rows = redb_rows.max(rate(rows / 10_000 * 10_000, t.elapsed()));
    }
    drop(db);
    let _ = std::fs::remove_file(&path);

    Ok(Limits {
        strict_one,
        strict_all,
        batch_one,
        batch_all,
        batch_width,
        exact_all,
        exact_width,
        sign,
        sha256_mbs,
        redb_commits,
        redb_rows,
    })
}

impl Limits {
    /// The limits as table rows.
    pub fn figures(&self) -> Vec<Figure> {
        let threads = rayon::current_num_threads();
        vec![
            Figure::new(
                "limit",
                "ed25519 verify_strict, 1 core",
                self.strict_one,
                "sig/s",
            ),
            Figure::new(
                "limit",
                &format!("ed25519 verify_strict, {threads} cores"),
                self.strict_all,
                "sig/s",
            ),
            Figure::new(
                "limit",
                &format!("ed25519 verify_batch/{}, 1 core", self.batch_width),
                self.batch_one,
                "sig/s",
            ),
            Figure::new(
                "limit",
                &format!(
                    "ed25519 verify_batch/{}, {threads} cores (fastest of widths {}–{}, best of {RUNS} runs each)",
                    self.batch_width,
                    WIDTHS[0],
                    WIDTHS[WIDTHS.len() - 1]
                ),
                self.batch_all,
                "sig/s",
            ),
            Figure::new(
                "limit",
                &format!(
                    "(not a limit) armsledger exact-verdict batch path, {} per equation, {threads} cores (fastest of {}–{})",
                    self.exact_width,
                    EXACT_WIDTHS[0],
                    EXACT_WIDTHS[EXACT_WIDTHS.len() - 1]
                ),
                self.exact_all,
                "sig/s",
            ),
            Figure::new("limit", "ed25519 sign, 1 core", self.sign, "sig/s"),
            Figure::new("limit", "SHA-256, 1 core", self.sha256_mbs, "MB/s"),
            Figure::new(
                "limit",
                "redb durable commits (1 row each)",
                self.redb_commits,
                "commits/s",
            ),
            Figure::new(
                "limit",
                "redb batched inserts (10k rows/txn, 250 B)",
                self.redb_rows,
                "rows/s",
            ),
        ]
    }
}
