//! Entry rows compressed ahead of the group commit: the server's signature
//! stage, which has room, compresses each entry (zstd with the format's
//! dictionary, `stored`) while the sequencer commits the group before, and
//! the append takes the row instead of compressing on the one thread that
//! bounds ingest (docs/performance.md, section 1).
//!
//! A row is a function of the entry's bytes alone, and the entry hash
//! commits to those bytes, so a row found under an entry's hash is the row
//! the append would have made: what this holds changes speed, not the file.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use armsledger_core::entry::SignedEntry;
use armsledger_core::hash::Hash;

use super::stored;
use crate::error::StoreError;

/// Most rows held. Rows of entries never appended (refused by the rules, a
/// repeated batch) are dropped when it is reached.
const MAX_ROWS: usize = 16_384;

/// Rows by entry hash, waiting for their append.
#[derive(Debug, Default)]
pub(crate) struct Precompressed {
    rows: Mutex<HashMap<Hash, Vec<u8>>>,
}

impl Precompressed {
    /// Compresses `entries`' rows (outside any lock) and keeps them.
    pub(crate) fn add(&self, entries: &[&SignedEntry]) -> Result<(), StoreError> {
        let made = entries
            .iter()
            .map(|e| Ok((e.hash(), stored::encode_entry(e)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let mut rows = self.rows.lock().unwrap_or_else(PoisonError::into_inner);
        if rows.len() + made.len() > MAX_ROWS {
            rows.clear();
        }
        if made.len() <= MAX_ROWS {
            rows.extend(made);
        }
        Ok(())
    }

    /// Takes the rows held for `entries`.
    pub(crate) fn take<'e>(
        &self,
        entries: impl Iterator<Item = &'e SignedEntry>,
    ) -> HashMap<Hash, Vec<u8>> {
        let mut rows = self.rows.lock().unwrap_or_else(PoisonError::into_inner);
        if rows.is_empty() {
            return HashMap::new();
        }
        entries
            .filter_map(|e| rows.remove_entry(&e.hash()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_is_the_appends_own_and_is_taken_once() {
        let log = armsledger_core::testkit::Scenario::standard().log;
        let p = Precompressed::default();
        let some: Vec<&SignedEntry> = log.iter().take(3).map(|e| &**e).collect();
        p.add(&some).unwrap();
        let got = p.take(log.iter().map(|e| &**e));
        assert_eq!(got.len(), 3);
        for e in &some {
            assert_eq!(got[&e.hash()], stored::encode_entry(e).unwrap());
        }
        assert!(p.take(log.iter().map(|e| &**e)).is_empty(), "taken once");
    }
}
