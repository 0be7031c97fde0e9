//! Every report's figures on one known scenario, with the expected numbers
//! written by hand from the story below (not computed by the code under
//! test), and the periodic return checked against the ledger.
//!
//! Site `north` of company `acme` (counters on its chain in brackets):
//! before the period, SN-1 [1] and SN-2 [2] are acquired and 500 rounds of
//! lot L-1 received [3]. In the period: SN-3 acquired [4]; SN-1 issued to
//! guard-1 with 30 rounds [5] and back with 5 expended [6]; SN-2 issued to
//! guard-2 with 20 rounds [7] and never returned; a clean full count [8];
//! SN-3 reported stolen 3 hours after discovery with a police reference [9],
//! the regulator's reference added later [10]; a second count misses SN-1
//! [11], found again [12]; 40 rounds destroyed with two witnesses [13]; the
//! armoury opened [14], its key handed over [15], closed [16]; SN-1 and 50
//! rounds sent to `south` of `beta` [17], which receives the rounds but not
//! the pistol; SN-4 acquired [18]; guard-1's qualification is revoked and
//! armourer-2 authorises an override [19] of SN-4's issue to guard-1 with 10
//! rounds [20]. After the period: SN-5 acquired [21].

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::Arc;

use armsledger_core::LedgerVerifier;
use armsledger_core::entry::{EntryBody, SignedEntry};
use armsledger_core::event::{EntryRef, Event, RegulatorEvent, Revocable, SiteEvent};
use armsledger_core::hash::Hash;
use armsledger_core::ids::Timestamp;
use armsledger_core::model::{
    AmmoLine, CountKind, DisposalMethod, DocKind, FirearmId, Item, LossKind, Resolution,
};
use armsledger_core::rules::{RuleId, View};
use armsledger_core::testkit::{Scenario, doc, note, v};
use armsledger_reports::periodic::{self, CheckpointRef};
use armsledger_reports::{Cell, Format, Ledger, Logged, ReportName, Scope, Table, report};

struct World {
    s: Scenario,
    verifier: LedgerVerifier,
    from: Timestamp,
    to: Timestamp,
    /// Hashes of entries by their story number on north's chain.
    disposal: Hash,
}

fn count(
    s: &mut Scenario,
    session: &str,
    seen: Vec<FirearmId>,
    rounds: Vec<AmmoLine>,
) -> Arc<SignedEntry> {
    s.site(
        "north",
        "armourer-1",
        SiteEvent::CountPerformed {
            session: v(session),
            kind: CountKind::Full,
            locations: vec![],
            part: 1,
            parts: 1,
            counters: vec![v("witness-1"), v("witness-2")],
            firearms_seen: seen,
            rounds_seen: rounds,
        },
    )
}

fn world() -> World {
    let mut s = Scenario::standard();
    s.company_with_site("beta", "south");
    s.guard("guard-8", "acme", 10);
    s.guard("guard-9", "acme", 45);
    let (sn1, _) = s.acquire("north", "SN-1");
    let (sn2, _) = s.acquire("north", "SN-2");
    let lot = s.receive("north", "L-1", 500);
    let from = s.now;
    let (sn3, _) = s.acquire("north", "SN-3");
    let i1 = s.issue("north", sn1, "guard-1", lot, 30);
    s.return_spent("north", &i1, 5);
    s.issue("north", sn2, "guard-2", lot, 20);
    count(
        &mut s,
        "c1",
        vec![sn1, sn3],
        vec![AmmoLine { lot, rounds: 475 }],
    );
    let discovered = s.now.minus(3 * Timestamp::HOUR);
    let loss = s.site(
        "north",
        "armourer-1",
        SiteEvent::LossReported {
            items: vec![Item::Firearm(sn3)],
            kind: LossKind::Theft,
            holder: None,
            discovered_at: discovered,
            circumstances: note("rack forced overnight"),
            police_ref: Some(v("POL-7")),
            regulator_ref: None,
        },
    );
    s.site(
        "north",
        "armourer-1",
        SiteEvent::LossReportUpdated {
            report: loss.hash(),
            police_ref: None,
            regulator_ref: Some(v("REG-9")),
            circumstances: None,
        },
    );
    let c2 = count(&mut s, "c2", vec![], vec![AmmoLine { lot, rounds: 475 }]);
    s.site(
        "north",
        "armourer-1",
        SiteEvent::DiscrepancyResolved {
            count: c2.hash(),
            item: Item::Firearm(sn1),
            resolution: Resolution::Found,
        },
    );
    let disposal = s.site(
        "north",
        "armourer-1",
        SiteEvent::Disposed {
            item: Item::Rounds(AmmoLine { lot, rounds: 40 }),
            method: DisposalMethod::Destroyed,
            place: v("range pit"),
            witnesses: vec![v("witness-1"), v("witness-2")],
            authorisation: doc(DocKind::DisposalOrder, "DO-1"),
            certificate: Some(doc(DocKind::DeactivationCertificate, "CERT-1")),
        },
    );
    s.site(
        "north",
        "armourer-1",
        SiteEvent::ArmouryOpened {
            with: vec![v("witness-1")],
        },
    );
    s.site(
        "north",
        "armourer-1",
        SiteEvent::KeyHandedOver {
            key: v("vault-key"),
            from: v("armourer-1"),
            to: v("armourer-2"),
        },
    );
    s.site(
        "north",
        "armourer-2",
        SiteEvent::ArmouryClosed {
            with: vec![v("witness-2")],
        },
    );
    let out = s.site(
        "north",
        "armourer-1",
        SiteEvent::TransferredOut {
            to_site: v("south"),
            to_company: v("beta"),
            firearms: vec![sn1],
            rounds: vec![AmmoLine { lot, rounds: 50 }],
            rounds_from: Some(v("vault")),
            permit: doc(DocKind::TransportPermit, "TP-1"),
            carrier: Some(v("SecureMove")),
        },
    );
    s.site(
        "south",
        "armourer-1",
        SiteEvent::TransferredIn {
            transfer: EntryRef {
                site: v("north"),
                counter: out.counter(),
                hash: out.hash(),
            },
            firearms: vec![],
            rounds: vec![AmmoLine { lot, rounds: 50 }],
            location: v("vault"),
            note: Some(note("one pistol short")),
        },
    );
    let (sn4, _) = s.acquire("north", "SN-4");
    s.regulator(RegulatorEvent::PersonRevoked {
        person: v("guard-1"),
        what: Revocable::Qualification(v("Q-guard-1")),
        reason: note("failed requalification"),
    });
    // The issue the override names: built as Scenario::site will build it
    // one tick after the override.
    let act = SiteEvent::Issued {
        firearm: sn4,
        to: v("guard-1"),
        purpose: note("patrol"),
        post: v("gate-3"),
        due_back: s.now.plus(1000).plus(8 * Timestamp::HOUR),
        reliance: armsledger_core::model::Reliance {
            licence: v("LIC-guard-1"),
            permit: v("PER-guard-1"),
            qualification: v("Q-guard-1"),
        },
        ammunition: vec![AmmoLine { lot, rounds: 10 }],
        ammunition_from: Some(v("vault")),
    };
    let body = EntryBody {
        format: Default::default(),
        officer: v("armourer-1"),
        occurred_at: s.now.plus(1000),
        links: s.links(&v("north"), &act),
        event: Event::Site(act.clone()),
    };
    s.site(
        "north",
        "armourer-1",
        SiteEvent::Overridden {
            rule: RuleId::QualificationCurrent,
            reason: note("court-ordered escort"),
            authoriser: v("armourer-2"),
            act: body.hash().unwrap(),
        },
    );
    s.site("north", "armourer-1", act);
    let to = s.now;
    s.acquire("north", "SN-5");
    let mut verifier = LedgerVerifier::new(s.regulator_key(), vec![s.root_key()], View::Corrected);
    for e in &s.log {
        verifier
            .ingest(e.clone(), None)
            .expect("the scenario folds");
    }
    World {
        s,
        verifier,
        from,
        to,
        disposal: disposal.hash(),
    }
}

impl World {
    fn ledger(&self) -> Ledger<'_> {
        self.ledger_without(None)
    }

    fn ledger_without(&self, withheld: Option<Hash>) -> Ledger<'_> {
        Ledger {
            state: self.verifier.engine().state(),
            findings: self.verifier.engine().findings(),
            entries: self
                .s
                .log
                .iter()
                .enumerate()
                .filter(|(_, e)| Some(e.hash()) != withheld)
                .map(|(i, e)| Logged {
                    index: i as u64,
                    received_at: None,
                    entry: e,
                })
                .collect(),
            checkpoint: Some(CheckpointRef {
                size: self.s.log.len() as u64,
                root: Hash([7; 32]),
            }),
            extra_alerts: vec![],
        }
    }

    /// North, the period, a day after its end.
    fn north(&self) -> Scope {
        Scope {
            site: Some(v("north")),
            from: Some(self.from),
            to: Some(self.to),
            now: self.to.plus(Timestamp::DAY),
            ..Scope::default()
        }
    }

    fn run(&self, name: ReportName, scope: &Scope) -> Table {
        report(name, &self.ledger(), scope).unwrap()
    }
}

fn text(t: &Table, row: usize, col: &str) -> String {
    t.cell(row, col)
        .unwrap_or_else(|| panic!("no {col} in row {row} of {}", t.report))
        .text()
}

fn int(t: &Table, row: usize, col: &str) -> i64 {
    match t.cell(row, col) {
        Some(Cell::Int(n)) => *n,
        other => panic!("{col} in row {row} of {} is {other:?}", t.report),
    }
}

#[test]
fn issue_register() {
    let w = world();
    let t = w.run(ReportName::Issues, &w.north());
    assert_eq!(t.rows.len(), 3, "{t:#?}");
    assert_eq!(text(&t, 0, "serial"), "SN-1");
    assert_eq!(int(&t, 0, "entry"), 5);
    assert_eq!(text(&t, 0, "to"), "guard-1");
    assert_eq!(int(&t, 0, "rounds_out"), 30);
    assert_eq!(int(&t, 0, "return_entry"), 6);
    assert_eq!(int(&t, 0, "rounds_back"), 25);
    assert_eq!(int(&t, 0, "rounds_expended"), 5);
    assert_eq!(text(&t, 0, "condition"), "Serviceable");
    assert_eq!(text(&t, 0, "status"), "returned");
    assert_eq!(text(&t, 1, "serial"), "SN-2");
    assert_eq!(int(&t, 1, "rounds_out"), 20);
    assert_eq!(text(&t, 1, "status"), "overdue");
    assert_eq!(text(&t, 1, "returned_at"), "");
    assert_eq!(text(&t, 2, "serial"), "SN-4");
    assert_eq!(int(&t, 2, "entry"), 20);
    assert_eq!(int(&t, 2, "rounds_out"), 10);
    // The same issues an hour after they were made are open, not overdue.
    let mut early = w.north();
    early.now = w.to;
    let t = w.run(ReportName::Issues, &early);
    assert_eq!(text(&t, 1, "status"), "open");
    // A period that ends before the issues has none.
    let mut before = w.north();
    before.to = Some(w.from);
    before.from = Some(w.from.minus(Timestamp::DAY));
    assert!(w.run(ReportName::Issues, &before).rows.is_empty());
}

#[test]
fn counts_and_discrepancies() {
    let w = world();
    let t = w.run(ReportName::Counts, &w.north());
    assert_eq!(t.rows.len(), 2, "{t:#?}");
    assert_eq!(int(&t, 0, "entry"), 8);
    assert_eq!(text(&t, 0, "status"), "none");
    assert_eq!(int(&t, 0, "firearms_seen"), 2);
    assert_eq!(int(&t, 0, "rounds_seen"), 475);
    assert_eq!(text(&t, 0, "counters"), "witness-1; witness-2");
    assert_eq!(int(&t, 1, "entry"), 11);
    assert_eq!(text(&t, 1, "item"), "SN-1");
    assert_eq!(int(&t, 1, "expected"), 1);
    assert_eq!(int(&t, 1, "found"), 0);
    assert_eq!(text(&t, 1, "status"), "resolved");
    assert_eq!(text(&t, 1, "resolution"), "found");
    assert_eq!(int(&t, 1, "resolution_entry"), 12);
    // South's transfer in, short of SN-1: an open discrepancy of company beta.
    let beta = Scope {
        company: Some(v("beta")),
        now: w.to,
        ..Scope::default()
    };
    let t = w.run(ReportName::Counts, &beta);
    assert_eq!(t.rows.len(), 1, "{t:#?}");
    assert_eq!(text(&t, 0, "source"), "transfer in");
    assert_eq!(text(&t, 0, "item"), "SN-1");
    assert_eq!(text(&t, 0, "status"), "open");
}

#[test]
fn loss_register() {
    let w = world();
    let t = w.run(ReportName::Losses, &w.north());
    assert_eq!(t.rows.len(), 1, "{t:#?}");
    assert_eq!(int(&t, 0, "entry"), 9);
    assert_eq!(text(&t, 0, "kind"), "Theft");
    assert_eq!(text(&t, 0, "items"), "SN-3");
    assert_eq!(int(&t, 0, "hours_to_report"), 3);
    assert_eq!(text(&t, 0, "reported_in_time"), "yes");
    assert_eq!(text(&t, 0, "police_ref"), "POL-7");
    assert_eq!(text(&t, 0, "regulator_ref"), "REG-9");
    assert!(text(&t, 0, "circumstances").starts_with("sealed note "));
    assert_eq!(text(&t, 0, "recovered"), "");
}

#[test]
fn transfers_with_what_is_missing() {
    let w = world();
    let t = w.run(ReportName::Transfers, &w.north());
    assert_eq!(t.rows.len(), 1, "{t:#?}");
    assert_eq!(int(&t, 0, "entry"), 17);
    assert_eq!(text(&t, 0, "to_site"), "south");
    assert_eq!(text(&t, 0, "permit"), "TP-1");
    assert_eq!(int(&t, 0, "firearms_sent"), 1);
    assert_eq!(int(&t, 0, "rounds_sent"), 50);
    assert_eq!(int(&t, 0, "firearms_received"), 0);
    assert_eq!(int(&t, 0, "rounds_received"), 50);
    assert_eq!(text(&t, 0, "firearms_missing"), "SN-1");
    assert_eq!(int(&t, 0, "rounds_missing"), 0);
    assert_eq!(text(&t, 0, "status"), "received");
    assert_eq!(int(&t, 0, "age_hours"), 0);
    // The receiver sees it too.
    let south = Scope {
        site: Some(v("south")),
        now: w.to,
        ..Scope::default()
    };
    assert_eq!(w.run(ReportName::Transfers, &south).rows.len(), 1);
}

#[test]
fn disposal_certificates() {
    let w = world();
    let t = w.run(ReportName::Disposals, &w.north());
    assert_eq!(t.rows.len(), 1, "{t:#?}");
    assert_eq!(int(&t, 0, "entry"), 13);
    assert_eq!(text(&t, 0, "item"), "L-1 x40");
    assert_eq!(text(&t, 0, "method"), "Destroyed");
    assert_eq!(text(&t, 0, "place"), "range pit");
    assert_eq!(text(&t, 0, "order"), "DO-1");
    assert_eq!(text(&t, 0, "certificate"), "CERT-1");
    assert_eq!(text(&t, 0, "witnesses"), "witness-1; witness-2");
}

#[test]
fn armoury_access_and_key_log() {
    let w = world();
    let t = w.run(ReportName::Access, &w.north());
    assert_eq!(t.rows.len(), 3, "{t:#?}");
    assert_eq!(text(&t, 0, "event"), "opened");
    assert_eq!(text(&t, 0, "with"), "witness-1");
    assert_eq!(text(&t, 1, "event"), "key handed over");
    assert_eq!(text(&t, 1, "key"), "vault-key");
    assert_eq!(text(&t, 1, "from"), "armourer-1");
    assert_eq!(text(&t, 1, "to"), "armourer-2");
    assert_eq!(text(&t, 2, "event"), "closed");
    assert_eq!(text(&t, 2, "officer"), "armourer-2");
    assert_eq!(int(&t, 2, "entry"), 16);
}

#[test]
fn personnel_compliance() {
    let w = world();
    let t = w.run(ReportName::Personnel, &w.north());
    assert_eq!(t.rows.len(), 2, "{t:#?}");
    assert_eq!(text(&t, 0, "person"), "armourer-1");
    assert_eq!(int(&t, 0, "acts_recorded"), 16);
    assert_eq!(int(&t, 0, "overrides_authorised"), 0);
    assert_eq!(int(&t, 0, "findings"), 1);
    assert_eq!(int(&t, 0, "findings_overridden"), 1);
    assert_eq!(int(&t, 0, "findings_not_overridden"), 0);
    assert_eq!(text(&t, 0, "rules"), "qualification-current");
    assert_eq!(text(&t, 1, "person"), "armourer-2");
    assert_eq!(int(&t, 1, "acts_recorded"), 1);
    assert_eq!(int(&t, 1, "overrides_authorised"), 1);
    assert_eq!(int(&t, 1, "findings"), 0);
}

#[test]
fn expiries_at_30_60_and_90_days() {
    let w = world();
    let acme = Scope {
        company: Some(v("acme")),
        now: w.to.plus(Timestamp::DAY),
        ..Scope::default()
    };
    let t = w.run(ReportName::Expiries, &acme);
    assert_eq!(t.rows.len(), 6, "{t:#?}");
    for r in 0..3 {
        assert_eq!(text(&t, r, "holder"), "guard-8");
        assert_eq!(int(&t, r, "days_left"), 8);
        assert_eq!(text(&t, r, "window"), "30");
    }
    for r in 3..6 {
        assert_eq!(text(&t, r, "holder"), "guard-9");
        assert_eq!(int(&t, r, "days_left"), 43);
        assert_eq!(text(&t, r, "window"), "60");
    }
    let docs: Vec<String> = (0..3).map(|r| text(&t, r, "document")).collect();
    assert_eq!(
        docs,
        ["officer licence", "firearm permit", "Pistol qualification"]
    );
    // Twenty days on, guard-8's papers have expired and guard-9's are within 30 days.
    let later = Scope {
        now: acme.now.plus(20 * Timestamp::DAY),
        ..acme.clone()
    };
    let t = w.run(ReportName::Expiries, &later);
    assert_eq!(text(&t, 0, "window"), "expired");
    assert_eq!(int(&t, 0, "days_left"), -12);
    assert_eq!(text(&t, 3, "window"), "30");
    // Beta has no one: nothing.
    let beta = Scope {
        company: Some(v("beta")),
        ..acme
    };
    assert!(w.run(ReportName::Expiries, &beta).rows.is_empty());
}

#[test]
fn regulators_summary_by_company() {
    let w = world();
    let all = Scope {
        from: Some(w.from),
        to: Some(w.to),
        now: w.to.plus(Timestamp::DAY),
        ..Scope::default()
    };
    let t = w.run(ReportName::Summary, &all);
    assert_eq!(t.rows.len(), 2, "{t:#?}");
    let acme = t.rows_where("company", "acme")[0];
    assert_eq!(int(&t, acme, "sites"), 1);
    // SN-2 and SN-4 issued, SN-5 in store; SN-1 in transit, SN-3 stolen.
    assert_eq!(int(&t, acme, "firearms_held"), 3);
    assert_eq!(int(&t, acme, "entries"), 17);
    assert_eq!(int(&t, acme, "alerts_critical"), 0);
    assert_eq!(int(&t, acme, "overdue_returns"), 2);
    assert_eq!(int(&t, acme, "alerts_warning"), 2);
    // guard-8's and guard-9's licence, permit and qualification (6), and
    // witness-1 leading both counts (the lead counter should rotate).
    assert_eq!(int(&t, acme, "alerts_notice"), 7);
    assert_eq!(int(&t, acme, "open_discrepancies"), 0);
    assert_eq!(int(&t, acme, "losses_reported"), 1);
    assert_eq!(int(&t, acme, "rule_findings"), 1);
    assert_eq!(int(&t, acme, "median_seconds_act_to_record"), 0);
    let beta = t.rows_where("company", "beta")[0];
    // Items missing in transit are a warning (core's `RuleId::severity`),
    // counted apart too; beta has no critical alert.
    assert_eq!(int(&t, beta, "alerts_critical"), 0);
    assert_eq!(int(&t, beta, "alerts_warning"), 1);
    assert_eq!(int(&t, beta, "missing_in_transit"), 1);
    assert_eq!(int(&t, beta, "open_discrepancies"), 1);
    assert_eq!(int(&t, beta, "entries"), 1);
    // A company reader sees only its own row.
    let mine = Scope {
        visible_companies: Some([v("beta")].into()),
        visible_sites: Some([v("south")].into()),
        ..all
    };
    let t = w.run(ReportName::Summary, &mine);
    assert_eq!(t.rows.len(), 1);
    assert_eq!(text(&t, 0, "company"), "beta");
}

#[test]
fn median_time_from_act_to_record_uses_server_receipt() {
    let w = world();
    let mut ledger = w.ledger();
    // The first three entries of the period reached the server 60, 120 and
    // 600 seconds after they were signed; the rest as they were signed.
    let mut late = 0;
    for l in &mut ledger.entries {
        if l.entry.chain() == &armsledger_core::entry::ChainId::Site(v("north"))
            && l.entry.header().device_time >= w.from
            && late < 3
        {
            let s = [60, 120, 600][late];
            l.received_at = Some(l.entry.header().device_time.plus(s * 1000));
            late += 1;
        }
    }
    let scope = Scope {
        company: Some(v("acme")),
        from: Some(w.from),
        to: Some(w.to),
        now: w.to,
        ..Scope::default()
    };
    let t = report(ReportName::Summary, &ledger, &scope).unwrap();
    // 17 delays: fourteen 0s, then 60, 120, 600; the middle one is 0.
    assert_eq!(int(&t, 0, "median_seconds_act_to_record"), 0);
    for l in &mut ledger.entries {
        l.received_at = Some(l.entry.header().device_time.plus(90_000));
    }
    let t = report(ReportName::Summary, &ledger, &scope).unwrap();
    assert_eq!(int(&t, 0, "median_seconds_act_to_record"), 90);
}

#[test]
fn the_periodic_return_follows_from_the_ledger() {
    let w = world();
    let r = periodic::compute(
        &w.ledger(),
        &v("north"),
        w.from,
        w.to,
        w.ledger().checkpoint.unwrap(),
    );
    assert_eq!(r.company, Some(v("acme")));
    // Opening stock needs the entries before the period: 1 to 20.
    assert_eq!((r.chain.first, r.chain.last, r.chain.entries), (1, 20, 20));
    let f = r.firearms;
    assert_eq!(f.opening, 2);
    assert_eq!(f.acquired, 2);
    assert_eq!(f.lost, 1);
    assert_eq!(f.transferred_out, 1);
    assert_eq!(f.disposed, 0);
    assert_eq!(f.closing, 2);
    assert_eq!(r.lots.len(), 1);
    let l = &r.lots[0];
    assert_eq!(l.lot_number, "L-1");
    assert_eq!(l.opening, 500);
    assert_eq!(l.received, 0);
    assert_eq!(l.expended, 5);
    assert_eq!(l.disposed, 40);
    assert_eq!(l.transferred_out, 50);
    assert_eq!(l.closing, 405);

    let filed = r.clone().file().unwrap();
    let check = periodic::verify(&filed, &w.ledger()).unwrap();
    assert!(check.ok, "{check:#?}");
    assert!(check.differences.is_empty());
    // The same through the report: the JSON is the filed return.
    let json =
        armsledger_reports::produce(ReportName::Return, &w.ledger(), &w.north(), Format::Json)
            .unwrap();
    assert_eq!(periodic::parse(&json).unwrap(), filed);
}

#[test]
fn a_return_computed_with_one_entry_withheld_fails_the_check() {
    let w = world();
    let cp = w.ledger().checkpoint.unwrap();
    let short = periodic::compute(
        &w.ledger_without(Some(w.disposal)),
        &v("north"),
        w.from,
        w.to,
        cp,
    );
    assert_eq!(short.lots[0].disposed, 0);
    assert_eq!(short.lots[0].closing, 445);
    let check = periodic::verify(&short.file().unwrap(), &w.ledger()).unwrap();
    assert!(!check.ok);
    assert!(check.hash_matches, "the figures were hashed as filed");
    let fields: Vec<&str> = check.differences.iter().map(|d| d.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "chain.entries",
            "chain.digest",
            "lots[L-1].disposed",
            "lots[L-1].closing"
        ]
    );
    assert_eq!(
        check.differences[2].to_string(),
        "lots[L-1].disposed: the return says 0, the ledger says 40"
    );
}

#[test]
fn a_changed_figure_fails_the_hash_and_names_the_figure() {
    let w = world();
    let cp = w.ledger().checkpoint.unwrap();
    let mut filed = periodic::compute(&w.ledger(), &v("north"), w.from, w.to, cp)
        .file()
        .unwrap();
    filed.body.firearms.lost = 0;
    let check = periodic::verify(&filed, &w.ledger()).unwrap();
    assert!(!check.ok);
    assert!(!check.hash_matches);
    assert_eq!(check.differences.len(), 1);
    assert_eq!(check.differences[0].field, "firearms.lost");
    // Re-hashed after the change: the hash matches, the figure still does not.
    let rehashed = filed.body.clone().file().unwrap();
    let check = periodic::verify(&rehashed, &w.ledger()).unwrap();
    assert!(check.hash_matches);
    assert!(!check.ok);
}

#[test]
fn the_return_counts_only_entries_below_its_checkpoint() {
    let w = world();
    // A checkpoint taken before the override and the issue of SN-4 were logged.
    let issue_index = w.s.log.len() as u64 - 2;
    let cp = CheckpointRef {
        size: issue_index - 1,
        root: Hash([9; 32]),
    };
    let early = periodic::compute(&w.ledger(), &v("north"), w.from, w.to, cp);
    assert_eq!(early.chain.last, 18);
    assert_eq!(early.firearms.closing, 2);
    // Checked against a bundle with a later checkpoint: the same entries are used.
    let check = periodic::verify(&early.clone().file().unwrap(), &w.ledger()).unwrap();
    assert!(check.ok, "{check:#?}");
    assert!(check.checkpoint.contains("newer"));
    // A bundle older than the return cannot check it.
    let mut old = w.ledger();
    old.checkpoint = Some(CheckpointRef {
        size: 3,
        root: Hash([1; 32]),
    });
    assert!(periodic::verify(&early.file().unwrap(), &old).is_err());
}

#[test]
fn a_return_needs_a_site_and_a_period_and_a_visible_site() {
    let w = world();
    let mut s = w.north();
    s.site = None;
    assert!(
        report(ReportName::Return, &w.ledger(), &s)
            .unwrap_err()
            .to_string()
            .contains("--site")
    );
    let mut s = w.north();
    s.to = None;
    assert!(
        report(ReportName::Return, &w.ledger(), &s)
            .unwrap_err()
            .to_string()
            .contains("--from and --to")
    );
    let mut s = w.north();
    s.visible_sites = Some([v("south")].into());
    assert!(report(ReportName::Return, &w.ledger(), &s).is_err());
    let mut s = w.north();
    s.from = s.to;
    assert!(
        report(ReportName::Issues, &w.ledger(), &s)
            .unwrap_err()
            .to_string()
            .contains("empty")
    );
}

#[test]
fn a_site_reader_sees_only_its_site() {
    let w = world();
    let scope = Scope {
        visible_sites: Some([v("south")].into()),
        visible_companies: Some(Default::default()),
        now: w.to,
        ..Scope::default()
    };
    assert!(w.run(ReportName::Issues, &scope).rows.is_empty());
    assert!(w.run(ReportName::Summary, &scope).rows.is_empty());
    assert!(w.run(ReportName::Expiries, &scope).rows.is_empty());
    assert_eq!(w.run(ReportName::Counts, &scope).rows.len(), 1);
}

/// The regulator's oversight on its own small story, figures by hand:
/// acme's north reports SN-3 stolen and beta's south later acquires it (one
/// stolen hit, beta's, critical); an inspection of north finds F-1 and F-2,
/// F-1 is closed (one open finding for acme); trace requests TR-1 (answered
/// by north) and TR-2 (due in ten days) go to acme, TR-3 (due in a day,
/// never answered) to beta. Two days on: acme 1 open finding, 0 hits, 1
/// trace open, 0 overdue; beta 0, 1, 0, 1.
#[test]
fn summary_counts_open_findings_stolen_hits_and_trace_requests() {
    use armsledger_core::event::TraceOutcome;
    use armsledger_core::oversight::{InspectionStage, Severity};

    let mut s = Scenario::standard();
    s.company_with_site("beta", "south");
    let start = s.now;
    let (sn3, _) = s.acquire("north", "SN-3");
    let discovered = s.now;
    s.site(
        "north",
        "armourer-1",
        SiteEvent::LossReported {
            items: vec![Item::Firearm(sn3)],
            kind: LossKind::Theft,
            holder: None,
            discovered_at: discovered,
            circumstances: note("rack forced"),
            police_ref: Some(v("POL-1")),
            regulator_ref: Some(v("REG-1")),
        },
    );
    s.acquire("south", "SN-3");
    for stage in [InspectionStage::Planned, InspectionStage::Performed] {
        let at = s.now;
        s.regulator(RegulatorEvent::InspectionRecorded {
            reference: v("INS-1"),
            site: v("north"),
            stage,
            at,
            note: note("annual inspection"),
        });
    }
    for f in ["F-1", "F-2"] {
        s.regulator(RegulatorEvent::FindingRecorded {
            inspection: v("INS-1"),
            finding: v(f),
            site: v("north"),
            company: v("acme"),
            code: v("register-incomplete"),
            severity: Severity::Minor,
            note: note("two entries late"),
        });
    }
    s.regulator(RegulatorEvent::FindingClosed {
        finding: v("F-1"),
        note: note("put right"),
    });
    for (reference, company, days) in [
        ("TR-1", "acme", 1),
        ("TR-2", "acme", 10),
        ("TR-3", "beta", 1),
    ] {
        let deadline = s.now.plus(days * Timestamp::DAY);
        s.regulator(RegulatorEvent::TraceRequested {
            reference: v(reference),
            serial: v("SN-3"),
            company: v(company),
            deadline,
        });
    }
    s.site(
        "north",
        "armourer-1",
        SiteEvent::TraceAnswered {
            request: v("TR-1"),
            outcome: TraceOutcome::FormerlyHeld,
            firearms: vec![sn3],
        },
    );
    let mut verifier = LedgerVerifier::new(s.regulator_key(), vec![s.root_key()], View::Corrected);
    for e in &s.log {
        verifier.ingest(e.clone(), None).expect("the story folds");
    }
    let ledger = Ledger {
        state: verifier.engine().state(),
        findings: verifier.engine().findings(),
        entries: s
            .log
            .iter()
            .enumerate()
            .map(|(i, e)| Logged {
                index: i as u64,
                received_at: None,
                entry: e,
            })
            .collect(),
        checkpoint: None,
        extra_alerts: vec![],
    };
    let scope = Scope {
        now: s.now.plus(2 * Timestamp::DAY),
        ..Scope::default()
    };
    let t = report(ReportName::Summary, &ledger, &scope).unwrap();
    let acme = t.rows_where("company", "acme")[0];
    let beta = t.rows_where("company", "beta")[0];
    for (row, findings, hits, open, overdue) in [(acme, 1, 0, 1, 0), (beta, 0, 1, 0, 1)] {
        assert_eq!(int(&t, row, "open_findings"), findings, "{t:#?}");
        assert_eq!(int(&t, row, "stolen_hits"), hits);
        assert_eq!(int(&t, row, "trace_open"), open);
        assert_eq!(int(&t, row, "trace_overdue"), overdue);
    }
    // The hit is critical and the overdue request a warning, in beta's row.
    assert_eq!(int(&t, beta, "alerts_critical"), 1);
    assert_eq!(int(&t, beta, "alerts_warning"), 1);
    // As of the story's start nothing was recorded yet: nothing open.
    let early = Scope {
        now: start,
        ..Scope::default()
    };
    let t = report(ReportName::Summary, &ledger, &early).unwrap();
    let acme = t.rows_where("company", "acme")[0];
    assert_eq!(int(&t, acme, "open_findings"), 0);
    assert_eq!(int(&t, acme, "trace_open"), 0);
    // A period before the hit counts none.
    let before = Scope {
        to: Some(start),
        ..scope
    };
    let t = report(ReportName::Summary, &ledger, &before).unwrap();
    assert_eq!(
        int(&t, t.rows_where("company", "beta")[0], "stolen_hits"),
        0
    );
}

/// Site approvals and passed vettings join the expiries: north's approval
/// ends in 45 days (window 60), guard-1's vetting in 20 (window 30);
/// guard-2's failed vetting has no expiry to show.
#[test]
fn expiries_include_site_approvals_and_vettings() {
    use armsledger_core::model::Validity;
    use armsledger_core::oversight::VettingOutcome;

    let mut s = Scenario::standard();
    let now = s.now;
    s.regulator(RegulatorEvent::SiteApproved {
        site: v("north"),
        approval: v("APP-7"),
        valid: Validity {
            from: now.minus(Timestamp::DAY),
            until: now.plus(45 * Timestamp::DAY),
        },
        categories: vec![],
        max_firearms: None,
    });
    for (person, outcome, reference) in [
        ("guard-1", VettingOutcome::Passed, "VET-1"),
        ("guard-2", VettingOutcome::Failed, "VET-2"),
    ] {
        s.regulator(RegulatorEvent::VettingRecorded {
            person: v(person),
            outcome,
            expires: now.plus(20 * Timestamp::DAY),
            reference: v(reference),
        });
    }
    let mut verifier = LedgerVerifier::new(s.regulator_key(), vec![s.root_key()], View::Corrected);
    for e in &s.log {
        verifier.ingest(e.clone(), None).expect("the story folds");
    }
    let ledger = Ledger {
        state: verifier.engine().state(),
        findings: verifier.engine().findings(),
        entries: vec![],
        checkpoint: None,
        extra_alerts: vec![],
    };
    let scope = Scope {
        now,
        ..Scope::default()
    };
    let t = report(ReportName::Expiries, &ledger, &scope).unwrap();
    // The standard world's papers run a year: only these two are due.
    assert_eq!(t.rows.len(), 2, "{t:#?}");
    assert_eq!(text(&t, 0, "holder"), "guard-1");
    assert_eq!(text(&t, 0, "document"), "vetting");
    assert_eq!(text(&t, 0, "number"), "VET-1");
    assert_eq!(int(&t, 0, "days_left"), 20);
    assert_eq!(text(&t, 0, "window"), "30");
    assert_eq!(text(&t, 1, "holder_kind"), "site");
    assert_eq!(text(&t, 1, "holder"), "north");
    assert_eq!(text(&t, 1, "company"), "acme");
    assert_eq!(text(&t, 1, "document"), "armoury approval");
    assert_eq!(text(&t, 1, "number"), "APP-7");
    assert_eq!(int(&t, 1, "days_left"), 45);
    assert_eq!(text(&t, 1, "window"), "60");
    // Another company's reader sees neither.
    let other = Scope {
        company: Some(v("beta")),
        ..scope
    };
    assert!(
        report(ReportName::Expiries, &ledger, &other)
            .unwrap()
            .rows
            .is_empty()
    );
}
