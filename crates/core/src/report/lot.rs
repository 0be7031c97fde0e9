//! An ammunition lot's trace: its identity and receipts, every movement of
//! its rounds across sites and companies in log order, the balance per
//! holder (store location, person, in transit) after every step, every
//! unexplained difference flagged with the entry that shows it, and who held
//! rounds of it in a window ([`held_between`]).
//!
//! The balances are not worked out here: [`Engine::replay_each`] folds the
//! ledger again by the same rules that made the state now, and the trace
//! reads the lot's holdings after each act. So a trace and an inventory
//! can never disagree. The server's `GET /v1/lots/{lot}/trace` and the
//! CLI's offline `trace --lot --bundle` both call [`trace_lots`].

use std::collections::{BTreeMap, HashMap};
use std::ops::ControlFlow;

use serde::Serialize;

use crate::entry::SignedEntry;
use crate::event::{Event, SiteEvent, Subject};
use crate::hash::Hash;
use crate::ids::{LocationId, Name, PersonId, SiteId, Timestamp};
use crate::model::{Holder, Item, LotId, LotIdentity, normalise};
use crate::rules::Engine;
use crate::rules::state::{State, TransferStatus};

use super::timeline::{TimelineEvent, events_of};
use super::trace::TraceView;

/// Who holds rounds of a lot.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum LotHolder {
    /// In store at a location of the site.
    Store {
        /// The location.
        location: LocationId,
    },
    /// Issued to a person of the site.
    Person {
        /// The person.
        person: PersonId,
    },
    /// Sent by the site, not yet acknowledged (or refused and not yet taken back).
    InTransit {
        /// The transfer-out entry.
        transfer: Hash,
        /// The receiving site.
        to_site: SiteId,
    },
}

impl core::fmt::Display for LotHolder {
    /// In words: `in store at vault`, `with g-1`, `in transit to south`.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            LotHolder::Store { location } => write!(f, "in store at {location}"),
            LotHolder::Person { person } => write!(f, "with {person}"),
            LotHolder::InTransit { to_site, .. } => write!(f, "in transit to {to_site}"),
        }
    }
}

/// Rounds of the lot one holder has at one site.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Holding {
    /// The site answerable (the sender, for rounds in transit).
    pub site: SiteId,
    /// The holder.
    pub holder: LotHolder,
    /// Rounds (negative only where the ledger recorded a violation).
    pub rounds: i64,
    /// For a person: the open issues of this lot the rounds were issued
    /// under (their entry hashes).
    pub issues: Vec<Hash>,
}

/// A difference the ledger could not explain: a count that did not find
/// what the books say, rounds not accounted for at a return, rounds short
/// on arrival.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LotFlag {
    /// The entry that shows it (the count's last part, the return, the arrival).
    pub entry: Hash,
    /// Site.
    pub site: SiteId,
    /// Rounds the books expected.
    pub expected: u64,
    /// Rounds found (or accounted for).
    pub found: u64,
    /// The person answerable, for a shortfall at a return.
    pub person: Option<PersonId>,
    /// The entry that settled it, if one has.
    pub resolved_by: Option<Hash>,
}

/// One act on the lot, with the balances after it.
#[derive(Clone, Debug, Serialize)]
pub struct LotStep {
    /// The event, as a weapon's timeline shows one.
    #[serde(flatten)]
    pub event: TimelineEvent,
    /// The issue the act opens, closes or draws on.
    pub issue: Option<Hash>,
    /// Incident reference, for rounds expended.
    pub incident: Option<Name>,
    /// Rounds of the lot a count saw in this part.
    pub counted: Option<u64>,
    /// What moved: each holder whose balance changed, before → after.
    pub changes: Vec<Change>,
    /// Every holder of the lot after the act.
    pub balances: Vec<Holding>,
    /// Differences this act shows (a count, a short return or arrival).
    pub flags: Vec<LotFlag>,
}

/// One holder's balance before and after an act.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Site.
    pub site: SiteId,
    /// Holder.
    pub holder: LotHolder,
    /// Rounds before.
    pub before: i64,
    /// Rounds after.
    pub after: i64,
}

/// A receipt of the lot from outside the ledger.
#[derive(Clone, Debug, Serialize)]
pub struct LotReceipt {
    /// The receiving entry.
    pub entry: Hash,
    /// Site.
    pub site: SiteId,
    /// Device time.
    pub time: Timestamp,
    /// Rounds received.
    pub rounds: u64,
    /// Supplier.
    pub source: Name,
    /// Store location.
    pub location: LocationId,
}

/// One lot's trace.
#[derive(Clone, Debug, Serialize)]
pub struct LotTrace {
    /// Ledger id.
    pub lot: LotId,
    /// Maker, lot number, calibre, type, year.
    pub identity: LotIdentity,
    /// Receipts from outside the ledger.
    pub receipts: Vec<LotReceipt>,
    /// Every act on the lot in log order.
    pub steps: Vec<LotStep>,
    /// Whether every site's link chain for the lot holds (no gap, no fork).
    pub complete: bool,
    /// Holders now.
    pub balances: Vec<Holding>,
    /// Every flagged difference, with its settlement if any.
    pub flags: Vec<LotFlag>,
    /// Who held rounds in the window asked for, if one was ([`LotTrace::window`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_between: Option<HeldWindow>,
}

/// The holders of a window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HeldWindow {
    /// From (device time, inclusive).
    pub from: Timestamp,
    /// Until (device time, inclusive).
    pub until: Timestamp,
    /// Every holder with rounds in the window.
    pub holders: Vec<HeldBy>,
}

impl LotTrace {
    /// Sets [`LotTrace::held_between`] to the holders between `from` and `until`.
    pub fn window(&mut self, from: Timestamp, until: Timestamp) {
        let holders = held_between(self, from, until);
        self.held_between = Some(HeldWindow {
            from,
            until,
            holders,
        });
    }

    /// Keeps only what concerns the sites `keep` says a reader may see:
    /// their acts, their holders, their receipts and flags. Rounds in
    /// transit are kept for the sender (answerable for them) and for the
    /// receiver (they are on their way to it), never for a third site; a
    /// receiver sees its own acts on the rounds it got, not the sender's.
    /// [`LotTrace::complete`] is worked out again over the acts kept, so it
    /// says nothing about another site's link chain. A company sees its own
    /// holders; the regulator keeps everything. Call before
    /// [`LotTrace::window`], so a window shows only the holders kept.
    pub fn retain_sites(&mut self, keep: impl Fn(&SiteId) -> bool) {
        let holder_kept = |h: &SiteId, holder: &LotHolder| {
            keep(h) || matches!(holder, LotHolder::InTransit { to_site, .. } if keep(to_site))
        };
        self.steps.retain(|s| match &s.event.chain {
            crate::entry::ChainId::Site(site) => keep(site),
            crate::entry::ChainId::Regulator => false,
        });
        for s in &mut self.steps {
            s.balances.retain(|h| holder_kept(&h.site, &h.holder));
            s.changes.retain(|c| holder_kept(&c.site, &c.holder));
            s.flags.retain(|f| keep(&f.site));
        }
        self.balances.retain(|h| holder_kept(&h.site, &h.holder));
        self.receipts.retain(|r| keep(&r.site));
        self.flags.retain(|f| keep(&f.site));
        // Each site's lot links are checked on their own (`events_of`), so
        // the kept acts' links are the whole answer for the kept sites.
        self.complete = self.steps.iter().all(|s| s.event.link_ok);
    }
}

/// The traces of every lot with a lot number.
#[derive(Clone, Debug, Serialize)]
pub struct LotTraces {
    /// The lot number (or ledger id) asked for.
    pub lot_number: String,
    /// The view.
    pub view: TraceView,
    /// Every lot recorded under it (makers may share a lot number).
    pub lots: Vec<LotTrace>,
}

/// Whether `entry` concerns `lot`: it is an act of the lot's history (its
/// links name the lot) or a stock count that saw it; the rule of the
/// store's lot index.
pub fn concerns_lot(entry: &SignedEntry, lot: &LotId) -> bool {
    let body = entry.body();
    body.link_for(&Subject::Lot(*lot)).is_some()
        || matches!(
            &body.event,
            Event::Site(SiteEvent::CountPerformed { rounds_seen, .. })
                if rounds_seen.iter().any(|l| &l.lot == lot)
        )
}

/// The lots a lot number (any spacing or case) or a ledger id (32 hex
/// digits) names.
pub fn find_lots(engine: &Engine, asked: &str) -> Vec<LotId> {
    let key = normalise(asked);
    engine
        .state()
        .lots
        .iter()
        .filter(|(id, i)| normalise(i.lot_number.as_str()) == key || id.to_string() == asked)
        .map(|(id, _)| *id)
        .collect()
}

/// Every holder of `lot` in `state`, sorted by site and holder.
fn holdings(state: &State, lot: &LotId) -> Vec<Holding> {
    let mut out = Vec::new();
    for ((site, l), m) in &state.balances {
        if l != lot {
            continue;
        }
        for (h, n) in m.iter().filter(|(_, n)| **n != 0) {
            let (holder, issues) = match h {
                Holder::Store(location) => (
                    LotHolder::Store {
                        location: location.clone(),
                    },
                    Vec::new(),
                ),
                Holder::Person(person) => (
                    LotHolder::Person {
                        person: person.clone(),
                    },
                    state
                        .open_issues
                        .iter()
                        .filter(|(_, i)| {
                            &i.site == site
                                && &i.to == person
                                && i.outstanding.get(lot).is_some_and(|n| *n > 0)
                        })
                        .map(|(h, _)| *h)
                        .collect(),
                ),
            };
            out.push(Holding {
                site: site.clone(),
                holder,
                rounds: *n,
                issues,
            });
        }
    }
    for (h, t) in &state.transfers {
        let moving = matches!(
            t.status,
            TransferStatus::Pending | TransferStatus::Rejected(_)
        );
        match t.rounds.get(lot) {
            Some(n) if moving && *n > 0 => out.push(Holding {
                site: t.from_site.clone(),
                holder: LotHolder::InTransit {
                    transfer: *h,
                    to_site: t.to_site.clone(),
                },
                rounds: i64::try_from(*n).unwrap_or(i64::MAX),
                issues: Vec::new(),
            }),
            _ => {}
        }
    }
    out.sort_by(|a, b| (&a.site, &a.holder).cmp(&(&b.site, &b.holder)));
    out
}

/// The holders whose balance differs between two snapshots.
fn changes(before: &[Holding], after: &[Holding]) -> Vec<Change> {
    let key = |h: &Holding| (h.site.clone(), h.holder.clone());
    let mut m: BTreeMap<(SiteId, LotHolder), (i64, i64)> = BTreeMap::new();
    for h in before {
        m.entry(key(h)).or_default().0 = h.rounds;
    }
    for h in after {
        m.entry(key(h)).or_default().1 = h.rounds;
    }
    m.into_iter()
        .filter(|(_, (b, a))| b != a)
        .map(|((site, holder), (before, after))| Change {
            site,
            holder,
            before,
            after,
        })
        .collect()
}

/// Whether an act may move rounds of a lot without naming it in its links:
/// a cancelled or refused transfer, a return or an arrival short of what
/// was owed, a settlement.
fn may_move_unnamed(ev: &SiteEvent) -> bool {
    use SiteEvent::*;
    matches!(
        ev,
        TransferCancelled { .. }
            | TransferRejected { .. }
            | Returned { .. }
            | AmmunitionReturned { .. }
            | TransferredIn { .. }
            | DiscrepancyResolved { .. }
            | CountPerformed { .. }
    )
}

/// Issue, incident and rounds counted, as the act says.
fn particulars(
    ev: &SiteEvent,
    hash: Hash,
    lot: &LotId,
) -> (Option<Hash>, Option<Name>, Option<u64>) {
    use SiteEvent::*;
    match ev {
        Issued { .. } | AmmunitionIssued { .. } => (Some(hash), None, None),
        Returned {
            issue, incident, ..
        } => (Some(*issue), incident.clone(), None),
        AmmunitionReturned { issue, .. } => (Some(*issue), None, None),
        AmmunitionExpended {
            issue, incident, ..
        } => (*issue, incident.clone(), None),
        CountPerformed { rounds_seen, .. } => (
            None,
            None,
            Some(
                rounds_seen
                    .iter()
                    .filter(|l| &l.lot == lot)
                    .fold(0u64, |n, l| n.saturating_add(l.rounds)),
            ),
        ),
        Corrected { corrected, .. } => particulars(corrected, hash, lot),
        _ => (None, None, None),
    }
}

/// A lot's trace broke off before the replay reached the end of the
/// ledger, because its caller asked it to (the request ended or ran out of
/// time).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the lot's trace stopped after {after} of the ledger's entries")]
pub struct TraceStopped {
    /// Entries folded before it stopped.
    pub after: u64,
}

/// Why a lot's trace has no answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TraceError {
    /// Its caller asked it to stop.
    #[error(transparent)]
    Stopped(#[from] TraceStopped),
    /// The ledger's entries could not be read back (a server's log).
    #[error(transparent)]
    History(#[from] crate::rules::HistoryError),
}

/// How often (in entries folded) [`trace_lot_until`] asks whether to stop.
const STOP_EVERY: u64 = 256;

/// Traces `lot`. `positions` gives the log index and receipt time of the
/// entries the caller has them for (a store's lot index scan, a bundle);
/// the acts themselves come from the engine's history, so one that moves
/// rounds without naming the lot (a cancelled transfer) is not missed.
/// `None` if the engine does not know the lot.
pub fn trace_lot<'a>(
    engine: &Engine,
    lot: LotId,
    view: TraceView,
    positions: impl IntoIterator<Item = (Option<u64>, Option<Timestamp>, &'a SignedEntry)>,
) -> Option<LotTrace> {
    trace_lot_until(engine, lot, view, positions, &|| false).unwrap_or(None)
}

/// [`trace_lot`] that asks `stop` every few hundred entries of the replay
/// (and before the first) whether to give up: a server stops the trace of a
/// request that ended or ran past its deadline.
pub fn trace_lot_until<'a>(
    engine: &Engine,
    lot: LotId,
    view: TraceView,
    positions: impl IntoIterator<Item = (Option<u64>, Option<Timestamp>, &'a SignedEntry)>,
    stop: &dyn Fn() -> bool,
) -> Result<Option<LotTrace>, TraceError> {
    let Some(identity) = engine.state().lots.get(&lot).cloned() else {
        return Ok(None);
    };
    let known: HashMap<Hash, (Option<u64>, Option<Timestamp>)> = positions
        .into_iter()
        .map(|(i, r, e)| (e.hash(), (i, r)))
        .collect();
    let mut acts: Vec<(Option<u64>, Option<Timestamp>, SignedEntry)> = Vec::new();
    let mut snapshots: Vec<(Vec<Holding>, Vec<Change>, Vec<LotFlag>)> = Vec::new();
    let mut flags: Vec<LotFlag> = Vec::new();
    let mut last: Vec<Holding> = Vec::new();
    let mut folded = 0u64;
    let replay = engine.replay_each(|e, received_at, state| {
        if folded.is_multiple_of(STOP_EVERY) && stop() {
            return ControlFlow::Break(());
        }
        folded = folded.saturating_add(1);
        let Event::Site(ev) = &e.body().event else {
            return ControlFlow::Continue(());
        };
        let named = concerns_lot(e, &lot);
        if !named && !may_move_unnamed(ev) {
            return ControlFlow::Continue(());
        }
        let now = holdings(state, &lot);
        // New differences for this lot, and settlements of earlier ones.
        let mut raised = Vec::new();
        let ours = state
            .discrepancies
            .iter()
            .filter(|d| matches!(&d.item, Item::Rounds(l) if l.lot == lot));
        let mut settled = false;
        for (i, d) in ours.enumerate() {
            match flags.get_mut(i) {
                Some(f) => {
                    if d.resolved && f.resolved_by.is_none() {
                        f.resolved_by = Some(e.hash());
                        settled = true;
                    }
                }
                None => {
                    let f = LotFlag {
                        entry: d.count,
                        site: d.site.clone(),
                        expected: d.expected,
                        found: d.found,
                        person: d.person.clone(),
                        resolved_by: d.resolved.then(|| e.hash()),
                    };
                    raised.push(f.clone());
                    flags.push(f);
                }
            }
        }
        let moved = changes(&last, &now);
        if !named && moved.is_empty() && raised.is_empty() && !settled {
            return ControlFlow::Continue(());
        }
        let (index, received) = known.get(&e.hash()).copied().unwrap_or((None, received_at));
        acts.push((index, received, e.clone()));
        snapshots.push((now.clone(), moved, raised));
        last = now;
        ControlFlow::Continue(())
    })?;
    if let ControlFlow::Break(n) = replay {
        // The entry it stopped at was folded but not read.
        return Err(TraceStopped {
            after: n.saturating_sub(1),
        }
        .into());
    }
    let (events, complete) = events_of(
        Subject::Lot(lot),
        |_| true,
        acts.iter().map(|(i, r, e)| (*i, *r, e)),
        engine,
        view,
    );
    let corrected = |e: &SignedEntry| -> Option<SiteEvent> {
        let Event::Site(ev) = &e.body().event else {
            return None;
        };
        match (view, engine.correction_of(&e.hash())) {
            (TraceView::Corrected, Some((_, c))) => Some(c.clone()),
            _ => Some(ev.clone()),
        }
    };
    let mut receipts = Vec::new();
    let mut steps = Vec::new();
    for ((event, (_, _, e)), (balances, changes, raised)) in
        events.into_iter().zip(acts.iter()).zip(snapshots)
    {
        let ev = corrected(e);
        let (issue, incident, counted) = ev
            .as_ref()
            .map_or((None, None, None), |ev| particulars(ev, e.hash(), &lot));
        if let (
            Some(SiteEvent::AmmunitionReceived {
                lot: l,
                rounds,
                source,
                location,
                ..
            }),
            crate::entry::ChainId::Site(site),
        ) = (&ev, e.chain())
            && *l == lot
        {
            receipts.push(LotReceipt {
                entry: e.hash(),
                site: site.clone(),
                time: e.header().device_time,
                rounds: *rounds,
                source: source.name.clone(),
                location: location.clone(),
            });
        }
        // A flag's settlement is known only once the whole history is read.
        let raised = raised
            .into_iter()
            .map(|f| {
                flags
                    .iter()
                    .find(|g| g.entry == f.entry && g.site == f.site && g.person == f.person)
                    .cloned()
                    .unwrap_or(f)
            })
            .collect();
        steps.push(LotStep {
            event,
            issue,
            incident,
            counted,
            changes,
            balances,
            flags: raised,
        });
    }
    Ok(Some(LotTrace {
        lot,
        identity,
        receipts,
        steps,
        complete,
        balances: holdings(engine.state(), &lot),
        flags,
        held_between: None,
    }))
}

/// Traces every lot `asked` names ([`find_lots`]).
pub fn trace_lots<'a, I>(
    engine: &Engine,
    asked: &str,
    view: TraceView,
    positions: impl Fn() -> I,
) -> LotTraces
where
    I: IntoIterator<Item = (Option<u64>, Option<Timestamp>, &'a SignedEntry)>,
{
    LotTraces {
        lot_number: asked.to_string(),
        view,
        lots: find_lots(engine, asked)
            .into_iter()
            .filter_map(|id| trace_lot(engine, id, view, positions()))
            .collect(),
    }
}

/// One holder of rounds of the lot in a window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HeldBy {
    /// Site.
    pub site: SiteId,
    /// Holder.
    pub holder: LotHolder,
    /// Rounds held when the window opened (0 if it got them later).
    pub at_start: i64,
    /// Most rounds held at once in the window.
    pub most: i64,
    /// Rounds held when the window closed.
    pub at_end: i64,
    /// The issues the rounds were held under (persons only).
    pub issues: Vec<Hash>,
}

/// Who held rounds of the lot between `from` and `until` (device times,
/// inclusive): every holder with a positive balance when the window opened
/// (after the last act at or before `from`, in log order) or after any act
/// inside it, with how many and under which issues.
pub fn held_between(trace: &LotTrace, from: Timestamp, until: Timestamp) -> Vec<HeldBy> {
    let mut start: &[Holding] = &[];
    let mut inside: Vec<&[Holding]> = Vec::new();
    for s in &trace.steps {
        if s.event.time <= from {
            start = &s.balances;
        } else if s.event.time <= until {
            inside.push(&s.balances);
        }
    }
    let end = inside.last().copied().unwrap_or(start);
    let mut out: BTreeMap<(SiteId, LotHolder), HeldBy> = BTreeMap::new();
    let positive = |h: &&Holding| h.rounds > 0;
    for (snapshot, at_start) in
        core::iter::once((start, true)).chain(inside.iter().map(|s| (*s, false)))
    {
        for h in snapshot.iter().filter(positive) {
            let e = out
                .entry((h.site.clone(), h.holder.clone()))
                .or_insert_with(|| HeldBy {
                    site: h.site.clone(),
                    holder: h.holder.clone(),
                    at_start: 0,
                    most: 0,
                    at_end: 0,
                    issues: Vec::new(),
                });
            if at_start {
                e.at_start = h.rounds;
            }
            e.most = e.most.max(h.rounds);
            for i in &h.issues {
                if !e.issues.contains(i) {
                    e.issues.push(*i);
                }
            }
        }
    }
    for h in end {
        if let Some(e) = out.get_mut(&(h.site.clone(), h.holder.clone())) {
            e.at_end = h.rounds;
        }
    }
    out.into_values().collect()
}

#[cfg(test)]
#[path = "lot_tests.rs"]
mod tests;
