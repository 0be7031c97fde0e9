//! The regulator's part: license the companies (armed guarding, category B),
//! register the sites with approvals whose conditions the year keeps, enrol
//! each site's device (attestation checked), accredit the training provider,
//! then license the guards.

use armsledger_agents::RegulatorAgent;
use armsledger_core::event::RegulatorEvent;
use armsledger_core::hash::Hash;
use armsledger_core::ids::{PersonId, Text, Timestamp};
use armsledger_core::model::{FirearmType, OfficerLicence, Permit, Qualification, Validity};
use armsledger_device::host::{DeviceClient, Transport};

use super::world::{FIREARMS_PER_SITE, LOCATIONS, Plan, p};

/// The regulator official who records.
pub fn official() -> anyhow::Result<PersonId> {
    p("reg-official-1")
}

/// The training provider that qualifies every guard.
const PROVIDER: &str = "national-range-academy";

/// Companies, sites and their approvals, then one enrolment per site device
/// and the training provider's accreditation; returns entries recorded.
pub fn register<T: Transport, U: Transport>(
    reg: &mut RegulatorAgent<T>,
    plan: &Plan,
    devices: &mut [DeviceClient<U>],
) -> anyhow::Result<u64> {
    let official = official()?;
    let valid = Validity {
        from: plan.start.minus(365 * Timestamp::DAY),
        until: plan.start.plus((plan.days + 730) * Timestamp::DAY),
    };
    let mut n = 0;
    for c in &plan.companies {
        reg.license_company(
            &official,
            c.id.clone(),
            p(&c.name)?,
            p(&c.licence)?,
            valid,
            vec![p("B")?],
        )?;
        n += 1;
    }
    for s in &plan.sites {
        reg.register_site(
            &official,
            s.id.clone(),
            s.company.clone(),
            p(&s.name)?,
            p(&format!("ARM-{:04}", s.index + 1))?,
            LOCATIONS
                .iter()
                .map(|l| p(l))
                .collect::<anyhow::Result<Vec<_>>>()?,
        )?;
        // Approved for category B with room for transfers in: every
        // firearm present (issued out included) counts against it.
        reg.record(
            &official,
            RegulatorEvent::SiteApproved {
                site: s.id.clone(),
                approval: p(&format!("ARM-{:04}", s.index + 1))?,
                valid,
                categories: vec![p("B")?],
                max_firearms: Some(2 * FIREARMS_PER_SITE as u32),
            },
        )?;
        n += 2;
    }
    for (s, dev) in plan.sites.iter().zip(devices.iter_mut()) {
        reg.enrol_device(&official, &s.id, dev)?;
        n += 1;
    }
    // Accredited before it qualified anyone: its qualifications count.
    reg.record(
        &official,
        RegulatorEvent::TrainingProviderAccredited {
            provider: p(PROVIDER)?,
            name: p("National Range Academy")?,
            valid,
        },
    )?;
    n += 1;
    Ok(n)
}

/// Licences, permits and pistol qualifications for every guard; returns entries recorded.
pub fn license_guards<T: Transport>(
    reg: &mut RegulatorAgent<T>,
    plan: &Plan,
    mut progress: impl FnMut(),
) -> anyhow::Result<u64> {
    let official = official()?;
    let long = Validity {
        from: plan.start.minus(180 * Timestamp::DAY),
        until: plan.start.plus((plan.days + 700) * Timestamp::DAY),
    };
    let mut n = 0;
    for s in &plan.sites {
        for (i, g) in s.guards.iter().enumerate() {
            let identity: Text = p(&format!(
                "national id {:013}",
                u64::from_le_bytes(
                    *Hash::of(&[g.id.as_str().as_bytes()])
                        .0
                        .first_chunk::<8>()
                        .unwrap_or(&[0; 8])
                ) % 10_000_000_000_000
            ))?;
            reg.license_person(
                &official,
                g.id.clone(),
                s.company.clone(),
                &identity,
                OfficerLicence {
                    number: p(&format!("SOL-{}-{:03}", s.index + 1, i + 1))?,
                    grade: p("C")?,
                    valid: long,
                },
            )?;
            reg.record(
                &official,
                RegulatorEvent::PermitRecorded {
                    person: g.id.clone(),
                    permit: Permit {
                        number: p(&format!("FP-{}-{:03}", s.index + 1, i + 1))?,
                        categories: vec![p("B")?],
                        calibres: vec![p("9x19mm")?, p("12/70")?],
                        valid: long,
                    },
                },
            )?;
            reg.record(
                &official,
                RegulatorEvent::QualificationRecorded {
                    person: g.id.clone(),
                    qualification: Qualification {
                        id: p(&format!("Q-HG-{}-{:03}", s.index + 1, i + 1))?,
                        weapon: FirearmType::Pistol,
                        provider: p(PROVIDER)?,
                        valid: Validity {
                            from: plan.start.minus(300 * Timestamp::DAY),
                            until: g.qual_until,
                        },
                    },
                },
            )?;
            n += 3;
            if i == 1 {
                // Requalified before the old qualification lapses: the
                // renewal is recorded now, valid from the day it ends.
                reg.record(
                    &official,
                    RegulatorEvent::QualificationRecorded {
                        person: g.id.clone(),
                        qualification: Qualification {
                            id: p(&format!("Q-HG-{}-{:03}-R", s.index + 1, i + 1))?,
                            weapon: FirearmType::Pistol,
                            provider: p(PROVIDER)?,
                            valid: Validity {
                                from: g.qual_until,
                                until: plan.start.plus((plan.days + 700) * Timestamp::DAY),
                            },
                        },
                    },
                )?;
                n += 1;
            }
            progress();
        }
    }
    Ok(n)
}
