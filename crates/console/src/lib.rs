//! The inspectors' web console: server-rendered pages over the regulator's
//! server, mounted by `armsledger serve` at `/console`.
//!
//! ```text
//! GET  /console/sign-in            token in, session cookie out (POST)
//! GET  /console/                   dashboard: alerts by severity, the log and its checkpoint
//! GET  /console/sites              companies and sites the role may read
//! GET  /console/sites/{site}       inventory (now or ?at=), open issues, chain integrity, chart
//! GET  /console/search?serial=     weapon search (any spacing, case, separators)
//! GET  /console/firearms/{serial}  trace timeline, custody chart, in-browser proof checks
//! GET  /console/findings           findings and overrides with their evidence
//! GET  /console/reports?report=    the regulator's reports as tables (filters, CSV)
//! GET  /console/access-log         who read what (regulator; filters, CSV)
//! GET  /console/check-serial       a serial against the lost-and-stolen register, proof checked
//! GET  /console/lots?lot=          an ammunition lot's trace, balances per holder
//! GET  /console/tokens             tokens and their roles (regulator; revoke is a form)
//! ```
//!
//! Every page asks the server's own handlers (`armsledger_server::routes`)
//! with the session's caller, so a page shows exactly what the JSON API
//! would show the same token, and refuses what it would refuse. Pages work
//! without JavaScript; `static/console.js` adds the proof checks.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod access;
pub mod assets;
pub mod auth;
pub mod charts;
pub mod error;
pub mod pages;
pub mod security;
pub mod session;
pub mod views;

use std::sync::Arc;
use std::time::Duration;

use armsledger_server::Shared;
use axum::Router;
use axum::routing::{get, post};

pub use error::ConsoleError;
pub use session::Sessions;

/// Where the console is mounted.
pub const BASE: &str = "/console";

/// How long a session lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(8 * 3600);
/// How many sessions may be open at once.
pub const MAX_SESSIONS: usize = 1024;
/// The largest form body the console reads.
pub const MAX_FORM_BYTES: usize = 16 * 1024;

/// What the console's handlers share.
#[derive(Clone, Debug)]
pub struct Console {
    /// The server's state.
    pub shared: Arc<Shared>,
    /// Open sessions.
    pub sessions: Arc<Sessions>,
    /// Mark cookies `Secure` on every answer (the console is served over
    /// TLS by a proxy that does not say so); otherwise only when the request
    /// came with `X-Forwarded-Proto: https`.
    pub always_secure: bool,
}

impl Console {
    /// A console over `shared` with fresh sessions.
    pub fn new(shared: Arc<Shared>) -> Console {
        Console {
            shared,
            sessions: Arc::new(Sessions::new(SESSION_TTL, MAX_SESSIONS)),
            always_secure: false,
        }
    }
}

/// The console's router, paths relative to [`BASE`].
pub fn router(console: Console) -> Router {
    use pages::*;
    Router::new()
        .route("/", get(dashboard::page))
        .route("/sign-in", get(sign_in::form).post(sign_in::submit))
        .route("/sign-out", post(sign_in::sign_out))
        .route("/sites", get(sites::list))
        .route("/sites/{site}", get(sites::page))
        .route("/sites/{site}/inventory.csv", get(sites::inventory_csv))
        .route("/sites/{site}/entries.svg", get(sites::entries_chart))
        .route("/search", get(trace::search))
        .route("/firearms/{serial}", get(trace::page))
        .route("/firearms/{serial}/dossier", get(trace::dossier))
        .route("/firearms/{serial}/custody.svg", get(trace::custody_chart))
        .route("/charts/alerts.svg", get(dashboard::alerts_chart))
        .route("/findings", get(findings::page))
        .route("/findings.csv", get(findings::csv))
        .route("/reports", get(reports::page))
        .route("/reports.csv", get(reports::csv))
        .route("/access-log", get(access_log::page))
        .route("/access-log.csv", get(access_log::csv))
        .route("/check-serial", get(register::check_serial))
        .route("/lots", get(register::lot_page))
        .route("/lots/{lot}/dossier", get(register::lot_dossier))
        .route("/tokens", get(tokens::page))
        .route("/tokens/{id}/revoke", post(tokens::revoke))
        .route("/static/{file}", get(assets::serve))
        .fallback(error::not_found)
        // Every page that shows records is a read in the access log.
        .layer(axum::middleware::from_fn_with_state(
            console.clone(),
            access::record_pages,
        ))
        .layer(axum::middleware::from_fn(security::headers))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_FORM_BYTES))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            MAX_FORM_BYTES,
        ))
        .with_state(console)
}

/// Mounts the console on the API's router at [`BASE`] (what
/// `armsledger serve` passes to `armsledger_server::serve_with`).
pub fn mount(api: Router, shared: Arc<Shared>) -> Router {
    api.nest_service(BASE, router(Console::new(shared))).route(
        "/",
        get(|| async { axum::response::Redirect::to("/console/") }),
    )
}
