//! The host side: a typed client over any [`Transport`], and the one place
//! where device status bytes become host errors.
//!
//! ```no_run
//! # use armsledger_device::host::{DeviceClient, UnixSocket};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut device = DeviceClient::new(UnixSocket::connect("/run/armoury/device.sock".as_ref())?);
//! let info = device.info()?;
//! println!("{} is {:?} at counter {}", info.device, info.lifecycle, info.head.counter);
//! # Ok(()) }
//! ```

mod transport;

use armsledger_core::chain::Head;
use armsledger_core::entry::ChainId;
use armsledger_core::hash::Hash;
use armsledger_core::ids::DeviceId;
use armsledger_core::sig::{SigError, Statement};
use armsledger_core::statements::{
    Attestation, Authorisation, AuthorisationBody, AuthorisedAction, DeviceCertificate,
    RetireStatement,
};
use ed25519_dalek::SigningKey;

pub use self::transport::{
    InProcess, LoopbackTcp, REPLY_TIMEOUT, StdioChild, Transport, TransportError, UnixSocket,
};
use crate::protocol::{
    self, DeviceInfo, FrameError, KeyInfo, LastReceipt, PROTOCOL_VERSION, Request, RequestFrame,
    Response, SignRequest, SignedCheckpoint, Status,
};
use crate::state::Receipt;

/// Why a device call failed: one variant per refusal status, then the host's own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceError {
    /// Status 1: the device could not read the request.
    #[error("the device could not decode the request (client and device protocol disagree?)")]
    Malformed,
    /// Status 2: the request frame was over the size limit.
    #[error("the request is over the device's frame limit")]
    TooLarge,
    /// Status 3: another protocol version.
    #[error("the device speaks another protocol version; upgrade the host or the device")]
    BadVersion,
    /// Status 4: not allowed in the device's lifecycle state.
    #[error("the device's lifecycle state does not allow this; check GetInfo")]
    WrongState,
    /// Status 5: the device is locked.
    #[error(
        "the device is locked (flash rolled back or corrupt); the regulator must authorise Recover"
    )]
    Locked,
    /// Status 6: the request's previous hash is not the device's head.
    #[error(
        "the device's head is counter {} ({}); fetch the last receipt and resync before signing",
        head.counter,
        head.hash.short()
    )]
    ChainMismatch {
        /// The device's head.
        head: Head,
    },
    /// Status 7: the device serves another chain.
    #[error("the device serves another chain")]
    WrongChain,
    /// Status 8: no active signing key.
    #[error("the device has no active key; generate one (GenerateSiteKey) first")]
    NoKey,
    /// Status 9: the authorisation does not hold.
    #[error("the authorisation is not the regulator's for this device and action")]
    Unauthorised,
    /// Status 10: the authorisation's nonce is not current.
    #[error("the authorisation's nonce is stale; get a fresh nonce and have it signed again")]
    StaleNonce,
    /// Status 11: a public key in the request is malformed or weak.
    #[error("the key given is malformed or weak")]
    InvalidKey,
    /// Status 12: the device's storage failed; nothing was released.
    #[error("the device's storage failed; retry the same request")]
    StorageFailed,
    /// Status 13: counters or key epochs are used up.
    #[error("the device's counter or key epochs are exhausted; replace the device")]
    Exhausted,
    /// The link failed.
    #[error("transport: {0}")]
    Transport(#[from] TransportError),
    /// The reply is not a valid frame.
    #[error("bad reply frame: {0}")]
    BadFrame(#[from] FrameError),
    /// The reply does not answer the request sent.
    #[error("unexpected reply: {0}")]
    UnexpectedReply(&'static str),
}

impl DeviceError {
    /// The host error for a refusal status and its body. `None` for `Ok`.
    pub fn from_status(status: Status, body: Response) -> Option<DeviceError> {
        Some(match status {
            Status::Ok => return None,
            Status::Malformed => DeviceError::Malformed,
            Status::TooLarge => DeviceError::TooLarge,
            Status::BadVersion => DeviceError::BadVersion,
            Status::WrongState => DeviceError::WrongState,
            Status::Locked => DeviceError::Locked,
            Status::ChainMismatch => match body {
                Response::Head(head) => DeviceError::ChainMismatch { head },
                _ => DeviceError::UnexpectedReply("ChainMismatch without the device head"),
            },
            Status::WrongChain => DeviceError::WrongChain,
            Status::NoKey => DeviceError::NoKey,
            Status::Unauthorised => DeviceError::Unauthorised,
            Status::StaleNonce => DeviceError::StaleNonce,
            Status::InvalidKey => DeviceError::InvalidKey,
            Status::StorageFailed => DeviceError::StorageFailed,
            Status::Exhausted => DeviceError::Exhausted,
        })
    }

    /// The device status this error came from, if it came from one.
    pub fn status(&self) -> Option<Status> {
        Some(match self {
            DeviceError::Malformed => Status::Malformed,
            DeviceError::TooLarge => Status::TooLarge,
            DeviceError::BadVersion => Status::BadVersion,
            DeviceError::WrongState => Status::WrongState,
            DeviceError::Locked => Status::Locked,
            DeviceError::ChainMismatch { .. } => Status::ChainMismatch,
            DeviceError::WrongChain => Status::WrongChain,
            DeviceError::NoKey => Status::NoKey,
            DeviceError::Unauthorised => Status::Unauthorised,
            DeviceError::StaleNonce => Status::StaleNonce,
            DeviceError::InvalidKey => Status::InvalidKey,
            DeviceError::StorageFailed => Status::StorageFailed,
            DeviceError::Exhausted => Status::Exhausted,
            _ => return None,
        })
    }
}

/// Signs an authorisation for `device` over the nonce it issued: what the
/// regulator's tooling does before GenerateSiteKey, RetireKey or Recover.
pub fn authorise(
    regulator: &SigningKey,
    device: DeviceId,
    nonce: Hash,
    action: AuthorisedAction,
) -> Result<Authorisation, SigError> {
    let body = AuthorisationBody {
        device,
        nonce,
        action,
    };
    let signature = body.sign(regulator)?;
    Ok(Authorisation { body, signature })
}

/// A device's certificate and an attestation of its active key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttestationBundle {
    /// The manufacturer's certificate.
    pub certificate: DeviceCertificate,
    /// The attestation, signed by the certified identity key.
    pub attestation: Attestation,
}

/// A typed client for one device.
pub struct DeviceClient<T> {
    transport: T,
    next_id: u32,
}

impl<T: Transport> DeviceClient<T> {
    /// A client over `transport`.
    pub fn new(transport: T) -> Self {
        DeviceClient {
            transport,
            next_id: 1,
        }
    }

    /// The transport (e.g. to send raw bytes in tests).
    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    /// Sends one request and returns the device's answer, or its refusal as an error.
    pub fn call(&mut self, body: Request) -> Result<Response, DeviceError> {
        let request_id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        let wire = protocol::encode_request(&RequestFrame {
            version: PROTOCOL_VERSION,
            request_id,
            body,
        })?;
        let reply = protocol::decode_response(&self.transport.transact(&wire)?)?;
        if reply.request_id != request_id {
            // A refusal of an unreadable frame carries id 0.
            if let Some(e) =
                DeviceError::from_status(reply.status, reply.body).filter(|_| reply.request_id == 0)
            {
                return Err(e);
            }
            return Err(DeviceError::UnexpectedReply(
                "the reply is for another request",
            ));
        }
        match DeviceError::from_status(reply.status, reply.body.clone()) {
            Some(e) => Err(e),
            None => Ok(reply.body),
        }
    }

    /// GetInfo.
    pub fn info(&mut self) -> Result<DeviceInfo, DeviceError> {
        match self.call(Request::GetInfo)? {
            Response::Info(i) => Ok(*i),
            _ => Err(DeviceError::UnexpectedReply("GetInfo")),
        }
    }

    /// GetNonce: a single-use nonce for the next authorisation.
    pub fn nonce(&mut self) -> Result<Hash, DeviceError> {
        match self.call(Request::GetNonce)? {
            Response::Nonce(n) => Ok(n),
            _ => Err(DeviceError::UnexpectedReply("GetNonce")),
        }
    }

    /// GetAttestation for a verifier's nonce.
    pub fn attestation(&mut self, nonce: Hash) -> Result<AttestationBundle, DeviceError> {
        match self.call(Request::GetAttestation { nonce })? {
            Response::Attestation {
                certificate,
                attestation,
            } if attestation.body.nonce == nonce => Ok(AttestationBundle {
                certificate: *certificate,
                attestation: *attestation,
            }),
            _ => Err(DeviceError::UnexpectedReply("GetAttestation")),
        }
    }

    /// Provision: binds a Factory device to a regulator key and a chain.
    pub fn provision(
        &mut self,
        regulator_key: [u8; 32],
        chain: ChainId,
    ) -> Result<(), DeviceError> {
        match self.call(Request::Provision {
            regulator_key,
            chain,
        })? {
            Response::Empty => Ok(()),
            _ => Err(DeviceError::UnexpectedReply("Provision")),
        }
    }

    /// GenerateSiteKey, with the regulator's authorisation over the current nonce.
    pub fn generate_site_key(
        &mut self,
        authorisation: Option<Authorisation>,
    ) -> Result<KeyInfo, DeviceError> {
        match self.call(Request::GenerateSiteKey { authorisation })? {
            Response::SiteKey(k) => Ok(k),
            _ => Err(DeviceError::UnexpectedReply("GenerateSiteKey")),
        }
    }

    /// SignEntry. The receipt is checked to answer this request; its
    /// signature is the caller's to verify against the enrolled key.
    pub fn sign_entry(
        &mut self,
        chain: ChainId,
        prev_hash: Hash,
        body_hash: Hash,
    ) -> Result<Receipt, DeviceError> {
        let request = SignRequest {
            chain,
            prev_hash,
            body_hash,
        };
        match self.call(Request::SignEntry(request.clone()))? {
            Response::Receipt(r)
                if r.header.chain == request.chain
                    && r.header.prev_hash == request.prev_hash
                    && r.header.body_hash == request.body_hash =>
            {
                Ok(*r)
            }
            _ => Err(DeviceError::UnexpectedReply("SignEntry")),
        }
    }

    /// SignCheckpoint for a verifier's nonce.
    pub fn sign_checkpoint(&mut self, nonce: Hash) -> Result<SignedCheckpoint, DeviceError> {
        match self.call(Request::SignCheckpoint { nonce })? {
            Response::Checkpoint(c) if c.body.nonce == nonce => Ok(*c),
            _ => Err(DeviceError::UnexpectedReply("SignCheckpoint")),
        }
    }

    /// GetLastReceipt.
    pub fn last_receipt(&mut self) -> Result<LastReceipt, DeviceError> {
        match self.call(Request::GetLastReceipt)? {
            Response::LastReceipt(l) => Ok(*l),
            _ => Err(DeviceError::UnexpectedReply("GetLastReceipt")),
        }
    }

    /// RetireKey. `None` when a locked device was decommissioned instead
    /// (it cannot vouch for its head, so it signs no retire statement).
    pub fn retire_key(
        &mut self,
        authorisation: Authorisation,
    ) -> Result<Option<RetireStatement>, DeviceError> {
        match self.call(Request::RetireKey { authorisation })? {
            Response::Retired(s) => Ok(Some(*s)),
            Response::Empty => Ok(None),
            _ => Err(DeviceError::UnexpectedReply("RetireKey")),
        }
    }

    /// Recover: leaves Locked at the authorised head, which is returned.
    pub fn recover(&mut self, authorisation: Authorisation) -> Result<Head, DeviceError> {
        match self.call(Request::Recover { authorisation })? {
            Response::Head(h) => Ok(h),
            _ => Err(DeviceError::UnexpectedReply("Recover")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_maps_one_to_one() {
        for s in Status::ALL {
            let body = match s {
                Status::ChainMismatch => Response::Head(crate::state::empty_head()),
                _ => Response::Empty,
            };
            match DeviceError::from_status(s, body) {
                None => assert_eq!(s, Status::Ok),
                Some(e) => assert_eq!(e.status(), Some(s), "{e}"),
            }
        }
        assert_eq!(
            DeviceError::Transport(TransportError::Closed).status(),
            None
        );
    }
}
