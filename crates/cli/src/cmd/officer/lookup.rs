//! From what an officer types to what the ledger holds: serials and lot
//! numbers to ids (on this site's ledger), `LOT=N` and
//! `LOT=RETURNED:EXPENDED` arguments, entry counters to hashes, and
//! document references.

use anyhow::{Context, bail};
use armsledger_core::hash::Hash;
use armsledger_core::ids::Name;
use armsledger_core::model::{AmmoLine, DocKind, DocRef, FirearmId, LotId, RoundsBack};
use armsledger_core::rules::state::FirearmState;

use super::Agent;
use crate::cmd::act::explain;

pub(super) fn parse_lot_count(s: &str) -> Result<(String, u64), String> {
    let (lot, n) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected LOT=ROUNDS, e.g. L2026-01=15"))?;
    let n = n
        .parse()
        .map_err(|_| format!("{s:?}: rounds must be a whole number"))?;
    Ok((lot.to_string(), n))
}

pub(super) fn parse_rounds_back(s: &str) -> Result<(String, u64, u64), String> {
    let err = || format!("{s:?}: expected LOT=RETURNED:EXPENDED, e.g. L2026-01=13:2");
    let (lot, rest) = s.split_once('=').ok_or_else(err)?;
    let (r, e) = rest.split_once(':').ok_or_else(err)?;
    Ok((
        lot.to_string(),
        r.parse().map_err(|_| err())?,
        e.parse().map_err(|_| err())?,
    ))
}

pub(super) fn firearm(agent: &Agent, serial: &str) -> anyhow::Result<(FirearmId, FirearmState)> {
    match agent.firearms_by_serial(serial).as_slice() {
        [one] => Ok((one.id, one.state.clone())),
        [] => bail!(
            "no firearm with serial {serial:?} is on this site's ledger\nhint: check the serial as marked (case, dashes and spaces are ignored); `armsledger acquire` records a new one"
        ),
        _ => bail!(
            "serial {serial:?} matches several firearms here; name the manufacturer's exact serial"
        ),
    }
}

pub(super) fn lot(agent: &Agent, number: &str) -> anyhow::Result<LotId> {
    match agent.lots_by_number(number).as_slice() {
        [one] => Ok(*one),
        [] => bail!(
            "no ammunition lot {number:?} on this ledger\nhint: `armsledger ammo receive` records a new lot"
        ),
        _ => bail!("lot number {number:?} is ambiguous (several manufacturers)"),
    }
}

pub(super) fn lines(agent: &Agent, v: &[(String, u64)]) -> anyhow::Result<Vec<AmmoLine>> {
    v.iter()
        .map(|(l, n)| {
            Ok(AmmoLine {
                lot: lot(agent, l)?,
                rounds: *n,
            })
        })
        .collect()
}

pub(super) fn rounds_back(
    agent: &Agent,
    v: &[(String, u64, u64)],
) -> anyhow::Result<Vec<RoundsBack>> {
    v.iter()
        .map(|(l, r, e)| {
            Ok(RoundsBack {
                lot: lot(agent, l)?,
                returned: *r,
                expended: *e,
            })
        })
        .collect()
}

pub(super) fn doc(kind: DocKind, number: Name) -> anyhow::Result<DocRef> {
    Ok(DocRef {
        kind,
        number,
        issuer: "-".parse().context("issuer")?,
        valid_until: None,
        content_hash: None,
    })
}

pub(super) fn entry_hash(agent: &Agent, counter: u64) -> anyhow::Result<Hash> {
    match agent
        .ledger()
        .entry(counter)
        .map_err(|e| explain(e.into()))?
    {
        Some(e) => Ok(e.hash()),
        None => bail!(
            "this site's chain has no entry #{counter}\nhint: `armsledger status` shows the head"
        ),
    }
}
