//! A full bundle's check of the verifiable index (docs/log.md section 11):
//! the verifier indexes every entry as the server must have, and the root
//! must be the one the checkpoint commits to in its index line. A wrong
//! index is then as detectable as a wrong log.
//!
//! The recomputation runs on a thread of its own, fed groups of entries in
//! log order through a bounded channel, so the verifier's sequential pass
//! does not wait for its hashing; the root is read once the last group is in.

use std::sync::Arc;
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;

use armsledger_core::Hash;
use armsledger_core::entry::SignedEntry;
use armsledger_core::event::Subject;
use armsledger_core::model::{FirearmId, LotId};
use armsledger_index::indexer::FirearmState;
use armsledger_index::tree::Batch;
use armsledger_index::{
    Kind, LeafValue, MapKey, MemStore, NodeStore as _, Proof, apply, root_hash,
};
use armsledger_log::Checkpoint;

use super::Run;
use crate::format::{IndexLeavesRecord, MapProofRecord};
use crate::report::{Problem, ProblemKind};

/// Entries indexed at a time (each changed node is rewritten once per group).
const GROUP: usize = 1024;

/// Groups sent to the indexing thread and not yet applied, at most: the
/// sequential pass waits beyond it, so memory stays bounded.
const GROUPS_IN_FLIGHT: usize = 8;

/// One group of entries, with their log indexes.
type Group = Vec<(u64, Arc<SignedEntry>)>;

/// The thread that applies groups to the index, in the order sent.
struct Worker {
    groups: SyncSender<Group>,
    /// The store and the first error, once every group is applied.
    done: JoinHandle<(MemStore, Option<String>)>,
}

/// The index rebuilt from a full bundle's entries, in log order.
#[derive(Default)]
pub(super) struct Recompute {
    /// The recomputed index; complete only after [`Recompute::root`].
    store: MemStore,
    buffer: Group,
    /// The indexing thread, while entries are coming.
    worker: Option<Worker>,
    failed: Option<String>,
    /// The lots the entries name, by map key (a lot's leaf names its sites,
    /// not the lot), to name a lot whose leaf the server got wrong.
    lots: std::collections::HashMap<[u8; 32], LotId>,
    /// The server's leaves, from the bundle's IndexLeaves records.
    claimed: Option<Vec<([u8; 32], Hash)>>,
    /// Record number and offset of the first IndexLeaves record.
    claimed_at: Option<(u64, u64)>,
}

/// Most index leaves a full bundle may carry (64 bytes each in memory).
const MAX_CLAIMED_LEAVES: usize = 1 << 24;
/// Most subjects named one by one when the server's leaves differ.
const MAX_NAMED: usize = 100;

impl Recompute {
    /// Adds the entry at log index `index` (entries come in log order).
    pub(super) fn push(&mut self, index: u64, entry: Arc<SignedEntry>) {
        if self.failed.is_some() {
            return;
        }
        if let armsledger_core::event::Event::Site(ev) = &entry.body().event {
            for sub in ev.subjects() {
                if let Subject::Lot(l) = sub {
                    self.lots.entry(MapKey::lot(&l).0).or_insert(l);
                }
            }
        }
        self.buffer.push((index, entry));
        if self.buffer.len() >= GROUP {
            self.flush();
        }
    }

    /// Hands the buffered group to the indexing thread (started on the
    /// first group; where no thread can be started, applied here).
    fn flush(&mut self) {
        let group = std::mem::take(&mut self.buffer);
        if group.is_empty() {
            return;
        }
        if self.worker.is_none() {
            self.worker = self.start();
        }
        let group = match &self.worker {
            Some(w) => match w.groups.send(group) {
                Ok(()) => return,
                // The thread is gone: `root` finds out why.
                Err(e) => e.0,
            },
            None => group,
        };
        if let Err(e) = apply_group(&mut self.store, &group) {
            self.failed.get_or_insert(e);
        }
    }

    fn start(&mut self) -> Option<Worker> {
        let (groups, received) = sync_channel::<Group>(GROUPS_IN_FLIGHT);
        let mut store = std::mem::take(&mut self.store);
        let spawned = std::thread::Builder::new()
            .name("armsledger-index".into())
            .spawn(move || {
                let mut failed = None;
                for group in received {
                    if failed.is_none()
                        && let Err(e) = apply_group(&mut store, &group)
                    {
                        failed = Some(e);
                    }
                }
                (store, failed)
            });
        spawned.ok().map(|done| Worker { groups, done })
    }

    /// Waits for the indexing thread to apply every group sent.
    fn join(&mut self) {
        let Some(Worker { groups, done }) = self.worker.take() else {
            return;
        };
        drop(groups);
        match done.join() {
            Ok((store, failed)) => {
                self.store = store;
                if let Some(f) = failed {
                    self.failed.get_or_insert(f);
                }
            }
            Err(_) => {
                self.failed
                    .get_or_insert_with(|| "the indexing thread stopped".to_owned());
            }
        }
    }

    fn root(&mut self) -> Result<Hash, String> {
        self.flush();
        self.join();
        if let Some(f) = &self.failed {
            return Err(f.clone());
        }
        root_hash(&self.store).map_err(|e| e.to_string())
    }

    /// The subject a key names, in words, from the recomputed index.
    fn name(&self, key: &[u8; 32]) -> String {
        let map_key = MapKey(*key);
        let value = self
            .store
            .value(&map_key)
            .ok()
            .flatten()
            .and_then(|b| LeafValue::decode(&b).ok());
        let Some(v) = value else {
            return format!("key {map_key}");
        };
        let firearms = || {
            v.records()
                .iter()
                .filter_map(|r| <[u8; 16]>::try_from(r.label.as_slice()).ok())
                .map(|id| format!("firearm {}", FirearmId(id)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match v.kind() {
            Kind::Chain => v
                .records()
                .first()
                .map(|r| format!("chain {}", String::from_utf8_lossy(&r.label)))
                .unwrap_or_else(|| format!("key {map_key}")),
            Kind::Firearm => firearms(),
            Kind::Serial => {
                // The serial itself: one its firearms were filed under.
                let serial = v
                    .records()
                    .iter()
                    .filter_map(|r| <[u8; 16]>::try_from(r.label.as_slice()).ok())
                    .filter_map(|id| self.store.firearm(&id).ok().flatten())
                    .filter_map(|b| FirearmState::decode(&b).ok())
                    .flat_map(|s| s.serials)
                    .find(|s| MapKey::serial(s) == map_key);
                match serial {
                    Some(s) => format!("serial {s} ({})", firearms()),
                    None => format!("serial key {map_key} ({})", firearms()),
                }
            }
            Kind::Lot => match self.lots.get(key) {
                Some(l) => format!("ammunition lot {l}"),
                None => format!("ammunition lot key {map_key}"),
            },
        }
    }

    /// What the recomputed index says of a key's subject: its newest entries.
    fn newest(&self, key: &[u8; 32]) -> String {
        let value = self
            .store
            .value(&MapKey(*key))
            .ok()
            .flatten()
            .and_then(|b| LeafValue::decode(&b).ok());
        match value {
            None => "the entries give it no leaf".to_owned(),
            Some(v) => {
                let newest: Vec<String> = v
                    .records()
                    .iter()
                    .map(|r| {
                        format!(
                            "log index {} (entry {}, number {})",
                            r.log_index,
                            r.entry_hash.short(),
                            r.seq
                        )
                    })
                    .collect();
                format!("the entries give its newest entry at {}", newest.join("; "))
            }
        }
    }

    /// The keys whose leaf differs between the server's claimed leaves and
    /// the recomputed index: (key, claimed value hash, recomputed value hash).
    fn differing(
        &self,
        claimed: &[([u8; 32], Hash)],
    ) -> Vec<([u8; 32], Option<Hash>, Option<Hash>)> {
        let mut ours: Vec<([u8; 32], Hash)> = self
            .store
            .leaves()
            .map(|(k, v)| (k.0, armsledger_index::value::value_hash(v)))
            .collect();
        ours.sort_unstable_by_key(|a| a.0);
        let mut out = Vec::new();
        let (mut i, mut j) = (0, 0);
        loop {
            match (claimed.get(i), ours.get(j)) {
                (None, None) => break,
                (Some(c), Some(o)) if c.0 == o.0 => {
                    if c.1 != o.1 {
                        out.push((c.0, Some(c.1), Some(o.1)));
                    }
                    i += 1;
                    j += 1;
                }
                (Some(c), None) => {
                    out.push((c.0, Some(c.1), None));
                    i += 1;
                }
                (Some(c), Some(o)) if c.0 < o.0 => {
                    out.push((c.0, Some(c.1), None));
                    i += 1;
                }
                (_, Some(o)) => {
                    out.push((o.0, None, Some(o.1)));
                    j += 1;
                }
            }
        }
        out
    }
}

/// Indexes one group of entries, in order.
fn apply_group(store: &mut MemStore, group: &[(u64, Arc<SignedEntry>)]) -> Result<(), String> {
    apply(store, group.iter().map(|(i, e)| (*i, &**e)))
        .map(|_root| ())
        .map_err(|e| e.to_string())
}

/// The root of a map holding exactly `leaves` (key, value hash).
fn root_of(leaves: &[([u8; 32], Hash)]) -> Result<Hash, String> {
    let mut store = MemStore::default();
    let mut batch = Batch::new(&mut store).map_err(|e| e.to_string())?;
    for (k, h) in leaves {
        batch.set(&MapKey(*k), *h).map_err(|e| e.to_string())?;
    }
    batch.commit().map_err(|e| e.to_string())
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
        let root = match self.index.root() {
            Ok(root) => root,
            Err(e) => {
                self.problem(Problem::new(
                    ProblemKind::IndexRoot,
                    Some(record),
                    None,
                    format!("the entries could not be indexed: {e}"),
                ));
                return;
            }
        };
        let claimed = self.index.claimed.take();
        if root.0 == committed.0 {
            self.report.notes.push(format!(
                "verifiable index: the entries give the root the checkpoint commits to \
                 ({} subjects)",
                self.index.store.leaf_count()
            ));
            // The server's leaves, if any, must be these very leaves.
            if let Some(claimed) = &claimed
                && !self.index.differing(claimed).is_empty()
            {
                let at = self.index.claimed_at;
                self.problem(Problem::new(
                    ProblemKind::IndexRoot,
                    at.map(|a| a.0),
                    at.map(|a| a.1),
                    "the bundle's index leaves are not the index the checkpoint commits to",
                ));
            }
            return;
        }
        let mismatch = format!(
            "the checkpoint commits to verifiable-index root {}, the entries give {}: \
             the server's index misstates some subject's newest entry",
            hex::encode(committed.0),
            hex::encode(root.0)
        );
        let Some(claimed) = claimed else {
            self.problem(Problem::new(
                ProblemKind::IndexRoot,
                Some(record),
                None,
                format!("{mismatch} (the bundle carries no index leaves to name it)"),
            ));
            return;
        };
        match root_of(&claimed) {
            Ok(r) if r.0 == committed.0 => {}
            Ok(_) => {
                self.problem(Problem::new(
                    ProblemKind::IndexRoot,
                    Some(record),
                    None,
                    format!(
                        "{mismatch}; the bundle's index leaves do not give the committed root \
                         either, so they cannot name it"
                    ),
                ));
                return;
            }
            Err(e) => {
                self.problem(Problem::new(
                    ProblemKind::IndexRoot,
                    Some(record),
                    None,
                    format!("{mismatch}; the bundle's index leaves could not be hashed: {e}"),
                ));
                return;
            }
        }
        // The committed root is the root of the server's leaves: each leaf
        // that differs from the recomputed one is a subject it got wrong.
        let differing = self.index.differing(&claimed);
        let n = differing.len();
        for (key, theirs, ours) in differing.iter().take(MAX_NAMED) {
            let (subject, reason) = match theirs {
                None => (
                    self.index.name(key),
                    "the checkpoint's index has no leaf for it".to_owned(),
                ),
                Some(h)
                    if self
                        .index
                        .store
                        .value(&MapKey(*key))
                        .ok()
                        .flatten()
                        .is_none() =>
                {
                    (
                        format!("key {}", MapKey(*key)),
                        format!(
                            "the checkpoint's index holds a leaf (value hash {}) that no entry gives",
                            h.short()
                        ),
                    )
                }
                Some(h) => (
                    self.index.name(key),
                    format!(
                        "the checkpoint's index commits to value hash {}, not the entries' {}",
                        h.short(),
                        ours.map_or_else(String::new, |o| o.short().to_string())
                    ),
                ),
            };
            let mut p = Problem::new(
                ProblemKind::IndexRoot,
                Some(record),
                None,
                format!(
                    "{subject}: the server's verifiable index misstates its newest entry: \
                     {reason}; {}",
                    self.index.newest(key)
                ),
            );
            if let Some(chain) = subject.strip_prefix("chain ") {
                p.chain = Some(chain.to_owned());
            }
            self.problem(p);
        }
        if n > MAX_NAMED {
            self.problem(Problem::new(
                ProblemKind::IndexRoot,
                Some(record),
                None,
                format!("{} more subjects whose index leaf differs", n - MAX_NAMED),
            ));
        }
        if n == 0 {
            self.problem(Problem::new(
                ProblemKind::IndexRoot,
                Some(record),
                None,
                mismatch,
            ));
        }
    }

    /// The server's index leaves (full bundles, before the first entry),
    /// kept to name the subjects of a wrong index root.
    pub(super) fn index_leaves(&mut self, l: IndexLeavesRecord, record: u64, offset: u64) {
        let order = |why: &str| {
            Problem::new(
                ProblemKind::Order,
                Some(record),
                Some(offset),
                why.to_owned(),
            )
        };
        if self.scope().is_scoped() {
            self.problem(order(
                "a scoped bundle carries index proofs, not the index's leaves",
            ));
            return;
        }
        if self.last_entry.is_some() {
            self.problem(order("index leaves come before the first entry"));
            return;
        }
        self.index.claimed_at.get_or_insert((record, offset));
        let claimed = self.index.claimed.get_or_insert_with(Vec::new);
        if let (Some(last), Some(first)) = (claimed.last(), l.leaves.first())
            && first.0 <= last.0
        {
            self.problem(order(
                "index leaves records are in increasing key order, without repeats",
            ));
            return;
        }
        if claimed.len().saturating_add(l.leaves.len()) > MAX_CLAIMED_LEAVES {
            self.problem(Problem::new(
                ProblemKind::IndexRoot,
                Some(record),
                Some(offset),
                format!("over {MAX_CLAIMED_LEAVES} index leaves; the rest are not read"),
            ));
            return;
        }
        claimed.extend(l.leaves);
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
