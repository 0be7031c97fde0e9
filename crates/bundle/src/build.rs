//! Building bundles from a log held in memory (tests, benchmarks, examples).
//! The server writes bundles from its store with the same [`BundleWriter`].

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::sync::Arc;

use armsledger_core::event::{Event, RegulatorEvent};
use armsledger_core::ids::{CompanyId, SiteId, Timestamp};
use armsledger_core::{ChainId, Equivocation, Hash, SignedEntry};
use armsledger_log::{
    EntryLeaf, Frontier, Hash as LogHash, LogKey, SignedCheckpoint, prove_consistency,
    prove_inclusion, tree_root,
};

use crate::error::BundleError;
use crate::format::{Meta, Scope, ServerFinding};
use crate::writer::BundleWriter;

/// A global log in memory: entries in log order, their receipt times, and
/// every stored hash of the tree (so any proof at any size can be made);
/// with the findings and equivocation proofs a server would keep.
#[derive(Clone, Debug, Default)]
pub struct MemoryLog {
    entries: Vec<Arc<SignedEntry>>,
    received: Vec<Option<Timestamp>>,
    stored: Vec<LogHash>,
    frontier: Frontier,
    /// Log index of the entry whose acceptance raised them → findings.
    findings: BTreeMap<u64, Vec<ServerFinding>>,
    /// Log index of the entry holding the counter → its equivocation proof.
    equivocations: BTreeMap<u64, Equivocation>,
}

impl MemoryLog {
    /// An empty log.
    pub fn new() -> Self {
        MemoryLog::default()
    }

    /// A log of `entries`, in order, with no receipt times.
    pub fn from_entries(
        entries: impl IntoIterator<Item = Arc<SignedEntry>>,
    ) -> Result<Self, BundleError> {
        let mut log = MemoryLog::new();
        for e in entries {
            log.push(e, None)?;
        }
        Ok(log)
    }

    /// Appends an entry; returns its log index.
    pub fn push(
        &mut self,
        entry: Arc<SignedEntry>,
        received_at: Option<Timestamp>,
    ) -> Result<u64, BundleError> {
        let index = self.frontier.size();
        let leaf = EntryLeaf::new(received_at.map_or(0, Timestamp::millis), entry.bytes());
        let appended = self.frontier.append(leaf.hash())?;
        self.stored.extend(appended.hashes);
        self.entries.push(entry);
        self.received.push(received_at);
        Ok(index)
    }

    /// Keeps a finding the server raised when it accepted entry `index`
    /// (written after that entry, when the entry it names is in the bundle).
    pub fn add_finding(&mut self, index: u64, finding: ServerFinding) {
        self.findings.entry(index).or_default().push(finding);
    }

    /// Keeps the proof that the key of entry `index` signed another entry
    /// at its counter (written after that entry).
    pub fn add_equivocation(&mut self, index: u64, proof: Equivocation) {
        self.equivocations.insert(index, proof);
    }

    /// Number of entries.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// The entries, in log order.
    pub fn entries(&self) -> &[Arc<SignedEntry>] {
        &self.entries
    }

    /// The tree root at `size`.
    pub fn root_at(&self, size: u64) -> Result<LogHash, BundleError> {
        Ok(tree_root(&self.stored, size)?)
    }

    /// A checkpoint of the first `size` entries signed with `key`.
    pub fn checkpoint(&self, key: &LogKey, size: u64) -> Result<SignedCheckpoint, BundleError> {
        Ok(key.sign_checkpoint(size, &self.root_at(size)?)?)
    }

    /// The verifiable index's root over the first `size` entries (docs/log.md
    /// section 11), as the server's store computes it.
    pub fn index_root_at(&self, size: u64) -> Result<armsledger_core::Hash, BundleError> {
        let mut map = armsledger_index::MemStore::default();
        let n = usize::try_from(size).unwrap_or(usize::MAX);
        armsledger_index::apply(
            &mut map,
            (0u64..).zip(self.entries.iter().take(n).map(|e| &**e)),
        )
        .and_then(|_| armsledger_index::root_hash(&map))
        .map_err(|e| BundleError::Index(e.to_string()))
    }

    /// [`Self::checkpoint`] with the index line, as the server signs them.
    pub fn checkpoint_indexed(
        &self,
        key: &LogKey,
        size: u64,
    ) -> Result<SignedCheckpoint, BundleError> {
        let index = LogHash(self.index_root_at(size)?.0);
        Ok(key.sign_checkpoint_indexed(size, &self.root_at(size)?, Some(&index))?)
    }

    /// The inclusion proof of entry `index` in the tree of `size`.
    pub fn inclusion(&self, index: u64, size: u64) -> Result<Vec<LogHash>, BundleError> {
        Ok(prove_inclusion(&self.stored, index, size)?)
    }

    /// The consistency proof from `old` to `new`.
    pub fn consistency(&self, old: u64, new: u64) -> Result<Vec<LogHash>, BundleError> {
        Ok(prove_consistency(&self.stored, old, new)?)
    }

    /// The company each site was registered to, from the regulator chain.
    fn companies(&self) -> BTreeMap<SiteId, CompanyId> {
        let mut out = BTreeMap::new();
        for e in &self.entries {
            if let Event::Regulator(RegulatorEvent::SiteRegistered { site, company, .. }) =
                &e.body().event
            {
                out.insert(site.clone(), company.clone());
            }
        }
        out
    }
}

/// Keys and parameters of a bundle to build.
#[derive(Debug)]
pub struct BundleSpec<'a> {
    /// The log key that signs the checkpoint (its name is the origin).
    pub log_key: &'a LogKey,
    /// The regulator's public key.
    pub regulator_key: [u8; 32],
    /// Manufacturer roots for enrolment checks.
    pub manufacturer_roots: Vec<[u8; 32]>,
    /// When the bundle is written.
    pub created_at: Timestamp,
    /// Checkpoint size; `None` for the whole log.
    pub size: Option<u64>,
    /// Older sizes to include consistency proofs from.
    pub consistency_from: Vec<u64>,
}

impl<'a> BundleSpec<'a> {
    /// A spec for the whole log, no consistency proofs.
    pub fn new(log_key: &'a LogKey, regulator_key: [u8; 32], created_at: Timestamp) -> Self {
        BundleSpec {
            log_key,
            regulator_key,
            manufacturer_roots: Vec::new(),
            created_at,
            size: None,
            consistency_from: Vec::new(),
        }
    }

    fn meta(&self, scope: Scope) -> Meta {
        Meta {
            origin: self.log_key.name().to_owned(),
            log_key: self.log_key.verifier().to_string(),
            regulator_key: self.regulator_key,
            manufacturer_roots: self.manufacturer_roots.clone(),
            scope,
            created_at: self.created_at,
        }
    }
}

/// Writes a bundle of `log` for `scope` to `out`: every entry for
/// [`Scope::All`]; otherwise the regulator chain and the entries in scope,
/// each with its inclusion proof. After each entry come the findings its
/// acceptance raised about entries of the bundle, and its equivocation proof.
pub fn write_bundle<W: Write>(
    log: &MemoryLog,
    spec: &BundleSpec<'_>,
    scope: Scope,
    out: W,
) -> Result<W, BundleError> {
    let size = spec.size.unwrap_or(log.size());
    let checkpoint = log.checkpoint(spec.log_key, size)?;
    let mut w = BundleWriter::new(out, &spec.meta(scope.clone()))?;
    w.checkpoint(checkpoint.note())?;
    for old in &spec.consistency_from {
        w.consistency(*old, &log.consistency(*old, size)?)?;
    }
    let companies = log.companies();
    let wanted = |e: &SignedEntry| match (&scope, e.chain()) {
        (Scope::All, _) | (_, ChainId::Regulator) => true,
        (Scope::Site(s), ChainId::Site(site)) => s == site,
        (Scope::Company(c), ChainId::Site(site)) => companies.get(site) == Some(c),
        // The weapon's history and the counts that saw it, as the server writes a dossier.
        (Scope::Firearm(id), ChainId::Site(_)) => armsledger_core::report::concerns_firearm(e, id),
        // The lot's acts and the counts that saw it, as the server writes a lot dossier.
        (Scope::Lot(id), ChainId::Site(_)) => armsledger_core::report::concerns_lot(e, id),
    };
    let upto = usize::try_from(size).unwrap_or(usize::MAX);
    let included: HashSet<Hash> = log
        .entries
        .iter()
        .take(upto)
        .filter(|e| wanted(e))
        .map(|e| e.hash())
        .collect();
    for (i, (e, received)) in log.entries.iter().zip(&log.received).take(upto).enumerate() {
        if !wanted(e) {
            continue;
        }
        let index = i as u64;
        w.entry(index, *received, e.bytes())?;
        if scope.is_scoped() {
            w.inclusion(index, &log.inclusion(index, size)?)?;
        }
        for f in log.findings.get(&index).into_iter().flatten() {
            if included.contains(&f.entry) {
                w.finding(f)?;
            }
        }
        if let Some(q) = log.equivocations.get(&index) {
            w.equivocation(q)?;
        }
    }
    w.finish()
}

/// A full bundle of `entries` in memory, the checkpoint signed with `log_key`.
pub fn full_bundle(
    entries: &[Arc<SignedEntry>],
    log_key: &LogKey,
    regulator_key: [u8; 32],
    created_at: Timestamp,
) -> Result<Vec<u8>, BundleError> {
    let log = MemoryLog::from_entries(entries.iter().cloned())?;
    write_bundle(
        &log,
        &BundleSpec::new(log_key, regulator_key, created_at),
        Scope::All,
        Vec::new(),
    )
}
