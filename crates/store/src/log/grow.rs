//! Growing the stored tree: the hashes an append completes go to their hash
//! tile or half tile, each changed row written once per batch.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use armsledger_log::{AppendedHashes, Hash};
use redb::{ReadableTable, Table};

use super::tree::{HALF_HEIGHT, HALF_WIDTH, TILE_HEIGHT, TILE_WIDTH};
use crate::error::StoreError;

/// Where a completed node of tree level `level` (≥ 1) is stored, if it is:
/// `(true, t)` for tile level `t` (level `8t`), `(false, t)` for half tile
/// level `t` (level `8t + 4`).
fn stored_at(level: u32) -> Option<(bool, u8)> {
    let t = u8::try_from(level / TILE_HEIGHT).ok()?;
    match level % TILE_HEIGHT {
        0 if level > 0 => Some((true, t)),
        HALF_HEIGHT => Some((false, t)),
        _ => None,
    }
}

/// The key of node `n` of tree level `level` in its row, and its position.
fn place(level: u32, leaf_index: u64, width: u64) -> (u64, u64) {
    let n = leaf_index.checked_shr(level).unwrap_or(0);
    (n / width, n % width)
}

/// Collects the stored hashes an append batch creates (tile and half-tile
/// hashes) and writes each changed row once.
#[derive(Default)]
pub(crate) struct TileWriter {
    tiles: BTreeMap<(u8, u64), Vec<u8>>,
    halves: BTreeMap<(u8, u64), Vec<u8>>,
}

impl TileWriter {
    /// Records the level-`8t` and level-`8t + 4` nodes that appending leaf
    /// `leaf_index` completed.
    pub(crate) fn record<T, H>(
        &mut self,
        tiles: &T,
        halves: &H,
        leaf_index: u64,
        appended: &AppendedHashes,
    ) -> Result<(), StoreError>
    where
        T: ReadableTable<(u8, u64), &'static [u8]>,
        H: ReadableTable<(u8, u64), &'static [u8]>,
    {
        for (level, hash) in appended.hashes.iter().enumerate() {
            let level = u32::try_from(level).unwrap_or(u32::MAX);
            let Some((whole, t)) = stored_at(level) else {
                continue;
            };
            let (rows, table, width, name): (_, &dyn Get, _, _) = if whole {
                (&mut self.tiles, tiles, TILE_WIDTH, "tile")
            } else {
                (&mut self.halves, halves, HALF_WIDTH, "half tile")
            };
            let (k, pos) = place(level, leaf_index, width);
            let buf = match rows.entry((t, k)) {
                Entry::Occupied(o) => o.into_mut(),
                Entry::Vacant(v) => v.insert(table.row((t, k))?.unwrap_or_default()),
            };
            extend(buf, pos, hash, || format!("{name} ({t}, {k})"))?;
        }
        Ok(())
    }

    /// Writes every changed row.
    pub(crate) fn flush(
        self,
        tiles: &mut Table<'_, (u8, u64), &'static [u8]>,
        halves: &mut Table<'_, (u8, u64), &'static [u8]>,
    ) -> Result<(), StoreError> {
        for (key, data) in self.tiles {
            tiles.insert(key, data.as_slice())?;
        }
        for (key, data) in self.halves {
            halves.insert(key, data.as_slice())?;
        }
        Ok(())
    }
}

/// A table of rows keyed by (level, index), read as owned bytes.
trait Get {
    fn row(&self, key: (u8, u64)) -> Result<Option<Vec<u8>>, StoreError>;
}

impl<T: ReadableTable<(u8, u64), &'static [u8]>> Get for T {
    fn row(&self, key: (u8, u64)) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.get(key)?.map(|g| g.value().to_vec()))
    }
}

/// Appends `hash` as hash number `pos` of a stored row, which must hold
/// exactly the hashes before it.
fn extend(
    buf: &mut Vec<u8>,
    pos: u64,
    hash: &Hash,
    row: impl Fn() -> String,
) -> Result<(), StoreError> {
    if buf.len() as u64 != pos * 32 {
        return Err(StoreError::TreeInconsistent(format!(
            "{} holds {} bytes where hash {pos} goes",
            row(),
            buf.len()
        )));
    }
    buf.extend_from_slice(&hash.0);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fourth_level_is_stored() {
        let got: Vec<(u32, Option<(bool, u8)>)> = (0..21)
            .map(|l| (l, stored_at(l)))
            .filter(|x| x.1.is_some())
            .collect();
        assert_eq!(
            got,
            [
                (4, Some((false, 0))),
                (8, Some((true, 1))),
                (12, Some((false, 1))),
                (16, Some((true, 2))),
                (20, Some((false, 2))),
            ]
        );
        // Leaf 4095 completes node 0 of level 12: half tile (1, 0), hash 0.
        assert_eq!(place(12, 4095, HALF_WIDTH), (0, 0));
        // Leaf 300 is in group 18, hash 2 of half tile (0, 1).
        assert_eq!(place(4, 303, HALF_WIDTH), (1, 2));
    }
}
