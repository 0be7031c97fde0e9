//! The lost-and-stolen register, serial checks and trace requests through
//! the built `armsledger` binary against real parts (device processes on
//! UNIX sockets, `armsledger serve` on a loopback port, the site's redb
//! file): `regulator notice-stolen`, `withdraw-notice`, `trace-request`,
//! `trace-requests`, `trace-answer` and `check-serial`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod sites;

use sites::{Procs, acquire_glock, fails, ok, regulator, server, site_online, token};

fn json(dir: &std::path::Path, args: &[&str]) -> serde_json::Value {
    let out = ok(dir, args);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}\n{out}"))
}

#[test]
fn notices_hits_serial_checks_and_trace_requests() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut procs = Procs(Vec::new());
    let (key, north_dev) = regulator(dir, &mut procs);
    let url = server(dir, &key, &mut procs);
    let rt = token(dir, "regulator");
    let auditor = token(dir, "auditor");
    ok(
        dir,
        &["regulator", "push", "--server", &url, "--token", &rt],
    );
    let nt = token(dir, "site:north");
    site_online(dir, "north", &north_dev, &key, &url, &nt);
    ok(dir, &acquire_glock("GLK-1"));
    ok(dir, &["sync"]);

    // A notice from abroad enters the register (pushed at once).
    let out = ok(
        dir,
        &[
            "regulator",
            "notice-stolen",
            "--reference",
            "FR-2026-0042",
            "--agency",
            "ISTRAC",
            "--country",
            "FR",
            "--manufacturer",
            "Glock",
            "--serial",
            "XY-999",
        ],
    );
    assert!(out.contains("recorded stolen-notice-recorded"), "{out}");
    let err = fails(
        dir,
        &[
            "regulator",
            "notice-stolen",
            "--reference",
            "FR-1",
            "--agency",
            "ISTRAC",
            "--country",
            "fr",
            "--manufacturer",
            "Glock",
            "--serial",
            "XY-1",
        ],
    );
    assert!(err.contains("--country"), "{err}");

    // No alert before the firearm turns up; then the acquisition is recorded
    // (not refused) and is a critical hit naming both records.
    let alerts =
        |dir: &std::path::Path| json(dir, &["alerts", "--server", &url, "--token", &rt, "--json"]);
    let hits = |v: &serde_json::Value| -> Vec<serde_json::Value> {
        v.as_array()
            .unwrap()
            .iter()
            .filter(|a| a["rule"] == "stolen-hit")
            .cloned()
            .collect()
    };
    assert!(hits(&alerts(dir)).is_empty());
    ok(dir, &["sync"]);
    let acq = json(
        dir,
        &[acquire_glock("xy 999"), vec!["--json".to_string()]]
            .concat()
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    ok(dir, &["sync"]);
    let h = hits(&alerts(dir));
    assert_eq!(h.len(), 1, "{h:#?}");
    assert_eq!(h[0]["entry"], acq["hash"]);
    let detail = h[0]["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("CRITICAL: firearm-acquired of firearm xy 999 at site north"),
        "{detail}"
    );
    assert!(
        detail.contains("notice FR-2026-0042 from ISTRAC (FR)"),
        "{detail}"
    );

    // check-serial: a recorded serial with its map proof verified, the
    // notice named; a never-recorded one with its absence proof.
    let out = ok(
        dir,
        &[
            "check-serial",
            "XY999",
            "--server",
            &url,
            "--token",
            &auditor,
        ],
    );
    assert!(
        out.contains("XY999: in the register as of checkpoint"),
        "{out}"
    );
    assert!(out.contains("(map proof verified)"), "{out}");
    assert!(
        out.contains("recorded at site north (company acme), now in-store"),
        "{out}"
    );
    assert!(
        out.contains("REPORTED LOST OR STOLEN: notice FR-2026-0042 from ISTRAC (FR)"),
        "{out}"
    );
    assert!(out.contains("NOTICE FR-2026-0042"), "{out}");
    let vkey_file = dir.join("log.vkey");
    let (_, vkey) = ureq_get(&url, "/v1/log/key");
    std::fs::write(&vkey_file, &vkey).unwrap();
    let v = json(
        dir,
        &[
            "check-serial",
            "NEVER-SEEN-1",
            "--server",
            &url,
            "--token",
            &auditor,
            "--trusted-key",
            vkey_file.to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(v["recorded"], false, "{v:#}");
    assert_eq!(v["verified"]["present"], false, "{v:#}");
    assert!(v["value"].is_null());
    let out = ok(
        dir,
        &[
            "check-serial",
            "never seen 1",
            "--server",
            &url,
            "--token",
            &auditor,
        ],
    );
    assert!(
        out.contains("not in the register as of checkpoint"),
        "{out}"
    );
    assert!(out.contains("(absence proof verified)"), "{out}");
    // A key of the same name that did not sign the checkpoint: nothing is
    // printed as fact, and the exit code says so.
    let name = vkey.trim().split('+').next().unwrap();
    let other = armsledger_log::LogKey::from_seed(name, &[9; 32])
        .unwrap()
        .verifier()
        .to_string();
    let bad = sites::cli(dir)
        .args([
            "check-serial",
            "GLK-1",
            "--server",
            &url,
            "--token",
            &auditor,
            "--trusted-key",
            &other,
        ])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("NOT VERIFIED") && stderr.contains("signature"),
        "{stderr}"
    );
    assert!(bad.stdout.is_empty());
    // A site token may not check serials.
    let err = fails(
        dir,
        &["check-serial", "GLK-1", "--server", &url, "--token", &nt],
    );
    assert!(err.contains("403") || err.contains("may not"), "{err}");

    // Trace requests: one answered, one overdue (its deadline passed).
    ok(
        dir,
        &[
            "regulator",
            "trace-request",
            "--reference",
            "TR-1",
            "--serial",
            "GLK 1",
            "--company",
            "acme",
            "--deadline",
            "2099-01-01",
        ],
    );
    ok(
        dir,
        &[
            "regulator",
            "trace-request",
            "--reference",
            "TR-2",
            "--serial",
            "ZZ-9",
            "--company",
            "acme",
            "--deadline",
            "2025-06-01",
        ],
    );
    let list = |status: Option<&str>| {
        let mut args = vec![
            "regulator",
            "trace-requests",
            "--server",
            &url,
            "--token",
            &rt,
            "--json",
        ];
        if let Some(s) = status {
            args.extend(["--status", s]);
        }
        json(dir, &args)
    };
    let all = list(None);
    assert_eq!(all.as_array().unwrap().len(), 2, "{all:#}");
    assert_eq!(list(Some("open"))[0]["reference"], "TR-1");
    assert_eq!(list(Some("overdue"))[0]["reference"], "TR-2");
    ok(dir, &["sync"]);
    let err = fails(
        dir,
        &["trace-answer", "--request", "TR-1", "--outcome", "held"],
    );
    assert!(err.contains("--serial"), "{err}");
    let ans = json(
        dir,
        &[
            "trace-answer",
            "--request",
            "TR-1",
            "--outcome",
            "held",
            "--serial",
            "GLK-1",
            "--json",
        ],
    );
    assert_eq!(ans["kind"], "trace-answered");
    assert_eq!(ans["findings"].as_array().unwrap().len(), 0, "{ans:#}");
    ok(dir, &["sync"]);
    let answered = list(Some("answered"));
    assert_eq!(answered[0]["reference"], "TR-1", "{answered:#}");
    assert_eq!(answered[0]["answer"]["entry"], ans["hash"]);
    assert_eq!(answered[0]["answer"]["outcome"], "held");
    let table = ok(
        dir,
        &[
            "regulator",
            "trace-requests",
            "--server",
            &url,
            "--token",
            &rt,
        ],
    );
    assert!(
        table.contains("TR-2") && table.contains("overdue"),
        "{table}"
    );
    let a = alerts(dir);
    let overdue: Vec<_> = a
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["rule"] == "trace-overdue")
        .collect();
    assert_eq!(overdue.len(), 1, "{a:#}");
    assert!(overdue[0]["detail"].as_str().unwrap().contains("TR-2"));

    // Withdrawn, the notice no longer names the serial.
    ok(
        dir,
        &[
            "regulator",
            "withdraw-notice",
            "--reference",
            "FR-2026-0042",
            "--reason",
            "recovered",
        ],
    );
    let v = json(
        dir,
        &[
            "check-serial",
            "XY-999",
            "--server",
            &url,
            "--token",
            &auditor,
            "--json",
        ],
    );
    assert_eq!(v["notices"].as_array().unwrap().len(), 0, "{v:#}");
    assert_eq!(v["firearms"][0]["reported"].as_array().unwrap().len(), 0);
}

/// `GET url+path` without a token: status and body.
fn ureq_get(url: &str, path: &str) -> (u16, String) {
    let mut resp = ureq::get(&format!("{url}{path}")).call().unwrap();
    (
        resp.status().as_u16(),
        resp.body_mut().read_to_string().unwrap(),
    )
}
