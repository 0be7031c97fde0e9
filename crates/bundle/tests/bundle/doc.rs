//! The worked example of docs/formats.md ("Bundles") is what the code writes.

use armsledger_bundle::{BundleSpec, MemoryLog, Record, Scope, write_bundle};
use armsledger_core::event::RegulatorEvent;
use armsledger_core::model::Validity;
use armsledger_core::testkit::{Scenario, T0, v};
use armsledger_log::LogKey;

use crate::*;

/// The example: one regulator entry (a company licence) received by the log
/// at 2026-01-01T00:00:01Z, a log key from the seed 00 01 … 1f, written at
/// 2026-01-01T00:00:00Z.
pub fn example() -> Vec<u8> {
    let mut s = Scenario::new();
    s.regulator(RegulatorEvent::CompanyLicensed {
        company: v("acme"),
        name: v("Acme Ltd"),
        licence: v("PSC-1"),
        valid: Validity {
            from: T0,
            until: T0.plus(365 * 86_400_000),
        },
        categories: vec![v("B")],
    });
    let seed: [u8; 32] = core::array::from_fn(|i| i as u8);
    let key = LogKey::from_seed(ORIGIN, &seed).unwrap();
    let mut log = MemoryLog::new();
    log.push(s.log[0].clone(), Some(T0.plus(1000))).unwrap();
    write_bundle(
        &log,
        &BundleSpec::new(&key, s.regulator_key(), T0),
        Scope::All,
        Vec::new(),
    )
    .unwrap()
}

/// Annotated hex lines: one line per field, `hex  comment`.
pub fn annotated(bytes: &[u8]) -> String {
    let mut out = String::new();
    let magic = &bytes[..MAGIC.len()];
    out.push_str(&format!(
        "{}  magic \"armsledger-bundle/v3\\n\"\n",
        hex::encode(magic)
    ));
    for (rec, off, len, item) in layout(bytes) {
        let frame = &bytes[off as usize..(off + len) as usize];
        let (head, payload) = frame.split_at(5);
        out.push_str(&format!(
            "{} {}  record {rec}: {} ({} bytes)\n",
            hex::encode(&head[..1]),
            hex::encode(&head[1..]),
            item.kind().name(),
            payload.len()
        ));
        match item {
            Record::Meta(m) => {
                let enc = |v: &dyn erased::Enc| v.enc();
                for (bytes, what) in [
                    (enc(&m.origin), "origin"),
                    (enc(&m.log_key), "log_key (C2SP vkey text)"),
                    (enc(&m.regulator_key), "regulator_key"),
                    (enc(&m.manufacturer_roots), "manufacturer_roots (none)"),
                    (enc(&m.scope), "scope: All"),
                    (enc(&m.created_at), "created_at 2026-01-01T00:00:00Z"),
                ] {
                    out.push_str(&format!("{}  {what}\n", hex::encode(bytes)));
                }
            }
            Record::Checkpoint(note) => {
                for line in note.lines() {
                    out.push_str(&format!("| {line}\n"));
                }
            }
            Record::Entry(_) => {
                let e = armsledger_core::SignedEntry::decode(&payload[16..]).unwrap();
                let h = e.header_bytes().len();
                out.push_str(&format!("{}  index\n", hex::encode(&payload[..8])));
                out.push_str(&format!(
                    "{}  received_at 2026-01-01T00:00:01Z (the leaf: received_at ‖ entry)\n",
                    hex::encode(&payload[8..16])
                ));
                out.push_str(&format!(
                    "{}  entry: header\n",
                    hex::encode(&payload[16..16 + h])
                ));
                out.push_str(&format!(
                    "{}  entry: signature\n",
                    hex::encode(&payload[16 + h..16 + h + 64])
                ));
                out.push_str(&format!(
                    "{}  entry: body\n",
                    hex::encode(&payload[16 + h + 64..])
                ));
            }
            Record::End(_) => {
                out.push_str(&format!("{}  entries\n", hex::encode(&payload[..8])));
                out.push_str(&format!(
                    "{}  SHA-256 of every byte before End\n",
                    hex::encode(&payload[8..])
                ));
            }
            _ => out.push_str(&format!("{}\n", hex::encode(payload))),
        }
    }
    out
}

#[test]
fn the_worked_example_matches_the_doc() {
    let bytes = example();
    let r = verify_with(&bytes, &armsledger_bundle::VerifyOptions::default());
    assert!(r.authentic(), "{:#?}", r.problems);
    assert_eq!(r.scope.as_deref(), Some(Scope::All.to_string().as_str()));
    let want = annotated(&bytes);
    if std::env::var_os("ARMSLEDGER_PRINT_EXAMPLE").is_some() {
        println!("{want}");
    }
    let doc = armsledger_testsupport::repo::doc("formats.md");
    let section = doc
        .split("\n## Bundles\n")
        .nth(1)
        .expect("docs/formats.md has a ## Bundles section");
    assert!(
        section.contains(&want),
        "the annotated dump in docs/formats.md is out of date:\n{want}"
    );
}

/// Encodes one Meta field the way postcard does inside the record.
mod erased {
    pub trait Enc {
        fn enc(&self) -> Vec<u8>;
    }
    impl<T: serde::Serialize> Enc for T {
        fn enc(&self) -> Vec<u8> {
            armsledger_core::codec::encode(self).unwrap()
        }
    }
}

/// The scope's bytes (docs/formats.md, Meta): the lot scope was added
/// last, so the earlier scopes keep theirs.
#[test]
fn the_scope_bytes_match_the_doc() {
    use armsledger_core::model::{FirearmId, LotId};
    use erased::Enc;
    let firearm = Scope::Firearm(FirearmId([0x11; 16])).enc();
    let lot = Scope::Lot(LotId([0x22; 16])).enc();
    assert_eq!(hex::encode(&firearm), format!("03{}", "11".repeat(16)));
    assert_eq!(hex::encode(&lot), format!("04{}", "22".repeat(16)));
    let doc = armsledger_testsupport::repo::doc("formats.md");
    for v in [&firearm, &lot] {
        assert!(
            doc.contains(&format!("`{}`", hex::encode(v))),
            "docs/formats.md lacks the vector {}",
            hex::encode(v)
        );
    }
}
