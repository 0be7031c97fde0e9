//! The mirror's tree: a frontier for the root, and the partial tile of
//! every level, so that every hash tile is derived from the verified
//! leaves (the higher levels are computed, not trusted from the origin).

use std::collections::HashMap;

use armsledger_log::{
    Frontier, Hash, HashReader, LogError, Tile, TileKind, encode_entry_bundle, root_of,
    stored_hash_index,
};

/// Tile levels kept (256^8 leaves is beyond any log).
const LEVELS: usize = 8;

/// A tree being followed.
#[derive(Clone, Debug, Default)]
pub(crate) struct Tree {
    frontier: Frontier,
    /// The hashes of the partial tile of each level.
    partial: Vec<Vec<Hash>>,
    /// Full tiles written so far, per level.
    full: Vec<u64>,
    /// The leaf data of the partial entry bundle (when following entries).
    bundle: Vec<Vec<u8>>,
}

impl Tree {
    pub(crate) fn new() -> Self {
        Tree {
            frontier: Frontier::new(),
            partial: vec![Vec::new(); LEVELS],
            full: vec![0; LEVELS],
            bundle: Vec::new(),
        }
    }

    /// The width of level `level`'s partial tile in a tree of `size`
    /// leaves (0: none), and its index.
    pub(crate) fn partial_tile(size: u64, level: usize) -> Option<Tile> {
        let shift = u32::try_from(8 * level).ok()?;
        let width = u16::try_from(size.checked_shr(shift)? % 256).ok()?;
        let index = size.checked_shr(shift + 8).unwrap_or(0);
        if width == 0 {
            return None;
        }
        let lvl = u8::try_from(level).ok()?;
        Tile::new(TileKind::Hashes(lvl), index, width).ok()
    }

    /// The tree of `size` leaves from the right edge alone: the hashes of
    /// the partial tile of each level (`partial[level]`, as wide as
    /// [`Self::partial_tile`] says), O(levels × 256) instead of every leaf.
    /// Each maximal perfect subtree of the tree (a set bit `8k + r` of the
    /// size) is `2^r` consecutive hashes of level `k`'s partial tile.
    pub(crate) fn from_partials(size: u64, partial: Vec<Vec<Hash>>) -> Result<Tree, LogError> {
        if partial.len() != LEVELS {
            return Err(LogError::FrontierMalformed("one partial tile per level"));
        }
        for (level, part) in partial.iter().enumerate() {
            let want = Self::partial_tile(size, level).map_or(0, |t| usize::from(t.width()));
            if part.len() != want {
                return Err(LogError::FrontierMalformed(
                    "a partial tile's width does not match the size",
                ));
            }
        }
        let mut nodes = HashMap::new();
        let mut start = 0u64;
        for bit in (0..64u8).rev() {
            let width = 1u64 << bit;
            if size & width == 0 {
                continue;
            }
            let (k, r) = (usize::from(bit / 8), bit % 8);
            let from = usize::try_from((start >> (8 * k)) % 256).unwrap_or(usize::MAX);
            let run = partial
                .get(k)
                .and_then(|p| p.get(from..from.saturating_add(1 << r)))
                .ok_or(LogError::FrontierMalformed("a partial tile is too short"))?;
            nodes.insert(stored_hash_index(bit, start >> bit)?, root_of(run));
            start += width;
        }
        let frontier = Frontier::from_reader(&Nodes(nodes), size)?;
        let full = (0..LEVELS)
            .map(|level| {
                size.checked_shr(u32::try_from(8 * (level + 1)).unwrap_or(u32::MAX))
                    .unwrap_or(0)
            })
            .collect();
        Ok(Tree {
            frontier,
            partial,
            full,
            bundle: Vec::new(),
        })
    }

    pub(crate) fn size(&self) -> u64 {
        self.frontier.size()
    }

    pub(crate) fn root(&self) -> Hash {
        self.frontier.root()
    }

    /// The leaf hashes of the partial level-0 tile.
    pub(crate) fn partial_leaves(&self) -> &[Hash] {
        self.partial.first().map_or(&[], Vec::as_slice)
    }

    /// Appends a leaf (and its data, when following entries); full tiles
    /// and bundles completed by it go to `out`.
    pub(crate) fn push(
        &mut self,
        leaf: Hash,
        data: Option<Vec<u8>>,
        out: &mut Vec<(Tile, Vec<u8>)>,
    ) -> Result<(), LogError> {
        self.frontier.append(leaf)?;
        if let Some(d) = data {
            self.bundle.push(d);
        }
        let mut hash = leaf;
        for level in 0..LEVELS {
            let (Some(part), Some(full)) = (self.partial.get_mut(level), self.full.get_mut(level))
            else {
                break;
            };
            part.push(hash);
            if part.len() < 256 {
                break;
            }
            let lvl = u8::try_from(level).unwrap_or(u8::MAX);
            out.push((
                Tile::new(TileKind::Hashes(lvl), *full, 256)?,
                part.iter().flat_map(|h| h.0).collect(),
            ));
            if level == 0 && !self.bundle.is_empty() {
                out.push((
                    Tile::new(TileKind::Entries, *full, 256)?,
                    encode_entry_bundle(&self.bundle)?,
                ));
                self.bundle.clear();
            }
            hash = root_of(part);
            part.clear();
            *full += 1;
        }
        Ok(())
    }

    /// The partial tiles (and partial bundle) of the current size.
    pub(crate) fn partials(&self) -> Result<Vec<(Tile, Vec<u8>)>, LogError> {
        let mut out = Vec::new();
        for (level, (part, full)) in self.partial.iter().zip(&self.full).enumerate() {
            if part.is_empty() {
                continue;
            }
            let width = u16::try_from(part.len()).unwrap_or(u16::MAX);
            let lvl = u8::try_from(level).unwrap_or(u8::MAX);
            out.push((
                Tile::new(TileKind::Hashes(lvl), *full, width)?,
                part.iter().flat_map(|h| h.0).collect(),
            ));
            if level == 0 && !self.bundle.is_empty() {
                out.push((
                    Tile::new(TileKind::Entries, *full, width)?,
                    encode_entry_bundle(&self.bundle)?,
                ));
            }
        }
        Ok(out)
    }
}

/// The frontier's nodes by stored-hash index.
struct Nodes(HashMap<u64, Hash>);

impl HashReader for Nodes {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, LogError> {
        indexes
            .iter()
            .map(|i| {
                self.0
                    .get(i)
                    .copied()
                    .ok_or(LogError::StoredHashMissing { index: *i })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use armsledger_log::{changed_tiles, leaf_hash};

    #[test]
    fn derived_tiles_are_the_ones_the_log_publishes() {
        let mut t = Tree::new();
        let mut out = Vec::new();
        for i in 0u64..70_000 {
            t.push(leaf_hash(&i.to_be_bytes()), Some(vec![1]), &mut out)
                .unwrap();
        }
        out.extend(t.partials().unwrap());
        let mut ours: Vec<Tile> = out.iter().map(|(t, _)| *t).collect();
        let mut want: Vec<Tile> = changed_tiles(0, 70_000).unwrap().collect();
        ours.sort();
        want.sort();
        assert_eq!(ours, want);
        assert_eq!(t.size(), 70_000);
    }

    #[test]
    fn a_tree_from_its_partial_tiles_is_the_tree_of_every_leaf() {
        let mut t = Tree::new();
        let mut out = Vec::new();
        let sizes = [
            0u64, 1, 255, 256, 257, 65_535, 65_536, 65_537, 70_000, 131_329,
        ];
        let mut i = 0u64;
        for size in sizes {
            while i < size {
                t.push(leaf_hash(&i.to_be_bytes()), None, &mut out).unwrap();
                i += 1;
            }
            let back = Tree::from_partials(size, t.partial.clone()).unwrap();
            assert_eq!(back.root(), t.root(), "size {size}");
            assert_eq!(back.size(), size);
            assert_eq!(back.full, t.full, "size {size}");
            for level in 0..LEVELS {
                let w = Tree::partial_tile(size, level).map_or(0, |t| usize::from(t.width()));
                assert_eq!(t.partial[level].len(), w, "size {size} level {level}");
            }
            // And it grows on as the tree of every leaf does.
            let (mut a, mut b) = (t.clone(), back);
            let (mut oa, mut ob) = (Vec::new(), Vec::new());
            for j in 0..300u64 {
                let leaf = leaf_hash(&(size + j).to_le_bytes());
                a.push(leaf, None, &mut oa).unwrap();
                b.push(leaf, None, &mut ob).unwrap();
            }
            assert_eq!(a.root(), b.root());
            assert_eq!(oa, ob);
        }
        // Firing: a partial tile of the wrong width, or a changed hash.
        let mut wrong = t.partial.clone();
        wrong[0].pop();
        assert!(Tree::from_partials(131_329, wrong).is_err());
        let mut changed = t.partial.clone();
        changed[1][0] = Hash([7; 32]);
        let back = Tree::from_partials(131_329, changed).unwrap();
        assert_ne!(back.root(), t.root());
    }
}
