//! Growing the stored tree: the hashes an append completes go to their
//! `level4` row or hash tile, each changed row written once per batch; and
//! the `level4` table derived afresh from the entries, for a log written
//! before the table existed.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use armsledger_log::{AppendedHashes, Hash, leaf_hash};
use redb::{ReadableTable, Table};

use super::tree::{GROUP_LEVEL, GROUP_WIDTH, TILE_HEIGHT, TILE_WIDTH, perfect_root};
use crate::error::StoreError;

/// Collects the stored hashes an append batch creates (level-4 nodes and
/// tile hashes) and writes each changed row once.
#[derive(Default)]
pub(crate) struct TileWriter {
    tiles: BTreeMap<(u8, u64), Vec<u8>>,
    groups: BTreeMap<u64, Vec<u8>>,
}

impl TileWriter {
    /// Records the level-4 node and the level-8t nodes (t ≥ 1) that
    /// appending leaf `leaf_index` completed.
    pub(crate) fn record<T, G>(
        &mut self,
        tiles: &T,
        groups: &G,
        leaf_index: u64,
        appended: &AppendedHashes,
    ) -> Result<(), StoreError>
    where
        T: ReadableTable<(u8, u64), &'static [u8]>,
        G: ReadableTable<u64, &'static [u8]>,
    {
        if let Some(hash) = appended.hashes.get(GROUP_LEVEL) {
            let n = leaf_index >> GROUP_LEVEL;
            let (k, pos) = (n / GROUP_WIDTH, n % GROUP_WIDTH);
            let buf = match self.groups.entry(k) {
                Entry::Occupied(o) => o.into_mut(),
                Entry::Vacant(v) => {
                    let stored = groups.get(k)?.map(|g| g.value().to_vec());
                    v.insert(stored.unwrap_or_default())
                }
            };
            extend(buf, pos, hash, || format!("level4 row {k}"))?;
        }
        for (level, hash) in appended.hashes.iter().enumerate().skip(1) {
            let level = u32::try_from(level).unwrap_or(u32::MAX);
            if level % TILE_HEIGHT != 0 {
                continue;
            }
            let t = u8::try_from(level / TILE_HEIGHT).unwrap_or(u8::MAX);
            let n = leaf_index.checked_shr(level).unwrap_or(0);
            let (k, pos) = (n / TILE_WIDTH, n % TILE_WIDTH);
            let buf = match self.tiles.entry((t, k)) {
                Entry::Occupied(o) => o.into_mut(),
                Entry::Vacant(v) => {
                    let stored = tiles.get((t, k))?.map(|g| g.value().to_vec());
                    v.insert(stored.unwrap_or_default())
                }
            };
            extend(buf, pos, hash, || format!("tile ({t}, {k})"))?;
        }
        Ok(())
    }

    /// Writes every changed row.
    pub(crate) fn flush(
        self,
        tiles: &mut Table<'_, (u8, u64), &'static [u8]>,
        groups: &mut Table<'_, u64, &'static [u8]>,
    ) -> Result<(), StoreError> {
        for (key, data) in self.tiles {
            tiles.insert(key, data.as_slice())?;
        }
        for (key, data) in self.groups {
            groups.insert(key, data.as_slice())?;
        }
        Ok(())
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

/// Writes the `level4` rows of `entries` into `groups` (which must be empty),
/// for a log written before that table existed. Stops at the first gap in
/// the entries: fsck reports the gap and the rows it leaves missing.
/// Returns the number of level-4 nodes written.
pub(crate) fn derive_groups<E>(
    entries: &E,
    groups: &mut Table<'_, u64, &'static [u8]>,
) -> Result<u64, StoreError>
where
    E: ReadableTable<u64, &'static [u8]>,
{
    let mut leaves: Vec<Hash> = Vec::with_capacity(16);
    let mut row: Vec<u8> = Vec::with_capacity(512);
    let (mut expect, mut nodes) = (0u64, 0u64);
    for item in entries.iter()? {
        let (k, v) = item?;
        if k.value() != expect {
            break;
        }
        expect += 1;
        leaves.push(leaf_hash(v.value()));
        if leaves.len() as u64 == GROUP_WIDTH {
            row.extend_from_slice(&perfect_root(&leaves).0);
            leaves.clear();
            nodes += 1;
            if row.len() as u64 == GROUP_WIDTH * 32 {
                groups.insert((nodes - 1) / GROUP_WIDTH, row.as_slice())?;
                row.clear();
            }
        }
    }
    if !row.is_empty() {
        groups.insert((nodes - 1) / GROUP_WIDTH, row.as_slice())?;
    }
    Ok(nodes)
}
