//! Findings and overrides, with their evidence, filtered as the API filters.

use armsledger_server::routes::extract::Query;
use armsledger_server::routes::query::{self, FindingsQuery, IndexedFinding};
use axum::extract::State;
use axum::response::{Html, Response};
use serde::Deserialize;

use crate::Console;
use crate::auth::Signed;
use crate::error::ConsoleError;
use crate::views::{FindingRow, FindingsPage};

/// The filter form (empty fields are not filters).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct Filter {
    /// Site.
    #[serde(default)]
    pub site: String,
    /// Company.
    #[serde(default)]
    pub company: String,
    /// Rule (kebab-case).
    #[serde(default)]
    pub rule: String,
    /// Since (date).
    #[serde(default)]
    pub since: String,
    /// Until (date).
    #[serde(default)]
    pub until: String,
}

impl Filter {
    fn query(&self) -> FindingsQuery {
        let g = |s: &String| super::given(&Some(s.clone()));
        FindingsQuery {
            site: g(&self.site),
            company: g(&self.company),
            rule: g(&self.rule),
            since: g(&self.since),
            until: g(&self.until),
            overridden: None,
        }
    }

    /// The filters as a query string (`?site=…`), empty when none.
    fn query_string(&self) -> String {
        super::query_string(&[
            ("site", &self.site),
            ("company", &self.company),
            ("rule", &self.rule),
            ("since", &self.since),
            ("until", &self.until),
        ])
    }
}

async fn rows(c: &Console, s: &Signed, f: &Filter) -> Result<Vec<IndexedFinding>, ConsoleError> {
    let axum::Json(rows) =
        query::findings(State(c.shared.clone()), s.caller.clone(), Query(f.query())).await?;
    Ok(rows)
}

fn row(f: &IndexedFinding) -> FindingRow {
    FindingRow {
        index: f.index,
        rule: f.finding.rule.name().to_string(),
        chain: f.finding.chain.to_string(),
        time: f.finding.time.rfc3339(),
        kind: f.finding.kind.clone(),
        evidence: f.finding.evidence.clone(),
        overridden_by: f.finding.overridden_by.as_ref().map(ToString::to_string),
    }
}

/// `GET /console/findings`.
pub async fn page(
    State(c): State<Console>,
    s: Signed,
    axum::extract::Query(filter): axum::extract::Query<Filter>,
) -> Result<Html<String>, ConsoleError> {
    let found = rows(&c, &s, &filter).await?;
    super::html(&FindingsPage {
        nav: super::nav(&s, "findings"),
        csv_query: filter.query_string(),
        filter,
        rows: found.iter().map(row).collect(),
    })
}

/// `GET /console/findings.csv`: the same rows as a download.
pub async fn csv(
    State(c): State<Console>,
    s: Signed,
    axum::extract::Query(filter): axum::extract::Query<Filter>,
) -> Result<Response, ConsoleError> {
    let found = rows(&c, &s, &filter).await?;
    let mut out = vec![
        [
            "index",
            "rule",
            "chain",
            "time",
            "act",
            "evidence",
            "overridden_by",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for f in found.iter().map(row) {
        out.push(vec![
            f.index.to_string(),
            f.rule,
            f.chain,
            f.time,
            f.kind,
            f.evidence,
            f.overridden_by.unwrap_or_default(),
        ]);
    }
    super::csv_response("findings.csv", out)
}
