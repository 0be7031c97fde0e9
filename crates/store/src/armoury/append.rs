//! Appending to the site's own chain around the device signature, with a
//! write-ahead intent so a crash at any point leaves the entry wholly there
//! or wholly absent, and never an entry the device did not sign.
//!
//! ```text
//! prepare(body)        pending := {body, body hash, head}      durable
//!   → device signs (header, sig) and persists its own head
//! commit_signed(h, s)  own[counter] := entry; indexes; pending := ∅   one durable txn
//!
//! after a crash: recover(device's last receipt)
//!   receipt newer than head, same body hash  → assemble, check, append (Completed)
//!   device never signed it                   → drop pending (Dropped)
//! ```

use armsledger_core::chain::{ChainCursor, Head};
use armsledger_core::entry::{ChainId, EntryBody, EntryHeader, SignedEntry, body_hash_of};
use armsledger_core::event::Event;
use armsledger_core::hash::Hash;
use armsledger_core::sig::Sig;
use redb::{ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::*;

/// What the host asks the device to sign: the chain, the head it must
/// extend, and the hash of the body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignRequest {
    /// The site's chain.
    pub chain: ChainId,
    /// Counter of the head the entry extends (0 for the first).
    pub prev_counter: u64,
    /// Entry hash of that head (zero for the first).
    pub prev_hash: Hash,
    /// Hash of the body the device commits to.
    pub body_hash: Hash,
}

/// An entry waiting for its device signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    /// The body.
    pub body: EntryBody,
    /// The sign request sent (or about to be sent) to the device.
    pub request: SignRequest,
}

/// What [`ArmouryLedger::recover`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recovery {
    /// Nothing was pending and the device agrees with the stored head.
    Clean,
    /// The device had signed the pending entry; it is now appended.
    Completed(Box<SignedEntry>),
    /// The device never signed the pending entry; the intent is dropped.
    Dropped(Box<EntryBody>),
}

/// The pending row as stored (postcard).
#[derive(Serialize, Deserialize)]
struct PendingRecord {
    body: Vec<u8>,
    body_hash: Hash,
    prev_counter: u64,
    prev_hash: Hash,
}

impl PendingRecord {
    fn into_pending(self, chain: ChainId) -> Result<Pending, StoreError> {
        let body = armsledger_core::codec::decode_strict::<EntryBody>(
            &self.body,
            armsledger_core::entry::MAX_ENTRY_BYTES,
        )
        .map_err(|e| StoreError::malformed("pending", 0, e))?;
        Ok(Pending {
            body,
            request: SignRequest {
                chain,
                prev_counter: self.prev_counter,
                prev_hash: self.prev_hash,
                body_hash: self.body_hash,
            },
        })
    }
}

/// Room left for the header and signature under the entry size limit.
const HEADER_ALLOWANCE: usize = 64 + 256;

impl ArmouryLedger {
    fn chain(&self) -> ChainId {
        ChainId::Site(self.site.clone())
    }

    /// The entry waiting for a device signature, if any.
    pub fn pending(&self) -> Result<Option<Pending>, StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(PENDING)?;
        let Some(v) = t.get(0)? else {
            return Ok(None);
        };
        let rec: PendingRecord = decode(v.value(), "pending", 0)?;
        rec.into_pending(self.chain()).map(Some)
    }

    /// Records the intent to append `body` durably and returns what to ask
    /// the device to sign. Refused while another entry is pending.
    pub fn prepare(&self, body: &EntryBody) -> Result<SignRequest, StoreError> {
        let Event::Site(event) = &body.event else {
            return Err(StoreError::ChainBroken(
                "a site chain holds only site events".into(),
            ));
        };
        let subjects = event.subjects();
        if body.links.len() != subjects.len()
            || body
                .links
                .iter()
                .zip(&subjects)
                .any(|(l, s)| &l.subject != s)
        {
            return Err(StoreError::ChainBroken(
                "links do not name exactly the subjects the event touches".into(),
            ));
        }
        let bytes = body_bytes(body)?;
        if bytes.len() + HEADER_ALLOWANCE > armsledger_core::entry::MAX_ENTRY_BYTES {
            return Err(armsledger_core::entry::EntryError::TooLarge(bytes.len()).into());
        }
        let txn = self.db.begin_write()?;
        let request = {
            let mut pending = txn.open_table(PENDING)?;
            let head = head_of(&txn.open_table(OWN)?, "own")?;
            if pending.get(0)?.is_some() {
                return Err(StoreError::AlreadyPending {
                    head: head.map_or(0, |h| h.counter),
                });
            }
            let (prev_counter, prev_hash) = head.map_or((0, Hash::ZERO), |h| (h.counter, h.hash));
            let rec = PendingRecord {
                body_hash: body_hash_of(&bytes),
                body: bytes,
                prev_counter,
                prev_hash,
            };
            pending.insert(0, encode(&rec, "pending")?.as_slice())?;
            SignRequest {
                chain: self.chain(),
                prev_counter,
                prev_hash,
                body_hash: rec.body_hash,
            }
        };
        txn.commit()?;
        Ok(request)
    }

    /// Appends the pending entry with the device's header and signature, in
    /// one durable transaction that also clears the intent.
    pub fn commit_signed(
        &self,
        header: EntryHeader,
        signature: Sig,
    ) -> Result<SignedEntry, StoreError> {
        let txn = self.db.begin_write()?;
        let entry = self.complete(&txn, header, signature)?;
        txn.commit()?;
        Ok(entry)
    }

    /// Checks `header` and `signature` against the pending intent, the head
    /// and the enrolled key, and appends the entry inside `txn`.
    fn complete(
        &self,
        txn: &WriteTransaction,
        header: EntryHeader,
        signature: Sig,
    ) -> Result<SignedEntry, StoreError> {
        let key = self.device_key()?;
        let rec: PendingRecord = {
            let t = txn.open_table(PENDING)?;
            let v = t.get(0)?.ok_or(StoreError::NothingPending)?;
            decode(v.value(), "pending", 0)?
        };
        let head = head_of(&txn.open_table(OWN)?, "own")?;
        let mismatch = |what: &str| StoreError::DeviceMismatch(what.to_owned());
        if header.body_hash != rec.body_hash {
            return Err(mismatch("the device signed another body"));
        }
        if (header.prev_counter, header.prev_hash) != (rec.prev_counter, rec.prev_hash) {
            return Err(mismatch("the device signed after another head"));
        }
        if header.device != key.device || header.key_epoch != key.key_epoch {
            return Err(mismatch("signed by another device or key epoch"));
        }
        let body = armsledger_core::codec::decode_strict::<EntryBody>(
            &rec.body,
            armsledger_core::entry::MAX_ENTRY_BYTES,
        )
        .map_err(|e| StoreError::malformed("pending", 0, e))?;
        let entry = SignedEntry::assemble(header, signature, body)?;
        entry
            .verify_signature(&key.public_key)
            .map_err(|_| StoreError::DeviceSignatureInvalid)?;
        ChainCursor::resume(self.chain(), head)
            .check(&entry)
            .map_err(|e| StoreError::ChainBroken(e.to_string()))?;
        txn.open_table(OWN)?
            .insert(entry.counter(), entry.bytes())?;
        index_rows(txn, &entry, Source::Own)?;
        txn.open_table(PENDING)?.remove(0)?;
        Ok(entry)
    }

    /// Brings the ledger in line with the device after a restart, given the
    /// device's last receipt (GetLastReceipt): completes the pending entry
    /// if the device signed it, drops it if not. Refuses if the device and
    /// the ledger disagree in a way no crash explains.
    pub fn recover(&self, last: Option<(EntryHeader, Sig)>) -> Result<Recovery, StoreError> {
        let txn = self.db.begin_write()?;
        let head = head_of(&txn.open_table(OWN)?, "own")?;
        let pending = {
            let t = txn.open_table(PENDING)?;
            let v = t.get(0)?;
            v.map(|v| decode::<PendingRecord>(v.value(), "pending", 0))
                .transpose()?
        };
        let head_counter = head.as_ref().map_or(0, |h| h.counter);
        let outcome = match (pending, last) {
            (None, None) => Recovery::Clean,
            (None, Some((h, _))) => {
                self.device_matches_stored(&txn, &h, head.as_ref())?;
                Recovery::Clean
            }
            (Some(rec), Some((h, sig))) if h.counter > head_counter => {
                // Signed after our head: it must be the pending body.
                if h.body_hash != rec.body_hash {
                    return Err(StoreError::DeviceMismatch(format!(
                        "device signed counter {} over another body than the pending one",
                        h.counter
                    )));
                }
                Recovery::Completed(Box::new(self.complete(&txn, h, sig)?))
            }
            (Some(rec), last) => {
                if let Some((h, _)) = &last {
                    self.device_matches_stored(&txn, h, head.as_ref())?;
                }
                txn.open_table(PENDING)?.remove(0)?;
                let chain = self.chain();
                Recovery::Dropped(Box::new(rec.into_pending(chain)?.body))
            }
        };
        txn.commit()?;
        Ok(outcome)
    }

    /// The device's last receipt must be an entry the ledger holds.
    fn device_matches_stored(
        &self,
        txn: &WriteTransaction,
        h: &EntryHeader,
        head: Option<&Head>,
    ) -> Result<(), StoreError> {
        let head_counter = head.map_or(0, |h| h.counter);
        if h.counter > head_counter {
            return Err(StoreError::LedgerBehindDevice {
                device: h.counter,
                ledger: head_counter,
            });
        }
        let own = txn.open_table(OWN)?;
        let stored = own
            .get(h.counter)?
            .map(|v| decode_entry(v.value(), "own", h.counter))
            .transpose()?;
        let hash = h
            .entry_hash()
            .map_err(|e| StoreError::DeviceMismatch(e.to_string()))?;
        match stored {
            Some(e) if e.hash() == hash => Ok(()),
            _ => Err(StoreError::DeviceMismatch(format!(
                "device's last receipt (counter {}) is not the ledger's entry",
                h.counter
            ))),
        }
    }
}
