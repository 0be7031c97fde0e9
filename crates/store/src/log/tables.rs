//! The global log's redb tables and their key encodings. docs/log.md
//! ("Storage tables") describes them for readers who do not read Rust; a
//! change here is a format change.

use armsledger_core::codec;
use armsledger_core::entry::ChainId;
use armsledger_core::hash::Hash as EntryHash;
use redb::{ReadableTable, TableDefinition};

use crate::error::StoreError;
use crate::terms::IndexKey;

/// Format tag in `meta["format"]`; a new layout gets a new tag.
///
/// v4 (format epoch 2): a leaf is `received_at ‖ entry` (leaf format v2), so
/// the tree, the tiles and every checkpoint differ from v3's for the same
/// entries.
///
/// v5: half tiles of level 0 hold tree level 3 (32 hashes per leaf tile)
/// instead of level 4, so a proof hashes at most 7 entries, not 15; same
/// leaves, tree and checkpoints as v4.
pub(crate) const FORMAT: &str = "armsledger/store/log/v5";
/// The format [`FORMAT`] upgrades on open (its level-0 half tiles rebuilt).
pub(crate) const UPGRADES: &str = "armsledger/store/log/v4";
/// Formats of epoch 1, whose leaves were the entry bytes alone: refused on
/// open with [`crate::StoreError::FormatRetired`].
pub(crate) const RETIRED: [&str; 3] = [
    "armsledger/store/log/v1",
    "armsledger/store/log/v2",
    "armsledger/store/log/v3",
];
/// The release that reads a retired file.
pub(crate) const EPOCH_1_RELEASE: &str = crate::EPOCH_1_RELEASE;

/// A table of index blocks keyed by (key bytes, first item), see `blocks`.
pub(crate) type BlockDef = TableDefinition<'static, (&'static [u8], u64), &'static [u8]>;

/// Log index → the entry's stored form (see `stored`): compressed, without
/// the header's body hash; it decodes to the entry's exact bytes. The
/// Merkle leaf is `received_at ‖ those bytes` (the time from `received_at`).
pub(crate) const ENTRIES: TableDefinition<u64, &[u8]> = TableDefinition::new("entries");
/// `index / 256` → reception times (ms) of those entries, see `blocks::encode_times`.
pub(crate) const RECEIVED_AT: TableDefinition<u64, &[u8]> = TableDefinition::new("received_at");
/// (tile level ≥ 1, tile index) → the tile's hashes, 32 bytes each.
pub(crate) const TILES: TableDefinition<(u8, u64), &[u8]> = TableDefinition::new("tiles");
/// (tile level t ≥ 0, tile index) → for t ≥ 1 the tree level `8t + 4` nodes
/// inside that tile, at most 16; for t = 0 the tree level 3 nodes inside
/// that leaf tile, at most 32 (v5); 32 bytes each.
pub(crate) const HALF_TILES: TableDefinition<(u8, u64), &[u8]> = TableDefinition::new("half_tiles");
/// (first 4 bytes of the entry hash, big-endian; log index) → ().
///
/// A prefix, not the whole hash: lookups check the full hash of each
/// candidate entry, and at a billion entries a prefix matches about 0.25
/// other entries on average, while the table is 20 bytes per entry smaller.
pub(crate) const BY_HASH: TableDefinition<(u32, u64), ()> = TableDefinition::new("by_hash");
/// (postcard chain id, first counter) → slot block (see `blocks`).
pub(crate) const BY_SLOT: TableDefinition<(&[u8], u64), &[u8]> = TableDefinition::new("by_slot");
/// (firearm id, first log index) → posting block.
pub(crate) const BY_FIREARM: TableDefinition<(&[u8], u64), &[u8]> =
    TableDefinition::new("by_firearm");
/// (lot id, first log index) → posting block.
pub(crate) const BY_LOT: TableDefinition<(&[u8], u64), &[u8]> = TableDefinition::new("by_lot");
/// (person id, first log index) → posting block.
pub(crate) const BY_PERSON: TableDefinition<(&[u8], u64), &[u8]> =
    TableDefinition::new("by_person");
/// (site id, first log index) → posting block, for entries of other chains
/// naming the site (a site's own chain is in `by_slot`).
pub(crate) const BY_SITE: TableDefinition<(&[u8], u64), &[u8]> = TableDefinition::new("by_site");
/// (log index, n) → postcard `StoredFinding`.
pub(crate) const FINDINGS: TableDefinition<(u64, u32), &[u8]> = TableDefinition::new("findings");
/// (postcard chain id, counter) → postcard `Equivocation`.
pub(crate) const EQUIVOCATIONS: TableDefinition<(&[u8], u64), &[u8]> =
    TableDefinition::new("equivocations");
/// Tree size → the signed checkpoint note, for every checkpoint ever signed.
pub(crate) const CHECKPOINTS: TableDefinition<u64, &str> = TableDefinition::new("checkpoints");
/// Small named values, see the `meta` module.
pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// The posting tables, in [`Posting`] order.
pub(crate) const POSTINGS: [BlockDef; 4] = [BY_FIREARM, BY_LOT, BY_PERSON, BY_SITE];

/// Their names, for reports.
pub(crate) const POSTING_NAMES: [&str; 4] = ["by_firearm", "by_lot", "by_person", "by_site"];

/// Keys of the `meta` table.
pub(crate) mod meta {
    /// The format tag.
    pub const FORMAT: &str = "format";
    /// `Frontier::to_bytes` of the whole tree.
    pub const FRONTIER: &str = "frontier";
    /// The last signed checkpoint note (also the last row of `checkpoints`).
    pub const LAST_CHECKPOINT: &str = "last_checkpoint";
    /// The log's verifier key (`name+id+base64`), fixed at the first signature.
    pub const LOG_VKEY: &str = "log_vkey";
    /// SHA-256 of the zstd dictionary the `entries` rows are compressed with.
    pub const DICTIONARY: &str = "dictionary";
}

/// Which posting table an index key lives in, and its key bytes there.
pub(crate) fn posting_key(key: &IndexKey) -> (usize, Vec<u8>) {
    match key {
        IndexKey::Firearm(f) => (0, f.0.to_vec()),
        IndexKey::Lot(l) => (1, l.0.to_vec()),
        IndexKey::Person(p) => (2, p.as_str().as_bytes().to_vec()),
        IndexKey::Site(s) => (3, s.as_str().as_bytes().to_vec()),
    }
}

/// Human-readable form of a posting key of table `table`, for reports.
pub(crate) fn show_posting_key(table: usize, key: &[u8]) -> String {
    match table {
        0 | 1 => hex::encode(key),
        _ => String::from_utf8_lossy(key).into_owned(),
    }
}

/// The key bytes of a chain in `by_slot` and `equivocations`.
pub(crate) fn chain_key(chain: &ChainId) -> Result<Vec<u8>, StoreError> {
    codec::encode(chain).map_err(|e| StoreError::malformed("by_slot", chain, e))
}

/// Human-readable form of a chain key.
pub(crate) fn show_chain(key: &[u8]) -> String {
    codec::decode_strict::<ChainId>(key, 1024)
        .map(|c| c.to_string())
        .unwrap_or_else(|_| format!("<{}>", hex::encode(key)))
}

/// The `by_hash` key prefix of an entry hash.
pub(crate) fn hash_prefix(h: &EntryHash) -> u32 {
    let mut b = [0u8; 4];
    for (d, s) in b.iter_mut().zip(h.0.iter()) {
        *d = *s;
    }
    u32::from_be_bytes(b)
}

/// Reads a meta value.
pub(crate) fn get_meta<T: ReadableTable<&'static str, &'static [u8]>>(
    t: &T,
    key: &str,
) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(t.get(key)?.map(|v| v.value().to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use armsledger_core::testkit::v;

    #[test]
    fn keys_are_readable() {
        let c = chain_key(&ChainId::Site(v("north"))).unwrap();
        assert_eq!(c, [1, 5, b'n', b'o', b'r', b't', b'h']);
        assert_eq!(show_chain(&c), "site:north");
        assert_eq!(
            show_chain(&chain_key(&ChainId::Regulator).unwrap()),
            "regulator"
        );
        assert_eq!(show_posting_key(2, b"guard-1"), "guard-1");
        assert_eq!(hash_prefix(&EntryHash([0xab; 32])), 0xabab_abab);
    }
}
