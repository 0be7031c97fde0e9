#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::*;
use crate::rules::View;
use crate::testkit::LotJourney;
use crate::verify::LedgerVerifier;

fn folded(log: &[std::sync::Arc<SignedEntry>], j: &LotJourney) -> LedgerVerifier {
    let s = &j.scenario;
    let mut v = LedgerVerifier::new(s.regulator_key(), vec![s.root_key()], View::Corrected);
    for e in log {
        v.ingest(e.clone(), None).unwrap();
    }
    v
}

fn traced(j: &LotJourney) -> LotTrace {
    let v = folded(j.log(), j);
    assert!(
        v.engine()
            .findings()
            .iter()
            .all(|f| f.rule == crate::RuleId::RoundsReconcile),
        "{:?}",
        v.engine().findings()
    );
    let t = trace_lots(v.engine(), LotJourney::NUMBER, TraceView::Corrected, || {
        j.log().iter().map(|e| (None, None, e.as_ref()))
    });
    assert_eq!(t.lots.len(), 1);
    t.lots.into_iter().next().unwrap()
}

/// A holding in words: `north with guard-1 100`.
fn words(h: &Holding) -> String {
    format!("{} {} {}", h.site, h.holder, h.rounds)
}

/// The reference, worked out by hand from the journey's acts: every
/// holder after each act.
const REFERENCE: [&[&str]; 13] = [
    &["north in store at vault 1000"],
    &[
        "north in store at vault 700",
        "north in transit to south 300",
    ],
    &["north in store at vault 700", "south in store at vault 300"],
    &[
        "north in store at vault 600",
        "north with guard-1 100",
        "south in store at vault 300",
    ],
    &[
        "north in store at vault 550",
        "north with guard-1 100",
        "north with guard-2 50",
        "south in store at vault 300",
    ],
    &[
        "north in store at vault 550",
        "north with guard-1 100",
        "north with guard-2 50",
        "south in store at vault 260",
        "south with guard-3 40",
    ],
    &[
        "north in store at vault 550",
        "north with guard-1 100",
        "north with guard-2 30",
        "south in store at vault 260",
        "south with guard-3 40",
    ],
    &[
        "north in store at vault 580",
        "north with guard-1 100",
        "south in store at vault 260",
        "south with guard-3 40",
    ],
    &[
        "north in store at vault 680",
        "south in store at vault 260",
        "south with guard-3 40",
    ],
    &["north in store at vault 680", "south in store at vault 300"],
    &["north in store at vault 630", "south in store at vault 300"],
    &["north in store at vault 630", "south in store at vault 300"],
    &["south in store at vault 300"],
];

#[test]
fn the_balances_match_the_reference_at_every_step() {
    let j = LotJourney::new();
    let t = traced(&j);
    assert_eq!(t.identity.lot_number.as_str(), LotJourney::NUMBER);
    assert_eq!(t.identity.manufacturer.as_str(), "PMP");
    assert_eq!(t.identity.calibre.as_str(), "9x19mm");
    assert_eq!(t.receipts.len(), 1);
    assert_eq!(
        (t.receipts[0].rounds, t.receipts[0].site.as_str()),
        (1000, "north")
    );
    assert_eq!(
        t.steps.iter().map(|s| s.event.hash).collect::<Vec<_>>(),
        j.acts.iter().map(|e| e.hash()).collect::<Vec<_>>(),
        "every act on the lot, and nothing else, in log order"
    );
    for (i, (step, want)) in t.steps.iter().zip(REFERENCE).enumerate() {
        let got: Vec<String> = step.balances.iter().map(words).collect();
        assert_eq!(got, want, "after act {i} ({})", step.event.kind);
    }
    assert!(t.complete);
    assert_eq!(
        t.balances.iter().map(words).collect::<Vec<_>>(),
        ["south in store at vault 300"]
    );
    // Each act names what moved.
    let exp = &t.steps[6];
    assert_eq!(exp.incident.as_ref().unwrap().as_str(), "INC-7");
    assert_eq!(exp.issue, Some(j.acts[4].hash()));
    assert_eq!(
        exp.changes,
        [Change {
            site: v("north"),
            holder: LotHolder::Person {
                person: v("guard-2")
            },
            before: 50,
            after: 30,
        }]
    );
    // The issues the guards' rounds were issued under.
    let after_issues = &t.steps[5].balances;
    let g3 = after_issues
        .iter()
        .find(|h| h.holder.to_string() == "with guard-3")
        .unwrap();
    assert_eq!(g3.issues, [j.acts[5].hash()]);
    assert!(after_issues[0].issues.is_empty(), "a store has no issue");
}

fn v<T: core::str::FromStr>(s: &str) -> T
where
    T::Err: core::fmt::Debug,
{
    s.parse().unwrap()
}

#[test]
fn a_count_short_of_the_books_is_flagged_with_its_entry_and_a_matching_one_is_not() {
    let j = LotJourney::new();
    let t = traced(&j);
    let count = &t.steps[11];
    assert_eq!(count.counted, Some(290));
    assert_eq!(
        count.flags,
        [LotFlag {
            entry: j.acts[11].hash(),
            site: v("south"),
            expected: 300,
            found: 290,
            person: None,
            resolved_by: None,
        }]
    );
    assert_eq!(t.flags, count.flags);
    // Every other step is quiet: a full return, a loss reported, a transfer
    // that arrived whole flag nothing.
    for (i, s) in t.steps.iter().enumerate().filter(|(i, _)| *i != 11) {
        assert!(s.flags.is_empty(), "act {i} flags {:?}", s.flags);
    }
}

#[test]
fn a_short_return_is_flagged_on_the_guard() {
    // After the journey, guard-3 draws 40 at south and gives back 25.
    let mut j = LotJourney::new();
    let lot = j.lot;
    let s = &mut j.scenario;
    s.tick(Timestamp::DAY);
    let issue = s.site(
        "south",
        "south-armourer",
        SiteEvent::AmmunitionIssued {
            to: v("guard-3"),
            lines: vec![crate::model::AmmoLine { lot, rounds: 40 }],
            from: v("vault"),
            purpose: crate::testkit::note("range"),
            due_back: s.now.plus(Timestamp::DAY),
        },
    );
    s.tick(Timestamp::HOUR);
    let back = s.site(
        "south",
        "south-armourer",
        SiteEvent::AmmunitionReturned {
            issue: issue.hash(),
            lines: vec![crate::model::RoundsBack {
                lot,
                returned: 25,
                expended: 0,
            }],
            to: v("vault"),
        },
    );
    let t = traced(&j);
    let last = t.steps.last().unwrap();
    assert_eq!(last.event.hash, back.hash());
    assert_eq!(
        last.flags,
        [LotFlag {
            entry: back.hash(),
            site: v("south"),
            expected: 40,
            found: 25,
            person: Some(v("guard-3")),
            resolved_by: None,
        }]
    );
    assert_eq!(t.flags.len(), 2, "the count's and the return's");
}

#[test]
fn held_between_matches_the_reference_for_several_windows() {
    let j = LotJourney::new();
    let t = traced(&j);
    let at = |i: usize| j.acts[i].header().device_time;
    let hour = Timestamp::HOUR;
    let held = |from: Timestamp, until: Timestamp| -> Vec<String> {
        held_between(&t, from, until)
            .iter()
            .map(|h| {
                let issues = h
                    .issues
                    .iter()
                    .map(|i| {
                        let n = j.acts.iter().position(|a| a.hash() == *i).unwrap();
                        format!(" issue#{n}")
                    })
                    .collect::<String>();
                format!(
                    "{} {} {}/{}/{}{issues}",
                    h.site, h.holder, h.at_start, h.most, h.at_end
                )
            })
            .collect()
    };
    // Before anything: nobody.
    assert!(held(at(0).minus(hour), at(0).minus(1)).is_empty());
    // The day of the receipt only.
    assert_eq!(
        held(at(0), at(0).plus(hour)),
        ["north in store at vault 1000/1000/1000"]
    );
    // The transfer in flight.
    assert_eq!(
        held(at(1).plus(hour), at(2).minus(hour)),
        [
            "north in store at vault 700/700/700",
            "north in transit to south 300/300/300",
        ]
    );
    // Starting mid-issue (after guard-1's and guard-2's issues) until
    // after guard-2's discharge on INC-7 and the return of what was left.
    assert_eq!(
        held(at(4).plus(hour), at(7).plus(hour)),
        [
            "north in store at vault 550/580/580",
            "north with guard-1 100/100/100 issue#3",
            "north with guard-2 50/50/0 issue#4",
            "south in store at vault 300/300/260",
            "south with guard-3 0/40/40 issue#5",
        ]
    );
    // After the disposal: only south's store.
    assert_eq!(
        held(at(12).plus(hour), at(12).plus(2 * hour)),
        ["south in store at vault 300/300/300"]
    );
}

#[test]
fn a_lot_number_finds_the_lot_in_any_spelling_and_an_unknown_one_finds_nothing() {
    let j = LotJourney::new();
    let v = folded(j.log(), &j);
    for asked in ["LJ-7", "lj 7", "LJ7", &j.lot.to_string()] {
        assert_eq!(find_lots(v.engine(), asked), [j.lot], "{asked}");
    }
    assert!(find_lots(v.engine(), "LJ-8").is_empty());
}

#[test]
fn a_bundle_missing_an_act_shows_a_broken_link() {
    let j = LotJourney::new();
    let t = traced(&j);
    assert!(t.steps.iter().all(|s| s.event.link_ok));
    // The same acts with guard-2's issue left out: guard-2's expenditure
    // links to an entry the trace does not have.
    let skip = j.acts[4].hash();
    let acts: Vec<_> = j
        .acts
        .iter()
        .filter(|e| e.hash() != skip)
        .map(|e| (None, None, e.as_ref()))
        .collect();
    let (events, complete) = events_of(
        Subject::Lot(j.lot),
        |e| concerns_lot(e, &j.lot),
        acts,
        folded(j.log(), &j).engine(),
        TraceView::Corrected,
    );
    assert!(!complete);
    let broken: Vec<_> = events.iter().filter(|e| !e.link_ok).collect();
    assert_eq!(broken.len(), 1);
    assert_eq!(
        broken[0].hash,
        j.acts[6].hash(),
        "north's next act after the gap"
    );
}

#[test]
fn a_company_sees_its_own_holders_and_acts_only() {
    let j = LotJourney::new();
    let mut t = traced(&j);
    let south: SiteId = v("south");
    t.retain_sites(|s| s == &south);
    // Its acts: the arrival, guard-3's issue and return, its count.
    assert_eq!(
        t.steps.iter().map(|s| s.event.hash).collect::<Vec<_>>(),
        [2, 5, 9, 11].map(|i| j.acts[i].hash())
    );
    assert!(t.receipts.is_empty(), "the receipt was north's");
    for s in &t.steps {
        assert!(
            s.balances.iter().all(|h| h.site == south),
            "{:?}",
            s.balances
        );
    }
    assert_eq!(t.flags.len(), 1);
    // The window shows only south's holders.
    let at = |i: usize| j.acts[i].header().device_time;
    t.window(at(4), at(6));
    let w = t.held_between.as_ref().unwrap();
    assert_eq!(
        w.holders
            .iter()
            .map(|h| h.holder.to_string())
            .collect::<Vec<_>>(),
        ["in store at vault", "with guard-3"]
    );
    // Quiet: keeping every site changes nothing.
    let mut all = traced(&j);
    let before = all.steps.len();
    all.retain_sites(|_| true);
    assert_eq!(all.steps.len(), before);
    assert_eq!(all.balances, traced(&j).balances);
}

#[test]
fn a_kept_trace_is_complete_by_its_own_sites_links_only() {
    let j = LotJourney::new();
    let north: SiteId = v("north");
    let south: SiteId = v("south");
    // North's chain for the lot with a broken link (as a bundle missing one
    // of north's acts shows it): the whole trace is not complete.
    let broken = |mut t: LotTrace| {
        let s = t
            .steps
            .iter_mut()
            .rfind(|s| s.event.chain == crate::entry::ChainId::Site(north.clone()))
            .unwrap();
        s.event.link_ok = false;
        t.complete = false;
        t
    };
    // Firing: north's reader is told its chain has a gap.
    let mut t = broken(traced(&j));
    t.retain_sites(|s| s == &north);
    assert!(!t.complete);
    // Quiet: south's reader is not told about north's chain at all.
    let mut t = broken(traced(&j));
    t.retain_sites(|s| s == &south);
    assert!(!t.steps.is_empty());
    assert!(t.complete, "north's gap shown to south");
    // Keeping every site keeps the answer.
    let mut t = broken(traced(&j));
    t.retain_sites(|_| true);
    assert!(!t.complete);
}

#[test]
fn a_trace_asked_to_stop_stops_and_one_left_alone_runs_to_the_end() {
    let j = LotJourney::new();
    let v = folded(j.log(), &j);
    let asked = std::cell::Cell::new(0);
    let stopped = trace_lot_until(v.engine(), j.lot, TraceView::Corrected, [], &|| {
        asked.set(asked.get() + 1);
        true
    });
    assert_eq!(
        stopped.unwrap_err(),
        TraceError::Stopped(TraceStopped { after: 0 })
    );
    assert_eq!(asked.get(), 1, "asked before the first entry, then stopped");
    // Quiet: never asked to stop, it is the whole trace.
    let whole = trace_lot_until(v.engine(), j.lot, TraceView::Corrected, [], &|| false)
        .unwrap()
        .unwrap();
    assert_eq!(whole.steps.len(), j.acts.len());
    // An unknown lot is no trace, not a stop.
    let unknown = crate::model::LotId([7; 16]);
    assert!(
        trace_lot_until(v.engine(), unknown, TraceView::Corrected, [], &|| true)
            .unwrap()
            .is_none()
    );
}
