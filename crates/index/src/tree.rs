//! The sparse Merkle tree: setting leaves (in batches, each node written
//! once per batch) and proving a key's leaf or its absence.

use std::collections::HashMap;

use armsledger_core::hash::Hash;

use crate::error::MapError;
use crate::key::{MapKey, common_prefix, prefix};
use crate::node::{Child, EMPTY, Node, NodeKey};
use crate::proof::{Proof, Terminal};
use crate::store::{NodeStore, NodeStoreMut};

/// The map's root hash as stored.
pub fn root_hash<S: NodeStore + ?Sized>(store: &S) -> Result<Hash, MapError> {
    Ok(store.root()?.hash_at(0))
}

/// A batch of leaf updates over a store: nodes are changed in memory and
/// written once each by [`Batch::commit`].
pub struct Batch<'s, S: NodeStoreMut + ?Sized> {
    store: &'s mut S,
    root: Child,
    nodes: HashMap<NodeKey, Node>,
}

impl<'s, S: NodeStoreMut + ?Sized> Batch<'s, S> {
    /// Starts a batch at the store's current root.
    pub fn new(store: &'s mut S) -> Result<Self, MapError> {
        let root = store.root()?;
        Ok(Batch {
            store,
            root,
            nodes: HashMap::new(),
        })
    }

    /// The store, for reads of values and side tables during the batch.
    pub fn store(&mut self) -> &mut S {
        self.store
    }

    /// Sets `key`'s leaf to a value with hash `value_hash` (the caller
    /// stores the value itself).
    pub fn set(&mut self, key: &MapKey, value_hash: Hash) -> Result<(), MapError> {
        self.root = self.insert(self.root, key, value_hash)?;
        Ok(())
    }

    /// Hashes every changed node once, bottom up, then writes each and the
    /// new root; returns the root hash.
    pub fn commit(mut self) -> Result<Hash, MapError> {
        self.root = self.rehash(self.root);
        for (at, node) in &self.nodes {
            self.store.put_node(at, node)?;
        }
        self.store.set_root(&self.root)?;
        Ok(self.root.hash_at(0))
    }

    fn load(&self, at: &NodeKey) -> Result<Node, MapError> {
        if let Some(n) = self.nodes.get(at) {
            return Ok(*n);
        }
        self.store.node(at)?.ok_or_else(|| MapError::Corrupt {
            why: format!("no map node at depth {} prefix {}", at.0, hex::encode(at.1)),
        })
    }

    fn make(&mut self, depth: usize, path: [u8; 32], node: Node) -> Result<Child, MapError> {
        let d = u8::try_from(depth).map_err(|_| MapError::Corrupt {
            why: format!("map node at depth {depth}"),
        })?;
        // Hashed once at commit (`rehash`): a batch changes the nodes near
        // the root once per leaf, and hashing them each time was most of
        // the work.
        self.nodes.insert((d, path), node);
        Ok(Child::Inner {
            depth: d,
            prefix: path,
            hash: EMPTY,
        })
    }

    /// `child` with the hashes of every node changed in this batch beneath
    /// it recomputed (a node not changed keeps the hash its parent holds).
    fn rehash(&mut self, child: Child) -> Child {
        let Child::Inner { depth, prefix, .. } = child else {
            return child;
        };
        let Some(mut node) = self.nodes.get(&(depth, prefix)).copied() else {
            return child;
        };
        node.left = self.rehash(node.left);
        node.right = self.rehash(node.right);
        let hash = node.hash(usize::from(depth));
        self.nodes.insert((depth, prefix), node);
        Child::Inner {
            depth,
            prefix,
            hash,
        }
    }

    /// Puts the leaf into the subtree `at`; returns what replaces `at`.
    fn insert(&mut self, at: Child, key: &MapKey, value_hash: Hash) -> Result<Child, MapError> {
        let leaf = Child::Leaf {
            key: *key,
            value_hash,
        };
        match at {
            Child::Empty => Ok(leaf),
            Child::Leaf { key: other, .. } if other == *key => Ok(leaf),
            Child::Leaf { key: other, .. } => {
                let p = common_prefix(&key.0, &other.0);
                self.make(p, prefix(&key.0, p), split(key, p, at, leaf))
            }
            Child::Inner {
                depth, prefix: pf, ..
            } => {
                let c = usize::from(depth);
                let p = common_prefix(&key.0, &pf);
                if p < c {
                    // The key leaves this node's path at bit p.
                    return self.make(p, prefix(&key.0, p), split(key, p, at, leaf));
                }
                let mut node = self.load(&(depth, pf))?;
                let side = key.bit(c);
                let below = *node.side(side);
                let new = self.insert(below, key, value_hash)?;
                if side {
                    node.right = new;
                } else {
                    node.left = new;
                }
                self.make(c, pf, node)
            }
        }
    }
}

/// The node at depth `p` where `key` (with `leaf`) and `other` part.
fn split(key: &MapKey, p: usize, other: Child, leaf: Child) -> Node {
    if key.bit(p) {
        Node {
            left: other,
            right: leaf,
        }
    } else {
        Node {
            left: leaf,
            right: other,
        }
    }
}

/// The proof of `key`'s leaf, or of its absence, against the current root.
pub fn prove<S: NodeStore + ?Sized>(store: &S, key: &MapKey) -> Result<Proof, MapError> {
    let mut siblings: Vec<Hash> = Vec::new();
    let mut at = store.root()?;
    loop {
        match at {
            Child::Empty => return Ok(Proof::new(siblings, Terminal::Empty)),
            Child::Leaf { key: k, value_hash } => {
                return Ok(Proof::new(siblings, Terminal::Leaf { key: k, value_hash }));
            }
            Child::Inner {
                depth, prefix: pf, ..
            } => {
                let c = usize::from(depth);
                let p = common_prefix(&key.0, &pf);
                if p < c {
                    siblings.resize(p, EMPTY);
                    siblings.push(at.hash_at(p + 1));
                    return Ok(Proof::new(siblings, Terminal::Empty));
                }
                let node = store.node(&(depth, pf))?.ok_or_else(|| MapError::Corrupt {
                    why: format!("no map node at depth {c} prefix {}", hex::encode(pf)),
                })?;
                let side = key.bit(c);
                siblings.resize(c, EMPTY);
                siblings.push(node.side(!side).hash_at(c + 1));
                at = *node.side(side);
            }
        }
    }
}
