//! Router tests, in-process: every endpoint with every role, ingest of real
//! signed entries, proofs checked with only the published key, and every
//! refusal leaving the log untouched.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::expect_used)]

use std::sync::Arc;

use armsledger_core::entry::{EntryBody, SignedEntry};
use armsledger_core::event::{Event, RegulatorEvent, SiteEvent};
use armsledger_core::ids::Timestamp;
use armsledger_core::model::{Item, Reliance};
use armsledger_core::testkit::{Scenario, T0, note, v};
use armsledger_log::{LogVerifier, open_checkpoint, verify_consistency, verify_inclusion};
use armsledger_server::{Clock, Config, Shared, app, spawn_workers};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

struct Env {
    _dir: tempfile::TempDir,
    shared: Arc<Shared>,
    app: Router,
    s: Scenario,
    regulator: String,
    auditor: String,
    acme: String,
    other: String,
    north: String,
}

async fn env() -> Env {
    env_on(Clock::System).await
}

/// An environment whose server reads the time from `clock`.
async fn env_on(clock: Clock) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Scenario::standard();
    s.company_with_site("other-co", "south");
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        regulator_key: Some(hex::encode(s.regulator_key())),
        manufacturer_roots: vec![hex::encode(s.root_key())],
        checkpoint_interval_ms: 10,
        max_body_bytes: 1 << 20,
        max_batch_entries: 64,
        ..Config::default()
    };
    let shared = Shared::open_with_clock(config, clock).unwrap();
    spawn_workers(shared.clone());
    let tok = |role: &str| {
        shared
            .tokens()
            .create(role.parse().unwrap(), role, T0)
            .unwrap()
            .0
    };
    let (regulator, auditor, acme, other, north) = (
        tok("regulator"),
        tok("auditor"),
        tok("company:acme"),
        tok("company:other-co"),
        tok("site:north"),
    );
    let app = app(shared.clone());
    Env {
        _dir: dir,
        shared,
        app,
        s,
        regulator,
        auditor,
        acme,
        other,
        north,
    }
}

fn batch(entries: &[Arc<SignedEntry>]) -> Vec<u8> {
    let raw: Vec<Vec<u8>> = entries.iter().map(|e| e.bytes().to_vec()).collect();
    postcard::to_allocvec(&raw).unwrap()
}

async fn call(
    app: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, Vec<u8>) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let resp = app
        .clone()
        .oneshot(req.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, bytes)
}

async fn post(
    env: &Env,
    entries: &[Arc<SignedEntry>],
    wait: bool,
) -> (StatusCode, serde_json::Value) {
    let uri = if wait {
        "/v1/entries?wait=true"
    } else {
        "/v1/entries"
    };
    let (st, b) = call(&env.app, "POST", uri, Some(&env.regulator), batch(entries)).await;
    (
        st,
        serde_json::from_slice(&b).unwrap_or(serde_json::Value::Null),
    )
}

fn size(env: &Env) -> u64 {
    env.shared.store().read().unwrap().size()
}

/// Acquires and issues a pistol at north so queries have something to show.
fn activity(s: &mut Scenario) {
    let (gun, _) = s.acquire("north", "GLK 100");
    s.site(
        "north",
        "armourer-1",
        SiteEvent::Issued {
            firearm: gun,
            to: v("guard-1"),
            purpose: note("patrol"),
            post: v("gate"),
            due_back: s.now.plus(Timestamp::HOUR),
            reliance: Reliance {
                licence: v("LIC-guard-1"),
                permit: v("PER-guard-1"),
                qualification: v("Q-guard-1"),
            },
            ammunition: vec![],
            ammunition_from: None,
        },
    );
}

#[tokio::test]
async fn ingest_is_idempotent_and_proofs_verify_with_the_published_key() {
    let mut env = env().await;
    activity(&mut env.s);
    let log = env.s.log.clone();
    let (st, body) = post(&env, &log, true).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let entries = body["entries"].as_array().unwrap();
    assert_eq!(entries.len(), log.len());
    assert!(entries.iter().all(|e| e["status"] == "logged"));

    // Retrying the same batch changes nothing and returns the same indexes.
    let (st2, body2) = post(&env, &log, false).await;
    assert_eq!(st2, StatusCode::OK);
    for (a, b) in entries.iter().zip(body2["entries"].as_array().unwrap()) {
        assert_eq!(a["index"], b["index"]);
        assert_eq!(b["status"], "duplicate");
    }
    assert_eq!(size(&env), log.len() as u64);

    // Check the receipt with nothing but the published verifier key.
    let (_, vkey) = call(&env.app, "GET", "/v1/log/key", None, vec![]).await;
    let verifier = LogVerifier::from_vkey(String::from_utf8(vkey).unwrap().trim()).unwrap();
    let note = body["checkpoint"].as_str().unwrap();
    let cp = open_checkpoint(note.as_bytes(), &verifier, verifier.name()).unwrap();
    assert_eq!(cp.checkpoint().size(), log.len() as u64);
    for (e, p) in log.iter().zip(body["proofs"].as_array().unwrap()) {
        let proof: Vec<armsledger_log::Hash> = p["proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h.as_str().unwrap().parse().unwrap())
            .collect();
        // The leaf is the receipt time and the entry: the proof covers both.
        let leaf = armsledger_log::EntryLeaf::new(p["received_at_ms"].as_u64().unwrap(), e.bytes());
        verify_inclusion(
            &leaf.hash(),
            p["index"].as_u64().unwrap(),
            cp.checkpoint().size(),
            &proof,
            cp.checkpoint().root(),
        )
        .unwrap();
    }

    // Grow the log; the consistency proof links the two checkpoints.
    let first = cp.checkpoint().clone();
    env.s.acquire("north", "GLK 101");
    let more = env.s.log[log.len()..].to_vec();
    let (st, body) = post(&env, &more, true).await;
    assert_eq!(st, StatusCode::OK);
    let cp2 = open_checkpoint(
        body["checkpoint"].as_str().unwrap().as_bytes(),
        &verifier,
        verifier.name(),
    )
    .unwrap();
    let uri = format!(
        "/v1/proof/consistency?old={}&new={}",
        first.size(),
        cp2.checkpoint().size()
    );
    let (st, b) = call(&env.app, "GET", &uri, Some(&env.auditor), vec![]).await;
    assert_eq!(st, StatusCode::OK);
    let j: serde_json::Value = serde_json::from_slice(&b).unwrap();
    let proof: Vec<armsledger_log::Hash> = j["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap().parse().unwrap())
        .collect();
    verify_consistency(
        first.size(),
        cp2.checkpoint().size(),
        first.root(),
        cp2.checkpoint().root(),
        &proof,
    )
    .unwrap();
}

#[tokio::test]
async fn every_endpoint_with_every_role() {
    let mut env = env().await;
    activity(&mut env.s);
    let log = env.s.log.clone();
    assert_eq!(post(&env, &log, true).await.0, StatusCode::OK);
    let gun_hash = log.last().unwrap().hash();
    use StatusCode as S;
    // (path, [none, regulator, auditor, company:acme, company:other-co, site:north])
    let table: Vec<(String, [S; 6])> = vec![
        ("/checkpoint".into(), [S::OK; 6]),
        ("/v1/log/key".into(), [S::OK; 6]),
        (
            "/tile/0/000.p/".to_string() + &size(&env).to_string(),
            [S::OK; 6],
        ),
        (
            "/tile/entries/000.p/".to_string() + &size(&env).to_string(),
            [
                S::UNAUTHORIZED,
                S::OK,
                S::OK,
                S::FORBIDDEN,
                S::FORBIDDEN,
                S::FORBIDDEN,
            ],
        ),
        (
            format!("/v1/proof/inclusion?hash={gun_hash}&size={}", size(&env)),
            [S::UNAUTHORIZED, S::OK, S::OK, S::OK, S::OK, S::OK],
        ),
        (
            // Another company cannot tell the serial exists.
            "/v1/firearms/glk100/trace".into(),
            [S::UNAUTHORIZED, S::OK, S::OK, S::OK, S::NOT_FOUND, S::OK],
        ),
        (
            "/v1/sites/north/inventory".into(),
            [S::UNAUTHORIZED, S::OK, S::OK, S::OK, S::FORBIDDEN, S::OK],
        ),
        (
            "/v1/sites/north/reconciliation".into(),
            [S::UNAUTHORIZED, S::OK, S::OK, S::OK, S::FORBIDDEN, S::OK],
        ),
        (
            "/v1/sites/north/integrity".into(),
            [S::UNAUTHORIZED, S::OK, S::OK, S::OK, S::FORBIDDEN, S::OK],
        ),
        (
            "/v1/alerts".into(),
            [S::UNAUTHORIZED, S::OK, S::OK, S::OK, S::OK, S::OK],
        ),
        (
            "/v1/findings".into(),
            [S::UNAUTHORIZED, S::OK, S::OK, S::OK, S::OK, S::OK],
        ),
        (
            "/v1/transfers".into(),
            [S::UNAUTHORIZED, S::OK, S::OK, S::OK, S::OK, S::OK],
        ),
        (
            "/v1/equivocations".into(),
            [
                S::UNAUTHORIZED,
                S::OK,
                S::OK,
                S::FORBIDDEN,
                S::FORBIDDEN,
                S::FORBIDDEN,
            ],
        ),
        (
            "/v1/pull/north".into(),
            [
                S::UNAUTHORIZED,
                S::OK,
                S::FORBIDDEN,
                S::FORBIDDEN,
                S::FORBIDDEN,
                S::OK,
            ],
        ),
        (
            "/v1/tokens".into(),
            [
                S::UNAUTHORIZED,
                S::OK,
                S::FORBIDDEN,
                S::FORBIDDEN,
                S::FORBIDDEN,
                S::FORBIDDEN,
            ],
        ),
        (
            "/v1/export".into(),
            [
                S::UNAUTHORIZED,
                S::OK,
                S::OK,
                S::FORBIDDEN,
                S::FORBIDDEN,
                S::FORBIDDEN,
            ],
        ),
        (
            "/v1/export?company=acme".into(),
            [
                S::UNAUTHORIZED,
                S::OK,
                S::OK,
                S::OK,
                S::FORBIDDEN,
                S::FORBIDDEN,
            ],
        ),
        (
            "/v1/export?site=north".into(),
            [S::UNAUTHORIZED, S::OK, S::OK, S::OK, S::FORBIDDEN, S::OK],
        ),
        (
            "/v1/firearms/glk100/dossier".into(),
            [S::UNAUTHORIZED, S::OK, S::OK, S::OK, S::NOT_FOUND, S::OK],
        ),
        // A serial check answers about every company: regulator and auditor only.
        (
            "/v1/serials/glk100".into(),
            [
                S::UNAUTHORIZED,
                S::OK,
                S::OK,
                S::FORBIDDEN,
                S::FORBIDDEN,
                S::FORBIDDEN,
            ],
        ),
        (
            "/v1/serials/never-seen".into(),
            [
                S::UNAUTHORIZED,
                S::OK,
                S::OK,
                S::FORBIDDEN,
                S::FORBIDDEN,
                S::FORBIDDEN,
            ],
        ),
        (
            "/v1/trace-requests".into(),
            [S::UNAUTHORIZED, S::OK, S::OK, S::OK, S::OK, S::OK],
        ),
        ("/v1/checkpoint/stable".into(), [S::OK; 6]),
        ("/healthz".into(), [S::OK; 6]),
        ("/metrics".into(), [S::OK; 6]),
        ("/openapi.json".into(), [S::OK; 6]),
    ];
    let tokens = [
        None,
        Some(env.regulator.as_str()),
        Some(env.auditor.as_str()),
        Some(env.acme.as_str()),
        Some(env.other.as_str()),
        Some(env.north.as_str()),
    ];
    for (path, want) in &table {
        for (tok, want) in tokens.iter().zip(want) {
            let (got, body) = call(&env.app, "GET", path, *tok, vec![]).await;
            assert_eq!(
                got,
                *want,
                "GET {path} as {tok:?}: {}",
                String::from_utf8_lossy(&body)
            );
        }
    }
    // Company and site roles see only their own findings and alerts.
    let (_, b) = call(
        &env.app,
        "GET",
        "/v1/alerts?at=2027-06-01",
        Some(&env.other),
        vec![],
    )
    .await;
    let alerts: Vec<serde_json::Value> = serde_json::from_slice(&b).unwrap();
    assert!(alerts.iter().all(|a| a["company"] != "acme"), "{alerts:?}");
    let (_, b) = call(
        &env.app,
        "GET",
        "/v1/alerts?at=2027-06-01",
        Some(&env.acme),
        vec![],
    )
    .await;
    let alerts: Vec<serde_json::Value> = serde_json::from_slice(&b).unwrap();
    assert!(
        alerts.iter().any(|a| a["rule"] == "return-overdue"),
        "{alerts:?}"
    );

    // Token management: regulator creates and revokes; the revoked token stops working.
    let body =
        serde_json::to_vec(&serde_json::json!({"role": "auditor", "label": "court"})).unwrap();
    let req = Request::post("/v1/tokens")
        .header("authorization", format!("Bearer {}", env.regulator))
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap();
    let resp = env.app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), S::OK);
    let j: serde_json::Value =
        serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
    let new = j["token"].as_str().unwrap().to_string();
    let id = j["record"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        call(&env.app, "GET", "/v1/findings", Some(&new), vec![])
            .await
            .0,
        S::OK
    );
    let (st, _) = call(
        &env.app,
        "DELETE",
        &format!("/v1/tokens/{id}"),
        Some(&env.auditor),
        vec![],
    )
    .await;
    assert_eq!(st, S::FORBIDDEN);
    let (st, _) = call(
        &env.app,
        "DELETE",
        &format!("/v1/tokens/{id}"),
        Some(&env.regulator),
        vec![],
    )
    .await;
    assert_eq!(st, S::OK);
    assert_eq!(
        call(&env.app, "GET", "/v1/findings", Some(&new), vec![])
            .await
            .0,
        S::UNAUTHORIZED
    );
}

#[tokio::test]
async fn refusals_store_nothing() {
    let mut env = env().await;
    let base = env.s.log.clone();
    assert_eq!(post(&env, &base, false).await.0, StatusCode::OK);
    let n = size(&env);

    // A bad signature.
    let (_, good) = env.s.acquire("north", "BAD-SIG");
    let mut bytes = good.bytes().to_vec();
    let sig_at = good.header_bytes().len() + 10;
    bytes[sig_at] ^= 1;
    let forged = Arc::new(SignedEntry::decode(&bytes).unwrap());
    let (st, body) = post(&env, &[forged], false).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["title"].as_str().unwrap().contains("signature"),
        "{body}"
    );
    assert_eq!(size(&env), n);

    // A gap: the next entry without the one before it (the good acquisition).
    let (_, next) = env.s.acquire("north", "AFTER-GAP");
    let (st, body) = post(&env, std::slice::from_ref(&next), false).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["entry"]["counter"], next.counter());
    assert_eq!(size(&env), n);

    // The right order is accepted.
    assert_eq!(
        post(&env, &[good.clone(), next.clone()], false).await.0,
        StatusCode::OK
    );
    let n = size(&env);

    // A fork: a second entry for the last counter, validly signed by the same key.
    let signer = env.s.sites.get(&v("north")).unwrap().clone();
    let mut fork = signer.clone();
    fork.head = (good.counter(), good.hash());
    let body = EntryBody {
        format: Default::default(),
        occurred_at: env.s.now,
        officer: v("armourer-2"),
        links: vec![],
        event: Event::Site(SiteEvent::Annotated {
            about: good.hash(),
            text: note("a different story"),
        }),
    };
    let forked = Arc::new(fork.sign(body, env.s.now));
    assert_eq!(forked.counter(), next.counter());
    let (st, body) = post(&env, &[forked], false).await;
    assert_eq!(st, StatusCode::CONFLICT, "{body}");
    assert_eq!(size(&env), n);
    let (_, b) = call(
        &env.app,
        "GET",
        "/v1/equivocations",
        Some(&env.regulator),
        vec![],
    )
    .await;
    let eq: Vec<serde_json::Value> = serde_json::from_slice(&b).unwrap();
    assert_eq!(eq.len(), 1);
    let (_, b) = call(&env.app, "GET", "/v1/alerts", Some(&env.acme), vec![]).await;
    let alerts: Vec<serde_json::Value> = serde_json::from_slice(&b).unwrap();
    assert_eq!(alerts[0]["rule"], "key-equivocated", "{alerts:?}");
    let (_, b) = call(&env.app, "GET", "/v1/alerts", Some(&env.other), vec![]).await;
    let alerts: Vec<serde_json::Value> = serde_json::from_slice(&b).unwrap();
    assert!(
        alerts.iter().all(|a| a["rule"] != "key-equivocated"),
        "another company does not see it"
    );

    // An unknown site: a chain whose key was never enrolled.
    let mut rogue = Scenario::standard();
    rogue.company_with_site("acme", "ghost");
    let ghost = rogue.acquire("ghost", "G-1").1;
    let (st, body) = post(&env, &[ghost], false).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(size(&env), n);

    // A revoked key: revoke north's key after its current counter, then sign on.
    let revoke = env.s.regulator(RegulatorEvent::DeviceKeyRevoked {
        site: v("north"),
        public_key: signer.public_key(),
        after_counter: next.counter(),
        reason: note("device stolen"),
    });
    assert_eq!(post(&env, &[revoke], false).await.0, StatusCode::OK);
    let n = size(&env);
    let late = env.s.site(
        "north",
        "armourer-1",
        SiteEvent::StorageMoved {
            item: Item::Firearm(armsledger_core::testkit::pistol("AFTER-GAP").id()),
            from: v("vault"),
            to: v("rack-1"),
        },
    );
    let (st, body) = post(&env, &[late], false).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["title"].as_str().unwrap().contains("revoked"),
        "{body}"
    );
    assert_eq!(size(&env), n);

    // Malformed and oversize bodies.
    let writer = Some(env.regulator.as_str());
    let (st, _) = call(&env.app, "POST", "/v1/entries", writer, vec![0xff; 10]).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let (st, _) = call(&env.app, "POST", "/v1/entries", writer, vec![0; 2 << 20]).await;
    assert_eq!(st, StatusCode::PAYLOAD_TOO_LARGE);
    let many: Vec<Vec<u8>> = vec![vec![1, 2, 3]; 65];
    let (st, _) = call(
        &env.app,
        "POST",
        "/v1/entries",
        writer,
        postcard::to_allocvec(&many).unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::PAYLOAD_TOO_LARGE);
    let (st, _) = call(
        &env.app,
        "POST",
        "/v1/entries",
        writer,
        postcard::to_allocvec(&vec![vec![0u8; 5]]).unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(size(&env), n);
}

#[tokio::test]
async fn starts_with_no_setup_and_refuses_ingest_until_a_regulator_key_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    let shared = Shared::open(config).unwrap();
    assert!(dir.path().join("log.key").exists() && dir.path().join("log.vkey").exists());
    let (token, _) = shared
        .tokens()
        .create("regulator".parse().unwrap(), "regulator", T0)
        .unwrap();
    let app = app(shared);
    assert_eq!(
        call(&app, "GET", "/healthz", None, vec![]).await.0,
        StatusCode::OK
    );
    assert_eq!(
        call(&app, "GET", "/v1/log/key", None, vec![]).await.0,
        StatusCode::OK
    );
    // No checkpoint signed yet (no checkpointer runs): a serial check
    // says so, as a mirror that has not followed its origin yet does.
    let (st, body) = call(&app, "GET", "/v1/serials/SN-1", Some(&token), vec![]).await;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["type"], "no-checkpoint", "{v}");
    assert!(
        v["title"]
            .as_str()
            .unwrap()
            .contains("none signed since the server opened its log"),
        "{v}"
    );
    let s = Scenario::standard();
    let (st, body) = call(&app, "POST", "/v1/entries", Some(&token), batch(&s.log)).await;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE);
    assert!(String::from_utf8_lossy(&body).contains("--regulator-key"));
    // Given later, the key is pinned and ingest works.
    drop(app);
}

#[tokio::test]
async fn receipt_times_never_go_back_when_the_server_clock_does() {
    let wall = Timestamp(
        u64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis(),
        )
        .unwrap(),
    );
    let clock = Clock::manual(wall);
    let mut env = env_on(clock.clone()).await;
    activity(&mut env.s);
    let log = env.s.log.clone();
    let (first, rest) = log.split_at(log.len() - 2);
    // Quiet: receipt times are the server's clock.
    let (st, body) = post(&env, first, true).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let received = |i: u64| {
        env.shared
            .store()
            .read()
            .unwrap()
            .entry(i)
            .unwrap()
            .unwrap()
            .received_at
    };
    let last = received(size(&env) - 1);
    assert_eq!(last, wall);
    // The clock steps back an hour: the last receipt is now an hour ahead
    // of it, and new entries are stamped with that receipt time, not earlier.
    clock.set(wall.minus(Timestamp::HOUR));
    let (st, body) = post(&env, rest, true).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let n = size(&env);
    assert_eq!(received(n - 1), last);
    assert_eq!(received(n - 2), last);
}

/// Issue 13: an export carries what the server knows. After a device clone
/// is caught (409, proof stored), the full export verifies offline with the
/// equivocation in it, and with the findings the server raised, each one
/// reproduced by the verifier; a site's export carries only its own.
#[tokio::test]
async fn exports_carry_the_equivocations_and_findings_the_server_knows() {
    let mut env = env().await;
    let (gun, acquired) = env.s.acquire("north", "EXP-1");
    // A finding: an issue to someone holding no licence.
    let issue = env.s.site(
        "north",
        "armourer-1",
        SiteEvent::Issued {
            firearm: gun,
            to: v("stranger"),
            purpose: note("patrol"),
            post: v("gate"),
            due_back: env.s.now.plus(Timestamp::HOUR),
            reliance: Reliance {
                licence: v("LIC-x"),
                permit: v("PER-x"),
                qualification: v("Q-x"),
            },
            ammunition: vec![],
            ammunition_from: None,
        },
    );
    let log = env.s.log.clone();
    assert_eq!(post(&env, &log, true).await.0, StatusCode::OK);
    // North's device is cloned: the clone signs another entry at the issue's counter.
    let mut clone = env.s.sites.get(&v("north")).unwrap().clone();
    clone.head = (acquired.counter(), acquired.hash());
    let other = Arc::new(clone.sign(
        EntryBody {
            format: Default::default(),
            occurred_at: env.s.now,
            officer: v("armourer-2"),
            links: vec![],
            event: Event::Site(SiteEvent::Annotated {
                about: acquired.hash(),
                text: note("a different story"),
            }),
        },
        env.s.now,
    ));
    assert_eq!(other.counter(), issue.counter());
    assert_eq!(post(&env, &[other], false).await.0, StatusCode::CONFLICT);

    let verifier = LogVerifier::from_vkey(env.shared.log_vkey()).unwrap();
    let export = |uri: &'static str| {
        let app = env.app.clone();
        let token = env.regulator.clone();
        let verifier = verifier.clone();
        async move {
            let (st, bytes) = call(&app, "GET", uri, Some(&token), vec![]).await;
            assert_eq!(st, StatusCode::OK, "{uri}");
            armsledger_bundle::verify_bundle(
                bytes.as_slice(),
                &armsledger_bundle::VerifyOptions {
                    trusted_key: Some(verifier),
                    ..armsledger_bundle::VerifyOptions::default()
                },
            )
            .unwrap()
        }
    };
    let full = export("/v1/export").await;
    assert!(full.authentic(), "{:#?}", full.problems);
    assert_eq!(full.equivocations.len(), 1, "the clone is in the export");
    let q = &full.equivocations[0];
    assert_eq!(
        (q.chain.as_str(), q.counter, q.entry),
        ("site:north", issue.counter(), issue.hash())
    );
    assert!(full.server.findings >= 1, "{:#?}", full.server);
    assert_eq!(full.server.reproduced, full.server.findings);
    let north = export("/v1/export?site=north").await;
    assert!(north.authentic(), "{:#?}", north.problems);
    assert_eq!(north.equivocations.len(), 1);
    assert!(north.server.findings >= 1);
    let south = export("/v1/export?site=south").await;
    assert!(south.authentic(), "{:#?}", south.problems);
    assert!(south.equivocations.is_empty());
}

/// `POST /v1/notes` with `token`.
async fn post_notes(env: &Env, token: &str, notes: serde_json::Value) -> (StatusCode, String) {
    let mut req = Request::builder()
        .method("POST")
        .uri("/v1/notes")
        .header("content-type", "application/json");
    req = req.header("authorization", format!("Bearer {token}"));
    let resp = env
        .app
        .clone()
        .oneshot(
            req.body(Body::from(serde_json::to_vec(&notes).unwrap()))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = resp.status();
    let b = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, String::from_utf8_lossy(&b).into_owned())
}

fn upload(
    entry: &SignedEntry,
    opening: &armsledger_core::note::NoteOpening,
    class: &str,
) -> serde_json::Value {
    serde_json::json!({"entry": entry.hash(), "opening": opening, "class": class})
}

/// A pistol serviced at north (its reason and work sealed), sent to south;
/// the openings sent beside the entries. Returns the maintenance-out entry.
fn serviced_and_sent(
    s: &mut Scenario,
) -> (
    Arc<SignedEntry>,
    armsledger_core::note::NoteOpening,
    Arc<SignedEntry>,
) {
    use armsledger_core::model::{Condition, DocKind, MaintenanceKind};
    let (gun, _) = s.acquire("north", "GLK 300");
    let why = armsledger_core::testkit::opening("bore pitted; guard-1 reported it after the range");
    let out = s.site(
        "north",
        "armourer-1",
        SiteEvent::MaintenanceOut {
            firearm: gun,
            kind: MaintenanceKind::Repair,
            provider: v("Gunsmith Ltd"),
            reason: why.seal(),
        },
    );
    s.site(
        "north",
        "armourer-1",
        SiteEvent::MaintenanceIn {
            firearm: gun,
            condition: Condition::Serviceable,
            work: note("barrel replaced"),
            location: v("vault"),
        },
    );
    let sent = s.site(
        "north",
        "armourer-1",
        SiteEvent::TransferredOut {
            to_site: v("south"),
            to_company: v("other-co"),
            firearms: vec![gun],
            rounds: vec![],
            rounds_from: None,
            permit: armsledger_core::testkit::doc(DocKind::TransferAuthorisation, "TA-1"),
            carrier: None,
        },
    );
    s.site(
        "south",
        "armourer-2",
        SiteEvent::TransferredIn {
            transfer: armsledger_core::event::EntryRef {
                site: v("north"),
                counter: sent.counter(),
                hash: sent.hash(),
            },
            firearms: vec![gun],
            rounds: vec![],
            location: v("vault"),
            note: None,
        },
    );
    (out, why, sent)
}

/// The summaries of the trace of GLK 300 as `token` sees them.
async fn summaries(env: &Env, token: &str) -> Vec<String> {
    let (st, b) = call(
        &env.app,
        "GET",
        "/v1/firearms/glk300/trace",
        Some(token),
        vec![],
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let t: serde_json::Value = serde_json::from_slice(&b).unwrap();
    t["firearms"][0]["timeline"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["summary"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn note_openings_are_kept_only_for_notes_on_the_ledger_and_read_only_by_the_right_roles() {
    let mut env = env().await;
    let (out, why, sent) = serviced_and_sent(&mut env.s);
    let log = env.s.log.clone();
    assert_eq!(post(&env, &log, true).await.0, StatusCode::OK);
    let text = "to maintenance at Gunsmith Ltd: bore pitted; guard-1 reported it after the range";

    // An opening of another text (or salt) for the entry's note: refused.
    let wrong = armsledger_core::testkit::opening("bore pitted");
    let (st, body) = post_notes(
        &env,
        &env.north,
        serde_json::json!({"notes": [upload(&out, &wrong, "case")]}),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("does not open"), "{body}");
    // Beside an entry that carries no note, or one not in the log: refused.
    let (st, body) = post_notes(
        &env,
        &env.north,
        serde_json::json!({"notes": [upload(&sent, &why, "case")]}),
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{body}");
    assert!(body.contains("carries no sealed note"), "{body}");
    let unlogged = env.s.site(
        "north",
        "armourer-1",
        SiteEvent::ArmouryOpened { with: vec![] },
    );
    let (st, body) = post_notes(
        &env,
        &env.north,
        serde_json::json!({"notes": [upload(&unlogged, &why, "case")]}),
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{body}");
    // Another company may not send notes of north's chain.
    let (st, _) = post_notes(
        &env,
        &env.other,
        serde_json::json!({"notes": [upload(&out, &why, "case")]}),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    // Before the opening arrives every reader sees only that a note exists.
    let sealed = format!(
        "to maintenance at Gunsmith Ltd: sealed note {}",
        why.seal().short()
    );
    assert!(summaries(&env, &env.regulator).await.contains(&sealed));

    // The right opening from the site that wrote it: kept once.
    let (st, body) = post_notes(
        &env,
        &env.north,
        serde_json::json!({"notes": [upload(&out, &why, "case")]}),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert!(body.contains("\"kept\":1"), "{body}");
    let (st, body) = post_notes(
        &env,
        &env.north,
        serde_json::json!({"notes": [upload(&out, &why, "case")]}),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert!(body.contains("\"already\":1"), "{body}");

    // The regulator, the auditor, the owning company and site read the text.
    for token in [&env.regulator, &env.auditor, &env.acme, &env.north] {
        let s = summaries(&env, token).await;
        assert!(s.iter().any(|l| l == text), "{s:?}");
    }
    // The next holder sees the weapon's provenance, not north's note.
    let s = summaries(&env, &env.other).await;
    assert!(s.contains(&sealed), "{s:?}");
    assert!(!s.iter().any(|l| l.contains("guard-1")), "{s:?}");
}

#[tokio::test]
async fn an_erased_note_reads_as_erased_and_everything_still_verifies() {
    let mut env = env().await;
    let (out, why, _) = serviced_and_sent(&mut env.s);
    let log = env.s.log.clone();
    assert_eq!(post(&env, &log, true).await.0, StatusCode::OK);
    let (st, _) = post_notes(
        &env,
        &env.north,
        serde_json::json!({"notes": [upload(&out, &why, "case")]}),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert!(
        env.shared
            .store()
            .note(&why.seal())
            .unwrap()
            .unwrap()
            .opening
            .is_some()
    );

    let erasure = env.s.regulator(RegulatorEvent::NotesErased {
        notes: vec![why.seal()],
        ground: armsledger_core::note::ErasureGround::LawfulOrder(v("DPA-2027-0412")),
        erased_on: Timestamp::parse("2027-03-01").unwrap(),
    });
    assert_eq!(
        post(&env, std::slice::from_ref(&erasure), true).await.0,
        StatusCode::OK
    );
    // The opening is gone, the record of its erasure kept.
    let rec = env.shared.store().note(&why.seal()).unwrap().unwrap();
    assert!(rec.opening.is_none());
    assert_eq!(rec.erased.as_ref().unwrap().entry, erasure.hash());
    // Sent again after the erasure, it is not taken back in.
    let (st, body) = post_notes(
        &env,
        &env.north,
        serde_json::json!({"notes": [upload(&out, &why, "case")]}),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert!(body.contains("\"already\":1"), "{body}");
    assert!(
        env.shared
            .store()
            .note(&why.seal())
            .unwrap()
            .unwrap()
            .opening
            .is_none()
    );

    let erased = "to maintenance at Gunsmith Ltd: note erased on 2027-03-01 under DPA-2027-0412";
    for token in [&env.regulator, &env.acme, &env.other] {
        let s = summaries(&env, token).await;
        assert!(s.iter().any(|l| l == erased), "{s:?}");
        assert!(!s.iter().any(|l| l.contains("guard-1")), "{s:?}");
    }
    // The store still checks clean, every entry still in the log.
    assert_eq!(size(&env), log.len() as u64 + 1);
    let fsck = env.shared.store().fsck().unwrap();
    assert!(fsck.problems.is_empty(), "{fsck:?}");
    assert_eq!(fsck.entries, log.len() as u64 + 1);
}

/// Issue 17, retention: the review dates each sealed note from the ledger
/// (a revoked person's reason from the revocation, an active person's not
/// at all), records the end of retention in the note store, and is the
/// regulator's alone.
#[tokio::test]
async fn the_retention_review_dates_notes_from_the_ledger_for_the_regulator_only() {
    use armsledger_core::event::Revocable;
    use armsledger_core::testkit::opening;
    let mut env = env().await;
    let left = opening("guard-2 failed a drug test");
    let active = opening("guard-1 under investigation");
    let revoked = env.s.regulator(RegulatorEvent::PersonRevoked {
        person: v("guard-2"),
        what: Revocable::Licence,
        reason: left.seal(),
    });
    let barred = env.s.regulator(RegulatorEvent::PersonBarred {
        person: v("guard-1"),
        reason: active.seal(),
        until: Some(Timestamp::parse("2099-01-01").unwrap()),
    });
    let log = env.s.log.clone();
    assert_eq!(post(&env, &log, true).await.0, StatusCode::OK);
    let (st, body) = post_notes(
        &env,
        &env.regulator,
        serde_json::json!({"notes": [upload(&revoked, &left, "person"), upload(&barred, &active, "person")]}),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{body}");

    let tokens = [
        (None, StatusCode::UNAUTHORIZED),
        (Some(env.auditor.as_str()), StatusCode::FORBIDDEN),
        (Some(env.acme.as_str()), StatusCode::FORBIDDEN),
        (Some(env.north.as_str()), StatusCode::FORBIDDEN),
    ];
    for (tok, want) in tokens {
        let (st, _) = call(&env.app, "POST", "/v1/retention/review", tok, vec![]).await;
        assert_eq!(st, want, "{tok:?}");
    }
    // By default only the notes due: none yet.
    let (st, b) = call(
        &env.app,
        "POST",
        "/v1/retention/review",
        Some(&env.regulator),
        vec![],
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let due: serde_json::Value = serde_json::from_slice(&b).unwrap();
    assert!(due["notes"].as_array().unwrap().is_empty(), "{due:#}");
    assert_eq!(due["kept"], 2, "{due:#}");
    let (st, b) = call(
        &env.app,
        "POST",
        "/v1/retention/review?all=true",
        Some(&env.regulator),
        vec![],
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let r: serde_json::Value = serde_json::from_slice(&b).unwrap();
    let of = |note: &armsledger_core::note::SealedNote| {
        r["notes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["note"] == note.commitment().to_string())
            .unwrap()
            .clone()
    };
    // Default policy: six years after the person leaves; not due yet.
    let l = of(&left.seal());
    assert_eq!(l["due"], false, "{r:#}");
    assert!(
        l["reason"]
            .as_str()
            .unwrap()
            .starts_with("guard-2 left on "),
        "{l:#}"
    );
    let a = of(&active.seal());
    assert_eq!(a["reason"], "guard-1 is still active", "{a:#}");
    assert!(a["retain_until"].is_null(), "{a:#}");
    // The store keeps the end of retention of the one whose period started.
    let rec = env.shared.store().note(&left.seal()).unwrap().unwrap();
    let received = env
        .shared
        .store()
        .read()
        .unwrap()
        .entry_by_hash(&revoked.hash())
        .unwrap()
        .unwrap()
        .received_at;
    assert_eq!(
        rec.retain_until,
        Some(Timestamp(received.0 + 6 * 365 * Timestamp::DAY))
    );
    let rec = env.shared.store().note(&active.seal()).unwrap().unwrap();
    assert_eq!(rec.retain_until, None);
    // Each review is in the access log (the refused calls are not).
    let (_, b) = call(
        &env.app,
        "GET",
        "/v1/access-log",
        Some(&env.regulator),
        vec![],
    )
    .await;
    let log: serde_json::Value = serde_json::from_slice(&b).unwrap();
    let reviews: Vec<_> = log["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["route"] == "/v1/retention/review")
        .collect();
    assert_eq!(reviews.len(), 2, "{log:#}");
    assert_eq!(reviews[0]["role"], "regulator", "{log:#}");
}
