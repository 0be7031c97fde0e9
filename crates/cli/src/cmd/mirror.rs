//! `armsledger mirror`: a verifying copy of a log (crates/mirror).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use armsledger_mirror::{Mirror, MirrorConfig, MirrorError, serve};
use clap::Args;

/// Options of `mirror`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
armsledger mirror --from http://regulator:8640 --log-key \"$(cat log.vkey)\" --data ./mirror --listen 127.0.0.1:8650\n  \
armsledger mirror --from http://regulator:8640 --token $AUDITOR_TOKEN --regulator-key HEX \\\n      \
--manufacturer-root HEX --log-key \"$(cat log.vkey)\" --data ./mirror\n  \
armsledger mirror --from https://cdn.example/log --entries-s3-bucket regulator-entries \\\n      \
--entries-s3-prefix log --regulator-key HEX --log-key \"$(cat log.vkey)\" --data ./mirror\n      \
(credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN)\n  \
armsledger token create --data ./mirror --role auditor --label \"court\"   (the mirror's own readers)\n\n\
It checks every checkpoint's signature, its consistency with the one held, every tile against\n\
the root and (with --regulator-key) every entry against its leaf, signature and chains, and the\n\
verifiable index root against the checkpoint's armsledger-index/v1 line.\n\
Without --regulator-key it serves the checkpoint and hash tiles (/checkpoint, /tile/..., /healthz).\n\
With it, it keeps a copy of the log in DATA/log.redb and serves the server's read API from it:\n\
traces, dossiers, lot traces, check-serial, proofs, exports, the console; reads need the\n\
mirror's own tokens (DATA/tokens.json, same roles and scopes as at the origin). Writes and\n\
the origin's own records (ingest, witnesses, equivocations, sync) answer 501 not-mirrored.\n\
A fork, rollback or wrong index root is refused: evidence in DATA/evidence, the mirror stops\n\
following (exit 1 with --once). With a copy it keeps rules snapshots in DATA/snapshots as a server\n\
does (on its schedule, after --once, at Ctrl-C or SIGTERM) and starts from the newest that matches.\n\
See docs/operations.md (\"Mirrors\").")]
pub struct MirrorArgs {
    /// The origin: the server's URL, or the public bucket's HTTP URL with its prefix.
    #[arg(long)]
    pub from: String,
    /// Where entry bundles come from (default: --from), e.g. the private bucket's URL.
    #[arg(long)]
    pub entries_from: Option<String>,
    /// Read the entry bundles straight from this S3 bucket (the publisher's
    /// private one) with credentials from AWS_ACCESS_KEY_ID,
    /// AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN); read rights suffice.
    #[arg(long, conflicts_with = "entries_from", requires = "regulator_key")]
    pub entries_s3_bucket: Option<String>,
    /// The prefix of the entry bundles in --entries-s3-bucket (the publisher's private_prefix).
    #[arg(long, default_value = "", requires = "entries_s3_bucket")]
    pub entries_s3_prefix: String,
    /// The S3 endpoint for --entries-s3-bucket (unset: AWS S3 in --s3-region), e.g. http://minio:9000.
    #[arg(long, requires = "entries_s3_bucket")]
    pub s3_endpoint: Option<String>,
    /// The S3 region for --entries-s3-bucket.
    #[arg(long, default_value = "us-east-1", requires = "entries_s3_bucket")]
    pub s3_region: String,
    /// Allow a plain http:// --s3-endpoint (a trusted network only).
    #[arg(long, requires = "entries_s3_bucket")]
    pub s3_allow_http: bool,
    /// Bearer token at the origin for the entry bundles (an auditor or regulator token there).
    #[arg(long, env = "ARMSLEDGER_TOKEN")]
    pub token: Option<String>,
    /// The log's C2SP verifier key (the server's log.vkey).
    #[arg(long)]
    pub log_key: String,
    /// The regulator chain's key, hex: follow the entry bundles, verify every entry, keep a copy and serve the read API.
    #[arg(long)]
    pub regulator_key: Option<String>,
    /// A device manufacturer root, hex (repeatable).
    #[arg(long = "manufacturer-root")]
    pub manufacturer_roots: Vec<String>,
    /// The mirror's directory.
    #[arg(long)]
    pub data: PathBuf,
    /// Where to serve the copy.
    #[arg(long, default_value = "127.0.0.1:8650")]
    pub listen: SocketAddr,
    /// With --regulator-key: do not serve the inspectors' console (/console/).
    #[arg(long)]
    pub no_console: bool,
    /// Milliseconds between two looks at the origin.
    #[arg(long, default_value_t = 2000)]
    pub interval_ms: u64,
    /// One step, then exit (0: followed, 1: refused, 2: error); --json prints the result.
    #[arg(long)]
    pub once: bool,
    /// With --once: the result as JSON.
    #[arg(long)]
    pub json: bool,
}

fn key(hex_key: &str, what: &str) -> anyhow::Result<[u8; 32]> {
    armsledger_core::keys::parse_key_hex(hex_key)
        .map_err(|_| anyhow::anyhow!("{what} is not a 64-digit hex Ed25519 public key"))
}

/// Runs the mirror.
pub fn run(a: MirrorArgs) -> anyhow::Result<u8> {
    let entries_s3 = match &a.entries_s3_bucket {
        Some(bucket) => Some(
            armsledger_server::publish::PublishConfig {
                endpoint: a.s3_endpoint.clone(),
                region: a.s3_region.clone(),
                allow_http: a.s3_allow_http,
                ..armsledger_server::publish::PublishConfig::default()
            }
            .location(bucket, &a.entries_s3_prefix, |k| std::env::var(k).ok())
            .map_err(|e| anyhow::anyhow!("--entries-s3-bucket: {e}"))?,
        ),
        None => None,
    };
    let config = MirrorConfig {
        data: a.data.clone(),
        from: a.from.clone(),
        entries_from: a.entries_from.clone(),
        token: a.token.clone(),
        entries_s3,
        log_key: a.log_key.clone(),
        regulator_key: a
            .regulator_key
            .as_deref()
            .map(|k| key(k, "--regulator-key"))
            .transpose()?,
        manufacturer_roots: a
            .manufacturer_roots
            .iter()
            .map(|k| key(k, "--manufacturer-root"))
            .collect::<anyhow::Result<_>>()?,
    };
    let copy = match &a.regulator_key {
        Some(k) => Some(
            armsledger_server::Shared::open_mirror(
                armsledger_server::Config {
                    data_dir: a.data.clone(),
                    regulator_key: Some(k.clone()),
                    manufacturer_roots: a.manufacturer_roots.clone(),
                    ..armsledger_server::Config::default()
                },
                &a.log_key,
                armsledger_server::Clock::System,
            )
            .context("opening the mirror's copy of the log")?,
        ),
        None => None,
    };
    let mut mirror = match &copy {
        Some(c) => Mirror::open_serving(config, c.clone())?,
        None => Mirror::open(config)?,
    };
    if a.once {
        let r = mirror.step();
        // As at a shutdown: a rules snapshot of the whole copy, so the next
        // start replays nothing.
        if let Some(c) = &copy
            && let Err(e) = armsledger_server::snapshots::write_now(c)
        {
            eprintln!("warning: no rules snapshot: {e}");
        }
        let code = match &r {
            Ok(_) => 0,
            Err(MirrorError::Refused { .. } | MirrorError::Stopped(_)) => 1,
            Err(_) => 2,
        };
        if a.json {
            let v = serde_json::json!({
                "size": mirror.size(),
                "result": match &r { Ok(s) => format!("{s:?}"), Err(e) => e.to_string() },
                "refused": mirror.stopped(),
            });
            println!("{v}");
        } else {
            match &r {
                Ok(s) => println!("mirror at size {} ({s:?})", mirror.size()),
                Err(e) => eprintln!("error: {e}"),
            }
        }
        return Ok(code);
    }
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(a.listen)
            .await
            .with_context(|| format!("listening on {}", a.listen))?;
        println!(
            "armsledger mirror of {} serving on http://{}",
            a.from,
            listener.local_addr()?
        );
        let served = serve::Served::new(a.data.clone(), None);
        let router = match copy {
            Some(c) if a.no_console => serve::copy_app(c, served.clone(), |r, _| r),
            Some(c) => {
                println!(
                    "inspectors' console: http://{}{}/",
                    listener.local_addr()?,
                    armsledger_console::BASE
                );
                serve::copy_app(c, served.clone(), armsledger_console::mount)
            }
            None => serve::app(served.clone()),
        };
        serve::run_with(
            mirror,
            served,
            listener,
            Duration::from_millis(a.interval_ms.max(100)),
            router,
            armsledger_server::shutdown_signal(),
        )
        .await
        .context("serving the mirror")?;
        anyhow::Ok(0)
    })
}
