//! Provably the latest (issue 19): site bundles and dossiers exported by a
//! real `armsledger serve` (its redb file, a loopback port) carry the
//! verifiable index's proofs of their chains and of the weapon, against the
//! checkpoint they are written at. Cutting the newest entries of a site
//! chain or of the regulator chain, or the newest event of a weapon, is
//! then named ("newer entries exist", with the newest log index); an
//! untouched export is "complete up to checkpoint N"; a dropped middle event
//! is still the named gap it was.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod harness;

use std::process::Command;

use armsledger_bundle::{
    BundleReader, BundleWriter, Completeness, ProblemKind, ProofBasis, Record, Report,
    VerifyOptions, WarningKind, verify_bundle,
};
use armsledger_core::SignedEntry;
use armsledger_core::event::{RegulatorEvent, SiteEvent};
use armsledger_core::model::{Item, Validity};
use armsledger_core::testkit::{Scenario, loc, v};
use harness::{Server, get};

/// A pistol with four events at north, another at north, a regulator entry
/// after every site entry (so the regulator chain's newest can be cut).
fn world() -> Scenario {
    let mut s = Scenario::standard();
    let (gun, _) = s.acquire("north", "GLK 100");
    s.acquire("north", "GLK 101");
    for (from, to) in [
        ("vault", "rack-1"),
        ("rack-1", "vault"),
        ("vault", "rack-1"),
    ] {
        s.site(
            "north",
            "armourer-2",
            SiteEvent::StorageMoved {
                item: Item::Firearm(gun),
                from: loc(from),
                to: loc(to),
            },
        );
    }
    let now = s.now;
    s.regulator(RegulatorEvent::CompanyLicensed {
        company: v("late-co"),
        name: v("Late Ltd"),
        licence: v("PSC-9"),
        valid: Validity {
            from: now,
            until: now.plus(365 * 86_400_000),
        },
        categories: vec![v("B")],
    });
    s
}

fn serve(dir: &std::path::Path, s: &Scenario) -> (Server, String) {
    let srv = Server::start(&dir.join("srv"), s, "checkpoint_interval_ms = 20\n");
    assert_eq!(srv.post(&s.log).0, 200);
    srv.settled_checkpoint();
    let token = srv.token("regulator");
    (srv, token)
}

fn fetch(srv: &Server, token: &str, path: &str) -> Vec<u8> {
    let (st, b) = get(&srv.url, path, Some(token));
    assert_eq!(st, 200, "{path}: {}", String::from_utf8_lossy(&b));
    b
}

fn verify(bytes: &[u8]) -> Report {
    verify_bundle(bytes, &VerifyOptions::default()).unwrap()
}

/// The entries of a bundle: (log index, entry).
fn entries(bytes: &[u8]) -> Vec<(u64, SignedEntry)> {
    BundleReader::new(bytes)
        .filter_map(|r| match r.unwrap().item {
            Record::Entry(e) => Some((e.index, SignedEntry::decode(&e.bytes).unwrap())),
            _ => None,
        })
        .collect()
}

/// The bundle without the entries at `drop` (and the records that follow
/// them), written anew with the crate's own writer: framing and End are
/// right, so only the proofs can tell.
fn without(bytes: &[u8], drop: &[u64]) -> Vec<u8> {
    let mut w = None;
    let mut skipping = false;
    for r in BundleReader::new(bytes) {
        let item = r.unwrap().item;
        match item {
            Record::Meta(m) => w = Some(BundleWriter::new(Vec::new(), &m).unwrap()),
            Record::Checkpoint(n) => w.as_mut().unwrap().checkpoint(&n).unwrap(),
            Record::Consistency(c) => w
                .as_mut()
                .unwrap()
                .consistency(c.old_size, &c.proof)
                .unwrap(),
            Record::MapProof(m) => w.as_mut().unwrap().map_proof(&m).unwrap(),
            Record::Entry(e) => {
                skipping = drop.contains(&e.index);
                if !skipping {
                    w.as_mut()
                        .unwrap()
                        .entry(e.index, e.received_at, &e.bytes)
                        .unwrap();
                }
            }
            Record::Inclusion(i) if !skipping => {
                w.as_mut().unwrap().inclusion(i.index, &i.proof).unwrap();
            }
            Record::Finding(f) if !skipping => w.as_mut().unwrap().finding(&f).unwrap(),
            Record::Equivocation(q) if !skipping => w.as_mut().unwrap().equivocation(&q).unwrap(),
            Record::End(_) => return w.take().unwrap().finish().unwrap(),
            _ => {}
        }
    }
    panic!("no End record")
}

fn chain<'r>(r: &'r Report, name: &str) -> &'r armsledger_bundle::ChainSummary {
    r.chains.iter().find(|c| c.chain == name).unwrap()
}

const INDEX: Completeness = Completeness::Proven {
    basis: ProofBasis::Index,
};

#[test]
fn a_site_bundle_proves_its_chains_complete_and_names_the_one_cut_short() {
    let tmp = tempfile::tempdir().unwrap();
    let s = world();
    let (srv, token) = serve(tmp.path(), &s);
    let bundle = fetch(&srv, &token, "/v1/export?site=north");
    assert!(bundle.starts_with(b"armsledger-bundle/v3\n"));
    let r = verify(&bundle);
    assert!(r.authentic(), "{:#?}", r.problems);
    assert_eq!(chain(&r, "regulator").completeness, INDEX);
    assert_eq!(chain(&r, "site:north").completeness, INDEX);
    assert!(
        !r.warnings
            .iter()
            .any(|w| w.kind == WarningKind::EndUnproven),
        "{:#?}",
        r.warnings
    );

    let all = entries(&bundle);
    let north: Vec<u64> = all
        .iter()
        .filter(|(_, e)| e.chain().to_string() == "site:north")
        .map(|(i, _)| *i)
        .collect();
    let regulator: Vec<u64> = all
        .iter()
        .filter(|(_, e)| e.chain().to_string() == "regulator")
        .map(|(i, _)| *i)
        .collect();

    // The newest two entries of north's chain cut off.
    let newest = *north.last().unwrap();
    let cut = without(&bundle, &north[north.len() - 2..]);
    let r = verify(&cut);
    let p = r
        .problems
        .iter()
        .find(|p| p.kind == ProblemKind::StopsShort)
        .unwrap_or_else(|| panic!("{:#?}", r.problems));
    assert_eq!(p.chain.as_deref(), Some("site:north"));
    assert_eq!(p.log_index, Some(newest));
    assert!(p.reason.contains("newer entries exist"), "{}", p.reason);
    assert_eq!(
        chain(&r, "site:north").completeness,
        Completeness::NewerEntriesExist {
            newest_index: newest,
            newest_seq: north.len() as u64,
        }
    );
    assert_eq!(chain(&r, "regulator").completeness, INDEX);

    // The regulator chain's newest entry cut off: a scoped bundle holds only
    // the regulator entries its reader may see, so the reader cannot tell a
    // cut from an entry outside its scope; it is warned, by name, and the
    // chain is not called complete.
    let newest = *regulator.last().unwrap();
    let r = verify(&without(&bundle, &[newest]));
    let w = r
        .warnings
        .iter()
        .find(|w| w.kind == WarningKind::NewerEntriesExist)
        .unwrap_or_else(|| panic!("{:#?}", r.warnings));
    assert_eq!(w.subject.as_deref(), Some("regulator"));
    assert!(
        w.message.contains(&format!(
            "newer entries exist (newest at log index {newest},"
        )),
        "{}",
        w.message
    );
    assert!(matches!(
        chain(&r, "regulator").completeness,
        Completeness::NewerEntriesExist { newest_index, .. } if newest_index == newest
    ));
    assert_eq!(chain(&r, "site:north").completeness, INDEX);

    // The binary says it in words, and fails.
    let f = tmp.path().join("cut.bundle");
    std::fs::write(&f, &cut).unwrap();
    let out = Command::new(harness::bin())
        .arg("verify")
        .arg(&f)
        .arg("--no-state")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!(
            "site:north: newer entries exist (newest at log index {},",
            north.last().unwrap()
        )),
        "{text}"
    );
    assert!(text.contains("INCOMPLETE: newer entries exist"), "{text}");
    let f = tmp.path().join("whole.bundle");
    std::fs::write(&f, &bundle).unwrap();
    let out = Command::new(harness::bin())
        .arg("verify")
        .arg(&f)
        .arg("--no-state")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("complete up to checkpoint"), "{text}");
}

#[test]
fn a_dossier_proves_the_weapon_latest_or_says_newer_events_exist() {
    let tmp = tempfile::tempdir().unwrap();
    let s = world();
    let (srv, token) = serve(tmp.path(), &s);
    let dossier = fetch(&srv, &token, "/v1/firearms/glk-100/dossier");
    let r = verify(&dossier);
    assert!(r.authentic(), "{:#?}", r.problems);
    let d = r.dossier.as_ref().unwrap();
    assert_eq!(d.events, 4);
    assert_eq!(d.completeness, INDEX);
    assert_eq!(chain(&r, "regulator").completeness, INDEX);

    let events: Vec<u64> = entries(&dossier)
        .iter()
        .filter(|(_, e)| e.chain().to_string() == "site:north")
        .map(|(i, _)| *i)
        .collect();
    assert_eq!(events.len(), 4);

    // The newest event dropped: still authentic (its entries are), but the
    // index names the newest event, and the report says newer ones exist.
    let r = verify(&without(&dossier, &events[3..]));
    assert!(r.authentic(), "{:#?}", r.problems);
    let d = r.dossier.as_ref().unwrap();
    assert_eq!(
        d.completeness,
        Completeness::NewerEntriesExist {
            newest_index: events[3],
            newest_seq: 4,
        }
    );
    let w = r
        .warnings
        .iter()
        .find(|w| w.kind == WarningKind::NewerEntriesExist)
        .unwrap_or_else(|| panic!("{:#?}", r.warnings));
    assert_eq!(
        w.subject.as_deref(),
        Some(format!("firearm:{}", d.firearm).as_str())
    );
    assert!(
        w.message.contains(&format!(
            "newer entries exist (newest at log index {}",
            events[3]
        )),
        "{}",
        w.message
    );

    // A middle event dropped: the gap, named as before; the end is proven.
    let r = verify(&without(&dossier, &events[1..2]));
    assert!(
        r.problems
            .iter()
            .any(|p| p.kind == ProblemKind::Dossier && p.reason.contains("an event is missing")),
        "{:#?}",
        r.problems
    );
    assert_eq!(r.dossier.as_ref().unwrap().completeness, INDEX);
}

/// A server whose index is forged for one weapon's serial (its redb file
/// changed while it was stopped, the map's path rehashed so that the store
/// stays self-consistent): its next checkpoint commits to the wrong root, and
/// a full export's verifier names the serial and the weapon.
#[test]
fn a_full_export_names_the_serial_whose_index_leaf_the_server_forged() {
    use armsledger_index::tree::Batch;
    use armsledger_index::{LeafValue, MapKey, NodeStore as _, NodeStoreMut as _};

    let tmp = tempfile::tempdir().unwrap();
    let mut s = world();
    let (mut srv, token) = serve(tmp.path(), &s);
    // Untouched, a full export carries the index's leaves and verifies.
    let whole = fetch(&srv, &token, "/v1/export");
    assert!(
        records(&whole)
            .iter()
            .any(|r| matches!(r, Record::IndexLeaves(_))),
        "a full export carries its index leaves"
    );
    let r = verify(&whole);
    assert!(r.authentic(), "{:#?}", r.problems);

    // Forge GLK-100's leaf: its record says the weapon's history ends one
    // event earlier than it does (the newest event "forgotten").
    srv.kill();
    let key = MapKey::serial("GLK 100");
    {
        let db = redb::Database::open(srv.data.join("log.redb")).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut map = armsledger_index::redb_store::RedbMap::open(&txn).unwrap();
            let mut value = LeafValue::decode(&map.value(&key).unwrap().unwrap()).unwrap();
            let mut rec = value.records()[0].clone();
            rec.seq -= 1;
            rec.log_index -= 1;
            value.put(rec).unwrap();
            map.put_value(&key, &value.encode()).unwrap();
            let mut b = Batch::new(&mut map).unwrap();
            b.set(&key, value.hash()).unwrap();
            b.commit().unwrap();
        }
        txn.commit().unwrap();
    }
    srv.restart();
    // One more entry, so that the server signs a checkpoint over its map.
    s.acquire("north", "GLK 102");
    assert_eq!(srv.post(&s.log[s.log.len() - 1..]).0, 200);
    srv.settled_checkpoint();
    let bundle = fetch(&srv, &token, "/v1/export");
    let r = verify(&bundle);
    assert!(!r.authentic());
    let p: Vec<_> = r
        .problems
        .iter()
        .filter(|p| p.kind == ProblemKind::IndexRoot)
        .collect();
    assert_eq!(p.len(), 1, "{:#?}", r.problems);
    let gun = armsledger_core::testkit::pistol("GLK 100").id();
    assert!(
        p[0].reason
            .starts_with(&format!("serial GLK100 (firearm {gun}): ")),
        "{}",
        p[0].reason
    );

    // The binary names it too, and fails.
    let f = tmp.path().join("forged.bundle");
    std::fs::write(&f, &bundle).unwrap();
    let out = Command::new(harness::bin())
        .arg("verify")
        .arg(&f)
        .arg("--no-state")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("serial GLK100 (firearm "), "{text}");
}

fn records(bytes: &[u8]) -> Vec<Record> {
    BundleReader::new(bytes).map(|r| r.unwrap().item).collect()
}

/// A site's own export holds the regulator chain as an excerpt with gaps
/// (need to know: another company's device keys are not its to see). The
/// index cannot prove the excerpt complete, but tells its reader how many
/// regulator entries exist past its newest; dropping the excerpt's newest
/// entry is not a problem either, and the count says one more.
#[test]
fn a_site_token_export_learns_how_many_newer_regulator_entries_exist() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = world();
    // Two more companies, each with a site: the register entries are
    // public, their device keys are not north's to see, so north's excerpt
    // has gaps and the chain's newest entries are outside it.
    s.company_with_site("bravo", "south");
    s.company_with_site("charlie", "west");
    let (srv, _) = serve(tmp.path(), &s);
    let token = srv.token("site:north");
    let bundle = fetch(&srv, &token, "/v1/export?site=north");
    let r = verify(&bundle);
    assert!(r.authentic(), "{:#?}", r.problems);
    let reg = chain(&r, "regulator");
    assert_eq!(reg.completeness, Completeness::Excerpt);
    let head = reg.head_counter.unwrap();
    let total = s
        .log
        .iter()
        .filter(|e| e.chain().to_string() == "regulator")
        .count() as u64;
    assert!(
        total > head,
        "the world has regulator entries north may not see"
    );
    let newer = |r: &Report| {
        r.warnings
            .iter()
            .find(|w| w.kind == WarningKind::NewerEntriesExist)
            .map(|w| w.message.clone())
            .unwrap_or_else(|| panic!("{:#?}", r.warnings))
    };
    assert!(reg.entries < head, "an excerpt with gaps");
    let note = newer(&r);
    assert!(
        note.starts_with(&format!(
            "regulator: newer entries exist (newest at log index {}, counter {total}): the \
             bundle holds {} of the chain's entries up to counter {head}",
            s.log.len() - 1,
            reg.entries
        )),
        "{note}"
    );
    assert!(
        note.contains(&format!("counts {} regulator entries after", total - head)),
        "{note}"
    );
    assert_eq!(chain(&r, "site:north").completeness, INDEX);

    // The excerpt's newest entry dropped: still an excerpt, no problem, and
    // the index says one more newer entry exists.
    let regulator: Vec<u64> = entries(&bundle)
        .iter()
        .filter(|(_, e)| e.chain().to_string() == "regulator")
        .map(|(i, _)| *i)
        .collect();
    let cut = without(&bundle, &regulator[regulator.len() - 1..]);
    let r = verify(&cut);
    assert!(r.authentic(), "{:#?}", r.problems);
    let reg = chain(&r, "regulator");
    assert_eq!(reg.completeness, Completeness::Excerpt);
    let head = reg.head_counter.unwrap();
    assert!(
        newer(&r).contains(&format!("counts {} regulator entries after", total - head)),
        "{}",
        newer(&r)
    );

    // The regulator's own export of the site: the whole chain, proven.
    let full = fetch(&srv, &srv.token("regulator"), "/v1/export?site=north");
    let r = verify(&full);
    assert_eq!(chain(&r, "regulator").completeness, INDEX);
    assert!(
        !r.warnings
            .iter()
            .any(|w| w.kind == WarningKind::NewerEntriesExist),
        "{:#?}",
        r.warnings
    );
}
