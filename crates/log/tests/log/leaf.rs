//! Leaf format v2 (docs/log.md §1a): the worked example's vectors.

use armsledger_log::{EntryLeaf, leaf_hash};

/// (received_at, entry hex, leaf data hex, leaf hash hex), as in docs/log.md.
const VECTORS: [(u64, &str, &str, &str); 3] = [
    (
        0,
        "01",
        "000000000000000001",
        "52807a4607ea5debf0b7d4ccb452f4af03e16b06a8e0aa0dfe177db1ff02123d",
    ),
    (
        1,
        "01",
        "000000000000000101",
        "761ed03de062527aa7a8435dd6d9546d8c5f0cdd2497a77e75ee234985947b3e",
    ),
    (
        1_767_225_600_000,
        "656e747279",
        "0000019b76daa800656e747279",
        "e7381b8f7614f2e167fcccdf02ba98c5b081bd68f6f083ede2f21d4c3beb6372",
    ),
];

#[test]
fn the_documented_leaves_hash_as_documented() {
    let doc = armsledger_testsupport::repo::doc("log.md");
    for (time, entry, data, hash) in VECTORS {
        let entry = hex::decode(entry).unwrap();
        let leaf = EntryLeaf::new(time, &entry);
        assert_eq!(hex::encode(leaf.to_bytes()), data);
        assert_eq!(leaf.hash().to_string(), hash);
        assert_eq!(leaf_hash(&leaf.to_bytes()), leaf.hash());
        assert_eq!(EntryLeaf::parse(&hex::decode(data).unwrap()).unwrap(), leaf);
        for s in [data, hash] {
            assert!(doc.contains(s), "docs/log.md lacks {s}");
        }
    }
}
