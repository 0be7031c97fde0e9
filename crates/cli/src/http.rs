//! A small blocking HTTP client for the server's API.

use anyhow::{Context, bail};
use serde::de::DeserializeOwned;

/// The server and the token to use.
#[derive(Clone, Debug)]
pub struct Client {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
}

impl Client {
    /// A client for `base` (e.g. `http://127.0.0.1:8640`).
    pub fn new(base: &str, token: Option<String>) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(120)))
            .build()
            .into();
        Client {
            base: base.trim_end_matches('/').to_string(),
            token,
            agent,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn check(
        &self,
        path: &str,
        resp: ureq::http::Response<ureq::Body>,
    ) -> anyhow::Result<ureq::http::Response<ureq::Body>> {
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let mut resp = resp;
        let body = resp.body_mut().read_to_string().unwrap_or_default();
        let title = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("title").and_then(|t| t.as_str()).map(String::from))
            .unwrap_or(body);
        let hint = match status.as_u16() {
            401 => " (pass --token, or set ARMSLEDGER_TOKEN)",
            403 => " (this token's role may not do that)",
            _ => "",
        };
        bail!("{} {path}: {title}{hint}", status.as_u16())
    }

    /// GET and decode JSON.
    pub fn get_json<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let mut req = self.agent.get(self.url(path));
        if let Some(t) = &self.token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let resp = req.call().with_context(|| {
            format!(
                "cannot reach {} (is the server running? try --server)",
                self.base
            )
        })?;
        let mut resp = self.check(path, resp)?;
        resp.body_mut()
            .read_json()
            .with_context(|| format!("decoding {path}"))
    }

    /// GET raw bytes into a writer.
    pub fn get_to(&self, path: &str, out: &mut impl std::io::Write) -> anyhow::Result<u64> {
        let mut req = self.agent.get(self.url(path));
        if let Some(t) = &self.token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let resp = req
            .call()
            .with_context(|| format!("cannot reach {}", self.base))?;
        let mut resp = self.check(path, resp)?;
        let mut reader = resp.body_mut().with_config().limit(u64::MAX).reader();
        Ok(std::io::copy(&mut reader, out)?)
    }

    /// GET text.
    pub fn get_text(&self, path: &str) -> anyhow::Result<String> {
        let mut buf = Vec::new();
        self.get_to(path, &mut buf)?;
        Ok(String::from_utf8(buf)?)
    }
}
