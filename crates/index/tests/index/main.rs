//! The verifiable index's integration tests: the tree against a reference
//! model, the indexer against a model of the ledger, proofs (absence,
//! forgeries, hostile bytes), redb, and the vectors of docs/log.md.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod entries;
mod proofs;
mod reference;
mod tree;
mod vectors;
