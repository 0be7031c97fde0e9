//! The one verification pipeline the server, the site and the offline
//! verifier share: key and signature, chain position, subject links, then the
//! rules. An entry that fails any authenticity check changes nothing.

use std::collections::HashMap;
use std::sync::Arc;

use crate::chain::{
    ChainCursor, ChainError, Head, LinkVerdict, SubjectTracker, check_key_and_signature,
};
use crate::entry::{ChainId, SignedEntry};
use crate::event::{Event, RegulatorEvent};
use crate::hash::Hash;
use crate::ids::Timestamp;
use crate::keys::KeyRegistry;
use crate::rules::{Engine, Finding, RuleId, View};

/// Verifies entries of every chain, in log order, and folds them.
#[derive(Clone, Debug)]
pub struct LedgerVerifier {
    keys: KeyRegistry,
    manufacturer_roots: Vec<[u8; 32]>,
    cursors: HashMap<ChainId, ChainCursor>,
    tracker: SubjectTracker,
    engine: Engine,
}

impl LedgerVerifier {
    /// A verifier trusting `regulator_key` for the regulator chain and, when
    /// given, checking every device enrolment against `manufacturer_roots`.
    pub fn new(regulator_key: [u8; 32], manufacturer_roots: Vec<[u8; 32]>, view: View) -> Self {
        LedgerVerifier {
            keys: KeyRegistry::new(regulator_key),
            manufacturer_roots,
            cursors: HashMap::new(),
            tracker: SubjectTracker::default(),
            engine: Engine::new(view),
        }
    }

    /// Its parts, for [`Self::encode_state`].
    #[allow(clippy::type_complexity)]
    pub(crate) fn parts(
        &self,
    ) -> (
        &KeyRegistry,
        &[[u8; 32]],
        &HashMap<ChainId, ChainCursor>,
        &SubjectTracker,
        &Engine,
    ) {
        (
            &self.keys,
            &self.manufacturer_roots,
            &self.cursors,
            &self.tracker,
            &self.engine,
        )
    }

    /// A verifier from decoded parts, for [`Self::decode_state`].
    pub(crate) fn from_parts(
        keys: KeyRegistry,
        manufacturer_roots: Vec<[u8; 32]>,
        cursors: HashMap<ChainId, ChainCursor>,
        tracker: SubjectTracker,
        engine: Engine,
    ) -> Self {
        LedgerVerifier {
            keys,
            manufacturer_roots,
            cursors,
            tracker,
            engine,
        }
    }

    /// The key registry built so far.
    pub fn keys(&self) -> &KeyRegistry {
        &self.keys
    }

    /// A decoded state's first `n` entries, kept in `source`.
    pub(crate) fn stored_in(&mut self, n: u64, source: Arc<dyn crate::rules::HistorySource>) {
        self.use_lookup(crate::rules::Lookup::new(source), Some(n));
    }

    /// The rules engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The rules engine, the rest dropped (an earlier state a correction
    /// refolds from: [`crate::rules::HistorySource::earlier_state`]).
    pub fn into_engine(self) -> Engine {
        self.engine
    }

    /// The entries applied, from now on read back from `source` (a
    /// server's log) instead of held: the engine's history, every entry's
    /// kind and place, every subject's events. Those applied so far stay
    /// in memory until [`Self::history_committed`].
    pub fn read_history_from(&mut self, source: Arc<dyn crate::rules::HistorySource>) {
        self.use_lookup(crate::rules::Lookup::new(source), None);
    }

    fn use_lookup(&mut self, lookup: crate::rules::Lookup, stored: Option<u64>) {
        self.tracker.set_lookup(lookup.clone());
        match stored {
            Some(n) => self.engine.set_stored(n, lookup),
            None => self.engine.read_history_from(lookup),
        }
    }

    /// Every entry applied so far is in the history source now: none of
    /// them is held in memory any longer (nothing changes without a source).
    pub fn history_committed(&mut self) {
        self.engine.history_committed();
        self.tracker.committed();
    }

    /// A failed read of the history source that left the state wrong
    /// ([`Engine::take_history_fault`]); taken.
    pub fn take_history_fault(&mut self) -> Option<crate::rules::HistoryError> {
        self.engine.take_history_fault()
    }

    /// Whether a read of the history source failed and the state must be
    /// rebuilt from the log.
    pub fn history_faulted(&self) -> bool {
        self.engine.history_faulted()
    }

    /// The subject tracker (what the next link for a firearm or lot must be).
    pub fn tracker(&self) -> &SubjectTracker {
        &self.tracker
    }

    /// Head of a chain.
    pub fn head(&self, chain: &ChainId) -> Option<&Head> {
        self.cursors.get(chain).and_then(|c| c.head())
    }

    /// All chains seen and their heads.
    pub fn heads(&self) -> impl Iterator<Item = (&ChainId, Option<&Head>)> {
        self.cursors.iter().map(|(c, k)| (c, k.head()))
    }

    /// Checks everything but the signature (use when signatures were already
    /// checked in a parallel batch). Returns the subject-link verdicts.
    pub fn check_position(&self, entry: &SignedEntry) -> Result<Vec<LinkVerdict>, ChainError> {
        let chain = entry.chain();
        match self.cursors.get(chain) {
            Some(c) => c.check(entry)?,
            None => ChainCursor::new(chain.clone()).check(entry)?,
        }
        self.keys.key_for(entry.header())?;
        self.check_enrolment(&self.keys, entry)?;
        match chain {
            ChainId::Site(site) => self.tracker.check(site, entry),
            ChainId::Regulator => Ok(Vec::new()),
        }
    }

    /// Checks a batch as a whole without changing anything: each entry in
    /// order, as if the ones before it in the batch were already applied.
    /// `signature_checked[i]` says the caller already ran `verify_strict` on
    /// entry `i` with the key [`KeyRegistry::key_for`] gives; others are
    /// checked here. Returns the first failing entry's position and reason.
    ///
    /// What passed is handed to [`Self::apply_checked`], which applies the
    /// batch without checking it again.
    pub fn check_batch(
        &self,
        entries: &[Arc<SignedEntry>],
        signature_checked: &[bool],
    ) -> Result<CheckedBatch, (usize, ChainError)> {
        let mut links = Vec::with_capacity(entries.len());
        let mut cursors: HashMap<ChainId, ChainCursor> = HashMap::new();
        let mut keys: Option<KeyRegistry> = None;
        let mut overlay = SubjectTracker::default();
        for (i, e) in entries.iter().enumerate() {
            let fail = |err| (i, err);
            let chain = e.chain().clone();
            let cursor = cursors.entry(chain.clone()).or_insert_with(|| {
                self.cursors
                    .get(&chain)
                    .cloned()
                    .unwrap_or_else(|| ChainCursor::new(chain.clone()))
            });
            let reg = keys.as_ref().unwrap_or(&self.keys);
            if signature_checked.get(i).copied().unwrap_or(false) {
                reg.key_for(e.header()).map_err(fail)?;
            } else {
                check_key_and_signature(e, reg).map_err(fail)?;
            }
            cursor.check(e).map_err(fail)?;
            self.check_enrolment(reg, e).map_err(fail)?;
            match &chain {
                ChainId::Site(site) => {
                    links.push(self.tracker.check_over(&overlay, site, e).map_err(fail)?);
                    overlay.record(site, e);
                }
                ChainId::Regulator => {
                    links.push(Vec::new());
                    if let Event::Regulator(ev) = &e.body().event {
                        keys.get_or_insert_with(|| self.keys.clone()).apply(ev);
                    }
                }
            }
            cursor.advance(e).map_err(fail)?;
        }
        Ok(CheckedBatch {
            hashes: entries.iter().map(|e| e.hash()).collect(),
            links,
        })
    }

    /// Applies a batch [`Self::check_batch`] passed on this verifier, in
    /// order, without checking it again: the same state and findings as
    /// [`Self::ingest_checked`] on each entry (the batch check saw each
    /// entry as if the ones before it were applied, which is what this
    /// does). Nothing may be applied between the check and this call; as a
    /// guard, each entry's link to its chain's head is checked again (a
    /// comparison of hashes and counters), and `entries` must be the
    /// checked ones. `received_at(i)` is entry `i`'s receipt time. Returns
    /// each entry's findings; on a guard's failure, the entries before the
    /// failing one stay applied.
    pub fn apply_checked(
        &mut self,
        checked: CheckedBatch,
        entries: &[Arc<SignedEntry>],
        received_at: impl Fn(usize) -> Option<Timestamp>,
    ) -> Result<Vec<Vec<Finding>>, (usize, ChainError)> {
        if checked.hashes.len() != entries.len()
            || checked
                .hashes
                .iter()
                .zip(entries)
                .any(|(h, e)| *h != e.hash())
        {
            return Err((
                0,
                ChainError::Undecodable("not the batch that was checked".into()),
            ));
        }
        let mut out = Vec::with_capacity(entries.len());
        for (i, (e, links)) in entries.iter().zip(checked.links).enumerate() {
            let chain = e.chain();
            let head = self.cursors.get(chain).and_then(|c| c.head());
            let (prev_hash, prev_counter) = head.map_or((Hash::ZERO, 0), |h| (h.hash, h.counter));
            let h = e.header();
            if h.prev_hash != prev_hash {
                return Err((
                    i,
                    ChainError::BrokenLink {
                        expected: prev_hash,
                        found: h.prev_hash,
                    },
                ));
            }
            if h.prev_counter != prev_counter {
                return Err((
                    i,
                    ChainError::PrevCounterMismatch {
                        expected: prev_counter,
                        found: h.prev_counter,
                    },
                ));
            }
            let before = self.apply_unchecked(e.clone(), received_at(i), &links);
            out.push(self.engine.findings().get(before..).unwrap_or(&[]).to_vec());
        }
        Ok(out)
    }

    fn check_enrolment(&self, keys: &KeyRegistry, entry: &SignedEntry) -> Result<(), ChainError> {
        if let Event::Regulator(RegulatorEvent::DeviceKeyRetired { site, statement }) =
            &entry.body().event
        {
            let b = &statement.body;
            let enrolled = keys
                .record(site, &b.device, b.key_epoch)
                .is_some_and(|k| k.public_key == b.public_key);
            if statement.verify().is_err() || b.chain != ChainId::Site(site.clone()) || !enrolled {
                return Err(ChainError::BadRetirement);
            }
        }
        if let Event::Regulator(RegulatorEvent::DeviceKeyEnrolled {
            site,
            public_key,
            key_epoch,
            device,
            counter_start,
            certificate,
            attestation,
        }) = &entry.body().event
            && !self.manufacturer_roots.is_empty()
        {
            let ok = self
                .manufacturer_roots
                .iter()
                .any(|root| attestation.verify(certificate, root, None).is_ok());
            let b = &attestation.body;
            let matches = b.site_key == *public_key
                && b.chain == ChainId::Site(site.clone())
                && b.key_epoch == *key_epoch
                && &b.device == device
                && b.counter_start == *counter_start;
            if !ok || !matches {
                return Err(ChainError::BadEnrolment);
            }
        }
        Ok(())
    }

    /// A revocation or retirement reaches back: entries already applied that
    /// the key signed past its last valid counter are flagged.
    fn flag_after_key_end(&mut self, ev: &RegulatorEvent) {
        let (site, key, last) = match ev {
            RegulatorEvent::DeviceKeyRevoked {
                site,
                public_key,
                after_counter,
                ..
            } => (site, *public_key, *after_counter),
            RegulatorEvent::DeviceKeyRetired { site, statement } => (
                site,
                statement.body.public_key,
                statement.body.final_counter,
            ),
            _ => return,
        };
        let chain = ChainId::Site(site.clone());
        let keys = &self.keys;
        let evidence =
            format!("signed after counter {last}, where the regulator chain ends this key");
        self.engine
            .flag_chain_after(&chain, last, RuleId::SignedAfterKeyEnd, &evidence, |e| {
                let h = e.header();
                keys.record(site, &h.device, h.key_epoch)
                    .is_some_and(|k| k.public_key == key)
            });
    }

    /// Verifies `entry` fully (signature included) and applies it.
    pub fn ingest(
        &mut self,
        entry: Arc<SignedEntry>,
        received_at: Option<Timestamp>,
    ) -> Result<&[Finding], ChainError> {
        check_key_and_signature(&entry, &self.keys)?;
        self.ingest_checked(entry, received_at)
    }

    /// Verifies and applies an entry of a chain this verifier does not hold
    /// in full (a site's copy of a transfer-out addressed to it): key and
    /// signature are checked, the chain position is not. Its subject links
    /// are recorded so the receiving site can continue the weapon's history.
    pub fn ingest_foreign(
        &mut self,
        entry: Arc<SignedEntry>,
        received_at: Option<Timestamp>,
    ) -> Result<&[Finding], ChainError> {
        check_key_and_signature(&entry, &self.keys)?;
        let ChainId::Site(site) = entry.chain().clone() else {
            return Err(ChainError::WrongChain {
                expected: "a site chain".into(),
                found: entry.chain().to_string(),
            });
        };
        self.tracker.record(&site, &entry);
        Ok(self.engine.apply(entry, received_at, &[]))
    }

    /// Verifies and applies a regulator entry received without the whole
    /// regulator chain (a site's scoped pull, or a bundle scoped to a
    /// company or site, whose inclusion in the log the caller checked):
    /// key, signature and enrolment attestation are checked, the chain
    /// position is not, since the holder has only the entries in its scope.
    /// The server, which holds the whole chain, checks positions.
    pub fn ingest_scoped(
        &mut self,
        entry: Arc<SignedEntry>,
        received_at: Option<Timestamp>,
    ) -> Result<&[Finding], ChainError> {
        check_key_and_signature(&entry, &self.keys)?;
        self.ingest_scoped_checked(entry, received_at)
    }

    /// [`Self::ingest_scoped`] for an entry whose signature was already
    /// checked with `verify_strict` against [`KeyRegistry::key_for`].
    pub fn ingest_scoped_checked(
        &mut self,
        entry: Arc<SignedEntry>,
        received_at: Option<Timestamp>,
    ) -> Result<&[Finding], ChainError> {
        let wrong = || ChainError::WrongChain {
            expected: ChainId::Regulator.to_string(),
            found: entry.chain().to_string(),
        };
        let Event::Regulator(ev) = &entry.body().event else {
            return Err(wrong());
        };
        if entry.chain() != &ChainId::Regulator {
            return Err(wrong());
        }
        self.keys.key_for(entry.header())?;
        self.check_enrolment(&self.keys, &entry)?;
        self.keys.apply(ev);
        let before = self.engine.findings().len();
        self.engine.apply(entry.clone(), received_at, &[]);
        self.flag_after_key_end(ev);
        Ok(self.engine.findings().get(before..).unwrap_or(&[]))
    }

    /// Replaces the bar list the rules check recipients against (see
    /// [`Engine::set_bars`]).
    pub fn set_bars(
        &mut self,
        bars: impl IntoIterator<Item = (crate::ids::PersonId, Option<Timestamp>)>,
    ) {
        self.engine.set_bars(bars);
    }

    /// Applies an entry whose signature was already checked with
    /// `verify_strict` against [`KeyRegistry::key_for`].
    pub fn ingest_checked(
        &mut self,
        entry: Arc<SignedEntry>,
        received_at: Option<Timestamp>,
    ) -> Result<&[Finding], ChainError> {
        let links = self.check_position(&entry)?;
        let before = self.apply_unchecked(entry, received_at, &links);
        Ok(self.engine.findings().get(before..).unwrap_or(&[]))
    }

    /// Applies an entry whose every check passed, with its link verdicts;
    /// returns the number of findings before it.
    fn apply_unchecked(
        &mut self,
        entry: Arc<SignedEntry>,
        received_at: Option<Timestamp>,
        links: &[LinkVerdict],
    ) -> usize {
        let chain = entry.chain().clone();
        self.cursors
            .entry(chain.clone())
            .or_insert_with(|| ChainCursor::new(chain.clone()))
            .set_head(&entry);
        match &chain {
            ChainId::Site(site) => self.tracker.record(site, &entry),
            ChainId::Regulator => {
                if let Event::Regulator(ev) = &entry.body().event {
                    self.keys.apply(ev);
                }
            }
        }
        let before = self.engine.findings().len();
        self.engine.apply(entry.clone(), received_at, links);
        if let Event::Regulator(ev) = &entry.body().event {
            self.flag_after_key_end(ev);
        }
        before
    }
}

/// A batch [`LedgerVerifier::check_batch`] passed: each entry's subject-link
/// verdicts, for [`LedgerVerifier::apply_checked`].
#[derive(Debug)]
#[must_use = "apply it with LedgerVerifier::apply_checked"]
pub struct CheckedBatch {
    hashes: Vec<Hash>,
    links: Vec<Vec<LinkVerdict>>,
}
