//! The regulator's oversight acts as signed data: inspections and their
//! findings, sanctions, complaints and vetting outcomes. The events that
//! carry them are in [`crate::event::RegulatorEvent`]; what they do to the
//! rules state is in `rules::oversight`. Every type here is part of the
//! signed format (postcard encodes an enum's variant index): add variants at
//! the end only. docs/formats.md ("Oversight acts") has them byte by byte.

use serde::{Deserialize, Serialize};

use crate::ids::{CompanyId, Ident, PersonId};

/// Whom a complaint is against. The complainant is never named: there is no
/// field for them, and the summary is a sealed note kept off the ledger.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Respondent {
    /// A licensed company.
    Company(CompanyId),
    /// A person (a licensed officer, a guard).
    Person(PersonId),
}

/// How a complaint ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ComplaintOutcome {
    /// Upheld: the regulator found the complaint made out.
    Upheld,
    /// Not upheld after inquiry.
    NotUpheld,
    /// Withdrawn by the complainant.
    Withdrawn,
}

/// Where an inspection stands: an inspection is recorded once planned and
/// again (same reference) once performed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InspectionStage {
    /// Announced or scheduled for `at`.
    Planned,
    /// Carried out at `at`.
    Performed,
}

/// How serious an inspection finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// A record-keeping slip; to be put right by the next inspection.
    Minor,
    /// A breach of a rule of safe custody; to be put right by a deadline.
    Major,
    /// A breach that puts firearms at risk; may lead to a sanction.
    Critical,
}

/// A sanction on a company.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sanction {
    /// The company is suspended: it may issue, assign, acquire and receive
    /// nothing until reinstated, though it may hand its stock over.
    Suspension,
    /// The company's licence is withdrawn: it is blocked as a ceased company.
    LicenceWithdrawal,
    /// A fine, recorded (the ledger does not collect it).
    Fine {
        /// Amount in the currency's minor unit (cents).
        amount_minor: u64,
        /// ISO 4217 currency code, e.g. `ZAR`.
        currency: Ident,
    },
}

impl Sanction {
    /// A short word for tables and JSON.
    pub fn word(&self) -> &'static str {
        match self {
            Sanction::Suspension => "suspension",
            Sanction::LicenceWithdrawal => "licence-withdrawal",
            Sanction::Fine { .. } => "fine",
        }
    }
}

/// The outcome of a person's security vetting (its contents stay off the
/// ledger).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VettingOutcome {
    /// Passed, until the vetting's expiry.
    Passed,
    /// Failed: the person may not be issued firearms.
    Failed,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::RegulatorEvent;
    use crate::hash::Hash;
    use crate::note::SealedNote;
    use crate::testkit::v;

    /// The worked example in docs/formats.md ("Oversight acts").
    #[test]
    fn vector() {
        let ev = RegulatorEvent::SanctionRecorded {
            reference: v("S-1"),
            company: v("acme"),
            sanction: Sanction::Fine {
                amount_minor: 2_500_050,
                currency: v("ZAR"),
            },
            finding: Some(v("F-1")),
            note: SealedNote(Hash([0x11; 32])),
        };
        let bytes = postcard::to_allocvec(&ev).unwrap();
        let head = "0f03532d310461636d6502d2cb9801035a41520103462d31";
        assert_eq!(hex::encode(&bytes), format!("{head}{}", "11".repeat(32)));
        assert_eq!(postcard::from_bytes::<RegulatorEvent>(&bytes).unwrap(), ev);
    }
}
