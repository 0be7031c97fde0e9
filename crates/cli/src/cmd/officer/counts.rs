//! Stock counts (two counters, neither the custodian) and the discrepancies
//! they raise, settled.

use anyhow::bail;
use armsledger_core::event::SiteEvent;
use armsledger_core::ids::{Ident, PersonId, Text};
use armsledger_core::model::{Item, Resolution};
use clap::Args;

use super::lookup::{entry_hash, firearm, lines, lot, parse_lot_count};
use super::{CountArg, record, seal};
use crate::cmd::act::{ActArgs, open};
use armsledger_store::NoteClass;

/// `count`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger count --officer armourer-1 --session 2026-11 --counter auditor-1 --counter auditor-2 --seen GLK-0001 --seen GLK-0002\n  armsledger count --officer armourer-1 --session 2026-11-28-rack --kind cyclic --location rack-1 --counter auditor-1 --counter auditor-2 --seen GLK-0001"
)]
pub struct CountArgs {
    #[command(flatten)]
    pub act: ActArgs,
    /// Count session id.
    #[arg(long)]
    pub session: Ident,
    /// Kind of count.
    #[arg(long, value_enum, default_value = "serial-number")]
    pub kind: CountArg,
    /// A storage location the count covers (repeatable) [default: the whole
    /// site]. A partial count is judged only on what it covers.
    #[arg(long = "location")]
    pub locations: Vec<armsledger_core::ids::LocationId>,
    /// Counters (at least two, repeatable).
    #[arg(long = "counter", required = true)]
    pub counters: Vec<PersonId>,
    /// Firearms seen, by serial (repeatable).
    #[arg(long = "seen")]
    pub seen: Vec<String>,
    /// Rounds seen, LOT=N (repeatable).
    #[arg(long = "rounds", value_parser = parse_lot_count)]
    pub rounds: Vec<(String, u64)>,
}

/// `resolve-discrepancy`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  armsledger resolve-discrepancy --officer armourer-1 --serial GLK-0001 --found\n  armsledger resolve-discrepancy --officer armourer-1 --lot L2026-01 --clerical 'count sheet added wrong'\n  armsledger resolve-discrepancy --officer armourer-1 --serial GLK-0002 --reported-lost 41\n  armsledger resolve-discrepancy --officer armourer-1 --lot L2026-01 --write-off 'rounds unaccounted for since 2025' --approver supervisor-2"
)]
#[group(id = "how", required = true, multiple = false, args = ["found", "reported_lost", "clerical", "write_off"])]
pub struct ResolveArgs {
    #[command(flatten)]
    pub act: ActArgs,
    /// The firearm the count disagreed about (or --lot).
    #[arg(long, conflicts_with = "lot", required_unless_present = "lot")]
    pub serial: Option<String>,
    /// The lot the count disagreed about.
    #[arg(long)]
    pub lot: Option<String>,
    /// The count's entry counter [default: the open discrepancy's count].
    #[arg(long)]
    pub count: Option<u64>,
    /// It was there after all.
    #[arg(long)]
    pub found: bool,
    /// It is missing: the loss report's entry counter on this chain.
    #[arg(long)]
    pub reported_lost: Option<u64>,
    /// A clerical error, explained.
    #[arg(long)]
    pub clerical: Option<Text>,
    /// Written off, with why (needs --approver, a second person).
    #[arg(long, requires = "approver")]
    pub write_off: Option<Text>,
    /// The second person approving a write-off.
    #[arg(long, requires = "write_off")]
    pub approver: Option<PersonId>,
}

pub(super) fn count(a: CountArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    let firearms_seen = a
        .seen
        .iter()
        .map(|s| firearm(&agent, s).map(|f| f.0))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let event = SiteEvent::CountPerformed {
        session: a.session,
        kind: a.kind.into(),
        locations: a.locations,
        part: 1,
        parts: 1,
        counters: a.counters,
        firearms_seen,
        rounds_seen: lines(&agent, &a.rounds)?,
    };
    record(&mut agent, &a.act, event)
}

pub(super) fn resolve(a: ResolveArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    let subject = match (&a.serial, &a.lot) {
        (Some(s), _) => Subject::Firearm(firearm(&agent, s)?.0),
        (None, Some(l)) => Subject::Lot(lot(&agent, l)?),
        (None, None) => bail!("name what the count disagreed about: --serial SERIAL or --lot LOT"),
    };
    let count = a.count.map(|c| entry_hash(&agent, c)).transpose()?;
    let state = agent.verifier().engine().state();
    let open: Vec<_> = state
        .discrepancies
        .iter()
        .filter(|d| &d.site == agent.site() && !d.resolved)
        .filter(|d| count.is_none_or(|c| c == d.count))
        .filter(|d| match (&d.item, subject) {
            (Item::Firearm(f), Subject::Firearm(g)) => *f == g,
            (Item::Rounds(l), Subject::Lot(g)) => l.lot == g,
            _ => false,
        })
        .collect();
    let (count, item) = match open.as_slice() {
        [one] => (one.count, one.item),
        [] => bail!(
            "no open count discrepancy about {} at this site{}\nhint: `armsledger alerts` lists the open ones",
            a.serial.as_deref().or(a.lot.as_deref()).unwrap_or_default(),
            a.count
                .map(|c| format!(" from count #{c}"))
                .unwrap_or_default()
        ),
        _ => bail!(
            "{} counts disagree about it; choose one with --count COUNTER",
            open.len()
        ),
    };
    let resolution = match (
        a.found,
        a.reported_lost,
        a.clerical,
        a.write_off,
        a.approver,
    ) {
        (true, ..) => Resolution::Found,
        (_, Some(report), ..) => Resolution::ReportedLost(entry_hash(&agent, report)?),
        (_, _, Some(why), ..) => Resolution::Clerical(seal(&agent, why, NoteClass::Case, &a.act)?),
        (.., Some(reason), Some(approver)) => Resolution::WrittenOff {
            reason: seal(&agent, reason, NoteClass::Case, &a.act)?,
            approver,
        },
        _ => bail!(
            "say how it was settled: --found, --reported-lost COUNTER, --clerical TEXT, or --write-off TEXT --approver PERSON"
        ),
    };
    let event = SiteEvent::DiscrepancyResolved {
        count,
        item,
        resolution,
    };
    record(&mut agent, &a.act, event)
}

/// What a discrepancy is about, as the officer named it.
#[derive(Clone, Copy)]
enum Subject {
    Firearm(armsledger_core::model::FirearmId),
    Lot(armsledger_core::model::LotId),
}
