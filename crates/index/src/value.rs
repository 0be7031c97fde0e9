//! Leaf values: what the map says about a subject. A leaf holds one record
//! per history it answers for: the chain itself, each firearm filed under a
//! serial, each site chain holding a lot. A record is the newest entry of
//! that history: its log index, its entry hash and how many entries the
//! history has had (a chain's counter).
//!
//! ```text
//! value  = 0x01 ‖ kind (u8) ‖ count (u16 BE) ‖ record × count, sorted by label, no repeats
//! record = label length (u8, ≥ 1) ‖ label ‖ log index (u64 BE) ‖ entry hash (32) ‖ seq (u64 BE)
//! ```

use armsledger_core::hash::Hash;

use crate::error::MapError;

/// The value format's version byte.
pub const VALUE_VERSION: u8 = 1;
/// Prefix of a value's hash, which the leaf hash commits to.
pub const VALUE_TAG: &[u8] = b"armsledger:map-value:v1\0";
/// Most records in one leaf (firearms sharing a serial, sites holding a lot).
pub const MAX_RECORDS: usize = 2048;
/// Largest encoded value, checked before decoding anything.
pub const MAX_VALUE_BYTES: usize = 4 + MAX_RECORDS * (1 + 255 + 48);

/// Which kind of subject a leaf is for; the label of its records says which
/// history within it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// A chain; one record labelled with the chain's text (`regulator`, `site:<id>`).
    Chain = 0,
    /// A normalised serial; one record per firearm, labelled with its 16-byte id.
    Serial = 1,
    /// An ammunition lot; one record per site chain, labelled with the chain's text.
    Lot = 2,
    /// A firearm with no serial recorded yet; one record labelled with its id.
    Firearm = 3,
}

impl Kind {
    fn from_byte(b: u8) -> Option<Kind> {
        Some(match b {
            0 => Kind::Chain,
            1 => Kind::Serial,
            2 => Kind::Lot,
            3 => Kind::Firearm,
            _ => return None,
        })
    }

    /// The name used in reports and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Chain => "chain",
            Kind::Serial => "serial",
            Kind::Lot => "lot",
            Kind::Firearm => "firearm",
        }
    }
}

/// The newest entry of one history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Which history: a chain's text, or a firearm's 16-byte id.
    pub label: Vec<u8>,
    /// The newest entry's index in the global log.
    pub log_index: u64,
    /// The newest entry's hash.
    pub entry_hash: Hash,
    /// Entries in the history so far (for a chain: the newest entry's counter).
    pub seq: u64,
}

/// A leaf's value: a kind and its records, sorted by label.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeafValue {
    kind: Kind,
    records: Vec<Record>,
}

impl LeafValue {
    /// An empty value of `kind` (not a valid leaf until a record is added).
    pub fn new(kind: Kind) -> LeafValue {
        LeafValue {
            kind,
            records: Vec::new(),
        }
    }

    /// The kind.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The records, sorted by label.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// The record for `label`.
    pub fn get(&self, label: &[u8]) -> Option<&Record> {
        self.records
            .binary_search_by(|r| r.label.as_slice().cmp(label))
            .ok()
            .and_then(|i| self.records.get(i))
    }

    /// Sets the record for `record.label`, replacing an older one.
    pub fn put(&mut self, record: Record) -> Result<(), MapError> {
        if record.label.is_empty() || record.label.len() > 255 {
            return Err(MapError::BadLabel {
                len: record.label.len(),
            });
        }
        match self
            .records
            .binary_search_by(|r| r.label.as_slice().cmp(&record.label))
        {
            Ok(i) => {
                if let Some(r) = self.records.get_mut(i) {
                    *r = record;
                }
            }
            Err(i) => {
                if self.records.len() >= MAX_RECORDS {
                    return Err(MapError::TooManyRecords { max: MAX_RECORDS });
                }
                self.records.insert(i, record);
            }
        }
        Ok(())
    }

    /// The canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + self.records.len() * 64);
        out.push(VALUE_VERSION);
        out.push(self.kind as u8);
        // `put` keeps the count within MAX_RECORDS < u16::MAX.
        out.extend_from_slice(&(self.records.len() as u16).to_be_bytes());
        for r in &self.records {
            out.push(r.label.len() as u8);
            out.extend_from_slice(&r.label);
            out.extend_from_slice(&r.log_index.to_be_bytes());
            out.extend_from_slice(&r.entry_hash.0);
            out.extend_from_slice(&r.seq.to_be_bytes());
        }
        out
    }

    /// The hash a leaf commits to: `SHA-256(VALUE_TAG ‖ encoding)`.
    pub fn hash(&self) -> Hash {
        value_hash(&self.encode())
    }

    /// Decodes a canonical encoding (size checked first; records sorted,
    /// unique, at least one; nothing left over).
    pub fn decode(bytes: &[u8]) -> Result<LeafValue, MapError> {
        let bad = |why: &'static str| MapError::BadValue { why };
        if bytes.len() > MAX_VALUE_BYTES {
            return Err(MapError::TooLarge {
                what: "leaf value",
                len: bytes.len(),
                max: MAX_VALUE_BYTES,
            });
        }
        let mut r = Reader(bytes);
        if r.u8().ok_or(bad("empty"))? != VALUE_VERSION {
            return Err(bad("unknown version"));
        }
        let kind = Kind::from_byte(r.u8().ok_or(bad("no kind"))?).ok_or(bad("unknown kind"))?;
        let count = usize::from(u16::from_be_bytes(r.array().ok_or(bad("no count"))?));
        if count == 0 || count > MAX_RECORDS {
            return Err(bad("record count out of range"));
        }
        let mut records: Vec<Record> = Vec::with_capacity(count);
        for _ in 0..count {
            let len = usize::from(r.u8().ok_or(bad("truncated record"))?);
            if len == 0 {
                return Err(bad("empty label"));
            }
            let label = r.take(len).ok_or(bad("truncated label"))?.to_vec();
            if records.last().is_some_and(|p| p.label >= label) {
                return Err(bad("records not sorted by label"));
            }
            let log_index = u64::from_be_bytes(r.array().ok_or(bad("truncated record"))?);
            let entry_hash = Hash(r.array().ok_or(bad("truncated record"))?);
            let seq = u64::from_be_bytes(r.array().ok_or(bad("truncated record"))?);
            records.push(Record {
                label,
                log_index,
                entry_hash,
                seq,
            });
        }
        if !r.0.is_empty() {
            return Err(bad("trailing bytes"));
        }
        Ok(LeafValue { kind, records })
    }
}

/// `SHA-256(VALUE_TAG ‖ bytes)`.
pub fn value_hash(bytes: &[u8]) -> Hash {
    Hash::of(&[VALUE_TAG, bytes])
}

/// A cursor over bytes that never reads past the end.
pub(crate) struct Reader<'a>(pub(crate) &'a [u8]);

impl<'a> Reader<'a> {
    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        self.take(1).and_then(|b| b.first().copied())
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N).and_then(|b| b.try_into().ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(label: &[u8], i: u64) -> Record {
        Record {
            label: label.to_vec(),
            log_index: i,
            entry_hash: Hash([i as u8; 32]),
            seq: i + 1,
        }
    }

    #[test]
    fn round_trip_sorted() {
        let mut v = LeafValue::new(Kind::Lot);
        v.put(rec(b"site:b", 2)).unwrap();
        v.put(rec(b"site:a", 1)).unwrap();
        v.put(rec(b"site:b", 3)).unwrap();
        assert_eq!(v.records().len(), 2);
        assert_eq!(v.get(b"site:b").unwrap().log_index, 3);
        let back = LeafValue::decode(&v.encode()).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn non_canonical_values_are_refused() {
        let mut v = LeafValue::new(Kind::Chain);
        v.put(rec(b"regulator", 1)).unwrap();
        let good = v.encode();
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(LeafValue::decode(&trailing).is_err());
        assert!(LeafValue::decode(&good[..good.len() - 1]).is_err());
        let mut version = good.clone();
        version[0] = 2;
        assert!(LeafValue::decode(&version).is_err());
        let mut kind = good.clone();
        kind[1] = 9;
        assert!(LeafValue::decode(&kind).is_err());
        assert!(LeafValue::decode(&[1, 0, 0, 0]).is_err(), "no records");
        // Two records out of order.
        let mut two = LeafValue::new(Kind::Lot);
        two.put(rec(b"a", 1)).unwrap();
        two.put(rec(b"b", 2)).unwrap();
        let mut bytes = two.encode();
        let at = 4 + 1;
        bytes[at] = b'c';
        assert!(LeafValue::decode(&bytes).is_err());
        assert!(LeafValue::decode(&vec![1u8; MAX_VALUE_BYTES + 1]).is_err());
    }

    #[test]
    fn labels_are_bounded() {
        let mut v = LeafValue::new(Kind::Chain);
        assert!(v.put(rec(b"", 1)).is_err());
        assert!(v.put(rec(&[b'x'; 256], 1)).is_err());
        assert!(v.put(rec(&[b'x'; 255], 1)).is_ok());
    }
}
