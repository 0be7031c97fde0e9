//! The regulator's global log in one redb file: every accepted entry, the
//! Merkle tree over them, the indexes, findings, equivocations and every
//! signed checkpoint.
//!
//! Writes are group commits: [`LogStore::append_batch`] puts a whole batch in
//! one durable redb transaction and returns the log indexes only after the
//! commit. Reads go through [`LogReader`], one consistent snapshot.

pub(crate) mod blocks;
#[cfg(feature = "bench-support")]
mod bulk;
mod fsck;
mod grow;
mod index;
mod mirror;
mod precompressed;
mod read;
mod sign;
mod stored;
pub(crate) mod tables;
pub(crate) mod tree;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use armsledger_core::chain::Equivocation;
use armsledger_core::entry::SignedEntry;
use armsledger_core::ids::Timestamp;
use armsledger_core::rules::Finding;
use armsledger_log::{EntryLeaf, Frontier};
use redb::{Database, ReadableDatabase, ReadableTable, Table};

use crate::error::StoreError;
use crate::finding::StoredFinding;
use crate::terms::{IndexKey, Terms};
use tables::*;

pub use fsck::{FsckReport, Problem, fsck};
pub use index::{MapStage, thread_cpu_ns};
pub use read::{LogReader, ProvenEntry, READ_THREADS};
pub use sign::IndexAnswer;

/// An entry the server verified and accepted, ready to be logged.
#[derive(Clone, Debug)]
pub struct Accepted {
    /// The entry, its signature and chain position already verified.
    pub entry: Arc<SignedEntry>,
    /// When the server received it.
    pub received_at: Timestamp,
    /// Hard-rule findings the engine raised against it.
    pub findings: Vec<Finding>,
}

/// An entry read back from the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEntry {
    /// Its position in the log (the Merkle leaf index).
    pub index: u64,
    /// The entry.
    pub entry: SignedEntry,
    /// When the server received it.
    pub received_at: Timestamp,
}

/// What [`LogStore::compact`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compaction {
    /// The file was compacted.
    Done,
    /// There was nothing to compact.
    NothingToDo,
    /// A read or write was in progress: nothing was done.
    Busy,
}

/// The global log.
#[derive(Debug)]
pub struct LogStore {
    db: Database,
    path: PathBuf,
    fresh: index::Fresh,
    meter: index::Meter,
    rows: precompressed::Precompressed,
}

impl LogStore {
    /// Opens the log at `path`, creating an empty one if the file does not
    /// exist. After a crash redb repairs the file to its last durable commit.
    ///
    /// A log of format epoch 1 (v1 to v3, whose leaves were the entry bytes
    /// alone) is refused with [`StoreError::FormatRetired`]: its tree and
    /// checkpoints cannot become those of leaf format v2.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        crate::refuse_retired(&path, "meta", &RETIRED, FORMAT)?;
        let db = Database::create(&path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => StoreError::InUse {
                path: path.display().to_string(),
            },
            e => StoreError::StorageFailed(e.into()),
        })?;
        init(&db, &path)?;
        index::catch_up(&db)?;
        Ok(LogStore {
            db,
            path,
            fresh: index::Fresh::default(),
            meter: index::Meter::default(),
            rows: precompressed::Precompressed::default(),
        })
    }

    /// Compacts the file: pages freed by copy-on-write commits and the
    /// growth ahead of use are returned to the file system. It needs the
    /// file to itself: while a read of this handle is open it does nothing
    /// and answers [`Compaction::Busy`] (try again later). Every commit it
    /// makes is durable; a crash during it leaves the log as it was.
    pub fn compact(&mut self) -> Result<Compaction, StoreError> {
        match self.db.compact() {
            Ok(true) => Ok(Compaction::Done),
            Ok(false) => Ok(Compaction::NothingToDo),
            Err(redb::CompactionError::TransactionInProgress) => Ok(Compaction::Busy),
            Err(e) => Err(StoreError::StorageFailed(e.into())),
        }
    }

    /// The file this log lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A consistent read snapshot.
    pub fn read(&self) -> Result<LogReader, StoreError> {
        LogReader::new(self.db.begin_read()?)
    }

    /// Appends a batch in one durable transaction and returns each entry's
    /// log index, in batch order, once the commit is durable.
    ///
    /// Idempotent by entry hash: an entry already in the log (or earlier in
    /// the batch) gets its existing index and writes nothing. An entry whose
    /// (chain, counter) is held by a different entry fails the whole batch
    /// with [`StoreError::SlotTaken`]; nothing is written.
    ///
    /// The verifiable index (`armsledger-index`) does not move here: an ack
    /// waits for the log's leaves only. The map is brought up to the log's
    /// size by the next checkpoint, in the transaction that signs its root
    /// ([`Self::sign_checkpoint`]), or by [`Self::update_index`]; a crash in
    /// between leaves a map behind its log, caught up on open.
    pub fn append_batch(&self, batch: &[Accepted]) -> Result<Vec<u64>, StoreError> {
        let mut rows = self.rows.take(batch.iter().map(|a| &*a.entry));
        let txn = self.db.begin_write()?;
        let (out, start) = append_in(&txn, batch, &mut rows)?;
        txn.commit()?;
        // Only now, committed: the map stage takes them from memory.
        let mut fresh = Vec::new();
        for (a, &i) in batch.iter().zip(&out) {
            if i == start + fresh.len() as u64 {
                fresh.push((i, a.entry.clone()));
            }
        }
        self.fresh.push(fresh.into_iter());
        Ok(out)
    }

    /// Compresses the stored rows of `entries` now, ahead of their append:
    /// the server's signature stage calls it so that the group commit, on
    /// the thread that bounds ingest, does not. Optional: an entry whose row
    /// is not held is compressed by the append, to the same bytes.
    pub fn precompress(&self, entries: &[&SignedEntry]) -> Result<(), StoreError> {
        self.rows.add(entries)
    }

    /// Brings the verifiable index up to the log's size in its own durable
    /// transaction and returns that size. Checkpoints do this themselves;
    /// a caller that reads the map between checkpoints (the serials a
    /// firearm is filed under) calls it first, and the benchmark measures
    /// the map's cost with it.
    pub fn update_index(&self) -> Result<u64, StoreError> {
        let txn = self.db.begin_write()?;
        let (covered, _) = self.meter.bring_up(&txn, &self.fresh, u64::MAX)?;
        txn.commit()?;
        Ok(covered)
    }

    /// What moving the verifiable index has cost this process so far (the
    /// checkpoints' and [`Self::update_index`]'s map work): the map stage's
    /// share of the machine, against ingest's, in the benchmark.
    pub fn map_stage(&self) -> MapStage {
        self.meter.totals()
    }

    /// Keeps the opening of a note carried by the logged entry `entry`
    /// (the ingest side channel: a site or the regulator sends the openings
    /// of its notes beside its entries). Refused if no logged entry has that
    /// hash, if the entry carries no such note
    /// ([`StoreError::NoteUnknown`]) or if the opening does not open it
    /// ([`StoreError::NoteMismatch`]). Returns whether it was new (an
    /// opening sent twice, or after the note was erased, changes nothing).
    pub fn put_note(
        &self,
        entry: &armsledger_core::hash::Hash,
        opening: &armsledger_core::note::NoteOpening,
        class: crate::notes::NoteClass,
    ) -> Result<bool, StoreError> {
        let note = opening.seal();
        let logged = self.read()?.entry_by_hash(entry)?;
        let Some(logged) = logged else {
            return Err(StoreError::NoteUnknown {
                note: note.commitment().to_string(),
                entry: entry.to_string(),
                reason: "no logged entry has this hash",
            });
        };
        let carried = logged.entry.body().event.notes();
        if !carried.iter().any(|n| n.commitment() == note.commitment()) {
            // The opening may be of another text for a note the entry does
            // carry; say which.
            return Err(if carried.is_empty() {
                StoreError::NoteUnknown {
                    note: note.commitment().to_string(),
                    entry: entry.to_string(),
                    reason: "the entry carries no sealed note",
                }
            } else {
                StoreError::NoteMismatch {
                    note: note.commitment().to_string(),
                }
            });
        }
        let record = crate::notes::NoteRecord::new(opening.clone(), class, logged.received_at);
        let txn = self.db.begin_write()?;
        let new = crate::notes::put(&txn, &note, &record)?;
        txn.commit()?;
        Ok(new)
    }

    /// The note store's record of `note`.
    pub fn note(
        &self,
        note: &armsledger_core::note::SealedNote,
    ) -> Result<Option<crate::notes::NoteRecord>, StoreError> {
        crate::notes::get(&self.db.begin_read()?, note)
    }

    /// Every note record, in commitment order.
    pub fn notes(
        &self,
    ) -> Result<Vec<(armsledger_core::note::SealedNote, crate::notes::NoteRecord)>, StoreError>
    {
        crate::notes::all(&self.db.begin_read()?)
    }

    /// Sets when `note`'s retention ends (the person left, the case closed).
    pub fn set_note_retention(
        &self,
        note: &armsledger_core::note::SealedNote,
        until: Timestamp,
    ) -> Result<bool, StoreError> {
        self.set_note_retentions(&[(*note, until)]).map(|n| n == 1)
    }

    /// Sets when each note's retention ends, in one transaction; returns
    /// how many of the notes the store holds.
    pub fn set_note_retentions(
        &self,
        notes: &[(armsledger_core::note::SealedNote, Timestamp)],
    ) -> Result<usize, StoreError> {
        let txn = self.db.begin_write()?;
        let mut found = 0;
        for (note, until) in notes {
            if crate::notes::set_retention(&txn, note, *until)? {
                found += 1;
            }
        }
        txn.commit()?;
        Ok(found)
    }

    /// Keeps a proof that a key signed two entries at one counter. Returns
    /// `false` if that slot already has a record (the first proof is kept).
    pub fn record_equivocation(&self, proof: &Equivocation) -> Result<bool, StoreError> {
        proof
            .verify()
            .map_err(|e| StoreError::EquivocationUnproven(e.to_string()))?;
        let bytes = postcard::to_allocvec(proof)
            .map_err(|e| StoreError::malformed("equivocations", "new", e))?;
        let chain = chain_key(&proof.a.header.chain)?;
        let txn = self.db.begin_write()?;
        let fresh = {
            let mut table = txn.open_table(EQUIVOCATIONS)?;
            let key = (chain.as_slice(), proof.counter());
            let fresh = table.get(key)?.is_none();
            if fresh {
                table.insert(key, bytes.as_slice())?;
            }
            fresh
        };
        txn.commit()?;
        Ok(fresh)
    }

    /// Checks every table against the entries; see [`fsck`].
    pub fn fsck(&self) -> Result<FsckReport, StoreError> {
        fsck::check(&self.db.begin_read()?)
    }
}

/// The appends of [`LogStore::append_batch`] inside `txn` (not committed):
/// the entries, their tree, indexes and findings and the erasures they
/// record. Returns each entry's index and the log's size before; the
/// entries at or after it are new.
fn append_in(
    txn: &redb::WriteTransaction,
    batch: &[Accepted],
    rows: &mut std::collections::HashMap<armsledger_core::hash::Hash, Vec<u8>>,
) -> Result<(Vec<u64>, u64), StoreError> {
    let (out, start) = {
        let mut w = Writer::open(txn)?;
        let start = w.frontier.size();
        let out = batch
            .iter()
            .map(|a| w.append(a, rows.remove(&a.entry.hash())))
            .collect::<Result<Vec<u64>, StoreError>>()?;
        w.finish()?;
        (out, start)
    };
    // New entries get the indexes start, start + 1, ... in batch order;
    // an entry already logged (or repeated in the batch) gets an older one.
    let mut fresh: Vec<(u64, &SignedEntry)> = Vec::new();
    for (a, &i) in batch.iter().zip(&out) {
        if i >= start + fresh.len() as u64 {
            fresh.push((i, &a.entry));
        }
    }
    // An erasure takes effect with the entry that records it: the
    // openings it names go in the same transaction.
    for (_, e) in &fresh {
        crate::notes::apply_erasure(txn, e, false)?;
    }
    Ok((out, start))
}

/// Creates the tables of a new log, or checks the format of an existing one.
fn init(db: &Database, path: &Path) -> Result<(), StoreError> {
    let txn = db.begin_write()?;
    let had_tables = txn.list_tables()?.count() > 0;
    let dictionary = stored::dictionary_id();
    {
        let mut meta = txn.open_table(META)?;
        match get_meta(&meta, meta::FORMAT)? {
            Some(f) if f == FORMAT.as_bytes() => {
                check_dictionary(&meta, path)?;
                drop(meta);
                txn.abort()?;
                return Ok(());
            }
            Some(f) if f == UPGRADES.as_bytes() => {
                check_dictionary(&meta, path)?;
                meta.insert(meta::FORMAT, FORMAT.as_bytes())?;
                drop(meta);
                let entries = txn.open_table(ENTRIES)?;
                let received = txn.open_table(RECEIVED_AT)?;
                let mut halves = txn.open_table(HALF_TILES)?;
                grow::rebuild_low_halves(&entries, &received, &mut halves)?;
                drop((entries, received, halves));
                txn.commit()?;
                return Ok(());
            }
            Some(f) if RETIRED.iter().any(|r| f == r.as_bytes()) => {
                return Err(StoreError::FormatRetired {
                    path: path.display().to_string(),
                    found: String::from_utf8_lossy(&f).into_owned(),
                    current: FORMAT,
                    release: EPOCH_1_RELEASE,
                });
            }
            None if !had_tables => {}
            found => {
                return Err(StoreError::FormatUnknown {
                    path: path.display().to_string(),
                    expected: "global log",
                    found: found.map(|f| String::from_utf8_lossy(&f).into_owned()),
                });
            }
        }
        meta.insert(meta::FORMAT, FORMAT.as_bytes())?;
        meta.insert(meta::DICTIONARY, dictionary.0.as_slice())?;
        meta.insert(meta::FRONTIER, Frontier::new().to_bytes().as_slice())?;
        txn.open_table(ENTRIES)?;
        txn.open_table(RECEIVED_AT)?;
        txn.open_table(TILES)?;
        txn.open_table(HALF_TILES)?;
        txn.open_table(BY_HASH)?;
        txn.open_table(BY_SLOT)?;
        for t in POSTINGS {
            txn.open_table(t)?;
        }
        txn.open_table(FINDINGS)?;
        txn.open_table(EQUIVOCATIONS)?;
        txn.open_table(CHECKPOINTS)?;
    }
    txn.commit()?;
    Ok(())
}

/// A file must name the dictionary this build has: rows compressed with
/// another one would not decode.
pub(crate) fn check_dictionary<T: ReadableTable<&'static str, &'static [u8]>>(
    meta: &T,
    path: &Path,
) -> Result<(), StoreError> {
    let found = get_meta(meta, meta::DICTIONARY)?;
    if found.as_deref() == Some(stored::dictionary_id().0.as_slice()) {
        return Ok(());
    }
    Err(StoreError::FormatUnknown {
        path: path.display().to_string(),
        expected: "global log compressed with this build's dictionary (dict/v3.dict)",
        found: Some(format!(
            "{FORMAT} with dictionary {}",
            found.map_or_else(|| "none".to_owned(), hex::encode)
        )),
    })
}

/// The exact bytes of a stored entry row (see `stored`).
pub(crate) fn entry_bytes(index: u64, row: &[u8]) -> Result<Vec<u8>, StoreError> {
    stored::decode(index, row)
}

/// Decodes entry `index` from its row as [`LogReader::rows`] gives it.
pub fn decode_row(index: u64, row: &[u8]) -> Result<SignedEntry, StoreError> {
    SignedEntry::decode(&entry_bytes(index, row)?)
        .map_err(|e| StoreError::malformed("entries", index, e))
}

/// The uncompressed stored form of an entry, the input the format's
/// dictionary is trained on (see docs/log.md, "Format versions").
#[cfg(feature = "bench-support")]
pub fn training_sample(entry: &SignedEntry) -> Vec<u8> {
    stored::entry_form(entry)
}

/// The `entries` row of an entry's bytes (tests that rewrite the file through redb).
#[cfg(feature = "bench-support")]
pub fn stored_row(entry: &[u8]) -> Result<Vec<u8>, StoreError> {
    stored::encode_bytes(entry)
}

/// The entry bytes an `entries` row holds (tests that rewrite the file through redb).
#[cfg(feature = "bench-support")]
pub fn entry_of_row(index: u64, row: &[u8]) -> Result<Vec<u8>, StoreError> {
    stored::decode(index, row)
}

/// Reads and decodes `meta["frontier"]`.
pub(crate) fn load_frontier<T: ReadableTable<&'static str, &'static [u8]>>(
    meta: &T,
) -> Result<Frontier, StoreError> {
    let v = get_meta(meta, meta::FRONTIER)?
        .ok_or_else(|| StoreError::missing("meta", meta::FRONTIER))?;
    Frontier::from_bytes(&v).map_err(|e| StoreError::malformed("meta", meta::FRONTIER, e))
}

/// The entries must be exactly `0..size` (cheap: redb keeps table lengths).
pub(crate) fn check_entry_count<T: ReadableTable<u64, &'static [u8]>>(
    entries: &T,
    size: u64,
) -> Result<(), StoreError> {
    let end = entries.last()?.map_or(0, |(k, _)| k.value() + 1);
    let len = entries.len()?;
    if end != size || len != size {
        return Err(StoreError::TreeInconsistent(format!(
            "frontier has {size} leaves but entries hold {len} ending at {end}"
        )));
    }
    Ok(())
}

/// The tables of one append transaction.
struct Writer<'t> {
    meta: Table<'t, &'static str, &'static [u8]>,
    entries: Table<'t, u64, &'static [u8]>,
    received: Table<'t, u64, &'static [u8]>,
    tiles: Table<'t, (u8, u64), &'static [u8]>,
    halves: Table<'t, (u8, u64), &'static [u8]>,
    by_hash: Table<'t, (u32, u64), ()>,
    by_slot: blocks::BlockTable<'t>,
    postings: [blocks::BlockTable<'t>; 4],
    findings: Table<'t, (u64, u32), &'static [u8]>,
    frontier: Frontier,
    tile_writer: grow::TileWriter,
    received_writer: blocks::TimeBlocks,
    slot_writer: blocks::SlotWriter,
    posting_writers: [blocks::PostingWriter; 4],
}

impl<'t> Writer<'t> {
    fn open(txn: &'t redb::WriteTransaction) -> Result<Self, StoreError> {
        let meta = txn.open_table(META)?;
        let frontier = load_frontier(&meta)?;
        let entries = txn.open_table(ENTRIES)?;
        check_entry_count(&entries, frontier.size())?;
        let [f, l, p, s] = POSTINGS;
        Ok(Writer {
            entries,
            received: txn.open_table(RECEIVED_AT)?,
            tiles: txn.open_table(TILES)?,
            halves: txn.open_table(HALF_TILES)?,
            by_hash: txn.open_table(BY_HASH)?,
            by_slot: txn.open_table(BY_SLOT)?,
            postings: [
                txn.open_table(f)?,
                txn.open_table(l)?,
                txn.open_table(p)?,
                txn.open_table(s)?,
            ],
            findings: txn.open_table(FINDINGS)?,
            meta,
            frontier,
            tile_writer: grow::TileWriter::default(),
            received_writer: blocks::TimeBlocks::default(),
            slot_writer: blocks::SlotWriter::default(),
            posting_writers: Default::default(),
        })
    }

    /// Appends `a`, storing `row` (its row compressed ahead, see
    /// `precompressed`) when given.
    fn append(&mut self, a: &Accepted, row: Option<Vec<u8>>) -> Result<u64, StoreError> {
        let e = &a.entry;
        let chain = chain_key(e.chain())?;
        let (held, last) = self
            .slot_writer
            .lookup(&self.by_slot, &chain, e.counter())?;
        if let Some(existing) = held {
            // Idempotent by entry hash: the slot's holder is this entry or an equivocation.
            let bytes = self
                .entries
                .get(existing)?
                .ok_or_else(|| StoreError::missing("entries", existing))?;
            let stored = SignedEntry::decode(&entry_bytes(existing, bytes.value())?)
                .map_err(|err| StoreError::malformed("entries", existing, err))?;
            if stored.hash() == e.hash() {
                return Ok(existing);
            }
            return Err(StoreError::SlotTaken {
                chain: e.chain().to_string(),
                counter: e.counter(),
                existing,
            });
        }
        if let Some(last) = last.filter(|last| *last > e.counter()) {
            return Err(StoreError::ChainBroken(format!(
                "{} counter {} arrives after counter {last}: a chain enters the log in order",
                e.chain(),
                e.counter()
            )));
        }
        let index = self.frontier.size();
        let leaf = EntryLeaf::new(a.received_at.millis(), e.bytes());
        let appended = self.frontier.append(leaf.hash())?;
        self.tile_writer
            .record(&self.tiles, &self.halves, index, &appended)?;
        let row = match row {
            Some(row) => row,
            None => stored::encode_entry(e)?,
        };
        self.entries.insert(index, row.as_slice())?;
        self.received_writer
            .push(&self.received, index, a.received_at.millis())?;
        self.by_hash.insert((hash_prefix(&e.hash()), index), ())?;
        self.slot_writer
            .add(&self.by_slot, &chain, e.counter(), index)?;
        let terms = Terms::of(e);
        let keys = terms
            .firearms
            .iter()
            .map(|f| IndexKey::Firearm(*f))
            .chain(terms.lots.iter().map(|l| IndexKey::Lot(*l)))
            .chain(terms.persons.iter().cloned().map(IndexKey::Person))
            .chain(terms.sites.iter().cloned().map(IndexKey::Site));
        for key in keys {
            let (t, bytes) = posting_key(&key);
            if let (Some(w), Some(table)) = (self.posting_writers.get_mut(t), self.postings.get(t))
            {
                w.add(table, &bytes, index)?;
            }
        }
        for (n, f) in a.findings.iter().enumerate() {
            let bytes = postcard::to_allocvec(&StoredFinding::from(f))
                .map_err(|err| StoreError::malformed("findings", index, err))?;
            let n = u32::try_from(n)
                .map_err(|_| StoreError::malformed("findings", index, "too many"))?;
            self.findings.insert((index, n), bytes.as_slice())?;
        }
        Ok(index)
    }

    fn finish(mut self) -> Result<(), StoreError> {
        self.tile_writer.flush(&mut self.tiles, &mut self.halves)?;
        self.received_writer.flush(&mut self.received)?;
        self.slot_writer.flush(&mut self.by_slot)?;
        for (w, table) in self
            .posting_writers
            .into_iter()
            .zip(self.postings.iter_mut())
        {
            w.flush(table)?;
        }
        self.meta
            .insert(meta::FRONTIER, self.frontier.to_bytes().as_slice())?;
        Ok(())
    }
}
