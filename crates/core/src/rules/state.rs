//! The state folded from the ledger: where every firearm is, who holds which
//! rounds, who is licensed for what, which issues and transfers are open.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::entry::ChainId;
use crate::event::{CompanyStatus, NoticeSource, NoticeWithdrawal, NoticedFirearm, TraceOutcome};
use crate::hash::Hash;
use crate::ids::{CompanyId, Ident, LocationId, Name, PersonId, SiteId, Timestamp};
use crate::model::{
    DisposalMethod, ExitKind, FirearmId, FirearmIdentity, Holder, Item, LossKind, LotId,
    LotIdentity, LotStatus, OfficerLicence, Permit, Policy, Qualification, Validity, normalise,
};

/// Where a firearm is and who is answerable for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum FirearmState {
    /// In store at a location of its site.
    InStore {
        /// Location.
        location: LocationId,
    },
    /// Issued to a person.
    Issued {
        /// Recipient.
        to: PersonId,
        /// The issue entry.
        issue: Hash,
        /// Due back.
        due_back: Timestamp,
    },
    /// Sent to another site, not yet acknowledged.
    InTransit {
        /// The transfer-out entry.
        transfer: Hash,
        /// Destination.
        to_site: SiteId,
    },
    /// Out for maintenance.
    InMaintenance {
        /// Gunsmith or armourer.
        provider: Name,
    },
    /// Reported lost or stolen.
    Lost {
        /// The report.
        report: Hash,
    },
    /// Seized by an authority.
    Seized {
        /// The seizure entry.
        entry: Hash,
    },
    /// Destroyed or deactivated: terminal.
    Disposed {
        /// How.
        method: DisposalMethod,
    },
    /// Left the ledger to someone outside it (sold, returned to a lessor,
    /// surrendered, exported). It may come back by a new acquisition.
    Left {
        /// How.
        exit: ExitKind,
        /// The entry.
        entry: Hash,
    },
}

impl FirearmState {
    /// Whether the firearm is out of the ledger's custody for good or until
    /// a new acquisition: destroyed or deactivated, or left the ledger.
    pub fn is_gone(&self) -> bool {
        matches!(
            self,
            FirearmState::Disposed { .. } | FirearmState::Left { .. }
        )
    }

    /// A short word for tables.
    pub fn word(&self) -> &'static str {
        match self {
            FirearmState::InStore { .. } => "in-store",
            FirearmState::Issued { .. } => "issued",
            FirearmState::InTransit { .. } => "in-transit",
            FirearmState::InMaintenance { .. } => "in-maintenance",
            FirearmState::Lost { .. } => "lost",
            FirearmState::Seized { .. } => "seized",
            FirearmState::Disposed { .. } => "disposed",
            FirearmState::Left { .. } => "left-ledger",
        }
    }
}

/// One firearm as the ledger knows it now.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FirearmRecord {
    /// Ledger id.
    pub id: FirearmId,
    /// Identity (corrections folded in).
    pub identity: FirearmIdentity,
    /// The site answerable for it.
    pub site: SiteId,
    /// Where it is.
    #[serde(with = "crate::snapshot::firearm_state")]
    pub state: FirearmState,
    /// The acquisition entry.
    pub acquired: Hash,
}

/// A person's licences as the regulator chain records them.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PersonRecord {
    /// Employer.
    pub company: Option<CompanyId>,
    /// Salted identity hash.
    pub identity_hash: Option<Hash>,
    /// The officer licence recorded last, unless revoked.
    pub licence: Option<OfficerLicence>,
    /// Every officer licence recorded (renewals included), unless revoked:
    /// the one valid at an act's time counts.
    pub licences: Vec<OfficerLicence>,
    /// Permits in force (revoked ones removed).
    pub permits: Vec<Permit>,
    /// Qualifications in force.
    pub qualifications: Vec<Qualification>,
    /// Barred, and until when (None = for good).
    pub barred: Option<Option<Timestamp>>,
    /// The latest vetting outcome recorded, if any.
    pub vetting: Option<crate::rules::oversight::Vetting>,
}

impl PersonRecord {
    /// Whether barred at `t`.
    pub fn barred_at(&self, t: Timestamp) -> bool {
        match self.barred {
            Some(None) => true,
            Some(Some(until)) => t < until,
            None => false,
        }
    }
}

/// A licensed company.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CompanyRecord {
    /// Legal name.
    pub name: Name,
    /// Licence number.
    pub licence: Name,
    /// Licence validity.
    pub valid: Validity,
    /// Status.
    pub status: CompanyStatus,
    /// Firearm categories the licence covers (none: no firearms, no
    /// ammunition).
    pub categories: Vec<Ident>,
}

impl CompanyRecord {
    /// Active and within its licence at `t`.
    pub fn active_at(&self, t: Timestamp) -> bool {
        self.status == CompanyStatus::Active && self.valid.covers(t)
    }
}

/// A registered armoury.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SiteRecord {
    /// Company.
    pub company: CompanyId,
    /// Name.
    pub name: Name,
    /// Approved storage locations.
    pub locations: BTreeSet<LocationId>,
    /// When the regulator registered it (its count grace runs from here).
    pub registered_at: Timestamp,
}

/// A site's armoury approval in force, with its conditions.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SiteApproval {
    /// Approval number.
    pub approval: Name,
    /// Validity.
    pub valid: Validity,
    /// Firearm categories the armoury may hold (empty: no condition).
    pub categories: Vec<Ident>,
    /// Most firearms present at once (`None`: no maximum).
    pub max_firearms: Option<u32>,
}

/// An issue not yet fully returned.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OpenIssue {
    /// Site.
    pub site: SiteId,
    /// Firearm, if a firearm issue.
    pub firearm: Option<FirearmId>,
    /// Recipient.
    pub to: PersonId,
    /// Issuer.
    pub by: PersonId,
    /// When issued (device time).
    pub issued_at: Timestamp,
    /// Due back.
    pub due_back: Timestamp,
    /// Rounds outstanding per lot.
    pub outstanding: BTreeMap<LotId, u64>,
}

/// Where a transfer stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TransferStatus {
    /// Sent, not acknowledged.
    Pending,
    /// Acknowledged by the named entry.
    Acknowledged(Hash),
    /// Cancelled by the named entry.
    Cancelled(Hash),
    /// Refused by the receiver in the named entry; the sender takes the
    /// items back with a cancellation.
    Rejected(Hash),
}

/// A transfer between sites.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Transfer {
    /// Sender.
    pub from_site: SiteId,
    /// Receiver.
    pub to_site: SiteId,
    /// Firearms sent.
    pub firearms: Vec<FirearmId>,
    /// Rounds sent.
    pub rounds: BTreeMap<LotId, u64>,
    /// When sent (server receipt if known, else device time).
    pub sent_at: Timestamp,
    /// Status.
    pub status: TransferStatus,
}

impl Transfer {
    /// Whether the sender may still take the items back: not acknowledged,
    /// not cancelled (pending, or rejected by the receiver).
    pub fn is_returnable(&self) -> bool {
        matches!(
            self.status,
            TransferStatus::Pending | TransferStatus::Rejected(_)
        )
    }
}

/// A loss or theft report.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LossRecord {
    /// Site.
    pub site: SiteId,
    /// Items.
    pub items: Vec<Item>,
    /// Category.
    pub kind: LossKind,
    /// When the loss was discovered.
    pub discovered_at: Timestamp,
    /// When reported (server receipt if known, else device time).
    pub reported_at: Timestamp,
    /// Police reference.
    pub police_ref: Option<Name>,
    /// Regulator reference.
    pub regulator_ref: Option<Name>,
}

/// A difference between a count and the ledger.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Discrepancy {
    /// Site.
    pub site: SiteId,
    /// The count entry (last part).
    pub count: Hash,
    /// The item.
    pub item: Item,
    /// Expected (rounds, or 1/0 for a firearm).
    pub expected: u64,
    /// Found.
    pub found: u64,
    /// Settled.
    pub resolved: bool,
    /// The person answerable, for a rounds shortfall at a return.
    pub person: Option<PersonId>,
}

/// A lost-or-stolen notice the regulator entered from the police or abroad.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Notice {
    /// Who sent it.
    pub source: NoticeSource,
    /// The firearm as marked.
    pub firearm: NoticedFirearm,
    /// The regulator entry that recorded it.
    pub entry: Hash,
    /// When (the entry's time).
    pub at: Timestamp,
    /// The regulator entry that withdrew it, and why.
    pub withdrawn: Option<(Hash, NoticeWithdrawal)>,
}

impl Notice {
    /// Whether the notice names `identity`: the same normalised serial, and
    /// the same normalised maker (and model, when the notice gives one).
    pub fn matches(&self, identity: &FirearmIdentity) -> bool {
        let n = &self.firearm;
        normalise(n.serial.as_str()) == identity.serial_key()
            && normalise(n.manufacturer.as_str()) == normalise(identity.manufacturer.as_str())
            && n.model
                .as_ref()
                .is_none_or(|m| normalise(m.as_str()) == normalise(identity.model.as_str()))
    }
}

/// What a firearm matched on the lost-and-stolen register.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "kebab-case")]
pub enum RegisterSource {
    /// An armoury's loss or theft report not closed by a recovery.
    LossReport {
        /// The site that reported it.
        site: SiteId,
        /// The report entry.
        entry: Hash,
        /// Lost or stolen.
        kind: LossKind,
    },
    /// A notice from the police or abroad.
    Notice {
        /// Its reference.
        reference: Ident,
        /// The regulator entry that recorded it.
        entry: Hash,
        /// Who sent it.
        source: NoticeSource,
    },
}

/// An acquisition, transfer in or recovery that named a firearm on the
/// lost-and-stolen register: both records.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StolenHit {
    /// The site that recorded the act.
    pub site: SiteId,
    /// The act's entry.
    pub entry: Hash,
    /// The act's kind.
    #[serde(deserialize_with = "crate::snapshot::static_kind")]
    pub kind: crate::snapshot::KindName,
    /// When it was recorded (server receipt if known, else device time).
    pub at: Timestamp,
    /// The firearm.
    pub firearm: FirearmId,
    /// Its serial as the act recorded it.
    pub serial: Name,
    /// The register record it matched.
    #[serde(with = "crate::snapshot::register_source")]
    pub matched: RegisterSource,
}

/// Where a trace request stands.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TraceRequest {
    /// The serial asked about, as typed.
    pub serial: Name,
    /// The company asked.
    pub company: CompanyId,
    /// Answer by then.
    pub deadline: Timestamp,
    /// The regulator entry that opened it.
    pub entry: Hash,
    /// When it was opened.
    pub opened_at: Timestamp,
    /// The first answer: entry, site and when it was recorded.
    pub answer: Option<TraceAnswer>,
}

/// A company's answer to a trace request.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TraceAnswer {
    /// The answering entry.
    pub entry: Hash,
    /// Its site.
    pub site: SiteId,
    /// When it was recorded (server receipt if known, else device time).
    pub at: Timestamp,
    /// What it says.
    pub outcome: TraceOutcome,
    /// The firearms it names.
    pub firearms: Vec<FirearmId>,
}

impl TraceRequest {
    /// `answered`, `overdue` or `open` at `now`.
    pub fn status(&self, now: Timestamp) -> &'static str {
        match &self.answer {
            Some(_) => "answered",
            None if self.deadline < now => "overdue",
            None => "open",
        }
    }
}

/// What kind of entry a hash names, for reference checks.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EntryMeta {
    /// Chain.
    pub chain: ChainId,
    /// Counter.
    pub counter: u64,
    /// Event kind.
    #[serde(deserialize_with = "crate::snapshot::static_kind")]
    pub kind: crate::snapshot::KindName,
    /// Acting officer.
    pub officer: PersonId,
    /// Device time.
    pub time: Timestamp,
}

impl EntryMeta {
    /// The kind and place of `entry`.
    pub fn of(entry: &crate::entry::SignedEntry) -> Self {
        let h = entry.header();
        let body = entry.body();
        EntryMeta {
            chain: h.chain.clone(),
            counter: h.counter,
            kind: body.event.kind(),
            officer: body.officer.clone(),
            time: h.device_time,
        }
    }
}

/// Every applied entry's kind and place, by entry hash: held in memory by
/// an offline verifier; on a server, looked up in the log (through the
/// engine's history source), with only the entries applied since the last
/// commit held. Not part of the state's encoding: it is the log's.
#[derive(Clone, Debug, Default)]
pub struct EntryIndex {
    held: HashMap<Hash, EntryMeta>,
    stored: Option<crate::rules::engine::Lookup>,
}

impl EntryIndex {
    /// The kind and place of the applied entry `hash` (a failed read of
    /// the log is `None`, and kept as the history source's fault).
    pub fn get(&self, hash: &Hash) -> Option<EntryMeta> {
        if let Some(m) = self.held.get(hash) {
            return Some(m.clone());
        }
        let found = self.stored.as_ref()?.find(hash).ok()??;
        Some(EntryMeta::of(&found))
    }

    /// Whether `hash` names an applied entry.
    pub fn contains_key(&self, hash: &Hash) -> bool {
        self.get(hash).is_some()
    }

    /// Records an applied entry.
    pub(crate) fn insert(&mut self, hash: Hash, meta: EntryMeta) {
        self.held.insert(hash, meta);
    }

    /// Looks entries up in `lookup` from now on.
    pub(crate) fn set_lookup(&mut self, lookup: crate::rules::engine::Lookup) {
        self.stored = Some(lookup);
    }

    /// Every entry held is in the history source now: dropped from memory
    /// (nothing changes without a source).
    pub(crate) fn committed(&mut self) {
        if self.stored.is_some() {
            self.held = HashMap::new();
        }
    }

    /// How many entries are held in memory.
    pub fn held(&self) -> usize {
        self.held.len()
    }
}

/// What a count session has seen so far: firearms, and rounds per lot.
pub type CountSession = (BTreeSet<FirearmId>, BTreeMap<LotId, u64>);

/// Everything folded from the ledger.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct State {
    /// Companies.
    pub companies: BTreeMap<CompanyId, CompanyRecord>,
    /// Sites.
    pub sites: BTreeMap<SiteId, SiteRecord>,
    /// People.
    pub persons: BTreeMap<PersonId, PersonRecord>,
    /// Firearms.
    pub firearms: BTreeMap<FirearmId, FirearmRecord>,
    /// Ammunition lots.
    pub lots: BTreeMap<LotId, LotIdentity>,
    /// Rounds per (site, lot) per holder; negative only where a violation was recorded.
    pub balances: BTreeMap<(SiteId, LotId), BTreeMap<Holder, i64>>,
    /// Open issues by issue entry.
    pub open_issues: BTreeMap<Hash, OpenIssue>,
    /// Transfers by transfer-out entry.
    pub transfers: BTreeMap<Hash, Transfer>,
    /// Loss reports by entry.
    pub losses: BTreeMap<Hash, LossRecord>,
    /// Seizures by entry: which firearm.
    pub seizures: BTreeMap<Hash, FirearmId>,
    /// Count discrepancies.
    pub discrepancies: Vec<Discrepancy>,
    /// Last serial-number (or full) count per site.
    pub last_count: BTreeMap<SiteId, Timestamp>,
    /// Count sessions in progress: firearms and rounds seen so far.
    pub count_sessions: BTreeMap<(SiteId, Ident), CountSession>,
    /// Every applied entry's kind and place (not encoded: the log's).
    #[serde(skip)]
    pub entries: EntryIndex,
    /// Lot status per site (absent: serviceable).
    pub lot_status: BTreeMap<(SiteId, LotId), LotStatus>,
    /// Armouries open now, with who opened them.
    pub armoury_open: BTreeMap<SiteId, Vec<PersonId>>,
    /// Key roster: who holds each armoury key.
    pub keys: BTreeMap<(SiteId, Ident), PersonId>,
    /// Regulator authorisations of a person for a site.
    pub authorisations: BTreeMap<(PersonId, SiteId), Vec<Validity>>,
    /// The regulator's numeric site rules in force.
    pub policy: Policy,
    /// The lead counter (first named) of each site's last two counts.
    pub count_leads: BTreeMap<SiteId, Vec<PersonId>>,
    /// Sealed notes erased by a `NotesErased` entry: when and under what
    /// ground (the first erasure of a note stands).
    #[serde(with = "crate::snapshot::sorted_map")]
    pub erased_notes: HashMap<crate::note::SealedNote, (Timestamp, crate::note::ErasureGround)>,
    /// Lost-or-stolen notices by reference (withdrawn ones kept, marked).
    pub notices: BTreeMap<Ident, Notice>,
    /// Acts that named a firearm on the lost-and-stolen register.
    pub stolen_hits: Vec<StolenHit>,
    /// Trace requests by reference.
    pub trace_requests: BTreeMap<Ident, TraceRequest>,
    /// The regulator's inspections, findings, sanctions and complaints.
    pub oversight: crate::rules::oversight::Oversight,
    /// Armoury approvals with conditions, per site (absent: registration only).
    pub approvals: BTreeMap<SiteId, SiteApproval>,
    /// Training providers' accreditations, every period recorded.
    pub providers: BTreeMap<Ident, Vec<Validity>>,
}

impl State {
    /// A lot's status at a site.
    pub fn lot_status(&self, site: &SiteId, lot: &LotId) -> LotStatus {
        self.lot_status
            .get(&(site.clone(), *lot))
            .copied()
            .unwrap_or_default()
    }
}

impl State {
    /// Rounds of `lot` held by `holder` at `site`.
    pub fn balance(&self, site: &SiteId, lot: &LotId, holder: &Holder) -> i64 {
        self.balances
            .get(&(site.clone(), *lot))
            .and_then(|m| m.get(holder))
            .copied()
            .unwrap_or(0)
    }

    /// Rounds of `lot` in store anywhere at `site`.
    pub fn in_store(&self, site: &SiteId, lot: &LotId) -> i64 {
        self.balances
            .get(&(site.clone(), *lot))
            .map(|m| {
                m.iter()
                    .filter(|(h, _)| matches!(h, Holder::Store(_)))
                    .map(|(_, v)| *v)
                    .sum()
            })
            .unwrap_or(0)
    }

    /// Adds `delta` rounds to a holder's balance.
    pub fn add(&mut self, site: &SiteId, lot: LotId, holder: Holder, delta: i64) {
        let m = self.balances.entry((site.clone(), lot)).or_default();
        let v = m.entry(holder.clone()).or_insert(0);
        *v = v.saturating_add(delta);
        if *v == 0 {
            m.remove(&holder);
        }
    }

    /// Firearms held by `site` (any state), by id.
    pub fn firearms_at<'a>(
        &'a self,
        site: &'a SiteId,
    ) -> impl Iterator<Item = &'a FirearmRecord> + 'a {
        self.firearms.values().filter(move |f| &f.site == site)
    }

    /// Firearms whose normalised serial matches `serial`.
    pub fn find_serial<'a>(&'a self, serial: &str) -> impl Iterator<Item = &'a FirearmRecord> + 'a {
        let key = normalise(serial);
        self.firearms
            .values()
            .filter(move |f| f.identity.serial_key() == key)
    }

    /// A firearm in the words an officer uses: `firearm GLK-0001` (its
    /// serial), or its ledger id when the ledger has never seen it.
    pub fn firearm_words(&self, f: &FirearmId) -> String {
        match self.firearms.get(f) {
            Some(r) => format!("firearm {}", r.identity.serial),
            None => format!("a firearm the ledger has never seen (ledger id {f})"),
        }
    }

    /// A lot in the words an officer uses: `lot 24-0917 (9x19mm)`, or its
    /// ledger id when the ledger has never seen it.
    pub fn lot_words(&self, l: &LotId) -> String {
        match self.lots.get(l) {
            Some(i) => format!("lot {} ({})", i.lot_number, i.calibre),
            None => format!("a lot the ledger has never seen (ledger id {l})"),
        }
    }

    /// The company a site belongs to.
    pub fn company_of(&self, site: &SiteId) -> Option<&CompanyId> {
        self.sites.get(site).map(|s| &s.company)
    }

    /// The lost-and-stolen register's records naming `identity` (the
    /// firearm `id`): an open loss report of it by a site other than
    /// `except_site`, and every notice in force that names it.
    pub fn register_matches(
        &self,
        id: &FirearmId,
        identity: &FirearmIdentity,
        except_site: Option<&SiteId>,
    ) -> Vec<RegisterSource> {
        let mut out = Vec::new();
        if let Some(r) = self.firearms.get(id)
            && let FirearmState::Lost { report } = &r.state
            && Some(&r.site) != except_site
        {
            out.push(RegisterSource::LossReport {
                site: r.site.clone(),
                entry: *report,
                kind: self.losses.get(report).map_or(LossKind::Loss, |l| l.kind),
            });
        }
        for (reference, n) in &self.notices {
            if n.withdrawn.is_none() && n.matches(identity) {
                out.push(RegisterSource::Notice {
                    reference: reference.clone(),
                    entry: n.entry,
                    source: n.source.clone(),
                });
            }
        }
        out
    }

    /// The lost-and-stolen register: every firearm reported lost or stolen
    /// and not recovered, with its report; then every notice in force.
    pub fn lost_and_stolen(&self) -> Vec<(Option<&FirearmRecord>, RegisterSource)> {
        let mut out = Vec::new();
        for f in self.firearms.values() {
            if let FirearmState::Lost { report } = &f.state {
                out.push((
                    Some(f),
                    RegisterSource::LossReport {
                        site: f.site.clone(),
                        entry: *report,
                        kind: self.losses.get(report).map_or(LossKind::Loss, |l| l.kind),
                    },
                ));
            }
        }
        for (reference, n) in &self.notices {
            if n.withdrawn.is_none() {
                out.push((
                    None,
                    RegisterSource::Notice {
                        reference: reference.clone(),
                        entry: n.entry,
                        source: n.source.clone(),
                    },
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use crate::event::SiteEvent;
    use crate::ids::{PersonId, SiteId, Timestamp};
    use crate::model::{AmmoLine, FirearmId, Item, LotId};
    use crate::rules::View;
    use crate::testkit::{Showcase, v};
    use crate::verify::LedgerVerifier;

    /// What the rules say about `event` at north after the showcase.
    fn refusal(event: SiteEvent) -> String {
        let show = Showcase::new();
        let s = &show.scenario;
        let mut ver = LedgerVerifier::new(s.regulator_key(), vec![s.root_key()], View::Corrected);
        for e in show.log() {
            ver.ingest(e.clone(), None).unwrap();
        }
        let site: SiteId = v("north");
        let officer: PersonId = v("armourer-1");
        ver.engine()
            .check(&site, &officer, s.now.plus(Timestamp::HOUR), &event)
            .iter()
            .map(|x| format!("{}: {}", x.rule, x.evidence))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn refusals_name_lots_and_firearms_as_the_officer_typed_them() {
        let show = Showcase::new();
        let hex = |id: &dyn core::fmt::Display| id.to_string();
        let r = refusal(SiteEvent::AmmunitionIssued {
            to: v("guard-1"),
            lines: vec![AmmoLine {
                lot: show.lot,
                rounds: 1000,
            }],
            from: v("vault"),
            purpose: crate::testkit::note("range"),
            due_back: show.scenario.now.plus(Timestamp::DAY),
        });
        assert!(
            r.contains("1000 rounds of lot L-24-0917 (9x19mm) taken from the holder in store at vault, which holds 395"),
            "{r}"
        );
        assert!(!r.contains(&hex(&show.lot)), "{r}");
        let r = refusal(SiteEvent::StorageMoved {
            item: Item::Firearm(show.corrected),
            from: v("vault"),
            to: v("rack-1"),
        });
        assert!(r.contains("firearm GLK-001 is held by site south"), "{r}");
        assert!(!r.contains(&hex(&show.corrected)), "{r}");
        // Only an id the ledger has never seen is shown as an id, and says so.
        let stranger = FirearmId([7; 16]);
        let r = refusal(SiteEvent::StorageMoved {
            item: Item::Firearm(stranger),
            from: v("vault"),
            to: v("rack-1"),
        });
        assert!(
            r.contains(&format!(
                "a firearm the ledger has never seen (ledger id {stranger})"
            )),
            "{r}"
        );
        let r = refusal(SiteEvent::StorageMoved {
            item: Item::Rounds(AmmoLine {
                lot: LotId([8; 16]),
                rounds: 1,
            }),
            from: v("vault"),
            to: v("rack-1"),
        });
        assert!(r.contains("a lot the ledger has never seen"), "{r}");
    }
}
