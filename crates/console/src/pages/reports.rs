//! The regulator's reports (docs/reports.md) as tables, filtered by site,
//! company and period, with a CSV download of exactly the table shown. Each
//! asks the server's own `GET /v1/reports/{name}` handler with the session's
//! caller, so a role sees and is refused what the API shows and refuses
//! (the police are refused every report).

use armsledger_reports::ReportName;
use armsledger_server::ApiError;
use armsledger_server::routes::extract::{Path, Query};
use armsledger_server::routes::reports::{self, ReportQuery};
use armsledger_server::tokens::Role;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::Console;
use crate::auth::Signed;
use crate::error::ConsoleError;
use crate::views::{ReportChoice, ReportTable, ReportsPage};

/// The largest report the console reads from the server's handler.
pub const MAX_REPORT_BYTES: usize = 64 * 1024 * 1024;

/// The filter form (empty fields are not filters).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct Filter {
    /// Report name (`issues`, `summary`, …); empty shows the form only.
    #[serde(default)]
    pub report: String,
    /// Site.
    #[serde(default)]
    pub site: String,
    /// Company.
    #[serde(default)]
    pub company: String,
    /// From (date or RFC 3339 time, inclusive).
    #[serde(default)]
    pub from: String,
    /// To (date or RFC 3339 time, exclusive).
    #[serde(default)]
    pub to: String,
}

impl Filter {
    fn query(&self) -> ReportQuery {
        let g = |s: &String| super::given(&Some(s.clone()));
        ReportQuery {
            site: g(&self.site),
            company: g(&self.company),
            from: g(&self.from),
            to: g(&self.to),
            at: None,
            format: Some("json".into()),
        }
    }

    /// The filters as a query string, for the CSV link.
    fn query_string(&self) -> String {
        super::query_string(&[
            ("report", &self.report),
            ("site", &self.site),
            ("company", &self.company),
            ("from", &self.from),
            ("to", &self.to),
        ])
    }
}

/// A report as the server's handler answers it in JSON.
#[derive(Debug, Deserialize)]
struct Answer {
    title: String,
    scope: String,
    columns: Vec<String>,
    rows: Vec<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    notes: Vec<String>,
}

fn text(v: Option<&serde_json::Value>) -> String {
    match v {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// The report `f` names, as the API computes it for the session's caller.
async fn table(c: &Console, s: &Signed, f: &Filter) -> Result<ReportTable, ConsoleError> {
    let name = f.report.trim().to_string();
    let res = reports::report(
        State(c.shared.clone()),
        s.caller.clone(),
        Path(name.clone()),
        Query(f.query()),
    )
    .await?;
    let bytes = axum::body::to_bytes(res.into_body(), MAX_REPORT_BYTES)
        .await
        .map_err(|e| {
            ConsoleError::Api(ApiError::Internal(format!(
                "report {name}: {e} (larger than {MAX_REPORT_BYTES} bytes?)"
            )))
        })?;
    let a: Answer = serde_json::from_slice(&bytes).map_err(super::internal)?;
    let rows = a
        .rows
        .iter()
        .map(|r| a.columns.iter().map(|c| text(r.get(c))).collect())
        .collect();
    Ok(ReportTable {
        name,
        title: a.title,
        scope: a.scope,
        columns: a.columns,
        rows,
        notes: a.notes,
    })
}

/// Every report, for the form's choice.
fn choices(selected: &str) -> Vec<ReportChoice> {
    ReportName::ALL
        .iter()
        .map(|r| ReportChoice {
            name: r.name(),
            selected: r.name() == selected.trim(),
        })
        .collect()
}

/// `GET /console/reports?report=&site=&company=&from=&to=`.
pub async fn page(
    State(c): State<Console>,
    s: Signed,
    axum::extract::Query(filter): axum::extract::Query<Filter>,
) -> Result<Response, ConsoleError> {
    let (table, error, status) = if filter.report.trim().is_empty() {
        // The form alone; the police are refused here as every report
        // refuses them (`/v1/reports/{name}`).
        if *s.role() == Role::Police {
            return Err(ConsoleError::Api(s.caller.forbidden("read reports")));
        }
        (None, None, StatusCode::OK)
    } else {
        match table(&c, &s, &filter).await {
            Ok(t) => (Some(t), None, StatusCode::OK),
            // A filter the report cannot take: the form again, with why.
            Err(ConsoleError::Api(e @ ApiError::BadRequest(_))) => {
                (None, Some(e.to_string()), StatusCode::BAD_REQUEST)
            }
            Err(e) => return Err(e),
        }
    };
    let html = super::html(&ReportsPage {
        nav: super::nav(&s, "reports"),
        choices: choices(&filter.report),
        csv_query: filter.query_string(),
        filter,
        table,
        error,
    })?;
    Ok((status, html).into_response())
}

/// `GET /console/reports.csv?report=…`: exactly the table the page shows.
pub async fn csv(
    State(c): State<Console>,
    s: Signed,
    axum::extract::Query(filter): axum::extract::Query<Filter>,
) -> Result<Response, ConsoleError> {
    let t = table(&c, &s, &filter).await?;
    let mut rows = Vec::with_capacity(t.rows.len() + 1);
    rows.push(t.columns.clone());
    rows.extend(t.rows);
    super::csv_response(&format!("{}.csv", t.name), rows)
}
