//! Stock counts: two counters, neither the custodian.

use armsledger_core::event::SiteEvent;
use armsledger_core::ids::{Ident, PersonId};
use clap::Args;

use super::lookup::{firearm, lines, parse_lot_count};
use super::{CountArg, record};
use crate::cmd::act::{ActArgs, open};

/// `count`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger count --officer armourer-1 --session 2026-11 --counter auditor-1 --counter auditor-2 --seen GLK-0001 --seen GLK-0002"
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

pub(super) fn count(a: CountArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    let firearms_seen = a
        .seen
        .iter()
        .map(|s| firearm(&agent, s).map(|f| f.0))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let event = SiteEvent::CountPerformed {
        locations: vec![],
        session: a.session,
        kind: a.kind.into(),
        part: 1,
        parts: 1,
        counters: a.counters,
        firearms_seen,
        rounds_seen: lines(&agent, &a.rounds)?,
    };
    record(&mut agent, &a.act, event)
}
