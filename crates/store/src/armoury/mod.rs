//! An armoury's site ledger, one redb file: its own chain, the regulator
//! entries it holds, transfers addressed to it, the receipts it got at sync,
//! indexes by firearm, lot and person, and the write-ahead intent that makes
//! an append crash-safe around the device signature.

mod append;
mod sync;

use std::path::{Path, PathBuf};

use armsledger_core::chain::Head;
use armsledger_core::entry::{EntryBody, SignedEntry};
use armsledger_core::hash::Hash;
use armsledger_core::ids::{DeviceId, PersonId, SiteId};
use armsledger_core::model::{FirearmId, LotId};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::error::StoreError;
use crate::notes::{self, Erasure, NoteClass, NoteRecord};
use armsledger_core::note::SealedNote;

pub use append::{Pending, Recovery, SignRequest};
pub use sync::EntryReceipt;

/// Format tag in `meta["format"]`.
///
/// v2 (format epoch 2): each receipt holds the entry's receipt time, since
/// the log's leaf is `received_at ‖ entry`.
const FORMAT: &str = "armsledger/store/site/v2";
/// Formats of epoch 1: refused with [`StoreError::FormatRetired`].
const RETIRED: [&str; 1] = ["armsledger/store/site/v1"];

/// Own chain: counter → entry bytes.
const OWN: TableDefinition<u64, &[u8]> = TableDefinition::new("own");
/// Regulator chain entries held: counter → entry bytes.
const REGULATOR: TableDefinition<u64, &[u8]> = TableDefinition::new("regulator");
/// Transfers out addressed to this site: entry hash → entry bytes.
const INBOX: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("inbox");
/// Checkpoint notes received at sync: tree size → note.
const CHECKPOINTS: TableDefinition<u64, &str> = TableDefinition::new("checkpoints");
/// Own counter → postcard receipt (log index, receipt time, tree size, inclusion proof).
const RECEIPTS: TableDefinition<u64, &[u8]> = TableDefinition::new("receipts");
/// (firearm id, own counter) → ().
const BY_FIREARM: TableDefinition<([u8; 16], u64), ()> = TableDefinition::new("by_firearm");
/// (lot id, own counter) → ().
const BY_LOT: TableDefinition<([u8; 16], u64), ()> = TableDefinition::new("by_lot");
/// (person id, source, counter) → (); source 0 = own chain, 1 = regulator.
const BY_PERSON: TableDefinition<(&str, u8, u64), ()> = TableDefinition::new("by_person");
/// The write-ahead intent (at most one row, key 0) → postcard `PendingRecord`.
const PENDING: TableDefinition<u8, &[u8]> = TableDefinition::new("pending");
/// Small named values.
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

mod meta {
    pub const FORMAT: &str = "format";
    pub const SITE: &str = "site";
    pub const DEVICE_ADDRESS: &str = "device_address";
    pub const DEVICE_KEY: &str = "device_key";
    pub const SYNC_CURSOR: &str = "sync_cursor";
    pub const REGULATOR_CURSOR: &str = "regulator_cursor";
    /// The bar list of the last scoped pull (postcard `[(person, until ms?)]`).
    pub const BARS: &str = "bars";
}

/// The enrolled key the site's device signs with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceKey {
    /// The device.
    pub device: DeviceId,
    /// Key epoch on that device.
    pub key_epoch: u32,
    /// The Ed25519 public key.
    pub public_key: [u8; 32],
}

/// Which chain an indexed entry is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    /// The site's own chain.
    Own,
    /// The regulator's chain.
    Regulator,
}

impl Source {
    fn byte(self) -> u8 {
        match self {
            Source::Own => 0,
            Source::Regulator => 1,
        }
    }
}

/// One armoury's ledger.
#[derive(Debug)]
pub struct ArmouryLedger {
    db: Database,
    path: PathBuf,
    site: SiteId,
}

impl ArmouryLedger {
    /// Creates the ledger of `site` at `path`, or opens it if it already is
    /// that site's ledger (keeping its stored device key and address; change
    /// them with [`ArmouryLedger::set_device_key`] and
    /// [`ArmouryLedger::set_device_address`]).
    pub fn create(
        path: impl AsRef<Path>,
        site: &SiteId,
        device_address: &str,
        key: &DeviceKey,
    ) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        crate::refuse_retired(&path, "meta", &RETIRED, FORMAT)?;
        let db = Database::create(&path)?;
        let txn = db.begin_write()?;
        let had_tables = txn.list_tables()?.count() > 0;
        {
            let mut m = txn.open_table(META)?;
            let format = m.get(meta::FORMAT)?.map(|v| v.value().to_vec());
            match format {
                Some(f) if f == FORMAT.as_bytes() => {}
                None if !had_tables => {
                    m.insert(meta::FORMAT, FORMAT.as_bytes())?;
                    m.insert(meta::SITE, site.as_str().as_bytes())?;
                    m.insert(meta::DEVICE_ADDRESS, device_address.as_bytes())?;
                    m.insert(meta::DEVICE_KEY, encode(key, "device_key")?.as_slice())?;
                    m.insert(meta::SYNC_CURSOR, 0u64.to_be_bytes().as_slice())?;
                    m.insert(meta::REGULATOR_CURSOR, 0u64.to_be_bytes().as_slice())?;
                    txn.open_table(OWN)?;
                    txn.open_table(REGULATOR)?;
                    txn.open_table(INBOX)?;
                    txn.open_table(CHECKPOINTS)?;
                    txn.open_table(RECEIPTS)?;
                    txn.open_table(BY_FIREARM)?;
                    txn.open_table(BY_LOT)?;
                    txn.open_table(BY_PERSON)?;
                    txn.open_table(PENDING)?;
                }
                found => return Err(format_unknown(&path, found)),
            }
        }
        txn.commit()?;
        let ledger = Self::load(db, path.clone())?;
        if &ledger.site != site {
            return Err(StoreError::ChainBroken(format!(
                "{} is the ledger of site {}, not {site}",
                path.display(),
                ledger.site
            )));
        }
        Ok(ledger)
    }

    /// Opens an existing site ledger. After a crash redb repairs the file to
    /// its last durable commit; call [`ArmouryLedger::recover`] next.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        crate::refuse_retired(&path, "meta", &RETIRED, FORMAT)?;
        let db = Database::open(&path)?;
        Self::load(db, path)
    }

    /// Checks the format of an open database and reads the site id.
    fn load(db: Database, path: PathBuf) -> Result<Self, StoreError> {
        let site = {
            let txn = db.begin_read()?;
            let m = txn
                .open_table(META)
                .map_err(|_| format_unknown(&path, None))?;
            let format = m.get(meta::FORMAT)?.map(|v| v.value().to_vec());
            if format.as_deref() != Some(FORMAT.as_bytes()) {
                return Err(format_unknown(&path, format));
            }
            let site = m
                .get(meta::SITE)?
                .ok_or_else(|| StoreError::missing("meta", meta::SITE))?;
            let text = String::from_utf8_lossy(site.value()).into_owned();
            SiteId::new(text).map_err(|e| StoreError::malformed("meta", meta::SITE, e))?
        };
        Ok(ArmouryLedger { db, path, site })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The site whose ledger this is.
    pub fn site(&self) -> &SiteId {
        &self.site
    }

    fn meta_bytes(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        let txn = self.db.begin_read()?;
        let m = txn.open_table(META)?;
        let v = m
            .get(key)?
            .ok_or_else(|| StoreError::missing("meta", key))?;
        Ok(v.value().to_vec())
    }

    /// The device's address (socket path, host:port), as configured.
    pub fn device_address(&self) -> Result<String, StoreError> {
        Ok(String::from_utf8_lossy(&self.meta_bytes(meta::DEVICE_ADDRESS)?).into_owned())
    }

    /// Changes the device's address.
    pub fn set_device_address(&self, address: &str) -> Result<(), StoreError> {
        self.put_meta(meta::DEVICE_ADDRESS, address.as_bytes())
    }

    /// The enrolled key entries are checked against.
    pub fn device_key(&self) -> Result<DeviceKey, StoreError> {
        decode(
            &self.meta_bytes(meta::DEVICE_KEY)?,
            "meta",
            meta::DEVICE_KEY,
        )
    }

    /// Replaces the enrolled key (after a rotation the regulator recorded).
    pub fn set_device_key(&self, key: &DeviceKey) -> Result<(), StoreError> {
        self.put_meta(meta::DEVICE_KEY, &encode(key, "device_key")?)
    }

    fn put_meta(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        txn.open_table(META)?.insert(key, value)?;
        txn.commit()?;
        Ok(())
    }

    /// Highest own counter the server acknowledged.
    pub fn sync_cursor(&self) -> Result<u64, StoreError> {
        decode_u64(&self.meta_bytes(meta::SYNC_CURSOR)?, meta::SYNC_CURSOR)
    }

    /// Highest regulator counter held.
    pub fn regulator_cursor(&self) -> Result<u64, StoreError> {
        decode_u64(
            &self.meta_bytes(meta::REGULATOR_CURSOR)?,
            meta::REGULATOR_CURSOR,
        )
    }

    /// The head of the own chain.
    pub fn head(&self) -> Result<Option<Head>, StoreError> {
        let txn = self.db.begin_read()?;
        head_of(&txn.open_table(OWN)?, "own")
    }

    /// The own entry at `counter`.
    pub fn entry(&self, counter: u64) -> Result<Option<SignedEntry>, StoreError> {
        let txn = self.db.begin_read()?;
        let own = txn.open_table(OWN)?;
        let row = own.get(counter)?;
        row.map(|v| decode_entry(v.value(), "own", counter))
            .transpose()
    }

    /// Up to `limit` own entries from `counter` on, in chain order.
    pub fn entries_from(&self, counter: u64, limit: usize) -> Result<Vec<SignedEntry>, StoreError> {
        let txn = self.db.begin_read()?;
        read_range(&txn.open_table(OWN)?, "own", counter, limit)
    }

    /// Up to `limit` regulator entries from `counter` on, in chain order.
    pub fn regulator_entries_from(
        &self,
        counter: u64,
        limit: usize,
    ) -> Result<Vec<SignedEntry>, StoreError> {
        let txn = self.db.begin_read()?;
        read_range(&txn.open_table(REGULATOR)?, "regulator", counter, limit)
    }

    /// Own counters of every event touching `firearm`.
    pub fn firearm_counters(&self, firearm: &FirearmId) -> Result<Vec<u64>, StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(BY_FIREARM)?;
        let mut out = Vec::new();
        for row in t.range((firearm.0, 0)..=(firearm.0, u64::MAX))? {
            out.push(row?.0.value().1);
        }
        Ok(out)
    }

    /// Own counters of every event touching `lot`.
    pub fn lot_counters(&self, lot: &LotId) -> Result<Vec<u64>, StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(BY_LOT)?;
        let mut out = Vec::new();
        for row in t.range((lot.0, 0)..=(lot.0, u64::MAX))? {
            out.push(row?.0.value().1);
        }
        Ok(out)
    }

    /// Every entry (own or regulator) naming `person`, by chain then counter.
    pub fn person_counters(&self, person: &PersonId) -> Result<Vec<(Source, u64)>, StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(BY_PERSON)?;
        let p = person.as_str();
        let mut out = Vec::new();
        for row in t.range((p, 0u8, 0u64)..=(p, 1u8, u64::MAX))? {
            let (_, src, counter) = row?.0.value();
            let src = if src == 0 {
                Source::Own
            } else {
                Source::Regulator
            };
            out.push((src, counter));
        }
        Ok(out)
    }
}

/// The head of a chain table.
fn head_of<T: ReadableTable<u64, &'static [u8]>>(
    t: &T,
    table: &'static str,
) -> Result<Option<Head>, StoreError> {
    let Some((k, v)) = t.last()? else {
        return Ok(None);
    };
    let e = decode_entry(v.value(), table, k.value())?;
    Ok(Some(Head {
        counter: e.counter(),
        hash: e.hash(),
        time: e.header().device_time,
    }))
}

fn read_range<T: ReadableTable<u64, &'static [u8]>>(
    t: &T,
    table: &'static str,
    from: u64,
    limit: usize,
) -> Result<Vec<SignedEntry>, StoreError> {
    let mut out = Vec::new();
    for row in t.range(from..)?.take(limit) {
        let (k, v) = row?;
        out.push(decode_entry(v.value(), table, k.value())?);
    }
    Ok(out)
}

impl ArmouryLedger {
    /// Keeps the opening of a note this site sealed (before the entry that
    /// carries it is signed, so a crash never leaves a signed note without
    /// its text). Returns whether it was new.
    pub fn put_note(&self, record: &NoteRecord) -> Result<bool, StoreError> {
        let Some(opening) = &record.opening else {
            return Ok(false);
        };
        let txn = self.db.begin_write()?;
        let new = notes::put(&txn, &opening.seal(), record)?;
        txn.commit()?;
        Ok(new)
    }

    /// The note store's record of `note`.
    pub fn note(&self, note: &SealedNote) -> Result<Option<NoteRecord>, StoreError> {
        notes::get(&self.db.begin_read()?, note)
    }

    /// Every note record this site keeps.
    pub fn notes(&self) -> Result<Vec<(SealedNote, NoteRecord)>, StoreError> {
        notes::all(&self.db.begin_read()?)
    }

    /// Deletes the openings of the notes a regulator `NotesErased` entry
    /// names, keeping the record of the erasure.
    pub fn erase_notes(&self, notes_: &[SealedNote], erasure: &Erasure) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        for n in notes_ {
            notes::erase(&txn, n, erasure, NoteClass::Case)?;
        }
        txn.commit()?;
        Ok(())
    }
}

fn decode_entry(bytes: &[u8], table: &'static str, key: u64) -> Result<SignedEntry, StoreError> {
    SignedEntry::decode(bytes).map_err(|e| StoreError::malformed(table, key, e))
}

fn encode<T: Serialize>(v: &T, what: &'static str) -> Result<Vec<u8>, StoreError> {
    postcard::to_allocvec(v).map_err(|e| StoreError::malformed("meta", what, e))
}

fn decode<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    table: &'static str,
    key: impl ToString,
) -> Result<T, StoreError> {
    postcard::from_bytes(bytes).map_err(|e| StoreError::malformed(table, key, e))
}

fn decode_u64(v: &[u8], key: &str) -> Result<u64, StoreError> {
    let b: [u8; 8] = v
        .try_into()
        .map_err(|_| StoreError::malformed("meta", key, "expected 8 bytes"))?;
    Ok(u64::from_be_bytes(b))
}

fn format_unknown(path: &Path, found: Option<Vec<u8>>) -> StoreError {
    if let Some(f) = found
        .as_deref()
        .filter(|f| RETIRED.iter().any(|r| r.as_bytes() == *f))
    {
        return StoreError::FormatRetired {
            path: path.display().to_string(),
            found: String::from_utf8_lossy(f).into_owned(),
            current: FORMAT,
            release: crate::EPOCH_1_RELEASE,
        };
    }
    StoreError::FormatUnknown {
        path: path.display().to_string(),
        expected: "site ledger",
        found: found.map(|f| String::from_utf8_lossy(&f).into_owned()),
    }
}

/// Index rows for an entry: firearms and lots (own chain only) and people.
fn index_rows(
    txn: &redb::WriteTransaction,
    entry: &SignedEntry,
    source: Source,
) -> Result<(), StoreError> {
    let t = crate::terms::Terms::of(entry);
    let counter = entry.counter();
    if source == Source::Own {
        let mut f = txn.open_table(BY_FIREARM)?;
        for id in &t.firearms {
            f.insert((id.0, counter), ())?;
        }
        let mut l = txn.open_table(BY_LOT)?;
        for id in &t.lots {
            l.insert((id.0, counter), ())?;
        }
    }
    let mut p = txn.open_table(BY_PERSON)?;
    for person in &t.persons {
        p.insert((person.as_str(), source.byte(), counter), ())?;
    }
    Ok(())
}

/// The hash as a table key.
fn hash_key(h: &Hash) -> &[u8; 32] {
    &h.0
}

/// A body not yet signed, as the host prepared it.
fn body_bytes(body: &EntryBody) -> Result<Vec<u8>, StoreError> {
    armsledger_core::codec::encode(body)
        .map_err(|e| StoreError::EntryInvalid(armsledger_core::entry::EntryError::Encode(e)))
}
