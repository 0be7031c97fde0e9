//! The Merkle tree as stored: hash tiles of level 1 and above in the `tiles`
//! table, the middle level of every tile (tree levels 4, 12, 20, …) in the
//! `half_tiles` table, and the leaf hashes derived from the `entries` table.
//!
//! A leaf hash is `SHA-256(0x00 || received_at || entry)` (leaf format v2),
//! a pure function of bytes the store keeps anyway (`entries` and
//! `received_at`), so storing it again would cost 32 bytes per entry.
//! Tile level `t ≥ 1` holds the tree level `8t` nodes, 256 per tile. Half
//! tile `(t, k)` holds the 16 tree level `8t + 4` nodes inside tile `(t, k)`
//! (for `t = 0` a leaf tile, itself not stored): 2 bytes per entry in all,
//! and every node is the root of at most 8 nodes of a stored level (or 8
//! entries), so a proof hashes at most 15 entries and folds at most 15
//! stored hashes per level of tiles. The right-edge row of each level is
//! partial and grows in place. [`StoredTree`] answers
//! `armsledger_log::HashReader` for any node: a node of tree level `b + r`
//! is the root of the `2^r` level-`b` nodes under it, where `b` is the
//! highest stored level at or below it (0, 4, 8, 12, 16, …).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use armsledger_log::{EntryLeaf, Hash, HashReader, LogError, node_hash};
use redb::ReadableTable;

use super::blocks::TimeReader;
use crate::error::StoreError;

/// Tree levels per tile.
pub(crate) const TILE_HEIGHT: u32 = 8;
/// Hashes per full tile.
pub(crate) const TILE_WIDTH: u64 = 256;
/// Tree levels per half tile.
pub(crate) const HALF_HEIGHT: u32 = 4;
/// Hashes per full half tile, and leaves per group.
pub(crate) const HALF_WIDTH: u64 = 16;
/// Most hashes one [`NodeCache`] keeps (4 MiB) before it starts over.
const CACHE_MAX_HASHES: usize = 1 << 17;

/// Where a run of stored-level nodes comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Source {
    /// The leaf hashes of entries `16g .. 16g + 16` (group `g`).
    Leaves(u64),
    /// `half_tiles[(t, k)]`: tree level `8t + 4`, nodes `16k ..`.
    Half(u8, u64),
    /// `tiles[(t, k)]`, `t ≥ 1`: tree level `8t`, nodes `256k ..`.
    Tile(u8, u64),
}

impl Source {
    /// The source of the node at stored level `base` whose run starts at
    /// `lo`, and the run's offset in it.
    fn of(base: u8, lo: u64) -> (Source, u64) {
        match (base / 8, base % 8) {
            (0, 0) => (Source::Leaves(lo / HALF_WIDTH), lo % HALF_WIDTH),
            (t, 0) => (Source::Tile(t, lo / TILE_WIDTH), lo % TILE_WIDTH),
            (t, _) => (Source::Half(t, lo / HALF_WIDTH), lo % HALF_WIDTH),
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
    hashes: usize,
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
        if c.hashes.saturating_add(run.len()) > CACHE_MAX_HASHES {
            c.runs.clear();
            c.hashes = 0;
        }
        c.hashes = c.hashes.saturating_add(run.len());
        c.runs.insert(source, run);
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
                    Some(v) => split_hashes(v.value(), HALF_WIDTH).map_err(|e| {
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

    /// Leaf hashes of group `g`: entries `16g ..`, up to 16 of them, as far
    /// as they run without a gap.
    fn leaf_group(&self, g: u64) -> Result<Vec<Hash>, LogError> {
        let lo = g.saturating_mul(HALF_WIDTH);
        let hi = lo.saturating_add(HALF_WIDTH);
        let mut out = Vec::with_capacity(16);
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
}

impl<E, R, T, H> HashReader for StoredTree<'_, E, R, T, H>
where
    E: ReadableTable<u64, &'static [u8]>,
    R: ReadableTable<u64, &'static [u8]>,
    T: ReadableTable<(u8, u64), &'static [u8]>,
    H: ReadableTable<(u8, u64), &'static [u8]>,
{
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, LogError> {
        // Each node is the root of a run of at most 8 nodes of the stored
        // level below it, inside one source; each source is read once.
        let mut loaded: HashMap<Source, Arc<[Hash]>> = HashMap::new();
        indexes
            .iter()
            .map(|&index| {
                let missing = LogError::StoredHashMissing { index };
                let (level, n) = split_stored_index(index)?;
                // The node must lie inside this view of the tree.
                let end = n
                    .checked_add(1)
                    .and_then(|n| n.checked_mul(1u64.checked_shl(u32::from(level))?))
                    .ok_or(LogError::StoredHashMissing { index })?;
                if end > self.size {
                    return Err(missing);
                }
                let base = stored_level_below(level);
                let r = u32::from(level - base);
                let lo = n << r;
                let (source, from) = Source::of(base, lo);
                let run = match loaded.get(&source) {
                    Some(run) => run.clone(),
                    None => {
                        let run = self.load(source)?;
                        loaded.insert(source, run.clone());
                        run
                    }
                };
                let from =
                    usize::try_from(from).map_err(|_| LogError::StoredHashMissing { index })?;
                let to = from.saturating_add(1 << r);
                let nodes = run.get(from..to).ok_or(missing)?;
                Ok(perfect_root(nodes))
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
/// derived), `8t` (`tiles`) or `8t + 4` (`half_tiles`).
fn stored_level_below(level: u8) -> u8 {
    level - level % 4
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

/// The root of a perfect subtree over `leaves` (a power-of-two count).
pub(crate) fn perfect_root(leaves: &[Hash]) -> Hash {
    let mut level: Vec<Hash> = leaves.to_vec();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|p| match p {
                [l, r] => node_hash(l, r),
                [one] => *one,
                _ => Hash::default(),
            })
            .collect();
    }
    level.first().copied().unwrap_or_default()
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
            (3, 0),
            (4, 4),
            (7, 4),
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
        assert_eq!(Source::of(0, 37), (Source::Leaves(2), 5));
        assert_eq!(Source::of(4, 37), (Source::Half(0, 2), 5));
        assert_eq!(Source::of(8, 600), (Source::Tile(1, 2), 88));
        assert_eq!(Source::of(12, 37), (Source::Half(1, 2), 5));
        assert_eq!(Source::of(16, 3), (Source::Tile(2, 0), 3));
    }

    #[test]
    fn stored_rows_must_be_whole_hashes() {
        assert_eq!(split_hashes(&[7; 64], 16).unwrap().len(), 2);
        assert!(split_hashes(&[], 16).unwrap().is_empty());
        assert!(split_hashes(&[7; 33], 16).is_err());
        assert!(split_hashes(&[7; 17 * 32], 16).is_err());
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
    }
}
