//! Checking a serial check's answer (`GET /v1/serials/{serial}`) the way a
//! client must, trusting nothing but the log key: the checkpoint's
//! signature, its `armsledger-index/v1` root, and the map proof of the
//! serial's leaf (or of its absence) against that root. `armsledger
//! check-serial` and the console's check-serial page both call
//! [`verify_serial_answer`].

use armsledger_core::hash::Hash;
use armsledger_index::{MapKey, Proof};
use armsledger_log::{LogVerifier, open_checkpoint};

/// The parts of a serial check's answer the proof covers.
#[derive(Clone, Copy, Debug)]
pub struct SerialAnswerParts<'a> {
    /// The signed checkpoint note the proof is against.
    pub checkpoint: &'a str,
    /// The serial as asked.
    pub serial: &'a str,
    /// The answer's map key (hex).
    pub map_key: &'a str,
    /// The answer's leaf value (hex), if it says there is one.
    pub value: Option<&'a str>,
    /// The map proof (hex).
    pub proof: &'a str,
    /// Whether the answer says the serial was recorded.
    pub recorded: bool,
    /// Whether the answer lists firearms under the serial.
    pub lists_firearms: bool,
}

/// What a verified answer proves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SerialProven {
    /// The checkpoint's tree size.
    pub size: u64,
    /// Whether the map holds a leaf for the serial.
    pub present: bool,
}

/// Why a serial check's answer does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SerialProofError {
    /// The checkpoint is not signed by the log key.
    #[error("the checkpoint's signature does not verify with the log key: {0}")]
    CheckpointSignature(String),
    /// The checkpoint has no index root line.
    #[error("the checkpoint commits to no armsledger-index/v1 root")]
    NoIndexRoot,
    /// The answer's map key is not the asked serial's.
    #[error("the answer is for another map key than serial {0:?}'s")]
    OtherKey(String),
    /// A hex field does not decode.
    #[error("the {0} is not hex: {1}")]
    NotHex(&'static str, String),
    /// The proof's bytes are not a map proof.
    #[error("the proof does not decode: {0}")]
    ProofUndecodable(String),
    /// The proof does not lead to the checkpoint's index root.
    #[error("the map proof does not verify against the checkpoint's index root: {0}")]
    ProofFails(String),
    /// The answer's `recorded` disagrees with the proof.
    #[error("the answer says recorded={says} but the proof shows {}", if *.leaf { "a leaf" } else { "none" })]
    RecordedDisagrees {
        /// What the answer says.
        says: bool,
        /// Whether the proof shows a leaf.
        leaf: bool,
    },
    /// The proof shows the serial absent, yet firearms are listed.
    #[error("the proof shows the serial absent but the answer lists firearms")]
    AbsentButListed,
}

/// Verifies `a` with the log key `log`.
pub fn verify_serial_answer(
    a: &SerialAnswerParts<'_>,
    log: &LogVerifier,
) -> Result<SerialProven, SerialProofError> {
    let cp = open_checkpoint(a.checkpoint.as_bytes(), log, log.name())
        .map_err(|e| SerialProofError::CheckpointSignature(e.to_string()))?;
    let root = Hash(
        cp.checkpoint()
            .index()
            .ok_or(SerialProofError::NoIndexRoot)?
            .0,
    );
    let key = MapKey::serial(a.serial);
    if a.map_key != key.to_string() {
        return Err(SerialProofError::OtherKey(a.serial.to_string()));
    }
    let proof =
        hex::decode(a.proof).map_err(|e| SerialProofError::NotHex("proof", e.to_string()))?;
    let proof =
        Proof::decode(&proof).map_err(|e| SerialProofError::ProofUndecodable(e.to_string()))?;
    let value = a
        .value
        .map(hex::decode)
        .transpose()
        .map_err(|e| SerialProofError::NotHex("leaf value", e.to_string()))?;
    let leaf = proof
        .verify_value(&root, &key, value.as_deref())
        .map_err(|e| SerialProofError::ProofFails(e.to_string()))?;
    let present = leaf.is_some();
    if a.recorded != present {
        return Err(SerialProofError::RecordedDisagrees {
            says: a.recorded,
            leaf: present,
        });
    }
    if !present && a.lists_firearms {
        return Err(SerialProofError::AbsentButListed);
    }
    Ok(SerialProven {
        size: cp.checkpoint().size(),
        present,
    })
}
