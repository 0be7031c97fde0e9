//! The verifiable index moves at checkpoints, not with each group commit
//! (docs/log.md section 11, "When the map moves"): with the checkpointer
//! idle, an ack leaves the map behind its log, and every answer that comes
//! from the map (a weapon's dossier, a serial check, a full export's
//! leaves) is still made at a checkpoint whose map is complete.

use armsledger_bundle::{Completeness, ProofBasis, Record, VerifyOptions, verify_bundle};
use axum::http::StatusCode;

use crate::common::{Env, env_with};

/// An environment whose checkpointer never runs on its own during a test:
/// the scenario's log posted and checkpointed, then one more weapon
/// acquired and acknowledged, which no checkpoint (and no map) covers yet.
async fn idle_checkpointer() -> Env {
    let mut env = env_with(|c| c.checkpoint_interval_ms = 3_600_000).await;
    let log = env.s.log.clone();
    let (st, b) = env.post_as(Some(env.token("regulator")), &log).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    env.shared.checkpoint_now().unwrap().unwrap();
    let before = env.s.log.len();
    env.s.acquire("north", "MAP-STAGE 1");
    let (st, b) = env
        .post_as(Some(env.token("regulator")), &env.s.log[before..])
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    env
}

#[tokio::test]
async fn an_ack_leaves_the_map_behind_and_a_dossier_is_proven_at_a_complete_checkpoint() {
    let env = idle_checkpointer().await;
    // Firing: acknowledged, the log holds the entries and the map does not.
    let r = env.shared.store().read().unwrap();
    assert_eq!(r.size(), env.s.log.len() as u64);
    assert!(r.index_covers() < r.size(), "the ack waited for the map");
    assert!(r.index_root().is_err(), "a map behind its log answered");
    drop(r);
    // Quiet: the weapon acquired last is filed under its serial, and its
    // dossier proves it complete at the checkpoint the export signs.
    let (st, bytes) = env
        .get("/v1/firearms/map-stage%201/dossier", Some("regulator"))
        .await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&bytes));
    let report = verify_bundle(bytes.as_slice(), &VerifyOptions::default()).unwrap();
    assert!(report.authentic, "{:#?}", report.problems);
    assert_eq!(
        report.dossier.as_ref().unwrap().completeness,
        Completeness::Proven {
            basis: ProofBasis::Index
        },
        "{:#?}",
        report.warnings
    );
    let r = env.shared.store().read().unwrap();
    assert_eq!(r.index_covers(), r.size());
}

#[tokio::test]
async fn a_serial_check_and_a_full_export_answer_from_a_complete_map() {
    let env = idle_checkpointer().await;
    let (st, body) = env.get("/v1/serials/MAP-STAGE1", Some("police")).await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let check: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(check["recorded"], true, "{check}");
    assert_eq!(check["size"], env.s.log.len() as u64, "{check}");
    // A full export at that checkpoint carries the index's leaves, and its
    // verifier's rebuilt root is the signed one.
    let (st, bytes) = env.get("/v1/export", Some("regulator")).await;
    assert_eq!(st, StatusCode::OK);
    assert!(
        armsledger_bundle::BundleReader::new(bytes.as_slice())
            .any(|r| matches!(r.unwrap().item, Record::IndexLeaves(_))),
        "a full export at a complete map carries its leaves"
    );
    let report = verify_bundle(bytes.as_slice(), &VerifyOptions::default()).unwrap();
    assert!(report.authentic, "{:#?}", report.problems);
}
