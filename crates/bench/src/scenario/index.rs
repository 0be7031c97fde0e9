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
use armsledger_index::cache::{Cached, NodeCache};
use armsledger_index::redb_store::{RedbMap, RedbMapRead};
use armsledger_index::tree::Batch;
use armsledger_index::{Kind, LeafValue, MapKey, MemStore, NodeStoreMut, Record, prove, root_hash};
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

/// Moves the map in `db` forward by `entries` entries in durable group
/// commits. Returns the map's work inside the group transactions, their
/// commits, and the entries applied.
pub fn update(
    db: &redb::Database,
    subjects: u64,
    entries: usize,
) -> anyhow::Result<(Duration, Duration, u64)> {
    update_from(db, subjects, 0, entries, None)
}

/// [`update`] from entry number `first`, reading the nodes near the root
/// through `cache` when given (as `LogStore` does: the changes are taken
/// in after each durable commit).
pub fn update_from(
    db: &redb::Database,
    subjects: u64,
    first: u64,
    entries: usize,
    mut cache: Option<&mut NodeCache>,
) -> anyhow::Result<(Duration, Duration, u64)> {
    fn group(map: &mut impl NodeStoreMut, subjects: u64, n: u64) -> anyhow::Result<()> {
        let mut values = Vec::new();
        let mut b = Batch::new(map)?;
        for e in n..n + GROUP as u64 {
            let v = value(e);
            for k in touched(e, subjects) {
                b.set(&k, v.hash())?;
                values.push((k, v.encode()));
            }
        }
        b.commit()?;
        for (k, v) in values {
            map.put_value(&k, &v)?;
        }
        Ok(())
    }
    let mut work = Duration::ZERO;
    let mut commit = Duration::ZERO;
    let mut n = 0u64;
    while (n as usize) < entries {
        let txn = db.begin_write()?;
        let t = Instant::now();
        let changes = match cache.as_deref() {
            None => {
                group(&mut RedbMap::open(&txn)?, subjects, first + n)?;
                None
            }
            Some(c) => {
                let mut map = Cached::new(RedbMap::open(&txn)?, c);
                group(&mut map, subjects, first + n)?;
                Some(map.finish().1)
            }
        };
        work += t.elapsed();
        let t = Instant::now();
        txn.commit()?;
        commit += t.elapsed();
        if let (Some(c), Some(changes)) = (cache.as_deref_mut(), changes) {
            c.absorb(changes);
        }
        n += GROUP as u64;
    }
    Ok((work, commit, n))
}

/// The map's update alone, with the node cache and without it, on the
/// same file: alternating rounds of `entries / 4` entries (each cached
/// round starts from an empty cache, as after an open). Returns the mean
/// per entry of each way, in µs.
fn cache_ab(db: &redb::Database, subjects: u64, entries: usize) -> anyhow::Result<(f64, f64)> {
    let per = (entries / 4).max(GROUP);
    let mut with = Vec::new();
    let mut without = Vec::new();
    let mut next = 1u64 << 40;
    for round in 0..4 {
        let mut cache = NodeCache::new();
        let cached = round % 2 == 1;
        let (work, _, n) = update_from(db, subjects, next, per, cached.then_some(&mut cache))?;
        next += n;
        let us = micros(work, n as usize);
        if cached {
            with.push(us);
        } else {
            without.push(us);
        }
    }
    let mean = |v: Vec<f64>| v.iter().sum::<f64>() / v.len().max(1) as f64;
    Ok((mean(with), mean(without)))
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
    let mut f = Figure::new(
        sc,
        &format!("map update per entry (3 leaves), groups of {GROUP}, at {subjects} subjects"),
        per_entry,
        "µs",
    );
    if let Some(ingest) = ingest_us {
        f = f
            .against("ingest µs/entry", ingest)
            .goal("≤ 10 % of ingest", per_entry <= ingest * 0.1);
    }
    out.push(f);
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
    let (cached, uncached) = cache_ab(&db, subjects, entries)?;
    out.push(
        Figure::new(
            sc,
            &format!(
                "map update per entry with the node cache (levels 0–15 in memory), at {subjects} \
                 subjects, mean of 2 rounds alternating with 2 without"
            ),
            cached,
            "µs",
        )
        .against("the same rounds without the cache", uncached),
    );

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
