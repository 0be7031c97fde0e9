//! Serving the copy: the C2SP paths the origin serves, from the mirror's
//! files, and `/healthz` with the mirror's state. Entry bundles need the
//! mirror's own token (they carry serials).

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use armsledger_log::{Tile, TileKind};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::{Mirror, MirrorError};

/// What the routes share.
#[derive(Debug)]
pub struct Served {
    dir: PathBuf,
    token: Option<String>,
    status: RwLock<serde_json::Value>,
}

impl Served {
    /// Serves `dir`; entry bundles only to bearers of `token` (none: never).
    pub fn new(dir: PathBuf, token: Option<String>) -> Arc<Served> {
        Arc::new(Served {
            dir,
            token,
            status: RwLock::new(serde_json::json!({"state": "starting"})),
        })
    }

    /// Records the mirror's state after a step.
    pub fn update(&self, mirror: &Mirror, last: Result<crate::Step, &MirrorError>) {
        let state = match (&last, mirror.stopped()) {
            (_, Some(_)) => "refused",
            (Err(_), None) => "retrying",
            (Ok(_), None) => "following",
        };
        let v = serde_json::json!({
            "state": state,
            "size": mirror.size(),
            "entries_verified": mirror.follows_entries(),
            "refused": mirror.stopped(),
            "last_error": last.err().map(|e| e.to_string()),
        });
        if let Ok(mut s) = self.status.write() {
            *s = v;
        }
    }
}

/// The mirror's router.
pub fn app(served: Arc<Served>) -> Router {
    Router::new()
        .route("/checkpoint", get(checkpoint))
        .route("/tile/{*path}", get(tile))
        .route("/healthz", get(healthz))
        .with_state(served)
}

fn bytes(body: Vec<u8>, content: &'static str, cache: &'static str) -> Response {
    let mut r = body.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content));
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    r
}

async fn read(dir: PathBuf) -> Option<Vec<u8>> {
    tokio::fs::read(dir).await.ok()
}

async fn checkpoint(State(s): State<Arc<Served>>) -> Response {
    match read(s.dir.join("checkpoint")).await {
        Some(b) => bytes(b, "text/plain; charset=utf-8", "no-cache, max-age=1"),
        None => (StatusCode::NOT_FOUND, "no checkpoint mirrored yet\n").into_response(),
    }
}

async fn tile(
    State(s): State<Arc<Served>>,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> Response {
    let full = format!("tile/{path}");
    let Ok(t) = Tile::from_path(&full) else {
        return (
            StatusCode::BAD_REQUEST,
            format!("{full}: not a C2SP tile path\n"),
        )
            .into_response();
    };
    if t.kind() == TileKind::Entries {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let ok = matches!((&s.token, given), (Some(want), Some(got)) if constant_eq(want.as_bytes(), got.as_bytes()));
        if !ok {
            return (
                StatusCode::UNAUTHORIZED,
                "entry bundles need the mirror's token\n",
            )
                .into_response();
        }
    }
    // The path was parsed strictly: no `..`, no absolute path.
    match read(s.dir.join(t.path())).await {
        Some(b) if t.is_partial() => bytes(b, "application/octet-stream", "public, max-age=5"),
        Some(b) => bytes(
            b,
            "application/octet-stream",
            "public, max-age=31536000, immutable",
        ),
        None => (
            StatusCode::NOT_FOUND,
            format!("{full} is not in this mirror\n"),
        )
            .into_response(),
    }
}

async fn healthz(State(s): State<Arc<Served>>) -> Response {
    let v = s.status.read().map(|v| v.clone()).unwrap_or_default();
    axum::Json(v).into_response()
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Follows the origin every `interval` on a thread of its own and serves
/// the copy on `listener` until `shutdown` completes.
pub async fn run(
    mut mirror: Mirror,
    served: Arc<Served>,
    listener: tokio::net::TcpListener,
    interval: Duration,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let s = served.clone();
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let follower = std::thread::Builder::new()
        .name("mirror-follow".into())
        .spawn(move || {
            loop {
                let r = mirror.step();
                match &r {
                    Ok(crate::Step::Advanced(a, b)) => tracing::info!(from = a, to = b, "mirrored"),
                    Ok(crate::Step::Unchanged(_)) => {}
                    Err(e) => tracing::warn!(error = %e, "mirror step failed"),
                }
                s.update(&mirror, r.as_ref().map(|s| *s));
                match stop_rx.recv_timeout(interval) {
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                    _ => return,
                }
            }
        })?;
    let r = axum::serve(listener, app(served))
        .with_graceful_shutdown(shutdown)
        .await;
    let _ = stop_tx.send(());
    let _ = follower.join();
    r
}
