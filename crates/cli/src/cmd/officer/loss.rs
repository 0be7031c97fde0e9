//! Losses: firearms reported lost or stolen, and recovered.

use anyhow::bail;
use armsledger_core::event::SiteEvent;
use armsledger_core::ids::{LocationId, Name, Text, Timestamp};
use armsledger_core::model::Item;
use armsledger_core::rules::state::FirearmState;
use clap::Args;

use super::lookup::firearm;
use super::{ConditionArg, FirearmArg, LossArg, record};
use crate::cmd::act::{ActArgs, open, parse_time};

/// `report-loss`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger report-loss --officer armourer-1 --serial GLK-0001 --kind theft --circumstances 'vehicle break-in' --police-ref CAS-12/2026"
)]
pub struct ReportLossArgs {
    #[command(flatten)]
    pub act: ActArgs,
    /// Firearms missing, by serial (repeatable).
    #[arg(long = "serial", required = true)]
    pub serials: Vec<String>,
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

pub(super) fn report_loss(a: ReportLossArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    let items = a
        .serials
        .iter()
        .map(|s| firearm(&agent, s).map(|f| Item::Firearm(f.0)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let event = SiteEvent::LossReported {
        holder: None,
        items,
        kind: a.kind.into(),
        discovered_at: a.discovered.unwrap_or_else(|| a.act.time()),
        circumstances: a.circumstances,
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
