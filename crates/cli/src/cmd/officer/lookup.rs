//! From what an officer types to what the ledger holds: serials and lot
//! numbers to ids (on this site's ledger), `LOT=N` and
//! `LOT=RETURNED:EXPENDED` arguments, entry counters to hashes, and
//! document references (`NUMBER,issuer=…,expires=…,kind=…,file=…`).

use std::io::Read;
use std::path::PathBuf;
use std::str::FromStr;

use anyhow::{Context, bail};
use armsledger_core::hash::Hash;
use armsledger_core::ids::{Name, Timestamp};
use armsledger_core::model::{
    AmmoLine, Component, DocKind, DocRef, FirearmId, Item, LotId, Marking, RoundsBack,
    serial_id_form,
};
use armsledger_core::rules::state::FirearmState;
use clap::ValueEnum;
use sha2::{Digest as _, Sha256};

use super::{Agent, ComponentArg, DocKindArg, MarkingArg};
use crate::cmd::act::{explain, parse_time};

/// The largest scanned document hashed for `file=` (a scan, not an archive).
const MAX_DOC_FILE: u64 = 256 * 1024 * 1024;

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

/// The names a value enum accepts, for error messages.
fn one_of<T: ValueEnum>() -> String {
    T::value_variants()
        .iter()
        .filter_map(|v| v.to_possible_value().map(|p| p.get_name().to_string()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A regulated component as typed: `KIND=MARKING`, e.g. `barrel=BX-7731`.
pub(super) fn parse_component(s: &str) -> Result<Component, String> {
    let (kind, marking) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected PART=MARKING, e.g. slide=GLK-0001"))?;
    let kind = ComponentArg::from_str(kind.trim(), true)
        .map_err(|_| format!("{kind:?}: the part is one of {}", one_of::<ComponentArg>()))?;
    Ok(Component {
        kind: kind.into(),
        marking: marking
            .trim()
            .parse()
            .map_err(|e| format!("marking {marking:?}: {e}"))?,
    })
}

/// A marking as typed: `TEXT,on=WHERE,by=WHO`, e.g.
/// `ZA-26-0113,on=frame right side,by=import` (`by` defaults to the manufacturer).
pub(super) fn parse_marking(s: &str) -> Result<Marking, String> {
    let mut parts = s.split(',');
    let text = parts.next().unwrap_or_default().trim();
    let mut on = None;
    let mut by = MarkingArg::Manufacturer;
    for part in parts {
        match part.split_once('=').map(|(k, v)| (k.trim(), v.trim())) {
            Some(("on", v)) => on = Some(v),
            Some(("by", v)) => {
                by = MarkingArg::from_str(v, true)
                    .map_err(|_| format!("by={v:?}: one of {}", one_of::<MarkingArg>()))?;
            }
            _ => return Err(format!("{part:?} in {s:?}: expected on=WHERE or by=WHO")),
        }
    }
    let Some(on) = on else {
        return Err(format!(
            "{s:?}: say where the marking is, e.g. {text},on=frame right side"
        ));
    };
    Ok(Marking {
        text: text.parse().map_err(|e| format!("marking {text:?}: {e}"))?,
        location: on.parse().map_err(|e| format!("on={on:?}: {e}"))?,
        kind: by.into(),
    })
}

/// The one firearm on this site's ledger with this serial. Search ignores
/// case, spaces and separators; when that finds several (two makers or
/// models, or separators in other places), the one whose serial is typed
/// exactly as marked (separators kept) is taken, else every match is listed.
pub(super) fn firearm(agent: &Agent, serial: &str) -> anyhow::Result<(FirearmId, FirearmState)> {
    let found = agent.firearms_by_serial(serial);
    let exact: Vec<_> = found
        .iter()
        .copied()
        .filter(|r| serial_id_form(r.identity.serial.as_str()) == serial_id_form(serial))
        .collect();
    match (found.as_slice(), exact.as_slice()) {
        ([one], _) | (_, [one]) => Ok((one.id, one.state.clone())),
        ([], _) => bail!(
            "no firearm with serial {serial:?} is on this site's ledger\nhint: check the serial as marked (case, dashes and spaces are ignored); `armsledger acquire` records a new one"
        ),
        (all, _) => {
            let list: Vec<String> = all
                .iter()
                .map(|r| {
                    format!(
                        "  {} {} serial {} ({})",
                        r.identity.manufacturer,
                        r.identity.model,
                        r.identity.serial,
                        r.state.word()
                    )
                })
                .collect();
            bail!(
                "serial {serial:?} matches {} firearms here:\n{}\nhint: type the serial exactly as marked, with its dashes",
                all.len(),
                list.join("\n")
            )
        }
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

/// A document as the officer types it: its number, then optionally
/// `issuer=NAME`, `expires=DATE`, `kind=KIND` (when it is not the kind the
/// option expects) and `file=PATH` (the scan, whose SHA-256 binds the ledger
/// to it), separated by commas: `AP-2026-1,issuer=CFR,expires=2027-06-30`.
#[derive(Debug, Clone)]
pub struct DocSpec {
    number: Name,
    issuer: Option<Name>,
    expires: Option<Timestamp>,
    kind: Option<DocKind>,
    file: Option<PathBuf>,
}

impl FromStr for DocSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.split(',');
        let number = parts.next().unwrap_or_default().trim();
        if number.is_empty() || number.contains('=') {
            return Err(format!(
                "{s:?}: start with the document's number, e.g. AP-2026-1,issuer=CFR,expires=2027-06-30"
            ));
        }
        let mut spec = DocSpec {
            number: number
                .parse()
                .map_err(|e| format!("document number {number:?}: {e}"))?,
            issuer: None,
            expires: None,
            kind: None,
            file: None,
        };
        for part in parts {
            let (key, value) = part.split_once('=').ok_or_else(|| {
                format!("{part:?} in {s:?}: expected issuer=, expires=, kind= or file=")
            })?;
            let value = value.trim();
            match key.trim() {
                "issuer" => {
                    spec.issuer = Some(
                        value
                            .parse()
                            .map_err(|e| format!("issuer {value:?}: {e}"))?,
                    )
                }
                "expires" => spec.expires = Some(parse_time(value)?),
                "kind" => {
                    let k = DocKindArg::from_str(value, true).map_err(|_| {
                        format!("kind {value:?}: one of {}", one_of::<DocKindArg>())
                    })?;
                    spec.kind = Some(k.into());
                }
                "file" => spec.file = Some(PathBuf::from(value)),
                other => {
                    return Err(format!(
                        "{other:?} in {s:?}: expected issuer=, expires=, kind= or file="
                    ));
                }
            }
        }
        Ok(spec)
    }
}

/// The document reference the ledger signs: `kind` unless the officer named
/// another, the issuer ("-" when not given), the expiry, and the SHA-256 of
/// the scan when `file=` names one.
pub(super) fn doc(kind: DocKind, spec: DocSpec) -> anyhow::Result<DocRef> {
    let content_hash = spec.file.as_deref().map(hash_file).transpose()?;
    Ok(DocRef {
        kind: spec.kind.unwrap_or(kind),
        number: spec.number,
        issuer: match spec.issuer {
            Some(i) => i,
            None => "-".parse().context("issuer")?,
        },
        valid_until: spec.expires,
        content_hash,
    })
}

/// SHA-256 of a scanned document, read in pieces, refused above [`MAX_DOC_FILE`].
fn hash_file(path: &std::path::Path) -> anyhow::Result<Hash> {
    let mut f = std::fs::File::open(path)
        .with_context(|| format!("document file {}: cannot open", path.display()))?;
    let len = f
        .metadata()
        .with_context(|| format!("document file {}", path.display()))?
        .len();
    if len > MAX_DOC_FILE {
        bail!(
            "document file {} is {len} bytes, more than the {MAX_DOC_FILE} a scan may have",
            path.display()
        );
    }
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f
            .read(&mut buf)
            .with_context(|| format!("document file {}: read", path.display()))?;
        if n == 0 {
            break;
        }
        h.update(buf.get(..n).unwrap_or_default());
    }
    Ok(Hash(h.finalize().into()))
}

/// One firearm by serial, or rounds of a lot: what `move`, `dispose` and
/// `hand-over` name.
#[derive(Debug, clap::Args)]
pub struct ItemArgs {
    /// Serial of the firearm (or --lot and --rounds).
    #[arg(long, conflicts_with = "lot", required_unless_present = "lot")]
    pub serial: Option<String>,
    /// Lot number of the rounds.
    #[arg(long, requires = "rounds")]
    pub lot: Option<String>,
    /// How many rounds of the lot.
    #[arg(long, requires = "lot")]
    pub rounds: Option<u64>,
}

impl ItemArgs {
    /// The item on this site's ledger.
    pub(super) fn resolve(&self, agent: &Agent) -> anyhow::Result<Item> {
        match (&self.serial, &self.lot, self.rounds) {
            (Some(s), _, _) => Ok(Item::Firearm(firearm(agent, s)?.0)),
            (None, Some(l), Some(n)) => Ok(Item::Rounds(AmmoLine {
                lot: lot(agent, l)?,
                rounds: n,
            })),
            _ => bail!("name the item: --serial SERIAL, or --lot LOT --rounds N"),
        }
    }
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
