//! One chunk of entries: parallel decoding, hashing and signatures
//! ([`prepare`]), then the sequential, log-ordered checks ([`Run::apply`]).

use std::sync::Arc;

use rayon::prelude::*;

use armsledger_core::entry::EntryError;
use armsledger_core::event::{Event, SiteEvent};
use armsledger_core::ids::Timestamp;
use armsledger_core::rules::Finding;
use armsledger_core::sig::batch::{self as signatures, SigItem, SignatureStats};
use armsledger_core::{ChainId, KeyRegistry, SignedEntry};
use armsledger_log::{Hash as LogHash, verify_inclusion};

use crate::format::{EntryRecord, Scope};
use crate::report::{ChainSummary, Completeness, Problem, ProblemKind};

use super::Run;
use super::annotate::{Annotation, Applied};

/// An entry record waiting for its chunk.
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) record: u64,
    offset: u64,
    pub(crate) index: u64,
    received_at: Option<Timestamp>,
    bytes: Vec<u8>,
    /// (record number, proof) of its inclusion proof.
    pub(crate) inclusion: Option<(u64, Vec<LogHash>)>,
    /// The server's records that follow it.
    pub(crate) annotations: Vec<Annotation>,
}

impl Pending {
    pub(crate) fn new(record: u64, offset: u64, e: EntryRecord) -> Self {
        Pending {
            record,
            offset,
            index: e.index,
            received_at: e.received_at,
            bytes: e.bytes,
            inclusion: None,
            annotations: Vec::new(),
        }
    }

    /// The entry's log leaf hash: `received_at ‖ entry` (leaf format v2).
    fn leaf(&self) -> LogHash {
        armsledger_log::EntryLeaf::new(self.received_at.map_or(0, Timestamp::millis), &self.bytes)
            .hash()
    }

    /// Whether record number `r` comes right after this entry.
    pub(crate) fn follows(&self, r: u64) -> bool {
        self.record.checked_add(1) == Some(r)
    }
}

/// Signatures per batch equation in a chunk's signature check: the widest
/// that still gives each core several equations of a chunk (measured best
/// at 1,024–2,048 on 2 cores, docs/performance.md section 2).
const WIDTH: usize = 2048;

/// What the parallel stage learns about one entry.
struct Decoded {
    entry: Result<SignedEntry, EntryError>,
    leaf: LogHash,
    /// The entry's chain, as named in problems and the report.
    chain: String,
}

/// One chunk after its parallel stage, ready for the sequential pass.
pub(crate) struct Prepared {
    pending: Vec<Pending>,
    decoded: Vec<Decoded>,
    /// The key each entry was checked with, resolved speculatively.
    keys: Vec<Option<[u8; 32]>>,
    /// Each entry's signature verdict, if it was checked.
    verdicts: Vec<Option<bool>>,
    stats: SignatureStats,
}

/// The parallel stage of one chunk: decoding, leaf hashes and signatures, on
/// all cores.
///
/// The key each entry needs depends on the regulator entries before it,
/// possibly in this chunk: `spec` resolves them speculatively, assuming those
/// entries verify, and is advanced past this chunk's regulator entries. The
/// sequential pass re-checks each key against the real registry and decides
/// with `verify_strict` wherever the speculation was wrong.
pub(crate) fn prepare(mut pending: Vec<Pending>, spec: &mut KeyRegistry) -> Prepared {
    // Each entry's bytes are freed here once decoded, on the pool rather
    // than in the sequential pass.
    let (decoded, messages): (Vec<Decoded>, Vec<Vec<u8>>) = pending
        .par_iter_mut()
        .map(|p| {
            let entry = SignedEntry::decode(&p.bytes);
            let leaf = p.leaf();
            p.bytes = Vec::new();
            let (chain, message) = match &entry {
                Ok(e) => (e.chain().to_string(), e.signed_message()),
                Err(_) => (String::new(), Vec::new()),
            };
            (Decoded { entry, leaf, chain }, message)
        })
        .unzip();
    let mut keys: Vec<Option<[u8; 32]>> = Vec::with_capacity(decoded.len());
    for d in &decoded {
        match &d.entry {
            Ok(e) => {
                keys.push(spec.key_for(e.header()).ok());
                if let (ChainId::Regulator, Event::Regulator(ev)) = (e.chain(), &e.body().event) {
                    spec.apply(ev);
                }
            }
            Err(_) => keys.push(None),
        }
    }
    let mut item_of: Vec<Option<usize>> = Vec::with_capacity(decoded.len());
    let mut items: Vec<SigItem<'_>> = Vec::with_capacity(decoded.len());
    for ((d, key), message) in decoded.iter().zip(&keys).zip(&messages) {
        match (&d.entry, key) {
            (Ok(e), Some(k)) => {
                item_of.push(Some(items.len()));
                items.push(SigItem {
                    key: *k,
                    message,
                    signature: e.signature().0,
                });
            }
            _ => item_of.push(None),
        }
    }
    let (checked, stats) = signatures::verify_all_in_batches(&items, WIDTH);
    let verdicts = item_of
        .into_iter()
        .map(|i| i.and_then(|i| checked.get(i).copied()))
        .collect();
    Prepared {
        pending,
        decoded,
        keys,
        verdicts,
        stats,
    }
}

impl Run<'_> {
    /// The sequential pass of a prepared chunk, in log order.
    pub(super) fn apply(&mut self, chunk: Prepared) {
        let s = &mut self.report.signatures;
        s.checked += chunk.stats.checked;
        s.batched += chunk.stats.batched;
        s.batch_failures += chunk.stats.batch_failures;
        s.strict += chunk.stats.strict;

        let entries = chunk
            .pending
            .into_iter()
            .zip(chunk.decoded)
            .zip(chunk.keys)
            .zip(chunk.verdicts);
        for (((p, d), spec_key), verdict) in entries {
            self.one(p, d, spec_key, verdict);
        }
        if let Some(cb) = &self.opts.progress {
            let total = (!self.scoped())
                .then(|| self.opened.as_ref().map(|o| o.checkpoint.size()))
                .flatten();
            cb(self.report.entries, total);
        }
    }

    fn one(
        &mut self,
        mut p: Pending,
        d: Decoded,
        spec_key: Option<[u8; 32]>,
        verdict: Option<bool>,
    ) {
        let annotations = std::mem::take(&mut p.annotations);
        let last_read = self.last_entry == Some(p.record);
        // What server records need of the entry is kept only when some
        // follow it, or may still (it is the last entry read).
        let need = !annotations.is_empty() || last_read;
        match self.entry(p, d, spec_key, verdict, need) {
            Ok(Some(mut ctx)) => {
                for a in annotations {
                    self.check_annotation(a, &mut ctx);
                }
                if last_read {
                    self.applied = Some(ctx);
                }
            }
            Ok(None) => {}
            Err(()) => self.report.server.unchecked += annotations.len() as u64,
        }
    }

    /// Checks and applies one entry. `Err` if it failed (a problem is
    /// listed); else what its server records need, if `need`.
    fn entry(
        &mut self,
        p: Pending,
        d: Decoded,
        spec_key: Option<[u8; 32]>,
        verdict: Option<bool>,
        need: bool,
    ) -> Result<Option<Applied>, ()> {
        self.report.entries += 1;
        let ident = d.entry.as_ref().ok().map(|e| (e.counter(), e.hash()));
        let chain = d.chain;
        let about = |kind, reason: String| Problem {
            log_index: Some(p.index),
            chain: ident.map(|_| chain.clone()),
            counter: ident.map(|i| i.0),
            entry: ident.map(|i| i.1),
            ..Problem::new(kind, Some(p.record), Some(p.offset), reason)
        };
        self.place(&p, d.leaf, &about);
        let entry = match d.entry {
            Ok(e) => e,
            Err(e) => {
                self.problem(about(ProblemKind::Entry, format!("not a valid entry: {e}")));
                return Err(());
            }
        };
        // A transfer-out from a site outside the scope, addressed to one
        // inside: the received weapon's history continues from it.
        let foreign = match self.outside_scope(&entry) {
            Some(_) if self.addressed_into_scope(&entry) => true,
            Some(reason) => {
                self.problem(about(ProblemKind::Index, reason));
                return Err(());
            }
            None => false,
        };
        let full = !self.scoped();
        let ledger = self.ledger.as_mut().ok_or(())?;
        let key = match ledger.keys().key_for(entry.header()) {
            Ok(k) => k,
            Err(e) => {
                self.problem(about(ProblemKind::Chain, e.to_string()));
                return Err(());
            }
        };
        let sig_ok = match verdict {
            Some(v) if spec_key == Some(key) => v,
            _ => signatures::verify_one(&SigItem {
                key,
                message: &entry.signed_message(),
                signature: entry.signature().0,
            }),
        };
        if !sig_ok {
            self.problem(about(
                ProblemKind::Signature,
                "the signature does not verify (verify_strict) with the key the regulator chain gives for this counter".into(),
            ));
            return Err(());
        }
        let entry = Arc::new(entry);
        if full {
            self.index.push(p.index, entry.clone());
        }
        let dossier_entry = self.dossier.is_some() && matches!(entry.chain(), ChainId::Site(_));
        let outcome: Result<Vec<Finding>, (ProblemKind, String)> = if dossier_entry {
            match self.dossier.as_mut().map(|d| d.check(&entry, p.record)) {
                Some(Ok(Some(f))) => {
                    self.report.findings.push(f.clone());
                    Ok(vec![f])
                }
                Some(Err(reason)) => Err((ProblemKind::Dossier, reason)),
                _ => Ok(Vec::new()),
            }
        } else if foreign {
            // Its sender's chain is not in the bundle: key and signature are
            // checked, the chain position is not; its links are recorded so
            // the receiving site's entries continue the weapon's history.
            ledger
                .ingest_foreign(entry.clone(), p.received_at)
                .map(<[Finding]>::to_vec)
                .map_err(|e| (ProblemKind::Chain, e.to_string()))
        } else if !full && entry.chain() == &ChainId::Regulator {
            // A scoped bundle carries the regulator entries its reader may
            // see (need to know, issue 17), not always the whole chain: each
            // is proven by its inclusion proof and signature, not its place.
            ledger
                .ingest_scoped_checked(entry.clone(), p.received_at)
                .map(<[Finding]>::to_vec)
                .map_err(|e| (ProblemKind::Chain, e.to_string()))
        } else {
            ledger
                .ingest_checked(entry.clone(), p.received_at)
                .map(<[Finding]>::to_vec)
                .map_err(|e| (ProblemKind::Chain, e.to_string()))
        };
        match outcome {
            Ok(raised) if foreign => {
                self.report.entries_checked += 1;
                self.entry_hashes.insert(entry.hash());
                Ok(need.then(|| {
                    Applied::new(p.record, entry.header(), entry.hash(), key, &raised, false)
                }))
            }
            Ok(raised) => {
                self.report.entries_checked += 1;
                self.entry_hashes.insert(entry.hash());
                let c = match self.chains.get_mut(&chain) {
                    Some(c) => c,
                    None => self
                        .chains
                        .entry(chain.clone())
                        .or_insert_with(|| ChainSummary {
                            chain: chain.clone(),
                            entries: 0,
                            head_counter: None,
                            head: None,
                            completeness: Completeness::NoGapsEndUnproven,
                        }),
                };
                c.entries += 1;
                c.head_counter = Some(entry.counter());
                c.head = Some(entry.hash());
                Ok(need.then(|| {
                    Applied::new(
                        p.record,
                        entry.header(),
                        entry.hash(),
                        key,
                        &raised,
                        !dossier_entry,
                    )
                }))
            }
            Err((kind, reason)) => {
                self.problem(about(kind, reason));
                Err(())
            }
        }
    }

    /// Log index, Merkle tree (full bundles) or inclusion proof (scoped).
    fn place(&mut self, p: &Pending, leaf: LogHash, at: &dyn Fn(ProblemKind, String) -> Problem) {
        let cp = self
            .opened
            .as_ref()
            .map(|o| (o.checkpoint.size(), *o.checkpoint.root()));
        if !self.scoped() {
            if p.index != self.frontier.size() {
                self.problem(at(
                    ProblemKind::Index,
                    format!(
                        "log index {} where a full bundle needs {}",
                        p.index,
                        self.frontier.size()
                    ),
                ));
            }
            if self.frontier.append(leaf).is_err() {
                self.problem(at(
                    ProblemKind::Index,
                    "the log is over its maximum size".into(),
                ));
            }
            if let Some((size, root)) = self.trusted.filter(|(s, _)| *s == self.frontier.size())
                && self.consistent.is_none()
                && cp.is_some_and(|(cp_size, _)| cp_size > size)
            {
                if self.frontier.root() == root {
                    self.consistent =
                        Some(format!("the first {size} entries hash to the trusted root"));
                } else {
                    self.problem(at(
                        ProblemKind::Forked,
                        format!(
                            "the first {size} entries hash to {}, not to the trusted root {root}: the log forked",
                            self.frontier.root()
                        ),
                    ));
                }
            }
            return;
        }
        if self.last_index.is_some_and(|l| p.index <= l) {
            self.problem(at(
                ProblemKind::Index,
                "log indexes must increase through a scoped bundle".into(),
            ));
        }
        self.last_index = Some(p.index);
        match (&p.inclusion, cp) {
            (None, _) => self.problem(at(
                ProblemKind::Inclusion,
                "no inclusion proof follows this entry".into(),
            )),
            (Some((r, proof)), Some((cp_size, cp_root))) => {
                if let Err(e) = verify_inclusion(&leaf, p.index, cp_size, proof, &cp_root) {
                    self.problem(at(
                        ProblemKind::Inclusion,
                        format!(
                            "its inclusion proof (record {r}) does not place this entry at index {} in the checkpoint of size {}: {e}",
                            p.index,
                            cp_size
                        ),
                    ));
                }
            }
            (Some(_), None) => {}
        }
    }

    /// Whether `entry` is a transfer-out addressed to a site whose chain
    /// the bundle holds (site and company scopes).
    fn addressed_into_scope(&self, entry: &SignedEntry) -> bool {
        let Event::Site(SiteEvent::TransferredOut { to_site, .. }) = &entry.body().event else {
            return false;
        };
        match self.scope() {
            Scope::Site(s) => s == *to_site,
            Scope::Company(c) => self
                .ledger
                .as_ref()
                .and_then(|l| l.engine().state().company_of(to_site).cloned())
                .is_some_and(|owner| owner == c),
            Scope::All | Scope::Firearm(_) | Scope::Lot(_) => false,
        }
    }

    /// Why a decoded entry does not belong in this bundle's scope, if it does not.
    fn outside_scope(&self, entry: &SignedEntry) -> Option<String> {
        let ChainId::Site(site) = entry.chain() else {
            return None;
        };
        match self.scope() {
            Scope::All | Scope::Firearm(_) | Scope::Lot(_) => None,
            Scope::Site(s) => (s != *site)
                .then(|| format!("{} is outside the bundle's scope site:{s}", entry.chain())),
            Scope::Company(c) => {
                let owner = self
                    .ledger
                    .as_ref()
                    .and_then(|l| l.engine().state().company_of(site).cloned());
                (owner.as_ref() != Some(&c)).then(|| {
                    format!(
                        "{} is outside the bundle's scope company:{c}",
                        entry.chain()
                    )
                })
            }
        }
    }
}
