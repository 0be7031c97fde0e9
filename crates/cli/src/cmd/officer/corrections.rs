//! Corrections and notes: an earlier entry superseded (the original stays on the chain) or annotated.

use anyhow::bail;
use armsledger_core::event::SiteEvent;
use armsledger_core::ids::{LocationId, Name, PersonId, Text};
use clap::Args;

use super::lookup::entry_hash;
use super::{record, seal};
use crate::cmd::act::{ActArgs, explain, open};
use armsledger_store::NoteClass;

/// `correct`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger correct --officer armourer-1 --entry 12 --serial GLK-0012 --reason 'serial mistyped' --approver supervisor-2"
)]
pub struct CorrectArgs {
    #[command(flatten)]
    pub act: ActArgs,
    /// The counter of the entry on this site's chain to supersede.
    #[arg(long)]
    pub entry: u64,
    /// Why.
    #[arg(long)]
    pub correction_reason: Option<Text>,
    /// Second approver (required when identity fields change).
    #[arg(long)]
    pub approver: Option<PersonId>,
    /// Corrected serial (acquisitions).
    #[arg(long)]
    pub serial: Option<Name>,
    /// Corrected location (acquisitions, receipts, returns).
    #[arg(long)]
    pub location: Option<LocationId>,
}

/// `annotate`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger annotate --officer armourer-1 --entry 12 --text 'holster replaced'"
)]
pub struct AnnotateArgs {
    #[command(flatten)]
    pub act: ActArgs,
    /// The counter of the entry on this site's chain.
    #[arg(long)]
    pub entry: u64,
    /// The note.
    #[arg(long)]
    pub text: Text,
}

pub(super) fn correct(a: CorrectArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    let Some(original) = agent
        .ledger()
        .entry(a.entry)
        .map_err(|e| explain(e.into()))?
    else {
        bail!(
            "this site's chain has no entry #{}\nhint: `armsledger status` shows the head",
            a.entry
        );
    };
    let armsledger_core::event::Event::Site(old) = &original.body().event else {
        bail!("entry #{} is not a site event", a.entry);
    };
    let mut corrected = old.clone();
    match &mut corrected {
        SiteEvent::FirearmAcquired {
            identity, location, ..
        } => {
            if let Some(s) = &a.serial {
                identity.serial = s.clone();
            }
            if let Some(l) = &a.location {
                *location = l.clone();
            }
        }
        SiteEvent::AmmunitionReceived { location, .. } | SiteEvent::Returned { location, .. } => {
            if a.serial.is_some() {
                bail!("--serial corrects acquisitions only");
            }
            if let Some(l) = &a.location {
                *location = l.clone();
            }
        }
        other => bail!(
            "correcting a {} entry is not supported from the command line yet; annotate it instead",
            other.kind()
        ),
    }
    if &corrected == old {
        bail!("nothing to correct: give --serial or --location");
    }
    let reason = match a.correction_reason.clone().or_else(|| a.act.reason.clone()) {
        Some(r) => r,
        None => bail!("say why: --correction-reason TEXT"),
    };
    let event = SiteEvent::Corrected {
        supersedes: original.hash(),
        reason: seal(&agent, reason, NoteClass::Case, &a.act)?,
        approver: a.approver,
        corrected: Box::new(corrected),
    };
    record(&mut agent, &a.act, event)
}

pub(super) fn annotate(a: AnnotateArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    let about = entry_hash(&agent, a.entry)?;
    let text = seal(&agent, a.text, NoteClass::Case, &a.act)?;
    record(&mut agent, &a.act, SiteEvent::Annotated { about, text })
}
