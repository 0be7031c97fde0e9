//! Reading the origin over HTTP: the server (`/checkpoint`, `/tile/...`) or
//! an object store's HTTP endpoint (`<bucket>/<prefix>/checkpoint`, ...):
//! the same C2SP paths under a base URL. Every body is bounded before it is
//! read. (Not `agents::client::ServerClient`: that reads bodies unbounded and
//! speaks the server's JSON problems; an object store speaks neither.)

use std::time::Duration;

use crate::MirrorError;

/// The origin: where checkpoints and hash tiles come from, and where entry
/// bundles come from (with the token).
#[derive(Debug)]
pub(crate) struct Origin {
    agent: ureq::Agent,
    base: String,
    entries_base: String,
    token: Option<String>,
}

impl Origin {
    pub(crate) fn new(base: &str, entries_base: Option<&str>, token: Option<String>) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let trim = |s: &str| s.trim_end_matches('/').to_string();
        Origin {
            agent,
            base: trim(base),
            entries_base: trim(entries_base.unwrap_or(base)),
            token,
        }
    }

    /// GETs `path` (a C2SP path) from the public base.
    pub(crate) fn public(&self, path: &str, max: u64) -> Result<Vec<u8>, MirrorError> {
        self.get(&self.base, path, max, false)
    }

    /// GETs `path` from the entries base, with the token.
    pub(crate) fn private(&self, path: &str, max: u64) -> Result<Vec<u8>, MirrorError> {
        self.get(&self.entries_base, path, max, true)
    }

    /// GETs `path` (an API path such as `v1/equivocations`) from the
    /// public base, with the token: only for an origin that is the server
    /// itself (where the token goes anyway).
    pub(crate) fn api(&self, path: &str, max: u64) -> Result<Vec<u8>, MirrorError> {
        self.get(&self.base, path, max, true)
    }

    fn get(&self, base: &str, path: &str, max: u64, auth: bool) -> Result<Vec<u8>, MirrorError> {
        let url = format!("{base}/{path}");
        let mut req = self.agent.get(&url);
        if auth && let Some(t) = &self.token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let fail = |reason: String| MirrorError::Fetch {
            url: url.clone(),
            reason,
        };
        let mut resp = req.call().map_err(|e| fail(e.to_string()))?;
        let status = resp.status().as_u16();
        if status != 200 {
            let hint = if status == 401 || status == 403 {
                " (entry bundles need a token that may read them: --token)"
            } else {
                ""
            };
            return Err(fail(format!("HTTP {status}{hint}")));
        }
        resp.body_mut()
            .with_config()
            .limit(max)
            .read_to_vec()
            .map_err(|e| fail(format!("reading at most {max} bytes: {e}")))
    }
}
