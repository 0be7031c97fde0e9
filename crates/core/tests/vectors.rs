//! Golden vectors: a small ledger (regulator and site entries) built from
//! fixed seeds, committed under `tests/vectors/core/`. The test regenerates
//! them and compares byte for byte; `ARMSLEDGER_BLESS=1` rewrites the files
//! instead. `fail_*.hex` files hold encodings the strict decoder must refuse.
//!
//! The committed files are also checked on their own, with SHA-256 and
//! Ed25519 called directly, so the vectors pin the format as documented and
//! not merely whatever this crate computes.
// Test helpers outside #[test] fns: clippy.toml's in-test allowances do not reach them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;
use std::sync::Arc;

use armsledger_core::LedgerVerifier;
use armsledger_core::codec::{self, CodecError};
use armsledger_core::entry::{EntryBody, EntryError, EntryHeader, MAX_ENTRY_BYTES, SignedEntry};
use armsledger_core::event::{Event, SiteEvent};
use armsledger_core::hash::tag;
use armsledger_core::rules::View;
use armsledger_core::testkit::{self, Scenario, v};
use ed25519_dalek::{Signature, VerifyingKey};
use proptest::prelude::*;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Format 1's worked example (docs/formats.md before format 2).
const FORMAT_1_WORKED_EXAMPLE: &str = "01056e6f727468056465762d37012a291505d8c51c119dce252ec62c609734e3fd980cbafec06c9996dfa2776c208e3180d0eab6b7330134047643f6a66394a55a5d15c9b9e3207782a13eb0515e5127d1b307781403fbe866e01771fb81a0d91b3739d083e01c17355b29a6e635693c4f5a78d204e54130d4a72a250cf12c9154bf320be9e6df3d9f178f0225eb121a98809eafaaa7080561726d2d31010011111111111111111111111111111111015f6991e9582a48d28d4144c3bf2e2ffd28057a25d3ae83c6db2ce9c93cedd11300070011111111111111111111111111111111057661756c74067261636b2d31";
/// Format 2's worked example, as committed before format 3 (issue 17).
const FORMAT_2_WORKED_EXAMPLE: &str = "01056e6f727468056465762d37012a291505d8c51c119dce252ec62c609734e3fd980cbafec06c9996dfa2776c208e3180d0eab6b7330112e8121b8b68e52ce6f47ed329d83a87c756d38217592658107608240f69130d1d4c573ce4f7e9360884def3480d046b02e390c9b37cc24fcb605eb6615aee9d548a1547b744b3ab84c85ea6c4c9e41705934c756c535fedbb969e8cabaec10c020561726d2d31c080c6b6b733010011111111111111111111111111111111015f6991e9582a48d28d4144c3bf2e2ffd28057a25d3ae83c6db2ce9c93cedd11300070011111111111111111111111111111111057661756c74067261636b2d31";

fn dir() -> PathBuf {
    armsledger_testsupport::repo::vectors("core")
}

fn bless() -> bool {
    std::env::var("ARMSLEDGER_BLESS").is_ok_and(|v| v == "1")
}

/// The golden ledger: company `acme` licensed, site `north` registered and
/// its device key enrolled, `guard-1` licensed, then a pistol and a lot
/// received, issued with 30 rounds and returned with 2 expended.
fn golden() -> Scenario {
    let mut s = Scenario::new();
    s.company_with_site("acme", "north");
    s.guard("guard-1", "acme", 365);
    let (gun, _) = s.acquire("north", "AB-123");
    let lot = s.receive("north", "L-1", 500);
    let issue = s.issue("north", gun, "guard-1", lot, 30);
    s.return_spent("north", &issue, 2);
    s
}

/// The golden ledger as the committed JSON document.
fn golden_json(s: &Scenario) -> String {
    let north = &s.sites[&v("north")];
    let keys = json!([
        {
            "label": "regulator",
            "seed": hex::encode(testkit::key("regulator").to_bytes()),
            "public_key": hex::encode(s.regulator_key()),
        },
        {
            "label": "site-north",
            "seed": hex::encode(testkit::key("site-north").to_bytes()),
            "public_key": hex::encode(north.public_key()),
        },
        {
            "label": "manufacturer-root",
            "seed": hex::encode(testkit::key("manufacturer-root").to_bytes()),
            "public_key": hex::encode(s.root_key()),
        },
    ]);
    let entries: Vec<Value> = s
        .log
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let key = match e.chain() {
                armsledger_core::ChainId::Regulator => s.regulator_key(),
                armsledger_core::ChainId::Site(_) => north.public_key(),
            };
            let h = e.header_bytes().len();
            json!({
                "index": i,
                "chain": e.chain().to_string(),
                "counter": e.counter(),
                "kind": e.body().event.kind(),
                "public_key": hex::encode(key),
                "header": hex::encode(e.header_bytes()),
                "signature": hex::encode(e.signature().0),
                "body": hex::encode(&e.bytes()[h + 64..]),
                "signed_message": hex::encode(e.signed_message()),
                "entry_hash": e.hash().to_string(),
                "body_hash": e.header().body_hash.to_string(),
                "bytes": hex::encode(e.bytes()),
            })
        })
        .collect();
    let doc = json!({
        "description": "armsledger-core golden ledger: regulator and site entries from fixed testkit seeds (seed = SHA-256(\"armsledger-testkit\\0\" || label)). bytes = header || signature || body; entry_hash = SHA-256(\"armsledger:entry-hash:v1\\0\" || header); body_hash = SHA-256(\"armsledger:entry-body:v1\\0\" || body); signed_message = \"armsledger:entry-statement:v1\\0\" || header.",
        "regulator_public_key": hex::encode(s.regulator_key()),
        "manufacturer_root_public_key": hex::encode(s.root_key()),
        "keys": keys,
        "entries": entries,
    });
    let mut out = serde_json::to_string_pretty(&doc).unwrap();
    out.push('\n');
    out
}

/// Postcard length of a value (for finding offsets inside an encoding).
fn len_of<T: serde::Serialize>(x: &T) -> usize {
    codec::encode(x).unwrap().len()
}

/// What the strict decoder must say about a `fail_*` file.
type Expect = fn(&EntryError) -> bool;

/// The must-reject encodings, each derived from a golden entry, with the
/// refusal expected.
fn fail_cases(s: &Scenario) -> Vec<(&'static str, Vec<u8>, Expect)> {
    let reg = &s.log[0];
    let acq = s
        .log
        .iter()
        .find(|e| e.body().event.kind() == "firearm-acquired")
        .unwrap();
    let issue = s
        .log
        .iter()
        .find(|e| e.body().event.kind() == "issued")
        .unwrap();
    let h = acq.header();
    let hlen = acq.header_bytes().len();
    let body_at = hlen + 64;
    let mut out: Vec<(&'static str, Vec<u8>, Expect)> = Vec::new();

    // key_epoch (1) as a two-byte varint: 0x81 0x00.
    let at = len_of(&h.chain) + len_of(&h.device);
    let mut b = acq.bytes().to_vec();
    assert_eq!(b[at], 0x01, "key_epoch byte");
    b.splice(at..=at, [0x81, 0x00]);
    out.push(("fail_header_overlong_varint", b, |e| {
        matches!(e, EntryError::Header(CodecError::NonCanonical))
    }));

    // The counter as a three-byte varint.
    let at = len_of(&h.chain) + len_of(&h.device) + len_of(&h.key_epoch);
    let mut b = acq.bytes().to_vec();
    assert_eq!(u64::from(b[at]), h.counter, "counter byte");
    b.splice(at..=at, [0x80 | b[at], 0x80, 0x00]);
    out.push(("fail_header_overlong_counter", b, |e| {
        matches!(e, EntryError::Header(CodecError::NonCanonical))
    }));

    // The body's first length prefix (the officer id, after the format
    // byte) over-long.
    let mut b = acq.bytes().to_vec();
    assert_eq!(b[body_at], 0x03, "body format 3");
    let n = b[body_at + 1];
    assert!(n < 0x80);
    b.splice(body_at + 1..=body_at + 1, [0x80 | n, 0x00]);
    out.push(("fail_body_overlong_varint", b, |e| {
        matches!(e, EntryError::Body(CodecError::NonCanonical))
    }));

    let mut b = acq.bytes().to_vec();
    b.push(0x00);
    out.push(("fail_trailing_byte", b, |e| {
        matches!(e, EntryError::Body(CodecError::Trailing(1)))
    }));

    let b = acq.bytes()[..hlen + 32].to_vec();
    out.push(("fail_truncated_signature", b, |e| {
        matches!(e, EntryError::Truncated)
    }));

    let b = acq.bytes()[..hlen + 64].to_vec();
    out.push(("fail_missing_body", b, |e| {
        matches!(e, EntryError::Body(CodecError::Malformed(_)))
    }));

    // The body names another officer: well-formed, but not what was signed.
    let mut b = acq.bytes().to_vec();
    let officer = body_at + 2;
    assert_eq!(&b[officer..officer + 10], b"armourer-1");
    b[officer + 9] = b'2';
    out.push(("fail_body_hash_mismatch", b, |e| {
        matches!(e, EntryError::BodyMismatch)
    }));

    // A valid entry padded past the 65 535-byte limit.
    let mut b = acq.bytes().to_vec();
    b.resize(MAX_ENTRY_BYTES + 1, 0);
    out.push((
        "fail_oversize",
        b,
        |e| matches!(e, EntryError::TooLarge(n) if *n == MAX_ENTRY_BYTES + 1),
    ));

    // No signed structure has a bool; postcard's Option tag is the same
    // one-byte 0/1 encoding, so tag 2 is the non-canonical-bool case.
    let Event::Site(SiteEvent::FirearmAcquired {
        firearm, identity, ..
    }) = &acq.body().event
    else {
        unreachable!()
    };
    let body = acq.body();
    let at = body_at
        + 1 // format
        + len_of(&body.officer)
        + len_of(&body.occurred_at)
        + len_of(&body.links)
        + 1 // Event::Site
        + 1 // SiteEvent::FirearmAcquired
        + len_of(firearm)
        + len_of(&identity.manufacturer);
    let mut b = acq.bytes().to_vec();
    assert!(identity.importer.is_some());
    assert_eq!(b[at], 0x01, "importer Option tag");
    b[at] = 0x02;
    out.push(("fail_option_tag_not_0_or_1", b, |e| {
        matches!(e, EntryError::Body(CodecError::Malformed(_)))
    }));

    // ChainId variant 2 in the header (only 0 = Regulator, 1 = Site exist).
    let mut b = reg.bytes().to_vec();
    assert_eq!(b[0], 0x00);
    b[0] = 0x02;
    out.push(("fail_unknown_chain_variant", b, |e| {
        matches!(e, EntryError::Header(CodecError::Malformed(_)))
    }));

    // Event variant 2 in the body (only 0 = Site, 1 = Regulator exist).
    let ib = issue.body();
    let at = issue.header_bytes().len()
        + 64
        + 1 // format
        + len_of(&ib.officer)
        + len_of(&ib.occurred_at)
        + len_of(&ib.links);
    let mut b = issue.bytes().to_vec();
    assert_eq!(b[at], 0x00, "Event::Site");
    b[at] = 0x02;
    out.push(("fail_unknown_event_variant", b, |e| {
        matches!(e, EntryError::Body(CodecError::Malformed(_)))
    }));

    // SiteEvent variant 0x7f: past the last one.
    let mut b = issue.bytes().to_vec();
    assert_eq!(b[at + 1], 0x02, "SiteEvent::Issued");
    b[at + 1] = 0x7f;
    out.push(("fail_unknown_site_event_variant", b, |e| {
        matches!(e, EntryError::Body(CodecError::Malformed(_)))
    }));

    // An officer id with a space: refused by the id's constructor.
    let mut b = acq.bytes().to_vec();
    b[officer + 8] = b' ';
    out.push(("fail_invalid_identifier", b, |e| {
        matches!(e, EntryError::Body(CodecError::Malformed(_)))
    }));

    // A format-1 entry (format 1's worked example, as committed before
    // format 2): refused by its body's first byte, the officer id's length.
    let b = hex::decode(FORMAT_1_WORKED_EXAMPLE).unwrap();
    out.push(("fail_body_format_1", b, |e| {
        matches!(e, EntryError::BodyFormat(0x05))
    }));

    // A format-2 entry (format 2's worked example): refused by its body's
    // first byte, the format number 2.
    let b = hex::decode(FORMAT_2_WORKED_EXAMPLE).unwrap();
    out.push(("fail_body_format_2", b, |e| {
        matches!(e, EntryError::BodyFormat(0x02))
    }));

    out.push(("fail_empty", Vec::new(), |e| {
        matches!(e, EntryError::Header(CodecError::Malformed(_)))
    }));
    out
}

fn hex_file(bytes: &[u8]) -> String {
    // 64 bytes per line keeps diffs readable.
    let mut s = String::new();
    for chunk in bytes.chunks(64) {
        s.push_str(&hex::encode(chunk));
        s.push('\n');
    }
    s
}

fn read_hex(path: &std::path::Path) -> Vec<u8> {
    let text = std::fs::read_to_string(path).unwrap();
    let digits: String = text.split_whitespace().collect();
    hex::decode(digits).unwrap()
}

#[test]
fn golden_ledger_matches_the_committed_vectors() {
    let s = golden();
    let want = golden_json(&s);
    let path = dir().join("ledger.json");
    if bless() {
        std::fs::create_dir_all(dir()).unwrap();
        std::fs::write(&path, &want).unwrap();
        return;
    }
    let have = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with ARMSLEDGER_BLESS=1)", path.display()));
    if have != want {
        let (a, b): (Value, Value) = (
            serde_json::from_str(&have).unwrap(),
            serde_json::from_str(&want).unwrap(),
        );
        for (i, (x, y)) in a["entries"]
            .as_array()
            .unwrap()
            .iter()
            .zip(b["entries"].as_array().unwrap())
            .enumerate()
        {
            assert_eq!(x, y, "entry {i} differs from the committed vector");
        }
        panic!("ledger.json differs from what the code produces now");
    }
}

#[test]
fn fail_vectors_match_the_committed_files() {
    let s = golden();
    for (name, bytes, _) in fail_cases(&s) {
        let path = dir().join(format!("{name}.hex"));
        let want = hex_file(&bytes);
        if bless() {
            std::fs::create_dir_all(dir()).unwrap();
            std::fs::write(&path, &want).unwrap();
            continue;
        }
        let have = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (run with ARMSLEDGER_BLESS=1)", path.display()));
        assert!(
            have == want,
            "{name}.hex differs from what the code produces now"
        );
    }
}

#[test]
fn every_fail_file_is_refused_by_the_strict_decoder() {
    if bless() {
        return; // the files are being rewritten by the tests above
    }
    let s = golden();
    let cases = fail_cases(&s);
    let mut seen = 0;
    for entry in std::fs::read_dir(dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        if !name.starts_with("fail_") {
            continue;
        }
        seen += 1;
        let bytes = read_hex(&path);
        let err = SignedEntry::decode(&bytes)
            .expect_err(&format!("{name} was accepted by the strict decoder"));
        if let Some((_, _, expect)) = cases.iter().find(|(n, _, _)| *n == name) {
            assert!(
                expect(&err),
                "{name}: refused for the wrong reason: {err:?}"
            );
        }
    }
    assert!(
        seen >= cases.len(),
        "only {seen} fail_* files in {}",
        dir().display()
    );
}

/// The committed ledger, checked without trusting the code that wrote it.
#[test]
fn committed_vectors_decode_hash_verify_and_round_trip() {
    if bless() {
        return; // the file is being rewritten by the test above
    }
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(dir().join("ledger.json")).unwrap()).unwrap();
    let hx = |v: &Value| hex::decode(v.as_str().unwrap()).unwrap();
    let key32 = |v: &Value| -> [u8; 32] { hx(v).try_into().unwrap() };
    let regulator = key32(&doc["regulator_public_key"]);
    let root = key32(&doc["manufacturer_root_public_key"]);
    for k in doc["keys"].as_array().unwrap() {
        let seed: [u8; 32] = hx(&k["seed"]).try_into().unwrap();
        let sk = armsledger_core::sig::key_from_seed(&seed);
        assert_eq!(sk.verifying_key().to_bytes(), key32(&k["public_key"]));
    }
    let mut ver = LedgerVerifier::new(regulator, vec![root], View::Corrected);
    let entries = doc["entries"].as_array().unwrap();
    assert!(entries.len() >= 10);
    let mut chains = std::collections::BTreeSet::new();
    for (i, e) in entries.iter().enumerate() {
        let bytes = hx(&e["bytes"]);
        let (header, sig, body) = (hx(&e["header"]), hx(&e["signature"]), hx(&e["body"]));
        assert_eq!(
            bytes,
            [header.clone(), sig.clone(), body.clone()].concat(),
            "entry {i}"
        );

        // Hashes and signature by the documented formulas, computed directly.
        let entry_hash = Sha256::new()
            .chain_update(tag::ENTRY_HASH)
            .chain_update(&header)
            .finalize();
        assert_eq!(
            hex::encode(entry_hash),
            e["entry_hash"].as_str().unwrap(),
            "entry {i}"
        );
        let body_hash = Sha256::new()
            .chain_update(tag::ENTRY_BODY)
            .chain_update(&body)
            .finalize();
        assert_eq!(
            hex::encode(body_hash),
            e["body_hash"].as_str().unwrap(),
            "entry {i}"
        );
        let message = [tag::ENTRY_STATEMENT, &header].concat();
        assert_eq!(message, hx(&e["signed_message"]));
        let vk = VerifyingKey::from_bytes(&key32(&e["public_key"])).unwrap();
        let s = Signature::from_bytes(&sig.clone().try_into().unwrap());
        vk.verify_strict(&message, &s).unwrap();

        // The strict decoder agrees, and encode(decode(x)) == x.
        let d = SignedEntry::decode(&bytes).unwrap();
        assert_eq!(d.hash().0.as_slice(), entry_hash.as_slice());
        assert_eq!(d.header().body_hash.0.as_slice(), body_hash.as_slice());
        assert_eq!(d.header_bytes(), header.as_slice());
        assert_eq!(d.signature().0.as_slice(), sig.as_slice());
        assert_eq!(d.chain().to_string(), e["chain"].as_str().unwrap());
        assert_eq!(d.counter(), e["counter"].as_u64().unwrap());
        assert_eq!(d.body().event.kind(), e["kind"].as_str().unwrap());
        assert_eq!(codec::encode(d.header()).unwrap(), header);
        assert_eq!(codec::encode(d.body()).unwrap(), body);
        let again =
            SignedEntry::assemble(d.header().clone(), *d.signature(), d.body().clone()).unwrap();
        assert_eq!(
            again.bytes(),
            bytes.as_slice(),
            "entry {i}: encode(decode(x)) != x"
        );
        assert_eq!(
            codec::decode_strict::<EntryHeader>(&header, MAX_ENTRY_BYTES).unwrap(),
            *d.header()
        );
        assert_eq!(
            codec::decode_strict::<EntryBody>(&body, MAX_ENTRY_BYTES).unwrap(),
            *d.body()
        );
        chains.insert(d.chain().clone());

        let f = ver.ingest(Arc::new(d), None).unwrap();
        assert!(f.is_empty(), "entry {i}: {f:?}");
    }
    assert_eq!(chains.len(), 2, "regulator and site entries");
}

#[test]
fn every_golden_entry_round_trips_and_every_strict_prefix_is_refused() {
    let s = golden();
    for e in &s.log {
        let x = e.bytes();
        let d = SignedEntry::decode(x).unwrap();
        assert_eq!(d.bytes(), x);
        assert_eq!(&d, e.as_ref());
        for n in 0..x.len() {
            assert!(
                SignedEntry::decode(&x[..n]).is_err(),
                "prefix of {n} bytes accepted"
            );
        }
    }
}

fn accepted_round_trips(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(d) = SignedEntry::decode(bytes) {
        let again = SignedEntry::assemble(d.header().clone(), *d.signature(), d.body().clone())
            .map_err(|e| TestCaseError::fail(format!("{e}")))?;
        prop_assert_eq!(again.bytes(), bytes, "encode(decode(x)) != x");
        prop_assert!(bytes.len() <= MAX_ENTRY_BYTES);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Arbitrary bytes never panic the decoder; anything it accepts is canonical.
    #[test]
    fn random_bytes_never_panic_the_decoder(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        accepted_round_trips(&bytes)?;
    }

    /// Random edits of real entries reach deep into the decoder; it never
    /// panics, and whatever it accepts re-encodes to exactly the same bytes.
    #[test]
    fn edited_entries_never_panic_and_accepted_ones_are_canonical(
        i in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 1..4),
    ) {
        static LOG: std::sync::LazyLock<Vec<Vec<u8>>> =
            std::sync::LazyLock::new(|| golden().log.iter().map(|e| e.bytes().to_vec()).collect());
        let mut b = LOG[i.index(LOG.len())].clone();
        for (at, byte, op) in edits {
            let p = at.index(b.len().max(1));
            match op {
                0 if !b.is_empty() => b[p] = byte,
                1 => b.insert(p.min(b.len()), byte),
                2 if !b.is_empty() => { b.remove(p); }
                _ => b.truncate(p),
            }
        }
        accepted_round_trips(&b)?;
    }
}

#[test]
fn a_flipped_signature_decodes_but_does_not_verify() {
    // The decoder checks structure, not authenticity: the signature is only
    // refused by verification.
    let s = golden();
    let e = &s.log[0];
    let mut b = e.bytes().to_vec();
    let at = e.header_bytes().len();
    b[at] ^= 0x40;
    let d = SignedEntry::decode(&b).unwrap();
    assert_ne!(d.signature(), e.signature());
    assert!(d.verify_signature(&s.regulator_key()).is_err());
    assert!(e.verify_signature(&s.regulator_key()).is_ok());
}
