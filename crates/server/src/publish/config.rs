//! Where the publisher writes: an S3-compatible endpoint, a public location
//! (bucket and prefix) for the checkpoint and hash tiles, a private one for
//! entry bundles. Credentials come from the environment, never the file.

use std::sync::Arc;
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, RetryConfig};
use serde::{Deserialize, Serialize};

use super::PublishError;

/// The `[publish]` section of the server's configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PublishConfig {
    /// The S3 endpoint URL, e.g. `http://minio.internal:9000`. Unset: AWS S3
    /// in `region`.
    pub endpoint: Option<String>,
    /// The region (AWS), or any name the endpoint accepts (MinIO: `us-east-1`).
    pub region: String,
    /// The public bucket: checkpoint and hash tiles (they reveal only hashes).
    pub bucket: String,
    /// Prefix inside the public bucket, e.g. `armsledger/log` (may be empty).
    pub prefix: String,
    /// The private bucket for entry bundles (they carry serials). Unset: the
    /// public bucket, under `private_prefix`, which must then not overlap `prefix`.
    pub private_bucket: Option<String>,
    /// Prefix inside the private bucket.
    pub private_prefix: String,
    /// Allow a plain `http://` endpoint (a store on the same host or network).
    pub allow_http: bool,
    /// Objects written at once.
    pub concurrency: usize,
    /// Least time between two publishing steps, in milliseconds: each step
    /// writes a new partial tile and bundle, so this bounds how many the
    /// store collects (docs/scale.md). 0: every checkpoint.
    pub interval_ms: u64,
    /// The longest wait between two attempts while the store is unreachable, in seconds.
    pub retry_max_secs: u64,
    /// `/healthz` says `degraded` once the published checkpoint has been behind
    /// the latest one for this many seconds.
    pub alert_lag_secs: u64,
}

impl Default for PublishConfig {
    fn default() -> Self {
        PublishConfig {
            endpoint: None,
            region: "us-east-1".into(),
            bucket: String::new(),
            prefix: String::new(),
            private_bucket: None,
            private_prefix: String::new(),
            allow_http: false,
            concurrency: 16,
            interval_ms: 10_000,
            retry_max_secs: 30,
            alert_lag_secs: 300,
        }
    }
}

/// One place objects go: a store and a prefix in it.
#[derive(Clone, Debug)]
pub struct Location {
    store: Arc<dyn ObjectStore>,
    prefix: String,
}

impl Location {
    /// `prefix` inside `store`; leading and trailing slashes are dropped.
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &str) -> Self {
        Location {
            store,
            prefix: prefix.trim_matches('/').to_string(),
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The object path of `name` (a C2SP path such as `tile/0/000`).
    pub fn path(&self, name: &str) -> ObjectPath {
        if self.prefix.is_empty() {
            ObjectPath::from(name)
        } else {
            ObjectPath::from(format!("{}/{name}", self.prefix))
        }
    }
}

impl PublishConfig {
    /// Refuses a configuration that would put entry bundles where hash tiles
    /// are public, or that names no bucket.
    pub fn check(&self) -> Result<(), PublishError> {
        let bad = |msg: &str| Err(PublishError::Config(msg.to_string()));
        if self.bucket.is_empty() {
            return bad("publish.bucket is empty: name the public bucket");
        }
        if self.concurrency == 0 {
            return bad("publish.concurrency must be at least 1");
        }
        let private_bucket = self.private_bucket.as_deref().unwrap_or(&self.bucket);
        if private_bucket == self.bucket {
            let public = segments(&self.prefix);
            let private = segments(&self.private_prefix);
            if public.starts_with(&private) || private.starts_with(&public) {
                return bad(
                    "entry bundles carry serials and must not be under the public prefix: \
                     set publish.private_bucket, or give publish.prefix and \
                     publish.private_prefix that do not contain each other",
                );
            }
        }
        Ok(())
    }

    /// The public and private locations, with credentials read through
    /// `env` (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`).
    pub fn locations(
        &self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<(Location, Location), PublishError> {
        self.check()?;
        let public = Arc::new(self.s3(&self.bucket, &env)?) as Arc<dyn ObjectStore>;
        let private = match &self.private_bucket {
            Some(b) if *b != self.bucket => Arc::new(self.s3(b, &env)?) as Arc<dyn ObjectStore>,
            _ => public.clone(),
        };
        Ok((
            Location::new(public, &self.prefix),
            Location::new(private, &self.private_prefix),
        ))
    }

    /// One location, `prefix` in `bucket`, on this configuration's endpoint
    /// with credentials read through `env`: how a mirror reads the private
    /// entry bundles straight from the store (read rights suffice).
    pub fn location(
        &self,
        bucket: &str,
        prefix: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Location, PublishError> {
        if bucket.is_empty() {
            return Err(PublishError::Config("the bucket is empty".into()));
        }
        let store = Arc::new(self.s3(bucket, &env)?) as Arc<dyn ObjectStore>;
        Ok(Location::new(store, prefix))
    }

    fn s3(
        &self,
        bucket: &str,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<object_store::aws::AmazonS3, PublishError> {
        // Each request is retried a little; the publisher's own loop retries
        // for as long as the store stays away.
        let retry = RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(2),
                base: 2.0,
            },
            max_retries: 2,
            retry_timeout: Duration::from_secs(20),
        };
        let mut b = AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_region(&self.region)
            .with_allow_http(self.allow_http)
            .with_retry(retry)
            .with_client_options(
                ClientOptions::new()
                    .with_allow_http(self.allow_http)
                    .with_connect_timeout(Duration::from_secs(5))
                    .with_timeout(Duration::from_secs(30)),
            );
        if let Some(e) = &self.endpoint {
            b = b.with_endpoint(e);
        }
        if let Some(k) = env("AWS_ACCESS_KEY_ID") {
            b = b.with_access_key_id(k);
        }
        if let Some(s) = env("AWS_SECRET_ACCESS_KEY") {
            b = b.with_secret_access_key(s);
        }
        if let Some(t) = env("AWS_SESSION_TOKEN") {
            b = b.with_token(t);
        }
        b.build()
            .map_err(|e| PublishError::Config(format!("bucket {bucket}: {e}")))
    }
}

fn segments(prefix: &str) -> Vec<&str> {
    prefix.split('/').filter(|s| !s.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(prefix: &str, private_bucket: Option<&str>, private_prefix: &str) -> PublishConfig {
        PublishConfig {
            bucket: "log".into(),
            prefix: prefix.into(),
            private_bucket: private_bucket.map(str::to_owned),
            private_prefix: private_prefix.into(),
            ..PublishConfig::default()
        }
    }

    #[test]
    fn entry_bundles_never_land_under_the_public_prefix() {
        // Firing: same bucket with overlapping prefixes.
        for (p, q) in [
            ("", ""),
            ("", "private"),
            ("log", "log/private"),
            ("a/b", "a"),
        ] {
            let err = config(p, None, q).check().unwrap_err();
            assert!(err.to_string().contains("must not be under"), "{p} {q}");
            let err = config(p, Some("log"), q).check().unwrap_err();
            assert!(err.to_string().contains("must not be under"), "{p} {q}");
        }
        // Quiet: a bucket of their own, or disjoint prefixes.
        config("", Some("entries"), "").check().unwrap();
        config("public", None, "private").check().unwrap();
        config("log/public", None, "log/private").check().unwrap();
        assert!(
            PublishConfig::default()
                .check()
                .unwrap_err()
                .to_string()
                .contains("bucket is empty")
        );
    }

    #[test]
    fn paths_join_the_prefix() {
        let store = Arc::new(object_store::memory::InMemory::new());
        assert_eq!(
            Location::new(store.clone(), "/a/b/")
                .path("tile/0/000.p/3")
                .as_ref(),
            "a/b/tile/0/000.p/3"
        );
        assert_eq!(
            Location::new(store, "").path("checkpoint").as_ref(),
            "checkpoint"
        );
    }

    #[test]
    fn toml_section_reads_and_refuses_unknown_fields() {
        let c: PublishConfig = toml::from_str(
            "endpoint = \"http://127.0.0.1:9000\"\nbucket = \"b\"\nallow_http = true\n",
        )
        .unwrap();
        assert_eq!(c.bucket, "b");
        assert_eq!(c.concurrency, 16);
        assert!(toml::from_str::<PublishConfig>("buckett = \"b\"\n").is_err());
    }
}
