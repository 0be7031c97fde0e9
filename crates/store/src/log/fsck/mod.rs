//! fsck: re-derive everything from the entries and report each disagreement
//! with its location.
//!
//! From the entries and their reception times alone it recomputes every
//! leaf hash (`received_at ‖ entry`), every stored tile
//! hash, the frontier, the root at every checkpointed size and every index
//! key, then compares both ways (missing and unexpected rows). Checkpoints
//! are also checked against the stored tree: signature, size, root, and a
//! consistency proof between each signed checkpoint and the next.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use armsledger_core::entry::SignedEntry;
use armsledger_log::{EntryLeaf, Frontier, Hash};
use redb::{ReadOnlyDatabase, ReadTransaction, ReadableDatabase, ReadableTable};

use super::blocks::TimeReader;
use super::tables::*;
use super::tree::{Kind, NodeCache, StoredTree, stored_at};
use crate::error::StoreError;
use crate::terms::{IndexKey, Terms};
use rows::{
    check_findings_and_equivocations, check_half_tiles, check_received, check_tiles, diff,
    read_postings, read_slots,
};

mod checkpoints;
mod rows;

/// Most problems listed in one report; the rest are only counted.
const MAX_LISTED: usize = 10_000;

/// One disagreement between a table and what the entries imply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The table (or `meta` key) where it was found.
    pub table: &'static str,
    /// The row, as text.
    pub key: String,
    /// What the entries imply should be there (`absent` if nothing).
    pub expected: String,
    /// What is there (`absent` if nothing).
    pub found: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}[{}]: expected {}, found {}",
            self.table, self.key, self.expected, self.found
        )
    }
}

/// What fsck checked and every disagreement it found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FsckReport {
    /// Entries read.
    pub entries: u64,
    /// Signed checkpoints checked.
    pub checkpoints: u64,
    /// The disagreements, at most 10,000 listed.
    pub problems: Vec<Problem>,
    /// Disagreements beyond those listed.
    pub unlisted: u64,
}

impl FsckReport {
    /// Whether every table agrees with the entries.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty() && self.unlisted == 0
    }

    fn push(
        &mut self,
        table: &'static str,
        key: impl ToString,
        expected: impl ToString,
        found: impl ToString,
    ) {
        if self.problems.len() < MAX_LISTED {
            self.problems.push(Problem {
                table,
                key: key.to_string(),
                expected: expected.to_string(),
                found: found.to_string(),
            });
        } else {
            self.unlisted += 1;
        }
    }
}

impl fmt::Display for FsckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} entries, {} checkpoints: {}",
            self.entries,
            self.checkpoints,
            if self.is_clean() { "clean" } else { "PROBLEMS" }
        )?;
        for p in &self.problems {
            writeln!(f, "  {p}")?;
        }
        if self.unlisted > 0 {
            writeln!(f, "  … and {} more", self.unlisted)?;
        }
        Ok(())
    }
}

/// Opens the log at `path` read-only and checks it (see [`FsckReport`]).
///
/// A file that needs crash repair is refused; open it with
/// [`super::LogStore::open`] first, which repairs it. A file of format epoch
/// 1 is refused with [`StoreError::FormatRetired`].
pub fn fsck(path: impl AsRef<Path>) -> Result<FsckReport, StoreError> {
    let path = path.as_ref();
    let db = ReadOnlyDatabase::open(path)?;
    let txn = db.begin_read()?;
    let format = match txn.open_table(META) {
        Ok(meta) => get_meta(&meta, meta::FORMAT)?,
        Err(_) => None,
    };
    if let Some(found) = format
        .as_deref()
        .filter(|f| RETIRED.iter().any(|r| r.as_bytes() == *f))
    {
        return Err(StoreError::FormatRetired {
            path: path.display().to_string(),
            found: String::from_utf8_lossy(found).into_owned(),
            current: FORMAT,
            release: EPOCH_1_RELEASE,
        });
    }
    if format.as_deref() != Some(FORMAT.as_bytes()) {
        let upgradable = format.as_deref() == Some(UPGRADES.as_bytes());
        return Err(StoreError::FormatUnknown {
            path: path.display().to_string(),
            expected: if upgradable {
                "global log v5 (a v4 log is upgraded when the server or `armsledger` opens it for writing)"
            } else {
                "global log"
            },
            found: format.map(|f| String::from_utf8_lossy(&f).into_owned()),
        });
    }
    if let Ok(meta) = txn.open_table(META) {
        super::check_dictionary(&meta, path)?;
    }
    check(&txn)
}

/// Index rows the entries imply, collected while reading them.
#[derive(Default)]
struct Expected {
    by_hash: Vec<(u32, u64)>,
    by_slot: Vec<(Vec<u8>, u64, u64)>,
    postings: [Vec<(Vec<u8>, u64)>; 4],
    tiles: BTreeMap<(u8, u64), Vec<u8>>,
    halves: BTreeMap<(u8, u64), Vec<u8>>,
    roots: BTreeMap<u64, Hash>,
    /// Notes the log's `NotesErased` entries name, with the erasing entry.
    erased: BTreeMap<armsledger_core::note::SealedNote, armsledger_core::hash::Hash>,
}

pub(crate) fn check(txn: &ReadTransaction) -> Result<FsckReport, StoreError> {
    let mut r = FsckReport::default();
    let meta = txn.open_table(META)?;
    let entries = txn.open_table(ENTRIES)?;
    let received = txn.open_table(RECEIVED_AT)?;
    let tiles = txn.open_table(TILES)?;
    let halves = txn.open_table(HALF_TILES)?;
    let cp_table = txn.open_table(CHECKPOINTS)?;
    let mut times = TimeReader::default();

    // Walk the entries once: leaves, tree, checkpoint roots, index rows.
    let cp_sizes: Vec<u64> = cp_table
        .iter()?
        .map(|row| row.map(|(k, _)| k.value()))
        .collect::<Result<_, _>>()?;
    let mut want_roots = cp_sizes.iter().copied().peekable();
    let mut x = Expected::default();
    let mut frontier = Frontier::new();
    let mut expect_key = 0u64;
    record_roots(&mut x.roots, &frontier, &mut want_roots);
    for row in entries.iter()? {
        let (k, v) = row?;
        let index = k.value();
        if index != expect_key {
            r.push(
                "entries",
                format!("{expect_key}..{index}"),
                "entries",
                "absent",
            );
        }
        expect_key = index.saturating_add(1);
        r.entries += 1;
        // A row that does not decode stands in with its stored bytes, so the
        // tree rows after it are still compared at their own positions.
        let bytes = match super::entry_bytes(index, v.value()) {
            Ok(b) => Some(b),
            Err(e) => {
                r.push("entries", index, "a stored entry that decodes", e);
                None
            }
        };
        let leaf = frontier.size();
        // A missing time is reported by the received_at check; 0 stands in.
        let time = times.get(&received, index).unwrap_or(0);
        let appended =
            frontier.append(EntryLeaf::new(time, bytes.as_deref().unwrap_or(v.value())).hash())?;
        for (level, h) in appended.hashes.iter().enumerate().skip(1) {
            let level = u32::try_from(level).unwrap_or(u32::MAX);
            let Some((kind, t, width)) = stored_at(level) else {
                continue;
            };
            let rows = match kind {
                Kind::Tile => &mut x.tiles,
                Kind::Half => &mut x.halves,
            };
            let n = leaf >> level;
            rows.entry((t, n / width))
                .or_default()
                .extend_from_slice(&h.0);
        }
        record_roots(&mut x.roots, &frontier, &mut want_roots);
        let Some(bytes) = bytes else { continue };
        let entry = match SignedEntry::decode(&bytes) {
            Ok(e) => e,
            Err(e) => {
                r.push("entries", index, "a canonical signed entry", e);
                continue;
            }
        };
        if let armsledger_core::event::Event::Regulator(
            armsledger_core::event::RegulatorEvent::NotesErased { notes, .. },
        ) = &entry.body().event
        {
            x.erased.extend(notes.iter().map(|n| (*n, entry.hash())));
        }
        x.by_hash.push((hash_prefix(&entry.hash()), index));
        x.by_slot
            .push((chain_key(entry.chain())?, entry.counter(), index));
        let t = Terms::of(&entry);
        let keys = t
            .firearms
            .iter()
            .map(|f| IndexKey::Firearm(*f))
            .chain(t.lots.iter().map(|l| IndexKey::Lot(*l)))
            .chain(t.persons.iter().cloned().map(IndexKey::Person))
            .chain(t.sites.iter().cloned().map(IndexKey::Site));
        for key in keys {
            let (table, bytes) = posting_key(&key);
            if let Some(rows) = x.postings.get_mut(table) {
                rows.push((bytes, index));
            }
        }
    }
    let size = frontier.size();

    // The frontier and the tree.
    match super::load_frontier(&meta) {
        Ok(stored) if stored == frontier => {}
        Ok(stored) => r.push(
            "meta",
            meta::FRONTIER,
            format!("size {size} root {}", frontier.root()),
            format!("size {} root {}", stored.size(), stored.root()),
        ),
        Err(e) => r.push("meta", meta::FRONTIER, "a frontier", e),
    }
    check_tiles(&mut r, &tiles, &x.tiles)?;
    check_half_tiles(&mut r, &halves, &x.halves)?;

    // Index tables, both directions.
    x.by_hash.sort_unstable();
    let mut stored_hashes = Vec::new();
    for row in txn.open_table(BY_HASH)?.iter()? {
        stored_hashes.push(row?.0.value());
    }
    diff(&mut r, "by_hash", &x.by_hash, stored_hashes, |(p, i)| {
        format!("({p:08x}, {i})")
    });
    x.by_slot.sort_unstable();
    let slots = read_slots(&mut r, &txn.open_table(BY_SLOT)?)?;
    diff(&mut r, "by_slot", &x.by_slot, slots, |(c, n, i)| {
        format!("({}, {n}) → {i}", show_chain(c))
    });
    for (t, (def, name)) in POSTINGS.into_iter().zip(POSTING_NAMES).enumerate() {
        let Some(rows) = x.postings.get_mut(t) else {
            continue;
        };
        rows.sort_unstable();
        rows.dedup();
        let stored = read_postings(&mut r, &txn.open_table(def)?, t, name)?;
        diff(&mut r, name, rows, stored, |(k, i)| {
            format!("({}, {i})", show_posting_key(t, k))
        });
    }
    check_received(&mut r, &received, size)?;
    check_findings_and_equivocations(&mut r, txn, size)?;
    check_notes(&mut r, txn, &x.erased)?;

    r.checkpoints = cp_sizes.len() as u64;
    checkpoints::check(
        &mut r,
        &meta,
        &cp_table,
        &StoredTree::new(
            &entries,
            &received,
            &tiles,
            &halves,
            &NodeCache::default(),
            size,
        ),
        &x.roots,
        size,
    )?;
    Ok(r)
}

/// The note store: every kept opening opens the note it is filed under, and
/// no opening of a note that a logged `NotesErased` entry names survives.
fn check_notes(
    r: &mut FsckReport,
    txn: &ReadTransaction,
    erased: &BTreeMap<armsledger_core::note::SealedNote, armsledger_core::hash::Hash>,
) -> Result<(), StoreError> {
    let records = match crate::notes::all(txn) {
        Ok(v) => v,
        Err(e @ StoreError::StoredValueMalformed { .. }) => {
            r.push("notes", "*", "records that decode", e);
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    for (note, rec) in records {
        let key = note.commitment();
        if let Some(o) = &rec.opening {
            if !o.opens(&note) {
                r.push(
                    "notes",
                    key,
                    "an opening of this note",
                    "another text or salt",
                );
            }
            if let Some(by) = erased.get(&note) {
                r.push(
                    "notes",
                    key,
                    format!("erased by entry {by}"),
                    "its opening kept",
                );
            }
        }
    }
    Ok(())
}

/// Notes the root while the recomputed tree passes a checkpointed size.
fn record_roots(
    roots: &mut BTreeMap<u64, Hash>,
    f: &Frontier,
    want: &mut std::iter::Peekable<impl Iterator<Item = u64>>,
) {
    while want.peek() == Some(&f.size()) {
        roots.insert(f.size(), f.root());
        want.next();
    }
}
