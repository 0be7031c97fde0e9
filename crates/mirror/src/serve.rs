//! Serving the copy.
//!
//! With a copy of the log ([`Mirror::open_serving`]): [`copy_app`], the
//! server's own router ([`armsledger_server::app`]) over the mirror's
//! [`Shared`], behind a gate that lets through only the routes a mirror
//! answers as the origin would ([`MIRRORED`]) and answers every other with
//! a 501 problem naming the route; `/healthz` is the mirror's state.
//!
//! Hash tiles only ([`app`]): the C2SP paths the origin serves, from the
//! mirror's files, and `/healthz`. Entry bundles need the mirror's own token
//! (they carry serials).

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use armsledger_log::{Tile, TileKind};
use armsledger_server::Shared;
use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::{Mirror, MirrorError};

/// What the routes share.
#[derive(Debug)]
pub struct Served {
    dir: PathBuf,
    token: Option<String>,
    status: RwLock<serde_json::Value>,
    /// `None` while the copy holds the origin's equivocation proofs as of
    /// the last step; else why not.
    no_equivocations: RwLock<Option<String>>,
}

impl Served {
    /// Serves `dir`; entry bundles only to bearers of `token` (none: never).
    pub fn new(dir: PathBuf, token: Option<String>) -> Arc<Served> {
        Arc::new(Served {
            dir,
            token,
            status: RwLock::new(serde_json::json!({"state": "starting"})),
            no_equivocations: RwLock::new(Some("the mirror has not stepped yet".into())),
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
            "equivocations": match mirror.equivocations() {
                Ok(()) => "read".to_string(),
                Err(e) => format!("not read: {e}"),
            },
        });
        if let Ok(mut n) = self.no_equivocations.write() {
            *n = mirror.equivocations().err().map(str::to_string);
        }
        if let Ok(mut s) = self.status.write() {
            *s = v;
        }
    }
}

/// The routes a mirror with a copy answers, as the origin does (`*` is one
/// path segment, a trailing `**` any rest): GET only, except the mirror's
/// own tokens and the console's sign-in. Everything else (ingest, notes,
/// retention review, witnessing, site sync) is the origin's: a 501
/// problem. The [`SHOW_EQUIVOCATIONS`] routes only while the mirror has
/// read the origin's equivocation proofs (kept outside the log) at its last
/// step.
pub const MIRRORED: &[(&str, &str)] = &[
    ("GET", "/checkpoint"),
    ("GET", "/v1/log/key"),
    ("GET", "/tile/**"),
    ("GET", "/v1/proof/inclusion"),
    ("GET", "/v1/proof/consistency"),
    ("GET", "/v1/firearms/*/trace"),
    ("GET", "/v1/firearms/*/dossier"),
    ("GET", "/v1/lots/*/trace"),
    ("GET", "/v1/lots/*/dossier"),
    ("GET", "/v1/export"),
    ("GET", "/v1/sites/*/inventory"),
    ("GET", "/v1/sites/*/reconciliation"),
    ("GET", "/v1/sites/*/integrity"),
    ("GET", "/v1/alerts"),
    ("GET", "/v1/equivocations"),
    ("GET", "/v1/serials/*"),
    ("GET", "/v1/trace-requests"),
    ("GET", "/v1/findings"),
    ("GET", "/v1/transfers"),
    ("GET", "/v1/reports/*"),
    ("GET", "/v1/access-log"),
    ("GET", "/v1/tokens"),
    ("POST", "/v1/tokens"),
    ("DELETE", "/v1/tokens/*"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
    ("GET", "/"),
    ("GET", "/console/**"),
    ("POST", "/console/sign-in"),
    ("POST", "/console/sign-out"),
    ("POST", "/console/tokens/*/revoke"),
];

/// The mirrored routes whose answers include the origin's equivocation
/// proofs (kept outside the log): served only while the mirror has read
/// them at its last step.
pub const SHOW_EQUIVOCATIONS: &[&str] = &[
    "/v1/equivocations",
    "/v1/alerts",
    "/v1/sites/*/integrity",
    "/console/**",
];

/// Whether `path` matches `pattern` (see [`MIRRORED`]).
fn matches(pattern: &str, path: &str) -> bool {
    if let Some(prefix) = pattern.strip_suffix("/**") {
        return path == prefix || path.starts_with(&format!("{prefix}/"));
    }
    let (mut p, mut q) = (pattern.split('/'), path.split('/'));
    loop {
        match (p.next(), q.next()) {
            (None, None) => return true,
            (Some("*"), Some(seg)) if !seg.is_empty() => {}
            (Some(a), Some(b)) if a == b => {}
            _ => return false,
        }
    }
}

/// Whether a mirror with a copy answers `method path`.
pub fn mirrored(method: &Method, path: &str) -> bool {
    MIRRORED
        .iter()
        .any(|(m, p)| *m == method.as_str() && matches(p, path))
}

async fn gate(State(s): State<Arc<Served>>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if req.method() == Method::GET && path == "/healthz" {
        return healthz(State(s)).await;
    }
    let unknown = s.no_equivocations.read().ok().and_then(|n| n.clone());
    let shows_equivocations = SHOW_EQUIVOCATIONS.iter().any(|p| matches(p, &path));
    if mirrored(req.method(), &path) && !(shows_equivocations && unknown.is_some()) {
        return next.run(req).await;
    }
    let title = if shows_equivocations && let Some(why) = unknown {
        format!(
            "{path} is not answered by this mirror now: it would omit the origin's equivocation \
             proofs, which it has not read ({why}); ask the origin"
        )
    } else {
        format!(
            "{} {path} is not answered by a mirror: ask the origin (a mirror serves the log's \
         checkpoint, tiles, proofs, traces, dossiers, exports and queries; see docs/api.md, \
         \"Mirrors\")",
            req.method()
        )
    };
    let body = serde_json::json!({"type": "not-mirrored", "title": title, "status": 501});
    let mut r = (StatusCode::NOT_IMPLEMENTED, axum::Json(body)).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    r
}

/// The router of a mirror with a copy: `mount` adds routes over the copy
/// (`armsledger_console::mount`, as `armsledger serve` does) to the
/// server's read routes, and the gate ([`MIRRORED`]) goes in front of all.
pub fn copy_app(
    copy: Arc<Shared>,
    served: Arc<Served>,
    mount: impl FnOnce(Router, Arc<Shared>) -> Router,
) -> Router {
    mount(armsledger_server::app(copy.clone()), copy)
        .layer(axum::middleware::from_fn_with_state(served, gate))
}

/// The mirror's router (hash tiles only, from its files).
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
/// the copy on `listener` until `shutdown` completes: with [`copy_app`]
/// when the mirror keeps a copy, else [`app`].
pub async fn run(
    mirror: Mirror,
    served: Arc<Served>,
    listener: tokio::net::TcpListener,
    interval: Duration,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = match mirror.copy() {
        Some(copy) => copy_app(copy.clone(), served.clone(), |r, _| r),
        None => app(served.clone()),
    };
    run_with(mirror, served, listener, interval, router, shutdown).await
}

/// [`run`] serving `router` (e.g. [`copy_app`] with the console mounted).
pub async fn run_with(
    mut mirror: Mirror,
    served: Arc<Served>,
    listener: tokio::net::TcpListener,
    interval: Duration,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The server's bounds on clients (header deadline from accept,
    // connection cap): the copy's configuration, else the defaults.
    let limits = mirror
        .copy()
        .map_or_else(armsledger_server::Config::default, |c| c.config().clone());
    let header_timeout = Duration::from_secs(limits.header_timeout_secs);
    let cap = armsledger_server::accept::connection_cap(limits.max_connections);
    let copy = mirror.copy().cloned();
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
    armsledger_server::accept::accept_loop(listener, router, header_timeout, cap, shutdown).await;
    let _ = stop_tx.send(());
    let _ = follower.join();
    // As the server does: a rules snapshot of the whole copy, so the next
    // start replays nothing.
    if let Some(copy) = copy {
        match tokio::task::spawn_blocking(move || armsledger_server::snapshots::write_now(&copy))
            .await
        {
            Ok(Ok(Some(size))) => tracing::info!(size, "rules snapshot at shutdown"),
            Ok(Ok(None)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "no rules snapshot at shutdown"),
            Err(e) => tracing::warn!(error = %e, "no rules snapshot at shutdown"),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_lets_through_only_the_mirrored_routes() {
        for (m, p) in [
            (Method::GET, "/v1/firearms/SN-1/trace"),
            (Method::GET, "/tile/entries/000.p/5"),
            (Method::GET, "/tile/0/x001/002"),
            (Method::GET, "/console/"),
            (Method::GET, "/console"),
            (Method::DELETE, "/v1/tokens/abc"),
        ] {
            assert!(mirrored(&m, p), "{m} {p}");
        }
        for (m, p) in [
            (Method::POST, "/v1/entries"),
            (Method::GET, "/v1/witnesses"),
            (Method::GET, "/v1/firearms//trace"),
            (Method::GET, "/v1/firearms/a/b/trace"),
            (Method::GET, "/v1/firearms/SN-1/trace/more"),
            (Method::POST, "/v1/firearms/SN-1/trace"),
            (Method::GET, "/consoles"),
            (Method::GET, "/v1/checkpoint/stable"),
        ] {
            assert!(!mirrored(&m, p), "{m} {p}");
        }
    }
}
