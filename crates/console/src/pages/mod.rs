//! The console's pages, one module per page or group. Each asks the
//! server's own handlers with the session's caller.

pub mod dashboard;
pub mod findings;
pub mod sign_in;
pub mod sites;
pub mod tokens;
pub mod trace;

use armsledger_server::ApiError;
use armsledger_server::tokens::Role;
use askama::Template;
use axum::response::Html;

use crate::auth::Signed;
use crate::error::ConsoleError;
use crate::views::Nav;

/// The navigation bar for `s` on page `active`.
pub fn nav(s: &Signed, active: &'static str) -> Nav {
    Nav {
        role: s.role().to_string(),
        csrf: s.session.csrf.clone(),
        active,
        regulator: *s.role() == Role::Regulator,
        log_key: s.session.log_key.clone(),
    }
}

/// Renders a page.
pub fn html(t: &impl Template) -> Result<Html<String>, ConsoleError> {
    Ok(Html(t.render()?))
}

/// A failure inside the server's state, as the API reports it.
pub fn internal(e: impl std::fmt::Display) -> ConsoleError {
    ConsoleError::Api(ApiError::Internal(e.to_string()))
}

/// An optional form or query value: empty means not given.
pub fn given(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// A CSV field: quoted when it must be, and a leading `= + - @` (which a
/// spreadsheet would run as a formula) disarmed with a quote.
pub fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// A CSV download named `name`.
pub fn csv_response(name: &str, rows: Vec<Vec<String>>) -> axum::response::Response {
    use axum::http::header;
    use axum::response::IntoResponse;
    let mut body = String::new();
    for r in rows {
        let line: Vec<String> = r.iter().map(|f| csv_field(f)).collect();
        body.push_str(&line.join(","));
        body.push_str("\r\n");
    }
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_disarmed() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=1+1"), "'=1+1");
        assert_eq!(csv_field("-x,y"), "\"'-x,y\"");
    }
}
