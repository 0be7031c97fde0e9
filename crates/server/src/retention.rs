//! The retention policy and its review: for each sealed note the log
//! carries, when its retention period started (the person left, the case
//! closed, or the act itself), when it ends, and whether it is due for
//! erasure now. Worked out from the logged entries, never entered by hand.
//!
//! ```text
//! [retention]            (the server's config file; defaults shown)
//! entries_years = 30     ledger entries are kept at least this long (30 is the floor)
//! person_days = 2190     a person note, after the person leaves
//! case_days = 3650       a case note, after the case closes
//! operational_days = 730 an operational note, after its act
//! ```
//!
//! `POST /v1/retention/review` (regulator only) answers the review and
//! records each note's end of retention in the server's note store;
//! `armsledger retention apply` signs the erasure the review calls for.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use armsledger_core::event::{Event, RegulatorEvent, Revocable, SiteEvent};
use armsledger_core::hash::Hash;
use armsledger_core::ids::{Ident, PersonId, Timestamp};
use armsledger_core::model::{FirearmId, Item};
use armsledger_core::note::SealedNote;
use armsledger_store::LogReader;
use armsledger_store::{NoteClass, StoreError};
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::routes::auth::Caller;
use crate::state::Shared;

/// Ledger entries are kept at least this many years: they are the evidence
/// chain of every weapon. A policy below it is refused.
pub const ENTRY_FLOOR_YEARS: u32 = 30;

/// How long each class of data is kept (`[retention]` in the config file).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionPolicy {
    /// Years ledger entries are kept (at least 30; entries are never
    /// deleted by the server, this is the promise the policy states).
    pub entries_years: u32,
    /// Days a person note is kept after the person leaves.
    pub person_days: u32,
    /// Days a case note is kept after the case closes.
    pub case_days: u32,
    /// Days an operational note is kept after the act that sealed it.
    pub operational_days: u32,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        RetentionPolicy {
            entries_years: ENTRY_FLOOR_YEARS,
            person_days: 6 * 365,
            case_days: 10 * 365,
            operational_days: 2 * 365,
        }
    }
}

impl RetentionPolicy {
    /// Refuses a policy that keeps entries less than the 30-year floor.
    pub fn check(&self) -> Result<(), String> {
        if self.entries_years < ENTRY_FLOOR_YEARS {
            return Err(format!(
                "retention.entries_years = {}: ledger entries are kept at least {ENTRY_FLOOR_YEARS} years \
                 (the evidence chain of every weapon); set entries_years to {ENTRY_FLOOR_YEARS} or more",
                self.entries_years
            ));
        }
        Ok(())
    }

    /// The period of `class`, in milliseconds.
    pub fn period_ms(&self, class: NoteClass) -> u64 {
        let days = match class {
            NoteClass::Person => self.person_days,
            NoteClass::Case => self.case_days,
            NoteClass::Operational => self.operational_days,
        };
        u64::from(days).saturating_mul(Timestamp::DAY)
    }
}

/// One sealed note under review.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NoteReview {
    /// The note's commitment (64 hex digits).
    #[schema(value_type = String)]
    pub note: SealedNote,
    /// Its class (from the note store; `person` when the server holds no
    /// opening of it, the shortest usual period).
    #[schema(value_type = String)]
    pub class: NoteClass,
    /// The entry that sealed it (hex).
    #[schema(value_type = String)]
    pub entry: Hash,
    /// That entry's kind (`person-revoked`, `loss-reported`, …).
    pub kind: String,
    /// Why its period started, or why it has not.
    pub reason: String,
    /// When its period started (the person left, the case closed, the act).
    #[schema(value_type = Option<String>)]
    pub since: Option<Timestamp>,
    /// When its retention ends, once its period has started.
    #[schema(value_type = Option<String>)]
    pub retain_until: Option<Timestamp>,
    /// Whether its retention has ended at the review's time.
    pub due: bool,
}

/// What `POST /v1/retention/review` takes.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct ReviewQuery {
    /// List every note not yet erased, kept ones too (default: only those due).
    #[serde(default)]
    pub all: bool,
}

/// The review's answer.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RetentionReview {
    /// The policy applied.
    pub policy: RetentionPolicy,
    /// The review's time (the server's clock).
    #[schema(value_type = String)]
    pub at: Timestamp,
    /// The log size reviewed.
    pub log_size: u64,
    /// Sealed notes not yet erased, in log order: those due, or with
    /// `?all=true` every one.
    pub notes: Vec<NoteReview>,
    /// Sealed notes not yet erased and still kept (listed only with `all`).
    pub kept: u64,
}

/// What a note is about, for when its period starts.
#[derive(Clone, Debug)]
enum Subject {
    Person(PersonId),
    Loss(Hash),
    Complaint(Ident),
    Finding(Ident),
    /// The case closed with the act that sealed the note (a discrepancy
    /// resolved).
    ClosedHere,
    /// The period runs from the act.
    Act,
}

/// What the log says of a person's leaving.
#[derive(Clone, Debug, Default)]
struct PersonLife {
    licence_until: Option<Timestamp>,
    revoked: Option<Timestamp>,
    barred_for_good: Option<Timestamp>,
}

impl PersonLife {
    /// When the person left, as of `at`, and how.
    fn left(&self, at: Timestamp) -> Option<(Timestamp, &'static str)> {
        let mut out: Option<(Timestamp, &'static str)> = None;
        let mut take = |t: Timestamp, how| {
            if out.is_none_or(|(o, _)| t < o) {
                out = Some((t, how));
            }
        };
        if let Some(t) = self.revoked {
            take(t, "licence revoked");
        }
        if let Some(t) = self.barred_for_good {
            take(t, "barred for good");
        }
        if let Some(t) = self.licence_until
            && t <= at
        {
            take(t, "licence expired");
        }
        out
    }
}

/// A loss report: its firearms not yet recovered, and when the last was.
#[derive(Clone, Debug, Default)]
struct LossCase {
    open: BTreeSet<FirearmId>,
    closed: Option<Timestamp>,
}

struct Sealed {
    note: SealedNote,
    subject: Subject,
    entry: Hash,
    kind: &'static str,
    at: Timestamp,
}

/// The facts one pass over the log gathers.
#[derive(Default)]
struct Facts {
    sealed: Vec<Sealed>,
    erased: BTreeSet<SealedNote>,
    persons: BTreeMap<PersonId, PersonLife>,
    losses: BTreeMap<Hash, LossCase>,
    complaints: BTreeMap<Ident, Timestamp>,
    findings: BTreeMap<Ident, Timestamp>,
}

impl Facts {
    fn take(&mut self, event: &Event, entry: Hash, at: Timestamp) {
        let (notes, kind, subject) = match event {
            Event::Site(e) => (e.notes(), e.kind(), self.site(e, entry, at)),
            Event::Regulator(e) => (e.notes(), e.kind(), self.regulator(e, at)),
        };
        for note in notes {
            self.sealed.push(Sealed {
                note,
                subject: subject.clone(),
                entry,
                kind,
                at,
            });
        }
    }

    fn site(&mut self, e: &SiteEvent, entry: Hash, at: Timestamp) -> Subject {
        match e {
            SiteEvent::LossReported { items, .. } => {
                let open = items
                    .iter()
                    .filter_map(|i| match i {
                        Item::Firearm(f) => Some(*f),
                        Item::Rounds(_) => None,
                    })
                    .collect();
                self.losses.insert(entry, LossCase { open, closed: None });
                Subject::Loss(entry)
            }
            SiteEvent::LossReportUpdated { report, .. } => Subject::Loss(*report),
            SiteEvent::Recovered {
                firearm, report, ..
            } => {
                if let Some(c) = self.losses.get_mut(report)
                    && c.open.remove(firearm)
                    && c.open.is_empty()
                {
                    c.closed = Some(at);
                }
                Subject::Act
            }
            SiteEvent::DiscrepancyResolved { .. } => Subject::ClosedHere,
            _ => Subject::Act,
        }
    }

    fn regulator(&mut self, e: &RegulatorEvent, at: Timestamp) -> Subject {
        use RegulatorEvent as R;
        match e {
            R::PersonLicensed {
                person, licence, ..
            } => {
                // Licensed again: back, whatever happened before.
                self.persons.insert(
                    person.clone(),
                    PersonLife {
                        licence_until: Some(licence.valid.until),
                        ..PersonLife::default()
                    },
                );
                Subject::Act
            }
            R::PersonRevoked { person, what, .. } => {
                if *what == Revocable::Licence {
                    self.persons.entry(person.clone()).or_default().revoked = Some(at);
                }
                Subject::Person(person.clone())
            }
            R::PersonBarred { person, until, .. } => {
                if until.is_none() {
                    self.persons
                        .entry(person.clone())
                        .or_default()
                        .barred_for_good = Some(at);
                }
                Subject::Person(person.clone())
            }
            R::PersonUnbarred { person, .. } => {
                self.persons
                    .entry(person.clone())
                    .or_default()
                    .barred_for_good = None;
                Subject::Person(person.clone())
            }
            R::ComplaintReceived { reference, .. } => Subject::Complaint(reference.clone()),
            R::ComplaintResolved { reference, .. } => {
                self.complaints.insert(reference.clone(), at);
                Subject::Complaint(reference.clone())
            }
            R::FindingRecorded { finding, .. } => Subject::Finding(finding.clone()),
            R::FindingClosed { finding, .. } => {
                self.findings.insert(finding.clone(), at);
                Subject::Finding(finding.clone())
            }
            R::SanctionRecorded {
                finding: Some(f), ..
            } => Subject::Finding(f.clone()),
            R::NotesErased { notes, .. } => {
                self.erased.extend(notes.iter().copied());
                Subject::Act
            }
            _ => Subject::Act,
        }
    }

    /// When `s`'s period started as of `now`, and why (or why not).
    fn start(&self, s: &Sealed, now: Timestamp) -> (Option<Timestamp>, String) {
        match &s.subject {
            Subject::Person(p) => match self.persons.get(p).and_then(|l| l.left(now)) {
                Some((t, how)) => (Some(t), format!("{p} left on {} ({how})", day(t))),
                None => (None, format!("{p} is still active")),
            },
            Subject::Loss(r) => match self.losses.get(r).and_then(|c| c.closed) {
                Some(t) => (
                    Some(t),
                    format!("loss report {} closed by recovery on {}", r.short(), day(t)),
                ),
                None => (None, format!("loss report {} is open", r.short())),
            },
            Subject::Complaint(c) => match self.complaints.get(c) {
                Some(t) => (Some(*t), format!("complaint {c} resolved on {}", day(*t))),
                None => (None, format!("complaint {c} is open")),
            },
            Subject::Finding(f) => match self.findings.get(f) {
                Some(t) => (Some(*t), format!("finding {f} closed on {}", day(*t))),
                None => (None, format!("finding {f} is open")),
            },
            Subject::ClosedHere => (Some(s.at), format!("discrepancy resolved on {}", day(s.at))),
            Subject::Act => (Some(s.at), format!("{} on {}", s.kind, day(s.at))),
        }
    }
}

fn day(t: Timestamp) -> String {
    let s = t.to_string();
    s.get(..10).unwrap_or(&s).to_string()
}

/// Reviews every sealed note of the log read through `r`, as of `now`;
/// `class_of` gives a note's class from the note store.
pub fn review(
    r: &LogReader,
    policy: RetentionPolicy,
    now: Timestamp,
    class_of: impl Fn(&SealedNote) -> Result<Option<NoteClass>, StoreError>,
) -> Result<RetentionReview, StoreError> {
    let mut facts = Facts::default();
    let size = r.size();
    for i in 0..size {
        let e = r.entry(i)?.ok_or_else(|| StoreError::StoredValueMissing {
            table: "entries",
            key: i.to_string(),
        })?;
        facts.take(&e.entry.body().event, e.entry.hash(), e.received_at);
    }
    let mut notes = Vec::new();
    let mut seen = BTreeSet::new();
    for s in &facts.sealed {
        if facts.erased.contains(&s.note) || !seen.insert(s.note) {
            continue;
        }
        let class = class_of(&s.note)?.unwrap_or(NoteClass::Person);
        let (since, reason) = facts.start(s, now);
        let retain_until = since.map(|t| Timestamp(t.0.saturating_add(policy.period_ms(class))));
        notes.push(NoteReview {
            note: s.note,
            class,
            entry: s.entry,
            kind: s.kind.to_string(),
            reason,
            since,
            retain_until,
            due: retain_until.is_some_and(|u| u <= now),
        });
    }
    let kept = notes.iter().filter(|n| !n.due).count() as u64;
    Ok(RetentionReview {
        policy,
        at: now,
        log_size: size,
        notes,
        kept,
    })
}

/// Reviews the log's sealed notes against the configured retention policy
/// (regulator only) and records each note's end of retention in the note
/// store. Nothing is erased: `armsledger retention apply` signs the
/// `notes-erased` entry the answer calls for.
#[utoipa::path(post, path = "/v1/retention/review", tag = "admin",
    params(ReviewQuery),
    responses(
        (status = 200, description = "every sealed note not yet erased, due or not, and why", body = RetentionReview),
        (status = 401, description = "no token, or an unknown or revoked one"),
        (status = 403, description = "not the regulator"),
    ),
    security(("bearer" = [])))]
pub async fn post_review(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    crate::routes::extract::Query(q): crate::routes::extract::Query<ReviewQuery>,
) -> Result<Json<RetentionReview>, ApiError> {
    caller.need_regulator("review the retention of sealed notes")?;
    tokio::task::spawn_blocking(move || {
        let store = shared.store();
        let reader = store
            .read()
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let out = review(&reader, shared.config().retention, shared.now(), |n| {
            Ok(store.note(n)?.map(|r| r.class))
        })
        .map_err(|e| ApiError::Internal(e.to_string()))?;
        drop(reader);
        let ends: Vec<_> = out
            .notes
            .iter()
            .filter_map(|n| n.retain_until.map(|u| (n.note, u)))
            .collect();
        store.set_note_retentions(&ends)?;
        let mut out = out;
        if !q.all {
            out.notes.retain(|n| n.due);
        }
        Ok(Json(out))
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_policy_below_the_entry_floor_is_refused() {
        let p = RetentionPolicy {
            entries_years: 29,
            ..RetentionPolicy::default()
        };
        let e = p.check().unwrap_err();
        assert!(e.contains("entries_years = 29"), "{e}");
        assert!(e.contains("at least 30 years"), "{e}");
        assert!(RetentionPolicy::default().check().is_ok());
    }

    #[test]
    fn a_person_leaves_at_the_first_of_revocation_bar_or_expiry() {
        let t = |d: u64| Timestamp(d * Timestamp::DAY);
        let mut l = PersonLife {
            licence_until: Some(t(100)),
            ..PersonLife::default()
        };
        assert_eq!(l.left(t(50)), None, "licensed and in date: still active");
        assert_eq!(l.left(t(100)), Some((t(100), "licence expired")));
        l.revoked = Some(t(40));
        assert_eq!(l.left(t(50)), Some((t(40), "licence revoked")));
        l.barred_for_good = Some(t(30));
        assert_eq!(l.left(t(50)), Some((t(30), "barred for good")));
    }

    /// Feeds `events` to one pass, the n-th at day n, entry hash `n`.
    fn facts(events: Vec<Event>) -> Facts {
        let mut f = Facts::default();
        for (i, e) in events.iter().enumerate() {
            let n = u8::try_from(i).unwrap();
            f.take(e, Hash([n; 32]), day_(u64::from(n)));
        }
        f
    }

    fn day_(d: u64) -> Timestamp {
        Timestamp(d * Timestamp::DAY)
    }

    /// When the period of `note` started as of day `now`, and why.
    fn start_of(f: &Facts, note: SealedNote, now: u64) -> (Option<Timestamp>, String) {
        let s = f.sealed.iter().find(|s| s.note == note).unwrap();
        f.start(s, day_(now))
    }

    #[test]
    fn a_loss_case_closes_when_its_last_firearm_is_recovered() {
        use armsledger_core::model::{Condition, LossKind};
        use armsledger_core::testkit::{note, v};
        let (a, b) = (FirearmId([1; 16]), FirearmId([2; 16]));
        let why = note("taken from the patrol car");
        let recovered = |firearm| {
            Event::Site(SiteEvent::Recovered {
                firearm,
                report: Hash([0; 32]),
                condition: Condition::Serviceable,
                location: v("vault"),
            })
        };
        let loss = Event::Site(SiteEvent::LossReported {
            items: vec![Item::Firearm(a), Item::Firearm(b)],
            kind: LossKind::Theft,
            holder: None,
            discovered_at: day_(0),
            circumstances: why,
            police_ref: None,
            regulator_ref: None,
        });
        let one = facts(vec![loss.clone(), recovered(a)]);
        let (since, reason) = start_of(&one, why, 9);
        assert_eq!(since, None, "one of two back: the case is open");
        assert!(reason.ends_with(" is open"), "{reason}");
        let both = facts(vec![loss, recovered(a), recovered(b)]);
        let (since, reason) = start_of(&both, why, 9);
        assert_eq!(since, Some(day_(2)));
        assert!(
            reason.contains("closed by recovery on 1970-01-03"),
            "{reason}"
        );
    }

    #[test]
    fn licensing_again_brings_a_person_back_and_an_unbar_lifts_a_bar() {
        use armsledger_core::model::{OfficerLicence, Validity};
        use armsledger_core::testkit::{note, v};
        let why = note("failed a drug test");
        let licensed = Event::Regulator(RegulatorEvent::PersonLicensed {
            person: v("guard-2"),
            company: v("acme"),
            identity_hash: Hash([9; 32]),
            licence: OfficerLicence {
                number: v("LIC-2"),
                grade: v("A"),
                valid: Validity {
                    from: day_(0),
                    until: day_(1000),
                },
            },
        });
        let revoked = Event::Regulator(RegulatorEvent::PersonRevoked {
            person: v("guard-2"),
            what: Revocable::Licence,
            reason: why,
        });
        let left = facts(vec![licensed.clone(), revoked.clone()]);
        assert_eq!(start_of(&left, why, 5).0, Some(day_(1)));
        let back = facts(vec![licensed.clone(), revoked, licensed.clone()]);
        assert_eq!(start_of(&back, why, 5).0, None, "licensed again: active");
        assert_eq!(
            start_of(&back, why, 1000).0,
            Some(day_(1000)),
            "until the new licence expires"
        );
        let bar = note("barred");
        let barred = Event::Regulator(RegulatorEvent::PersonBarred {
            person: v("guard-2"),
            reason: bar,
            until: None,
        });
        let unbarred = Event::Regulator(RegulatorEvent::PersonUnbarred {
            person: v("guard-2"),
            note: note("cleared"),
        });
        assert_eq!(
            start_of(&facts(vec![licensed.clone(), barred.clone()]), bar, 5).0,
            Some(day_(1))
        );
        assert_eq!(
            start_of(&facts(vec![licensed, barred, unbarred]), bar, 5).0,
            None
        );
    }

    #[test]
    fn periods_are_per_class() {
        let p = RetentionPolicy {
            person_days: 1,
            case_days: 2,
            operational_days: 0,
            ..RetentionPolicy::default()
        };
        assert_eq!(p.period_ms(NoteClass::Person), Timestamp::DAY);
        assert_eq!(p.period_ms(NoteClass::Case), 2 * Timestamp::DAY);
        assert_eq!(p.period_ms(NoteClass::Operational), 0);
    }
}
