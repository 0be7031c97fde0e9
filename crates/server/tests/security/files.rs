//! What the data directory pins and protects (issue 13, "The manufacturer
//! root" and "`admin.key` permissions"): the manufacturer roots are pinned
//! like the regulator key, and every secret file is written 0600 and
//! refused at start when group or others may read it.

use std::os::unix::fs::PermissionsExt;

use armsledger_bundle::{BundleReader, Record};
use armsledger_core::testkit::{Scenario, T0};
use armsledger_server::Shared;
use axum::http::StatusCode;

use crate::common::{config, env};

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn start_error(c: armsledger_server::Config) -> String {
    match Shared::open(c) {
        Ok(_) => panic!("the server started"),
        Err(e) => e.to_string(),
    }
}

/// Before: a restart without `--manufacturer-root` silently turned
/// attestation checks off, and exports then carried no roots.
#[tokio::test]
async fn a_start_without_the_pinned_manufacturer_root_or_with_another_is_refused() {
    let env = env().await;
    let s = &env.s;
    let root = hex::encode(s.root_key());
    // Without it: refused, naming the pinned root and the option.
    let mut c = config(env.dir.path(), s);
    c.manufacturer_roots.clear();
    let err = start_error(c);
    assert!(err.contains("manufacturer root"), "{err}");
    assert!(err.contains(&root), "{err}");
    assert!(err.contains("--manufacturer-root"), "{err}");
    // With another: refused.
    let mut c = config(env.dir.path(), s);
    c.manufacturer_roots = vec!["ab".repeat(32)];
    let err = start_error(c);
    assert!(err.contains("manufacturer root"), "{err}");
    // With the pinned one and another: refused too (the set is pinned).
    let mut c = config(env.dir.path(), s);
    c.manufacturer_roots.push("ab".repeat(32));
    let err = start_error(c);
    assert!(err.contains("manufacturer root"), "{err}");

    // Quiet: the running server's exports carry the pinned root.
    env.post_log().await;
    let (st, b) = env.get("/v1/export", Some("regulator")).await;
    assert_eq!(st, StatusCode::OK);
    let meta = BundleReader::new(&b[..])
        .find_map(|r| match r.unwrap().item {
            Record::Meta(m) => Some(m),
            _ => None,
        })
        .unwrap();
    assert_eq!(meta.manufacturer_roots, vec![s.root_key()]);
}

/// Before: `tokens.json` was written 0644.
#[tokio::test]
async fn secrets_in_the_data_directory_are_written_0600() {
    let env = env().await;
    for file in ["log.key", "tokens.json"] {
        assert_eq!(mode(&env.dir.path().join(file)), 0o600, "{file}");
    }
}

/// Before: a secret readable by group or others went unnoticed.
#[test]
fn a_secret_readable_by_others_stops_the_start_with_the_fix() {
    let s = Scenario::standard();
    for file in ["log.key", "tokens.json"] {
        let dir = tempfile::tempdir().unwrap();
        // A data directory made by an earlier start: then the file is opened up.
        let key = armsledger_log::LogKey::from_seed("armsledger.local/log", &[7; 32]).unwrap();
        std::fs::write(dir.path().join("log.key"), key.to_signer_key()).unwrap();
        std::fs::set_permissions(
            dir.path().join("log.key"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        let tokens = armsledger_server::tokens::TokenStore::in_data_dir(dir.path());
        tokens
            .create("auditor".parse().unwrap(), "auditor", T0)
            .unwrap();
        let path = dir.path().join(file);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = start_error(config(dir.path(), &s));
        assert!(
            err.contains(&format!("chmod 600 {}", path.display())),
            "{file}: {err}"
        );
    }
}
