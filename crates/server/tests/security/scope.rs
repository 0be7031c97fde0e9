//! What a trace or a dossier shows (issue 13, "Traces" and "A serial's
//! existence leaks"): a company or site sees a weapon's history up to the
//! end of its own custody, never a later holder's officers and acts; the
//! regulator and auditors see all; trace and dossier agree; and a serial
//! the caller may not see answers exactly like one that does not exist.

use std::sync::Arc;

use armsledger_bundle::{BundleReader, Record, VerifyOptions, verify_bundle};
use armsledger_core::entry::{ChainId, SignedEntry};
use armsledger_core::event::{EntryRef, SiteEvent};
use armsledger_core::model::{DocKind, FirearmId, Item};
use armsledger_core::testkit::{doc, v};
use axum::http::StatusCode;

use crate::common::{Env, env, json};

/// Records `event` at `site` by that site's own armourer.
fn at(env: &mut Env, site: &str, event: SiteEvent) -> Arc<SignedEntry> {
    env.s.site(site, &format!("{site}-armourer"), event)
}

fn moved(gun: FirearmId) -> SiteEvent {
    SiteEvent::StorageMoved {
        item: Item::Firearm(gun),
        from: v("vault"),
        to: v("rack-1"),
    }
}

/// `from` sends `gun` to `to` (of `company`), which takes it in and moves it.
fn hand_over(env: &mut Env, gun: FirearmId, from: &str, to: &str, company: &str) {
    let out = at(
        env,
        from,
        SiteEvent::TransferredOut {
            to_site: v(to),
            to_company: v(company),
            firearms: vec![gun],
            rounds: vec![],
            rounds_from: None,
            permit: doc(DocKind::TransferAuthorisation, "TA-1"),
            carrier: None,
        },
    );
    at(
        env,
        to,
        SiteEvent::TransferredIn {
            transfer: EntryRef {
                site: v(from),
                counter: out.counter(),
                hash: out.hash(),
            },
            firearms: vec![gun],
            rounds: vec![],
            location: v("vault"),
            note: None,
        },
    );
    at(env, to, moved(gun));
}

/// A pistol acquired at north (acme), moved, sent to south (other-co),
/// moved there, sent on to east (third-co), moved there; and a second one
/// that never left north. Returns the whole history of the first.
async fn world() -> (Env, Vec<Arc<SignedEntry>>) {
    let mut env = env().await;
    let start = env.s.log.len();
    let (gun, _) = env.s.acquire("north", "TRAVEL-1");
    at(&mut env, "north", moved(gun));
    hand_over(&mut env, gun, "north", "south", "other-co");
    hand_over(&mut env, gun, "south", "east", "third-co");
    let history: Vec<_> = env.s.log[start..].to_vec();
    env.s.acquire("north", "STAYS-1");
    env.post_log().await;
    (env, history)
}

/// The entry hashes of a trace's timeline, and its JSON.
async fn trace(env: &Env, serial: &str, role: &str) -> (Vec<String>, serde_json::Value) {
    let (st, b) = env
        .get(&format!("/v1/firearms/{serial}/trace"), Some(role))
        .await;
    let body = json(&b);
    assert_eq!(st, StatusCode::OK, "trace as {role}: {body}");
    let hashes = body["firearms"][0]["timeline"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["hash"].as_str().unwrap().to_string())
        .collect();
    (hashes, body)
}

/// The site entries of a dossier, which must verify offline.
async fn dossier(env: &Env, serial: &str, role: &str) -> Vec<String> {
    let (st, b) = env
        .get(&format!("/v1/firearms/{serial}/dossier"), Some(role))
        .await;
    assert_eq!(
        st,
        StatusCode::OK,
        "dossier as {role}: {}",
        String::from_utf8_lossy(&b)
    );
    let report = verify_bundle(&b[..], &VerifyOptions::default()).unwrap();
    assert!(report.authentic, "dossier as {role}: {report:?}");
    BundleReader::new(&b[..])
        .filter_map(|r| match r.unwrap().item {
            Record::Entry(e) => Some(SignedEntry::decode(&e.bytes).unwrap()),
            _ => None,
        })
        .filter(|e| matches!(e.chain(), ChainId::Site(_)))
        .map(|e| e.hash().to_string())
        .collect()
}

#[tokio::test]
async fn a_holder_sees_the_history_up_to_the_end_of_its_own_custody() {
    let (env, history) = world().await;
    let hashes: Vec<String> = history.iter().map(|e| e.hash().to_string()).collect();
    // north: acquired, moved, sent (3); south: then received, moved, sent
    // on (6); east, the regulator and auditors: everything (8).
    let cases = [
        ("site:north", 3),
        ("company:acme", 3),
        ("site:south", 6),
        ("company:other-co", 6),
        ("site:east", 8),
        ("company:third-co", 8),
        ("regulator", 8),
        ("auditor", 8),
        ("police", 8),
    ];
    for (role, n) in cases {
        let (seen, body) = trace(&env, "TRAVEL-1", role).await;
        assert_eq!(seen, hashes[..n], "trace as {role}: {body}");
        // Firing for former holders: no later holder's officer, no later
        // site in the custody periods.
        let text = body.to_string();
        if n < 8 {
            assert!(!text.contains("east-armourer"), "{role} sees east: {text}");
            assert!(
                body["firearms"][0]["custody"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|c| c["site"] != "east"),
                "{role}: {text}"
            );
            assert_ne!(body["firearms"][0]["site"], "east", "{role}: {text}");
        }
        if n < 6 {
            assert!(
                !text.contains("south-armourer"),
                "{role} sees south: {text}"
            );
        }
        // The dossier shows exactly what the trace shows, and verifies.
        assert_eq!(
            dossier(&env, "TRAVEL-1", role).await,
            seen,
            "dossier as {role}"
        );
    }
}

#[tokio::test]
async fn a_serial_that_is_not_yours_answers_like_one_that_does_not_exist() {
    let (env, _) = world().await;
    let missing = |serial: &str| {
        serde_json::json!({
            "type": "not-found",
            "title": format!("no firearm with serial {serial}"),
            "status": 404,
        })
    };
    // STAYS-1 never left north: other companies cannot tell it exists.
    for role in ["site:south", "company:other-co", "site:east"] {
        for what in ["trace", "dossier"] {
            for serial in ["STAYS-1", "NEVER-MADE-1"] {
                let (st, b) = env
                    .get(&format!("/v1/firearms/{serial}/{what}"), Some(role))
                    .await;
                assert_eq!(st, StatusCode::NOT_FOUND, "{what} {serial} as {role}");
                assert_eq!(json(&b), missing(serial), "{what} {serial} as {role}");
            }
        }
    }
    // Quiet: its holder and the regulator see it.
    for role in ["site:north", "company:acme", "regulator"] {
        trace(&env, "STAYS-1", role).await;
        dossier(&env, "STAYS-1", role).await;
    }
}

#[tokio::test]
async fn the_police_check_and_trace_any_serial_but_read_no_whole_log_report_or_access_log() {
    let (env, _) = world().await;
    // Firing: every weapon, whoever holds it, and the serial check.
    let (seen, _) = trace(&env, "STAYS-1", "police").await;
    assert!(!seen.is_empty());
    dossier(&env, "TRAVEL-1", "police").await;
    let (st, b) = env.get("/v1/serials/TRAVEL-1", Some("police")).await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    // Quiet: what is the regulator's (and auditors') alone.
    for uri in [
        "/v1/export",
        "/v1/reports/summary",
        "/v1/access-log",
        "/v1/tokens",
    ] {
        let (st, b) = env.get(uri, Some("police")).await;
        assert_eq!(
            st,
            StatusCode::FORBIDDEN,
            "{uri} as police: {}",
            String::from_utf8_lossy(&b)
        );
    }
    // A company still may not check serials.
    let (st, _) = env.get("/v1/serials/TRAVEL-1", Some("company:acme")).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
}
