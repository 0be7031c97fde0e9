//! Armoury access: the armoury opened and closed by two persons, and a key
//! changing hands (the key roster).

use armsledger_core::event::SiteEvent;
use armsledger_core::ids::{Ident, PersonId};
use clap::Args;

use super::record;
use crate::cmd::act::{ActArgs, open};

/// `armoury-open` and `armoury-close`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  armsledger armoury-open --officer armourer-1 --with supervisor-2\n  armsledger armoury-close --officer armourer-1 --with supervisor-2"
)]
pub struct AccessArgs {
    #[command(flatten)]
    pub act: ActArgs,
    /// The other person present besides the officer (repeatable; a
    /// one-person opening is recorded but is a finding).
    #[arg(long = "with")]
    pub with: Vec<PersonId>,
}

/// `key-handover`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger key-handover --officer armourer-1 --key vault-1 --from armourer-1 --to armourer-2"
)]
pub struct KeyArgs {
    #[command(flatten)]
    pub act: ActArgs,
    /// Which key (as the key roster names it).
    #[arg(long)]
    pub key: Ident,
    /// Who handed it over.
    #[arg(long)]
    pub from: PersonId,
    /// Who took it.
    #[arg(long)]
    pub to: PersonId,
}

pub(super) fn opened(a: AccessArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    record(
        &mut agent,
        &a.act,
        SiteEvent::ArmouryOpened { with: a.with },
    )
}

pub(super) fn closed(a: AccessArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    record(
        &mut agent,
        &a.act,
        SiteEvent::ArmouryClosed { with: a.with },
    )
}

pub(super) fn key_handover(a: KeyArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    let event = SiteEvent::KeyHandedOver {
        key: a.key,
        from: a.from,
        to: a.to,
    };
    record(&mut agent, &a.act, event)
}
