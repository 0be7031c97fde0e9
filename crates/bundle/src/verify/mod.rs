//! The offline verifier: reads a bundle as a stream and checks everything an
//! auditor needs without any network, reporting each failure precisely.
//!
//! Per chunk of entries: decoding, leaf hashing and signature checks run on
//! all cores ([`armsledger_core::sig::batch`]); then, sequentially and in log order,
//! the Merkle tree (or each inclusion proof), the exact key for each entry
//! from the regulator chain, and the chains, subject links and rules through
//! core's `LedgerVerifier`. The two stages overlap: while the sequential pass
//! runs on one chunk, the next chunk's parallel stage runs on the pool, so a
//! chunk's problems are listed once the chunk after it has been read.

mod chunk;
mod dossier;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use armsledger_core::ids::Timestamp;
use armsledger_core::rules::{AlertPolicy, View, alerts};
use armsledger_core::{ChainId, Equivocation, Hash, KeyRegistry, LedgerVerifier};
use armsledger_log::{
    Checkpoint, EMPTY_ROOT, Frontier, Hash as LogHash, LogVerifier, open_checkpoint,
    verify_consistency,
};

use crate::error::BundleError;
use crate::format::{ConsistencyRecord, Located, Meta, Record, Scope, ServerFinding};
use crate::reader::BundleReader;
use crate::report::{
    ChainSummary, CheckpointSummary, EquivocationSummary, KeySource, Problem, ProblemKind, Report,
};
use crate::state::{TrustedLog, TrustedState};

use chunk::{Pending, Prepared};
use dossier::Dossier;

/// Entries verified per parallel step.
const CHUNK: usize = 8192;

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
    /// Which view of corrected history the rules fold.
    pub view: View,
    /// The time alerts are computed at (default: the bundle's creation time).
    pub now: Option<Timestamp>,
    /// Called after each chunk of entries.
    pub progress: Option<ProgressFn>,
    /// Most problems listed; the rest are counted.
    pub max_problems: usize,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            trusted_key: None,
            state_path: None,
            view: View::Corrected,
            now: None,
            progress: None,
            max_problems: 1000,
        }
    }
}

impl core::fmt::Debug for VerifyOptions {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VerifyOptions")
            .field("trusted_key", &self.trusted_key)
            .field("state_path", &self.state_path)
            .field("view", &self.view)
            .field("now", &self.now)
            .field("progress", &self.progress.is_some())
            .field("max_problems", &self.max_problems)
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
    ledger: Option<LedgerVerifier>,
    frontier: Frontier,
    last_index: Option<u64>,
    pending: Vec<Pending>,
    /// The last chunk read, prepared but not yet through the sequential pass.
    prepared: Option<Prepared>,
    /// The speculative key registry after every chunk prepared so far.
    spec: Option<KeyRegistry>,
    chains: BTreeMap<ChainId, ChainSummary>,
    dossier: Option<Dossier>,
    consistency: Vec<(u64, ConsistencyRecord)>,
    equivocations: Vec<(u64, Equivocation)>,
    server_findings: Vec<ServerFinding>,
    end_seen: bool,
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
            ledger: None,
            frontier: Frontier::new(),
            last_index: None,
            pending: Vec::new(),
            prepared: None,
            spec: None,
            chains: BTreeMap::new(),
            dossier: None,
            consistency: Vec::new(),
            equivocations: Vec::new(),
            server_findings: Vec::new(),
            end_seen: false,
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
                self.consistency.push((record, c));
                true
            }
            (Stage::Body, Record::Equivocation(q)) => {
                self.equivocations.push((record, q));
                true
            }
            (Stage::Body, Record::Finding(f)) => {
                self.server_findings.push(f);
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
        if let Scope::Firearm(id) = &meta.scope {
            self.dossier = Some(Dossier::new(*id));
        }
        self.meta = Some(meta);
        self.stage = Stage::Checkpoint;
    }

    /// Picks the log key, opens the checkpoint and checks it against the trusted state.
    fn open(&mut self, note: &str, record: u64, offset: u64) {
        let Some(meta) = self.meta.clone() else {
            return;
        };
        let pinned = self
            .state
            .as_ref()
            .and_then(|s| s.logs.get(&meta.origin))
            .cloned();
        let (key, source) = match (&self.opts.trusted_key, &pinned) {
            (Some(k), _) => (Some(k.clone()), KeySource::Argument),
            (None, Some(p)) => (LogVerifier::from_vkey(&p.log_key).ok(), KeySource::State),
            (None, None) => match LogVerifier::from_vkey(&meta.log_key) {
                Ok(k) => (Some(k), KeySource::Bundle),
                Err(e) => {
                    self.problem(Problem::new(
                        ProblemKind::Meta,
                        Some(0),
                        None,
                        format!("the bundle's log key is unusable ({e}); pass --trusted-key"),
                    ));
                    (None, KeySource::None)
                }
            },
        };
        self.report.trusted_key_source = Some(source);
        let Some(key) = key else {
            return;
        };
        self.report.trusted_key = Some(key.to_string());
        if meta.log_key != key.to_string() {
            self.report.notes.push(format!(
                "the bundle names log key {}, but it was checked with {key}",
                meta.log_key
            ));
        }
        let cp = match open_checkpoint(note.as_bytes(), &key, key.name()) {
            Ok(sc) => sc,
            Err(e) => {
                self.problem(Problem::new(
                    ProblemKind::Checkpoint,
                    Some(record),
                    Some(offset),
                    format!("the checkpoint does not open with log key {key}: {e}"),
                ));
                return;
            }
        };
        let checkpoint = cp.checkpoint().clone();
        self.report.checkpoint = Some(CheckpointSummary {
            origin: checkpoint.origin().to_owned(),
            size: checkpoint.size(),
            root: checkpoint.root().to_string(),
        });
        let trusted = self
            .state
            .as_ref()
            .and_then(|s| s.logs.get(checkpoint.origin()))
            .map(|t: &TrustedLog| (t.size, t.root.parse::<LogHash>()));
        match trusted {
            Some((size, Ok(root))) => {
                self.report.state.previous_size = Some(size);
                self.trusted = Some((size, root));
                self.check_trusted_now(&checkpoint, size, root, record, offset);
            }
            Some((_, Err(_))) => self.problem(Problem::new(
                ProblemKind::Forked,
                Some(record),
                Some(offset),
                "the trusted state holds a malformed root for this log; move the state file aside to start over",
            )),
            None => {}
        }
        self.opened = Some(Opened {
            checkpoint,
            note: cp.into_note(),
            key,
            record,
        });
    }

    /// The checks that need only the two checkpoints.
    fn check_trusted_now(
        &mut self,
        cp: &Checkpoint,
        size: u64,
        root: LogHash,
        record: u64,
        offset: u64,
    ) {
        if cp.size() < size {
            self.problem(Problem::new(
                ProblemKind::RolledBack,
                Some(record),
                Some(offset),
                format!(
                    "the checkpoint covers {} entries but a checkpoint of {size} entries was trusted before: the log was rolled back",
                    cp.size()
                ),
            ));
        } else if cp.size() == size {
            if *cp.root() == root {
                self.consistent = Some("same checkpoint as trusted".into());
            } else {
                self.problem(Problem::new(
                    ProblemKind::Forked,
                    Some(record),
                    Some(offset),
                    format!(
                        "the checkpoint has the trusted size {size} but root {}, not the trusted {root}: the log forked",
                        cp.root()
                    ),
                ));
            }
        } else if size == 0 && root == EMPTY_ROOT {
            self.consistent = Some("the trusted tree was empty".into());
        }
    }

    /// Starts the parallel stage of the chunk just read on the pool and,
    /// meanwhile, runs the sequential pass of the chunk before it on this
    /// thread; returns when both are done.
    fn flush(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        let before = self.prepared.take();
        let mut spec = match self.spec.take() {
            Some(spec) => spec,
            None => self
                .ledger
                .as_ref()
                .map(|l| l.keys().clone())
                .unwrap_or_default(),
        };
        let mut next = None;
        rayon::in_place_scope(|scope| {
            if !pending.is_empty() {
                scope.spawn(|_| next = Some(chunk::prepare(pending, &mut spec)));
            }
            if let Some(chunk) = before {
                self.apply(chunk);
            }
        });
        self.prepared = next;
        self.spec = Some(spec);
    }

    fn finish(mut self) -> Result<Report, BundleError> {
        // The chunk read last, then the one that leaves prepared.
        self.flush();
        self.flush();
        if !self.end_seen && self.report.problems.is_empty() {
            self.problem(Problem::new(
                ProblemKind::Framing,
                None,
                None,
                "the bundle ends before its End record",
            ));
        }
        self.check_tree();
        self.check_equivocations();
        self.summarise();
        self.report.authentic = self.report.problems.is_empty()
            && self.report.problems_omitted == 0
            && self.end_seen
            && self.opened.is_some();
        if self.report.authentic {
            self.remember()?;
        }
        Ok(self.report)
    }

    /// Root (full bundles) and consistency with the trusted checkpoint.
    fn check_tree(&mut self) {
        let Some(o) = &self.opened else {
            return;
        };
        let (cp, record) = (o.checkpoint.clone(), o.record);
        if !self.scope().is_scoped() && self.end_seen {
            if self.frontier.size() != cp.size() {
                self.problem(Problem::new(
                    ProblemKind::Index,
                    Some(record),
                    None,
                    format!(
                        "the bundle holds {} entries but its checkpoint covers {}",
                        self.frontier.size(),
                        cp.size()
                    ),
                ));
            } else if self.frontier.root() != *cp.root() {
                self.problem(Problem::new(
                    ProblemKind::MerkleRoot,
                    Some(record),
                    None,
                    format!(
                        "the entries hash to root {}, the checkpoint states {}: an entry was altered, swapped, added or left out",
                        self.frontier.root(),
                        cp.root()
                    ),
                ));
            }
        }
        let Some((size, root)) = self.trusted else {
            if !self.consistency.is_empty() {
                self.report.notes.push(
                    "consistency proofs were not checked: no checkpoint was trusted before".into(),
                );
            }
            return;
        };
        let already_refused = self
            .report
            .problems
            .iter()
            .any(|p| matches!(p.kind, ProblemKind::Forked | ProblemKind::RolledBack));
        if cp.size() <= size || self.consistent.is_some() || already_refused {
            return;
        }
        let proof = self
            .consistency
            .iter()
            .find(|(_, c)| c.old_size == size)
            .map(|(r, c)| (*r, c.proof.clone()));
        match proof {
            Some((r, p)) => match verify_consistency(size, cp.size(), &root, cp.root(), &p) {
                Ok(()) => self.consistent = Some(format!("consistency proof in record {r}")),
                Err(e) => self.problem(Problem::new(
                    ProblemKind::Forked,
                    Some(r),
                    None,
                    format!("the checkpoint is not consistent with the trusted checkpoint of size {size}: {e}: the log forked"),
                )),
            },
            None => self.problem(Problem::new(
                ProblemKind::Forked,
                Some(record),
                None,
                format!(
                    "nothing shows the checkpoint extends the trusted one of size {size}: \
                     ask the server for a bundle with a consistency proof from size {size}"
                ),
            )),
        }
    }

    fn check_equivocations(&mut self) {
        for (record, q) in std::mem::take(&mut self.equivocations) {
            match q.verify() {
                Ok(()) => {
                    let h = &q.a.header;
                    let enrolled = self.ledger.as_ref().and_then(|l| match &h.chain {
                        ChainId::Regulator => l.keys().regulator_key().copied(),
                        ChainId::Site(s) => l
                            .keys()
                            .record(s, &h.device, h.key_epoch)
                            .map(|k| k.public_key),
                    });
                    self.report.equivocations.push(EquivocationSummary {
                        record,
                        chain: h.chain.to_string(),
                        device: h.device.to_string(),
                        counter: q.counter(),
                        key_enrolled: enrolled == Some(q.public_key),
                    });
                }
                Err(e) => self.problem(Problem {
                    chain: Some(q.a.header.chain.to_string()),
                    counter: Some(q.counter()),
                    ..Problem::new(
                        ProblemKind::Equivocation,
                        Some(record),
                        None,
                        format!("the equivocation proof does not hold: {e}"),
                    )
                }),
            }
        }
    }

    fn summarise(&mut self) {
        self.report.chains = self.chains.values().cloned().collect();
        self.report.server_findings = self.server_findings.len() as u64;
        let Some(ledger) = &self.ledger else {
            return;
        };
        let mut findings = ledger.engine().findings().to_vec();
        if let Some(d) = &self.dossier {
            self.report.dossier = Some(d.summary());
        } else {
            let now = self
                .opts
                .now
                .or(self.meta.as_ref().map(|m| m.created_at))
                .unwrap_or_default();
            self.report.alerts = alerts(ledger.engine().state(), now, &AlertPolicy::default());
        }
        findings.append(&mut self.report.findings);
        let ours: std::collections::HashSet<(Hash, &'static str)> =
            findings.iter().map(|f| (f.entry, f.rule.name())).collect();
        for f in &self.server_findings {
            if !ours.iter().any(|(e, r)| *e == f.entry && *r == f.rule) {
                self.report.notes.push(format!(
                    "the server's finding {} on {} counter {} was not reproduced",
                    f.rule, f.chain, f.counter
                ));
            }
        }
        self.report.findings = findings;
    }

    /// Records the checkpoint as trusted (only called for authentic bundles).
    fn remember(&mut self) -> Result<(), BundleError> {
        let (Some(path), Some(state), Some(o)) =
            (&self.opts.state_path, self.state.as_mut(), &self.opened)
        else {
            return Ok(());
        };
        self.report.state.consistency = self.consistent.clone();
        let newer = self
            .trusted
            .is_none_or(|(size, _)| o.checkpoint.size() >= size);
        if newer {
            state.logs.insert(
                o.checkpoint.origin().to_owned(),
                TrustedLog {
                    size: o.checkpoint.size(),
                    root: o.checkpoint.root().to_string(),
                    log_key: o.key.to_string(),
                    checkpoint: o.note.clone(),
                },
            );
            state.save(path)?;
            self.report.state.updated = true;
        }
        Ok(())
    }
}
