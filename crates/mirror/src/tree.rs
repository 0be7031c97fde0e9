//! The mirror's tree: a frontier for the root, and the partial tile of
//! every level, so that every hash tile is derived from the verified
//! leaves (the higher levels are computed, not trusted from the origin).

use armsledger_log::{Frontier, Hash, LogError, Tile, TileKind, encode_entry_bundle, root_of};

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
}
