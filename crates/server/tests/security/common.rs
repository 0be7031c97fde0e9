//! The in-process server the security tests drive: a data directory, the
//! router, a scenario (acme/north and other-co/south) and one token per role.

use std::collections::HashMap;
use std::sync::Arc;

use armsledger_core::entry::SignedEntry;
use armsledger_core::testkit::{Scenario, T0};
use armsledger_server::{Config, Shared, app, spawn_workers};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

pub struct Env {
    pub dir: tempfile::TempDir,
    pub shared: Arc<Shared>,
    pub app: Router,
    pub s: Scenario,
    tokens: HashMap<&'static str, String>,
}

/// The roles tokens are made for.
pub const ROLES: [&str; 9] = [
    "regulator",
    "auditor",
    "police",
    "company:acme",
    "company:other-co",
    "company:third-co",
    "site:north",
    "site:south",
    "site:east",
];

/// The configuration every environment starts from, over `dir`.
pub fn config(dir: &std::path::Path, s: &Scenario) -> Config {
    Config {
        data_dir: dir.to_path_buf(),
        regulator_key: Some(hex::encode(s.regulator_key())),
        manufacturer_roots: vec![hex::encode(s.root_key())],
        checkpoint_interval_ms: 10,
        max_body_bytes: 1 << 20,
        max_batch_entries: 64,
        ..Config::default()
    }
}

pub async fn env() -> Env {
    env_with(|_| {}).await
}

/// An environment whose configuration `tweak` changes first.
pub async fn env_with(tweak: impl FnOnce(&mut Config)) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Scenario::standard();
    s.company_with_site("other-co", "south");
    s.company_with_site("third-co", "east");
    let mut c = config(dir.path(), &s);
    tweak(&mut c);
    let shared = Shared::open(c).unwrap();
    spawn_workers(shared.clone());
    let tokens = ROLES
        .iter()
        .map(|role| {
            let t = shared
                .tokens()
                .create(role.parse().unwrap(), role, T0)
                .unwrap()
                .0;
            (*role, t)
        })
        .collect();
    let app = app(shared.clone());
    Env {
        dir,
        shared,
        app,
        s,
        tokens,
    }
}

impl Env {
    /// The token of `role` (one of [`ROLES`]).
    pub fn token(&self, role: &str) -> &str {
        self.tokens.get(role).unwrap()
    }

    /// The log size.
    pub fn size(&self) -> u64 {
        self.shared.store().read().unwrap().size()
    }

    /// POSTs `entries` with `token`; the status and JSON body.
    pub async fn post_as(
        &self,
        token: Option<&str>,
        entries: &[Arc<SignedEntry>],
    ) -> (StatusCode, serde_json::Value) {
        let (st, b) = call(&self.app, "POST", "/v1/entries", token, batch(entries)).await;
        (st, json(&b))
    }

    /// POSTs the scenario's whole log so far with the regulator's token,
    /// and waits for a checkpoint that covers it.
    pub async fn post_log(&self) {
        let log = self.s.log.clone();
        let (st, b) = call(
            &self.app,
            "POST",
            "/v1/entries?wait=true",
            Some(self.token("regulator")),
            batch(&log),
        )
        .await;
        assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    }

    /// GET `uri` as `role` (or without a token).
    pub async fn get(&self, uri: &str, role: Option<&str>) -> (StatusCode, Vec<u8>) {
        let token = role.map(|r| self.token(r).to_string());
        call(&self.app, "GET", uri, token.as_deref(), vec![]).await
    }

    /// The value of a counter on `/metrics`.
    pub async fn metric(&self, name: &str) -> f64 {
        let (_, b) = call(&self.app, "GET", "/metrics", None, vec![]).await;
        let text = String::from_utf8(b).unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no metric {name} in\n{text}"))
    }
}

pub fn batch(entries: &[Arc<SignedEntry>]) -> Vec<u8> {
    let raw: Vec<Vec<u8>> = entries.iter().map(|e| e.bytes().to_vec()).collect();
    postcard::to_allocvec(&raw).unwrap()
}

pub fn json(b: &[u8]) -> serde_json::Value {
    serde_json::from_slice(b).unwrap_or(serde_json::Value::Null)
}

pub async fn call(
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

/// The same entry with one bit of its signature flipped.
pub fn forged(e: &SignedEntry) -> Arc<SignedEntry> {
    let mut b = e.bytes().to_vec();
    b[e.header_bytes().len() + 1] ^= 1;
    Arc::new(SignedEntry::decode(&b).unwrap())
}
