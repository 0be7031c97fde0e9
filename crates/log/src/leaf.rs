//! armsledger's log leaves (leaf format v2): what the global log hashes for
//! one accepted entry, so that every checkpoint commits to each entry's
//! receipt time as well as to its bytes.
//!
//! ```text
//! leaf data = received_at (u64, big-endian milliseconds since the Unix epoch) ‖ entry bytes
//! leaf hash = SHA-256(0x00 ‖ leaf data)                       (RFC 6962, as for any leaf)
//! ```
//!
//! C2SP entry bundles carry the leaf data, so an outside tlog-tiles client
//! hashes what it downloads and needs no armsledger code. The rest of this
//! crate hashes whatever leaf bytes it is given; this module is the one place
//! that says what armsledger puts in them (docs/log.md, section 1).

use sha2::{Digest as _, Sha256};

use crate::{Hash, LogError, MAX_ENTRY_BYTES};

/// Bytes of the receipt time at the start of the leaf data.
pub const LEAF_TIME_BYTES: usize = 8;

/// Longest entry a leaf can hold: the leaf data must fit one entry-bundle
/// entry (65,535 bytes), and 8 of those are the receipt time.
pub const MAX_LEAF_ENTRY_BYTES: usize = MAX_ENTRY_BYTES - LEAF_TIME_BYTES;

/// One leaf of the global log: an entry and the time the log received it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryLeaf<'a> {
    /// When the log received the entry, milliseconds since the Unix epoch.
    pub received_at: u64,
    /// The entry's exact bytes.
    pub entry: &'a [u8],
}

impl<'a> EntryLeaf<'a> {
    /// The leaf of `entry` received at `received_at` (ms).
    pub fn new(received_at: u64, entry: &'a [u8]) -> Self {
        EntryLeaf { received_at, entry }
    }

    /// Splits leaf data into its receipt time and entry. The data must hold
    /// the 8-byte time and a non-empty entry of at most
    /// [`MAX_LEAF_ENTRY_BYTES`].
    pub fn parse(data: &'a [u8]) -> Result<Self, LogError> {
        let (time, entry) =
            data.split_first_chunk::<LEAF_TIME_BYTES>()
                .ok_or(LogError::LeafMalformed(
                    "shorter than its 8-byte receipt time",
                ))?;
        if entry.is_empty() {
            return Err(LogError::LeafMalformed("no entry after the receipt time"));
        }
        if entry.len() > MAX_LEAF_ENTRY_BYTES {
            return Err(LogError::EntryTooLarge { len: data.len() });
        }
        Ok(EntryLeaf {
            received_at: u64::from_be_bytes(*time),
            entry,
        })
    }

    /// The leaf data, `received_at ‖ entry`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(LEAF_TIME_BYTES + self.entry.len());
        out.extend_from_slice(&self.received_at.to_be_bytes());
        out.extend_from_slice(self.entry);
        out
    }

    /// The leaf hash, `SHA-256(0x00 ‖ received_at ‖ entry)`, without
    /// assembling the leaf data.
    pub fn hash(&self) -> Hash {
        let mut h = Sha256::new();
        h.update([0x00]);
        h.update(self.received_at.to_be_bytes());
        h.update(self.entry);
        Hash(h.finalize().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::leaf_hash;

    #[test]
    fn the_hash_is_the_rfc_leaf_hash_of_the_leaf_data() {
        let leaf = EntryLeaf::new(1_767_225_600_000, b"entry");
        let data = leaf.to_bytes();
        assert_eq!(data[..8], [0, 0, 1, 0x9b, 0x76, 0xda, 0xa8, 0x00]);
        assert_eq!(leaf.hash(), leaf_hash(&data));
        assert_eq!(EntryLeaf::parse(&data).unwrap(), leaf);
        // The time is under the hash: another time is another leaf.
        assert_ne!(
            EntryLeaf::new(1_767_225_600_001, b"entry").hash(),
            leaf.hash()
        );
    }

    #[test]
    fn malformed_leaves_are_refused() {
        assert!(matches!(
            EntryLeaf::parse(&[0; 7]),
            Err(LogError::LeafMalformed(_))
        ));
        assert!(matches!(
            EntryLeaf::parse(&[0; 8]),
            Err(LogError::LeafMalformed(_))
        ));
        let big = vec![1u8; LEAF_TIME_BYTES + MAX_LEAF_ENTRY_BYTES];
        assert!(EntryLeaf::parse(&big).is_ok());
        let bigger = vec![1u8; LEAF_TIME_BYTES + MAX_LEAF_ENTRY_BYTES + 1];
        assert!(matches!(
            EntryLeaf::parse(&bigger),
            Err(LogError::EntryTooLarge { .. })
        ));
    }
}
