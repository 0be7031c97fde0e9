//! The physical limits, measured in the same run: ed25519 verification
//! (strict and batched, one core and all cores), raw signing, SHA-256 and
//! raw redb commits.

use std::path::Path;
use std::time::{Duration, Instant};

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rayon::prelude::*;
use redb::TableDefinition;
use sha2::{Digest, Sha256};

use crate::report::Figure;

/// The limits the scenarios are judged against.
#[derive(Clone, Copy, Debug, Default)]
pub struct Limits {
    /// `verify_strict` per second, one core.
    pub strict_one: f64,
    /// `verify_strict` per second, all cores.
    pub strict_all: f64,
    /// `verify_batch` (64 per batch) signatures per second, one core.
    pub batch_one: f64,
    /// `verify_batch` (64 per batch) signatures per second, all cores.
    pub batch_all: f64,
    /// Signatures per second, one core.
    pub sign: f64,
    /// SHA-256 MB/s, one core.
    pub sha256_mbs: f64,
    /// Durable redb commits per second (one 250-byte row each).
    pub redb_commits: f64,
    /// Rows per second inserted in 10,000-row durable transactions.
    pub redb_rows: f64,
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
    let sign = rate(n, t.elapsed());

    let sample = &items[..n.min(8192)];
    let t = Instant::now();
    let ok = sample
        .iter()
        .all(|s| s.key.verify_strict(&s.msg, &s.sig).is_ok());
    let strict_one = rate(sample.len(), t.elapsed());
    anyhow::ensure!(ok, "verify_strict refused a good signature");
    let t = Instant::now();
    let ok = items
        .par_iter()
        .all(|s| s.key.verify_strict(&s.msg, &s.sig).is_ok());
    let strict_all = rate(n, t.elapsed());
    anyhow::ensure!(ok, "verify_strict refused a good signature");

    let batch = |c: &[Signed]| {
        let m: Vec<&[u8]> = c.iter().map(|s| s.msg.as_slice()).collect();
        let g: Vec<Signature> = c.iter().map(|s| s.sig).collect();
        let k: Vec<VerifyingKey> = c.iter().map(|s| s.key).collect();
        ed25519_dalek::verify_batch(&m, &g, &k).is_ok()
    };
    let t = Instant::now();
    let ok = sample.chunks(64).all(batch);
    let batch_one = rate(sample.len(), t.elapsed());
    anyhow::ensure!(ok, "batch refused good signatures");
    let t = Instant::now();
    let ok = items.par_chunks(64).all(batch);
    let batch_all = rate(n, t.elapsed());
    anyhow::ensure!(ok, "batch refused good signatures");

    let buf = vec![0x5au8; 1 << 20];
    let rounds = (n / 256).clamp(16, 256);
    let t = Instant::now();
    let mut h = Sha256::new();
    for _ in 0..rounds {
        h.update(&buf);
    }
    std::hint::black_box(h.finalize());
    let sha256_mbs = rate(rounds * buf.len(), t.elapsed()) / 1e6;

    let path = dir.join("limits.redb");
    let db = redb::Database::create(&path)?;
    let value = [0xa5u8; 250];
    let commits = (n / 64).clamp(50, 500);
    let t = Instant::now();
    for i in 0..commits as u64 {
        let txn = db.begin_write()?;
        txn.open_table(RAW)?.insert(i, value.as_slice())?;
        txn.commit()?;
    }
    let redb_commits = rate(commits, t.elapsed());
    let rows = (n * 4).max(40_000);
    let t = Instant::now();
    let mut i = 1_000_000u64;
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
    let redb_rows = rate(rows / 10_000 * 10_000, t.elapsed());
    drop(db);
    let _ = std::fs::remove_file(&path);

    Ok(Limits {
        strict_one,
        strict_all,
        batch_one,
        batch_all,
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
                "ed25519 verify_batch/64, 1 core",
                self.batch_one,
                "sig/s",
            ),
            Figure::new(
                "limit",
                &format!("ed25519 verify_batch/64, {threads} cores"),
                self.batch_all,
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
