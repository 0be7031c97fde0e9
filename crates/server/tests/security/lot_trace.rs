//! An ammunition lot's trace over HTTP (issue 24): the regulator and
//! auditors and the police see every holder, with a proof per act; a company sees its own
//! holders and acts only; a company that never held the lot gets the same
//! 404 as for a lot that does not exist; a window answers who held rounds.

use armsledger_core::LedgerVerifier;
use armsledger_core::report::{TraceView, trace_lots};
use armsledger_core::rules::View;
use armsledger_core::testkit::LotJourney;
use axum::http::StatusCode;

use crate::common::{Env, env_of, json};

async fn journey() -> (Env, LotJourney) {
    let j = LotJourney::new();
    let mut s = j.scenario.clone();
    s.company_with_site("third-co", "east");
    let env = env_of(s, |_| {}).await;
    env.post_log().await;
    (env, j)
}

async fn get(env: &Env, uri: &str, role: &str) -> (StatusCode, serde_json::Value) {
    let (st, b) = env.get(uri, Some(role)).await;
    (st, json(&b))
}

fn hashes(lot: &serde_json::Value) -> Vec<String> {
    lot["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["hash"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_regulator_sees_every_holder_and_the_balances_are_cores() {
    let (env, j) = journey().await;
    // The reference: core's trace of the same ledger, offline.
    let mut v = LedgerVerifier::new(
        j.scenario.regulator_key(),
        vec![j.scenario.root_key()],
        View::Corrected,
    );
    for e in j.log() {
        v.ingest(e.clone(), None).unwrap();
    }
    let offline = trace_lots(v.engine(), LotJourney::NUMBER, TraceView::Corrected, || {
        j.log().iter().map(|e| (None, None, e.as_ref()))
    });
    let offline = serde_json::to_value(&offline.lots[0]).unwrap();
    for role in ["regulator", "auditor", "police"] {
        let (st, t) = get(&env, "/v1/lots/lj%207/trace", role).await;
        assert_eq!(st, StatusCode::OK, "{role}: {t}");
        let lot = &t["lots"][0];
        assert_eq!(lot["identity"]["lot_number"], LotJourney::NUMBER);
        assert_eq!(
            hashes(lot),
            j.acts
                .iter()
                .map(|e| e.hash().to_string())
                .collect::<Vec<_>>()
        );
        for (i, (a, b)) in lot["steps"]
            .as_array()
            .unwrap()
            .iter()
            .zip(offline["steps"].as_array().unwrap())
            .enumerate()
        {
            assert_eq!(a["balances"], b["balances"], "{role}: step {i}");
            assert_eq!(a["flags"], b["flags"], "{role}: step {i}");
            assert!(a["index"].is_u64(), "{role}: step {i} has its log index");
        }
        assert_eq!(
            lot["proofs"].as_array().unwrap().len(),
            j.acts.len(),
            "{role}: a proof slot per act"
        );
    }
}

#[tokio::test]
async fn a_company_sees_its_own_holders_and_a_stranger_gets_the_unknown_lots_answer() {
    let (env, j) = journey().await;
    let (st, t) = get(&env, "/v1/lots/LJ-7/trace", "company:other-co").await;
    assert_eq!(st, StatusCode::OK, "{t}");
    let lot = &t["lots"][0];
    assert_eq!(
        hashes(lot),
        [2, 5, 9, 11].map(|i| j.acts[i].hash().to_string())
    );
    let text = t.to_string();
    assert!(!text.contains("guard-1"), "north's guard shown to other-co");
    assert!(
        !text.contains("armourer-1"),
        "north's officer shown to other-co"
    );
    assert!(lot["receipts"].as_array().unwrap().is_empty());
    // Quiet: acme sees its receipt and guards.
    let (st, t) = get(&env, "/v1/lots/LJ-7/trace", "company:acme").await;
    assert_eq!(st, StatusCode::OK);
    assert!(t.to_string().contains("guard-1"));
    // third-co never held it: the same answer as a lot nobody recorded.
    let (st, a) = env
        .get("/v1/lots/LJ-7/trace", Some("company:third-co"))
        .await;
    let (st2, b) = env
        .get("/v1/lots/LJ-7/trace", Some("company:third-co"))
        .await;
    assert_eq!((st, st2), (StatusCode::NOT_FOUND, StatusCode::NOT_FOUND));
    assert_eq!(a, b);
    let (st3, c) = env
        .get("/v1/lots/NOPE-1/trace", Some("company:third-co"))
        .await;
    assert_eq!(st3, StatusCode::NOT_FOUND);
    assert_eq!(
        String::from_utf8_lossy(&a).replace("LJ-7", "X"),
        String::from_utf8_lossy(&c).replace("NOPE-1", "X")
    );
    // Who asked about the lot is on the access log, by route and lot.
    let (st, log) = get(&env, "/v1/access-log?subject=LJ-7", "regulator").await;
    assert_eq!(st, StatusCode::OK);
    let routes: Vec<&str> = log["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["route"].as_str().unwrap())
        .collect();
    assert_eq!(routes, ["/v1/lots/{lot}/trace"; 2], "{log:#}");
}

#[tokio::test]
async fn a_window_answers_who_held_rounds_and_a_bad_one_is_refused() {
    let (env, j) = journey().await;
    let at = |i: usize| j.acts[i].header().device_time;
    let hour = armsledger_core::ids::Timestamp::HOUR;
    let uri = format!(
        "/v1/lots/LJ-7/trace?held_from={}&held_until={}",
        at(4).plus(hour),
        at(7).plus(hour)
    );
    let (st, t) = get(&env, &uri, "regulator").await;
    assert_eq!(st, StatusCode::OK, "{t}");
    let w = &t["lots"][0]["held_between"];
    let people: Vec<_> = w["holders"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["holder"]["kind"] == "person")
        .map(|h| {
            (
                h["holder"]["person"].as_str().unwrap().to_string(),
                h["issues"][0].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        people,
        [
            ("guard-1".to_string(), j.acts[3].hash().to_string()),
            ("guard-2".to_string(), j.acts[4].hash().to_string()),
            ("guard-3".to_string(), j.acts[5].hash().to_string()),
        ]
    );
    // No window asked: none given.
    let (_, t) = get(&env, "/v1/lots/LJ-7/trace", "regulator").await;
    assert!(t["lots"][0].get("held_between").is_none());
    // Half a window, or one backwards, is a 400 that says why.
    let (st, b) = env
        .get(
            &format!("/v1/lots/LJ-7/trace?held_from={}", at(4)),
            Some("regulator"),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&b).contains("both held_from and held_until"));
    let (st, b) = env
        .get(
            &format!(
                "/v1/lots/LJ-7/trace?held_from={}&held_until={}",
                at(7),
                at(4)
            ),
            Some("regulator"),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&b).contains("before"));
}

/// A lot's trace folds the whole ledger: like a point-in-time query, one
/// per token at a time, and it stops when its client goes away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lot_trace_is_one_per_token_at_a_time() {
    use tower::ServiceExt;
    let j = LotJourney::new();
    let mut s = j.scenario.clone();
    s.company_with_site("third-co", "east");
    for i in 0..2000 {
        s.acquire("north", &format!("BULK-{i:05}"));
    }
    let env = env_of(s, |c| {
        c.max_body_bytes = 16 << 20;
        c.max_batch_entries = 8192;
    })
    .await;
    env.post_log().await;
    let get = |token: &str| {
        axum::http::Request::get("/v1/lots/LJ-7/trace")
            .header("authorization", format!("Bearer {token}"))
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let mut first = Box::pin(env.app.clone().oneshot(get(env.token("regulator"))));
    tokio::select! {
        biased;
        _ = &mut first => panic!("answered before it could replay"),
        () = std::future::ready(()) => {}
    }
    // Firing: the same token's second trace waits its turn.
    let (st, b) = env.get("/v1/lots/LJ-7/trace", Some("regulator")).await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS, "{}", json(&b));
    assert!(
        json(&b)["title"]
            .as_str()
            .unwrap()
            .contains("one full replay of the ledger"),
        "{}",
        json(&b)
    );
    // Quiet: another token is served meanwhile.
    let (st, _) = env.get("/v1/lots/LJ-7/trace", Some("auditor")).await;
    assert_eq!(st, StatusCode::OK);
    // The first one, awaited, answers in full.
    let resp = first.await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}
