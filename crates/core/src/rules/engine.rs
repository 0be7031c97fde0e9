//! The engine: applies verified entries in order, records findings (with
//! overrides), and folds corrections in by replaying history with each
//! superseded event replaced by its correction.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::ControlFlow;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::chain::{CLOCK_TOLERANCE_MS, LinkVerdict};
use crate::entry::{ChainId, SignedEntry};
use crate::event::{Event, RegulatorEvent, SiteEvent};
use crate::hash::Hash;
use crate::ids::{PersonId, Timestamp};
use crate::model::{FirearmId, normalise};
use crate::rules::RuleId;
use crate::rules::check::{Act, Violation, evaluate};
use crate::rules::events::{SiteCtx, apply_regulator, apply_site};
use crate::rules::oversight::{check_regulator, correction_applies};
use crate::rules::state::{EntryMeta, State};

/// A hard-rule violation recorded against a validly signed entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The rule.
    pub rule: RuleId,
    /// The chain.
    pub chain: ChainId,
    /// The entry's counter.
    pub counter: u64,
    /// The entry.
    pub entry: Hash,
    /// Event kind.
    #[serde(deserialize_with = "crate::snapshot::static_kind")]
    pub kind: crate::snapshot::KindName,
    /// Device time of the act.
    pub time: Timestamp,
    /// What the ledger shows.
    pub evidence: String,
    /// The override entry that authorised it as an exception, if any.
    pub overridden_by: Option<Hash>,
}

/// An applied entry as the engine keeps it: the entry and its receipt time.
pub type HistoryItem = (Arc<SignedEntry>, Option<Timestamp>);

/// The history could not be read back from where it is kept.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("reading the rules' history back from the log: {0}")]
pub struct HistoryError(pub String);

/// Where an engine reads back the entries it applied and no longer holds
/// (a server's log): corrections, revocations and report replays stream
/// them in log order instead of the engine keeping them all in memory.
pub trait HistorySource: Send + Sync + core::fmt::Debug {
    /// Shows `visit` the first `n` entries the engine applied, in the order
    /// it applied them, with their receipt times, until it breaks off. An
    /// error when they cannot all be read (fewer than `n`, a failed read).
    fn stream(
        &self,
        n: u64,
        visit: &mut dyn FnMut(&SignedEntry, Option<Timestamp>) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>, HistoryError>;

    /// The applied entry with this entry hash, if the engine applied one
    /// that is kept here (an entry not applied, or not applied yet, is
    /// `None`): how a reference, a correction's target or a subject link is
    /// looked up instead of the engine keeping a map of every entry.
    fn find(&self, hash: &Hash) -> Result<Option<SignedEntry>, HistoryError>;

    /// How many applied entries precede the one with this entry hash (its
    /// position in the history), if the source can tell; `None` otherwise.
    /// A correction refolds from a kept state only when it can place its
    /// target (and every correction since that state) at or after it.
    fn position(&self, _hash: &Hash) -> Result<Option<u64>, HistoryError> {
        Ok(None)
    }

    /// [`Self::stream`] from position `from` on: the applied entries
    /// `from..n`. By default the first `from` are read and passed over; a
    /// source that can seek (a log) starts at `from`.
    fn stream_from(
        &self,
        from: u64,
        n: u64,
        visit: &mut dyn FnMut(&SignedEntry, Option<Timestamp>) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>, HistoryError> {
        let mut i = 0u64;
        self.stream(n, &mut |e, r| {
            let before = i < from;
            i = i.saturating_add(1);
            if before {
                ControlFlow::Continue(())
            } else {
                visit(e, r)
            }
        })
    }

    /// The engine as it stood after the first `k` applied entries, for the
    /// newest `k <= at_most` kept beside the history (a server's rules
    /// snapshots, each checked against the log before it is offered) that
    /// `fits` accepts; `None` when none is kept or accepted (the refold
    /// then starts from the beginning).
    fn earlier_state(
        &self,
        _at_most: u64,
        _fits: &mut dyn FnMut(u64, &Engine) -> bool,
    ) -> Option<(u64, Engine)> {
        None
    }

    /// A position at or after which every applied entry of `chain` with a
    /// counter above `counter` lies (`u64::MAX`: none is kept here), so a
    /// key revocation searches the history from there on; 0 when the
    /// source cannot tell (the whole history is searched).
    fn first_after(&self, _chain: &ChainId, _counter: u64) -> Result<u64, HistoryError> {
        Ok(0)
    }

    /// A correction starts refolding the state (the sequencer waits).
    fn refold_begins(&self) {}

    /// The refold ended: where it started and how many entries it folded.
    fn refold_ends(&self, _refold: Refold) {}
}

/// How a correction's refold of the state went: from a kept earlier state
/// (`from` entries already folded in it) or from the start (`from` 0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Refold {
    /// The applied entries the refold did not fold again (those of the
    /// earlier state it started from; 0: it started from nothing).
    pub from: u64,
    /// The entries it folded.
    pub folded: u64,
}

/// A history source and the first error any read of it met (shared by the
/// engine's history, the state's entry lookups and the subject tracker).
#[derive(Clone, Debug)]
pub(crate) struct Lookup {
    source: Arc<dyn HistorySource>,
    fault: Arc<std::sync::Mutex<Option<HistoryError>>>,
}

impl Lookup {
    pub(crate) fn new(source: Arc<dyn HistorySource>) -> Self {
        Lookup {
            source,
            fault: Arc::default(),
        }
    }

    /// [`HistorySource::find`], a failed read kept as the fault.
    pub(crate) fn find(&self, hash: &Hash) -> Result<Option<SignedEntry>, HistoryError> {
        self.source.find(hash).inspect_err(|e| self.fail(e.clone()))
    }

    fn stream_from(
        &self,
        from: u64,
        n: u64,
        visit: &mut dyn FnMut(&SignedEntry, Option<Timestamp>) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>, HistoryError> {
        let r = if from == 0 {
            self.source.stream(n, visit)
        } else {
            self.source.stream_from(from, n, visit)
        };
        r.inspect_err(|e| self.fail(e.clone()))
    }

    fn fail(&self, e: HistoryError) {
        if let Ok(mut f) = self.fault.lock() {
            f.get_or_insert(e);
        }
    }

    /// The first failed read, taken.
    pub(crate) fn take_fault(&self) -> Option<HistoryError> {
        self.fault.lock().ok().and_then(|mut f| f.take())
    }

    /// Whether a read failed (and the fault was not taken yet).
    pub(crate) fn faulted(&self) -> bool {
        self.fault.lock().map_or(true, |f| f.is_some())
    }
}

/// The first `n` applied entries, kept in a history source.
#[derive(Clone, Debug)]
struct Stored {
    n: u64,
    lookup: Lookup,
}

/// Shows `visit` the stored entries, then those in memory.
fn each_applied(
    stored: Option<&Stored>,
    tail: &[HistoryItem],
    visit: &mut dyn FnMut(&SignedEntry, Option<Timestamp>) -> ControlFlow<()>,
) -> Result<ControlFlow<()>, HistoryError> {
    each_applied_from(stored, 0, tail, visit)
}

/// [`each_applied`] from position `from` on (at most the stored entries'
/// count: the tail in memory is always shown).
fn each_applied_from(
    stored: Option<&Stored>,
    from: u64,
    tail: &[HistoryItem],
    visit: &mut dyn FnMut(&SignedEntry, Option<Timestamp>) -> ControlFlow<()>,
) -> Result<ControlFlow<()>, HistoryError> {
    if let Some(s) = stored
        && s.n > from
        && s.lookup.stream_from(from, s.n, visit)?.is_break()
    {
        return Ok(ControlFlow::Break(()));
    }
    for (e, r) in tail {
        if visit(e, *r).is_break() {
            return Ok(ControlFlow::Break(()));
        }
    }
    Ok(ControlFlow::Continue(()))
}

/// Which view of corrected history the state reflects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum View {
    /// Each superseded event replaced by its latest correction.
    Corrected,
    /// Events as first recorded; corrections change nothing.
    Original,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct PendingOverride {
    rule: RuleId,
    entry: Hash,
    authoriser: PersonId,
    recorder: PersonId,
}

/// Folds entries into state and findings. Its serde form (postcard, maps
/// in key order) is the rules state of a snapshot (docs/formats.md, "Rules
/// snapshots"); the history is not in it: it is the log itself.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Engine {
    view: View,
    state: State,
    findings: Vec<Finding>,
    /// The applied entries held in memory: all of them, unless `stored`
    /// keeps the first ones (then the tail applied since the last commit).
    #[serde(skip)]
    history: Vec<HistoryItem>,
    /// The first applied entries, read back on demand from where they are
    /// kept (a server's log) instead of held.
    #[serde(skip)]
    stored: Option<Stored>,
    /// Latest correction per superseded entry: (correction hash, corrected event).
    #[serde(with = "crate::snapshot::sorted_map")]
    corrections: HashMap<Hash, (Hash, SiteEvent)>,
    /// Latest correction per superseded regulator entry.
    #[serde(with = "crate::snapshot::sorted_map")]
    regulator_corrections: HashMap<Hash, (Hash, RegulatorEvent)>,
    #[serde(with = "crate::snapshot::sorted_map")]
    overrides: HashMap<(ChainId, Hash), Vec<PendingOverride>>,
    /// Every serial a firearm was ever recorded under (normalised), in any
    /// view: a mistyped serial stays findable after its correction.
    serials: BTreeMap<String, BTreeSet<FirearmId>>,
}

impl Default for Engine {
    fn default() -> Self {
        Engine::new(View::Corrected)
    }
}

impl Engine {
    /// An empty engine showing `view`.
    pub fn new(view: View) -> Self {
        Engine {
            view,
            state: State::default(),
            findings: Vec::new(),
            history: Vec::new(),
            stored: None,
            corrections: HashMap::new(),
            regulator_corrections: HashMap::new(),
            overrides: HashMap::new(),
            serials: BTreeMap::new(),
        }
    }

    /// How many entries were applied (the history's length).
    pub fn history_len(&self) -> u64 {
        let stored = self.stored.as_ref().map_or(0, |s| s.n);
        stored.saturating_add(u64::try_from(self.history.len()).unwrap_or(u64::MAX))
    }

    /// Records `entry`'s kind and place without applying it (rebuilding
    /// what a decoded state leaves out from its history).
    pub(crate) fn remember(&mut self, entry: &SignedEntry) {
        self.state
            .entries
            .insert(entry.hash(), EntryMeta::of(entry));
    }

    /// Puts back the history a decoded snapshot left out (the log's entries).
    pub(crate) fn set_history(&mut self, history: Vec<HistoryItem>) {
        self.history = history;
    }

    /// Reads the first `n` applied entries back from `lookup` from now on
    /// (a decoded snapshot's), and looks entries up there.
    pub(crate) fn set_stored(&mut self, n: u64, lookup: Lookup) {
        self.state.entries.set_lookup(lookup.clone());
        self.stored = Some(Stored { n, lookup });
    }

    /// Reads the entries kept so far back from `lookup` from now on instead
    /// of holding them: those in memory stay there until
    /// [`Self::history_committed`] says the source has them too.
    pub(crate) fn read_history_from(&mut self, lookup: Lookup) {
        let n = self.stored.as_ref().map_or(0, |s| s.n);
        self.set_stored(n, lookup);
    }

    /// Every entry applied so far is now in the history source: drops them
    /// from memory. Nothing changes for an engine without a source (it
    /// holds its whole history: offline verification).
    pub fn history_committed(&mut self) {
        if let Some(s) = self.stored.as_mut() {
            let tail = u64::try_from(self.history.len()).unwrap_or(u64::MAX);
            s.n = s.n.saturating_add(tail);
            self.history = Vec::new();
            self.state.entries.committed();
        }
    }

    /// How many applied entries are held in memory (all of them without a
    /// history source; those not yet committed to it with one).
    pub fn history_in_memory(&self) -> usize {
        self.history.len()
    }

    /// Takes the error of a read of the history source that failed (a
    /// correction or a revocation looking back through it, a reference
    /// looked up): the state is then wrong and must be rebuilt from the log.
    pub fn take_history_fault(&mut self) -> Option<HistoryError> {
        self.stored.as_ref().and_then(|s| s.lookup.take_fault())
    }

    /// Whether a read of the history source failed ([`Self::take_history_fault`]).
    pub fn history_faulted(&self) -> bool {
        self.stored.as_ref().is_some_and(|s| s.lookup.faulted())
    }

    /// The folded state.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Replaces who is barred with `bars` (person, until; `None` is for
    /// good): how a site that receives the bar list instead of the bar
    /// entries (a scoped pull) learns who it must refuse. A person not on
    /// the list is no longer barred.
    pub fn set_bars(&mut self, bars: impl IntoIterator<Item = (PersonId, Option<Timestamp>)>) {
        for p in self.state.persons.values_mut() {
            p.barred = None;
        }
        for (person, until) in bars {
            self.state.persons.entry(person).or_default().barred = Some(until);
        }
    }

    /// The encoded size of each part of this engine's state (the fields
    /// of [`State`] as `state.NAME`, the findings as `findings.RULE`, then
    /// the engine's own), for attributing
    /// a snapshot's bytes ([`crate::snapshot::state_parts`]).
    pub(crate) fn part_sizes(&self) -> Result<Vec<(String, u64)>, crate::codec::CodecError> {
        fn size<T: Serialize + ?Sized>(
            name: &str,
            v: &T,
        ) -> Result<(String, u64), crate::codec::CodecError> {
            let n = crate::codec::encode(v)?.len();
            Ok((name.to_owned(), u64::try_from(n).unwrap_or(u64::MAX)))
        }
        let s = &self.state;
        let mut out = vec![
            size("state.companies", &s.companies)?,
            size("state.sites", &s.sites)?,
            size("state.persons", &s.persons)?,
            size("state.firearms", &s.firearms)?,
            size("state.lots", &s.lots)?,
            size("state.balances", &s.balances)?,
            size("state.open_issues", &s.open_issues)?,
            size("state.transfers", &s.transfers)?,
            size("state.losses", &s.losses)?,
            size("state.seizures", &s.seizures)?,
            size("state.discrepancies", &s.discrepancies)?,
            size("state.last_count", &s.last_count)?,
            size("state.count_sessions", &s.count_sessions)?,
            size("state.lot_status", &s.lot_status)?,
            size("state.armoury_open", &s.armoury_open)?,
            size("state.keys", &s.keys)?,
            size("state.authorisations", &s.authorisations)?,
            size("state.policy", &s.policy)?,
            size("state.count_leads", &s.count_leads)?,
            size(
                "state.erased_notes",
                &s.erased_notes.iter().collect::<BTreeMap<_, _>>(),
            )?,
            size("state.notices", &s.notices)?,
            size("state.stolen_hits", &s.stolen_hits)?,
            size("state.trace_requests", &s.trace_requests)?,
            size("state.oversight", &s.oversight)?,
            size("state.approvals", &s.approvals)?,
            size("state.providers", &s.providers)?,
            size(
                "corrections",
                &self.corrections.iter().collect::<BTreeMap<_, _>>(),
            )?,
            size(
                "regulator_corrections",
                &self
                    .regulator_corrections
                    .iter()
                    .collect::<BTreeMap<_, _>>(),
            )?,
            size(
                "overrides",
                &self.overrides.iter().collect::<BTreeMap<_, _>>(),
            )?,
            size("serials", &self.serials)?,
        ];
        // Findings by rule (each finding's own bytes; the list's length
        // prefix is left out).
        let mut by_rule: BTreeMap<String, u64> = BTreeMap::new();
        for f in &self.findings {
            let n = crate::codec::encode(f)?.len();
            *by_rule.entry(format!("findings.{}", f.rule)).or_default() +=
                u64::try_from(n).unwrap_or(u64::MAX);
        }
        out.extend(by_rule);
        Ok(out)
    }

    /// Every finding so far, in order.
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    /// The corrections in force: superseded entry → correcting entry.
    pub fn corrections(&self) -> impl Iterator<Item = (&Hash, &Hash)> {
        self.corrections.iter().map(|(k, (c, _))| (k, c))
    }

    /// The correction in force for entry `superseded`, if any: the
    /// correcting entry and the event it puts in its place.
    pub fn correction_of(&self, superseded: &Hash) -> Option<(&Hash, &SiteEvent)> {
        self.corrections.get(superseded).map(|(h, e)| (h, e))
    }

    /// Firearms recorded under `serial` (spacing and case do not matter):
    /// under their serial now, or under one a correction replaced. In
    /// ledger-id order.
    pub fn find_serial(&self, serial: &str) -> Vec<FirearmId> {
        let mut out: BTreeSet<FirearmId> = self.state.find_serial(serial).map(|f| f.id).collect();
        if let Some(former) = self.serials.get(&normalise(serial)) {
            out.extend(former.iter().copied());
        }
        out.into_iter().collect()
    }

    /// Judges a proposed regulator act without applying it (the regulator's
    /// pre-sign check).
    pub fn check_regulator(&self, event: &RegulatorEvent) -> Vec<Violation> {
        check_regulator(&self.state, event)
    }

    /// The correction in force for regulator entry `superseded`, if any.
    pub fn regulator_correction_of(&self, superseded: &Hash) -> Option<(&Hash, &RegulatorEvent)> {
        self.regulator_corrections
            .get(superseded)
            .map(|(h, e)| (h, e))
    }

    /// Judges a proposed site act without applying it (the officer's pre-sign check).
    pub fn check(
        &self,
        site: &crate::ids::SiteId,
        officer: &PersonId,
        time: Timestamp,
        event: &SiteEvent,
    ) -> Vec<Violation> {
        self.check_at(site, officer, time, time, event)
    }

    /// Judges a proposed site act that occurred at `occurred_at` and is
    /// recorded at `recorded` (the officer's pre-sign check of a late entry).
    pub fn check_at(
        &self,
        site: &crate::ids::SiteId,
        officer: &PersonId,
        occurred_at: Timestamp,
        recorded: Timestamp,
        event: &SiteEvent,
    ) -> Vec<Violation> {
        evaluate(
            &self.state,
            &Act {
                site,
                officer,
                time: occurred_at,
                recorded,
            },
            event,
        )
    }

    /// Applies a verified entry. `received_at` is the server's receipt time
    /// (deadlines run from it); `links` are the subject-link verdicts from
    /// [`crate::chain::SubjectTracker::check`]. Returns the findings it raised.
    pub fn apply(
        &mut self,
        entry: Arc<SignedEntry>,
        received_at: Option<Timestamp>,
        links: &[LinkVerdict],
    ) -> &[Finding] {
        let before = self.findings.len();
        let h = entry.header();
        let body = entry.body();
        let meta = EntryMeta::of(&entry);
        let mut violations = Vec::new();
        if let (ChainId::Site(site), Event::Site(ev)) = (&h.chain, &body.event) {
            violations = evaluate(
                &self.state,
                &Act {
                    site,
                    officer: &body.officer,
                    time: body.occurred_at,
                    // When it was recorded: the device's time, unless the
                    // server received it earlier (a clock running ahead
                    // makes no entry late; a site that syncs late does not
                    // either).
                    recorded: received_at.map_or(h.device_time, |r| h.device_time.min(r)),
                },
                ev,
            );
        }
        if let (ChainId::Regulator, Event::Regulator(ev)) = (&h.chain, &body.event) {
            violations = check_regulator(&self.state, ev);
        }
        if let Some(r) = received_at
            && h.device_time > r.plus(CLOCK_TOLERANCE_MS)
        {
            violations.push(Violation {
                rule: RuleId::DeviceClockAhead,
                evidence: format!(
                    "device time {} is {} s ahead of the receipt time {} (tolerance {} s): \
                     the device clock runs ahead, or the server's behind",
                    h.device_time,
                    h.device_time.0.saturating_sub(r.0) / 1000,
                    r,
                    CLOCK_TOLERANCE_MS / 1000
                ),
            });
        }
        for l in links {
            let evidence = match l {
                LinkVerdict::Continues => continue,
                LinkVerdict::Forks { subject, latest } => {
                    format!(
                        "{subject:?}: links past its latest event {}",
                        latest.short()
                    )
                }
                LinkVerdict::Restarts { subject, latest } => {
                    format!(
                        "{subject:?}: starts a new history though {} exists",
                        latest.short()
                    )
                }
            };
            violations.push(Violation {
                rule: RuleId::HistoryContinues,
                evidence,
            });
        }
        let overrides = self
            .overrides
            .remove(&(h.chain.clone(), h.body_hash))
            .unwrap_or_default();
        for v in violations {
            // An override counts for its rule and act only, if a second
            // person authorised it and the rule is a judgement call.
            let by = overrides
                .iter()
                .find(|o| {
                    o.rule == v.rule
                        && o.rule.is_overridable()
                        && o.authoriser != body.officer
                        && o.authoriser != o.recorder
                })
                .map(|o| o.entry);
            self.findings.push(Finding {
                rule: v.rule,
                chain: h.chain.clone(),
                counter: h.counter,
                entry: entry.hash(),
                kind: body.event.kind(),
                time: h.device_time,
                evidence: v.evidence,
                overridden_by: by,
            });
        }
        if let Event::Site(SiteEvent::Overridden {
            rule,
            authoriser,
            act,
            ..
        }) = &body.event
        {
            self.overrides
                .entry((h.chain.clone(), *act))
                .or_default()
                .push(PendingOverride {
                    rule: *rule,
                    entry: entry.hash(),
                    authoriser: authoriser.clone(),
                    recorder: body.officer.clone(),
                });
        }
        let correction = match (&body.event, self.view) {
            (
                Event::Site(SiteEvent::Corrected {
                    supersedes,
                    corrected,
                    ..
                }),
                View::Corrected,
            ) => Some((*supersedes, (entry.hash(), corrected.as_ref().clone()))),
            _ => None,
        };
        self.state.entries.insert(entry.hash(), meta);
        self.history.push((entry.clone(), received_at));
        // A correction takes effect only on an entry of its own chain and of
        // the same kind; anything else stays a finding and changes nothing.
        let valid_target = |t: &Hash, c: &SiteEvent| {
            let same_id = match c {
                SiteEvent::FirearmAcquired { firearm, .. } => self
                    .state
                    .firearms
                    .get(firearm)
                    .is_some_and(|r| r.acquired == *t),
                _ => true,
            };
            same_id
                && self
                    .state
                    .entries
                    .get(t)
                    .is_some_and(|m| m.chain == h.chain && m.kind == c.kind())
        };
        let acquired = match &body.event {
            Event::Site(SiteEvent::FirearmAcquired {
                firearm, identity, ..
            }) => Some((*firearm, identity.serial_key())),
            _ => None,
        };
        if let Some((f, key)) = acquired {
            self.serials.entry(key).or_default().insert(f);
        }
        // A corrected serial is findable in every view, the original included.
        if let Event::Site(SiteEvent::Corrected {
            supersedes,
            corrected,
            ..
        }) = &body.event
            && let SiteEvent::FirearmAcquired {
                firearm, identity, ..
            } = corrected.as_ref()
            && valid_target(supersedes, corrected)
        {
            self.serials
                .entry(identity.serial_key())
                .or_default()
                .insert(*firearm);
        }
        let regulator_correction = match (&body.event, self.view) {
            (
                Event::Regulator(RegulatorEvent::RegulatorCorrected {
                    supersedes,
                    corrected,
                    ..
                }),
                View::Corrected,
            ) if correction_applies(&self.state, supersedes, corrected) => {
                Some((*supersedes, (entry.hash(), corrected.as_ref().clone())))
            }
            _ => None,
        };
        match (correction, regulator_correction) {
            (Some((target, c)), _) if valid_target(&target, &c.1) => {
                self.corrections.insert(target, c);
                self.replay(&target);
            }
            (_, Some((target, c))) => {
                self.regulator_corrections.insert(target, c);
                self.replay(&target);
            }
            _ => self.fold(&entry, received_at),
        }
        self.findings.get(before..).unwrap_or(&[])
    }

    /// Records `rule` against every applied entry `matches` selects (a key
    /// revoked or retired after the fact invalidates entries already applied).
    pub fn flag(
        &mut self,
        rule: RuleId,
        evidence: &str,
        matches: impl Fn(&SignedEntry) -> bool,
    ) -> usize {
        self.flag_from(0, rule, evidence, matches)
    }

    /// [`Self::flag`] for entries of `chain` with a counter above `counter`
    /// only (`matches` selects none other): the stored history is searched
    /// from the first of them on, where its source can place it
    /// ([`HistorySource::first_after`]), instead of from its start.
    pub fn flag_chain_after(
        &mut self,
        chain: &ChainId,
        counter: u64,
        rule: RuleId,
        evidence: &str,
        matches: impl Fn(&SignedEntry) -> bool,
    ) -> usize {
        // A failed look-up only costs the narrowing.
        let from = self
            .stored
            .as_ref()
            .and_then(|s| s.lookup.source.first_after(chain, counter).ok())
            .unwrap_or(0);
        self.flag_from(from, rule, evidence, |e| {
            e.header().chain == *chain && e.header().counter > counter && matches(e)
        })
    }

    fn flag_from(
        &mut self,
        from: u64,
        rule: RuleId,
        evidence: &str,
        matches: impl Fn(&SignedEntry) -> bool,
    ) -> usize {
        let mut n = 0;
        let findings = &mut self.findings;
        // A failed read is kept as the source's fault.
        let _ = each_applied_from(self.stored.as_ref(), from, &self.history, &mut |e, _| {
            if matches(e) {
                let h = e.header();
                findings.push(Finding {
                    rule,
                    chain: h.chain.clone(),
                    counter: h.counter,
                    entry: e.hash(),
                    kind: e.body().event.kind(),
                    time: h.device_time,
                    evidence: evidence.to_string(),
                    overridden_by: None,
                });
                n += 1;
            }
            ControlFlow::Continue(())
        });
        n
    }

    fn fold(&mut self, entry: &SignedEntry, received_at: Option<Timestamp>) {
        fold(
            &mut self.state,
            &self.corrections,
            &self.regulator_corrections,
            entry,
            received_at,
        );
    }

    /// Folds the history again, with the corrections in force, into a fresh
    /// state, and shows `visit` the state after each entry: how a report
    /// (a lot's balances step by step) sees the ledger as it stood after
    /// every act, by the same rules that made the state now. `visit` may
    /// break off the replay; the answer then says after how many entries.
    /// Kept in a history source (a server's log), the history is streamed
    /// from it: an error when it cannot be read.
    pub fn replay_each(
        &self,
        mut visit: impl FnMut(&SignedEntry, Option<Timestamp>, &State) -> ControlFlow<()>,
    ) -> Result<ControlFlow<u64>, HistoryError> {
        let mut state = State {
            entries: self.state.entries.clone(),
            ..State::default()
        };
        let mut n = 0u64;
        let read = each_applied(self.stored.as_ref(), &self.history, &mut |e, r| {
            fold(
                &mut state,
                &self.corrections,
                &self.regulator_corrections,
                e,
                r,
            );
            n = n.saturating_add(1);
            visit(e, r, &state)
        })?;
        Ok(match read {
            ControlFlow::Break(()) => ControlFlow::Break(n),
            ControlFlow::Continue(()) => ControlFlow::Continue(()),
        })
    }

    /// Rebuilds the state from history with the corrections in force, a
    /// correction of `target` having just changed them: from the newest
    /// kept earlier state that still holds (below), else from the start (a
    /// failed read of a stored history leaves [`Self::take_history_fault`]).
    fn replay(&mut self, target: &Hash) {
        let stored = self.stored.clone();
        if let Some(s) = &stored {
            s.lookup.source.refold_begins();
        }
        let earlier = stored.as_ref().and_then(|s| self.earlier_state(s, target));
        let (from, base) = match earlier {
            Some((k, e)) => (k, e.state),
            None => (0, State::default()),
        };
        let entries = core::mem::take(&mut self.state.entries);
        self.state = State { entries, ..base };
        let (state, corrections, regulator) = (
            &mut self.state,
            &self.corrections,
            &self.regulator_corrections,
        );
        let mut folded = 0u64;
        // A failed read is kept as the source's fault.
        let _ = each_applied_from(stored.as_ref(), from, &self.history, &mut |e, r| {
            fold(state, corrections, regulator, e, r);
            folded = folded.saturating_add(1);
            ControlFlow::Continue(())
        });
        if let Some(s) = &stored {
            s.lookup.source.refold_ends(Refold { from, folded });
        }
    }

    /// The newest earlier state kept beside a stored history from which a
    /// refold after a correction of `target` ends exactly where a refold
    /// from the start does: one that folded no more than the entries before
    /// `target`, in the same view, whose corrections are today's except for
    /// targets at or after its end (a correction made since of an entry it
    /// already folded makes it stale). Anything the source cannot place:
    /// none (the whole history is folded again).
    fn earlier_state(&self, stored: &Stored, target: &Hash) -> Option<(u64, Engine)> {
        let lookup = &stored.lookup;
        // Among the entries held in memory (applied since the last commit,
        // not in the source's index yet), else by the source.
        let place = |t: &Hash| match self.history.iter().position(|(e, _)| e.hash() == *t) {
            Some(i) => Some(
                stored
                    .n
                    .saturating_add(u64::try_from(i).unwrap_or(u64::MAX)),
            ),
            None => lookup.source.position(t).ok().flatten(),
        };
        let p = place(target)?;
        let mut fits = |k: u64, then: &Engine| {
            then.view == self.view
                && same_before(k, &self.corrections, &then.corrections, &place)
                && same_before(
                    k,
                    &self.regulator_corrections,
                    &then.regulator_corrections,
                    &place,
                )
        };
        lookup
            .source
            .earlier_state(p.min(stored.n), &mut fits)
            .filter(|(k, _)| *k <= p.min(stored.n))
    }
}

/// Whether the corrections `then` (an earlier state's, `k` entries in) and
/// `now` agree on every target among the first `k` entries: every
/// correction it held is still in force, and any made since targets an
/// entry at position `k` or later.
fn same_before<V>(
    k: u64,
    now: &HashMap<Hash, (Hash, V)>,
    then: &HashMap<Hash, (Hash, V)>,
    place: &dyn Fn(&Hash) -> Option<u64>,
) -> bool {
    then.iter()
        .all(|(t, (c, _))| now.get(t).is_some_and(|(c2, _)| c2 == c))
        && now.iter().all(|(t, (c, _))| {
            then.get(t).is_some_and(|(c0, _)| c0 == c) || place(t).is_some_and(|p| p >= k)
        })
}

/// Folds one entry into `state`, with the corrections in force.
fn fold(
    state: &mut State,
    corrections: &HashMap<Hash, (Hash, SiteEvent)>,
    regulator_corrections: &HashMap<Hash, (Hash, RegulatorEvent)>,
    entry: &SignedEntry,
    received_at: Option<Timestamp>,
) {
    let h = entry.header();
    let body = entry.body();
    match (&h.chain, &body.event) {
        (ChainId::Site(site), Event::Site(ev)) => {
            let ev = match corrections.get(&entry.hash()) {
                Some((_, c)) => c,
                None => ev,
            };
            let ctx = SiteCtx {
                site,
                hash: entry.hash(),
                officer: &body.officer,
                time: h.device_time,
                occurred_at: body.occurred_at,
                received_at,
            };
            apply_site(state, &ctx, ev);
        }
        (_, Event::Regulator(ev)) => {
            let ev = match regulator_corrections.get(&entry.hash()) {
                Some((_, c)) => c,
                None => ev,
            };
            apply_regulator(state, ev, body.occurred_at, entry.hash())
        }
        _ => {}
    }
}
