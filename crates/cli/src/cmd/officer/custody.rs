//! Custody inside the armoury: a firearm acquired, issued, returned, moved between storage locations.

use anyhow::bail;
use armsledger_core::event::SiteEvent;
use armsledger_core::ids::{Country, Ident, LocationId, Name, PersonId, Text, Timestamp};
use armsledger_core::model::{Component, Counterparty, DocKind, FirearmIdentity, Marking};
use armsledger_core::rules::state::FirearmState;
use clap::Args;

use super::lookup::{
    DocSpec, ItemArgs, doc, lines, parse_component, parse_lot_count, parse_marking,
    parse_rounds_back, rounds_back,
};
use super::{ConditionArg, FirearmArg, WeaponKind, record, seal};
use crate::cmd::act::{ActArgs, explain, open, parse_time};
use armsledger_store::NoteClass;

/// `acquire`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  armsledger acquire --officer armourer-1 --serial GLK-0001 --manufacturer Glock --model '17 Gen5' \\\n      --kind pistol --category B --calibre 9x19mm --country AT --from 'Dealer Ltd' --permit AP-2026-1,issuer=CFR,expires=2027-06-30 --location vault\n  armsledger acquire --officer armourer-1 --serial CZ-77120 --manufacturer 'Ceska zbrojovka' --model 'P-10 C' \\\n      --category B --calibre 9x19mm --country CZ --year 2025 --importer 'Arms Import Ltd' --import-country ZA --import-year 2026 \\\n      --marking 'ZA-26-0113,on=frame right side,by=import' --component slide=CZ-77120 --component barrel=CZ-77120 \\\n      --from 'Arms Import Ltd' --permit IL-2026-4,kind=import-licence,issuer=CFR --location vault"
)]
pub struct AcquireArgs {
    #[command(flatten)]
    pub act: ActArgs,
    /// Serial exactly as marked.
    #[arg(long)]
    pub serial: Name,
    /// Manufacturer.
    #[arg(long)]
    pub manufacturer: Name,
    /// Model.
    #[arg(long)]
    pub model: Name,
    /// Type.
    #[arg(long, value_enum, default_value = "pistol")]
    pub kind: WeaponKind,
    /// Licensing category.
    #[arg(long)]
    pub category: Ident,
    /// Calibre, e.g. 9x19mm.
    #[arg(long)]
    pub calibre: Name,
    /// Country of manufacture (ISO 3166 alpha-2).
    #[arg(long)]
    pub country: String,
    /// Year of manufacture.
    #[arg(long)]
    pub year: Option<u16>,
    /// Importer, if imported.
    #[arg(long)]
    pub importer: Option<Name>,
    /// Country of import (ISO 3166 alpha-2), if imported.
    #[arg(long, requires = "importer")]
    pub import_country: Option<String>,
    /// Year of import, if imported.
    #[arg(long, requires = "importer")]
    pub import_year: Option<u16>,
    /// A marking, TEXT,on=WHERE[,by=manufacturer|import|state|secondary|deactivation] (repeatable).
    #[arg(long = "marking", value_parser = parse_marking)]
    pub markings: Vec<Marking>,
    /// A regulated component and its marking, PART=MARKING (frame, receiver,
    /// barrel, slide, cylinder, bolt; repeatable).
    #[arg(long = "component", value_parser = parse_component)]
    pub components: Vec<Component>,
    /// Supplier.
    #[arg(long = "from")]
    pub source: Name,
    /// Supplier's dealer licence.
    #[arg(long)]
    pub source_licence: Option<Name>,
    /// Acquisition permit (or import licence, kind=import-licence):
    /// NUMBER[,issuer=NAME][,expires=DATE][,kind=KIND][,file=SCAN].
    #[arg(long)]
    pub permit: DocSpec,
    /// Storage location.
    #[arg(long)]
    pub location: LocationId,
}

/// `issue`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger issue --officer armourer-1 --serial GLK-0001 --to guard-17 --post gate-2 --rounds L2026-01=15 --rounds-from vault\n  (refused? add --override --reason '...' --authoriser supervisor-2 for a supervised exception)"
)]
pub struct IssueArgs {
    #[command(flatten)]
    pub act: ActArgs,
    #[command(flatten)]
    pub firearm: FirearmArg,
    /// Recipient's person id.
    #[arg(long)]
    pub to: PersonId,
    /// Purpose or service.
    #[arg(long, default_value = "duty")]
    pub purpose: Text,
    /// Post or duty point.
    #[arg(long, default_value = "duty")]
    pub post: Name,
    /// When it is due back [default: 12 hours after the act].
    #[arg(long, value_parser = parse_time)]
    pub due: Option<Timestamp>,
    /// Rounds issued with it, LOT=N (repeatable).
    #[arg(long = "rounds", value_parser = parse_lot_count)]
    pub rounds: Vec<(String, u64)>,
    /// Store location the rounds come from.
    #[arg(long)]
    pub rounds_from: Option<LocationId>,
}

/// `return`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger return --officer armourer-1 --serial GLK-0001 --location vault --rounds-back L2026-01=15:0"
)]
pub struct ReturnArgs {
    #[command(flatten)]
    pub act: ActArgs,
    #[command(flatten)]
    pub firearm: FirearmArg,
    /// Condition on return.
    #[arg(long, value_enum, default_value = "serviceable")]
    pub condition: ConditionArg,
    /// Location it goes back to.
    #[arg(long)]
    pub location: LocationId,
    /// Rounds back, LOT=RETURNED:EXPENDED (repeatable).
    #[arg(long = "rounds-back", value_parser = parse_rounds_back)]
    pub rounds_back: Vec<(String, u64, u64)>,
    /// Incident reference, when rounds were expended on duty.
    #[arg(long)]
    pub incident: Option<Name>,
}

/// `assign`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger assign --officer armourer-1 --serial GLK-0001 --to guard-17 --contract 'Harbour Mall, night post' --until 2027-03-31\n  (ended by: armsledger return --serial GLK-0001 --location vault)"
)]
pub struct AssignArgs {
    #[command(flatten)]
    pub act: ActArgs,
    #[command(flatten)]
    pub firearm: FirearmArg,
    /// The guard's person id.
    #[arg(long)]
    pub to: PersonId,
    /// The contract (client and post).
    #[arg(long)]
    pub contract: Name,
    /// When the assignment ends (RFC 3339 or a date).
    #[arg(long, value_parser = parse_time)]
    pub until: Timestamp,
}

/// `move`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger move --officer armourer-1 --serial GLK-0001 --from vault --to rack-1"
)]
pub struct MoveArgs {
    #[command(flatten)]
    pub act: ActArgs,
    #[command(flatten)]
    pub item: ItemArgs,
    /// From location.
    #[arg(long)]
    pub from: LocationId,
    /// To location.
    #[arg(long)]
    pub to: LocationId,
}

pub(super) fn acquire(a: AcquireArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    let identity = FirearmIdentity {
        manufacturer: a.manufacturer,
        importer: a.importer,
        model: a.model,
        kind: a.kind.into(),
        category: a.category,
        calibre: a.calibre,
        serial: a.serial,
        markings: a.markings,
        country_of_manufacture: Country::new(&a.country)
            .map_err(|e| anyhow::anyhow!("--country: {e}"))?,
        year_of_manufacture: a.year,
        country_of_import: a
            .import_country
            .as_deref()
            .map(Country::new)
            .transpose()
            .map_err(|e| anyhow::anyhow!("--import-country: {e}"))?,
        year_of_import: a.import_year,
        components: a.components,
    };
    let event = SiteEvent::FirearmAcquired {
        firearm: identity.id(),
        identity,
        source: Counterparty {
            name: a.source,
            licence: a.source_licence,
        },
        authorisation: doc(DocKind::AcquisitionPermit, a.permit)?,
        location: a.location,
    };
    record(&mut agent, &a.act, event)
}

pub(super) fn issue(a: IssueArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    let (id, _) = a.firearm.resolve(&agent)?;
    let reliance = agent
        .reliance_at(&a.to, &id, a.act.time())
        .map_err(explain)?;
    let event = SiteEvent::Issued {
        firearm: id,
        to: a.to,
        purpose: seal(&agent, a.purpose, NoteClass::Operational, &a.act)?,
        post: a.post,
        due_back: a
            .due
            .unwrap_or_else(|| a.act.time().plus(12 * Timestamp::HOUR)),
        reliance,
        ammunition: lines(&agent, &a.rounds)?,
        ammunition_from: a.rounds_from,
    };
    record(&mut agent, &a.act, event)
}

pub(super) fn record_return(a: ReturnArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    let (id, state) = a.firearm.resolve(&agent)?;
    let FirearmState::Issued { issue, .. } = state else {
        bail!(
            "firearm {} is {}, not issued; nothing to return",
            a.firearm.serial,
            state.word()
        );
    };
    let event = SiteEvent::Returned {
        issue,
        firearm: id,
        condition: a.condition.into(),
        ammunition: rounds_back(&agent, &a.rounds_back)?,
        incident: a.incident,
        location: a.location,
    };
    record(&mut agent, &a.act, event)
}

pub(super) fn assign(a: AssignArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    let (id, _) = a.firearm.resolve(&agent)?;
    let reliance = agent
        .reliance_at(&a.to, &id, a.act.time())
        .map_err(explain)?;
    let event = SiteEvent::Assigned {
        firearm: id,
        to: a.to,
        contract: a.contract,
        until: a.until,
        reliance,
    };
    record(&mut agent, &a.act, event)
}

pub(super) fn record_move(a: MoveArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    let item = a.item.resolve(&agent)?;
    record(
        &mut agent,
        &a.act,
        SiteEvent::StorageMoved {
            item,
            from: a.from,
            to: a.to,
        },
    )
}
