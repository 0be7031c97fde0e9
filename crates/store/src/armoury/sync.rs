//! Sync with the server: entries not yet acknowledged, receipts (checkpoint
//! and inclusion proof per entry), the regulator's chain, and transfers
//! addressed to this site.

use armsledger_core::entry::{ChainId, SignedEntry};
use armsledger_core::event::{Event, SiteEvent};
use armsledger_core::ids::{PersonId, Timestamp};
use armsledger_log::{EntryLeaf, Hash as TreeHash, SignedCheckpoint, verify_inclusion};
use redb::ReadableTable;
use serde::{Deserialize, Serialize};

use super::*;

/// The server's receipt for one own entry: where it sits in the global log,
/// the time the log received it (part of the leaf, so under the log's
/// signature) and the inclusion proof against a checkpoint of `tree_size`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryReceipt {
    /// The entry's own counter.
    pub counter: u64,
    /// Its index in the global log.
    pub log_index: u64,
    /// When the log received it: the first 8 bytes of its leaf.
    pub received_at: Timestamp,
    /// The checkpoint size the proof is for.
    pub tree_size: u64,
    /// The inclusion proof, leaf side first.
    pub proof: Vec<TreeHash>,
}

/// A receipt as stored (postcard).
#[derive(Serialize, Deserialize)]
struct ReceiptRecord {
    log_index: u64,
    received_at: u64,
    tree_size: u64,
    proof: Vec<[u8; 32]>,
}

impl ArmouryLedger {
    /// Own entries the server has not acknowledged, in chain order.
    pub fn unsynced(&self) -> Result<Vec<SignedEntry>, StoreError> {
        let from = self.sync_cursor()?.saturating_add(1);
        self.entries_from(from, usize::MAX)
    }

    /// Records that the server holds every own entry up to `up_to`, with the
    /// checkpoint it answered with and the receipts it gave. Each receipt's
    /// proof is checked against the checkpoint before anything is stored.
    pub fn mark_synced(
        &self,
        up_to: u64,
        checkpoint: &SignedCheckpoint,
        receipts: &[EntryReceipt],
    ) -> Result<(), StoreError> {
        let cp = checkpoint.checkpoint();
        let bad = |s: String| StoreError::ReceiptInvalid(s);
        let txn = self.db.begin_write()?;
        {
            let own = txn.open_table(OWN)?;
            let head = head_of(&own, "own")?.map_or(0, |h| h.counter);
            let mut m = txn.open_table(META)?;
            let cursor = m
                .get(meta::SYNC_CURSOR)?
                .map(|v| decode_u64(v.value(), meta::SYNC_CURSOR))
                .transpose()?
                .unwrap_or(0);
            if up_to < cursor {
                return Err(bad(format!(
                    "acknowledged {up_to} is below the cursor {cursor}"
                )));
            }
            if up_to > head {
                return Err(bad(format!(
                    "acknowledged {up_to} is beyond the head {head}"
                )));
            }
            let mut rows = txn.open_table(RECEIPTS)?;
            for r in receipts {
                if r.tree_size != cp.size() {
                    return Err(bad(format!(
                        "receipt for {} is for size {}, the checkpoint is {}",
                        r.counter,
                        r.tree_size,
                        cp.size()
                    )));
                }
                let bytes = own
                    .get(r.counter)?
                    .ok_or_else(|| bad(format!("no own entry {}", r.counter)))?;
                verify_inclusion(
                    &EntryLeaf::new(r.received_at.millis(), bytes.value()).hash(),
                    r.log_index,
                    cp.size(),
                    &r.proof,
                    cp.root(),
                )
                .map_err(|e| bad(format!("entry {}: {e}", r.counter)))?;
                let rec = ReceiptRecord {
                    log_index: r.log_index,
                    received_at: r.received_at.millis(),
                    tree_size: r.tree_size,
                    proof: r.proof.iter().map(|h| h.0).collect(),
                };
                rows.insert(r.counter, encode(&rec, "receipt")?.as_slice())?;
            }
            txn.open_table(CHECKPOINTS)?
                .insert(cp.size(), checkpoint.note())?;
            m.insert(meta::SYNC_CURSOR, up_to.to_be_bytes().as_slice())?;
        }
        txn.commit()?;
        Ok(())
    }

    /// The receipt stored for own entry `counter`.
    pub fn receipt(&self, counter: u64) -> Result<Option<EntryReceipt>, StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(RECEIPTS)?;
        let Some(v) = t.get(counter)? else {
            return Ok(None);
        };
        let rec: ReceiptRecord = decode(v.value(), "receipts", counter)?;
        Ok(Some(EntryReceipt {
            counter,
            log_index: rec.log_index,
            received_at: Timestamp(rec.received_at),
            tree_size: rec.tree_size,
            proof: rec.proof.into_iter().map(TreeHash).collect(),
        }))
    }

    /// Every checkpoint note received at sync, by tree size.
    pub fn checkpoints(&self) -> Result<Vec<(u64, String)>, StoreError> {
        let txn = self.db.begin_read()?;
        let mut out = Vec::new();
        for row in txn.open_table(CHECKPOINTS)?.iter()? {
            let (k, v) = row?;
            out.push((k.value(), v.value().to_owned()));
        }
        Ok(out)
    }

    /// Adds regulator chain entries (licences, enrolments, revocations) in
    /// chain order, each signed by `regulator_key`. A site holds only the
    /// entries in its scope (a scoped pull), so the chain may have gaps:
    /// where an entry's neighbour is held, the link between them is
    /// checked. Entries already held are skipped, and must be the same.
    /// Returns the new regulator cursor: the highest counter held.
    pub fn add_regulator_entries(
        &self,
        entries: &[SignedEntry],
        regulator_key: &[u8; 32],
    ) -> Result<u64, StoreError> {
        let broken = |s: String| StoreError::ChainBroken(s);
        let txn = self.db.begin_write()?;
        let cursor = {
            let mut table = txn.open_table(REGULATOR)?;
            for e in entries {
                let c = e.counter();
                if let Some(held) = table.get(c)? {
                    if held.value() != e.bytes() {
                        return Err(broken(format!(
                            "regulator counter {c} differs from the entry held"
                        )));
                    }
                    continue;
                }
                if e.chain() != &ChainId::Regulator {
                    return Err(broken(format!(
                        "entry {c} of {} is not a regulator entry",
                        e.chain()
                    )));
                }
                e.verify_signature(regulator_key).map_err(|_| {
                    broken(format!("regulator entry {c}: signature does not verify"))
                })?;
                let h = e.header();
                if h.counter <= h.prev_counter {
                    return Err(broken(format!(
                        "regulator entry {c}: counter not above its previous {}",
                        h.prev_counter
                    )));
                }
                if h.prev_counter > 0
                    && let Some(prev) = table.get(h.prev_counter)?
                {
                    let prev = SignedEntry::decode(prev.value())
                        .map_err(|err| StoreError::malformed("regulator", h.prev_counter, err))?;
                    if prev.hash() != h.prev_hash {
                        return Err(broken(format!(
                            "regulator entry {c} does not link to entry {} held",
                            h.prev_counter
                        )));
                    }
                }
                let next = table
                    .range(c + 1..)?
                    .next()
                    .transpose()?
                    .map(|(_, v)| SignedEntry::decode(v.value()))
                    .transpose()
                    .map_err(|err| StoreError::malformed("regulator", c + 1, err))?;
                if let Some(n) = next.filter(|n| n.header().prev_counter == c)
                    && n.header().prev_hash != e.hash()
                {
                    return Err(broken(format!(
                        "regulator entry {} held does not link to entry {c}",
                        n.counter()
                    )));
                }
                table.insert(c, e.bytes())?;
                index_rows(&txn, e, Source::Regulator)?;
                // A site deletes its openings of the notes an erasure names
                // as it takes the erasure in, in the same transaction.
                crate::notes::apply_erasure(&txn, e, true)?;
            }
            let cursor = table.last()?.map_or(0, |(k, _)| k.value());
            txn.open_table(META)?
                .insert(meta::REGULATOR_CURSOR, cursor.to_be_bytes().as_slice())?;
            cursor
        };
        txn.commit()?;
        Ok(cursor)
    }

    /// Replaces the bar list held here (person, until in ms; `None` for
    /// good): what a scoped pull gives instead of the bar entries.
    pub fn set_bars(&self, bars: &[(PersonId, Option<Timestamp>)]) -> Result<(), StoreError> {
        let rows: Vec<(&str, Option<u64>)> = bars
            .iter()
            .map(|(p, u)| (p.as_str(), u.map(Timestamp::millis)))
            .collect();
        self.put_meta(meta::BARS, &encode(&rows, meta::BARS)?)
    }

    /// The bar list held here (empty before the first scoped pull).
    pub fn bars(&self) -> Result<Vec<(PersonId, Option<Timestamp>)>, StoreError> {
        let txn = self.db.begin_read()?;
        let Some(v) = txn.open_table(META)?.get(meta::BARS)? else {
            return Ok(Vec::new());
        };
        let rows: Vec<(String, Option<u64>)> = decode(v.value(), "meta", meta::BARS)?;
        rows.into_iter()
            .map(|(p, u)| {
                PersonId::new(p)
                    .map(|p| (p, u.map(Timestamp)))
                    .map_err(|e| StoreError::malformed("meta", meta::BARS, e))
            })
            .collect()
    }

    /// Keeps a transfer out addressed to this site until it is received.
    /// The caller has verified it; returns `false` if it was already there.
    pub fn add_to_inbox(&self, entry: &SignedEntry) -> Result<bool, StoreError> {
        match &entry.body().event {
            Event::Site(SiteEvent::TransferredOut { to_site, .. }) if to_site == &self.site => {}
            _ => {
                return Err(StoreError::ChainBroken(
                    "only transfers out to this site go in the inbox".into(),
                ));
            }
        }
        let txn = self.db.begin_write()?;
        let fresh = {
            let mut t = txn.open_table(INBOX)?;
            let h = entry.hash();
            let fresh = t.get(hash_key(&h))?.is_none();
            if fresh {
                t.insert(hash_key(&h), entry.bytes())?;
            }
            fresh
        };
        txn.commit()?;
        Ok(fresh)
    }

    /// Every transfer in the inbox.
    pub fn inbox(&self) -> Result<Vec<SignedEntry>, StoreError> {
        let txn = self.db.begin_read()?;
        let mut out = Vec::new();
        for row in txn.open_table(INBOX)?.iter()? {
            let (_, v) = row?;
            out.push(
                SignedEntry::decode(v.value())
                    .map_err(|e| StoreError::malformed("inbox", "entry", e))?,
            );
        }
        Ok(out)
    }
}
