//! The witness's state: one redb file (`witness.redb` in the data directory).
//!
//! | table | key | value |
//! |---|---|---|
//! | `logs` | origin | the log's verifier keys, one per line; only ever grows |
//! | `latest` | origin | `0x01 ‖ size (u64 BE) ‖ root (32) ‖ cosigned note` |
//! | `evidence` | (origin, SHA-256 of the refused note) | see [`Evidence`] |
//!
//! Every submission is checked against `latest` and its outcome persisted
//! in ONE write transaction; redb runs one writer at a time, so two
//! submissions for a log are strictly ordered, and a cosignature is only
//! answered after its state is durably committed.

use std::ops::Bound;
use std::path::Path;

use armsledger_log::{Hash, LogVerifier};
use redb::{
    Database, ReadableDatabase, ReadableTable, StorageBackend, TableDefinition, WriteTransaction,
};
use sha2::{Digest as _, Sha256};

use crate::{Faults, WitnessError};

const LOGS: TableDefinition<&str, &str> = TableDefinition::new("logs");
const LATEST: TableDefinition<&str, &[u8]> = TableDefinition::new("latest");
const EVIDENCE: TableDefinition<(&str, &[u8]), &[u8]> = TableDefinition::new("evidence");

/// Version byte of `latest` and `evidence` records.
const RECORD_V1: u8 = 0x01;

/// The latest checkpoint this witness cosigned for a log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Latest {
    /// Its tree size.
    pub size: u64,
    /// Its root hash.
    pub root: Hash,
    /// The note served to monitors: body, the log's verified signature
    /// lines, this witness's cosignature line.
    pub note: String,
}

impl Latest {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(41 + self.note.len());
        out.push(RECORD_V1);
        out.extend_from_slice(&self.size.to_be_bytes());
        out.extend_from_slice(self.root.as_bytes());
        out.extend_from_slice(self.note.as_bytes());
        out
    }

    fn decode(bytes: &[u8]) -> Result<Self, WitnessError> {
        let bad = || WitnessError::StorageCorrupt("latest record");
        let (&version, rest) = bytes.split_first().ok_or_else(bad)?;
        let (size, rest) = rest.split_first_chunk::<8>().ok_or_else(bad)?;
        let (root, note) = rest.split_first_chunk::<32>().ok_or_else(bad)?;
        if version != RECORD_V1 {
            return Err(WitnessError::StorageCorrupt("latest record version"));
        }
        Ok(Self {
            size: u64::from_be_bytes(*size),
            root: Hash(*root),
            note: String::from_utf8(note.to_vec())
                .map_err(|_| WitnessError::StorageCorrupt("latest note"))?,
        })
    }
}

/// Why a checkpoint from a known log was refused as evidence of misbehaviour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EvidenceKind {
    /// Same size as the cosigned checkpoint, another root: a split view.
    SameSizeDifferentRoot = 1,
    /// No valid consistency proof from the cosigned checkpoint to it.
    Inconsistent = 2,
    /// A size-0 checkpoint whose root is not SHA-256 of nothing.
    EmptyTreeRoot = 3,
}

impl EvidenceKind {
    fn from_byte(b: u8) -> Option<Self> {
        match b {
            1 => Some(Self::SameSizeDifferentRoot),
            2 => Some(Self::Inconsistent),
            3 => Some(Self::EmptyTreeRoot),
            _ => None,
        }
    }
}

/// A refused checkpoint kept as evidence, keyed by the refused note's hash
/// (so a replayed refusal is kept once).
///
/// Record: `0x01 ‖ kind (1) ‖ time (u64 BE) ‖ len (u32 BE) ‖ cosigned note
/// (len bytes; empty if none yet) ‖ the refused request body`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    /// Why it was refused.
    pub kind: EvidenceKind,
    /// Unix seconds when it was refused.
    pub time: u64,
    /// The witness's cosigned note at the time (empty: none yet).
    pub cosigned_note: String,
    /// The refused add-checkpoint body: old line, proof, the log-signed note.
    pub request: Vec<u8>,
}

impl Evidence {
    fn encode(&self) -> Result<Vec<u8>, WitnessError> {
        let len = u32::try_from(self.cosigned_note.len())
            .map_err(|_| WitnessError::StorageCorrupt("evidence note too long"))?;
        let mut out = Vec::with_capacity(14 + self.cosigned_note.len() + self.request.len());
        out.push(RECORD_V1);
        out.push(self.kind as u8);
        out.extend_from_slice(&self.time.to_be_bytes());
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(self.cosigned_note.as_bytes());
        out.extend_from_slice(&self.request);
        Ok(out)
    }

    fn decode(bytes: &[u8]) -> Result<Self, WitnessError> {
        let bad = || WitnessError::StorageCorrupt("evidence record");
        let ([version, kind], rest) = bytes
            .split_first_chunk::<2>()
            .map(|(h, r)| (*h, r))
            .ok_or_else(bad)?;
        let (time, rest) = rest.split_first_chunk::<8>().ok_or_else(bad)?;
        let (len, rest) = rest.split_first_chunk::<4>().ok_or_else(bad)?;
        let len = usize::try_from(u32::from_be_bytes(*len)).map_err(|_| bad())?;
        let (note, request) = rest.split_at_checked(len).ok_or_else(bad)?;
        if version != RECORD_V1 {
            return Err(bad());
        }
        Ok(Self {
            kind: EvidenceKind::from_byte(kind).ok_or_else(bad)?,
            time: u64::from_be_bytes(*time),
            cosigned_note: String::from_utf8(note.to_vec()).map_err(|_| bad())?,
            request: request.to_vec(),
        })
    }
}

/// What one submission's check decided.
pub(crate) enum Outcome {
    /// Persist this as the log's latest, then answer.
    Cosign(Latest),
    /// Refuse; keep the evidence first if there is some.
    Refuse(WitnessError, Option<(Vec<u8>, Evidence)>),
}

/// The witness's redb database.
pub struct Store {
    db: Database,
    faults: Faults,
}

impl Store {
    /// Opens or creates `path`; `faults` may count its I/O (tests only).
    pub fn open(path: &Path, faults: Faults) -> Result<Self, WitnessError> {
        let db = if faults.counts_io() {
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)
                .map_err(|e| WitnessError::Storage(format!("{}: {e}", path.display())))?;
            let backend = CountingBackend {
                inner: redb::backends::FileBackend::new(file)?,
                faults: faults.clone(),
            };
            redb::Builder::new().create_with_backend(backend)?
        } else {
            Database::create(path)?
        };
        let txn = db.begin_write()?;
        txn.open_table(LOGS)?;
        txn.open_table(LATEST)?;
        txn.open_table(EVIDENCE)?;
        txn.commit()?;
        Ok(Self { db, faults })
    }

    /// Adds logs and keys not yet known. Nothing is ever removed: a log
    /// re-added from nothing could be made to cosign a split view. Returns
    /// the verifier keys that were new.
    pub fn add_logs(&self, logs: &[LogVerifier]) -> Result<Vec<String>, WitnessError> {
        let txn = self.db.begin_write()?;
        let mut added = Vec::new();
        {
            let mut table = txn.open_table(LOGS)?;
            for log in logs {
                let vkey = log.to_string();
                let mut keys: Vec<String> = match table.get(log.name())? {
                    Some(v) => v.value().lines().map(str::to_owned).collect(),
                    None => Vec::new(),
                };
                if keys.contains(&vkey) {
                    continue;
                }
                keys.push(vkey.clone());
                table.insert(log.name(), keys.join("\n").as_str())?;
                added.push(vkey);
            }
        }
        txn.commit()?;
        Ok(added)
    }

    /// Every known origin with its keys.
    pub fn logs(&self) -> Result<Vec<(String, Vec<LogVerifier>)>, WitnessError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(LOGS)?;
        let mut out = Vec::new();
        for row in table.iter()? {
            let (origin, keys) = row?;
            out.push((origin.value().to_owned(), parse_keys(keys.value())?));
        }
        Ok(out)
    }

    /// The keys trusted for `origin`, `None` if the log is unknown.
    pub fn log_keys(&self, origin: &str) -> Result<Option<Vec<LogVerifier>>, WitnessError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(LOGS)?;
        let keys = table.get(origin)?;
        keys.map(|k| parse_keys(k.value())).transpose()
    }

    /// The latest cosigned checkpoint of `origin`.
    pub fn latest(&self, origin: &str) -> Result<Option<Latest>, WitnessError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(LATEST)?;
        let row = table.get(origin)?;
        row.map(|r| Latest::decode(r.value())).transpose()
    }

    /// The evidence kept for `origin`, in key order.
    pub fn evidence(&self, origin: &str) -> Result<Vec<Evidence>, WitnessError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(EVIDENCE)?;
        let mut out = Vec::new();
        for row in table.range((origin, &[][..])..)? {
            let (key, value) = row?;
            if key.value().0 != origin {
                break;
            }
            out.push(Evidence::decode(value.value())?);
        }
        Ok(out)
    }

    /// The one atomic step: reads the log's latest, lets `decide` check the
    /// submission against it, and persists the outcome in the same write
    /// transaction. Returns the decision's error for refusals.
    pub(crate) fn check_and_persist(
        &self,
        origin: &str,
        decide: impl FnOnce(Option<Latest>) -> Outcome,
    ) -> Result<(), WitnessError> {
        let txn = self.db.begin_write()?;
        let latest = {
            let table = txn.open_table(LATEST)?;
            let row = table.get(origin)?;
            row.map(|r| Latest::decode(r.value())).transpose()?
        };
        match decide(latest) {
            Outcome::Cosign(new) => {
                self.faults.point("checked");
                txn.open_table(LATEST)?
                    .insert(origin, new.encode().as_slice())?;
                self.faults.point("before-commit");
                txn.commit()?;
                self.faults.point("after-commit");
                Ok(())
            }
            Outcome::Refuse(err, None) => {
                txn.abort()?;
                Err(err)
            }
            Outcome::Refuse(err, Some((refused_note, evidence))) => {
                self.keep_evidence(&txn, origin, &refused_note, &evidence)?;
                self.faults.point("evidence-before-commit");
                txn.commit()?;
                Err(err)
            }
        }
    }

    fn keep_evidence(
        &self,
        txn: &WriteTransaction,
        origin: &str,
        refused_note: &[u8],
        evidence: &Evidence,
    ) -> Result<(), WitnessError> {
        let digest: [u8; 32] = Sha256::digest(refused_note).into();
        let mut table = txn.open_table(EVIDENCE)?;
        if table.get((origin, &digest[..]))?.is_none() {
            table.insert((origin, &digest[..]), evidence.encode()?.as_slice())?;
        }
        Ok(())
    }
}

fn parse_keys(text: &str) -> Result<Vec<LogVerifier>, WitnessError> {
    text.lines()
        .map(|k| {
            LogVerifier::from_vkey(k).map_err(|_| WitnessError::StorageCorrupt("stored log key"))
        })
        .collect()
}

/// redb's file backend with every write, sync and resize counted, so a
/// fault-injection build can stop the process at any of them.
#[derive(Debug)]
struct CountingBackend {
    inner: redb::backends::FileBackend,
    faults: Faults,
}

impl StorageBackend for CountingBackend {
    fn len(&self) -> Result<u64, std::io::Error> {
        self.inner.len()
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), std::io::Error> {
        self.inner.read(offset, out)
    }

    fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
        self.faults.io("set_len");
        self.inner.set_len(len)
    }

    fn sync_data(&self) -> Result<(), std::io::Error> {
        self.faults.io("sync");
        self.inner.sync_data()
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
        self.faults.io("write");
        self.inner.write(offset, data)
    }

    fn close(&self) -> Result<(), std::io::Error> {
        self.inner.close()
    }

    fn try_lock_range(&self, s: Bound<u64>, e: Bound<u64>) -> Result<bool, redb::BackendError> {
        self.inner.try_lock_range(s, e)
    }

    fn try_lock_shared_range(
        &self,
        s: Bound<u64>,
        e: Bound<u64>,
    ) -> Result<bool, redb::BackendError> {
        self.inner.try_lock_shared_range(s, e)
    }

    fn lock_range(&self, s: Bound<u64>, e: Bound<u64>) -> Result<(), redb::BackendError> {
        self.inner.lock_range(s, e)
    }

    fn lock_shared_range(&self, s: Bound<u64>, e: Bound<u64>) -> Result<(), redb::BackendError> {
        self.inner.lock_shared_range(s, e)
    }

    fn unlock_range(&self, s: Bound<u64>, e: Bound<u64>) -> Result<(), redb::BackendError> {
        self.inner.unlock_range(s, e)
    }

    fn query_lock_range(&self, s: Bound<u64>, e: Bound<u64>) -> Result<bool, redb::BackendError> {
        self.inner.query_lock_range(s, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_refuse_garbage() {
        let latest = Latest {
            size: 7,
            root: Hash([5; 32]),
            note: "n\n".into(),
        };
        assert_eq!(Latest::decode(&latest.encode()).unwrap(), latest);
        let ev = Evidence {
            kind: EvidenceKind::SameSizeDifferentRoot,
            time: 9,
            cosigned_note: "a\n".into(),
            request: b"old 1\n\nb\n".to_vec(),
        };
        assert_eq!(Evidence::decode(&ev.encode().unwrap()).unwrap(), ev);
        assert!(Latest::decode(&[1, 0]).is_err());
        assert!(Latest::decode(&[2; 41]).is_err());
        assert!(Evidence::decode(&[1, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(Evidence::decode(&[1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9]).is_err());
    }
}
