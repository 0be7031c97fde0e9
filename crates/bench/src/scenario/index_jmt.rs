//! The same index workload through `jmt` 0.12 (the Jellyfish Merkle tree of
//! Diem, kept by Penumbra) over redb: nodes keyed by their borsh-encoded
//! `NodeKey`, values by (key hash, version); one version per group commit,
//! as its API asks. Built only with feature `jmt`
//! (`cargo run -p armsledger-bench --features jmt --release -- --scenario index`).

use std::path::Path;
use std::time::{Duration, Instant};

use jmt::storage::{LeafNode, Node, NodeKey, TreeReader};
use jmt::{KeyHash, OwnedValue, Sha256Jmt, Version};
use redb::{ReadableTable, Table, TableDefinition};

use crate::report::Figure;
use crate::scenario::index::{GROUP, fill, subject, touched, update, value};

type Def = TableDefinition<'static, &'static [u8], &'static [u8]>;
const NODES: Def = TableDefinition::new("jmt_nodes");
const VALUES: Def = TableDefinition::new("jmt_values");

struct RedbJmt<'t> {
    nodes: Table<'t, &'static [u8], &'static [u8]>,
    values: Table<'t, &'static [u8], &'static [u8]>,
}

impl TreeReader for RedbJmt<'_> {
    fn get_node_option(&self, key: &NodeKey) -> anyhow::Result<Option<Node>> {
        let k = borsh::to_vec(key)?;
        Ok(match self.nodes.get(k.as_slice())? {
            Some(g) => Some(borsh::from_slice(g.value())?),
            None => None,
        })
    }

    fn get_value_option(&self, max: Version, key: KeyHash) -> anyhow::Result<Option<OwnedValue>> {
        let lo = [key.0.as_slice(), &0u64.to_be_bytes()].concat();
        let hi = [key.0.as_slice(), &max.to_be_bytes()].concat();
        let mut range = self.values.range(lo.as_slice()..=hi.as_slice())?;
        Ok(match range.next_back() {
            Some(x) => {
                let (_, v) = x?;
                let v = v.value();
                (v.first() == Some(&1)).then(|| v[1..].to_vec())
            }
            None => None,
        })
    }

    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        Ok(None)
    }
}

/// One version: `keys` set to `value(n)`; returns the time spent.
fn put(
    db: &redb::Database,
    version: Version,
    updates: &[(jmt::KeyHash, Vec<u8>)],
) -> anyhow::Result<(Duration, Duration)> {
    let txn = db.begin_write()?;
    let t = Instant::now();
    {
        let mut store = RedbJmt {
            nodes: txn.open_table(NODES)?,
            values: txn.open_table(VALUES)?,
        };
        let tree = Sha256Jmt::new(&store);
        let (_, batch) =
            tree.put_value_set(updates.iter().map(|(k, v)| (*k, Some(v.clone()))), version)?;
        for (k, n) in batch.node_batch.nodes() {
            store
                .nodes
                .insert(borsh::to_vec(k)?.as_slice(), borsh::to_vec(n)?.as_slice())?;
        }
        for ((ver, key), v) in batch.node_batch.values() {
            let k = [key.0.as_slice(), &ver.to_be_bytes()].concat();
            let v = match v {
                Some(v) => [&[1u8][..], v].concat(),
                None => vec![0],
            };
            store.values.insert(k.as_slice(), v.as_slice())?;
        }
    }
    let work = t.elapsed();
    let t = Instant::now();
    txn.commit()?;
    Ok((work, t.elapsed()))
}

/// `subjects` leaves, then `entries` entries in groups of 256 (three leaves
/// each), through jmt and through our map, in files of their own.
pub fn run(subjects: u64, entries: usize, dir: &Path) -> anyhow::Result<Vec<Figure>> {
    let sc = "7 index: jmt";
    let path = dir.join("jmt.redb");
    let db = redb::Database::create(&path)?;
    let mut version = 0;
    let t = Instant::now();
    let mut i = 0u64;
    while i < subjects {
        let v = value(i).encode();
        let updates: Vec<_> = (i..(i + 65_536).min(subjects))
            .map(|j| (KeyHash(subject(j).0), v.clone()))
            .collect();
        put(&db, version, &updates)?;
        version += 1;
        i += 65_536;
    }
    let jmt_fill = t.elapsed();
    let size_filled = std::fs::metadata(&path)?.len() as f64;
    let mut work = Duration::ZERO;
    let mut n = 0u64;
    while (n as usize) < entries {
        let mut updates = Vec::new();
        for e in n..n + GROUP as u64 {
            let v = value(e).encode();
            for k in touched(e, subjects) {
                updates.push((KeyHash(k.0), v.clone()));
            }
        }
        work += put(&db, version, &updates)?.0;
        version += 1;
        n += GROUP as u64;
    }
    let size_after = std::fs::metadata(&path)?.len() as f64;
    drop(db);
    let _ = std::fs::remove_file(&path);
    let jmt_us = work.as_secs_f64() * 1e6 / n as f64;

    // Ours, same sizes, same workload.
    let ours_path = dir.join("ours.redb");
    let ours_db = redb::Database::create(&ours_path)?;
    let ours_fill = fill(&ours_db, subjects)?;
    let (ours_work, _, ours_n) = update(&ours_db, subjects, entries)?;
    drop(ours_db);
    let _ = std::fs::remove_file(&ours_path);
    let ours_us = ours_work.as_secs_f64() * 1e6 / ours_n as f64;

    Ok(vec![
        Figure::new(
            sc,
            &format!("jmt fill to {subjects} subjects, per subject"),
            jmt_fill.as_secs_f64() * 1e6 / subjects as f64,
            "µs",
        )
        .against(
            "ours µs/subject",
            ours_fill.as_secs_f64() * 1e6 / subjects as f64,
        ),
        Figure::new(
            sc,
            &format!("jmt update per entry (3 leaves), groups of {GROUP}, at {subjects} subjects"),
            jmt_us,
            "µs",
        )
        .against("ours µs/entry", ours_us),
        Figure::new(
            sc,
            "jmt file per subject after fill (as written)",
            size_filled / subjects as f64,
            "B",
        ),
        Figure::new(
            sc,
            &format!("jmt file growth per entry over {n} entries (no pruning)"),
            (size_after - size_filled) / n as f64,
            "B",
        ),
    ])
}
