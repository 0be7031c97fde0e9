//! The regulator's oversight in the rules state: inspections and their
//! findings, sanctions, complaints and vetting; the standing of a company
//! (active, suspended, ceased) that site acts are judged against; and the
//! checks on the regulator's own acts (a complaint resolved must have been
//! received, a correction must name a correctable regulator entry).
//!
//! Regulator acts are the regulator's decisions, so these checks refuse an
//! act before it is signed (`RegulatorAgent`) and are recorded as findings
//! on the regulator chain if one is signed anyway; they never stop the act
//! from taking effect, except a correction of an entry that cannot be
//! corrected, which changes nothing (as at a site).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::entry::ChainId;
use crate::event::{CompanyStatus, RegulatorEvent};
use crate::hash::Hash;
use crate::ids::{CompanyId, Ident, SiteId, Timestamp};
use crate::note::SealedNote;
use crate::oversight::{
    ComplaintOutcome, InspectionStage, Respondent, Sanction, Severity, VettingOutcome,
};
use crate::rules::RuleId;
use crate::rules::check::{Out, Violation};
use crate::rules::state::State;

/// A complaint as the regulator chain records it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ComplaintRecord {
    /// Whom it is against.
    pub against: Respondent,
    /// The sealed summary.
    pub summary: SealedNote,
    /// When received (the entry's time).
    pub received_at: Timestamp,
    /// How it ended, once resolved.
    pub resolved: Option<ComplaintResolution>,
}

/// The end of a complaint.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ComplaintResolution {
    /// Outcome.
    pub outcome: ComplaintOutcome,
    /// The sealed reasons.
    pub note: SealedNote,
    /// When resolved.
    pub at: Timestamp,
}

/// An inspection: planned, performed, or both.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InspectionRecord {
    /// The site.
    pub site: SiteId,
    /// When it was planned for.
    pub planned_for: Option<Timestamp>,
    /// When it took place.
    pub performed_at: Option<Timestamp>,
    /// The sealed notes of each stage, in order.
    pub notes: Vec<SealedNote>,
}

/// An inspection finding.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FindingRecord {
    /// The inspection.
    pub inspection: Ident,
    /// The site.
    pub site: SiteId,
    /// The company answerable.
    pub company: CompanyId,
    /// The breach's code.
    pub code: Ident,
    /// Severity.
    pub severity: Severity,
    /// The sealed text.
    pub note: SealedNote,
    /// When recorded.
    pub recorded_at: Timestamp,
    /// When closed and the sealed note of how it was put right.
    pub closed: Option<(Timestamp, SealedNote)>,
}

/// A sanction on a company.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SanctionRecord {
    /// The company.
    pub company: CompanyId,
    /// What.
    pub sanction: Sanction,
    /// The finding it follows from.
    pub finding: Option<Ident>,
    /// The sealed grounds.
    pub note: SealedNote,
    /// When decided.
    pub at: Timestamp,
}

/// A person's latest vetting outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vetting {
    /// Passed or failed.
    pub outcome: VettingOutcome,
    /// When a passed vetting expires.
    pub expires: Timestamp,
    /// The vetting file's reference.
    pub reference: Ident,
}

impl Vetting {
    /// Why this vetting does not count at `t`, if it does not.
    pub fn fails_at(&self, t: Timestamp) -> Option<String> {
        match self.outcome {
            VettingOutcome::Failed => Some(format!("failed vetting {}", self.reference)),
            VettingOutcome::Passed if t >= self.expires => Some(format!(
                "vetting {} expired {}",
                self.reference, self.expires
            )),
            VettingOutcome::Passed => None,
        }
    }
}

/// The regulator's oversight records, by reference.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Oversight {
    /// Complaints.
    pub complaints: BTreeMap<Ident, ComplaintRecord>,
    /// Inspections.
    pub inspections: BTreeMap<Ident, InspectionRecord>,
    /// Inspection findings.
    pub findings: BTreeMap<Ident, FindingRecord>,
    /// Sanctions.
    pub sanctions: BTreeMap<Ident, SanctionRecord>,
}

impl Oversight {
    /// Findings not yet closed, by reference.
    pub fn open_findings(&self) -> impl Iterator<Item = (&Ident, &FindingRecord)> {
        self.findings.iter().filter(|(_, f)| f.closed.is_none())
    }

    /// Complaints not yet resolved, by reference.
    pub fn open_complaints(&self) -> impl Iterator<Item = (&Ident, &ComplaintRecord)> {
        self.complaints.iter().filter(|(_, c)| c.resolved.is_none())
    }
}

/// Why `company` may not issue, assign, acquire or receive at `t`, if it
/// may not: `company-not-suspended`, `company-not-ceased`, or
/// `company-active` (unlicensed, or outside its licence's validity).
pub(super) fn company_standing(
    state: &State,
    company: &CompanyId,
    t: Timestamp,
) -> Option<(RuleId, String)> {
    let Some(c) = state.companies.get(company) else {
        return Some((
            RuleId::CompanyActive,
            format!("company {company} is not licensed"),
        ));
    };
    match c.status {
        CompanyStatus::Suspended => Some((
            RuleId::CompanyNotSuspended,
            format!("company {company} is suspended by the regulator"),
        )),
        CompanyStatus::Revoked => Some((
            RuleId::CompanyNotCeased,
            format!("company {company}'s licence {} was withdrawn", c.licence),
        )),
        CompanyStatus::Ceased => Some((
            RuleId::CompanyNotCeased,
            format!("company {company} has ceased"),
        )),
        CompanyStatus::Active if !c.valid.covers(t) => Some((
            RuleId::CompanyActive,
            format!(
                "company {company}'s licence {} is valid {}..{}",
                c.licence, c.valid.from, c.valid.until
            ),
        )),
        CompanyStatus::Active => None,
    }
}

/// Whether a regulator entry of this kind may be corrected: not a device
/// key's (the key registry reads those as signed), not an entry about
/// another entry.
pub fn correctable(kind: &str) -> bool {
    !matches!(
        kind,
        "device-key-enrolled"
            | "device-key-retired"
            | "device-key-revoked"
            | "regulator-corrected"
            | "regulator-annotated"
    )
}

/// Whether `corrected` may replace the regulator entry `target`.
pub(super) fn correction_applies(state: &State, target: &Hash, corrected: &RegulatorEvent) -> bool {
    state.entries.get(target).is_some_and(|m| {
        m.chain == ChainId::Regulator && m.kind == corrected.kind() && correctable(m.kind)
    })
}

/// Judges a regulator act against the state before it. Every violation is
/// evidence naming the reference it is about.
pub fn check_regulator(state: &State, event: &RegulatorEvent) -> Vec<Violation> {
    use RegulatorEvent::*;
    let mut out = Out::new();
    let o = &state.oversight;
    match event {
        CompanyStatusChanged {
            company,
            status: CompanyStatus::Active,
            ..
        } => match state.companies.get(company) {
            None => out.push(
                RuleId::ReferenceExists,
                format!("company {company} is not licensed"),
            ),
            Some(c) if c.status != CompanyStatus::Suspended => out.push(
                RuleId::ReinstatementLiftsSuspension,
                format!(
                    "company {company} is {:?}, not suspended; license it again instead",
                    c.status
                ),
            ),
            Some(_) => {}
        },
        CompanyStatusChanged { company, .. } | SanctionRecorded { company, .. }
            if !state.companies.contains_key(company) =>
        {
            out.push(
                RuleId::ReferenceExists,
                format!("company {company} is not licensed"),
            );
        }
        ComplaintResolved { reference, .. } => match o.complaints.get(reference) {
            None => out.push(
                RuleId::ReferenceExists,
                format!("no complaint {reference} was received"),
            ),
            Some(c) if c.resolved.is_some() => out.push(
                RuleId::ReferenceExists,
                format!("complaint {reference} is already resolved"),
            ),
            Some(_) => {}
        },
        ComplaintReceived { reference, .. } if o.complaints.contains_key(reference) => out.push(
            RuleId::ReferenceExists,
            format!("complaint {reference} was already received; use another reference"),
        ),
        InspectionRecorded {
            reference, site, ..
        } => {
            if !state.sites.contains_key(site) {
                out.push(
                    RuleId::SiteRegistered,
                    format!("site {site} is not registered"),
                );
            }
            if let Some(i) = o.inspections.get(reference)
                && &i.site != site
            {
                out.push(
                    RuleId::ReferenceExists,
                    format!("inspection {reference} is of site {}, not {site}", i.site),
                );
            }
        }
        FindingRecorded {
            inspection,
            finding,
            site,
            company,
            ..
        } => {
            match o.inspections.get(inspection) {
                None => out.push(
                    RuleId::ReferenceExists,
                    format!("no inspection {inspection} is recorded"),
                ),
                Some(i) if &i.site != site => out.push(
                    RuleId::ReferenceExists,
                    format!("inspection {inspection} is of site {}, not {site}", i.site),
                ),
                Some(_) => {}
            }
            if let Some(sc) = state.company_of(site)
                && sc != company
            {
                out.push(
                    RuleId::SiteRegistered,
                    format!("site {site} belongs to {sc}, not {company}"),
                );
            }
            if o.findings.contains_key(finding) {
                out.push(
                    RuleId::ReferenceExists,
                    format!("finding {finding} was already recorded; use another reference"),
                );
            }
        }
        FindingClosed { finding, .. } => match o.findings.get(finding) {
            None => out.push(
                RuleId::ReferenceExists,
                format!("no finding {finding} is recorded"),
            ),
            Some(f) if f.closed.is_some() => out.push(
                RuleId::ReferenceExists,
                format!("finding {finding} is already closed"),
            ),
            Some(_) => {}
        },
        PersonUnbarred { person, .. }
            if state.persons.get(person).is_none_or(|p| p.barred.is_none()) =>
        {
            out.push(RuleId::ReferenceExists, format!("{person} is not barred"));
        }
        RegulatorCorrected {
            supersedes,
            corrected,
            ..
        } => match state.entries.get(supersedes) {
            Some(m) if m.chain == ChainId::Regulator => {
                if !correctable(m.kind) {
                    out.push(
                        RuleId::ReferenceExists,
                        format!(
                            "a {} cannot be corrected (revoke or retire the key, or annotate the entry)",
                            m.kind
                        ),
                    );
                } else if m.kind != corrected.kind() {
                    out.push(
                        RuleId::ReferenceExists,
                        format!(
                            "a {} cannot be corrected into a {}",
                            m.kind,
                            corrected.kind()
                        ),
                    );
                }
            }
            _ => out.push(
                RuleId::ReferenceExists,
                format!(
                    "no entry {} on the regulator chain to correct",
                    supersedes.short()
                ),
            ),
        },
        RegulatorAnnotated { about, .. }
            if state
                .entries
                .get(about)
                .is_none_or(|m| m.chain != ChainId::Regulator) =>
        {
            out.push(
                RuleId::ReferenceExists,
                format!(
                    "no entry {} on the regulator chain to annotate",
                    about.short()
                ),
            );
        }
        _ => {}
    }
    if let SanctionRecorded {
        finding: Some(f), ..
    } = event
        && !o.findings.contains_key(f)
    {
        out.push(
            RuleId::ReferenceExists,
            format!("no finding {f} is recorded"),
        );
    }
    out.into_inner()
}

/// Folds an oversight act into the state. Returns false for any other
/// regulator event.
pub(super) fn apply(state: &mut State, event: &RegulatorEvent, at: Timestamp) -> bool {
    use RegulatorEvent::*;
    let o = &mut state.oversight;
    match event {
        ComplaintReceived {
            reference,
            against,
            summary,
        } => {
            o.complaints.insert(
                reference.clone(),
                ComplaintRecord {
                    against: against.clone(),
                    summary: *summary,
                    received_at: at,
                    resolved: None,
                },
            );
        }
        ComplaintResolved {
            reference,
            outcome,
            note,
        } => {
            if let Some(c) = o.complaints.get_mut(reference) {
                c.resolved = Some(ComplaintResolution {
                    outcome: *outcome,
                    note: *note,
                    at,
                });
            }
        }
        InspectionRecorded {
            reference,
            site,
            stage,
            at: when,
            note,
        } => {
            let i = o
                .inspections
                .entry(reference.clone())
                .or_insert_with(|| InspectionRecord {
                    site: site.clone(),
                    planned_for: None,
                    performed_at: None,
                    notes: Vec::new(),
                });
            match stage {
                InspectionStage::Planned => i.planned_for = Some(*when),
                InspectionStage::Performed => i.performed_at = Some(*when),
            }
            i.notes.push(*note);
        }
        FindingRecorded {
            inspection,
            finding,
            site,
            company,
            code,
            severity,
            note,
        } => {
            o.findings.insert(
                finding.clone(),
                FindingRecord {
                    inspection: inspection.clone(),
                    site: site.clone(),
                    company: company.clone(),
                    code: code.clone(),
                    severity: *severity,
                    note: *note,
                    recorded_at: at,
                    closed: None,
                },
            );
        }
        FindingClosed { finding, note } => {
            if let Some(f) = o.findings.get_mut(finding)
                && f.closed.is_none()
            {
                f.closed = Some((at, *note));
            }
        }
        SanctionRecorded {
            reference,
            company,
            sanction,
            finding,
            note,
        } => {
            o.sanctions.insert(
                reference.clone(),
                SanctionRecord {
                    company: company.clone(),
                    sanction: sanction.clone(),
                    finding: finding.clone(),
                    note: *note,
                    at,
                },
            );
            let status = match sanction {
                Sanction::Suspension => Some(CompanyStatus::Suspended),
                Sanction::LicenceWithdrawal => Some(CompanyStatus::Revoked),
                Sanction::Fine { .. } => None,
            };
            if let (Some(status), Some(c)) = (status, state.companies.get_mut(company)) {
                c.status = status;
            }
        }
        PersonUnbarred { person, .. } => {
            if let Some(p) = state.persons.get_mut(person) {
                p.barred = None;
            }
        }
        VettingRecorded {
            person,
            outcome,
            expires,
            reference,
        } => {
            state.persons.entry(person.clone()).or_default().vetting = Some(Vetting {
                outcome: *outcome,
                expires: *expires,
                reference: reference.clone(),
            });
        }
        // Entries about entries: the engine folds a correction in by
        // replay; an annotation changes nothing.
        RegulatorCorrected { .. } | RegulatorAnnotated { .. } => {}
        _ => return false,
    }
    true
}
