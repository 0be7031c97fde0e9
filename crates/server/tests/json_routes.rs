//! Every JSON route of the API, read on a realistic ledger (core's testkit
//! `Showcase`: a corrected serial, a count, ammunition, a transfer between
//! companies, a finding, a theft), served in-process. The list of routes is
//! taken from the OpenAPI document, so a new route is read here without
//! anyone adding it. Every answer must parse as JSON and keep the API's
//! conventions (RFC 3339 times, kebab-case rule ids, hex ids); every error
//! must be a problem document.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::expect_used,
    clippy::panic
)]

use std::sync::Arc;

use armsledger_core::entry::SignedEntry;
use armsledger_core::ids::Timestamp;
use armsledger_core::testkit::{Showcase, T0};
use armsledger_server::{Clock, Config, Shared, app, spawn_workers};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

struct Env {
    _dir: tempfile::TempDir,
    app: Router,
    show: Showcase,
    regulator: String,
    token_id: String,
}

struct Answer {
    status: StatusCode,
    content_type: String,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self, what: &str) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{what}: {} is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

async fn call(app: &Router, method: &str, uri: &str, token: Option<&str>, body: Vec<u8>) -> Answer {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    if method == "POST" && uri.starts_with("/v1/tokens") {
        req = req.header("content-type", "application/json");
    }
    let resp = app
        .clone()
        .oneshot(req.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    Answer {
        status,
        content_type,
        body,
    }
}

async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let show = Showcase::new();
    let s = &show.scenario;
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        regulator_key: Some(hex::encode(s.regulator_key())),
        manufacturer_roots: vec![hex::encode(s.root_key())],
        checkpoint_interval_ms: 10,
        max_body_bytes: 1 << 20,
        max_batch_entries: 64,
        ..Config::default()
    };
    // Received a month after the scenario began: no device clock runs ahead.
    let clock = Clock::manual(T0.plus(30 * Timestamp::DAY));
    let shared: Arc<Shared> = Shared::open_with_clock(config, clock).unwrap();
    spawn_workers(shared.clone());
    let (regulator, record) = shared
        .tokens()
        .create("regulator".parse().unwrap(), "regulator", T0)
        .unwrap();
    let app = app(shared.clone());
    for chunk in show.log().chunks(64) {
        let raw: Vec<Vec<u8>> = chunk
            .iter()
            .map(|e: &Arc<SignedEntry>| e.bytes().to_vec())
            .collect();
        let a = call(
            &app,
            "POST",
            "/v1/entries?wait=true",
            Some(&regulator),
            postcard::to_allocvec(&raw).unwrap(),
        )
        .await;
        assert_eq!(
            a.status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(&a.body)
        );
    }
    Env {
        _dir: dir,
        app,
        show,
        regulator,
        token_id: record.id,
    }
}

/// Keys whose values are times: each must be an RFC 3339 string (or null).
const TIME_KEYS: &[&str] = &[
    "time",
    "at",
    "from",
    "until",
    "due_back",
    "received_at",
    "sent_at",
    "reported_at",
    "issued_at",
    "created_at",
    "revoked_at",
    "since",
];

/// Walks `v` and checks the conventions; returns what it saw for the caller's asserts.
fn conventions(route: &str, v: &Value, path: &str) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let here = format!("{path}.{k}");
                if TIME_KEYS.contains(&k.as_str()) && !x.is_null() {
                    // `from`/`until` of custody, validity and the like are times;
                    // `from` of a serial change is a serial, `at` of alerts a time.
                    if let Some(s) = x.as_str() {
                        if k != "from" && k != "to" {
                            assert!(
                                Timestamp::parse(s).is_some(),
                                "{route} {here}: {s:?} is not RFC 3339"
                            );
                        }
                    } else {
                        assert!(!x.is_number(), "{route} {here}: a time as a number: {x}");
                    }
                }
                if k == "rule" {
                    let s = x.as_str().unwrap_or_else(|| panic!("{route} {here}: {x}"));
                    assert!(
                        s.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                        "{route} {here}: rule id {s:?} is not kebab-case"
                    );
                }
                if k == "id" || k == "lot" || k == "firearm" {
                    assert!(!x.is_array(), "{route} {here}: an id as a byte array: {x}");
                }
                conventions(route, x, &here);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                conventions(route, x, &format!("{path}[{i}]"));
            }
        }
        _ => {}
    }
}

/// A realistic value for a path or query parameter.
fn value(env: &Env, name: &str) -> Option<String> {
    Some(match name {
        "serial" => Showcase::SERIAL.to_string(),
        "lot" => "L-24-0917".into(),
        "site" => "north".into(),
        "id" => env.token_id.clone(),
        "hash" => env.show.log()[3].hash().to_string(),
        "size" | "new" => env.show.log().len().to_string(),
        "old" => "2".into(),
        _ => return None,
    })
}

#[tokio::test]
async fn every_json_route_answers_json_on_a_realistic_ledger() {
    let env = env().await;
    let doc = call(&env.app, "GET", "/openapi.json", None, vec![])
        .await
        .json("openapi");
    let mut read = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let Some(op) = item.get("get") else { continue };
        let ok = &op["responses"]["200"];
        let json = ok["content"]
            .as_object()
            .is_some_and(|c| c.keys().any(|k| k == "application/json"));
        if !json {
            continue;
        }
        let mut uri = path.clone();
        let mut query = Vec::new();
        for p in op["parameters"].as_array().into_iter().flatten() {
            let name = p["name"].as_str().unwrap();
            match p["in"].as_str() {
                Some("path") => {
                    let v =
                        value(&env, name).unwrap_or_else(|| panic!("{path}: no value for {name}"));
                    uri = uri.replace(&format!("{{{name}}}"), &v.replace(' ', "%20"));
                }
                Some("query") if p["required"] == true => {
                    let v =
                        value(&env, name).unwrap_or_else(|| panic!("{path}: no value for {name}"));
                    query.push(format!("{name}={v}"));
                }
                _ => {}
            }
        }
        if !query.is_empty() {
            uri = format!("{uri}?{}", query.join("&"));
        }
        let a = call(&env.app, "GET", &uri, Some(&env.regulator), vec![]).await;
        assert_eq!(
            a.status,
            StatusCode::OK,
            "{uri}: {}",
            String::from_utf8_lossy(&a.body)
        );
        assert!(
            a.content_type.starts_with("application/json"),
            "{uri}: {}",
            a.content_type
        );
        conventions(&uri, &a.json(&uri), "");
        read.push(path.clone());
    }
    for must in [
        "/v1/sites/{site}/reconciliation",
        "/v1/sites/{site}/inventory",
        "/v1/firearms/{serial}/trace",
        "/v1/lots/{lot}/trace",
        "/v1/findings",
        "/v1/alerts",
        "/v1/transfers",
        "/v1/pull/{site}",
        "/v1/proof/inclusion",
        "/v1/tokens",
        "/healthz",
    ] {
        assert!(read.iter().any(|p| p == must), "{must} not read: {read:?}");
    }
}

#[tokio::test]
async fn reconciliation_of_a_site_holding_a_lot_is_keyed_by_lot_id() {
    let env = env().await;
    let r = call(
        &env.app,
        "GET",
        "/v1/sites/north/reconciliation",
        Some(&env.regulator),
        vec![],
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    let r = r.json("reconciliation");
    let lot = env.show.lot.to_string();
    assert_eq!(r["lots"][&lot]["received"], 500, "{r:#}");
    assert_eq!(r["lots"][&lot]["transferred_out"], 100, "{r:#}");
    assert_eq!(
        r["persons"]["guard-1"][&lot],
        serde_json::json!([30, 25, 5]),
        "{r:#}"
    );
}

#[tokio::test]
async fn the_trace_finds_either_serial_counts_included_and_honours_every_view() {
    let env = env().await;
    let get = |uri: String| {
        let app = env.app.clone();
        let t = env.regulator.clone();
        async move {
            let a = call(&app, "GET", &uri, Some(&t), vec![]).await;
            assert_eq!(
                a.status,
                StatusCode::OK,
                "{uri}: {}",
                String::from_utf8_lossy(&a.body)
            );
            a.json(&uri)
        }
    };
    let corrected = get(format!("/v1/firearms/{}/trace", Showcase::SERIAL)).await;
    let f = &corrected["firearms"][0];
    assert_eq!(f["id"], env.show.corrected.to_string());
    let events = f["timeline"]["events"].as_array().unwrap();
    assert_eq!(events.len(), 7, "{f:#}");
    assert!(events.iter().any(|e| e["kind"] == "count-performed"));
    assert_eq!(f["proofs"].as_array().unwrap().len(), 7);
    // One trace: the server lists exactly the events core's trace lists from
    // all the entries, as the offline `trace --bundle` does.
    let s = &env.show.scenario;
    let mut ver = armsledger_core::LedgerVerifier::new(
        s.regulator_key(),
        vec![s.root_key()],
        armsledger_core::rules::View::Corrected,
    );
    for e in env.show.log() {
        ver.ingest(e.clone(), None).unwrap();
    }
    let offline = armsledger_core::report::trace(
        ver.engine(),
        Showcase::SERIAL,
        armsledger_core::report::TraceView::Corrected,
        || env.show.log().iter().map(|e| (None, None, e.as_ref())),
    );
    let offline: Vec<String> = offline.firearms[0]
        .timeline
        .events
        .iter()
        .map(|e| e.hash.to_string())
        .collect();
    let served: Vec<String> = events
        .iter()
        .map(|e| e["hash"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(served, offline);
    assert!(
        f["proofs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| !p.as_array().unwrap().is_empty())
    );
    // By the mistyped serial, in the original view: found, and it says so.
    let original = get(format!(
        "/v1/firearms/{}/trace?view=original",
        Showcase::MISTYPED
    ))
    .await;
    let o = &original["firearms"][0];
    assert_eq!(o["id"], env.show.corrected.to_string());
    assert_eq!(o["matched_current_serial"], false);
    assert_eq!(o["identity"]["serial"], Showcase::MISTYPED);
    assert_eq!(o["serial_changes"][0]["from"], Showcase::MISTYPED);
    assert_eq!(o["serial_changes"][0]["to"], Showcase::SERIAL);
    // Both is not corrected: the recorded text with the correction beside it.
    let both = get(format!("/v1/firearms/{}/trace?view=both", Showcase::SERIAL)).await;
    assert_eq!(both["view"], "both");
    let acq = &both["firearms"][0]["timeline"]["events"][0];
    assert!(
        acq["summary"]
            .as_str()
            .unwrap()
            .contains(Showcase::MISTYPED),
        "{acq:#}"
    );
    assert!(
        acq["corrected_summary"]
            .as_str()
            .unwrap()
            .contains(Showcase::SERIAL),
        "{acq:#}"
    );
    assert_ne!(
        both["firearms"][0]["timeline"],
        corrected["firearms"][0]["timeline"]
    );
}

#[tokio::test]
async fn findings_filter_by_rule_time_and_override_with_kebab_case_rules() {
    let env = env().await;
    let all = call(
        &env.app,
        "GET",
        "/v1/findings",
        Some(&env.regulator),
        vec![],
    )
    .await
    .json("findings");
    let all = all.as_array().unwrap();
    assert!(
        all.iter()
            .any(|f| f["finding"]["rule"] == "qualification-current"),
        "{all:#?}"
    );
    let q = call(
        &env.app,
        "GET",
        "/v1/findings?rule=qualification-current&overridden=false&site=north",
        Some(&env.regulator),
        vec![],
    )
    .await
    .json("filtered");
    let q = q.as_array().unwrap();
    assert!(
        !q.is_empty()
            && q.iter()
                .all(|f| f["finding"]["rule"] == "qualification-current")
    );
    let none = call(
        &env.app,
        "GET",
        "/v1/findings?since=2030-01-01",
        Some(&env.regulator),
        vec![],
    )
    .await
    .json("later");
    assert_eq!(none, serde_json::json!([]));
}

#[tokio::test]
async fn every_error_is_a_problem_document() {
    let env = env().await;
    let t = Some(env.regulator.as_str());
    for (method, uri, body, status) in [
        ("GET", "/v1/proof/inclusion?hash=zz&size=x", vec![], 400),
        ("GET", "/v1/proof/inclusion", vec![], 400),
        ("GET", "/v1/proof/consistency?old=a&new=2", vec![], 400),
        (
            "GET",
            "/v1/pull/north?regulator_from=minus-one",
            vec![],
            400,
        ),
        (
            "GET",
            "/v1/firearms/GLK-001/trace?view=sideways",
            vec![],
            400,
        ),
        ("GET", "/v1/findings?rule=QualificationCurrent", vec![], 400),
        ("GET", "/v1/findings?overridden=perhaps", vec![], 400),
        ("GET", "/v1/firearms/NOPE-1/trace", vec![], 404),
        ("GET", "/v1/no-such-route", vec![], 404),
        ("DELETE", "/v1/findings", vec![], 405),
        ("POST", "/v1/tokens", b"{not json".to_vec(), 400),
    ] {
        let a = call(&env.app, method, uri, t, body).await;
        assert_eq!(
            a.status.as_u16(),
            status,
            "{method} {uri}: {}",
            String::from_utf8_lossy(&a.body)
        );
        assert_eq!(a.content_type, "application/problem+json", "{method} {uri}");
        let p = a.json(uri);
        assert_eq!(p["status"], status, "{p}");
        assert!(p["type"].is_string() && p["title"].is_string(), "{p}");
    }
}

/// `GET /v1/reports/{name}`: every report in every format, scoped by the
/// token; the periodic return's JSON is a filed return that checks against
/// the server's own ledger.
#[tokio::test]
async fn reports_answer_in_each_format_scoped_by_the_token() {
    let env = env().await;
    let reg = Some(env.regulator.as_str());
    let token = |role: &'static str| {
        let app = env.app.clone();
        let reg = env.regulator.clone();
        async move {
            let body = serde_json::json!({"role": role, "label": role}).to_string();
            call(&app, "POST", "/v1/tokens", Some(&reg), body.into_bytes())
                .await
                .json("token")["token"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    for name in [
        "issues",
        "counts",
        "losses",
        "expiries",
        "transfers",
        "disposals",
        "personnel",
        "access",
        "summary",
    ] {
        for (format, mime) in [
            ("csv", "text/csv"),
            ("json", "application/json"),
            ("html", "text/html"),
        ] {
            let uri = format!("/v1/reports/{name}?format={format}");
            let a = call(&env.app, "GET", &uri, reg, vec![]).await;
            assert_eq!(
                a.status,
                StatusCode::OK,
                "{uri}: {}",
                String::from_utf8_lossy(&a.body)
            );
            assert!(
                a.content_type.starts_with(mime),
                "{uri}: {}",
                a.content_type
            );
        }
    }
    // The regulator's summary has both companies; acme's token only acme.
    let all = call(
        &env.app,
        "GET",
        "/v1/reports/summary?format=json",
        reg,
        vec![],
    )
    .await
    .json("summary");
    let companies: Vec<&str> = all["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["company"].as_str().unwrap())
        .collect();
    assert_eq!(companies, ["acme", "other-co"]);
    let acme = token("company:acme").await;
    let mine = call(
        &env.app,
        "GET",
        "/v1/reports/summary?format=json",
        Some(&acme),
        vec![],
    )
    .await
    .json("summary");
    assert_eq!(mine["rows"].as_array().unwrap().len(), 1);
    assert_eq!(mine["rows"][0]["company"], "acme");
    // The stolen weapon is in acme's loss register, not in other-co's.
    let losses = call(
        &env.app,
        "GET",
        "/v1/reports/losses?format=json",
        Some(&acme),
        vec![],
    )
    .await
    .json("losses");
    assert_eq!(losses["rows"].as_array().unwrap().len(), 1);
    let other = token("company:other-co").await;
    let none = call(
        &env.app,
        "GET",
        "/v1/reports/losses?format=json",
        Some(&other),
        vec![],
    )
    .await
    .json("losses");
    assert_eq!(none["rows"].as_array().unwrap().len(), 0);
    // Another company's site, or another company, is refused.
    for uri in [
        "/v1/reports/issues?site=north",
        "/v1/reports/issues?company=acme",
    ] {
        let a = call(&env.app, "GET", uri, Some(&other), vec![]).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{uri}");
    }
    let south = token("site:south").await;
    let a = call(
        &env.app,
        "GET",
        "/v1/reports/expiries?format=json",
        Some(&south),
        vec![],
    )
    .await
    .json("expiries");
    assert_eq!(
        a["rows"].as_array().unwrap().len(),
        0,
        "a site sees no persons"
    );
    // Bad requests.
    for uri in [
        "/v1/reports/nonsense",
        "/v1/reports/issues?format=pdf",
        "/v1/reports/issues?from=yesterday",
        "/v1/reports/return?site=north",
    ] {
        let a = call(&env.app, "GET", uri, reg, vec![]).await;
        assert_eq!(
            a.status,
            StatusCode::BAD_REQUEST,
            "{uri}: {}",
            String::from_utf8_lossy(&a.body)
        );
    }
    // The periodic return of north over the whole showcase, from the server.
    let from = T0.minus(Timestamp::DAY).rfc3339();
    let to = T0.plus(365 * Timestamp::DAY).rfc3339();
    let uri = format!("/v1/reports/return?site=north&from={from}&to={to}&format=json");
    let a = call(&env.app, "GET", &uri, reg, vec![]).await;
    assert_eq!(
        a.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&a.body)
    );
    let filed = armsledger_reports::periodic::parse(&a.body).unwrap();
    assert_eq!(filed.body.site.as_str(), "north");
    assert!(filed.body.checkpoint.size > 0);
    assert_eq!(filed.hash, filed.body.hash().unwrap());
    // Opening stock before the first entry is nothing.
    assert_eq!(filed.body.firearms.opening, 0);
}
