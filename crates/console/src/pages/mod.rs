//! The console's pages, one module per page or group. Each asks the
//! server's own handlers with the session's caller.

pub mod access_log;
pub mod dashboard;
pub mod findings;
pub mod register;
pub mod reports;
pub mod sign_in;
pub mod sites;
pub mod tokens;
pub mod trace;

use armsledger_server::ApiError;
use armsledger_server::tokens::Role;
use askama::Template;
use axum::response::{Html, IntoResponse, Response};

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
        reports: *s.role() != Role::Police,
        serials: s.role().reads_every_site(),
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

/// A cell as a CSV download carries it: a leading `= + - @` (which a
/// spreadsheet would run as a formula) disarmed with a quote.
fn disarm(s: &str) -> std::borrow::Cow<'_, str> {
    if s.starts_with(['=', '+', '-', '@']) {
        std::borrow::Cow::Owned(format!("'{s}"))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// `rows` as CSV (the `csv` crate quotes; formulas are disarmed).
pub fn csv_bytes(rows: &[Vec<String>]) -> Result<Vec<u8>, ConsoleError> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .flexible(true)
        .from_writer(Vec::new());
    for r in rows {
        w.write_record(r.iter().map(|f| disarm(f).into_owned()))
            .map_err(internal)?;
    }
    w.into_inner().map_err(internal)
}

/// A CSV download named `name` (an attachment).
pub fn csv_response(name: &str, rows: Vec<Vec<String>>) -> Result<Response, ConsoleError> {
    use axum::http::header;
    let body = csv_bytes(&rows)?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response())
}

/// The filters of a form as a query string (`?site=…`), empty when none.
pub fn query_string(pairs: &[(&str, &str)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| format!("{k}={}", encode(v.trim())))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

/// Percent-encodes a query or path value.
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_disarmed() {
        let rows = vec![
            vec!["plain".to_string(), "a,b".into(), "say \"hi\"".into()],
            vec!["=1+1".into(), "-x,y".into(), "@SUM(A1)".into()],
        ];
        let out = String::from_utf8(csv_bytes(&rows).unwrap()).unwrap();
        assert_eq!(
            out,
            "plain,\"a,b\",\"say \"\"hi\"\"\"\r\n'=1+1,\"'-x,y\",'@SUM(A1)\r\n"
        );
        // Quiet: a plain negative-free cell is left alone.
        assert_eq!(disarm("12"), "12");
    }
}
