//! The console in process: the router driven with `oneshot`, pages parsed
//! with `scraper`. Every page × every role, allowed and refused; sign-in,
//! cookies, CSRF refusals, headers, escaping, and no token in any URL.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::HashMap;
use std::sync::Arc;

use armsledger_core::event::RegulatorEvent;
use armsledger_core::ids::Timestamp;
use armsledger_core::testkit::Showcase;
use armsledger_core::testkit::{T0, v};
use armsledger_server::{Config, Shared, app, spawn_workers};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use scraper::{Html, Selector};
use tower::ServiceExt;

const ROLES: [&str; 8] = [
    "regulator",
    "police",
    "auditor",
    "company:acme",
    "company:other-co",
    "site:north",
    "site:south",
    "company:nobody",
];

struct Env {
    _dir: tempfile::TempDir,
    shared: Arc<Shared>,
    app: Router,
    tokens: HashMap<&'static str, String>,
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

async fn send(app: &Router, req: Request<Body>) -> Reply {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let mut show = Showcase::new();
    // A trace request to acme, unanswered, deadline far ahead: open.
    show.scenario.regulator(RegulatorEvent::TraceRequested {
        reference: v("TR-2026-7"),
        serial: v("GLK-001"),
        company: v("acme"),
        deadline: T0.plus(3650 * Timestamp::DAY),
    });
    let s = &show.scenario;
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        regulator_key: Some(hex::encode(s.regulator_key())),
        manufacturer_roots: vec![hex::encode(s.root_key())],
        checkpoint_interval_ms: 10,
        ..Config::default()
    };
    let shared = Shared::open(config).unwrap();
    spawn_workers(shared.clone());
    let tokens: HashMap<&'static str, String> = ROLES
        .iter()
        .map(|r| {
            let t = shared.tokens().create(r.parse().unwrap(), r, T0).unwrap().0;
            (*r, t)
        })
        .collect();
    let app = armsledger_console::mount(app(shared.clone()), shared.clone());
    let raw: Vec<Vec<u8>> = show.log().iter().map(|e| e.bytes().to_vec()).collect();
    let r = send(
        &app,
        Request::post("/v1/entries?wait=true")
            .header("authorization", format!("Bearer {}", tokens["regulator"]))
            .body(Body::from(postcard::to_allocvec(&raw).unwrap()))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    Env {
        _dir: dir,
        shared,
        app,
        tokens,
    }
}

/// The value of `name` in the reply's Set-Cookie headers, and the whole header.
fn set_cookie(r: &Reply, name: &str) -> Option<(String, String)> {
    r.headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| {
            let val = v
                .split(';')
                .next()
                .unwrap()
                .split_once('=')
                .unwrap()
                .1
                .to_string();
            (val, v)
        })
}

fn form_value(body: &str, sel: &str) -> String {
    let doc = Html::parse_document(body);
    let s = Selector::parse(sel).unwrap();
    doc.select(&s)
        .next()
        .unwrap_or_else(|| panic!("no {sel} in {body}"))
        .value()
        .attr("value")
        .unwrap()
        .to_string()
}

impl Env {
    /// Signs in as `role` through the form; the session cookie.
    async fn sign_in(&self, role: &str) -> String {
        self.sign_in_pinning(role, "").await
    }

    /// Signs in as `role`, pinning `log_key` (empty: the server's).
    async fn sign_in_pinning(&self, role: &str, log_key: &str) -> String {
        let form = send(
            &self.app,
            Request::get("/console/sign-in")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(form.status, StatusCode::OK);
        let (pre, _) = set_cookie(&form, "als_console_pre").unwrap();
        let csrf = form_value(&form.body, "input[name=csrf]");
        let r = send(
            &self.app,
            Request::post("/console/sign-in")
                .header(header::COOKIE, format!("als_console_pre={pre}"))
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(format!(
                    "csrf={csrf}&token={}&log_key={}",
                    self.tokens[role],
                    log_key.replace('+', "%2B")
                )))
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        set_cookie(&r, "als_console").unwrap().0
    }

    async fn get(&self, uri: &str, session: Option<&str>) -> Reply {
        let mut req = Request::get(uri);
        if let Some(s) = session {
            req = req.header(header::COOKIE, format!("als_console={s}"));
        }
        send(&self.app, req.body(Body::empty()).unwrap()).await
    }

    async fn post(&self, uri: &str, session: &str, body: &str) -> Reply {
        send(
            &self.app,
            Request::post(uri)
                .header(header::COOKIE, format!("als_console={session}"))
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
    }
}

fn csrf_of(body: &str) -> String {
    form_value(body, "form[action='/console/sign-out'] input[name=csrf]")
}

const PAGES: [&str; 21] = [
    "/console/",
    "/console/sites",
    "/console/sites/north",
    "/console/sites/south",
    "/console/sites/north/inventory.csv",
    "/console/search?serial=glk%20001",
    "/console/firearms/GLK-001",
    "/console/firearms/GLK-001/dossier",
    "/console/findings",
    "/console/findings.csv",
    "/console/tokens",
    "/console/reports?report=issues&site=north",
    "/console/reports.csv?report=summary",
    "/console/access-log",
    "/console/access-log.csv",
    "/console/check-serial?serial=glk%20001",
    "/console/lots?lot=L-24-0917",
    "/console/lots/L-24-0917/dossier",
    "/console/charts/alerts.svg",
    "/console/sites/north/entries.svg",
    "/console/firearms/GLK-001/custody.svg?firearm=0",
];

/// What each role gets on each page of [`PAGES`].
fn expected(role: &str, page: &str) -> StatusCode {
    let ok = StatusCode::OK;
    let no = StatusCode::FORBIDDEN;
    match (role, page) {
        ("regulator", _) => ok,
        (_, "/console/tokens") => no,
        (_, p) if p.starts_with("/console/access-log") => no,
        // Serial checks: the roles that read every site.
        ("auditor" | "police", p) if p.starts_with("/console/check-serial") => ok,
        (_, p) if p.starts_with("/console/check-serial") => no,
        // Reports: every role but the police, each its own sites.
        ("police", p) if p.starts_with("/console/reports") => no,
        (
            "company:other-co" | "site:south" | "company:nobody",
            "/console/reports?report=issues&site=north",
        ) => no,
        ("auditor", _) => ok,
        ("police", _) => ok,
        ("company:acme" | "site:north", p) if p.starts_with("/console/sites/south") => no,
        ("company:other-co" | "site:south", p) if p.starts_with("/console/sites/north") => no,
        ("company:nobody", p) if p.starts_with("/console/sites/") => no,
        // GLK-001 was held at north (acme), then sent to south (other-co):
        // a role that never held it gets the same 404 as for no such serial.
        ("company:nobody", p) if p.starts_with("/console/firearms/") => StatusCode::NOT_FOUND,
        // other-co (site south) received 100 rounds of the lot from north:
        // it and south get a dossier of south's acts, acme and north one of
        // north's. A company with no site never held it: the API's 404.
        ("company:nobody", "/console/lots/L-24-0917/dossier") => StatusCode::NOT_FOUND,
        _ => ok,
    }
}

#[tokio::test]
async fn every_page_for_every_role_allowed_and_refused() {
    let e = env().await;
    for page in PAGES {
        // Signed out: every page sends to the sign-in form.
        let r = e.get(page, None).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{page}");
        assert_eq!(r.headers[header::LOCATION], "/console/sign-in", "{page}");
    }
    for role in ROLES {
        let session = e.sign_in(role).await;
        for page in PAGES {
            let r = e.get(page, Some(&session)).await;
            assert_eq!(r.status, expected(role, page), "{role} {page}: {}", r.body);
        }
    }
}

#[tokio::test]
async fn pages_show_only_what_the_role_may_read() {
    let e = env().await;
    let rows = |body: &str| -> Vec<String> {
        let doc = Html::parse_document(body);
        let s = Selector::parse("#sites tbody tr td:first-child a").unwrap();
        doc.select(&s).map(|a| a.text().collect()).collect()
    };
    let reg = e.sign_in("regulator").await;
    let all = rows(&e.get("/console/sites", Some(&reg)).await.body);
    assert!(all.len() >= 2, "{all:?}");
    let north = e.sign_in("site:north").await;
    let mine = rows(&e.get("/console/sites", Some(&north)).await.body);
    assert_eq!(mine.len(), 1, "{mine:?}");
    // The search finds the weapon however the serial is typed.
    for typed in ["glk%20001", "GLK001", "g.l.k-0-0-1", "GLK-0O1"] {
        let r = e
            .get(&format!("/console/search?serial={typed}"), Some(&reg))
            .await;
        let doc = Html::parse_document(&r.body);
        let s = Selector::parse("#hits a.trace-link").unwrap();
        let hits: Vec<String> = doc.select(&s).map(|a| a.text().collect()).collect();
        assert_eq!(hits, ["GLK-001"], "{typed}");
    }
    // The trace page carries each logged event's leaf and proof.
    let r = e
        .get("/console/firearms/GLK-001?view=both", Some(&reg))
        .await;
    let doc = Html::parse_document(&r.body);
    let ev = Selector::parse("li.event").unwrap();
    let events: Vec<_> = doc.select(&ev).collect();
    assert!(events.len() >= 3);
    for li in &events {
        assert!(!li.value().attr("data-leaf").unwrap().is_empty());
        assert!(!li.value().attr("data-index").unwrap().is_empty());
    }
    assert!(r.body.contains("data-checkpoint=\""));
    // A former holder sees its own custody, not what came after.
    let acme = e.sign_in("company:acme").await;
    let mine = e.get("/console/firearms/GLK-001", Some(&acme)).await;
    let n = Html::parse_document(&mine.body).select(&ev).count();
    assert!(n < events.len(), "{n} of {}", events.len());
}

#[tokio::test]
async fn sign_in_sets_a_strict_cookie_and_refuses_bad_tokens_and_forged_forms() {
    let e = env().await;
    let form = e.get("/console/sign-in", None).await;
    let (pre, _) = set_cookie(&form, "als_console_pre").unwrap();
    let csrf = form_value(&form.body, "input[name=csrf]");
    let post = |cookie: String, body: String, https: bool| {
        let mut req = Request::post("/console/sign-in")
            .header(header::COOKIE, cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if https {
            req = req.header("x-forwarded-proto", "https");
        }
        send(&e.app, req.body(Body::from(body)).unwrap())
    };
    let good = &e.tokens["auditor"];
    // A forged form (no or another CSRF token) is refused, valid token or not.
    let r = post(
        format!("als_console_pre={pre}"),
        format!("csrf=00&token={good}"),
        false,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(set_cookie(&r, "als_console").is_none());
    let r = post(String::new(), format!("csrf={csrf}&token={good}"), false).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // A bad token is refused with the form again.
    let r = post(
        format!("als_console_pre={pre}"),
        format!("csrf={csrf}&token=als_nope"),
        false,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.body.contains("not valid here"));
    assert!(set_cookie(&r, "als_console").is_none());
    // A good one: HttpOnly, SameSite=Strict, an expiry; Secure over TLS only.
    let r = post(
        format!("als_console_pre={pre}"),
        format!("csrf={csrf}&token={good}"),
        false,
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let (session, c) = set_cookie(&r, "als_console").unwrap();
    assert!(
        c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Max-Age=28800"),
        "{c}"
    );
    assert!(!c.contains("Secure"), "{c}");
    assert!(!r.headers[header::LOCATION].to_str().unwrap().contains(good));
    let r = post(
        format!("als_console_pre={pre}"),
        format!("csrf={csrf}&token={good}"),
        true,
    )
    .await;
    let (_, c) = set_cookie(&r, "als_console").unwrap();
    assert!(c.contains("; Secure"), "{c}");
    // The session works; a made-up one does not.
    assert_eq!(
        e.get("/console/", Some(&session)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        e.get("/console/", Some("f00d")).await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn state_changing_forms_need_the_session_csrf_token() {
    let e = env().await;
    let s = e.sign_in("regulator").await;
    let page = e.get("/console/", Some(&s)).await;
    let csrf = csrf_of(&page.body);
    // Sign-out without or with a wrong CSRF token: refused, still signed in.
    for body in ["", "csrf=", "csrf=0123"] {
        let r = e.post("/console/sign-out", &s, body).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{body:?}");
        assert!(r.body.contains("CSRF"));
    }
    assert_eq!(e.get("/console/", Some(&s)).await.status, StatusCode::OK);
    // An auditor reads everything and changes nothing: with its own valid
    // CSRF token, revoking is refused by the role.
    let aud = e.sign_in("auditor").await;
    let aud_csrf = csrf_of(&e.get("/console/", Some(&aud)).await.body);
    let reg_id = e
        .shared
        .tokens()
        .list()
        .unwrap()
        .into_iter()
        .find(|t| t.label == "regulator")
        .unwrap()
        .id;
    let r = e
        .post(
            &format!("/console/tokens/{reg_id}/revoke"),
            &aud,
            &format!("csrf={aud_csrf}"),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(e.get("/console/", Some(&s)).await.status, StatusCode::OK);
    // Revoking a token without the CSRF token: refused, the token still works.
    let auditor = e.sign_in("auditor").await;
    let id = e
        .shared
        .tokens()
        .list()
        .unwrap()
        .into_iter()
        .find(|t| t.label == "auditor")
        .unwrap()
        .id;
    let r = e
        .post(&format!("/console/tokens/{id}/revoke"), &s, "csrf=bad")
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        e.get("/console/", Some(&auditor)).await.status,
        StatusCode::OK
    );
    // With it: revoked, and the auditor's session ends with its token.
    let r = e
        .post(
            &format!("/console/tokens/{id}/revoke"),
            &s,
            &format!("csrf={csrf}"),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        e.get("/console/", Some(&auditor)).await.status,
        StatusCode::SEE_OTHER
    );
    // Sign-out with the right token ends the session.
    let r = e
        .post("/console/sign-out", &s, &format!("csrf={csrf}"))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(
        set_cookie(&r, "als_console")
            .unwrap()
            .1
            .contains("Max-Age=0")
    );
    assert_eq!(
        e.get("/console/", Some(&s)).await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn headers_escaping_and_no_token_in_any_url() {
    let e = env().await;
    let s = e.sign_in("regulator").await;
    let token = e.tokens["regulator"].clone();
    let links = Selector::parse("[href], [src], [action]").unwrap();
    let scripts = Selector::parse("script").unwrap();
    let styled = Selector::parse("[style]").unwrap();
    let mut seen = 0;
    for page in PAGES
        .iter()
        .copied()
        .chain(["/console/sign-in", "/console/nowhere"])
    {
        let r = e.get(page, Some(&s)).await;
        let csp = r.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        let kind = r.headers[header::CONTENT_TYPE].to_str().unwrap();
        if kind == "image/svg+xml" {
            // A chart: its own policy, which allows nothing at all.
            assert_eq!(csp, armsledger_console::charts::CHART_CSP, "{page}");
            assert!(r.body.starts_with("<svg") && !r.body.contains("<script"));
            assert_eq!(r.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
            continue;
        }
        assert!(
            csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{page}"
        );
        assert!(!csp.contains("unsafe-inline"), "{page}");
        assert_eq!(r.headers[header::X_FRAME_OPTIONS], "DENY", "{page}");
        assert_eq!(
            r.headers[header::X_CONTENT_TYPE_OPTIONS],
            "nosniff",
            "{page}"
        );
        assert!(!r.body.contains(&token), "{page} shows the token");
        if !r.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
        {
            continue;
        }
        let doc = Html::parse_document(&r.body);
        for el in doc.select(&links) {
            for a in ["href", "src", "action"] {
                if let Some(v) = el.value().attr(a) {
                    seen += 1;
                    assert!(
                        !v.contains(&token) && !v.to_lowercase().contains("token="),
                        "{page}: {v}"
                    );
                }
            }
        }
        for sc in doc.select(&scripts) {
            assert!(sc.value().attr("src").is_some(), "{page}: inline script");
            assert!(
                sc.text().collect::<String>().trim().is_empty(),
                "{page}: inline script"
            );
        }
        assert_eq!(doc.select(&styled).count(), 0, "{page}: inline style");
    }
    assert!(seen > 50, "{seen} URLs checked");
    // Whatever is typed comes back escaped.
    let r = e
        .get(
            "/console/search?serial=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
            Some(&s),
        )
        .await;
    assert!(!r.body.contains("<script>alert(1)"));
    assert!(
        r.body.contains("&lt;script&gt;alert(1)") || r.body.contains("&#60;script&#62;alert(1)"),
        "{}",
        r.body
    );
    // The static files are the only script and style.
    let js = e.get("/console/static/console.js", None).await;
    assert_eq!(js.status, StatusCode::OK);
    assert!(js.body.contains("crypto.subtle.verify"));
    assert_eq!(
        e.get("/console/static/nope.js", None).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn every_page_that_shows_records_is_in_the_access_log() {
    use armsledger_server::access_log::AccessFilter;
    let e = env().await;
    let session = e.sign_in("company:acme").await;
    let before = e
        .shared
        .access_log()
        .query(&AccessFilter::default(), 10_000)
        .unwrap()
        .len();
    for page in PAGES {
        e.get(page, Some(&session)).await;
    }
    let records = e
        .shared
        .access_log()
        .query(&AccessFilter::default(), 10_000)
        .unwrap();
    let recorded: Vec<&str> = records[before..]
        .iter()
        .filter(|r| r.route.starts_with("/console"))
        .map(|r| r.route.as_str())
        .collect();
    // Every page company:acme may read (not south's pages, not tokens), once.
    let allowed = PAGES
        .iter()
        .filter(|p| expected("company:acme", p) == StatusCode::OK)
        .count();
    assert_eq!(recorded.len(), allowed, "{recorded:?}");
    let trace = records
        .iter()
        .find(|r| r.route == "/console/firearms/{serial}")
        .unwrap();
    assert_eq!(trace.subject, "serial=GLK-001");
    assert_eq!(trace.role, "company:acme");
    // Quiet: the sign-in form, static files, and a signed-out visit.
    e.get("/console/sign-in", None).await;
    e.get("/console/firearms/GLK-001", None).await;
    let after = e
        .shared
        .access_log()
        .query(&AccessFilter::default(), 10_000)
        .unwrap()
        .len();
    assert_eq!(after, records.len());
}

/// The text of every cell of table `sel`'s body, row by row.
fn table_cells(body: &str, sel: &str) -> Vec<Vec<String>> {
    let doc = Html::parse_document(body);
    let rows = Selector::parse(&format!("{sel} tbody tr")).unwrap();
    let td = Selector::parse("td").unwrap();
    doc.select(&rows)
        .map(|r| r.select(&td).map(|c| c.text().collect()).collect())
        .collect()
}

fn header_cells(body: &str, sel: &str) -> Vec<String> {
    let doc = Html::parse_document(body);
    let th = Selector::parse(&format!("{sel} thead th")).unwrap();
    doc.select(&th).map(|c| c.text().collect()).collect()
}

fn csv_rows(body: &str) -> Vec<Vec<String>> {
    body.split("\r\n")
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

#[tokio::test]
async fn reports_are_the_apis_tables_filtered_and_their_csv_is_the_table() {
    let e = env().await;
    let reg = e.sign_in("regulator").await;
    // The form alone lists every report.
    let r = e.get("/console/reports", Some(&reg)).await;
    assert_eq!(r.status, StatusCode::OK);
    for name in ["issues", "summary", "return", "access"] {
        assert!(
            r.body.contains(&format!("<option value=\"{name}\"")),
            "{name}"
        );
    }
    // The summary: one row per company, as the API's JSON has it.
    let page = e.get("/console/reports?report=summary", Some(&reg)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let cells = table_cells(&page.body, "#report");
    let cols = header_cells(&page.body, "#report");
    assert_eq!(cols[0], "company");
    assert!(cols.contains(&"alerts_critical".to_string()));
    let api = send(
        &e.app,
        Request::get("/v1/reports/summary?format=json")
            .header("authorization", format!("Bearer {}", e.tokens["regulator"]))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let json: serde_json::Value = serde_json::from_str(&api.body).unwrap();
    let api_rows = json["rows"].as_array().unwrap();
    assert_eq!(cells.len(), api_rows.len());
    assert!(cells.len() >= 2, "{cells:?}");
    for (row, api_row) in cells.iter().zip(api_rows) {
        assert_eq!(Some(row[0].as_str()), api_row["company"].as_str());
    }
    // The CSV link carries the filters, and the download is that table.
    let doc = Html::parse_document(&page.body);
    let link = doc
        .select(&Selector::parse("#report-csv").unwrap())
        .next()
        .unwrap()
        .value()
        .attr("href")
        .unwrap()
        .to_string();
    assert_eq!(link, "/console/reports.csv?report=summary");
    let csv = e.get(&link, Some(&reg)).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(
        csv.headers[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"summary.csv\"")
    );
    let rows = csv_rows(&csv.body);
    assert_eq!(rows[0], cols);
    assert_eq!(rows[1..], cells[..]);
    // Filtered by company: only that company's row, in page and CSV.
    let acme = e
        .get("/console/reports?report=summary&company=acme", Some(&reg))
        .await;
    let cells = table_cells(&acme.body, "#report");
    assert_eq!(cells.len(), 1);
    assert_eq!(cells[0][0], "acme");
    let csv = e
        .get(
            "/console/reports.csv?report=summary&company=acme",
            Some(&reg),
        )
        .await;
    assert_eq!(csv_rows(&csv.body).len(), 2);
    // A company's own reader sees its own row only, as the API shows it.
    let mine = e.sign_in("company:acme").await;
    let cells = table_cells(
        &e.get("/console/reports?report=summary", Some(&mine))
            .await
            .body,
        "#report",
    );
    assert_eq!(cells.len(), 1, "{cells:?}");
    // A period the report cannot take: the form again, with the API's reason.
    let bad = e
        .get(
            "/console/reports?report=issues&from=2026-02-01&to=2026-01-01",
            Some(&reg),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("the period is empty"), "{}", bad.body);
    assert!(bad.body.contains("id=\"r-report\""));
    // An unknown report is refused by name.
    let r = e.get("/console/reports?report=nope", Some(&reg)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("no report named"));
}

#[tokio::test]
async fn the_access_log_page_is_the_regulators_and_filters() {
    let e = env().await;
    let acme = e.sign_in("company:acme").await;
    e.get("/console/firearms/GLK-001", Some(&acme)).await;
    let reg = e.sign_in("regulator").await;
    let page = e
        .get("/console/access-log?subject=GLK-001", Some(&reg))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Chain verified"), "{}", page.body);
    let cells = table_cells(&page.body, "#access-log");
    assert!(
        cells
            .iter()
            .any(|r| r[3] == "company:acme" && r[4] == "/console/firearms/{serial}"),
        "{cells:?}"
    );
    assert!(cells.iter().all(|r| r[5] == "serial=GLK-001"), "{cells:?}");
    let csv = e
        .get("/console/access-log.csv?subject=GLK-001", Some(&reg))
        .await;
    let rows = csv_rows(&csv.body);
    assert_eq!(rows[0][0], "seq");
    // Header, the rows the page showed, and the page's own read (its query
    // names the subject).
    assert_eq!(rows.len(), cells.len() + 2, "{rows:?}");
    assert_eq!(rows[1][0], cells[0][0]);
    // Quiet: a subject nobody read gives no row.
    let none = e
        .get("/console/access-log?subject=NOPE-9", Some(&reg))
        .await;
    assert!(table_cells(&none.body, "#access-log").is_empty());
    // A bad date is the API's 400, named.
    let bad = e
        .get("/console/access-log?since=yesterday", Some(&reg))
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("since"));
}

#[tokio::test]
async fn police_check_serials_with_the_proof_checked_and_change_nothing() {
    let e = env().await;
    let police = e.sign_in("police").await;
    let home = e.get("/console/", Some(&police)).await;
    // The police's menu: search, check a serial, lots; no reports, tokens
    // or access log; and the sign-out form is its only form that posts.
    for (link, shown) in [
        ("/console/check-serial", true),
        ("/console/lots", true),
        ("/console/search", true),
        ("/console/reports", false),
        ("/console/tokens", false),
        ("/console/access-log", false),
    ] {
        assert_eq!(
            home.body.contains(&format!("href=\"{link}\"")),
            shown,
            "{link}"
        );
    }
    // On the ledger: present, with a verified map proof.
    let r = e
        .get("/console/check-serial?serial=glk%20001", Some(&police))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.contains("in the register as of checkpoint")
            && r.body.contains("map proof verified"),
        "{}",
        r.body
    );
    assert_eq!(table_cells(&r.body, "#serial-firearms")[0][0], "GLK-001");
    assert!(r.body.contains("Not reported lost or stolen"), "{}", r.body);
    // The stolen one: on the register, with the loss report named.
    let r = e
        .get("/console/check-serial?serial=GLK-002", Some(&police))
        .await;
    assert!(r.body.contains("Reported lost or stolen"), "{}", r.body);
    let row = &table_cells(&r.body, "#serial-firearms")[0];
    assert!(
        row[4].starts_with("theft reported by site north (entry "),
        "{row:?}"
    );
    // Never recorded: absent, with the absence proof verified.
    let r = e
        .get("/console/check-serial?serial=ZZZ-404", Some(&police))
        .await;
    assert!(
        r.body
            .contains("ZZZ-404: not in the register as of checkpoint")
            && r.body.contains("absence proof verified"),
        "{}",
        r.body
    );
    assert!(!r.body.contains("NOT VERIFIED"));
    // Firing: a session that pinned another log key sees the check fail.
    let vkey = e.shared.log_vkey().to_string();
    let other = vkey.replacen("armsledger", "elsewhere", 1);
    assert_ne!(other, vkey);
    let wrong = e.sign_in_pinning("police", &other).await;
    let r = e
        .get("/console/check-serial?serial=ZZZ-404", Some(&wrong))
        .await;
    assert!(r.body.contains("NOT VERIFIED"), "{}", r.body);
    assert!(!r.body.contains("absence proof verified"));
    // The police change nothing: revoking is refused by the role.
    let csrf = csrf_of(&home.body);
    let id = e.shared.tokens().list().unwrap()[0].id.clone();
    let r = e
        .post(
            &format!("/console/tokens/{id}/revoke"),
            &police,
            &format!("csrf={csrf}"),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_lot_trace_shows_balances_per_holder_to_its_holders_only() {
    let e = env().await;
    let north = e.sign_in("site:north").await;
    let r = e.get("/console/lots?lot=L-24-0917", Some(&north)).await;
    assert_eq!(r.status, StatusCode::OK);
    let balances = table_cells(&r.body, ".lot-balances");
    assert!(!balances.is_empty(), "{}", r.body);
    assert!(
        balances.iter().all(|b| b[2].parse::<i64>().is_ok()),
        "{balances:?}"
    );
    let doc = Html::parse_document(&r.body);
    let steps = doc
        .select(&Selector::parse(".lot-steps li").unwrap())
        .count();
    assert!(steps >= 1);
    assert!(r.body.contains("Balances after"));
    assert!(r.body.contains("href=\"/console/lots/L-24-0917/dossier\""));
    // North sent 100 rounds to south (other-co): north's balances now are
    // its own store only; the 100 show on its transfer-out step as in
    // transit, answerable by north, never as south's store.
    assert_eq!(balances, [["north", "in store at vault", "395"]]);
    assert!(r.body.contains("in transit to south at north: 100"));
    assert!(!r.body.contains("in store at vault at south"), "{}", r.body);
    // South received them: it traces what it holds (its arrival and its
    // 100), and sees nothing of north's store or guards.
    let south = e.sign_in("site:south").await;
    let r = e.get("/console/lots?lot=L-24-0917", Some(&south)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.body.contains("id=\"no-lot\""), "{}", r.body);
    assert_eq!(
        table_cells(&r.body, ".lot-balances"),
        [["south", "in store at vault", "100"]]
    );
    assert!(
        !r.body.contains("guard-1") && !r.body.contains("at north: 395"),
        "{}",
        r.body
    );
    // Quiet for a company that never held it: the API's "no such lot".
    let nobody = e.sign_in("company:nobody").await;
    let r = e.get("/console/lots?lot=L-24-0917", Some(&nobody)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("id=\"no-lot\""), "{}", r.body);
}

#[tokio::test]
async fn the_dashboard_lists_severities_most_urgent_first() {
    let e = env().await;
    let reg = e.sign_in("regulator").await;
    let r = e.get("/console/", Some(&reg)).await;
    let doc = Html::parse_document(&r.body);
    let ids: Vec<String> = doc
        .select(&Selector::parse("section.alerts h3").unwrap())
        .map(|h| h.value().attr("id").unwrap().to_string())
        .collect();
    assert_eq!(ids, ["sev-critical", "sev-warning", "sev-notice"]);
    // The open trace request, to the regulator and to the company asked;
    // quiet for a company not asked.
    let requests = table_cells(&r.body, "#trace-requests");
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0][..4], ["TR-2026-7", "open", "GLK-001", "acme"]);
    let acme = e.sign_in("company:acme").await;
    let mine = e.get("/console/", Some(&acme)).await;
    assert_eq!(table_cells(&mine.body, "#trace-requests").len(), 1);
    let other = e.sign_in("company:other-co").await;
    let theirs = e.get("/console/", Some(&other)).await;
    assert!(table_cells(&theirs.body, "#trace-requests").is_empty());
    // No witness in this test: the page says the server keeps no signing
    // time rather than invent one.
    assert!(
        r.body.contains("no witness has cosigned it yet"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn charts_are_images_drawn_from_what_the_role_may_read() {
    let e = env().await;
    let reg = e.sign_in("regulator").await;
    // The pages load each chart by <img>, with its figures as alt text.
    let site = e.get("/console/sites/north", Some(&reg)).await;
    let doc = Html::parse_document(&site.body);
    let img = doc
        .select(&Selector::parse("figure.chart img").unwrap())
        .next()
        .unwrap();
    assert_eq!(
        img.value().attr("src"),
        Some("/console/sites/north/entries.svg")
    );
    let alt = img.value().attr("alt").unwrap();
    assert!(alt.starts_with("Entries per day at north: 2026-"), "{alt}");
    let svg = e.get("/console/sites/north/entries.svg", Some(&reg)).await;
    assert_eq!(svg.status, StatusCode::OK);
    assert!(svg.body.contains("Entries per day at north"));
    // One bar per day the alt text names.
    let days = img.value().attr("alt").unwrap().matches(": ").count() - 1;
    assert_eq!(
        svg.body.matches("fill=\"#0A58CA\"").count(),
        days,
        "{}",
        svg.body
    );
    let trace = e.get("/console/firearms/GLK-001", Some(&reg)).await;
    assert!(
        trace
            .body
            .contains("/console/firearms/GLK-001/custody.svg?firearm=0&amp;view=corrected")
    );
    let custody = e
        .get(
            "/console/firearms/GLK-001/custody.svg?firearm=0",
            Some(&reg),
        )
        .await;
    assert!(custody.body.contains("north") && custody.body.contains("south"));
    assert!(custody.body.contains("<circle"));
    // A firearm the trace does not have: 404, named.
    let r = e
        .get(
            "/console/firearms/GLK-001/custody.svg?firearm=9",
            Some(&reg),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // A former holder's chart stops where its custody stopped: acme's
    // chart of GLK-001 has no south lane.
    let acme = e.sign_in("company:acme").await;
    let mine = e
        .get(
            "/console/firearms/GLK-001/custody.svg?firearm=0",
            Some(&acme),
        )
        .await;
    assert_eq!(mine.status, StatusCode::OK);
    assert!(
        mine.body.contains("north") && !mine.body.contains("south"),
        "{}",
        mine.body
    );
}
