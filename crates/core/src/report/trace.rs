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
use crate::ids::{Name, PersonId, SiteId, Timestamp};
use crate::model::{FirearmId, FirearmIdentity, normalise};
use crate::note::{NoteView, SealedNote};
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
    /// Why (sealed until [`TracedFirearm::reveal`] opens it).
    pub reason: NoteView,
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

impl TracedFirearm {
    /// Shows each sealed note of the trace as `look` says (`None`: it stays
    /// sealed): the text for a reader whose role may read it, "note erased
    /// on DATE under ORDER" after an erasure.
    pub fn reveal(&mut self, look: &dyn Fn(&SealedNote) -> Option<NoteView>) {
        for c in &mut self.serial_changes {
            if let NoteView::Sealed { note } = &c.reason
                && let Some(shown) = look(note)
            {
                c.reason = shown;
            }
        }
        self.timeline.reveal(look);
    }
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
                reason: NoteView::Sealed { note: *reason },
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
    let mut traced = TracedFirearm {
        id,
        identity,
        matched_current_serial: normalise(asked) == rec.identity.serial_key(),
        serial_changes,
        site: rec.site.clone(),
        state: rec.state.word(),
        custody,
        timeline,
    };
    // The ledger itself says which notes were erased, so every reader (a
    // bundle or dossier offline too) is told where a text was erased.
    let erased = &engine.state().erased_notes;
    if !erased.is_empty() {
        traced.reveal(&|n| {
            erased.get(n).map(|(on, ground)| NoteView::Erased {
                note: *n,
                on: *on,
                ground: ground.clone(),
            })
        });
    }
    Some(traced)
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use crate::rules::View;
    use crate::testkit::Showcase;
    use crate::verify::LedgerVerifier;

    fn folded(show: &Showcase) -> LedgerVerifier {
        let s = &show.scenario;
        let mut v = LedgerVerifier::new(s.regulator_key(), vec![s.root_key()], View::Corrected);
        for e in show.log() {
            v.ingest(e.clone(), None).unwrap();
        }
        v
    }

    fn traced(show: &Showcase, serial: &str, view: TraceView) -> Trace {
        let v = folded(show);
        trace(v.engine(), serial, view, || {
            show.log().iter().map(|e| (None, None, e.as_ref()))
        })
    }

    #[test]
    fn a_corrected_weapon_is_found_by_either_serial_and_says_which_became_which() {
        let show = Showcase::new();
        for (asked, current) in [
            (Showcase::SERIAL, true),
            (Showcase::MISTYPED, false),
            ("glk 0o1", false),
        ] {
            for view in [TraceView::Corrected, TraceView::Original, TraceView::Both] {
                let t = traced(&show, asked, view);
                assert_eq!(t.firearms.len(), 1, "{asked} {view}");
                let f = &t.firearms[0];
                assert_eq!(f.id, show.corrected);
                assert_eq!(f.matched_current_serial, current, "{asked}");
                assert_eq!(f.serial_changes.len(), 1);
                let c = &f.serial_changes[0];
                assert_eq!(
                    (c.from.as_str(), c.to.as_str()),
                    (Showcase::MISTYPED, Showcase::SERIAL)
                );
                assert_eq!(c.approver.as_ref().unwrap().as_str(), "armourer-2");
                let shown = match view {
                    TraceView::Original => Showcase::MISTYPED,
                    _ => Showcase::SERIAL,
                };
                assert_eq!(f.identity.serial.as_str(), shown, "{view}");
            }
        }
        // Quiet: a serial nobody recorded finds nothing.
        assert!(
            traced(&show, "GLK-999", TraceView::Both)
                .firearms
                .is_empty()
        );
        // The other weapon has no serial change.
        let t = traced(&show, "GLK-002", TraceView::Corrected);
        assert!(t.firearms[0].serial_changes.is_empty());
        assert!(t.firearms[0].matched_current_serial);
    }

    #[test]
    fn the_timeline_lists_counts_in_words_and_views_differ() {
        let show = Showcase::new();
        let t = traced(&show, Showcase::SERIAL, TraceView::Corrected);
        let f = &t.firearms[0];
        let kinds: Vec<&str> = f.timeline.events.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [
                "firearm-acquired",
                "corrected",
                "count-performed",
                "issued",
                "returned",
                "transferred-out",
                "transferred-in"
            ]
        );
        assert!(f.timeline.complete);
        let count = &f.timeline.events[2];
        assert!(!count.linked && count.link_ok);
        assert_eq!(
            count.summary,
            "counted at north in serial-number count C-2026-01 by witness-1 and witness-2"
        );
        assert_eq!(
            f.custody
                .iter()
                .map(|c| c.site.as_str())
                .collect::<Vec<_>>(),
            ["north", "south"]
        );
        assert_eq!(f.site.as_str(), "south");
        // Corrected: the acquisition reads as corrected, marked.
        let acq = &f.timeline.events[0];
        assert!(acq.summary.contains("serial GLK-001"), "{}", acq.summary);
        assert!(acq.corrected_by.is_some() && acq.corrected_summary.is_none());
        // Original: as recorded, no mark.
        let t = traced(&show, Showcase::SERIAL, TraceView::Original);
        let acq = &t.firearms[0].timeline.events[0];
        assert!(acq.summary.contains("serial GLK-0O1"), "{}", acq.summary);
        assert!(acq.corrected_by.is_none() && acq.corrected_summary.is_none());
        // Both: as recorded, with the correction beside it.
        let t = traced(&show, Showcase::SERIAL, TraceView::Both);
        let acq = &t.firearms[0].timeline.events[0];
        assert!(acq.summary.contains("serial GLK-0O1"), "{}", acq.summary);
        assert!(
            acq.corrected_summary
                .as_deref()
                .unwrap()
                .contains("serial GLK-001")
        );
        // An event without a correction reads the same in every view.
        assert!(t.firearms[0].timeline.events[3].corrected_by.is_none());
    }

    #[test]
    fn views_parse_and_print() {
        for v in [TraceView::Corrected, TraceView::Original, TraceView::Both] {
            assert_eq!(v.to_string().parse::<TraceView>().unwrap(), v);
        }
        assert!("sideways".parse::<TraceView>().is_err());
    }
}
