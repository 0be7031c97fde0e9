//! A full bundle's check of the verifiable index (docs/log.md section 11):
//! the verifier indexes every entry as the server must have, and the root
//! must be the one the checkpoint commits to in its index line. A wrong
//! index is then as detectable as a wrong log.

use std::sync::Arc;

use armsledger_core::Hash;
use armsledger_core::entry::SignedEntry;
use armsledger_index::{MemStore, apply, root_hash};
use armsledger_log::Checkpoint;

use super::Run;
use crate::report::{Problem, ProblemKind};

/// Entries indexed at a time (each changed node is rewritten once per group).
const GROUP: usize = 1024;

/// The index rebuilt from a full bundle's entries, in log order.
#[derive(Default)]
pub(super) struct Recompute {
    store: MemStore,
    buffer: Vec<(u64, Arc<SignedEntry>)>,
    failed: Option<String>,
}

impl Recompute {
    /// Adds the entry at log index `index` (entries come in log order).
    pub(super) fn push(&mut self, index: u64, entry: Arc<SignedEntry>) {
        if self.failed.is_some() {
            return;
        }
        self.buffer.push((index, entry));
        if self.buffer.len() >= GROUP {
            self.flush();
        }
    }

    fn flush(&mut self) {
        let group = std::mem::take(&mut self.buffer);
        if let Err(e) = apply(&mut self.store, group.iter().map(|(i, e)| (*i, &**e))) {
            self.failed = Some(e.to_string());
        }
    }

    fn root(&mut self) -> Result<Hash, String> {
        self.flush();
        if let Some(f) = &self.failed {
            return Err(f.clone());
        }
        root_hash(&self.store).map_err(|e| e.to_string())
    }
}

impl Run<'_> {
    /// Compares the rebuilt index with the checkpoint's index line (full
    /// bundles whose entries hash to the checkpoint's root).
    pub(super) fn check_index(&mut self, cp: &Checkpoint, record: u64) {
        // A checkpoint signed before the index existed commits to none:
        // there is nothing to check, as before.
        let Some(committed) = cp.index() else {
            return;
        };
        match self.index.root() {
            Ok(root) if root.0 == committed.0 => self.report.notes.push(format!(
                "verifiable index: the entries give the root the checkpoint commits to \
                 ({} subjects)",
                self.index.store.leaf_count()
            )),
            Ok(root) => self.problem(Problem::new(
                ProblemKind::IndexRoot,
                Some(record),
                None,
                format!(
                    "the checkpoint commits to verifiable-index root {}, the entries give {}: \
                     the server's index misstates some subject's newest entry",
                    hex::encode(committed.0),
                    hex::encode(root.0)
                ),
            )),
            Err(e) => self.problem(Problem::new(
                ProblemKind::IndexRoot,
                Some(record),
                None,
                format!("the entries could not be indexed: {e}"),
            )),
        }
    }
}
