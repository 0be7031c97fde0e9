//! `armsledger regulator …` oversight acts: inspections and findings,
//! sanctions, a company's status, complaints, a person's bar and vetting,
//! and corrections and annotations of the regulator's own entries (issue
//! 18). Each is one regulator event, checked against the regulator's state
//! before its device signs it (`rules::check_regulator`), and pushed at once
//! when a server is configured.
//!
//! Free text (a finding, a complaint's summary, a sanction's grounds) never
//! enters the ledger: the entry signs a sealed note, and the text with its
//! salt (the opening) is kept in the regulator's note store and sent to the
//! server with the entry (`POST /v1/notes`).

use anyhow::bail;
use armsledger_core::event::{CompanyStatus, Event, RegulatorEvent};
use armsledger_core::ids::{CompanyId, Ident, PersonId, SiteId, Text, Timestamp};
use armsledger_core::oversight::{
    ComplaintOutcome, InspectionStage, Respondent, Sanction, Severity, VettingOutcome,
};
use armsledger_store::NoteClass;
use clap::{Args, Subcommand, ValueEnum};

use super::regulator::{PersonArg, RegArgs, record, record_sealed, record_sealed_with};
use crate::cmd::act::parse_time;

/// The oversight commands (flattened into `armsledger regulator`).
#[derive(Debug, Subcommand)]
pub enum OversightCommand {
    /// Plan an inspection of a site.
    PlanInspection(InspectionArgs),
    /// Record an inspection as performed (the planned one's reference, or a new one).
    RecordInspection(InspectionArgs),
    /// Record a finding of an inspection; it stays open until closed.
    RecordFinding(FindingArgs),
    /// Close a finding that was put right.
    CloseFinding(CloseFindingArgs),
    /// Sanction a company: suspend it, withdraw its licence, or fine it.
    Sanction(SanctionArgs),
    /// Suspend a company: it may issue, assign, acquire and receive nothing, but may hand its stock over.
    SuspendCompany(CompanyStatusArgs),
    /// Reinstate a suspended company.
    ReinstateCompany(CompanyStatusArgs),
    /// Record that a company ceased: blocked as a withdrawn licence is.
    CeaseCompany(CompanyStatusArgs),
    /// Receive a complaint against a company or a person (the complainant is never recorded).
    ReceiveComplaint(ComplaintArgs),
    /// Resolve a complaint.
    ResolveComplaint(ResolveArgs),
    /// Lift a person's bar.
    UnbarPerson(UnbarArgs),
    /// Record a person's vetting outcome and expiry (not its contents).
    RecordVetting(VettingArgs),
    /// Correct one of the regulator's own entries (the original stays).
    Correct(CorrectArgs),
    /// Annotate one of the regulator's own entries.
    Annotate(AnnotateArgs),
}

/// `plan-inspection`, `record-inspection`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  armsledger regulator plan-inspection --reference INS-2026-14 --site acme-north --on 2026-12-10 --note 'annual; registers and vault'\n  armsledger regulator record-inspection --reference INS-2026-14 --site acme-north --note 'registers and vault seen'"
)]
pub struct InspectionArgs {
    #[command(flatten)]
    pub reg: RegArgs,
    /// The inspection's reference.
    #[arg(long)]
    pub reference: Ident,
    /// The site inspected.
    #[arg(long)]
    pub site: SiteId,
    /// When it is planned for, or took place [default: now].
    #[arg(long, value_parser = parse_time)]
    pub on: Option<Timestamp>,
    /// Scope or summary (sealed: only its commitment enters the ledger).
    #[arg(long)]
    pub note: Text,
}

/// A finding's severity.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SeverityArg {
    /// A record-keeping slip.
    Minor,
    /// A breach of a rule of safe custody.
    Major,
    /// Firearms at risk.
    Critical,
}

/// `record-finding`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger regulator record-finding --inspection INS-2026-14 --finding F-2026-31 --site acme-north --code register-incomplete --severity major --note 'two returns not countersigned'\n\nThe company answerable is the site's, from the regulator's register."
)]
pub struct FindingArgs {
    #[command(flatten)]
    pub reg: RegArgs,
    /// The inspection's reference.
    #[arg(long)]
    pub inspection: Ident,
    /// The finding's own reference.
    #[arg(long)]
    pub finding: Ident,
    /// The site.
    #[arg(long)]
    pub site: SiteId,
    /// The regulator's code for the breach.
    #[arg(long)]
    pub code: Ident,
    /// How serious.
    #[arg(long, value_enum)]
    pub severity: SeverityArg,
    /// What was found (sealed).
    #[arg(long)]
    pub note: Text,
}

/// `close-finding`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger regulator close-finding --finding F-2026-31 --note 'registers countersigned; seen 2026-12-20'"
)]
pub struct CloseFindingArgs {
    #[command(flatten)]
    pub reg: RegArgs,
    /// The finding's reference.
    #[arg(long)]
    pub finding: Ident,
    /// How it was put right (sealed).
    #[arg(long)]
    pub note: Text,
}

/// `sanction`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  armsledger regulator sanction --company acme --reference S-2026-3 --suspend --finding F-2026-31 --note 'critical finding not put right'\n  armsledger regulator sanction --company acme --reference S-2026-4 --fine 25000.00 --currency ZAR --note 'late loss report'\n  armsledger regulator sanction --company acme --reference S-2026-5 --withdraw-licence --note 'repeated breaches'\n\nA suspension takes effect at once (company-not-suspended) until\n`reinstate-company`; a withdrawn licence blocks as a ceased company\n(company-not-ceased) until the company is licensed again. Either way the\ncompany may still hand its stock over. A fine is recorded; it blocks nothing."
)]
pub struct SanctionArgs {
    #[command(flatten)]
    pub reg: RegArgs,
    /// The company.
    #[arg(long)]
    pub company: CompanyId,
    /// The sanction's reference.
    #[arg(long)]
    pub reference: Ident,
    /// Suspend the company.
    #[arg(long, group = "kind", required_unless_present_any = ["withdraw_licence", "fine"])]
    pub suspend: bool,
    /// Withdraw the company's licence.
    #[arg(long, group = "kind")]
    pub withdraw_licence: bool,
    /// A fine, in the currency's units with at most two decimals (25000.00).
    #[arg(long, group = "kind", value_parser = parse_amount, requires = "currency")]
    pub fine: Option<u64>,
    /// The fine's currency (ISO 4217, e.g. ZAR).
    #[arg(long)]
    pub currency: Option<Ident>,
    /// The finding the sanction follows from.
    #[arg(long)]
    pub finding: Option<Ident>,
    /// Grounds (sealed).
    #[arg(long)]
    pub note: Text,
}

/// `suspend-company`, `reinstate-company`, `cease-company`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  armsledger regulator suspend-company --company acme --reason 'inquiry 12/2026'\n  armsledger regulator reinstate-company --company acme --reason 'inquiry closed'\n  armsledger regulator cease-company --company acme --reason 'company wound up'\n\nReinstatement lifts a suspension only; a ceased company or a withdrawn\nlicence comes back by `license-company`."
)]
pub struct CompanyStatusArgs {
    #[command(flatten)]
    pub reg: RegArgs,
    /// The company.
    #[arg(long)]
    pub company: CompanyId,
    /// Why (sealed).
    #[arg(long)]
    pub reason: Text,
}

/// `receive-complaint`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  armsledger regulator receive-complaint --reference C-2026-88 --company acme --summary 'guard displayed a firearm in a shop'\n  armsledger regulator receive-complaint --reference C-2026-89 --person guard-17 --summary 'threatening conduct at the gate'\n\nThe complainant is never recorded: there is no option for them, and the\nsummary is sealed (only its commitment enters the ledger)."
)]
pub struct ComplaintArgs {
    #[command(flatten)]
    pub reg: RegArgs,
    /// The complaint's reference.
    #[arg(long)]
    pub reference: Ident,
    /// Against a company.
    #[arg(long, group = "against", required_unless_present = "person")]
    pub company: Option<CompanyId>,
    /// Against a person.
    #[arg(long, group = "against")]
    pub person: Option<PersonId>,
    /// What is complained of (sealed).
    #[arg(long)]
    pub summary: Text,
}

/// A complaint's outcome.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OutcomeArg {
    /// Made out.
    Upheld,
    /// Not made out.
    NotUpheld,
    /// Withdrawn by the complainant.
    Withdrawn,
}

/// `resolve-complaint`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger regulator resolve-complaint --reference C-2026-88 --outcome upheld --note 'guard retrained; company warned'"
)]
pub struct ResolveArgs {
    #[command(flatten)]
    pub reg: RegArgs,
    /// The complaint's reference.
    #[arg(long)]
    pub reference: Ident,
    /// How it ended.
    #[arg(long, value_enum)]
    pub outcome: OutcomeArg,
    /// The reasons (sealed).
    #[arg(long)]
    pub note: Text,
}

/// `unbar-person`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger regulator unbar-person --person guard-17 --note 'inquiry closed, no case to answer'"
)]
pub struct UnbarArgs {
    #[command(flatten)]
    pub reg: RegArgs,
    #[command(flatten)]
    pub person: PersonArg,
    /// Why (sealed).
    #[arg(long)]
    pub note: Text,
}

/// A vetting outcome.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum VettingArg {
    /// Passed, until --expires.
    Passed,
    /// Failed.
    Failed,
}

/// `record-vetting`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger regulator record-vetting --person guard-17 --outcome passed --expires 2029-06-30 --reference VET-17-2026\n\nOnly the outcome, expiry and file reference enter the ledger. The latest\nvetting recorded counts: a failed or expired one refuses issues to the\nperson (recipient-vetted)."
)]
pub struct VettingArgs {
    #[command(flatten)]
    pub reg: RegArgs,
    #[command(flatten)]
    pub person: PersonArg,
    /// Passed or failed.
    #[arg(long, value_enum)]
    pub outcome: VettingArg,
    /// When the vetting expires.
    #[arg(long, value_parser = parse_time)]
    pub expires: Timestamp,
    /// The vetting file's reference.
    #[arg(long)]
    pub reference: Ident,
}

/// `regulator correct`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  armsledger regulator correct --entry 17 --outcome passed --reason 'keyed as failed; the file says passed'\n  armsledger regulator correct --entry 4 --valid-until 2028-01-01 --reason 'licence term is three years'\n\nThe corrected entry stays on the chain; the current view folds the\ncorrection in. Device-key entries cannot be corrected: revoke or retire the key."
)]
pub struct CorrectArgs {
    #[command(flatten)]
    pub reg: RegArgs,
    /// The counter of the regulator entry to supersede.
    #[arg(long)]
    pub entry: u64,
    /// Why (sealed).
    #[arg(long)]
    pub reason: Text,
    /// Corrected end of validity (company and person licences, permits, qualifications, authorisations, accreditations).
    #[arg(long, value_parser = parse_time)]
    pub valid_until: Option<Timestamp>,
    /// Corrected start of validity (as --valid-until).
    #[arg(long, value_parser = parse_time)]
    pub valid_from: Option<Timestamp>,
    /// Corrected vetting outcome.
    #[arg(long, value_enum)]
    pub outcome: Option<VettingArg>,
    /// Corrected vetting expiry.
    #[arg(long, value_parser = parse_time)]
    pub expires: Option<Timestamp>,
    /// Corrected finding severity.
    #[arg(long, value_enum)]
    pub severity: Option<SeverityArg>,
    /// Corrected end of a bar.
    #[arg(long, value_parser = parse_time)]
    pub bar_until: Option<Timestamp>,
}

/// `regulator annotate`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger regulator annotate --entry 17 --note 'file VET-17 re-examined on appeal'"
)]
pub struct AnnotateArgs {
    #[command(flatten)]
    pub reg: RegArgs,
    /// The counter of the regulator entry.
    #[arg(long)]
    pub entry: u64,
    /// The note (sealed).
    #[arg(long)]
    pub note: Text,
}

/// Parses `25000`, `25000.5` or `25000.50` into minor units (cents).
fn parse_amount(s: &str) -> Result<u64, String> {
    let bad =
        || format!("{s:?} is not an amount; use units with at most two decimals, e.g. 25000.00");
    let (units, cents) = s.split_once('.').unwrap_or((s, ""));
    if units.is_empty()
        || cents.len() > 2
        || !(units.chars().chain(cents.chars())).all(|c| c.is_ascii_digit())
    {
        return Err(bad());
    }
    let units: u64 = units.parse().map_err(|_| bad())?;
    let cents: u64 = match cents.len() {
        0 => 0,
        1 => cents.parse::<u64>().map_err(|_| bad())? * 10,
        _ => cents.parse().map_err(|_| bad())?,
    };
    units
        .checked_mul(100)
        .and_then(|u| u.checked_add(cents))
        .ok_or_else(bad)
}

/// Runs an oversight command.
pub fn run(cmd: OversightCommand) -> anyhow::Result<u8> {
    use OversightCommand as C;
    match cmd {
        C::PlanInspection(a) => inspection(a, InspectionStage::Planned),
        C::RecordInspection(a) => inspection(a, InspectionStage::Performed),
        C::RecordFinding(a) => {
            let agent = super::regulator::open(&a.reg)?;
            let Some(company) = agent
                .verifier()
                .engine()
                .state()
                .company_of(&a.site)
                .cloned()
            else {
                bail!(
                    "site {} is not registered\nhint: `armsledger regulator register-site` first, or check the site id",
                    a.site
                );
            };
            record_sealed_with(agent, &a.reg, a.note, NoteClass::Case, |note| {
                RegulatorEvent::FindingRecorded {
                    inspection: a.inspection,
                    finding: a.finding,
                    site: a.site,
                    company,
                    code: a.code,
                    severity: severity(a.severity),
                    note,
                }
            })
        }
        C::CloseFinding(a) => record_sealed(&a.reg, a.note, NoteClass::Case, |note| {
            RegulatorEvent::FindingClosed {
                finding: a.finding,
                note,
            }
        }),
        C::Sanction(a) => {
            let sanction = match (a.suspend, a.withdraw_licence, a.fine, a.currency) {
                (true, _, _, _) => Sanction::Suspension,
                (_, true, _, _) => Sanction::LicenceWithdrawal,
                (_, _, Some(amount_minor), Some(currency)) => Sanction::Fine {
                    amount_minor,
                    currency,
                },
                _ => bail!(
                    "which sanction? give --suspend, --withdraw-licence, or --fine AMOUNT --currency CODE"
                ),
            };
            record_sealed(&a.reg, a.note, NoteClass::Case, |note| {
                RegulatorEvent::SanctionRecorded {
                    reference: a.reference,
                    company: a.company,
                    sanction,
                    finding: a.finding,
                    note,
                }
            })
        }
        C::SuspendCompany(a) => company_status(a, CompanyStatus::Suspended),
        C::ReinstateCompany(a) => company_status(a, CompanyStatus::Active),
        C::CeaseCompany(a) => company_status(a, CompanyStatus::Ceased),
        C::ReceiveComplaint(a) => {
            let against = match (a.company, a.person) {
                (Some(c), _) => Respondent::Company(c),
                (_, Some(p)) => Respondent::Person(p),
                _ => bail!("against whom? give --company ID or --person ID"),
            };
            record_sealed(&a.reg, a.summary, NoteClass::Person, |summary| {
                RegulatorEvent::ComplaintReceived {
                    reference: a.reference,
                    against,
                    summary,
                }
            })
        }
        C::ResolveComplaint(a) => record_sealed(&a.reg, a.note, NoteClass::Case, |note| {
            RegulatorEvent::ComplaintResolved {
                reference: a.reference,
                outcome: match a.outcome {
                    OutcomeArg::Upheld => ComplaintOutcome::Upheld,
                    OutcomeArg::NotUpheld => ComplaintOutcome::NotUpheld,
                    OutcomeArg::Withdrawn => ComplaintOutcome::Withdrawn,
                },
                note,
            }
        }),
        C::UnbarPerson(a) => record_sealed(&a.reg, a.note, NoteClass::Person, |note| {
            RegulatorEvent::PersonUnbarred {
                person: a.person.person,
                note,
            }
        }),
        C::RecordVetting(a) => record(
            &a.reg,
            RegulatorEvent::VettingRecorded {
                person: a.person.person,
                outcome: vetting(a.outcome),
                expires: a.expires,
                reference: a.reference,
            },
        ),
        C::Correct(a) => correct(a),
        C::Annotate(a) => {
            let agent = super::regulator::open(&a.reg)?;
            let about = entry_hash(&agent, a.entry)?.0;
            record_sealed_with(agent, &a.reg, a.note, NoteClass::Operational, |note| {
                RegulatorEvent::RegulatorAnnotated { about, note }
            })
        }
    }
}

fn inspection(a: InspectionArgs, stage: InspectionStage) -> anyhow::Result<u8> {
    record_sealed(&a.reg, a.note, NoteClass::Case, |note| {
        RegulatorEvent::InspectionRecorded {
            reference: a.reference,
            site: a.site,
            stage,
            at: a.on.unwrap_or_else(super::now),
            note,
        }
    })
}

fn company_status(a: CompanyStatusArgs, status: CompanyStatus) -> anyhow::Result<u8> {
    record_sealed(&a.reg, a.reason, NoteClass::Case, |reason| {
        RegulatorEvent::CompanyStatusChanged {
            company: a.company,
            status,
            reason,
        }
    })
}

fn severity(s: SeverityArg) -> Severity {
    match s {
        SeverityArg::Minor => Severity::Minor,
        SeverityArg::Major => Severity::Major,
        SeverityArg::Critical => Severity::Critical,
    }
}

fn vetting(v: VettingArg) -> VettingOutcome {
    match v {
        VettingArg::Passed => VettingOutcome::Passed,
        VettingArg::Failed => VettingOutcome::Failed,
    }
}

/// The hash and event of regulator entry `counter`.
fn entry_hash(
    agent: &super::regulator::Agent,
    counter: u64,
) -> anyhow::Result<(armsledger_core::hash::Hash, RegulatorEvent)> {
    let entry = agent
        .entries_from(counter)
        .map_err(crate::cmd::act::explain)?
        .into_iter()
        .next()
        .filter(|e| e.counter() == counter);
    let Some(entry) = entry else {
        bail!(
            "the regulator chain has no entry #{counter}\nhint: the counters are printed as `regulator #N` when each act is recorded"
        );
    };
    let Event::Regulator(ev) = &entry.body().event else {
        bail!("entry #{counter} is not a regulator event");
    };
    Ok((entry.hash(), ev.clone()))
}

fn correct(a: CorrectArgs) -> anyhow::Result<u8> {
    use RegulatorEvent::*;
    let agent = super::regulator::open(&a.reg)?;
    let (supersedes, mut ev) = entry_hash(&agent, a.entry)?;
    let original = ev.clone();
    let valid = match &mut ev {
        CompanyLicensed { valid, .. }
        | TrainingProviderAccredited { valid, .. }
        | PersonAuthorised { valid, .. } => Some(valid),
        PersonLicensed { licence, .. } => Some(&mut licence.valid),
        PermitRecorded { permit, .. } => Some(&mut permit.valid),
        QualificationRecorded { qualification, .. } => Some(&mut qualification.valid),
        _ => None,
    };
    if let Some(valid) = valid {
        if let Some(t) = a.valid_until {
            valid.until = t;
        }
        if let Some(t) = a.valid_from {
            valid.from = t;
        }
    }
    match &mut ev {
        VettingRecorded {
            outcome, expires, ..
        } => {
            if let Some(o) = a.outcome {
                *outcome = vetting(o);
            }
            if let Some(t) = a.expires {
                *expires = t;
            }
        }
        FindingRecorded { severity: s, .. } => {
            if let Some(x) = a.severity {
                *s = severity(x);
            }
        }
        PersonBarred { until, .. } => {
            if let Some(t) = a.bar_until {
                *until = Some(t);
            }
        }
        _ => {}
    }
    if ev == original {
        bail!(
            "entry #{} is a {}; nothing given changes it\nhint: see `armsledger regulator correct --help` for what each kind of entry takes",
            a.entry,
            original.kind()
        );
    }
    record_sealed_with(agent, &a.reg, a.reason, NoteClass::Case, |reason| {
        RegulatorEvent::RegulatorCorrected {
            supersedes,
            reason,
            corrected: Box::new(ev),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::parse_amount;

    #[test]
    fn amounts_are_read_in_minor_units() {
        assert_eq!(parse_amount("25000"), Ok(2_500_000));
        assert_eq!(parse_amount("25000.5"), Ok(2_500_050));
        assert_eq!(parse_amount("0.07"), Ok(7));
        for bad in [
            "",
            ".5",
            "1.234",
            "-3",
            "1e3",
            "12,50",
            "184467440737095517",
        ] {
            assert!(parse_amount(bad).is_err(), "{bad}");
        }
    }
}
