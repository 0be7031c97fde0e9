//! Every officer act the ledger records, through the built `armsledger`
//! binary against real parts (device processes on UNIX sockets, `armsledger
//! serve` on a loopback port, the site's redb file): for each command the
//! golden path and one mistake, and what the device signed read back from the
//! site's ledger.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod sites;

use std::path::Path;

use armsledger_core::event::{Event, SiteEvent};
use armsledger_core::hash::Hash;
use armsledger_core::model::DocKind;
use armsledger_store::ArmouryLedger;
use sites::{
    Procs, RECEIVE_L1, acquire_glock, device_addr, fails, ok, regulator, root_public, server, token,
};

/// The regulator (with a second site, `south`, of the same company), the
/// server, and `north` set up and synced (it keeps the server's address and
/// token for `sync`); the server's URL.
fn north(dir: &Path, procs: &mut Procs) -> String {
    let (key, north_dev) = regulator(dir, procs);
    let south_dev = device_addr(dir, "site-dev-2", procs);
    ok(
        dir,
        &[
            "regulator",
            "register-site",
            "--site",
            "south",
            "--company",
            "acme",
            "--name",
            "South",
            "--approval",
            "ARM-2",
            "--location",
            "vault",
        ],
    );
    ok(
        dir,
        &[
            "regulator",
            "enrol-device",
            "--site",
            "south",
            "--device",
            &south_dev,
        ],
    );
    let url = server(dir, &key, procs);
    let rt = token(dir, "regulator");
    ok(
        dir,
        &["regulator", "push", "--server", &url, "--token", &rt],
    );
    let nt = token(dir, "site:north");
    ok(
        dir,
        &[
            "site",
            "init",
            "--site",
            "north",
            "--device",
            &north_dev,
            "--regulator-key",
            &key,
            "--manufacturer-root",
            &root_public(),
            "--server",
            &url,
            "--token",
            &nt,
        ],
    );
    url
}

/// The site event signed as entry `counter` of north's chain.
fn signed(dir: &Path, counter: u64) -> SiteEvent {
    let ledger = ArmouryLedger::open(dir.join("north").join("site.redb")).unwrap();
    let entry = ledger.entry(counter).unwrap().unwrap();
    match &entry.body().event {
        Event::Site(e) => e.clone(),
        other => panic!("entry {counter} is {other:?}"),
    }
}

/// Runs an officer command with `--json`; what it reports.
fn json(dir: &Path, args: &[&str]) -> serde_json::Value {
    let mut a = args.to_vec();
    a.push("--json");
    serde_json::from_str(&ok(dir, &a)).unwrap()
}

/// Asserts an officer command was recorded as `kind`; its counter.
fn recorded(dir: &Path, args: &[&str], kind: &str) -> u64 {
    let out = json(dir, args);
    assert_eq!(out["kind"], kind, "{out:#}");
    assert_eq!(out["site"], "north", "{out:#}");
    out["counter"].as_u64().unwrap()
}

#[test]
fn documents_maintenance_seizure_loss_updates_discrepancies_cancel_and_lot_disposal() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut procs = Procs(Vec::new());
    north(dir, &mut procs);

    // Documents: issuer, expiry and the scan's SHA-256 are signed.
    let scan = dir.join("permit-scan.pdf");
    std::fs::write(&scan, b"%PDF acquisition permit AP-1").unwrap();
    let mut acquire = acquire_glock("GLK-1");
    let permit = format!(
        "AP-1,issuer=CFR Pretoria,expires=2099-01-01,file={}",
        scan.display()
    );
    *acquire.iter_mut().find(|a| *a == "AP-1").unwrap() = permit;
    let acquire: Vec<&str> = acquire.iter().map(String::as_str).collect();
    let c = recorded(dir, &acquire, "firearm-acquired");
    let SiteEvent::FirearmAcquired { authorisation, .. } = signed(dir, c) else {
        panic!("entry {c} is not the acquisition");
    };
    assert_eq!(authorisation.kind, DocKind::AcquisitionPermit);
    assert_eq!(authorisation.number.as_str(), "AP-1");
    assert_eq!(authorisation.issuer.as_str(), "CFR Pretoria");
    assert_eq!(
        authorisation.valid_until.unwrap().to_string(),
        "2099-01-01T00:00:00Z"
    );
    assert_eq!(
        authorisation.content_hash,
        Some(Hash::of(&[b"%PDF acquisition permit AP-1"]))
    );
    let mut bad = acquire_glock("GLK-9");
    *bad.iter_mut().find(|a| *a == "AP-1").unwrap() = "AP-9,colour=red".into();
    let err = fails(dir, &bad);
    assert!(
        err.contains("expected issuer=, expires=, kind= or file="),
        "{err}"
    );
    *bad.iter_mut().find(|a| a.starts_with("AP-9")).unwrap() = "AP-9,kind=licence".into();
    let err = fails(dir, &bad);
    assert!(err.contains("import-licence"), "{err}");
    for serial in ["GLK-2", "GLK-3", "GLK-4"] {
        ok(dir, &acquire_glock(serial));
    }
    ok(dir, &RECEIVE_L1);

    // Maintenance out and back.
    let err = fails(
        dir,
        &[
            "maintenance-in",
            "--serial",
            "GLK-1",
            "--work",
            "none",
            "--location",
            "vault",
        ],
    );
    assert!(
        err.contains("the rules refuse this act") && err.contains("not out for maintenance"),
        "{err}"
    );
    recorded(
        dir,
        &[
            "maintenance-out",
            "--serial",
            "GLK-1",
            "--provider",
            "Gunsmith Ltd",
            "--why",
            "extractor worn",
        ],
        "maintenance-out",
    );
    let c = recorded(
        dir,
        &[
            "maintenance-in",
            "--serial",
            "glk 1",
            "--work",
            "extractor replaced",
            "--location",
            "rack-1",
        ],
        "maintenance-in",
    );
    assert!(matches!(
        signed(dir, c),
        SiteEvent::MaintenanceIn { location, .. } if location.as_str() == "rack-1"
    ));

    // Seizure and recovery afterwards.
    let err = fails(
        dir,
        &[
            "seize",
            "--serial",
            "NOPE-1",
            "--authority",
            "SAPS",
            "--order",
            "CAS-1",
        ],
    );
    assert!(err.contains("no firearm with serial \"NOPE-1\""), "{err}");
    let seized = recorded(
        dir,
        &[
            "seize",
            "--serial",
            "GLK-2",
            "--authority",
            "SAPS Durban Central",
            "--order",
            "CAS-88/11/2026",
        ],
        "seized",
    );
    let c = recorded(
        dir,
        &["recover", "--serial", "GLK-2", "--location", "vault"],
        "recovered",
    );
    let SiteEvent::Recovered { report, .. } = signed(dir, c) else {
        panic!("entry {c} is not the recovery");
    };
    let ledger = ArmouryLedger::open(dir.join("north").join("site.redb")).unwrap();
    assert_eq!(report, ledger.entry(seized).unwrap().unwrap().hash());
    drop(ledger);

    // A loss report's references added later.
    ok(
        dir,
        &[
            "report-loss",
            "--serial",
            "GLK-3",
            "--kind",
            "theft",
            "--circumstances",
            "vehicle break-in",
        ],
    );
    let err = fails(
        dir,
        &["update-loss", "--serial", "GLK-1", "--police-ref", "CAS-9"],
    );
    assert!(
        err.contains("GLK-1 is in-store, not reported lost"),
        "{err}"
    );
    let err = fails(dir, &["update-loss", "--serial", "GLK-3"]);
    assert!(err.contains("--police-ref"), "{err}");
    let c = recorded(
        dir,
        &[
            "update-loss",
            "--serial",
            "GLK-3",
            "--police-ref",
            "CAS-9/2026",
            "--regulator-ref",
            "INC-31",
        ],
        "loss-report-updated",
    );
    assert!(matches!(
        signed(dir, c),
        SiteEvent::LossReportUpdated { police_ref: Some(p), regulator_ref: Some(r), .. }
            if p.as_str() == "CAS-9/2026" && r.as_str() == "INC-31"
    ));

    // A count that misses GLK-4 raises a discrepancy; it is settled once.
    let count = recorded(
        dir,
        &[
            "count",
            "--session",
            "C-1",
            "--counter",
            "guard-1",
            "--counter",
            "sup-2",
            "--seen",
            "GLK-1",
            "--seen",
            "GLK-2",
            "--rounds",
            "L1=500",
        ],
        "count-performed",
    );
    let c = recorded(
        dir,
        &["resolve-discrepancy", "--serial", "GLK-4", "--found"],
        "discrepancy-resolved",
    );
    let ledger = ArmouryLedger::open(dir.join("north").join("site.redb")).unwrap();
    let count_hash = ledger.entry(count).unwrap().unwrap().hash();
    drop(ledger);
    assert!(matches!(
        signed(dir, c),
        SiteEvent::DiscrepancyResolved { count, resolution: armsledger_core::model::Resolution::Found, .. }
            if count == count_hash
    ));
    let err = fails(
        dir,
        &["resolve-discrepancy", "--serial", "GLK-4", "--found"],
    );
    assert!(
        err.contains("no open count discrepancy about GLK-4"),
        "{err}"
    );

    // A transfer taken back before the receiver acknowledged it.
    let err = fails(
        dir,
        &["transfer-cancel", "--why", "x", "--location", "vault"],
    );
    assert!(err.contains("nothing to cancel"), "{err}");
    ok(
        dir,
        &[
            "transfer-out",
            "--to-site",
            "south",
            "--to-company",
            "acme",
            "--serial",
            "GLK-4",
            "--permit",
            "TP-1,issuer=CFR",
        ],
    );
    recorded(
        dir,
        &[
            "transfer-cancel",
            "--why",
            "carrier did not come",
            "--location",
            "vault",
        ],
        "transfer-cancelled",
    );
    let err = fails(
        dir,
        &["transfer-cancel", "--why", "twice", "--location", "vault"],
    );
    assert!(err.contains("nothing to cancel"), "{err}");

    // Rounds of a lot disposed of; more than the store holds is refused.
    let dispose = |rounds: &'static str| {
        [
            "dispose",
            "--lot",
            "L1",
            "--rounds",
            rounds,
            "--method",
            "destroyed",
            "--place",
            "range pit",
            "--witness",
            "guard-1",
            "--witness",
            "sup-2",
            "--order",
            "DO-1",
        ]
    };
    let err = fails(dir, &dispose("100000"));
    assert!(err.contains("the rules refuse this act"), "{err}");
    let c = recorded(dir, &dispose("20"), "disposed");
    assert!(matches!(
        signed(dir, c),
        SiteEvent::Disposed { item: armsledger_core::model::Item::Rounds(l), .. } if l.rounds == 20
    ));

    // When it happened: entered by the officer, refused when unreadable.
    let err = fails(
        dir,
        &[
            "move",
            "--serial",
            "GLK-1",
            "--from",
            "rack-1",
            "--to",
            "vault",
            "--occurred-at",
            "last tuesday",
        ],
    );
    assert!(err.contains("is not a time; use RFC 3339"), "{err}");
    recorded(
        dir,
        &[
            "move",
            "--serial",
            "GLK-1",
            "--from",
            "rack-1",
            "--to",
            "vault",
            "--occurred-at",
            "2026-01-02T08:00:00Z",
        ],
        "storage-moved",
    );

    // The server verifies and takes every one of them.
    let out = ok(dir, &["sync"]);
    assert!(out.contains("pushed"), "{out}");
    let status: serde_json::Value = serde_json::from_str(&ok(dir, &["status", "--json"])).unwrap();
    assert_eq!(status["unsynced"], 0, "{status:#}");
}
