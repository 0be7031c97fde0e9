//! A full bundle's check of the verifiable index (docs/log.md section 11):
//! the verifier indexes every entry as the server must have, and the root
//! must be the one the checkpoint commits to in its index line. A wrong
//! index is then as detectable as a wrong log.

use std::sync::Arc;

use armsledger_core::Hash;
use armsledger_core::entry::SignedEntry;
use armsledger_index::{Kind, LeafValue, MapKey, MemStore, Proof, apply, root_hash};
use armsledger_log::Checkpoint;

use super::Run;
use crate::format::MapProofRecord;
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

/// Most bytes of index proofs a bundle may carry (a few per chain in scope;
/// each is at most [`crate::MAX_MAP_PROOF_BYTES`]).
const MAX_MAP_PROOF_TOTAL: usize = 64 << 20;

/// The index leaves a scoped bundle proved against its checkpoint's index
/// root, by map key: `None` is a proven absence.
#[derive(Default)]
pub(super) struct ProvenLeaves {
    leaves: std::collections::HashMap<[u8; 32], Option<LeafValue>>,
    bytes: usize,
}

/// What the index says about one history (a chain, or a dossier's weapon)
/// against the last entry of it the bundle holds.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// The bundle carries no proof for it.
    Unproven,
    /// The index commits to the last entry present (or proves the history
    /// empty and none is present).
    Proven,
    /// The index's newest entry is past the last present.
    Newer {
        /// Its log index.
        index: u64,
        /// Its counter or sequence number.
        seq: u64,
    },
    /// The proven leaf contradicts the entries (a wrong index).
    Contradicts(String),
}

impl ProvenLeaves {
    /// The verdict for the history filed under `key` with record `label`,
    /// whose last entry present is `last` (its counter or sequence number
    /// `seq`), when the leaf is of one of `kinds`.
    pub(super) fn judge(
        &self,
        key: &MapKey,
        kinds: &[Kind],
        label: &[u8],
        last: Option<Hash>,
        seq: u64,
    ) -> Verdict {
        let Some(leaf) = self.leaves.get(&key.0) else {
            return Verdict::Unproven;
        };
        let record = match leaf {
            None => None,
            Some(v) if !kinds.contains(&v.kind()) => {
                return Verdict::Contradicts(format!(
                    "the index's leaf at key {key} is a {} leaf",
                    v.kind().name()
                ));
            }
            Some(v) => v.get(label),
        };
        match (record, last) {
            (None, None) => Verdict::Proven,
            (None, Some(h)) => Verdict::Contradicts(format!(
                "the index records no entry, the bundle holds up to {} (number {seq})",
                h.short()
            )),
            (Some(r), last) if Some(r.entry_hash) == last => Verdict::Proven,
            (Some(r), _) if r.seq > seq => Verdict::Newer {
                index: r.log_index,
                seq: r.seq,
            },
            (Some(r), last) => Verdict::Contradicts(format!(
                "the index commits to entry {} (log index {}, number {}) as the newest, the \
                 bundle's newest is {} (number {seq})",
                r.entry_hash.short(),
                r.log_index,
                r.seq,
                last.map_or_else(|| "none".to_owned(), |h| h.short().to_string())
            )),
        }
    }

    /// Whether a leaf (or absence) was proven for `key`.
    pub(super) fn has(&self, key: &MapKey) -> bool {
        self.leaves.contains_key(&key.0)
    }
}

impl Run<'_> {
    /// An index proof (scoped bundles, before the first entry): checked at
    /// once against the checkpoint's index root, and kept for the summary.
    pub(super) fn map_proof(&mut self, m: MapProofRecord, record: u64, offset: u64) {
        let problem =
            |why: String| Problem::new(ProblemKind::IndexProof, Some(record), Some(offset), why);
        if !self.scope().is_scoped() {
            self.problem(Problem::new(
                ProblemKind::Order,
                Some(record),
                Some(offset),
                "a full bundle carries no index proofs (the verifier recomputes the index)",
            ));
            return;
        }
        if self.last_entry.is_some() {
            self.problem(Problem::new(
                ProblemKind::Order,
                Some(record),
                Some(offset),
                "index proofs come before the first entry",
            ));
            return;
        }
        // A checkpoint that did not open is a problem already.
        let Some(opened) = &self.opened else {
            return;
        };
        let Some(root) = opened.checkpoint.index().map(|h| Hash(h.0)) else {
            self.problem(problem(
                "the checkpoint commits to no verifiable index, so an index proof cannot be checked"
                    .into(),
            ));
            return;
        };
        let size = 36 + m.value.as_ref().map_or(0, Vec::len) + m.proof.len();
        self.proven.bytes = self.proven.bytes.saturating_add(size);
        if self.proven.bytes > MAX_MAP_PROOF_TOTAL {
            self.problem(problem(format!(
                "over {MAX_MAP_PROOF_TOTAL} bytes of index proofs; the rest are not read"
            )));
            return;
        }
        let key = MapKey(m.key);
        match Proof::decode(&m.proof).and_then(|p| p.verify_value(&root, &key, m.value.as_deref()))
        {
            Ok(value) => {
                self.proven.leaves.insert(m.key, value);
            }
            Err(e) => self.problem(problem(format!(
                "the index proof for key {key} does not verify against the checkpoint's index root: {e}"
            ))),
        }
    }
}
