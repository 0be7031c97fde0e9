//! Sign-in (a bearer token exchanged for a session cookie) and sign-out.

use std::time::{Duration, Instant};

use armsledger_server::ApiError;
use armsledger_server::routes::auth::Caller;
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::auth::Signed;
use crate::error::ConsoleError;
use crate::session::{COOKIE, PRE_COOKIE, cookie, random_hex, same_secret, set_cookie};
use crate::views::SignInPage;
use crate::{BASE, Console};

/// How long the sign-in form's CSRF cookie lives.
const PRE_TTL: Duration = Duration::from_secs(3600);
/// The longest log key accepted at sign-in.
const MAX_LOG_KEY: usize = 512;

fn secure(c: &Console, headers: &HeaderMap) -> bool {
    c.always_secure
        || headers
            .get("x-forwarded-proto")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"))
}

fn form_page(
    c: &Console,
    headers: &HeaderMap,
    error: Option<String>,
    status: axum::http::StatusCode,
) -> Result<Response, ConsoleError> {
    let csrf = match cookie(headers, PRE_COOKIE) {
        Some(v) if v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()) => v.to_string(),
        _ => random_hex().map_err(super::internal)?,
    };
    let page = SignInPage {
        csrf: csrf.clone(),
        server_log_key: c.shared.log_vkey().to_string(),
        error,
    };
    let html = super::html(&page)?;
    Ok((
        status,
        [(
            header::SET_COOKIE,
            set_cookie(PRE_COOKIE, &csrf, PRE_TTL, secure(c, headers)),
        )],
        html,
    )
        .into_response())
}

/// `GET /console/sign-in`.
pub async fn form(State(c): State<Console>, headers: HeaderMap) -> Result<Response, ConsoleError> {
    form_page(&c, &headers, None, axum::http::StatusCode::OK)
}

/// The sign-in form.
#[derive(Debug, Deserialize)]
pub struct SignIn {
    /// The form's CSRF token.
    #[serde(default)]
    pub csrf: String,
    /// The bearer token.
    #[serde(default)]
    pub token: String,
    /// The log key to pin; empty pins the server's.
    #[serde(default)]
    pub log_key: String,
}

/// `POST /console/sign-in`.
pub async fn submit(
    State(c): State<Console>,
    headers: HeaderMap,
    Form(f): Form<SignIn>,
) -> Result<Response, ConsoleError> {
    let pre = cookie(&headers, PRE_COOKIE).unwrap_or_default();
    if pre.is_empty() || !same_secret(pre, &f.csrf) {
        return Err(ConsoleError::Csrf);
    }
    let log_key = f.log_key.trim();
    let log_key = if log_key.is_empty() {
        c.shared.log_vkey().to_string()
    } else if log_key.len() > MAX_LOG_KEY || log_key.splitn(3, '+').count() != 3 {
        return form_page(
            &c,
            &headers,
            Some("the log key is not a verifier key (<name>+<key id>+<base64 key>)".into()),
            axum::http::StatusCode::BAD_REQUEST,
        );
    } else {
        log_key.to_string()
    };
    match Caller::authenticate(&c.shared, &f.token) {
        Ok(_) => {}
        Err(ApiError::Unauthenticated) => {
            return form_page(
                &c,
                &headers,
                Some("that token is not valid here (unknown or revoked)".into()),
                axum::http::StatusCode::UNAUTHORIZED,
            );
        }
        Err(e) => return Err(e.into()),
    }
    let id = c
        .sessions
        .open(f.token.trim(), &log_key, Instant::now())
        .map_err(|e| ConsoleError::SignIn(e.to_string()))?;
    let sec = secure(&c, &headers);
    let mut res = Redirect::to(&format!("{BASE}/")).into_response();
    let h = res.headers_mut();
    for v in [
        set_cookie(COOKIE, &id, c.sessions.ttl(), sec),
        set_cookie(PRE_COOKIE, "", Duration::ZERO, sec),
    ] {
        if let Ok(v) = v.parse() {
            h.append(header::SET_COOKIE, v);
        }
    }
    Ok(res)
}

/// A form that carries only the CSRF token.
#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    /// The session's CSRF token.
    #[serde(default)]
    pub csrf: String,
}

/// Refuses unless the form carries the session's CSRF token.
pub fn check_csrf(s: &Signed, form: &CsrfForm) -> Result<(), ConsoleError> {
    if same_secret(&s.session.csrf, &form.csrf) {
        Ok(())
    } else {
        Err(ConsoleError::Csrf)
    }
}

/// `POST /console/sign-out`.
pub async fn sign_out(
    State(c): State<Console>,
    headers: HeaderMap,
    s: Signed,
    Form(f): Form<CsrfForm>,
) -> Result<Response, ConsoleError> {
    check_csrf(&s, &f)?;
    c.sessions.close(&s.id);
    let mut res = Redirect::to(&format!("{BASE}/sign-in")).into_response();
    if let Ok(v) = set_cookie(COOKIE, "", Duration::ZERO, secure(&c, &headers)).parse() {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(res)
}
