//! Regulator events: licensing of companies, sites and persons, their
//! permits, qualifications, revocations and bars. They raise no findings
//! (the regulator's chain is its own authority); they change the state the
//! site rules are judged against.

use crate::event::{CompanyStatus, RegulatorEvent, Revocable};
use crate::ids::Timestamp;
use crate::rules::state::{CompanyRecord, SiteApproval, SiteRecord, State};

/// Applies a regulator event.
pub(in crate::rules) fn apply_regulator(state: &mut State, event: &RegulatorEvent, at: Timestamp) {
    use RegulatorEvent::*;
    match event {
        CompanyLicensed {
            company,
            name,
            licence,
            valid,
            categories,
        } => {
            state.companies.insert(
                company.clone(),
                CompanyRecord {
                    name: name.clone(),
                    licence: licence.clone(),
                    valid: *valid,
                    status: CompanyStatus::Active,
                    categories: categories.clone(),
                },
            );
        }
        CompanyStatusChanged {
            company, status, ..
        } => {
            if let Some(c) = state.companies.get_mut(company) {
                c.status = *status;
            }
        }
        SiteRegistered {
            site,
            company,
            name,
            locations,
            ..
        } => {
            state.sites.insert(
                site.clone(),
                SiteRecord {
                    company: company.clone(),
                    name: name.clone(),
                    locations: locations.iter().cloned().collect(),
                    registered_at: at,
                },
            );
        }
        PersonLicensed {
            person,
            company,
            identity_hash,
            licence,
        } => {
            let p = state.persons.entry(person.clone()).or_default();
            p.company = Some(company.clone());
            p.identity_hash = Some(*identity_hash);
            p.licence = Some(licence.clone());
            if !p.licences.contains(licence) {
                p.licences.push(licence.clone());
            }
        }
        PermitRecorded { person, permit } => {
            let p = state.persons.entry(person.clone()).or_default();
            // A renewal is another interval: both stay, and the one valid
            // at an act's time counts.
            if !p.permits.contains(permit) {
                p.permits.push(permit.clone());
            }
        }
        QualificationRecorded {
            person,
            qualification,
        } => {
            let p = state.persons.entry(person.clone()).or_default();
            if !p.qualifications.contains(qualification) {
                p.qualifications.push(qualification.clone());
            }
        }
        PersonRevoked { person, what, .. } => {
            if let Some(p) = state.persons.get_mut(person) {
                match what {
                    Revocable::Licence => {
                        p.licence = None;
                        p.licences.clear();
                    }
                    Revocable::Permit(n) => p.permits.retain(|x| &x.number != n),
                    Revocable::Qualification(q) => p.qualifications.retain(|x| &x.id != q),
                }
            }
        }
        PersonBarred { person, until, .. } => {
            state.persons.entry(person.clone()).or_default().barred = Some(*until);
        }
        // Keys are checked by the chain verifier (`crate::keys`), not here;
        // the rest is the regulator's own record and changes no site rule.
        DeviceKeyEnrolled { .. }
        | DeviceKeyRetired { .. }
        | DeviceKeyRevoked { .. }
        | ComplaintReceived { .. }
        | ComplaintResolved { .. }
        | InspectionRecorded { .. }
        | FindingRecorded { .. }
        | SanctionRecorded { .. } => {}
        TrainingProviderAccredited {
            provider, valid, ..
        } => {
            let v = state.providers.entry(provider.clone()).or_default();
            if !v.contains(valid) {
                v.push(*valid);
            }
        }
        SiteApproved {
            site,
            approval,
            valid,
            categories,
            max_firearms,
        } => {
            state.approvals.insert(
                site.clone(),
                SiteApproval {
                    approval: approval.clone(),
                    valid: *valid,
                    categories: categories.clone(),
                    max_firearms: *max_firearms,
                },
            );
        }
        PersonAuthorised {
            person,
            site,
            valid,
        } => {
            state
                .authorisations
                .entry((person.clone(), site.clone()))
                .or_default()
                .push(*valid);
        }
        PolicySet { policy } => state.policy = *policy,
    }
}
