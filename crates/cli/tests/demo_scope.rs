//! Need to know, checked on the demo's data (issue 17): the demo runs, its
//! server is started again on the data it left, and every company and site
//! token's pull, export and dossier is read back. No regulator entry about
//! another company's persons, complaints, inspections, findings or
//! sanctions reaches it, and no bar's entry (with its reason) reaches
//! anyone but the regulator and auditors.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod harness;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use armsledger_bundle::{BundleReader, Record, VerifyOptions, verify_bundle};
use armsledger_core::SignedEntry;
use armsledger_core::event::{Event, RegulatorEvent};
use armsledger_core::ids::{CompanyId, PersonId, SiteId};
use armsledger_core::oversight::Respondent;
use harness::{bin, get, json};

/// Kills the server when the test ends, pass or fail.
struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run_ok(args: &[&str], dir: Option<&Path>) -> String {
    let mut c = Command::new(bin());
    c.args(args);
    if let Some(d) = dir {
        c.arg(d);
    }
    let out = c
        .env_remove("ARMSLEDGER_SERVER")
        .env_remove("ARMSLEDGER_TOKEN")
        .env_remove("ARMSLEDGER_DATA")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "armsledger {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn serve(data: &Path) -> (Kill, String) {
    let root = std::fs::read_to_string(data.join("manufacturer-roots.pub")).unwrap();
    let mut child = Command::new(bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--manufacturer-root"])
        .arg(root.lines().next().unwrap().trim())
        .arg("--data")
        .arg(data)
        .env_remove("ARMSLEDGER_DATA")
        .env_remove("ARMSLEDGER_LISTEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    // Keep reading: a server whose stdout is closed dies at its next line
    // (EPIPE), which made the first export fail now and then.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_string();
    (Kill(child), url)
}

fn bundle_entries(bytes: &[u8]) -> Vec<SignedEntry> {
    BundleReader::new(bytes)
        .filter_map(|r| match r.unwrap().item {
            Record::Entry(e) => Some(SignedEntry::decode(&e.bytes).unwrap()),
            _ => None,
        })
        .collect()
}

/// Who each regulator entry is about, learnt from the whole chain.
#[derive(Default)]
struct World {
    company_of_site: BTreeMap<SiteId, CompanyId>,
    company_of_person: BTreeMap<PersonId, CompanyId>,
    inspection_site: BTreeMap<String, SiteId>,
    complaint_company: BTreeMap<String, Option<CompanyId>>,
}

impl World {
    fn learn(chain: &[SignedEntry]) -> World {
        let mut w = World::default();
        for e in chain {
            let Event::Regulator(ev) = &e.body().event else {
                continue;
            };
            match ev {
                RegulatorEvent::SiteRegistered { site, company, .. } => {
                    w.company_of_site.insert(site.clone(), company.clone());
                }
                RegulatorEvent::PersonLicensed {
                    person, company, ..
                } => {
                    w.company_of_person.insert(person.clone(), company.clone());
                }
                RegulatorEvent::InspectionRecorded {
                    reference, site, ..
                } => {
                    w.inspection_site
                        .insert(reference.to_string(), site.clone());
                }
                RegulatorEvent::ComplaintReceived {
                    reference, against, ..
                } => {
                    let c = match against {
                        Respondent::Company(c) => Some(c.clone()),
                        Respondent::Person(p) => w.company_of_person.get(p).cloned(),
                    };
                    w.complaint_company.insert(reference.to_string(), c);
                }
                _ => {}
            }
        }
        w
    }

    /// Why `ev` must not reach a reader of `own`'s scope, if it must not.
    fn foreign(&self, ev: &RegulatorEvent, own: &CompanyId) -> Option<String> {
        use RegulatorEvent::*;
        let other = |c: Option<&CompanyId>| c.is_some_and(|c| c != own);
        let person = |p: &PersonId| self.company_of_person.get(p);
        let bad = match ev {
            PersonBarred { .. } => true,
            PersonLicensed { company, .. }
            | FindingRecorded { company, .. }
            | SanctionRecorded { company, .. } => company != own,
            PermitRecorded { person: p, .. }
            | QualificationRecorded { person: p, .. }
            | PersonRevoked { person: p, .. }
            | VettingRecorded { person: p, .. } => other(person(p)),
            ComplaintReceived { against, .. } => match against {
                Respondent::Company(c) => c != own,
                // A complaint against a person stays with the regulator.
                Respondent::Person(_) => true,
            },
            ComplaintResolved { reference, .. } => other(
                self.complaint_company
                    .get(reference.as_str())
                    .and_then(Option::as_ref),
            ),
            InspectionRecorded { site, .. } => other(self.company_of_site.get(site)),
            _ => false,
        };
        bad.then(|| ev.kind().to_string())
    }
}

#[test]
fn no_company_or_site_token_receives_another_companys_people_or_cases() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    run_ok(
        &[
            "demo", "--days", "10", "--sites", "2", "--seed", "7", "--json", "--dir",
        ],
        Some(&dir),
    );
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap();
    let data = dir.join("server");
    let (_server, url) = serve(&data);
    let regulator = s["regulator_token"].as_str().unwrap().to_owned();
    let token = |role: &str| {
        run_ok(
            &[
                "token",
                "create",
                "--role",
                role,
                "--data",
                data.to_str().unwrap(),
            ],
            None,
        )
        .trim()
        .to_owned()
    };

    // The whole regulator chain, as the regulator reads it.
    let (st, full) = get(&url, "/v1/export", Some(&regulator));
    assert_eq!(st, 200);
    let chain: Vec<SignedEntry> = bundle_entries(&full)
        .into_iter()
        .filter(|e| matches!(e.body().event, Event::Regulator(_)))
        .collect();
    let world = World::learn(&chain);
    let companies: BTreeSet<&CompanyId> = world.company_of_site.values().collect();
    assert!(companies.len() >= 2, "the demo has two companies");
    // The demo gives each company's persons licences: a check that could fail.
    for c in &companies {
        assert!(
            world.company_of_person.values().any(|x| x == *c),
            "{c} has no persons in the demo"
        );
    }

    let sample = s["sample_serial"].as_str().unwrap();
    let mut checked = 0;
    for (site, company) in &world.company_of_site {
        let site_token = token(&format!("site:{site}"));
        let company_token = token(&format!("company:{company}"));
        let mut reads: Vec<(String, Vec<SignedEntry>)> = Vec::new();
        for (who, tok, path) in [
            ("site", &site_token, format!("/v1/export?site={site}")),
            (
                "company",
                &company_token,
                format!("/v1/export?company={company}"),
            ),
            (
                "company",
                &company_token,
                format!("/v1/firearms/{sample}/dossier"),
            ),
        ] {
            let (st, b) = get(&url, &path, Some(tok));
            if st == 404 {
                // A dossier of a weapon this company never held.
                continue;
            }
            assert_eq!(st, 200, "{who} {path}: {}", String::from_utf8_lossy(&b));
            let report = verify_bundle(&b[..], &VerifyOptions::default()).unwrap();
            assert!(report.authentic, "{path}: {:?}", report.problems);
            reads.push((format!("{who} {path}"), bundle_entries(&b)));
        }
        let (st, b) = get(
            &url,
            &format!("/v1/pull/{site}?regulator_from=1"),
            Some(&site_token),
        );
        assert_eq!(st, 200);
        let pull = json(&b);
        let pulled = pull["regulator"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                SignedEntry::decode(&hex::decode(p["entry"].as_str().unwrap()).unwrap()).unwrap()
            })
            .collect();
        reads.push((format!("pull {site}"), pulled));
        for (what, entries) in reads {
            let mut regulator_entries = 0;
            for e in &entries {
                let Event::Regulator(ev) = &e.body().event else {
                    continue;
                };
                regulator_entries += 1;
                if let Some(kind) = world.foreign(ev, company) {
                    panic!(
                        "{what} as {company} holds {kind} (regulator #{})",
                        e.counter()
                    );
                }
            }
            assert!(regulator_entries > 0, "{what}: no regulator entries at all");
            assert!(
                regulator_entries < chain.len(),
                "{what}: the whole regulator chain ({} entries)",
                chain.len()
            );
            checked += 1;
        }
    }
    assert!(checked >= 6, "{checked} reads checked");
}
