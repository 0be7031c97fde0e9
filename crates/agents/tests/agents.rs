//! Site and regulator agents over in-process devices (real firmware, memory
//! flash), and sync against a real server on a loopback port.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;

use armsledger_agents::{AgentError, ArmouryAgent, ArmouryConfig, OverrideSpec, RegulatorAgent};
use armsledger_core::event::{RegulatorEvent, SiteEvent};
use armsledger_core::hash::Hash;
use armsledger_core::ids::{PersonId, Timestamp};
use armsledger_core::model::{
    Counterparty, DocKind, FirearmId, FirearmType, OfficerLicence, Permit, Qualification, Validity,
};
use armsledger_core::oversight::{Respondent, Sanction};
use armsledger_core::rules::RuleId;
use armsledger_core::testkit::{T0, doc, key, note, pistol, text, v};
use armsledger_device::host::{DeviceClient, InProcess};
use armsledger_device::storage::ManualClock;
use armsledger_device::{DeviceSpec, SharedDevice, memory_device};
use armsledger_store::{ArmouryLedger, Recovery};

struct World {
    dir: tempfile::TempDir,
    reg: RegulatorAgent<InProcess>,
    reg_device: SharedDevice,
    site_device: SharedDevice,
    clock: ManualClock,
}

fn device(serial: &str, clock: &ManualClock) -> SharedDevice {
    let spec = DeviceSpec {
        device: v(serial),
        model: v("SIM"),
        seed: Hash::of(&[serial.as_bytes()]).0,
    };
    memory_device(&key("manufacturer-root"), &spec, Box::new(clock.clone())).unwrap()
}

fn client(d: &SharedDevice) -> DeviceClient<InProcess> {
    DeviceClient::new(InProcess::new(d.clone()))
}

fn valid(days: u64, now: Timestamp) -> Validity {
    Validity {
        from: now.minus(Timestamp::DAY),
        until: now.plus(days * Timestamp::DAY),
    }
}

/// Regulator with its own device; company `acme`, site `north` enrolled;
/// `armourer-1`, `guard-1` (qualified) and `guard-2` (qualification expired).
fn world() -> World {
    let clock = ManualClock::new(T0);
    let dir = tempfile::tempdir().unwrap();
    let root = hex::encode(key("manufacturer-root").verifying_key().to_bytes());
    let reg_dev = device("reg-dev-1", &clock);
    let mut reg = RegulatorAgent::init(
        &dir.path().join("reg"),
        "inproc",
        vec![root],
        client(&reg_dev),
    )
    .unwrap();
    let official: PersonId = v("reg-official");
    reg.record(
        &official,
        RegulatorEvent::CompanyLicensed {
            company: v("acme"),
            name: v("Acme Ltd"),
            licence: v("PSC-1"),
            valid: valid(1000, T0),
            categories: vec![v("B")],
        },
    )
    .unwrap();
    reg.record(
        &official,
        RegulatorEvent::SiteRegistered {
            site: v("north"),
            company: v("acme"),
            name: v("North armoury"),
            approval: v("ARM-1"),
            locations: vec![v("vault"), v("rack-1")],
        },
    )
    .unwrap();
    let site_device = device("site-dev-1", &clock);
    reg.enrol_device(&official, &v("north"), &mut client(&site_device))
        .unwrap();
    for (p, qual_days) in [("armourer-1", 365), ("guard-1", 365), ("guard-2", 0)] {
        let person: PersonId = v(p);
        reg.record(
            &official,
            RegulatorEvent::PersonLicensed {
                person: person.clone(),
                company: v("acme"),
                identity_hash: Hash::of(&[p.as_bytes()]),
                licence: OfficerLicence {
                    number: v(&format!("LIC-{p}")),
                    grade: v("A"),
                    valid: valid(365, T0),
                },
            },
        )
        .unwrap();
        reg.record(
            &official,
            RegulatorEvent::PermitRecorded {
                person: person.clone(),
                permit: Permit {
                    number: v(&format!("PER-{p}")),
                    categories: vec![v("B")],
                    calibres: vec![v("9x19mm")],
                    valid: valid(365, T0),
                },
            },
        )
        .unwrap();
        reg.record(
            &official,
            RegulatorEvent::QualificationRecorded {
                person,
                qualification: Qualification {
                    id: v(&format!("Q-{p}")),
                    weapon: FirearmType::Pistol,
                    provider: v("range"),
                    valid: Validity {
                        from: T0.minus(400 * Timestamp::DAY),
                        until: T0.plus(qual_days * Timestamp::DAY),
                    },
                },
            },
        )
        .unwrap();
    }
    World {
        dir,
        reg,
        reg_device: reg_dev,
        site_device,
        clock,
    }
}

fn site_config(w: &World) -> ArmouryConfig {
    ArmouryConfig {
        site: "north".into(),
        device: "inproc".into(),
        server: None,
        token: None,
        regulator_key: hex::encode(w.reg.regulator_key()),
        manufacturer_roots: w.reg.config().manufacturer_roots.clone(),
        log_vkey: None,
    }
}

fn site_dir(w: &World) -> std::path::PathBuf {
    w.dir.path().join("north")
}

fn open_site(w: &World) -> ArmouryAgent<InProcess> {
    ArmouryAgent::open(&site_dir(w), client(&w.site_device)).unwrap()
}

fn init_site(w: &World) -> ArmouryAgent<InProcess> {
    let mut s = ArmouryAgent::init(&site_dir(w), site_config(w), client(&w.site_device)).unwrap();
    s.import_regulator_entries(&w.reg.entries_from(1).unwrap())
        .unwrap();
    s
}

fn acquire(s: &mut ArmouryAgent<InProcess>, serial: &str) -> FirearmId {
    acquire_at(s, serial, T0.plus(Timestamp::HOUR))
}

/// Acquires a pistol that came in at `t`.
fn acquire_at(s: &mut ArmouryAgent<InProcess>, serial: &str, t: Timestamp) -> FirearmId {
    let identity = pistol(serial);
    let id = identity.id();
    s.record(
        &v("armourer-1"),
        SiteEvent::FirearmAcquired {
            firearm: id,
            identity,
            source: Counterparty {
                name: v("Dealer"),
                licence: Some(v("DL-1")),
            },
            authorisation: doc(DocKind::AcquisitionPermit, "AP-1"),
            location: v("vault"),
        },
        t,
        None,
    )
    .unwrap();
    id
}

fn issue(s: &ArmouryAgent<InProcess>, firearm: FirearmId, to: &str) -> SiteEvent {
    SiteEvent::Issued {
        firearm,
        to: v(to),
        purpose: note("patrol"),
        post: v("gate"),
        due_back: T0.plus(Timestamp::DAY),
        reliance: s.reliance_for(&v(to), &firearm).unwrap(),
        ammunition: vec![],
        ammunition_from: None,
    }
}

#[test]
fn enrolment_checks_attestation_and_site_records() {
    let w = world();
    let mut s = init_site(&w);
    assert_eq!(s.recovery(), &Recovery::Clean);
    let f = acquire(&mut s, "GLK-1");
    let ev = issue(&s, f, "guard-1");
    let r = s
        .record(&v("armourer-1"), ev, T0.plus(2 * Timestamp::HOUR), None)
        .unwrap();
    assert!(r.overrides.is_empty());
    assert_eq!(r.act.counter(), 2);
    let status = s.status(T0.plus(2 * Timestamp::DAY)).unwrap();
    assert_eq!(status.head, 2);
    assert_eq!(status.unsynced, 2);
    assert_eq!(status.open_issues.len(), 1);
    assert!(status.open_issues[0].overdue);
}

#[test]
fn expired_qualification_is_refused_then_overridden() {
    let w = world();
    let mut s = init_site(&w);
    let f = acquire(&mut s, "GLK-2");
    let officer: PersonId = v("armourer-1");
    let t = T0.plus(2 * Timestamp::HOUR);
    let err = s
        .record(&officer, issue(&s, f, "guard-2"), t, None)
        .unwrap_err();
    let AgentError::Refused { violations } = &err else {
        panic!("expected a refusal, got {err}");
    };
    assert!(
        violations
            .iter()
            .any(|v| v.rule == RuleId::QualificationCurrent),
        "{violations:?}"
    );
    assert!(!err.hint().is_empty());
    assert_eq!(
        s.ledger().head().unwrap().unwrap().counter,
        1,
        "nothing signed"
    );

    let spec = OverrideSpec {
        reason: v("night shift cover, requalification booked"),
        authoriser: v("guard-1"),
    };
    let r = s
        .record(&officer, issue(&s, f, "guard-2"), t, Some(&spec))
        .unwrap();
    assert_eq!(r.overrides.len(), 1);
    assert!(
        r.findings
            .iter()
            .any(|f| f.rule == RuleId::QualificationCurrent && f.overridden_by.is_some()),
        "{:?}",
        r.findings
    );
    let head = s.ledger().head().unwrap().unwrap().counter;
    assert_eq!(head, 3);
    let o = s.ledger().entry(2).unwrap().unwrap();
    assert_eq!(o.body().event.kind(), "overridden");
    assert_eq!(
        s.ledger().entry(3).unwrap().unwrap().body().event.kind(),
        "issued"
    );
    // The finding is on record, marked as overridden.
    let findings = s.verifier().engine().findings();
    assert!(
        findings
            .iter()
            .any(|f| f.rule == RuleId::QualificationCurrent && f.overridden_by.is_some())
    );
    // Reopening rebuilds the same state from the ledger.
    drop(s);
    let s = open_site(&w);
    assert_eq!(s.ledger().head().unwrap().unwrap().counter, 3);
}

#[test]
fn crash_between_device_signature_and_commit_is_recovered() {
    let w = world();
    let mut s = init_site(&w);
    let f = acquire(&mut s, "GLK-3");
    let body = armsledger_core::entry::EntryBody {
        format: Default::default(),
        occurred_at: T0.plus(Timestamp::HOUR),
        officer: v("armourer-1"),
        links: s.links(&issue(&s, f, "guard-1")),
        event: armsledger_core::event::Event::Site(issue(&s, f, "guard-1")),
    };
    drop(s);
    // Simulate the crash: intent written, device signed, commit never ran.
    {
        let ledger = ArmouryLedger::open(site_dir(&w).join("site.redb")).unwrap();
        let req = ledger.prepare(&body).unwrap();
        let mut dev = client(&w.site_device);
        dev.sign_entry(req.chain, req.prev_hash, req.body_hash)
            .unwrap();
    }
    let s = open_site(&w);
    assert!(matches!(s.recovery(), Recovery::Completed(e) if e.counter() == 2));
    assert_eq!(s.ledger().head().unwrap().unwrap().counter, 2);
    assert_eq!(s.status(T0).unwrap().open_issues.len(), 1);

    // An intent the device never signed is dropped.
    drop(s);
    {
        let ledger = ArmouryLedger::open(site_dir(&w).join("site.redb")).unwrap();
        ledger.prepare(&body).unwrap();
    }
    let s = open_site(&w);
    assert!(matches!(s.recovery(), Recovery::Dropped(_)));
    assert_eq!(s.ledger().head().unwrap().unwrap().counter, 2);
}

#[test]
fn unenrolled_site_is_told_to_sync() {
    let w = world();
    let mut s = ArmouryAgent::init(&site_dir(&w), site_config(&w), client(&w.site_device)).unwrap();
    let identity = pistol("GLK-9");
    let err = s
        .record(
            &v("armourer-1"),
            SiteEvent::FirearmAcquired {
                firearm: identity.id(),
                identity,
                source: Counterparty {
                    name: v("Dealer"),
                    licence: None,
                },
                authorisation: doc(DocKind::AcquisitionPermit, "AP-1"),
                location: v("vault"),
            },
            T0,
            None,
        )
        .unwrap_err();
    assert!(matches!(err, AgentError::NotEnrolled { .. }), "{err}");
    assert!(err.hint().contains("sync"));
}

#[test]
fn enrolment_refuses_an_uncertified_device() {
    let mut w = world();
    let spec = DeviceSpec {
        device: v("rogue-1"),
        model: v("SIM"),
        seed: [7; 32],
    };
    let rogue = memory_device(&key("someone-else"), &spec, Box::new(w.clock.clone())).unwrap();
    let err = w
        .reg
        .enrol_device(&v("reg-official"), &v("north"), &mut client(&rogue))
        .unwrap_err();
    assert!(matches!(err, AgentError::Attestation(_)), "{err}");
}

/// A rival company with its own site, guard, complaint and sanction: what
/// must never reach north.
fn add_rival(w: &mut World) {
    let official: PersonId = v("reg-official");
    for ev in [
        RegulatorEvent::CompanyLicensed {
            company: v("rival"),
            name: v("Rival Ltd"),
            licence: v("PSC-2"),
            valid: valid(1000, T0),
            categories: vec![v("B")],
        },
        RegulatorEvent::SiteRegistered {
            site: v("south"),
            company: v("rival"),
            name: v("South armoury"),
            approval: v("ARM-2"),
            locations: vec![v("vault")],
        },
        RegulatorEvent::PersonLicensed {
            person: v("rival-guard"),
            company: v("rival"),
            identity_hash: Hash::of(&[b"rival-guard"]),
            licence: OfficerLicence {
                number: v("LIC-rival"),
                grade: v("A"),
                valid: valid(365, T0),
            },
        },
        RegulatorEvent::ComplaintReceived {
            reference: v("C-7"),
            against: Respondent::Company(v("rival")),
            summary: note("whistle-blower names a rival guard"),
        },
        RegulatorEvent::ComplaintReceived {
            reference: v("C-8"),
            against: Respondent::Person(v("north-guard")),
            summary: note("a complaint against a person stays with the regulator"),
        },
        RegulatorEvent::SanctionRecorded {
            company: v("rival"),
            reference: v("S-7"),
            sanction: Sanction::Fine {
                amount_minor: 10_000,
                currency: v("ZAR"),
            },
            finding: None,
            note: note("rival fined"),
        },
    ] {
        w.reg.record(&official, ev).unwrap();
    }
}

/// Whether any regulator entry north holds is about the rival's persons,
/// complaints or sanctions.
fn holds_rival_entries(s: &ArmouryAgent<InProcess>) -> Vec<String> {
    s.ledger()
        .regulator_entries_from(1, usize::MAX)
        .unwrap()
        .iter()
        .filter_map(|e| match &e.body().event {
            armsledger_core::event::Event::Regulator(ev) => match ev {
                RegulatorEvent::PersonLicensed { company, .. }
                | RegulatorEvent::SanctionRecorded { company, .. }
                | RegulatorEvent::ComplaintReceived {
                    against: Respondent::Company(company),
                    ..
                } if company == &v("rival") => Some(ev.kind().to_string()),
                RegulatorEvent::ComplaintReceived {
                    against: Respondent::Person(_),
                    ..
                } => Some(ev.kind().to_string()),
                RegulatorEvent::PersonBarred { .. } => Some(ev.kind().to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

#[test]
fn sync_pushes_to_a_real_server_and_pulls_only_the_sites_scope() {
    let mut w = world();
    add_rival(&mut w);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let data = w.dir.path().join("server");
    let (base, site_token, reg_token, _) = rt.block_on(start_server(&data, &w));
    let server_reg = armsledger_agents::ServerClient::new(&base, Some(reg_token));
    assert!(w.reg.push(&server_reg).unwrap() > 5);
    let mut s = ArmouryAgent::init(&site_dir(&w), site_config(&w), client(&w.site_device)).unwrap();
    let server = armsledger_agents::ServerClient::new(&base, Some(site_token));
    let first = s.sync(&server).unwrap();
    assert!(first.regulator_entries > 5, "{first:?}");
    // The rival's guard, complaint and sanction stayed on the server; its
    // licence and site (the public register a transfer is checked against)
    // came.
    assert_eq!(holds_rival_entries(&s), Vec::<String>::new());
    let state = s.verifier().engine().state();
    assert!(state.companies.contains_key(&v("rival")));
    assert!(state.persons.contains_key(&v("guard-1")));
    assert!(!state.persons.contains_key(&v("rival-guard")));
    let total = w.reg.entries_from(1).unwrap().len();
    let held = s
        .ledger()
        .regulator_entries_from(1, usize::MAX)
        .unwrap()
        .len();
    assert_eq!(held as u64, first.regulator_entries);
    assert!(held < total, "{held} of {total}");
    let f = acquire(&mut s, "GLK-4");
    let t = T0.plus(3 * Timestamp::HOUR);
    s.record(&v("armourer-1"), issue(&s, f, "guard-1"), t, None)
        .unwrap();
    // A push that reached the server but whose answer was lost: the next
    // sync sends the same entries again and gets receipts for them.
    {
        use armsledger_agents::LedgerServer;
        let raw: Vec<Vec<u8>> = s
            .ledger()
            .unsynced()
            .unwrap()
            .iter()
            .map(|e| e.bytes().to_vec())
            .collect();
        server.push(&raw).unwrap();
    }
    let second = s.sync(&server).unwrap();
    assert_eq!(second.pushed, 2);
    assert!(second.checkpoint_size.is_some());
    assert!(s.ledger().receipt(2).unwrap().is_some());
    assert_eq!(s.ledger().unsynced().unwrap().len(), 0);
    // A bar reaches the site as the bar list, not as the entry: the site
    // refuses the person without ever holding the reason.
    let g2 = acquire(&mut s, "GLK-6");
    let t2 = T0.plus(4 * Timestamp::HOUR);
    let barred = |s: &ArmouryAgent<InProcess>| {
        s.check(&v("armourer-1"), &issue(s, g2, "guard-1"), t2)
            .iter()
            .any(|x| x.rule == RuleId::RecipientNotBarred)
    };
    assert!(!barred(&s), "guard-1 is not barred yet");
    w.reg
        .record(
            &v("reg-official"),
            RegulatorEvent::PersonBarred {
                person: v("guard-1"),
                reason: note("misconduct under investigation"),
                until: None,
            },
        )
        .unwrap();
    w.reg.push(&server_reg).unwrap();
    let third = s.sync(&server).unwrap();
    assert_eq!(
        third.regulator_entries, 0,
        "the bar entry stays on the server"
    );
    assert_eq!(third.pushed, 1);
    assert_eq!(s.ledger().bars().unwrap(), vec![(v("guard-1"), None)]);
    assert!(barred(&s), "the site refuses a barred person");
    assert_eq!(holds_rival_entries(&s), Vec::<String>::new());
    drop(s);
    // The reason is nowhere in the site's file, and the bar holds after a
    // reopen (the rebuild applies the stored list).
    let file = std::fs::read(site_dir(&w).join("site.redb")).unwrap();
    assert!(
        !file
            .windows(b"misconduct".len())
            .any(|x| x == b"misconduct"),
        "the bar's reason reached the site"
    );
    let s = open_site(&w);
    assert!(barred(&s));
    // Lifting the bar (a bar that has ended) clears it at the next pull.
    let mut s = s;
    w.reg
        .record(
            &v("reg-official"),
            RegulatorEvent::PersonBarred {
                person: v("guard-1"),
                reason: note("cleared"),
                until: Some(T0),
            },
        )
        .unwrap();
    w.reg.push(&server_reg).unwrap();
    s.sync(&server).unwrap();
    assert_eq!(s.ledger().bars().unwrap(), vec![]);
    assert!(!barred(&s), "an ended bar is lifted");
}

/// The server's answers with one byte of the first regulator entry's proof
/// (or, with no proof, its reception time) changed.
struct TamperedProofs<'a>(&'a armsledger_agents::ServerClient);

impl armsledger_agents::LedgerServer for TamperedProofs<'_> {
    fn push(
        &self,
        entries: &[Vec<u8>],
    ) -> Result<armsledger_agents::client::PushReceipt, AgentError> {
        self.0.push(entries)
    }
    fn pull(
        &self,
        site: &str,
        regulator_from: u64,
        inbox_from: u64,
    ) -> Result<armsledger_agents::client::Pull, AgentError> {
        let mut p = self.0.pull(site, regulator_from, inbox_from)?;
        let first = p.regulator.first_mut().unwrap();
        match first.proof.first_mut() {
            Some(h) => {
                let flipped = if h.starts_with('0') { "1" } else { "0" };
                h.replace_range(0..1, flipped);
            }
            None => first.received_at_ms += 1,
        }
        Ok(p)
    }
    fn log_key(&self) -> Result<String, AgentError> {
        self.0.log_key()
    }
    fn put_notes(
        &self,
        notes: &[armsledger_agents::client::NoteUpload],
    ) -> Result<usize, AgentError> {
        self.0.put_notes(notes)
    }
}

#[test]
fn a_pulled_entry_with_a_bad_proof_is_refused_and_nothing_is_stored() {
    let mut w = world();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (base, site_token, reg_token, _) =
        rt.block_on(start_server(&w.dir.path().join("server"), &w));
    w.reg
        .push(&armsledger_agents::ServerClient::new(
            &base,
            Some(reg_token),
        ))
        .unwrap();
    let mut s = ArmouryAgent::init(&site_dir(&w), site_config(&w), client(&w.site_device)).unwrap();
    let server = armsledger_agents::ServerClient::new(&base, Some(site_token));
    let err = s.sync(&TamperedProofs(&server)).unwrap_err();
    assert!(
        err.to_string().contains("is not in the checkpoint"),
        "{err}"
    );
    assert_eq!(s.ledger().regulator_cursor().unwrap(), 0);
    // The honest answer is taken.
    assert!(s.sync(&server).unwrap().regulator_entries > 5);
}

/// Issue 17: a site's free text goes to the server beside its entry (never
/// in it); the regulator bars with a sealed reason; an erasure deletes the
/// texts on the server and, at its next sync, on the site.
#[test]
fn notes_travel_beside_their_entries_and_an_erasure_reaches_the_site() {
    use armsledger_core::note::{ErasureGround, NoteView};
    use armsledger_store::NoteClass;
    let mut w = world();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (base, site_token, reg_token, shared) =
        rt.block_on(start_server(&w.dir.path().join("server"), &w));
    let server_reg = armsledger_agents::ServerClient::new(&base, Some(reg_token));
    w.reg.push(&server_reg).unwrap();
    let mut s = ArmouryAgent::init(&site_dir(&w), site_config(&w), client(&w.site_device)).unwrap();
    let server = armsledger_agents::ServerClient::new(&base, Some(site_token));
    s.sync(&server).unwrap();
    acquire(&mut s, "GLK-6");
    let about = s.ledger().entry(1).unwrap().unwrap().hash();
    let said = "guard-2 left the key in the lock; told off by the supervisor";
    let note = s.seal(text(said), NoteClass::Case, T0).unwrap();
    let e = s
        .record(
            &v("armourer-1"),
            SiteEvent::Annotated { about, text: note },
            T0,
            None,
        )
        .unwrap()
        .act;
    assert!(!e.bytes().windows(said.len()).any(|b| b == said.as_bytes()));
    let r = s.sync(&server).unwrap();
    assert_eq!(r.notes_sent, 1, "{r:?}");
    let on_server = shared.store().note(&note).unwrap().unwrap();
    assert_eq!(on_server.opening.unwrap().text.as_str(), said);
    assert_eq!(on_server.class, NoteClass::Case);
    // The regulator's own text (a bar's reason) is sealed the same way.
    let bar = w
        .reg
        .bar_person(&v("reg-official"), v("guard-2"), text("misconduct"), None)
        .unwrap();
    let armsledger_core::event::Event::Regulator(RegulatorEvent::PersonBarred { reason, .. }) =
        &bar.body().event
    else {
        panic!("not a bar");
    };
    let reason = *reason;
    w.reg.push(&server_reg).unwrap();
    let kept = shared.store().note(&reason).unwrap().unwrap();
    assert_eq!(kept.opening.unwrap().text.as_str(), "misconduct");

    // The erasure: the server deletes at once, the site at its next sync.
    let on = T0.plus(Timestamp::DAY);
    w.reg
        .record(
            &v("reg-official"),
            RegulatorEvent::NotesErased {
                notes: vec![note, reason],
                ground: ErasureGround::LawfulOrder(v("DPA-2027-0412")),
                erased_on: on,
            },
        )
        .unwrap();
    w.reg.push(&server_reg).unwrap();
    assert!(
        shared
            .store()
            .note(&note)
            .unwrap()
            .unwrap()
            .opening
            .is_none()
    );
    assert!(
        shared
            .store()
            .note(&reason)
            .unwrap()
            .unwrap()
            .opening
            .is_none()
    );
    assert!(s.ledger().note(&note).unwrap().unwrap().opening.is_some());
    s.sync(&server).unwrap();
    let rec = s.ledger().note(&note).unwrap().unwrap();
    assert!(rec.opening.is_none());
    assert_eq!(
        rec.view(note, true).to_string(),
        format!(
            "note erased on {} under DPA-2027-0412",
            &on.to_string()[..10]
        )
    );
    assert!(matches!(rec.view(note, true), NoteView::Erased { .. }));
    // The site still opens, and its chain still verifies from scratch.
    drop(s);
    let s = open_site(&w);
    assert_eq!(s.ledger().entries_from(1, usize::MAX).unwrap().len(), 2);
    assert!(
        s.verifier()
            .engine()
            .state()
            .erased_notes
            .contains_key(&note)
    );
}

async fn axum_serve(
    listener: tokio::net::TcpListener,
    shared: std::sync::Arc<armsledger_server::Shared>,
) {
    let _ = axum::serve(listener, armsledger_server::app(shared)).await;
}

#[test]
fn sync_after_days_offline_sends_batches_of_at_most_512() {
    let mut w = world();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (base, site_token, reg_token, _) =
        rt.block_on(start_server(&w.dir.path().join("server"), &w));
    w.reg
        .push(&armsledger_agents::ServerClient::new(
            &base,
            Some(reg_token),
        ))
        .unwrap();
    let mut s = ArmouryAgent::init(&site_dir(&w), site_config(&w), client(&w.site_device)).unwrap();
    let server = armsledger_agents::ServerClient::new(&base, Some(site_token));
    s.sync(&server).unwrap();
    let f = acquire(&mut s, "GLK-5");
    let about = s.ledger().entry(1).unwrap().unwrap().hash();
    for day in 0..600u64 {
        w.clock.advance(Timestamp::HOUR);
        s.record(
            &v("armourer-1"),
            SiteEvent::Annotated {
                about,
                text: note(&format!("daily check {day}")),
            },
            T0.plus(day * Timestamp::HOUR),
            None,
        )
        .unwrap();
    }
    assert!(s.verifier().engine().state().firearms.contains_key(&f));
    assert_eq!(s.ledger().unsynced().unwrap().len(), 601);
    let r = s.sync(&server).unwrap();
    assert_eq!((r.pushed, r.batches), (601, 2));
    assert!(s.ledger().receipt(601).unwrap().is_some());
    assert_eq!(s.ledger().unsynced().unwrap().len(), 0);
}

#[test]
fn regulator_crash_after_device_signature_is_recovered() {
    let w = world();
    let reg_dir = w.dir.path().join("reg");
    let head = w.reg.entries_from(1).unwrap().last().unwrap().clone();
    let World {
        reg, reg_device, ..
    } = w;
    drop(reg);
    // The act was written ahead and signed; the commit never ran.
    let body = armsledger_core::entry::EntryBody {
        format: Default::default(),
        occurred_at: T0.plus(Timestamp::HOUR),
        officer: v("reg-official"),
        links: vec![],
        event: armsledger_core::event::Event::Regulator(RegulatorEvent::PersonBarred {
            person: v("guard-2"),
            reason: note("misconduct"),
            until: None,
        }),
    };
    let bytes = armsledger_core::codec::encode(&body).unwrap();
    {
        let db = redb::Database::create(reg_dir.join("regulator.redb")).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(redb::TableDefinition::<u8, &[u8]>::new("pending"))
            .unwrap()
            .insert(0, bytes.as_slice())
            .unwrap();
        txn.commit().unwrap();
    }
    client(&reg_device)
        .sign_entry(
            armsledger_core::entry::ChainId::Regulator,
            head.hash(),
            armsledger_core::entry::body_hash_of(&bytes),
        )
        .unwrap();
    let reg = RegulatorAgent::open(&reg_dir, client(&reg_device)).unwrap();
    let entries = reg.entries_from(1).unwrap();
    assert_eq!(entries.last().unwrap().counter(), head.counter() + 1);
    assert_eq!(entries.last().unwrap().body(), &body);
}

#[test]
fn enrolling_twice_is_refused_and_an_unrecorded_key_is_picked_up() {
    let mut w = world();
    let err = w
        .reg
        .enrol_device(&v("reg-official"), &v("north"), &mut client(&w.site_device))
        .unwrap_err();
    assert!(err.to_string().contains("already enrolled"), "{err}");
    // A device whose key was generated but whose enrolment was never
    // recorded (a crash in between) is enrolled without a second key.
    let d = device("site-dev-9", &w.clock);
    let mut c = client(&d);
    let admin = ed25519_dalek::SigningKey::from_bytes(
        &<[u8; 32]>::try_from(
            hex::decode(std::fs::read_to_string(w.dir.path().join("reg/admin.key")).unwrap())
                .unwrap()
                .as_slice(),
        )
        .unwrap(),
    );
    let chain = armsledger_core::entry::ChainId::Site(v("south"));
    c.provision(admin.verifying_key().to_bytes(), chain.clone())
        .unwrap();
    let nonce = c.nonce().unwrap();
    let auth = armsledger_device::host::authorise(
        &admin,
        v("site-dev-9"),
        nonce,
        armsledger_core::statements::AuthorisedAction::GenerateSiteKey { chain },
    )
    .unwrap();
    let key = c.generate_site_key(Some(auth)).unwrap();
    let e = w
        .reg
        .enrol_device(&v("reg-official"), &v("south"), &mut c)
        .unwrap();
    let armsledger_core::event::Event::Regulator(RegulatorEvent::DeviceKeyEnrolled {
        public_key,
        ..
    }) = &e.body().event
    else {
        panic!("not an enrolment");
    };
    assert_eq!(public_key, &key.public_key);
}

/// Forwards to the device but loses the reply of the next call when armed:
/// the device acted, the host never heard.
struct LosesReply {
    inner: InProcess,
    armed: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl armsledger_device::Transport for LosesReply {
    fn transact(
        &mut self,
        frame: &[u8],
    ) -> Result<Vec<u8>, armsledger_device::host::TransportError> {
        let reply = self.inner.transact(frame)?;
        if self.armed.swap(false, std::sync::atomic::Ordering::SeqCst) {
            return Err(armsledger_device::host::TransportError::Closed);
        }
        Ok(reply)
    }
}

#[test]
fn a_lost_device_reply_is_completed_from_the_last_receipt() {
    let w = world();
    init_site(&w);
    let armed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let transport = LosesReply {
        inner: InProcess::new(w.site_device.clone()),
        armed: armed.clone(),
    };
    let mut s = ArmouryAgent::open(&site_dir(&w), DeviceClient::new(transport)).unwrap();
    let identity = pistol("GLK-7");
    let f = identity.id();
    let acquired = SiteEvent::FirearmAcquired {
        firearm: f,
        identity,
        source: Counterparty {
            name: v("Dealer"),
            licence: None,
        },
        authorisation: doc(DocKind::AcquisitionPermit, "AP-1"),
        location: v("vault"),
    };
    armed.store(true, std::sync::atomic::Ordering::SeqCst);
    let err = s
        .record(&v("armourer-1"), acquired, T0.plus(Timestamp::HOUR), None)
        .unwrap_err();
    assert!(matches!(err, AgentError::Device(_)), "{err}");
    // The device had signed: the entry is on the chain and folded in.
    assert_eq!(s.ledger().head().unwrap().unwrap().counter, 1);
    assert!(s.ledger().pending().unwrap().is_none());
    let ev = SiteEvent::Issued {
        firearm: f,
        to: v("guard-1"),
        purpose: note("patrol"),
        post: v("gate"),
        due_back: T0.plus(Timestamp::DAY),
        reliance: s.reliance_for(&v("guard-1"), &f).unwrap(),
        ammunition: vec![],
        ammunition_from: None,
    };
    let r = s
        .record(&v("armourer-1"), ev, T0.plus(2 * Timestamp::HOUR), None)
        .unwrap();
    assert_eq!(r.act.counter(), 2);
}

// ---------------------------------------------------------------------------
// Clock faults (issue 9): the device's clock jumps back or far ahead.
// ---------------------------------------------------------------------------

/// The server's findings for `entry`, read from its store.
fn server_findings(shared: &armsledger_server::Shared, entry: Hash) -> Vec<RuleId> {
    let reader = shared.store().read().unwrap();
    reader
        .findings_from(0, usize::MAX)
        .unwrap()
        .into_iter()
        .filter(|(_, f)| f.entry == entry)
        .map(|(_, f)| f.rule)
        .collect()
}

/// A server over `data`; its URL, north's token, the regulator's token.
async fn start_server(
    data: &Path,
    w: &World,
) -> (
    String,
    String,
    String,
    std::sync::Arc<armsledger_server::Shared>,
) {
    use armsledger_server::{Config, Shared, spawn_workers};
    let config = Config {
        data_dir: data.to_path_buf(),
        regulator_key: Some(hex::encode(w.reg.regulator_key())),
        manufacturer_roots: w.reg.config().manufacturer_roots.clone(),
        checkpoint_interval_ms: 10,
        ..Config::default()
    };
    let shared = tokio::task::spawn_blocking(move || Shared::open(config))
        .await
        .unwrap()
        .unwrap();
    let token = shared
        .tokens()
        .create("site:north".parse().unwrap(), "north", T0)
        .unwrap()
        .0;
    let regulator = shared
        .tokens()
        .create("regulator".parse().unwrap(), "regulator", T0)
        .unwrap()
        .0;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    spawn_workers(shared.clone());
    let app = shared.clone();
    tokio::spawn(async move {
        axum_serve(listener, app).await;
    });
    (format!("http://{addr}"), token, regulator, shared)
}

fn wall_clock() -> Timestamp {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    Timestamp(u64::try_from(ms).unwrap())
}

#[test]
fn device_clock_jumps_are_clamped_by_the_device_and_flagged_by_the_server() {
    let mut w = world();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (base, site_token, reg_token, shared) =
        rt.block_on(start_server(&w.dir.path().join("server"), &w));
    w.reg
        .push(&armsledger_agents::ServerClient::new(
            &base,
            Some(reg_token),
        ))
        .unwrap();
    let mut s = ArmouryAgent::init(&site_dir(&w), site_config(&w), client(&w.site_device)).unwrap();
    let server = armsledger_agents::ServerClient::new(&base, Some(site_token));
    s.sync(&server).unwrap();
    // Licences in `world()` run from T0 for 1000 days: the acts below are
    // valid at any of the clocks used here.
    let now = wall_clock();
    w.clock.set(now);
    // The officer's host clock is right throughout: the acts occur now.
    let f = acquire_at(&mut s, "GLK-9", now);
    let head = s.ledger().entry(1).unwrap().unwrap();
    let about = head.hash();
    let note = |s: &mut ArmouryAgent<InProcess>, n: &str| {
        s.record(
            &v("armourer-1"),
            SiteEvent::Annotated {
                about,
                text: note(n),
            },
            wall_clock(),
            None,
        )
        .unwrap()
        .act
    };

    // 1. The clock jumps a week back: the device signs at its head's time,
    //    so the chain's time never goes back and the server takes it as is.
    w.clock.set(now.minus(7 * Timestamp::DAY));
    let back = note(&mut s, "clock jumped back");
    assert_eq!(back.header().device_time, head.header().device_time);
    assert_eq!(s.sync(&server).unwrap().pushed, 2);
    assert!(server_findings(&shared, head.hash()).is_empty());
    assert!(server_findings(&shared, back.hash()).is_empty());

    // 2. A few minutes of drift ahead is tolerated.
    w.clock.set(wall_clock().plus(2 * 60 * 1000));
    let drift = note(&mut s, "small drift");
    s.sync(&server).unwrap();
    assert!(server_findings(&shared, drift.hash()).is_empty());

    // 3. The clock jumps two days ahead: the entry is logged (it is the
    //    armoury's signed record) with a device-clock-ahead finding.
    w.clock.set(wall_clock().plus(2 * Timestamp::DAY));
    let ahead = note(&mut s, "clock jumped ahead");
    assert_eq!(s.sync(&server).unwrap().pushed, 1);
    assert_eq!(
        server_findings(&shared, ahead.hash()),
        vec![RuleId::DeviceClockAhead]
    );

    // 4. The clock is put right: the device still signs at its head's
    //    (future) time until real time passes it, and each such entry is
    //    flagged; the chain stays valid throughout.
    w.clock.set(wall_clock());
    let after = note(&mut s, "clock put right");
    assert_eq!(after.header().device_time, ahead.header().device_time);
    s.sync(&server).unwrap();
    assert_eq!(
        server_findings(&shared, after.hash()),
        vec![RuleId::DeviceClockAhead]
    );
    assert!(s.verifier().engine().state().firearms.contains_key(&f));
    assert_eq!(s.ledger().unsynced().unwrap().len(), 0);
}

#[test]
fn a_restored_older_ledger_says_it_is_behind_the_device_and_how_to_recover() {
    let w = world();
    let mut s = init_site(&w);
    acquire(&mut s, "GLK-10");
    drop(s);
    let redb = site_dir(&w).join("site.redb");
    let backup = w.dir.path().join("site.redb.backup");
    std::fs::copy(&redb, &backup).unwrap();
    let mut s = open_site(&w);
    acquire(&mut s, "GLK-11");
    acquire(&mut s, "GLK-12");
    drop(s);
    let newest = w.dir.path().join("site.redb.newest");
    std::fs::copy(&redb, &newest).unwrap();
    std::fs::copy(&backup, &redb).unwrap();
    let err = ArmouryAgent::open(&site_dir(&w), client(&w.site_device))
        .err()
        .expect("an older ledger must not open");
    let msg = err.to_string();
    assert!(
        msg.contains("behind the device by 2 entries")
            && msg.contains("signed up to counter 3")
            && msg.contains("ends at 1"),
        "{msg}"
    );
    let hint = err.hint();
    assert!(hint.contains("newest copy of site.redb"), "{hint}");
    assert!(!hint.contains("hold it open"), "{hint}");
    // Quiet: with the newest copy put back, the site opens.
    std::fs::copy(&newest, &redb).unwrap();
    assert_eq!(open_site(&w).ledger().head().unwrap().unwrap().counter, 3);
}

/// A one-shot HTTP server answering every request with `status` and a problem body.
fn canned_server(status: u16, problem: &'static str) -> String {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in listener.incoming().take(1) {
            let mut conn = conn.unwrap();
            let mut buf = [0u8; 65536];
            let _ = conn.read(&mut buf);
            let resp = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/problem+json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{problem}",
                problem.len()
            );
            conn.write_all(resp.as_bytes()).unwrap();
        }
    });
    url
}

#[test]
fn an_equivocation_on_push_says_the_device_signed_two_entries_at_one_counter() {
    use armsledger_agents::client::{LedgerServer, ServerClient};
    let url = canned_server(
        409,
        r#"{"type":"equivocation","title":"entry 0 (site:north #7) conflicts with the logged entry for that counter","status":409,"entry":{"index":0,"chain":"site:north","counter":7}}"#,
    );
    let err = ServerClient::new(&url, None)
        .push(&[vec![1, 2, 3]])
        .expect_err("a 409 is an error");
    assert!(matches!(err, AgentError::Equivocation(_)), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("signed two different entries at one counter") && msg.contains("#7"),
        "{msg}"
    );
    let hint = err.hint();
    assert!(
        hint.contains("Stop recording with this device") && !hint.contains("--server"),
        "{hint}"
    );
    // Quiet: another refusal is still a plain server error with its own hint.
    let url = canned_server(
        422,
        r#"{"type":"entry-rejected","title":"entry 0: bad signature","status":422}"#,
    );
    let err = ServerClient::new(&url, None)
        .push(&[vec![1, 2, 3]])
        .expect_err("a 422 is an error");
    assert!(matches!(err, AgentError::Server(_)), "{err:?}");
}
