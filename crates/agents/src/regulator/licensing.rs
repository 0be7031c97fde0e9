//! Licensing helpers: one typed method per regulator decision.

use armsledger_core::entry::SignedEntry;
use armsledger_core::event::{RegulatorEvent, Revocable};
use armsledger_core::ids::{CompanyId, Ident, LocationId, Name, PersonId, SiteId, Text, Timestamp};
use armsledger_core::model::{OfficerLicence, Permit, Qualification, Validity, person_hash};
use armsledger_device::host::Transport;

use super::RegulatorAgent;
use crate::error::AgentError;
use armsledger_store::NoteClass;

impl<T: Transport> RegulatorAgent<T> {
    /// Licenses (or re-licenses) a company.
    pub fn license_company(
        &mut self,
        officer: &PersonId,
        company: CompanyId,
        name: Name,
        licence: Name,
        valid: Validity,
        categories: Vec<Ident>,
    ) -> Result<SignedEntry, AgentError> {
        self.record(
            officer,
            RegulatorEvent::CompanyLicensed {
                company,
                name,
                licence,
                valid,
                categories,
            },
        )
    }

    /// Registers an armoury site for a company with its storage locations.
    pub fn register_site(
        &mut self,
        officer: &PersonId,
        site: SiteId,
        company: CompanyId,
        name: Name,
        approval: Name,
        locations: Vec<LocationId>,
    ) -> Result<SignedEntry, AgentError> {
        self.record(
            officer,
            RegulatorEvent::SiteRegistered {
                site,
                company,
                name,
                approval,
                locations,
            },
        )
    }

    /// Licenses a person. Only a salted hash of `identity` enters the ledger;
    /// the fresh salt is returned for the off-ledger record.
    pub fn license_person(
        &mut self,
        officer: &PersonId,
        person: PersonId,
        company: CompanyId,
        identity: &Text,
        licence: OfficerLicence,
    ) -> Result<(SignedEntry, [u8; 16]), AgentError> {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt)
            .map_err(|e| AgentError::Config(format!("no randomness: {e}")))?;
        let entry = self.record(
            officer,
            RegulatorEvent::PersonLicensed {
                person,
                company,
                identity_hash: person_hash(&salt, identity),
                licence,
            },
        )?;
        Ok((entry, salt))
    }

    /// Records a firearm permit.
    pub fn record_permit(
        &mut self,
        officer: &PersonId,
        person: PersonId,
        permit: Permit,
    ) -> Result<SignedEntry, AgentError> {
        self.record(officer, RegulatorEvent::PermitRecorded { person, permit })
    }

    /// Records a qualification.
    pub fn record_qualification(
        &mut self,
        officer: &PersonId,
        person: PersonId,
        qualification: Qualification,
    ) -> Result<SignedEntry, AgentError> {
        self.record(
            officer,
            RegulatorEvent::QualificationRecorded {
                person,
                qualification,
            },
        )
    }

    /// Revokes a licence, permit or qualification.
    pub fn revoke(
        &mut self,
        officer: &PersonId,
        person: PersonId,
        what: Revocable,
        reason: Text,
    ) -> Result<SignedEntry, AgentError> {
        let reason = self.seal(reason, NoteClass::Person)?;
        self.record(
            officer,
            RegulatorEvent::PersonRevoked {
                person,
                what,
                reason,
            },
        )
    }

    /// Bars a person from being issued firearms, until a time or for good.
    pub fn bar_person(
        &mut self,
        officer: &PersonId,
        person: PersonId,
        reason: Text,
        until: Option<Timestamp>,
    ) -> Result<SignedEntry, AgentError> {
        let reason = self.seal(reason, NoteClass::Person)?;
        self.record(
            officer,
            RegulatorEvent::PersonBarred {
                person,
                reason,
                until,
            },
        )
    }
}
