//! The witness itself: checks a submission against the log's keys and the
//! latest checkpoint it cosigned, and cosigns only what extends it.

use std::collections::HashMap;
use std::sync::Arc;

use armsledger_log::{
    CheckpointNote, Cosignature, CosignatureVerifier, CosignerKey, EMPTY_ROOT, LogError,
    verify_consistency,
};
use sha2::{Digest as _, Sha256};

use crate::WitnessError;
use crate::request::AddCheckpoint;
use crate::store::{Evidence, EvidenceKind, Latest, Outcome, Store};

/// The current time, passed in so tests fix it.
pub trait Clock: Send + Sync {
    /// Seconds since the Unix epoch.
    fn unix_seconds(&self) -> u64;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn unix_seconds(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// A fixed clock, for tests and examples.
#[derive(Clone, Copy, Debug)]
pub struct FixedClock(pub u64);

impl Clock for FixedClock {
    fn unix_seconds(&self) -> u64 {
        self.0
    }
}

/// A C2SP tlog-witness over its key, its store and a clock.
pub struct Witness {
    key: CosignerKey,
    store: Store,
    clock: Arc<dyn Clock>,
    /// SHA-256 of each known origin → the origin (the monitoring path).
    by_hash: HashMap<[u8; 32], String>,
}

impl Witness {
    /// A witness serving the logs `store` knows.
    pub fn new(
        key: CosignerKey,
        store: Store,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, WitnessError> {
        let by_hash = store
            .logs()?
            .into_iter()
            .map(|(origin, _)| (Sha256::digest(origin.as_bytes()).into(), origin))
            .collect();
        Ok(Self {
            key,
            store,
            clock,
            by_hash,
        })
    }

    /// The witness's public key, to hand to logs and clients.
    pub fn verifier(&self) -> CosignatureVerifier {
        self.key.verifier()
    }

    /// The witness's state.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Handles an add-checkpoint body; the cosignature lines on success.
    ///
    /// Checks, in this order: the body's form (400), the origin (404), the
    /// log's signature (403), `old` ≤ size (400); then, inside one write
    /// transaction, `old` = the witness's size (409) and the consistency
    /// proof from the witness's checkpoint (422, evidence kept when the log
    /// signed something inconsistent).
    pub fn add_checkpoint(&self, body: &[u8]) -> Result<Vec<Cosignature>, WitnessError> {
        let req = AddCheckpoint::parse(body)?;
        let note = CheckpointNote::parse(req.note).map_err(|e| match e {
            LogError::InputTooLarge { .. } => WitnessError::RequestTooLarge {
                max: crate::MAX_REQUEST_BYTES,
            },
            e => WitnessError::CheckpointMalformed(e),
        })?;
        let checkpoint = note.checkpoint().clone();
        let origin = checkpoint.origin();
        let keys = self
            .store
            .log_keys(origin)?
            .ok_or_else(|| WitnessError::UnknownLog(origin.to_owned()))?;
        let log_lines = note
            .verify_log(&keys)
            .map_err(WitnessError::NotSignedByLog)?;
        if req.old > checkpoint.size() {
            return Err(WitnessError::OldSizeBeyondCheckpoint {
                old: req.old,
                size: checkpoint.size(),
            });
        }
        let now = self.clock.unix_seconds();
        let mut answer = None;
        self.store.check_and_persist(origin, |latest| {
            let (size, root) = latest
                .as_ref()
                .map_or((0, EMPTY_ROOT), |l| (l.size, l.root));
            if req.old != size {
                return Outcome::Refuse(WitnessError::OldSizeMismatch { witness_size: size }, None);
            }
            if let Err(e) = verify_consistency(
                size,
                checkpoint.size(),
                &root,
                checkpoint.root(),
                &req.proof,
            ) {
                if size == 0 && !req.proof.is_empty() {
                    // A client error, not something the log signed wrongly.
                    return Outcome::Refuse(WitnessError::ProofRefused(e), None);
                }
                let (kind, err) = if checkpoint.size() == 0 {
                    (EvidenceKind::EmptyTreeRoot, WitnessError::ProofRefused(e))
                } else if checkpoint.size() == size {
                    (
                        EvidenceKind::SameSizeDifferentRoot,
                        WitnessError::SplitView { size },
                    )
                } else {
                    (EvidenceKind::Inconsistent, WitnessError::ProofRefused(e))
                };
                let evidence = Evidence {
                    kind,
                    time: now,
                    cosigned_note: latest.map(|l| l.note).unwrap_or_default(),
                    request: body.to_vec(),
                };
                return Outcome::Refuse(err, Some((req.note.to_vec(), evidence)));
            }
            let cosignature = match self.key.cosign(note.body(), now) {
                Ok(c) => c,
                Err(e) => return Outcome::Refuse(WitnessError::CosignFailed(e), None),
            };
            let mut served = format!("{}\n", note.body());
            for line in &log_lines {
                served.push_str(&line.to_line());
            }
            served.push_str(&cosignature.to_line());
            answer = Some(cosignature);
            Outcome::Cosign(Latest {
                size: checkpoint.size(),
                root: *checkpoint.root(),
                note: served,
            })
        })?;
        answer
            .map(|c| vec![c])
            .ok_or(WitnessError::StorageCorrupt("no cosignature after commit"))
    }

    /// The latest cosigned note of the log whose origin hashes to `hex`
    /// (lowercase hex SHA-256), for `GET /<hex>/checkpoint`.
    pub fn checkpoint_by_origin_hash(&self, hex: &str) -> Result<String, WitnessError> {
        let mut digest = [0u8; 32];
        hex::decode_to_slice(hex, &mut digest).map_err(|_| WitnessError::NotFound)?;
        if hex.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(WitnessError::NotFound);
        }
        let origin = self.by_hash.get(&digest).ok_or(WitnessError::NotFound)?;
        self.store
            .latest(origin)?
            .map(|l| l.note)
            .ok_or(WitnessError::NotFound)
    }
}
