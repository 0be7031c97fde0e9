//! Transfers between sites: sent out (in transit until acknowledged),
//! acknowledged in, or cancelled by the sender before acknowledgement.

use anyhow::bail;
use armsledger_core::entry::{ChainId, SignedEntry};
use armsledger_core::event::{EntryRef, SiteEvent};
use armsledger_core::hash::Hash;
use armsledger_core::ids::{CompanyId, LocationId, Name, SiteId, Text};
use armsledger_core::model::{AmmoLine, DocKind, FirearmId, normalise};
use armsledger_core::rules::state::TransferStatus;
use clap::Args;

use super::lookup::{DocSpec, doc, entry_hash, firearm, lines, parse_lot_count};
use super::{record, seal};
use crate::cmd::act::{ActArgs, explain, open};
use armsledger_store::NoteClass;

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
    /// Transfer authorisation or transport permit:
    /// NUMBER[,issuer=NAME][,expires=DATE][,kind=KIND][,file=SCAN].
    #[arg(long)]
    pub permit: DocSpec,
    /// Carrier.
    #[arg(long)]
    pub carrier: Option<Name>,
}

/// `transfer-in`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  armsledger transfer-in --officer armourer-2 --location vault                     everything sent arrived\n  armsledger transfer-in --officer armourer-2 --location vault --missing GLK-0002 --rounds L2026-01=480 \\\n      --note 'seal broken, one pistol and 20 rounds short'                         a short delivery"
)]
pub struct TransferInArgs {
    #[command(flatten)]
    pub act: ActArgs,
    /// The transfer-out entry hash [default: the only pending transfer to this site].
    #[arg(long)]
    pub transfer: Option<Hash>,
    /// Where the items are stored.
    #[arg(long)]
    pub location: LocationId,
    /// A firearm that was sent but did not arrive, by serial or by the
    /// ledger id the transfer names (repeatable).
    #[arg(long = "missing")]
    pub missing: Vec<String>,
    /// Rounds that actually arrived of a lot, LOT=N (the lot number, or the
    /// lot id the transfer carries), when not what was sent (repeatable).
    #[arg(long = "rounds", value_parser = parse_lot_count)]
    pub rounds: Vec<(String, u64)>,
    /// Note on any difference from what was sent.
    #[arg(long)]
    pub note: Option<Text>,
}

/// `transfer-reject`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger transfer-reject --officer armourer-2 --why 'no transport permit with the consignment'\n  (the items go back to the sender, whose transfer-cancel returns them to its store)"
)]
pub struct TransferRejectArgs {
    #[command(flatten)]
    pub act: ActArgs,
    /// The transfer-out entry hash [default: the only pending transfer to this site].
    #[arg(long)]
    pub transfer: Option<Hash>,
    /// Why it is refused.
    #[arg(long)]
    pub why: Text,
}

/// `transfer-cancel`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger transfer-cancel --officer armourer-1 --why 'carrier did not arrive' --location vault"
)]
pub struct TransferCancelArgs {
    #[command(flatten)]
    pub act: ActArgs,
    /// The transfer-out's entry counter on this site's chain [default: the only pending one].
    #[arg(long)]
    pub transfer: Option<u64>,
    /// Why it is cancelled.
    #[arg(long)]
    pub why: Text,
    /// Where the items are stored again.
    #[arg(long)]
    pub location: LocationId,
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
    let (entry, from) = pending_inbound(&agent, a.transfer)?;
    let armsledger_core::event::Event::Site(SiteEvent::TransferredOut {
        firearms, rounds, ..
    }) = &entry.body().event
    else {
        bail!("inbox entry {} is not a transfer out", entry.hash());
    };
    let (firearms, rounds) = arrived(&agent, firearms, rounds, &a.missing, &a.rounds)?;
    let event = SiteEvent::TransferredIn {
        transfer: EntryRef {
            site: from,
            counter: entry.counter(),
            hash: entry.hash(),
        },
        firearms,
        rounds,
        location: a.location,
        note: a
            .note
            .map(|n| seal(&agent, n, NoteClass::Case, &a.act))
            .transpose()?,
    };
    record(&mut agent, &a.act, event)
}

pub(super) fn transfer_cancel(a: TransferCancelArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    let transfer = match a.transfer {
        Some(counter) => entry_hash(&agent, counter)?,
        None => {
            let state = agent.verifier().engine().state();
            let pending: Vec<Hash> = state
                .transfers
                .iter()
                .filter(|(_, t)| &t.from_site == agent.site() && t.is_returnable())
                .map(|(h, _)| *h)
                .collect();
            match pending.as_slice() {
                [one] => *one,
                [] => bail!(
                    "no transfer from this site is waiting for acknowledgement; nothing to cancel"
                ),
                _ => bail!(
                    "{} transfers from this site are pending; choose one with --transfer COUNTER",
                    pending.len()
                ),
            }
        }
    };
    let event = SiteEvent::TransferCancelled {
        transfer,
        reason: seal(&agent, a.why, NoteClass::Case, &a.act)?,
        location: a.location,
    };
    record(&mut agent, &a.act, event)
}

/// What actually arrived of what was sent: every firearm but the `missing`
/// ones (each must be one that was sent), and per lot the rounds sent unless
/// `counted` says how many arrived (more than sent is an excess the rules
/// judge; a lot not sent at all is refused here, it is no part of this
/// transfer).
fn arrived(
    agent: &super::Agent,
    sent_firearms: &[FirearmId],
    sent_rounds: &[AmmoLine],
    missing: &[String],
    counted: &[(String, u64)],
) -> anyhow::Result<(Vec<FirearmId>, Vec<AmmoLine>)> {
    let state = agent.verifier().engine().state();
    let mut firearms = sent_firearms.to_vec();
    for named in missing {
        let key = normalise(named);
        let before = firearms.len();
        // By serial when this ledger knows the firearm, else by ledger id:
        // a receiving site holds only the transfer, not the sender's records.
        firearms.retain(|f| {
            let by_serial = state
                .firearms
                .get(f)
                .is_some_and(|r| r.identity.serial_key() == key);
            !(by_serial || f.to_string().eq_ignore_ascii_case(named))
        });
        if firearms.len() == before {
            let ids: Vec<String> = sent_firearms
                .iter()
                .map(|f| match state.firearms.get(f) {
                    Some(r) => format!("{} ({f})", r.identity.serial),
                    None => f.to_string(),
                })
                .collect();
            bail!(
                "--missing {named}: no firearm with that serial or ledger id was sent in this transfer; it carries {}",
                ids.join(", ")
            );
        }
    }
    let mut rounds = sent_rounds.to_vec();
    for (number, n) in counted {
        // By lot number when this ledger knows the lot, else by the lot id
        // the transfer carries.
        let key = normalise(number);
        let line = rounds.iter_mut().find(|l| {
            state
                .lots
                .get(&l.lot)
                .is_some_and(|i| normalise(i.lot_number.as_str()) == key)
                || l.lot.to_string().eq_ignore_ascii_case(number)
        });
        match line {
            Some(line) => line.rounds = *n,
            None => {
                let sent: Vec<String> = sent_rounds
                    .iter()
                    .map(|l| match state.lots.get(&l.lot) {
                        Some(i) => format!("{} ({}) x{}", i.lot_number, l.lot, l.rounds),
                        None => format!("{} x{}", l.lot, l.rounds),
                    })
                    .collect();
                bail!(
                    "--rounds {number}={n}: lot {number} was not sent in this transfer; it carries {}",
                    if sent.is_empty() {
                        "no rounds".to_string()
                    } else {
                        sent.join(", ")
                    }
                )
            }
        }
    }
    rounds.retain(|l| l.rounds > 0);
    Ok((firearms, rounds))
}

pub(super) fn transfer_reject(a: TransferRejectArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    let (entry, from) = pending_inbound(&agent, a.transfer)?;
    let event = SiteEvent::TransferRejected {
        transfer: EntryRef {
            site: from,
            counter: entry.counter(),
            hash: entry.hash(),
        },
        reason: seal(&agent, a.why, NoteClass::Case, &a.act)?,
    };
    record(&mut agent, &a.act, event)
}

/// The transfer addressed to this site that is still pending (the one with
/// hash `wanted`, or the only one), and the site that sent it.
fn pending_inbound(
    agent: &super::Agent,
    wanted: Option<Hash>,
) -> anyhow::Result<(SignedEntry, SiteId)> {
    let inbox = agent.ledger().inbox().map_err(|e| explain(e.into()))?;
    let state = agent.verifier().engine().state();
    let mut pending: Vec<SignedEntry> = inbox
        .into_iter()
        .filter(|e| {
            state
                .transfers
                .get(&e.hash())
                .is_some_and(|t| t.status == TransferStatus::Pending)
        })
        .filter(|e| wanted.is_none_or(|h| h == e.hash()))
        .collect();
    let entry = match pending.len() {
        1 => pending.remove(0),
        0 => bail!(
            "no pending transfer to this site{}\nhint: run `armsledger sync` to fetch transfers addressed here",
            wanted
                .map(|h| format!(" with hash {h}"))
                .unwrap_or_default()
        ),
        n => bail!("{n} transfers are pending; choose one with --transfer HASH"),
    };
    let ChainId::Site(from) = entry.chain() else {
        bail!("inbox entry {} is not on a site chain", entry.hash());
    };
    let from = from.clone();
    Ok((entry, from))
}
