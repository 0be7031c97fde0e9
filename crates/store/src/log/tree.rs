//! The Merkle tree as stored: hash tiles of level 1 and above in the `tiles`
//! table, two in-between levels in the `half_tiles` table, and the leaf
//! hashes derived from the `entries` table.
//!
//! A leaf hash is `SHA-256(0x00 || received_at || entry)` (leaf format v2),
//! a pure function of bytes the store keeps anyway (`entries` and
//! `received_at`), so storing it again would cost 32 bytes per entry.
//! Tile level `t ≥ 1` holds the tree level `8t` nodes, 256 per tile. Half
//! tile `(t, k)` for `t ≥ 1` holds the 16 tree level `8t + 4` nodes inside
//! tile `(t, k)`; half tile `(0, k)` (store format v5) holds the 32 tree
//! level 3 nodes inside leaf tile `k` (entries `256k ..`, itself not
//! stored): 4 bytes per entry at level 3 and 2/256 above, so a proof hashes
//! at most 7 entries (the 8-entry group its leaf is in, less the leaf) and
//! folds at most 15 stored hashes per level of tiles. The right-edge row of
//! each level is partial and grows in place. [`StoredTree`] answers
//! `armsledger_log::HashReader` for any node: a node of tree level `b + r`
//! is the root of the `2^r` level-`b` nodes under it, where `b` is the
//! highest stored level at or below it (0, 3, 8, 12, 16, …).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use armsledger_log::{EntryLeaf, Hash, HashReader, LogError, MAX_TREE_SIZE, node_hash};
use redb::ReadableTable;

use super::blocks::TimeReader;
use crate::error::StoreError;

/// Tree levels per tile.
pub(crate) const TILE_HEIGHT: u32 = 8;
/// Hashes per full tile.
pub(crate) const TILE_WIDTH: u64 = 256;
/// Tree levels per half tile of level `t ≥ 1`.
pub(crate) const HALF_HEIGHT: u32 = 4;
/// Hashes per full half tile of level `t ≥ 1`.
pub(crate) const HALF_WIDTH: u64 = 16;
/// The tree level half tiles of level 0 hold (store format v5).
pub(crate) const LOW_LEVEL: u32 = 3;
/// Hashes per full half tile of level 0: the level-3 nodes of a leaf tile.
pub(crate) const LOW_WIDTH: u64 = TILE_WIDTH >> LOW_LEVEL;
/// Entries under one level-3 node: the leaf hashes a proof recomputes.
pub(crate) const LEAF_GROUP: u64 = 1 << LOW_LEVEL;
/// Most hashes one [`NodeCache`] keeps (4 MiB) before it starts over.
const CACHE_MAX_HASHES: usize = 1 << 17;

/// Which table holds a stored level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `tiles`.
    Tile,
    /// `half_tiles`.
    Half,
}

/// Where the nodes of tree level `level` are stored, if they are: the
/// table, the row level `t` (keys `(t, k)`) and the hashes per full row.
/// Levels 3, 8, 12, 16, 20, …; the one place that says so (the writer, the
/// reader and fsck all ask it).
pub(crate) fn stored_at(level: u32) -> Option<(Kind, u8, u64)> {
    let t = u8::try_from(level / TILE_HEIGHT).ok()?;
    match (t, level % TILE_HEIGHT) {
        (0, LOW_LEVEL) => Some((Kind::Half, 0, LOW_WIDTH)),
        (0, _) => None,
        (_, 0) => Some((Kind::Tile, t, TILE_WIDTH)),
        (_, HALF_HEIGHT) => Some((Kind::Half, t, HALF_WIDTH)),
        _ => None,
    }
}

/// The tree level and width of half tile level `t`.
pub(crate) fn half_level(t: u8) -> (u32, u64) {
    if t == 0 {
        (LOW_LEVEL, LOW_WIDTH)
    } else {
        (u32::from(t) * TILE_HEIGHT + HALF_HEIGHT, HALF_WIDTH)
    }
}

/// Where a run of stored-level nodes comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Source {
    /// The leaf hashes of entries `8g .. 8g + 8` (group `g`).
    Leaves(u64),
    /// `half_tiles[(t, k)]`: tree level 3 (`t = 0`, nodes `32k ..`) or
    /// `8t + 4` (nodes `16k ..`).
    Half(u8, u64),
    /// `tiles[(t, k)]`, `t ≥ 1`: tree level `8t`, nodes `256k ..`.
    Tile(u8, u64),
}

impl Source {
    /// The source of the node at stored level `base` whose run starts at
    /// `lo`, and the run's offset in it.
    fn of(base: u8, lo: u64) -> (Source, u64) {
        match (base / 8, base % 8) {
            (0, 0) => (Source::Leaves(lo / LEAF_GROUP), lo % LEAF_GROUP),
            (t, 0) => (Source::Tile(t, lo / TILE_WIDTH), lo % TILE_WIDTH),
            (t, _) => {
                let (_, width) = half_level(t);
                (Source::Half(t, lo / width), lo % width)
            }
        }
    }
}

/// Runs of stored-level hashes already read through one snapshot, shared by
/// every proof built from it: a dossier's fifty proofs at one tree size share
/// the upper tiles and the right edge of the tree. Bounded; it starts over
/// when full. A snapshot never changes, so nothing in it goes stale.
#[derive(Debug, Default)]
pub(crate) struct NodeCache(Mutex<CacheInner>);

#[derive(Debug, Default)]
struct CacheInner {
    runs: HashMap<Source, Arc<[Hash]>>,
    /// Nodes folded from stored runs, by (tree level, node): a dossier's
    /// proofs share their upper siblings, so each is hashed once.
    nodes: HashMap<(u8, u64), Hash>,
    /// Roots of leaf ranges `lo..hi` that are not perfect subtrees (the
    /// right edge of a tree size): computed once per reader and size.
    edges: HashMap<(u64, u64), Hash>,
    hashes: usize,
}

impl CacheInner {
    /// Makes room for `more` hashes, starting over when the bound is hit.
    fn room(&mut self, more: usize) {
        if self.hashes.saturating_add(more) > CACHE_MAX_HASHES {
            self.runs.clear();
            self.nodes.clear();
            self.edges.clear();
            self.hashes = 0;
        }
        self.hashes = self.hashes.saturating_add(more);
    }
}

impl NodeCache {
    fn get(&self, source: Source) -> Option<Arc<[Hash]>> {
        // A poisoned lock only means another reader panicked mid-insert;
        // the cache is an optimisation, so it is skipped, never trusted.
        self.0.lock().ok()?.runs.get(&source).cloned()
    }

    fn put(&self, source: Source, run: Arc<[Hash]>) {
        let Ok(mut c) = self.0.lock() else {
            return;
        };
        c.room(run.len());
        c.runs.insert(source, run);
    }

    pub(super) fn node(&self, level: u8, n: u64) -> Option<Hash> {
        self.0.lock().ok()?.nodes.get(&(level, n)).copied()
    }

    fn put_nodes(&self, nodes: &[((u8, u64), Hash)]) {
        let Ok(mut c) = self.0.lock() else {
            return;
        };
        // A map entry (key, hash, the table's slack) takes about two hashes.
        c.room(nodes.len().saturating_mul(2));
        c.nodes.extend(nodes.iter().copied());
    }

    pub(super) fn edge(&self, lo: u64, hi: u64) -> Option<Hash> {
        self.0.lock().ok()?.edges.get(&(lo, hi)).copied()
    }

    pub(super) fn put_edge(&self, lo: u64, hi: u64, hash: Hash) {
        let Ok(mut c) = self.0.lock() else {
            return;
        };
        c.room(2);
        c.edges.insert((lo, hi), hash);
    }
}

/// Read access to the stored tree of `size` leaves.
pub(crate) struct StoredTree<'a, E, R, T, H> {
    entries: &'a E,
    received: &'a R,
    tiles: &'a T,
    halves: &'a H,
    cache: &'a NodeCache,
    size: u64,
}

impl<'a, E, R, T, H> StoredTree<'a, E, R, T, H>
where
    E: ReadableTable<u64, &'static [u8]>,
    R: ReadableTable<u64, &'static [u8]>,
    T: ReadableTable<(u8, u64), &'static [u8]>,
    H: ReadableTable<(u8, u64), &'static [u8]>,
{
    /// A view of the tree whose leaves are `entries[0..size]` with their
    /// times in `received`.
    pub(crate) fn new(
        entries: &'a E,
        received: &'a R,
        tiles: &'a T,
        halves: &'a H,
        cache: &'a NodeCache,
        size: u64,
    ) -> Self {
        StoredTree {
            entries,
            received,
            tiles,
            halves,
            cache,
            size,
        }
    }

    /// The hashes of `source`, from the cache or the tables.
    fn load(&self, source: Source) -> Result<Arc<[Hash]>, LogError> {
        if let Some(run) = self.cache.get(source) {
            return Ok(run);
        }
        let run: Arc<[Hash]> = match source {
            Source::Leaves(g) => self.leaf_group(g)?.into(),
            Source::Half(t, k) => {
                let row = self.halves.get((t, k)).map_err(LogError::hash_read)?;
                match row {
                    Some(v) => split_hashes(v.value(), half_level(t).1).map_err(|e| {
                        LogError::hash_read(StoreError::malformed(
                            "half_tiles",
                            format!("({t}, {k})"),
                            e,
                        ))
                    })?,
                    None => Vec::new(),
                }
                .into()
            }
            Source::Tile(t, k) => {
                let row = self.tiles.get((t, k)).map_err(LogError::hash_read)?;
                match row {
                    Some(v) => split_hashes(v.value(), TILE_WIDTH).map_err(|e| {
                        LogError::hash_read(StoreError::malformed(
                            "tiles",
                            format!("({t}, {k})"),
                            e,
                        ))
                    })?,
                    None => Vec::new(),
                }
                .into()
            }
        };
        self.cache.put(source, run.clone());
        Ok(run)
    }

    /// Leaf hashes of group `g`: entries `8g ..`, up to 8 of them, as far
    /// as they run without a gap.
    fn leaf_group(&self, g: u64) -> Result<Vec<Hash>, LogError> {
        let lo = g.saturating_mul(LEAF_GROUP);
        let hi = lo.saturating_add(LEAF_GROUP);
        let mut out = Vec::with_capacity(LEAF_GROUP as usize);
        let rows = self.entries.range(lo..hi).map_err(LogError::hash_read)?;
        let mut times = TimeReader::default();
        for (expect, row) in (lo..).zip(rows) {
            let (k, v) = row.map_err(LogError::hash_read)?;
            if k.value() != expect {
                break;
            }
            let bytes = super::entry_bytes(expect, v.value()).map_err(LogError::hash_read)?;
            let time = times
                .get(self.received, expect)
                .map_err(LogError::hash_read)?;
            out.push(EntryLeaf::new(time, &bytes).hash());
        }
        Ok(out)
    }

    /// Node `n` of tree level `level`: the root of a run of at most 16
    /// nodes of the stored level below it, inside one source. Folded once
    /// per reader: the fold's result and, above the leaf tiles, its
    /// in-between nodes are kept in the cache for the next proofs.
    pub(crate) fn node(&self, level: u8, n: u64) -> Result<Hash, LogError> {
        if let Some(hash) = self.cache.node(level, n) {
            return Ok(hash);
        }
        let missing = || LogError::StoredHashMissing {
            index: stored_index(level, n).unwrap_or(u64::MAX),
        };
        // The node must lie inside this view of the tree.
        let end = n
            .checked_add(1)
            .and_then(|n| n.checked_mul(1u64.checked_shl(u32::from(level))?))
            .ok_or_else(missing)?;
        if end > self.size {
            return Err(missing());
        }
        let base = stored_level_below(level);
        let r = u32::from(level - base);
        let lo = n << r;
        let (source, from) = Source::of(base, lo);
        let run = self.load(source)?;
        let from = usize::try_from(from).map_err(|_| missing())?;
        let nodes = run
            .get(from..from.saturating_add(1 << r))
            .ok_or_else(missing)?;
        if let [stored] = nodes {
            // A stored node (or a leaf): its run is in the cache already.
            return Ok(*stored);
        }
        let mut folded = Vec::new();
        // Below level 8 a dossier's leaves rarely share a node: keep the
        // result only, not its in-between nodes.
        let keep = (u32::from(base) >= TILE_HEIGHT).then_some(&mut folded);
        let root = fold(base, lo, nodes, keep);
        folded.push(((level, n), root));
        self.cache.put_nodes(&folded);
        Ok(root)
    }

    /// The root of leaves `lo..hi` (RFC 6962 MTH): a stored or folded node
    /// when the range is a perfect subtree, else (the right edge of a tree
    /// size) the hash of its two halves, kept in the cache.
    fn range_root(&self, lo: u64, hi: u64) -> Result<Hash, LogError> {
        let len = hi.saturating_sub(lo);
        if len.is_power_of_two() && lo.is_multiple_of(len) {
            let level = len.trailing_zeros();
            return self.node(level as u8, lo >> level);
        }
        if len == 0 {
            return Err(LogError::IndexBeyondTree {
                index: lo,
                size: hi,
            });
        }
        if let Some(hash) = self.cache.edge(lo, hi) {
            return Ok(hash);
        }
        let mid = lo.saturating_add(split_point(len));
        let hash = node_hash(&self.range_root(lo, mid)?, &self.range_root(mid, hi)?);
        self.cache.put_edge(lo, hi, hash);
        Ok(hash)
    }

    /// The inclusion proof of leaf `index` in the tree of the first `size`
    /// leaves (RFC 6962 PATH, leaf's sibling first): the same hashes as
    /// `armsledger_log::prove_inclusion` over this tree, with every node
    /// and right-edge root taken from the cache when an earlier proof of
    /// this reader computed it.
    pub(crate) fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, LogError> {
        if size > MAX_TREE_SIZE {
            return Err(LogError::TreeTooLarge { size });
        }
        if index >= size {
            return Err(LogError::IndexBeyondTree { index, size });
        }
        let mut path = Vec::with_capacity(64);
        let (mut lo, mut hi) = (0u64, size);
        while hi - lo > 1 {
            let mid = lo + split_point(hi - lo);
            if index < mid {
                path.push(self.range_root(mid, hi)?);
                hi = mid;
            } else {
                path.push(self.range_root(lo, mid)?);
                lo = mid;
            }
        }
        path.reverse();
        Ok(path)
    }
}

/// The largest power of two below `len` (`len ≥ 2`): where RFC 6962 splits
/// a range of `len` leaves.
fn split_point(len: u64) -> u64 {
    1u64 << (63 - len.saturating_sub(1).max(1).leading_zeros())
}

impl<E, R, T, H> HashReader for StoredTree<'_, E, R, T, H>
where
    E: ReadableTable<u64, &'static [u8]>,
    R: ReadableTable<u64, &'static [u8]>,
    T: ReadableTable<(u8, u64), &'static [u8]>,
    H: ReadableTable<(u8, u64), &'static [u8]>,
{
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, LogError> {
        indexes
            .iter()
            .map(|&index| {
                let (level, n) = split_stored_index(index)?;
                self.node(level, n)
            })
            .collect()
    }
}

/// A proof or root that failed: the store's own error when reading the
/// tree failed (so it names the table and row), else the Merkle maths'.
pub(crate) fn store_error(e: LogError) -> StoreError {
    match e {
        LogError::HashReadFailed(source) => match source.downcast::<StoreError>() {
            Ok(store) => *store,
            Err(source) => match source.downcast::<redb::StorageError>() {
                Ok(redb) => StoreError::StorageFailed((*redb).into()),
                Err(source) => StoreError::Log(LogError::HashReadFailed(source)),
            },
        },
        other => StoreError::Log(other),
    }
}

/// The highest stored level at or below tree level `level`: 0 (leaves,
/// derived), 3 (`half_tiles` level 0), `8t` (`tiles`) or `8t + 4`
/// (`half_tiles`).
fn stored_level_below(level: u8) -> u8 {
    match level {
        0..3 => 0,
        3..8 => 3,
        _ => level - level % 4,
    }
}

/// A stored row of hashes: whole 32-byte hashes, at most `max` of them.
pub(crate) fn split_hashes(bytes: &[u8], max: u64) -> Result<Vec<Hash>, String> {
    if !bytes.len().is_multiple_of(32) || bytes.len() as u64 > max * 32 {
        return Err(format!(
            "{} bytes: not a run of at most {max} 32-byte hashes",
            bytes.len()
        ));
    }
    Ok(bytes
        .chunks_exact(32)
        .map(|c| {
            let mut h = [0u8; 32];
            h.copy_from_slice(c);
            Hash(h)
        })
        .collect())
}

/// The root of the perfect subtree over `nodes` (a power-of-two count) of
/// tree level `base`, the first being node `lo`; every node computed on the
/// way up, except the root, is appended to `folded` by (level, node).
fn fold(
    base: u8,
    lo: u64,
    nodes: &[Hash],
    mut folded: Option<&mut Vec<((u8, u64), Hash)>>,
) -> Hash {
    let mut row: Vec<Hash> = nodes.to_vec();
    let (mut level, mut first) = (base, lo);
    while row.len() > 1 {
        row = row
            .chunks(2)
            .map(|p| match p {
                [l, r] => node_hash(l, r),
                [one] => *one,
                _ => Hash::default(),
            })
            .collect();
        level = level.saturating_add(1);
        first >>= 1;
        if let Some(folded) = folded.as_deref_mut()
            && row.len() > 1
        {
            folded.extend(
                (first..)
                    .zip(row.iter().copied())
                    .map(|(n, h)| ((level, n), h)),
            );
        }
    }
    row.first().copied().unwrap_or_default()
}

/// The root of a perfect subtree over `leaves` (a power-of-two count).
pub(crate) fn perfect_root(leaves: &[Hash]) -> Hash {
    fold(0, 0, leaves, None)
}

/// `stored_hash_index` without the tree-size pre-check wrapper noise.
fn stored_index(level: u8, n: u64) -> Result<u64, LogError> {
    armsledger_log::stored_hash_index(level, n)
}

/// Inverse of `stored_hash_index`: the (level, n) stored at `index`.
///
/// Go's `tlog.SplitStoredHashIndex`, without its panics.
pub(crate) fn split_stored_index(index: u64) -> Result<(u8, u64), LogError> {
    let mut n = index / 2;
    let mut index_n = stored_index(0, n)?;
    if index_n > index {
        return Err(LogError::StoredHashMissing { index });
    }
    loop {
        let x = index_n + 1 + u64::from((n + 1).trailing_zeros());
        if x > index {
            break;
        }
        n += 1;
        index_n = x;
    }
    let level = u8::try_from(index - index_n).map_err(|_| LogError::StoredHashMissing { index })?;
    Ok((level, n.checked_shr(u32::from(level)).unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_inverts_stored_index() {
        for level in 0..20u8 {
            for n in 0..300u64 {
                let i = stored_index(level, n).unwrap();
                assert_eq!(split_stored_index(i).unwrap(), (level, n));
            }
        }
        let big = stored_index(40, 12345).unwrap();
        assert_eq!(split_stored_index(big).unwrap(), (40, 12345));
    }

    #[test]
    fn perfect_root_matches_reference() {
        let leaves: Vec<Hash> = (0..8u8).map(|i| armsledger_log::leaf_hash(&[i])).collect();
        assert_eq!(perfect_root(&leaves), armsledger_log::root_of(&leaves));
        assert_eq!(perfect_root(&leaves[..1]), leaves[0]);
    }

    #[test]
    fn every_level_reads_from_the_stored_level_below() {
        let want = [
            (0, 0),
            (2, 0),
            (3, 3),
            (4, 3),
            (7, 3),
            (8, 8),
            (11, 8),
            (12, 12),
            (15, 12),
            (16, 16),
            (63, 60),
        ];
        for (level, base) in want {
            assert_eq!(stored_level_below(level), base, "level {level}");
        }
        assert_eq!(Source::of(0, 37), (Source::Leaves(4), 5));
        assert_eq!(Source::of(3, 37), (Source::Half(0, 1), 5));
        assert_eq!(Source::of(8, 600), (Source::Tile(1, 2), 88));
        assert_eq!(Source::of(12, 37), (Source::Half(1, 2), 5));
        assert_eq!(Source::of(16, 3), (Source::Tile(2, 0), 3));
    }

    #[test]
    fn levels_3_8_12_16_and_20_are_stored() {
        let got: Vec<(u32, (Kind, u8, u64))> =
            (0..22).filter_map(|l| Some((l, stored_at(l)?))).collect();
        assert_eq!(
            got,
            [
                (3, (Kind::Half, 0, 32)),
                (8, (Kind::Tile, 1, 256)),
                (12, (Kind::Half, 1, 16)),
                (16, (Kind::Tile, 2, 256)),
                (20, (Kind::Half, 2, 16)),
            ]
        );
        assert_eq!(half_level(0), (3, 32));
        assert_eq!(half_level(2), (20, 16));
        for level in 0..64u8 {
            let base = stored_level_below(level);
            assert!(base == 0 || stored_at(u32::from(base)).is_some(), "{level}");
            // A node folds at most 16 nodes of the level below (32 at the
            // top of a leaf tile would mean level 8 read from level 3).
            assert!(level - base <= 4, "{level}");
        }
    }

    #[test]
    fn stored_rows_must_be_whole_hashes() {
        assert_eq!(split_hashes(&[7; 64], 16).unwrap().len(), 2);
        assert!(split_hashes(&[], 16).unwrap().is_empty());
        assert!(split_hashes(&[7; 33], 16).is_err());
        assert!(split_hashes(&[7; 17 * 32], 16).is_err());
    }

    #[test]
    fn a_fold_keeps_its_in_between_nodes_by_level_and_index() {
        let nodes: Vec<Hash> = (0..4u8).map(|i| armsledger_log::leaf_hash(&[i])).collect();
        let mut kept = Vec::new();
        let root = fold(8, 512, &nodes, Some(&mut kept));
        assert_eq!(root, perfect_root(&nodes));
        let (l, r) = (
            node_hash(&nodes[0], &nodes[1]),
            node_hash(&nodes[2], &nodes[3]),
        );
        assert_eq!(kept, [((9, 256), l), ((9, 257), r)]);
        assert_eq!(root, node_hash(&l, &r));
        kept.clear();
        fold(8, 512, &nodes, None);
        assert!(kept.is_empty());
        assert_eq!(fold(8, 512, &nodes[..2], Some(&mut kept)), l);
        assert!(kept.is_empty(), "the root itself is the caller's to keep");
    }

    #[test]
    fn rfc6962_splits_below_the_largest_power_of_two() {
        let want = [
            (2, 1),
            (3, 2),
            (4, 2),
            (5, 4),
            (8, 4),
            (9, 8),
            (1 << 40, 1 << 39),
        ];
        for (len, k) in want {
            assert_eq!(split_point(len), k, "{len}");
        }
        assert_eq!(split_point(u64::MAX), 1 << 63);
    }

    #[test]
    fn the_cache_starts_over_when_full() {
        let cache = NodeCache::default();
        let run: Arc<[Hash]> = vec![Hash::default(); 256].into();
        for k in 0..(CACHE_MAX_HASHES as u64 / 256 + 1) {
            cache.put(Source::Tile(1, k), run.clone());
        }
        assert!(cache.get(Source::Tile(1, 0)).is_none());
        let last = CACHE_MAX_HASHES as u64 / 256;
        assert!(cache.get(Source::Tile(1, last)).is_some());
        // Folded nodes and right-edge roots count against the same bound.
        cache.put_nodes(&[((9, 4), Hash([9; 32]))]);
        cache.put_edge(0, 3, Hash([3; 32]));
        assert_eq!(cache.node(9, 4), Some(Hash([9; 32])));
        assert_eq!(cache.edge(0, 3), Some(Hash([3; 32])));
        assert_eq!(cache.edge(0, 5), None);
        cache.put_nodes(&vec![((20, 0), Hash::default()); CACHE_MAX_HASHES / 2]);
        assert_eq!(cache.node(9, 4), None);
        assert_eq!(cache.edge(0, 3), None);
        assert!(cache.get(Source::Tile(1, last)).is_none());
    }
}
