//! Reports computed from the folded state and from entries: a site's
//! inventory, ammunition reconciliation, one weapon's timeline and trace,
//! one ammunition lot's trace.
//! Shared by the server's API and the CLI's offline commands, so both say the
//! same thing.

mod lot;
mod timeline;
mod trace;

pub use lot::{
    Change, HeldBy, HeldWindow, Holding, LotFlag, LotHolder, LotReceipt, LotStep, LotTrace,
    LotTraces, TraceError, TraceStopped, concerns_lot, find_lots, held_between, trace_lot,
    trace_lot_until, trace_lots,
};
pub use timeline::{Timeline, TimelineEvent, concerns_firearm, summarise, timeline};
pub use trace::{Custody, SerialChange, Trace, TraceView, TracedFirearm, trace, trace_firearm};

use std::collections::BTreeMap;

use serde::Serialize;

use crate::entry::{ChainId, SignedEntry};
use crate::event::{Event, SiteEvent};
use crate::hash::Hash;
use crate::ids::{LocationId, PersonId, SiteId, Timestamp};
use crate::model::{FirearmId, Holder, LotId};
use crate::rules::state::{FirearmState, State};

/// One firearm line of an inventory.
#[derive(Clone, Debug, Serialize)]
pub struct InventoryFirearm {
    /// Ledger id.
    pub id: FirearmId,
    /// Serial as marked.
    pub serial: String,
    /// Maker and model.
    pub make_model: String,
    /// Calibre.
    pub calibre: String,
    /// State word.
    pub state: &'static str,
    /// State details.
    pub detail: FirearmState,
}

/// Rounds of a lot held by one holder.
#[derive(Clone, Debug, Serialize)]
pub struct InventoryRounds {
    /// Lot.
    pub lot: LotId,
    /// Lot number as marked.
    pub lot_number: String,
    /// Calibre.
    pub calibre: String,
    /// Holder.
    pub holder: Holder,
    /// Rounds (negative only where a violation was recorded).
    pub rounds: i64,
}

/// A site's holdings at one moment.
#[derive(Clone, Debug, Serialize)]
pub struct Inventory {
    /// Site.
    pub site: SiteId,
    /// As of.
    pub at: Option<Timestamp>,
    /// Firearms the site answers for, by serial.
    pub firearms: Vec<InventoryFirearm>,
    /// Ammunition balances.
    pub rounds: Vec<InventoryRounds>,
    /// Count of firearms per state.
    pub by_state: BTreeMap<&'static str, usize>,
}

/// The inventory of `site` in `state`.
pub fn inventory(state: &State, site: &SiteId, at: Option<Timestamp>) -> Inventory {
    let mut firearms: Vec<InventoryFirearm> = state
        .firearms_at(site)
        .map(|f| InventoryFirearm {
            id: f.id,
            serial: f.identity.serial.to_string(),
            make_model: format!("{} {}", f.identity.manufacturer, f.identity.model),
            calibre: f.identity.calibre.to_string(),
            state: f.state.word(),
            detail: f.state.clone(),
        })
        .collect();
    firearms.sort_by(|a, b| a.serial.cmp(&b.serial));
    let mut by_state = BTreeMap::new();
    for f in &firearms {
        *by_state.entry(f.state).or_insert(0) += 1;
    }
    let rounds = state
        .balances
        .iter()
        .filter(|((s, _), _)| s == site)
        .flat_map(|((_, lot), m)| {
            let id = state.lots.get(lot);
            m.iter().map(move |(h, n)| InventoryRounds {
                lot: *lot,
                lot_number: id.map(|i| i.lot_number.to_string()).unwrap_or_default(),
                calibre: id.map(|i| i.calibre.to_string()).unwrap_or_default(),
                holder: h.clone(),
                rounds: *n,
            })
        })
        .collect::<Vec<InventoryRounds>>();
    let mut rounds = rounds;
    rounds.sort_by(|a, b| (&a.lot_number, &a.holder).cmp(&(&b.lot_number, &b.holder)));
    Inventory {
        site: site.clone(),
        at,
        firearms,
        rounds,
        by_state,
    }
}

/// One lot's movements at a site: received − issued + returned − expended −
/// sent + received by transfer − lost − disposed = on hand.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LotReconciliation {
    /// Rounds received from outside the ledger.
    pub received: u64,
    /// Rounds received by transfer.
    pub transferred_in: u64,
    /// Rounds sent by transfer.
    pub transferred_out: u64,
    /// Rounds issued to people.
    pub issued: u64,
    /// Rounds returned to store.
    pub returned: u64,
    /// Rounds expended.
    pub expended: u64,
    /// Rounds reported lost.
    pub lost: u64,
    /// Rounds disposed.
    pub disposed: u64,
    /// In store now.
    pub in_store: i64,
    /// With people now.
    pub with_people: i64,
    /// Whether the movements add up to the holdings.
    pub balanced: bool,
}

/// Ammunition reconciliation per lot (and per person) for a site, from its entries in order.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Reconciliation {
    /// Per lot.
    pub lots: BTreeMap<LotId, LotReconciliation>,
    /// Per person: (issued, returned, expended) per lot.
    pub persons: BTreeMap<PersonId, BTreeMap<LotId, (u64, u64, u64)>>,
}

/// Reconciles every lot at `site` from the site's entries and the folded state.
pub fn reconciliation<'a>(
    state: &State,
    site: &SiteId,
    entries: impl IntoIterator<Item = &'a SignedEntry>,
) -> Reconciliation {
    use SiteEvent::*;
    let mut r = Reconciliation::default();
    let mut recipients: std::collections::HashMap<Hash, PersonId> =
        std::collections::HashMap::new();
    let chain = ChainId::Site(site.clone());
    let add = |v: &mut u64, n: u64| *v = v.saturating_add(n);
    for e in entries.into_iter().filter(|e| e.chain() == &chain) {
        let Event::Site(ev) = &e.body().event else {
            continue;
        };
        match ev {
            AmmunitionReceived { lot, rounds, .. } => {
                add(&mut r.lots.entry(*lot).or_default().received, *rounds)
            }
            Issued { to, ammunition, .. }
            | AmmunitionIssued {
                to,
                lines: ammunition,
                ..
            } => {
                recipients.insert(e.hash(), to.clone());
                for l in ammunition {
                    add(&mut r.lots.entry(l.lot).or_default().issued, l.rounds);
                    let p = r
                        .persons
                        .entry(to.clone())
                        .or_default()
                        .entry(l.lot)
                        .or_default();
                    add(&mut p.0, l.rounds);
                }
            }
            Returned {
                issue,
                ammunition: back,
                ..
            }
            | AmmunitionReturned {
                issue, lines: back, ..
            } => {
                let to = recipients.get(issue).cloned();
                for b in back {
                    let lr = r.lots.entry(b.lot).or_default();
                    add(&mut lr.returned, b.returned);
                    add(&mut lr.expended, b.expended);
                    if let Some(to) = &to {
                        let p = r
                            .persons
                            .entry(to.clone())
                            .or_default()
                            .entry(b.lot)
                            .or_default();
                        add(&mut p.1, b.returned);
                        add(&mut p.2, b.expended);
                    }
                }
            }
            AmmunitionExpended { holder, line, .. } => {
                add(
                    &mut r.lots.entry(line.lot).or_default().expended,
                    line.rounds,
                );
                if let Holder::Person(p) = holder {
                    let p = r
                        .persons
                        .entry(p.clone())
                        .or_default()
                        .entry(line.lot)
                        .or_default();
                    add(&mut p.2, line.rounds);
                }
            }
            TransferredOut { rounds, .. } => {
                for l in rounds {
                    add(
                        &mut r.lots.entry(l.lot).or_default().transferred_out,
                        l.rounds,
                    );
                }
            }
            TransferredIn { rounds, .. } => {
                for l in rounds {
                    add(
                        &mut r.lots.entry(l.lot).or_default().transferred_in,
                        l.rounds,
                    );
                }
            }
            LossReported { items, .. } => {
                for i in items {
                    if let crate::model::Item::Rounds(l) = i {
                        add(&mut r.lots.entry(l.lot).or_default().lost, l.rounds);
                    }
                }
            }
            Disposed {
                item: crate::model::Item::Rounds(l),
                ..
            }
            | LeftLedger {
                item: crate::model::Item::Rounds(l),
                ..
            } => add(&mut r.lots.entry(l.lot).or_default().disposed, l.rounds),
            _ => {}
        }
    }
    for (lot, lr) in r.lots.iter_mut() {
        let holders = state.balances.get(&(site.clone(), *lot));
        lr.in_store = holders
            .map(|m| {
                m.iter()
                    .filter(|(h, _)| matches!(h, Holder::Store(_)))
                    .map(|(_, v)| v)
                    .sum()
            })
            .unwrap_or(0);
        lr.with_people = holders
            .map(|m| {
                m.iter()
                    .filter(|(h, _)| matches!(h, Holder::Person(_)))
                    .map(|(_, v)| v)
                    .sum()
            })
            .unwrap_or(0);
        let plus = i128::from(lr.received) + i128::from(lr.transferred_in);
        let minus = i128::from(lr.transferred_out)
            + i128::from(lr.expended)
            + i128::from(lr.lost)
            + i128::from(lr.disposed);
        lr.balanced = plus - minus == i128::from(lr.in_store) + i128::from(lr.with_people);
    }
    r
}

/// The location of a firearm in store, if it is.
pub fn store_location(state: &State, f: &FirearmId) -> Option<LocationId> {
    match state.firearms.get(f).map(|r| &r.state) {
        Some(FirearmState::InStore { location }) => Some(location.clone()),
        _ => None,
    }
}
