//! The wire protocol: postcard messages in COBS frames delimited by 0x00.
//!
//! ```text
//! request  = COBS(version u8 | request_id varint u32 | Request)  00
//! response = COBS(version u8 | request_id varint u32 | status u8 | Response)  00
//! ```
//!
//! A frame longer than [`MAX_FRAME`] encoded bytes is refused before it is
//! decoded. docs/device-protocol.md specifies every message byte by byte.

use armsledger_core::chain::Head;
use armsledger_core::codec::{self, CodecError};
use armsledger_core::entry::ChainId;
use armsledger_core::hash::Hash;
use armsledger_core::ids::{DeviceId, Name};
use armsledger_core::sig::{Sig, SigError, Statement};
use armsledger_core::statements::{
    Attestation, Authorisation, DeviceCertificate, DeviceCheckpointBody, RetireStatement,
};
use serde::{Deserialize, Serialize};

use crate::cobs::{self, CobsError};
use crate::state::{Lifecycle, LockReason, Receipt};

/// Protocol version carried in every frame.
pub const PROTOCOL_VERSION: u8 = 1;
/// Largest frame, in COBS-encoded bytes before the delimiter.
pub const MAX_FRAME: usize = 2048;
/// The frame delimiter.
pub const DELIMITER: u8 = 0x00;

/// The device's verdict on a request: one byte on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "u8", try_from = "u8")]
#[repr(u8)]
pub enum Status {
    /// Done; the body holds the answer.
    Ok = 0,
    /// The frame is not a valid COBS/postcard request.
    Malformed = 1,
    /// The frame is longer than [`MAX_FRAME`].
    TooLarge = 2,
    /// The frame's protocol version is not [`PROTOCOL_VERSION`].
    BadVersion = 3,
    /// The command is not allowed in the device's lifecycle state.
    WrongState = 4,
    /// The device is locked (rolled back or corrupt flash).
    Locked = 5,
    /// `prev_hash` is not the device's head; the body holds the head.
    ChainMismatch = 6,
    /// The request names another chain than the device serves.
    WrongChain = 7,
    /// No active signing key.
    NoKey = 8,
    /// The authorisation is not the regulator's, or not for this action or device.
    Unauthorised = 9,
    /// The authorisation's nonce is not the device's current nonce.
    StaleNonce = 10,
    /// A public key in the request is malformed or weak.
    InvalidKey = 11,
    /// The device's storage failed; nothing was released.
    StorageFailed = 12,
    /// The counter or key epoch space is used up.
    Exhausted = 13,
}

impl Status {
    /// Every status, in byte order.
    pub const ALL: [Status; 14] = [
        Status::Ok,
        Status::Malformed,
        Status::TooLarge,
        Status::BadVersion,
        Status::WrongState,
        Status::Locked,
        Status::ChainMismatch,
        Status::WrongChain,
        Status::NoKey,
        Status::Unauthorised,
        Status::StaleNonce,
        Status::InvalidKey,
        Status::StorageFailed,
        Status::Exhausted,
    ];
}

impl From<Status> for u8 {
    fn from(s: Status) -> u8 {
        s as u8
    }
}

/// A byte that is not a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown status byte {0:#04x}")]
pub struct UnknownStatus(pub u8);

impl TryFrom<u8> for Status {
    type Error = UnknownStatus;
    fn try_from(b: u8) -> Result<Self, UnknownStatus> {
        Status::ALL
            .iter()
            .copied()
            .find(|s| *s as u8 == b)
            .ok_or(UnknownStatus(b))
    }
}

/// What the host asks the device to sign for an entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignRequest {
    /// The chain (must be the device's).
    pub chain: ChainId,
    /// The previous entry hash (must be the device's head).
    pub prev_hash: Hash,
    /// The hash of the entry body.
    pub body_hash: Hash,
}

/// A command. The variant index is the command byte on the wire: add new
/// commands at the end only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// 0: identity, lifecycle, counters and head.
    GetInfo,
    /// 1: a fresh single-use nonce for the next authorisation.
    GetNonce,
    /// 2: attest the active key, for a verifier's nonce.
    GetAttestation {
        /// The verifier's nonce.
        nonce: Hash,
    },
    /// 3: bind a Factory device to a regulator key and a chain (once).
    Provision {
        /// The key whose authorisations the device will obey.
        regulator_key: [u8; 32],
        /// The chain the device will sign.
        chain: ChainId,
    },
    /// 4: generate a signing key (authorised, except a regulator's first key).
    GenerateSiteKey {
        /// The regulator's authorisation over the current device nonce.
        authorisation: Option<Authorisation>,
    },
    /// 5: sign the next entry header.
    SignEntry(SignRequest),
    /// 6: sign the current head for a verifier.
    SignCheckpoint {
        /// The verifier's nonce.
        nonce: Hash,
    },
    /// 7: the last receipt and retire statement, for a host that lost them.
    GetLastReceipt,
    /// 8: retire the active key (it signs its final counter and head first).
    RetireKey {
        /// The regulator's authorisation.
        authorisation: Authorisation,
    },
    /// 9: leave Locked and resume at the authorised head.
    Recover {
        /// The regulator's authorisation.
        authorisation: Authorisation,
    },
}

impl Request {
    /// The command's name, as in the protocol document.
    pub fn name(&self) -> &'static str {
        match self {
            Request::GetInfo => "GetInfo",
            Request::GetNonce => "GetNonce",
            Request::GetAttestation { .. } => "GetAttestation",
            Request::Provision { .. } => "Provision",
            Request::GenerateSiteKey { .. } => "GenerateSiteKey",
            Request::SignEntry(_) => "SignEntry",
            Request::SignCheckpoint { .. } => "SignCheckpoint",
            Request::GetLastReceipt => "GetLastReceipt",
            Request::RetireKey { .. } => "RetireKey",
            Request::Recover { .. } => "Recover",
        }
    }
}

/// The public facts of a signing key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyInfo {
    /// Key epoch on the device.
    pub key_epoch: u32,
    /// Public key.
    pub public_key: [u8; 32],
    /// First counter it may sign.
    pub counter_start: u64,
}

/// What GetInfo returns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// Serial.
    pub device: DeviceId,
    /// Model.
    pub model: Name,
    /// Firmware version.
    pub firmware_version: u32,
    /// Firmware hash.
    pub firmware_hash: Hash,
    /// Identity (attestation) public key.
    pub identity_key: [u8; 32],
    /// The manufacturer root that certified it.
    pub manufacturer_key: [u8; 32],
    /// Lifecycle.
    pub lifecycle: Lifecycle,
    /// Why it is locked, if it is.
    pub lock_reason: Option<LockReason>,
    /// Boots so far (this one included).
    pub boot_count: u32,
    /// Highest counter ever reserved.
    pub issued: u64,
    /// Highest counter whose head is durable.
    pub committed: u64,
    /// The chain it serves, once provisioned.
    pub chain: Option<ChainId>,
    /// Its chain head.
    pub head: Head,
    /// The active key.
    pub key: Option<KeyInfo>,
}

/// A device checkpoint and its signature by the active key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedCheckpoint {
    /// The statement.
    pub body: DeviceCheckpointBody,
    /// Signature by the active key.
    pub signature: Sig,
}

impl SignedCheckpoint {
    /// Checks the signature with `verify_strict`.
    pub fn verify(&self, public_key: &[u8; 32]) -> Result<(), SigError> {
        self.body.verify(public_key, &self.signature)
    }
}

/// What GetLastReceipt returns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastReceipt {
    /// The last entry receipt.
    pub receipt: Option<Receipt>,
    /// The last retire statement.
    pub retire: Option<RetireStatement>,
}

/// A reply body. The variant index is its tag on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// 0: nothing to say (Provision; most refusals).
    Empty,
    /// 1: GetInfo.
    Info(Box<DeviceInfo>),
    /// 2: GetNonce.
    Nonce(Hash),
    /// 3: GetAttestation.
    Attestation {
        /// The manufacturer's certificate of the device.
        certificate: Box<DeviceCertificate>,
        /// The attestation of the active key.
        attestation: Box<Attestation>,
    },
    /// 4: GenerateSiteKey.
    SiteKey(KeyInfo),
    /// 5: SignEntry.
    Receipt(Box<Receipt>),
    /// 6: SignCheckpoint.
    Checkpoint(Box<SignedCheckpoint>),
    /// 7: GetLastReceipt.
    LastReceipt(Box<LastReceipt>),
    /// 8: RetireKey.
    Retired(Box<RetireStatement>),
    /// 9: the device's head (Recover; a ChainMismatch refusal).
    Head(Head),
}

/// A request as framed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestFrame {
    /// [`PROTOCOL_VERSION`].
    pub version: u8,
    /// Chosen by the host, echoed by the device.
    pub request_id: u32,
    /// The command.
    pub body: Request,
}

/// A response as framed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseFrame {
    /// [`PROTOCOL_VERSION`].
    pub version: u8,
    /// The request's id (0 when the request's id could not be read).
    pub request_id: u32,
    /// The verdict.
    pub status: Status,
    /// The answer.
    pub body: Response,
}

/// Why a frame was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// Longer than [`MAX_FRAME`]; not decoded.
    #[error("{len}-byte frame is over the {MAX_FRAME}-byte limit")]
    TooLarge {
        /// Encoded length.
        len: usize,
    },
    /// Not COBS.
    #[error("bad COBS framing: {0}")]
    Cobs(#[from] CobsError),
    /// The header (version, request id) is unreadable.
    #[error("unreadable frame header: {0}")]
    Header(CodecError),
    /// Another protocol version.
    #[error("protocol version {version} is not {PROTOCOL_VERSION}")]
    BadVersion {
        /// The version sent.
        version: u8,
        /// The request id sent.
        request_id: u32,
    },
    /// The body is not a valid, canonical message.
    #[error("malformed message: {reason}")]
    Body {
        /// The request id sent.
        request_id: u32,
        /// What was wrong.
        reason: CodecError,
    },
    /// The status byte is unknown.
    #[error(transparent)]
    Status(#[from] UnknownStatus),
    /// A message could not be encoded.
    #[error("cannot encode: {0}")]
    Encode(CodecError),
}

impl FrameError {
    /// The status a device answers this refusal with.
    pub fn status(&self) -> Status {
        match self {
            FrameError::TooLarge { .. } => Status::TooLarge,
            FrameError::BadVersion { .. } => Status::BadVersion,
            _ => Status::Malformed,
        }
    }

    /// The request id to echo (0 if it could not be read).
    pub fn request_id(&self) -> u32 {
        match self {
            FrameError::BadVersion { request_id, .. } | FrameError::Body { request_id, .. } => {
                *request_id
            }
            _ => 0,
        }
    }
}

/// Encodes a message and wraps it as a wire frame (COBS + delimiter).
fn to_wire<T: Serialize>(value: &T) -> Result<Vec<u8>, FrameError> {
    let raw = codec::encode(value).map_err(FrameError::Encode)?;
    let mut wire = cobs::encode(&raw);
    if wire.len() > MAX_FRAME {
        return Err(FrameError::TooLarge { len: wire.len() });
    }
    wire.push(DELIMITER);
    Ok(wire)
}

/// Unwraps a frame (without delimiter) and reads its version and request id.
fn open(frame: &[u8]) -> Result<(Vec<u8>, u32, usize), FrameError> {
    if frame.len() > MAX_FRAME {
        return Err(FrameError::TooLarge { len: frame.len() });
    }
    let raw = cobs::decode(frame)?;
    let (version, rest) = codec::take_strict::<u8>(&raw, MAX_FRAME).map_err(FrameError::Header)?;
    let (request_id, rest) =
        codec::take_strict::<u32>(rest, MAX_FRAME).map_err(FrameError::Header)?;
    if version != PROTOCOL_VERSION {
        return Err(FrameError::BadVersion {
            version,
            request_id,
        });
    }
    let header_len = raw.len() - rest.len();
    Ok((raw, request_id, header_len))
}

/// Encodes a request frame for the wire.
pub fn encode_request(frame: &RequestFrame) -> Result<Vec<u8>, FrameError> {
    to_wire(frame)
}

/// Encodes a response frame for the wire.
pub fn encode_response(frame: &ResponseFrame) -> Result<Vec<u8>, FrameError> {
    to_wire(frame)
}

/// Decodes a request frame (the bytes before the delimiter): size first, then
/// COBS, version, and a strict canonical decode of the body.
pub fn decode_request(frame: &[u8]) -> Result<RequestFrame, FrameError> {
    let (raw, request_id, at) = open(frame)?;
    let body = codec::decode_strict(raw.get(at..).unwrap_or(&[]), MAX_FRAME)
        .map_err(|reason| FrameError::Body { request_id, reason })?;
    Ok(RequestFrame {
        version: PROTOCOL_VERSION,
        request_id,
        body,
    })
}

/// Decodes a response frame (the bytes before the delimiter).
pub fn decode_response(frame: &[u8]) -> Result<ResponseFrame, FrameError> {
    let (raw, request_id, at) = open(frame)?;
    let rest = raw.get(at..).unwrap_or(&[]);
    let (status_byte, rest) =
        rest.split_first()
            .ok_or(FrameError::Header(CodecError::Malformed(
                "no status byte".into(),
            )))?;
    let status = Status::try_from(*status_byte)?;
    let body = codec::decode_strict(rest, MAX_FRAME)
        .map_err(|reason| FrameError::Body { request_id, reason })?;
    Ok(ResponseFrame {
        version: PROTOCOL_VERSION,
        request_id,
        status,
        body,
    })
}

/// The wire frame of a refusal with an empty body.
pub fn refusal(request_id: u32, status: Status) -> Vec<u8> {
    let frame = ResponseFrame {
        version: PROTOCOL_VERSION,
        request_id,
        status,
        body: Response::Empty,
    };
    // A refusal is a few bytes and always encodes; should the impossible
    // happen, send the literal refusal frame for request id 0.
    to_wire(&frame).unwrap_or_else(|_| vec![0x02, 0x01, 0x02, status as u8, 0x01, DELIMITER])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(body: Request) -> RequestFrame {
        RequestFrame {
            version: PROTOCOL_VERSION,
            request_id: 300,
            body,
        }
    }

    fn strip(wire: &[u8]) -> &[u8] {
        assert_eq!(wire.last(), Some(&DELIMITER));
        &wire[..wire.len() - 1]
    }

    #[test]
    fn status_bytes_round_trip() {
        for (i, s) in Status::ALL.iter().enumerate() {
            assert_eq!(*s as u8 as usize, i);
            assert_eq!(Status::try_from(*s as u8), Ok(*s));
            assert_eq!(postcard::to_allocvec(s).unwrap(), [*s as u8]);
        }
        assert_eq!(Status::try_from(14), Err(UnknownStatus(14)));
    }

    #[test]
    fn request_round_trip() {
        let f = req(Request::SignCheckpoint {
            nonce: Hash([0; 32]),
        });
        let wire = encode_request(&f).unwrap();
        assert!(!strip(&wire).contains(&0));
        assert_eq!(decode_request(strip(&wire)).unwrap(), f);
    }

    #[test]
    fn get_info_frame_bytes() {
        // version 1, request id 300 (varint ac 02), GetInfo (0); COBS.
        let wire = encode_request(&req(Request::GetInfo)).unwrap();
        assert_eq!(wire, [0x04, 0x01, 0xac, 0x02, 0x01, 0x00]);
    }

    #[test]
    fn refusals_carry_the_right_status() {
        let big = vec![1u8; MAX_FRAME + 1];
        assert_eq!(decode_request(&big).unwrap_err().status(), Status::TooLarge);
        assert_eq!(
            decode_request(&[0x03, 0x02, 0x05]).unwrap_err(),
            FrameError::BadVersion {
                version: 2,
                request_id: 5
            }
        );
        let e = decode_request(&cobs::encode(&[1, 5, 99])).unwrap_err();
        assert_eq!((e.status(), e.request_id()), (Status::Malformed, 5));
        // Trailing bytes after a valid request.
        let e = decode_request(&cobs::encode(&[1, 5, 0, 0])).unwrap_err();
        assert_eq!(e.status(), Status::Malformed);
        // Over-long varint request id.
        let e = decode_request(&cobs::encode(&[1, 0x85, 0x00, 0])).unwrap_err();
        assert_eq!(e.status(), Status::Malformed);
    }

    /// The largest replies (longest ids and names everywhere) stay under
    /// 1 KiB, half the frame cap: a guard against message growth.
    #[test]
    fn largest_replies_fit_with_room_to_spare() {
        use armsledger_core::entry::EntryHeader;
        use armsledger_core::ids::{SiteId, Timestamp};
        use armsledger_core::statements::{AttestationBody, DeviceCertBody, KeyOrigin, RetireBody};
        let device = DeviceId::new("d".repeat(64)).unwrap();
        let chain = ChainId::Site(SiteId::new("s".repeat(64)).unwrap());
        let big = u64::MAX;
        let h = Hash([0xff; 32]);
        let sig = Sig([0xff; 64]);
        let cert = DeviceCertificate {
            body: DeviceCertBody {
                device: device.clone(),
                model: Name::new("m".repeat(128)).unwrap(),
                firmware_version: u32::MAX,
                firmware_hash: h,
                identity_key: [0xff; 32],
                manufacturer_key: [0xff; 32],
            },
            signature: sig,
        };
        let attestation = Attestation {
            body: AttestationBody {
                nonce: h,
                device: device.clone(),
                firmware_hash: h,
                chain: chain.clone(),
                key_epoch: u32::MAX,
                site_key: [0xff; 32],
                origin: KeyOrigin::GeneratedOnDevice,
                counter_start: big,
                boot_count: u32::MAX,
            },
            signature: sig,
        };
        let receipt = Receipt {
            header: EntryHeader {
                chain: chain.clone(),
                device: device.clone(),
                key_epoch: u32::MAX,
                counter: big,
                prev_counter: big,
                prev_hash: h,
                device_time: Timestamp(big),
                boot_count: u32::MAX,
                body_hash: h,
            },
            signature: sig,
        };
        let retire = RetireStatement {
            body: RetireBody {
                chain,
                device,
                key_epoch: u32::MAX,
                public_key: [0xff; 32],
                final_counter: big,
                final_head: h,
            },
            signature: sig,
        };
        for body in [
            Response::Attestation {
                certificate: Box::new(cert),
                attestation: Box::new(attestation),
            },
            Response::LastReceipt(Box::new(LastReceipt {
                receipt: Some(receipt),
                retire: Some(retire),
            })),
        ] {
            let wire = encode_response(&ResponseFrame {
                version: PROTOCOL_VERSION,
                request_id: u32::MAX,
                status: Status::Ok,
                body,
            })
            .unwrap();
            assert!(wire.len() < 1024, "{} bytes", wire.len());
        }
    }

    #[test]
    fn refusal_fallback_literal_is_the_real_encoding() {
        for s in Status::ALL.into_iter().skip(1) {
            assert_eq!(
                refusal(0, s),
                [0x02, 0x01, 0x02, s as u8, 0x01, DELIMITER],
                "{s:?}"
            );
        }
    }

    #[test]
    fn refusal_frame_decodes() {
        let wire = refusal(7, Status::Locked);
        let f = decode_response(strip(&wire)).unwrap();
        assert_eq!(
            (f.request_id, f.status, f.body),
            (7, Status::Locked, Response::Empty)
        );
    }
}
