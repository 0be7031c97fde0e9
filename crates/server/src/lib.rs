//! The regulator's verification server: armouries push signed entries, the
//! server verifies them (signatures, chains, keys, per-weapon links), applies
//! the rules, appends them to one Merkle log with group commit, signs
//! checkpoints, and answers inspectors and auditors.
//!
//! ```text
//! POST /v1/entries            signed entries in; receipt (indexes, checkpoint, proofs) out
//! GET  /checkpoint            latest signed checkpoint (public)
//! GET  /tile/<L>/<N>[.p/<W>]  hash tiles (public); /tile/entries/... (token)
//! GET  /v1/firearms/{serial}/trace, /v1/sites/{site}/inventory, /v1/alerts, ...
//! ```
//!
//! `app(shared)` builds the router, so tests drive it in-process.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod accept;
pub mod access_log;
pub mod clock;
pub mod compaction;
pub mod config;
pub mod disk;
pub mod error;
pub mod ingest;
pub mod limits;
pub mod metrics;
pub mod mirrored;
pub mod publish;
pub mod queue;
pub mod retention;
pub mod routes;
pub mod scope;
pub mod secret;
pub mod serial_proof;
pub mod snapshots;
pub mod start;
pub mod state;
pub mod tokens;
pub mod witnessing;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post};
use utoipa::OpenApi;

pub use clock::Clock;
pub use config::{Config, files};
pub use error::ApiError;
pub use start::StartError;
pub use state::{Published, Shared};

/// The OpenAPI document, generated from the handlers.
#[derive(OpenApi)]
#[openapi(
    info(title = "armsledger regulator server", description = "Ingest of device-signed armoury entries, the global Merkle log, and queries for inspectors and auditors."),
    paths(
        routes::ingest::post_entries, routes::notes::post_notes,
        routes::log::checkpoint, routes::log::stable_checkpoint, routes::log::log_key, routes::log::tile,
        routes::log::inclusion, routes::log::consistency,
        routes::query::trace, routes::lot::trace, routes::query::inventory, routes::query::reconciliation, routes::query::get_alerts,
        routes::query::findings, routes::query::transfers, routes::query::integrity, routes::query::equivocations,
        routes::register::serial, routes::register::trace_requests,
        routes::reports::report,
        routes::sync::pull, routes::export::export, routes::export::dossier, routes::export::lot_dossier,
        access_log::list, retention::post_review,
        routes::admin::create_token, routes::admin::list_tokens, routes::admin::revoke_token,
        routes::admin::healthz, routes::admin::metrics, routes::admin::rules_state,
        witnessing::cosigned_checkpoint, witnessing::status,
    ),
    modifiers(&BearerAuth),
    tags((name = "ingest"), (name = "log"), (name = "query"), (name = "sync"), (name = "admin"))
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

async fn openapi() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(ApiDoc::openapi())
}

/// The router over shared state.
pub fn app(shared: Arc<Shared>) -> Router {
    use routes::*;
    let limit = shared.config().max_body_bytes;
    let request_timeout = Duration::from_secs(shared.config().request_timeout_secs);
    Router::new()
        .route("/v1/entries", post(ingest::post_entries))
        .route("/v1/notes", post(notes::post_notes))
        .route("/checkpoint", get(log::checkpoint))
        .route("/v1/checkpoint/stable", get(log::stable_checkpoint))
        .route(
            "/v1/checkpoint/cosigned",
            get(witnessing::cosigned_checkpoint),
        )
        .route("/v1/witnesses", get(witnessing::status))
        .route("/v1/log/key", get(log::log_key))
        .route("/tile/{*path}", get(log::tile))
        .route("/v1/proof/inclusion", get(log::inclusion))
        .route("/v1/proof/consistency", get(log::consistency))
        .route("/v1/firearms/{serial}/trace", get(query::trace))
        .route("/v1/firearms/{serial}/dossier", get(export::dossier))
        .route("/v1/lots/{lot}/trace", get(routes::lot::trace))
        .route("/v1/lots/{lot}/dossier", get(export::lot_dossier))
        .route("/v1/export", get(export::export))
        .route("/v1/sites/{site}/inventory", get(query::inventory))
        .route(
            "/v1/sites/{site}/reconciliation",
            get(query::reconciliation),
        )
        .route("/v1/sites/{site}/integrity", get(query::integrity))
        .route("/v1/alerts", get(query::get_alerts))
        .route("/v1/serials/{serial}", get(register::serial))
        .route("/v1/trace-requests", get(register::trace_requests))
        .route("/v1/findings", get(query::findings))
        .route("/v1/transfers", get(query::transfers))
        .route("/v1/reports/{name}", get(reports::report))
        .route("/v1/equivocations", get(query::equivocations))
        .route("/v1/pull/{site}", get(sync::pull))
        .route(
            "/v1/tokens",
            post(admin::create_token).get(admin::list_tokens),
        )
        .route("/v1/tokens/{id}", delete(admin::revoke_token))
        .route("/healthz", get(admin::healthz))
        .route("/metrics", get(admin::metrics))
        .route("/v1/admin/state", get(admin::rules_state))
        .route("/openapi.json", get(openapi))
        .route("/v1/access-log", get(access_log::list))
        .route("/v1/retention/review", post(crate::retention::post_review))
        .fallback(extract::no_route)
        .method_not_allowed_fallback(extract::no_method)
        // Every read a token makes is recorded before its answer leaves.
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            access_log::record_reads,
        ))
        .layer(DefaultBodyLimit::max(limit))
        // A body declared larger than the limit is refused before it is read.
        .layer(tower_http::limit::RequestBodyLimitLayer::new(limit))
        // A slow client holds only its own connection: a body must arrive
        // whole within body_timeout_secs of the request's start however it
        // trickles, and no request may occupy a handler for longer than
        // request_timeout_secs.
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            limits::body_deadline,
        ))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            request_timeout,
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(shared)
}

/// Starts the checkpointer: signs a checkpoint at most every
/// `checkpoint_interval_ms` while the log grows, and moves the stable
/// checkpoint every `stable_checkpoint_interval_ms`; and, with a witness
/// policy, the tasks that gather cosignatures ([`witnessing::spawn`]).
pub fn spawn_workers(shared: Arc<Shared>) {
    witnessing::spawn(shared.clone());
    compaction::spawn(shared.clone());
    let s = shared.clone();
    tokio::spawn(async move {
        let interval = Duration::from_millis(s.config().checkpoint_interval_ms.max(10));
        loop {
            let _ = tokio::time::timeout(Duration::from_secs(5), s.wait_for_growth()).await;
            let s2 = s.clone();
            match tokio::task::spawn_blocking(move || s2.checkpoint_now()).await {
                Ok(Err(e)) => tracing::error!(error = %e, "checkpoint refused"),
                Err(e) => tracing::error!(error = %e, "checkpoint task failed"),
                Ok(Ok(_)) => {}
            }
            tokio::time::sleep(interval).await;
        }
    });
    tokio::spawn(async move {
        let every = Duration::from_millis(shared.config().stable_checkpoint_interval_ms.max(100));
        loop {
            shared.advance_stable();
            tokio::time::sleep(every).await;
        }
    });
}

/// Opens the data directory, binds, and serves until Ctrl-C or SIGTERM;
/// in-flight commits finish before it returns. `ready` is called with the
/// bound address and the log's verifier key.
pub async fn serve(
    config: Config,
    ready: impl FnOnce(std::net::SocketAddr, &str),
) -> Result<(), StartError> {
    serve_until(config, Clock::System, ready, shutdown_signal()).await
}

/// [`serve`] on `clock`, until `shutdown` completes (it does not listen for
/// signals itself): how a program that runs the server in process, such as
/// the demo, starts and stops it.
pub async fn serve_until(
    config: Config,
    clock: Clock,
    ready: impl FnOnce(std::net::SocketAddr, &str),
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), StartError> {
    serve_with(config, clock, |app, _| app, ready, shutdown).await
}

/// [`serve_until`] with `mount` adding routes to the API's router before it
/// serves: how `armsledger serve` adds the console
/// (`armsledger_console::mount`) without this crate depending on it.
pub async fn serve_with(
    config: Config,
    clock: Clock,
    mount: impl FnOnce(Router, Arc<Shared>) -> Router,
    ready: impl FnOnce(std::net::SocketAddr, &str),
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), StartError> {
    let addr = config.listen;
    catch_file_size_signal();
    let shared = tokio::task::spawn_blocking(move || Shared::open_with_clock(config, clock))
        .await
        .map_err(|e| StartError::Data {
            path: "data directory".into(),
            msg: e.to_string(),
        })??;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Listen {
            addr: addr.to_string(),
            source,
        })?;
    let bound = listener.local_addr().map_err(|source| StartError::Listen {
        addr: addr.to_string(),
        source,
    })?;
    spawn_workers(shared.clone());
    if let Some(p) = publish::from_config(&shared)? {
        publish::spawn(shared.clone(), p);
    }
    shared.log_grew();
    if !shared.regulator_configured() {
        tracing::warn!(
            "no regulator key configured: reads are served, ingest is refused until restarted with --regulator-key"
        );
    }
    if shared.manufacturer_roots().is_empty() {
        tracing::warn!(
            "no manufacturer root configured: device enrolments' attestations are not checked until one is given with --manufacturer-root (it is then pinned)"
        );
    }
    ready(bound, shared.log_vkey());
    let header_timeout = Duration::from_secs(shared.config().header_timeout_secs);
    let cap = accept::connection_cap(shared.config().max_connections);
    let at_exit = shared.clone();
    let router = mount(app(shared.clone()), shared);
    accept::accept_loop(listener, router, header_timeout, cap, shutdown).await;
    // A snapshot of the whole log, so the next start replays nothing.
    let closing = at_exit.clone();
    match tokio::task::spawn_blocking(move || snapshots::write_now(&at_exit)).await {
        Ok(Ok(Some(size))) => tracing::info!(size, "rules snapshot at shutdown"),
        Ok(Ok(None)) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "no rules snapshot at shutdown"),
        Err(e) => tracing::warn!(error = %e, "no rules snapshot at shutdown"),
    }
    // The workers and the recovery thread still hold the store: closed
    // here, so that the next start does not repair (read) the whole file.
    let _ = tokio::task::spawn_blocking(move || closing.store().close()).await;
    Ok(())
}

/// A write past the file size limit (`RLIMIT_FSIZE`) raises SIGXFSZ, whose
/// default action kills the process. With a handler installed the write fails
/// with `EFBIG` instead, which the disk-fault handling turns into a refusal
/// (see [`disk`]).
fn catch_file_size_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let xfsz = SignalKind::from_raw(rustix::process::Signal::XFSZ.as_raw());
        match signal(xfsz) {
            Ok(mut s) => {
                tokio::spawn(async move {
                    while s.recv().await.is_some() {
                        tracing::debug!("SIGXFSZ: a write went past the file size limit");
                    }
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot catch SIGXFSZ; a file size limit would kill the server")
            }
        }
    }
}

/// Completes on Ctrl-C or SIGTERM: what [`serve`] stops on.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
