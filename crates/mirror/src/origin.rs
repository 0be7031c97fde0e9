//! Reading the origin over HTTP: the server (`/checkpoint`, `/tile/...`) or
//! an object store's HTTP endpoint (`<bucket>/<prefix>/checkpoint`, ...):
//! the same C2SP paths under a base URL. Every body is bounded before it is
//! read. (Not `agents::client::ServerClient`: that reads bodies unbounded and
//! speaks the server's JSON problems; an object store speaks neither.)

use std::time::Duration;

use armsledger_server::publish::Location;
use object_store::ObjectStoreExt as _;

use crate::MirrorError;

/// The origin: where checkpoints and hash tiles come from, and where entry
/// bundles come from (with the token, or from an S3 location with
/// credentials).
#[derive(Debug)]
pub(crate) struct Origin {
    agent: ureq::Agent,
    base: String,
    entries_base: String,
    token: Option<String>,
    s3: Option<Location>,
}

impl Origin {
    pub(crate) fn new(
        base: &str,
        entries_base: Option<&str>,
        token: Option<String>,
        s3: Option<Location>,
    ) -> Self {
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
            s3,
        }
    }

    /// GETs `path` (a C2SP path) from the public base.
    pub(crate) fn public(&self, path: &str, max: u64) -> Result<Vec<u8>, MirrorError> {
        self.get(&self.base, path, max, false)
    }

    /// GETs `path` from the entries base, with the token; or from the S3
    /// location, signed with its credentials.
    pub(crate) fn private(&self, path: &str, max: u64) -> Result<Vec<u8>, MirrorError> {
        match &self.s3 {
            Some(loc) => s3_get(loc, path, max),
            None => self.get(&self.entries_base, path, max, true),
        }
    }

    /// Whether entry bundles come from an S3 location.
    pub(crate) fn reads_s3(&self) -> bool {
        self.s3.is_some()
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

/// GETs `path` in `loc` (on a thread of its own, with a runtime of its own:
/// the mirror's steps are synchronous). The size is checked before the body
/// is read.
fn s3_get(loc: &Location, path: &str, max: u64) -> Result<Vec<u8>, MirrorError> {
    let object = loc.path(path);
    let fail = |reason: String| MirrorError::Fetch {
        url: format!("s3 {object}"),
        reason,
    };
    let store = loc.store().clone();
    let key = object.clone();
    let got = std::thread::scope(|scope| {
        scope
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| e.to_string())?;
                rt.block_on(async move {
                    let r = store.get(&key).await.map_err(|e| e.to_string())?;
                    if r.meta.size > max {
                        return Err(format!("{} bytes, over the limit of {max}", r.meta.size));
                    }
                    r.bytes()
                        .await
                        .map(|b| b.to_vec())
                        .map_err(|e| e.to_string())
                })
            })
            .join()
    });
    match got {
        Ok(r) => r.map_err(fail),
        Err(_) => Err(fail("the S3 reader thread failed".into())),
    }
}
