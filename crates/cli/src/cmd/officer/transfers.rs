//! Transfers between sites: sent out (in transit until acknowledged) and acknowledged in.

use anyhow::bail;
use armsledger_core::event::{EntryRef, SiteEvent};
use armsledger_core::hash::Hash;
use armsledger_core::ids::{CompanyId, LocationId, Name, SiteId, Text};
use armsledger_core::model::DocKind;
use armsledger_core::rules::state::TransferStatus;
use clap::Args;

use super::lookup::{doc, firearm, lines, parse_lot_count};
use super::record;
use crate::cmd::act::{ActArgs, explain, open};

/// `transfer-out`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger transfer-out --officer armourer-1 --to-site beta-east --to-company beta --serial GLK-0001 --permit TP-77"
)]
pub struct TransferOutArgs {
    #[command(flatten)]
    pub act: ActArgs,
    /// Receiving site.
    #[arg(long)]
    pub to_site: SiteId,
    /// Receiving company.
    #[arg(long)]
    pub to_company: CompanyId,
    /// Firearms sent, by serial (repeatable).
    #[arg(long = "serial")]
    pub serials: Vec<String>,
    /// Rounds sent, LOT=N (repeatable).
    #[arg(long = "rounds", value_parser = parse_lot_count)]
    pub rounds: Vec<(String, u64)>,
    /// Where the rounds are taken from.
    #[arg(long)]
    pub rounds_from: Option<LocationId>,
    /// Transfer authorisation or transport permit number.
    #[arg(long)]
    pub permit: Name,
    /// Carrier.
    #[arg(long)]
    pub carrier: Option<Name>,
}

/// `transfer-in`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  armsledger transfer-in --officer armourer-2 --location vault")]
pub struct TransferInArgs {
    #[command(flatten)]
    pub act: ActArgs,
    /// The transfer-out entry hash [default: the only pending transfer to this site].
    #[arg(long)]
    pub transfer: Option<Hash>,
    /// Where the items are stored.
    #[arg(long)]
    pub location: LocationId,
    /// Note on any difference from what was sent.
    #[arg(long)]
    pub note: Option<Text>,
}

pub(super) fn transfer_out(a: TransferOutArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    if a.serials.is_empty() && a.rounds.is_empty() {
        bail!("nothing to send: give --serial and/or --rounds LOT=N");
    }
    let firearms = a
        .serials
        .iter()
        .map(|s| firearm(&agent, s).map(|f| f.0))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let event = SiteEvent::TransferredOut {
        to_site: a.to_site,
        to_company: a.to_company,
        firearms,
        rounds: lines(&agent, &a.rounds)?,
        rounds_from: a.rounds_from,
        permit: doc(DocKind::TransportPermit, a.permit)?,
        carrier: a.carrier,
    };
    record(&mut agent, &a.act, event)
}

pub(super) fn transfer_in(a: TransferInArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    let inbox = agent.ledger().inbox().map_err(|e| explain(e.into()))?;
    let state = agent.verifier().engine().state();
    let pending: Vec<_> = inbox
        .iter()
        .filter(|e| {
            state
                .transfers
                .get(&e.hash())
                .is_some_and(|t| t.status == TransferStatus::Pending)
        })
        .filter(|e| a.transfer.is_none_or(|h| h == e.hash()))
        .collect();
    let entry = match pending.as_slice() {
        [one] => *one,
        [] => bail!(
            "no pending transfer to this site{}\nhint: run `armsledger sync` to fetch transfers addressed here",
            a.transfer
                .map(|h| format!(" with hash {h}"))
                .unwrap_or_default()
        ),
        _ => bail!(
            "{} transfers are pending; choose one with --transfer HASH",
            pending.len()
        ),
    };
    let armsledger_core::event::Event::Site(SiteEvent::TransferredOut {
        firearms, rounds, ..
    }) = &entry.body().event
    else {
        bail!("inbox entry {} is not a transfer out", entry.hash());
    };
    let armsledger_core::entry::ChainId::Site(from) = entry.chain() else {
        bail!("inbox entry {} is not on a site chain", entry.hash());
    };
    let event = SiteEvent::TransferredIn {
        transfer: EntryRef {
            site: from.clone(),
            counter: entry.counter(),
            hash: entry.hash(),
        },
        firearms: firearms.clone(),
        rounds: rounds.clone(),
        location: a.location,
        note: a.note,
    };
    record(&mut agent, &a.act, event)
}
