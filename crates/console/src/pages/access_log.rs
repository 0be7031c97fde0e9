//! The access log (regulator only): who read what, filtered by token,
//! subject and time, with a CSV download of exactly the rows shown. Asks
//! the server's own `GET /v1/access-log` handler, which refuses every other
//! role.

use armsledger_core::ids::Timestamp;
use armsledger_server::ApiError;
use armsledger_server::access_log::{self, AccessAnswer, AccessQuery};
use armsledger_server::routes::extract::Query;
use axum::extract::State;
use axum::response::{Html, Response};
use serde::Deserialize;

use crate::Console;
use crate::auth::Signed;
use crate::error::ConsoleError;
use crate::views::{AccessLogPage, AccessRow};

/// The filter form (empty fields are not filters).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct Filter {
    /// A token's id (as the tokens page shows it), never its secret.
    #[serde(default)]
    pub token_id: String,
    /// A serial, site, person or other parameter the read named.
    #[serde(default)]
    pub subject: String,
    /// Reads at or after this date or RFC 3339 time.
    #[serde(default)]
    pub since: String,
}

impl Filter {
    fn query(&self) -> Result<AccessQuery, ConsoleError> {
        let since_ms = match super::given(&Some(self.since.clone())) {
            None => None,
            Some(s) => Some(
                Timestamp::parse(&s)
                    .ok_or_else(|| {
                        ConsoleError::Api(ApiError::BadRequest(format!(
                            "since: {s:?} is not a date or an RFC 3339 time"
                        )))
                    })?
                    .0,
            ),
        };
        Ok(AccessQuery {
            token_id: super::given(&Some(self.token_id.clone())),
            subject: super::given(&Some(self.subject.clone())),
            since_ms,
            limit: None,
        })
    }

    fn query_string(&self) -> String {
        super::query_string(&[
            ("token_id", &self.token_id),
            ("subject", &self.subject),
            ("since", &self.since),
        ])
    }
}

async fn answer(c: &Console, s: &Signed, f: &Filter) -> Result<AccessAnswer, ConsoleError> {
    let axum::Json(a) =
        access_log::list(State(c.shared.clone()), s.caller.clone(), Query(f.query()?)).await?;
    Ok(a)
}

fn rows(a: &AccessAnswer) -> Vec<AccessRow> {
    a.records
        .iter()
        .map(|r| AccessRow {
            seq: r.seq,
            time: r.time.rfc3339(),
            token_id: r.token_id.clone(),
            role: r.role.clone(),
            route: r.route.clone(),
            subject: r.subject.clone(),
            query: r.query.clone(),
        })
        .collect()
}

/// `GET /console/access-log`.
pub async fn page(
    State(c): State<Console>,
    s: Signed,
    axum::extract::Query(filter): axum::extract::Query<Filter>,
) -> Result<Html<String>, ConsoleError> {
    let a = answer(&c, &s, &filter).await?;
    super::html(&AccessLogPage {
        nav: super::nav(&s, "access-log"),
        rows: rows(&a),
        head: a
            .head
            .as_ref()
            .map(|h| format!("{} records, head {}", h.size, hex::encode(h.hash))),
        broken: a.broken.clone(),
        max: access_log::MAX_QUERY,
        csv_query: filter.query_string(),
        filter,
    })
}

/// `GET /console/access-log.csv`: the same rows as a download.
pub async fn csv(
    State(c): State<Console>,
    s: Signed,
    axum::extract::Query(filter): axum::extract::Query<Filter>,
) -> Result<Response, ConsoleError> {
    let a = answer(&c, &s, &filter).await?;
    let mut out = vec![
        [
            "seq", "time", "token_id", "role", "route", "subject", "query",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for r in rows(&a) {
        out.push(vec![
            r.seq.to_string(),
            r.time,
            r.token_id,
            r.role,
            r.route,
            r.subject,
            r.query,
        ]);
    }
    super::csv_response("access-log.csv", out)
}
