//! The bundle file format: magic line, record kinds, size caps and payloads.
//!
//! ```text
//! bundle = "armsledger-bundle/v3\n" record*
//! record = kind (u8) || len (u32, big-endian) || payload (len bytes)
//! order  = Meta Checkpoint Consistency* MapProof* IndexLeaves* ( Entry Inclusion? ( Finding | Equivocation )* )* End
//! ```
//!
//! An Entry payload after its index is the entry's log leaf:
//! `received_at ‖ entry` (leaf format v2), so the checkpoint covers the time.
//!
//! docs/formats.md, section "Bundles", specifies every payload byte by byte.

use serde::{Deserialize, Serialize};

use armsledger_core::codec;
use armsledger_core::ids::{CompanyId, SiteId, Timestamp};
use armsledger_core::model::{FirearmId, LotId};
use armsledger_core::{ChainId, Equivocation, Hash};
use armsledger_log::{EntryLeaf, Hash as LogHash};

/// The first bytes of every bundle written (version 3, format epoch 2:
/// version 2 and the verifiable index's MapProof records).
pub const MAGIC: &[u8] = b"armsledger-bundle/v3\n";
/// The first bytes of a bundle of version 2 (no MapProof records), still read.
pub const MAGIC_V2: &[u8] = b"armsledger-bundle/v2\n";
/// The first bytes of a bundle of format epoch 1, refused by name.
pub const MAGIC_V1: &[u8] = b"armsledger-bundle/v1\n";

/// Bytes of a record header: kind (1) and length (4).
pub const RECORD_HEADER_BYTES: usize = 5;

/// Largest Meta payload.
pub const MAX_META_BYTES: usize = 64 * 1024;
/// Largest Checkpoint payload (the log crate's signed-note limit).
pub const MAX_CHECKPOINT_BYTES: usize = armsledger_log::MAX_NOTE_BYTES;
/// Most hashes in one inclusion or consistency proof (trees of at most 2^62 leaves need fewer).
pub const MAX_PROOF_HASHES: usize = 64;
/// Largest proof payload: position (8), count (1), hashes.
pub const MAX_PROOF_BYTES: usize = 8 + 1 + 32 * MAX_PROOF_HASHES;
/// Largest entry in a bundle (the ledger's entry limit).
pub const MAX_ENTRY_BYTES: usize = armsledger_core::MAX_ENTRY_BYTES;
/// Largest Entry payload: index (8), received_at (8), entry.
pub const MAX_ENTRY_PAYLOAD_BYTES: usize = 16 + MAX_ENTRY_BYTES;
/// Largest Equivocation payload (two headers and signatures with room to spare).
pub const MAX_EQUIVOCATION_BYTES: usize = 4096;
/// Largest Finding payload.
pub const MAX_FINDING_BYTES: usize = 8192;
/// Largest MapProof payload: key (32), value length (4), value, proof.
pub const MAX_MAP_PROOF_BYTES: usize =
    32 + 4 + armsledger_index::value::MAX_VALUE_BYTES + armsledger_index::proof::MAX_PROOF_BYTES;
/// Most leaves in one IndexLeaves record (a full bundle writes as many
/// records as its index needs).
pub const MAX_INDEX_LEAVES_PER_RECORD: usize = 65_536;
/// Largest IndexLeaves payload: count (4), (key (32) ‖ value hash (32)) per leaf.
pub const MAX_INDEX_LEAVES_BYTES: usize = 4 + 64 * MAX_INDEX_LEAVES_PER_RECORD;
/// The End payload's exact size: entry count (8) and SHA-256 (32).
pub const END_BYTES: usize = 40;

/// Record kinds. The byte values are part of the format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum Kind {
    /// Keys, origin and scope; always the first record.
    Meta = 0x01,
    /// The signed checkpoint the bundle is checked against; always the second.
    Checkpoint = 0x02,
    /// A consistency proof from an older tree size to the checkpoint's.
    Consistency = 0x03,
    /// One log entry.
    Entry = 0x04,
    /// The inclusion proof of the entry just before it (scoped bundles).
    Inclusion = 0x05,
    /// Proof that a device key signed two entries at one counter; follows
    /// the entry of that counter (the one the log holds).
    Equivocation = 0x06,
    /// A finding the server raised when it accepted the entry just before
    /// (checked against the verifier's own findings).
    Finding = 0x07,
    /// A subject's leaf in the verifiable index (docs/log.md section 11)
    /// and its proof against the checkpoint's index root (version 3).
    MapProof = 0x08,
    /// The server's index leaves (key and value hash, by key) at the
    /// checkpoint, so that a full bundle's verifier, which recomputes the
    /// index, names each subject whose leaf the server got wrong (version 3,
    /// full bundles only).
    IndexLeaves = 0x09,
    /// Entry count and digest of everything before; always the last.
    End = 0xff,
}

impl Kind {
    /// The kind for a byte, if known.
    pub fn from_byte(b: u8) -> Option<Kind> {
        Some(match b {
            0x01 => Kind::Meta,
            0x02 => Kind::Checkpoint,
            0x03 => Kind::Consistency,
            0x04 => Kind::Entry,
            0x05 => Kind::Inclusion,
            0x06 => Kind::Equivocation,
            0x07 => Kind::Finding,
            0x08 => Kind::MapProof,
            0x09 => Kind::IndexLeaves,
            0xff => Kind::End,
            _ => return None,
        })
    }

    /// The largest payload this kind may have, checked before allocating.
    pub fn max_len(self) -> usize {
        match self {
            Kind::Meta => MAX_META_BYTES,
            Kind::Checkpoint => MAX_CHECKPOINT_BYTES,
            Kind::Consistency | Kind::Inclusion => MAX_PROOF_BYTES,
            Kind::Entry => MAX_ENTRY_PAYLOAD_BYTES,
            Kind::Equivocation => MAX_EQUIVOCATION_BYTES,
            Kind::Finding => MAX_FINDING_BYTES,
            Kind::MapProof => MAX_MAP_PROOF_BYTES,
            Kind::IndexLeaves => MAX_INDEX_LEAVES_BYTES,
            Kind::End => END_BYTES,
        }
    }

    /// Lower-case name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Meta => "meta",
            Kind::Checkpoint => "checkpoint",
            Kind::Consistency => "consistency proof",
            Kind::Entry => "entry",
            Kind::Inclusion => "inclusion proof",
            Kind::Equivocation => "equivocation",
            Kind::Finding => "finding",
            Kind::MapProof => "index proof",
            Kind::IndexLeaves => "index leaves",
            Kind::End => "end",
        }
    }
}

/// What part of the ledger a bundle holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scope {
    /// Every entry of the log, in order: the Merkle root is recomputed.
    All,
    /// The regulator chain and every chain of one company's sites, with inclusion proofs.
    Company(CompanyId),
    /// The regulator chain and one site's chain, with inclusion proofs.
    Site(SiteId),
    /// A single-weapon dossier: the regulator chain and every entry touching
    /// one firearm, with inclusion proofs.
    Firearm(FirearmId),
    /// An ammunition lot's dossier: the regulator chain and every site
    /// entry about one lot (its acts and the counts that saw it), with
    /// inclusion proofs. Added last, so the earlier scopes keep their bytes.
    Lot(LotId),
}

impl Scope {
    /// Whether entries carry inclusion proofs (everything but [`Scope::All`]).
    pub fn is_scoped(&self) -> bool {
        !matches!(self, Scope::All)
    }
}

impl core::fmt::Display for Scope {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Scope::All => f.write_str("all"),
            Scope::Company(c) => write!(f, "company:{c}"),
            Scope::Site(s) => write!(f, "site:{s}"),
            Scope::Firearm(id) => write!(f, "firearm:{id}"),
            Scope::Lot(id) => write!(f, "lot:{id}"),
        }
    }
}

/// The Meta record: what the bundle claims about itself. Nothing here is
/// trusted on its own: the log key is used only when the caller gives none,
/// and the report says so.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// The log's origin (checkpoint first line).
    pub origin: String,
    /// The log's verifier key, C2SP vkey text (`name+id+base64`).
    pub log_key: String,
    /// The regulator's public key (trust root of the regulator chain).
    pub regulator_key: [u8; 32],
    /// Manufacturer roots device enrolments are checked against (none: not checked).
    pub manufacturer_roots: Vec<[u8; 32]>,
    /// What the bundle holds.
    pub scope: Scope,
    /// When the bundle was written (server clock).
    pub created_at: Timestamp,
}

/// One log entry as carried by a bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryRecord {
    /// Its index in the global log.
    pub index: u64,
    /// When the log received it: the first 8 bytes of its leaf, so the
    /// checkpoint covers it (`None` is written as 0, "not recorded").
    pub received_at: Option<Timestamp>,
    /// The exact entry bytes. Decoded by the verifier, in parallel.
    pub bytes: Vec<u8>,
}

impl EntryRecord {
    /// The entry's log leaf, `received_at ‖ entry` (leaf format v2).
    pub fn leaf(&self) -> EntryLeaf<'_> {
        EntryLeaf::new(self.received_at.map_or(0, Timestamp::millis), &self.bytes)
    }
}

/// An inclusion proof of one entry in the bundle checkpoint's tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InclusionRecord {
    /// The entry's log index.
    pub index: u64,
    /// The proof, leaf side first.
    pub proof: Vec<LogHash>,
}

/// A consistency proof from `old_size` to the bundle checkpoint's size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsistencyRecord {
    /// The older tree size a client may trust.
    pub old_size: u64,
    /// The proof.
    pub proof: Vec<LogHash>,
}

/// A finding the server raised when it accepted the entry the record follows,
/// as it reported it. `entry` names the entry the finding is about: that
/// entry, or (for a finding raised later, such as a key's end) an earlier
/// one. The verifier recomputes findings itself and compares.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerFinding {
    /// Rule name (`RuleId::name`).
    pub rule: String,
    /// Chain of the entry.
    pub chain: ChainId,
    /// Counter of the entry.
    pub counter: u64,
    /// Entry hash.
    pub entry: Hash,
    /// The server's evidence text.
    pub evidence: String,
}

/// A subject's leaf in the verifiable index, or its absence, with the
/// proof against the index root of the bundle's checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapProofRecord {
    /// The map key the proof is for (the verifier derives the key it expects
    /// and ignores a proof for any other).
    pub key: [u8; 32],
    /// The leaf value (docs/log.md section 11, "Values"); `None`: absent.
    pub value: Option<Vec<u8>>,
    /// The proof (docs/log.md section 11, "Proofs").
    pub proof: Vec<u8>,
}

/// A run of the server's index leaves, by key: (map key, value hash).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexLeavesRecord {
    /// 1 to [`MAX_INDEX_LEAVES_PER_RECORD`] leaves, keys strictly increasing.
    pub leaves: Vec<([u8; 32], Hash)>,
}

/// The End record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EndRecord {
    /// Number of Entry records.
    pub entries: u64,
    /// SHA-256 of every byte before the End record.
    pub digest: [u8; 32],
}

/// One decoded record.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
pub enum Record {
    /// Meta.
    Meta(Meta),
    /// Signed checkpoint note text.
    Checkpoint(String),
    /// Consistency proof.
    Consistency(ConsistencyRecord),
    /// Entry.
    Entry(EntryRecord),
    /// Inclusion proof.
    Inclusion(InclusionRecord),
    /// Equivocation proof.
    Equivocation(Equivocation),
    /// Server finding.
    Finding(ServerFinding),
    /// Index proof.
    MapProof(MapProofRecord),
    /// The server's index leaves.
    IndexLeaves(IndexLeavesRecord),
    /// End.
    End(EndRecord),
}

impl Record {
    /// The record's kind.
    pub fn kind(&self) -> Kind {
        match self {
            Record::Meta(_) => Kind::Meta,
            Record::Checkpoint(_) => Kind::Checkpoint,
            Record::Consistency(_) => Kind::Consistency,
            Record::Entry(_) => Kind::Entry,
            Record::Inclusion(_) => Kind::Inclusion,
            Record::Equivocation(_) => Kind::Equivocation,
            Record::Finding(_) => Kind::Finding,
            Record::MapProof(_) => Kind::MapProof,
            Record::IndexLeaves(_) => Kind::IndexLeaves,
            Record::End(_) => Kind::End,
        }
    }

    /// The record's payload bytes (without the kind and length header).
    pub fn payload(&self) -> Result<Vec<u8>, crate::BundleError> {
        encode_payload(self).map_err(|reason| crate::BundleError::Encode {
            what: self.kind().name(),
            reason,
        })
    }
}

/// A record with where it sits in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located {
    /// Record number, 0-based (Meta is 0).
    pub record: u64,
    /// Byte offset of the record header.
    pub offset: u64,
    /// The record.
    pub item: Record,
}

/// Encodes a record's payload. `End` is written by the writer itself.
pub(crate) fn encode_payload(record: &Record) -> Result<Vec<u8>, String> {
    let out = match record {
        Record::Meta(m) => codec::encode(m).map_err(|e| e.to_string())?,
        Record::Checkpoint(note) => note.as_bytes().to_vec(),
        Record::Consistency(c) => encode_proof(c.old_size, &c.proof)?,
        Record::Inclusion(i) => encode_proof(i.index, &i.proof)?,
        Record::Entry(e) => {
            if e.bytes.is_empty() || e.bytes.len() > MAX_ENTRY_BYTES {
                return Err(format!(
                    "an entry is 1 to {MAX_ENTRY_BYTES} bytes, not {}",
                    e.bytes.len()
                ));
            }
            let mut out = Vec::with_capacity(16 + e.bytes.len());
            out.extend_from_slice(&e.index.to_be_bytes());
            out.extend_from_slice(&e.received_at.map_or(0, Timestamp::millis).to_be_bytes());
            out.extend_from_slice(&e.bytes);
            out
        }
        Record::Equivocation(q) => codec::encode(q).map_err(|e| e.to_string())?,
        Record::Finding(f) => codec::encode(f).map_err(|e| e.to_string())?,
        Record::MapProof(m) => {
            let value = m.value.as_deref().unwrap_or_default();
            let len = u32::try_from(value.len()).map_err(|_| "value too long".to_string())?;
            if m.value.as_ref().is_some_and(Vec::is_empty) || m.proof.is_empty() {
                return Err("an index proof has a proof, and a present value is not empty".into());
            }
            let mut out = Vec::with_capacity(36 + value.len() + m.proof.len());
            out.extend_from_slice(&m.key);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(value);
            out.extend_from_slice(&m.proof);
            out
        }
        Record::IndexLeaves(l) => {
            let n = l.leaves.len();
            if n == 0 || n > MAX_INDEX_LEAVES_PER_RECORD {
                return Err(format!(
                    "an index leaves record holds 1 to {MAX_INDEX_LEAVES_PER_RECORD} leaves, not {n}"
                ));
            }
            if l.leaves
                .iter()
                .zip(l.leaves.iter().skip(1))
                .any(|(a, b)| a.0 >= b.0)
            {
                return Err("index leaves are in increasing key order, without repeats".into());
            }
            let mut out = Vec::with_capacity(4 + 64 * n);
            out.extend_from_slice(&(n as u32).to_be_bytes());
            for (key, hash) in &l.leaves {
                out.extend_from_slice(key);
                out.extend_from_slice(&hash.0);
            }
            out
        }
        Record::End(end) => {
            let mut out = Vec::with_capacity(END_BYTES);
            out.extend_from_slice(&end.entries.to_be_bytes());
            out.extend_from_slice(&end.digest);
            out
        }
    };
    if out.len() > record.kind().max_len() {
        return Err(format!(
            "{} bytes is over the {}-byte limit",
            out.len(),
            record.kind().max_len()
        ));
    }
    Ok(out)
}

fn encode_proof(position: u64, proof: &[LogHash]) -> Result<Vec<u8>, String> {
    let count = u8::try_from(proof.len())
        .ok()
        .filter(|c| usize::from(*c) <= MAX_PROOF_HASHES)
        .ok_or_else(|| format!("a proof has at most {MAX_PROOF_HASHES} hashes"))?;
    let mut out = Vec::with_capacity(9 + 32 * proof.len());
    out.extend_from_slice(&position.to_be_bytes());
    out.push(count);
    for h in proof {
        out.extend_from_slice(h.as_bytes());
    }
    Ok(out)
}

/// Decodes a payload of `kind` (its length is already within the cap).
pub(crate) fn decode_payload(kind: Kind, payload: Vec<u8>) -> Result<Record, String> {
    Ok(match kind {
        Kind::Meta => Record::Meta(strict(&payload)?),
        Kind::Checkpoint => Record::Checkpoint(
            String::from_utf8(payload).map_err(|_| "note is not UTF-8".to_string())?,
        ),
        Kind::Consistency => {
            let (old_size, proof) = decode_proof(&payload)?;
            Record::Consistency(ConsistencyRecord { old_size, proof })
        }
        Kind::Inclusion => {
            let (index, proof) = decode_proof(&payload)?;
            Record::Inclusion(InclusionRecord { index, proof })
        }
        Kind::Entry => {
            let (index, rest) = take_u64(&payload)?;
            let (received, rest) = take_u64(rest)?;
            if rest.is_empty() {
                return Err("empty entry".into());
            }
            let bytes = rest.to_vec();
            Record::Entry(EntryRecord {
                index,
                received_at: (received != 0).then_some(Timestamp(received)),
                bytes,
            })
        }
        Kind::Equivocation => Record::Equivocation(strict(&payload)?),
        Kind::Finding => Record::Finding(strict(&payload)?),
        Kind::MapProof => {
            let (key, rest) = payload
                .split_first_chunk::<32>()
                .ok_or_else(|| "truncated key".to_string())?;
            let (len, rest) = rest
                .split_first_chunk::<4>()
                .ok_or_else(|| "truncated value length".to_string())?;
            let len = usize::try_from(u32::from_be_bytes(*len)).unwrap_or(usize::MAX);
            if len > rest.len() {
                return Err(format!(
                    "states a {len}-byte value, {} bytes follow",
                    rest.len()
                ));
            }
            let (value, proof) = rest.split_at(len);
            if proof.is_empty() {
                return Err("no proof after the value".into());
            }
            Record::MapProof(MapProofRecord {
                key: *key,
                value: (!value.is_empty()).then(|| value.to_vec()),
                proof: proof.to_vec(),
            })
        }
        Kind::IndexLeaves => {
            let (n, rest) = payload
                .split_first_chunk::<4>()
                .ok_or_else(|| "truncated leaf count".to_string())?;
            let n = usize::try_from(u32::from_be_bytes(*n)).unwrap_or(usize::MAX);
            if n == 0 || n > MAX_INDEX_LEAVES_PER_RECORD || rest.len() != 64 * n {
                return Err(format!(
                    "states {n} leaves (1 to {MAX_INDEX_LEAVES_PER_RECORD}) in {} bytes of 64 each",
                    rest.len()
                ));
            }
            let leaves: Vec<([u8; 32], Hash)> = rest
                .chunks_exact(64)
                .map(|c| {
                    let (k, h) = c.split_at(32);
                    let mut key = [0u8; 32];
                    key.copy_from_slice(k);
                    let mut hash = [0u8; 32];
                    hash.copy_from_slice(h);
                    (key, Hash(hash))
                })
                .collect();
            if leaves
                .iter()
                .zip(leaves.iter().skip(1))
                .any(|(a, b)| a.0 >= b.0)
            {
                return Err("index leaves out of key order, or repeated".into());
            }
            Record::IndexLeaves(IndexLeavesRecord { leaves })
        }
        Kind::End => {
            let (entries, rest) = take_u64(&payload)?;
            let digest: [u8; 32] = rest
                .try_into()
                .map_err(|_| "End is exactly 40 bytes".to_string())?;
            Record::End(EndRecord { entries, digest })
        }
    })
}

fn strict<T: Serialize + serde::de::DeserializeOwned>(payload: &[u8]) -> Result<T, String> {
    codec::decode_strict(payload, payload.len()).map_err(|e| e.to_string())
}

fn take_u64(bytes: &[u8]) -> Result<(u64, &[u8]), String> {
    let (head, rest) = bytes
        .split_first_chunk::<8>()
        .ok_or_else(|| "truncated 8-byte integer".to_string())?;
    Ok((u64::from_be_bytes(*head), rest))
}

fn decode_proof(payload: &[u8]) -> Result<(u64, Vec<LogHash>), String> {
    let (position, rest) = take_u64(payload)?;
    let (count, rest) = rest
        .split_first()
        .ok_or_else(|| "missing hash count".to_string())?;
    let count = usize::from(*count);
    if count > MAX_PROOF_HASHES {
        return Err(format!("{count} hashes, at most {MAX_PROOF_HASHES}"));
    }
    let (chunks, remainder) = rest.as_chunks::<32>();
    if !remainder.is_empty() || chunks.len() != count {
        return Err(format!(
            "states {count} hashes but carries {} bytes",
            rest.len()
        ));
    }
    Ok((position, chunks.iter().map(|c| LogHash(*c)).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_unknown_bytes_are_refused() {
        for k in [
            Kind::Meta,
            Kind::Checkpoint,
            Kind::Consistency,
            Kind::Entry,
            Kind::Inclusion,
            Kind::Equivocation,
            Kind::Finding,
            Kind::MapProof,
            Kind::IndexLeaves,
            Kind::End,
        ] {
            assert_eq!(Kind::from_byte(k as u8), Some(k));
        }
        assert_eq!(Kind::from_byte(0), None);
        assert_eq!(Kind::from_byte(0x0a), None);
    }

    #[test]
    fn index_leaves_round_trip_and_refuse_what_cannot_be_them() {
        let leaves = vec![([1; 32], Hash([2; 32])), ([3; 32], Hash([4; 32]))];
        let r = Record::IndexLeaves(IndexLeavesRecord {
            leaves: leaves.clone(),
        });
        let payload = r.payload().unwrap();
        assert_eq!(payload.len(), 4 + 128);
        assert_eq!(&payload[..4], &[0, 0, 0, 2]);
        assert_eq!(
            decode_payload(Kind::IndexLeaves, payload.clone()).unwrap(),
            r
        );
        // Out of order, repeated, empty, a count that disagrees: refused.
        let mut swapped = payload.clone();
        swapped[4..68].copy_from_slice(&payload[68..132]);
        swapped[68..132].copy_from_slice(&payload[4..68]);
        assert!(decode_payload(Kind::IndexLeaves, swapped).is_err());
        let mut repeated = payload.clone();
        repeated[68..100].copy_from_slice(&payload[4..36]);
        assert!(decode_payload(Kind::IndexLeaves, repeated).is_err());
        assert!(decode_payload(Kind::IndexLeaves, vec![0, 0, 0, 0]).is_err());
        let mut short = payload.clone();
        short[3] = 3;
        assert!(decode_payload(Kind::IndexLeaves, short).is_err());
        assert!(decode_payload(Kind::IndexLeaves, payload[..100].to_vec()).is_err());
        assert!(
            Record::IndexLeaves(IndexLeavesRecord { leaves: Vec::new() })
                .payload()
                .is_err()
        );
    }

    #[test]
    fn index_proofs_round_trip_and_refuse_what_cannot_be_one() {
        for value in [None, Some(vec![1, 2, 3])] {
            let r = Record::MapProof(MapProofRecord {
                key: [7; 32],
                value,
                proof: vec![1, 0, 0, 0],
            });
            let p = r.payload().unwrap();
            assert_eq!(decode_payload(Kind::MapProof, p).unwrap(), r);
        }
        // A value longer than what follows, and no proof after the value.
        let mut p = vec![7; 32];
        p.extend_from_slice(&10u32.to_be_bytes());
        p.extend_from_slice(&[1, 2, 3]);
        assert!(decode_payload(Kind::MapProof, p).is_err());
        let mut p = vec![7; 32];
        p.extend_from_slice(&3u32.to_be_bytes());
        p.extend_from_slice(&[1, 2, 3]);
        assert!(decode_payload(Kind::MapProof, p).is_err());
        assert!(decode_payload(Kind::MapProof, vec![7; 20]).is_err());
    }

    #[test]
    fn proofs_are_exact() {
        let p = encode_proof(7, &[LogHash([1; 32]), LogHash([2; 32])]).unwrap();
        assert_eq!(p.len(), 9 + 64);
        assert_eq!(
            decode_proof(&p).unwrap(),
            (7, vec![LogHash([1; 32]), LogHash([2; 32])])
        );
        let mut short = p.clone();
        short.pop();
        assert!(decode_proof(&short).is_err());
        let mut long = p.clone();
        long.push(0);
        assert!(decode_proof(&long).is_err());
        let mut many = p;
        many[8] = 65;
        assert!(decode_proof(&many).is_err());
    }
}
