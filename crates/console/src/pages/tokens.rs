//! Tokens and their roles (regulator only); revoking one is a form with
//! the session's CSRF token.

use armsledger_server::routes::admin;
use armsledger_server::routes::extract::Path;
use axum::Form;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};

use crate::auth::Signed;
use crate::error::ConsoleError;
use crate::pages::sign_in::{CsrfForm, check_csrf};
use crate::views::{TokenRow, TokensPage};
use crate::{BASE, Console};

/// `GET /console/tokens`.
pub async fn page(State(c): State<Console>, s: Signed) -> Result<Html<String>, ConsoleError> {
    let axum::Json(list) = admin::list_tokens(State(c.shared.clone()), s.caller.clone()).await?;
    super::html(&TokensPage {
        nav: super::nav(&s, "tokens"),
        rows: list
            .iter()
            .map(|t| TokenRow {
                id: t.id.clone(),
                role: t.role.to_string(),
                label: t.label.clone(),
                created: t.created_at.rfc3339(),
                revoked: t.revoked_at.map(|r| r.rfc3339()),
            })
            .collect(),
    })
}

/// `POST /console/tokens/{id}/revoke`.
pub async fn revoke(
    State(c): State<Console>,
    s: Signed,
    axum::extract::Path(id): axum::extract::Path<String>,
    Form(f): Form<CsrfForm>,
) -> Result<Response, ConsoleError> {
    check_csrf(&s, &f)?;
    let _revoked = admin::revoke_token(State(c.shared.clone()), s.caller.clone(), Path(id)).await?;
    Ok(Redirect::to(&format!("{BASE}/tokens")).into_response())
}
