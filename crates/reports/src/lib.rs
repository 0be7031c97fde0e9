//! The reports a regulator files and reads, computed in one place so the CLI
//! (`armsledger report NAME`, offline from a bundle or from the server), the
//! server (`GET /v1/reports/NAME`) and the console say the same thing.
//!
//! ```text
//! armsledger report issues --site acme-north --from 2026-01-01 --to 2026-02-01 --format csv
//! issued_at,site,entry,kind,serial,to,issued_by,purpose,due_back,rounds_out,returned_at,…
//! ```
//!
//! Every report is a [`Table`] with the columns docs/reports.md documents,
//! computed from a [`Ledger`] (the folded state, the rule findings and the
//! entries in log order) within a [`Scope`] (site, company, period, and the
//! sites and companies the reader may see). The periodic return
//! ([`periodic`]) is also a typed, hashed structure that `verify-return`
//! recomputes from a bundle.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod people;
pub mod periodic;
mod registers;
mod render;
mod summary;

use std::collections::{BTreeSet, HashMap};

use armsledger_core::entry::{ChainId, SignedEntry};
use armsledger_core::hash::Hash;
use armsledger_core::ids::{CompanyId, SiteId, Timestamp};
use armsledger_core::rules::state::State;
use armsledger_core::rules::{Alert, Finding};
use serde::Serialize;

pub use periodic::{CheckpointRef, Difference, FiledReturn, PeriodicReturn};
pub use render::{Format, render};

/// Why a report could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// No report has that name.
    #[error(
        "no report named {0:?}; the reports are issues, counts, losses, expiries, transfers, disposals, personnel, access, summary and return"
    )]
    UnknownReport(String),
    /// The report is per site and no site was named.
    #[error("the {0} report is per site: name one with --site (or ?site=)")]
    SiteRequired(&'static str),
    /// The report covers a period and none was given.
    #[error("the {0} report covers a period: give --from and --to (or ?from=&to=)")]
    PeriodRequired(&'static str),
    /// `from` is not before `to`.
    #[error("the period is empty: --from {from} is not before --to {to}")]
    EmptyPeriod {
        /// Start.
        from: Timestamp,
        /// End.
        to: Timestamp,
    },
    /// A return needs a signed checkpoint to name.
    #[error("no signed checkpoint to compute the return at: the log has not published one yet")]
    NoCheckpoint,
    /// The reader may not see what was asked for.
    #[error("not yours to read: {0}")]
    NotVisible(String),
    /// Encoding or rendering failed.
    #[error("cannot render the report: {0}")]
    Render(String),
}

/// One cell: a number, a text, or nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Cell {
    /// A whole number.
    Int(i64),
    /// A text (times are RFC 3339 UTC).
    Text(String),
    /// Nothing to show (JSON `null`, an empty CSV field).
    Empty,
}

impl Cell {
    /// The cell as CSV and HTML show it.
    pub fn text(&self) -> String {
        match self {
            Cell::Int(n) => n.to_string(),
            Cell::Text(s) => s.clone(),
            Cell::Empty => String::new(),
        }
    }
}

impl From<u64> for Cell {
    fn from(n: u64) -> Self {
        Cell::Int(i64::try_from(n).unwrap_or(i64::MAX))
    }
}

impl From<usize> for Cell {
    fn from(n: usize) -> Self {
        Cell::Int(i64::try_from(n).unwrap_or(i64::MAX))
    }
}

impl From<i64> for Cell {
    fn from(n: i64) -> Self {
        Cell::Int(n)
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::Text(s)
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::Text(s.to_string())
    }
}

impl From<Timestamp> for Cell {
    fn from(t: Timestamp) -> Self {
        Cell::Text(t.rfc3339())
    }
}

impl<T: Into<Cell>> From<Option<T>> for Cell {
    fn from(v: Option<T>) -> Self {
        v.map_or(Cell::Empty, Into::into)
    }
}

/// A report: named columns and rows of cells, with notes on what it covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    /// The report's name (`issues`, `return`, …).
    pub report: &'static str,
    /// A title for people.
    pub title: String,
    /// What it covers, in one sentence.
    pub scope: String,
    /// Column names, as docs/reports.md lists them.
    pub columns: Vec<&'static str>,
    /// Rows, each as long as `columns`.
    pub rows: Vec<Vec<Cell>>,
    /// Notes (what is not yet included, what a figure relies on).
    pub notes: Vec<String>,
}

impl Table {
    /// The cell of `row` in `column`, if both exist.
    pub fn cell(&self, row: usize, column: &str) -> Option<&Cell> {
        let c = self.columns.iter().position(|n| *n == column)?;
        self.rows.get(row)?.get(c)
    }

    /// The rows whose `column` has the text `value`.
    pub fn rows_where(&self, column: &str, value: &str) -> Vec<usize> {
        (0..self.rows.len())
            .filter(|r| self.cell(*r, column).is_some_and(|c| c.text() == value))
            .collect()
    }
}

/// An entry with where and when the log took it.
#[derive(Clone, Copy, Debug)]
pub struct Logged<'a> {
    /// Log index.
    pub index: u64,
    /// Server receipt time, if known.
    pub received_at: Option<Timestamp>,
    /// The entry.
    pub entry: &'a SignedEntry,
}

impl Logged<'_> {
    /// When the log recorded it: server receipt, or the device's signing
    /// time when the receipt is not known.
    pub fn recorded_at(&self) -> Timestamp {
        self.received_at.unwrap_or(self.entry.header().device_time)
    }
}

/// What reports are computed from.
#[derive(Debug)]
pub struct Ledger<'a> {
    /// The folded state (corrected view) after every entry.
    pub state: &'a State,
    /// The hard-rule findings against the entries.
    pub findings: &'a [Finding],
    /// The entries, in log order.
    pub entries: Vec<Logged<'a>>,
    /// The signed checkpoint the entries are proven against, if any.
    pub checkpoint: Option<CheckpointRef>,
    /// Alerts known besides the soft rules' (the server's equivocation
    /// proofs); the summary counts them with the rest.
    pub extra_alerts: Vec<Alert>,
}

impl<'a> Ledger<'a> {
    /// Each entry's counter by its hash, to name referenced entries.
    pub(crate) fn counters(&self) -> HashMap<Hash, u64> {
        self.entries
            .iter()
            .map(|l| (l.entry.hash(), l.entry.counter()))
            .collect()
    }

    /// The entries of `site`'s chain, in order.
    pub(crate) fn site_entries(&self, site: &SiteId) -> impl Iterator<Item = &Logged<'a>> {
        let chain = ChainId::Site(site.clone());
        self.entries
            .iter()
            .filter(move |l| l.entry.chain() == &chain)
    }
}

/// Which part of the ledger a report covers, and what the reader may see.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    /// Only this site.
    pub site: Option<SiteId>,
    /// Only this company.
    pub company: Option<CompanyId>,
    /// Acts at or after this time (device time).
    pub from: Option<Timestamp>,
    /// Acts before this time.
    pub to: Option<Timestamp>,
    /// "Now" for overdue, age and expiry figures.
    pub now: Timestamp,
    /// The sites the reader may see (`None`: all).
    pub visible_sites: Option<BTreeSet<SiteId>>,
    /// The companies the reader may see (`None`: all).
    pub visible_companies: Option<BTreeSet<CompanyId>>,
}

impl Scope {
    /// Whether rows of `site` belong in the report.
    pub fn has_site(&self, state: &State, site: &SiteId) -> bool {
        let company = state.company_of(site);
        self.visible_sites.as_ref().is_none_or(|v| v.contains(site))
            && self.site.as_ref().is_none_or(|s| s == site)
            && self.company.as_ref().is_none_or(|c| company == Some(c))
    }

    /// Whether company-level rows of `company` belong in the report: the
    /// company of the site asked for, or the company asked for, and one the
    /// reader may see.
    pub fn has_company(&self, state: &State, company: Option<&CompanyId>) -> bool {
        if let Some(site) = &self.site
            && state.company_of(site) != company
        {
            return false;
        }
        let Some(company) = company else {
            return self.visible_companies.is_none() && self.company.is_none();
        };
        self.visible_companies
            .as_ref()
            .is_none_or(|v| v.contains(company))
            && self.company.as_ref().is_none_or(|c| c == company)
    }

    /// Whether `t` falls in `[from, to)`.
    pub fn has_time(&self, t: Timestamp) -> bool {
        self.from.is_none_or(|f| t >= f) && self.to.is_none_or(|e| t < e)
    }

    /// The scope in words, for report headers.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        match (&self.site, &self.company) {
            (Some(s), _) => parts.push(format!("site {s}")),
            (None, Some(c)) => parts.push(format!("company {c}")),
            (None, None) => parts.push("every site the reader may see".to_string()),
        }
        match (self.from, self.to) {
            (Some(f), Some(t)) => parts.push(format!("acts from {f} to before {t}")),
            (Some(f), None) => parts.push(format!("acts from {f}")),
            (None, Some(t)) => parts.push(format!("acts before {t}")),
            (None, None) => parts.push("all acts".to_string()),
        }
        parts.push(format!("as of {}", self.now));
        parts.join(", ")
    }
}

/// The reports, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReportName {
    /// Issue register.
    Issues,
    /// Counts and their discrepancies.
    Counts,
    /// Loss register.
    Losses,
    /// Expiries at 30, 60 and 90 days.
    Expiries,
    /// Transfers with quantities, mismatches and age.
    Transfers,
    /// Disposal certificates.
    Disposals,
    /// Personnel compliance.
    Personnel,
    /// Armoury access and key log.
    Access,
    /// The regulator's summary by company.
    Summary,
    /// Periodic return per site and period.
    Return,
}

impl ReportName {
    /// Every report.
    pub const ALL: [ReportName; 10] = [
        ReportName::Issues,
        ReportName::Counts,
        ReportName::Losses,
        ReportName::Expiries,
        ReportName::Transfers,
        ReportName::Disposals,
        ReportName::Personnel,
        ReportName::Access,
        ReportName::Summary,
        ReportName::Return,
    ];

    /// The name on the command line and in the API path.
    pub fn name(self) -> &'static str {
        match self {
            ReportName::Issues => "issues",
            ReportName::Counts => "counts",
            ReportName::Losses => "losses",
            ReportName::Expiries => "expiries",
            ReportName::Transfers => "transfers",
            ReportName::Disposals => "disposals",
            ReportName::Personnel => "personnel",
            ReportName::Access => "access",
            ReportName::Summary => "summary",
            ReportName::Return => "return",
        }
    }
}

impl std::str::FromStr for ReportName {
    type Err = ReportError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ReportName::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| ReportError::UnknownReport(s.to_string()))
    }
}

/// Computes report `name` over `ledger` within `scope`.
pub fn report(name: ReportName, ledger: &Ledger<'_>, scope: &Scope) -> Result<Table, ReportError> {
    if let (Some(from), Some(to)) = (scope.from, scope.to)
        && from >= to
    {
        return Err(ReportError::EmptyPeriod { from, to });
    }
    Ok(match name {
        ReportName::Issues => registers::issues(ledger, scope),
        ReportName::Counts => registers::counts(ledger, scope),
        ReportName::Losses => registers::losses(ledger, scope),
        ReportName::Transfers => registers::transfers(ledger, scope),
        ReportName::Disposals => registers::disposals(ledger, scope),
        ReportName::Access => registers::access(ledger, scope),
        ReportName::Expiries => people::expiries(ledger, scope),
        ReportName::Personnel => people::personnel(ledger, scope),
        ReportName::Summary => summary::summary(ledger, scope),
        ReportName::Return => periodic::compute_for(ledger, scope)?.table(),
    })
}

/// A report's output in `format`: the table (JSON: `{"report", "title",
/// "scope", "columns", "rows": [{column: value}], "notes"}`), except the
/// periodic return, whose JSON is the filed return itself
/// ([`FiledReturn`]), the file `verify-return` checks.
pub fn produce(
    name: ReportName,
    ledger: &Ledger<'_>,
    scope: &Scope,
    format: Format,
) -> Result<Vec<u8>, ReportError> {
    if name == ReportName::Return && format == Format::Json {
        let filed = periodic::compute_for(ledger, scope)?.file()?;
        return serde_json::to_vec_pretty(&filed).map_err(|e| ReportError::Render(e.to_string()));
    }
    render(&report(name, ledger, scope)?, format)
}
