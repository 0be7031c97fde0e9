//! The verifiable index: a sparse Merkle map from every chain, every
//! normalised serial and every ammunition lot to its newest log entry, whose
//! root is bound to each checkpoint. It proves that a history shown is
//! complete up to the checkpoint, or that newer entries exist; and that a
//! serial was never recorded.
//!
//! ```text
//! key   = SHA-256("armsledger:map-key:serial:v1\0" ‖ normalise(serial))      (or chain, lot)
//! value = 0x01 ‖ kind ‖ count ‖ (label ‖ log index ‖ entry hash ‖ seq)*
//! leaf  = SHA-256(0x02 ‖ key ‖ SHA-256("armsledger:map-value:v1\0" ‖ value))
//! node  = SHA-256(0x03 ‖ left ‖ right); an empty subtree is 32 zero bytes and a
//!         subtree with one leaf is that leaf's hash
//! ```
//!
//! docs/log.md ("The verifiable index") specifies it byte by byte, with
//! vectors that `tests/index/vectors.rs` checks.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod error;
pub mod indexer;
pub mod key;
pub mod node;
pub mod proof;
#[cfg(feature = "redb")]
pub mod redb_store;
pub mod store;
pub mod tree;
pub mod value;

pub use error::MapError;
pub use indexer::apply;
pub use key::MapKey;
pub use proof::{Answer, Proof};
pub use store::{MemStore, NodeStore, NodeStoreMut};
pub use tree::{prove, root_hash};
pub use value::{Kind, LeafValue, Record};

/// A key's leaf value (if any) and the proof of it, or of its absence.
pub fn lookup<S: NodeStore + ?Sized>(
    store: &S,
    key: &MapKey,
) -> Result<(Option<LeafValue>, Proof), MapError> {
    let value = store
        .value(key)?
        .map(|b| LeafValue::decode(&b))
        .transpose()?;
    Ok((value, prove(store, key)?))
}
