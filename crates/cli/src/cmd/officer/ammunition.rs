//! Ammunition: lots received, rounds issued without a firearm, returned,
//! expended, and a lot's status (only serviceable rounds are issued).

use anyhow::bail;
use armsledger_core::event::SiteEvent;
use armsledger_core::hash::Hash;
use armsledger_core::ids::{LocationId, Name, PersonId, Text, Timestamp};
use armsledger_core::model::{AmmoLine, Counterparty, DocKind, Holder, LotIdentity};
use clap::Args;

use super::lookup::{DocSpec, doc, lines, lot, parse_lot_count, parse_rounds_back, rounds_back};
use super::{AmmoKind, LotStatusArg, ReasonArg, record, seal};
use crate::cmd::act::{ActArgs, open, parse_time};
use armsledger_store::NoteClass;

/// `ammo receive`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger ammo receive --officer armourer-1 --lot L2026-01 --manufacturer PMP --calibre 9x19mm --rounds 1000 --from 'PMP' --location vault"
)]
pub struct AmmoReceiveArgs {
    #[command(flatten)]
    pub act: ActArgs,
    /// Lot number.
    #[arg(long)]
    pub lot: Name,
    /// Manufacturer.
    #[arg(long)]
    pub manufacturer: Name,
    /// Calibre.
    #[arg(long)]
    pub calibre: Name,
    /// Type.
    #[arg(long, value_enum, default_value = "full-metal-jacket")]
    pub kind: AmmoKind,
    /// Whole rounds received.
    #[arg(long)]
    pub rounds: u64,
    /// Supplier.
    #[arg(long = "from")]
    pub source: Name,
    /// Acquisition authorisation, if required:
    /// NUMBER[,issuer=NAME][,expires=DATE][,kind=KIND][,file=SCAN].
    #[arg(long)]
    pub permit: Option<DocSpec>,
    /// Storage location.
    #[arg(long)]
    pub location: LocationId,
}

/// `ammo issue`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger ammo issue --officer armourer-1 --to range-officer-1 --rounds L2026-01=200 --from vault --purpose 'range day'"
)]
pub struct AmmoIssueArgs {
    #[command(flatten)]
    pub act: ActArgs,
    /// Recipient.
    #[arg(long)]
    pub to: PersonId,
    /// Rounds, LOT=N (repeatable).
    #[arg(long = "rounds", value_parser = parse_lot_count, required = true)]
    pub rounds: Vec<(String, u64)>,
    /// Store location.
    #[arg(long)]
    pub from: LocationId,
    /// Purpose.
    #[arg(long, default_value = "training")]
    pub purpose: Text,
    /// Due back [default: 12 hours after the act].
    #[arg(long, value_parser = parse_time)]
    pub due: Option<Timestamp>,
}

/// `ammo return`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger ammo return --officer armourer-1 --holder range-officer-1 --rounds-back L2026-01=20:180 --to vault"
)]
pub struct AmmoReturnArgs {
    #[command(flatten)]
    pub act: ActArgs,
    /// Who holds the rounds (finds their open ammunition issue).
    #[arg(long)]
    pub holder: PersonId,
    /// Rounds back, LOT=RETURNED:EXPENDED (repeatable).
    #[arg(long = "rounds-back", value_parser = parse_rounds_back, required = true)]
    pub rounds_back: Vec<(String, u64, u64)>,
    /// Store location they go back to.
    #[arg(long)]
    pub to: LocationId,
}

/// `ammo expend`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger ammo expend --officer armourer-1 --lot L2026-01 --rounds 2 --holder guard-17 --cause duty-discharge --incident INC-4"
)]
pub struct AmmoExpendArgs {
    #[command(flatten)]
    pub act: ActArgs,
    /// Lot number.
    #[arg(long)]
    pub lot: String,
    /// Rounds used.
    #[arg(long)]
    pub rounds: u64,
    /// Person who held them (or --store LOCATION).
    #[arg(long, conflicts_with = "store")]
    pub holder: Option<PersonId>,
    /// Store location they were in.
    #[arg(long)]
    pub store: Option<LocationId>,
    /// Why the rounds were used.
    #[arg(long, value_enum)]
    pub cause: ReasonArg,
    /// Incident reference (required for a discharge on duty).
    #[arg(long)]
    pub incident: Option<Name>,
}

/// `ammo lot-status`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger ammo lot-status --officer armourer-1 --lot L2026-01 --status quarantined --why 'misfires at the range'"
)]
pub struct LotStatusArgs {
    #[command(flatten)]
    pub act: ActArgs,
    /// Lot number.
    #[arg(long)]
    pub lot: String,
    /// The lot's new status.
    #[arg(long, value_enum)]
    pub status: LotStatusArg,
    /// Why.
    #[arg(long)]
    pub why: Text,
}

pub(super) fn receive(a: AmmoReceiveArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    let identity = LotIdentity {
        lot_number: a.lot,
        manufacturer: a.manufacturer,
        calibre: a.calibre,
        kind: a.kind.into(),
        year: None,
    };
    let event = SiteEvent::AmmunitionReceived {
        lot: identity.id(),
        identity,
        rounds: a.rounds,
        source: Counterparty {
            name: a.source,
            licence: None,
        },
        authorisation: a
            .permit
            .map(|p| doc(DocKind::AcquisitionPermit, p))
            .transpose()?,
        location: a.location,
    };
    record(&mut agent, &a.act, event)
}

pub(super) fn issue(a: AmmoIssueArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    let event = SiteEvent::AmmunitionIssued {
        to: a.to,
        lines: lines(&agent, &a.rounds)?,
        from: a.from,
        purpose: seal(&agent, a.purpose, NoteClass::Operational, &a.act)?,
        due_back: a
            .due
            .unwrap_or_else(|| a.act.time().plus(12 * Timestamp::HOUR)),
    };
    record(&mut agent, &a.act, event)
}

pub(super) fn record_return(a: AmmoReturnArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    let state = agent.verifier().engine().state();
    let open_issues: Vec<Hash> = state
        .open_issues
        .iter()
        .filter(|(_, i)| i.firearm.is_none() && i.to == a.holder && &i.site == agent.site())
        .map(|(h, _)| *h)
        .collect();
    let issue = match open_issues.as_slice() {
        [one] => *one,
        [] => bail!("{} holds no open ammunition issue at this site", a.holder),
        _ => bail!(
            "{} holds several open ammunition issues; return them one at a time",
            a.holder
        ),
    };
    let event = SiteEvent::AmmunitionReturned {
        issue,
        lines: rounds_back(&agent, &a.rounds_back)?,
        to: a.to,
    };
    record(&mut agent, &a.act, event)
}

pub(super) fn expend(a: AmmoExpendArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    let holder = match (a.holder.clone(), a.store.clone()) {
        (Some(p), _) => Holder::Person(p),
        (None, Some(l)) => Holder::Store(l),
        (None, None) => bail!("who held the rounds? give --holder PERSON or --store LOCATION"),
    };
    let issue = match &holder {
        Holder::Person(p) => agent
            .verifier()
            .engine()
            .state()
            .open_issues
            .iter()
            .find(|(_, i)| &i.to == p && &i.site == agent.site())
            .map(|(h, _)| *h),
        Holder::Store(_) => None,
    };
    let event = SiteEvent::AmmunitionExpended {
        holder,
        line: AmmoLine {
            lot: lot(&agent, &a.lot)?,
            rounds: a.rounds,
        },
        reason: a.cause.into(),
        incident: a.incident,
        issue,
    };
    record(&mut agent, &a.act, event)
}

pub(super) fn lot_status(a: LotStatusArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    let event = SiteEvent::LotStatusChanged {
        lot: lot(&agent, &a.lot)?,
        status: a.status.into(),
        reason: seal(&agent, a.why, NoteClass::Operational, &a.act)?,
    };
    record(&mut agent, &a.act, event)
}
