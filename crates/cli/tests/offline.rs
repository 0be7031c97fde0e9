//! Offline reading of a bundle: book (views, corrections report, every way
//! into and out of the book), trace, inventory and alerts, all from a
//! verified file with no server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use armsledger_core::event::SiteEvent;
use armsledger_core::model::{
    Condition, Counterparty, DisposalMethod, DocKind, ExitKind, Item, LossKind,
};
use armsledger_core::testkit::{Scenario, doc, note, pistol, v};
use assert_cmd::Command;

fn bundle(dir: &std::path::Path) -> std::path::PathBuf {
    let mut s = Scenario::standard();
    let (gun, acq) = s.acquire("north", "GLK-0O1"); // mistyped: letter O
    let (gun2, _) = s.acquire("north", "GLK-002");
    let mut fixed = pistol("GLK-0O1");
    fixed.serial = v("GLK-001");
    s.site(
        "north",
        "armourer-1",
        SiteEvent::Corrected {
            supersedes: acq.hash(),
            reason: note("serial mistyped: letter O for zero"),
            approver: Some(v("armourer-2")),
            corrected: Box::new(SiteEvent::FirearmAcquired {
                firearm: gun,
                identity: fixed,
                source: armsledger_core::model::Counterparty {
                    name: v("Dealer"),
                    licence: Some(v("DL-1")),
                },
                authorisation: doc(DocKind::AcquisitionPermit, "AP-1"),
                location: v("vault"),
            }),
        },
    );
    s.site(
        "north",
        "armourer-1",
        SiteEvent::Disposed {
            item: Item::Firearm(gun2),
            method: armsledger_core::model::DisposalMethod::Destroyed,
            place: v("Police smelter"),
            witnesses: vec![v("witness-1"), v("witness-2")],
            authorisation: doc(DocKind::DisposalOrder, "DO-9"),
            certificate: None,
        },
    );
    write_bundle(dir, &s)
}

fn write_bundle(dir: &std::path::Path, s: &Scenario) -> std::path::PathBuf {
    let key = armsledger_log::LogKey::from_seed("test.example/log", &[9; 32]).unwrap();
    let bytes = armsledger_bundle::full_bundle(&s.log, &key, s.regulator_key(), s.now).unwrap();
    let path = dir.join("ledger.bundle");
    std::fs::write(&path, bytes).unwrap();
    path
}

fn run(args: &[&str]) -> String {
    let out = Command::cargo_bin("armsledger")
        .unwrap()
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn book_views_and_corrections_report() {
    let dir = tempfile::tempdir().unwrap();
    let b = bundle(dir.path());
    let b = b.to_str().unwrap();
    let corrected = run(&["book", "--site", "north", "--bundle", b]);
    assert!(
        corrected.contains("GLK-001") && !corrected.contains("GLK-0O1,"),
        "{corrected}"
    );
    assert!(
        corrected.contains("Destroyed at Police smelter under DO-9"),
        "{corrected}"
    );
    // The reason is a sealed note: the bundle holds only its commitment.
    let reason = note("serial mistyped: letter O for zero").short();
    assert!(
        corrected.contains(&format!("armourer-2,sealed note {reason},acquired Glock")),
        "corrections report follows the book: {corrected}"
    );
    assert!(!corrected.contains("serial mistyped"), "{corrected}");
    let original = run(&[
        "book", "--site", "north", "--bundle", b, "--view", "original",
    ]);
    assert!(original.contains("GLK-0O1"), "{original}");
    let both = run(&[
        "book", "--site", "north", "--bundle", b, "--view", "both", "--format", "html",
    ]);
    assert!(
        both.contains("<td>GLK-0O1</td>") && both.contains("<td>GLK-001</td>"),
        "{both}"
    );
    assert!(both.contains("corrected serial"));
}

#[test]
fn trace_inventory_and_alerts_from_a_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let b = bundle(dir.path());
    let b = b.to_str().unwrap();
    let t: serde_json::Value =
        serde_json::from_str(&run(&["trace", "glk 001", "--bundle", b, "--json"])).unwrap();
    let events = t["firearms"][0]["timeline"]["events"].as_array().unwrap();
    assert_eq!(events.len(), 2, "acquisition and its correction: {t:#}");
    assert_eq!(t["firearms"][0]["timeline"]["complete"], true);
    assert!(!events[0]["corrected_by"].is_null());
    let inv: serde_json::Value = serde_json::from_str(&run(&[
        "inventory",
        "--site",
        "north",
        "--bundle",
        b,
        "--json",
    ]))
    .unwrap();
    assert_eq!(inv["by_state"]["in-store"], 1);
    assert_eq!(inv["by_state"]["disposed"], 1);
    let alerts: serde_json::Value = serde_json::from_str(&run(&[
        "alerts",
        "--bundle",
        b,
        "--at",
        "2026-06-01",
        "--json",
    ]))
    .unwrap();
    assert!(
        alerts
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["rule"] == "count-overdue"),
        "{alerts:#}"
    );
    // A tampered bundle is refused before anything is shown.
    let mut bytes = std::fs::read(b).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 1;
    std::fs::write(b, bytes).unwrap();
    let out = Command::cargo_bin("armsledger")
        .unwrap()
        .args(["trace", "GLK-001", "--bundle", b])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not authentic"));
}

/// The book's CSV lines (without the corrections report), by column name.
fn book_lines(csv_text: &str) -> Vec<std::collections::BTreeMap<String, String>> {
    let book = csv_text.split("\n\n").next().unwrap();
    let mut r = csv::Reader::from_reader(book.as_bytes());
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    r.records()
        .map(|rec| {
            header
                .iter()
                .cloned()
                .zip(rec.unwrap().iter().map(String::from))
                .collect()
        })
        .collect()
}

#[test]
fn book_recovery_seizure_and_every_exit_in_their_columns() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Scenario::standard();
    s.company_with_site("beta", "south");
    // Quiet: an ordinary transfer and an ordinary destruction.
    let (sent, _) = s.acquire("north", "TR-1");
    s.site(
        "north",
        "armourer-1",
        SiteEvent::TransferredOut {
            to_site: v("south"),
            to_company: v("beta"),
            firearms: vec![sent],
            rounds: vec![],
            rounds_from: None,
            permit: doc(DocKind::TransferAuthorisation, "TA-1"),
            carrier: None,
        },
    );
    let (burnt, _) = s.acquire("north", "DS-1");
    s.site(
        "north",
        "armourer-1",
        SiteEvent::Disposed {
            item: Item::Firearm(burnt),
            method: DisposalMethod::Destroyed,
            place: v("Police smelter"),
            witnesses: vec![v("witness-1"), v("witness-2")],
            authorisation: doc(DocKind::DisposalOrder, "DO-1"),
            certificate: None,
        },
    );
    // A deactivation carries its certificate.
    let (deact, _) = s.acquire("north", "DA-1");
    s.site(
        "north",
        "armourer-1",
        SiteEvent::Disposed {
            item: Item::Firearm(deact),
            method: DisposalMethod::Deactivated,
            place: v("Proof house"),
            witnesses: vec![v("witness-1"), v("witness-2")],
            authorisation: doc(DocKind::DisposalOrder, "DO-2"),
            certificate: Some(doc(DocKind::DeactivationCertificate, "DC-7")),
        },
    );
    // Lost, then recovered: the recovery opens a new line.
    let (lost, _) = s.acquire("north", "LS-1");
    let loss = s.site(
        "north",
        "armourer-1",
        SiteEvent::LossReported {
            items: vec![Item::Firearm(lost)],
            kind: LossKind::Theft,
            holder: None,
            discovered_at: s.now,
            circumstances: note("vault door forced"),
            police_ref: Some(v("PR-5")),
            regulator_ref: None,
        },
    );
    s.site(
        "north",
        "armourer-1",
        SiteEvent::Recovered {
            firearm: lost,
            report: loss.hash(),
            condition: Condition::Serviceable,
            location: v("vault"),
        },
    );
    // Seized, then recovered.
    let (seized, _) = s.acquire("north", "SZ-1");
    let seizure = s.site(
        "north",
        "armourer-1",
        SiteEvent::Seized {
            firearm: seized,
            authority: v("Police"),
            order: v("SO-3"),
        },
    );
    s.site(
        "north",
        "armourer-1",
        SiteEvent::Recovered {
            firearm: seized,
            report: seizure.hash(),
            condition: Condition::Serviceable,
            location: v("vault"),
        },
    );
    // Every way of leaving the ledger other than destruction.
    let exits = [
        (
            ExitKind::SoldToDealer,
            "EX-1",
            "Gun Shop",
            "DL-9",
            DocKind::Other,
        ),
        (
            ExitKind::HandedToLicensee,
            "EX-2",
            "Club",
            "CL-3",
            DocKind::Other,
        ),
        (
            ExitKind::ReturnedToLessor,
            "EX-3",
            "Lessor Ltd",
            "LL-1",
            DocKind::Other,
        ),
        (
            ExitKind::SurrenderedToPolice,
            "EX-4",
            "Police",
            "",
            DocKind::PoliceReport,
        ),
        (
            ExitKind::Exported,
            "EX-5",
            "Foreign Co",
            "FC-2",
            DocKind::ExportLicence,
        ),
    ];
    for (exit, serial, name, licence, kind) in exits {
        let (gun, _) = s.acquire("north", serial);
        s.site(
            "north",
            "armourer-1",
            SiteEvent::LeftLedger {
                item: Item::Firearm(gun),
                exit,
                counterparty: Counterparty {
                    name: v(name),
                    licence: (!licence.is_empty()).then(|| v(licence)),
                },
                documents: vec![doc(kind, &format!("D-{serial}"))],
            },
        );
    }
    let b = write_bundle(dir.path(), &s);
    let b = b.to_str().unwrap();
    let out = run(&["book", "--site", "north", "--bundle", b]);
    let lines = book_lines(&out);
    let of = |serial: &str| -> Vec<&std::collections::BTreeMap<String, String>> {
        lines.iter().filter(|l| l["serial"] == serial).collect()
    };
    let one = |serial: &str, col: &str| -> String {
        let l = of(serial);
        assert_eq!(l.len(), 1, "{serial}: {out}");
        l[0][col].clone()
    };
    // Quiet: transfer and destruction read as before.
    assert_eq!(one("TR-1", "disposed to"), "beta site south under TA-1");
    assert_eq!(
        one("DS-1", "disposed to"),
        "Destroyed at Police smelter under DO-1"
    );
    // Firing: deactivation names its certificate.
    assert_eq!(
        one("DA-1", "disposed to"),
        "Deactivated at Proof house under DO-2; certificate DC-7"
    );
    // A recovered firearm reappears: the old line closed, a new one open.
    for (serial, closed_by, closing) in [
        ("LS-1", "Theft; police PR-5", loss.counter()),
        ("SZ-1", "seized by Police (SO-3)", seizure.counter()),
    ] {
        let l = of(serial);
        assert_eq!(
            l.len(),
            2,
            "{serial} has its first stay and its recovery: {out}"
        );
        assert_eq!(l[0]["disposed to"], closed_by);
        assert_eq!(l[0]["disposition entry"], closing.to_string());
        assert!(
            l[1]["received from"].starts_with("recovered into vault")
                && l[1]["received from"].ends_with(&format!("closes entry {closing}")),
            "{out}"
        );
        assert_eq!(l[1]["disposed"], "", "back in the armoury: {out}");
    }
    // Each exit in the disposition columns, with its counterparty and document.
    for (want, serial) in [
        (
            "sold-to-dealer to Gun Shop (licence DL-9) under Other D-EX-1",
            "EX-1",
        ),
        (
            "handed-to-licensee to Club (licence CL-3) under Other D-EX-2",
            "EX-2",
        ),
        (
            "returned-to-lessor to Lessor Ltd (licence LL-1) under Other D-EX-3",
            "EX-3",
        ),
        (
            "surrendered-to-police to Police under PoliceReport D-EX-4",
            "EX-4",
        ),
        (
            "exported to Foreign Co (licence FC-2) under ExportLicence D-EX-5",
            "EX-5",
        ),
    ] {
        assert_eq!(one(serial, "disposed to"), want, "{out}");
        assert!(!one(serial, "disposition entry").is_empty());
    }
    // The HTML book carries the same cells.
    let html = run(&["book", "--site", "north", "--bundle", b, "--format", "html"]);
    assert!(
        html.contains("<td>exported to Foreign Co (licence FC-2) under ExportLicence D-EX-5</td>"),
        "{html}"
    );
}

/// Issue 17: after the regulator erases a note, the bundle still verifies
/// AUTHENTIC, and `verify` and `trace` say where the text was erased; before
/// the erasure they show only that a note exists.
#[test]
fn an_erased_note_verifies_and_reads_as_erased_offline() {
    use armsledger_core::event::RegulatorEvent;
    use armsledger_core::note::ErasureGround;
    use armsledger_core::testkit::opening;
    let dir = tempfile::tempdir().unwrap();
    let mut s = Scenario::standard();
    let (gun, _) = s.acquire("north", "GLK-77");
    let why = opening("guard-1 says the holster strap snapped on patrol");
    s.site(
        "north",
        "armourer-1",
        SiteEvent::MaintenanceOut {
            firearm: gun,
            kind: armsledger_core::model::MaintenanceKind::Repair,
            provider: v("Gunsmith Ltd"),
            reason: why.seal(),
        },
    );
    let before = write_bundle(dir.path(), &s);
    let sealed = format!(
        "to maintenance at Gunsmith Ltd: sealed note {}",
        why.seal().short()
    );
    let t = run(&["trace", "GLK-77", "--bundle", before.to_str().unwrap()]);
    assert!(t.contains(&sealed), "{t}");
    let v1 = run(&["verify", "--no-state", before.to_str().unwrap()]);
    assert!(v1.contains("AUTHENTIC"), "{v1}");
    assert!(!v1.contains("note erased"), "{v1}");

    s.regulator(RegulatorEvent::NotesErased {
        notes: vec![why.seal()],
        ground: ErasureGround::LawfulOrder(v("DPA-2027-0412")),
        erased_on: armsledger_core::ids::Timestamp::parse("2027-03-01").unwrap(),
    });
    let after = write_bundle(dir.path(), &s);
    let b = after.to_str().unwrap();
    let out = run(&["verify", "--no-state", b]);
    assert!(out.contains(": AUTHENTIC"), "{out}");
    assert!(
        out.contains(&format!(
            "sealed note {}: note erased on 2027-03-01 under DPA-2027-0412",
            why.seal().short()
        )),
        "{out}"
    );
    let t = run(&["trace", "GLK-77", "--bundle", b]);
    assert!(
        t.contains("to maintenance at Gunsmith Ltd: note erased on 2027-03-01 under DPA-2027-0412"),
        "{t}"
    );
    assert!(!t.contains(&sealed), "{t}");
    let j: serde_json::Value =
        serde_json::from_str(&run(&["trace", "GLK-77", "--bundle", b, "--json"])).unwrap();
    let n = &j["firearms"][0]["timeline"]["events"][1]["notes"][0];
    assert_eq!(n["shown"], "erased", "{j:#}");
    assert_eq!(n["ground"]["LawfulOrder"], "DPA-2027-0412", "{j:#}");
}
