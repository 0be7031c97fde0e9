//! The verifiable index moves at checkpoints, not with each group commit
//! (docs/log.md section 11, "When the map moves"): with the checkpointer
//! idle, an ack leaves the map behind its log, and every answer that comes
//! from the map (a weapon's dossier, a serial check, a full export's
//! leaves) is made read-only at the checkpoint the map sits at, the latest:
//! what was recorded after it is in the next one's answers, and nothing
//! in an answer contradicts its proof (the offline check accuses no honest
//! server).

use armsledger_bundle::{Completeness, ProofBasis, Record, VerifyOptions, verify_bundle};
use armsledger_server::serial_proof::{SerialAnswerParts, SerialProven, verify_serial_answer};
use axum::http::StatusCode;

use crate::common::{Env, env_with};

/// The serial a correction gives `MAP-STAGE 0` after the checkpoint.
const CORRECTED: &str = "MAP-STAGE 9";

/// An environment whose checkpointer never runs on its own during a test:
/// the scenario's log and weapon `MAP-STAGE 0` posted and checkpointed
/// (its size returned), then, acknowledged and covered by no checkpoint
/// (nor map) yet, weapon `MAP-STAGE 1` acquired and `MAP-STAGE 0`'s serial
/// corrected to [`CORRECTED`].
async fn idle_checkpointer() -> (Env, u64) {
    let mut env = env_with(|c| c.checkpoint_interval_ms = 3_600_000).await;
    env.s.acquire("north", "MAP-STAGE 0");
    let log = env.s.log.clone();
    let (st, b) = env.post_as(Some(env.token("regulator")), &log).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let at = env.shared.checkpoint_now().unwrap().unwrap().size;
    let before = env.s.log.len();
    env.s.acquire("north", "MAP-STAGE 1");
    correct_serial(&mut env, "MAP-STAGE 0", CORRECTED);
    let (st, b) = env
        .post_as(Some(env.token("regulator")), &env.s.log[before..])
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    (env, at)
}

/// A correction of the acquisition of the pistol `serial` to `to`.
fn correct_serial(env: &mut Env, serial: &str, to: &str) {
    use armsledger_core::event::SiteEvent;
    let acq = env
        .s
        .log
        .iter()
        .find(|e| match &e.body().event {
            armsledger_core::event::Event::Site(SiteEvent::FirearmAcquired {
                identity, ..
            }) => identity.serial.as_str() == serial,
            _ => false,
        })
        .unwrap()
        .clone();
    let armsledger_core::event::Event::Site(original) = &acq.body().event else {
        unreachable!()
    };
    let mut fixed = original.clone();
    if let SiteEvent::FirearmAcquired { identity, .. } = &mut fixed {
        identity.serial = to.parse().unwrap();
    }
    env.s.site(
        "north",
        "armourer-1",
        SiteEvent::Corrected {
            supersedes: acq.hash(),
            reason: armsledger_core::testkit::note("serial mistyped"),
            approver: Some("armourer-2".parse().unwrap()),
            corrected: Box::new(fixed),
        },
    );
}

/// The verified dossier of `serial` for the regulator: its checkpoint's
/// size, its events and their completeness.
async fn dossier(env: &Env, serial: &str) -> (u64, u64, Completeness) {
    let uri = format!("/v1/firearms/{}/dossier", serial.replace(' ', "%20"));
    let (st, bytes) = env.get(&uri, Some("regulator")).await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&bytes));
    let report = verify_bundle(bytes.as_slice(), &VerifyOptions::default()).unwrap();
    assert!(report.authentic, "{:#?}", report.problems);
    let d = report.dossier.unwrap();
    (report.checkpoint.unwrap().size, d.events, d.completeness)
}

const PROVEN: Completeness = Completeness::Proven {
    basis: ProofBasis::Index,
};

#[tokio::test]
async fn a_dossier_only_reads_and_is_proven_complete_at_the_checkpoint_the_map_sits_at() {
    let (env, at) = idle_checkpointer().await;
    // The ack left the map behind its log.
    let r = env.shared.store().read().unwrap();
    assert_eq!(r.size(), env.s.log.len() as u64);
    assert_eq!(r.index_covers(), at, "the ack waited for the map");
    assert!(r.index_root().is_err(), "a map behind its log answered");
    assert_eq!(r.index_checkpoint().unwrap().unwrap().0, at);
    drop(r);
    // Quiet: the corrected weapon's dossier is written at the checkpoint,
    // with its one event there, and proven complete at it (the correction
    // after it is no newer entry the index commits to, nor a missing key).
    assert_eq!(dossier(&env, "MAP-STAGE 0").await, (at, 1, PROVEN));
    // Firing: the weapon acquired after the checkpoint has no dossier yet.
    let (st, body) = env
        .get("/v1/firearms/map-stage%201/dossier", Some("regulator"))
        .await;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE);
    let body = String::from_utf8_lossy(&body);
    assert!(body.contains("after the latest checkpoint"), "{body}");
    // Neither wrote: no checkpoint signed, the map where it was.
    assert_eq!(env.shared.latest_checkpoint().unwrap().size, at);
    assert_eq!(env.shared.store().read().unwrap().index_covers(), at);
    // The next checkpoint holds them: both serials' keys are proven.
    let next = env.shared.checkpoint_now().unwrap().unwrap().size;
    assert_eq!(next, env.s.log.len() as u64);
    assert_eq!(dossier(&env, "MAP-STAGE 0").await, (next, 2, PROVEN));
    assert_eq!(dossier(&env, CORRECTED).await, (next, 2, PROVEN));
    assert_eq!(dossier(&env, "MAP-STAGE 1").await, (next, 1, PROVEN));
}

/// The police's serial check of `serial`, verified as a client does.
async fn check(env: &Env, serial: &str) -> (serde_json::Value, SerialProven) {
    let uri = format!("/v1/serials/{}", serial.replace(' ', "%20"));
    let (st, body) = env.get(&uri, Some("police")).await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let c: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let parts = SerialAnswerParts {
        checkpoint: c["checkpoint"].as_str().unwrap(),
        serial: c["serial"].as_str().unwrap(),
        map_key: c["map_key"].as_str().unwrap(),
        value: c["value"].as_str(),
        proof: c["proof"].as_str().unwrap(),
        recorded: c["recorded"].as_bool().unwrap(),
        lists_firearms: !c["firearms"].as_array().unwrap().is_empty(),
    };
    let log = armsledger_log::LogVerifier::from_vkey(env.shared.log_vkey()).unwrap();
    let proven = verify_serial_answer(&parts, &log).unwrap_or_else(|e| panic!("{e}: {c}"));
    (c, proven)
}

#[tokio::test]
async fn a_serial_check_and_a_full_export_answer_read_only_at_the_latest_checkpoint() {
    let (env, at) = idle_checkpointer().await;
    // Quiet: recorded at the checkpoint, listed, proven present.
    let (c, p) = check(&env, "MAP-STAGE0").await;
    assert_eq!(
        p,
        SerialProven {
            size: at,
            present: true
        }
    );
    assert_eq!(c["firearms"].as_array().unwrap().len(), 1, "{c}");
    // Recorded after it (a new weapon, a corrected serial): "not in the
    // register as of" the checkpoint, and no firearm listed, which the
    // proof of absence would contradict.
    for serial in ["MAP-STAGE 1", CORRECTED] {
        let (c, p) = check(&env, serial).await;
        assert_eq!(
            p,
            SerialProven {
                size: at,
                present: false
            },
            "{c}"
        );
        assert!(c["firearms"].as_array().unwrap().is_empty(), "{c}");
    }
    assert_eq!(
        env.shared.latest_checkpoint().unwrap().size,
        at,
        "signed one"
    );
    // A full export at that checkpoint carries the index's leaves though
    // the log has grown past it, and its verifier's rebuilt root is the
    // signed one.
    let (st, bytes) = env.get("/v1/export", Some("regulator")).await;
    assert_eq!(st, StatusCode::OK);
    assert!(
        armsledger_bundle::BundleReader::new(bytes.as_slice())
            .any(|r| matches!(r.unwrap().item, Record::IndexLeaves(_))),
        "a full export at the map's checkpoint carries its leaves"
    );
    let report = verify_bundle(bytes.as_slice(), &VerifyOptions::default()).unwrap();
    assert!(report.authentic, "{:#?}", report.problems);
    assert_eq!(report.checkpoint.unwrap().size, at);
    // The next checkpoint records both.
    let next = env.shared.checkpoint_now().unwrap().unwrap().size;
    for serial in ["MAP-STAGE 1", CORRECTED] {
        let (c, p) = check(&env, serial).await;
        assert_eq!(
            p,
            SerialProven {
                size: next,
                present: true
            },
            "{c}"
        );
        assert_eq!(c["firearms"].as_array().unwrap().len(), 1, "{c}");
    }
}

/// A lot's dossier is written at the same checkpoint as a weapon's: a lot
/// first recorded after it is answered 503 (retry at the next checkpoint),
/// not with an empty dossier; after the next checkpoint its dossier is
/// proven; a lot that never existed is still the unknown lot's 404.
#[tokio::test]
async fn a_lot_recorded_after_the_checkpoint_is_retried_not_answered_empty() {
    let (mut env, at) = idle_checkpointer().await;
    let before = env.s.log.len();
    let lot = env.s.receive("north", "L-STAGE", 100);
    let (st, b) = env
        .post_as(Some(env.token("regulator")), &env.s.log[before..])
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let uri = format!("/v1/lots/{lot}/dossier");
    // Firing: recorded after the checkpoint the map sits at.
    let (st, body) = env.get(&uri, Some("regulator")).await;
    let body = String::from_utf8_lossy(&body);
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.contains("after the latest checkpoint"), "{body}");
    assert!(body.contains(&format!("({at} entries)")), "{body}");
    // Quiet: an unknown lot is the 404 it was.
    let (st, _) = env
        .get("/v1/lots/NO-SUCH-LOT/dossier", Some("regulator"))
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    // At the next checkpoint: the lot's dossier, its receipt proven.
    let next = env.shared.checkpoint_now().unwrap().unwrap().size;
    assert_eq!(next, env.s.log.len() as u64);
    let (st, bytes) = env.get(&uri, Some("regulator")).await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&bytes));
    let report = verify_bundle(bytes.as_slice(), &VerifyOptions::default()).unwrap();
    assert!(report.authentic, "{:#?}", report.problems);
    assert_eq!(report.checkpoint.unwrap().size, next);
    let site_entries = armsledger_bundle::BundleReader::new(bytes.as_slice())
        .filter_map(|r| match r.unwrap().item {
            Record::Entry(e) => Some(armsledger_core::SignedEntry::decode(&e.bytes).unwrap()),
            _ => None,
        })
        .filter(|e| matches!(e.chain(), armsledger_core::ChainId::Site(_)))
        .count();
    assert_eq!(site_entries, 1, "the lot's receipt");
}
