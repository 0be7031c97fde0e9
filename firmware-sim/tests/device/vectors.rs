//! Golden frames under tests/vectors/device: a scripted session of request
//! and response frames from a deterministic device (fixed seeds and clock),
//! and `fail_*` request frames that every device must refuse.
//!
//! The test compares; with `ARMSLEDGER_REGENERATE_VECTORS=1` it rewrites the
//! files instead. A changed vector is a protocol change: say so in review.

use std::fs;
use std::path::{Path, PathBuf};

use armsledger_core::entry::ChainId;
use armsledger_core::hash::Hash;
use armsledger_core::ids::SiteId;
use armsledger_core::statements::AuthorisedAction;
use armsledger_device::cobs;
use armsledger_device::host;
use armsledger_device::listener::SharedDevice;
use armsledger_device::protocol::{
    self, MAX_FRAME, PROTOCOL_VERSION, Request, RequestFrame, Response, SignRequest, Status,
    decode_request, decode_response,
};
use armsledger_device::storage::ManualClock;

use crate::common;

fn dir() -> PathBuf {
    armsledger_testsupport::repo::vectors("device")
}

fn regenerate() -> bool {
    std::env::var_os("ARMSLEDGER_REGENERATE_VECTORS").is_some()
}

fn strip(wire: &[u8]) -> &[u8] {
    wire.strip_suffix(&[0])
        .expect("a wire frame ends with 0x00")
}

struct Session {
    device: SharedDevice,
    next_id: u32,
    frames: Vec<(String, Vec<u8>, Vec<u8>)>,
}

impl Session {
    fn send(&mut self, name: &str, body: Request) -> Response {
        let wire = protocol::encode_request(&RequestFrame {
            version: PROTOCOL_VERSION,
            request_id: self.next_id,
            body,
        })
        .unwrap();
        self.next_id += 1;
        let reply = self.device.handle_frame(strip(&wire)).unwrap();
        let decoded = decode_response(strip(&reply)).unwrap();
        let n = self.frames.len() + 1;
        self.frames.push((format!("{n:02}_{name}"), wire, reply));
        decoded.body
    }
}

/// The scripted session: every command, on a deterministic device.
fn session() -> Vec<(String, Vec<u8>, Vec<u8>)> {
    let device = armsledger_device::memory_device(
        &common::root(),
        &common::spec("vector-dev"),
        Box::new(ManualClock::new(common::T0)),
    )
    .unwrap();
    let mut s = Session {
        device,
        next_id: 1,
        frames: Vec::new(),
    };
    let chain = common::site_chain();
    let device_id = match s.send("get_info", Request::GetInfo) {
        Response::Info(i) => i.device,
        other => panic!("{other:?}"),
    };
    s.send(
        "provision",
        Request::Provision {
            regulator_key: common::regulator().verifying_key().to_bytes(),
            chain: chain.clone(),
        },
    );
    let Response::Nonce(nonce) = s.send("get_nonce", Request::GetNonce) else {
        panic!("no nonce")
    };
    let a = host::authorise(
        &common::regulator(),
        device_id,
        nonce,
        AuthorisedAction::GenerateSiteKey {
            chain: chain.clone(),
        },
    )
    .unwrap();
    s.send(
        "generate_site_key",
        Request::GenerateSiteKey {
            authorisation: Some(a),
        },
    );
    s.send(
        "get_attestation",
        Request::GetAttestation {
            nonce: Hash([0xA5; 32]),
        },
    );
    let first = SignRequest {
        chain: chain.clone(),
        prev_hash: Hash::ZERO,
        body_hash: common::body(1).hash().unwrap(),
    };
    s.send("sign_entry", Request::SignEntry(first.clone()));
    s.send("sign_entry_retry", Request::SignEntry(first));
    s.send(
        "sign_entry_fork",
        Request::SignEntry(SignRequest {
            chain: chain.clone(),
            prev_hash: Hash::ZERO,
            body_hash: common::body(2).hash().unwrap(),
        }),
    );
    s.send(
        "sign_entry_wrong_chain",
        Request::SignEntry(SignRequest {
            chain: ChainId::Site(SiteId::new("elsewhere").unwrap()),
            prev_hash: Hash::ZERO,
            body_hash: common::body(2).hash().unwrap(),
        }),
    );
    s.send(
        "sign_checkpoint",
        Request::SignCheckpoint {
            nonce: Hash([0xC4; 32]),
        },
    );
    s.send("get_last_receipt", Request::GetLastReceipt);
    s.frames
}

/// Request frames every device must refuse, with the status it answers.
fn fail_vectors() -> Vec<(&'static str, Vec<u8>, Status)> {
    let frame = |raw: &[u8]| {
        let mut w = cobs::encode(raw);
        w.push(0);
        w
    };
    let sign = protocol::encode_request(&RequestFrame {
        version: PROTOCOL_VERSION,
        request_id: 1,
        body: Request::SignEntry(SignRequest {
            chain: common::site_chain(),
            prev_hash: Hash::ZERO,
            body_hash: Hash([7; 32]),
        }),
    })
    .unwrap();
    let sign_raw = cobs::decode(strip(&sign)).unwrap();
    let mut bad_site = sign_raw.clone();
    // "armoury-north" -> "armoury north": the site id constructor refuses it.
    let dash = bad_site.iter().position(|&b| b == b'-').unwrap();
    bad_site[dash] = b' ';
    let mut oversize = vec![0x01u8; MAX_FRAME + 1];
    oversize.push(0);
    vec![
        (
            "fail_bad_version",
            frame(&[0x02, 0x01, 0x00]),
            Status::BadVersion,
        ),
        (
            "fail_unknown_command",
            frame(&[0x01, 0x01, 0x0A]),
            Status::Malformed,
        ),
        (
            "fail_missing_command",
            frame(&[0x01, 0x01]),
            Status::Malformed,
        ),
        (
            "fail_trailing_byte",
            frame(&[0x01, 0x01, 0x00, 0x00]),
            Status::Malformed,
        ),
        (
            "fail_overlong_request_id",
            frame(&[0x01, 0x81, 0x00, 0x00]),
            Status::Malformed,
        ),
        (
            "fail_bad_option_tag",
            frame(&[0x01, 0x01, 0x04, 0x02]),
            Status::Malformed,
        ),
        (
            "fail_truncated_sign_entry",
            frame(&sign_raw[..sign_raw.len() - 10]),
            Status::Malformed,
        ),
        ("fail_bad_site_id", frame(&bad_site), Status::Malformed),
        (
            "fail_bad_cobs",
            vec![0x05, 0x01, 0x01, 0x00],
            Status::Malformed,
        ),
        ("fail_oversize", oversize, Status::TooLarge),
    ]
}

fn check(path: &Path, bytes: &[u8], stale: &mut Vec<String>) {
    let text = format!("{}\n", hex::encode(bytes));
    if regenerate() {
        fs::write(path, text).unwrap();
        return;
    }
    match fs::read_to_string(path) {
        Ok(t) if t == text => {}
        Ok(_) => stale.push(format!("{} differs", path.display())),
        Err(_) => stale.push(format!("{} is missing", path.display())),
    }
}

#[test]
fn golden_frames_match() {
    let dir = dir();
    fs::create_dir_all(&dir).unwrap();
    let mut stale = Vec::new();
    for (name, request, response) in session() {
        check(
            &dir.join(format!("{name}.request.hex")),
            &request,
            &mut stale,
        );
        check(
            &dir.join(format!("{name}.response.hex")),
            &response,
            &mut stale,
        );
    }
    for (name, bytes, _) in fail_vectors() {
        check(&dir.join(format!("{name}.request.hex")), &bytes, &mut stale);
    }
    assert!(
        stale.is_empty(),
        "golden vectors out of date (a protocol change?); rerun with \
         ARMSLEDGER_REGENERATE_VECTORS=1 if intended:\n{}",
        stale.join("\n")
    );
}

fn read_hex(path: &Path) -> Vec<u8> {
    hex::decode(fs::read_to_string(path).unwrap().trim()).unwrap()
}

#[test]
fn committed_requests_decode_canonically() {
    for entry in fs::read_dir(dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with("fail_") || !name.ends_with(".request.hex") {
            continue;
        }
        let wire = read_hex(&path);
        let frame = decode_request(strip(&wire)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(protocol::encode_request(&frame).unwrap(), wire, "{name}");
        let reply = read_hex(&path.with_file_name(name.replace(".request.", ".response.")));
        let r = decode_response(strip(&reply)).unwrap();
        assert_eq!(r.request_id, frame.request_id, "{name}");
    }
}

#[test]
fn committed_fail_vectors_are_refused_and_harmless() {
    let device = armsledger_device::memory_device(
        &common::root(),
        &common::spec("fail-dev"),
        Box::new(ManualClock::new(common::T0)),
    )
    .unwrap();
    let mut c = armsledger_device::DeviceClient::new(host::InProcess::new(device.clone()));
    let key = common::activate(&mut c, &common::site_chain());
    let mut ledger = common::Ledger::new(common::site_chain());
    ledger.sign(&mut c, 1, &key).unwrap();
    let before = c.info().unwrap();
    let expected: std::collections::HashMap<_, _> = fail_vectors()
        .into_iter()
        .map(|(n, _, s)| (format!("{n}.request.hex"), s))
        .collect();
    let mut seen = 0;
    for entry in fs::read_dir(dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.starts_with("fail_") {
            continue;
        }
        seen += 1;
        let wire = read_hex(&path);
        assert!(decode_request(strip(&wire)).is_err(), "{name} decoded");
        let reply = device.handle_frame(strip(&wire)).unwrap();
        let r = decode_response(strip(&reply)).unwrap();
        assert_ne!(r.status, Status::Ok, "{name}");
        if let Some(s) = expected.get(&name) {
            assert_eq!(r.status, *s, "{name}");
        }
    }
    assert!(seen >= expected.len());
    assert_eq!(c.info().unwrap(), before);
    ledger.sign(&mut c, 2, &key).unwrap();
}

/// Every `<!-- vector: NAME -->` block in docs/device-protocol.md shows
/// exactly the bytes of that committed vector.
#[test]
fn protocol_document_examples_match_the_vectors() {
    let doc = armsledger_testsupport::repo::doc("device-protocol.md");
    let mut checked = 0;
    let mut rest = doc.as_str();
    while let Some(at) = rest.find("<!-- vector: ") {
        let after = &rest[at + "<!-- vector: ".len()..];
        let name = after.split(" -->").next().unwrap().trim();
        let block = after.split("```text\n").nth(1).unwrap();
        let block = block.split("```").next().unwrap();
        let shown: String = block.split_whitespace().collect();
        let committed = fs::read_to_string(dir().join(name)).unwrap();
        assert_eq!(shown, committed.trim(), "{name} in docs/device-protocol.md");
        checked += 1;
        rest = after;
    }
    assert!(checked >= 1, "no worked example found");
}
