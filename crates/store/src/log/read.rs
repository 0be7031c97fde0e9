//! Reading the log: one [`LogReader`] is one consistent redb snapshot, so a
//! size read from it and a proof built from it always agree.

use armsledger_core::chain::Equivocation;
use armsledger_core::entry::{ChainId, SignedEntry};
use armsledger_core::hash::Hash as EntryHash;
use armsledger_core::ids::Timestamp;
use armsledger_log::{
    EntryLeaf, Frontier, Hash, LogError, Tile, TileKind, encode_entry_bundle, hash_tile_data,
    prove_consistency, tree_root,
};
use redb::{ReadOnlyTable, ReadTransaction, ReadableTable};

use super::blocks::{TimeReader, block_at, decode_postings, decode_slots};
use super::tables::*;
use super::tree::{NodeCache, StoredTree, store_error};
use super::{StoredEntry, load_frontier};
use crate::error::StoreError;
use crate::finding::StoredFinding;
use crate::terms::IndexKey;

/// The stored tree as a snapshot sees it.
pub(crate) type SnapshotTree<'a> = StoredTree<
    'a,
    ReadOnlyTable<u64, &'static [u8]>,
    ReadOnlyTable<u64, &'static [u8]>,
    ReadOnlyTable<(u8, u64), &'static [u8]>,
    ReadOnlyTable<(u8, u64), &'static [u8]>,
>;

/// A table of index blocks, see `blocks`.
type BlockTable = ReadOnlyTable<(&'static [u8], u64), &'static [u8]>;

/// Posting tables, in the order firearm, lot, person, site.
type Postings = [BlockTable; 4];

/// Threads a reader spreads the point reads and proofs of one answer over
/// by default ([`LogReader::entries_at`], [`LogReader::inclusion_proofs`]):
/// more than the cores, because at a size the page cache does not hold
/// most of a dossier's time is cold reads, which overlap on any core.
pub const READ_THREADS: usize = 4;

/// An entry and, when it was asked for, its inclusion proof
/// ([`LogReader::entries_with_proofs`]).
pub type ProvenEntry = (StoredEntry, Option<Vec<Hash>>);

/// Items per thread below which a batch stays on the calling thread: a
/// thread costs tens of microseconds, a warm point read a few.
const ITEMS_PER_THREAD: usize = 4;

/// A consistent snapshot of the log.
///
/// Proofs built from one reader share the tree rows they read (bounded to a
/// few MiB): build the many proofs of one answer from one reader.
pub struct LogReader {
    entries: ReadOnlyTable<u64, &'static [u8]>,
    received: ReadOnlyTable<u64, &'static [u8]>,
    tiles: ReadOnlyTable<(u8, u64), &'static [u8]>,
    halves: ReadOnlyTable<(u8, u64), &'static [u8]>,
    cache: NodeCache,
    threads: usize,
    by_hash: ReadOnlyTable<(u32, u64), ()>,
    by_slot: BlockTable,
    postings: Postings,
    findings: ReadOnlyTable<(u64, u32), &'static [u8]>,
    equivocations: BlockTable,
    checkpoints: ReadOnlyTable<u64, &'static str>,
    frontier: Frontier,
    index: armsledger_index::redb_store::RedbMapRead,
    index_covers: u64,
    _txn: ReadTransaction,
}

impl std::fmt::Debug for LogReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogReader")
            .field("size", &self.frontier.size())
            .finish_non_exhaustive()
    }
}

impl LogReader {
    pub(crate) fn new(txn: ReadTransaction) -> Result<Self, StoreError> {
        let meta = txn.open_table(META)?;
        let frontier = load_frontier(&meta)?;
        let index = armsledger_index::redb_store::RedbMapRead::open(&txn)?;
        let index_covers = index.indexed()?;
        Ok(LogReader {
            index,
            index_covers,
            entries: txn.open_table(ENTRIES)?,
            received: txn.open_table(RECEIVED_AT)?,
            tiles: txn.open_table(TILES)?,
            halves: txn.open_table(HALF_TILES)?,
            cache: NodeCache::default(),
            threads: READ_THREADS,
            by_hash: txn.open_table(BY_HASH)?,
            by_slot: txn.open_table(BY_SLOT)?,
            postings: [
                txn.open_table(BY_FIREARM)?,
                txn.open_table(BY_LOT)?,
                txn.open_table(BY_PERSON)?,
                txn.open_table(BY_SITE)?,
            ],
            findings: txn.open_table(FINDINGS)?,
            equivocations: txn.open_table(EQUIVOCATIONS)?,
            checkpoints: txn.open_table(CHECKPOINTS)?,
            frontier,
            _txn: txn,
        })
    }

    /// This reader with its batch reads ([`Self::entries_at`],
    /// [`Self::inclusion_proofs`], [`Self::scan`]) spread over at most
    /// `threads` threads (1: all on the calling thread); the answers are the
    /// same whatever the number.
    #[must_use]
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// `f` of every item of `items`, in order, computed on up to
    /// `self.threads` threads from this one snapshot (contiguous chunks, the
    /// first on the calling thread). The first error in `items` order, as a
    /// loop would return it.
    fn par_map<T: Send>(
        &self,
        items: &[u64],
        f: impl Fn(u64) -> Result<T, StoreError> + Sync,
    ) -> Result<Vec<T>, StoreError> {
        let threads = self.threads.min(items.len() / ITEMS_PER_THREAD).max(1);
        if threads == 1 {
            return items.iter().map(|&i| f(i)).collect();
        }
        let per = items.len().div_ceil(threads);
        let f = &f;
        let run = |chunk: &[u64]| chunk.iter().map(|&i| f(i)).collect::<Result<Vec<T>, _>>();
        std::thread::scope(|s| {
            let mut chunks = items.chunks(per);
            let first = chunks.next().unwrap_or_default();
            let rest: Vec<_> = chunks.map(|c| s.spawn(move || run(c))).collect();
            let mut out = run(first)?;
            out.reserve(items.len().saturating_sub(out.len()));
            for handle in rest {
                // A worker only panics where the same loop on this thread
                // would have: carry its panic on unchanged.
                let part = handle
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p))?;
                out.extend(part);
            }
            Ok(out)
        })
    }

    /// Entries `indexes`, decoded with their reception times, in the order
    /// asked; their point reads issued from several threads at once (see
    /// [`Self::with_threads`]). A missing entry is an error naming it.
    pub fn entries_at(&self, indexes: &[u64]) -> Result<Vec<StoredEntry>, StoreError> {
        self.par_map(indexes, |i| {
            self.entry(i)?
                .ok_or_else(|| StoreError::missing("entries", i))
        })
    }

    /// The inclusion proofs of entries `indexes` in the tree of exactly
    /// `size` entries, in the order asked: the same hashes as
    /// [`Self::inclusion_proof`] of each, built on several threads (see
    /// [`Self::with_threads`]) that share this reader's node cache.
    pub fn inclusion_proofs(
        &self,
        indexes: &[u64],
        size: u64,
    ) -> Result<Vec<Vec<Hash>>, StoreError> {
        self.check_size(size)?;
        let tree = self.tree();
        self.par_map(indexes, |i| {
            tree.inclusion_proof(i, size).map_err(store_error)
        })
    }

    /// Entries `indexes` as [`Self::entries_at`], each with its inclusion
    /// proof at `size` when `prove` keeps it (else `None`, and no proof is
    /// built): one spread over the reader's threads for both, so that a
    /// dossier's entry reads and proofs start threads once and each
    /// thread's proofs find its entries' pages warm.
    pub fn entries_with_proofs(
        &self,
        indexes: &[u64],
        size: u64,
        prove: impl Fn(&StoredEntry) -> bool + Sync,
    ) -> Result<Vec<ProvenEntry>, StoreError> {
        self.check_size(size)?;
        let tree = self.tree();
        self.par_map(indexes, |i| {
            let e = self
                .entry(i)?
                .ok_or_else(|| StoreError::missing("entries", i))?;
            let proof = prove(&e)
                .then(|| tree.inclusion_proof(i, size).map_err(store_error))
                .transpose()?;
            Ok((e, proof))
        })
    }

    /// Number of entries in the log (its tree size).
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// How many log entries the verifiable index covers in this snapshot:
    /// [`Self::size`] after a checkpoint, fewer while entries appended
    /// since wait for the next one (the map moves when a checkpoint is
    /// signed, not with each append).
    pub fn index_covers(&self) -> u64 {
        self.index_covers
    }

    /// The map, only when it covers exactly this snapshot's entries: an
    /// answer from a map behind its log would not be the one the log's
    /// checkpoint at [`Self::size`] signs.
    fn complete_index(&self) -> Result<&armsledger_index::redb_store::RedbMapRead, StoreError> {
        self.index_at(self.frontier.size())
    }

    /// The map, only when it covers exactly `size` entries.
    fn index_at(
        &self,
        size: u64,
    ) -> Result<&armsledger_index::redb_store::RedbMapRead, StoreError> {
        if self.index_covers != size {
            return Err(StoreError::IndexBehind {
                covered: self.index_covers,
                size,
            });
        }
        Ok(&self.index)
    }

    /// The signed checkpoint this snapshot's map sits at: the size
    /// [`Self::index_covers`] and the checkpoint's note, when the log signed
    /// one at exactly that size. The map moves only in the transaction that
    /// signs a checkpoint, so in any snapshot it is this one, the latest,
    /// whatever the log appended since; `None` before the first checkpoint,
    /// or after an open caught the map up past the last one, until the next
    /// is signed. The read-only answers from the map (a dossier's proofs, a
    /// serial check) are made at it ([`Self::index_lookup_at`]).
    pub fn index_checkpoint(&self) -> Result<Option<(u64, String)>, StoreError> {
        Ok(self
            .checkpoint(self.index_covers)?
            .map(|note| (self.index_covers, note)))
    }

    /// [`Self::index_lookup`] against the map as of `size` entries, which
    /// must be the size the map covers in this snapshot (that of
    /// [`Self::index_checkpoint`]) whatever the log appended after it;
    /// [`StoreError::IndexBehind`] otherwise (the map keeps no older version).
    pub fn index_lookup_at(
        &self,
        size: u64,
        key: &armsledger_index::MapKey,
    ) -> Result<(Option<armsledger_index::LeafValue>, armsledger_index::Proof), StoreError> {
        Ok(armsledger_index::lookup(self.index_at(size)?, key)?)
    }

    /// [`Self::index_leaves`] as of `size` entries, as
    /// [`Self::index_lookup_at`].
    pub fn index_leaves_at(
        &self,
        size: u64,
    ) -> Result<Vec<(armsledger_index::MapKey, EntryHash)>, StoreError> {
        Ok(self.index_at(size)?.leaves()?)
    }

    /// The verifiable index's root over the snapshot's `size()` entries;
    /// [`StoreError::IndexBehind`] when the map has not caught up with them.
    pub fn index_root(&self) -> Result<EntryHash, StoreError> {
        Ok(armsledger_index::root_hash(self.complete_index()?)?)
    }

    /// A map key's leaf value (if any) and its proof against
    /// [`Self::index_root`]; [`StoreError::IndexBehind`] as that.
    pub fn index_lookup(
        &self,
        key: &armsledger_index::MapKey,
    ) -> Result<(Option<armsledger_index::LeafValue>, armsledger_index::Proof), StoreError> {
        Ok(armsledger_index::lookup(self.complete_index()?, key)?)
    }

    /// Every leaf of the verifiable index in this snapshot, `(key, value
    /// hash)` by key: a full export's IndexLeaves (docs/log.md section 11);
    /// [`StoreError::IndexBehind`] as [`Self::index_root`].
    pub fn index_leaves(&self) -> Result<Vec<(armsledger_index::MapKey, EntryHash)>, StoreError> {
        Ok(self.complete_index()?.leaves()?)
    }

    /// The bytes the verifiable index's tables take in the file in this
    /// snapshot (keys, values, page metadata and unused page space).
    pub fn index_file_bytes(&self) -> Result<u64, StoreError> {
        Ok(self.index.file_bytes()?)
    }

    /// How many leaves (subjects) the verifiable index holds in this snapshot.
    pub fn index_leaf_count(&self) -> Result<u64, StoreError> {
        Ok(self.index.leaf_count()?)
    }

    /// The normalised serials the index files firearm `id` under (its
    /// acquisition's and any correction's), empty when none is known. As of
    /// the map's [`Self::index_covers`] entries, which may be fewer than
    /// the snapshot's: those of [`Self::index_checkpoint`], the keys a
    /// bundle at that checkpoint proves.
    pub fn index_serials(&self, id: &[u8; 16]) -> Result<Vec<String>, StoreError> {
        use armsledger_index::NodeStore as _;
        Ok(match self.index.firearm(id)? {
            Some(b) => armsledger_index::indexer::FirearmState::decode(&b)?.serials,
            None => Vec::new(),
        })
    }

    /// The root of the whole tree, from the persisted frontier.
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }

    pub(crate) fn tree(&self) -> SnapshotTree<'_> {
        StoredTree::new(
            &self.entries,
            &self.received,
            &self.tiles,
            &self.halves,
            &self.cache,
            self.size(),
        )
    }

    fn check_size(&self, asked: u64) -> Result<(), StoreError> {
        if asked > self.size() {
            return Err(StoreError::SizeBeyondLog {
                asked,
                size: self.size(),
            });
        }
        Ok(())
    }

    /// The root of the tree of the first `size` entries, from the stored tree.
    pub fn root_at(&self, size: u64) -> Result<Hash, StoreError> {
        self.check_size(size)?;
        tree_root(&self.tree(), size).map_err(store_error)
    }

    /// The inclusion proof of entry `index` in the tree of exactly `size` entries.
    ///
    /// The reader keeps every node it hashed for a proof (bounded, see
    /// [`LogReader`]), so the proofs of many entries at one size (a
    /// dossier's) hash their shared upper nodes and the tree's right edge
    /// once.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, StoreError> {
        self.check_size(size)?;
        self.tree()
            .inclusion_proof(index, size)
            .map_err(store_error)
    }

    /// The consistency proof from the tree of `old` entries to that of `new`.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, StoreError> {
        self.check_size(new)?;
        prove_consistency(&self.tree(), old, new).map_err(store_error)
    }

    /// The exact bytes of entry `index` (its Merkle leaf is
    /// [`LogReader::leaf_data`]: these bytes after the receipt time).
    pub fn entry_bytes(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.entries
            .get(index)?
            .map(|v| super::entry_bytes(index, v.value()))
            .transpose()
    }

    /// Entry `index`'s row as the file holds it (compressed, see docs/log.md
    /// "Format versions"), for tools that inspect the file itself.
    pub fn stored_row(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.entries.get(index)?.map(|v| v.value().to_vec()))
    }

    /// The reception time of entry `index`, in ms (the first 8 bytes of its leaf).
    pub fn received_at(&self, index: u64) -> Result<Timestamp, StoreError> {
        TimeReader::default()
            .get(&self.received, index)
            .map(Timestamp)
    }

    /// The Merkle leaf data of entry `index`: `received_at (u64 BE ms) ‖
    /// entry` (leaf format v2, docs/log.md §1).
    pub fn leaf_data(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(bytes) = self.entry_bytes(index)? else {
            return Ok(None);
        };
        let time = self.received_at(index)?;
        Ok(Some(EntryLeaf::new(time.millis(), &bytes).to_bytes()))
    }

    /// Entry `index`, decoded, with its reception time.
    pub fn entry(&self, index: u64) -> Result<Option<StoredEntry>, StoreError> {
        let Some(bytes) = self.entries.get(index)? else {
            return Ok(None);
        };
        let entry = SignedEntry::decode(&super::entry_bytes(index, bytes.value())?)
            .map_err(|e| StoreError::malformed("entries", index, e))?;
        Ok(Some(StoredEntry {
            index,
            entry,
            received_at: self.received_at(index)?,
        }))
    }

    /// Entries `from..to` as the file holds them (compressed rows) with
    /// their reception times, in log order, from one range read: for a
    /// caller that decodes many entries on several threads
    /// ([`decode_row`]). A missing entry is an error.
    pub fn rows(&self, from: u64, to: u64) -> Result<Vec<(u64, Vec<u8>, Timestamp)>, StoreError> {
        let mut times = TimeReader::default();
        let mut out = Vec::new();
        let mut want = from;
        for item in self.entries.range(from..to)? {
            let (k, v) = item?;
            let i = k.value();
            if i != want {
                return Err(StoreError::missing("entries", want));
            }
            out.push((
                i,
                v.value().to_vec(),
                Timestamp(times.get(&self.received, i)?),
            ));
            want = i.saturating_add(1);
        }
        if want < to {
            return Err(StoreError::missing("entries", want));
        }
        Ok(out)
    }

    /// The log index of the entry with this entry hash.
    pub fn index_of_hash(&self, hash: &EntryHash) -> Result<Option<u64>, StoreError> {
        let p = hash_prefix(hash);
        for row in self.by_hash.range((p, 0)..=(p, u64::MAX))? {
            let index = row?.0.value().1;
            if let Some(e) = self.entry(index)?
                && e.entry.hash() == *hash
            {
                return Ok(Some(index));
            }
        }
        Ok(None)
    }

    /// The entry with this entry hash.
    pub fn entry_by_hash(&self, hash: &EntryHash) -> Result<Option<StoredEntry>, StoreError> {
        match self.index_of_hash(hash)? {
            Some(i) => self.entry(i),
            None => Ok(None),
        }
    }

    /// The log index of the entry at `counter` on `chain`.
    pub fn index_of_slot(&self, chain: &ChainId, counter: u64) -> Result<Option<u64>, StoreError> {
        let key = chain_key(chain)?;
        let Some((first, v)) = block_at(&self.by_slot, &key, counter)? else {
            return Ok(None);
        };
        let pairs = decode_slots(first, &v)
            .map_err(|e| StoreError::malformed("by_slot", format!("({chain}, {first})"), e))?;
        Ok(pairs.into_iter().find(|p| p.0 == counter).map(|p| p.1))
    }

    /// The entry at `counter` on `chain`.
    pub fn entry_by_slot(
        &self,
        chain: &ChainId,
        counter: u64,
    ) -> Result<Option<StoredEntry>, StoreError> {
        match self.index_of_slot(chain, counter)? {
            Some(i) => self.entry(i),
            None => Ok(None),
        }
    }

    /// Up to `limit` (counter, log index) pairs of `chain`, from `from_counter` on.
    pub fn chain_slots(
        &self,
        chain: &ChainId,
        from_counter: u64,
        limit: usize,
    ) -> Result<Vec<(u64, u64)>, StoreError> {
        let key = chain_key(chain)?;
        let start = block_at(&self.by_slot, &key, from_counter)?.map_or(0, |(first, _)| first);
        let mut out = Vec::new();
        for row in self
            .by_slot
            .range((key.as_slice(), start)..=(key.as_slice(), u64::MAX))?
        {
            let (k, v) = row?;
            let first = k.value().1;
            let pairs = decode_slots(first, v.value())
                .map_err(|e| StoreError::malformed("by_slot", format!("({chain}, {first})"), e))?;
            out.extend(pairs.into_iter().filter(|p| p.0 >= from_counter));
            if out.len() >= limit {
                break;
            }
        }
        out.truncate(limit);
        Ok(out)
    }

    /// Log indexes of every entry under `key`, in log order.
    pub fn indexes(&self, key: &IndexKey) -> Result<Vec<u64>, StoreError> {
        self.indexes_from(key, 0, usize::MAX)
    }

    /// Up to `limit` log indexes under `key` that are `>= from`, in log order.
    pub fn indexes_from(
        &self,
        key: &IndexKey,
        from: u64,
        limit: usize,
    ) -> Result<Vec<u64>, StoreError> {
        let (t, bytes) = posting_key(key);
        let mut out = Vec::new();
        if let Some(table) = self.postings.get(t) {
            let start = block_at(table, &bytes, from)?.map_or(0, |(first, _)| first);
            for row in table.range((bytes.as_slice(), start)..=(bytes.as_slice(), u64::MAX))? {
                let (k, v) = row?;
                let first = k.value().1;
                let items = decode_postings(first, v.value()).map_err(|e| {
                    StoreError::malformed(
                        POSTING_NAMES.get(t).copied().unwrap_or("postings"),
                        format!("({}, {first})", show_posting_key(t, &bytes)),
                        e,
                    )
                })?;
                out.extend(items.into_iter().filter(|i| *i >= from));
                if out.len() >= limit {
                    break;
                }
            }
        }
        if let IndexKey::Site(site) = key {
            // A site's own chain is in the slot index, not in by_site.
            out.extend(self.own_chain_indexes(&ChainId::Site(site.clone()), from, limit)?);
            out.sort_unstable();
            out.dedup();
        }
        out.truncate(limit);
        Ok(out)
    }

    /// Up to `limit` log indexes `>= from` of `chain`'s own entries.
    fn own_chain_indexes(
        &self,
        chain: &ChainId,
        from: u64,
        limit: usize,
    ) -> Result<Vec<u64>, StoreError> {
        // A chain enters the log in counter order, so its log indexes grow
        // with the counter: binary-search the first counter whose index is
        // at or after `from`.
        let first_at = |counter: u64| -> Result<Option<(u64, u64)>, StoreError> {
            Ok(self.chain_slots(chain, counter, 1)?.into_iter().next())
        };
        let (mut lo, mut hi) = (0u64, u64::MAX);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match first_at(mid)? {
                Some((counter, index)) if index < from => {
                    lo = counter.saturating_add(1).max(mid.saturating_add(1));
                }
                _ => hi = mid,
            }
        }
        Ok(self
            .chain_slots(chain, lo, limit)?
            .into_iter()
            .map(|p| p.1)
            .filter(|i| *i >= from)
            .collect())
    }

    /// Up to `limit` entries under `key` with log index `>= from`, in log
    /// order (their point reads spread as [`Self::entries_at`]).
    pub fn scan(
        &self,
        key: &IndexKey,
        from: u64,
        limit: usize,
    ) -> Result<Vec<StoredEntry>, StoreError> {
        self.entries_at(&self.indexes_from(key, from, limit)?)
    }

    /// A C2SP tile of the current tree: hash tile bytes or an entry bundle.
    pub fn tile(&self, tile: &Tile) -> Result<Vec<u8>, StoreError> {
        match tile.kind() {
            TileKind::Hashes(_) => {
                hash_tile_data(&self.tree(), self.size(), tile).map_err(store_error)
            }
            TileKind::Entries => {
                let beyond = || LogError::TileBeyondTree { size: self.size() };
                let lo = tile.index().checked_mul(256).ok_or_else(beyond)?;
                let hi = lo
                    .checked_add(u64::from(tile.width()))
                    .filter(|hi| *hi <= self.size())
                    .ok_or_else(beyond)?;
                // Entry bundles carry the leaf data: receipt time and entry.
                let mut bundle = Vec::with_capacity(usize::from(tile.width()));
                let mut times = TimeReader::default();
                for row in self.entries.range(lo..hi)? {
                    let (k, v) = row?;
                    let want = lo + bundle.len() as u64;
                    if k.value() != want {
                        return Err(StoreError::missing("entries", want));
                    }
                    let bytes = super::entry_bytes(want, v.value())?;
                    let time = times.get(&self.received, want)?;
                    bundle.push(EntryLeaf::new(time, &bytes).to_bytes());
                }
                if (bundle.len() as u64) < hi - lo {
                    return Err(StoreError::missing("entries", lo + bundle.len() as u64));
                }
                Ok(encode_entry_bundle(&bundle)?)
            }
        }
    }

    /// The tile at a C2SP path such as `tile/0/x001/234.p/5` or `tile/entries/000`.
    pub fn tile_at(&self, path: &str) -> Result<Vec<u8>, StoreError> {
        self.tile(&Tile::from_path(path)?)
    }

    /// The findings recorded against entry `index`.
    pub fn findings(&self, index: u64) -> Result<Vec<StoredFinding>, StoreError> {
        Ok(self
            .findings_from(index, usize::MAX)?
            .into_iter()
            .take_while(|(i, _)| *i == index)
            .map(|(_, f)| f)
            .collect())
    }

    /// Up to `limit` findings of entries at or after `from`, with their log index.
    pub fn findings_from(
        &self,
        from: u64,
        limit: usize,
    ) -> Result<Vec<(u64, StoredFinding)>, StoreError> {
        let mut out = Vec::new();
        for row in self.findings.range((from, 0)..)?.take(limit) {
            let (k, v) = row?;
            let (index, n) = k.value();
            let f = postcard::from_bytes(v.value())
                .map_err(|e| StoreError::malformed("findings", format!("({index}, {n})"), e))?;
            out.push((index, f));
        }
        Ok(out)
    }

    /// Every equivocation proof, by chain and counter.
    pub fn equivocations(&self) -> Result<Vec<Equivocation>, StoreError> {
        let mut out = Vec::new();
        for row in self.equivocations.iter()? {
            let (k, v) = row?;
            let (c, counter) = k.value();
            let e = postcard::from_bytes(v.value()).map_err(|e| {
                StoreError::malformed(
                    "equivocations",
                    format!("({}, {counter})", show_chain(c)),
                    e,
                )
            })?;
            out.push(e);
        }
        Ok(out)
    }

    /// The signed checkpoint note at `size`, if the log signed one.
    pub fn checkpoint(&self, size: u64) -> Result<Option<String>, StoreError> {
        Ok(self.checkpoints.get(size)?.map(|v| v.value().to_owned()))
    }

    /// The last checkpoint the log signed.
    pub fn latest_checkpoint(&self) -> Result<Option<String>, StoreError> {
        Ok(self.checkpoints.last()?.map(|(_, v)| v.value().to_owned()))
    }

    /// Every checkpoint the log signed, by size.
    pub fn checkpoints(&self) -> Result<Vec<(u64, String)>, StoreError> {
        let mut out = Vec::new();
        for row in self.checkpoints.iter()? {
            let (k, v) = row?;
            out.push((k.value(), v.value().to_owned()));
        }
        Ok(out)
    }
}
