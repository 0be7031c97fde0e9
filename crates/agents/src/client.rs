//! The regulator's server as its clients see it. [`ServerClient`] is the one
//! HTTP client of the server's API: the agents push and pull through it (the
//! [`LedgerServer`] operations; tests may put any other implementation behind
//! that trait), and the `armsledger` command reads traces, inventories,
//! alerts and exports with its `get_*` methods.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::AgentError;
/// Most entries pushed in one request.
pub const MAX_PUSH_BATCH: usize = 512;

/// One entry's place in the log, as the server acknowledged it.
#[derive(Clone, Debug, Deserialize)]
pub struct Logged {
    /// Log index.
    pub index: u64,
    /// `logged` or `duplicate`.
    pub status: String,
}

/// An inclusion proof against the receipt's checkpoint.
#[derive(Clone, Debug, Deserialize)]
pub struct Inclusion {
    /// Log index.
    pub index: u64,
    /// When the log received the entry (ms): the first 8 bytes of its leaf.
    pub received_at_ms: u64,
    /// Tree size.
    pub size: u64,
    /// Proof hashes, hex.
    pub proof: Vec<String>,
}

/// The answer to a push with `wait=true`.
#[derive(Clone, Debug, Deserialize)]
pub struct PushReceipt {
    /// Per entry, in batch order.
    pub entries: Vec<Logged>,
    /// Signed checkpoint note covering the batch.
    pub checkpoint: Option<String>,
    /// Inclusion proofs, in batch order.
    #[serde(default)]
    pub proofs: Vec<Inclusion>,
}

/// An entry with its log index.
#[derive(Clone, Debug, Deserialize)]
pub struct ProvenEntry {
    /// Log index.
    pub index: u64,
    /// When the log received the entry (ms): the first 8 bytes of its leaf.
    pub received_at_ms: u64,
    /// Entry bytes, hex.
    pub entry: String,
    /// Inclusion proof (hex) against the pull's checkpoint.
    #[serde(default)]
    pub proof: Vec<String>,
}

/// The pull response format this client reads.
pub const PULL_FORMAT: u32 = 2;

/// One person on the bar list, without the reason.
#[derive(Clone, Debug, Deserialize)]
pub struct BarredPerson {
    /// The person id.
    pub person: String,
    /// Until when (ms since the Unix epoch); absent for good.
    #[serde(default)]
    pub until_ms: Option<u64>,
    /// The log index of the bar entry.
    pub index: u64,
}

/// What a pull returns (format 2).
#[derive(Clone, Debug, Deserialize)]
pub struct Pull {
    /// The response's format; a pull of another format is refused.
    #[serde(default)]
    pub format: u32,
    /// Checkpoint note.
    pub checkpoint: Option<String>,
    /// Regulator entries.
    pub regulator: Vec<ProvenEntry>,
    /// Transfers out addressed to the site.
    pub inbox: Vec<ProvenEntry>,
    /// Every person barred now.
    #[serde(default)]
    pub bars: Vec<BarredPerson>,
}

/// The server operations agents need.
pub trait LedgerServer {
    /// Pushes encoded entries (at most [`MAX_PUSH_BATCH`]) and waits for a checkpoint.
    fn push(&self, entries: &[Vec<u8>]) -> Result<PushReceipt, AgentError>;
    /// Pulls regulator entries from `regulator_from` and the site's inbox from `inbox_from`.
    fn pull(&self, site: &str, regulator_from: u64, inbox_from: u64) -> Result<Pull, AgentError>;
    /// The log's C2SP verifier key.
    fn log_key(&self) -> Result<String, AgentError>;
    /// Sends the openings of sealed notes beside the logged entries that
    /// carry them (at most [`MAX_PUSH_BATCH`]); returns how many were new.
    fn put_notes(&self, notes: &[NoteUpload]) -> Result<usize, AgentError>;
}

/// One note's opening, beside the entry that carries the note: the body of
/// `POST /v1/notes`.
#[derive(Clone, Debug, Serialize)]
pub struct NoteUpload {
    /// The logged entry's hash.
    pub entry: armsledger_core::hash::Hash,
    /// The text and its salt.
    pub opening: armsledger_core::note::NoteOpening,
    /// What the note is about (the retention policy keys on it).
    pub class: armsledger_store::NoteClass,
}

/// What the server kept.
#[derive(Clone, Debug, Deserialize)]
struct NotesKept {
    kept: usize,
}

/// A blocking HTTP client for the server, with an optional bearer token.
#[derive(Clone, Debug)]
pub struct ServerClient {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
}

/// Largest JSON answer [`ServerClient::post_json`] reads (1 GiB).
pub const MAX_POST_ANSWER: u64 = 1 << 30;

impl ServerClient {
    /// A client for `base` (e.g. `http://127.0.0.1:8640`) with an optional bearer token.
    pub fn new(base: &str, token: Option<String>) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(120)))
            .build()
            .into();
        ServerClient {
            base: base.trim_end_matches('/').to_string(),
            token,
            agent,
        }
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// GET `path` and decode its JSON.
    pub fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, AgentError> {
        let mut resp = self.get(path, true)?;
        resp.body_mut()
            .read_json()
            .map_err(|e| AgentError::Server(format!("decoding {path}: {e}")))
    }

    /// GET `path` and copy its body, of any length, into `out`; returns the bytes copied.
    pub fn get_to(&self, path: &str, out: &mut impl std::io::Write) -> Result<u64, AgentError> {
        let mut resp = self.get(path, true)?;
        let mut reader = resp.body_mut().with_config().limit(u64::MAX).reader();
        std::io::copy(&mut reader, out)
            .map_err(|e| AgentError::Server(format!("reading {path}: {e}")))
    }

    /// POST to `path` with no body and decode its JSON answer (an action
    /// the server takes on its own data, such as a retention review).
    pub fn post_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, AgentError> {
        let req = self.auth(self.agent.post(format!("{}{path}", self.base)));
        let mut resp = self.finish(path, req.send_empty())?;
        // A long answer (every note of a large log) is not cut at ureq's
        // 10 MB default.
        resp.body_mut()
            .with_config()
            .limit(MAX_POST_ANSWER)
            .read_json()
            .map_err(|e| AgentError::Server(format!("decoding {path}: {e}")))
    }

    /// GET `path` as text.
    pub fn get_text(&self, path: &str) -> Result<String, AgentError> {
        let mut buf = Vec::new();
        self.get_to(path, &mut buf)?;
        String::from_utf8(buf).map_err(|e| AgentError::Server(format!("reading {path}: {e}")))
    }

    /// GET `path`, with the token when `auth` (public routes go without it,
    /// so a revoked token cannot keep a client from the log's key).
    fn get(&self, path: &str, auth: bool) -> Result<ureq::http::Response<ureq::Body>, AgentError> {
        let req = self.agent.get(format!("{}{path}", self.base));
        let req = if auth { self.auth(req) } else { req };
        self.finish(path, req.call())
    }

    /// A response with a success status, or an error that says what the
    /// server said (its problem title) and what to check.
    fn finish(
        &self,
        path: &str,
        resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<ureq::http::Response<ureq::Body>, AgentError> {
        let mut resp = resp.map_err(|e| {
            AgentError::Server(format!(
                "cannot reach {} (is the server running? check --server): {e}",
                self.base
            ))
        })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let body = resp.body_mut().read_to_string().unwrap_or_default();
        let problem = serde_json::from_str::<serde_json::Value>(&body).ok();
        let title = problem
            .as_ref()
            .and_then(|v| v.get("title").and_then(|t| t.as_str()).map(String::from))
            .unwrap_or(body);
        let kind = problem
            .as_ref()
            .and_then(|v| v.get("type").and_then(|t| t.as_str()));
        if status.as_u16() == 409 && kind == Some("equivocation") {
            return Err(AgentError::Equivocation(title));
        }
        let hint = match status.as_u16() {
            401 => " (pass --token, or set ARMSLEDGER_TOKEN)",
            403 => " (this token's role may not do that)",
            _ => "",
        };
        Err(AgentError::Server(format!(
            "{} {path}: {title}{hint}",
            status.as_u16()
        )))
    }

    fn auth<B>(&self, req: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.token {
            Some(t) => req.header("authorization", format!("Bearer {t}")),
            None => req,
        }
    }
}

impl LedgerServer for ServerClient {
    fn push(&self, entries: &[Vec<u8>]) -> Result<PushReceipt, AgentError> {
        let path = "/v1/entries?wait=true";
        let body = postcard::to_allocvec(&entries.to_vec())
            .map_err(|e| AgentError::Server(format!("encoding the batch: {e}")))?;
        let req = self
            .auth(self.agent.post(format!("{}{path}", self.base)))
            .header("content-type", "application/octet-stream");
        let mut resp = self.finish(path, req.send(&body[..]))?;
        resp.body_mut()
            .read_json()
            .map_err(|e| AgentError::Server(format!("decoding the receipt: {e}")))
    }

    fn pull(&self, site: &str, regulator_from: u64, inbox_from: u64) -> Result<Pull, AgentError> {
        self.get_json(&format!(
            "/v1/pull/{site}?regulator_from={regulator_from}&inbox_from={inbox_from}"
        ))
    }

    fn put_notes(&self, notes: &[NoteUpload]) -> Result<usize, AgentError> {
        #[derive(Serialize)]
        struct Batch<'a> {
            notes: &'a [NoteUpload],
        }
        let path = "/v1/notes";
        let body = serde_json::to_vec(&Batch { notes })
            .map_err(|e| AgentError::Server(format!("encoding the notes: {e}")))?;
        let req = self
            .auth(self.agent.post(format!("{}{path}", self.base)))
            .header("content-type", "application/json");
        let mut resp = self.finish(path, req.send(&body[..]))?;
        let kept: NotesKept = resp
            .body_mut()
            .read_json()
            .map_err(|e| AgentError::Server(format!("decoding {path}: {e}")))?;
        Ok(kept.kept)
    }

    fn log_key(&self) -> Result<String, AgentError> {
        let path = "/v1/log/key";
        let mut resp = self.get(path, false)?;
        let text = resp
            .body_mut()
            .read_to_string()
            .map_err(|e| AgentError::Server(format!("reading the log key: {e}")))?;
        Ok(text.trim().to_string())
    }
}
