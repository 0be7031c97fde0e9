//! Streaming bundle writer: records go straight to the output, only a running
//! SHA-256 and a count are kept, so a server can export a log of any size.

use std::io::Write;

use sha2::{Digest as _, Sha256};

use armsledger_core::ids::Timestamp;
use armsledger_core::{Equivocation, Hash};
use armsledger_log::Hash as LogHash;

use crate::error::BundleError;
use crate::format::{
    ConsistencyRecord, EndRecord, EntryRecord, InclusionRecord, IndexLeavesRecord, Kind, MAGIC,
    MapProofRecord, Meta, Record, ServerFinding, encode_payload,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// Meta written; the checkpoint comes next.
    AwaitCheckpoint,
    /// Checkpoint written, no entry yet: consistency proofs and entries may follow.
    Body,
    /// Last record was an entry (an inclusion proof may follow).
    AfterEntry(u64),
    /// After an entry's inclusion proof or one of its findings or
    /// equivocations: more of those, or the next entry, may follow.
    Annotating,
}

/// Writes a bundle record by record, in the order the format requires:
/// Meta (in [`BundleWriter::new`]), the checkpoint, then consistency proofs,
/// entries (each followed by its inclusion proof in a scoped bundle, then the
/// findings the server raised when it accepted the entry and the
/// equivocation proof of its counter, if any), and End (in
/// [`BundleWriter::finish`]).
#[derive(Debug)]
pub struct BundleWriter<W: Write> {
    out: W,
    hasher: Sha256,
    entries: u64,
    stage: Stage,
}

impl<W: Write> BundleWriter<W> {
    /// Starts a bundle: writes the magic line and the Meta record.
    pub fn new(mut out: W, meta: &Meta) -> Result<Self, BundleError> {
        out.write_all(MAGIC)?;
        let mut w = BundleWriter {
            out,
            hasher: Sha256::new(),
            entries: 0,
            stage: Stage::AwaitCheckpoint,
        };
        w.hasher.update(MAGIC);
        w.record(&Record::Meta(meta.clone()))?;
        Ok(w)
    }

    /// Writes the signed checkpoint note the bundle is checked against.
    pub fn checkpoint(&mut self, note: &str) -> Result<(), BundleError> {
        if self.stage != Stage::AwaitCheckpoint {
            return Err(BundleError::OutOfOrder(
                "the checkpoint comes once, right after Meta",
            ));
        }
        self.record(&Record::Checkpoint(note.to_owned()))?;
        self.stage = Stage::Body;
        Ok(())
    }

    /// Writes a consistency proof from `old_size` to the checkpoint's size
    /// (before the first entry).
    pub fn consistency(&mut self, old_size: u64, proof: &[LogHash]) -> Result<(), BundleError> {
        if self.stage != Stage::Body || self.entries > 0 {
            return Err(BundleError::OutOfOrder(
                "consistency proofs come after the checkpoint, before the first entry",
            ));
        }
        self.record(&Record::Consistency(ConsistencyRecord {
            old_size,
            proof: proof.to_vec(),
        }))?;
        self.stage = Stage::Body;
        Ok(())
    }

    /// Writes a subject's index leaf (or its absence) and its proof against
    /// the checkpoint's index root (after the consistency proofs, before the
    /// first entry).
    pub fn map_proof(&mut self, record: &MapProofRecord) -> Result<(), BundleError> {
        if self.stage != Stage::Body || self.entries > 0 {
            return Err(BundleError::OutOfOrder(
                "index proofs come after the checkpoint, before the first entry",
            ));
        }
        self.record(&Record::MapProof(record.clone()))?;
        Ok(())
    }

    /// Writes the server's index leaves at the checkpoint, `(key, value
    /// hash)` in increasing key order, in records of at most
    /// [`crate::format::MAX_INDEX_LEAVES_PER_RECORD`] (full bundles, after
    /// the consistency proofs, before the first entry).
    pub fn index_leaves(&mut self, leaves: &[([u8; 32], Hash)]) -> Result<(), BundleError> {
        if self.stage != Stage::Body || self.entries > 0 {
            return Err(BundleError::OutOfOrder(
                "index leaves come after the checkpoint, before the first entry",
            ));
        }
        for run in leaves.chunks(crate::format::MAX_INDEX_LEAVES_PER_RECORD) {
            self.record(&Record::IndexLeaves(IndexLeavesRecord {
                leaves: run.to_vec(),
            }))?;
        }
        Ok(())
    }

    /// Writes one entry: its log index, the server's receipt time and its exact bytes.
    pub fn entry(
        &mut self,
        index: u64,
        received_at: Option<Timestamp>,
        bytes: &[u8],
    ) -> Result<(), BundleError> {
        self.body()?;
        self.record(&Record::Entry(EntryRecord {
            index,
            received_at,
            bytes: bytes.to_vec(),
        }))?;
        self.entries += 1;
        self.stage = Stage::AfterEntry(index);
        Ok(())
    }

    /// Writes the inclusion proof of the entry just written.
    pub fn inclusion(&mut self, index: u64, proof: &[LogHash]) -> Result<(), BundleError> {
        if self.stage != Stage::AfterEntry(index) {
            return Err(BundleError::OutOfOrder(
                "an inclusion proof follows the entry with the same index",
            ));
        }
        self.record(&Record::Inclusion(InclusionRecord {
            index,
            proof: proof.to_vec(),
        }))?;
        self.stage = Stage::Annotating;
        Ok(())
    }

    /// Writes the equivocation proof of the counter of the entry just
    /// written (after its inclusion proof, in a scoped bundle).
    pub fn equivocation(&mut self, proof: &Equivocation) -> Result<(), BundleError> {
        self.annotation()?;
        self.record(&Record::Equivocation(proof.clone()))?;
        self.stage = Stage::Annotating;
        Ok(())
    }

    /// Writes a finding the server raised when it accepted the entry just
    /// written (after its inclusion proof, in a scoped bundle).
    pub fn finding(&mut self, finding: &ServerFinding) -> Result<(), BundleError> {
        self.annotation()?;
        self.record(&Record::Finding(finding.clone()))?;
        self.stage = Stage::Annotating;
        Ok(())
    }

    /// Writes End (entry count and digest), flushes, and returns the output.
    pub fn finish(mut self) -> Result<W, BundleError> {
        self.body()?;
        let end = Record::End(EndRecord {
            entries: self.entries,
            digest: self.hasher.clone().finalize().into(),
        });
        self.record(&end)?;
        self.out.flush()?;
        Ok(self.out)
    }

    /// Entries written so far.
    pub fn entries(&self) -> u64 {
        self.entries
    }

    fn body(&self) -> Result<(), BundleError> {
        match self.stage {
            Stage::AwaitCheckpoint => Err(BundleError::OutOfOrder(
                "write the checkpoint before any other record",
            )),
            Stage::Body | Stage::AfterEntry(_) | Stage::Annotating => Ok(()),
        }
    }

    fn annotation(&self) -> Result<(), BundleError> {
        match self.stage {
            Stage::AfterEntry(_) | Stage::Annotating => Ok(()),
            Stage::AwaitCheckpoint | Stage::Body => Err(BundleError::OutOfOrder(
                "findings and equivocations follow the entry they belong to",
            )),
        }
    }

    fn record(&mut self, record: &Record) -> Result<(), BundleError> {
        let kind = record.kind();
        let payload = encode_payload(record).map_err(|reason| BundleError::Encode {
            what: kind.name(),
            reason,
        })?;
        let len = u32::try_from(payload.len()).map_err(|_| BundleError::Encode {
            what: kind.name(),
            reason: "payload over 4 GiB".into(),
        })?;
        let [a, b, c, d] = len.to_be_bytes();
        let header = [kind as u8, a, b, c, d];
        self.out.write_all(&header)?;
        self.out.write_all(&payload)?;
        if kind != Kind::End {
            self.hasher.update(header);
            self.hasher.update(&payload);
        }
        Ok(())
    }
}
