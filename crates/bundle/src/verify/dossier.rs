//! Single-weapon dossiers: the weapon's events are a hash chain of their own
//! (each entry's link for the firearm names the previous event's entry hash),
//! so a dossier must be one unbroken chain from the first event to the last.
//! An event dropped from the middle leaves a link pointing at nothing, which
//! is reported with the entries on either side of the gap. A dropped *last*
//! event cannot be seen from the links: the dossier's index proof (the
//! weapon's serial leaf at the checkpoint) says whether the last event
//! present is the newest, or names the newest (`summary.rs`); without one
//! the report says the history's end is not proven (a warning). Stock counts
//! that saw the weapon travel with it (its trace lists them) but sit outside
//! the link chain, so dropping one cannot be seen either.

use std::collections::HashMap;

use armsledger_core::chain::Head;
use armsledger_core::event::Event;
use armsledger_core::model::FirearmId;
use armsledger_core::rules::{Finding, RuleId};
use armsledger_core::{ChainCursor, ChainId, Hash, SignedEntry, Subject};

use crate::report::{Completeness, DossierSummary};

/// Where an event of the weapon sits.
#[derive(Clone, Debug)]
struct Event1 {
    chain: ChainId,
    counter: u64,
    record: u64,
}

/// The per-firearm chain check of a dossier.
#[derive(Debug)]
pub(crate) struct Dossier {
    firearm: FirearmId,
    present: HashMap<Hash, Event1>,
    last: Option<(Hash, Event1)>,
    first: Option<Hash>,
    counters: HashMap<ChainId, u64>,
    events: u64,
    /// The index keys the weapon is filed under: every serial its events
    /// recorded (normalised), and its own id's key.
    keys: Vec<armsledger_index::MapKey>,
}

impl Dossier {
    pub(crate) fn new(firearm: FirearmId) -> Self {
        Dossier {
            firearm,
            present: HashMap::new(),
            last: None,
            first: None,
            counters: HashMap::new(),
            events: 0,
            keys: vec![armsledger_index::MapKey::firearm(&firearm)],
        }
    }

    /// Checks one site entry (signature and key already checked) and takes
    /// it into the history. `Err` is a dossier problem; `Ok(Some)` a finding
    /// (a fork or a restart of the history, signed and so kept).
    pub(crate) fn check(
        &mut self,
        entry: &SignedEntry,
        record: u64,
    ) -> Result<Option<Finding>, String> {
        let h = entry.header();
        if !matches!(
            (&h.chain, &entry.body().event),
            (ChainId::Site(_), Event::Site(_))
        ) {
            return Err("a dossier holds only site events besides the regulator chain".into());
        }
        // Everything the entry's own position decides except its neighbours,
        // which a dossier does not hold: event kind for the chain, links
        // naming exactly the event's subjects, counter above prev_counter.
        let own_prev = (h.prev_hash != Hash::ZERO || h.prev_counter != 0).then_some(Head {
            counter: h.prev_counter,
            hash: h.prev_hash,
            time: h.device_time,
        });
        ChainCursor::resume(h.chain.clone(), own_prev)
            .check(entry)
            .map_err(|e| e.to_string())?;
        if let Some(c) = self.counters.get(&h.chain).filter(|c| **c >= h.counter) {
            return Err(format!(
                "counter {} is not above {c}, the previous dossier event on this chain",
                h.counter
            ));
        }
        let Some(prev) = entry.body().link_for(&Subject::Firearm(self.firearm)) else {
            // A stock count that saw the weapon is part of its trace but not
            // of its link chain: it is checked like any entry and changes
            // nothing here.
            if armsledger_core::report::concerns_firearm(entry, &self.firearm) {
                self.counters.insert(h.chain.clone(), h.counter);
                return Ok(None);
            }
            return Err(format!("does not touch firearm {}", self.firearm));
        };
        let this = Event1 {
            chain: h.chain.clone(),
            counter: h.counter,
            record,
        };
        let verdict = match (&self.last, prev) {
            (None, None) => Ok(None),
            (None, Some(p)) => Err(format!(
                "the dossier's first event links to {}, which is not in the dossier: \
                 the weapon's earlier history (from its acquisition) is missing",
                p.short()
            )),
            (Some((last, _)), Some(p)) if p == *last => Ok(None),
            (Some(_), Some(p)) => match self.present.get(&p) {
                Some(_) => Ok(Some(self.finding(
                    entry,
                    format!(
                        "links to {}, not to the latest event: the history forks",
                        p.short()
                    ),
                ))),
                None => Err(self.gap_message(p)),
            },
            (Some((last, _)), None) => Ok(Some(self.finding(
                entry,
                format!("starts a new history though {} exists", last.short()),
            ))),
        };
        for (f, serial) in armsledger_index::indexer::recorded_serials(entry) {
            let key = armsledger_index::MapKey::serial(&serial);
            if f == self.firearm && !self.keys.contains(&key) {
                self.keys.push(key);
            }
        }
        // Taken in even when it points at a gap, so one dropped event is one problem.
        self.counters.insert(h.chain.clone(), h.counter);
        self.present.insert(entry.hash(), this.clone());
        self.first.get_or_insert(entry.hash());
        self.last = Some((entry.hash(), this));
        self.events += 1;
        verdict
    }

    fn gap_message(&self, missing: Hash) -> String {
        match &self.last {
            Some((hash, e)) => format!(
                "an event is missing: this entry links to {} as the weapon's previous event, \
                 which is not in the dossier; the last event present before it is {} \
                 ({} counter {}, record {})",
                missing.short(),
                hash.short(),
                e.chain,
                e.counter,
                e.record
            ),
            None => format!("links to {}, which is not in the dossier", missing.short()),
        }
    }

    fn finding(&self, entry: &SignedEntry, evidence: String) -> Finding {
        let h = entry.header();
        Finding {
            rule: RuleId::HistoryContinues,
            chain: h.chain.clone(),
            counter: h.counter,
            entry: entry.hash(),
            kind: entry.body().event.kind(),
            time: h.device_time,
            evidence: format!("{}: {evidence}", self.firearm),
            overridden_by: None,
        }
    }

    /// Whether an event of the weapon with this entry hash is in the dossier.
    pub(crate) fn holds(&self, entry: &Hash) -> bool {
        self.present.contains_key(entry)
    }

    /// The index keys a proof of the weapon's history may be for.
    pub(crate) fn keys(&self) -> &[armsledger_index::MapKey] {
        &self.keys
    }

    /// The firearm.
    pub(crate) fn firearm(&self) -> FirearmId {
        self.firearm
    }

    pub(crate) fn summary(&self) -> DossierSummary {
        DossierSummary {
            firearm: self.firearm.to_string(),
            events: self.events,
            first: self.first,
            last: self.last.as_ref().map(|(h, _)| *h),
            completeness: Completeness::NoGapsEndUnproven,
        }
    }
}
