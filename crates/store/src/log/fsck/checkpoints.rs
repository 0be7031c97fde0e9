//! fsck of the signed checkpoints: signature, size, root recomputed from
//! the entries, and a stored-tree consistency proof between neighbours.

use std::collections::BTreeMap;

use armsledger_log::{
    Hash, HashReader, LogVerifier, open_checkpoint, prove_consistency, verify_consistency,
};
use redb::ReadableTable;

use super::FsckReport;
use crate::error::StoreError;
use crate::log::tables::*;

/// Checks every row of `checkpoints` against `roots` (recomputed from the
/// entries at each checkpointed size) and `tree` (the stored tree).
pub(super) fn check<M, C, R>(
    r: &mut FsckReport,
    meta: &M,
    checkpoints: &C,
    tree: &R,
    roots: &BTreeMap<u64, Hash>,
    size: u64,
) -> Result<(), StoreError>
where
    M: ReadableTable<&'static str, &'static [u8]>,
    C: ReadableTable<u64, &'static str>,
    R: HashReader,
{
    // Checkpoints: signature, root against the entries, mutual consistency.
    let verifier = get_meta(meta, meta::LOG_VKEY)?
        .map(|v| LogVerifier::from_vkey(&String::from_utf8_lossy(&v)));
    let mut previous: Option<(u64, Hash)> = None;
    let mut last_note = None;
    for row in checkpoints.iter()? {
        let (k, v) = row?;
        let (cp_size, note) = (k.value(), v.value().to_owned());
        let key = format!("size {cp_size}");
        let opened = match &verifier {
            None => Err("no log_vkey in meta".to_owned()),
            Some(Err(e)) => Err(format!("log_vkey: {e}")),
            Some(Ok(vk)) => {
                open_checkpoint(note.as_bytes(), vk, vk.name()).map_err(|e| e.to_string())
            }
        };
        last_note = Some(note);
        let cp = match opened {
            Ok(cp) => cp.checkpoint().clone(),
            Err(e) => {
                r.push("checkpoints", key, "a note signed by the log key", e);
                continue;
            }
        };
        if cp.size() != cp_size {
            r.push(
                "checkpoints",
                &key,
                format!("size {cp_size}"),
                format!("a note for size {}", cp.size()),
            );
            continue;
        }
        match roots.get(&cp_size) {
            None => r.push(
                "checkpoints",
                &key,
                format!("size ≤ {size}"),
                "beyond the log",
            ),
            Some(root) if root != cp.root() => {
                let from = previous.map_or(0, |(s, _)| s);
                r.push(
                    "checkpoints",
                    &key,
                    format!(
                        "root {root} recomputed from entries (changed: some of entries {from}..{cp_size})"
                    ),
                    format!("signed root {}", cp.root()),
                );
            }
            Some(_) => {}
        }
        if let Some((old, old_root)) = previous {
            let ok = prove_consistency(tree, old, cp_size)
                .map_err(|e| e.to_string())
                .and_then(|p| {
                    verify_consistency(old, cp_size, &old_root, cp.root(), &p)
                        .map_err(|e| e.to_string())
                });
            if let Err(e) = ok {
                r.push(
                    "checkpoints",
                    &key,
                    format!("a stored-tree proof of consistency with size {old}"),
                    e,
                );
            }
        }
        previous = Some((cp_size, *cp.root()));
    }
    let meta_last =
        get_meta(meta, meta::LAST_CHECKPOINT)?.map(|v| String::from_utf8_lossy(&v).into_owned());
    if meta_last != last_note {
        r.push(
            "meta",
            meta::LAST_CHECKPOINT,
            "the last checkpoints row",
            meta_last.map_or("absent".into(), |_| "another note".to_owned()),
        );
    }
    Ok(())
}
