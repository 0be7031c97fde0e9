//! A mirror following a live server over HTTP through 10k entries, checked
//! by the outside reader from the mirror's own listener; and a mirror
//! refusing an origin that forks (the same log key, another history), with
//! the evidence kept.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::expect_used,
    clippy::panic
)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use armsledger_core::SignedEntry;
use armsledger_core::ids::Timestamp;
use armsledger_core::testkit::{Scenario, T0, storage_mix};
use armsledger_mirror::{Mirror, MirrorConfig, MirrorError, Step, serve};
use armsledger_server::{Clock, Config, Shared, app, spawn_workers};
use armsledger_testsupport::c2sp::{http_fetch, http_fetch_with, read_log};

struct Origin {
    _dir: tempfile::TempDir,
    shared: Arc<Shared>,
    addr: SocketAddr,
    regulator: String,
    auditor: String,
}

/// A server on a loopback port; `key_from` gives it another server's log key.
async fn origin(clock: Clock, key_from: Option<&Path>) -> Origin {
    let dir = tempfile::tempdir().unwrap();
    if let Some(other) = key_from {
        for f in ["log.key", "log.vkey"] {
            std::fs::copy(other.join(f), dir.path().join(f)).unwrap();
        }
    }
    let s = Scenario::standard();
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        regulator_key: Some(hex::encode(s.regulator_key())),
        manufacturer_roots: vec![hex::encode(s.root_key())],
        checkpoint_interval_ms: 10,
        max_batch_entries: 1024,
        token_rate_per_second: 1_000_000,
        ..Config::default()
    };
    let shared = Shared::open_with_clock(config, clock).unwrap();
    spawn_workers(shared.clone());
    let tok = |role: &str| {
        shared
            .tokens()
            .create(role.parse().unwrap(), role, T0)
            .unwrap()
            .0
    };
    let (regulator, auditor) = (tok("regulator"), tok("auditor"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = app(shared.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    Origin {
        _dir: dir,
        shared,
        addr,
        regulator,
        auditor,
    }
}

impl Origin {
    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn data(&self) -> &Path {
        self._dir.path()
    }

    /// Posts entries over HTTP and waits for their checkpoint.
    async fn ingest(&self, entries: &[Arc<SignedEntry>]) {
        let url = format!("{}/v1/entries?wait=true", self.url());
        let token = self.regulator.clone();
        let batches: Vec<Vec<u8>> = entries
            .chunks(1024)
            .map(|c| {
                let raw: Vec<Vec<u8>> = c.iter().map(|e| e.bytes().to_vec()).collect();
                postcard::to_allocvec(&raw).unwrap()
            })
            .collect();
        tokio::task::spawn_blocking(move || {
            for body in batches {
                let resp = ureq::post(&url)
                    .header("authorization", format!("Bearer {token}"))
                    .send(&body[..])
                    .unwrap();
                assert_eq!(resp.status(), 200);
            }
        })
        .await
        .unwrap();
    }

    fn vkey(&self) -> String {
        self.shared.log_vkey().to_string()
    }
}

fn mirror_config(dir: &Path, o: &Origin) -> MirrorConfig {
    let s = Scenario::standard();
    MirrorConfig {
        data: dir.to_path_buf(),
        from: o.url(),
        entries_from: None,
        token: Some(o.auditor.clone()),
        entries_s3: None,
        log_key: o.vkey(),
        regulator_key: Some(s.regulator_key()),
        manufacturer_roots: vec![s.root_key()],
    }
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
async fn a_mirror_follows_a_live_server_through_10k_entries_and_serves_a_verifiable_copy() {
    let o = origin(Clock::System, None).await;
    let log = storage_mix(10_000);
    let dir = tempfile::tempdir().unwrap();
    let mut m = Mirror::open(mirror_config(dir.path(), &o)).unwrap();
    assert!(m.follows_entries());
    // Growth in uneven steps: partial tiles widen, fill, and roll over.
    let mut at = 0;
    for end in [1, 300, 2_049, 6_000, 10_000] {
        o.ingest(&log[at..end]).await;
        at = end;
        let size = o.shared.latest_checkpoint().unwrap().size;
        assert_eq!(size, end as u64);
        let before = m.size();
        let (next, r) = step(m).await;
        m = next;
        assert_eq!(r.unwrap(), Step::Advanced(before, size));
        assert_eq!(m.size(), size);
    }
    let (next, r) = step(m).await;
    m = next;
    assert_eq!(r.unwrap(), Step::Unchanged(10_000));
    // Superseded partial tiles are gone: only those of size 10,000 remain
    // (10,000 = 39 * 256 + 16; level 1: 39 tiles in its partial).
    let mut partials = Vec::new();
    for level in ["0", "1", "2", "entries"] {
        let d = dir.path().join("tile").join(level);
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let name = e.file_name().into_string().unwrap();
            if name.ends_with(".p") {
                for w in std::fs::read_dir(e.path()).unwrap().flatten() {
                    partials.push(format!(
                        "tile/{level}/{name}/{}",
                        w.file_name().into_string().unwrap()
                    ));
                }
            }
        }
    }
    partials.sort();
    assert_eq!(
        partials,
        [
            "tile/0/039.p/16",
            "tile/1/000.p/39",
            "tile/entries/039.p/16"
        ]
    );
    assert_eq!(
        m.checkpoint().unwrap(),
        o.shared.latest_checkpoint().unwrap().note
    );

    // Reopened from disk: the copy is replayed and checked, and serves.
    drop(m);
    let m = Mirror::open(mirror_config(dir.path(), &o)).unwrap();
    assert_eq!(m.size(), 10_000);
    let served = serve::Served::new(dir.path().to_path_buf(), Some("mirror-token".into()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let maddr = listener.local_addr().unwrap();
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
    // The outside reader verifies the mirror's copy: checkpoint, tiles, every entry.
    let vkey = o.vkey();
    let base = format!("http://{maddr}");
    let copy = tokio::task::spawn_blocking(move || {
        let public = http_fetch(&base);
        let private = http_fetch_with(&base, Some("mirror-token"));
        let no_token = http_fetch(&base);
        let refused = no_token("tile/entries/000").unwrap_err();
        assert!(refused.contains("401"), "{refused}");
        read_log(&public, Some(&private), &vkey).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(copy.size, 10_000);
    let reader = o.shared.store().read().unwrap();
    assert_eq!(copy.root, reader.root_at(10_000).unwrap());
    for (i, data) in copy.entries.iter().enumerate() {
        assert_eq!(Some(data), reader.leaf_data(i as u64).unwrap().as_ref());
    }
    let _ = stop.send(());
    run.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mirror_refuses_an_origin_that_forks_and_keeps_the_evidence() {
    let a = origin(Clock::System, None).await;
    let log = storage_mix(600);
    a.ingest(&log[..300]).await;
    let dir = tempfile::tempdir().unwrap();
    let (m, r) = step(Mirror::open(mirror_config(dir.path(), &a)).unwrap()).await;
    assert_eq!(r.unwrap(), Step::Advanced(0, 300));
    drop(m);
    let held = std::fs::read_to_string(dir.path().join("checkpoint")).unwrap();

    // B signs with A's key (same origin) over the same entries received at
    // other times: another history of the same log, a split view.
    let later = Timestamp(a.shared.now().0 + 86_400_000);
    let b = origin(Clock::manual(later), Some(a.data())).await;
    assert_eq!(b.vkey(), a.vkey());
    b.ingest(&log[..300]).await;
    assert_ne!(
        b.shared.latest_checkpoint().unwrap().note,
        a.shared.latest_checkpoint().unwrap().note
    );
    let mut config = mirror_config(dir.path(), &b);
    config.token = Some(b.auditor.clone());
    let (m, r) = step(Mirror::open(config.clone()).unwrap()).await;
    let Err(MirrorError::Refused { kind, evidence, .. }) = r else {
        panic!("a fork was followed: {r:?}");
    };
    assert_eq!(kind, "fork");
    assert_eq!(
        std::fs::read_to_string(evidence.join("held.checkpoint")).unwrap(),
        held
    );
    assert_eq!(
        std::fs::read_to_string(evidence.join("offered.checkpoint")).unwrap(),
        b.shared.latest_checkpoint().unwrap().note
    );
    // The copy is untouched, and the mirror follows no more, even restarted.
    assert_eq!(m.size(), 300);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("checkpoint")).unwrap(),
        held
    );
    drop(m);
    let (m, r) = step(Mirror::open(config.clone()).unwrap()).await;
    assert!(matches!(r, Err(MirrorError::Stopped(_))), "{r:?}");
    drop(m);

    // B grows past the held size: its tiles rewrite leaves the mirror holds.
    b.ingest(&log[300..600]).await;
    std::fs::remove_file(dir.path().join("REFUSED")).unwrap();
    let (_, r) = step(Mirror::open(config).unwrap()).await;
    let Err(MirrorError::Refused { kind, .. }) = r else {
        panic!("a fork was followed: {r:?}");
    };
    assert_eq!(kind, "fork");
    assert_eq!(
        std::fs::read_dir(dir.path().join("evidence"))
            .unwrap()
            .count(),
        2
    );

    // Quiet: the honest origin growing on is followed (after a person looked).
    a.ingest(&log[300..600]).await;
    std::fs::remove_file(dir.path().join("REFUSED")).unwrap();
    let (m, r) = step(Mirror::open(mirror_config(dir.path(), &a)).unwrap()).await;
    assert_eq!(r.unwrap(), Step::Advanced(300, 600));
    assert_eq!(m.size(), 600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mirror_follows_the_object_store_the_server_publishes_to() {
    use armsledger_server::publish::{PublishConfig, Publisher};
    use armsledger_testsupport::s3::Moto;
    let moto = Moto::start();
    moto.create_bucket("log-public");
    moto.public_read("log-public");
    moto.create_bucket("log-private");
    let o = origin(Clock::System, None).await;
    let config = PublishConfig {
        endpoint: Some(moto.endpoint()),
        bucket: "log-public".into(),
        prefix: "log".into(),
        private_bucket: Some("log-private".into()),
        allow_http: true,
        ..PublishConfig::default()
    };
    let creds = |k: &str| {
        matches!(k, "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY").then(|| "testing".to_string())
    };
    let (public, private) = config.locations(creds).unwrap();
    let mut publisher = Publisher::new(
        public,
        private,
        armsledger_log::LogVerifier::from_vkey(&o.vkey()).unwrap(),
        8,
    );
    let source = Arc::new(armsledger_server::publish::LiveSource::new(
        o.shared.clone(),
    ));
    let log = storage_mix(1_500);
    let dir = tempfile::tempdir().unwrap();
    // Hash tiles only, straight from the public bucket: no token, no server.
    let mirror_config = MirrorConfig {
        from: format!("{}/log-public/log", moto.endpoint()),
        token: None,
        regulator_key: None,
        manufacturer_roots: vec![],
        ..mirror_config(dir.path(), &o)
    };
    let mut m = Mirror::open(mirror_config).unwrap();
    assert!(!m.follows_entries());
    for (from, to) in [(0, 700), (700, 1_500)] {
        o.ingest(&log[from..to]).await;
        let cp = o.shared.latest_checkpoint().unwrap();
        publisher
            .publish(source.clone(), cp.size, &cp.note)
            .await
            .unwrap();
        let (next, r) = step(m).await;
        m = next;
        assert_eq!(r.unwrap(), Step::Advanced(from as u64, to as u64));
    }
    assert_eq!(
        m.checkpoint().unwrap(),
        o.shared.latest_checkpoint().unwrap().note
    );
    // The higher tiles the mirror computed are the ones the server published.
    for path in ["tile/0/005.p/220", "tile/1/000.p/5", "tile/0/002"] {
        let ours = std::fs::read(dir.path().join(path)).unwrap();
        let theirs = armsledger_testsupport::s3::http(
            moto.addr(),
            "GET",
            &format!("/log-public/log/{path}"),
            &[],
        )
        .unwrap();
        assert_eq!((theirs.0, theirs.1), (200, ours), "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mirror_with_a_copy_reads_the_private_bundles_from_s3_with_credentials() {
    use armsledger_server::publish::{PublishConfig, Publisher};
    use armsledger_testsupport::s3::Moto;
    let moto = Moto::start();
    moto.create_bucket("log-public");
    moto.public_read("log-public");
    moto.create_bucket("log-private");
    let o = origin(Clock::System, None).await;
    let config = PublishConfig {
        endpoint: Some(moto.endpoint()),
        bucket: "log-public".into(),
        prefix: "log".into(),
        private_bucket: Some("log-private".into()),
        private_prefix: "entries".into(),
        allow_http: true,
        ..PublishConfig::default()
    };
    let creds = |k: &str| {
        matches!(k, "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY").then(|| "testing".to_string())
    };
    let (public, private) = config.locations(creds).unwrap();
    let mut publisher = Publisher::new(
        public,
        private,
        armsledger_log::LogVerifier::from_vkey(&o.vkey()).unwrap(),
        8,
    );
    let source = Arc::new(armsledger_server::publish::LiveSource::new(
        o.shared.clone(),
    ));
    let log = storage_mix(700);
    o.ingest(&log).await;
    let cp = o.shared.latest_checkpoint().unwrap();
    publisher
        .publish(source.clone(), cp.size, &cp.note)
        .await
        .unwrap();

    // The private bucket is not readable over plain HTTP.
    let base = format!("{}/log-private/entries", moto.endpoint());
    let refused = tokio::task::spawn_blocking(move || {
        armsledger_testsupport::c2sp::http_fetch(&base)("tile/entries/000").unwrap_err()
    })
    .await
    .unwrap();
    assert!(refused.contains("403"), "{refused}");

    // No server, no token: the public bucket for checkpoint and hash
    // tiles, the private one through S3 with the mirror's read credentials.
    let dir = tempfile::tempdir().unwrap();
    let s = Scenario::standard();
    let copy = armsledger_server::Shared::open_mirror(
        Config {
            data_dir: dir.path().to_path_buf(),
            regulator_key: Some(hex::encode(s.regulator_key())),
            manufacturer_roots: vec![hex::encode(s.root_key())],
            ..Config::default()
        },
        &o.vkey(),
        Clock::System,
    )
    .unwrap();
    let entries = config.location("log-private", "entries", creds).unwrap();
    let from_s3 = MirrorConfig {
        from: format!("{}/log-public/log", moto.endpoint()),
        token: None,
        entries_s3: Some(entries),
        ..mirror_config(dir.path(), &o)
    };
    let mut m = Mirror::open_serving(from_s3, copy.clone()).unwrap();
    let r = tokio::task::block_in_place(|| m.step());
    assert_eq!(r.unwrap(), Step::Advanced(0, 700));
    assert_eq!(copy.latest_checkpoint().unwrap().note, cp.note);
    let ours = copy.store().read().unwrap();
    let theirs = o.shared.store().read().unwrap();
    for i in [0, 255, 256, 699] {
        assert_eq!(ours.leaf_data(i).unwrap(), theirs.leaf_data(i).unwrap());
    }
    // The token never went anywhere, and no equivocation proofs were asked of a bucket.
    assert!(m.equivocations().unwrap_err().contains("object store"));

    // Firing: a bucket (or prefix) without the bundles is a fetch error,
    // retried; nothing of the step is kept.
    let dir = tempfile::tempdir().unwrap();
    let copy = armsledger_server::Shared::open_mirror(
        Config {
            data_dir: dir.path().to_path_buf(),
            regulator_key: Some(hex::encode(s.regulator_key())),
            manufacturer_roots: vec![hex::encode(s.root_key())],
            ..Config::default()
        },
        &o.vkey(),
        Clock::System,
    )
    .unwrap();
    let mut m = Mirror::open_serving(
        MirrorConfig {
            from: format!("{}/log-public/log", moto.endpoint()),
            token: None,
            entries_s3: Some(config.location("log-private", "elsewhere", creds).unwrap()),
            ..mirror_config(dir.path(), &o)
        },
        copy.clone(),
    )
    .unwrap();
    let r = tokio::task::block_in_place(|| m.step());
    let Err(MirrorError::Fetch { url, .. }) = &r else {
        panic!("{r:?}");
    };
    assert!(url.contains("elsewhere/tile/entries/000"), "{url}");
    assert_eq!(m.size(), 0);
    assert!(copy.latest_checkpoint().is_none());
}

/// Issue 23: a mirror that keeps hash tiles only reopens from the right
/// edge of its tree (the partial tile of each level, checked against the
/// held checkpoint) and follows on; a damaged partial tile sends it back
/// to reading every tile, which finds the damage when it is in a leaf tile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mirror_reopens_from_the_right_edge_of_its_tree() {
    let o = origin(Clock::System, None).await;
    let log = storage_mix(3_500);
    let dir = tempfile::tempdir().unwrap();
    let config = MirrorConfig {
        regulator_key: None,
        ..mirror_config(dir.path(), &o)
    };
    o.ingest(&log[..3_000]).await;
    let (m, r) = step(Mirror::open(config.clone()).unwrap()).await;
    assert_eq!(r.unwrap(), Step::Advanced(0, 3_000));
    drop(m);
    // 3,000 = 11 * 256 + 184: level 0's partial tile is 011.p/184, level 1's 000.p/11.
    let leaf_tile = dir.path().join("tile/0/011.p/184");
    let upper_tile = dir.path().join("tile/1/000.p/11");
    assert!(leaf_tile.exists() && upper_tile.exists());
    // Quiet: reopened, at the held checkpoint, and it follows on.
    let m = Mirror::open(config.clone()).unwrap();
    assert_eq!(m.size(), 3_000);
    o.ingest(&log[3_000..]).await;
    let (m, r) = step(m).await;
    assert_eq!(r.unwrap(), Step::Advanced(3_000, 3_500));
    drop(m);
    // 3,500 = 13 * 256 + 172.
    let leaf_tile = dir.path().join("tile/0/013.p/172");
    let upper_tile = dir.path().join("tile/1/000.p/13");
    // Only the right edge is read: a full tile moved away does not matter
    // to the start (it would to a reading of every tile).
    let full = dir.path().join("tile/0/005");
    let aside = dir.path().join("tile-005");
    std::fs::rename(&full, &aside).unwrap();
    let m = Mirror::open(config.clone()).unwrap();
    assert_eq!(m.size(), 3_500);
    drop(m);
    std::fs::rename(&aside, &full).unwrap();
    // Firing: a damaged upper partial tile is not trusted; every leaf tile
    // is read back and gives the checkpoint's root.
    let good = std::fs::read(&upper_tile).unwrap();
    let mut bad = good.clone();
    bad[0] ^= 1;
    std::fs::write(&upper_tile, &bad).unwrap();
    let m = Mirror::open(config.clone()).unwrap();
    assert_eq!(m.size(), 3_500);
    drop(m);
    std::fs::write(&upper_tile, &good).unwrap();
    // A damaged leaf tile: refused either way.
    let mut bad = std::fs::read(&leaf_tile).unwrap();
    bad[0] ^= 1;
    std::fs::write(&leaf_tile, &bad).unwrap();
    let err = Mirror::open(config).unwrap_err().to_string();
    assert!(err.contains("do not hash to the checkpoint held"), "{err}");
}
