//! The note store: the openings of sealed notes, off the ledger, one redb
//! table in the site ledger and one in the regulator's log store.
//!
//! ```text
//! notes   5e22bcb5… (the 32-byte commitment) → postcard NoteRecord
//!                                               (opening or none, class, created, retain until, erasure)
//! ```
//!
//! An entry signs only the commitment ([`SealedNote`]); the text and its salt
//! live here. Erasing a note deletes its opening and keeps the record of the
//! erasure, so a reader is told "note erased on DATE under ORDER" where the
//! text was, and every entry still verifies.

use armsledger_core::hash::Hash;
use armsledger_core::ids::Timestamp;
use armsledger_core::note::{ErasureGround, NoteOpening, NoteView, SealedNote};
use redb::{ReadTransaction, ReadableTable, TableDefinition, TableError, WriteTransaction};
use serde::{Deserialize, Serialize};

use crate::error::StoreError;

/// Commitment → postcard [`NoteRecord`].
pub const NOTES: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("notes");

/// What a sealed note is about, which the retention policy keys on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoteClass {
    /// Text about a person: a bar, a revocation, an override's reason.
    Person,
    /// Text about a case: a loss, a recovery, a discrepancy, a correction.
    Case,
    /// Operational text: a purpose, maintenance work, an annotation.
    Operational,
}

impl NoteClass {
    /// The class's word in configuration and JSON.
    pub fn word(self) -> &'static str {
        match self {
            NoteClass::Person => "person",
            NoteClass::Case => "case",
            NoteClass::Operational => "operational",
        }
    }
}

/// How a note was erased: the `NotesErased` entry that recorded it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Erasure {
    /// When it took effect (the entry's `erased_on`).
    pub on: Timestamp,
    /// Why.
    pub ground: ErasureGround,
    /// The regulator entry that recorded the erasure.
    pub entry: Hash,
}

/// One note in a note store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoteRecord {
    /// The opening; `None` once erased.
    pub opening: Option<NoteOpening>,
    /// What the note is about.
    pub class: NoteClass,
    /// When it was sealed (the act's time on a site; the receipt time on the server).
    pub created: Timestamp,
    /// When its retention ends, once known (the person left, the case closed).
    pub retain_until: Option<Timestamp>,
    /// The erasure, once erased.
    pub erased: Option<Erasure>,
}

impl NoteRecord {
    /// A kept note.
    pub fn new(opening: NoteOpening, class: NoteClass, created: Timestamp) -> NoteRecord {
        NoteRecord {
            opening: Some(opening),
            class,
            created,
            retain_until: None,
            erased: None,
        }
    }

    /// What a reader is shown for `note`: the text only if `may_read`, and
    /// the erasure to anyone.
    pub fn view(&self, note: SealedNote, may_read: bool) -> NoteView {
        match (&self.erased, &self.opening) {
            (Some(e), _) => NoteView::Erased {
                note,
                on: e.on,
                ground: e.ground.clone(),
            },
            (None, Some(o)) if may_read => NoteView::Text {
                note,
                text: o.text.clone(),
            },
            _ => NoteView::Sealed { note },
        }
    }
}

/// Stores `record` under `note`, after checking that its opening opens it.
/// A note already erased stays erased (an opening sent again after an
/// erasure is not taken back in).
pub fn put(
    txn: &WriteTransaction,
    note: &SealedNote,
    record: &NoteRecord,
) -> Result<bool, StoreError> {
    if let Some(o) = &record.opening
        && !o.opens(note)
    {
        return Err(StoreError::NoteMismatch {
            note: note.commitment().to_string(),
        });
    }
    let mut t = txn.open_table(NOTES)?;
    if let Some(old) = t.get(&note.commitment().0)? {
        let old: NoteRecord = decode(old.value(), note)?;
        if old.erased.is_some() || old.opening.is_some() {
            return Ok(false);
        }
    }
    let bytes = postcard::to_allocvec(record)
        .map_err(|e| StoreError::malformed("notes", note.commitment(), e))?;
    t.insert(&note.commitment().0, bytes.as_slice())?;
    Ok(true)
}

/// Marks `note` erased: deletes its opening, keeps the record. A note this
/// store never held is recorded as erased all the same, so a reader is told.
pub fn erase(
    txn: &WriteTransaction,
    note: &SealedNote,
    erasure: &Erasure,
    class_if_new: NoteClass,
) -> Result<(), StoreError> {
    let mut t = txn.open_table(NOTES)?;
    let old = match t.get(&note.commitment().0)? {
        Some(v) => Some(decode::<NoteRecord>(v.value(), note)?),
        None => None,
    };
    let mut rec = old.unwrap_or(NoteRecord {
        opening: None,
        class: class_if_new,
        created: erasure.on,
        retain_until: None,
        erased: None,
    });
    rec.opening = None;
    rec.erased = Some(erasure.clone());
    let bytes = postcard::to_allocvec(&rec)
        .map_err(|e| StoreError::malformed("notes", note.commitment(), e))?;
    t.insert(&note.commitment().0, bytes.as_slice())?;
    Ok(())
}

/// Carries out a `NotesErased` entry, if `e` is one: deletes the openings
/// it names, keeping the erasure. With `held_only`, a note this store never
/// held is left out (a site holds only its own notes); otherwise it is
/// recorded as erased all the same.
pub fn apply_erasure(
    txn: &WriteTransaction,
    e: &armsledger_core::entry::SignedEntry,
    held_only: bool,
) -> Result<(), StoreError> {
    use armsledger_core::event::{Event, RegulatorEvent};
    let Event::Regulator(RegulatorEvent::NotesErased {
        notes,
        ground,
        erased_on,
    }) = &e.body().event
    else {
        return Ok(());
    };
    let erasure = Erasure {
        on: *erased_on,
        ground: ground.clone(),
        entry: e.hash(),
    };
    for n in notes {
        if !held_only || get_in(txn, n)?.is_some() {
            erase(txn, n, &erasure, NoteClass::Case)?;
        }
    }
    Ok(())
}

/// Sets when `note`'s retention ends.
pub fn set_retention(
    txn: &WriteTransaction,
    note: &SealedNote,
    until: Timestamp,
) -> Result<bool, StoreError> {
    let mut t = txn.open_table(NOTES)?;
    let rec = match t.get(&note.commitment().0)? {
        Some(v) => decode::<NoteRecord>(v.value(), note)?,
        None => return Ok(false),
    };
    let rec = NoteRecord {
        retain_until: Some(until),
        ..rec
    };
    let bytes = postcard::to_allocvec(&rec)
        .map_err(|e| StoreError::malformed("notes", note.commitment(), e))?;
    t.insert(&note.commitment().0, bytes.as_slice())?;
    Ok(true)
}

/// The record of `note`, if this store has one.
pub fn get(txn: &ReadTransaction, note: &SealedNote) -> Result<Option<NoteRecord>, StoreError> {
    let t = match txn.open_table(NOTES) {
        Ok(t) => t,
        Err(TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(redb::Error::from(e).into()),
    };
    match t.get(&note.commitment().0)? {
        Some(v) => decode(v.value(), note).map(Some),
        None => Ok(None),
    }
}

/// Whether the write transaction's store holds a record of `note`.
pub fn get_in(txn: &WriteTransaction, note: &SealedNote) -> Result<Option<NoteRecord>, StoreError> {
    let t = txn.open_table(NOTES)?;
    match t.get(&note.commitment().0)? {
        Some(v) => decode(v.value(), note).map(Some),
        None => Ok(None),
    }
}

/// Every note record, in commitment order.
pub fn all(txn: &ReadTransaction) -> Result<Vec<(SealedNote, NoteRecord)>, StoreError> {
    let t = match txn.open_table(NOTES) {
        Ok(t) => t,
        Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
        Err(e) => return Err(redb::Error::from(e).into()),
    };
    let mut out = Vec::new();
    for row in t.iter()? {
        let (k, v) = row?;
        let note = SealedNote(Hash(*k.value()));
        out.push((note, decode(v.value(), &note)?));
    }
    Ok(out)
}

fn decode<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    note: &SealedNote,
) -> Result<T, StoreError> {
    postcard::from_bytes(bytes).map_err(|e| StoreError::malformed("notes", note.commitment(), e))
}
