//! Publishing to S3 over the wire: moto's S3 server on loopback (a real S3
//! protocol implementation), an outside C2SP reader checking what landed
//! there, the publisher killed mid-step and restarted, the store down and
//! back while ingest goes on, and the alarms.
//!
//! moto must be installed (`.ci/run` does it); without it these tests fail
//! with a message saying so.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::expect_used,
    clippy::panic
)]

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use armsledger_core::SignedEntry;
use armsledger_core::testkit::{Scenario, T0, storage_mix};
use armsledger_log::LogVerifier;
use armsledger_server::publish::{
    self, LiveSource, Location, PublishConfig, PublishError, Publisher,
};
use armsledger_server::{Config, Shared, app, spawn_workers};
use armsledger_testsupport::c2sp::{http_fetch, read_log};
use armsledger_testsupport::s3::{Moto, Proxy, http};
use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use futures_util::stream::BoxStream;
use http_body_util::BodyExt;
use object_store::path::Path as ObjectPath;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    ObjectStoreExt as _, PutMultipartOptions, PutOptions, PutPayload, PutResult,
};
use tower::ServiceExt;

const PUBLIC: &str = "log-public";
const PRIVATE: &str = "log-private";

fn creds(k: &str) -> Option<String> {
    match k {
        "AWS_ACCESS_KEY_ID" => Some("testing".into()),
        "AWS_SECRET_ACCESS_KEY" => Some("testing".into()),
        _ => None,
    }
}

fn publish_config(endpoint: &str) -> PublishConfig {
    PublishConfig {
        endpoint: Some(endpoint.to_string()),
        bucket: PUBLIC.into(),
        prefix: "armsledger".into(),
        private_bucket: Some(PRIVATE.into()),
        private_prefix: "armsledger".into(),
        allow_http: true,
        retry_max_secs: 1,
        concurrency: 8,
        interval_ms: 0,
        ..PublishConfig::default()
    }
}

struct Env {
    _dir: tempfile::TempDir,
    shared: Arc<Shared>,
    app: axum::Router,
    regulator: String,
    log: Vec<Arc<SignedEntry>>,
}

async fn server(publish: Option<PublishConfig>, entries: usize) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let s = Scenario::standard();
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        regulator_key: Some(hex::encode(s.regulator_key())),
        manufacturer_roots: vec![hex::encode(s.root_key())],
        checkpoint_interval_ms: 10,
        max_batch_entries: 512,
        token_rate_per_second: 1_000_000,
        publish,
        ..Config::default()
    };
    let shared = Shared::open(config).unwrap();
    spawn_workers(shared.clone());
    let regulator = shared
        .tokens()
        .create("regulator".parse().unwrap(), "regulator", T0)
        .unwrap()
        .0;
    Env {
        _dir: dir,
        app: app(shared.clone()),
        shared,
        regulator,
        log: storage_mix(entries),
    }
}

impl Env {
    /// Posts entries `range` of the log and waits for their checkpoint.
    async fn ingest(&self, range: Range<usize>) {
        for chunk in self.log[range].chunks(512) {
            let raw: Vec<Vec<u8>> = chunk.iter().map(|e| e.bytes().to_vec()).collect();
            let req = Request::builder()
                .method("POST")
                .uri("/v1/entries?wait=true")
                .header("authorization", format!("Bearer {}", self.regulator))
                .body(Body::from(postcard::to_allocvec(&raw).unwrap()))
                .unwrap();
            let resp = self.app.clone().oneshot(req).await.unwrap();
            let status = resp.status();
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        }
    }

    fn size(&self) -> u64 {
        self.shared.latest_checkpoint().map_or(0, |p| p.size)
    }

    async fn healthz(&self) -> serde_json::Value {
        let req = Request::builder()
            .uri("/healthz")
            .body(Body::empty())
            .unwrap();
        let resp = self.app.clone().oneshot(req).await.unwrap();
        serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap()
    }

    /// The `publish-behind` alerts of `/v1/alerts` (the regulator's view).
    async fn publish_alerts(&self) -> Vec<serde_json::Value> {
        self.publish_alerts_as(&self.regulator).await
    }

    /// The `publish-behind` alerts `token` sees.
    async fn publish_alerts_as(&self, token: &str) -> Vec<serde_json::Value> {
        let req = Request::builder()
            .uri("/v1/alerts")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        let resp = self.app.clone().oneshot(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let all: Vec<serde_json::Value> =
            serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
        all.into_iter()
            .filter(|a| a["rule"] == "publish-behind")
            .collect()
    }

    fn verifier(&self) -> LogVerifier {
        LogVerifier::from_vkey(self.shared.log_vkey()).unwrap()
    }
}

fn moto_with_buckets() -> Moto {
    let moto = Moto::start();
    moto.create_bucket(PUBLIC);
    moto.public_read(PUBLIC);
    moto.create_bucket(PRIVATE);
    moto
}

fn base(moto: &Moto, bucket: &str) -> String {
    format!("{}/{bucket}/armsledger", moto.endpoint())
}

/// The size of the checkpoint in the public bucket, read over plain HTTP.
fn published_size(moto: &Moto) -> Option<u64> {
    let (status, body) = http(
        moto.addr(),
        "GET",
        &format!("/{PUBLIC}/armsledger/checkpoint"),
        &[],
    )
    .unwrap();
    (status == 200).then(|| {
        String::from_utf8(body)
            .unwrap()
            .lines()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap()
    })
}

/// Waits (a bounded number of times) until the store's checkpoint reaches `size`.
async fn until_published(moto: &Moto, size: u64) {
    for _ in 0..1200 {
        if published_size(moto) == Some(size) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the store's checkpoint never reached {size} (at {:?})",
        published_size(moto)
    );
}

/// Checks the whole log with the outside reader: the public bucket over
/// plain anonymous HTTP (as a CDN serves it), the private bucket through an
/// authenticated S3 client (it is not readable anonymously).
async fn outside_reader_verifies(moto: &Moto, env: &Env, size: u64) {
    use futures_util::TryStreamExt as _;
    let config = publish_config(&moto.endpoint());
    let (_, private) = config.locations(creds).unwrap();
    let mut bundles = std::collections::HashMap::new();
    let listed: Vec<ObjectMeta> = private.store().list(None).try_collect().await.unwrap();
    for meta in listed {
        let bytes = private
            .store()
            .get(&meta.location)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let name = meta.location.to_string();
        let name = name.strip_prefix("armsledger/").unwrap().to_string();
        bundles.insert(name, bytes.to_vec());
    }
    let vkey = env.shared.log_vkey().to_string();
    let public_base = base(moto, PUBLIC);
    let log = tokio::task::spawn_blocking(move || {
        let public = http_fetch(&public_base);
        let private = |name: &str| Ok(bundles.get(name).cloned());
        read_log(&public, Some(&private), &vkey)
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(log.size, size);
    assert_eq!(log.origin, env.shared.origin());
    let reader = env.shared.store().read().unwrap();
    assert_eq!(log.root, reader.root_at(size).unwrap());
    for (i, data) in log.entries.iter().enumerate() {
        assert_eq!(
            Some(data),
            reader.leaf_data(i as u64).unwrap().as_ref(),
            "entry {i}"
        );
    }
    assert_eq!(log.entries.len() as u64, size);
    // Serials stay private: no entry bundle in the public bucket, and the
    // private one refuses anonymous readers.
    let get = |path: String| http(moto.addr(), "GET", &path, &[]).unwrap().0;
    assert_eq!(get(format!("/{PUBLIC}/armsledger/tile/entries/000")), 404);
    assert_eq!(get(format!("/{PRIVATE}/armsledger/tile/entries/000")), 403);
    assert_eq!(get(format!("/{PUBLIC}/armsledger/checkpoint")), 200);
}

fn start_publisher(env: &Env, config: &PublishConfig) -> tokio::task::JoinHandle<()> {
    let (public, private) = config.locations(creds).unwrap();
    publish::spawn(
        env.shared.clone(),
        Publisher::new(public, private, env.verifier(), 8),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_round_trip_is_checked_by_the_outside_reader() {
    let moto = moto_with_buckets();
    let config = publish_config(&moto.endpoint());
    let env = server(Some(config.clone()), 1_200).await;
    let task = start_publisher(&env, &config);
    env.ingest(0..700).await;
    until_published(&moto, env.size()).await;
    outside_reader_verifies(&moto, &env, env.size()).await;
    env.ingest(700..1_200).await;
    until_published(&moto, 1_200).await;
    outside_reader_verifies(&moto, &env, 1_200).await;
    let health = env.healthz().await;
    assert_eq!(health["publish"]["state"], "ok", "{health}");
    assert_eq!(health["publish"]["published_size"], 1_200);
    assert_eq!(health["publish"]["lag_entries"], 0);
    // Quiet: caught up, no publisher alert.
    assert!(env.publish_alerts().await.is_empty());
    task.abort();
}

/// An object store that passes `puts` writes through, then hangs every
/// further write: the moment a publisher process would be killed.
#[derive(Debug)]
struct Gate {
    inner: Arc<dyn ObjectStore>,
    puts: AtomicI64,
    reached: tokio::sync::Notify,
}

impl std::fmt::Display for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Gate({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for Gate {
    async fn put_opts(
        &self,
        location: &ObjectPath,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        if self.puts.fetch_sub(1, Ordering::SeqCst) <= 0 {
            self.reached.notify_one();
            std::future::pending::<()>().await;
        }
        self.inner.put_opts(location, payload, opts).await
    }
    async fn put_multipart_opts(
        &self,
        location: &ObjectPath,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }
    async fn get_opts(
        &self,
        location: &ObjectPath,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }
    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<ObjectPath>>,
    ) -> BoxStream<'static, object_store::Result<ObjectPath>> {
        self.inner.delete_stream(locations)
    }
    fn list(
        &self,
        prefix: Option<&ObjectPath>,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }
    async fn list_with_delimiter(
        &self,
        prefix: Option<&ObjectPath>,
    ) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }
    async fn copy_opts(
        &self,
        from: &ObjectPath,
        to: &ObjectPath,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

/// Every object in a location: path → (e_tag, last modified).
async fn objects(store: &Arc<dyn ObjectStore>) -> BTreeMap<String, (Option<String>, String)> {
    use futures_util::TryStreamExt as _;
    let all: Vec<ObjectMeta> = store.list(None).try_collect().await.unwrap();
    all.into_iter()
        .map(|m| {
            (
                m.location.to_string(),
                (m.e_tag, m.last_modified.to_rfc3339()),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publisher_killed_mid_step_restarts_without_rewriting_or_losing_a_tile() {
    let moto = moto_with_buckets();
    let config = publish_config(&moto.endpoint());
    let env = server(None, 3_000).await;
    let (public, private) = config.locations(creds).unwrap();
    let source = Arc::new(LiveSource::new(env.shared.clone()));

    // A first checkpoint, published whole.
    env.ingest(0..1_000).await;
    let first = env.shared.latest_checkpoint().unwrap();
    let mut p = Publisher::new(public.clone(), private.clone(), env.verifier(), 4);
    let done = p
        .publish(source.clone(), first.size, &first.note)
        .await
        .unwrap();
    assert_eq!((done.from, done.to), (0, first.size));

    // The log grows; the next step is killed after 9 writes.
    env.ingest(1_000..3_000).await;
    let second = env.shared.latest_checkpoint().unwrap();
    assert_eq!(second.size, 3_000);
    let gate = |inner: &Location| {
        Arc::new(Gate {
            inner: inner.store().clone(),
            puts: AtomicI64::new(9),
            reached: tokio::sync::Notify::new(),
        })
    };
    let gated = gate(&public);
    let gated_public = Location::new(gated.clone(), "armsledger");
    let mut killed = Publisher::new(gated_public, private.clone(), env.verifier(), 4);
    let (src, note) = (source.clone(), second.note.clone());
    let step = tokio::spawn(async move { killed.publish(src, 3_000, &note).await });
    gated.reached.notified().await;
    step.abort();
    assert!(step.await.unwrap_err().is_cancelled());

    // Killed: some new tiles are there, the checkpoint is still the first,
    // and the outside reader verifies it whole.
    let before = objects(public.store()).await;
    assert!(
        before.keys().any(|k| k.contains("tile/0/003")),
        "{before:?}"
    );
    assert_eq!(published_size(&moto), Some(first.size));
    outside_reader_verifies(&moto, &env, first.size).await;

    // Restarted: it reads the store's checkpoint, finds the full tiles the
    // killed step wrote (same bytes: not rewritten), and finishes.
    let mut restarted = Publisher::new(public.clone(), private.clone(), env.verifier(), 4);
    let done = restarted
        .publish(source.clone(), 3_000, &second.note)
        .await
        .unwrap();
    assert_eq!((done.from, done.to), (first.size, 3_000));
    assert!(done.already_there > 0, "{done:?}");
    let after = objects(public.store()).await;
    for (path, meta) in &before {
        let full = !path.contains(".p/") && path.contains("/tile/");
        if full {
            assert_eq!(
                after.get(path),
                Some(meta),
                "immutable tile {path} was rewritten"
            );
        }
    }
    outside_reader_verifies(&moto, &env, 3_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_store_down_ingest_goes_on_and_the_publisher_catches_up() {
    let moto = moto_with_buckets();
    let proxy = Proxy::start(moto.addr());
    let config = PublishConfig {
        alert_lag_secs: 1,
        ..publish_config(&proxy.endpoint())
    };
    let env = server(Some(config.clone()), 2_000).await;
    let task = start_publisher(&env, &config);
    env.ingest(0..500).await;
    until_published(&moto, env.size()).await;
    let before = env.size();

    proxy.down();
    // Ingest goes on, checkpoints are signed; the store stays where it was.
    env.ingest(500..2_000).await;
    assert_eq!(env.size(), 2_000);
    assert_eq!(published_size(&moto), Some(before));
    // The publisher has noticed (bounded wait for its first failed attempt).
    let mut health = env.healthz().await;
    for _ in 0..600 {
        if health["publish"]["errors"].as_u64().unwrap_or(0) > 0
            && health["publish"]["lag_entries"] == 2_000 - before
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        health = env.healthz().await;
    }
    assert!(
        health["publish"]["errors"].as_u64().unwrap() > 0,
        "{health}"
    );
    assert_eq!(health["publish"]["lag_entries"], 2_000 - before, "{health}");
    // Behind for longer than alert_lag_secs: an alert for the regulator.
    for _ in 0..600 {
        if health["publish"]["state"] == "behind" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        health = env.healthz().await;
    }
    assert_eq!(health["publish"]["state"], "behind", "{health}");
    let alerts = env.publish_alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let detail = alerts[0]["detail"].as_str().unwrap();
    assert!(
        detail.contains("behind") && detail.contains(&format!("{} entries behind", 2_000 - before)),
        "{detail}"
    );

    proxy.up();
    until_published(&moto, 2_000).await;
    outside_reader_verifies(&moto, &env, 2_000).await;
    // Caught up: the alert is gone.
    assert!(env.publish_alerts().await.is_empty());
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_tile_with_other_bytes_or_another_logs_checkpoint_is_an_alarm() {
    let moto = moto_with_buckets();
    let config = publish_config(&moto.endpoint());
    let env = server(None, 600).await;
    env.ingest(0..600).await;
    let cp = env.shared.latest_checkpoint().unwrap();
    let (public, private) = config.locations(creds).unwrap();
    let source = Arc::new(LiveSource::new(env.shared.clone()));

    // Someone wrote tile/0/001 with other bytes.
    let forged = public.path("tile/0/001");
    public
        .store()
        .put(&forged, PutPayload::from(vec![7u8; 8192]))
        .await
        .unwrap();
    let mut p = Publisher::new(public.clone(), private.clone(), env.verifier(), 4);
    let err = p
        .publish(source.clone(), cp.size, &cp.note)
        .await
        .unwrap_err();
    assert!(
        matches!(err, PublishError::ImmutableTileDiffers { .. }),
        "{err}"
    );
    assert!(
        err.is_alarm() && err.to_string().contains("tile/0/001"),
        "{err}"
    );
    assert_eq!(published_size(&moto), None, "no checkpoint over a bad tile");

    // Quiet: with the forged tile gone, the same step goes through.
    public.store().delete(&forged).await.unwrap();
    let mut p = Publisher::new(public.clone(), private.clone(), env.verifier(), 4);
    p.publish(source.clone(), cp.size, &cp.note).await.unwrap();
    outside_reader_verifies(&moto, &env, cp.size).await;

    // Another log (another key) publishing into the same place is refused.
    let other = server(None, 300).await;
    other.ingest(0..300).await;
    let ocp = other.shared.latest_checkpoint().unwrap();
    let mut q = Publisher::new(public, private, other.verifier(), 4);
    let err = q
        .publish(
            Arc::new(LiveSource::new(other.shared.clone())),
            ocp.size,
            &ocp.note,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, PublishError::ForeignCheckpoint { .. }),
        "{err}"
    );
    assert_eq!(published_size(&moto), Some(cp.size));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alarm_turns_healthz_degraded_and_shows_in_metrics() {
    let moto = moto_with_buckets();
    let config = publish_config(&moto.endpoint());
    // Someone wrote the first full tile before the log did.
    let (public, _) = config.locations(creds).unwrap();
    public
        .store()
        .put(
            &public.path("tile/0/000"),
            PutPayload::from(vec![1u8; 8192]),
        )
        .await
        .unwrap();
    let env = server(Some(config.clone()), 300).await;
    let task = start_publisher(&env, &config);
    env.ingest(0..300).await;
    let mut health = env.healthz().await;
    for _ in 0..600 {
        if health["publish"]["state"] == "alarm" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        health = env.healthz().await;
    }
    assert_eq!(health["publish"]["state"], "alarm", "{health}");
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["ingest"], "open", "{health}");
    assert_eq!(published_size(&moto), None);
    let alerts = env.publish_alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(
        alerts[0]["detail"].as_str().unwrap().contains("alarm"),
        "{alerts:?}"
    );
    // The server's own state, for readers of every site only.
    let company = env
        .shared
        .tokens()
        .create("company:acme".parse().unwrap(), "acme", T0)
        .unwrap()
        .0;
    assert!(env.publish_alerts_as(&company).await.is_empty());
    let req = Request::builder()
        .uri("/metrics")
        .body(Body::empty())
        .unwrap();
    let resp = env.app.clone().oneshot(req).await.unwrap();
    let text = String::from_utf8(
        resp.into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    assert!(text.contains("armsledger_publish_alarm 1"), "{text}");
    assert!(
        text.contains("armsledger_publish_lag_entries 300"),
        "{text}"
    );
    task.abort();
}
