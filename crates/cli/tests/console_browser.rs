//! The inspectors' console in a real browser: `armsledger demo` fills a
//! data directory, a real `armsledger serve` process serves it, chromedriver
//! drives headless Chromium (fantoccini over WebDriver), and axe-core checks
//! each page's accessibility. Each step saves a screenshot under
//! `target/console-screenshots/`.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them).
//! Without them the tests FAIL, saying so: they never pass silently.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A child process killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// chromedriver in a process group of its own: dropping it ends the group,
/// so the browser it started ends too even when a test fails before
/// closing its session.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.0.id())])
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn require_browser() {
    for (p, pkg) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
        assert!(
            Path::new(p).exists(),
            "{p} is missing: the console's browser tests need Debian's `{pkg}` \
             (apt-get install -y chromium chromium-driver; .ci/run installs it)"
        );
    }
}

fn armsledger() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_armsledger"))
}

fn shots() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The demo's data, served by `armsledger serve`.
struct World {
    _tmp: tempfile::TempDir,
    url: String,
    token: String,
    police_token: String,
    serial: String,
    site: String,
    lot: Option<String>,
    _serve: Proc,
    downloads: PathBuf,
}

fn world() -> World {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let out = Command::new(armsledger())
        .args([
            "demo", "--days", "10", "--sites", "2", "--seed", "7", "--json", "--dir",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap();
    let data = PathBuf::from(s["server_data"].as_str().unwrap());
    // A police token, made as an operator would.
    let out = Command::new(armsledger())
        .args([
            "token", "create", "--role", "police", "--label", "police", "--data",
        ])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let police_token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    // The demo pinned its manufacturer root; a restart names it again.
    let roots = std::fs::read_to_string(data.join("manufacturer-roots.pub")).unwrap();
    let mut serve = Command::new(armsledger());
    serve
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data);
    for r in roots.split_whitespace() {
        serve.args(["--manufacturer-root", r]);
    }
    let mut serve = serve
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = serve.stdout.take().unwrap();
    let serve = Proc(serve);
    let mut lines = BufReader::new(stdout).lines();
    let mut url = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(u) = line.strip_prefix("armsledger server listening on ") {
            url = Some(u.to_string());
            break;
        }
    }
    // Keep reading what it prints, so it never writes to a closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    let downloads = tmp.path().join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    World {
        url: url.expect("armsledger serve printed no address"),
        token: s["regulator_token"].as_str().unwrap().to_string(),
        police_token,
        serial: s["sample_serial"].as_str().unwrap().to_string(),
        site: s["sites"][0].as_str().unwrap().to_string(),
        lot: s["sample_lot"].as_str().map(str::to_string),
        _tmp: tmp,
        _serve: serve,
        downloads,
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// chromedriver on a free loopback port, and a headless Chromium session.
async fn browser(downloads: &Path) -> (Driver, Client) {
    use std::os::unix::process::CommandExt;
    require_browser();
    let port = free_port();
    let driver = Driver(
        Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "chromedriver did not start listening"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000"],
            "prefs": {
                "download.default_directory": downloads.to_str().unwrap(),
                "download.prompt_for_download": false,
            },
        }),
    );
    let client = ClientBuilder::rustls()
        .unwrap()
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .unwrap();
    (driver, client)
}

async fn shot(c: &Client, name: &str) {
    // The whole page: size the window to the document first.
    let h = c
        .execute("return document.documentElement.scrollHeight", vec![])
        .await
        .unwrap()
        .as_u64()
        .unwrap_or(1000)
        .min(6000);
    let _ = c
        .set_window_size(1280, u32::try_from(h).unwrap_or(1000) + 120)
        .await;
    let png = c.screenshot().await.unwrap();
    std::fs::write(shots().join(format!("{name}.png")), png).unwrap();
    let _ = c.set_window_size(1280, 1000).await;
}

const AXE: &str = include_str!("../../console/vendor/axe.min.js");

/// Runs axe-core on the page; panics on any serious or critical violation.
async fn accessible(c: &Client, page: &str) {
    c.execute(&format!("{AXE}\n;return true;"), vec![])
        .await
        .unwrap();
    let v = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, {resultTypes: ['violations']})
               .then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                  nodes: v.nodes.slice(0, 3).map(n => n.html)}))))
               .catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e)}]));",
            vec![],
        )
        .await
        .unwrap();
    let serious: Vec<_> = v
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| matches!(x["impact"].as_str(), Some("serious" | "critical")))
        .collect();
    assert!(
        serious.is_empty(),
        "{page}: accessibility violations {serious:#?}"
    );
}

async fn sign_in(c: &Client, w: &World) {
    sign_in_with(c, w, &w.token).await;
}

async fn sign_in_with(c: &Client, w: &World, token: &str) {
    c.goto(&format!("{}/console/sign-in", w.url)).await.unwrap();
    accessible(c, "sign-in").await;
    shot(c, "01-sign-in").await;
    c.find(Locator::Id("token"))
        .await
        .unwrap()
        .send_keys(token)
        .await
        .unwrap();
    c.find(Locator::Id("sign-in"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait().for_element(Locator::Id("log-size")).await.unwrap();
    let url = c.current_url().await.unwrap();
    assert!(!url.as_str().contains(token), "token in {url}");
    assert_eq!(url.path(), "/console/");
}

/// The text of a file the browser downloads, once it is complete (Chromium
/// writes a `.crdownload` beside it until then).
async fn wait_for_file(file: &Path) -> String {
    let partial = file.with_extension("csv.crdownload");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !file.exists() || partial.exists() {
        assert!(
            Instant::now() < deadline,
            "no download at {}",
            file.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    std::fs::read_to_string(file).unwrap()
}

/// Checks `serial` on the check-serial page: it is in the register and the
/// page verified the server's proof against the pinned key.
async fn check_serial(c: &Client, w: &World, serial: &str) {
    c.goto(&format!("{}/console/check-serial", w.url))
        .await
        .unwrap();
    c.find(Locator::Id("cs-serial"))
        .await
        .unwrap()
        .send_keys(serial)
        .await
        .unwrap();
    c.find(Locator::Id("check"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let verdict = c
        .wait()
        .for_element(Locator::Id("verdict"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        verdict.contains("in the register as of checkpoint") && verdict.contains("verified"),
        "{verdict}"
    );
}

/// The proof summary the page's script writes, once it has.
async fn proof_result(c: &Client) -> (String, String) {
    let p = c
        .wait()
        .for_element(Locator::Id("proof-summary"))
        .await
        .unwrap();
    (
        p.attr("data-result").await.unwrap().unwrap_or_default(),
        p.text().await.unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inspector_signs_in_finds_traces_checks_downloads_and_signs_out() {
    require_browser();
    let w = world();
    let (_driver, c) = browser(&w.downloads).await;
    sign_in(&c, &w).await;
    accessible(&c, "dashboard").await;
    shot(&c, "02-dashboard").await;

    // Keyboard: Tab from the top reaches the skip link first, then the menu.
    c.execute(
        "document.activeElement.blur(); window.scrollTo(0,0)",
        vec![],
    )
    .await
    .unwrap();
    let tab = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: '\u{E004}' })
        .then(KeyAction::Up { value: '\u{E004}' });
    c.perform_actions(tab).await.unwrap();
    let focused = c
        .execute("return document.activeElement.textContent.trim()", vec![])
        .await
        .unwrap();
    assert_eq!(focused, "Skip to content");

    // Find the weapon by its serial typed with other spacing and case.
    let typed = format!(" {} ", w.serial.to_lowercase().replace('-', " "));
    c.goto(&format!("{}/console/search", w.url)).await.unwrap();
    c.find(Locator::Id("serial"))
        .await
        .unwrap()
        .send_keys(&typed)
        .await
        .unwrap();
    c.find(Locator::Id("search"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let link = c
        .wait()
        .for_element(Locator::Css("#hits a.trace-link"))
        .await
        .unwrap();
    assert_eq!(link.text().await.unwrap(), w.serial);
    accessible(&c, "search").await;
    shot(&c, "03-search").await;

    // Its trace: every check made in this browser passes.
    link.click().await.unwrap();
    let (result, text) = proof_result(&c).await;
    let list = c
        .find(Locator::Id("check-list"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(result, "pass", "{text}\n{list}");
    let fails = c
        .find_all(Locator::Css("#check-list li.fail"))
        .await
        .unwrap();
    assert!(fails.is_empty());
    let passes = c
        .find_all(Locator::Css("#check-list li.pass"))
        .await
        .unwrap();
    let events = c.find_all(Locator::Css("li.event")).await.unwrap();
    assert!(passes.len() >= 2, "{}", passes.len());
    assert!(passes.len() <= events.len() + 1);
    accessible(&c, "trace").await;
    shot(&c, "04-trace").await;

    // The site's inventory as CSV, downloaded by the browser.
    c.goto(&format!("{}/console/sites/{}", w.url, w.site))
        .await
        .unwrap();
    accessible(&c, "site").await;
    shot(&c, "05-site").await;
    c.find(Locator::Id("inventory-csv"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let csv = wait_for_file(&w.downloads.join(format!("inventory-{}.csv", w.site))).await;
    assert!(
        csv.starts_with("site,as_of,serial,make_model,calibre,state"),
        "{csv}"
    );
    assert!(csv.lines().count() > 1, "{csv}");

    // A report, chosen and filtered in its form, and its CSV downloaded:
    // the file is the table the page shows.
    c.goto(&format!("{}/console/reports", w.url)).await.unwrap();
    c.find(Locator::Id("r-report"))
        .await
        .unwrap()
        .select_by_value("summary")
        .await
        .unwrap();
    c.find(Locator::Id("show-report"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait().for_element(Locator::Id("report")).await.unwrap();
    let shown = c
        .find_all(Locator::Css("#report tbody tr"))
        .await
        .unwrap()
        .len();
    assert!(shown >= 1);
    accessible(&c, "reports").await;
    shot(&c, "08-reports").await;
    c.find(Locator::Id("report-csv"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let report = wait_for_file(&w.downloads.join("summary.csv")).await;
    assert!(
        report.starts_with("company,name,status,sites,firearms_held,entries,alerts_critical"),
        "{report}"
    );
    assert_eq!(report.lines().count(), shown + 1, "{report}");

    // The access log names the reads just made; a serial checked against
    // the register with its proof verified in the console; a lot's trace.
    c.goto(&format!("{}/console/access-log", w.url))
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::Id("access-log"))
        .await
        .unwrap();
    accessible(&c, "access-log").await;
    check_serial(&c, &w, &w.serial).await;
    accessible(&c, "check-serial").await;
    shot(&c, "09-check-serial").await;
    if let Some(lot) = &w.lot {
        c.goto(&format!("{}/console/lots?lot={lot}", w.url))
            .await
            .unwrap();
        c.wait()
            .for_element(Locator::Css(".lot-balances"))
            .await
            .unwrap();
        accessible(&c, "lot").await;
        shot(&c, "10-lot").await;
    }

    c.goto(&format!("{}/console/findings", w.url))
        .await
        .unwrap();
    accessible(&c, "findings").await;
    c.goto(&format!("{}/console/sites", w.url)).await.unwrap();
    accessible(&c, "sites").await;

    // Sign out: the session is gone, pages send to the sign-in form.
    c.find(Locator::Id("sign-out"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::Id("sign-in-form"))
        .await
        .unwrap();
    c.goto(&format!("{}/console/", w.url)).await.unwrap();
    c.wait()
        .for_element(Locator::Id("sign-in-form"))
        .await
        .unwrap();
    shot(&c, "06-signed-out").await;
    c.close().await.unwrap();
}

/// A server in front of the real one that changes one hash of one proof on
/// the trace page (everything else passes through).
async fn lying_proxy(upstream: String) -> String {
    use axum::extract::Request;
    use axum::response::IntoResponse;
    let handler = move |req: Request| {
        let upstream = upstream.clone();
        async move {
            let path = req
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_default();
            let cookie = req
                .headers()
                .get("cookie")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            let tampered = path.starts_with("/console/firearms/") && !path.ends_with("/dossier");
            let (status, kind, body) = tokio::task::spawn_blocking(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .max_redirects(0)
                    .http_status_as_error(false)
                    .build()
                    .into();
                let mut r = agent
                    .get(format!("{upstream}{path}"))
                    .header("cookie", &cookie)
                    .call()
                    .unwrap();
                let kind = r
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("text/plain")
                    .to_string();
                (
                    r.status().as_u16(),
                    kind,
                    r.body_mut().read_to_string().unwrap(),
                )
            })
            .await
            .unwrap();
            let body = if tampered {
                // Flip the first hex digit of the first non-empty proof.
                let key = "data-proof=\"";
                let at = body
                    .match_indices(key)
                    .map(|(i, _)| i + key.len())
                    .find(|&i| body.as_bytes()[i] != b'"')
                    .unwrap();
                let mut b = body.into_bytes();
                b[at] = if b[at] == b'0' { b'1' } else { b'0' };
                String::from_utf8(b).unwrap()
            } else {
                body
            };
            (
                axum::http::StatusCode::from_u16(status).unwrap(),
                [("content-type", kind)],
                body,
            )
                .into_response()
        }
    };
    let app = axum::Router::new().fallback(handler);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_proof_fails_its_check_in_the_browser() {
    require_browser();
    let w = world();
    let (_driver, c) = browser(&w.downloads).await;
    sign_in(&c, &w).await;
    // Cookies are per host, not per port: the proxy's page is the same session.
    let proxy = lying_proxy(w.url.clone()).await;
    c.goto(&format!("{proxy}/console/firearms/{}", w.serial))
        .await
        .unwrap();
    let (result, text) = proof_result(&c).await;
    assert_eq!(result, "fail", "{text}");
    let fails = c
        .find_all(Locator::Css("#check-list li.fail"))
        .await
        .unwrap();
    assert_eq!(fails.len(), 1, "exactly the tampered proof fails");
    assert!(fails[0].text().await.unwrap().contains("another root"));
    // The checkpoint's own signature still checks: only the proof is wrong.
    let first = c.find(Locator::Css("#check-list li")).await.unwrap();
    assert!(first.text().await.unwrap().contains("checkpoint of size"));
    shot(&c, "07-wrong-proof").await;
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_police_check_a_serial_and_trace_a_lot_and_read_no_reports() {
    require_browser();
    let w = world();
    let (_driver, c) = browser(&w.downloads).await;
    sign_in_with(&c, &w, &w.police_token).await;
    // The menu offers what the police may open, not reports or tokens.
    let menu = c
        .find(Locator::Css("nav[aria-label=Main]"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        menu.contains("Check a serial") && menu.contains("Ammunition lots"),
        "{menu}"
    );
    assert!(
        !menu.contains("Reports") && !menu.contains("Tokens"),
        "{menu}"
    );
    let role = c
        .find(Locator::Css(".role"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(role, "police");
    // A serial typed with other spacing: in the register, proof verified.
    let typed = w.serial.to_lowercase().replace('-', " ");
    check_serial(&c, &w, &typed).await;
    accessible(&c, "police check-serial").await;
    shot(&c, "11-police-check-serial").await;
    if let Some(lot) = &w.lot {
        c.goto(&format!("{}/console/lots?lot={lot}", w.url))
            .await
            .unwrap();
        c.wait()
            .for_element(Locator::Css(".lot-steps"))
            .await
            .unwrap();
    }
    // Reports are refused, as by the API.
    c.goto(&format!("{}/console/reports?report=summary", w.url))
        .await
        .unwrap();
    let h1 = c
        .find(Locator::Css("h1"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(h1.starts_with("403"), "{h1}");
    c.close().await.unwrap();
}
