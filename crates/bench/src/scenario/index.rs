//! Scenario 7: the verifiable index (issue 19). A map of `subjects` leaves
//! in redb, then group commits of 256 entries, each entry moving three
//! leaves forward (its chain's, a weapon's serial, a lot's), as ingest
//! would; the map's work per entry beside ingest's time per entry from the
//! same run. Then proofs (size, time to make and to check) at that size,
//! bytes on disk per subject, the offline rebuild, and the real indexer
//! (`armsledger_index::apply`) on real entries. With feature `jmt`, the same
//! workload through the `jmt` crate (Jellyfish Merkle tree) over redb, the
//! maintained crate the issue asked us to weigh.

use std::path::Path;
use std::time::{Duration, Instant};

use armsledger_core::entry::ChainId;
use armsledger_core::hash::Hash;
use armsledger_core::testkit::storage_mix;
use armsledger_index::node::{Child, Node, NodeKey};
use armsledger_index::redb_store::{RedbMap, RedbMapRead};
use armsledger_index::tree::Batch;
use armsledger_index::{
    Kind, LeafValue, MapError, MapKey, MemStore, NodeStore, NodeStoreMut, Record, prove, root_hash,
};
use redb::ReadableDatabase;

use crate::report::Figure;

/// Entries per group commit, as ingest's batches.
pub const GROUP: usize = 256;

/// The `i`-th synthetic subject's key.
pub fn subject(i: u64) -> MapKey {
    MapKey::serial(&format!("S{i:09}"))
}

/// A one-record serial value for entry `n`.
pub fn value(n: u64) -> LeafValue {
    let mut v = LeafValue::new(Kind::Serial);
    let _ = v.put(Record {
        label: n.to_be_bytes().repeat(2),
        log_index: n,
        entry_hash: Hash::of(&[&n.to_be_bytes()]),
        seq: n,
    });
    v
}

/// The three keys entry `n` moves forward among `subjects`: one of 50
/// chains, a pseudo-random subject, one of 1000 lots.
pub fn touched(n: u64, subjects: u64) -> [MapKey; 3] {
    let r = u64::from_be_bytes(
        Hash::of(&[b"bench", &n.to_be_bytes()]).0[..8]
            .try_into()
            .unwrap(),
    );
    [
        MapKey::chain(&ChainId::Site(format!("site-{}", n % 50).parse().unwrap())),
        subject(r % subjects),
        MapKey::lot(&armsledger_core::model::LotId(
            ((r >> 32) % 1000)
                .to_be_bytes()
                .repeat(2)
                .try_into()
                .unwrap(),
        )),
    ]
}

fn set(map: &mut impl NodeStoreMut, keys: &[MapKey], n: u64) {
    let v = value(n);
    let bytes = v.encode();
    let vh = v.hash();
    for k in keys {
        map.put_value(k, &bytes).unwrap();
    }
    let mut b = Batch::new(map).unwrap();
    for k in keys {
        b.set(k, vh).unwrap();
    }
    b.commit().unwrap();
}

/// Fills a map in `db` with `subjects` leaves (64k per transaction).
pub fn fill(db: &redb::Database, subjects: u64) -> anyhow::Result<Duration> {
    let t = Instant::now();
    let mut i = 0u64;
    while i < subjects {
        let txn = db.begin_write()?;
        {
            let mut map = RedbMap::open(&txn)?;
            let keys: Vec<MapKey> = (i..(i + 65_536).min(subjects)).map(subject).collect();
            set(&mut map, &keys, i);
        }
        txn.commit()?;
        i += 65_536;
    }
    Ok(t.elapsed())
}

/// The map entry `e` moves among `subjects`, into batch `b` (the values
/// returned, to be stored after the batch's nodes).
fn stage(
    b: &mut Batch<'_, impl NodeStoreMut>,
    subjects: u64,
    e: u64,
    values: &mut Vec<(MapKey, Vec<u8>)>,
) -> anyhow::Result<()> {
    let v = value(e);
    for k in touched(e, subjects) {
        b.set(&k, v.hash())?;
        values.push((k, v.encode()));
    }
    Ok(())
}

/// Moves the map in `db` forward by `entries` entries in durable group
/// commits. Returns the map's work inside the group transactions, their
/// commits, and the entries applied.
pub fn update(
    db: &redb::Database,
    subjects: u64,
    entries: usize,
) -> anyhow::Result<(Duration, Duration, u64)> {
    let mut work = Duration::ZERO;
    let mut commit = Duration::ZERO;
    let mut n = 0u64;
    while (n as usize) < entries {
        let txn = db.begin_write()?;
        let t = Instant::now();
        {
            let mut map = RedbMap::open(&txn)?;
            let mut values = Vec::new();
            let mut b = Batch::new(&mut map)?;
            for e in n..n + GROUP as u64 {
                stage(&mut b, subjects, e, &mut values)?;
            }
            b.commit()?;
            for (k, v) in values {
                map.put_value(&k, &v)?;
            }
        }
        work += t.elapsed();
        let t = Instant::now();
        txn.commit()?;
        commit += t.elapsed();
        n += GROUP as u64;
    }
    Ok((work, commit, n))
}

/// A map store that counts the rows it writes (nodes, values).
struct Counting<S> {
    inner: S,
    nodes: u64,
    values: u64,
}

impl<S: NodeStore> NodeStore for Counting<S> {
    fn root(&self) -> Result<Child, MapError> {
        self.inner.root()
    }
    fn node(&self, at: &NodeKey) -> Result<Option<Node>, MapError> {
        self.inner.node(at)
    }
    fn value(&self, key: &MapKey) -> Result<Option<Vec<u8>>, MapError> {
        self.inner.value(key)
    }
    fn firearm(&self, id: &[u8; 16]) -> Result<Option<Vec<u8>>, MapError> {
        self.inner.firearm(id)
    }
}

impl<S: NodeStoreMut> NodeStoreMut for Counting<S> {
    fn set_root(&mut self, root: &Child) -> Result<(), MapError> {
        self.inner.set_root(root)
    }
    fn put_node(&mut self, at: &NodeKey, node: &Node) -> Result<(), MapError> {
        self.nodes += 1;
        self.inner.put_node(at, node)
    }
    fn put_value(&mut self, key: &MapKey, value: &[u8]) -> Result<(), MapError> {
        self.values += 1;
        self.inner.put_value(key, value)
    }
    fn put_firearm(&mut self, id: &[u8; 16], state: &[u8]) -> Result<(), MapError> {
        self.inner.put_firearm(id, state)
    }
}

/// Bytes this process has handed to `write` so far (`wchar` of
/// `/proc/self/io`; `None` where the system does not say).
fn written() -> Option<u64> {
    let io = std::fs::read_to_string("/proc/self/io").ok()?;
    io.lines()
        .find_map(|l| l.strip_prefix("wchar:"))?
        .trim()
        .parse()
        .ok()
}

/// Checkpoint batches applied in [`amplification`].
const BATCHES: u64 = 8;

/// The map's write amplification under sustained ingest: [`BATCHES`]
/// durable transactions of `per` entries each (one checkpoint's batch,
/// each entry moving three leaves, as [`update`]'s), from entry number
/// `first`. Returns per batch the medians of: nodes rewritten, values
/// written, and bytes the process wrote (`None` off Linux); and the wall
/// time per entry.
fn amplification(
    db: &redb::Database,
    subjects: u64,
    first: u64,
    per: u64,
) -> anyhow::Result<(f64, f64, Option<f64>, f64)> {
    let (mut nodes, mut values, mut bytes) = (Vec::new(), Vec::new(), Vec::new());
    let t = Instant::now();
    for k in 0..BATCHES {
        let w0 = written();
        let txn = db.begin_write()?;
        let mut map = Counting {
            inner: RedbMap::open(&txn)?,
            nodes: 0,
            values: 0,
        };
        let mut vals = Vec::new();
        let mut b = Batch::new(&mut map)?;
        let from = first + k * per;
        for e in from..from + per {
            stage(&mut b, subjects, e, &mut vals)?;
        }
        b.commit()?;
        for (key, v) in vals {
            map.put_value(&key, &v)?;
        }
        nodes.push(map.nodes as f64);
        values.push(map.values as f64);
        drop(map);
        txn.commit()?;
        if let (Some(a), Some(b)) = (w0, written()) {
            bytes.push(b.saturating_sub(a) as f64);
        }
    }
    let wall = micros(t.elapsed(), (BATCHES * per) as usize);
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied()
    };
    Ok((
        median(&mut nodes).unwrap_or_default(),
        median(&mut values).unwrap_or_default(),
        (bytes.len() as u64 == BATCHES)
            .then(|| median(&mut bytes))
            .flatten(),
        wall,
    ))
}

fn micros(d: Duration, n: usize) -> f64 {
    d.as_secs_f64() * 1e6 / n.max(1) as f64
}

/// Runs the scenario: a map of `subjects`, then `entries` entries in groups
/// of 256. `ingest_us` is ingest's time per entry from this run, if it ran.
pub fn run(
    subjects: u64,
    entries: usize,
    dir: &Path,
    ingest_us: Option<f64>,
) -> anyhow::Result<Vec<Figure>> {
    let sc = "7 index";
    let mut out = Vec::new();
    let path = dir.join("index.redb");
    let db = redb::Database::create(&path)?;

    let filled = fill(&db, subjects)?;
    out.push(Figure::new(
        sc,
        &format!("fill to {subjects} subjects in redb, per subject"),
        micros(filled, subjects as usize),
        "µs",
    ));
    drop(db);
    let mut db = redb::Database::open(&path)?;
    while db.compact()? {}
    let before = std::fs::metadata(&path)?.len() as f64;
    let per_subject = before / subjects as f64;
    let (work, commit, n) = update(&db, subjects, entries)?;
    let per_entry = micros(work, n as usize);
    out.push(Figure::new(
        sc,
        &format!("map update per entry (3 leaves), groups of {GROUP}, at {subjects} subjects"),
        per_entry,
        "µs",
    ));
    out.push(Figure::new(
        sc,
        "map updates/s (leaves)",
        3.0 * n as f64 / work.as_secs_f64(),
        "/s",
    ));
    out.push(Figure::new(
        sc,
        "durable commit of a group with its map changes, per entry",
        micros(commit, n as usize),
        "µs",
    ));
    while db.compact()? {}
    let after = std::fs::metadata(&path)?.len() as f64;
    out.push(Figure::new(
        sc,
        "file per subject (map only, compacted)",
        per_subject,
        "B",
    ));
    out.push(Figure::new(
        sc,
        &format!("file growth per entry over {n} updates (compacted)"),
        (after - before) / n as f64,
        "B",
    ));
    // Write amplification per checkpoint: the checkpointer brings the map
    // up over about 20 groups of 256 at a time (one 250 ms interval of
    // sustained ingest), each entry a different subject.
    let per = (GROUP * GROUPS_PER_CHECKPOINT) as u64;
    let (nodes, values, bytes, wall) = amplification(&db, subjects, 1 << 40, per)?;
    out.push(Figure::new(
        sc,
        &format!(
            "nodes rewritten per checkpoint batch of {per} entries (3 leaves each), at \
             {subjects} subjects, median of {BATCHES}"
        ),
        nodes,
        "nodes",
    ));
    out.push(Figure::new(
        sc,
        "nodes rewritten per entry (each batch's ÷ its entries)",
        nodes / per as f64,
        "nodes",
    ));
    out.push(Figure::new(
        sc,
        "value rows written per checkpoint batch (a leaf's row per entry that moves it)",
        values,
        "values",
    ));
    if let Some(bytes) = bytes {
        out.push(Figure::new(
            sc,
            &format!(
                "bytes written per checkpoint batch of {per} (the durable commit, redb pages; \
                 median of {BATCHES})"
            ),
            bytes,
            "B",
        ));
        out.push(Figure::new(
            sc,
            "bytes written per entry (per checkpoint batch ÷ its entries)",
            bytes / per as f64,
            "B",
        ));
        out.push(Figure::new(
            sc,
            "4 KiB pages written per entry (bytes ÷ 4096)",
            bytes / per as f64 / 4096.0,
            "pages",
        ));
    }
    // As the server moves it now: once per checkpoint, on the
    // checkpointer's thread, each entry a different subject (the worst
    // case), against this run's ingest (whose own map stage, over its few
    // subjects, scenario 1 measures).
    let mut f = Figure::new(
        sc,
        &format!(
            "map move per entry in checkpoint batches of {per} (work and durable commit), at \
             {subjects} subjects"
        ),
        wall,
        "µs",
    );
    if let Some(ingest) = ingest_us {
        f = f
            .against("this run's ingest, wall µs/entry", ingest)
            .goal("≤ 10 % of ingest", wall <= ingest * 0.1);
    }
    out.push(f);

    // Proofs at this size.
    let read = db.begin_read()?;
    let map = RedbMapRead::open(&read)?;
    let root = root_hash(&map)?;
    let probes: Vec<MapKey> = (0..1000u64)
        .map(|j| {
            if j % 2 == 0 {
                subject((j * 7919) % subjects)
            } else {
                MapKey::serial(&format!("ABSENT-{j}"))
            }
        })
        .collect();
    let t = Instant::now();
    let proofs: Vec<_> = probes.iter().map(|k| prove(&map, k).unwrap()).collect();
    let prove_t = t.elapsed();
    let t = Instant::now();
    for (k, p) in probes.iter().zip(&proofs) {
        p.verify(&root, k)?;
    }
    let verify_t = t.elapsed();
    let size = proofs.iter().map(|p| p.encode().len()).sum::<usize>() as f64 / proofs.len() as f64;
    let max = proofs.iter().map(|p| p.encode().len()).max().unwrap_or(0);
    out.push(Figure::new(
        sc,
        "proof size, mean (half present, half absent)",
        size,
        "B",
    ));
    out.push(Figure::new(
        sc,
        "proof size, largest of 1000",
        max as f64,
        "B",
    ));
    out.push(Figure::new(
        sc,
        "make a proof (redb)",
        micros(prove_t, 1000),
        "µs",
    ));
    out.push(Figure::new(
        sc,
        "check a proof",
        micros(verify_t, 1000),
        "µs",
    ));
    drop(map);
    drop(read);
    drop(db);
    let _ = std::fs::remove_file(&path);

    // The offline verifier's rebuild, in memory.
    let t = Instant::now();
    let mut mem = MemStore::default();
    let keys: Vec<MapKey> = (0..subjects).map(subject).collect();
    set(&mut mem, &keys, 0);
    out.push(Figure::new(
        sc,
        &format!("rebuild {subjects} subjects in memory (offline verify)"),
        t.elapsed().as_secs_f64(),
        "s",
    ));
    drop(mem);

    // The real indexer on real entries (one site's busy mix).
    let log = storage_mix(entries.min(20_000));
    let mut mem = MemStore::default();
    let t = Instant::now();
    for (g, chunk) in log.chunks(GROUP).enumerate() {
        armsledger_index::apply(
            &mut mem,
            chunk
                .iter()
                .enumerate()
                .map(|(j, e)| ((g * GROUP + j) as u64, &**e)),
        )?;
    }
    out.push(Figure::new(
        sc,
        &format!(
            "indexer on {} real entries, in memory, per entry",
            log.len()
        ),
        micros(t.elapsed(), log.len()),
        "µs",
    ));

    out.extend(store_ab(entries, dir)?);

    #[cfg(feature = "jmt")]
    out.extend(crate::scenario::index_jmt::run(
        subjects.min(100_000),
        entries.min(2048),
        dir,
    )?);
    Ok(out)
}

/// Proofs timed by [`log_map`], of present serials and of absent ones each.
const LOG_PROBES: usize = 500;

/// The map's figures on a real log at its size (the trace scenario's log,
/// 1M entries, or 10M with `--10m`), from the snapshot `r`, whose map must
/// cover its log: a map proof (make and check; a serial the log holds, of
/// one of `guns`, and one it never recorded) and its size, and the bytes
/// the map's tables take per entry (they grow with subjects, not entries:
/// per subject besides). Figures of scenario "7 index", labelled `label`.
pub fn log_map(
    r: &armsledger_store::LogReader,
    label: &str,
    guns: &[(usize, armsledger_core::model::FirearmId, bool)],
) -> anyhow::Result<Vec<Figure>> {
    let sc = "7 index";
    let size = r.size();
    let root = r.index_root()?;
    let mut present = Vec::with_capacity(LOG_PROBES);
    let step = (guns.len() / LOG_PROBES).max(1);
    for (_, gun, _) in guns.iter().step_by(step).take(LOG_PROBES) {
        if let Some(serial) = r.index_serials(&gun.0)?.first() {
            present.push(MapKey::serial(serial));
        }
    }
    anyhow::ensure!(
        !present.is_empty(),
        "no serial of the log's pistols is in its map"
    );
    let absent: Vec<MapKey> = (0..LOG_PROBES)
        .map(|j| MapKey::serial(&format!("NEVER-RECORDED-{j}")))
        .collect();
    let mut out = Vec::new();
    for (what, keys, want_present) in [("present", &present, true), ("absent", &absent, false)] {
        let (mut make, mut check, mut bytes) = (Vec::new(), Vec::new(), 0usize);
        for k in keys {
            let t = Instant::now();
            let (value, proof) = r.index_lookup(k)?;
            make.push(t.elapsed());
            let t = Instant::now();
            let answer = proof.verify(&root, k)?;
            check.push(t.elapsed());
            anyhow::ensure!(
                value.is_some() == want_present
                    && matches!(answer, armsledger_index::Answer::Absent) != want_present,
                "map key {k} answered {answer:?}, expected {what}"
            );
            bytes += proof.encode().len();
        }
        make.sort();
        check.sort();
        let p = crate::scenario::ingest::percentile;
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        out.push(Figure::new(
            sc,
            &format!(
                "{label} log: make a map proof, serial {what}, p50 of {} (p99 {:.0} µs)",
                keys.len(),
                us(p(&make, 0.99))
            ),
            us(p(&make, 0.5)),
            "µs",
        ));
        out.push(Figure::new(
            sc,
            &format!(
                "{label} log: check a map proof, serial {what}, p50 (p99 {:.1} µs)",
                us(p(&check, 0.99))
            ),
            us(p(&check, 0.5)),
            "µs",
        ));
        out.push(Figure::new(
            sc,
            &format!("{label} log: map proof size, serial {what}, mean"),
            bytes as f64 / keys.len() as f64,
            "B",
        ));
    }
    let map_bytes = r.index_file_bytes()? as f64;
    let subjects = r.index_leaf_count()?.max(1) as f64;
    out.push(Figure::new(
        sc,
        &format!(
            "{label} log: the map's tables per entry ({subjects:.0} subjects, {:.0} B each)",
            map_bytes / subjects
        ),
        map_bytes / size.max(1) as f64,
        "B",
    ));
    Ok(out)
}

/// Rounds of the store's ingest with and without the map (alternating).
const ROUNDS: usize = 3;

/// Group commits per map update in [`store_ab`]: the server brings the map
/// up once per checkpoint (every 250 ms), about 20 groups of [`GROUP`] at
/// its measured ingest rate.
const GROUPS_PER_CHECKPOINT: usize = 20;

/// The log's durable group commit (`LogStore`, every index, groups of
/// [`GROUP`]) of a busy site's real entries, with the map brought up once
/// per [`GROUPS_PER_CHECKPOINT`] groups in its own transaction (as the
/// checkpointer does) and without the map, alternating on fresh files:
/// median and spread per entry, and the file per entry (compacted) of each.
fn store_ab(entries: usize, dir: &Path) -> anyhow::Result<Vec<Figure>> {
    use armsledger_core::ids::Timestamp;
    use armsledger_store::{Accepted, LogStore};

    let log = storage_mix(entries);
    let accepted: Vec<Accepted> = log
        .iter()
        .enumerate()
        .map(|(i, e)| Accepted {
            entry: e.clone(),
            received_at: Timestamp(1_767_225_600_000 + i as u64),
            findings: vec![],
        })
        .collect();
    let n = accepted.len();
    let mut with = Vec::new();
    let mut without = Vec::new();
    let mut bytes = [0.0f64; 2];
    for round in 0..ROUNDS * 2 {
        let indexed = round % 2 == 0;
        let path = dir.join(format!("ab-{round}.redb"));
        let store = LogStore::open(&path)?;
        let t = Instant::now();
        for (g, b) in accepted.chunks(GROUP).enumerate() {
            store.append_batch(b)?;
            if indexed && (g + 1) % GROUPS_PER_CHECKPOINT == 0 {
                store.update_index()?;
            }
        }
        if indexed {
            store.update_index()?;
        }
        let us = micros(t.elapsed(), n);
        drop(store);
        if round < 2 {
            let mut db = redb::Database::open(&path)?;
            while db.compact()? {}
            drop(db);
            bytes[usize::from(!indexed)] = std::fs::metadata(&path)?.len() as f64 / n as f64;
        }
        let _ = std::fs::remove_file(&path);
        if indexed {
            with.push(us);
        } else {
            without.push(us);
        }
    }
    let stats = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let median = v.get(v.len() / 2).copied().unwrap_or_default();
        let spread = v.last().copied().unwrap_or_default() - v.first().copied().unwrap_or_default();
        (median, spread)
    };
    let (w, ws) = stats(&mut with);
    let (wo, wos) = stats(&mut without);
    let sc = "7 index";
    Ok(vec![
        Figure::new(
            sc,
            &format!(
                "store ingest without the map, per entry ({n} real entries, groups of {GROUP}, \
                 median of {ROUNDS}, spread {wos:.1} µs)"
            ),
            wo,
            "µs",
        ),
        Figure::new(
            sc,
            &format!(
                "store ingest with the map, per entry (same entries, the map brought up every \
                 {GROUPS_PER_CHECKPOINT} groups, median of {ROUNDS}, spread {ws:.1} µs)"
            ),
            w,
            "µs",
        )
        .against("without the map", wo)
        .goal("≤ 1.1× without", w <= 1.1 * wo),
        Figure::new(
            sc,
            "file per entry without the map (compacted)",
            bytes[1],
            "B",
        ),
        Figure::new(sc, "file per entry with the map (compacted)", bytes[0], "B")
            .against("without the map", bytes[1]),
    ])
}
