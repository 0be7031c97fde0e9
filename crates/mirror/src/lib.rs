//! A verifying mirror of an armsledger log (after C2SP tlog-mirror where it
//! fits): [`Mirror`] follows an origin's checkpoints and tiles and checks
//! everything before keeping it; [`serve::app`] serves the copy on the same
//! C2SP paths as the origin.
//!
//! ```text
//! DIR/log.vkey                 the log's verifier key, pinned at the first start
//! DIR/checkpoint               the last checkpoint verified (written last)
//! DIR/tile/<L>/<N>[.p/<W>]     hash tiles
//! DIR/tile/entries/<N>[.p/<W>] entry bundles (when following entries)
//! DIR/evidence/<ms>-<kind>/    a refused checkpoint: held.checkpoint, offered.checkpoint, reason.txt
//! DIR/REFUSED                  present after a refusal: the mirror serves but no longer follows
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
mod files;
mod follow;
mod origin;
pub mod serve;
mod tree;

pub use error::MirrorError;
pub use follow::{Mirror, MirrorConfig, Step};
