//! C2SP tlog-tiles: tile coordinates and paths, which tiles a growth
//! publishes, and hash tile contents.
//!
//! Paths are relative to the log prefix:
//! `tile/<L>/<N>[.p/<W>]` for hash tiles and `tile/entries/<N>[.p/<W>]` for
//! entry bundles. `N` is written in 3-digit groups, all but the last prefixed
//! with `x` (1234067 → `x001/x234/067`); `.p/<W>` marks a partial tile of
//! width `W` in 1..=255. This is not the older Go sumdb layout
//! (`tile/<H>/<L>/...`, `tile/<H>/data/...`) that `tlog_tiles::Tile::path` writes.

mod bundle;

use std::fmt;

use crate::{HashReader, LogError, check_tree_size};

pub use bundle::{MAX_BUNDLE_BYTES, MAX_ENTRY_BYTES, decode_entry_bundle, encode_entry_bundle};

/// Tree levels per tile: a tile is a perfect subtree of height 8.
pub const TILE_HEIGHT: u8 = 8;

/// Hashes (or entries) in a full tile.
pub const TILE_WIDTH: u16 = 256;

/// Bytes in a full hash tile: 256 hashes of 32 bytes.
pub const HASH_TILE_BYTES: usize = 8192;

/// Highest tile level C2SP allows in a path.
const MAX_TILE_LEVEL: u8 = 63;

/// Longest tile path: `tile/entries/` + 7 groups of `xNNN/` + `.p/255`.
const MAX_TILE_PATH: usize = 64;

/// What a tile holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TileKind {
    /// Merkle tree hashes of tile level `0..=63` (tree level `8 * level`).
    Hashes(u8),
    /// An entry bundle: the entries under the level-0 hash tile of the same index.
    Entries,
}

/// The coordinates of one tile: kind, index within its level, width.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tile {
    kind: TileKind,
    index: u64,
    width: u16,
}

impl Tile {
    /// A tile; `width` is `1..=256`, 256 meaning full.
    pub fn new(kind: TileKind, index: u64, width: u16) -> Result<Self, LogError> {
        if let TileKind::Hashes(level) = kind
            && level > MAX_TILE_LEVEL
        {
            return Err(LogError::TilePathMalformed("level above 63"));
        }
        if width == 0 || width > TILE_WIDTH {
            return Err(LogError::TilePathMalformed("width outside 1..=256"));
        }
        Ok(Self { kind, index, width })
    }

    /// Hash tiles or entry bundle.
    pub fn kind(&self) -> TileKind {
        self.kind
    }

    /// Index `N` of the tile within its level.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// Number of hashes or entries, 256 for a full tile.
    pub fn width(&self) -> u16 {
        self.width
    }

    /// Whether the tile has fewer than 256 hashes or entries.
    pub fn is_partial(&self) -> bool {
        self.width < TILE_WIDTH
    }

    /// The entry bundle that a level-0 hash tile (or bundle) covers.
    pub fn entry_bundle(&self) -> Option<Self> {
        match self.kind {
            TileKind::Hashes(0) | TileKind::Entries => Some(Self {
                kind: TileKind::Entries,
                ..*self
            }),
            TileKind::Hashes(_) => None,
        }
    }

    /// Parses a path such as `tile/0/x001/x234/067.p/5`, strictly.
    ///
    /// Refused: leading zeros in `L` or `W`, a level above 63, `W` of 0 or
    /// 256+, groups that are not 3 digits, a superfluous leading `x000`
    /// group, `N` beyond `u64`, and anything else that would not format back
    /// to the same path.
    pub fn from_path(path: &str) -> Result<Self, LogError> {
        if path.len() > MAX_TILE_PATH {
            return Err(LogError::TilePathMalformed("too long"));
        }
        let rest = path
            .strip_prefix("tile/")
            .ok_or(LogError::TilePathMalformed("must start with tile/"))?;
        let (kind_str, rest) = rest
            .split_once('/')
            .ok_or(LogError::TilePathMalformed("missing tile index"))?;
        let kind = if kind_str == "entries" {
            TileKind::Entries
        } else {
            let level = parse_small_decimal(kind_str)
                .filter(|l| *l <= u16::from(MAX_TILE_LEVEL))
                .ok_or(LogError::TilePathMalformed(
                    "level must be 0..=63 without leading zeros",
                ))?;
            TileKind::Hashes(u8::try_from(level).unwrap_or(u8::MAX))
        };
        let (index_str, width) = match rest.split_once(".p/") {
            Some((index_str, w)) => {
                let w = parse_small_decimal(w)
                    .filter(|w| (1..TILE_WIDTH).contains(w))
                    .ok_or(LogError::TilePathMalformed(
                        "partial width must be 1..=255 without leading zeros",
                    ))?;
                (index_str, w)
            }
            None => (rest, TILE_WIDTH),
        };
        let index = parse_index(index_str)?;
        let tile = Self::new(kind, index, width)?;
        // Belt and braces: the only accepted spelling is the canonical one.
        if tile.path() != path {
            return Err(LogError::TilePathMalformed("not in canonical form"));
        }
        Ok(tile)
    }

    /// The canonical path, e.g. `tile/entries/x001/x234/067.p/5`.
    pub fn path(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Tile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tile/")?;
        match self.kind {
            TileKind::Hashes(level) => write!(f, "{level}/")?,
            TileKind::Entries => f.write_str("entries/")?,
        }
        // Most significant group first; at most 7 groups for a u64.
        let mut groups = [0u16; 7];
        let mut count = 0;
        let mut n = self.index;
        for slot in &mut groups {
            *slot = u16::try_from(n % 1000).unwrap_or(0);
            n /= 1000;
            count += 1;
            if n == 0 {
                break;
            }
        }
        for (i, group) in groups.iter().take(count).rev().enumerate() {
            if i + 1 < count {
                write!(f, "x{group:03}/")?;
            } else {
                write!(f, "{group:03}")?;
            }
        }
        if self.is_partial() {
            write!(f, ".p/{}", self.width)?;
        }
        Ok(())
    }
}

/// Every hash tile and entry bundle that is new or wider in the tree of
/// `new_size` than in the tree of `old_size`: what to publish after growing.
///
/// Produced lazily, level by level (hash tiles of a level, then for level 0
/// the entry bundles), so a large jump costs no up-front allocation.
pub fn changed_tiles(old_size: u64, new_size: u64) -> Result<impl Iterator<Item = Tile>, LogError> {
    check_tree_size(new_size)?;
    if old_size > new_size {
        return Err(LogError::TreeShrank {
            old: old_size,
            new: new_size,
        });
    }
    let height = u32::from(TILE_HEIGHT);
    let levels = (0u8..8).filter_map(move |level| {
        let shift = u32::from(level) * height;
        let old_n = old_size >> shift;
        let new_n = new_size >> shift;
        (new_n > 0 && old_n != new_n).then_some((level, old_n, new_n))
    });
    Ok(levels.flat_map(move |(level, old_n, new_n)| {
        let full = (old_n >> height)..(new_n >> height);
        let partial_width = u16::try_from(new_n & 0xff).unwrap_or(0);
        let partial = (partial_width > 0).then_some((new_n >> height, partial_width));
        let tiles =
            full.map(|index| (index, TILE_WIDTH))
                .chain(partial)
                .map(move |(index, width)| Tile {
                    kind: TileKind::Hashes(level),
                    index,
                    width,
                });
        // entry_bundle() is Some only for level 0.
        let bundles = tiles.clone().filter_map(|t| t.entry_bundle());
        tiles.chain(bundles)
    }))
}

/// The bytes of hash tile `tile` of the tree of `tree_size`: its hashes concatenated.
///
/// Fails with [`LogError::TileBeyondTree`] unless all `width` hashes exist
/// in that tree (a narrower tile of an earlier size is fine).
pub fn hash_tile_data<R: HashReader + ?Sized>(
    reader: &R,
    tree_size: u64,
    tile: &Tile,
) -> Result<Vec<u8>, LogError> {
    check_tree_size(tree_size)?;
    let TileKind::Hashes(level) = tile.kind else {
        return Err(LogError::TilePathMalformed(
            "entry bundles hold entries, not hashes",
        ));
    };
    let beyond = || LogError::TileBeyondTree { size: tree_size };
    let tree_level = u32::from(level) * u32::from(TILE_HEIGHT);
    let nodes_at_level = tree_size.checked_shr(tree_level).unwrap_or(0);
    let first = tile
        .index
        .checked_mul(u64::from(TILE_WIDTH))
        .ok_or_else(beyond)?;
    let end = first
        .checked_add(u64::from(tile.width))
        .filter(|end| *end <= nodes_at_level)
        .ok_or_else(beyond)?;
    // A node exists at this level, so the level is below 62 and fits a u8.
    let tree_level = u8::try_from(tree_level).map_err(|_| beyond())?;
    let indexes = (first..end)
        .map(|n| crate::stored_hash_index(tree_level, n))
        .collect::<Result<Vec<_>, _>>()?;
    let hashes = crate::merkle::read_exact(reader, &indexes)?;
    Ok(hashes.iter().flat_map(|h| h.0).collect())
}

/// Parses `1..=3` ASCII digits without leading zeros (or "0").
fn parse_small_decimal(s: &str) -> Option<u16> {
    let ok = !s.is_empty()
        && s.len() <= 3
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    if ok { s.parse().ok() } else { None }
}

/// Parses the `x001/x234/067` form of a tile index.
fn parse_index(s: &str) -> Result<u64, LogError> {
    let bad = LogError::TilePathMalformed;
    let mut groups = s.split('/').peekable();
    let mut index: u64 = 0;
    let mut first = true;
    while let Some(group) = groups.next() {
        let last = groups.peek().is_none();
        let digits = if last {
            group
        } else {
            group
                .strip_prefix('x')
                .ok_or(bad("all but the last index group start with x"))?
        };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("index groups are exactly 3 digits"));
        }
        if first && !last && digits == "000" {
            return Err(bad("leading x000 group"));
        }
        let value: u64 = digits.parse().map_err(|_| bad("index group"))?;
        index = index
            .checked_mul(1000)
            .and_then(|i| i.checked_add(value))
            .ok_or(bad("index beyond u64"))?;
        first = false;
    }
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Frontier, Hash, MAX_TREE_SIZE, leaf_hash};

    fn hashes(level: u8, index: u64, width: u16) -> Tile {
        Tile::new(TileKind::Hashes(level), index, width).unwrap()
    }

    fn entries(index: u64, width: u16) -> Tile {
        Tile::new(TileKind::Entries, index, width).unwrap()
    }

    #[test]
    fn golden_paths() {
        let cases = [
            ("tile/0/000", hashes(0, 0, 256)),
            ("tile/0/001", hashes(0, 1, 256)),
            ("tile/0/000.p/1", hashes(0, 0, 1)),
            ("tile/0/999.p/255", hashes(0, 999, 255)),
            ("tile/0/x001/000", hashes(0, 1000, 256)),
            ("tile/1/x001/x234/067", hashes(1, 1_234_067, 256)),
            ("tile/2/x001/x234/067.p/8", hashes(2, 1_234_067, 8)),
            ("tile/63/000", hashes(63, 0, 256)),
            ("tile/entries/000", entries(0, 256)),
            ("tile/entries/000.p/112", entries(0, 112)),
            ("tile/entries/x001/x234/067", entries(1_234_067, 256)),
            ("tile/entries/x001/x234/067.p/1", entries(1_234_067, 1)),
            (
                "tile/entries/x018/x446/x744/x073/x709/x551/615.p/255",
                entries(u64::MAX, 255),
            ),
        ];
        for (path, tile) in cases {
            assert_eq!(Tile::from_path(path).unwrap(), tile, "{path}");
            assert_eq!(tile.path(), path);
        }
    }

    #[test]
    fn fail_malformed_paths() {
        let bad = [
            "",
            "tile",
            "tile/",
            "tile/0",
            "tile/0/",
            "/tile/0/000",
            "tile/0/000/",
            "tiles/0/000",
            "tile/00/000",
            "tile/01/000",
            "tile/64/000",
            "tile/-1/000",
            "tile/+1/000",
            "tile/data/000",
            "tile/8/0/000",
            "tile/entry/000",
            "tile/0/0",
            "tile/0/00",
            "tile/0/0000",
            "tile/0/1",
            "tile/0/abc",
            "tile/0/x001",
            "tile/0/001/002",
            "tile/0/x1/002",
            "tile/0/x000/001",
            "tile/0/x000/x001/002",
            "tile/0/X001/002",
            "tile/0/000.p/0",
            "tile/0/000.p/256",
            "tile/0/000.p/01",
            "tile/0/000.p/",
            "tile/0/000.p",
            "tile/0/000.p/5/6",
            "tile/0/000.P/5",
            "tile/0/000.p/+5",
            "tile/entries/000.p/256",
            "tile/entries/x018/x446/x744/x073/x709/x551/616",
            "tile/0/x999/x999/x999/x999/x999/x999/x999/999",
            "tile/0/000 ",
            "tile/0/000\n",
        ];
        for path in bad {
            assert!(
                matches!(Tile::from_path(path), Err(LogError::TilePathMalformed(_))),
                "{path:?} was accepted"
            );
        }
    }

    #[test]
    fn tile_constructor_bounds() {
        assert!(Tile::new(TileKind::Hashes(64), 0, 1).is_err());
        assert!(Tile::new(TileKind::Hashes(0), 0, 0).is_err());
        assert!(Tile::new(TileKind::Entries, 0, 257).is_err());
        assert!(!hashes(0, 0, 256).is_partial());
        assert!(hashes(0, 0, 255).is_partial());
        assert_eq!(hashes(0, 3, 9).entry_bundle(), Some(entries(3, 9)));
        assert_eq!(hashes(1, 3, 9).entry_bundle(), None);
    }

    fn changed(old: u64, new: u64) -> Vec<String> {
        changed_tiles(old, new).unwrap().map(|t| t.path()).collect()
    }

    #[test]
    fn spec_examples_of_tiles_for_a_size() {
        // tlog-tiles: size 70,000 is 273 full level-0 tiles, a level-0 partial
        // of width 112, one full level-1 tile, a level-1 partial of width 17
        // and a level-2 partial of width 1.
        let all: Vec<Tile> = changed_tiles(0, 70_000).unwrap().collect();
        let count = |kind, partial| {
            all.iter()
                .filter(|t| t.kind() == kind && t.is_partial() == partial)
                .count()
        };
        assert_eq!(count(TileKind::Hashes(0), false), 273);
        assert_eq!(count(TileKind::Entries, false), 273);
        assert_eq!(count(TileKind::Hashes(1), false), 1);
        assert_eq!(count(TileKind::Hashes(2), false), 0);
        let partials: Vec<String> = all
            .iter()
            .filter(|t| t.is_partial())
            .map(|t| t.path())
            .collect();
        assert_eq!(
            partials,
            [
                "tile/0/273.p/112",
                "tile/entries/273.p/112",
                "tile/1/001.p/17",
                "tile/2/000.p/1"
            ]
        );
        // Size 256: one full level-0 tile and a level-1 partial of width 1.
        assert_eq!(
            changed(0, 256),
            ["tile/0/000", "tile/entries/000", "tile/1/000.p/1"]
        );
    }

    #[test]
    fn growth_publishes_only_what_changed() {
        assert!(changed(0, 0).is_empty());
        assert!(changed(5, 5).is_empty());
        assert_eq!(changed(0, 1), ["tile/0/000.p/1", "tile/entries/000.p/1"]);
        assert_eq!(changed(1, 3), ["tile/0/000.p/3", "tile/entries/000.p/3"]);
        assert_eq!(
            changed(250, 513),
            [
                "tile/0/000",
                "tile/0/001",
                "tile/0/002.p/1",
                "tile/entries/000",
                "tile/entries/001",
                "tile/entries/002.p/1",
                "tile/1/000.p/2"
            ]
        );
        assert_eq!(
            changed(512, 513),
            ["tile/0/002.p/1", "tile/entries/002.p/1"]
        );
        assert!(matches!(
            changed_tiles(2, 1),
            Err(LogError::TreeShrank { .. })
        ));
        assert!(changed_tiles(0, MAX_TREE_SIZE + 1).is_err());
        // Lazy: a huge jump can be asked for and partly consumed.
        assert_eq!(changed_tiles(0, MAX_TREE_SIZE).unwrap().take(3).count(), 3);
    }

    #[test]
    fn hash_tiles_from_stored_hashes() {
        let mut f = Frontier::new();
        let mut stored: Vec<Hash> = Vec::new();
        let mut leaves = Vec::new();
        for i in 0..(256u64 * 256 + 300) {
            let leaf = leaf_hash(&i.to_le_bytes());
            leaves.push(leaf);
            stored.extend(f.append(leaf).unwrap().hashes);
        }
        let size = f.size();
        // Level 0 tile 1 is leaves 256..512.
        let data = hash_tile_data(&stored, size, &hashes(0, 1, 256)).unwrap();
        assert_eq!(data.len(), HASH_TILE_BYTES);
        let want: Vec<u8> = leaves[256..512].iter().flat_map(|h| h.0).collect();
        assert_eq!(data, want);
        // Level 1 tile 0, hash i is the root of level-0 tile i.
        let data = hash_tile_data(&stored, size, &hashes(1, 0, 256)).unwrap();
        for (i, chunk) in data.chunks(32).enumerate() {
            let leaves = &leaves[i * 256..(i + 1) * 256];
            assert_eq!(chunk, crate::root_of(leaves).0);
        }
        // Level 2 partial of width 1: the root of the first 65536 leaves.
        let data = hash_tile_data(&stored, size, &hashes(2, 0, 1)).unwrap();
        assert_eq!(data, crate::root_of(&leaves[..65536]).0);
        // Partial tile widths up to what exists; beyond is refused.
        hash_tile_data(&stored, size, &hashes(0, 256, 256)).unwrap();
        hash_tile_data(&stored, size, &hashes(0, 257, 44)).unwrap();
        for tile in [
            hashes(0, 257, 45),
            hashes(0, 258, 1),
            hashes(1, 1, 2),
            hashes(2, 0, 2),
            hashes(3, 0, 1),
        ] {
            assert!(
                matches!(
                    hash_tile_data(&stored, size, &tile),
                    Err(LogError::TileBeyondTree { .. })
                ),
                "{tile}"
            );
        }
        // A narrower tile of an earlier tree is still served.
        hash_tile_data(&stored, 100, &hashes(0, 0, 100)).unwrap();
        assert!(hash_tile_data(&stored, 100, &hashes(0, 0, 101)).is_err());
        assert!(hash_tile_data(&stored, size, &entries(0, 1)).is_err());
        assert!(hash_tile_data(&stored, size, &hashes(63, u64::MAX, 256)).is_err());
    }
}
