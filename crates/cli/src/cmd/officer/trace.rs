//! The company's answer to a regulator's trace request, recorded on one of
//! its site chains.

use armsledger_core::event::{SiteEvent, TraceOutcome};
use armsledger_core::ids::Ident;
use clap::{Args, ValueEnum};

use super::record;
use crate::cmd::act::{ActArgs, open};

/// What the site's records show about the traced serial.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OutcomeArg {
    /// The site holds it now.
    Held,
    /// The site held it once; its entries say where it went.
    FormerlyHeld,
    /// The company has no record of it.
    NeverHeld,
}

impl From<OutcomeArg> for TraceOutcome {
    fn from(a: OutcomeArg) -> Self {
        match a {
            OutcomeArg::Held => TraceOutcome::Held,
            OutcomeArg::FormerlyHeld => TraceOutcome::FormerlyHeld,
            OutcomeArg::NeverHeld => TraceOutcome::NeverHeld,
        }
    }
}

/// `trace-answer`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  armsledger trace-answer --officer armourer-1 --request TR-7 --outcome held --serial GLK-1081\n  armsledger trace-answer --officer armourer-1 --request TR-8 --outcome never-held\n\nThe request must be on the regulator chain (sync first) and addressed to this site's company."
)]
pub struct TraceAnswerArgs {
    #[command(flatten)]
    pub act: ActArgs,
    /// The trace request's reference.
    #[arg(long)]
    pub request: Ident,
    /// What this site's records show.
    #[arg(long, value_enum)]
    pub outcome: OutcomeArg,
    /// A firearm of this site the answer names, by serial (repeatable;
    /// needed for held and formerly-held).
    #[arg(long = "serial")]
    pub serials: Vec<String>,
}

pub(super) fn trace_answer(a: TraceAnswerArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    if a.serials.is_empty() && !matches!(a.outcome, OutcomeArg::NeverHeld) {
        anyhow::bail!(
            "which firearm? give --serial SERIAL for an answer that it is held or was held here"
        );
    }
    let firearms = a
        .serials
        .iter()
        .map(|s| super::lookup::firearm(&agent, s).map(|(id, _)| id))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let event = SiteEvent::TraceAnswered {
        request: a.request,
        outcome: a.outcome.into(),
        firearms,
    };
    record(&mut agent, &a.act, event)
}
