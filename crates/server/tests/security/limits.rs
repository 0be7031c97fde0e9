//! Bounds on slow and costly clients (issue 13, "Denial of service"):
//! silent connections are closed and their number capped, a stalled export
//! reader is given up on and exports are few at a time, a trickled body is
//! cut off at the body deadline, and a point-in-time inventory is one per
//! token, a few overall, and stops when its request ends.

use std::time::Duration;

use armsledger_bundle::{VerifyOptions, verify_bundle};
use armsledger_core::testkit::Scenario;
use armsledger_server::Clock;
use axum::body::{Body, Bytes};
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

use crate::common::{Env, config, env_with, json};

/// A generous bound so that a hang fails the test instead of blocking it;
/// nothing is asserted about time.
const HANG: Duration = Duration::from_secs(60);

/// Waits until `metric` reads `want`.
async fn until_metric(env: &Env, metric: &str, want: f64) {
    tokio::time::timeout(HANG, async {
        while env.metric(metric).await != want {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{metric} never reached {want}"));
}

/// An environment holding `n` acquisitions at north (about 0.5 kB each).
async fn busy(n: usize, tweak: impl FnOnce(&mut armsledger_server::Config)) -> Env {
    let mut env = env_with(|c| {
        c.max_body_bytes = 16 << 20;
        c.max_batch_entries = 8192;
        tweak(c);
    })
    .await;
    for i in 0..n {
        env.s.acquire("north", &format!("BULK-{i:05}"));
    }
    env.post_log().await;
    env
}

fn get(uri: &str, token: &str) -> Request<Body> {
    Request::get(uri)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

/// Before: a connection that never sent a byte was never closed (the
/// header clock started with the first byte), so silent sockets piled up
/// until the server had no descriptor left for `/healthz`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_are_closed_and_capped() {
    let dir = tempfile::tempdir().unwrap();
    let s = Scenario::standard();
    let mut c = config(dir.path(), &s);
    c.listen = "127.0.0.1:0".parse().unwrap();
    c.header_timeout_secs = 1;
    c.max_connections = 8;
    let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(armsledger_server::serve_until(
        c,
        Clock::System,
        move |addr, _| {
            let _ = addr_tx.send(addr);
        },
        async {
            let _ = stop_rx.await;
        },
    ));
    let addr = addr_rx.await.unwrap();
    // Three times the cap of connections that never send a byte.
    let mut silent = Vec::new();
    for _ in 0..24 {
        silent.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    // Firing: every one is closed by the server (end of stream), the ones
    // past the cap once they are accepted.
    for (i, c) in silent.iter_mut().enumerate() {
        let mut buf = [0u8; 64];
        let read = tokio::time::timeout(HANG, c.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("silent connection {i} still open"));
        assert!(matches!(read, Ok(0) | Err(_)), "connection {i}: {read:?}");
    }
    // Quiet: a client that speaks is served.
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(HANG, c.read_to_end(&mut answer))
        .await
        .unwrap()
        .unwrap();
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    let _ = stop_tx.send(());
    server.await.unwrap().unwrap();
}

/// Before: a body trickled a byte at a time was held until the whole
/// request timed out (120 s), not the 30 s the documentation gave: the
/// body timeout restarted with every chunk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickled_body_is_cut_off_at_the_body_deadline() {
    let env = env_with(|c| c.body_timeout_secs = 1).await;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
    let trickle = tokio::spawn(async move {
        // A byte every 100 ms, for ever: each chunk is prompt.
        while tx.send(Ok(Bytes::from_static(b"\x01"))).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let req = Request::post("/v1/entries")
        .header(
            "authorization",
            format!("Bearer {}", env.token("regulator")),
        )
        .header("content-type", "application/octet-stream")
        .body(Body::from_stream(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        ))
        .unwrap();
    let resp = tokio::time::timeout(HANG, env.app.clone().oneshot(req))
        .await
        .expect("the trickled body is still being read")
        .unwrap();
    assert_eq!(resp.status(), StatusCode::REQUEST_TIMEOUT);
    let body = json(&resp.into_body().collect().await.unwrap().to_bytes());
    assert_eq!(body["type"], "timed-out", "{body}");
    assert!(
        body["title"].as_str().unwrap().contains("within 1 s"),
        "{body}"
    );
    trickle.abort();
    assert_eq!(env.size(), 0);
}

/// Before: an export whose reader stopped reading pinned a blocking thread
/// for ever (`blocking_send` without a deadline); a few hundred of them
/// would starve checkpoint signing and every blocking route.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_export_reader_is_given_up_and_exports_are_bounded() {
    let env = busy(2000, |c| {
        c.export_stall_secs = 1;
        c.max_concurrent_exports = 1;
    })
    .await;
    let regulator = env.token("regulator").to_string();
    // A reader that takes the response and then never reads its body.
    let stalled = env
        .app
        .clone()
        .oneshot(get("/v1/export", &regulator))
        .await
        .unwrap();
    assert_eq!(stalled.status(), StatusCode::OK);
    // Firing: while it holds the one export slot, another export waits.
    let (st, b) = env.get("/v1/export", Some("regulator")).await;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(json(&b)["type"], "busy");
    // The writer gives up on the reader and frees its thread and slot.
    until_metric(&env, "armsledger_exports_abandoned_total", 1.0).await;
    until_metric(&env, "armsledger_exports_running", 0.0).await;
    drop(stalled);
    // Quiet: an export that is read goes through whole, and verifies.
    let (st, b) = env.get("/v1/export", Some("regulator")).await;
    assert_eq!(st, StatusCode::OK);
    assert!(b.len() > 10 * (64 << 10), "{} bytes", b.len());
    let report = verify_bundle(&b[..], &VerifyOptions::default()).unwrap();
    assert!(report.authentic, "{report:?}");
}

/// Before: every `inventory?at=` replayed the whole log (about a minute at
/// a million entries), any site token could start as many as it liked, and
/// each kept running after its request had timed out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_point_in_time_inventory_is_one_per_token_and_stops_with_its_request() {
    let env = busy(2000, |c| c.max_concurrent_replays = 2).await;
    let north = env.token("site:north").to_string();
    let acme = env.token("company:acme").to_string();
    let size = env.size() as f64;
    let uri = "/v1/sites/north/inventory?at=2099-01-01";

    // A query that is started, then abandoned by its client at once.
    let mut first = Box::pin(env.app.clone().oneshot(get(uri, &north)));
    tokio::select! {
        biased;
        _ = &mut first => panic!("answered before it could replay"),
        () = std::future::ready(()) => {}
    }
    // Firing: while it is open, the same token's second query is refused.
    let (st, b) = env.get(uri, Some("site:north")).await;
    let body = json(&b);
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS, "{}", body["title"]);
    assert!(
        body["title"]
            .as_str()
            .unwrap()
            .contains("one point-in-time query at a time"),
        "{body}"
    );
    // Quiet: another token is served meanwhile.
    let resp = env.app.clone().oneshot(get(uri, &acme)).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    // The client goes away: the replay stops, and the token may ask again.
    drop(first);
    until_metric(&env, "armsledger_replays_running", 0.0).await;
    let (st, _) = env.get(uri, Some("site:north")).await;
    assert_eq!(st, StatusCode::OK);

    // Firing: a query dropped as soon as it started does not replay the log.
    let cancelled = env.metric("armsledger_replays_cancelled_total").await;
    let replayed = env.metric("armsledger_replay_entries_total").await;
    let mut doomed = Box::pin(env.app.clone().oneshot(get(uri, &north)));
    tokio::select! {
        biased;
        _ = &mut doomed => panic!("answered before it could replay"),
        () = std::future::ready(()) => {}
    }
    drop(doomed);
    until_metric(&env, "armsledger_replays_running", 0.0).await;
    assert_eq!(
        env.metric("armsledger_replays_cancelled_total").await,
        cancelled + 1.0
    );
    assert!(
        env.metric("armsledger_replay_entries_total").await - replayed < size,
        "the abandoned replay went through the whole log"
    );
}
