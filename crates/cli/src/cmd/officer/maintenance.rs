//! Maintenance: a firearm out to a gunsmith or armourer (repair, inspection,
//! test fire) and back, and its regulated parts fitted or removed.

use armsledger_core::event::SiteEvent;
use armsledger_core::ids::{LocationId, Name, Text};
use armsledger_core::model::{Component, ComponentChange};
use clap::Args;

use super::lookup::parse_component;
use super::{ConditionArg, FirearmArg, MaintenanceArg, record, seal};
use crate::cmd::act::{ActArgs, open};
use armsledger_store::NoteClass;

/// `maintenance-out`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger maintenance-out --officer armourer-1 --serial GLK-0001 --provider 'Gunsmith Ltd' --why 'extractor worn'\n  armsledger maintenance-out --officer armourer-1 --serial GLK-0001 --kind test-fire --provider 'Range armourer' --why 'after repair'"
)]
pub struct MaintenanceOutArgs {
    #[command(flatten)]
    pub act: ActArgs,
    #[command(flatten)]
    pub firearm: FirearmArg,
    /// Repair, inspection or test fire.
    #[arg(long, value_enum, default_value = "repair")]
    pub kind: MaintenanceArg,
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

/// `component`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  armsledger component --officer armourer-1 --serial GLK-0001 --remove barrel=BX-7731 --why 'bore pitted'\n  armsledger component --officer armourer-1 --serial GLK-0001 --fit barrel=BX-9102 --why 'replacement barrel'"
)]
pub struct ComponentArgs {
    #[command(flatten)]
    pub act: ActArgs,
    #[command(flatten)]
    pub firearm: FirearmArg,
    /// The part fitted, PART=MARKING (frame, receiver, barrel, slide, cylinder, bolt).
    #[arg(long, value_parser = parse_component, conflicts_with = "remove", required_unless_present = "remove")]
    pub fit: Option<Component>,
    /// The part removed, PART=MARKING.
    #[arg(long, value_parser = parse_component)]
    pub remove: Option<Component>,
    /// Why.
    #[arg(long)]
    pub why: Text,
}

pub(super) fn maintenance_out(a: MaintenanceOutArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    let (id, _) = a.firearm.resolve(&agent)?;
    let event = SiteEvent::MaintenanceOut {
        firearm: id,
        kind: a.kind.into(),
        provider: a.provider,
        reason: seal(&agent, a.why, NoteClass::Operational, &a.act)?,
    };
    record(&mut agent, &a.act, event)
}

pub(super) fn maintenance_in(a: MaintenanceInArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    let (id, _) = a.firearm.resolve(&agent)?;
    let event = SiteEvent::MaintenanceIn {
        firearm: id,
        condition: a.condition.into(),
        work: seal(&agent, a.work, NoteClass::Operational, &a.act)?,
        location: a.location,
    };
    record(&mut agent, &a.act, event)
}

pub(super) fn component(a: ComponentArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    let (id, _) = a.firearm.resolve(&agent)?;
    let (change, component) = match (a.fit, a.remove) {
        (Some(c), _) => (ComponentChange::Fitted, c),
        (None, Some(c)) => (ComponentChange::Removed, c),
        (None, None) => anyhow::bail!("name the part: --fit PART=MARKING or --remove PART=MARKING"),
    };
    let event = SiteEvent::ComponentChanged {
        firearm: id,
        change,
        component,
        reason: seal(&agent, a.why, NoteClass::Operational, &a.act)?,
    };
    record(&mut agent, &a.act, event)
}
