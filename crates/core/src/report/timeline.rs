//! One weapon's timeline: every entry that concerns it, in log order, each
//! summarised in one line, with the weapon's own link chain checked. The
//! server's trace, the offline `trace --bundle` and a dossier all build it
//! here, so they list the same events.

use serde::Serialize;

use crate::entry::{ChainId, SignedEntry};
use crate::event::{Event, SiteEvent, Subject};
use crate::hash::Hash;
use crate::ids::{PersonId, Timestamp};
use crate::model::{Condition, CountKind, FirearmId, Resolution};
use crate::note::{NoteView, SealedNote};
use crate::rules::Engine;

use super::trace::TraceView;

/// One event in a weapon's history.
#[derive(Clone, Debug, Serialize)]
pub struct TimelineEvent {
    /// Log index, when known.
    pub index: Option<u64>,
    /// Chain (site) that recorded it.
    pub chain: ChainId,
    /// Counter on that chain.
    pub counter: u64,
    /// Entry hash.
    pub hash: Hash,
    /// Device time.
    pub time: Timestamp,
    /// Server receipt time, when known.
    pub received_at: Option<Timestamp>,
    /// Event kind.
    pub kind: &'static str,
    /// Acting officer.
    pub officer: PersonId,
    /// One line for humans, in the view asked for: the corrected event in
    /// the corrected view, the event as first recorded in the original and
    /// both views.
    pub summary: String,
    /// The entry that corrects this one, if any (corrected and both views).
    pub corrected_by: Option<Hash>,
    /// What the correction says instead (both view only).
    pub corrected_summary: Option<String>,
    /// Whether the entry is part of the weapon's own link chain (custody
    /// events); a count that saw the weapon is not.
    pub linked: bool,
    /// Whether its link continues the previous event of this weapon (always
    /// true for an event outside the link chain).
    pub link_ok: bool,
    /// The sealed notes the entry carries, as this reader is shown them:
    /// sealed until [`Timeline::reveal`] opens or marks them erased.
    pub notes: Vec<NoteView>,
}

impl TimelineEvent {
    /// Shows each note as `look` says (`None`: it stays sealed), in
    /// `notes` and in the summary lines, where the text takes the place of
    /// "sealed note 5e22bcb5".
    pub fn reveal(&mut self, look: &dyn Fn(&SealedNote) -> Option<NoteView>) {
        for view in &mut self.notes {
            let NoteView::Sealed { note } = *view else {
                continue;
            };
            if let Some(shown) = look(&note) {
                let placeholder = note.to_string();
                let with = shown.to_string();
                self.summary = self.summary.replace(&placeholder, &with);
                if let Some(c) = &mut self.corrected_summary {
                    *c = c.replace(&placeholder, &with);
                }
                *view = shown;
            }
        }
    }
}

/// A weapon's history in order.
#[derive(Clone, Debug, Serialize)]
pub struct Timeline {
    /// The firearm.
    pub firearm: FirearmId,
    /// Events in log order.
    pub events: Vec<TimelineEvent>,
    /// Whether every link continues the one before (no gap, no fork).
    pub complete: bool,
}

impl Timeline {
    /// [`TimelineEvent::reveal`] on every event.
    pub fn reveal(&mut self, look: &dyn Fn(&SealedNote) -> Option<NoteView>) {
        for e in &mut self.events {
            e.reveal(look);
        }
    }
}

/// Whether `entry` concerns `firearm`: it is an event of the weapon's own
/// history (its links name the firearm), or a stock count that saw it. This
/// is the rule the store's firearm index (`Terms`) and dossiers follow.
pub fn concerns_firearm(entry: &SignedEntry, firearm: &FirearmId) -> bool {
    let body = entry.body();
    body.link_for(&Subject::Firearm(*firearm)).is_some()
        || matches!(
            &body.event,
            Event::Site(SiteEvent::CountPerformed { firearms_seen, .. })
                if firearms_seen.contains(firearm)
        )
}

/// A count kind in words.
fn count_kind(k: CountKind) -> &'static str {
    match k {
        CountKind::Full => "full",
        CountKind::SerialNumber => "serial-number",
        CountKind::Cyclic => "cyclic",
        CountKind::KeyHandover => "key-handover",
        CountKind::Opening => "opening",
        CountKind::Closing => "closing",
    }
}

/// A condition in words.
fn condition_words(c: Condition) -> &'static str {
    match c {
        Condition::Serviceable => "serviceable",
        Condition::NeedsCleaning => "needs cleaning",
        Condition::Damaged => "damaged",
        Condition::Unserviceable => "unserviceable",
    }
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(items: &[PersonId]) -> String {
    match items {
        [] => "nobody".to_string(),
        [one] => one.to_string(),
        [init @ .., last] => format!(
            "{} and {last}",
            init.iter()
                .map(PersonId::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// One line describing an event for a weapon's timeline.
pub fn summarise(ev: &SiteEvent) -> String {
    use SiteEvent::*;
    match ev {
        FirearmAcquired {
            identity,
            source,
            location,
            ..
        } => format!(
            "acquired {} {} serial {} from {} into {location}",
            identity.manufacturer, identity.model, identity.serial, source.name
        ),
        Issued {
            to,
            post,
            due_back,
            reliance,
            ..
        } => format!(
            "issued to {to} for {post}, due back {due_back} (licence {}, permit {}, qualification {})",
            reliance.licence, reliance.permit, reliance.qualification
        ),
        Returned {
            condition,
            location,
            ..
        } => format!("returned to {location}, {}", condition_words(*condition)),
        StorageMoved { from, to, .. } => format!("moved {from} → {to}"),
        TransferredOut {
            to_site,
            to_company,
            permit,
            ..
        } => {
            format!("sent to {to_site} ({to_company}) under {}", permit.number)
        }
        TransferredIn {
            transfer, location, ..
        } => {
            format!("received from {} into {location}", transfer.site)
        }
        TransferCancelled { reason, .. } => format!("transfer cancelled: {reason}"),
        LossReported {
            kind,
            police_ref,
            regulator_ref,
            circumstances,
            ..
        } => format!(
            "reported {}: {circumstances} (police {}, regulator {})",
            format!("{kind:?}").to_lowercase(),
            police_ref
                .as_ref()
                .map_or("—".to_string(), |r| r.to_string()),
            regulator_ref
                .as_ref()
                .map_or("—".to_string(), |r| r.to_string())
        ),
        Seized {
            authority, order, ..
        } => format!("seized by {authority} ({order})"),
        Recovered {
            condition,
            location,
            ..
        } => format!("recovered into {location}, {}", condition_words(*condition)),
        MaintenanceOut {
            provider, reason, ..
        } => format!("to maintenance at {provider}: {reason}"),
        MaintenanceIn { work, .. } => format!("back from maintenance: {work}"),
        Disposed {
            method,
            place,
            witnesses,
            authorisation,
            ..
        } => format!(
            "{method:?} at {place}, witnesses {}, under {}",
            and_list(witnesses),
            authorisation.number
        ),
        Corrected {
            reason,
            approver,
            corrected,
            ..
        } => format!(
            "correction ({reason}; approved by {}): {}",
            approver.as_ref().map_or("—", |a| a.as_str()),
            summarise(corrected)
        ),
        CountPerformed {
            session,
            kind,
            part,
            parts,
            counters,
            ..
        } => {
            let part = if *parts > 1 {
                format!(" (part {part} of {parts})")
            } else {
                String::new()
            };
            format!(
                "counted in {} count {session}{part} by {}",
                count_kind(*kind),
                and_list(counters)
            )
        }
        DiscrepancyResolved { resolution, .. } => match resolution {
            Resolution::Found => "count discrepancy settled: found".to_string(),
            Resolution::ReportedLost(h) => {
                format!("count discrepancy settled: reported lost in {h}")
            }
            Resolution::Clerical(n) => format!("count discrepancy settled: clerical error, {n}"),
            Resolution::WrittenOff { reason, approver } => {
                format!("count discrepancy settled: written off ({reason}; approved by {approver})")
            }
        },
        Annotated { about, text } => format!("note on {}: {text}", about.short()),
        ComponentChanged {
            change,
            component,
            reason,
            ..
        } => format!(
            "{} {} {}: {reason}",
            format!("{change:?}").to_lowercase(),
            format!("{:?}", component.kind).to_lowercase(),
            component.marking
        ),
        LeftLedger {
            exit,
            counterparty,
            documents,
            ..
        } => format!(
            "{} to {}{} under {}",
            exit.word(),
            counterparty.name,
            counterparty
                .licence
                .as_ref()
                .map_or(String::new(), |l| format!(" (licence {l})")),
            if documents.is_empty() {
                "no document".to_string()
            } else {
                documents
                    .iter()
                    .map(|d| format!("{:?} {}", d.kind, d.number))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ),
        AmmunitionReceived {
            identity,
            rounds,
            source,
            location,
            ..
        } => format!(
            "received {rounds} rounds of lot {} ({}) from {} into {location}",
            identity.lot_number, identity.calibre, source.name
        ),
        AmmunitionIssued {
            to, lines, from, ..
        } => {
            format!("issued {} rounds to {to} from {from}", rounds_of(lines))
        }
        AmmunitionReturned { lines, to, .. } => {
            let (back, used) = lines.iter().fold((0u64, 0u64), |(b, u), l| {
                (b.saturating_add(l.returned), u.saturating_add(l.expended))
            });
            format!("{back} rounds returned to {to}, {used} expended")
        }
        AmmunitionExpended {
            holder,
            line,
            reason,
            incident,
            ..
        } => format!(
            "{} rounds expended {holder} ({}{})",
            line.rounds,
            format!("{reason:?}").to_lowercase(),
            incident
                .as_ref()
                .map_or(String::new(), |i| format!(", incident {i}"))
        ),
        other => other.kind().replace('-', " "),
    }
}

/// The rounds of ammunition lines, added up.
fn rounds_of(lines: &[crate::model::AmmoLine]) -> u64 {
    lines.iter().fold(0u64, |n, l| n.saturating_add(l.rounds))
}

/// One line for an event of `chain`: the summary, with the site named for a
/// count (where the weapon was seen).
fn summarise_at(chain: &ChainId, ev: &SiteEvent) -> String {
    match (ev, chain) {
        (SiteEvent::CountPerformed { .. }, ChainId::Site(site)) => {
            summarise(ev).replacen("counted in", &format!("counted at {site} in"), 1)
        }
        _ => summarise(ev),
    }
}

/// Builds one weapon's timeline from entries in log order (with their log
/// index and receipt time), keeping those that concern it
/// ([`concerns_firearm`]) and checking the weapon's own link chain.
/// `engine` says which corrections are in force; `view` how to show them.
pub fn timeline<'a>(
    firearm: FirearmId,
    entries: impl IntoIterator<Item = (Option<u64>, Option<Timestamp>, &'a SignedEntry)>,
    engine: &Engine,
    view: TraceView,
) -> Timeline {
    let (events, complete) = events_of(
        Subject::Firearm(firearm),
        |e| concerns_firearm(e, &firearm),
        entries,
        engine,
        view,
    );
    Timeline {
        firearm,
        events,
        complete,
    }
}

/// The events of `subject`'s history among `entries` (those `concerns`
/// keeps), each summarised in the view asked for, and whether its link
/// chain holds. A firearm has one chain across sites; a lot one per site
/// (each site links its own acts on the lot), so a link is checked against
/// the previous linked event of the same chain for a lot.
pub(crate) fn events_of<'a>(
    subject: Subject,
    concerns: impl Fn(&SignedEntry) -> bool,
    entries: impl IntoIterator<Item = (Option<u64>, Option<Timestamp>, &'a SignedEntry)>,
    engine: &Engine,
    view: TraceView,
) -> (Vec<TimelineEvent>, bool) {
    let per_chain = matches!(subject, Subject::Lot(_));
    let mut events = Vec::new();
    let mut last: std::collections::HashMap<Option<ChainId>, Hash> =
        std::collections::HashMap::new();
    let mut complete = true;
    for (index, received_at, e) in entries {
        let Event::Site(ev) = &e.body().event else {
            continue;
        };
        if !concerns(e) {
            continue;
        }
        let key = per_chain.then(|| e.chain().clone());
        let link = e.body().link_for(&subject);
        let link_ok = match link {
            Some(prev) => prev == last.get(&key).copied(),
            None => true,
        };
        complete &= link_ok;
        if link.is_some() {
            last.insert(key, e.hash());
        }
        let correction = match view {
            TraceView::Original => None,
            TraceView::Corrected | TraceView::Both => engine.correction_of(&e.hash()),
        };
        let recorded = summarise_at(e.chain(), ev);
        let mut notes = ev.notes();
        if let Some((_, c)) = correction {
            notes.extend(c.notes());
        }
        notes.dedup();
        let notes = notes
            .into_iter()
            .map(|note| NoteView::Sealed { note })
            .collect();
        let (summary, corrected_summary) = match (correction, view) {
            (Some((_, c)), TraceView::Corrected) => (summarise_at(e.chain(), c), None),
            (Some((_, c)), TraceView::Both) => (recorded, Some(summarise_at(e.chain(), c))),
            _ => (recorded, None),
        };
        events.push(TimelineEvent {
            index,
            chain: e.chain().clone(),
            counter: e.counter(),
            hash: e.hash(),
            time: e.header().device_time,
            received_at,
            kind: ev.kind(),
            officer: e.body().officer.clone(),
            summary,
            corrected_by: correction.map(|(h, _)| *h),
            corrected_summary,
            linked: link.is_some(),
            link_ok,
            notes,
        });
    }
    (events, complete)
}
