//! Maintenance: a firearm out to a gunsmith or armourer, and back.

use armsledger_core::event::SiteEvent;
use armsledger_core::ids::{LocationId, Name, Text};
use clap::Args;

use super::{ConditionArg, FirearmArg, record};
use crate::cmd::act::{ActArgs, open};

/// `maintenance-out`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger maintenance-out --officer armourer-1 --serial GLK-0001 --provider 'Gunsmith Ltd' --why 'extractor worn'"
)]
pub struct MaintenanceOutArgs {
    #[command(flatten)]
    pub act: ActArgs,
    #[command(flatten)]
    pub firearm: FirearmArg,
    /// Gunsmith or armourer it goes to.
    #[arg(long)]
    pub provider: Name,
    /// Why.
    #[arg(long)]
    pub why: Text,
}

/// `maintenance-in`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger maintenance-in --officer armourer-1 --serial GLK-0001 --work 'extractor replaced' --location vault"
)]
pub struct MaintenanceInArgs {
    #[command(flatten)]
    pub act: ActArgs,
    #[command(flatten)]
    pub firearm: FirearmArg,
    /// Condition it came back in.
    #[arg(long, value_enum, default_value = "serviceable")]
    pub condition: ConditionArg,
    /// Work done.
    #[arg(long)]
    pub work: Text,
    /// Where it is stored.
    #[arg(long)]
    pub location: LocationId,
}

pub(super) fn maintenance_out(a: MaintenanceOutArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    let (id, _) = a.firearm.resolve(&agent)?;
    let event = SiteEvent::MaintenanceOut {
        firearm: id,
        provider: a.provider,
        reason: a.why,
    };
    record(&mut agent, &a.act, event)
}

pub(super) fn maintenance_in(a: MaintenanceInArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    let (id, _) = a.firearm.resolve(&agent)?;
    let event = SiteEvent::MaintenanceIn {
        firearm: id,
        condition: a.condition.into(),
        work: a.work,
        location: a.location,
    };
    record(&mut agent, &a.act, event)
}
