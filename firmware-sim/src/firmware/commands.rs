//! The command handlers. Each checks the lifecycle and its arguments first,
//! then changes state only through [`Device::commit`].

use armsledger_core::chain::Head;
use armsledger_core::entry::{ChainId, EntryHeader};
use armsledger_core::hash::Hash;
use armsledger_core::ids::Timestamp;
use armsledger_core::sig::{self, Statement};
use armsledger_core::statements::{
    Attestation, AttestationBody, Authorisation, AuthorisedAction, DeviceCheckpointBody, KeyOrigin,
    RetireBody, RetireStatement,
};
use ed25519_dalek::SigningKey;

use super::{Device, Fail};
use crate::factory::{FIRMWARE_VERSION, firmware_hash};
use crate::protocol::{
    DeviceInfo, KeyInfo, LastReceipt, Response, SignRequest, SignedCheckpoint, Status,
};
use crate::state::{Lifecycle, Receipt, SiteKeyRecord};
use crate::storage::{Cell, PowerPoint};

const SIGN_FAILED: Fail = Fail::Refused(Status::StorageFailed);

impl Device {
    pub(super) fn info(&self) -> DeviceInfo {
        let cert = &self.factory.certificate.body;
        DeviceInfo {
            device: self.factory.device.clone(),
            model: self.factory.model.clone(),
            firmware_version: FIRMWARE_VERSION,
            firmware_hash: firmware_hash(),
            identity_key: cert.identity_key,
            manufacturer_key: cert.manufacturer_key,
            lifecycle: self.state.lifecycle,
            lock_reason: self.state.lock_reason,
            boot_count: self.cells.boot_count,
            issued: self.cells.issued,
            committed: self.cells.committed,
            chain: self.state.chain.clone(),
            head: self.state.head.clone(),
            key: self.key_info(),
        }
    }

    fn key_info(&self) -> Option<KeyInfo> {
        self.state.key.as_ref().map(|k| KeyInfo {
            key_epoch: k.key_epoch,
            public_key: k.public_key,
            counter_start: k.counter_start,
        })
    }

    /// The active key and the chain it is bound to.
    fn active(&self) -> Result<(SigningKey, u32, ChainId), Fail> {
        self.require(Lifecycle::Active)?;
        let key = self.key.clone().ok_or(Fail::Refused(Status::NoKey))?;
        let epoch = self
            .state
            .key
            .as_ref()
            .map(|k| k.key_epoch)
            .ok_or(Fail::Refused(Status::NoKey))?;
        let chain = self
            .state
            .chain
            .clone()
            .ok_or(Fail::Refused(Status::WrongState))?;
        Ok((key, epoch, chain))
    }

    /// The device clock, never before the head's time.
    fn device_time(&self) -> Timestamp {
        self.platform.clock.now().max(self.state.head.time)
    }

    pub(super) fn attest(&mut self, nonce: Hash) -> Result<Response, Fail> {
        let (_, key_epoch, chain) = self.active()?;
        let record = self
            .state
            .key
            .as_ref()
            .ok_or(Fail::Refused(Status::NoKey))?;
        let body = AttestationBody {
            nonce,
            device: self.factory.device.clone(),
            firmware_hash: firmware_hash(),
            chain,
            key_epoch,
            site_key: record.public_key,
            origin: KeyOrigin::GeneratedOnDevice,
            counter_start: record.counter_start,
            boot_count: self.cells.boot_count,
        };
        let signature = body.sign(&self.identity).map_err(|_| SIGN_FAILED)?;
        Ok(Response::Attestation {
            certificate: Box::new(self.factory.certificate.clone()),
            attestation: Box::new(Attestation { body, signature }),
        })
    }

    pub(super) fn provision(
        &mut self,
        regulator_key: [u8; 32],
        chain: ChainId,
    ) -> Result<Response, Fail> {
        self.require(Lifecycle::Factory)?;
        sig::parse_key(&regulator_key).map_err(|_| Fail::Refused(Status::InvalidKey))?;
        let mut next = self.state.clone();
        next.regulator_key = Some(regulator_key);
        next.chain = Some(chain);
        next.lifecycle = Lifecycle::Provisioned;
        self.commit(next, None)?;
        Ok(Response::Empty)
    }

    /// Checks an authorisation: the pending nonce (consumed whatever the
    /// outcome), this device, the regulator's signature. Returns the action.
    fn authorise<'a>(&mut self, a: &'a Authorisation) -> Result<&'a AuthorisedAction, Fail> {
        let nonce = self
            .pending_nonce
            .take()
            .ok_or(Fail::Refused(Status::StaleNonce))?;
        let regulator = self
            .state
            .regulator_key
            .ok_or(Fail::Refused(Status::WrongState))?;
        if a.body.device != self.factory.device {
            return Err(Fail::Refused(Status::Unauthorised));
        }
        if a.body.nonce != nonce {
            return Err(Fail::Refused(Status::StaleNonce));
        }
        a.body
            .verify(&regulator, &a.signature)
            .map_err(|_| Fail::Refused(Status::Unauthorised))?;
        Ok(&a.body.action)
    }

    pub(super) fn generate_site_key(
        &mut self,
        authorisation: Option<&Authorisation>,
    ) -> Result<Response, Fail> {
        self.require(Lifecycle::Provisioned)?;
        let chain = self
            .state
            .chain
            .clone()
            .ok_or(Fail::Refused(Status::WrongState))?;
        match authorisation {
            Some(a) => match self.authorise(a)? {
                AuthorisedAction::GenerateSiteKey { chain: c } if *c == chain => {}
                _ => return Err(Fail::Refused(Status::Unauthorised)),
            },
            // The regulator's own device makes its first key unasked: that
            // key's public half is the regulator chain's trust root.
            None if chain == ChainId::Regulator && self.cells.key_epoch == 0 => {}
            None => return Err(Fail::Refused(Status::Unauthorised)),
        }
        let epoch = self
            .cells
            .key_epoch
            .checked_add(1)
            .ok_or(Fail::Refused(Status::Exhausted))?;
        let key_epoch = u32::try_from(epoch).map_err(|_| Fail::Refused(Status::Exhausted))?;
        // Burn the epoch first: a crash from here on never reuses it.
        self.platform.monotonic.raise_to(Cell::KeyEpoch, epoch)?;
        self.cells.key_epoch = epoch;
        let secret = self.rng.next_block();
        let key = SigningKey::from_bytes(&secret);
        let record = SiteKeyRecord {
            key_epoch,
            secret: crate::state::Secret(*secret),
            public_key: key.verifying_key().to_bytes(),
            counter_start: self
                .cells
                .issued
                .checked_add(1)
                .ok_or(Fail::Refused(Status::Exhausted))?,
        };
        let info = KeyInfo {
            key_epoch,
            public_key: record.public_key,
            counter_start: record.counter_start,
        };
        let mut next = self.state.clone();
        next.key = Some(record);
        next.lifecycle = Lifecycle::Active;
        self.commit(next, None)?;
        Ok(Response::SiteKey(info))
    }

    /// The signing order: check, reserve durably, sign, persist the head,
    /// raise `committed`, release.
    pub(super) fn sign_entry(&mut self, r: SignRequest) -> Result<Response, Fail> {
        let (key, key_epoch, chain) = self.active()?;
        if r.chain != chain {
            return Err(Fail::Refused(Status::WrongChain));
        }
        if let Some(last) = self.state.last_receipt.as_ref().filter(|l| {
            l.header.chain == r.chain
                && l.header.prev_hash == r.prev_hash
                && l.header.body_hash == r.body_hash
        }) {
            return Ok(Response::Receipt(Box::new(last.clone())));
        }
        if r.prev_hash != self.state.head.hash {
            return Err(Fail::ChainMismatch(self.state.head.clone()));
        }
        self.power_point(PowerPoint::BeforeReserve)?;
        let counter = self.reserve()?;
        self.power_point(PowerPoint::AfterReserve)?;
        let header = EntryHeader {
            chain,
            device: self.factory.device.clone(),
            key_epoch,
            counter,
            prev_counter: self.state.head.counter,
            prev_hash: r.prev_hash,
            device_time: self.device_time(),
            boot_count: self.cells.boot_count,
            body_hash: r.body_hash,
        };
        let signature = header.sign(&key).map_err(|_| SIGN_FAILED)?;
        let hash = header.entry_hash().map_err(|_| SIGN_FAILED)?;
        self.power_point(PowerPoint::AfterSign)?;
        let receipt = Receipt {
            header: header.clone(),
            signature,
        };
        let mut next = self.state.clone();
        next.head = Head {
            counter,
            hash,
            time: header.device_time,
        };
        next.mark = counter;
        next.last_receipt = Some(receipt.clone());
        self.commit(next, Some(PowerPoint::AfterHeadWrite))?;
        self.power_point(PowerPoint::BeforeReply)?;
        Ok(Response::Receipt(Box::new(receipt)))
    }

    pub(super) fn sign_checkpoint(&mut self, nonce: Hash) -> Result<Response, Fail> {
        let (key, key_epoch, chain) = self.active()?;
        let body = DeviceCheckpointBody {
            chain,
            device: self.factory.device.clone(),
            key_epoch,
            counter: self.state.head.counter,
            head: self.state.head.hash,
            nonce,
            device_time: self.device_time(),
            boot_count: self.cells.boot_count,
        };
        let signature = body.sign(&key).map_err(|_| SIGN_FAILED)?;
        Ok(Response::Checkpoint(Box::new(SignedCheckpoint {
            body,
            signature,
        })))
    }

    pub(super) fn last_receipt(&self) -> Response {
        Response::LastReceipt(Box::new(LastReceipt {
            receipt: self.state.last_receipt.clone(),
            retire: self.state.last_retire.clone(),
        }))
    }

    /// Retires the active key: it signs its final counter and head, then the
    /// secret is overwritten in both slots. A locked device cannot vouch for
    /// its head, so it signs nothing and is decommissioned.
    pub(super) fn retire_key(&mut self, a: &Authorisation) -> Result<Response, Fail> {
        let locked = self.state.lifecycle == Lifecycle::Locked;
        if !locked {
            self.require(Lifecycle::Active)?;
        }
        let record = self.state.key.clone().ok_or(Fail::Refused(Status::NoKey))?;
        match self.authorise(a)? {
            AuthorisedAction::RetireKey { key_epoch } if *key_epoch == record.key_epoch => {}
            _ => return Err(Fail::Refused(Status::Unauthorised)),
        }
        let chain = self
            .state
            .chain
            .clone()
            .ok_or(Fail::Refused(Status::WrongState))?;
        let mut next = self.state.clone();
        next.key = None;
        next.lock_reason = None;
        let statement = if locked {
            next.lifecycle = Lifecycle::Decommissioned;
            None
        } else {
            let key = self.key.clone().ok_or(Fail::Refused(Status::NoKey))?;
            let body = RetireBody {
                chain,
                device: self.factory.device.clone(),
                key_epoch: record.key_epoch,
                public_key: record.public_key,
                final_counter: self.state.head.counter,
                final_head: self.state.head.hash,
            };
            let signature = body.sign(&key).map_err(|_| SIGN_FAILED)?;
            let statement = RetireStatement { body, signature };
            next.lifecycle = Lifecycle::Provisioned;
            next.last_retire = Some(statement.clone());
            Some(statement)
        };
        self.commit_wiping(next)?;
        self.platform
            .monotonic
            .raise_to(Cell::RetiredEpoch, u64::from(record.key_epoch))?;
        self.cells.retired_epoch = u64::from(record.key_epoch);
        Ok(match statement {
            Some(s) => Response::Retired(Box::new(s)),
            None => Response::Empty,
        })
    }

    /// Leaves Locked at the head the regulator names. The key survives only
    /// if it is the newest generated and not retired.
    pub(super) fn recover(&mut self, a: &Authorisation) -> Result<Response, Fail> {
        self.require(Lifecycle::Locked)?;
        let (counter, hash, time) = match self.authorise(a)? {
            AuthorisedAction::Recover {
                counter,
                head,
                time,
            } => (*counter, *head, *time),
            _ => return Err(Fail::Refused(Status::Unauthorised)),
        };
        if counter > self.cells.issued {
            return Err(Fail::Refused(Status::Unauthorised));
        }
        let mut next = self.state.clone();
        let key_ok = next.key.as_ref().is_some_and(|k| {
            u64::from(k.key_epoch) == self.cells.key_epoch
                && u64::from(k.key_epoch) > self.cells.retired_epoch
        });
        let head = Head {
            counter,
            hash,
            time: time.max(next.head.time),
        };
        next.head = head.clone();
        next.mark = self.cells.committed;
        next.last_receipt = None;
        next.lock_reason = None;
        next.lifecycle = if key_ok {
            Lifecycle::Active
        } else {
            Lifecycle::Provisioned
        };
        if key_ok {
            self.commit(next, None)?;
        } else {
            next.key = None;
            self.commit_wiping(next)?;
        }
        Ok(Response::Head(head))
    }

    /// Commits `next` to both slots, so no slot keeps a secret `next` dropped.
    fn commit_wiping(&mut self, next: crate::state::DeviceState) -> Result<(), Fail> {
        self.commit(next.clone(), None)?;
        self.commit(next, None)
    }
}
