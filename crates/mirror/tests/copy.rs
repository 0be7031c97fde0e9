//! A mirror with a copy (issue 22): it follows a live server over HTTP
//! (through 10k entries),
//! keeps the origin's verified entries in its own store with the origin's
//! checkpoints, and answers the server's read routes from it: traces, lot
//! traces, check-serial and proofs the same as the origin's, a dossier that
//! verifies offline with its index proofs. A lying origin whose checkpoint
//! names another verifiable index root is refused with the evidence kept;
//! a route a mirror cannot answer is a 501 problem, never an answer.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::expect_used,
    clippy::panic
)]

use std::net::SocketAddr;
use std::sync::Arc;

use armsledger_core::SignedEntry;
use armsledger_core::testkit::{Scenario, T0, storage_mix};
use armsledger_mirror::{Mirror, MirrorConfig, MirrorError, Step, serve};
use armsledger_server::{Clock, Config, Shared, app, spawn_workers};

struct Origin {
    dir: tempfile::TempDir,
    shared: Arc<Shared>,
    addr: SocketAddr,
    regulator: String,
    auditor: String,
}

fn config(dir: &std::path::Path) -> Config {
    let s = Scenario::standard();
    Config {
        data_dir: dir.to_path_buf(),
        regulator_key: Some(hex::encode(s.regulator_key())),
        manufacturer_roots: vec![hex::encode(s.root_key())],
        checkpoint_interval_ms: 10,
        max_batch_entries: 1024,
        token_rate_per_second: 1_000_000,
        ..Config::default()
    }
}

fn token(shared: &Shared, role: &str) -> String {
    shared
        .tokens()
        .create(role.parse().unwrap(), role, T0)
        .unwrap()
        .0
}

async fn origin() -> Origin {
    let dir = tempfile::tempdir().unwrap();
    let shared = Shared::open_with_clock(config(dir.path()), Clock::System).unwrap();
    spawn_workers(shared.clone());
    let (regulator, auditor) = (token(&shared, "regulator"), token(&shared, "auditor"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = app(shared.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    Origin {
        dir,
        shared,
        addr,
        regulator,
        auditor,
    }
}

fn url(addr: SocketAddr) -> String {
    format!("http://{addr}")
}

async fn ingest(o: &Origin, entries: &[Arc<SignedEntry>]) {
    let target = format!("{}/v1/entries?wait=true", url(o.addr));
    let token = o.regulator.clone();
    let batches: Vec<Vec<u8>> = entries
        .chunks(1024)
        .map(|c| {
            let raw: Vec<Vec<u8>> = c.iter().map(|e| e.bytes().to_vec()).collect();
            postcard::to_allocvec(&raw).unwrap()
        })
        .collect();
    tokio::task::spawn_blocking(move || {
        for body in batches {
            let resp = ureq::post(&target)
                .header("authorization", format!("Bearer {token}"))
                .send(&body[..])
                .unwrap();
            assert_eq!(resp.status(), 200);
        }
    })
    .await
    .unwrap();
}

/// GET with a bearer token: status and body.
async fn get(base: &str, path: &str, token: Option<&str>) -> (u16, Vec<u8>) {
    let u = format!("{base}{path}");
    let token = token.map(str::to_string);
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut req = agent.get(&u);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let mut resp = req.call().unwrap();
        (
            resp.status().as_u16(),
            resp.body_mut()
                .with_config()
                .limit(1 << 30)
                .read_to_vec()
                .unwrap(),
        )
    })
    .await
    .unwrap()
}

fn json(b: &[u8]) -> serde_json::Value {
    serde_json::from_slice(b).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(b)))
}

fn mirror_config(dir: &std::path::Path, from: String, o: &Origin) -> MirrorConfig {
    let s = Scenario::standard();
    MirrorConfig {
        data: dir.to_path_buf(),
        from,
        entries_from: None,
        token: Some(o.auditor.clone()),
        entries_s3: None,
        log_key: o.shared.log_vkey().to_string(),
        regulator_key: Some(s.regulator_key()),
        manufacturer_roots: vec![s.root_key()],
    }
}

/// The mirror's state and the mirror following `from`.
fn open_copy(dir: &std::path::Path, from: String, o: &Origin) -> (Arc<Shared>, Mirror) {
    let copy = Shared::open_mirror(config(dir), o.shared.log_vkey(), Clock::System).unwrap();
    let m = Mirror::open_serving(mirror_config(dir, from, o), copy.clone()).unwrap();
    (copy, m)
}

async fn step(m: Mirror) -> (Mirror, Result<Step, MirrorError>) {
    tokio::task::spawn_blocking(move || {
        let mut m = m;
        let r = m.step();
        (m, r)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mirror_serves_traces_dossiers_and_proofs_as_the_origin_does() {
    let o = origin().await;
    let log = storage_mix(10_000);
    let dir = tempfile::tempdir().unwrap();
    let (copy, mut m) = open_copy(dir.path(), url(o.addr), &o);
    assert!(m.follows_entries());
    for (from, to) in [(0, 700), (700, 6_001), (6_001, 10_000)] {
        ingest(&o, &log[from..to]).await;
        let (next, r) = step(m).await;
        m = next;
        assert_eq!(r.unwrap(), Step::Advanced(from as u64, to as u64));
    }
    // The copy holds the origin's checkpoint, not one of its own, and its
    // verifiable index root is the one that checkpoint names.
    let held = copy.latest_checkpoint().unwrap();
    assert_eq!(held.note, o.shared.latest_checkpoint().unwrap().note);
    assert_eq!(
        copy.store().read().unwrap().index_root().unwrap(),
        o.shared.store().read().unwrap().index_root().unwrap()
    );
    // The mirror reopened over its copy: the tiles replayed, in step with it.
    drop(m);
    let m = Mirror::open_serving(mirror_config(dir.path(), url(o.addr), &o), copy.clone()).unwrap();
    assert_eq!(m.size(), 10_000);
    assert_eq!(copy.latest_checkpoint().unwrap().note, held.note);

    // The mirror's own tokens, with the same roles as at the origin.
    let (auditor, company) = (token(&copy, "auditor"), token(&copy, "company:acme"));
    let served = serve::Served::new(dir.path().to_path_buf(), None);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mirror = url(listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(serve::run(
        m,
        served,
        listener,
        std::time::Duration::from_millis(200),
        async {
            let _ = stopped.await;
        },
    ));
    let origin = url(o.addr);
    for path in [
        "/checkpoint",
        "/tile/0/001",
        "/tile/1/000.p/39",
        "/v1/log/key",
    ] {
        let (a, b) = (
            get(&origin, path, None).await,
            get(&mirror, path, None).await,
        );
        assert_eq!(a.0, 200, "{path}: {}", String::from_utf8_lossy(&a.1));
        assert_eq!(a, b, "{path}");
    }
    // Entry bundles and reads follow the mirror's tokens.
    assert_eq!(get(&mirror, "/tile/entries/000", None).await.0, 401);
    assert_eq!(
        get(&mirror, "/tile/entries/000", Some(&auditor)).await,
        get(&origin, "/tile/entries/000", Some(&o.auditor)).await
    );
    for path in [
        format!("/v1/proof/inclusion?hash={}&size=10000", log[1234].hash()),
        "/v1/proof/consistency?old=700&new=10000".into(),
        "/v1/firearms/SN-0000003/trace".into(),
        "/v1/lots/L-1/trace".into(),
        "/v1/serials/SN-0000003".into(),
        "/v1/findings".into(),
        "/v1/sites/north/inventory".into(),
    ] {
        let (a, b) = (
            get(&origin, &path, Some(&o.auditor)).await,
            get(&mirror, &path, Some(&auditor)).await,
        );
        assert_eq!(a.0, 200, "{path}: {}", String::from_utf8_lossy(&a.1));
        assert_eq!(b.0, 200, "{path}: {}", String::from_utf8_lossy(&b.1));
        assert_eq!(json(&a.1), json(&b.1), "{path}");
    }
    let trace = json(
        &get(&mirror, "/v1/firearms/SN-0000003/trace", Some(&auditor))
            .await
            .1,
    );
    assert!(
        !trace["firearms"][0]["timeline"]["events"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{trace}"
    );
    assert_eq!(trace["checkpoint"].as_str(), Some(held.note.as_str()));
    // Scopes hold at the mirror as at the origin: a company outside north's.
    assert_eq!(
        get(&mirror, "/v1/firearms/SN-0000003/trace", Some(&company))
            .await
            .0,
        get(
            &origin,
            "/v1/firearms/SN-0000003/trace",
            Some(&{ token(&o.shared, "company:acme") })
        )
        .await
        .0
    );

    // The dossier from the mirror verifies offline, its index proofs with it.
    let (st, dossier) = get(&mirror, "/v1/firearms/SN-0000003/dossier", Some(&auditor)).await;
    assert_eq!(st, 200, "{}", String::from_utf8_lossy(&dossier));
    let report = armsledger_bundle::verify_bundle(
        &dossier[..],
        &armsledger_bundle::VerifyOptions::default(),
    )
    .unwrap();
    assert!(report.authentic(), "{:#?}", report.problems);
    let d = report.dossier.as_ref().unwrap();
    assert!(d.events > 0);
    assert_eq!(
        d.completeness,
        armsledger_bundle::Completeness::Proven {
            basis: armsledger_bundle::ProofBasis::Index
        }
    );
    // Its checkpoint, index proofs (record 08) and index leaves (record 09)
    // are the origin's, unchanged: the same map, the same signed root.
    let (st, theirs) = get(&origin, "/v1/firearms/SN-0000003/dossier", Some(&o.auditor)).await;
    assert_eq!(st, 200);
    let proofs = |b: &[u8]| -> Vec<String> {
        armsledger_bundle::BundleReader::new(b)
            .filter_map(|r| match r.unwrap().item {
                armsledger_bundle::Record::Checkpoint(n) => Some(format!("cp {n}")),
                armsledger_bundle::Record::MapProof(m) => Some(format!("08 {m:?}")),
                armsledger_bundle::Record::IndexLeaves(l) => Some(format!("09 {l:?}")),
                _ => None,
            })
            .collect()
    };
    let ours = proofs(&dossier);
    assert!(ours.iter().any(|r| r.starts_with("08")), "{ours:?}");
    assert_eq!(ours, proofs(&theirs));
    let (st, lot) = get(&mirror, "/v1/lots/L-1/dossier", Some(&auditor)).await;
    assert_eq!(st, 200, "{}", String::from_utf8_lossy(&lot));
    let report =
        armsledger_bundle::verify_bundle(&lot[..], &armsledger_bundle::VerifyOptions::default())
            .unwrap();
    assert!(report.authentic(), "{:#?}", report.problems);

    // What a mirror cannot answer is said, never answered wrongly.
    for (method, path) in [
        ("POST", "/v1/entries"),
        ("GET", "/v1/witnesses"),
        ("GET", "/v1/pull/north"),
    ] {
        let u = format!("{mirror}{path}");
        let t = auditor.clone();
        let m = method.to_string();
        let (st, body) = tokio::task::spawn_blocking(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .into();
            let mut resp = if m == "POST" {
                agent
                    .post(&u)
                    .header("authorization", format!("Bearer {t}"))
                    .send(&b"x"[..])
                    .unwrap()
            } else {
                agent
                    .get(&u)
                    .header("authorization", format!("Bearer {t}"))
                    .call()
                    .unwrap()
            };
            (
                resp.status().as_u16(),
                resp.body_mut().read_to_string().unwrap(),
            )
        })
        .await
        .unwrap();
        assert_eq!(st, 501, "{method} {path}: {body}");
        let v = json(body.as_bytes());
        assert_eq!(v["type"], "not-mirrored");
        assert!(v["title"].as_str().unwrap().contains(path), "{v}");
    }
    let health = json(&get(&mirror, "/healthz", None).await.1);
    assert_eq!(health["size"], 10_000, "{health}");
    let _ = stop.send(());
    run.await.unwrap().unwrap();
    // As a server does at shutdown: a rules snapshot of the whole copy.
    let snaps = copy.snapshots().dir().list().unwrap();
    assert_eq!(snaps.first().map(|(n, _)| *n), Some(10_000), "{snaps:?}");
}

/// A proxy in front of the origin that serves `note` (if any) as
/// `/checkpoint`, answers 404 to `hidden` paths, and passes every other
/// request through.
async fn proxy(
    origin: SocketAddr,
    note: Option<String>,
    hidden: &'static [&'static str],
) -> SocketAddr {
    use axum::extract::Request;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = axum::Router::new().fallback(move |req: Request| {
        let note = note.clone();
        async move {
            let path = req.uri().to_string();
            if let (Some(note), "/checkpoint") = (note, path.as_str()) {
                return (axum::http::StatusCode::OK, note.into_bytes());
            }
            if hidden.contains(&path.as_str()) {
                return (axum::http::StatusCode::NOT_FOUND, b"not here".to_vec());
            }
            let auth = req
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::to_string);
            let (st, body) = get(&url(origin), &path, auth.as_deref()).await;
            (axum::http::StatusCode::from_u16(st).unwrap(), body)
        }
    });
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_naming_another_index_root_is_refused_with_the_evidence() {
    let o = origin().await;
    let log = storage_mix(600);
    ingest(&o, &log[..300]).await;
    let dir = tempfile::tempdir().unwrap();
    let (copy, m) = open_copy(dir.path(), url(o.addr), &o);
    // Quiet: the origin's own checkpoint names the copy's index root.
    let (m, r) = step(m).await;
    assert_eq!(r.unwrap(), Step::Advanced(0, 300));
    drop(m);
    let at_300 = digest(&copy);

    // The origin (its key) signs the true tree at 600 with another index root.
    ingest(&o, &log[300..]).await;
    let reader = o.shared.store().read().unwrap();
    let (size, root) = (reader.size(), reader.root());
    drop(reader);
    let key_text = std::fs::read_to_string(o.dir.path().join("log.key")).unwrap();
    let key = armsledger_log::LogKey::from_signer_key(key_text.trim()).unwrap();
    let forged = key
        .sign_checkpoint_indexed(size, &root, Some(&armsledger_log::Hash([7; 32])))
        .unwrap();
    let proxy = proxy(o.addr, Some(forged.note().to_string()), &[]).await;
    let mut m =
        Mirror::open_serving(mirror_config(dir.path(), url(proxy), &o), copy.clone()).unwrap();
    let r = tokio::task::block_in_place(|| m.step());
    let Err(MirrorError::Refused {
        kind,
        evidence,
        reason,
    }) = r
    else {
        panic!("a wrong index root was followed: {r:?}");
    };
    assert_eq!(kind, "index", "{reason}");
    assert!(reason.contains("armsledger-index/v1"), "{reason}");
    assert_eq!(
        std::fs::read_to_string(evidence.join("offered.checkpoint")).unwrap(),
        forged.note()
    );
    // Nothing of it was kept: the copy, its checkpoint and its tiles stay at 300.
    assert_eq!(copy.latest_checkpoint().unwrap().size, 300);
    assert_eq!(copy.store().read().unwrap().size(), 300);
    assert_eq!(m.size(), 300);
    assert!(dir.path().join("REFUSED").exists());
    // Nor in the rules state: the entries it applied were taken back.
    assert_eq!(digest(&copy), at_300);
}

/// POSTs one entry to the origin: the status.
async fn post_one(o: &Origin, e: &Arc<SignedEntry>) -> u16 {
    let target = format!("{}/v1/entries", url(o.addr));
    let token = o.regulator.clone();
    let body = postcard::to_allocvec(&vec![e.bytes().to_vec()]).unwrap();
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        agent
            .post(&target)
            .header("authorization", format!("Bearer {token}"))
            .send(&body[..])
            .unwrap()
            .status()
            .as_u16()
    })
    .await
    .unwrap()
}

/// Serves `m` over `copy` on a loopback port: its URL and the way to stop it.
async fn serve_copy(
    dir: &std::path::Path,
    m: Mirror,
) -> (
    String,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let served = serve::Served::new(dir.to_path_buf(), None);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = url(listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(serve::run(
        m,
        served,
        listener,
        std::time::Duration::from_millis(100),
        async {
            let _ = stopped.await;
        },
    ));
    // The follower's first step has been recorded once /healthz says so.
    for _ in 0..3_000 {
        let h = json(&get(&base, "/healthz", None).await.1);
        if h["state"] != "starting" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    (base, stop, run)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mirror_keeps_the_origins_equivocation_proofs_or_answers_no_alerts() {
    use armsledger_core::entry::EntryBody;
    use armsledger_core::event::{Event, SiteEvent};
    use armsledger_core::testkit::{note, v};
    let o = origin().await;
    let mut s = Scenario::standard();
    let (_, first) = s.acquire("north", "EQ-1");
    let (_, second) = s.acquire("north", "EQ-2");
    ingest(&o, &s.log.clone()).await;
    // North's device is cloned: the clone signs another entry at the second's counter.
    let mut clone = s.sites.get(&v("north")).unwrap().clone();
    clone.head = (first.counter(), first.hash());
    let other = Arc::new(clone.sign(
        EntryBody {
            format: Default::default(),
            occurred_at: s.now,
            officer: v("armourer-2"),
            links: vec![],
            event: Event::Site(SiteEvent::Annotated {
                about: first.hash(),
                text: note("a different story"),
            }),
        },
        s.now,
    ));
    assert_eq!(other.counter(), second.counter());
    assert_eq!(post_one(&o, &other).await, 409);
    let origin_url = url(o.addr);
    let (st, theirs) = get(&origin_url, "/v1/equivocations", Some(&o.auditor)).await;
    assert_eq!(st, 200);
    assert_eq!(json(&theirs).as_array().unwrap().len(), 1);

    // Firing: an origin that gives no equivocation proofs (an object
    // store, a token that may not read them): the mirror follows the log,
    // but answers neither /v1/equivocations nor /v1/alerts, which would
    // leave the cloned device out.
    let blind = tempfile::tempdir().unwrap();
    let hidden = proxy(o.addr, None, &["/v1/equivocations"]).await;
    let (copy, mut m) = open_copy(blind.path(), url(hidden), &o);
    let r = tokio::task::block_in_place(|| m.step());
    assert_eq!(r.unwrap(), Step::Advanced(0, s.log.len() as u64));
    assert!(m.equivocations().unwrap_err().contains("404"));
    let auditor = token(&copy, "auditor");
    let (base, stop, run) = serve_copy(blind.path(), m).await;
    for path in [
        "/v1/alerts",
        "/v1/equivocations",
        "/v1/sites/north/integrity",
    ] {
        let (st, body) = get(&base, path, Some(&auditor)).await;
        assert_eq!(st, 501, "{path}");
        let title = json(&body)["title"].as_str().unwrap().to_string();
        assert!(title.contains("equivocation proofs"), "{title}");
    }
    assert_eq!(
        get(&base, "/v1/firearms/EQ-1/trace", Some(&auditor))
            .await
            .0,
        200
    );
    let h = json(&get(&base, "/healthz", None).await.1);
    assert!(
        h["equivocations"].as_str().unwrap().starts_with("not read"),
        "{h}"
    );
    let _ = stop.send(());
    run.await.unwrap().unwrap();
    // Entry bundles from elsewhere (an object store's private location):
    // the token is never sent to `--from`, and no proofs are asked of it.
    let split = tempfile::tempdir().unwrap();
    let copy =
        Shared::open_mirror(config(split.path()), o.shared.log_vkey(), Clock::System).unwrap();
    let mut m = Mirror::open_serving(
        MirrorConfig {
            entries_from: Some(url(o.addr)),
            ..mirror_config(split.path(), url(hidden), &o)
        },
        copy,
    )
    .unwrap();
    let r = tokio::task::block_in_place(|| m.step());
    assert_eq!(r.unwrap(), Step::Advanced(0, s.log.len() as u64));
    assert!(
        m.equivocations().unwrap_err().contains("object store"),
        "{:?}",
        m.equivocations()
    );

    // Quiet: following the server itself, the proofs are read, checked
    // against the copy's key registry, kept, and shown as at the origin.
    let dir = tempfile::tempdir().unwrap();
    let (copy, mut m) = open_copy(dir.path(), origin_url.clone(), &o);
    let r = tokio::task::block_in_place(|| m.step());
    assert_eq!(r.unwrap(), Step::Advanced(0, s.log.len() as u64));
    assert_eq!(m.equivocations(), Ok(()));
    let auditor = token(&copy, "auditor");
    let (base, stop, run) = serve_copy(dir.path(), m).await;
    let (st, ours) = get(&base, "/v1/equivocations", Some(&auditor)).await;
    assert_eq!(st, 200, "{}", String::from_utf8_lossy(&ours));
    assert_eq!(json(&ours), json(&theirs));
    let critical = |b: &[u8]| -> Vec<serde_json::Value> {
        json(b)
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["rule"] == "key-equivocated")
            .cloned()
            .collect()
    };
    let (st, alerts) = get(&base, "/v1/alerts", Some(&auditor)).await;
    assert_eq!(st, 200);
    let ours = critical(&alerts);
    assert_eq!(ours.len(), 1, "{ours:?}");
    assert_eq!(
        ours,
        critical(&get(&origin_url, "/v1/alerts", Some(&o.auditor)).await.1)
    );
    let _ = stop.send(());
    run.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_ahead_of_the_tiles_is_caught_up_and_a_lost_copy_is_refused() {
    let o = origin().await;
    let log = storage_mix(600);
    ingest(&o, &log[..300]).await;
    let dir = tempfile::tempdir().unwrap();
    let (copy, m) = open_copy(dir.path(), url(o.addr), &o);
    let (m, r) = step(m).await;
    assert_eq!(r.unwrap(), Step::Advanced(0, 300));
    drop(m);
    // A crash after the copy's commit, before the tiles and the checkpoint
    // file were written: the copy holds 300 entries, the files none.
    std::fs::remove_file(dir.path().join("checkpoint")).unwrap();
    std::fs::remove_dir_all(dir.path().join("tile")).unwrap();
    ingest(&o, &log[300..]).await;
    let m = Mirror::open_serving(mirror_config(dir.path(), url(o.addr), &o), copy.clone()).unwrap();
    assert_eq!(m.size(), 0);
    let (m, r) = step(m).await;
    // The entries the copy holds are checked against their leaves, not
    // applied twice; the rest are appended.
    assert_eq!(r.unwrap(), Step::Advanced(0, 600));
    assert_eq!(m.size(), 600);
    assert_eq!(copy.store().read().unwrap().size(), 600);
    assert_eq!(
        copy.latest_checkpoint().unwrap().note,
        o.shared.latest_checkpoint().unwrap().note
    );
    drop(m);

    // Firing: tiles held for 600 over a copy that lost its entries (another
    // directory's empty store): refused at open, saying what to do.
    let other = tempfile::tempdir().unwrap();
    let empty =
        Shared::open_mirror(config(other.path()), o.shared.log_vkey(), Clock::System).unwrap();
    let err = Mirror::open_serving(mirror_config(dir.path(), url(o.addr), &o), empty)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("holds 0 entries, the tiles held 600")
            && err.contains("follow the origin again"),
        "{err}"
    );
    // And a mirror's directory is never a server's: one with a log key is refused.
    let err = Shared::open_mirror(config(o.dir.path()), o.shared.log_vkey(), Clock::System)
        .unwrap_err()
        .to_string();
    assert!(err.contains("a mirror signs nothing"), "{err}");
}

/// A mirror's config whose rules snapshots are written every `every`
/// entries (on or off).
fn snapshot_config(dir: &std::path::Path, enabled: bool, every: u64) -> Config {
    Config {
        snapshots: armsledger_server::config::SnapshotConfig {
            enabled,
            every_entries: every,
            interval_secs: 0,
            ..Default::default()
        },
        ..config(dir)
    }
}

/// Waits for the background snapshot writer (no time limit asserted).
async fn snapshot_written(copy: &Shared) {
    while copy.snapshots().writing() {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// Closes a mirror's copy as a shutdown does, and waits until nothing holds it.
async fn close(copy: Arc<Shared>) {
    copy.store().close();
    while Arc::strong_count(&copy) > 1 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

fn digest(copy: &Shared) -> armsledger_core::Hash {
    copy.read_verifier().unwrap().state_digest().unwrap()
}

/// Issue 23: a mirror restarts from its newest rules snapshot, replaying
/// only the entries after it, into the state a replay of its whole copy
/// builds; a damaged snapshot is refused and the state rebuilt from the
/// copy, which then follows on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mirror_starts_from_its_rules_snapshot_and_refuses_a_damaged_one() {
    let o = origin().await;
    let log = storage_mix(900);
    let dir = tempfile::tempdir().unwrap();
    let open = |enabled| {
        Shared::open_mirror(
            snapshot_config(dir.path(), enabled, 500),
            o.shared.log_vkey(),
            Clock::System,
        )
        .unwrap()
    };
    let copy = open(true);
    let mut m =
        Mirror::open_serving(mirror_config(dir.path(), url(o.addr), &o), copy.clone()).unwrap();
    for (from, to) in [(0, 300), (300, 600), (600, 900)] {
        ingest(&o, &log[from..to]).await;
        let (next, r) = step(m).await;
        m = next;
        assert_eq!(r.unwrap(), Step::Advanced(from as u64, to as u64));
        snapshot_written(&copy).await;
    }
    // Due at 600 only (500 entries since the start); none at 300 or 900.
    let listed: Vec<u64> = copy
        .snapshots()
        .dir()
        .list()
        .unwrap()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(listed, vec![600]);
    let want = digest(&copy);
    drop(m);
    close(copy).await;

    // Quiet: from the snapshot at 600, the 300 entries after it replayed.
    let copy = open(true);
    let r = copy.snapshots().start_report();
    assert_eq!((r.from_snapshot, r.replayed), (Some(600), 300), "{r:?}");
    assert!(r.refused.is_empty(), "{r:?}");
    assert_eq!(digest(&copy), want);
    close(copy).await;
    // The same state as a replay of the whole copy.
    let copy = open(false);
    let r = copy.snapshots().start_report();
    assert_eq!((r.from_snapshot, r.replayed), (None, 900), "{r:?}");
    assert_eq!(digest(&copy), want);
    let file = copy.snapshots().dir().file_of(600);
    close(copy).await;

    // Firing: one byte of the snapshot's state changed.
    let mut bytes = std::fs::read(&file).unwrap();
    let at = bytes.len() - 40;
    bytes[at] ^= 0x55;
    std::fs::write(&file, &bytes).unwrap();
    let copy = open(true);
    let r = copy.snapshots().start_report();
    assert_eq!((r.from_snapshot, r.replayed), (None, 900), "{r:?}");
    assert_eq!(r.refused.len(), 1, "{r:?}");
    assert_eq!(digest(&copy), want);
    // And the mirror follows on from the rebuilt state.
    let m = Mirror::open_serving(mirror_config(dir.path(), url(o.addr), &o), copy.clone()).unwrap();
    ingest(&o, &storage_mix(1_000)[900..]).await;
    let (_m, r) = step(m).await;
    assert_eq!(r.unwrap(), Step::Advanced(900, 1_000));
    assert_eq!(copy.store().read().unwrap().size(), 1_000);
}

/// A step whose entries fail the copy's checks (enrolments whose
/// attestations chain to no root the mirror pinned) is refused, and
/// nothing of it is kept: not in the copy, not in its rules state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_with_an_entry_that_does_not_verify_keeps_nothing() {
    let o = origin().await;
    ingest(&o, &storage_mix(300)).await;
    let dir = tempfile::tempdir().unwrap();
    let other_root = [9u8; 32];
    let copy = Shared::open_mirror(
        Config {
            manufacturer_roots: vec![hex::encode(other_root)],
            ..config(dir.path())
        },
        o.shared.log_vkey(),
        Clock::System,
    )
    .unwrap();
    let before = digest(&copy);
    let m = Mirror::open_serving(
        MirrorConfig {
            manufacturer_roots: vec![other_root],
            ..mirror_config(dir.path(), url(o.addr), &o)
        },
        copy.clone(),
    )
    .unwrap();
    let (m, r) = step(m).await;
    let Err(MirrorError::Refused { kind, reason, .. }) = r else {
        panic!("a step with a bad entry was kept: {r:?}");
    };
    assert_eq!(kind, "bad-entry", "{reason}");
    assert!(reason.contains("does not verify"), "{reason}");
    assert_eq!(copy.store().read().unwrap().size(), 0);
    assert!(copy.latest_checkpoint().is_none());
    assert_eq!(m.size(), 0);
    assert_eq!(digest(&copy), before);
}

/// Issue 23: check-serial on a mirror that holds no checkpoint yet answers
/// what a server answers before its first: 503 no-checkpoint, saying so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_serial_on_a_mirror_with_no_checkpoint_says_so() {
    let o = origin().await;
    let dir = tempfile::tempdir().unwrap();
    // An origin that does not answer: the mirror holds nothing.
    let (copy, m) = open_copy(dir.path(), "http://127.0.0.1:9".into(), &o);
    let auditor = token(&copy, "auditor");
    let (base, stop, run) = serve_copy(dir.path(), m).await;
    let (st, body) = get(&base, "/v1/serials/SN-0000003", Some(&auditor)).await;
    assert_eq!(st, 503, "{}", String::from_utf8_lossy(&body));
    let v = json(&body);
    assert_eq!(v["type"], "no-checkpoint", "{v}");
    let title = v["title"].as_str().unwrap();
    assert!(
        title.contains("no checkpoint yet") && title.contains("mirror"),
        "{v}"
    );
    let _ = stop.send(());
    run.await.unwrap().unwrap();
}

/// Median and range of `xs` (ms), for the figures below.
fn spread(xs: &mut [f64]) -> String {
    xs.sort_by(f64::total_cmp);
    format!(
        "median {:.1} ms ({:.1}-{:.1}, {} runs)",
        xs[xs.len() / 2],
        xs[0],
        xs[xs.len() - 1],
        xs.len()
    )
}

/// The figures of docs/performance.md, section 9 ("A mirror's start and
/// step"): a copy of `ARMSLEDGER_MIRROR_N` entries (default 100,000), one
/// firearm acquired per entry (the state grows with the fleet). Run with
/// `cargo test -p armsledger-mirror --test copy measure -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run by name"]
async fn measure_a_mirrors_start_and_step() {
    use std::time::Instant;
    let n: usize = std::env::var("ARMSLEDGER_MIRROR_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let (steps, per_step) = (5, 1_000);
    let mut s = Scenario::standard();
    while s.log.len() < n + steps * per_step {
        let k = s.log.len();
        s.acquire("north", &format!("SN-{k:09}"));
    }
    let log = s.log.clone();
    let o = origin().await;
    let t = Instant::now();
    ingest(&o, &log[..n]).await;
    eprintln!("origin: {n} entries in {:.1} s", t.elapsed().as_secs_f64());
    let dir = tempfile::tempdir().unwrap();
    let (copy, m) = open_copy(dir.path(), url(o.addr), &o);
    let t = Instant::now();
    let (mut m, r) = step(m).await;
    assert_eq!(r.unwrap(), Step::Advanced(0, n as u64));
    eprintln!(
        "mirror: first step of {n} in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    // A step of `per_step` entries over a copy of n, and what the step
    // before this change also paid: a clone of the whole rules state.
    let (mut step_ms, mut clone_ms) = (Vec::new(), Vec::new());
    for k in 0..steps {
        let from = n + k * per_step;
        ingest(&o, &log[from..from + per_step]).await;
        let t = Instant::now();
        let (next, r) = step(m).await;
        step_ms.push(t.elapsed().as_secs_f64() * 1e3);
        m = next;
        assert_eq!(
            r.unwrap(),
            Step::Advanced(from as u64, (from + per_step) as u64)
        );
        let v = copy.read_verifier().unwrap();
        let t = Instant::now();
        let c = v.clone();
        clone_ms.push(t.elapsed().as_secs_f64() * 1e3);
        drop(c);
    }
    eprintln!("step of {per_step} at {n}: {}", spread(&mut step_ms));
    eprintln!("clone of the state at {n}: {}", spread(&mut clone_ms));
    drop(m);
    armsledger_server::snapshots::write_now(&copy).unwrap();
    let size = copy.store().read().unwrap().size();
    close(copy).await;
    for enabled in [false, true] {
        let (mut open_ms, mut tiles_ms) = (Vec::new(), Vec::new());
        for _ in 0..3 {
            let t = Instant::now();
            let copy = Shared::open_mirror(
                snapshot_config(dir.path(), enabled, 250_000),
                o.shared.log_vkey(),
                Clock::System,
            )
            .unwrap();
            open_ms.push(t.elapsed().as_secs_f64() * 1e3);
            let r = copy.snapshots().start_report();
            assert_eq!(r.replayed, if enabled { 0 } else { size }, "{r:?}");
            let t = Instant::now();
            let m = Mirror::open_serving(mirror_config(dir.path(), url(o.addr), &o), copy.clone())
                .unwrap();
            tiles_ms.push(t.elapsed().as_secs_f64() * 1e3);
            drop(m);
            close(copy).await;
        }
        let how = if enabled {
            "from its snapshot"
        } else {
            "replaying the whole copy"
        };
        eprintln!("start at {size}, {how}: state {}", spread(&mut open_ms));
        eprintln!("start at {size}, {how}: tiles {}", spread(&mut tiles_ms));
    }
}
