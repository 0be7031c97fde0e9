//! The one error type of the map.

/// Why a map operation, a value or a proof failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MapError {
    /// A record label is empty or longer than 255 bytes.
    #[error("a map record label is 1 to 255 bytes, not {len}")]
    BadLabel {
        /// Its length.
        len: usize,
    },
    /// A leaf would hold more records than a value may.
    #[error("a map leaf holds at most {max} records")]
    TooManyRecords {
        /// The limit.
        max: usize,
    },
    /// Input longer than its format allows (checked before decoding).
    #[error("{what} is {len} bytes, more than the {max} allowed")]
    TooLarge {
        /// What.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A leaf value is not in canonical form.
    #[error("malformed map leaf value: {why}")]
    BadValue {
        /// The defect.
        why: &'static str,
    },
    /// A proof is not in canonical form.
    #[error("malformed map proof: {why}")]
    BadProof {
        /// The defect.
        why: &'static str,
    },
    /// A proof does not lead to the committed root.
    #[error("map proof for key {key} does not lead to root {root}")]
    RootMismatch {
        /// The key (hex).
        key: String,
        /// The root it was checked against (hex).
        root: String,
    },
    /// A proof's terminal leaf is not on the key's path.
    #[error("map proof for key {key} ends at a leaf off its path")]
    OffPath {
        /// The key (hex).
        key: String,
    },
    /// A value shown with a proof does not hash to what the leaf commits to.
    #[error("map value for key {key} does not match its leaf")]
    ValueMismatch {
        /// The key (hex).
        key: String,
    },
    /// A stored node is missing or corrupt: the map's storage is damaged.
    #[error("map storage is damaged: {why}")]
    Corrupt {
        /// The defect.
        why: String,
    },
    /// redb failed (I/O, a full disk): the caller's transaction is lost.
    #[cfg(feature = "redb")]
    #[error("map storage: {0}")]
    Redb(#[from] redb::Error),
}
