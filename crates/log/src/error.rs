//! The one error type of this crate.
//!
//! Each variant names the invariant that failed. The HTTP status a server
//! should answer with is given in each variant's doc; the mapping itself lives in the
//! server crate, in one place.

use std::error::Error as StdError;

/// Why a log operation or a decode was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// A tree size is above [`crate::MAX_TREE_SIZE`] (HTTP 400).
    #[error("tree size {size} exceeds the maximum {max}", max = crate::MAX_TREE_SIZE)]
    TreeTooLarge {
        /// The size that was asked for.
        size: u64,
    },
    /// A leaf index is not below the tree size it is claimed against (HTTP 400).
    #[error("leaf index {index} is not in a tree of size {size}")]
    IndexBeyondTree {
        /// The leaf index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A consistency check from a larger tree to a smaller one (HTTP 400).
    #[error("old tree size {old} is larger than new tree size {new}: logs only grow")]
    TreeShrank {
        /// The claimed earlier size.
        old: u64,
        /// The claimed later size.
        new: u64,
    },
    /// A proof has the wrong number of hashes for its sizes (HTTP 422).
    #[error("proof has {actual} hashes but these tree sizes need exactly {expected}")]
    ProofLengthWrong {
        /// The length the sizes imply.
        expected: usize,
        /// The length received.
        actual: usize,
    },
    /// A proof, or an empty-proof edge case, does not lead to the stated root (HTTP 422).
    #[error("proof does not lead to the stated root hash")]
    RootMismatch,
    /// A [`crate::HashReader`] answered with the wrong number of hashes (HTTP 500).
    #[error("hash store returned {returned} hashes for {requested} indexes")]
    StoredHashesShort {
        /// How many were asked for.
        requested: usize,
        /// How many came back.
        returned: usize,
    },
    /// A stored hash the tree needs is not in the store (HTTP 500).
    #[error("stored hash {index} is missing")]
    StoredHashMissing {
        /// Its stored-hash index.
        index: u64,
    },
    /// A [`crate::HashReader`] failed; the source is the store's error (HTTP 500).
    #[error("reading stored hashes failed")]
    HashReadFailed(#[source] Box<dyn StdError + Send + Sync>),
    /// Text that should be a hash is not one (HTTP 400).
    #[error("malformed hash: {0}")]
    HashMalformed(&'static str),
    /// Persisted frontier bytes do not decode (HTTP 500).
    #[error("malformed frontier: {0}")]
    FrontierMalformed(&'static str),
    /// An input is larger than this crate accepts; checked before parsing (HTTP 413).
    #[error("{what} is {len} bytes, the limit is {max}")]
    InputTooLarge {
        /// What was too large.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A signer or verifier key string, or a seed, is not usable (HTTP 400).
    #[error("malformed key: {0}")]
    KeyMalformed(&'static str),
    /// A log origin (also the key name) breaks the C2SP rules (HTTP 400).
    #[error("invalid origin: {0}")]
    OriginInvalid(&'static str),
    /// A signed note does not parse as C2SP signed-note (HTTP 400).
    #[error("malformed signed note: {0}")]
    NoteMalformed(&'static str),
    /// The note carries no signature by the log's key (HTTP 403).
    #[error("note has no signature from the log key (check the verifier key and origin)")]
    LogSignatureMissing,
    /// The note carries a signature by the log's key that does not verify (HTTP 403).
    #[error("the log key's signature on the note does not verify: note or signature altered")]
    LogSignatureInvalid,
    /// A checkpoint body is not origin, size, root, each on its own line (HTTP 400).
    #[error("malformed checkpoint: {0}")]
    CheckpointMalformed(&'static str),
    /// The checkpoint belongs to another log (HTTP 404).
    #[error("checkpoint origin is {found:?}, expected {expected:?}")]
    OriginMismatch {
        /// The origin the caller trusts.
        expected: String,
        /// The origin in the checkpoint.
        found: String,
    },
    /// A tile path is not in C2SP tlog-tiles form (HTTP 404).
    #[error("malformed tile path: {0}")]
    TilePathMalformed(&'static str),
    /// A tile is not part of the tree it was asked of (HTTP 404).
    #[error("tile is not part of a tree of size {size}")]
    TileBeyondTree {
        /// The tree size.
        size: u64,
    },
    /// A log entry longer than an entry bundle can frame (65535 bytes) (HTTP 413).
    #[error("entry is {len} bytes, entry bundles frame at most 65535")]
    EntryTooLarge {
        /// The entry's length.
        len: usize,
    },
    /// Leaf data is not `received_at (8 bytes) ‖ entry` (HTTP 502).
    #[error("malformed log leaf: {0}")]
    LeafMalformed(&'static str),
    /// Entry bundle bytes do not decode to the expected entries (HTTP 502).
    #[error("malformed entry bundle: {0}")]
    BundleMalformed(&'static str),
    /// A `c2sp.org/tlog-proof@v1` text does not decode (HTTP 400).
    #[error("malformed tlog-proof: {0}")]
    ProofBundleMalformed(&'static str),
    /// A cosignature/v1 line does not decode, or is by another key (HTTP 400).
    #[error("malformed cosignature: {0}")]
    CosignatureMalformed(&'static str),
    /// A witness's cosignature does not verify over the checkpoint (HTTP 403).
    #[error(
        "the cosignature of witness {witness:?} does not verify: checkpoint or cosignature altered"
    )]
    CosignatureInvalid {
        /// The witness key's name.
        witness: String,
    },
    /// A C2SP tlog-policy file does not parse (HTTP 400).
    #[error("policy line {line}: {reason}")]
    PolicyMalformed {
        /// The line number, from 1.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// No log of the policy has the checkpoint's origin (HTTP 404).
    #[error("no log in the policy has origin {0:?} (add its `log` line to the policy)")]
    LogNotInPolicy(String),
    /// The checkpoint lacks the policy's quorum of valid cosignatures (HTTP 403).
    #[error(
        "checkpoint is not cosigned by the policy's quorum {quorum:?}: valid cosignatures from {} ({cosigned:?})",
        cosigned.len()
    )]
    QuorumNotMet {
        /// The name of the policy's quorum.
        quorum: String,
        /// The policy witnesses whose cosignatures verified.
        cosigned: Vec<String>,
    },
}

impl LogError {
    /// Wraps a hash store's own error, for [`crate::HashReader`] implementations.
    pub fn hash_read(source: impl StdError + Send + Sync + 'static) -> Self {
        Self::HashReadFailed(Box::new(source))
    }
}
