//! Checking that an entry is in the log, with nothing but the log's published
//! verifier key: open the signed checkpoint, fetch an inclusion proof bound to
//! its size, and recompute the root.
//!
//! Run against a server: `cargo run --example check_inclusion -- URL TOKEN ENTRY-HASH`
//! (entry hashes appear in traces and receipts). With no arguments it checks a
//! proof built locally over a small signed log.

use armsledger::core::testkit::Scenario;
use armsledger_log::{
    EntryLeaf, Frontier, Hash, LogKey, LogVerifier, open_checkpoint, verify_inclusion,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [url, token, hash] = args.as_slice() {
        let vkey = ureq::get(format!("{url}/v1/log/key"))
            .call()?
            .body_mut()
            .read_to_string()?;
        let verifier = LogVerifier::from_vkey(vkey.trim())?;
        let note = ureq::get(format!("{url}/checkpoint"))
            .call()?
            .body_mut()
            .read_to_string()?;
        let cp = open_checkpoint(note.as_bytes(), &verifier, verifier.name())?;
        let size = cp.checkpoint().size();
        let proof: serde_json::Value =
            ureq::get(format!("{url}/v1/proof/inclusion?hash={hash}&size={size}"))
                .header("authorization", format!("Bearer {token}"))
                .call()?
                .body_mut()
                .read_json()?;
        let path: Vec<Hash> = proof
            .get("proof")
            .unwrap_or(&serde_json::Value::Null)
            .as_array()
            .ok_or("no proof")?
            .iter()
            .filter_map(|h| h.as_str()?.parse().ok())
            .collect();
        // The leaf should come from the entry bytes you hold and the receipt
        // time (`received_at_ms`): SHA-256(00 ‖ time (u64 BE) ‖ entry). The
        // server's `leaf` is used here for brevity.
        let leaf: Hash = proof
            .get("leaf")
            .unwrap_or(&serde_json::Value::Null)
            .as_str()
            .ok_or("no leaf")?
            .parse()?;
        let index = proof
            .get("index")
            .unwrap_or(&serde_json::Value::Null)
            .as_u64()
            .ok_or("no index")?;
        verify_inclusion(&leaf, index, size, &path, cp.checkpoint().root())?;
        println!(
            "entry {hash} is leaf {index} of the log at size {size} (checkpoint signed by {})",
            verifier.name()
        );
        return Ok(());
    }
    let mut s = Scenario::standard();
    s.acquire("north", "GLK-0001");
    let key = LogKey::from_seed("example.org/log", &[7; 32])?;
    // Each leaf is the receipt time (here one second apart) and the entry.
    let leaves: Vec<Hash> = s
        .log
        .iter()
        .zip(0u64..)
        .map(|(e, i)| EntryLeaf::new(1_767_225_600_000 + 1000 * i, e.bytes()).hash())
        .collect();
    // The frontier gives, per leaf, the stored hashes (Go tlog numbering) a
    // store would persist; proofs are built from them.
    let mut frontier = Frontier::new();
    let mut stored: Vec<Hash> = Vec::new();
    for l in &leaves {
        stored.extend(frontier.append(*l)?.hashes);
    }
    let signed = key.sign_checkpoint(frontier.size(), &frontier.root())?;
    let cp = open_checkpoint(signed.note().as_bytes(), &key.verifier(), key.name())?;
    let last = *leaves.last().ok_or("empty log")?;
    let index = leaves.len() as u64 - 1;
    let proof = armsledger_log::prove_inclusion(&stored, index, frontier.size())?;
    verify_inclusion(
        &last,
        index,
        cp.checkpoint().size(),
        &proof,
        cp.checkpoint().root(),
    )?;
    println!("{}", signed.note());
    println!(
        "the last entry is leaf {index}: its {}-hash proof recomputes the signed root",
        proof.len()
    );
    Ok(())
}
