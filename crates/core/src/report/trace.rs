//! A weapon's trace, cradle to grave: which firearms a serial names (its
//! serial now, or one a correction replaced), and for each its identity,
//! where it is, the serial corrections, the custody periods and the
//! timeline. The server's `GET /v1/firearms/{serial}/trace` and the CLI's
//! offline `trace --bundle` (a full bundle or a dossier) both call
//! [`trace_firearm`], so one weapon has one trace wherever it is read.

use core::fmt;
use core::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::entry::{ChainId, SignedEntry};
use crate::event::{Event, SiteEvent};
use crate::hash::Hash;
use crate::ids::{Name, PersonId, SiteId, Text, Timestamp};
use crate::model::{FirearmId, FirearmIdentity, normalise};
use crate::rules::Engine;

use super::timeline::{Timeline, concerns_firearm, timeline};

/// How corrections show in a trace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TraceView {
    /// Each corrected event as its correction says (the default).
    #[default]
    Corrected,
    /// Events as first recorded; corrections change nothing.
    Original,
    /// Each corrected event as first recorded, with what the correction says beside it.
    Both,
}

impl FromStr for TraceView {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "corrected" => Ok(TraceView::Corrected),
            "original" => Ok(TraceView::Original),
            "both" => Ok(TraceView::Both),
            other => Err(format!(
                "view is corrected, original or both; got {other:?}"
            )),
        }
    }
}

impl fmt::Display for TraceView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TraceView::Corrected => "corrected",
            TraceView::Original => "original",
            TraceView::Both => "both",
        })
    }
}

/// A serial replaced by a correction of the acquisition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SerialChange {
    /// The serial before (as first recorded, or as an earlier correction left it).
    pub from: Name,
    /// The serial after.
    pub to: Name,
    /// The correcting entry.
    pub entry: Hash,
    /// When it was corrected (device time).
    pub time: Timestamp,
    /// Who recorded the correction.
    pub officer: PersonId,
    /// Who approved it.
    pub approver: Option<PersonId>,
    /// Why.
    pub reason: Text,
}

/// A period a site held the weapon.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Custody {
    /// Site.
    pub site: SiteId,
    /// From (device time of the first event there).
    pub from: Timestamp,
    /// Until (the next site's first event), if it moved on.
    pub until: Option<Timestamp>,
}

/// One firearm in a trace.
#[derive(Clone, Debug, Serialize)]
pub struct TracedFirearm {
    /// Ledger id.
    pub id: FirearmId,
    /// Identity in the view asked for: corrections folded in (corrected,
    /// both) or as first recorded (original).
    pub identity: FirearmIdentity,
    /// Whether the serial asked for is the firearm's serial now (`false`: a
    /// serial a correction replaced; see `serial_changes`).
    pub matched_current_serial: bool,
    /// Every correction of the serial, oldest first.
    pub serial_changes: Vec<SerialChange>,
    /// Site answerable now.
    pub site: SiteId,
    /// State word now.
    pub state: &'static str,
    /// Custody periods, from the events of the weapon's own history.
    pub custody: Vec<Custody>,
    /// The timeline.
    pub timeline: Timeline,
}

/// A serial's trace: every firearm it names.
#[derive(Clone, Debug, Serialize)]
pub struct Trace {
    /// The serial asked for.
    pub serial: String,
    /// The view.
    pub view: TraceView,
    /// Every firearm recorded under that serial (now or before a correction).
    pub firearms: Vec<TracedFirearm>,
}

/// Traces firearm `id` from `entries` (in log order, with log index and
/// receipt time; entries that do not concern it are skipped). `asked` is
/// the serial the person typed. `None` if the engine does not know the
/// firearm.
pub fn trace_firearm<'a>(
    engine: &Engine,
    id: FirearmId,
    asked: &str,
    view: TraceView,
    entries: impl IntoIterator<Item = (Option<u64>, Option<Timestamp>, &'a SignedEntry)>,
) -> Option<TracedFirearm> {
    let rec = engine.state().firearms.get(&id)?;
    let entries: Vec<_> = entries
        .into_iter()
        .filter(|(_, _, e)| concerns_firearm(e, &id))
        .collect();
    let recorded = entries.iter().find_map(|(_, _, e)| match &e.body().event {
        Event::Site(SiteEvent::FirearmAcquired { identity, .. }) if e.hash() == rec.acquired => {
            Some(identity)
        }
        _ => None,
    });
    let mut serial_changes = Vec::new();
    let mut current = recorded.map(|i| i.serial.clone());
    for (_, _, e) in &entries {
        let Event::Site(SiteEvent::Corrected {
            supersedes,
            reason,
            approver,
            corrected,
        }) = &e.body().event
        else {
            continue;
        };
        let SiteEvent::FirearmAcquired { identity, .. } = corrected.as_ref() else {
            continue;
        };
        if *supersedes != rec.acquired {
            continue;
        }
        if let Some(from) = current.as_ref().filter(|s| **s != identity.serial) {
            serial_changes.push(SerialChange {
                from: from.clone(),
                to: identity.serial.clone(),
                entry: e.hash(),
                time: e.header().device_time,
                officer: e.body().officer.clone(),
                approver: approver.clone(),
                reason: reason.clone(),
            });
        }
        current = Some(identity.serial.clone());
    }
    let identity = match (view, recorded) {
        (TraceView::Original, Some(first)) => first.clone(),
        _ => rec.identity.clone(),
    };
    let timeline = timeline(id, entries.iter().copied(), engine, view);
    let mut custody: Vec<Custody> = Vec::new();
    for e in timeline.events.iter().filter(|e| e.linked) {
        let ChainId::Site(site) = &e.chain else {
            continue;
        };
        if custody.last().is_none_or(|c| &c.site != site) {
            if let Some(last) = custody.last_mut() {
                last.until = Some(e.time);
            }
            custody.push(Custody {
                site: site.clone(),
                from: e.time,
                until: None,
            });
        }
    }
    Some(TracedFirearm {
        id,
        identity,
        matched_current_serial: normalise(asked) == rec.identity.serial_key(),
        serial_changes,
        site: rec.site.clone(),
        state: rec.state.word(),
        custody,
        timeline,
    })
}

/// Traces every firearm recorded under `serial` (now or before a
/// correction; see [`Engine::find_serial`]) from entries held in memory.
/// `entries` is called once per firearm.
pub fn trace<'a, I>(
    engine: &Engine,
    serial: &str,
    view: TraceView,
    entries: impl Fn() -> I,
) -> Trace
where
    I: IntoIterator<Item = (Option<u64>, Option<Timestamp>, &'a SignedEntry)>,
{
    let firearms = engine
        .find_serial(serial)
        .into_iter()
        .filter_map(|id| trace_firearm(engine, id, serial, view, entries()))
        .collect();
    Trace {
        serial: serial.to_string(),
        view,
        firearms,
    }
}
