//! The Merkle tree as stored: hash tiles of level 1 and above in the `tiles`
//! table, and level 0 (the leaf hashes) derived from the `entries` table.
//!
//! A leaf hash is `SHA-256(0x00 || entry)`, a pure function of bytes the
//! store keeps anyway, so storing it again would cost 32 bytes per entry for
//! nothing. Tile level `t ≥ 1` holds the tree level `8t` nodes, 256 per tile;
//! the right-edge tile of each level is partial and grows in place.
//! [`StoredTree`] answers `armsledger_log::HashReader` for any node: a node of
//! tree level `8t + r` is the root of the `2^r` level-`8t` nodes under it.

use std::collections::{BTreeMap, HashMap};

use armsledger_log::{AppendedHashes, Hash, HashReader, LogError, leaf_hash, node_hash};
use redb::{ReadableTable, Table};

use crate::error::StoreError;

/// Tree levels per tile.
const TILE_HEIGHT: u32 = 8;
/// Hashes per full tile.
const TILE_WIDTH: u64 = 256;

/// Read access to the stored tree of `size` leaves.
pub(crate) struct StoredTree<'a, E, T> {
    entries: &'a E,
    tiles: &'a T,
    size: u64,
}

impl<'a, E, T> StoredTree<'a, E, T>
where
    E: ReadableTable<u64, &'static [u8]>,
    T: ReadableTable<(u8, u64), &'static [u8]>,
{
    /// A view of the tree whose leaves are `entries[0..size]`.
    pub(crate) fn new(entries: &'a E, tiles: &'a T, size: u64) -> Self {
        StoredTree {
            entries,
            tiles,
            size,
        }
    }

    /// Leaf hashes of entries `lo..hi`, all of which must exist.
    pub(crate) fn leaf_hashes(&self, lo: u64, hi: u64) -> Result<Vec<Hash>, LogError> {
        if hi > self.size {
            return Err(LogError::StoredHashMissing {
                index: stored_index(0, self.size.max(lo))?,
            });
        }
        let mut out = Vec::with_capacity(usize::try_from(hi - lo).unwrap_or(0));
        let mut expect = lo;
        for row in self.entries.range(lo..hi).map_err(LogError::hash_read)? {
            let (k, v) = row.map_err(LogError::hash_read)?;
            if k.value() != expect {
                break;
            }
            out.push(leaf_hash(v.value()));
            expect += 1;
        }
        if expect != hi {
            return Err(LogError::StoredHashMissing {
                index: stored_index(0, expect)?,
            });
        }
        Ok(out)
    }

    /// Hashes `lo..hi` of tile level `t ≥ 1` (tree level `8t`), from tile `lo / 256`.
    fn tile_hashes(&self, t: u8, lo: u64, hi: u64) -> Result<Vec<Hash>, LogError> {
        let k = lo / TILE_WIDTH;
        let missing = || -> LogError {
            match stored_index(t.saturating_mul(8), lo) {
                Ok(index) => LogError::StoredHashMissing { index },
                Err(e) => e,
            }
        };
        let tile = self
            .tiles
            .get((t, k))
            .map_err(LogError::hash_read)?
            .ok_or_else(missing)?;
        let data = tile.value();
        let from = usize::try_from((lo % TILE_WIDTH) * 32).map_err(|_| missing())?;
        let to = usize::try_from((hi - k * TILE_WIDTH) * 32).map_err(|_| missing())?;
        let bytes = data.get(from..to).ok_or_else(missing)?;
        Ok(bytes
            .chunks_exact(32)
            .map(|c| {
                let mut h = [0u8; 32];
                h.copy_from_slice(c);
                Hash(h)
            })
            .collect())
    }
}

impl<E, T> HashReader for StoredTree<'_, E, T>
where
    E: ReadableTable<u64, &'static [u8]>,
    T: ReadableTable<(u8, u64), &'static [u8]>,
{
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, LogError> {
        // Each node is the root of a run of base nodes (tree level 8t) inside
        // one tile; load each tile's needed run once, then fold.
        let mut wanted = Vec::with_capacity(indexes.len());
        let mut runs: BTreeMap<(u8, u64), (u64, u64)> = BTreeMap::new();
        for &index in indexes {
            let (level, n) = split_stored_index(index)?;
            let t = level / 8;
            let r = u32::from(level % 8);
            let lo = n
                .checked_shl(r)
                .ok_or(LogError::StoredHashMissing { index })?;
            let hi = lo + (1u64 << r);
            let run = runs.entry((t, lo / TILE_WIDTH)).or_insert((lo, hi));
            run.0 = run.0.min(lo);
            run.1 = run.1.max(hi);
            wanted.push((t, lo, hi));
        }
        let mut base: HashMap<(u8, u64), (u64, Vec<Hash>)> = HashMap::new();
        for ((t, k), (lo, hi)) in runs {
            let hashes = if t == 0 {
                self.leaf_hashes(lo, hi)?
            } else {
                self.tile_hashes(t, lo, hi)?
            };
            base.insert((t, k), (lo, hashes));
        }
        wanted
            .into_iter()
            .map(|(t, lo, hi)| {
                let (start, hashes) =
                    base.get(&(t, lo / TILE_WIDTH))
                        .ok_or(LogError::StoredHashesShort {
                            requested: indexes.len(),
                            returned: 0,
                        })?;
                let from = usize::try_from(lo - start).unwrap_or(usize::MAX);
                let to = usize::try_from(hi - start).unwrap_or(usize::MAX);
                let run = hashes.get(from..to).ok_or(LogError::StoredHashesShort {
                    requested: indexes.len(),
                    returned: 0,
                })?;
                Ok(perfect_root(run))
            })
            .collect()
    }
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

/// Collects the tile hashes an append batch creates and writes each changed
/// tile once.
#[derive(Default)]
pub(crate) struct TileWriter {
    tiles: BTreeMap<(u8, u64), Vec<u8>>,
}

impl TileWriter {
    /// Records the level-8t nodes (t ≥ 1) that appending leaf `leaf_index` completed.
    pub(crate) fn record<T>(
        &mut self,
        table: &T,
        leaf_index: u64,
        appended: &AppendedHashes,
    ) -> Result<(), StoreError>
    where
        T: ReadableTable<(u8, u64), &'static [u8]>,
    {
        for (level, hash) in appended.hashes.iter().enumerate().skip(1) {
            let level = u32::try_from(level).unwrap_or(u32::MAX);
            if level % TILE_HEIGHT != 0 {
                continue;
            }
            let t = u8::try_from(level / TILE_HEIGHT).unwrap_or(u8::MAX);
            let n = leaf_index.checked_shr(level).unwrap_or(0);
            let (k, pos) = (n / TILE_WIDTH, n % TILE_WIDTH);
            let buf = match self.tiles.entry((t, k)) {
                std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
                std::collections::btree_map::Entry::Vacant(v) => {
                    let stored = table.get((t, k))?.map(|g| g.value().to_vec());
                    v.insert(stored.unwrap_or_default())
                }
            };
            if buf.len() as u64 != pos * 32 {
                return Err(StoreError::TreeInconsistent(format!(
                    "tile ({t}, {k}) holds {} bytes where hash {pos} goes",
                    buf.len()
                )));
            }
            buf.extend_from_slice(&hash.0);
        }
        Ok(())
    }

    /// Writes every changed tile.
    pub(crate) fn flush(
        self,
        table: &mut Table<'_, (u8, u64), &'static [u8]>,
    ) -> Result<(), StoreError> {
        for (key, data) in self.tiles {
            table.insert(key, data.as_slice())?;
        }
        Ok(())
    }
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
        let leaves: Vec<Hash> = (0..8u8).map(|i| leaf_hash(&[i])).collect();
        assert_eq!(perfect_root(&leaves), armsledger_log::root_of(&leaves));
        assert_eq!(perfect_root(&leaves[..1]), leaves[0]);
    }
}
