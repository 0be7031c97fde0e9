//! Ending a device key end to end (issue 13, "Device keys"): `armsledger
//! regulator revoke-device` and `retire-device` against device processes
//! and a real `armsledger serve`. A stolen device's new entries are refused
//! by the server once one regulator push has carried the revocation, and by
//! offline verification even in a bundle whose log did take them; the
//! entries before the revocation counter still verify offline.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod sites;

use std::path::Path;
use std::sync::Arc;

use armsledger_core::entry::SignedEntry;
use sites::{
    Procs, acquire_glock, cli, device_addr, fails, ok, root_public, server, site_online, token,
};

/// A regulator, a server, and site `north` of `acme` with its device
/// enrolled, synced, and two firearms acquired and pushed. Returns the
/// server URL, the regulator's token, north's token and north's device.
struct World {
    url: String,
    regulator_token: String,
    site_token: String,
    site_device: String,
}

fn world(dir: &Path, procs: &mut Procs) -> World {
    let reg_dev = device_addr(dir, "reg-dev-1", procs);
    let site_device = device_addr(dir, "site-dev-1", procs);
    let out = ok(
        dir,
        &[
            "regulator",
            "init",
            "--device",
            &reg_dev,
            "--manufacturer-root",
            &root_public(),
        ],
    );
    let key = out
        .lines()
        .find_map(|l| l.strip_prefix("regulator key "))
        .unwrap()
        .to_string();
    let url = server(dir, &key, procs);
    let regulator_token = token(dir, "regulator");
    let site_token = token(dir, "site:north");
    // The regulator's acts are pushed as they are recorded from now on.
    ok(
        dir,
        &[
            "regulator",
            "push",
            "--server",
            &url,
            "--token",
            &regulator_token,
        ],
    );
    let valid = ["--valid-from", "2025-01-01", "--valid-until", "2099-01-01"];
    let mut company = vec![
        "regulator",
        "license-company",
        "--company",
        "acme",
        "--name",
        "Acme Ltd",
        "--licence",
        "PSC-1",
        "--category",
        "B",
    ];
    company.extend(valid);
    ok(dir, &company);
    ok(
        dir,
        &[
            "regulator",
            "register-site",
            "--site",
            "north",
            "--company",
            "acme",
            "--name",
            "North",
            "--approval",
            "ARM-1",
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
            "north",
            "--device",
            &site_device,
        ],
    );
    let mut person = vec![
        "regulator",
        "license-person",
        "--person",
        "armourer-1",
        "--company",
        "acme",
        "--identity",
        "ID a1",
        "--licence",
        "LIC-a1",
    ];
    person.extend(valid);
    ok(dir, &person);
    site_online(dir, "north", &site_device, &key, &url, &site_token);
    ok(dir, &acquire_glock("GLK-1"));
    ok(dir, &acquire_glock("GLK-2"));
    let s = ok(dir, &["sync"]);
    assert!(s.contains("pushed 2 entries"), "{s}");
    World {
        url,
        regulator_token,
        site_token,
        site_device,
    }
}

/// Copies a site directory (closed: every command has exited).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// `verify --json` of `bundle` against the server's published key.
fn verify(dir: &Path, url: &str, bundle: &Path) -> serde_json::Value {
    let vkey = dir.join("log.vkey.pub");
    let key = ureq::get(format!("{url}/v1/log/key"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    std::fs::write(&vkey, key).unwrap();
    let out = cli(dir)
        .args(["verify", "--no-state", "--json", "--trusted-key"])
        .arg(&vkey)
        .arg(bundle)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
}

fn export(dir: &Path, w: &World, name: &str) -> std::path::PathBuf {
    let bundle = dir.join(name);
    ok(
        dir,
        &[
            "export",
            "--server",
            &w.url,
            "--token",
            &w.regulator_token,
            "--out",
            bundle.to_str().unwrap(),
        ],
    );
    bundle
}

#[test]
fn a_stolen_devices_new_entries_are_refused_after_one_regulator_push() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut procs = Procs(Vec::new());
    let w = world(dir, &mut procs);

    // The device is stolen with a copy of the site directory: the thief
    // signs a new entry (#3) while the regulator has not acted yet.
    let thief = dir.join("thief");
    copy_dir(&dir.join("north"), &thief);
    let mut act = acquire_glock("STOLEN-1");
    act.extend(["--dir".into(), thief.display().to_string()]);
    let out = ok(dir, &act);
    assert!(out.contains("as north #3"), "{out}");

    // Mistakes: a key that is not enrolled, or none named.
    let err = fails(
        dir,
        &[
            "regulator",
            "revoke-device",
            "--site",
            "north",
            "--key",
            &"ab".repeat(32),
            "--after-counter",
            "2",
            "--reason",
            "stolen",
        ],
    );
    assert!(err.contains("not enrolled for site north"), "{err}");
    let err = fails(
        dir,
        &[
            "regulator",
            "revoke-device",
            "--site",
            "north",
            "--after-counter",
            "2",
            "--reason",
            "stolen",
        ],
    );
    assert!(
        err.contains("--device-id") || err.contains("--key"),
        "{err}"
    );

    // The regulator revokes the key after the last counter it trusts (2);
    // the revocation goes out with the command's own push.
    let out = ok(
        dir,
        &[
            "regulator",
            "revoke-device",
            "--site",
            "north",
            "--device-id",
            "site-dev-1",
            "--key-epoch",
            "1",
            "--after-counter",
            "2",
            "--reason",
            "device stolen, police report 77/2026",
        ],
    );
    assert!(
        out.contains("recorded device-key-revoked for north"),
        "{out}"
    );
    assert!(out.contains("pushed 1 entries"), "{out}");
    let err = fails(
        dir,
        &[
            "regulator",
            "revoke-device",
            "--site",
            "north",
            "--device-id",
            "site-dev-1",
            "--key-epoch",
            "1",
            "--after-counter",
            "5",
            "--reason",
            "again",
        ],
    );
    assert!(err.contains("already revoked after counter 2"), "{err}");

    // Firing: the thief's entry, signed before the revocation, is refused
    // by the server now, and so is one signed after it.
    let err = fails(
        dir,
        &[
            "sync",
            "--dir",
            thief.to_str().unwrap(),
            "--token",
            &w.site_token,
        ],
    );
    assert!(err.contains("422") && err.contains("revoked"), "{err}");
    let mut act = acquire_glock("STOLEN-2");
    act.extend(["--dir".into(), thief.display().to_string()]);
    ok(dir, &act);
    let err = fails(dir, &["sync", "--dir", thief.to_str().unwrap()]);
    assert!(err.contains("revoked"), "{err}");

    // Quiet: the export verifies offline, with north's two entries from
    // before the revocation counter.
    let bundle = export(dir, &w, "export.bundle");
    let report = verify(dir, &w.url, &bundle);
    assert_eq!(report["authentic"], true, "{report:#}");
    let north = report["chains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["chain"] == "site:north")
        .unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!(north["entries"], 2, "{report:#}");

    // Firing offline: even a log that took the thief's entry after the
    // revocation (here the server's own log key signs the checkpoint)
    // does not verify.
    let ledger = armsledger_store::ArmouryLedger::open(thief.join("site.redb")).unwrap();
    let stolen: Vec<Arc<SignedEntry>> = ledger
        .unsynced()
        .unwrap()
        .into_iter()
        .map(Arc::new)
        .collect();
    assert_eq!(stolen.first().map(|e| e.counter()), Some(3));
    drop(ledger);
    let mut entries: Vec<Arc<SignedEntry>> =
        armsledger_bundle::BundleReader::new(std::fs::File::open(&bundle).unwrap())
            .filter_map(|r| match r.unwrap().item {
                armsledger_bundle::Record::Entry(e) => {
                    Some(Arc::new(SignedEntry::decode(&e.bytes).unwrap()))
                }
                _ => None,
            })
            .collect();
    entries.extend(stolen);
    let log_key = armsledger_log::LogKey::from_signer_key(
        std::fs::read_to_string(dir.join("srv/log.key"))
            .unwrap()
            .trim(),
    )
    .unwrap();
    let log = armsledger_bundle::MemoryLog::from_entries(entries).unwrap();
    let forged = dir.join("forged.bundle");
    let regulator_key = {
        let reg: armsledger_agents::RegulatorConfig =
            armsledger_agents::config::load(&dir.join("reg/regulator.toml")).unwrap();
        armsledger_core::keys::parse_key_hex(&reg.regulator_key).unwrap()
    };
    let mut spec = armsledger_bundle::BundleSpec::new(
        &log_key,
        regulator_key,
        armsledger_core::ids::Timestamp(1_767_225_600_000),
    );
    spec.manufacturer_roots = vec![armsledger_core::keys::parse_key_hex(&root_public()).unwrap()];
    armsledger_bundle::write_bundle(
        &log,
        &spec,
        armsledger_bundle::Scope::All,
        std::fs::File::create(&forged).unwrap(),
    )
    .unwrap();
    let report = verify(dir, &w.url, &forged);
    assert_eq!(report["authentic"], false, "{report:#}");
    assert!(report.to_string().contains("revoked"), "{report:#}");
}

#[test]
fn a_retired_key_signs_nothing_more() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut procs = Procs(Vec::new());
    let w = world(dir, &mut procs);

    // Mistakes: another site's name for this device.
    let err = fails(
        dir,
        &[
            "regulator",
            "retire-device",
            "--site",
            "south",
            "--device",
            &w.site_device,
        ],
    );
    assert!(err.contains("does not serve site south"), "{err}");

    let out = ok(
        dir,
        &[
            "regulator",
            "retire-device",
            "--site",
            "north",
            "--device",
            &w.site_device,
        ],
    );
    assert!(
        out.contains("device site-dev-1 retired key epoch 1 at counter 2"),
        "{out}"
    );
    assert!(out.contains("pushed 1 entries"), "{out}");
    // Firing: the key is gone; there is nothing more to retire.
    let err = fails(dir, &acquire_glock("GLK-3"));
    assert!(err.contains("device"), "{err}");
    let err = fails(
        dir,
        &[
            "regulator",
            "retire-device",
            "--site",
            "north",
            "--device",
            &w.site_device,
        ],
    );
    assert!(err.contains("already retired"), "{err}");

    // Quiet: the whole history verifies offline, the retirement statement
    // included, and the server shows the key retired at its final counter.
    let bundle = export(dir, &w, "export.bundle");
    let report = verify(dir, &w.url, &bundle);
    assert_eq!(report["authentic"], true, "{report:#}");
    let integrity: serde_json::Value = ureq::get(format!("{}/v1/sites/north/integrity", w.url))
        .header("authorization", format!("Bearer {}", w.regulator_token))
        .call()
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    assert_eq!(integrity["keys"][0]["retired_at"], 2, "{integrity:#}");
    assert_eq!(integrity["head_counter"], 2, "{integrity:#}");
}

#[test]
fn sync_and_push_say_when_the_token_is_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut procs = Procs(Vec::new());
    let reg_dev = device_addr(dir, "reg-dev-1", &mut procs);
    let site_dev = device_addr(dir, "site-dev-1", &mut procs);
    let out = ok(
        dir,
        &[
            "regulator",
            "init",
            "--device",
            &reg_dev,
            "--manufacturer-root",
            &root_public(),
        ],
    );
    let key = out
        .lines()
        .find_map(|l| l.strip_prefix("regulator key "))
        .unwrap()
        .to_string();
    for act in [
        vec![
            "regulator",
            "license-company",
            "--company",
            "acme",
            "--name",
            "Acme Ltd",
            "--licence",
            "PSC-1",
            "--category",
            "B",
            "--valid-until",
            "2099-01-01",
        ],
        vec![
            "regulator",
            "register-site",
            "--site",
            "north",
            "--company",
            "acme",
            "--name",
            "North",
            "--approval",
            "ARM-1",
            "--location",
            "vault",
        ],
        vec![
            "regulator",
            "enrol-device",
            "--site",
            "north",
            "--device",
            &site_dev,
        ],
    ] {
        ok(dir, &act);
    }
    // Nothing listens there: the missing token is said before any request.
    let nowhere = "http://127.0.0.1:9";
    let err = fails(dir, &["regulator", "push", "--server", nowhere]);
    assert!(
        err.contains("no token") && err.contains("--role regulator"),
        "{err}"
    );
    let init = [
        "site",
        "init",
        "--site",
        "north",
        "--device",
        &site_dev,
        "--regulator-key",
        &key,
    ];
    let mut with_server = init.to_vec();
    with_server.extend(["--server", nowhere]);
    let err = fails(dir, &with_server);
    assert!(
        err.contains("no token") && err.contains("--role site:"),
        "{err}"
    );
    ok(dir, &init);
    let err = fails(dir, &["sync", "--server", nowhere]);
    assert!(err.contains("no token") && err.contains("--token"), "{err}");
}
