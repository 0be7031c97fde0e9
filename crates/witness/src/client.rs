//! The log's side of C2SP tlog-witness: submit a checkpoint to a witness
//! with a consistency proof from the witness's size, and get its cosignature.
//!
//! ```text
//! send old = what we last knew of the witness (0 if nothing)
//!   200        → the cosignature lines (checked with the witness's key)
//!   409 + size → the witness is at <size>: prove from there and send again
//!   422        → refused: a split view if old = size, else a refused proof
//!   409 (no size, or the size we sent) → the same, from witnesses older than C2SP PR #280
//!   400/403/404/413 → refused for good
//!   anything else, or no answer → retry with exponential backoff
//! ```
//!
//! Blocking: call it from a worker thread (`spawn_blocking` in a server).
//! The transport and the sleep are passed in, so tests run it in-process.

use std::time::Duration;

use armsledger_log::{CheckpointNote, Cosignature, CosignatureVerifier, Hash};

use crate::request::canonical_decimal;
use crate::{AddCheckpoint, WitnessError};

/// Largest witness reply read.
const MAX_REPLY_BYTES: u64 = 64 * 1024;

/// One HTTP exchange's outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The Content-Type header, if any.
    pub content_type: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

/// How requests reach a witness.
pub trait Transport: Send + Sync {
    /// POSTs `body` to `url`; `Err` when no HTTP answer came back.
    fn post(&self, url: &str, body: &[u8]) -> Result<Reply, String>;
}

/// A shared transport (one agent for many witness clients).
impl<T: Transport + ?Sized> Transport for std::sync::Arc<T> {
    fn post(&self, url: &str, body: &[u8]) -> Result<Reply, String> {
        (**self).post(url, body)
    }
}

/// HTTP through `ureq`, with a timeout per request.
pub struct HttpTransport {
    agent: ureq::Agent,
}

impl HttpTransport {
    /// A transport whose requests time out after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .build()
            .into();
        Self { agent }
    }
}

impl Default for HttpTransport {
    fn default() -> Self {
        Self::new(Duration::from_secs(30))
    }
}

impl Transport for HttpTransport {
    fn post(&self, url: &str, body: &[u8]) -> Result<Reply, String> {
        let mut resp = self
            .agent
            .post(url)
            .header("content-type", "text/plain; charset=utf-8")
            .send(body)
            .map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_REPLY_BYTES)
            .read_to_vec()
            .map_err(|e| e.to_string())?;
        Ok(Reply {
            status,
            content_type,
            body,
        })
    }
}

/// Retries for transient failures (no answer, 5xx, 429).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// Wait after the first failure; doubled after each.
    pub first: Duration,
    /// Longest wait.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            attempts: 5,
            first: Duration::from_millis(500),
            max: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    /// The wait after the `n`-th failure (1 = the first).
    pub fn wait(&self, n: u32) -> Duration {
        let factor = 1u32.checked_shl(n.saturating_sub(1)).unwrap_or(u32::MAX);
        self.first.saturating_mul(factor).min(self.max)
    }
}

/// A cosignature gathered from a witness.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cosigned {
    /// The witness's valid cosignatures of the checkpoint.
    pub cosignatures: Vec<Cosignature>,
    /// The witness's size now (the checkpoint's size): the next `old`.
    pub witness_size: u64,
}

impl Cosigned {
    /// The cosignature lines, to append to the checkpoint note.
    pub fn lines(&self) -> String {
        self.cosignatures.iter().map(Cosignature::to_line).collect()
    }
}

/// One witness, as a log reaches it.
pub struct WitnessClient<T: Transport = HttpTransport> {
    url: String,
    verifier: CosignatureVerifier,
    transport: T,
    backoff: Backoff,
}

impl WitnessClient<HttpTransport> {
    /// A client for the witness at submission prefix `url` (the request
    /// goes to `<url>/add-checkpoint`), whose key is `verifier`.
    pub fn new(url: &str, verifier: CosignatureVerifier) -> Self {
        Self::with_transport(url, verifier, HttpTransport::default())
    }
}

impl<T: Transport> WitnessClient<T> {
    /// A client over another transport.
    pub fn with_transport(url: &str, verifier: CosignatureVerifier, transport: T) -> Self {
        Self {
            url: format!("{}/add-checkpoint", url.trim_end_matches('/')),
            verifier,
            transport,
            backoff: Backoff::default(),
        }
    }

    /// Replaces the retry policy.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// The witness's key.
    pub fn verifier(&self) -> &CosignatureVerifier {
        &self.verifier
    }

    /// Submits the signed checkpoint `note`.
    ///
    /// `known_size` is the witness's size as last learnt (0 if unknown; a
    /// value beyond the checkpoint is treated as unknown). `prove(old, new)`
    /// returns the consistency proof between two sizes of the log. `sleep`
    /// waits between retries. A 409 with the witness's size costs one more
    /// request, without waiting.
    pub fn add_checkpoint(
        &self,
        note: &str,
        known_size: u64,
        prove: &mut dyn FnMut(u64, u64) -> Result<Vec<Hash>, String>,
        sleep: &mut dyn FnMut(Duration),
    ) -> Result<Cosigned, WitnessError> {
        let parsed =
            CheckpointNote::parse(note.as_bytes()).map_err(WitnessError::CheckpointMalformed)?;
        let size = parsed.checkpoint().size();
        let mut old = if known_size > size { 0 } else { known_size };
        let mut failures = 0u32;
        let mut conflicts = 0u32;
        loop {
            let proof = if old == 0 || old == size {
                Vec::new()
            } else {
                prove(old, size).map_err(|reason| WitnessError::ProofUnavailable {
                    old,
                    size,
                    reason,
                })?
            };
            let body = AddCheckpoint::encode(old, &proof, note);
            let reply = match self.transport.post(&self.url, body.as_bytes()) {
                Ok(r) => r,
                Err(e) => {
                    failures += 1;
                    self.retry_or_give_up(failures, e, sleep)?;
                    continue;
                }
            };
            match reply.status {
                200 => return self.cosigned(&parsed, &reply.body, size),
                409 => match witness_size(&reply) {
                    Some(n) if n != old => {
                        if n > size {
                            return Err(WitnessError::WitnessAhead {
                                witness_size: n,
                                size,
                            });
                        }
                        conflicts += 1;
                        if conflicts > 3 {
                            return Err(WitnessError::WitnessReplyMalformed(
                                "the witness's size keeps changing under us",
                            ));
                        }
                        old = n;
                    }
                    // A 409 without a new size is the older spec's answer to
                    // the same size with another root.
                    _ => return Err(self.refusal(409, old, size)),
                },
                422 => return Err(self.refusal(422, old, size)),
                400 | 403 | 404 | 413 => {
                    return Err(WitnessError::WitnessRejected {
                        status: reply.status,
                        detail: detail(&reply.body),
                    });
                }
                status => {
                    failures += 1;
                    let last = format!("HTTP {status}: {}", detail(&reply.body));
                    self.retry_or_give_up(failures, last, sleep)?;
                }
            }
        }
    }

    fn refusal(&self, status: u16, old: u64, size: u64) -> WitnessError {
        if old == size {
            WitnessError::WitnessSplitView { size, status }
        } else {
            WitnessError::WitnessProofRefused { old, size }
        }
    }

    fn retry_or_give_up(
        &self,
        failures: u32,
        last: String,
        sleep: &mut dyn FnMut(Duration),
    ) -> Result<(), WitnessError> {
        if failures >= self.backoff.attempts {
            return Err(WitnessError::WitnessUnreachable {
                attempts: failures,
                last,
            });
        }
        sleep(self.backoff.wait(failures));
        Ok(())
    }

    /// Keeps the reply's lines that are this witness's valid cosignatures.
    fn cosigned(
        &self,
        note: &CheckpointNote,
        body: &[u8],
        size: u64,
    ) -> Result<Cosigned, WitnessError> {
        let text = std::str::from_utf8(body)
            .map_err(|_| WitnessError::WitnessReplyMalformed("reply is not UTF-8"))?;
        let mut cosignatures = Vec::new();
        for line in text.lines().filter(|l| !l.is_empty()) {
            let Ok(c) = Cosignature::parse_line(line) else {
                continue;
            };
            if c.name() == self.verifier.name()
                && c.key_id() == self.verifier.key_id()
                && self.verifier.verify(note.body(), &c).is_ok()
            {
                cosignatures.push(c);
            }
        }
        if cosignatures.is_empty() {
            return Err(WitnessError::WitnessReplyMalformed(
                "200 without a valid cosignature by the witness's key",
            ));
        }
        Ok(Cosigned {
            cosignatures,
            witness_size: size,
        })
    }
}

/// The size in a 409 `text/x.tlog.size` body, `<decimal>\n`.
fn witness_size(reply: &Reply) -> Option<u64> {
    let ct = reply.content_type.as_deref()?;
    let mime = ct.split(';').next()?.trim();
    if !mime.eq_ignore_ascii_case("text/x.tlog.size") {
        return None;
    }
    let text = std::str::from_utf8(&reply.body).ok()?;
    canonical_decimal(text.strip_suffix('\n')?)
}

/// The first 200 characters of a reply body, for error messages.
fn detail(body: &[u8]) -> String {
    String::from_utf8_lossy(body)
        .trim()
        .chars()
        .take(200)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let b = Backoff {
            attempts: 10,
            first: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        assert_eq!(b.wait(1), Duration::from_millis(100));
        assert_eq!(b.wait(2), Duration::from_millis(200));
        assert_eq!(b.wait(4), Duration::from_millis(800));
        assert_eq!(b.wait(5), Duration::from_secs(1));
        assert_eq!(b.wait(64), Duration::from_secs(1));
    }

    #[test]
    fn size_bodies() {
        let reply = |ct: Option<&str>, body: &str| Reply {
            status: 409,
            content_type: ct.map(str::to_owned),
            body: body.as_bytes().to_vec(),
        };
        assert_eq!(
            witness_size(&reply(Some("text/x.tlog.size"), "12\n")),
            Some(12)
        );
        assert_eq!(
            witness_size(&reply(Some("text/x.tlog.size; charset=utf-8"), "0\n")),
            Some(0)
        );
        assert_eq!(witness_size(&reply(Some("text/plain"), "12\n")), None);
        assert_eq!(witness_size(&reply(None, "12\n")), None);
        assert_eq!(witness_size(&reply(Some("text/x.tlog.size"), "12")), None);
        assert_eq!(
            witness_size(&reply(Some("text/x.tlog.size"), "012\n")),
            None
        );
    }
}
