//! The one mapping from a refused or failed console request to a page.

use armsledger_server::ApiError;
use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::views::ErrorPage;

/// Why a console page could not be shown.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConsoleError {
    /// The server's own answer to the same question (403, 404, 400...).
    #[error(transparent)]
    Api(#[from] ApiError),
    /// A form came without the session's CSRF token, or with another.
    #[error(
        "this form was not sent by a page of this session (CSRF token missing or wrong); reload the page and try again"
    )]
    Csrf,
    /// Sign-in was refused.
    #[error("{0}")]
    SignIn(String),
    /// A chart could not be drawn.
    #[error("the chart could not be drawn: {0}")]
    Chart(String),
    /// A page template failed to render.
    #[error("the page could not be rendered: {0}")]
    Render(#[from] askama::Error),
}

impl ConsoleError {
    /// The HTTP status of the refusal.
    pub fn status(&self) -> StatusCode {
        match self {
            ConsoleError::Api(e) => e.status(),
            ConsoleError::Csrf => StatusCode::FORBIDDEN,
            ConsoleError::SignIn(_) => StatusCode::UNAUTHORIZED,
            ConsoleError::Render(_) | ConsoleError::Chart(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let status = self.status();
        // Internal details stay in the server's log, never on the page.
        let message = if status.is_server_error() {
            tracing::error!(error = %self, "console request failed");
            "the server could not answer; the operator's log has the detail".to_string()
        } else {
            self.to_string()
        };
        let page = ErrorPage {
            title: status.canonical_reason().unwrap_or("error").to_string(),
            status: status.as_u16(),
            message,
        };
        match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => (status, "error").into_response(),
        }
    }
}

/// A path the console does not serve.
pub async fn not_found(uri: axum::http::Uri) -> ConsoleError {
    ConsoleError::Api(ApiError::NotFound(format!(
        "no console page {}",
        uri.path()
    )))
}
