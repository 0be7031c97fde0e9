//! The server as a witness client, against real witnesses (the
//! `armsledger-witness` library serving on loopback ports, as its binary
//! does): every checkpoint gets cosigned, a witness that is down never
//! stops ingest and raises the quorum alert, which clears once it is back;
//! two regulators witness each other's logs.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::expect_used,
    clippy::panic
)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use armsledger_core::entry::SignedEntry;
use armsledger_core::testkit::{Scenario, T0};
use armsledger_log::{CosignerKey, LogVerifier, Policy};
use armsledger_server::{Clock, Config, Shared, app, spawn_workers};
use armsledger_witness::{Faults, FixedClock, Store, Witness};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// A witness served on a loopback port; it can be stopped and served again
/// on the same port with the same state.
struct LiveWitness {
    witness: Arc<Witness>,
    addr: std::net::SocketAddr,
    stop: Option<(
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
    )>,
}

impl LiveWitness {
    /// A witness named `name` (key from `seed`) that knows `logs`.
    fn new(dir: &Path, name: &str, seed: u8, logs: &[LogVerifier]) -> Self {
        let store = Store::open(&dir.join("witness.redb"), Faults::none()).unwrap();
        store.add_logs(logs).unwrap();
        let key = CosignerKey::from_seed(name, &[seed; 32]).unwrap();
        let witness = Witness::new(key, store, Arc::new(FixedClock(1_750_000_000))).unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        Self {
            witness: Arc::new(witness),
            addr,
            stop: None,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn policy_line(&self, label: &str) -> String {
        format!(
            "witness {label} {} {}\n",
            self.witness.verifier(),
            self.url()
        )
    }

    async fn start(&mut self) {
        let listener = tokio::net::TcpListener::bind(self.addr).await.unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let router = armsledger_witness::app(self.witness.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        });
        self.stop = Some((tx, task));
    }

    /// Stops serving: every connection is closed before this returns.
    async fn stop(&mut self) {
        if let Some((tx, task)) = self.stop.take() {
            let _ = tx.send(());
            task.await.unwrap();
        }
    }
}

struct Server {
    _dir: tempfile::TempDir,
    shared: Arc<Shared>,
    app: Router,
    regulator: String,
    s: Scenario,
}

/// A data directory whose log key exists already, so witnesses can know it
/// before the server starts.
fn log_key_for(dir: &Path) -> LogVerifier {
    let config = Config {
        data_dir: dir.to_path_buf(),
        ..Config::default()
    };
    armsledger_server::start::load_or_create_log_key(dir, &config)
        .unwrap()
        .verifier()
}

fn start_server(dir: tempfile::TempDir, policy: &str, alert_ms: u64) -> Server {
    let s = Scenario::standard();
    let policy_path = dir.path().join("witnesses.policy");
    std::fs::write(&policy_path, policy).unwrap();
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        regulator_key: Some(hex::encode(s.regulator_key())),
        manufacturer_roots: vec![hex::encode(s.root_key())],
        checkpoint_interval_ms: 10,
        stable_checkpoint_interval_ms: 100,
        witness_policy: Some(policy_path),
        witness_quorum_alert_ms: alert_ms,
        witness_retry_max_ms: 200,
        witness_timeout_ms: 2_000,
        ..Config::default()
    };
    let shared = Shared::open_with_clock(config, Clock::System).unwrap();
    spawn_workers(shared.clone());
    let regulator = shared
        .tokens()
        .create("regulator".parse().unwrap(), "regulator", T0)
        .unwrap()
        .0;
    Server {
        app: app(shared.clone()),
        _dir: dir,
        shared,
        regulator,
        s,
    }
}

async fn call(
    app: &Router,
    uri: &str,
    token: Option<&str>,
    body: Option<Vec<u8>>,
) -> (StatusCode, Vec<u8>) {
    let mut req = Request::builder()
        .method(if body.is_some() { "POST" } else { "GET" })
        .uri(uri);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let resp = app
        .clone()
        .oneshot(req.body(Body::from(body.unwrap_or_default())).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    (
        status,
        resp.into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
}

/// Ingests everything the scenario signed since `from`; asserts it was logged.
async fn ingest(server: &Server, from: usize) -> usize {
    let entries: Vec<Arc<SignedEntry>> = server.s.log[from..].to_vec();
    let raw: Vec<Vec<u8>> = entries.iter().map(|e| e.bytes().to_vec()).collect();
    let (st, body) = call(
        &server.app,
        "/v1/entries?wait=true",
        Some(&server.regulator),
        Some(postcard::to_allocvec(&raw).unwrap()),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    server.s.log.len()
}

async fn status(server: &Server) -> serde_json::Value {
    let (st, body) = call(&server.app, "/v1/witnesses", None, None).await;
    assert_eq!(st, StatusCode::OK);
    serde_json::from_slice(&body).unwrap()
}

/// Polls `/v1/witnesses` until `done` holds (a generous bound: the test
/// waits for an event, it does not time one).
async fn until(
    server: &Server,
    what: &str,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    for _ in 0..600 {
        let st = status(server).await;
        if done(&st) {
            return st;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} never happened: {}", status(server).await);
}

fn size(server: &Server) -> u64 {
    server.shared.store().read().unwrap().size()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_checkpoint_is_cosigned_and_exports_carry_the_quorum() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_key_for(dir.path());
    let wdir = tempfile::tempdir().unwrap();
    let mut w = LiveWitness::new(
        wdir.path(),
        "witness.state-b.example",
        0x42,
        std::slice::from_ref(&log),
    );
    w.start().await;
    let policy = format!("log {log}\n{}quorum b\n", w.policy_line("b"));
    let mut server = start_server(dir, &policy, 600_000);
    server.s.acquire("north", "GLK 1");
    ingest(&server, 0).await;
    let n = size(&server);
    let st = until(&server, "the quorum at the log's size", |st| {
        st["quorum_size"] == n
    })
    .await;
    assert_eq!(st["alert"], false);
    assert_eq!(st["witnesses"][0]["cosigned_size"], n);

    let (code, note) = call(&server.app, "/v1/checkpoint/cosigned", None, None).await;
    assert_eq!(code, StatusCode::OK);
    let note = String::from_utf8(note).unwrap();
    let policy = Policy::parse(&policy).unwrap();
    let checked = policy.verify(note.as_bytes()).unwrap();
    assert_eq!(checked.checkpoint().size(), n);
    assert_eq!(checked.cosigned()[0].0, "b");
    // The witness kept it as its latest, and serves it.
    assert_eq!(
        w.witness.store().latest(log.name()).unwrap().unwrap().size,
        n
    );

    // An export is written at the cosigned checkpoint and carries its cosignature.
    let (code, bundle) = call(&server.app, "/v1/export", Some(&server.regulator), None).await;
    assert_eq!(code, StatusCode::OK);
    let cosig_line = note.lines().last().unwrap();
    assert!(cosig_line.starts_with("— witness.state-b.example "));
    assert!(
        bundle
            .windows(cosig_line.len())
            .any(|win| win == cosig_line.as_bytes()),
        "the bundle carries the witness's cosignature"
    );
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_witness_down_never_stops_ingest_and_the_quorum_alert_rises_and_clears() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_key_for(dir.path());
    let wdir = tempfile::tempdir().unwrap();
    let mut w = LiveWitness::new(
        wdir.path(),
        "witness.example",
        0x43,
        std::slice::from_ref(&log),
    );
    w.start().await;
    let policy = format!("log {log}\n{}quorum w\n", w.policy_line("w"));
    let mut server = start_server(dir, &policy, 300);
    server.s.acquire("north", "GLK 1");
    let mut done = ingest(&server, 0).await;
    let first = size(&server);
    // Quiet: the witness is up, the quorum follows the log, no alert.
    until(&server, "the first quorum", |st| {
        st["quorum_size"] == first && st["alert"] == false
    })
    .await;

    // The witness goes down. Ingest goes on, and checkpoints are signed.
    w.stop().await;
    for i in 0..3 {
        server.s.acquire("north", &format!("GLK 2{i}"));
        done = ingest(&server, done).await;
    }
    let second = size(&server);
    assert!(second > first);
    // Firing: no new checkpoint reached the quorum, the alert rises.
    let st = until(&server, "the quorum alert", |st| {
        st["alert"] == true
            && st["latest_size"] == second
            && st["witnesses"][0]["failures"].as_u64() >= Some(1)
    })
    .await;
    assert_eq!(st["quorum_size"], first);
    assert!(st["witnesses"][0]["last_error"].is_string());
    // The newest checkpoint is served all along.
    let (code, note) = call(&server.app, "/checkpoint", None, None).await;
    assert_eq!(code, StatusCode::OK);
    assert!(
        String::from_utf8(note)
            .unwrap()
            .contains(&format!("\n{second}\n"))
    );
    let (_, metrics) = call(&server.app, "/metrics", None, None).await;
    let metrics = String::from_utf8(metrics).unwrap();
    assert!(
        metrics.contains("armsledger_witness_quorum_alert 1"),
        "{metrics}"
    );
    // The newest cosigned checkpoint is still served.
    let (code, note) = call(&server.app, "/v1/checkpoint/cosigned", None, None).await;
    assert_eq!(code, StatusCode::OK);
    assert!(
        String::from_utf8(note)
            .unwrap()
            .contains(&format!("\n{first}\n"))
    );

    // The witness is back: it is offered the newest checkpoint with a proof
    // from the size it holds, cosigns it, and the alert clears.
    w.start().await;
    let st = until(&server, "the alert to clear", |st| {
        st["alert"] == false && st["quorum_size"] == second
    })
    .await;
    assert_eq!(st["witnesses"][0]["failures"], 0);
    let (_, metrics) = call(&server.app, "/metrics", None, None).await;
    assert!(
        String::from_utf8(metrics)
            .unwrap()
            .contains("armsledger_witness_quorum_alert 0")
    );
    assert_eq!(
        w.witness.store().latest(log.name()).unwrap().unwrap().size,
        second
    );
    w.stop().await;
}

/// Two regulators (two States), each running a witness of the other's log:
/// each log's checkpoints reach the quorum its own policy names, with no
/// third party.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_regulators_witness_each_other() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (log_a, log_b) = (log_key_for(dir_a.path()), log_key_for(dir_b.path()));
    assert_ne!(log_a.name(), log_b.name());
    let (wdir_a, wdir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // State A's witness watches B's log, and B's witness watches A's.
    let mut witness_a = LiveWitness::new(
        wdir_a.path(),
        "witness.state-a.example",
        0x0a,
        std::slice::from_ref(&log_b),
    );
    let mut witness_b = LiveWitness::new(
        wdir_b.path(),
        "witness.state-b.example",
        0x0b,
        std::slice::from_ref(&log_a),
    );
    witness_a.start().await;
    witness_b.start().await;
    let policy_a = format!(
        "log {log_a}\n{}quorum state-b\n",
        witness_b.policy_line("state-b")
    );
    let policy_b = format!(
        "log {log_b}\n{}quorum state-a\n",
        witness_a.policy_line("state-a")
    );
    let mut a = start_server(dir_a, &policy_a, 600_000);
    let mut b = start_server(dir_b, &policy_b, 600_000);
    a.s.acquire("north", "GLK A");
    b.s.acquire("north", "GLK B");
    ingest(&a, 0).await;
    ingest(&b, 0).await;
    for (server, policy, peer) in [(&a, &policy_a, "state-b"), (&b, &policy_b, "state-a")] {
        let n = size(server);
        until(server, "the peer's cosignature", |st| {
            st["quorum_size"] == n
        })
        .await;
        let (_, note) = call(&server.app, "/v1/checkpoint/cosigned", None, None).await;
        let checked = Policy::parse(policy).unwrap().verify(&note).unwrap();
        assert_eq!(checked.cosigned()[0].0, peer);
    }
    // Quiet: a witness never cosigns a log it does not watch.
    let (_, note_a) = call(&a.app, "/v1/checkpoint/cosigned", None, None).await;
    let wrong = Policy::parse(&format!(
        "log {log_a}\n{}quorum state-a\n",
        witness_a.policy_line("state-a")
    ))
    .unwrap();
    assert!(wrong.verify(&note_a).is_err());
    assert!(
        witness_a
            .witness
            .store()
            .latest(log_a.name())
            .unwrap()
            .is_none()
    );
    witness_a.stop().await;
    witness_b.stop().await;
}

/// A log operator that forks its log for one client: two servers under one
/// log key with different entries at the same size. The witness cosigns the
/// first history it sees and refuses the other, keeping the evidence; a
/// client demanding the quorum rejects the fork's checkpoint; and a client
/// shown both checkpoints of that size reports the split view with both notes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_forked_log_is_caught_by_the_witness_and_by_verify() {
    use armsledger_bundle::{ProblemKind, VerifyOptions, verify_bundle};

    let (dir, fork_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let log = log_key_for(dir.path());
    for f in [
        armsledger_server::files::LOG_KEY,
        armsledger_server::files::LOG_VKEY,
    ] {
        std::fs::copy(dir.path().join(f), fork_dir.path().join(f)).unwrap();
    }
    let wdir = tempfile::tempdir().unwrap();
    let mut w = LiveWitness::new(
        wdir.path(),
        "witness.example",
        0x44,
        std::slice::from_ref(&log),
    );
    w.start().await;
    let policy_text = format!("log {log}\n{}quorum w\n", w.policy_line("w"));
    let policy = Policy::parse(&policy_text).unwrap();

    // The history most clients see, cosigned.
    let mut honest = start_server(dir, &policy_text, 600_000);
    honest.s.acquire("north", "GLK 1");
    ingest(&honest, 0).await;
    let n = size(&honest);
    until(&honest, "the honest quorum", |st| st["quorum_size"] == n).await;

    // The fork: same key, same size, another entry.
    let mut fork = start_server(fork_dir, &policy_text, 600_000);
    fork.s.acquire("north", "GLK 2 (not the same)");
    ingest(&fork, 0).await;
    assert_eq!(size(&fork), n);
    let st = until(&fork, "the witness's refusal", |st| {
        st["witnesses"][0]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("split view"))
    })
    .await;
    assert_eq!(st["quorum_size"], serde_json::Value::Null);
    // The witness refused it and kept both sides.
    let evidence = w.witness.store().evidence(log.name()).unwrap();
    assert!(!evidence.is_empty());
    assert_eq!(
        w.witness.store().latest(log.name()).unwrap().unwrap().size,
        n
    );
    let (code, _) = call(&fork.app, "/v1/checkpoint/cosigned", None, None).await;
    assert_eq!(code, StatusCode::NOT_FOUND);

    // verify --policy: the honest export passes, the fork's is refused for
    // lack of a quorum.
    let verify = |bundle: &[u8], state: Option<&Path>| {
        verify_bundle(
            bundle,
            &VerifyOptions {
                trusted_key: Some(log.clone()),
                policy: Some(policy.clone()),
                state_path: state.map(Path::to_path_buf),
                ..VerifyOptions::default()
            },
        )
        .unwrap()
    };
    let (_, good) = call(&honest.app, "/v1/export", Some(&honest.regulator), None).await;
    let (_, bad) = call(&fork.app, "/v1/export", Some(&fork.regulator), None).await;
    let r = verify(&good, None);
    assert!(r.authentic(), "{:#?}", r.problems);
    assert!(r.witnesses.unwrap().quorum_met);
    let r = verify(&bad, None);
    assert!(!r.authentic());
    assert_eq!(
        r.problems[0].kind,
        ProblemKind::QuorumNotMet,
        "{:#?}",
        r.problems
    );

    // A client that trusted the honest checkpoint and is then shown the
    // fork's, of the same size, reports a split view with both notes.
    let sdir = tempfile::tempdir().unwrap();
    let state = sdir.path().join("state.json");
    assert!(verify(&good, Some(&state)).authentic());
    let r = verify(&bad, Some(&state));
    let split = r.split_view.expect("a split view");
    assert_eq!(split.size, n);
    assert!(split.trusted_note.contains("— witness.example "));
    assert_ne!(
        split.trusted_note.lines().nth(2),
        split.offered_note.lines().nth(2)
    );
    w.stop().await;
}
