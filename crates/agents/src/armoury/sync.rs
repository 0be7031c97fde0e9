//! Sync: push what the server has not acknowledged in batches, store the
//! receipts, then pull the regulator entries in this site's scope, the bar
//! list and the transfers addressed here, each entry's inclusion proof and
//! signature checked before it is stored.

use std::collections::HashSet;
use std::sync::Arc;

use armsledger_core::entry::SignedEntry;
use armsledger_core::event::{Event, SiteEvent};
use armsledger_core::hash::Hash;
use armsledger_core::ids::{PersonId, Timestamp};
use armsledger_device::host::Transport;
use armsledger_log::{LogVerifier, open_checkpoint};
use armsledger_store::EntryReceipt;
use serde::Serialize;

use super::ArmouryAgent;
use crate::client::{LedgerServer, MAX_PUSH_BATCH, NoteUpload, PULL_FORMAT};
use crate::config::{self, files};
use crate::error::AgentError;

/// What [`ArmouryAgent::sync`] did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SyncReport {
    /// Own entries pushed.
    pub pushed: usize,
    /// Batches sent.
    pub batches: usize,
    /// Size of the last checkpoint received.
    pub checkpoint_size: Option<u64>,
    /// Regulator entries newly held after the pull (only those in the
    /// site's scope reach it).
    pub regulator_entries: u64,
    /// New transfers in the inbox.
    pub inbox_new: usize,
    /// Note openings sent beside the pushed entries (new to the server).
    pub notes_sent: usize,
    /// Persons on the bar list after the pull (no reasons reach the site).
    pub barred: usize,
}

impl<T: Transport> ArmouryAgent<T> {
    /// The openings this site keeps of the notes `entries` carry (a note
    /// erased here, or never sealed here, is not sent).
    fn note_uploads(&self, entries: &[SignedEntry]) -> Result<Vec<NoteUpload>, AgentError> {
        let mut out = Vec::new();
        for e in entries {
            for n in e.body().event.notes() {
                if let Some(rec) = self.ledger.note(&n)?
                    && let Some(opening) = rec.opening
                {
                    out.push(NoteUpload {
                        entry: e.hash(),
                        opening,
                        class: rec.class,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Pushes unsynced entries in batches and stores the receipts, then pulls
    /// the regulator chain and the transfers addressed to this site.
    pub fn sync(&mut self, server: &impl LedgerServer) -> Result<SyncReport, AgentError> {
        let mut report = SyncReport::default();
        let vkey = match &self.config.log_vkey {
            Some(k) => k.clone(),
            None => {
                let k = server.log_key()?;
                self.config.log_vkey = Some(k.clone());
                config::save(&self.dir.join(files::SITE_TOML), &self.config)?;
                k
            }
        };
        let log = LogVerifier::from_vkey(&vkey)
            .map_err(|e| AgentError::Config(format!("log key: {e}")))?;
        let unsynced = self.ledger.unsynced()?;
        for batch in unsynced.chunks(MAX_PUSH_BATCH) {
            let raw: Vec<Vec<u8>> = batch.iter().map(|e| e.bytes().to_vec()).collect();
            let receipt = server.push(&raw)?;
            let note = receipt
                .checkpoint
                .ok_or_else(|| AgentError::Server("the server sent no checkpoint".into()))?;
            let cp = open_checkpoint(note.as_bytes(), &log, log.name())
                .map_err(|e| AgentError::Server(format!("checkpoint: {e}")))?;
            if receipt.proofs.len() != batch.len() {
                return Err(AgentError::Server(format!(
                    "{} proofs for {} entries",
                    receipt.proofs.len(),
                    batch.len()
                )));
            }
            let mut receipts = Vec::with_capacity(batch.len());
            for (e, p) in batch.iter().zip(&receipt.proofs) {
                let proof = p
                    .proof
                    .iter()
                    .map(|h| h.parse::<armsledger_log::Hash>())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| AgentError::Server(format!("proof hash: {e:?}")))?;
                receipts.push(EntryReceipt {
                    counter: e.counter(),
                    log_index: p.index,
                    received_at: Timestamp(p.received_at_ms),
                    tree_size: p.size,
                    proof,
                });
            }
            // The openings go after their entries are logged (the server
            // keeps an opening only for a note a logged entry carries), and
            // before the batch counts as synced, so a failed send is sent
            // again at the next sync.
            let uploads = self.note_uploads(batch)?;
            for chunk in uploads.chunks(MAX_PUSH_BATCH) {
                report.notes_sent += server.put_notes(chunk)?;
            }
            let last = batch.last().map_or(0, SignedEntry::counter);
            self.ledger.mark_synced(last, &cp, &receipts)?;
            report.pushed += batch.len();
            report.batches += 1;
            report.checkpoint_size = Some(cp.checkpoint().size());
        }
        let before = self.ledger.regulator_cursor()?;
        let pull = server.pull(self.site.as_str(), before.saturating_add(1), 0)?;
        if pull.format != PULL_FORMAT {
            return Err(AgentError::Server(format!(
                "the server answered a pull of format {}, this armsledger reads format {PULL_FORMAT}; update one of them",
                pull.format
            )));
        }
        let checkpoint = pull
            .checkpoint
            .as_deref()
            .map(|note| open_checkpoint(note.as_bytes(), &log, log.name()))
            .transpose()
            .map_err(|e| AgentError::Server(format!("pull checkpoint: {e}")))?;
        // Every pulled entry must be proven in the signed checkpoint: the
        // site holds only part of the regulator chain, so the log's
        // signature is what says the server showed it the same entries it
        // shows everyone.
        let decode = |p: &crate::client::ProvenEntry| -> Result<SignedEntry, AgentError> {
            let bytes = hex::decode(&p.entry)
                .map_err(|e| AgentError::Server(format!("pulled entry is not hex: {e}")))?;
            let cp = checkpoint.as_ref().ok_or_else(|| {
                AgentError::Server(format!(
                    "log entry {} came without a checkpoint to prove it against",
                    p.index
                ))
            })?;
            let proof = p
                .proof
                .iter()
                .map(|h| h.parse::<armsledger_log::Hash>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| AgentError::Server(format!("proof hash: {e:?}")))?;
            let c = cp.checkpoint();
            armsledger_log::verify_inclusion(
                &armsledger_log::EntryLeaf::new(p.received_at_ms, &bytes).hash(),
                p.index,
                c.size(),
                &proof,
                c.root(),
            )
            .map_err(|e| {
                AgentError::Server(format!(
                    "log entry {} is not in the checkpoint of size {}: {e}",
                    p.index,
                    c.size()
                ))
            })?;
            SignedEntry::decode(&bytes)
                .map_err(|e| AgentError::Server(format!("pulled entry {}: {e}", p.index)))
        };
        let held_regulator: HashSet<u64> = self
            .ledger
            .regulator_entries_from(1, usize::MAX)?
            .iter()
            .map(SignedEntry::counter)
            .collect();
        let mut regulator = Vec::new();
        for p in &pull.regulator {
            let e = decode(p)?;
            if !held_regulator.contains(&e.counter()) {
                regulator.push(e);
            }
        }
        let bars = pull
            .bars
            .iter()
            .map(|b| {
                PersonId::new(b.person.as_str())
                    .map(|p| (p, b.until_ms.map(Timestamp)))
                    .map_err(|e| AgentError::Server(format!("bar list: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        // Everything is checked as the rebuild at the next open will check
        // it, before it is stored: a bad entry must never lock the site out.
        let mut probe = self.verifier.clone();
        let refuse = |what: &str, e: armsledger_core::ChainError| {
            AgentError::Verify(format!("pulled {what} refused: {e}"))
        };
        for e in &regulator {
            probe
                .ingest_scoped(Arc::new(e.clone()), None)
                .map_err(|err| refuse(&format!("regulator entry {}", e.counter()), err))?;
        }
        let held: HashSet<Hash> = self.ledger.inbox()?.iter().map(SignedEntry::hash).collect();
        let mut transfers = Vec::new();
        for p in &pull.inbox {
            let e = decode(p)?;
            let addressed = matches!(
                &e.body().event,
                Event::Site(SiteEvent::TransferredOut { to_site, .. }) if to_site == &self.site
            );
            if !addressed {
                return Err(AgentError::Server(format!(
                    "log entry {} in the inbox is not a transfer to {}",
                    p.index, self.site
                )));
            }
            if held.contains(&e.hash())
                || transfers.iter().any(|t: &SignedEntry| t.hash() == e.hash())
            {
                continue;
            }
            probe
                .ingest_foreign(Arc::new(e.clone()), None)
                .map_err(|err| refuse("transfer", err))?;
            transfers.push(e);
        }
        // Everything checked: store, then fold. A site that was waiting for
        // its enrolment folds its own chain from scratch; otherwise the
        // checked verifier is the new one (no replay of the whole ledger).
        self.ledger
            .add_regulator_entries(&regulator, &self.regulator_key)?;
        self.ledger.set_bars(&bars)?;
        report.barred = bars.len();
        probe.set_bars(bars);
        report.regulator_entries = regulator.len() as u64;
        for e in &transfers {
            if self.ledger.add_to_inbox(e)? {
                report.inbox_new += 1;
            }
        }
        if self.enrolled {
            self.verifier = probe;
        } else {
            self.rebuild()?;
        }
        Ok(report)
    }
}
