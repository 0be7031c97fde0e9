//! Shared helpers: a test log that signs checkpoints and makes proofs, a
//! witness in a temporary directory, and two drivers (in-process and over
//! loopback HTTP) that the conformance suite runs against.

use std::path::Path;
use std::sync::Arc;

use armsledger_log::{
    CosignatureVerifier, CosignerKey, Frontier, Hash, LogKey, LogVerifier, leaf_hash,
    prove_consistency,
};
use armsledger_witness::client::Reply;
use armsledger_witness::{AddCheckpoint, Config, FixedClock, Store, Witness, app};
use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

/// The fixed time every test witness cosigns at.
pub const NOW: u64 = 1_750_000_000;

pub const ORIGIN: &str = "example.com/TestLog";
pub const WITNESS_NAME: &str = "witness.example";

/// The witness key of every test (seed 0x57 …). Tests only.
pub fn witness_key() -> CosignerKey {
    CosignerKey::from_seed(WITNESS_NAME, &[0x57; 32]).unwrap()
}

pub fn witness_verifier() -> CosignatureVerifier {
    witness_key().verifier()
}

/// A log that grows, signs checkpoints at any size it reached, and proves.
#[derive(Clone)]
pub struct TestLog {
    pub key: Arc<LogKey>,
    frontier: Frontier,
    stored: Vec<Hash>,
    roots: Vec<Hash>,
}

impl TestLog {
    pub fn new(origin: &str, seed: u8) -> Self {
        let frontier = Frontier::new();
        Self {
            key: Arc::new(LogKey::from_seed(origin, &[seed; 32]).unwrap()),
            roots: vec![frontier.root()],
            frontier,
            stored: Vec::new(),
        }
    }

    pub fn verifier(&self) -> LogVerifier {
        self.key.verifier()
    }

    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// Appends `n` leaves named `tag0`, `tag1`, …
    pub fn grow(&mut self, n: u64, tag: &str) -> &mut Self {
        for i in 0..n {
            let leaf = leaf_hash(format!("{tag}{i}").as_bytes());
            let appended = self.frontier.append(leaf).unwrap();
            assert_eq!(appended.first_index, self.stored.len() as u64);
            self.stored.extend(appended.hashes);
            self.roots.push(self.frontier.root());
        }
        self
    }

    pub fn root_at(&self, size: u64) -> Hash {
        self.roots[size as usize]
    }

    /// The signed checkpoint note at `size`.
    pub fn note_at(&self, size: u64) -> String {
        self.key
            .sign_checkpoint(size, &self.root_at(size))
            .unwrap()
            .into_note()
    }

    pub fn note(&self) -> String {
        self.note_at(self.size())
    }

    pub fn proof(&self, old: u64, new: u64) -> Vec<Hash> {
        prove_consistency(&self.stored, old, new).unwrap()
    }

    /// The add-checkpoint body from `old` to `new` with a correct proof.
    pub fn body(&self, old: u64, new: u64) -> String {
        AddCheckpoint::encode(old, &self.proof(old, new), &self.note_at(new))
    }
}

/// Writes the test witness key (mode 0600) and a known-logs file listing `logs`.
pub fn write_files(dir: &Path, logs: &[LogVerifier]) -> Config {
    let config = Config::new(dir);
    std::fs::write(
        &config.key_file,
        format!("{}\n", witness_key().to_signer_key().as_str()),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&config.key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let text: String = logs.iter().map(|l| format!("log {l}\n")).collect();
    std::fs::write(&config.logs_file, text).unwrap();
    config
}

/// A witness over `dir` knowing `logs`, cosigning at [`NOW`].
pub fn witness(dir: &Path, logs: &[LogVerifier]) -> Arc<Witness> {
    let store = Store::open(&dir.join("witness.redb"), Default::default()).unwrap();
    store.add_logs(logs).unwrap();
    Arc::new(Witness::new(witness_key(), store, Arc::new(FixedClock(NOW))).unwrap())
}

/// Something that answers witness requests.
pub trait Driver {
    fn post(&self, path: &str, body: &[u8]) -> Reply;
    fn get(&self, path: &str) -> Reply;
}

/// Drives the router in-process with `oneshot`.
pub struct InProcess {
    witness: Arc<Witness>,
    rt: tokio::runtime::Runtime,
}

impl InProcess {
    pub fn new(witness: Arc<Witness>) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        Self { witness, rt }
    }

    fn call(&self, req: Request<Body>) -> Reply {
        self.rt.block_on(async {
            let resp = app(self.witness.clone()).oneshot(req).await.unwrap();
            let status = resp.status().as_u16();
            let content_type = resp
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned());
            let body = resp
                .into_body()
                .collect()
                .await
                .unwrap()
                .to_bytes()
                .to_vec();
            Reply {
                status,
                content_type,
                body,
            }
        })
    }
}

impl Driver for InProcess {
    fn post(&self, path: &str, body: &[u8]) -> Reply {
        let req = Request::post(path)
            .header("content-length", body.len())
            .body(Body::from(body.to_vec()))
            .unwrap();
        self.call(req)
    }

    fn get(&self, path: &str) -> Reply {
        self.call(Request::get(path).body(Body::empty()).unwrap())
    }
}

/// A real server on a loopback port, serving the same witness state.
pub struct Loopback {
    base: String,
    agent: ureq::Agent,
    _rt: tokio::runtime::Runtime,
}

impl Loopback {
    /// Serves `witness` on 127.0.0.1 with a picked port.
    pub fn new(witness: Arc<Witness>) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        rt.spawn(async move {
            axum::serve(listener, app(witness)).await.unwrap();
        });
        Self {
            base: format!("http://{addr}"),
            agent: http_agent(),
            _rt: rt,
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }
}

pub fn http_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(30)))
        .build()
        .into()
}

pub fn reply_of(resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
    let mut resp = resp.unwrap();
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = resp
        .body_mut()
        .with_config()
        .limit(1 << 20)
        .read_to_vec()
        .unwrap();
    Reply {
        status,
        content_type,
        body,
    }
}

impl Driver for Loopback {
    fn post(&self, path: &str, body: &[u8]) -> Reply {
        reply_of(self.agent.post(format!("{}{path}", self.base)).send(body))
    }

    fn get(&self, path: &str) -> Reply {
        reply_of(self.agent.get(format!("{}{path}", self.base)).call())
    }
}

pub fn text(reply: &Reply) -> &str {
    std::str::from_utf8(&reply.body).unwrap()
}
