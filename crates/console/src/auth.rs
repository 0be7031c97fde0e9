//! The signed-in caller of a console page: the session cookie, resolved to
//! the server's own `Caller` through the token it was opened with.

use std::time::Instant;

use armsledger_server::routes::auth::Caller;
use armsledger_server::tokens::Role;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};

use crate::Console;
use crate::session::{COOKIE, Session, cookie};

/// A request from a live session whose token is still valid.
#[derive(Debug, Clone)]
pub struct Signed {
    /// The server's caller (role and token id).
    pub caller: Caller,
    /// The session.
    pub session: Session,
    /// The session's id (the cookie's value).
    pub id: String,
}

impl Signed {
    /// The caller's role.
    pub fn role(&self) -> &Role {
        &self.caller.0
    }
}

impl FromRequestParts<Console> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, c: &Console) -> Result<Self, Response> {
        let to_sign_in = || Redirect::to(&format!("{}/sign-in", crate::BASE)).into_response();
        let id = cookie(&parts.headers, COOKIE).ok_or_else(to_sign_in)?;
        let session = c.sessions.get(id, Instant::now()).ok_or_else(to_sign_in)?;
        match Caller::authenticate(&c.shared, &session.token) {
            Ok(caller) => Ok(Signed {
                caller,
                session,
                id: id.to_string(),
            }),
            Err(armsledger_server::ApiError::Unauthenticated) => {
                // Revoked since sign-in: the session ends with it.
                c.sessions.close(id);
                Err(to_sign_in())
            }
            Err(e) => Err(crate::ConsoleError::Api(e).into_response()),
        }
    }
}
