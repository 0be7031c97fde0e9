//! The periodic return of one site for one period: opening stock,
//! acquisitions, dispositions, closing stock, and rounds by lot. It names
//! the signed checkpoint and the range of the site's chain it was computed
//! from, and carries the hash of its canonical encoding, so the regulator or
//! an auditor can recompute it from a bundle ([`verify`]) and see, figure by
//! figure, where a filed return departs from the ledger.
//!
//! The figures are read from the site's own chain alone: its entries logged
//! before the checkpoint (log index below its size) and signed before the
//! period's end, as signed (a correction does not move stock). Entries signed
//! before `from` make the opening stock; those in `[from, to)` the movements.
//! The canonical encoding is documented in docs/formats.md ("Periodic return").

use std::collections::{BTreeMap, BTreeSet, HashMap};

use armsledger_core::event::{Event, SiteEvent};
use armsledger_core::hash::Hash;
use armsledger_core::ids::{CompanyId, SiteId, Timestamp};
use armsledger_core::model::{AmmoLine, FirearmId, Item, LotId};
use serde::{Deserialize, Serialize};

use crate::registers::lot_number;
use crate::{Cell, Ledger, ReportError, Scope, Table};

/// Domain tag of a return's hash.
pub const RETURN_TAG: &[u8] = b"armsledger:periodic-return:v1\0";
/// Domain tag of the digest over the entry hashes a return was computed from.
pub const RANGE_TAG: &[u8] = b"armsledger:return-range:v1\0";
/// The return format this code writes and reads.
pub const FORMAT: u8 = 1;
/// The largest filed return read (JSON bytes).
pub const MAX_RETURN_BYTES: usize = 4 << 20;

/// The signed checkpoint a return was computed at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointRef {
    /// Tree size: entries at log indexes below it were considered.
    pub size: u64,
    /// Root hash at that size.
    pub root: Hash,
}

/// The part of the site's chain a return was computed from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainRange {
    /// Counter of the first entry (0: none).
    pub first: u64,
    /// Counter of the last entry (0: none).
    pub last: u64,
    /// How many entries.
    pub entries: u64,
    /// Entry hash of the last one (zero: none).
    pub last_hash: Hash,
    /// SHA-256 of `RANGE_TAG` and every entry hash, in chain order.
    pub digest: Hash,
}

/// Firearm stock and movements.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirearmFigures {
    /// Firearms the site answered for at `from` (in store, issued, away for maintenance).
    pub opening: u64,
    /// Acquired from outside the ledger.
    pub acquired: u64,
    /// Received by transfer.
    pub transferred_in: u64,
    /// Back in store after a transfer out was cancelled.
    pub back_from_transit: u64,
    /// Recovered after a loss or seizure.
    pub recovered: u64,
    /// Sent by transfer.
    pub transferred_out: u64,
    /// Destroyed or deactivated.
    pub disposed: u64,
    /// Left the ledger (sold, handed over, surrendered, exported).
    pub left_ledger: u64,
    /// Reported lost or stolen.
    pub lost: u64,
    /// Seized by an authority.
    pub seized: u64,
    /// Firearms the site answered for at `to`.
    pub closing: u64,
}

/// One lot's stock and movements, in rounds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LotFigures {
    /// The lot.
    pub lot: LotId,
    /// Its number as marked.
    pub lot_number: String,
    /// Rounds at the site at `from` (in store and with people).
    pub opening: i64,
    /// Received from outside the ledger.
    pub received: u64,
    /// Received by transfer.
    pub transferred_in: u64,
    /// Back after a cancelled transfer.
    pub back_from_transit: u64,
    /// Sent by transfer.
    pub transferred_out: u64,
    /// Expended (on return, or recorded on their own).
    pub expended: u64,
    /// Reported lost or stolen.
    pub lost: u64,
    /// Destroyed.
    pub disposed: u64,
    /// Left the ledger.
    pub left_ledger: u64,
    /// Rounds at the site at `to`.
    pub closing: i64,
}

/// A site's return for `[from, to)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeriodicReturn {
    /// [`FORMAT`].
    pub format: u8,
    /// The site.
    pub site: SiteId,
    /// Its company, when registered.
    pub company: Option<CompanyId>,
    /// Period start (inclusive).
    pub from: Timestamp,
    /// Period end (exclusive).
    pub to: Timestamp,
    /// The checkpoint it was computed at.
    pub checkpoint: CheckpointRef,
    /// The entries it was computed from.
    pub chain: ChainRange,
    /// Firearms.
    pub firearms: FirearmFigures,
    /// Rounds by lot, by lot number.
    pub lots: Vec<LotFigures>,
}

/// A return as filed: the return and the hash of its canonical encoding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FiledReturn {
    /// The return.
    #[serde(rename = "return")]
    pub body: PeriodicReturn,
    /// `SHA-256(RETURN_TAG || postcard(return))`.
    pub hash: Hash,
}

/// One figure where a filed return and the ledger disagree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// The figure (`firearms.disposed`, `lots[L-1].expended`, `chain.entries`, …).
    pub field: String,
    /// What the return says.
    pub claimed: Option<String>,
    /// What the ledger says.
    pub ledger: Option<String>,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "nothing".to_string());
        write!(
            f,
            "{}: the return says {}, the ledger says {}",
            self.field,
            show(&self.claimed),
            show(&self.ledger)
        )
    }
}

/// What checking a filed return against a ledger showed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReturnCheck {
    /// Whether the filed hash is the hash of the filed figures.
    pub hash_matches: bool,
    /// Every figure that differs.
    pub differences: Vec<Difference>,
    /// How the checkpoint was compared.
    pub checkpoint: String,
    /// Whether the return follows from the ledger: hash right, no difference.
    pub ok: bool,
}

#[derive(Default)]
struct Flow {
    firearms: FirearmFigures,
    lots: BTreeMap<LotId, LotFigures>,
}

impl PeriodicReturn {
    /// Its canonical encoding (postcard, field by field as declared).
    pub fn encode(&self) -> Result<Vec<u8>, ReportError> {
        postcard::to_allocvec(self).map_err(|e| ReportError::Render(e.to_string()))
    }

    /// `SHA-256(RETURN_TAG || encode())`.
    pub fn hash(&self) -> Result<Hash, ReportError> {
        Ok(Hash::of(&[RETURN_TAG, &self.encode()?]))
    }

    /// The return with its hash, as filed.
    pub fn file(self) -> Result<FiledReturn, ReportError> {
        let hash = self.hash()?;
        Ok(FiledReturn { body: self, hash })
    }

    /// Every figure by a stable name, in order: what the table shows and
    /// what [`compare`] compares.
    pub fn fields(&self) -> Vec<(String, String)> {
        let mut out = vec![
            ("format".to_string(), self.format.to_string()),
            ("site".to_string(), self.site.to_string()),
            (
                "company".to_string(),
                self.company
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
            ),
            ("from".to_string(), self.from.rfc3339()),
            ("to".to_string(), self.to.rfc3339()),
            (
                "checkpoint.size".to_string(),
                self.checkpoint.size.to_string(),
            ),
            (
                "checkpoint.root".to_string(),
                self.checkpoint.root.to_string(),
            ),
            ("chain.first".to_string(), self.chain.first.to_string()),
            ("chain.last".to_string(), self.chain.last.to_string()),
            ("chain.entries".to_string(), self.chain.entries.to_string()),
            (
                "chain.last_hash".to_string(),
                self.chain.last_hash.to_string(),
            ),
            ("chain.digest".to_string(), self.chain.digest.to_string()),
        ];
        let f = &self.firearms;
        for (k, v) in [
            ("opening", f.opening),
            ("acquired", f.acquired),
            ("transferred_in", f.transferred_in),
            ("back_from_transit", f.back_from_transit),
            ("recovered", f.recovered),
            ("transferred_out", f.transferred_out),
            ("disposed", f.disposed),
            ("left_ledger", f.left_ledger),
            ("lost", f.lost),
            ("seized", f.seized),
            ("closing", f.closing),
        ] {
            out.push((format!("firearms.{k}"), v.to_string()));
        }
        for l in &self.lots {
            let p = format!("lots[{}]", l.lot_number);
            out.push((format!("{p}.lot"), l.lot.to_string()));
            out.push((format!("{p}.opening"), l.opening.to_string()));
            for (k, v) in [
                ("received", l.received),
                ("transferred_in", l.transferred_in),
                ("back_from_transit", l.back_from_transit),
                ("transferred_out", l.transferred_out),
                ("expended", l.expended),
                ("lost", l.lost),
                ("disposed", l.disposed),
                ("left_ledger", l.left_ledger),
            ] {
                out.push((format!("{p}.{k}"), v.to_string()));
            }
            out.push((format!("{p}.closing"), l.closing.to_string()));
        }
        out
    }

    /// The return as a report table: one line per figure.
    pub fn table(&self) -> Table {
        Table {
            report: "return",
            title: format!(
                "Periodic return, site {}, {} to {}",
                self.site, self.from, self.to
            ),
            scope: format!(
                "site {}'s chain entries {} to {} ({} entries) logged below checkpoint size {}",
                self.site,
                self.chain.first,
                self.chain.last,
                self.chain.entries,
                self.checkpoint.size
            ),
            columns: vec!["line", "value"],
            rows: self
                .fields()
                .into_iter()
                .map(|(k, v)| vec![Cell::Text(k), Cell::Text(v)])
                .collect(),
            notes: vec![
                "Figures from the site's own chain, as signed. `armsledger report verify-return FILE --bundle BUNDLE` recomputes them from a bundle; the JSON form carries the hash it checks."
                    .to_string(),
            ],
        }
    }
}

fn lot(m: &mut BTreeMap<LotId, LotFigures>, id: LotId) -> &mut LotFigures {
    m.entry(id).or_insert_with(|| LotFigures {
        lot: id,
        lot_number: String::new(),
        opening: 0,
        received: 0,
        transferred_in: 0,
        back_from_transit: 0,
        transferred_out: 0,
        expended: 0,
        lost: 0,
        disposed: 0,
        left_ledger: 0,
        closing: 0,
    })
}

fn add(v: &mut u64, n: u64) {
    *v = v.saturating_add(n);
}

fn delta(bal: &mut BTreeMap<LotId, i64>, lot: LotId, n: u64, sign: i64) {
    let b = bal.entry(lot).or_default();
    *b = b.saturating_add(sign.saturating_mul(i64::try_from(n).unwrap_or(i64::MAX)));
}

/// Computes `site`'s return for `[from, to)` at `checkpoint` from `ledger`.
pub fn compute(
    ledger: &Ledger<'_>,
    site: &SiteId,
    from: Timestamp,
    to: Timestamp,
    checkpoint: CheckpointRef,
) -> PeriodicReturn {
    let mut held: BTreeSet<FirearmId> = BTreeSet::new();
    let mut bal: BTreeMap<LotId, i64> = BTreeMap::new();
    let mut flow = Flow::default();
    let mut opening: Option<(u64, BTreeMap<LotId, i64>)> = None;
    let mut sent: HashMap<Hash, (Vec<FirearmId>, Vec<AmmoLine>)> = HashMap::new();
    let mut hashes: Vec<Hash> = Vec::new();
    let mut first = 0;
    let mut last = 0;
    for l in ledger.site_entries(site) {
        let t = l.entry.header().device_time;
        if l.index >= checkpoint.size || t >= to {
            continue;
        }
        if first == 0 {
            first = l.entry.counter();
        }
        last = l.entry.counter();
        hashes.push(l.entry.hash());
        let counted = t >= from;
        if counted && opening.is_none() {
            opening = Some((held.len() as u64, bal.clone()));
        }
        let Event::Site(ev) = &l.entry.body().event else {
            continue;
        };
        let mut f = FirearmFigures::default();
        let mut lots: BTreeMap<LotId, LotFigures> = BTreeMap::new();
        match ev {
            SiteEvent::FirearmAcquired { firearm, .. } => {
                held.insert(*firearm);
                f.acquired = 1;
            }
            SiteEvent::Recovered { firearm, .. } => {
                held.insert(*firearm);
                f.recovered = 1;
            }
            SiteEvent::TransferredIn {
                firearms, rounds, ..
            } => {
                held.extend(firearms.iter().copied());
                f.transferred_in = firearms.len() as u64;
                for r in rounds {
                    add(&mut lot(&mut lots, r.lot).transferred_in, r.rounds);
                    delta(&mut bal, r.lot, r.rounds, 1);
                }
            }
            SiteEvent::TransferredOut {
                firearms, rounds, ..
            } => {
                for x in firearms {
                    held.remove(x);
                }
                f.transferred_out = firearms.len() as u64;
                for r in rounds {
                    add(&mut lot(&mut lots, r.lot).transferred_out, r.rounds);
                    delta(&mut bal, r.lot, r.rounds, -1);
                }
                sent.insert(l.entry.hash(), (firearms.clone(), rounds.clone()));
            }
            SiteEvent::TransferCancelled { transfer, .. } => {
                if let Some((firearms, rounds)) = sent.remove(transfer) {
                    held.extend(firearms.iter().copied());
                    f.back_from_transit = firearms.len() as u64;
                    for r in &rounds {
                        add(&mut lot(&mut lots, r.lot).back_from_transit, r.rounds);
                        delta(&mut bal, r.lot, r.rounds, 1);
                    }
                }
            }
            SiteEvent::Disposed { item, .. } | SiteEvent::LeftLedger { item, .. } => {
                let left = matches!(ev, SiteEvent::LeftLedger { .. });
                match item {
                    Item::Firearm(x) => {
                        held.remove(x);
                        if left {
                            f.left_ledger = 1;
                        } else {
                            f.disposed = 1;
                        }
                    }
                    Item::Rounds(r) => {
                        let lf = lot(&mut lots, r.lot);
                        add(
                            if left {
                                &mut lf.left_ledger
                            } else {
                                &mut lf.disposed
                            },
                            r.rounds,
                        );
                        delta(&mut bal, r.lot, r.rounds, -1);
                    }
                }
            }
            SiteEvent::LossReported { items, .. } => {
                for i in items {
                    match i {
                        Item::Firearm(x) => {
                            held.remove(x);
                            f.lost += 1;
                        }
                        Item::Rounds(r) => {
                            add(&mut lot(&mut lots, r.lot).lost, r.rounds);
                            delta(&mut bal, r.lot, r.rounds, -1);
                        }
                    }
                }
            }
            SiteEvent::Seized { firearm, .. } => {
                held.remove(firearm);
                f.seized = 1;
            }
            SiteEvent::AmmunitionReceived {
                lot: id, rounds, ..
            } => {
                add(&mut lot(&mut lots, *id).received, *rounds);
                delta(&mut bal, *id, *rounds, 1);
            }
            SiteEvent::AmmunitionExpended { line, .. } => {
                add(&mut lot(&mut lots, line.lot).expended, line.rounds);
                delta(&mut bal, line.lot, line.rounds, -1);
            }
            SiteEvent::Returned { ammunition: b, .. }
            | SiteEvent::AmmunitionReturned { lines: b, .. } => {
                for r in b {
                    add(&mut lot(&mut lots, r.lot).expended, r.expended);
                    delta(&mut bal, r.lot, r.expended, -1);
                }
            }
            _ => {}
        }
        if counted {
            let a = &mut flow.firearms;
            add(&mut a.acquired, f.acquired);
            add(&mut a.transferred_in, f.transferred_in);
            add(&mut a.back_from_transit, f.back_from_transit);
            add(&mut a.recovered, f.recovered);
            add(&mut a.transferred_out, f.transferred_out);
            add(&mut a.disposed, f.disposed);
            add(&mut a.left_ledger, f.left_ledger);
            add(&mut a.lost, f.lost);
            add(&mut a.seized, f.seized);
            for (id, m) in lots {
                let x = lot(&mut flow.lots, id);
                add(&mut x.received, m.received);
                add(&mut x.transferred_in, m.transferred_in);
                add(&mut x.back_from_transit, m.back_from_transit);
                add(&mut x.transferred_out, m.transferred_out);
                add(&mut x.expended, m.expended);
                add(&mut x.lost, m.lost);
                add(&mut x.disposed, m.disposed);
                add(&mut x.left_ledger, m.left_ledger);
            }
        }
    }
    let (open_firearms, open_bal) = opening.unwrap_or_else(|| (held.len() as u64, bal.clone()));
    let mut firearms = flow.firearms;
    firearms.opening = open_firearms;
    firearms.closing = held.len() as u64;
    let mut lots = flow.lots;
    for id in open_bal.keys().chain(bal.keys()) {
        lot(&mut lots, *id);
    }
    let mut lots: Vec<LotFigures> = lots
        .into_values()
        .map(|mut l| {
            l.opening = open_bal.get(&l.lot).copied().unwrap_or(0);
            l.closing = bal.get(&l.lot).copied().unwrap_or(0);
            l.lot_number = lot_number(ledger.state, &l.lot);
            l
        })
        .filter(|l| {
            l.opening != 0
                || l.closing != 0
                || l.received + l.transferred_in + l.back_from_transit + l.transferred_out > 0
                || l.expended + l.lost + l.disposed + l.left_ledger > 0
        })
        .collect();
    lots.sort_by(|a, b| (&a.lot_number, a.lot).cmp(&(&b.lot_number, b.lot)));
    let mut parts: Vec<&[u8]> = vec![RANGE_TAG];
    parts.extend(hashes.iter().map(|h| &h.0[..]));
    PeriodicReturn {
        format: FORMAT,
        site: site.clone(),
        company: ledger.state.company_of(site).cloned(),
        from,
        to,
        checkpoint,
        chain: ChainRange {
            first,
            last,
            entries: hashes.len() as u64,
            last_hash: hashes.last().copied().unwrap_or(Hash::ZERO),
            digest: Hash::of(&parts),
        },
        firearms,
        lots,
    }
}

/// The return `scope` asks for (its site and period, at the ledger's checkpoint).
pub(crate) fn compute_for(
    ledger: &Ledger<'_>,
    scope: &Scope,
) -> Result<PeriodicReturn, ReportError> {
    let Some(site) = &scope.site else {
        return Err(ReportError::SiteRequired("return"));
    };
    let (Some(from), Some(to)) = (scope.from, scope.to) else {
        return Err(ReportError::PeriodRequired("return"));
    };
    if from >= to {
        return Err(ReportError::EmptyPeriod { from, to });
    }
    if !scope.has_site(ledger.state, site) {
        return Err(ReportError::NotVisible(format!("site {site}")));
    }
    let checkpoint = ledger.checkpoint.ok_or(ReportError::NoCheckpoint)?;
    Ok(compute(ledger, site, from, to, checkpoint))
}

/// Every figure in which `claimed` and `ledger` differ, in the order of
/// `claimed`'s fields, then those only the ledger has.
pub fn compare(claimed: &PeriodicReturn, ledger: &PeriodicReturn) -> Vec<Difference> {
    let a = claimed.fields();
    let b: BTreeMap<String, String> = ledger.fields().into_iter().collect();
    let mut out = Vec::new();
    for (k, v) in &a {
        if b.get(k) != Some(v) {
            out.push(Difference {
                field: k.clone(),
                claimed: Some(v.clone()),
                ledger: b.get(k).cloned(),
            });
        }
    }
    let known: BTreeSet<&String> = a.iter().map(|(k, _)| k).collect();
    for (k, v) in ledger.fields() {
        if !known.contains(&k) {
            out.push(Difference {
                field: k,
                claimed: None,
                ledger: Some(v),
            });
        }
    }
    out
}

/// Checks a filed return against `ledger` (a verified bundle whose
/// checkpoint is at least the return's): its hash, then every figure,
/// recomputed from the entries below the return's checkpoint.
pub fn verify(filed: &FiledReturn, ledger: &Ledger<'_>) -> Result<ReturnCheck, ReportError> {
    let claimed = &filed.body;
    let hash_matches = claimed.hash()? == filed.hash;
    let have = ledger.checkpoint.ok_or(ReportError::NoCheckpoint)?;
    let want = claimed.checkpoint;
    if have.size < want.size {
        return Err(ReportError::NotVisible(format!(
            "the return was computed at checkpoint size {}, but the bundle stops at size {}: export a newer bundle",
            want.size, have.size
        )));
    }
    let (at, note) = if have.size == want.size {
        (
            have,
            "the bundle's checkpoint is the return's: root compared".to_string(),
        )
    } else {
        (
            want,
            format!(
                "the bundle's checkpoint (size {}) is newer than the return's (size {}): the entries below the return's size were used; its root is not compared offline",
                have.size, want.size
            ),
        )
    };
    let ours = compute(ledger, &claimed.site, claimed.from, claimed.to, at);
    let differences = compare(claimed, &ours);
    Ok(ReturnCheck {
        ok: hash_matches && differences.is_empty(),
        hash_matches,
        differences,
        checkpoint: note,
    })
}

/// Reads a filed return (JSON), refusing more than [`MAX_RETURN_BYTES`] and
/// formats other than [`FORMAT`].
pub fn parse(bytes: &[u8]) -> Result<FiledReturn, ReportError> {
    if bytes.len() > MAX_RETURN_BYTES {
        return Err(ReportError::Render(format!(
            "a filed return of {} bytes is over the {MAX_RETURN_BYTES}-byte limit",
            bytes.len()
        )));
    }
    let filed: FiledReturn = serde_json::from_slice(bytes)
        .map_err(|e| ReportError::Render(format!("not a filed return: {e}")))?;
    if filed.body.format != FORMAT {
        return Err(ReportError::Render(format!(
            "return format {} is not the format {FORMAT} this version reads",
            filed.body.format
        )));
    }
    Ok(filed)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    /// The vector in docs/formats.md ("Periodic return").
    pub(crate) fn vector() -> PeriodicReturn {
        PeriodicReturn {
            format: FORMAT,
            site: "north".parse().unwrap(),
            company: Some("acme".parse().unwrap()),
            from: Timestamp(1_000),
            to: Timestamp(2_000),
            checkpoint: CheckpointRef {
                size: 7,
                root: Hash([0x11; 32]),
            },
            chain: ChainRange {
                first: 1,
                last: 3,
                entries: 3,
                last_hash: Hash([0x22; 32]),
                digest: Hash([0x33; 32]),
            },
            firearms: FirearmFigures {
                opening: 1,
                acquired: 2,
                disposed: 1,
                closing: 2,
                ..FirearmFigures::default()
            },
            lots: vec![LotFigures {
                lot: LotId([0x44; 16]),
                lot_number: "L-1".to_string(),
                opening: 0,
                received: 100,
                transferred_in: 0,
                back_from_transit: 0,
                transferred_out: 0,
                expended: 30,
                lost: 0,
                disposed: 0,
                left_ledger: 0,
                closing: 70,
            }],
        }
    }

    #[test]
    fn the_documented_vector_encodes_and_hashes_as_written() {
        let r = vector();
        let hex = hex_of(&r.encode().unwrap());
        assert_eq!(hex, include_str!("../tests/vectors/return-v1.hex").trim());
        assert_eq!(
            r.hash().unwrap().to_string(),
            include_str!("../tests/vectors/return-v1.hash").trim()
        );
        // docs/formats.md ("Periodic return") shows the same bytes and hash.
        let doc = include_str!("../../../docs/formats.md");
        assert!(
            doc.contains(&hex),
            "docs/formats.md lacks the return vector"
        );
        assert!(doc.contains(&r.hash().unwrap().to_string()));
    }

    fn hex_of(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn a_filed_return_round_trips_through_json_and_refuses_other_formats() {
        let filed = vector().file().unwrap();
        let json = serde_json::to_vec(&filed).unwrap();
        assert_eq!(parse(&json).unwrap(), filed);
        let mut other = vector();
        other.format = 2;
        let json = serde_json::to_vec(&other.file().unwrap()).unwrap();
        assert!(parse(&json).unwrap_err().to_string().contains("format 2"));
        assert!(parse(&vec![b' '; MAX_RETURN_BYTES + 1]).is_err());
    }

    #[test]
    fn compare_names_each_changed_figure() {
        let a = vector();
        let mut b = vector();
        assert!(compare(&a, &b).is_empty());
        b.firearms.disposed = 2;
        b.lots[0].expended = 40;
        let d = compare(&a, &b);
        let names: Vec<&str> = d.iter().map(|d| d.field.as_str()).collect();
        assert_eq!(names, ["firearms.disposed", "lots[L-1].expended"]);
        assert_eq!(
            d[0].to_string(),
            "firearms.disposed: the return says 1, the ledger says 2"
        );
    }
}
