//! The pages' view models: plain strings and numbers, rendered by the
//! askama templates under `templates/` (HTML-escaped by default).

use askama::Template;

/// The navigation bar of a signed-in page.
#[derive(Debug, Clone)]
pub struct Nav {
    /// The caller's role, as the token says it.
    pub role: String,
    /// The session's CSRF token (the sign-out form carries it).
    pub csrf: String,
    /// Which page is shown (its menu item is marked current).
    pub active: &'static str,
    /// Whether the role is the regulator's (the tokens and access-log pages
    /// are shown).
    pub regulator: bool,
    /// Whether the role may read reports (every role but the police).
    pub reports: bool,
    /// Whether the role may check serials against the register (the roles
    /// that read every site: regulator, auditor, police).
    pub serials: bool,
    /// The log key pinned at sign-in.
    pub log_key: String,
}

/// An error page.
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    /// Title.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// What went wrong, for the reader.
    pub message: String,
}

/// The sign-in form.
#[derive(Template)]
#[template(path = "sign_in.html")]
pub struct SignInPage {
    /// The pre-session CSRF token.
    pub csrf: String,
    /// The log key the server publishes (pinned unless another is given).
    pub server_log_key: String,
    /// Why the last attempt failed.
    pub error: Option<String>,
}

/// One alert row.
#[derive(Debug, Clone)]
pub struct AlertRow {
    /// Rule name.
    pub rule: String,
    /// Site, if any.
    pub site: Option<String>,
    /// Company, if any.
    pub company: Option<String>,
    /// Since (or until) when.
    pub at: String,
    /// What.
    pub detail: String,
}

/// Alerts of one severity.
#[derive(Debug, Clone)]
pub struct AlertGroup {
    /// `critical`, `high`, `medium` or `low`.
    pub severity: &'static str,
    /// What the group holds, in words.
    pub label: &'static str,
    /// The alerts.
    pub alerts: Vec<AlertRow>,
}

/// A trace request not yet answered.
#[derive(Debug, Clone)]
pub struct TraceRequestView {
    /// Reference.
    pub reference: String,
    /// `open` or `overdue`.
    pub status: String,
    /// The serial asked about.
    pub serial: String,
    /// The company asked.
    pub company: String,
    /// Opened.
    pub opened_at: String,
    /// Answer by.
    pub deadline: String,
}

/// The dashboard.
#[derive(Template)]
#[template(path = "dashboard.html")]
pub struct DashboardPage {
    /// Navigation.
    pub nav: Nav,
    /// Alerts by severity, most severe first.
    pub groups: Vec<AlertGroup>,
    /// Entries in the log.
    pub log_size: u64,
    /// The latest checkpoint's size.
    pub checkpoint_size: Option<u64>,
    /// Receipt time of the last entry the checkpoint covers.
    pub checkpoint_covers: Option<String>,
    /// The latest signed checkpoint, verbatim.
    pub checkpoint_note: Option<String>,
    /// When a witness cosigned the last checkpoint (the newest cosignature).
    pub witnessed: Option<String>,
    /// Trace requests not yet answered.
    pub trace_requests: Vec<TraceRequestView>,
    /// Sites the role may read.
    pub sites: usize,
    /// The alerts chart's figures in words (its `alt` text).
    pub chart_alt: String,
}

/// One site in the list.
#[derive(Debug, Clone)]
pub struct SiteRow {
    /// Site id.
    pub id: String,
    /// Site name.
    pub name: String,
    /// Company id.
    pub company: String,
    /// Company name.
    pub company_name: String,
    /// Firearms it answers for.
    pub firearms: usize,
    /// Open issues.
    pub open_issues: usize,
    /// Alerts now.
    pub alerts: usize,
}

/// Companies and sites.
#[derive(Template)]
#[template(path = "sites.html")]
pub struct SitesPage {
    /// Navigation.
    pub nav: Nav,
    /// The sites the role may read.
    pub sites: Vec<SiteRow>,
}

/// One firearm of an inventory.
#[derive(Debug, Clone)]
pub struct InventoryRow {
    /// Serial.
    pub serial: String,
    /// Make and model.
    pub make_model: String,
    /// Calibre.
    pub calibre: String,
    /// State word.
    pub state: String,
}

/// One open issue.
#[derive(Debug, Clone)]
pub struct IssueRow {
    /// To whom.
    pub person: String,
    /// What (serials, rounds).
    pub what: String,
    /// Since.
    pub since: String,
    /// Due back.
    pub due: String,
}

/// One device key of a site.
#[derive(Debug, Clone)]
pub struct KeyRow {
    /// Device.
    pub device: String,
    /// Key epoch.
    pub epoch: u32,
    /// active, retired or revoked.
    pub status: String,
}

/// A site's page.
#[derive(Template)]
#[template(path = "site.html")]
pub struct SitePage {
    /// Navigation.
    pub nav: Nav,
    /// Site id.
    pub site: String,
    /// Site name.
    pub name: String,
    /// Company.
    pub company: String,
    /// As of (the date picker's value), or none for now.
    pub at: Option<String>,
    /// Firearms.
    pub firearms: Vec<InventoryRow>,
    /// Count per state.
    pub by_state: Vec<(String, usize)>,
    /// Ammunition balances: lot, calibre, holder, rounds.
    pub rounds: Vec<(String, String, String, i64)>,
    /// Open issues.
    pub issues: Vec<IssueRow>,
    /// Alerts now.
    pub alerts: Vec<AlertRow>,
    /// Discrepancies recorded by counts.
    pub discrepancies: Vec<String>,
    /// Head counter.
    pub head_counter: Option<u64>,
    /// Head hash.
    pub head_hash: Option<String>,
    /// Entries logged for the chain.
    pub entries: usize,
    /// Declared counter gaps.
    pub gaps: Vec<(u64, u64)>,
    /// Device keys.
    pub keys: Vec<KeyRow>,
    /// Equivocations on the chain.
    pub equivocations: usize,
    /// Receipt time of its last entry (last sync).
    pub last_sync: Option<String>,
    /// Entries per day in words (the chart's `alt` text).
    pub chart_alt: String,
}

/// One search hit.
#[derive(Debug, Clone)]
pub struct Hit {
    /// The serial now.
    pub serial: String,
    /// Make and model.
    pub make_model: String,
    /// Where it is (as the caller may see).
    pub site: String,
    /// State.
    pub state: String,
}

/// Weapon search.
#[derive(Template)]
#[template(path = "search.html")]
pub struct SearchPage {
    /// Navigation.
    pub nav: Nav,
    /// What was typed.
    pub query: String,
    /// Hits.
    pub hits: Vec<Hit>,
    /// Whether a search was made.
    pub searched: bool,
}

/// One event of a trace.
#[derive(Debug, Clone)]
pub struct EventRow {
    /// Log index, if logged.
    pub index: Option<u64>,
    /// Device time.
    pub time: String,
    /// Site (the chain).
    pub site: String,
    /// Officer.
    pub officer: String,
    /// Kind.
    pub kind: String,
    /// As recorded.
    pub summary: String,
    /// As corrected, if a correction replaced it.
    pub corrected_summary: Option<String>,
    /// The leaf data (hex) the browser hashes.
    pub leaf: String,
    /// The inclusion proof (hex hashes, space-separated).
    pub proof: String,
}

/// One firearm of a trace.
#[derive(Debug, Clone)]
pub struct TracedView {
    /// Serial now.
    pub serial: String,
    /// Make and model, calibre.
    pub description: String,
    /// Where it is.
    pub site: String,
    /// State.
    pub state: String,
    /// Serial corrections: from, to, when, by, approver, why.
    pub serial_changes: Vec<String>,
    /// Custody periods: site, from, until.
    pub custody: Vec<(String, String, String)>,
    /// Custody in words (the chart's `alt` text).
    pub chart_alt: String,
    /// Events.
    pub events: Vec<EventRow>,
    /// Whether the per-weapon chain is complete from acquisition.
    pub complete: bool,
}

/// A weapon's trace.
#[derive(Template)]
#[template(path = "trace.html")]
pub struct TracePage {
    /// Navigation.
    pub nav: Nav,
    /// The serial as asked.
    pub serial: String,
    /// `corrected`, `original` or `both`.
    pub view: String,
    /// Firearms under that serial.
    pub firearms: Vec<TracedView>,
    /// The checkpoint the proofs are against.
    pub checkpoint: String,
}

/// One finding.
#[derive(Debug, Clone)]
pub struct FindingRow {
    /// Log index.
    pub index: u64,
    /// Rule.
    pub rule: String,
    /// Chain.
    pub chain: String,
    /// Device time.
    pub time: String,
    /// Kind of act.
    pub kind: String,
    /// Evidence.
    pub evidence: String,
    /// The override entry, if a second person authorised it.
    pub overridden_by: Option<String>,
}

/// Findings and overrides.
#[derive(Template)]
#[template(path = "findings.html")]
pub struct FindingsPage {
    /// Navigation.
    pub nav: Nav,
    /// Filters as given: site, company, rule, since, until.
    pub filter: crate::pages::findings::Filter,
    /// The findings.
    pub rows: Vec<FindingRow>,
    /// The CSV link's query string (filters only).
    pub csv_query: String,
}

/// One token.
#[derive(Debug, Clone)]
pub struct TokenRow {
    /// Id.
    pub id: String,
    /// Role.
    pub role: String,
    /// Label.
    pub label: String,
    /// Created.
    pub created: String,
    /// Revoked, if it was.
    pub revoked: Option<String>,
}

/// Tokens (regulator).
#[derive(Template)]
#[template(path = "tokens.html")]
pub struct TokensPage {
    /// Navigation.
    pub nav: Nav,
    /// Tokens.
    pub rows: Vec<TokenRow>,
}

/// A report the form offers.
#[derive(Debug, Clone)]
pub struct ReportChoice {
    /// Its name (`issues`, `summary`, …).
    pub name: &'static str,
    /// Whether it is the one shown.
    pub selected: bool,
}

/// A report's table, as the API computed it.
#[derive(Debug, Clone)]
pub struct ReportTable {
    /// Its name.
    pub name: String,
    /// Title.
    pub title: String,
    /// What it covers.
    pub scope: String,
    /// Column names (docs/reports.md).
    pub columns: Vec<String>,
    /// Rows, each as long as `columns`.
    pub rows: Vec<Vec<String>>,
    /// Notes.
    pub notes: Vec<String>,
}

/// The reports page.
#[derive(Template)]
#[template(path = "reports.html")]
pub struct ReportsPage {
    /// Navigation.
    pub nav: Nav,
    /// Every report, for the form.
    pub choices: Vec<ReportChoice>,
    /// Filters as given.
    pub filter: crate::pages::reports::Filter,
    /// The CSV link's query string.
    pub csv_query: String,
    /// The report, if one was asked for.
    pub table: Option<ReportTable>,
    /// Why the report could not be made with these filters.
    pub error: Option<String>,
}

/// One access record.
#[derive(Debug, Clone)]
pub struct AccessRow {
    /// Position in the log.
    pub seq: u64,
    /// When.
    pub time: String,
    /// Token id.
    pub token_id: String,
    /// Role.
    pub role: String,
    /// Route template.
    pub route: String,
    /// Route parameters.
    pub subject: String,
    /// Query string.
    pub query: String,
}

/// The access log (regulator).
#[derive(Template)]
#[template(path = "access_log.html")]
pub struct AccessLogPage {
    /// Navigation.
    pub nav: Nav,
    /// Filters as given.
    pub filter: crate::pages::access_log::Filter,
    /// The records, oldest first.
    pub rows: Vec<AccessRow>,
    /// The chain's head, if it verifies.
    pub head: Option<String>,
    /// The first broken record, if it does not.
    pub broken: Option<String>,
    /// The most records one query returns.
    pub max: usize,
    /// The CSV link's query string.
    pub csv_query: String,
}

/// The register's answer about a serial.
#[derive(Debug, Clone)]
pub struct SerialAnswer {
    /// The serial as asked.
    pub serial: String,
    /// What the proof showed, in words, or why it failed.
    pub verdict: String,
    /// Whether the proof check failed.
    pub failed: bool,
    /// Whether a firearm under the serial is reported lost or stolen, or a
    /// notice names it.
    pub reported: bool,
    /// Firearms: serial, make and model, site, state, register records.
    pub firearms: Vec<(String, String, String, String, String)>,
    /// Notices in force naming the serial.
    pub notices: Vec<String>,
    /// The signed checkpoint the proof is against.
    pub checkpoint: String,
}

/// Check a serial against the lost-and-stolen register.
#[derive(Template)]
#[template(path = "check_serial.html")]
pub struct CheckSerialPage {
    /// Navigation.
    pub nav: Nav,
    /// What was typed.
    pub query: String,
    /// The answer, if a serial was asked.
    pub result: Option<SerialAnswer>,
}

/// One act on a lot.
#[derive(Debug, Clone)]
pub struct LotStepRow {
    /// Log index.
    pub index: Option<u64>,
    /// Device time.
    pub time: String,
    /// Chain.
    pub site: String,
    /// Officer.
    pub officer: String,
    /// Kind.
    pub kind: String,
    /// One line.
    pub summary: String,
    /// Balances that moved: before → after.
    pub changes: Vec<String>,
    /// Every holder after the act.
    pub balances: Vec<String>,
    /// Differences the act shows.
    pub flags: Vec<String>,
}

/// One lot's trace.
#[derive(Debug, Clone)]
pub struct LotView {
    /// Ledger id.
    pub lot: String,
    /// Number, maker, calibre, type, year.
    pub description: String,
    /// Whether every site's link chain for it holds.
    pub complete: bool,
    /// Holders now: site, holder, rounds.
    pub balances: Vec<(String, String, i64)>,
    /// Acts in log order.
    pub steps: Vec<LotStepRow>,
    /// Who held rounds in the window asked for.
    pub held: Option<Vec<String>>,
}

/// An ammunition lot's trace.
#[derive(Template)]
#[template(path = "lot.html")]
pub struct LotPage {
    /// Navigation.
    pub nav: Nav,
    /// The lot as typed.
    pub query: String,
    /// `corrected`, `original` or `both`.
    pub view: String,
    /// Window start.
    pub held_from: String,
    /// Window end.
    pub held_until: String,
    /// Lots under that number the caller may see.
    pub lots: Vec<LotView>,
    /// The checkpoint the proofs are against.
    pub checkpoint: Option<String>,
    /// Whether a lot was asked for.
    pub searched: bool,
}
