//! Ledger entries: the header a device signs, the body it commits to, and the
//! signed entry as stored, synced, logged and exported.
//!
//! Wire form of a [`SignedEntry`] (all postcard, concatenated):
//!
//! ```text
//! header (EntryHeader) || signature (64 bytes) || body (EntryBody)
//! ```
//!
//! The device signs `tag::ENTRY_STATEMENT || header`. The header commits to the
//! body through `body_hash = SHA-256(tag::ENTRY_BODY || body)`, so a
//! constrained device signs about a hundred bytes whatever the event. The
//! entry hash, which chains link to, is `SHA-256(tag::ENTRY_HASH || header)`.

use serde::{Deserialize, Serialize};

use crate::codec::{self, CodecError};
use crate::event::{Event, Subject};
use crate::hash::{Hash, tag};
use crate::ids::{DeviceId, PersonId, SiteId, Timestamp};
use crate::sig::{Sig, SigError, Statement};

/// Largest encoded entry: its log leaf, `received_at (8 bytes) ‖ entry`, must
/// fit a C2SP entry bundle's u16 length prefix (65,535 − 8).
pub const MAX_ENTRY_BYTES: usize = 65_527;

/// Which chain an entry belongs to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ChainId {
    /// The regulator's chain (licences, registrations, enrolments, revocations).
    Regulator,
    /// An armoury's chain.
    Site(SiteId),
}

impl core::fmt::Display for ChainId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ChainId::Regulator => f.write_str("regulator"),
            ChainId::Site(s) => write!(f, "site:{s}"),
        }
    }
}

/// The statement a device signs for each entry. The host supplies `chain`,
/// `prev_hash` and `body_hash`; the device supplies everything else and will
/// not sign unless `prev_hash` is its own head.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryHeader {
    /// The chain.
    pub chain: ChainId,
    /// The signing device.
    pub device: DeviceId,
    /// The key epoch on that device.
    pub key_epoch: u32,
    /// This entry's counter (strictly above `prev_counter`).
    pub counter: u64,
    /// The previous entry's counter (0 for the first); a larger step is a
    /// gap the device declares (values burned by power loss).
    pub prev_counter: u64,
    /// Entry hash of the previous entry (zero for the first).
    pub prev_hash: Hash,
    /// Device clock when signed.
    pub device_time: Timestamp,
    /// Device boot count when signed.
    pub boot_count: u32,
    /// Hash of the body.
    pub body_hash: Hash,
}

impl Statement for EntryHeader {
    const TAG: &'static [u8] = tag::ENTRY_STATEMENT;
}

impl EntryHeader {
    /// The entry hash of this header.
    pub fn entry_hash(&self) -> Result<Hash, CodecError> {
        Ok(entry_hash_of(&codec::encode(self)?))
    }
}

/// Entry hash from the encoded header bytes.
pub fn entry_hash_of(header_bytes: &[u8]) -> Hash {
    Hash::of(&[tag::ENTRY_HASH, header_bytes])
}

/// A link in a subject's own history: the previous entry that touched this
/// firearm (anywhere) or this lot (at this site), or `None` for the first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// The firearm or lot.
    pub subject: Subject,
    /// Entry hash of its previous event.
    pub prev: Option<Hash>,
}

/// The entry body format: the body's first byte. Format 3 seals every free
/// text that may name or describe people (a [`crate::note::SealedNote`] in
/// place of the text) and adds `NotesErased`; format 2 had added
/// `occurred_at`, firearm id v2 and the events of issue 16. Formats 1 and 2
/// are retired (their bodies are refused with an error naming them, and
/// their body hashes used other domain tags, so neither can pass as
/// format 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct BodyFormat(u8);

impl BodyFormat {
    /// The format this armsledger writes and reads.
    pub const CURRENT: BodyFormat = BodyFormat(3);

    /// The format number.
    pub fn number(self) -> u8 {
        self.0
    }
}

impl Default for BodyFormat {
    fn default() -> Self {
        BodyFormat::CURRENT
    }
}

impl<'de> Deserialize<'de> for BodyFormat {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = u8::deserialize(d)?;
        if n == BodyFormat::CURRENT.0 {
            Ok(BodyFormat(n))
        } else {
            Err(serde::de::Error::custom(format!(
                "entry body format {n} is not format {}: format-1 and format-2 entries \
                 are retired (docs/formats.md, \"Entry body format 3\")",
                BodyFormat::CURRENT.0
            )))
        }
    }
}

/// What happened, when, who recorded it, and where it sits in each subject's
/// history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryBody {
    /// Body format, always [`BodyFormat::CURRENT`].
    pub format: BodyFormat,
    /// The acting officer (the armourer; for the regulator, the official).
    pub officer: PersonId,
    /// When the act happened, as the officer entered it (defaults to the
    /// time of recording). The rules judge validity at this time; the
    /// header's `device_time` says when it was signed.
    pub occurred_at: Timestamp,
    /// One link per subject the event touches, sorted by subject.
    pub links: Vec<Link>,
    /// The event.
    pub event: Event,
}

impl EntryBody {
    /// A body of the current format.
    pub fn new(officer: PersonId, occurred_at: Timestamp, links: Vec<Link>, event: Event) -> Self {
        EntryBody {
            format: BodyFormat::CURRENT,
            officer,
            occurred_at,
            links,
            event,
        }
    }

    /// The body hash a header commits to.
    pub fn hash(&self) -> Result<Hash, CodecError> {
        Ok(body_hash_of(&codec::encode(self)?))
    }

    /// The previous entry hash for `subject`, as this body states it.
    pub fn link_for(&self, subject: &Subject) -> Option<Option<Hash>> {
        self.links
            .iter()
            .find(|l| &l.subject == subject)
            .map(|l| l.prev)
    }
}

/// Body hash from the encoded body bytes.
pub fn body_hash_of(body_bytes: &[u8]) -> Hash {
    Hash::of(&[tag::ENTRY_BODY, body_bytes])
}

/// Why an entry's bytes were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntryError {
    /// The header could not be decoded.
    #[error("header: {0}")]
    Header(CodecError),
    /// The signature bytes are missing.
    #[error("truncated before the signature")]
    Truncated,
    /// The body could not be decoded.
    #[error("body: {0}")]
    Body(CodecError),
    /// The body does not hash to the header's `body_hash`.
    #[error("body does not match the signed body hash")]
    BodyMismatch,
    /// Larger than an entry may be.
    #[error("{0} bytes is over the {MAX_ENTRY_BYTES}-byte entry limit")]
    TooLarge(usize),
    /// Could not be encoded.
    #[error("encoding: {0}")]
    Encode(CodecError),
    /// The body is not of the current format (its first byte).
    #[error(
        "entry body format byte {0:#04x} is not format 3: format-1 and format-2 entries \
         are retired and cannot be verified by this release (docs/formats.md, \"Entry body \
         format 3\")"
    )]
    BodyFormat(u8),
}

/// A signed ledger entry, decoded once and kept with its exact bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedEntry {
    header: EntryHeader,
    signature: Sig,
    body: EntryBody,
    hash: Hash,
    bytes: Vec<u8>,
    header_len: usize,
}

impl SignedEntry {
    /// Puts a device's signature together with the header and body it covers.
    /// Checks that the body is the one the header commits to; the signature
    /// itself is checked by [`SignedEntry::verify_signature`].
    pub fn assemble(
        header: EntryHeader,
        signature: Sig,
        body: EntryBody,
    ) -> Result<Self, EntryError> {
        let mut bytes = codec::encode(&header).map_err(EntryError::Encode)?;
        let header_len = bytes.len();
        bytes.extend_from_slice(&signature.0);
        let body_start = bytes.len();
        codec::encode_into(&body, &mut bytes).map_err(EntryError::Encode)?;
        if bytes.len() > MAX_ENTRY_BYTES {
            return Err(EntryError::TooLarge(bytes.len()));
        }
        let body_bytes = bytes.get(body_start..).unwrap_or(&[]);
        if body_hash_of(body_bytes) != header.body_hash {
            return Err(EntryError::BodyMismatch);
        }
        let hash = entry_hash_of(bytes.get(..header_len).unwrap_or(&[]));
        Ok(SignedEntry {
            header,
            signature,
            body,
            hash,
            bytes,
            header_len,
        })
    }

    /// Strictly decodes an entry: size first, canonical encodings, no trailing
    /// bytes, and the body must match the signed body hash.
    pub fn decode(bytes: &[u8]) -> Result<Self, EntryError> {
        if bytes.len() > MAX_ENTRY_BYTES {
            return Err(EntryError::TooLarge(bytes.len()));
        }
        let (header, rest) = codec::take_strict::<EntryHeader>(bytes, MAX_ENTRY_BYTES)
            .map_err(EntryError::Header)?;
        let header_len = bytes.len() - rest.len();
        let (sig, body_bytes) = rest
            .split_first_chunk::<64>()
            .ok_or(EntryError::Truncated)?;
        match body_bytes.first() {
            Some(&b) if b != BodyFormat::CURRENT.0 => return Err(EntryError::BodyFormat(b)),
            _ => {}
        }
        let body: EntryBody =
            codec::decode_strict(body_bytes, MAX_ENTRY_BYTES).map_err(EntryError::Body)?;
        if body_hash_of(body_bytes) != header.body_hash {
            return Err(EntryError::BodyMismatch);
        }
        let hash = entry_hash_of(bytes.get(..header_len).unwrap_or(&[]));
        Ok(SignedEntry {
            header,
            signature: Sig(*sig),
            body,
            hash,
            bytes: bytes.to_vec(),
            header_len,
        })
    }

    /// The exact bytes (what the global log's leaf is).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Consumes the entry, returning its bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// The signed header.
    pub fn header(&self) -> &EntryHeader {
        &self.header
    }

    /// The body.
    pub fn body(&self) -> &EntryBody {
        &self.body
    }

    /// The device signature.
    pub fn signature(&self) -> &Sig {
        &self.signature
    }

    /// The entry hash (of the header).
    pub fn hash(&self) -> Hash {
        self.hash
    }

    /// The encoded header (the signed statement without its tag).
    pub fn header_bytes(&self) -> &[u8] {
        self.bytes.get(..self.header_len).unwrap_or(&[])
    }

    /// The exact message the device signed.
    pub fn signed_message(&self) -> Vec<u8> {
        let mut m = Vec::with_capacity(tag::ENTRY_STATEMENT.len() + self.header_bytes().len());
        self.append_signed_message(&mut m);
        m
    }

    /// Appends [`Self::signed_message`] to `out` (one buffer for many
    /// entries' messages).
    pub fn append_signed_message(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(tag::ENTRY_STATEMENT);
        out.extend_from_slice(self.header_bytes());
    }

    /// Checks the device signature with `verify_strict`.
    pub fn verify_signature(&self, public_key: &[u8; 32]) -> Result<(), SigError> {
        crate::sig::verify_strict(public_key, &self.signed_message(), &self.signature)
    }

    /// The chain this entry is on.
    pub fn chain(&self) -> &ChainId {
        &self.header.chain
    }

    /// The counter.
    pub fn counter(&self) -> u64 {
        self.header.counter
    }
}

/// A header and its signature without the body: enough to prove equivocation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedHeader {
    /// The header.
    pub header: EntryHeader,
    /// The signature over it.
    pub signature: Sig,
}

impl From<&SignedEntry> for SignedHeader {
    fn from(e: &SignedEntry) -> Self {
        SignedHeader {
            header: e.header.clone(),
            signature: e.signature,
        }
    }
}
