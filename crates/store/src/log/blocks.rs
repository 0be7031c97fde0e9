//! Index rows packed into blocks, so an index costs a few bytes per entry
//! instead of a B-tree row each.
//!
//! Every index the log keeps grows at the end of each key's list: a
//! subject's next event has a higher log index, a chain's next entry a
//! higher counter. One row per (key, index) would insert into the middle of
//! the B-tree on every append, splitting leaves that never fill again (half
//! the page wasted, measured). Instead each key's list is cut into blocks of
//! at most [`POSTINGS_PER_BLOCK`] (or [`SLOTS_PER_BLOCK`]) items, keyed by
//! (key, first item), with LEB128 deltas as the value; only the last block
//! of a key is ever rewritten.
//!
//! ```text
//! posting block  (subject, first index) → delta(index[1] - index[0]) delta(…) …
//! slot block     (chain, first counter) → index[0] (delta counter, delta index)…
//! ```
//!
//! Deltas are at least 1 (strictly increasing lists); a zero delta, a
//! truncated varint or an over-long one is malformed.

use std::collections::{BTreeMap, HashMap};

use redb::{ReadableTable, Table};

use crate::error::StoreError;

/// Most indexes in one posting block.
pub(crate) const POSTINGS_PER_BLOCK: usize = 128;
/// Most (counter, index) pairs in one slot block.
pub(crate) const SLOTS_PER_BLOCK: usize = 64;

/// Appends the LEB128 encoding of `v`.
pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads one canonical LEB128 varint from the front of `bytes`.
pub(crate) fn get_varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut v: u64 = 0;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = bytes.split_first()?;
        *bytes = rest;
        let part = u64::from(b & 0x7f);
        if shift == 63 && part > 1 {
            return None;
        }
        v |= part << shift;
        if b & 0x80 == 0 {
            // Canonical: no trailing zero groups.
            return (b != 0 || shift == 0).then_some(v);
        }
    }
    None
}

/// Encodes an increasing posting list whose first item is the block key.
pub(crate) fn encode_postings(items: &[u64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(items.len() * 2);
    for w in items.windows(2) {
        if let [a, b] = w {
            put_varint(&mut out, b - a);
        }
    }
    out
}

/// Decodes a posting block keyed by `first`.
pub(crate) fn decode_postings(first: u64, mut bytes: &[u8]) -> Result<Vec<u64>, &'static str> {
    let mut out = vec![first];
    let mut last = first;
    while !bytes.is_empty() {
        let d = get_varint(&mut bytes).ok_or("malformed varint")?;
        if d == 0 {
            return Err("indexes do not increase");
        }
        last = last.checked_add(d).ok_or("index overflows")?;
        out.push(last);
    }
    if out.len() > POSTINGS_PER_BLOCK {
        return Err("block holds too many indexes");
    }
    Ok(out)
}

/// Encodes (counter, index) pairs whose first counter is the block key.
pub(crate) fn encode_slots(pairs: &[(u64, u64)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(pairs.len() * 3);
    if let Some((_, index)) = pairs.first() {
        put_varint(&mut out, *index);
    }
    for w in pairs.windows(2) {
        if let [(c0, i0), (c1, i1)] = w {
            put_varint(&mut out, c1 - c0);
            put_varint(&mut out, i1 - i0);
        }
    }
    out
}

/// Decodes a slot block keyed by `first` (a counter).
pub(crate) fn decode_slots(first: u64, mut bytes: &[u8]) -> Result<Vec<(u64, u64)>, &'static str> {
    let index = get_varint(&mut bytes).ok_or("malformed varint")?;
    let mut out = vec![(first, index)];
    let (mut c, mut i) = (first, index);
    while !bytes.is_empty() {
        let dc = get_varint(&mut bytes).ok_or("malformed varint")?;
        let di = get_varint(&mut bytes).ok_or("malformed varint")?;
        if dc == 0 || di == 0 {
            return Err("counters or indexes do not increase");
        }
        c = c.checked_add(dc).ok_or("counter overflows")?;
        i = i.checked_add(di).ok_or("index overflows")?;
        out.push((c, i));
    }
    if out.len() > SLOTS_PER_BLOCK {
        return Err("block holds too many slots");
    }
    Ok(out)
}

/// A list table keyed by (key bytes, first item).
pub(crate) type BlockTable<'t> = Table<'t, (&'static [u8], u64), &'static [u8]>;

/// The last block of `key`, if any: its first item and value.
pub(crate) fn last_block<T>(table: &T, key: &[u8]) -> Result<Option<(u64, Vec<u8>)>, StoreError>
where
    T: ReadableTable<(&'static [u8], u64), &'static [u8]>,
{
    let row = table.range((key, 0)..=(key, u64::MAX))?.next_back();
    match row {
        Some(row) => {
            let (k, v) = row?;
            Ok(Some((k.value().1, v.value().to_vec())))
        }
        None => Ok(None),
    }
}

/// The block of `key` holding `item` or the last one before it.
pub(crate) fn block_at<T>(
    table: &T,
    key: &[u8],
    item: u64,
) -> Result<Option<(u64, Vec<u8>)>, StoreError>
where
    T: ReadableTable<(&'static [u8], u64), &'static [u8]>,
{
    let row = table.range((key, 0)..=(key, item))?.next_back();
    match row {
        Some(row) => {
            let (k, v) = row?;
            Ok(Some((k.value().1, v.value().to_vec())))
        }
        None => Ok(None),
    }
}

/// The tail block of one key while a batch appends to it.
struct Tail<T> {
    items: Vec<T>,
}

/// Posting lists being appended to in one write transaction.
#[derive(Default)]
pub(crate) struct PostingWriter {
    tails: HashMap<Vec<u8>, Tail<u64>>,
    sealed: Vec<(Vec<u8>, Vec<u64>)>,
}

impl PostingWriter {
    /// Appends `index` to the list of `key` (indexes arrive increasing).
    pub(crate) fn add<T>(&mut self, table: &T, key: &[u8], index: u64) -> Result<(), StoreError>
    where
        T: ReadableTable<(&'static [u8], u64), &'static [u8]>,
    {
        if !self.tails.contains_key(key) {
            let items = match last_block(table, key)? {
                Some((first, v)) => decode_postings(first, &v)
                    .map_err(|e| StoreError::malformed("postings", hex::encode(key), e))?,
                None => Vec::new(),
            };
            self.tails.insert(key.to_vec(), Tail { items });
        }
        let Some(tail) = self.tails.get_mut(key) else {
            return Ok(());
        };
        if let Some(&last) = tail.items.last()
            && last >= index
        {
            return Err(StoreError::TreeInconsistent(format!(
                "posting {index} after {last} for {}",
                hex::encode(key)
            )));
        }
        let full =
            (tail.items.len() >= POSTINGS_PER_BLOCK).then(|| std::mem::take(&mut tail.items));
        tail.items.push(index);
        if let Some(full) = full {
            self.sealed.push((key.to_vec(), full));
        }
        Ok(())
    }

    /// Writes every changed block.
    pub(crate) fn flush(self, table: &mut BlockTable<'_>) -> Result<(), StoreError> {
        let tails = self.tails.into_iter().map(|(k, t)| (k, t.items));
        for (key, items) in self.sealed.into_iter().chain(tails) {
            if let Some(&first) = items.first() {
                table.insert((key.as_slice(), first), encode_postings(&items).as_slice())?;
            }
        }
        Ok(())
    }
}

/// (counter, log index) pairs of one chain, in order.
type Slots = Vec<(u64, u64)>;

/// The slot index of one write transaction: lookups see the batch's own appends.
#[derive(Default)]
pub(crate) struct SlotWriter {
    tails: HashMap<Vec<u8>, Tail<(u64, u64)>>,
    sealed: Vec<(Vec<u8>, Slots)>,
}

impl SlotWriter {
    fn tail<T>(&mut self, table: &T, chain: &[u8]) -> Result<&mut Tail<(u64, u64)>, StoreError>
    where
        T: ReadableTable<(&'static [u8], u64), &'static [u8]>,
    {
        if !self.tails.contains_key(chain) {
            let items = match last_block(table, chain)? {
                Some((first, v)) => decode_slots(first, &v)
                    .map_err(|e| StoreError::malformed("by_slot", hex::encode(chain), e))?,
                None => Vec::new(),
            };
            self.tails.insert(chain.to_vec(), Tail { items });
        }
        self.tails
            .get_mut(chain)
            .ok_or_else(|| StoreError::missing("by_slot", hex::encode(chain)))
    }

    /// The log index at (chain, counter), and the chain's last counter.
    pub(crate) fn lookup<T>(
        &mut self,
        table: &T,
        chain: &[u8],
        counter: u64,
    ) -> Result<(Option<u64>, Option<u64>), StoreError>
    where
        T: ReadableTable<(&'static [u8], u64), &'static [u8]>,
    {
        let tail = self.tail(table, chain)?;
        let last = tail.items.last().map(|p| p.0);
        if let Some(found) = tail.items.iter().find(|p| p.0 == counter) {
            return Ok((Some(found.1), last));
        }
        if tail.items.first().is_some_and(|p| p.0 <= counter) {
            return Ok((None, last));
        }
        let sealed = self
            .sealed
            .iter()
            .filter(|(c, _)| c.as_slice() == chain)
            .flat_map(|(_, pairs)| pairs.iter())
            .find(|p| p.0 == counter)
            .map(|p| p.1);
        if sealed.is_some() {
            return Ok((sealed, last));
        }
        let stored = match block_at(table, chain, counter)? {
            Some((first, v)) => decode_slots(first, &v)
                .map_err(|e| StoreError::malformed("by_slot", hex::encode(chain), e))?
                .into_iter()
                .find(|p| p.0 == counter)
                .map(|p| p.1),
            None => None,
        };
        Ok((stored, last))
    }

    /// Appends (counter, index); the counter must be above the chain's last.
    pub(crate) fn add<T>(
        &mut self,
        table: &T,
        chain: &[u8],
        counter: u64,
        index: u64,
    ) -> Result<(), StoreError>
    where
        T: ReadableTable<(&'static [u8], u64), &'static [u8]>,
    {
        let tail = self.tail(table, chain)?;
        if let Some(&(c, i)) = tail.items.last()
            && (c >= counter || i >= index)
        {
            return Err(StoreError::TreeInconsistent(format!(
                "slot ({counter}, {index}) after ({c}, {i})"
            )));
        }
        let full = (tail.items.len() >= SLOTS_PER_BLOCK).then(|| std::mem::take(&mut tail.items));
        tail.items.push((counter, index));
        if let Some(full) = full {
            self.sealed.push((chain.to_vec(), full));
        }
        Ok(())
    }

    /// Writes every changed block.
    pub(crate) fn flush(self, table: &mut BlockTable<'_>) -> Result<(), StoreError> {
        let tails = self.tails.into_iter().map(|(k, t)| (k, t.items));
        for (chain, pairs) in self.sealed.into_iter().chain(tails) {
            if let Some(&(first, _)) = pairs.first() {
                table.insert((chain.as_slice(), first), encode_slots(&pairs).as_slice())?;
            }
        }
        Ok(())
    }
}

/// Reception times, 256 to a block keyed by `index / 256`: the first time
/// as a varint, then zigzag varint differences (server clocks may step back).
#[derive(Default)]
pub(crate) struct TimeBlocks {
    blocks: BTreeMap<u64, Vec<u64>>,
}

/// Times per block.
pub(crate) const TIMES_PER_BLOCK: u64 = 256;

/// Encodes a block of times.
pub(crate) fn encode_times(times: &[u64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(times.len() * 2 + 8);
    let mut prev = 0u64;
    for (i, &t) in times.iter().enumerate() {
        if i == 0 {
            put_varint(&mut out, t);
        } else {
            let d = t.wrapping_sub(prev) as i64;
            put_varint(&mut out, ((d << 1) ^ (d >> 63)) as u64);
        }
        prev = t;
    }
    out
}

/// Decodes a block of times.
pub(crate) fn decode_times(mut bytes: &[u8]) -> Result<Vec<u64>, &'static str> {
    let mut out = Vec::new();
    let mut prev = 0u64;
    while !bytes.is_empty() {
        let v = get_varint(&mut bytes).ok_or("malformed varint")?;
        let t = if out.is_empty() {
            v
        } else {
            let d = ((v >> 1) as i64) ^ -((v & 1) as i64);
            prev.wrapping_add(d as u64)
        };
        out.push(t);
        prev = t;
    }
    if out.len() as u64 > TIMES_PER_BLOCK {
        return Err("block holds too many times");
    }
    Ok(out)
}

/// Reads reception times by log index, keeping the last block it decoded
/// (readers go through indexes in order: a leaf group, a tile, the log).
#[derive(Default)]
pub(crate) struct TimeReader {
    block: Option<(u64, Vec<u64>)>,
}

impl TimeReader {
    /// The reception time of entry `index`, in ms.
    pub(crate) fn get<T>(&mut self, table: &T, index: u64) -> Result<u64, StoreError>
    where
        T: ReadableTable<u64, &'static [u8]>,
    {
        let k = index / TIMES_PER_BLOCK;
        if self.block.as_ref().is_none_or(|(have, _)| *have != k) {
            let times = match table.get(k)? {
                Some(g) => decode_times(g.value())
                    .map_err(|e| StoreError::malformed("received_at", k, e))?,
                None => Vec::new(),
            };
            self.block = Some((k, times));
        }
        let at = usize::try_from(index % TIMES_PER_BLOCK).unwrap_or(usize::MAX);
        self.block
            .as_ref()
            .and_then(|(_, times)| times.get(at).copied())
            .ok_or_else(|| StoreError::missing("received_at", index))
    }
}

impl TimeBlocks {
    /// Sets the time of `index`, which must be the next one.
    pub(crate) fn push<T>(&mut self, table: &T, index: u64, time: u64) -> Result<(), StoreError>
    where
        T: ReadableTable<u64, &'static [u8]>,
    {
        let (k, pos) = (index / TIMES_PER_BLOCK, index % TIMES_PER_BLOCK);
        let times = match self.blocks.entry(k) {
            std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::btree_map::Entry::Vacant(v) => {
                let stored = match table.get(k)? {
                    Some(g) => decode_times(g.value())
                        .map_err(|e| StoreError::malformed("received_at", k, e))?,
                    None => Vec::new(),
                };
                v.insert(stored)
            }
        };
        if times.len() as u64 != pos {
            return Err(StoreError::TreeInconsistent(format!(
                "received_at block {k} holds {} times where time {pos} goes",
                times.len()
            )));
        }
        times.push(time);
        Ok(())
    }

    /// Writes every changed block.
    pub(crate) fn flush(self, table: &mut Table<'_, u64, &'static [u8]>) -> Result<(), StoreError> {
        for (k, v) in self.blocks {
            table.insert(k, encode_times(&v).as_slice())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_and_are_canonical() {
        for v in [0, 1, 127, 128, 300, 1 << 35, u64::MAX] {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            let mut s = b.as_slice();
            assert_eq!(get_varint(&mut s), Some(v));
            assert!(s.is_empty());
        }
        for bad in [&[0x80u8, 0x00][..], &[0xff; 10][..], &[0x80][..], &[]] {
            let mut s = bad;
            assert_eq!(get_varint(&mut s), None, "{bad:?}");
        }
    }

    #[test]
    fn blocks_round_trip_and_refuse_non_increasing() {
        let items = [5, 6, 200, 1_000_000];
        assert_eq!(decode_postings(5, &encode_postings(&items)).unwrap(), items);
        assert_eq!(encode_postings(&[5]), Vec::<u8>::new());
        assert!(decode_postings(5, &[0]).is_err());
        let pairs = [(3, 10), (4, 11), (9, 500)];
        assert_eq!(decode_slots(3, &encode_slots(&pairs)).unwrap(), pairs);
        assert!(decode_slots(3, &[10, 0, 1]).is_err());
        assert!(decode_slots(3, &[]).is_err());
        let times = [
            1_767_225_600_000,
            1_767_225_600_005,
            1_767_225_599_000,
            0,
            u64::MAX,
        ];
        assert_eq!(decode_times(&encode_times(&times)).unwrap(), times);
        assert_eq!(encode_times(&[300, 301, 299]), [0xac, 0x02, 2, 3]);
    }
}
