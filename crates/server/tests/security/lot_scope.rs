//! Who sees what of a lot that crossed companies (need to know, issues 17
//! and 24), on the console's world: lot L-24-0917 received at north (acme),
//! 100 rounds sent to south (other-co) and taken in there. One rule
//! (`visibility::lot_site_visible`) scopes the trace and the dossier: the
//! sender sees its rounds in transit, never the receiver's store; the
//! receiver sees the rounds it got and its own acts on them, never the
//! sender's guards; a party with no act on the lot gets the unknown lot's
//! 404 from both.

use armsledger_bundle::{BundleReader, Record, VerifyOptions, verify_bundle};
use armsledger_core::event::{Event, SiteEvent};
use armsledger_core::testkit::Showcase;
use armsledger_core::{ChainId, SignedEntry};
use axum::http::StatusCode;
use serde_json::Value;

use crate::common::{Env, env_of, json};

async fn showcase() -> Env {
    showcase_where(|_| true).await
}

/// The console's world with only the entries `keep` keeps, posted.
async fn showcase_where(keep: impl Fn(&SignedEntry) -> bool) -> Env {
    let mut s = Showcase::new().scenario;
    s.log.retain(|e| keep(e));
    let env = env_of(s, |c| {
        c.max_batch_entries = 4096;
        c.max_body_bytes = 16 << 20;
    })
    .await;
    env.post_log().await;
    env
}

/// `(site, holder in words, rounds)` of a list of holdings.
fn holdings(v: &Value) -> Vec<(String, String, i64)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|h| {
            let holder = &h["holder"];
            let words = match holder["kind"].as_str().unwrap() {
                "store" => format!("store {}", holder["location"].as_str().unwrap()),
                "person" => format!("person {}", holder["person"].as_str().unwrap()),
                _ => format!("in transit to {}", holder["to_site"].as_str().unwrap()),
            };
            (
                h["site"].as_str().unwrap().to_string(),
                words,
                h["rounds"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn owned(v: &[(&str, &str, i64)]) -> Vec<(String, String, i64)> {
    v.iter()
        .map(|(s, h, n)| (s.to_string(), h.to_string(), *n))
        .collect()
}

async fn trace(env: &Env, role: &str) -> (StatusCode, Value) {
    let (st, b) = env.get("/v1/lots/L-24-0917/trace", Some(role)).await;
    (st, json(&b))
}

/// The site chains of a lot dossier's entries, and whether it verifies.
async fn dossier(env: &Env, role: &str) -> (StatusCode, Vec<String>, bool) {
    let (st, b) = env.get("/v1/lots/L-24-0917/dossier", Some(role)).await;
    if st != StatusCode::OK {
        return (st, Vec::new(), false);
    }
    let chains = BundleReader::new(&b[..])
        .filter_map(|r| match r.unwrap().item {
            Record::Entry(e) => Some(SignedEntry::decode(&e.bytes).unwrap()),
            _ => None,
        })
        .filter(|e| matches!(e.chain(), ChainId::Site(_)))
        .map(|e| e.chain().to_string())
        .collect();
    let authentic = verify_bundle(&b[..], &VerifyOptions::default())
        .unwrap()
        .authentic;
    (st, chains, authentic)
}

#[tokio::test]
async fn the_sender_sees_its_rounds_in_transit_and_not_the_receivers_store() {
    let env = showcase().await;
    for role in ["site:north", "company:acme"] {
        let (st, t) = trace(&env, role).await;
        assert_eq!(st, StatusCode::OK, "{role}: {t}");
        let lot = &t["lots"][0];
        let steps = lot["steps"].as_array().unwrap();
        assert!(
            steps.iter().all(|s| s["chain"]["Site"] == "north"),
            "{role}: another site's act shown"
        );
        // The last act it sees is its own transfer-out: the 100 rounds are
        // in transit, answerable by north, on their way to south.
        let last = steps.last().unwrap();
        assert_eq!(last["kind"], "transferred-out");
        assert_eq!(
            holdings(&last["balances"]),
            owned(&[
                ("north", "store vault", 395),
                ("north", "in transit to south", 100)
            ])
        );
        // Firing: south's store holding (100 in its vault) is in no step and
        // not in the balances now.
        let text = t.to_string();
        assert!(!text.contains("\"site\":\"south\""), "{role}: {text}");
        assert_eq!(
            holdings(&lot["balances"]),
            owned(&[("north", "store vault", 395)])
        );
        assert_eq!(lot["complete"], true);
        let (st, chains, authentic) = dossier(&env, role).await;
        assert_eq!(st, StatusCode::OK);
        assert!(authentic, "{role}: its lot dossier does not verify");
        assert!(chains.iter().all(|c| c == "site:north"), "{chains:?}");
    }
    // Quiet: the regulator sees both sites' holdings.
    let (_, t) = trace(&env, "regulator").await;
    assert_eq!(
        holdings(&t["lots"][0]["balances"]),
        owned(&[("north", "store vault", 395), ("south", "store vault", 100)])
    );
    let (_, chains, authentic) = dossier(&env, "regulator").await;
    assert!(authentic);
    assert!(chains.iter().any(|c| c == "site:south"));
}

#[tokio::test]
async fn the_receiver_traces_the_rounds_it_got_and_a_stranger_gets_the_unknown_lots_404() {
    let env = showcase().await;
    for role in ["site:south", "company:other-co"] {
        // Quiet: the receiver is not refused; it sees what it holds.
        let (st, t) = trace(&env, role).await;
        assert_eq!(st, StatusCode::OK, "{role}: {t}");
        let lot = &t["lots"][0];
        let steps = lot["steps"].as_array().unwrap();
        assert_eq!(steps.len(), 1, "{role}: {t}");
        assert_eq!(steps[0]["kind"], "transferred-in");
        // Its arrival: the rounds in transit to it (north's) came in.
        assert_eq!(
            steps[0]["changes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| (
                    c["site"].as_str().unwrap(),
                    c["before"].as_i64().unwrap(),
                    c["after"].as_i64().unwrap()
                ))
                .collect::<Vec<_>>(),
            [("north", 100, 0), ("south", 0, 100)]
        );
        assert_eq!(
            holdings(&lot["balances"]),
            owned(&[("south", "store vault", 100)])
        );
        // Firing: nothing of the sender's own holding: its store, its
        // guards, its receipt, its officers.
        let text = t.to_string();
        for hidden in ["guard-1", "armourer-1", "witness-1", "\"rounds\":395"] {
            assert!(!text.contains(hidden), "{role}: {hidden} shown: {text}");
        }
        assert!(lot["receipts"].as_array().unwrap().is_empty());
        // The dossier: by the same rule, south's acts only, and it verifies.
        let (st, chains, authentic) = dossier(&env, role).await;
        assert_eq!(st, StatusCode::OK, "{role}");
        assert!(authentic, "{role}: its lot dossier does not verify");
        assert_eq!(chains, ["site:south"]);
    }
    // Firing: a site and a company with no act on the lot get, from the
    // trace and the dossier alike, the answer of a lot nobody recorded.
    for role in ["site:east", "company:third-co"] {
        for what in ["trace", "dossier"] {
            let (st, a) = env
                .get(&format!("/v1/lots/L-24-0917/{what}"), Some(role))
                .await;
            let (st2, b) = env
                .get(&format!("/v1/lots/NOPE-1/{what}"), Some(role))
                .await;
            assert_eq!((st, st2), (StatusCode::NOT_FOUND, StatusCode::NOT_FOUND));
            assert_eq!(
                String::from_utf8_lossy(&a).replace("L-24-0917", "X"),
                String::from_utf8_lossy(&b).replace("NOPE-1", "X"),
                "{role} {what}"
            );
        }
    }
}

/// While the 100 rounds travel (south has not taken them in), south has no
/// act on the lot: like a weapon in transit to it, the lot is not yet its
/// to trace (the transfer reaches it in its pull, as the transfers
/// addressed to it do), and the sender sees them in transit.
#[tokio::test]
async fn rounds_still_in_transit_are_the_senders_to_trace_until_the_receiver_takes_them_in() {
    let env = showcase_where(|e| {
        !matches!(
            &e.body().event,
            Event::Site(SiteEvent::TransferredIn { .. })
        )
    })
    .await;
    let (st, t) = trace(&env, "site:north").await;
    assert_eq!(st, StatusCode::OK, "{t}");
    assert_eq!(
        holdings(&t["lots"][0]["balances"]),
        owned(&[
            ("north", "store vault", 395),
            ("north", "in transit to south", 100)
        ])
    );
    for role in ["site:south", "company:other-co"] {
        let (st, _) = trace(&env, role).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{role}");
        let (st, _, _) = dossier(&env, role).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{role}");
    }
    // Quiet: the regulator sees the rounds on their way.
    let (_, t) = trace(&env, "regulator").await;
    assert_eq!(
        holdings(&t["lots"][0]["balances"]),
        owned(&[
            ("north", "store vault", 395),
            ("north", "in transit to south", 100)
        ])
    );
}
