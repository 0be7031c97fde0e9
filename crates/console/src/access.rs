//! Every console page that shows records is a read in the server's access
//! log, as the same read through the API would be: the session's token id
//! and role, the page's route (`/console/firearms/{serial}`) and subject.

use std::time::Instant;

use armsledger_server::access_log::{record_answer, subject_of};
use armsledger_server::routes::auth::Caller;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::session::{COOKIE, cookie};
use crate::{BASE, Console};

/// Pages that show no records: signing in and the static files.
const NOT_RECORDS: &[&str] = &["/sign-in", "/static/{file}"];

/// Records each page a signed-in session reads, before the page is sent.
pub async fn record_pages(State(c): State<Console>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string());
    let wanted = req.method() == axum::http::Method::GET;
    let Some(route) = route.filter(|_| wanted) else {
        return next.run(req).await;
    };
    let rel_route = route.strip_prefix(BASE).unwrap_or(&route).to_string();
    if NOT_RECORDS.contains(&rel_route.as_str()) {
        return next.run(req).await;
    }
    // The caller the page will see (a session or token it refuses shows
    // nothing).
    let caller = cookie(req.headers(), COOKIE)
        .and_then(|id| c.sessions.get(id, Instant::now()))
        .and_then(|session| Caller::authenticate(&c.shared, &session.token).ok());
    let Some(caller) = caller else {
        return next.run(req).await;
    };
    let path = req.uri().path();
    let rel_path = path.strip_prefix(BASE).unwrap_or(path).to_string();
    let query = req.uri().query().unwrap_or_default().to_string();
    let response = next.run(req).await;
    let subject = subject_of(&rel_route, &rel_path);
    let route = format!("{BASE}{rel_route}");
    record_answer(&c.shared, &caller, route, subject, query, response).await
}
