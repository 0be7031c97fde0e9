//! Who may write which chain (issue 13, "Ingest needs a token"): a token
//! whose role may write every entry's chain, checked before any signature
//! work, and the rate limit charged to that token.

use armsledger_core::event::RegulatorEvent;
use armsledger_core::testkit::{note, v};
use axum::http::StatusCode;

use crate::common::{env, env_with, forged};

#[tokio::test]
async fn ingest_needs_a_token_whose_role_may_write_the_chain() {
    let mut env = env().await;
    let regulator_chain = env.s.log.clone();
    // Firing: no token, an unknown one, the read-only roles, and a site
    // writing the regulator chain.
    let refusals = [
        (None, StatusCode::UNAUTHORIZED),
        (Some("als_not-a-token"), StatusCode::UNAUTHORIZED),
        (Some(env.token("auditor")), StatusCode::FORBIDDEN),
        (Some(env.token("company:acme")), StatusCode::FORBIDDEN),
        (Some(env.token("site:north")), StatusCode::FORBIDDEN),
    ];
    for (token, want) in refusals {
        let (st, body) = env.post_as(token, &regulator_chain).await;
        assert_eq!(st, want, "{token:?}: {body}");
    }
    assert_eq!(env.size(), 0, "nothing refused was logged");
    // Quiet: the regulator writes its chain.
    let (st, body) = env
        .post_as(Some(env.token("regulator")), &regulator_chain)
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let n = env.size();

    // A site writes its own chain, and no other.
    let (_, north) = env.s.acquire("north", "N-1");
    let (_, south) = env.s.acquire("south", "S-1");
    let refusals = [
        (env.token("site:south"), vec![north.clone()]),
        (env.token("site:east"), vec![south.clone()]),
        // One foreign entry in a batch refuses the batch.
        (env.token("site:north"), vec![north.clone(), south.clone()]),
        (env.token("auditor"), vec![north.clone()]),
        (env.token("company:acme"), vec![north.clone()]),
    ];
    for (token, batch) in refusals {
        let (st, body) = env.post_as(Some(token), &batch).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body["type"], "forbidden", "{body}");
    }
    assert_eq!(env.size(), n);
    let (st, body) = env.post_as(Some(env.token("site:north")), &[north]).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let (st, body) = env.post_as(Some(env.token("site:south")), &[south]).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(env.size(), n + 2);
}

/// Before: 32 clients posting forged signatures with no credentials at all
/// raised honest ingest latency from 5 ms to 3 s, every batch costing a
/// signature check. Now they are refused on the token, before the signature
/// stage sees them.
#[tokio::test]
async fn an_unauthenticated_forged_flood_is_refused_before_any_signature_work() {
    let mut env = env().await;
    env.post_log().await;
    let (_, genuine) = env.s.acquire("north", "F-1");
    let fake = forged(&genuine);
    let n = env.size();
    let checked = env.metric("armsledger_signatures_checked_total").await;
    let rejected = env.metric("armsledger_batches_rejected_total").await;
    for _ in 0..64 {
        let (st, body) = env.post_as(None, std::slice::from_ref(&fake)).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(body["type"], "unauthenticated", "{body}");
    }
    // A token that may not write north's chain is refused just as early.
    for role in ["auditor", "site:south", "company:acme"] {
        let (st, body) = env
            .post_as(Some(env.token(role)), std::slice::from_ref(&fake))
            .await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{role}: {body}");
    }
    assert_eq!(
        env.metric("armsledger_signatures_checked_total").await,
        checked,
        "no signature was checked for a refused caller"
    );
    assert_eq!(
        env.metric("armsledger_batches_rejected_total").await,
        rejected
    );
    // Quiet: with north's own token the forgery reaches the signature
    // stage and is refused there; the genuine entry is logged.
    let north = env.token("site:north").to_string();
    let (st, body) = env.post_as(Some(&north), &[fake]).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(env.metric("armsledger_signatures_checked_total").await > checked);
    let (st, body) = env.post_as(Some(&north), &[genuine]).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(env.size(), n + 1);
}

/// Before: anyone could replay logged regulator entries; each replay was
/// answered `duplicate` and charged to the regulator chain's rate limit,
/// and 7 of 10 honest regulator batches then got 429.
#[tokio::test]
async fn replayed_regulator_entries_are_refused_and_do_not_spend_the_regulators_budget() {
    // 4 entries a second, a burst of 40: the scenario's regulator chain and
    // one more batch fit, a replay of the chain would not.
    let mut env = env_with(|c| c.token_rate_per_second = 4).await;
    let logged = env.s.log.clone();
    assert!(logged.len() + 5 <= 40, "{} regulator entries", logged.len());
    assert!(2 * logged.len() > 40);
    env.post_log().await;
    for role in ["site:north", "company:acme", "auditor"] {
        for _ in 0..10 {
            let (st, body) = env.post_as(Some(env.token(role)), &logged).await;
            assert_eq!(st, StatusCode::FORBIDDEN, "{role}: {body}");
        }
    }
    // The regulator's own next batch is still within its budget.
    let more: Vec<_> = (0..5)
        .map(|i| {
            env.s.regulator(RegulatorEvent::PersonBarred {
                person: v(&format!("rogue-{i}")),
                reason: note("misconduct"),
                until: None,
            })
        })
        .collect();
    let (st, body) = env.post_as(Some(env.token("regulator")), &more).await;
    assert_eq!(st, StatusCode::OK, "{body}");
}

/// The limit is per token: a site that floods is limited, and the others,
/// the regulator included, are served.
#[tokio::test]
async fn a_token_over_its_rate_is_limited_and_other_tokens_are_not() {
    let mut env = env_with(|c| c.token_rate_per_second = 4).await;
    env.post_log().await;
    let north = env.token("site:north").to_string();
    let flood: Vec<_> = (0..10)
        .map(|i| env.s.acquire("north", &format!("F-{i}")).1)
        .collect();
    let (st, body) = env.post_as(Some(&north), &flood).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    // North replays its batch: within its burst of 40, then 429.
    let mut limited = false;
    for _ in 0..10 {
        let (st, body) = env.post_as(Some(&north), &flood).await;
        if st == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(body["type"], "rate-limited", "{body}");
            limited = true;
            break;
        }
        assert_eq!(st, StatusCode::OK, "{body}");
    }
    assert!(limited, "north was never limited");
    // Quiet: south and the regulator are served.
    let (_, south) = env.s.acquire("south", "S-1");
    let (st, body) = env.post_as(Some(env.token("site:south")), &[south]).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let bar = env.s.regulator(RegulatorEvent::PersonBarred {
        person: v("rogue"),
        reason: note("misconduct"),
        until: None,
    });
    let (st, body) = env.post_as(Some(env.token("regulator")), &[bar]).await;
    assert_eq!(st, StatusCode::OK, "{body}");
}
