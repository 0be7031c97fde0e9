//! A record of who read what (issue 17): every read a token makes is in the
//! hash-chained access log before its answer leaves, the regulator can
//! filter it, and a record changed or removed in the redb file is named.

use armsledger_core::ids::Timestamp;
use armsledger_server::access_log::{AccessFilter, AccessLog, AccessLogError};
use axum::http::StatusCode;
use redb::ReadableTable;

use crate::common::{env, json};

#[tokio::test]
async fn every_kind_of_read_is_recorded_and_the_regulator_filters_them() {
    let mut env = env().await;
    let (_, _) = env.s.acquire("north", "LOGGED-1");
    env.post_log().await;
    let before = env.shared.now();
    let tile = format!("/tile/entries/000.p/{}", env.size());
    let reads: [(&str, &str); 9] = [
        ("/v1/firearms/LOGGED-1/trace", "auditor"),
        ("/v1/firearms/LOGGED-1/dossier", "company:acme"),
        ("/v1/sites/north/inventory", "site:north"),
        ("/v1/sites/north/reconciliation", "company:acme"),
        ("/v1/export?site=north", "site:north"),
        ("/v1/pull/north", "site:north"),
        ("/v1/alerts", "regulator"),
        ("/v1/findings", "auditor"),
        (tile.as_str(), "auditor"),
    ];
    for (uri, role) in reads {
        let (st, b) = env.get(uri, Some(role)).await;
        assert_eq!(
            st,
            StatusCode::OK,
            "{uri} as {role}: {}",
            String::from_utf8_lossy(&b)
        );
    }
    // Quiet: public proofs, reads without a token, and refused reads.
    for (uri, role) in [
        ("/checkpoint", Some("auditor")),
        ("/v1/firearms/LOGGED-1/trace", None),
        ("/v1/sites/north/inventory", Some("site:south")),
    ] {
        env.get(uri, role).await;
    }
    let all = env
        .shared
        .access_log()
        .query(&AccessFilter::default(), 100)
        .unwrap();
    let seen: Vec<(String, String)> = all
        .iter()
        .map(|r| (r.route.clone(), r.role.clone()))
        .collect();
    let want: Vec<(String, String)> = [
        ("/v1/firearms/{serial}/trace", "auditor"),
        ("/v1/firearms/{serial}/dossier", "company:acme"),
        ("/v1/sites/{site}/inventory", "site:north"),
        ("/v1/sites/{site}/reconciliation", "company:acme"),
        ("/v1/export", "site:north"),
        ("/v1/pull/{site}", "site:north"),
        ("/v1/alerts", "regulator"),
        ("/v1/findings", "auditor"),
        ("/tile/{*path}", "auditor"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(seen, want);
    assert_eq!(all[0].subject, "serial=LOGGED-1");
    assert_eq!(all[4].query, "site=north");
    assert!(all.iter().all(|r| r.time >= before));

    // The regulator's route, with each filter firing.
    let auditor_id = env
        .shared
        .tokens()
        .list()
        .unwrap()
        .into_iter()
        .find(|t| t.role.to_string() == "auditor")
        .unwrap()
        .id;
    let (st, b) = env
        .get(
            &format!("/v1/access-log?token_id={auditor_id}"),
            Some("regulator"),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let body = json(&b);
    let routes: Vec<&str> = body["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["route"].as_str().unwrap())
        .collect();
    assert_eq!(
        routes,
        [
            "/v1/firearms/{serial}/trace",
            "/v1/findings",
            "/tile/{*path}"
        ]
    );
    assert!(body["broken"].is_null());
    assert_eq!(body["head"]["size"], 9);
    let (_, b) = env
        .get("/v1/access-log?subject=LOGGED-1", Some("regulator"))
        .await;
    assert_eq!(json(&b)["records"].as_array().unwrap().len(), 2);
    let (_, b) = env
        .get("/v1/access-log?subject=north", Some("regulator"))
        .await;
    assert_eq!(json(&b)["records"].as_array().unwrap().len(), 4);
    let later = env.shared.now().plus(Timestamp::HOUR).millis();
    let (_, b) = env
        .get(
            &format!("/v1/access-log?since_ms={later}"),
            Some("regulator"),
        )
        .await;
    assert_eq!(json(&b)["records"].as_array().unwrap().len(), 0);
    // The regulator's own reads of the log are recorded too.
    assert_eq!(
        env.shared
            .access_log()
            .query(
                &AccessFilter {
                    subject: None,
                    token_id: None,
                    since: None
                },
                100
            )
            .unwrap()
            .iter()
            .filter(|r| r.route == "/v1/access-log")
            .count(),
        4
    );
    // Only the regulator reads it.
    for role in ["auditor", "company:acme", "site:north"] {
        let (st, _) = env.get("/v1/access-log", Some(role)).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{role}");
    }
}

fn filled(n: u64) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.redb");
    let log = AccessLog::open(&path).unwrap();
    for i in 0..n {
        log.append(
            Timestamp(1_800_000_000_000 + i),
            "ab12cd34",
            "auditor",
            "/v1/firearms/{serial}/trace",
            &format!("serial=GUN-{i}"),
            "",
        )
        .unwrap();
    }
    assert_eq!(log.verify().unwrap().size, n);
    (dir, path)
}

const TABLE: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("access_v1");

fn edit(path: &std::path::Path, f: impl FnOnce(&mut redb::Table<u64, &[u8]>)) {
    let db = redb::Database::create(path).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let mut t = txn.open_table(TABLE).unwrap();
        f(&mut t);
    }
    txn.commit().unwrap();
}

#[test]
fn a_changed_record_in_the_file_is_named() {
    let (_dir, path) = filled(6);
    edit(&path, |t| {
        let mut bytes = t.get(2).unwrap().unwrap().value().to_vec();
        // The subject's last byte: GUN-2 becomes GUN-3.
        let last = bytes.len() - 3;
        bytes[last] += 1;
        t.insert(2, bytes.as_slice()).unwrap();
    });
    let err = AccessLog::open(&path).unwrap().verify().unwrap_err();
    assert!(
        matches!(err, AccessLogError::Broken { seq: 2, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("access record 2"), "{err}");
}

#[test]
fn a_removed_record_in_the_file_is_named() {
    let (_dir, path) = filled(6);
    edit(&path, |t| {
        t.remove(3).unwrap();
    });
    let err = AccessLog::open(&path).unwrap().verify().unwrap_err();
    assert!(
        matches!(err, AccessLogError::Broken { seq: 3, .. }),
        "{err}"
    );
    // Removing it and renumbering the rest is caught too.
    let (_dir, path) = filled(6);
    edit(&path, |t| {
        for k in 3..5u64 {
            let next = t.get(k + 1).unwrap().unwrap().value().to_vec();
            t.insert(k, next.as_slice()).unwrap();
        }
        t.remove(5).unwrap();
    });
    let err = AccessLog::open(&path).unwrap().verify().unwrap_err();
    assert!(
        matches!(err, AccessLogError::Broken { seq: 3, .. }),
        "{err}"
    );
}
