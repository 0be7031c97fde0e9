//! Where the map keeps its nodes, leaf values and the firearm → serials side
//! table, and an in-memory store (the offline verifier's recomputation and
//! the tests). The server's store is redb, in `redb_store`.

use std::collections::HashMap;

use crate::error::MapError;
use crate::key::MapKey;
use crate::node::{Child, Node, NodeKey};

/// Reads the map's storage.
pub trait NodeStore {
    /// The root pointer (`Child::Empty` for a new map).
    fn root(&self) -> Result<Child, MapError>;
    /// The node stored at a position.
    fn node(&self, at: &NodeKey) -> Result<Option<Node>, MapError>;
    /// The encoded value of a leaf.
    fn value(&self, key: &MapKey) -> Result<Option<Vec<u8>>, MapError>;
    /// What the indexer keeps about a firearm (see `indexer`).
    fn firearm(&self, id: &[u8; 16]) -> Result<Option<Vec<u8>>, MapError>;
}

/// Writes the map's storage. A node is stored by position, so writing a node
/// replaces the one it supersedes: no stale node is ever left behind.
pub trait NodeStoreMut: NodeStore {
    /// Sets the root pointer.
    fn set_root(&mut self, root: &Child) -> Result<(), MapError>;
    /// Stores (or replaces) the node at a position.
    fn put_node(&mut self, at: &NodeKey, node: &Node) -> Result<(), MapError>;
    /// Stores (or replaces) a leaf's value.
    fn put_value(&mut self, key: &MapKey, value: &[u8]) -> Result<(), MapError>;
    /// Stores what the indexer keeps about a firearm.
    fn put_firearm(&mut self, id: &[u8; 16], state: &[u8]) -> Result<(), MapError>;
}

/// The map in memory.
#[derive(Clone, Debug)]
pub struct MemStore {
    root: Child,
    nodes: HashMap<NodeKey, Node>,
    values: HashMap<MapKey, Vec<u8>>,
    firearms: HashMap<[u8; 16], Vec<u8>>,
}

impl Default for MemStore {
    fn default() -> Self {
        MemStore {
            root: Child::Empty,
            nodes: HashMap::new(),
            values: HashMap::new(),
            firearms: HashMap::new(),
        }
    }
}

impl MemStore {
    /// How many nodes are stored (the tests check pruning with it).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// How many leaves are stored.
    pub fn leaf_count(&self) -> usize {
        self.values.len()
    }

    /// Every leaf: key and encoded value.
    pub fn leaves(&self) -> impl Iterator<Item = (&MapKey, &Vec<u8>)> {
        self.values.iter()
    }
}

impl NodeStore for MemStore {
    fn root(&self) -> Result<Child, MapError> {
        Ok(self.root)
    }
    fn node(&self, at: &NodeKey) -> Result<Option<Node>, MapError> {
        Ok(self.nodes.get(at).copied())
    }
    fn value(&self, key: &MapKey) -> Result<Option<Vec<u8>>, MapError> {
        Ok(self.values.get(key).cloned())
    }
    fn firearm(&self, id: &[u8; 16]) -> Result<Option<Vec<u8>>, MapError> {
        Ok(self.firearms.get(id).cloned())
    }
}

impl NodeStoreMut for MemStore {
    fn set_root(&mut self, root: &Child) -> Result<(), MapError> {
        self.root = *root;
        Ok(())
    }
    fn put_node(&mut self, at: &NodeKey, node: &Node) -> Result<(), MapError> {
        self.nodes.insert(*at, *node);
        Ok(())
    }
    fn put_value(&mut self, key: &MapKey, value: &[u8]) -> Result<(), MapError> {
        self.values.insert(*key, value.to_vec());
        Ok(())
    }
    fn put_firearm(&mut self, id: &[u8; 16], state: &[u8]) -> Result<(), MapError> {
        self.firearms.insert(*id, state.to_vec());
        Ok(())
    }
}
