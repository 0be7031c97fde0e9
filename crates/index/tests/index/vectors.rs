//! The vectors of docs/log.md ("The verifiable index"): keys, a value, the
//! root of a three-leaf map, a membership and an absence proof.

use armsledger_core::entry::ChainId;
use armsledger_core::hash::Hash;
use armsledger_core::model::LotId;
use armsledger_index::tree::Batch;
use armsledger_index::{Answer, Kind, LeafValue, MapKey, MemStore, Record, prove};

fn value(kind: Kind, label: &[u8], index: u64, fill: u8, seq: u64) -> LeafValue {
    let mut v = LeafValue::new(kind);
    v.put(Record {
        label: label.to_vec(),
        log_index: index,
        entry_hash: Hash([fill; 32]),
        seq,
    })
    .unwrap();
    v
}

#[test]
fn the_documented_vectors() {
    let serial = MapKey::serial("ab-12 345");
    let chain = MapKey::chain(&ChainId::Regulator);
    let lot = MapKey::lot(&LotId([0x11; 16]));
    let vs = value(Kind::Serial, &[0xaa; 16], 7, 0x22, 3);
    let vc = value(Kind::Chain, b"regulator", 9, 0x33, 4);
    let vl = value(Kind::Lot, b"site:north", 8, 0x44, 2);
    let mut store = MemStore::default();
    let mut b = Batch::new(&mut store).unwrap();
    for (k, v) in [(&serial, &vs), (&chain, &vc), (&lot, &vl)] {
        b.set(k, v.hash()).unwrap();
    }
    let root = b.commit().unwrap();
    let member = prove(&store, &serial).unwrap();
    let never = MapKey::serial("NEVER-1");
    let absent = prove(&store, &never).unwrap();
    assert!(matches!(
        member.verify(&root, &serial).unwrap(),
        Answer::Present(_)
    ));
    assert_eq!(absent.verify(&root, &never).unwrap(), Answer::Absent);

    let got = [
        ("serial key AB12345", serial.to_string()),
        ("chain key regulator", chain.to_string()),
        ("lot key 11×16", lot.to_string()),
        ("serial key NEVER1", never.to_string()),
        ("serial value", hex::encode(vs.encode())),
        ("serial value hash", hex::encode(vs.hash().0)),
        ("root", hex::encode(root.0)),
        ("membership proof AB12345", hex::encode(member.encode())),
        ("absence proof NEVER1", hex::encode(absent.encode())),
    ];
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/log.md")).unwrap();
    let missing: Vec<String> = got
        .iter()
        .filter(|(_, hex)| !doc.contains(hex.as_str()))
        .map(|(what, hex)| format!("{what}: {hex}"))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/log.md lacks:\n{}",
        missing.join("\n")
    );
}
