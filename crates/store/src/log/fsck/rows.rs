//! fsck's comparisons of stored rows with the rows the entries imply.

use std::collections::BTreeMap;

use armsledger_core::chain::Equivocation;
use redb::{ReadTransaction, ReadableTable};

use super::FsckReport;
use crate::error::StoreError;
use crate::finding::StoredFinding;
use crate::log::blocks::{TIMES_PER_BLOCK, decode_postings, decode_slots, decode_times};
use crate::log::tables::*;
use crate::log::tree::half_level;

/// Every (chain, counter, index) row of the slot blocks; malformed or
/// out-of-order blocks are reported.
pub(super) fn read_slots<T: ReadableTable<(&'static [u8], u64), &'static [u8]>>(
    r: &mut FsckReport,
    table: &T,
) -> Result<Vec<(Vec<u8>, u64, u64)>, StoreError> {
    let mut out: Vec<(Vec<u8>, u64, u64)> = Vec::new();
    for row in table.iter()? {
        let (k, v) = row?;
        let (chain, first) = k.value();
        let where_ = || format!("({}, {first})", show_chain(chain));
        match decode_slots(first, v.value()) {
            Err(e) => r.push("by_slot", where_(), "a slot block", e),
            Ok(pairs) => {
                if let (Some(prev), Some(p)) = (out.last(), pairs.first())
                    && prev.0 == chain
                    && (prev.1 >= p.0 || prev.2 >= p.1)
                {
                    r.push(
                        "by_slot",
                        where_(),
                        "a block after the previous one",
                        "overlapping",
                    );
                }
                out.extend(pairs.into_iter().map(|(c, i)| (chain.to_vec(), c, i)));
            }
        }
    }
    Ok(out)
}

/// Every (key, index) row of a posting table; malformed or out-of-order
/// blocks are reported.
pub(super) fn read_postings<T: ReadableTable<(&'static [u8], u64), &'static [u8]>>(
    r: &mut FsckReport,
    table: &T,
    t: usize,
    name: &'static str,
) -> Result<Vec<(Vec<u8>, u64)>, StoreError> {
    let mut out: Vec<(Vec<u8>, u64)> = Vec::new();
    for row in table.iter()? {
        let (k, v) = row?;
        let (key, first) = k.value();
        let where_ = || format!("({}, {first})", show_posting_key(t, key));
        match decode_postings(first, v.value()) {
            Err(e) => r.push(name, where_(), "a posting block", e),
            Ok(items) => {
                if let Some(prev) = out.last()
                    && prev.0 == key
                    && prev.1 >= first
                {
                    r.push(
                        name,
                        where_(),
                        "a block after the previous one",
                        "overlapping",
                    );
                }
                out.extend(items.into_iter().map(|i| (key.to_vec(), i)));
            }
        }
    }
    Ok(out)
}

/// One reception time per entry: blocks `0..` of 256 times, the last partial.
pub(super) fn check_received<T: ReadableTable<u64, &'static [u8]>>(
    r: &mut FsckReport,
    table: &T,
    size: u64,
) -> Result<(), StoreError> {
    let blocks = size.div_ceil(TIMES_PER_BLOCK);
    let mut seen = 0u64;
    for row in table.iter()? {
        let (k, v) = row?;
        let k = k.value();
        let want = if k < blocks {
            (size - k * TIMES_PER_BLOCK).min(TIMES_PER_BLOCK)
        } else {
            0
        };
        match decode_times(v.value()) {
            Err(e) => r.push("received_at", format!("block {k}"), "a block of times", e),
            Ok(times) if k != seen || times.len() as u64 != want => r.push(
                "received_at",
                format!("block {k}"),
                format!("{want} times"),
                format!("{} times", times.len()),
            ),
            Ok(_) => {}
        }
        seen = k + 1;
    }
    if seen < blocks {
        r.push(
            "received_at",
            format!("blocks {seen}..{blocks}"),
            "present",
            "absent",
        );
    }
    Ok(())
}

/// Compares the stored tiles with those recomputed from the entries.
pub(super) fn check_tiles<T: ReadableTable<(u8, u64), &'static [u8]>>(
    r: &mut FsckReport,
    table: &T,
    expected: &BTreeMap<(u8, u64), Vec<u8>>,
) -> Result<(), StoreError> {
    let mut stored: BTreeMap<(u8, u64), Vec<u8>> = BTreeMap::new();
    for row in table.iter()? {
        let (k, v) = row?;
        stored.insert(k.value(), v.value().to_vec());
    }
    let covers = |&(t, k): &(u8, u64), pos: u64| -> String {
        let span = 1u64.checked_shl(8 * u32::from(t)).unwrap_or(u64::MAX);
        let first = (k * 256 + pos).saturating_mul(span);
        format!(
            "({t}, {k})[{pos}] over entries {first}..{}",
            first.saturating_add(span)
        )
    };
    compare_hash_rows(r, "tiles", stored, expected, covers, |(t, k)| {
        format!("({t}, {k})")
    });
    Ok(())
}

/// Compares the stored half tiles with those recomputed from the entries.
pub(super) fn check_half_tiles<T: ReadableTable<(u8, u64), &'static [u8]>>(
    r: &mut FsckReport,
    table: &T,
    expected: &BTreeMap<(u8, u64), Vec<u8>>,
) -> Result<(), StoreError> {
    let mut stored: BTreeMap<(u8, u64), Vec<u8>> = BTreeMap::new();
    for row in table.iter()? {
        let (k, v) = row?;
        stored.insert(k.value(), v.value().to_vec());
    }
    // Hash `pos` of half tile (t, k) is node width·k + pos of its level
    // (3 for t = 0, else 8t + 4).
    let covers = |&(t, k): &(u8, u64), pos: u64| -> String {
        let (level, width) = half_level(t);
        let span = 1u64.checked_shl(level).unwrap_or(u64::MAX);
        let first = k
            .saturating_mul(width)
            .saturating_add(pos)
            .saturating_mul(span);
        format!(
            "({t}, {k})[{pos}] over entries {first}..{}",
            first.saturating_add(span)
        )
    };
    compare_hash_rows(r, "half_tiles", stored, expected, covers, |(t, k)| {
        format!("({t}, {k})")
    });
    Ok(())
}

/// Reports every hash that differs between stored and expected rows of
/// concatenated 32-byte hashes, rows that are not whole hashes, and rows
/// that should not exist.
fn compare_hash_rows<K: Ord>(
    r: &mut FsckReport,
    table: &'static str,
    mut stored: BTreeMap<K, Vec<u8>>,
    expected: &BTreeMap<K, Vec<u8>>,
    covers: impl Fn(&K, u64) -> String,
    show: impl Fn(&K) -> String,
) {
    for (key, want) in expected {
        let got = stored.remove(key).unwrap_or_default();
        let n = want.len().max(got.len()) / 32;
        let (mut w, mut g) = (
            want.chunks(32).map(hex::encode),
            got.chunks(32).map(hex::encode),
        );
        for pos in 0..n as u64 {
            let (a, b) = (w.next(), g.next());
            if a != b {
                r.push(
                    table,
                    covers(key, pos),
                    a.unwrap_or_else(|| "absent".into()),
                    b.unwrap_or_else(|| "absent".into()),
                );
            }
        }
        if !got.len().is_multiple_of(32) {
            r.push(
                table,
                show(key),
                "whole hashes",
                format!("{} bytes", got.len()),
            );
        }
    }
    for (key, got) in stored {
        r.push(
            table,
            show(&key),
            "absent",
            format!("{} hashes", got.len() / 32),
        );
    }
}

pub(super) fn check_findings_and_equivocations(
    r: &mut FsckReport,
    txn: &ReadTransaction,
    size: u64,
) -> Result<(), StoreError> {
    for row in txn.open_table(FINDINGS)?.iter()? {
        let (k, v) = row?;
        let (index, n) = k.value();
        if index >= size {
            r.push(
                "findings",
                format!("({index}, {n})"),
                format!("an entry below {size}"),
                "none",
            );
        }
        if let Err(e) = postcard::from_bytes::<StoredFinding>(v.value()) {
            r.push(
                "findings",
                format!("({index}, {n})"),
                "a postcard finding",
                e,
            );
        }
    }
    for row in txn.open_table(EQUIVOCATIONS)?.iter()? {
        let (k, v) = row?;
        let (chain, counter) = k.value();
        let key = format!("({}, {counter})", show_chain(chain));
        match postcard::from_bytes::<Equivocation>(v.value()) {
            Err(e) => r.push("equivocations", key, "a postcard equivocation", e),
            Ok(e) => {
                if let Err(err) = e.verify() {
                    r.push("equivocations", &key, "a valid proof", err);
                }
                let own = chain_key(&e.a.header.chain).ok();
                if own.as_deref() != Some(chain) || e.counter() != counter {
                    r.push(
                        "equivocations",
                        &key,
                        "the proof's own chain and counter",
                        format!("{} {}", e.a.header.chain, e.counter()),
                    );
                }
            }
        }
    }
    Ok(())
}

/// Reports rows in `expected` but not `found` and the reverse (both sorted).
pub(super) fn diff<R: Ord + Clone>(
    r: &mut FsckReport,
    table: &'static str,
    expected: &[R],
    found: Vec<R>,
    show: impl Fn(&R) -> String,
) {
    let (mut e, mut f) = (expected.iter().peekable(), found.iter().peekable());
    loop {
        match (e.peek(), f.peek()) {
            (None, None) => break,
            (Some(a), Some(b)) if a == b => {
                e.next();
                f.next();
            }
            (Some(a), Some(b)) if a < b => {
                r.push(table, show(a), "present", "absent");
                e.next();
            }
            (Some(a), None) => {
                r.push(table, show(a), "present", "absent");
                e.next();
            }
            (_, Some(b)) => {
                r.push(table, show(b), "absent", "present");
                f.next();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_reports_both_directions() {
        let mut r = FsckReport::default();
        diff(&mut r, "by_hash", &[1u64, 2, 4], vec![2, 3, 4, 5], |i| {
            i.to_string()
        });
        let got: Vec<String> = r.problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(
            got,
            [
                "by_hash[1]: expected present, found absent",
                "by_hash[3]: expected absent, found present",
                "by_hash[5]: expected absent, found present",
            ]
        );
        assert!(!r.is_clean());
        assert!(r.to_string().contains("PROBLEMS"));
    }
}
