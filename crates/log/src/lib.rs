//! armsledger's global log maths: pure functions and types, no I/O.
//!
//! The regulator appends every accepted entry to one RFC 6962 / RFC 9162
//! Merkle tree and publishes it in the formats CT, Go's checksum database,
//! Sigstore and Cloudflare's logs share, so outside clients can check us with
//! their own code. A checkpoint this crate signs looks like this (the worked
//! example of `docs/log.md`):
//!
//! ```text
//! ledger.example/armsledger/v1
//! 7
//! 3bib5AOAnjJXUNPSY814kpwpQreUKjS3fhIslZSnTIw=
//!
//! — ledger.example/armsledger/v1 D7Uay89e5KYRrk66n5f6hNB0onoG/5rMy/Pr1cismHr1wr7vOaMFKLJ2wzG4tO+CKIKlXCufWyIU1kzYjCkWFs2R5Qs=
//! ```
//!
//! * [`Frontier`], [`leaf_hash`], [`node_hash`], [`root_of`]: tree hashing and O(log n) append.
//! * [`EntryLeaf`]: armsledger's leaf, `received_at (u64 BE ms) ‖ entry`, so a
//!   checkpoint commits to every receipt time (leaf format v2).
//! * [`prove_inclusion`], [`prove_consistency`] over a [`HashReader`] of stored
//!   hashes ([`stored_hash_index`]); [`verify_inclusion`], [`verify_consistency`].
//! * [`LogKey`], [`LogVerifier`], [`open_checkpoint`]: C2SP checkpoints as signed notes.
//! * [`Tile`], [`changed_tiles`], [`hash_tile_data`], entry bundles: C2SP tlog-tiles.
//! * [`TlogProof`]: C2SP tlog-proof offline bundles.
//! * [`CheckpointNote`]: other logs' checkpoints (extension lines, several signatures).
//! * [`CosignerKey`], [`CosignatureVerifier`], [`Cosignature`]: C2SP tlog-cosignature/v1.
//! * [`Policy`]: C2SP tlog-policy files and quorum checks over cosigned checkpoints.
//!
//! Every proof is bound to an explicit tree size. `docs/log.md` specifies the
//! formats byte by byte and the edge cases.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod checkpoint;
mod cosignature;
mod error;
mod leaf;
mod merkle;
mod policy;
mod tiles;
mod tlog_proof;

pub use checkpoint::{
    Checkpoint, CheckpointNote, INDEX_EXTENSION, LogKey, LogVerifier, MAX_NOTE_BYTES,
    MAX_ORIGIN_BYTES, NoteSignature, SignedCheckpoint, key_id, open_checkpoint,
};
pub use cosignature::{
    COSIGNATURE_ALG, Cosignature, CosignatureVerifier, CosignerKey, MAX_COSIGNATURE_TIME,
    cosignature_key_id, cosignature_message,
};
pub use error::LogError;
pub use leaf::{EntryLeaf, LEAF_TIME_BYTES, MAX_LEAF_ENTRY_BYTES};
pub use merkle::{
    AppendedHashes, EMPTY_ROOT, Frontier, Hash, HashReader, MAX_TREE_SIZE, leaf_hash, node_hash,
    prove_consistency, prove_inclusion, root_of, stored_hash_count, stored_hash_index, tree_root,
    verify_consistency, verify_inclusion,
};
pub use policy::{CosignedCheckpoint, MAX_POLICY_BYTES, Policy, PolicyLog, PolicyWitness};
pub use tiles::{
    HASH_TILE_BYTES, MAX_BUNDLE_BYTES, MAX_ENTRY_BYTES, TILE_HEIGHT, TILE_WIDTH, Tile, TileKind,
    changed_tiles, decode_entry_bundle, encode_entry_bundle, hash_tile_data,
};
pub use tlog_proof::{MAX_TLOG_PROOF_BYTES, TLOG_PROOF_HEADER, TlogProof};

pub(crate) use merkle::check_tree_size;
