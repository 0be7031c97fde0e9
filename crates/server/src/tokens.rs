//! Bearer tokens and roles. A token is shown once, when created; the server
//! keeps only its SHA-256. The token file is plain JSON written atomically, so
//! `armsledger token create` works against the data directory while the
//! server runs, and the server picks changes up without a restart.

use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::SystemTime;

use armsledger_core::entry::ChainId;
use armsledger_core::ids::{CompanyId, SiteId, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a token may read or do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Role {
    /// Everything, including token management.
    Regulator,
    /// Everything, read-only.
    Auditor,
    /// The police: every weapon's trace and dossier, serial checks, the
    /// lost-and-stolen register, read-only; not the text of sealed notes,
    /// not whole-log exports, reports, the access log or tokens.
    Police,
    /// One company's sites only.
    Company(CompanyId),
    /// One site only.
    Site(SiteId),
}

impl Role {
    /// Whether this role may read data of `site` belonging to `company`.
    pub fn may_read(&self, site: Option<&SiteId>, company: Option<&CompanyId>) -> bool {
        match self {
            Role::Regulator | Role::Auditor | Role::Police => true,
            Role::Company(c) => company == Some(c),
            Role::Site(s) => site == Some(s),
        }
    }

    /// Whether this role may read everything.
    pub fn reads_all(&self) -> bool {
        matches!(self, Role::Regulator | Role::Auditor)
    }

    /// Whether this role may read every site's weapons and the whole
    /// regulator chain (sealed notes stay sealed): the roles that read
    /// everything, and the police.
    pub fn reads_every_site(&self) -> bool {
        self.reads_all() || *self == Role::Police
    }

    /// Whether this role may push entries of `chain`: a site its own chain,
    /// the regulator any chain (it issues every token, so it could act as
    /// any site anyway). Auditors and companies only read. The entries'
    /// device signatures are checked whoever pushes them.
    pub fn may_write(&self, chain: &ChainId) -> bool {
        match (self, chain) {
            (Role::Regulator, _) => true,
            (Role::Site(s), ChainId::Site(c)) => s == c,
            _ => false,
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Role::Regulator => f.write_str("regulator"),
            Role::Auditor => f.write_str("auditor"),
            Role::Police => f.write_str("police"),
            Role::Company(c) => write!(f, "company:{c}"),
            Role::Site(s) => write!(f, "site:{s}"),
        }
    }
}

impl From<Role> for String {
    fn from(r: Role) -> String {
        r.to_string()
    }
}

/// Why a role string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a role is regulator, auditor, police, company:<id> or site:<id>; got {0:?}")]
pub struct BadRole(pub String);

impl TryFrom<String> for Role {
    type Error = BadRole;
    fn try_from(s: String) -> Result<Self, BadRole> {
        s.parse()
    }
}

impl std::str::FromStr for Role {
    type Err = BadRole;
    fn from_str(s: &str) -> Result<Self, BadRole> {
        let bad = || BadRole(s.to_string());
        match s.split_once(':') {
            None if s == "regulator" => Ok(Role::Regulator),
            None if s == "auditor" => Ok(Role::Auditor),
            None if s == "police" => Ok(Role::Police),
            Some(("company", id)) => id.parse().map(Role::Company).map_err(|_| bad()),
            Some(("site", id)) => id.parse().map(Role::Site).map_err(|_| bad()),
            _ => Err(bad()),
        }
    }
}

/// One token as stored (without the secret).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TokenRecord {
    /// Short id (first 8 hex digits of the hash) for listing and revoking.
    pub id: String,
    /// SHA-256 of the token, hex.
    pub hash: String,
    /// Role.
    pub role: Role,
    /// Free label ("inspector J. Doe").
    pub label: String,
    /// When created.
    pub created_at: Timestamp,
    /// When revoked, if it was.
    pub revoked_at: Option<Timestamp>,
}

/// Why a token operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The token file could not be read or written.
    #[error("token file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The token file is not valid JSON.
    #[error("token file {path} is malformed: {msg}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        msg: String,
    },
    /// No token with that id.
    #[error("no token with id {0}")]
    NotFound(String),
    /// Randomness unavailable.
    #[error("no randomness for a new token: {0}")]
    Random(String),
}

fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// What the file looked like when last read, and what it held.
#[derive(Debug, Default)]
struct Cache {
    /// (modification time, length) of the file, or none if it was absent.
    seen: Option<(SystemTime, u64)>,
    /// When it was read; the file is re-read at least every second, since
    /// file times can be coarser than two quick writes.
    at: Option<std::time::Instant>,
    records: Vec<TokenRecord>,
    valid: bool,
}

/// The token file: list, create, revoke, and check.
#[derive(Debug)]
pub struct TokenStore {
    path: PathBuf,
    cache: RwLock<Cache>,
}

impl TokenStore {
    /// The token store at `path` (created on first write).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        TokenStore {
            path: path.into(),
            cache: RwLock::new(Cache::default()),
        }
    }

    /// The token store of the server whose data directory is `data`.
    pub fn in_data_dir(data: &Path) -> Self {
        TokenStore::new(data.join(crate::files::TOKENS_JSON))
    }

    /// The file path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read_file(&self) -> Result<Vec<TokenRecord>, TokenError> {
        match std::fs::read(&self.path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| TokenError::Malformed {
                path: self.path.clone(),
                msg: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(source) => Err(TokenError::Io {
                path: self.path.clone(),
                source,
            }),
        }
    }

    fn write_file(&self, records: &[TokenRecord]) -> Result<(), TokenError> {
        let io = |source| TokenError::Io {
            path: self.path.clone(),
            source,
        };
        let tmp = self.path.with_extension("json.tmp");
        let body = serde_json::to_vec_pretty(records).map_err(|e| TokenError::Malformed {
            path: self.path.clone(),
            msg: e.to_string(),
        })?;
        // Written 0600 like every secret of the data directory: only the
        // tokens' hashes are kept, but they and the roles are nobody's business.
        crate::secret::replace_private(&self.path, &tmp, &body).map_err(io)?;
        if let Ok(mut c) = self.cache.write() {
            c.valid = false;
        }
        Ok(())
    }

    /// All tokens (revoked ones too).
    pub fn list(&self) -> Result<Vec<TokenRecord>, TokenError> {
        self.read_file()
    }

    /// Creates a token; returns the secret (shown once) and its record.
    pub fn create(
        &self,
        role: Role,
        label: &str,
        now: Timestamp,
    ) -> Result<(String, TokenRecord), TokenError> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| TokenError::Random(e.to_string()))?;
        let token = format!("als_{}", hex::encode(secret));
        let hash = hash_token(&token);
        let rec = TokenRecord {
            id: hash.get(..8).unwrap_or_default().to_string(),
            hash,
            role,
            label: label.to_string(),
            created_at: now,
            revoked_at: None,
        };
        let mut all = self.read_file()?;
        all.push(rec.clone());
        self.write_file(&all)?;
        Ok((token, rec))
    }

    /// Revokes the token with `id`.
    pub fn revoke(&self, id: &str, now: Timestamp) -> Result<TokenRecord, TokenError> {
        let mut all = self.read_file()?;
        let rec = all
            .iter_mut()
            .find(|r| r.id == id)
            .ok_or_else(|| TokenError::NotFound(id.to_string()))?;
        rec.revoked_at.get_or_insert(now);
        let out = rec.clone();
        self.write_file(&all)?;
        Ok(out)
    }

    /// The role of a presented token, if it is known and not revoked.
    pub fn check(&self, token: &str) -> Result<Option<Role>, TokenError> {
        Ok(self.authenticate(token)?.map(|(_, role)| role))
    }

    /// The id and role of a presented token, if it is known and not revoked.
    pub fn authenticate(&self, token: &str) -> Result<Option<(String, Role)>, TokenError> {
        let seen = std::fs::metadata(&self.path)
            .ok()
            .and_then(|m| Some((m.modified().ok()?, m.len())));
        let stale = self.cache.read().map_or(true, |c| {
            !c.valid || c.seen != seen || c.at.is_none_or(|t| t.elapsed().as_secs() >= 1)
        });
        if stale {
            let records = self.read_file()?;
            if let Ok(mut c) = self.cache.write() {
                *c = Cache {
                    seen,
                    at: Some(std::time::Instant::now()),
                    records,
                    valid: true,
                };
            }
        }
        let hash = hash_token(token);
        let cache = self.cache.read().map_err(|_| TokenError::Malformed {
            path: self.path.clone(),
            msg: "cache poisoned".into(),
        })?;
        Ok(cache
            .records
            .iter()
            .find(|r| r.hash == hash && r.revoked_at.is_none())
            .map(|r| (r.id.clone(), r.role.clone())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_and_scope() {
        let c: Role = "company:acme".parse().unwrap();
        assert!(c.may_read(None, Some(&"acme".parse().unwrap())));
        assert!(!c.may_read(None, Some(&"other".parse().unwrap())));
        assert!("regulator".parse::<Role>().unwrap().reads_all());
        let north = ChainId::Site("north".parse().unwrap());
        let south = ChainId::Site("south".parse().unwrap());
        let site: Role = "site:north".parse().unwrap();
        assert!(site.may_write(&north));
        assert!(!site.may_write(&south) && !site.may_write(&ChainId::Regulator));
        assert!(!c.may_write(&north) && !Role::Auditor.may_write(&north));
        assert!(
            Role::Regulator.may_write(&ChainId::Regulator) && Role::Regulator.may_write(&south)
        );
        assert!("boss".parse::<Role>().is_err());
        assert!("site:".parse::<Role>().is_err());
        assert_eq!(
            "site:north".parse::<Role>().unwrap().to_string(),
            "site:north"
        );
    }

    #[test]
    fn create_check_revoke() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::new(dir.path().join("tokens.json"));
        let (tok, rec) = store
            .create(Role::Auditor, "auditor", Timestamp(1))
            .unwrap();
        assert_eq!(store.check(&tok).unwrap(), Some(Role::Auditor));
        assert_eq!(store.check("als_wrong").unwrap(), None);
        let file = std::fs::read_to_string(store.path()).unwrap();
        assert!(!file.contains(&tok), "the secret itself is never stored");
        store.revoke(&rec.id, Timestamp(2)).unwrap();
        // A second store (another process) sees the revocation.
        let other = TokenStore::new(store.path());
        assert_eq!(other.check(&tok).unwrap(), None);
        assert!(matches!(
            store.revoke("nope", Timestamp(3)),
            Err(TokenError::NotFound(_))
        ));
    }
}
