//! armsledger core: the data model, canonical encoding, signed entries, chain
//! verification and the rules engine of the weapons traceability ledger.
//!
//! No I/O, no async, no clocks: time, keys and storage are passed in.
//!
//! An entry on the wire is `header || signature || body`, all postcard:
//!
//! ```text
//! 01 0a 61 63 6d 65 2d 6e 6f 72 74 68 ...   header: chain Site("acme-north"), device, counters, hashes
//! 5c 2f ... (64 bytes)                      Ed25519 signature over "armsledger:entry-statement:v1\0" || header
//! 07 61 72 6d 6f 75 72 65 72 ...            body: officer, subject links, event
//! ```
//!
//! docs/formats.md specifies every structure byte by byte.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod chain;
pub mod codec;
pub mod entry;
pub mod event;
pub mod hash;
pub mod ids;
pub mod keys;
pub mod model;
pub mod note;
pub mod oversight;
pub mod report;
pub mod rules;
pub mod sig;
pub mod snapshot;
pub mod statements;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
pub mod verify;

pub use chain::{ChainCursor, ChainError, Equivocation, Head, SubjectTracker};
pub use entry::{ChainId, EntryBody, EntryHeader, Link, MAX_ENTRY_BYTES, SignedEntry};
pub use event::{Event, RegulatorEvent, SiteEvent, Subject};
pub use hash::Hash;
pub use keys::KeyRegistry;
pub use note::{NoteOpening, SealedNote};
pub use rules::RuleId;
pub use verify::LedgerVerifier;
