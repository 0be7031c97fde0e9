//! Disposal and the other ways out of the ledger: a firearm, or rounds of a
//! lot, destroyed or deactivated before two witnesses; or handed to someone
//! outside the ledger (a dealer, a licensee, the lessor, the police, a buyer
//! abroad) under the documents that allow it.

use armsledger_core::event::SiteEvent;
use armsledger_core::ids::{Name, PersonId};
use armsledger_core::model::{Counterparty, DocKind, ExitKind};
use clap::Args;

use super::lookup::{DocSpec, ItemArgs, doc};
use super::{DisposalArg, ExitArg, record};
use crate::cmd::act::{ActArgs, open};

/// `dispose`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  armsledger dispose --officer armourer-1 --serial GLK-0001 --method destroyed --place 'SAPS smelter' --witness w-1 --witness w-2 --order DO-9\n  armsledger dispose --officer armourer-1 --lot L2024-07 --rounds 120 --method destroyed --place 'range pit' --witness w-1 --witness w-2 --order DO-10,issuer=CFR"
)]
pub struct DisposeArgs {
    #[command(flatten)]
    pub act: ActArgs,
    #[command(flatten)]
    pub item: ItemArgs,
    /// How.
    #[arg(long, value_enum)]
    pub method: DisposalArg,
    /// Where it was done.
    #[arg(long)]
    pub place: Name,
    /// Witnesses (at least two besides the officer, repeatable).
    #[arg(long = "witness", required = true)]
    pub witnesses: Vec<PersonId>,
    /// Disposal order: NUMBER[,issuer=NAME][,expires=DATE][,kind=KIND][,file=SCAN].
    #[arg(long)]
    pub order: DocSpec,
    /// Destruction or deactivation certificate, same form as --order.
    #[arg(long)]
    pub certificate: Option<DocSpec>,
}

/// `hand-over`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  armsledger hand-over --officer armourer-1 --serial GLK-0001 --how sold-to-dealer --to 'Gun Traders CC' --to-licence DL-2291 --document TA-2026-5,issuer=CFR\n  armsledger hand-over --officer armourer-1 --serial GLK-0002 --how surrendered-to-police --to 'SAPS Durban Central' --document SR-4471\n  armsledger hand-over --officer armourer-1 --serial GLK-0003 --how exported --to 'Arms GmbH' --to-licence DE-WBK-77 \\\n      --document EXP-2026-9,issuer=NCACC,expires=2027-01-31\n  armsledger hand-over --officer armourer-1 --lot L2024-07 --rounds 500 --how returned-to-lessor --to 'Lease Arms Ltd' --to-licence DL-11\n\nA company under suspension may still hand its stock to a licensed receiver or to the police."
)]
pub struct HandOverArgs {
    #[command(flatten)]
    pub act: ActArgs,
    #[command(flatten)]
    pub item: ItemArgs,
    /// How it leaves the ledger.
    #[arg(long, value_enum)]
    pub how: ExitArg,
    /// Who receives it.
    #[arg(long)]
    pub to: Name,
    /// The receiver's licence (dealer licence, firearm licence, import licence abroad).
    #[arg(long)]
    pub to_licence: Option<Name>,
    /// A document relied on (repeatable): NUMBER[,issuer=NAME][,expires=DATE][,kind=KIND][,file=SCAN].
    /// Its kind defaults to an export licence for an export, a police
    /// report for a surrender, and a transfer authorisation otherwise.
    #[arg(long = "document")]
    pub documents: Vec<DocSpec>,
}

pub(super) fn dispose(a: DisposeArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    let item = a.item.resolve(&agent)?;
    let event = SiteEvent::Disposed {
        item,
        method: a.method.into(),
        place: a.place,
        witnesses: a.witnesses,
        authorisation: doc(DocKind::DisposalOrder, a.order)?,
        certificate: a
            .certificate
            .map(|c| doc(DocKind::DeactivationCertificate, c))
            .transpose()?,
    };
    record(&mut agent, &a.act, event)
}

pub(super) fn hand_over(a: HandOverArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    let item = a.item.resolve(&agent)?;
    let exit: ExitKind = a.how.into();
    let kind = match exit {
        ExitKind::Exported => DocKind::ExportLicence,
        ExitKind::SurrenderedToPolice => DocKind::PoliceReport,
        _ => DocKind::TransferAuthorisation,
    };
    let documents = a
        .documents
        .into_iter()
        .map(|d| doc(kind, d))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let event = SiteEvent::LeftLedger {
        item,
        exit,
        counterparty: Counterparty {
            name: a.to,
            licence: a.to_licence,
        },
        documents,
    };
    record(&mut agent, &a.act, event)
}
