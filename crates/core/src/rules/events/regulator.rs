//! Regulator events: licensing of companies, sites and persons, their
//! permits, qualifications, revocations and bars. They change the state the
//! site rules are judged against; the few checks on the regulator's own acts
//! (and the oversight acts' effects) are in `rules::oversight`.

use crate::event::{CompanyStatus, RegulatorEvent, Revocable};
use crate::hash::Hash;
use crate::ids::Timestamp;
use crate::rules::state::{CompanyRecord, Notice, SiteApproval, SiteRecord, State, TraceRequest};

/// Applies a regulator event.
pub(in crate::rules) fn apply_regulator(
    state: &mut State,
    event: &RegulatorEvent,
    at: Timestamp,
    hash: Hash,
) {
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
            // A reinstatement lifts a suspension only (rule
            // `reinstatement-lifts-suspension`); a withdrawn licence or a
            // ceased company comes back by a new licence.
            if let Some(c) = state.companies.get_mut(company)
                && !(*status == CompanyStatus::Active
                    && matches!(c.status, CompanyStatus::Revoked | CompanyStatus::Ceased))
            {
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
        // (the oversight acts: `rules::oversight`, below).
        DeviceKeyEnrolled { .. } | DeviceKeyRetired { .. } | DeviceKeyRevoked { .. } => {}
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
        NotesErased {
            notes,
            ground,
            erased_on,
        } => {
            for n in notes {
                state
                    .erased_notes
                    .entry(*n)
                    .or_insert_with(|| (*erased_on, ground.clone()));
            }
        }
        StolenNoticeRecorded {
            reference,
            source,
            firearm,
        } => {
            // A reference entered again replaces the notice (a corrected
            // description), in force again.
            state.notices.insert(
                reference.clone(),
                Notice {
                    source: source.clone(),
                    firearm: firearm.clone(),
                    entry: hash,
                    at,
                    withdrawn: None,
                },
            );
        }
        StolenNoticeWithdrawn { reference, reason } => {
            if let Some(n) = state.notices.get_mut(reference) {
                n.withdrawn = Some((hash, *reason));
            }
        }
        TraceRequested {
            reference,
            serial,
            company,
            deadline,
        } => {
            state.trace_requests.insert(
                reference.clone(),
                TraceRequest {
                    serial: serial.clone(),
                    company: company.clone(),
                    deadline: *deadline,
                    entry: hash,
                    opened_at: at,
                    answer: None,
                },
            );
        }
        // Inspections, findings, sanctions, complaints, vetting, unbarring
        // and entries about regulator entries.
        other => {
            crate::rules::oversight::apply(state, other, at);
        }
    }
}
