//! Keeps the worked example in docs/formats.md true: the hex there must be
//! exactly what the code produces from the same fixed inputs.

use armsledger_core::entry::{ChainId, EntryBody, Link, SignedEntry};
use armsledger_core::event::{Event, SiteEvent, Subject};
use armsledger_core::hash::Hash;
use armsledger_core::ids::Timestamp;
use armsledger_core::model::{FirearmId, Item};
use armsledger_core::testkit::{SoftSigner, v};

/// The worked example: the second entry of site `north`, moving one pistol.
pub fn worked_example() -> SignedEntry {
    let mut signer = SoftSigner::new("worked-example", ChainId::Site(v("north")));
    signer.device = v("dev-7");
    signer.head = (41, Hash::of(&[b"previous entry"]));
    let gun = FirearmId([0x11; 16]);
    let body = EntryBody {
        format: Default::default(),
        officer: v("arm-1"),
        occurred_at: Timestamp(1_767_225_000_000),
        links: vec![Link {
            subject: Subject::Firearm(gun),
            prev: Some(Hash::of(&[b"previous event of this pistol"])),
        }],
        event: Event::Site(SiteEvent::StorageMoved {
            item: Item::Firearm(gun),
            from: v("vault"),
            to: v("rack-1"),
        }),
    };
    signer.sign(body, Timestamp(1_767_225_600_000))
}

fn doc() -> String {
    armsledger_testsupport::repo::doc("formats.md")
}

#[test]
fn worked_example_matches_docs() {
    let e = worked_example();
    let doc: String = doc().split_whitespace().collect();
    let hex_entry = hex::encode(e.bytes());
    if std::env::var_os("ARMSLEDGER_PRINT").is_some() {
        println!("header {}", hex::encode(e.header_bytes()));
        println!("sig {}", hex::encode(e.signature().0));
        println!(
            "body {}",
            hex::encode(&e.bytes()[e.header_bytes().len() + 64..])
        );
        println!("entry_hash {}", e.hash());
        println!("body_hash {}", e.header().body_hash);
        println!(
            "pubkey {}",
            hex::encode(SoftSigner::new("worked-example", ChainId::Regulator).public_key())
        );
        println!("len {}", e.bytes().len());
    }
    assert!(
        doc.contains(&hex::encode(e.header_bytes())),
        "header hex missing from docs/formats.md"
    );
    assert!(
        doc.contains(&hex::encode(e.signature().0)),
        "signature hex missing"
    );
    assert!(doc.contains(&e.hash().to_string()), "entry hash missing");
    assert!(
        doc.contains(&e.header().body_hash.to_string()),
        "body hash missing"
    );
    assert_eq!(SignedEntry::decode(e.bytes()).unwrap(), e);
    // The same entry is a committed vector.
    let vector = armsledger_testsupport::repo::vectors("core").join("worked-example.hex");
    if std::env::var_os("ARMSLEDGER_BLESS").is_some() {
        std::fs::write(&vector, format!("{}\n", hex::encode(e.bytes()))).unwrap();
    }
    let committed = std::fs::read_to_string(&vector).unwrap();
    assert_eq!(
        committed.trim(),
        hex::encode(e.bytes()),
        "tests/vectors/core/worked-example.hex"
    );
    assert_eq!(hex_entry.len(), e.bytes().len() * 2);
}

/// The lost-and-stolen and trace-request events of docs/formats.md, each
/// with the postcard bytes of its `Event` there.
#[allow(clippy::unwrap_used)]
fn register_events() -> Vec<(&'static str, Event)> {
    use armsledger_core::event::{
        NoticeSource, NoticeWithdrawal, NoticedFirearm, RegulatorEvent, TraceOutcome,
    };
    use armsledger_core::ids::Country;
    vec![
        (
            "StolenNoticeRecorded",
            Event::Regulator(RegulatorEvent::StolenNoticeRecorded {
                reference: v("FR-2026-0042"),
                source: NoticeSource {
                    agency: v("ISTRAC"),
                    country: Country::new("FR").unwrap(),
                },
                firearm: NoticedFirearm {
                    manufacturer: v("Glock"),
                    model: None,
                    serial: v("XY-999"),
                },
            }),
        ),
        (
            "StolenNoticeWithdrawn",
            Event::Regulator(RegulatorEvent::StolenNoticeWithdrawn {
                reference: v("FR-2026-0042"),
                reason: NoticeWithdrawal::Recovered,
            }),
        ),
        (
            "TraceRequested",
            Event::Regulator(RegulatorEvent::TraceRequested {
                reference: v("TR-7"),
                serial: v("AB 123"),
                company: v("acme"),
                deadline: Timestamp(1_767_225_600_000),
            }),
        ),
        (
            "TraceAnswered",
            Event::Site(SiteEvent::TraceAnswered {
                request: v("TR-7"),
                outcome: TraceOutcome::Held,
                firearms: vec![FirearmId([0x11; 16])],
            }),
        ),
    ]
}

#[test]
fn register_event_vectors_match_docs() {
    let doc: String = doc().split_whitespace().collect();
    let mut missing = Vec::new();
    for (name, e) in register_events() {
        let bytes = postcard::to_allocvec(&e).unwrap();
        if std::env::var_os("ARMSLEDGER_PRINT").is_some() {
            println!("{name} {}", hex::encode(&bytes));
        }
        if !doc.contains(&format!("{name}:{}", hex::encode(&bytes))) {
            missing.push(name);
        }
        assert_eq!(postcard::from_bytes::<Event>(&bytes).unwrap(), e);
    }
    assert!(
        missing.is_empty(),
        "bytes missing from docs/formats.md: {missing:?}"
    );
}

/// The licence-scope vector: `Event::Regulator(SiteApproved)` as signed in
/// an entry body, the hex docs/formats.md shows.
#[test]
fn site_approved_event_matches_docs() {
    use armsledger_core::codec::{decode_strict, encode};
    use armsledger_core::event::RegulatorEvent;
    use armsledger_core::model::Validity;

    let event = Event::Regulator(RegulatorEvent::SiteApproved {
        site: v("north"),
        approval: v("ARM-7"),
        valid: Validity {
            from: Timestamp(1_767_225_600_000),
            until: Timestamp(1_830_297_600_000),
        },
        categories: vec![v("B")],
        max_firearms: Some(40),
    });
    let bytes = encode(&event).unwrap();
    let hex = hex::encode(&bytes);
    if std::env::var_os("ARMSLEDGER_PRINT").is_some() {
        println!("site-approved {hex}");
    }
    let doc: String = doc().split_whitespace().collect();
    assert!(
        doc.contains(&hex),
        "site-approved hex {hex} missing from docs/formats.md"
    );
    assert_eq!(decode_strict::<Event>(&bytes, 1024).unwrap(), event);
}
