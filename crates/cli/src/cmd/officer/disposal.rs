//! Disposal: a firearm destroyed or deactivated before two witnesses.

use armsledger_core::event::SiteEvent;
use armsledger_core::ids::{Name, PersonId};
use armsledger_core::model::{DocKind, Item};
use clap::Args;

use super::lookup::doc;
use super::{DisposalArg, FirearmArg, record};
use crate::cmd::act::{ActArgs, open};

/// `dispose`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger dispose --officer armourer-1 --serial GLK-0001 --method destroyed --place 'SAPS smelter' --witness w-1 --witness w-2 --order DO-9"
)]
pub struct DisposeArgs {
    #[command(flatten)]
    pub act: ActArgs,
    #[command(flatten)]
    pub firearm: FirearmArg,
    /// How.
    #[arg(long, value_enum)]
    pub method: DisposalArg,
    /// Where it was done.
    #[arg(long)]
    pub place: Name,
    /// Witnesses (at least two, repeatable).
    #[arg(long = "witness", required = true)]
    pub witnesses: Vec<PersonId>,
    /// Disposal order number.
    #[arg(long)]
    pub order: Name,
    /// Destruction or deactivation certificate number.
    #[arg(long)]
    pub certificate: Option<Name>,
}

pub(super) fn dispose(a: DisposeArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    let (id, _) = a.firearm.resolve(&agent)?;
    let event = SiteEvent::Disposed {
        item: Item::Firearm(id),
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
