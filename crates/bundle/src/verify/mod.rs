//! The offline verifier: reads a bundle as a stream and checks everything an
//! auditor needs without any network, reporting each failure precisely.
//!
//! Per chunk of entries: decoding, leaf hashing and signature checks run on
//! all cores ([`armsledger_core::sig::batch`]); then, sequentially and in log order,
//! the Merkle tree (or each inclusion proof), the exact key for each entry
//! from the regulator chain, and the chains, subject links and rules through
//! core's `LedgerVerifier`. The stages overlap: while the sequential pass
//! runs on one chunk and the chunk after the next is read, the next chunk's
//! parallel stage runs on the pool, so a chunk's problems are listed once the
//! chunk after it has been read. A full bundle's verifiable index is rebuilt
//! on a thread of its own ([`index`]).
//!
//! The server's findings and equivocation proofs follow the entry they
//! belong to and are checked when that entry is ([`annotate`]): memory
//! stays bounded whatever a bundle holds (a chunk of entries, a capped
//! budget of records waiting for their entry, one consistency proof, capped
//! lists in the report), and every comparison is a hash lookup.

mod annotate;
mod chunk;
mod dossier;
mod index;
mod open;
mod summary;

use std::collections::HashSet;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, sync_channel};

use armsledger_core::Hash;
use armsledger_core::ids::Timestamp;
use armsledger_core::rules::View;
use armsledger_core::{KeyRegistry, LedgerVerifier};
use armsledger_log::{Checkpoint, Frontier, Hash as LogHash, LogVerifier};

use crate::error::BundleError;
use crate::format::{ConsistencyRecord, Located, Meta, Record, Scope};
use crate::reader::BundleReader;
use crate::report::{ChainSummary, Problem, ProblemKind, Report};
use crate::state::TrustedState;

use annotate::{Annotation, Applied, EquivocationBatch};
use chunk::{Pending, Prepared};
use dossier::Dossier;

/// Entries verified per parallel step: 16,384 lets the signature check
/// share one torsion test per 8,192 signatures (`armsledger_core::sig::batch`)
/// and keeps a chunk's memory in the tens of megabytes.
const CHUNK: usize = 16_384;

/// Most bytes of server records held while they wait for their entry's
/// sequential pass; beyond it the pipeline is drained first.
const MAX_WAITING_BYTES: usize = 16 << 20;

/// A progress callback: entries read so far, and the total when known.
pub type ProgressFn = Arc<dyn Fn(u64, Option<u64>) + Send + Sync>;

/// How to verify.
#[derive(Clone)]
pub struct VerifyOptions {
    /// The log key to trust (`--trusted-key`). Without it, the key pinned in
    /// the state file for the bundle's origin, else the bundle's own.
    pub trusted_key: Option<LogVerifier>,
    /// The trusted-state file; `None` checks no history and remembers nothing.
    pub state_path: Option<PathBuf>,
    /// Trust this bundle's log even though the trusted state pinned another
    /// key for its origin (`--trust-new-log`): what was trusted for that
    /// origin is forgotten once the bundle verifies.
    pub trust_new_log: bool,
    /// The current time, recorded as the pin date of a log trusted for the
    /// first time (`None`: no date recorded).
    pub wall_clock: Option<Timestamp>,
    /// Which view of corrected history the rules fold.
    pub view: View,
    /// The time alerts are computed at (default: the bundle's creation time).
    pub now: Option<Timestamp>,
    /// Called after each chunk of entries.
    pub progress: Option<ProgressFn>,
    /// Most problems listed; the rest are counted.
    pub max_problems: usize,
    /// A C2SP tlog-policy (`--policy`): the checkpoint must carry its
    /// quorum of valid witness cosignatures, and be signed by a log it lists.
    pub policy: Option<armsledger_log::Policy>,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            trusted_key: None,
            state_path: None,
            trust_new_log: false,
            wall_clock: None,
            view: View::Corrected,
            now: None,
            progress: None,
            max_problems: 1000,
            policy: None,
        }
    }
}

impl core::fmt::Debug for VerifyOptions {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VerifyOptions")
            .field("trusted_key", &self.trusted_key)
            .field("state_path", &self.state_path)
            .field("trust_new_log", &self.trust_new_log)
            .field("wall_clock", &self.wall_clock)
            .field("view", &self.view)
            .field("now", &self.now)
            .field("progress", &self.progress.is_some())
            .field("max_problems", &self.max_problems)
            .field("policy", &self.policy.is_some())
            .finish()
    }
}

impl VerifyOptions {
    /// Drives an `indicatif` bar (length set once the checkpoint size is known).
    pub fn with_progress_bar(mut self, bar: indicatif::ProgressBar) -> Self {
        self.progress = Some(Arc::new(move |done, total| {
            if let Some(t) = total {
                bar.set_length(t);
            }
            bar.set_position(done);
        }));
        self
    }
}

/// Verifies a bundle read from `reader`.
///
/// Authenticity failures (framing, signatures, chains, proofs, a rolled-back
/// or forked log) are problems in the [`Report`]; `Err` is only for I/O and
/// trusted-state file errors. The state file is updated only when the bundle
/// is authentic.
pub fn verify_bundle<R: Read>(reader: R, options: &VerifyOptions) -> Result<Report, BundleError> {
    let state = match &options.state_path {
        Some(p) => Some(TrustedState::load(p)?),
        None => None,
    };
    let mut run = Run::new(options, state);
    // Records are read in small pieces (a 5-byte header, then the payload).
    for item in BundleReader::new(std::io::BufReader::with_capacity(1 << 16, reader)) {
        match item {
            Ok(located) => {
                if !run.record(located) {
                    break;
                }
            }
            Err(BundleError::Io(e)) => return Err(BundleError::Io(e)),
            Err(e) => {
                let (record, offset) = e.location();
                let kind = match e {
                    BundleError::EndDigestMismatch { .. }
                    | BundleError::EndCountMismatch { .. } => ProblemKind::End,
                    _ => ProblemKind::Framing,
                };
                run.problem(Problem::new(kind, record, offset, e.to_string()));
                break;
            }
        }
    }
    run.finish()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Meta,
    Checkpoint,
    Body,
}

/// The opened checkpoint and where it came from.
#[derive(Debug)]
struct Opened {
    checkpoint: Checkpoint,
    note: String,
    key: LogVerifier,
    record: u64,
}

/// A chunk's parallel stage, on the pool.
struct InFlight {
    /// Record number of the chunk's first entry (named if the stage fails).
    first_record: Option<u64>,
    received: Receiver<(Prepared, KeyRegistry)>,
}

/// State of one verification run.
struct Run<'o> {
    opts: &'o VerifyOptions,
    state: Option<TrustedState>,
    report: Report,
    stage: Stage,
    meta: Option<Meta>,
    opened: Option<Opened>,
    /// The trusted checkpoint for this origin before the run: (size, root).
    trusted: Option<(u64, LogHash)>,
    /// Whether the bundle was shown consistent with `trusted`.
    consistent: Option<String>,
    /// A full bundle whose leaves hashed to the checkpoint's root.
    full_tree_matches: bool,
    ledger: Option<LedgerVerifier>,
    frontier: Frontier,
    last_index: Option<u64>,
    pending: Vec<Pending>,
    /// Bytes of server records attached to `pending`.
    waiting_bytes: usize,
    /// The last chunk read, in its parallel stage or prepared, not yet
    /// through the sequential pass.
    prepared: Option<InFlight>,
    /// The speculative key registry after every chunk prepared so far.
    spec: Option<KeyRegistry>,
    chains: std::collections::BTreeMap<String, ChainSummary>,
    dossier: Option<Dossier>,
    /// The one consistency proof that can matter: from the trusted size.
    consistency: Option<(u64, ConsistencyRecord)>,
    /// Consistency records read (the others are not kept).
    consistency_records: u64,
    /// Record number of the last Entry read (what a server record follows).
    last_entry: Option<u64>,
    /// The last entry through the sequential pass, while it is also the last
    /// read: server records that arrive after it left `pending` use it.
    applied: Option<Applied>,
    /// Hashes of the entries that verified (a server finding may name an
    /// earlier entry than the one it follows).
    entry_hashes: HashSet<Hash>,
    /// Equivocation proofs waiting for their batched signature check.
    equivocations: EquivocationBatch,
    end_seen: bool,
    /// A full bundle's entries, indexed as the server must have (docs/log.md
    /// section 11), to check the checkpoint's index root.
    index: index::Recompute,
    /// A scoped bundle's index leaves, proven against the checkpoint.
    proven: index::ProvenLeaves,
}

impl<'o> Run<'o> {
    fn new(opts: &'o VerifyOptions, state: Option<TrustedState>) -> Self {
        let mut report = Report::default();
        report.state.path = opts.state_path.as_ref().map(|p| p.display().to_string());
        Run {
            opts,
            state,
            report,
            stage: Stage::Meta,
            meta: None,
            opened: None,
            trusted: None,
            consistent: None,
            full_tree_matches: false,
            ledger: None,
            frontier: Frontier::new(),
            last_index: None,
            pending: Vec::new(),
            waiting_bytes: 0,
            prepared: None,
            spec: None,
            chains: std::collections::BTreeMap::new(),
            dossier: None,
            consistency: None,
            consistency_records: 0,
            last_entry: None,
            applied: None,
            entry_hashes: HashSet::new(),
            equivocations: EquivocationBatch::default(),
            end_seen: false,
            index: index::Recompute::default(),
            proven: index::ProvenLeaves::default(),
        }
    }

    fn problem(&mut self, p: Problem) {
        if self.report.problems.len() < self.opts.max_problems {
            self.report.problems.push(p);
        } else {
            self.report.problems_omitted += 1;
        }
    }

    fn scope(&self) -> Scope {
        self.meta.as_ref().map_or(Scope::All, |m| m.scope.clone())
    }

    /// Whether the bundle is scoped ([`Self::scope`] without the clone).
    fn scoped(&self) -> bool {
        self.meta.as_ref().is_some_and(|m| m.scope.is_scoped())
    }

    /// Takes one record; false stops reading.
    fn record(&mut self, l: Located) -> bool {
        let (record, offset) = (l.record, l.offset);
        let order = |what: &str| {
            Problem::new(
                ProblemKind::Order,
                Some(record),
                Some(offset),
                what.to_string(),
            )
        };
        match (self.stage, l.item) {
            (Stage::Meta, Record::Meta(meta)) => {
                self.start(meta);
                true
            }
            (Stage::Meta, other) => {
                self.problem(order(&format!(
                    "the first record must be Meta, found {}",
                    other.kind().name()
                )));
                false
            }
            (Stage::Checkpoint, Record::Checkpoint(note)) => {
                self.open(&note, record, offset);
                self.stage = Stage::Body;
                true
            }
            (Stage::Checkpoint, other) => {
                self.problem(order(&format!(
                    "the second record must be the checkpoint, found {}",
                    other.kind().name()
                )));
                false
            }
            (Stage::Body, Record::Entry(e)) => {
                if self.pending.len() >= CHUNK {
                    self.flush();
                }
                self.last_entry = Some(record);
                self.applied = None;
                self.pending.push(Pending::new(record, offset, e));
                true
            }
            (Stage::Body, Record::Inclusion(inc)) => {
                let scoped = self.scope().is_scoped();
                match self.pending.last_mut() {
                    Some(p)
                        if scoped
                            && p.inclusion.is_none()
                            && p.index == inc.index
                            && p.follows(record) =>
                    {
                        p.inclusion = Some((record, inc.proof));
                    }
                    _ => self.problem(order(if scoped {
                        "an inclusion proof must follow the entry with the same index"
                    } else {
                        "a full bundle carries no inclusion proofs"
                    })),
                }
                true
            }
            (Stage::Body, Record::Consistency(c)) => {
                self.consistency_records += 1;
                let wanted = self.trusted.is_some_and(|(size, _)| size == c.old_size);
                if wanted && self.consistency.is_none() {
                    self.consistency = Some((record, c));
                }
                true
            }
            (Stage::Body, Record::Equivocation(q)) => {
                self.report.server.equivocations += 1;
                self.annotation(Annotation::equivocation(record, offset, q));
                true
            }
            (Stage::Body, Record::Finding(f)) => {
                self.report.server.findings += 1;
                self.annotation(Annotation::finding(record, offset, f));
                true
            }
            (Stage::Body, Record::MapProof(m)) => {
                self.map_proof(m, record, offset);
                true
            }
            (Stage::Body, Record::IndexLeaves(l)) => {
                self.index_leaves(l, record, offset);
                true
            }
            (Stage::Body, Record::End(_)) => {
                self.end_seen = true;
                true
            }
            (Stage::Body, Record::Meta(_) | Record::Checkpoint(_)) => {
                self.problem(order("Meta and the checkpoint come once, at the start"));
                true
            }
        }
    }

    fn start(&mut self, meta: Meta) {
        self.report.scope = Some(meta.scope.to_string());
        self.ledger = Some(LedgerVerifier::new(
            meta.regulator_key,
            meta.manufacturer_roots.clone(),
            self.opts.view,
        ));
        match &meta.scope {
            Scope::Firearm(id) => self.dossier = Some(Dossier::new(*id)),
            Scope::Lot(id) => self.dossier = Some(Dossier::lot(*id)),
            Scope::All | Scope::Company(_) | Scope::Site(_) => {}
        }
        self.meta = Some(meta);
        self.stage = Stage::Checkpoint;
    }

    /// A server record: attached to the entry it follows, checked in that
    /// entry's sequential pass (or now, if the entry has been through it).
    fn annotation(&mut self, a: Annotation) {
        let Some(about) = self.last_entry else {
            let kind = a.problem_kind();
            self.problem(Problem::new(
                kind,
                Some(a.record),
                Some(a.offset),
                "a finding or equivocation record must follow the entry it belongs to; this one follows none",
            ));
            return;
        };
        match self.pending.last_mut() {
            Some(p) if p.record == about => {
                self.waiting_bytes = self.waiting_bytes.saturating_add(a.size());
                p.annotations.push(a);
                if self.waiting_bytes > MAX_WAITING_BYTES {
                    self.flush();
                }
            }
            _ => {
                // Its entry already left `pending` (the budget above): finish
                // that entry's sequential pass, then check the record against it.
                while self.prepared.is_some() {
                    self.flush();
                }
                match self.applied.take() {
                    Some(mut ctx) if ctx.record == about => {
                        self.check_annotation(a, &mut ctx);
                        self.applied = Some(ctx);
                    }
                    _ => self.report.server.unchecked += 1,
                }
            }
        }
    }

    /// Waits for the parallel stage of the chunk before, starts the one of
    /// the chunk just read on the pool and, meanwhile, runs the sequential
    /// pass of the chunk before on this thread. Returns with the new chunk's
    /// stage still running, so reading the next chunk overlaps it too.
    fn flush(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        self.waiting_bytes = 0;
        let before = self.prepared.take().and_then(|f| self.receive(f));
        if !pending.is_empty() {
            let mut spec = match self.spec.take() {
                Some(spec) => spec,
                None => self
                    .ledger
                    .as_ref()
                    .map(|l| l.keys().clone())
                    .unwrap_or_default(),
            };
            let first_record = pending.first().map(|p| p.record);
            let (done, received) = sync_channel(1);
            rayon::spawn(move || {
                let prepared = chunk::prepare(pending, &mut spec);
                // The run may have ended (an I/O error): nothing waits then.
                let _ = done.send((prepared, spec));
            });
            self.prepared = Some(InFlight {
                first_record,
                received,
            });
        }
        if let Some(chunk) = before {
            self.apply(chunk);
        }
    }

    /// The prepared chunk of a finished parallel stage (and the speculative
    /// registry after it), or a problem if the stage stopped without one.
    fn receive(&mut self, f: InFlight) -> Option<Prepared> {
        match f.received.recv() {
            Ok((prepared, spec)) => {
                self.spec = Some(spec);
                Some(prepared)
            }
            Err(_) => {
                self.problem(Problem::new(
                    ProblemKind::Entry,
                    f.first_record,
                    None,
                    "the parallel check of the chunk of entries from this record on stopped \
                     before it finished: they are not verified",
                ));
                None
            }
        }
    }

    fn finish(mut self) -> Result<Report, BundleError> {
        // The chunk read last, then the one that leaves prepared.
        self.flush();
        self.flush();
        self.check_equivocations();
        if !self.end_seen && self.report.problems.is_empty() {
            self.problem(Problem::new(
                ProblemKind::Framing,
                None,
                None,
                "the bundle ends before its End record",
            ));
        }
        self.check_tree();
        self.summarise();
        self.report.authentic = self.report.problems.is_empty()
            && self.report.problems_omitted == 0
            && self.end_seen
            && self.opened.is_some();
        if !self.report.authentic {
            // What an authentic bundle leaves unproven says nothing about one
            // that is not: the problems are what a reader must see.
            self.report
                .warnings
                .retain(|w| w.kind != crate::report::WarningKind::EndUnproven);
        }
        if self.report.authentic {
            self.remember()?;
        }
        // The rules engine's state and the rebuilt index are millions of
        // small allocations in a large bundle: they are freed on the pool
        // while the caller reads the report, not before it gets it.
        let ledger = self.ledger.take();
        let index = std::mem::take(&mut self.index);
        rayon::spawn(move || drop((ledger, index)));
        Ok(self.report)
    }
}
