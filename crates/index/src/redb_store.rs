//! The map in redb: four tables, written in the caller's transaction (the
//! log's checkpoint transaction, which brings the map up to the log's size
//! before it signs the map's root), with `"size"` saying how many log
//! entries the map covers.
//!
//! | table | key | value |
//! |---|---|---|
//! | `map_nodes` | depth (1) ‖ prefix (32) | node (see `node`) |
//! | `map_values` | map key (32) | leaf value (see `value`) |
//! | `map_firearms` | firearm id (16) | firearm state (see `indexer`) |
//! | `map_meta` | `"root"`, `"size"` | root pointer; log entries covered (u64 BE) |

use redb::{
    ReadTransaction, ReadableTable, ReadableTableMetadata, Table, TableDefinition, WriteTransaction,
};

use armsledger_core::hash::Hash;

use crate::error::MapError;
use crate::key::MapKey;
use crate::node::{Child, Node, NodeKey};
use crate::store::{NodeStore, NodeStoreMut};

type Def = TableDefinition<'static, &'static [u8], &'static [u8]>;

/// Stored nodes by position.
pub const NODES: Def = TableDefinition::new("map_nodes");
/// Leaf values by map key.
pub const VALUES: Def = TableDefinition::new("map_values");
/// Firearm states by firearm id.
pub const FIREARMS: Def = TableDefinition::new("map_firearms");
/// The root pointer under `"root"`.
pub const META: Def = TableDefinition::new("map_meta");

const ROOT: &[u8] = b"root";
const SIZE: &[u8] = b"size";

fn storage(e: impl Into<redb::Error>) -> MapError {
    MapError::Redb(e.into())
}

fn node_key(at: &NodeKey) -> [u8; 33] {
    let mut k = [0u8; 33];
    k[0] = at.0;
    k[1..].copy_from_slice(&at.1);
    k
}

fn decode_size(stored: Option<Vec<u8>>) -> Result<u64, MapError> {
    Ok(match stored {
        None => 0,
        Some(b) => u64::from_be_bytes(b.as_slice().try_into().map_err(|_| MapError::Corrupt {
            why: "map_meta size is not 8 bytes".into(),
        })?),
    })
}

fn get<T: ReadableTable<&'static [u8], &'static [u8]>>(
    t: &T,
    k: &[u8],
) -> Result<Option<Vec<u8>>, MapError> {
    Ok(t.get(k).map_err(storage)?.map(|g| g.value().to_vec()))
}

/// The map inside a write transaction.
pub struct RedbMap<'t> {
    nodes: Table<'t, &'static [u8], &'static [u8]>,
    values: Table<'t, &'static [u8], &'static [u8]>,
    firearms: Table<'t, &'static [u8], &'static [u8]>,
    meta: Table<'t, &'static [u8], &'static [u8]>,
}

impl<'t> RedbMap<'t> {
    /// Opens (creating if need be) the map's tables in `txn`.
    pub fn open(txn: &'t WriteTransaction) -> Result<Self, MapError> {
        Ok(RedbMap {
            nodes: txn.open_table(NODES).map_err(storage)?,
            values: txn.open_table(VALUES).map_err(storage)?,
            firearms: txn.open_table(FIREARMS).map_err(storage)?,
            meta: txn.open_table(META).map_err(storage)?,
        })
    }
}

impl RedbMap<'_> {
    /// How many log entries the map covers (entries `0..n`).
    pub fn indexed(&self) -> Result<u64, MapError> {
        decode_size(get(&self.meta, SIZE)?)
    }

    /// Records that the map covers log entries `0..n`.
    pub fn set_indexed(&mut self, n: u64) -> Result<(), MapError> {
        self.meta
            .insert(SIZE, n.to_be_bytes().as_slice())
            .map_err(storage)?;
        Ok(())
    }
}

impl NodeStore for RedbMap<'_> {
    fn root(&self) -> Result<Child, MapError> {
        get(&self.meta, ROOT)?.map_or(Ok(Child::Empty), |b| Child::decode(&b))
    }
    fn node(&self, at: &NodeKey) -> Result<Option<Node>, MapError> {
        get(&self.nodes, &node_key(at))?
            .map(|b| Node::decode(&b))
            .transpose()
    }
    fn value(&self, key: &MapKey) -> Result<Option<Vec<u8>>, MapError> {
        get(&self.values, &key.0)
    }
    fn firearm(&self, id: &[u8; 16]) -> Result<Option<Vec<u8>>, MapError> {
        get(&self.firearms, id)
    }
}

impl NodeStoreMut for RedbMap<'_> {
    fn set_root(&mut self, root: &Child) -> Result<(), MapError> {
        self.meta
            .insert(ROOT, root.encode().as_slice())
            .map_err(storage)?;
        Ok(())
    }
    fn put_node(&mut self, at: &NodeKey, node: &Node) -> Result<(), MapError> {
        self.nodes
            .insert(node_key(at).as_slice(), node.encode().as_slice())
            .map_err(storage)?;
        Ok(())
    }
    fn put_value(&mut self, key: &MapKey, value: &[u8]) -> Result<(), MapError> {
        self.values
            .insert(key.0.as_slice(), value)
            .map_err(storage)?;
        Ok(())
    }
    fn put_firearm(&mut self, id: &[u8; 16], state: &[u8]) -> Result<(), MapError> {
        self.firearms
            .insert(id.as_slice(), state)
            .map_err(storage)?;
        Ok(())
    }
}

/// The map as of a read transaction (proofs and lookups). A file with no
/// map tables yet reads as the empty map.
pub struct RedbMapRead {
    tables: Option<[redb::ReadOnlyTable<&'static [u8], &'static [u8]>; 4]>,
}

impl RedbMapRead {
    /// Opens the map's tables in `txn`.
    pub fn open(txn: &ReadTransaction) -> Result<Self, MapError> {
        let open = |d: Def| match txn.open_table(d) {
            Ok(t) => Ok(Some(t)),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
            Err(e) => Err(storage(e)),
        };
        let tables = match (open(NODES)?, open(VALUES)?, open(FIREARMS)?, open(META)?) {
            (Some(a), Some(b), Some(c), Some(d)) => Some([a, b, c, d]),
            _ => None,
        };
        Ok(RedbMapRead { tables })
    }

    /// How many log entries the map covers in this snapshot (entries `0..n`).
    pub fn indexed(&self) -> Result<u64, MapError> {
        decode_size(self.read(3, SIZE)?)
    }

    /// Every leaf, `(key, value hash)`, in increasing key order (a full
    /// export's IndexLeaves records).
    pub fn leaves(&self) -> Result<Vec<(MapKey, Hash)>, MapError> {
        let Some(values) = self.tables.as_ref().and_then(|t| t.get(1)) else {
            return Ok(Vec::new());
        };
        let mut out =
            Vec::with_capacity(usize::try_from(values.len().map_err(storage)?).unwrap_or(0));
        for row in values.iter().map_err(storage)? {
            let (k, v) = row.map_err(storage)?;
            let key: [u8; 32] = k.value().try_into().map_err(|_| MapError::Corrupt {
                why: "a map_values key is not 32 bytes".into(),
            })?;
            out.push((MapKey(key), crate::value::value_hash(v.value())));
        }
        Ok(out)
    }

    /// The bytes the map's four tables take in the file in this snapshot:
    /// stored keys and values, their B-tree pages' metadata and the unused
    /// space in those pages (redb's table statistics).
    pub fn file_bytes(&self) -> Result<u64, MapError> {
        let mut total = 0;
        for t in self.tables.iter().flatten() {
            let s = t.stats().map_err(storage)?;
            total += s.stored_bytes() + s.metadata_bytes() + s.fragmented_bytes();
        }
        Ok(total)
    }

    /// How many leaves the map holds (its subjects).
    pub fn leaf_count(&self) -> Result<u64, MapError> {
        match self.tables.as_ref().and_then(|t| t.get(1)) {
            Some(values) => values.len().map_err(storage),
            None => Ok(0),
        }
    }

    fn read(&self, which: usize, k: &[u8]) -> Result<Option<Vec<u8>>, MapError> {
        match self.tables.as_ref().and_then(|t| t.get(which)) {
            Some(t) => get(t, k),
            None => Ok(None),
        }
    }
}

impl NodeStore for RedbMapRead {
    fn root(&self) -> Result<Child, MapError> {
        self.read(3, ROOT)?
            .map_or(Ok(Child::Empty), |b| Child::decode(&b))
    }
    fn node(&self, at: &NodeKey) -> Result<Option<Node>, MapError> {
        self.read(0, &node_key(at))?
            .map(|b| Node::decode(&b))
            .transpose()
    }
    fn value(&self, key: &MapKey) -> Result<Option<Vec<u8>>, MapError> {
        self.read(1, &key.0)
    }
    fn firearm(&self, id: &[u8; 16]) -> Result<Option<Vec<u8>>, MapError> {
        self.read(2, id)
    }
}
