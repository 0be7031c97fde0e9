//! The one error type of this crate.
//!
//! Each variant names the invariant that failed. The HTTP status a server
//! should answer with is given in each variant's doc; the mapping itself lives
//! in the server crate, in one place.

use armsledger_core::entry::EntryError;
use armsledger_log::LogError;

/// Why a store operation was refused or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// redb failed: I/O, a full disk, a corrupted page, a lock held by
    /// another process (HTTP 500). Nothing of the operation was written.
    #[error("storage failed: {0}")]
    StorageFailed(#[from] redb::Error),
    /// Another process has the file open (HTTP 500: a second server on the
    /// same data directory).
    #[error("{path} is open in another process (a running server?): stop it first")]
    InUse {
        /// The file.
        path: String,
    },
    /// The verifiable index's stored nodes or values are damaged, or a leaf
    /// outgrew its limits (HTTP 500). Nothing of the operation was written.
    #[error("verifiable index: {0}")]
    Index(armsledger_index::MapError),
    /// The file is a redb database but not one this crate wrote, or of
    /// another kind or version (HTTP 500).
    #[error("{path}: not a {expected} store (found format {found:?}); check the path")]
    FormatUnknown {
        /// The file.
        path: String,
        /// The format expected.
        expected: &'static str,
        /// The format tag found, if any.
        found: Option<String>,
    },
    /// The file is of a format this release no longer reads: it was written
    /// before format epoch 2, whose log leaves commit to receipt times
    /// (HTTP 500). Read it with the release named.
    #[error(
        "{path}: format {found} is retired; this release reads {current} only (log leaves now \
         commit to each entry's receipt time). Read this file with {release}, or start a new \
         data directory"
    )]
    FormatRetired {
        /// The file.
        path: String,
        /// The format tag found.
        found: String,
        /// The format this release reads.
        current: &'static str,
        /// The release that reads the file.
        release: &'static str,
    },
    /// A value read back from a table does not decode (HTTP 500; run fsck).
    #[error("{table}[{key}] is malformed: {reason}")]
    StoredValueMalformed {
        /// The table.
        table: &'static str,
        /// The key, as text.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Something every stored state has is missing (HTTP 500; run fsck).
    #[error("{table}[{key}] is missing")]
    StoredValueMissing {
        /// The table.
        table: &'static str,
        /// The key, as text.
        key: String,
    },
    /// An opening does not open the sealed note it was offered for: another
    /// text or another salt (HTTP 400). Nothing was stored.
    #[error("note {note}: the opening does not open this sealed note (another text or salt)")]
    NoteMismatch {
        /// The note's commitment.
        note: String,
    },
    /// An opening was offered for a note no logged entry carries (HTTP 404):
    /// the note store keeps only openings of notes on the ledger.
    #[error("note {note} beside entry {entry}: {reason}")]
    NoteUnknown {
        /// The commitment the opening seals to.
        note: String,
        /// The entry hash it was offered beside.
        entry: String,
        /// Why it is unknown.
        reason: &'static str,
    },
    /// An entry could not be encoded or assembled (HTTP 400).
    #[error("entry refused: {0}")]
    EntryInvalid(#[from] EntryError),
    /// An entry claims a slot (chain, counter) already held by a different
    /// entry: the sequencer must record an equivocation instead (HTTP 409).
    #[error("{chain} counter {counter} is already log entry {existing}, with another hash")]
    SlotTaken {
        /// The chain.
        chain: String,
        /// The counter.
        counter: u64,
        /// The log index of the entry holding the slot.
        existing: u64,
    },
    /// A tree size larger than the log (HTTP 400; a proof is bound to a size
    /// the log has reached).
    #[error("tree size {asked} is beyond the log's size {size}")]
    SizeBeyondLog {
        /// The size asked for.
        asked: u64,
        /// The log's size.
        size: u64,
    },
    /// The Merkle maths refused (bad index or sizes) or the stored tree could
    /// not supply a hash (HTTP 400 or 500, see [`LogError`]).
    #[error(transparent)]
    Log(#[from] LogError),
    /// The stored tree, its frontier and the entries disagree: the file was
    /// damaged or tampered with (HTTP 500; run fsck). Nothing is signed.
    #[error("stored tree is inconsistent: {0}")]
    TreeInconsistent(String),
    /// A read asked the verifiable index of a snapshot as of a size its
    /// map does not cover exactly: the map is brought up to date when a
    /// checkpoint is signed, so a proof is made at that checkpoint's size
    /// only (`LogReader::index_checkpoint`; HTTP 500: a server path that
    /// skipped that rule).
    #[error(
        "the verifiable index covers {covered} entries, not the {size} asked: \
         answer at the checkpoint its map sits at"
    )]
    IndexBehind {
        /// Log entries the map covers.
        covered: u64,
        /// The size asked (the snapshot's log size for the unsuffixed reads).
        size: u64,
    },
    /// The new checkpoint would not be consistent with the last one the log
    /// signed; it was not signed (HTTP 500; run fsck).
    #[error(
        "refusing to sign size {new_size}: not consistent with signed checkpoint {old_size}: {reason}"
    )]
    CheckpointInconsistent {
        /// Size of the last signed checkpoint.
        old_size: u64,
        /// Size about to be signed.
        new_size: u64,
        /// What failed.
        reason: String,
    },
    /// The stored signed checkpoints do not hold up (signature, origin or the
    /// two copies disagree): the file was tampered with (HTTP 500).
    #[error("stored checkpoint at size {size} does not hold: {reason}")]
    CheckpointTampered {
        /// The checkpoint's size.
        size: u64,
        /// What failed.
        reason: String,
    },
    /// The log was signed with another key or origin before; rotation is
    /// not supported by this store (HTTP 500).
    #[error("log was signed by {stored}, refusing key {offered}")]
    LogKeyChanged {
        /// Verifier key recorded at the first signature.
        stored: String,
        /// Verifier key offered now.
        offered: String,
    },
    /// An equivocation proof that does not prove equivocation (HTTP 400).
    #[error("not a proof of equivocation: {0}")]
    EquivocationUnproven(String),
    /// A site ledger operation found no write-ahead intent to complete (HTTP 409).
    #[error("no entry is waiting for a device signature")]
    NothingPending,
    /// A site ledger already waits for a device signature: recover first (HTTP 409).
    #[error("an entry is already waiting for the device (counter after {head}); call recover")]
    AlreadyPending {
        /// Counter of the head the pending entry follows.
        head: u64,
    },
    /// What the device returned is not the signature of the pending entry,
    /// or does not extend the stored head (HTTP 502).
    #[error("device statement does not match: {0}")]
    DeviceMismatch(String),
    /// The device has signed past the ledger's last entry with nothing
    /// pending: the ledger file is older than the device's history (restored
    /// from a backup, or copied from another machine) (HTTP 409).
    #[error(
        "the ledger is behind the device by {}: the device has signed up to counter {device}, this ledger ends at {ledger}",
        entries(device.saturating_sub(*ledger))
    )]
    LedgerBehindDevice {
        /// The device's last signed counter.
        device: u64,
        /// The ledger's last counter.
        ledger: u64,
    },
    /// The device signature does not verify with the enrolled key (HTTP 502).
    #[error("device signature does not verify with the enrolled key")]
    DeviceSignatureInvalid,
    /// An entry does not extend the chain it is added to (HTTP 409).
    #[error("entry does not extend the chain: {0}")]
    ChainBroken(String),
    /// A sync acknowledgement or receipt that does not fit the ledger (HTTP 400).
    #[error("receipt refused: {0}")]
    ReceiptInvalid(String),
    /// A mirror's copy does not match the origin's checkpoint it was to be
    /// kept with: its size, tree root or verifiable index root
    /// (`armsledger-index/v1`) differs, or the note does not verify
    /// (HTTP 500). Nothing of the append was written.
    #[error("the origin's checkpoint at size {size} does not match the copy: {what}: {reason}")]
    MirrorMismatch {
        /// The checkpoint's size.
        size: u64,
        /// `signature`, `size`, `root`, `index`, `rollback`, `position`.
        what: &'static str,
        /// What was seen.
        reason: String,
    },
}

impl StoreError {
    pub(crate) fn malformed(
        table: &'static str,
        key: impl ToString,
        reason: impl ToString,
    ) -> Self {
        StoreError::StoredValueMalformed {
            table,
            key: key.to_string(),
            reason: reason.to_string(),
        }
    }

    pub(crate) fn missing(table: &'static str, key: impl ToString) -> Self {
        StoreError::StoredValueMissing {
            table,
            key: key.to_string(),
        }
    }
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::StorageFailed(redb::Error::from(e))
            }
        }
    )*};
}

from_redb!(
    redb::StorageError,
    redb::TableError,
    redb::TransactionError,
    redb::CommitError,
    redb::DatabaseError
);

/// `1 entry`, `3 entries`.
fn entries(n: u64) -> String {
    if n == 1 {
        "1 entry".to_string()
    } else {
        format!("{n} entries")
    }
}

impl From<armsledger_index::MapError> for StoreError {
    fn from(e: armsledger_index::MapError) -> Self {
        match e {
            // A disk fault stays a disk fault (the server answers 507 and re-opens).
            armsledger_index::MapError::Redb(e) => StoreError::StorageFailed(e),
            other => StoreError::Index(other),
        }
    }
}
