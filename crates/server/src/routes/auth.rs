//! The bearer-token extractor: every query names a role.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::error::ApiError;
use crate::state::Shared;
use crate::tokens::Role;

/// The caller's role, from `Authorization: Bearer <token>`, and the id of
/// the token (what rate limits and per-token bounds are charged to).
#[derive(Clone, Debug)]
pub struct Caller(pub Role, String);

impl FromRequestParts<Arc<Shared>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<Shared>) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(ApiError::Unauthenticated)?;
        Caller::authenticate(state, token)
    }
}

impl Caller {
    /// The caller a bearer token stands for, checked now (a revoked token
    /// is refused): what the header extractor and the console's session
    /// cookie both resolve to.
    pub fn authenticate(state: &Shared, token: &str) -> Result<Caller, ApiError> {
        match state.tokens().authenticate(token.trim()) {
            Ok(Some((id, role))) => Ok(Caller(role, id)),
            Ok(None) => Err(ApiError::Unauthenticated),
            Err(e) => Err(ApiError::Internal(e.to_string())),
        }
    }

    /// The token's id (as `armsledger token list` shows it).
    pub fn token_id(&self) -> &str {
        &self.1
    }

    /// Refuses unless the role may read everything.
    pub fn need_all(&self, what: &str) -> Result<(), ApiError> {
        if self.0.reads_all() {
            Ok(())
        } else {
            Err(self.forbidden(what))
        }
    }

    /// Refuses unless the role is the regulator's.
    pub fn need_regulator(&self, what: &str) -> Result<(), ApiError> {
        if self.0 == Role::Regulator {
            Ok(())
        } else {
            Err(self.forbidden(what))
        }
    }

    /// The error for a refused action.
    pub fn forbidden(&self, what: &str) -> ApiError {
        ApiError::Forbidden {
            role: self.0.to_string(),
            what: what.to_string(),
        }
    }
}

impl axum::extract::OptionalFromRequestParts<Arc<Shared>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<Shared>,
    ) -> Result<Option<Self>, ApiError> {
        match <Caller as FromRequestParts<Arc<Shared>>>::from_request_parts(parts, state).await {
            Ok(c) => Ok(Some(c)),
            Err(ApiError::Unauthenticated) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
