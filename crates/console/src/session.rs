//! Console sessions: a bearer token exchanged at sign-in for a random
//! session id in a cookie (HttpOnly, SameSite=Strict, Secure over TLS, with
//! an expiry). The token stays in this process's memory, is checked again
//! on every request (a revoked token ends the session at once), and never
//! reaches a URL or a page. Each session carries its own CSRF token.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;

/// The session cookie's name.
pub const COOKIE: &str = "als_console";
/// The cookie that carries the sign-in form's CSRF token before a session
/// exists (double-submit).
pub const PRE_COOKIE: &str = "als_console_pre";

/// One signed-in browser.
#[derive(Clone, Debug)]
pub struct Session {
    /// The bearer token it signed in with.
    pub token: String,
    /// The CSRF token every state-changing form of this session carries.
    pub csrf: String,
    /// The log's verifier key pinned at sign-in (what the page shows and
    /// the browser's own proof checks use).
    pub log_key: String,
    expires: Instant,
}

/// Why a sign-in was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// As many sessions as allowed are open.
    #[error(
        "{0} console sessions are open, the most allowed; sign out elsewhere or wait for one to expire"
    )]
    Full(usize),
    /// The system's random source failed.
    #[error("no random bytes for a session id: {0}")]
    Random(String),
}

/// The open sessions, bounded in number and age.
#[derive(Debug)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
    ttl: Duration,
    max: usize,
}

impl Sessions {
    /// Sessions that last `ttl`, at most `max` at once.
    pub fn new(ttl: Duration, max: usize) -> Sessions {
        Sessions {
            map: Mutex::new(HashMap::new()),
            ttl,
            max,
        }
    }

    /// How long a session lasts.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Opens a session for `token`; returns its id.
    pub fn open(&self, token: &str, log_key: &str, now: Instant) -> Result<String, SessionError> {
        let id = random_hex()?;
        let csrf = random_hex()?;
        let mut map = self.lock();
        map.retain(|_, s| s.expires > now);
        if map.len() >= self.max {
            return Err(SessionError::Full(self.max));
        }
        map.insert(
            id.clone(),
            Session {
                token: token.to_string(),
                csrf,
                log_key: log_key.to_string(),
                expires: now + self.ttl,
            },
        );
        Ok(id)
    }

    /// The live session with `id`.
    pub fn get(&self, id: &str, now: Instant) -> Option<Session> {
        let mut map = self.lock();
        match map.get(id) {
            Some(s) if s.expires > now => Some(s.clone()),
            Some(_) => {
                map.remove(id);
                None
            }
            None => None,
        }
    }

    /// Ends the session with `id`.
    pub fn close(&self, id: &str) {
        self.lock().remove(id);
    }
}

/// 32 random bytes, hex.
pub fn random_hex() -> Result<String, SessionError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| SessionError::Random(e.to_string()))?;
    Ok(hex::encode(b))
}

/// The value of cookie `name` in the request, if any.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value for the console's path.
pub fn set_cookie(name: &str, value: &str, max_age: Duration, secure: bool) -> String {
    format!(
        "{name}={value}; Path={}; Max-Age={}; HttpOnly; SameSite=Strict{}",
        crate::BASE,
        max_age.as_secs(),
        if secure { "; Secure" } else { "" }
    )
}

/// Whether two secrets are equal, in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_session_expires_and_is_bounded() {
        let s = Sessions::new(Duration::from_secs(10), 2);
        let t0 = Instant::now();
        let a = s.open("tok", "key", t0).unwrap();
        assert_eq!(s.get(&a, t0).unwrap().token, "tok");
        assert!(s.get(&a, t0 + Duration::from_secs(11)).is_none());
        let _b = s.open("tok", "key", t0).unwrap();
        let _c = s.open("tok", "key", t0).unwrap();
        assert_eq!(s.open("tok", "key", t0), Err(SessionError::Full(2)));
        s.close(&_b);
        assert!(s.open("tok", "key", t0).is_ok());
    }

    #[test]
    fn cookies_are_found_by_name_and_secrets_compared_whole() {
        let mut h = HeaderMap::new();
        h.insert("cookie", "a=1; als_console=abc; b=2".parse().unwrap());
        assert_eq!(cookie(&h, COOKIE), Some("abc"));
        assert_eq!(cookie(&h, PRE_COOKIE), None);
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
    }
}
