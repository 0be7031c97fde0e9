//! Growing the stored tree: the hashes an append completes go to their hash
//! tile or half tile, each changed row written once per batch.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use armsledger_log::{AppendedHashes, EntryLeaf, Hash, node_hash};
use redb::{ReadableTable, Table};

use super::blocks::TimeReader;
use super::tree::{Kind, LEAF_GROUP, LOW_WIDTH, perfect_root, split_hashes, stored_at};
use crate::error::StoreError;

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
    /// Records the stored-level nodes (levels 3, 8, 12, 16, …) that
    /// appending leaf `leaf_index` completed.
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
            let Some((kind, t, width)) = stored_at(level) else {
                continue;
            };
            let (rows, table, name): (_, &dyn Get, _) = match kind {
                Kind::Tile => (&mut self.tiles, tiles, "tile"),
                Kind::Half => (&mut self.halves, halves, "half tile"),
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

/// The v4 → v5 upgrade: rebuilds every half tile of level 0 (tree level 4
/// in v4, level 3 in v5) from the entries, checking each pair of new nodes
/// against the v4 level-4 node it hashes to, so an entry, time or row that
/// changed since it was written stops the upgrade naming it. Returns the
/// rows written. One pass over the entries: a decompression and two
/// SHA-256 per entry (about 20 s at 10M entries on one core).
pub(crate) fn rebuild_low_halves<E, R>(
    entries: &E,
    received: &R,
    halves: &mut Table<'_, (u8, u64), &'static [u8]>,
) -> Result<u64, StoreError>
where
    E: ReadableTable<u64, &'static [u8]>,
    R: ReadableTable<u64, &'static [u8]>,
{
    let old: Vec<((u8, u64), Vec<u8>)> = halves
        .range((0u8, 0u64)..(1u8, 0u64))?
        .map(|row| row.map(|(k, v)| (k.value(), v.value().to_vec())))
        .collect::<Result<_, _>>()?;
    for (key, _) in &old {
        halves.remove(key)?;
    }
    let old: BTreeMap<u64, Vec<u8>> = old.into_iter().map(|((_, k), v)| (k, v)).collect();
    let mut times = TimeReader::default();
    let mut group: Vec<Hash> = Vec::with_capacity(LEAF_GROUP as usize);
    let mut row: Vec<u8> = Vec::with_capacity(LOW_WIDTH as usize * 32);
    let mut written = 0u64;
    let mut k = 0u64;
    for (expect, item) in (0u64..).zip(entries.iter()?) {
        let (key, value) = item?;
        if key.value() != expect {
            return Err(StoreError::missing("entries", expect));
        }
        let bytes = super::entry_bytes(expect, value.value())?;
        let time = times.get(received, expect)?;
        group.push(EntryLeaf::new(time, &bytes).hash());
        if group.len() as u64 == LEAF_GROUP {
            row.extend_from_slice(&perfect_root(&group).0);
            group.clear();
        }
        if row.len() as u64 == LOW_WIDTH * 32 {
            check_against_v4(k, &row, old.get(&k))?;
            halves.insert((0, k), row.as_slice())?;
            row.clear();
            written += 1;
            k += 1;
        }
    }
    if !row.is_empty() {
        check_against_v4(k, &row, old.get(&k))?;
        halves.insert((0, k), row.as_slice())?;
        written += 1;
    }
    Ok(written)
}

/// Each v4 level-4 hash in `old` must be the parent of two new level-3
/// nodes in `row` (a v4 row holds only the nodes complete at its size).
fn check_against_v4(k: u64, row: &[u8], old: Option<&Vec<u8>>) -> Result<(), StoreError> {
    let old = old.map(Vec::as_slice).unwrap_or_default();
    let new = split_hashes(row, LOW_WIDTH).map_err(StoreError::TreeInconsistent)?;
    let parents = split_hashes(old, LOW_WIDTH / 2)
        .map_err(|e| StoreError::malformed("half_tiles", format!("(0, {k})"), e))?;
    for (j, want) in parents.iter().enumerate() {
        let got = match new.get(2 * j..2 * j + 2) {
            Some([l, r]) => node_hash(l, r),
            _ => Hash::default(),
        };
        if got != *want {
            let first = k
                .saturating_mul(LOW_WIDTH / 2)
                .saturating_add(j as u64)
                .saturating_mul(2 * LEAF_GROUP);
            return Err(StoreError::TreeInconsistent(format!(
                "upgrading to v5: half_tiles[(0, {k})][{j}] (v4, over entries {first}..{}) \
                 is not the root of those entries as stored now; run fsck with the \
                 release that wrote the file",
                first.saturating_add(2 * LEAF_GROUP)
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_go_to_their_row_and_position() {
        // Leaf 4095 completes node 0 of level 12: half tile (1, 0), hash 0.
        assert_eq!(place(12, 4095, 16), (0, 0));
        // Leaf 303 completes node 37 of level 3: half tile (0, 1), hash 5.
        assert_eq!(place(3, 303, 32), (1, 5));
    }
}
