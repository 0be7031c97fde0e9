//! An ammunition lot's dossier over HTTP (issue 24): it verifies offline as
//! authentic with the lot's per-site link chains whole; with one movement
//! dropped `verify` fails and names the gap; a company's dossier holds only
//! its own sites' acts, and a company that never held the lot gets the
//! unknown lot's 404.

use armsledger_bundle::{
    BundleReader, BundleWriter, Completeness, ProblemKind, Record, Report, VerifyOptions,
    verify_bundle,
};
use armsledger_core::testkit::LotJourney;
use armsledger_core::{ChainId, Hash, SignedEntry};
use axum::http::StatusCode;

use crate::common::{Env, env_of};

async fn journey() -> (Env, LotJourney) {
    let j = LotJourney::new();
    let mut s = j.scenario.clone();
    s.company_with_site("third-co", "east");
    let env = env_of(s, |_| {}).await;
    env.post_log().await;
    (env, j)
}

async fn dossier(env: &Env, lot: &str, role: &str) -> Vec<u8> {
    let (st, b) = env
        .get(&format!("/v1/lots/{lot}/dossier"), Some(role))
        .await;
    assert_eq!(
        st,
        StatusCode::OK,
        "{lot} as {role}: {}",
        String::from_utf8_lossy(&b)
    );
    b.to_vec()
}

fn verify(bytes: &[u8]) -> Report {
    verify_bundle(bytes, &VerifyOptions::default()).unwrap()
}

/// The site entries of a bundle, in order.
fn site_entries(bytes: &[u8]) -> Vec<SignedEntry> {
    BundleReader::new(bytes)
        .filter_map(|r| match r.unwrap().item {
            Record::Entry(e) => Some(SignedEntry::decode(&e.bytes).unwrap()),
            _ => None,
        })
        .filter(|e| matches!(e.chain(), ChainId::Site(_)))
        .collect()
}

/// The bundle without the entry `drop` and its proof, written anew with the
/// crate's own writer: framing and End are right, only the links can tell.
fn without(bytes: &[u8], drop: Hash) -> Vec<u8> {
    let mut w = None;
    let mut skipping = false;
    for r in BundleReader::new(bytes) {
        match r.unwrap().item {
            Record::Meta(m) => w = Some(BundleWriter::new(Vec::new(), &m).unwrap()),
            Record::Checkpoint(n) => w.as_mut().unwrap().checkpoint(&n).unwrap(),
            Record::MapProof(m) => w.as_mut().unwrap().map_proof(&m).unwrap(),
            Record::Entry(e) => {
                skipping = SignedEntry::decode(&e.bytes).unwrap().hash() == drop;
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
            Record::End(_) => return w.take().unwrap().finish().unwrap(),
            _ => {}
        }
    }
    panic!("no End record")
}

#[tokio::test]
async fn a_lot_dossier_verifies_and_a_dropped_movement_is_named_as_the_gap() {
    let (env, j) = journey().await;
    let bytes = dossier(&env, "lj%207", "regulator").await;
    let r = verify(&bytes);
    assert!(r.authentic, "{:#?}", r.problems);
    assert_eq!(r.scope.as_deref(), Some(format!("lot:{}", j.lot).as_str()));
    // Every act of the lot is in it, in log order.
    let held: Vec<Hash> = site_entries(&bytes).iter().map(SignedEntry::hash).collect();
    let acts: Vec<Hash> = j.acts.iter().map(|e| e.hash()).collect();
    assert_eq!(held, acts);
    let lot = r.lot_dossier.as_ref().expect("a lot dossier summary");
    assert_eq!(lot.lot, j.lot.to_string());
    let sites: Vec<&str> = lot.sites.iter().map(|s| s.chain.as_str()).collect();
    assert_eq!(sites, ["site:north", "site:south"]);
    assert_eq!(
        lot.completeness,
        Completeness::Proven {
            basis: armsledger_bundle::ProofBasis::Index
        },
        "{:#?}",
        r.warnings
    );
    assert!(r.problems.is_empty());
    // The site chains are excerpts, by design.
    assert!(
        r.chains
            .iter()
            .filter(|c| c.chain.starts_with("site:"))
            .all(|c| c.completeness == Completeness::Excerpt)
    );

    // Drop north's first issue: the next north act links to it, a gap.
    let north: Vec<&SignedEntry> = j
        .acts
        .iter()
        .map(|e| e.as_ref())
        .filter(|e| e.chain().to_string() == "site:north")
        .collect();
    let (before, dropped, after) = (north[1].hash(), north[2].hash(), north[3].hash());
    let cut = verify(&without(&bytes, dropped));
    assert!(!cut.authentic, "a dossier with a movement dropped verified");
    let gaps: Vec<_> = cut
        .problems
        .iter()
        .filter(|p| p.kind == ProblemKind::Dossier)
        .collect();
    assert_eq!(gaps.len(), 1, "{:#?}", cut.problems);
    let gap = gaps[0];
    assert_eq!(
        gap.entry,
        Some(after),
        "the gap is named by the entry after it"
    );
    assert!(
        gap.reason.contains(&dropped.short().to_string())
            && gap.reason.contains(&before.short().to_string())
            && gap.reason.contains("site:north"),
        "{}",
        gap.reason
    );

    // Cut short (north's last act, its disposal, dropped): no gap in the
    // links, but the lot's leaf commits to a newer act at north.
    let last = *north.last().map(|e| e.hash()).as_ref().unwrap();
    let short = verify(&without(&bytes, last));
    assert!(short.authentic, "{:#?}", short.problems);
    let lot = short.lot_dossier.as_ref().unwrap();
    assert!(
        matches!(lot.completeness, Completeness::NewerEntriesExist { .. }),
        "{:#?}",
        lot
    );
    let north_part = lot.sites.iter().find(|s| s.chain == "site:north").unwrap();
    assert!(matches!(
        north_part.completeness,
        Completeness::NewerEntriesExist { newest_seq, .. } if newest_seq == north.len() as u64
    ));
    assert!(
        short
            .warnings
            .iter()
            .any(|w| w.message.contains("INCOMPLETE") && w.message.contains("site:north")),
        "{:#?}",
        short.warnings
    );
}

#[tokio::test]
async fn a_companys_lot_dossier_holds_only_its_own_sites_acts() {
    let (env, j) = journey().await;
    let bytes = dossier(&env, "LJ-7", "company:other-co").await;
    let r = verify(&bytes);
    assert!(r.authentic, "{:#?}", r.problems);
    let held: Vec<Hash> = site_entries(&bytes).iter().map(SignedEntry::hash).collect();
    let south: Vec<Hash> = j
        .acts
        .iter()
        .filter(|e| e.chain().to_string() == "site:south")
        .map(|e| e.hash())
        .collect();
    assert!(!south.is_empty());
    assert_eq!(held, south, "other-co's dossier holds south's acts only");
    let lot = r.lot_dossier.as_ref().unwrap();
    assert_eq!(
        lot.sites
            .iter()
            .map(|s| s.chain.as_str())
            .collect::<Vec<_>>(),
        ["site:south"]
    );
    // The lot's leaf names every site that acted on it: not in a company's
    // dossier, whose sites' ends are then unproven (and said so).
    assert_eq!(lot.completeness, Completeness::NoGapsEndUnproven);
    assert!(
        !BundleReader::new(&bytes[..])
            .any(|r| matches!(r.unwrap().item, Record::MapProof(m) if m.key == armsledger_index::MapKey::lot(&j.lot).0)),
        "a company's lot dossier carries the lot's leaf"
    );
    assert!(
        r.warnings
            .iter()
            .any(|w| w.subject.as_deref() == Some(&format!("lot:{}", j.lot)))
    );
    // Quiet: acme's holds north's acts.
    let acme = dossier(&env, "LJ-7", "company:acme").await;
    assert!(
        site_entries(&acme)
            .iter()
            .any(|e| e.chain().to_string() == "site:north")
    );
    // third-co never held it: the same answer as a lot nobody recorded.
    let (st, a) = env
        .get("/v1/lots/LJ-7/dossier", Some("company:third-co"))
        .await;
    let (st2, c) = env
        .get("/v1/lots/NOPE-1/dossier", Some("company:third-co"))
        .await;
    assert_eq!((st, st2), (StatusCode::NOT_FOUND, StatusCode::NOT_FOUND));
    assert_eq!(
        String::from_utf8_lossy(&a).replace("LJ-7", "X"),
        String::from_utf8_lossy(&c).replace("NOPE-1", "X")
    );
}
