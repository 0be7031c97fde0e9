//! A C2SP tlog-witness: it cosigns a log's checkpoint only when it extends
//! the last checkpoint it cosigned for that log, so a log cannot show two
//! histories to two clients without one of them lacking cosignatures.
//!
//! ```text
//! POST /add-checkpoint          old <N>\n, proof lines, \n, signed checkpoint
//!   200  — witness.example base64(key id ‖ timestamp ‖ signature)\n
//!   400  malformed body, or old > checkpoint size
//!   403  no valid signature by the log's key
//!   404  unknown log
//!   409  old ≠ the witness's size; body "<size>\n", Content-Type text/x.tlog.size
//!   422  bad proof, non-empty proof with old 0, bad empty-tree root, same size other root
//! GET  /<hex SHA-256(origin)>/checkpoint   the latest cosigned checkpoint
//! ```
//!
//! * [`app`] builds the router over a [`Witness`], so tests drive it in-process;
//!   [`serve`] opens the data directory and serves.
//! * [`init_key`] makes the witness's cosignature/v1 key (mode 0600).
//! * [`client`] is what a log uses to reach witnesses.
//! * [`cli`] is the `init` and `serve` commands (`armsledger-witness`, `armsledger witness`).
//!
//! `docs/log.md` specifies the protocol, the cosignature and the policy
//! format as implemented here.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(all(feature = "fault-injection", not(debug_assertions)))]
compile_error!(
    "the `fault-injection` feature is for tests only and cannot be built into a release binary"
);

pub mod cli;
pub mod client;
mod config;
mod error;
mod faults;
mod key;
mod request;
mod store;
mod witness;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

pub use config::{Config, parse_logs, read_logs_file};
pub use error::WitnessError;
pub use faults::{Faults, KILL_ENV, KILL_POINTS};
pub use key::{init_key, load_key};
pub use request::{AddCheckpoint, MAX_PROOF_LINES, MAX_REQUEST_BYTES};
pub use store::{Evidence, EvidenceKind, Latest, Store};
pub use witness::{Clock, FixedClock, SystemClock, Witness};

/// The router: `POST /add-checkpoint` and `GET /<origin hash>/checkpoint`.
pub fn app(witness: Arc<Witness>) -> Router {
    Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .route("/{origin_hash}/checkpoint", get(checkpoint))
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        // A body declared larger than the limit is refused before it is read.
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            MAX_REQUEST_BYTES,
        ))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            Duration::from_secs(30),
        ))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(60),
        ))
        .with_state(witness)
}

async fn add_checkpoint(
    State(witness): State<Arc<Witness>>,
    body: Bytes,
) -> Result<Response, WitnessError> {
    let cosignatures = tokio::task::spawn_blocking(move || witness.add_checkpoint(&body))
        .await
        .map_err(|e| WitnessError::Storage(format!("add-checkpoint task: {e}")))??;
    let lines: String = cosignatures.iter().map(|c| c.to_line()).collect();
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], lines).into_response())
}

async fn checkpoint(
    State(witness): State<Arc<Witness>>,
    Path(origin_hash): Path<String>,
) -> Result<Response, WitnessError> {
    let note = tokio::task::spawn_blocking(move || witness.checkpoint_by_origin_hash(&origin_hash))
        .await
        .map_err(|e| WitnessError::Storage(format!("checkpoint task: {e}")))??;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], note).into_response())
}

/// Opens a witness from its files: the key (refused unless mode 0600),
/// `witness.redb` (created if missing), and the known-logs file, whose logs
/// and keys are added to the store. Returns it with the keys that were new.
pub fn open(
    config: &Config,
    clock: Arc<dyn Clock>,
    faults: Faults,
) -> Result<(Witness, Vec<String>), WitnessError> {
    let key = load_key(&config.key_file)?;
    let logs = read_logs_file(&config.logs_file)?;
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| WitnessError::Storage(format!("{}: {e}", config.data_dir.display())))?;
    let store = Store::open(&config.db_path(), faults)?;
    let added = store.add_logs(&logs)?;
    let known = store.logs()?;
    for (origin, _) in &known {
        if !logs.iter().any(|l| l.name() == origin) {
            tracing::warn!(
                %origin,
                "log is no longer in the known-logs file but is still witnessed: a witness never forgets a log"
            );
        }
    }
    Ok((Witness::new(key, store, clock)?, added))
}

/// Opens the witness (see [`open`]), binds, and serves until Ctrl-C or
/// SIGTERM. `ready` gets the bound address and the witness's verifier key.
///
/// In fault-injection builds (tests only) [`KILL_ENV`] may name a point
/// where the process stops dead.
pub async fn serve(
    config: Config,
    ready: impl FnOnce(SocketAddr, &str),
) -> Result<(), WitnessError> {
    let faults = Faults::from_env().map_err(|reason| WitnessError::Serve {
        addr: config.listen.to_string(),
        reason,
    })?;
    serve_with(config, Arc::new(SystemClock), faults, ready).await
}

/// [`serve`] with the clock and the kill plan passed in.
pub async fn serve_with(
    config: Config,
    clock: Arc<dyn Clock>,
    faults: Faults,
    ready: impl FnOnce(SocketAddr, &str),
) -> Result<(), WitnessError> {
    let serve_err = |reason: String| WitnessError::Serve {
        addr: config.listen.to_string(),
        reason,
    };
    let open_config = config.clone();
    let open_faults = faults.clone();
    let (witness, added) =
        tokio::task::spawn_blocking(move || open(&open_config, clock, open_faults))
            .await
            .map_err(|e| serve_err(e.to_string()))??;
    for vkey in added {
        tracing::info!(%vkey, "log key added");
    }
    let vkey = witness.verifier().to_string();
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| serve_err(e.to_string()))?;
    let bound = listener
        .local_addr()
        .map_err(|e| serve_err(e.to_string()))?;
    faults.arm();
    ready(bound, &vkey);
    axum::serve(listener, app(Arc::new(witness)))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| serve_err(e.to_string()))
}

async fn shutdown_signal() {
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
}
