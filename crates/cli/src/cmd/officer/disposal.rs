//! Disposal: a firearm, or rounds of a lot, destroyed or deactivated before two witnesses.

use armsledger_core::event::SiteEvent;
use armsledger_core::ids::{Name, PersonId};
use armsledger_core::model::DocKind;
use clap::Args;

use super::lookup::{DocSpec, doc, item};
use super::{DisposalArg, record};
use crate::cmd::act::{ActArgs, open};

/// `dispose`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  armsledger dispose --officer armourer-1 --serial GLK-0001 --method destroyed --place 'SAPS smelter' --witness w-1 --witness w-2 --order DO-9\n  armsledger dispose --officer armourer-1 --lot L2024-07 --rounds 120 --method destroyed --place 'range pit' --witness w-1 --witness w-2 --order DO-10,issuer=CFR"
)]
pub struct DisposeArgs {
    #[command(flatten)]
    pub act: ActArgs,
    /// Serial of the firearm (or --lot and --rounds).
    #[arg(long, conflicts_with = "lot", required_unless_present = "lot")]
    pub serial: Option<String>,
    /// Lot number of the rounds disposed of.
    #[arg(long, requires = "rounds")]
    pub lot: Option<String>,
    /// Rounds disposed of.
    #[arg(long, requires = "lot")]
    pub rounds: Option<u64>,
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

pub(super) fn dispose(a: DisposeArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    let item = item(&agent, a.serial.as_deref(), a.lot.as_deref(), a.rounds)?;
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
