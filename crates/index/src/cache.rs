//! The nodes near the root, kept in memory between group commits.
//!
//! Every group commit rewrites the nodes on the paths of the leaves it
//! moves, and every path starts at the root: without a cache each of those
//! nodes is read back from the store (a redb lookup and a decode) once per
//! group. [`Cached`] wraps a store for one write transaction: reads of nodes
//! at depth below [`CACHED_DEPTH`] (and of the root pointer) are answered
//! from a [`NodeCache`] when it has them; what the transaction read from the
//! store and wrote is collected as [`Changes`], which the caller folds into
//! the cache with [`NodeCache::absorb`] **only once the transaction is
//! durable** (and clears the cache if the commit fails, so the cache never
//! holds a node the file does not).
//!
//! The cache changes nothing of the map's bytes, root or proofs: it holds
//! copies of stored nodes, keyed by position like the store. At most
//! 2^[`CACHED_DEPTH`] − 1 nodes sit above that depth (about 13 MB).
//!
//! `LogStore` does not use it (yet): the benchmark's index scenario
//! measures the map's update with it and without it on the same file, and
//! on the shared 2-core machine it showed no gain beyond the noise
//! (docs/performance.md, section 7): the upper levels already sit in redb's
//! page cache, and the node writes, not the reads, dominate.

use std::cell::RefCell;
use std::collections::HashMap;

use crate::error::MapError;
use crate::key::MapKey;
use crate::node::{Child, Node, NodeKey};
use crate::store::{NodeStore, NodeStoreMut};

/// Nodes at a depth below this are cached (levels 0 to 15: at most 65,535
/// nodes).
pub const CACHED_DEPTH: u8 = 16;

/// The committed root pointer and nodes near the root. Owned by whoever owns
/// the store (one per open log file); it must see every write to the map,
/// through [`Cached`] and [`NodeCache::absorb`].
#[derive(Debug, Default)]
pub struct NodeCache {
    root: Option<Child>,
    nodes: HashMap<NodeKey, Node>,
}

/// What one transaction read from the store and wrote, for
/// [`NodeCache::absorb`] once it is durable.
#[derive(Debug, Default)]
pub struct Changes {
    root: Option<Child>,
    loaded: HashMap<NodeKey, Node>,
    written: HashMap<NodeKey, Node>,
}

impl NodeCache {
    /// An empty cache (every read goes to the store until a commit fills it).
    pub fn new() -> Self {
        NodeCache::default()
    }

    /// How many nodes are cached.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty() && self.root.is_none()
    }

    /// Forgets everything (after a failed commit, whose outcome on disk is
    /// not known).
    pub fn clear(&mut self) {
        self.root = None;
        self.nodes.clear();
    }

    /// Takes in what a transaction read and wrote, once it is durable.
    pub fn absorb(&mut self, changes: Changes) {
        let Changes {
            root,
            loaded,
            written,
        } = changes;
        // What was read is the state before the transaction; what it wrote
        // overrides it.
        self.nodes.extend(loaded);
        self.nodes.extend(written);
        if root.is_some() {
            self.root = root;
        }
    }
}

fn cacheable(at: &NodeKey) -> bool {
    at.0 < CACHED_DEPTH
}

/// A store seen through a [`NodeCache`] for one write transaction.
pub struct Cached<'c, S> {
    inner: S,
    cache: &'c NodeCache,
    root: Option<Child>,
    loaded: RefCell<HashMap<NodeKey, Node>>,
    written: HashMap<NodeKey, Node>,
}

impl<'c, S: NodeStore> Cached<'c, S> {
    /// Wraps `inner` (the map inside a write transaction) with `cache`.
    pub fn new(inner: S, cache: &'c NodeCache) -> Self {
        Cached {
            inner,
            cache,
            root: None,
            loaded: RefCell::new(HashMap::new()),
            written: HashMap::new(),
        }
    }

    /// The wrapped store.
    pub fn inner_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The wrapped store, and what to [`NodeCache::absorb`] once the
    /// transaction is durable.
    pub fn finish(self) -> (S, Changes) {
        let changes = Changes {
            root: self.root,
            loaded: self.loaded.into_inner(),
            written: self.written,
        };
        (self.inner, changes)
    }
}

impl<S: NodeStore> NodeStore for Cached<'_, S> {
    fn root(&self) -> Result<Child, MapError> {
        match self.root.or(self.cache.root) {
            Some(r) => Ok(r),
            None => self.inner.root(),
        }
    }
    fn node(&self, at: &NodeKey) -> Result<Option<Node>, MapError> {
        if !cacheable(at) {
            return self.inner.node(at);
        }
        if let Some(n) = self.written.get(at).or_else(|| self.cache.nodes.get(at)) {
            return Ok(Some(*n));
        }
        if let Some(n) = self.loaded.borrow().get(at) {
            return Ok(Some(*n));
        }
        let found = self.inner.node(at)?;
        if let Some(n) = found {
            self.loaded.borrow_mut().insert(*at, n);
        }
        Ok(found)
    }
    fn value(&self, key: &MapKey) -> Result<Option<Vec<u8>>, MapError> {
        self.inner.value(key)
    }
    fn firearm(&self, id: &[u8; 16]) -> Result<Option<Vec<u8>>, MapError> {
        self.inner.firearm(id)
    }
}

impl<S: NodeStoreMut> NodeStoreMut for Cached<'_, S> {
    fn set_root(&mut self, root: &Child) -> Result<(), MapError> {
        self.inner.set_root(root)?;
        self.root = Some(*root);
        Ok(())
    }
    fn put_node(&mut self, at: &NodeKey, node: &Node) -> Result<(), MapError> {
        self.inner.put_node(at, node)?;
        if cacheable(at) {
            self.written.insert(*at, *node);
        }
        Ok(())
    }
    fn put_value(&mut self, key: &MapKey, value: &[u8]) -> Result<(), MapError> {
        self.inner.put_value(key, value)
    }
    fn put_firearm(&mut self, id: &[u8; 16], state: &[u8]) -> Result<(), MapError> {
        self.inner.put_firearm(id, state)
    }
}
