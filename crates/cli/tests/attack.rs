//! Attack suite against a running `armsledger serve` (a child process on a
//! loopback port): forged signatures, replays, forks from a cloned device,
//! revoked and retired keys, a site writing for another site, a company
//! reading another company's data, oversized and malformed bodies, slow
//! clients and a flood. Each attack gets the documented status, the log does
//! not grow, and other clients are still served.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod harness;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use armsledger_core::entry::{ChainId, EntryBody, SignedEntry};
use armsledger_core::event::{Event, RegulatorEvent, SiteEvent};
use armsledger_core::model::Item;
use armsledger_core::sig::Statement;
use armsledger_core::statements::{RetireBody, RetireStatement};
use armsledger_core::testkit::{Scenario, SoftSigner, note, pistol, v};
use harness::{Server, batch, get, json, post_as, try_post_as};

/// Small limits so the oversize cases are cheap.
const CONFIG: &str =
    "checkpoint_interval_ms = 20\nmax_body_bytes = 1048576\nmax_batch_entries = 64\n";

/// acme/north, other-co/south, third-co/east, with the regulator chain logged.
fn world(dir: &std::path::Path, config: &str) -> (Scenario, Server) {
    let mut s = Scenario::standard();
    s.company_with_site("other-co", "south");
    s.company_with_site("third-co", "east");
    s.guard("guard-s", "other-co", 365);
    let srv = Server::start(&dir.join("srv"), &s, config);
    let (st, body) = srv.post(&s.log);
    assert_eq!(st, 200, "{body}");
    (s, srv)
}

/// One refused attack: the status is `want`, the log did not grow, and a
/// cheap read still answers.
fn refused(
    srv: &Server,
    what: &str,
    got: (u16, serde_json::Value),
    want: u16,
) -> serde_json::Value {
    let before = srv.size();
    assert_eq!(got.0, want, "{what}: {}", got.1);
    assert_eq!(srv.size(), before, "{what}: the log grew");
    assert_eq!(
        get(&srv.url, "/healthz", None).0,
        200,
        "{what}: service lost"
    );
    eprintln!("attack refused: {what} -> {want}");
    got.1
}

/// A legitimate client (south) is still served: a new entry is logged.
fn still_served(srv: &Server, s: &mut Scenario, serial: &str) {
    let n = srv.size();
    let (_, e) = s.acquire("south", serial);
    let (st, body) = srv.post(&[e]);
    assert_eq!(st, 200, "legitimate ingest after an attack: {body}");
    assert_eq!(body["entries"][0]["status"], "logged", "{body}");
    assert_eq!(srv.size(), n + 1);
}

fn flip_signature(e: &SignedEntry) -> Arc<SignedEntry> {
    let mut bytes = e.bytes().to_vec();
    let at = e.header_bytes().len() + 10;
    bytes[at] ^= 1;
    Arc::new(SignedEntry::decode(&bytes).unwrap())
}

#[test]
fn forged_replayed_forked_and_misattributed_entries_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut s, srv) = world(tmp.path(), CONFIG);
    let mut cases = 0;

    // Legitimate north activity, logged once.
    let (_, g1) = s.acquire("north", "GLK 100");
    let (_, g2) = s.acquire("north", "GLK 101");
    let (st, first) = srv.post(&[g1.clone(), g2.clone()]);
    assert_eq!(st, 200, "{first}");

    // 1. Forged signature: one bit flipped; also an all-zero signature.
    let (_, good) = s.acquire("north", "GLK 102");
    let body = refused(
        &srv,
        "flipped signature bit",
        srv.post(&[flip_signature(&good)]),
        422,
    );
    assert!(
        body["title"].as_str().unwrap().contains("signature"),
        "{body}"
    );
    assert_eq!(body["entry"]["counter"], good.counter(), "{body}");
    let mut zero = good.bytes().to_vec();
    let at = good.header_bytes().len();
    zero[at..at + 64].fill(0);
    let zero = Arc::new(SignedEntry::decode(&zero).unwrap());
    refused(&srv, "all-zero signature", srv.post(&[zero]), 422);
    // A forged entry hidden behind a good one: the whole batch is refused.
    let (_, after) = s.acquire("north", "GLK 103");
    refused(
        &srv,
        "good entry followed by a forged one",
        srv.post(&[good.clone(), flip_signature(&after)]),
        422,
    );
    cases += 3;
    assert_eq!(srv.post(&[good.clone(), after.clone()]).0, 200);

    // 2. Replays: the same batch again is idempotent, same indexes, nothing new.
    let n = srv.size();
    for _ in 0..3 {
        let (st, again) = srv.post(&[g1.clone(), g2.clone()]);
        assert_eq!(st, 200);
        for (a, b) in first["entries"]
            .as_array()
            .unwrap()
            .iter()
            .zip(again["entries"].as_array().unwrap())
        {
            assert_eq!(a["index"], b["index"]);
            assert_eq!(b["status"], "duplicate");
        }
    }
    let (st, _) = srv.post(&s.log[..5]);
    assert_eq!(st, 200, "replayed regulator entries");
    assert_eq!(srv.size(), n, "replays stored something");
    // Only the regulator's token may push the regulator chain, replays
    // included; a site's token may push only its own chain.
    let north_token = srv.token("site:north");
    refused(
        &srv,
        "regulator entries replayed with a site's token",
        post_as(&srv.url, Some(&north_token), &s.log[..5]),
        403,
    );
    refused(
        &srv,
        "north's entries replayed without a token",
        post_as(&srv.url, None, &[g1.clone(), g2.clone()]),
        401,
    );
    cases += 4;

    // 3. A fork from a cloned device: the same key signs another entry for
    // the last counter. 409, the proof is recorded, nothing stored.
    let north = s.sites.get(&v("north")).unwrap().clone();
    let mut clone = north.clone();
    clone.head = (good.counter(), good.hash());
    let forked = Arc::new(clone.sign(
        EntryBody {
            format: Default::default(),
            occurred_at: s.now,
            officer: v("armourer-2"),
            links: vec![],
            event: Event::Site(SiteEvent::Annotated {
                about: good.hash(),
                text: note("the clone's version"),
            }),
        },
        s.now,
    ));
    assert_eq!(forked.counter(), after.counter());
    refused(
        &srv,
        "fork from a cloned device",
        srv.post(std::slice::from_ref(&forked)),
        409,
    );
    let rt = srv.token("regulator");
    let (st, eq) = get(&srv.url, "/v1/equivocations", Some(&rt));
    assert_eq!(st, 200);
    let eq = json(&eq);
    assert_eq!(eq.as_array().unwrap().len(), 1, "{eq}");
    // The clone going on from its own branch is refused too (does not link).
    let onward = Arc::new(clone.sign(
        EntryBody {
            format: Default::default(),
            occurred_at: s.now,
            officer: v("armourer-2"),
            links: vec![],
            event: Event::Site(SiteEvent::Annotated {
                about: forked.hash(),
                text: note("more"),
            }),
        },
        s.now,
    ));
    refused(
        &srv,
        "clone continuing its branch",
        srv.post(&[onward]),
        422,
    );
    cases += 2;

    // 4. A site writing for another site: south's key signs an entry on
    // north's chain, linked to north's real head.
    let mut impostor = s.sites.get(&v("south")).unwrap().clone();
    impostor.chain = ChainId::Site(v("north"));
    impostor.head = (after.counter(), after.hash());
    let body = EntryBody {
        format: Default::default(),
        occurred_at: s.now,
        officer: v("guard-s"),
        links: vec![],
        event: Event::Site(SiteEvent::Annotated {
            about: after.hash(),
            text: note("written by south"),
        }),
    };
    let cross = Arc::new(impostor.sign(body.clone(), s.now));
    refused(
        &srv,
        "south's key on north's chain",
        srv.post(std::slice::from_ref(&cross)),
        422,
    );
    let south_token = srv.token("site:south");
    refused(
        &srv,
        "south's token pushing north's chain",
        post_as(&srv.url, Some(&south_token), &[cross]),
        403,
    );
    // ... and claiming north's device id as well.
    impostor.device = north.device.clone();
    let cross = Arc::new(impostor.sign(body, s.now));
    refused(
        &srv,
        "south's key claiming north's device",
        srv.post(&[cross]),
        422,
    );
    // An unenrolled key (a rogue world with its own "regulator").
    let mut rogue = Scenario::standard();
    rogue.company_with_site("acme", "ghost");
    let ghost = rogue.acquire("ghost", "G-1").1;
    refused(&srv, "unenrolled site key", srv.post(&[ghost]), 422);
    // Regulator entries signed by a rogue regulator key, linked to the real head.
    let mut fake = s.clone();
    let mut rogue_reg = SoftSigner::new("rogue-regulator", ChainId::Regulator);
    rogue_reg.device = s.regulator.device.clone();
    rogue_reg.head = s.regulator.head;
    fake.regulator = rogue_reg;
    fake.company_with_site("evil-co", "evil");
    let forged_reg = fake.log[s.log.len()..].to_vec();
    refused(&srv, "rogue regulator key", srv.post(&forged_reg), 422);
    cases += 5;

    // 5. A retired key (east) and a revoked key (north) sign on.
    let (_, e1) = s.acquire("east", "E-1");
    assert_eq!(srv.post(std::slice::from_ref(&e1)).0, 200);
    let east = s.sites.get(&v("east")).unwrap().clone();
    let rb = RetireBody {
        chain: east.chain.clone(),
        device: east.device.clone(),
        key_epoch: east.key_epoch,
        public_key: east.public_key(),
        final_counter: e1.counter(),
        final_head: e1.hash(),
    };
    let signature = rb.sign(east.signing_key()).unwrap();
    let retire = s.regulator(RegulatorEvent::DeviceKeyRetired {
        site: v("east"),
        statement: RetireStatement {
            body: rb,
            signature,
        },
    });
    let revoke = s.regulator(RegulatorEvent::DeviceKeyRevoked {
        site: v("north"),
        public_key: north.public_key(),
        after_counter: after.counter(),
        reason: note("device stolen"),
    });
    assert_eq!(srv.post(&[retire, revoke]).0, 200);
    let late_east = s.site(
        "east",
        "armourer-1",
        SiteEvent::StorageMoved {
            item: Item::Firearm(pistol("E-1").id()),
            from: v("vault"),
            to: v("rack-1"),
        },
    );
    let body = refused(&srv, "retired key signs on", srv.post(&[late_east]), 422);
    assert!(
        body["title"].as_str().unwrap().contains("retired"),
        "{body}"
    );
    let late_north = s.site(
        "north",
        "armourer-1",
        SiteEvent::StorageMoved {
            item: Item::Firearm(pistol("GLK 100").id()),
            from: v("vault"),
            to: v("rack-1"),
        },
    );
    let body = refused(&srv, "revoked key signs on", srv.post(&[late_north]), 422);
    assert!(
        body["title"].as_str().unwrap().contains("revoked"),
        "{body}"
    );
    cases += 2;

    still_served(&srv, &mut s, "S-1");
    eprintln!("attack cases (entries): {cases}");
}

#[test]
fn a_company_reads_only_its_own_data() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut s, srv) = world(tmp.path(), CONFIG);
    let (_, g) = s.acquire("north", "GLK 100");
    assert_eq!(srv.post(std::slice::from_ref(&g)).0, 200);
    let size = srv.settled_checkpoint().size();
    let other = srv.token("company:other-co");
    let south = srv.token("site:south");
    let acme = srv.token("company:acme");
    let mut cases = 0;
    let forbidden = [
        "/v1/sites/north/inventory".to_string(),
        "/v1/sites/north/reconciliation".into(),
        "/v1/sites/north/integrity".into(),
        "/v1/firearms/glk100/trace".into(),
        "/v1/firearms/glk100/dossier".into(),
        "/v1/export?company=acme".into(),
        "/v1/export?site=north".into(),
        "/v1/export".into(),
        "/v1/pull/north".into(),
        "/v1/equivocations".into(),
        "/v1/tokens".into(),
        format!("/tile/entries/000.p/{size}"),
    ];
    for tok in [&other, &south] {
        for path in &forbidden {
            let (st, body) = get(&srv.url, path, Some(tok));
            assert!(
                st == 403 || st == 404,
                "GET {path} with another company's token: {st} {}",
                String::from_utf8_lossy(&body)
            );
            assert!(
                !String::from_utf8_lossy(&body).contains("GLK"),
                "GET {path} leaked north's serial"
            );
            cases += 1;
        }
        // Lists are filtered, never leaking north's entries.
        for path in ["/v1/findings", "/v1/alerts?at=2027-06-01", "/v1/transfers"] {
            let (st, body) = get(&srv.url, path, Some(tok));
            assert_eq!(st, 200, "{path}");
            let text = String::from_utf8_lossy(&body);
            assert!(!text.contains("north"), "{path} leaked north: {text}");
            cases += 1;
        }
    }
    // Without a token, or with a made-up one: 401.
    for tok in [None, Some("als_0000000000000000000000000000000000000000")] {
        let (st, _) = get(&srv.url, "/v1/sites/north/inventory", tok);
        assert_eq!(st, 401);
        cases += 1;
    }
    // A company cannot mint tokens.
    let resp = harness::try_post(
        &srv.url,
        "/v1/tokens",
        "application/json",
        br#"{"role":"regulator","label":"x"}"#,
    )
    .unwrap();
    assert_eq!(resp.0, 401);
    // The owner still sees its own data.
    let (st, _) = get(&srv.url, "/v1/sites/north/inventory", Some(&acme));
    assert_eq!(st, 200);
    eprintln!("attack cases (cross-company reads): {cases}");
}

#[test]
fn oversized_and_malformed_bodies_are_refused_before_anything_is_stored() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut s, srv) = world(tmp.path(), CONFIG);
    let (_, g) = s.acquire("north", "GLK 100");
    let mut cases = 0;
    let raw = |body: Vec<u8>| srv.post_raw(&body);

    // The server answers 413 as soon as it sees the declared length and closes
    // the connection; a client still writing may see the close first.
    let n = srv.size();
    match try_post_as(
        &srv.url,
        "/v1/entries",
        Some(&srv.writer),
        "application/octet-stream",
        &vec![0; 2 << 20],
    ) {
        Ok((st, _)) => assert_eq!(st, 413, "body over max_body_bytes"),
        Err(e) => assert!(
            format!("{e:?}").contains("BrokenPipe") || format!("{e:?}").contains("ConnectionReset"),
            "{e:?}"
        ),
    }
    assert_eq!(srv.size(), n, "body over max_body_bytes stored nothing");
    let many: Vec<Vec<u8>> = vec![g.bytes().to_vec(); 65];
    refused(
        &srv,
        "batch over max_batch_entries",
        raw(postcard::to_allocvec(&many).unwrap()),
        413,
    );
    refused(
        &srv,
        "entry over 65,535 bytes",
        raw(postcard::to_allocvec(&vec![vec![0u8; 70_000]]).unwrap()),
        413,
    );
    // A count prefix claiming billions of entries in a tiny body.
    refused(
        &srv,
        "huge count prefix",
        raw(vec![0xff, 0xff, 0xff, 0xff, 0x0f]),
        413,
    );
    cases += 4;

    refused(&srv, "garbage", raw(vec![0xff; 10]), 400);
    refused(&srv, "empty body", raw(vec![]), 400);
    refused(
        &srv,
        "empty batch",
        raw(postcard::to_allocvec(&Vec::<Vec<u8>>::new()).unwrap()),
        400,
    );
    refused(
        &srv,
        "entry of zeros",
        raw(postcard::to_allocvec(&vec![vec![0u8; 5]]).unwrap()),
        400,
    );
    let cut = g.bytes()[..g.bytes().len() - 7].to_vec();
    refused(
        &srv,
        "truncated entry",
        raw(postcard::to_allocvec(&vec![cut]).unwrap()),
        400,
    );
    let mut long = g.bytes().to_vec();
    long.push(0);
    refused(
        &srv,
        "trailing byte in entry",
        raw(postcard::to_allocvec(&vec![long]).unwrap()),
        400,
    );
    let mut b = batch(std::slice::from_ref(&g));
    b.truncate(b.len() - 3);
    refused(&srv, "truncated batch", raw(b), 400);
    cases += 7;

    let json_post = |body: &[u8]| {
        let (st, b) = try_post_as(
            &srv.url,
            "/v1/entries",
            Some(&srv.writer),
            "application/json",
            body,
        )
        .unwrap();
        (st, json(&b))
    };
    refused(&srv, "JSON not an object", json_post(b"[1,2,3]"), 400);
    refused(
        &srv,
        "JSON bad hex",
        json_post(br#"{"entries":["zz"]}"#),
        400,
    );
    refused(&srv, "JSON truncated", json_post(br#"{"entries":["#), 400);
    let hexes: Vec<String> = (0..65).map(|_| hex::encode(g.bytes())).collect();
    refused(
        &srv,
        "JSON batch over max_batch_entries",
        json_post(&serde_json::to_vec(&serde_json::json!({ "entries": hexes })).unwrap()),
        413,
    );
    cases += 4;

    // A chunked body that grows past the limit.
    let mut c = TcpStream::connect(srv.addr()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        c,
        "POST /v1/entries HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
        srv.writer
    )
    .unwrap();
    let chunk = vec![b'a'; 64 * 1024];
    for _ in 0..24 {
        if write!(c, "{:x}\r\n", chunk.len()).is_err()
            || c.write_all(&chunk).is_err()
            || c.write_all(b"\r\n").is_err()
        {
            break;
        }
    }
    let mut head = [0u8; 12];
    c.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 413", "{}", String::from_utf8_lossy(&head));
    cases += 1;

    assert_eq!(srv.size() as usize, s.log.len() - 1);
    still_served(&srv, &mut s, "S-1");
    eprintln!("attack cases (bodies): {cases}");
}

#[test]
fn a_declared_oversize_body_is_refused_before_it_is_sent() {
    let tmp = tempfile::tempdir().unwrap();
    let (_s, srv) = world(tmp.path(), CONFIG);
    // A Content-Length far over the limit is refused before the body is sent.
    let mut c = TcpStream::connect(srv.addr()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        c,
        "POST /v1/entries HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000000\r\n\r\n"
    )
    .unwrap();
    let mut head = [0u8; 12];
    c.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 413", "{}", String::from_utf8_lossy(&head));
}

/// Sends `bytes` one at a time, `gap` apart, for at most `budget`.
fn dribble(
    addr: String,
    bytes: Vec<u8>,
    gap: Duration,
    budget: Duration,
) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let Ok(mut c) = TcpStream::connect(addr) else {
            return 0;
        };
        let until = Instant::now() + budget;
        let mut sent = 0;
        for b in bytes {
            if Instant::now() > until || c.write_all(&[b]).is_err() {
                break;
            }
            sent += 1;
            std::thread::sleep(gap);
        }
        sent
    })
}

#[test]
fn slow_clients_do_not_starve_others() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut s, srv) = world(tmp.path(), CONFIG);
    let budget = Duration::from_secs(3);
    // Slow headers, slow bodies, and a crowd of idle half-open connections
    // (with a token that may write, so that the bodies are read).
    let head = format!("POST /v1/entries HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/octet-stream\r\nContent-Length: 4000\r\n\r\n", srv.writer).into_bytes();
    let mut slow = Vec::new();
    for _ in 0..8 {
        slow.push(dribble(
            srv.addr(),
            head.clone(),
            Duration::from_millis(30),
            budget,
        ));
    }
    let mut with_body = head.clone();
    with_body.extend(vec![0u8; 4000]);
    let mut idle = Vec::new();
    for i in 0..64 {
        let mut c = TcpStream::connect(srv.addr()).unwrap();
        if i % 2 == 0 {
            c.write_all(&with_body[..head.len() + 10]).unwrap();
        } else {
            c.write_all(b"GET /healthz HT").unwrap();
        }
        idle.push(c);
    }
    // Meanwhile others are served promptly, reads and writes alike.
    let started = Instant::now();
    let mut worst = Duration::ZERO;
    let mut served = 0;
    while started.elapsed() < budget {
        let t = Instant::now();
        assert_eq!(get(&srv.url, "/healthz", None).0, 200);
        let (_, e) = s.acquire("south", &format!("S-{served}"));
        assert_eq!(srv.post(&[e]).0, 200);
        worst = worst.max(t.elapsed());
        served += 1;
    }
    assert!(served >= 5, "only {served} requests served in {budget:?}");
    assert!(
        worst < Duration::from_secs(2),
        "a request took {worst:?} under slow clients"
    );
    for h in slow {
        h.join().unwrap();
    }
    drop(idle);
    eprintln!("slow clients: 8 dribbling + 64 idle; {served} others served, worst {worst:?}");
}

#[test]
fn a_stalled_connection_is_dropped_in_bounded_time() {
    let tmp = tempfile::tempdir().unwrap();
    let (_s, srv) = world(tmp.path(), CONFIG);
    let mut c = TcpStream::connect(srv.addr()).unwrap();
    c.write_all(b"POST /v1/entries HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    c.set_read_timeout(Some(Duration::from_secs(45))).unwrap();
    let mut buf = [0u8; 64];
    let started = Instant::now();
    // The server must answer (408) or close within 45 s.
    match c.read(&mut buf) {
        Ok(_) => {}
        Err(e) => panic!("connection still held after {:?}: {e}", started.elapsed()),
    }
}

/// Before: a connection that never sent a byte was never closed, so with
/// the open-file limit at 256, 300 silent sockets left no descriptor for
/// anyone else and `/healthz` timed out. Now silent connections are closed
/// after `header_timeout_secs` and the connection cap keeps descriptors
/// free; the health check is answered once a slot frees.
#[test]
fn silent_sockets_past_the_descriptor_limit_do_not_starve_healthz() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Scenario::standard();
    let srv = Server::start_limited(
        &tmp.path().join("srv"),
        &s,
        &format!("{CONFIG}header_timeout_secs = 2\n"),
        Some(256),
    );
    let silent: Vec<TcpStream> = (0..300)
        .map(|_| TcpStream::connect(srv.addr()).unwrap())
        .collect();
    let (st, body) = get(&srv.url, "/healthz", None);
    assert_eq!(st, 200, "{}", String::from_utf8_lossy(&body));
    // The silent ones were closed by the server.
    let mut closed = 0;
    for mut c in silent {
        c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        match c.read(&mut [0u8; 16]) {
            Ok(0) => closed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => closed += 1,
            other => eprintln!("a silent socket: {other:?}"),
        }
    }
    assert_eq!(closed, 300);
}

#[test]
fn a_flood_from_one_site_is_rate_limited_and_others_are_served() {
    let tmp = tempfile::tempdir().unwrap();
    let config = format!("{CONFIG}token_rate_per_second = 20\n");
    let (mut s, srv) = world(tmp.path(), &config);
    let north = srv.token("site:north");
    let post = |entries: &[Arc<SignedEntry>]| post_as(&srv.url, Some(&north), entries);
    let mut flood = Vec::new();
    for i in 0..10 {
        flood.push(s.acquire("north", &format!("F-{i}")).1);
    }
    assert_eq!(post(&flood).0, 200);
    let n = srv.size();
    // North replays its batch as fast as it can: 429 within a bounded number
    // of requests (burst = 10 s of rate = 200 entries).
    let mut limited_after = None;
    for i in 0..100 {
        let (st, body) = post(&flood);
        if st == 429 {
            assert_eq!(body["type"], "rate-limited", "{body}");
            limited_after = Some(i);
            break;
        }
        assert_eq!(st, 200);
    }
    let limited_after = limited_after.expect("no 429 after 100 batches of 10");
    assert!(
        limited_after <= 21,
        "rate limit let {limited_after} batches through"
    );
    let body = refused(&srv, "flooding site over its rate", post(&flood), 429);
    assert!(
        body["title"].as_str().unwrap().contains("site:north"),
        "{body}"
    );
    assert_eq!(srv.size(), n);
    // Others are served while north is limited: south with its own token,
    // and the regulator.
    let (_, e) = s.acquire("south", "S-0");
    let south = srv.token("site:south");
    assert_eq!(post_as(&srv.url, Some(&south), &[e]).0, 200);
    still_served(&srv, &mut s, "S-1");
    assert_eq!(get(&srv.url, "/checkpoint", None).0, 200);
    // North recovers after a pause.
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(post(&flood).0, 200);
    eprintln!("flood: 429 after {limited_after} batches; others served");
}

#[test]
fn forged_entries_cannot_spend_another_sites_rate_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let config = format!("{CONFIG}token_rate_per_second = 20\n");
    let (mut s, srv) = world(tmp.path(), &config);
    let (_, g) = s.acquire("north", "GLK 100");
    // The attacker forges (bit-flipped signature) an entry north never sends.
    let (_, h) = s.acquire("north", "GLK 101");
    let forged = flip_signature(&h);
    // An attacker without north's key or token keeps posting forged entries
    // that claim north's chain, with no token or another site's, while
    // north tries to sync its real entry with its own token.
    let south = srv.token("site:south");
    let north = srv.token("site:north");
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let attacker = {
        let (url, stop) = (srv.url.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut sent = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && sent < 20_000 {
                let token = (sent % 2 == 0).then_some(south.as_str());
                let (st, _) = post_as(&url, token, std::slice::from_ref(&forged));
                // Refused on the token, before any signature work.
                assert!(st == 401 || st == 403, "{st}");
                sent += 1;
            }
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let mut refused_north = 0;
    for _ in 0..10 {
        let (st, _) = post_as(&srv.url, Some(&north), std::slice::from_ref(&g));
        if st == 429 {
            refused_north += 1;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    attacker.join().unwrap();
    assert_eq!(
        refused_north, 0,
        "north's validly signed entry was rate-limited {refused_north}/10 times by forged traffic"
    );
}
