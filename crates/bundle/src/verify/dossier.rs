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
//!
//! A lot dossier is checked the same way, but a lot's links are per site
//! (its subject key is (site, lot), `SubjectTracker::key`): each site's acts
//! on the lot are one unbroken chain from the site's first act (a receipt)
//! to its last, and a dropped movement is a link pointing at nothing, named
//! with the site's last act present before it. The index's lot leaf has one
//! record per site chain, so each site's end is judged on its own.

use std::collections::{BTreeMap, HashMap};

use armsledger_core::chain::Head;
use armsledger_core::event::Event;
use armsledger_core::ids::SiteId;
use armsledger_core::model::{FirearmId, LotId};
use armsledger_core::rules::{Finding, RuleId};
use armsledger_core::{ChainCursor, ChainId, Hash, SignedEntry, Subject};

use crate::report::{Completeness, DossierSummary, LotDossierSummary, LotSiteSummary};

/// Where an event of the weapon sits.
#[derive(Clone, Debug)]
struct Event1 {
    chain: ChainId,
    counter: u64,
    record: u64,
}

/// What a dossier is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum About {
    /// One weapon: one link chain across sites.
    Firearm(FirearmId),
    /// One lot: one link chain per site.
    Lot(LotId),
}

impl core::fmt::Display for About {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            About::Firearm(id) => write!(f, "firearm {id}"),
            About::Lot(id) => write!(f, "lot {id}"),
        }
    }
}

/// The per-subject chain check of a dossier.
#[derive(Debug)]
pub(crate) struct Dossier {
    about: About,
    present: HashMap<Hash, Event1>,
    /// The last linked event per link chain: `None` for a weapon (one
    /// chain), the site for a lot.
    last: HashMap<Option<SiteId>, (Hash, Event1)>,
    /// The newest linked event overall (a weapon's last event).
    newest: Option<(Hash, Event1)>,
    first: Option<Hash>,
    counters: HashMap<ChainId, u64>,
    events: u64,
    /// A lot's linked acts per site.
    per_site: BTreeMap<SiteId, u64>,
    /// The index keys the weapon is filed under: every serial its events
    /// recorded (normalised), and its own id's key.
    keys: Vec<armsledger_index::MapKey>,
}

impl Dossier {
    pub(crate) fn new(firearm: FirearmId) -> Self {
        Self::about(
            About::Firearm(firearm),
            armsledger_index::MapKey::firearm(&firearm),
        )
    }

    /// A lot dossier's check.
    pub(crate) fn lot(lot: LotId) -> Self {
        Self::about(About::Lot(lot), armsledger_index::MapKey::lot(&lot))
    }

    fn about(about: About, key: armsledger_index::MapKey) -> Self {
        Dossier {
            about,
            present: HashMap::new(),
            last: HashMap::new(),
            newest: None,
            first: None,
            counters: HashMap::new(),
            events: 0,
            per_site: BTreeMap::new(),
            keys: vec![key],
        }
    }

    fn subject(&self) -> Subject {
        match self.about {
            About::Firearm(f) => Subject::Firearm(f),
            About::Lot(l) => Subject::Lot(l),
        }
    }

    fn concerns(&self, entry: &SignedEntry) -> bool {
        match &self.about {
            About::Firearm(f) => armsledger_core::report::concerns_firearm(entry, f),
            About::Lot(l) => armsledger_core::report::concerns_lot(entry, l),
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
        let ChainId::Site(site) = h.chain.clone() else {
            return Err("a dossier holds only site events besides the regulator chain".into());
        };
        let Some(prev) = entry.body().link_for(&self.subject()) else {
            // A stock count that saw the weapon (or lot) is part of its
            // trace but not of its link chain: it is checked like any entry
            // and changes nothing here.
            if self.concerns(entry) {
                self.counters.insert(h.chain.clone(), h.counter);
                return Ok(None);
            }
            return Err(format!("does not touch {}", self.about));
        };
        let this = Event1 {
            chain: h.chain.clone(),
            counter: h.counter,
            record,
        };
        let link = match self.about {
            About::Firearm(_) => None,
            About::Lot(_) => Some(site.clone()),
        };
        let whose = match self.about {
            About::Firearm(_) => "the weapon's".to_owned(),
            About::Lot(_) => format!("the lot's at {}", h.chain),
        };
        let last = self.last.get(&link);
        let verdict = match (last, prev) {
            (None, None) => Ok(None),
            (None, Some(p)) => Err(match self.about {
                About::Firearm(_) => format!(
                    "the dossier's first event links to {}, which is not in the dossier: \
                     the weapon's earlier history (from its acquisition) is missing",
                    p.short()
                ),
                About::Lot(_) => format!(
                    "a movement is missing: this entry links to {} as {whose} previous act, \
                     which is not in the dossier; no earlier act of the lot at {} is present \
                     (the site's history from its receipt is missing)",
                    p.short(),
                    h.chain
                ),
            }),
            (Some((last, _)), Some(p)) if p == *last => Ok(None),
            (Some(_), Some(p)) => match self.present.get(&p) {
                Some(_) => Ok(Some(self.finding(
                    entry,
                    format!(
                        "links to {}, not to the latest event: the history forks",
                        p.short()
                    ),
                ))),
                None => Err(self.gap_message(p, last, &whose)),
            },
            (Some((last, _)), None) => Ok(Some(self.finding(
                entry,
                format!("starts a new history though {} exists", last.short()),
            ))),
        };
        if let About::Firearm(firearm) = self.about {
            for (f, serial) in armsledger_index::indexer::recorded_serials(entry) {
                let key = armsledger_index::MapKey::serial(&serial);
                if f == firearm && !self.keys.contains(&key) {
                    self.keys.push(key);
                }
            }
        }
        // Taken in even when it points at a gap, so one dropped event is one problem.
        self.counters.insert(h.chain.clone(), h.counter);
        self.present.insert(entry.hash(), this.clone());
        self.first.get_or_insert(entry.hash());
        self.last.insert(link, (entry.hash(), this.clone()));
        self.newest = Some((entry.hash(), this));
        self.count_site(&site);
        verdict
    }

    /// Counts a linked act (a count that saw the subject is not one: the
    /// index's sequence numbers count acts only).
    fn count_site(&mut self, site: &SiteId) {
        self.events += 1;
        if matches!(self.about, About::Lot(_)) {
            *self.per_site.entry(site.clone()).or_default() += 1;
        }
    }

    fn gap_message(&self, missing: Hash, last: Option<&(Hash, Event1)>, whose: &str) -> String {
        match last {
            Some((hash, e)) => format!(
                "an event is missing: this entry links to {} as {whose} previous event, \
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
            evidence: format!("{}: {evidence}", self.about),
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

    /// What the dossier is about.
    pub(crate) fn subject_of(&self) -> About {
        self.about
    }

    /// The weapon's history (a firearm dossier).
    pub(crate) fn summary(&self) -> Option<DossierSummary> {
        let About::Firearm(firearm) = self.about else {
            return None;
        };
        Some(DossierSummary {
            firearm: firearm.to_string(),
            events: self.events,
            first: self.first,
            last: self.newest.as_ref().map(|(h, _)| *h),
            completeness: Completeness::NoGapsEndUnproven,
        })
    }

    /// The lot's history per site (a lot dossier), each site's end not yet
    /// judged against the index.
    pub(crate) fn lot_summary(&self) -> Option<LotDossierSummary> {
        let About::Lot(lot) = self.about else {
            return None;
        };
        let sites = self
            .per_site
            .iter()
            .map(|(site, n)| LotSiteSummary {
                chain: ChainId::Site(site.clone()).to_string(),
                events: *n,
                last: self.last.get(&Some(site.clone())).map(|(h, _)| *h),
                completeness: Completeness::NoGapsEndUnproven,
            })
            .collect();
        Some(LotDossierSummary {
            lot: lot.to_string(),
            events: self.events,
            sites,
            completeness: Completeness::NoGapsEndUnproven,
        })
    }
}
