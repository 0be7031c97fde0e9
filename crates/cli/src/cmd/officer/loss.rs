//! Loss and recovery: firearms reported lost or stolen (and the report's
//! references added later), a firearm seized by an authority, and a lost or
//! seized firearm recovered.

use anyhow::bail;
use armsledger_core::event::SiteEvent;
use armsledger_core::ids::{LocationId, Name, PersonId, Text, Timestamp};
use armsledger_core::model::Item;
use armsledger_core::rules::state::FirearmState;
use clap::Args;

use super::lookup::{entry_hash, firearm, lines, parse_lot_count};
use super::{ConditionArg, FirearmArg, LossArg, record, seal};
use crate::cmd::act::{ActArgs, open, parse_time};
use armsledger_store::NoteClass;

/// `report-loss`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger report-loss --officer armourer-1 --serial GLK-0001 --kind theft --circumstances 'vehicle break-in' --police-ref CAS-12/2026\n  armsledger report-loss --officer armourer-1 --rounds L2026-01=5 --holder guard-17 --kind loss --circumstances 'magazine lost on patrol'"
)]
pub struct ReportLossArgs {
    #[command(flatten)]
    pub act: ActArgs,
    /// Firearms missing, by serial (repeatable).
    #[arg(long = "serial", required_unless_present = "rounds")]
    pub serials: Vec<String>,
    /// Rounds missing, LOT=N (repeatable).
    #[arg(long = "rounds", value_parser = parse_lot_count)]
    pub rounds: Vec<(String, u64)>,
    /// The guard who lost them (rounds come out of that guard's holding,
    /// not out of the store) [default: the store].
    #[arg(long)]
    pub holder: Option<PersonId>,
    /// Category.
    #[arg(long, value_enum)]
    pub kind: LossArg,
    /// When it was discovered [default: the act's time].
    #[arg(long, value_parser = parse_time)]
    pub discovered: Option<Timestamp>,
    /// Circumstances.
    #[arg(long)]
    pub circumstances: Text,
    /// Police case number.
    #[arg(long)]
    pub police_ref: Option<Name>,
    /// Regulator incident number.
    #[arg(long)]
    pub regulator_ref: Option<Name>,
}

/// `recover`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger recover --officer armourer-1 --serial GLK-0001 --location vault"
)]
pub struct RecoverArgs {
    #[command(flatten)]
    pub act: ActArgs,
    #[command(flatten)]
    pub firearm: FirearmArg,
    /// Condition.
    #[arg(long, value_enum, default_value = "serviceable")]
    pub condition: ConditionArg,
    /// Where it is stored.
    #[arg(long)]
    pub location: LocationId,
}

/// `update-loss`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger update-loss --officer armourer-1 --serial GLK-0001 --police-ref CAS-12/2026 --regulator-ref INC-2026-031"
)]
pub struct UpdateLossArgs {
    #[command(flatten)]
    pub act: ActArgs,
    /// A firearm the report names, by serial (or --report).
    #[arg(long, required_unless_present = "report", conflicts_with = "report")]
    pub serial: Option<String>,
    /// The loss report's entry counter on this site's chain.
    #[arg(long)]
    pub report: Option<u64>,
    /// Police case number.
    #[arg(long, required_unless_present_any = ["regulator_ref", "circumstances"])]
    pub police_ref: Option<Name>,
    /// Regulator incident number.
    #[arg(long)]
    pub regulator_ref: Option<Name>,
    /// Circumstances learned since the report.
    #[arg(long)]
    pub circumstances: Option<Text>,
}

/// `seize`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger seize --officer armourer-1 --serial GLK-0001 --authority 'SAPS Durban Central' --order 'CAS-88/11/2026'"
)]
pub struct SeizeArgs {
    #[command(flatten)]
    pub act: ActArgs,
    #[command(flatten)]
    pub firearm: FirearmArg,
    /// The authority that took it (police station, court).
    #[arg(long)]
    pub authority: Name,
    /// Police case number, seizure receipt or court order.
    #[arg(long)]
    pub order: Name,
}

pub(super) fn report_loss(a: ReportLossArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    let mut items = a
        .serials
        .iter()
        .map(|s| firearm(&agent, s).map(|f| Item::Firearm(f.0)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    items.extend(lines(&agent, &a.rounds)?.into_iter().map(Item::Rounds));
    let event = SiteEvent::LossReported {
        items,
        kind: a.kind.into(),
        holder: a.holder,
        discovered_at: a.discovered.unwrap_or_else(|| a.act.time()),
        circumstances: seal(&agent, a.circumstances, NoteClass::Case, &a.act)?,
        police_ref: a.police_ref,
        regulator_ref: a.regulator_ref,
    };
    record(&mut agent, &a.act, event)
}

pub(super) fn recover(a: RecoverArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    let (id, state) = a.firearm.resolve(&agent)?;
    let report = match state {
        FirearmState::Lost { report } => report,
        FirearmState::Seized { entry } => entry,
        other => bail!(
            "firearm {} is {}, not lost or seized",
            a.firearm.serial,
            other.word()
        ),
    };
    let event = SiteEvent::Recovered {
        firearm: id,
        report,
        condition: a.condition.into(),
        location: a.location,
    };
    record(&mut agent, &a.act, event)
}

pub(super) fn update_loss(a: UpdateLossArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    let report = match (&a.serial, a.report) {
        (_, Some(counter)) => entry_hash(&agent, counter)?,
        (Some(serial), None) => match firearm(&agent, serial)?.1 {
            FirearmState::Lost { report } => report,
            other => bail!(
                "firearm {serial} is {}, not reported lost; name the report with --report COUNTER",
                other.word()
            ),
        },
        (None, None) => bail!("name the loss report: --serial SERIAL or --report COUNTER"),
    };
    let event = SiteEvent::LossReportUpdated {
        report,
        police_ref: a.police_ref,
        regulator_ref: a.regulator_ref,
        circumstances: a
            .circumstances
            .map(|c| seal(&agent, c, NoteClass::Case, &a.act))
            .transpose()?,
    };
    record(&mut agent, &a.act, event)
}

pub(super) fn seize(a: SeizeArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    let (id, _) = a.firearm.resolve(&agent)?;
    let event = SiteEvent::Seized {
        firearm: id,
        authority: a.authority,
        order: a.order,
    };
    record(&mut agent, &a.act, event)
}
