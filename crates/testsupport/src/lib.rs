//! armsledger test support: helpers more than one crate's tests need, kept
//! once. A dev-dependency only; nothing shipped depends on it.
//!
//! * [`rfc6962`]: the reference Merkle tree, straight from RFC 6962 §2.1,
//!   the oracle the log and the store are checked against.
//! * [`ed25519`]: signatures built to break the rules (`R` of mixed order,
//!   `s + ℓ`), for the batch verifier's tests and the bundle's.
//! * [`repo`]: the repository's own files (golden vectors, docs, fuzz seeds),
//!   reached the same way from every crate.
//! * [`s3`]: moto's real S3 server on a free loopback port, killed on drop,
//!   and a proxy that takes it down and back.
//! * [`c2sp`]: an outside tlog-tiles reader that verifies a published log
//!   from HTTP GETs and the verifier key alone.
//!
//! ```
//! use armsledger_testsupport::{repo, rfc6962};
//!
//! let leaves: Vec<_> = [b"a", b"b", b"c"].iter().map(|d| rfc6962::leaf(*d)).collect();
//! assert_eq!(rfc6962::path(0, &leaves).len(), 2);
//! assert!(repo::vectors("core").join("ledger.json").exists());
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]
// Test support: a helper that cannot do its job fails the test that called it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod c2sp;
pub mod ed25519;
pub mod repo;
pub mod rfc6962;
pub mod s3;
