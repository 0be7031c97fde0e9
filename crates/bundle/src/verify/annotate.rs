//! The server's records in a bundle: the findings it raised when it accepted
//! an entry, and the equivocation proof of an entry's counter. Each follows
//! its entry and is checked in that entry's sequential pass:
//!
//! * a finding is *reproduced* when the verifier raised the same rule on the
//!   same entry at that point; otherwise it must name an entry of the bundle
//!   and is listed as not reproduced. One naming no entry of the bundle is a
//!   problem. Each check is a hash lookup: linear in the records.
//! * an equivocation must hold the entry it follows as one of its two
//!   statements and be signed by the key that entry verified with (the key
//!   the regulator chain enrolled), at most one per entry. Its signatures are
//!   checked in batches, on all cores, with the batch verifier.

use std::collections::HashMap;

use rayon::prelude::*;

use armsledger_core::chain::{Equivocation, EquivocationError};
use armsledger_core::entry::EntryHeader;
use armsledger_core::rules::Finding;
use armsledger_core::sig::Statement as _;
use armsledger_core::sig::batch::{self as signatures, SigItem};
use armsledger_core::{ChainId, Hash};

use crate::format::ServerFinding;
use crate::report::{EquivocationSummary, MAX_LISTED, Problem, ProblemKind};

use super::Run;

/// Equivocation proofs verified per batch.
const EQUIVOCATION_BATCH: usize = 1024;

/// A server record waiting for the entry it follows.
#[derive(Debug)]
pub(crate) struct Annotation {
    pub(crate) record: u64,
    pub(crate) offset: u64,
    item: Item,
}

#[derive(Debug)]
enum Item {
    Finding(ServerFinding),
    Equivocation(Box<Equivocation>),
}

impl Annotation {
    pub(crate) fn finding(record: u64, offset: u64, f: ServerFinding) -> Self {
        Annotation {
            record,
            offset,
            item: Item::Finding(f),
        }
    }

    pub(crate) fn equivocation(record: u64, offset: u64, q: Equivocation) -> Self {
        Annotation {
            record,
            offset,
            item: Item::Equivocation(Box::new(q)),
        }
    }

    /// About how many bytes it holds (for the waiting budget).
    pub(crate) fn size(&self) -> usize {
        match &self.item {
            Item::Finding(f) => 128 + f.rule.len() + f.evidence.len(),
            Item::Equivocation(_) => 1024,
        }
    }

    /// The problem kind of a misplaced record of this kind.
    pub(crate) fn problem_kind(&self) -> ProblemKind {
        match self.item {
            Item::Finding(_) => ProblemKind::ServerRecord,
            Item::Equivocation(_) => ProblemKind::Equivocation,
        }
    }
}

/// An entry after its sequential pass, as its server records need it.
#[derive(Debug)]
pub(crate) struct Applied {
    /// Its record number.
    pub(crate) record: u64,
    hash: Hash,
    header: EntryHeader,
    /// The key it verified with.
    key: [u8; 32],
    /// The findings the verifier raised when it applied the entry: by the
    /// entry each names, (rule, chain, counter).
    raised: HashMap<Hash, Vec<(&'static str, ChainId, u64)>>,
    /// Whether rules were run (not in a dossier).
    rules_run: bool,
    equivocations: u32,
}

impl Applied {
    pub(crate) fn new(
        record: u64,
        header: &EntryHeader,
        hash: Hash,
        key: [u8; 32],
        raised: &[Finding],
        rules_run: bool,
    ) -> Self {
        let mut by_entry: HashMap<Hash, Vec<(&'static str, ChainId, u64)>> = HashMap::new();
        for f in raised {
            by_entry
                .entry(f.entry)
                .or_default()
                .push((f.rule.name(), f.chain.clone(), f.counter));
        }
        Applied {
            record,
            hash,
            header: header.clone(),
            key,
            raised: by_entry,
            rules_run,
            equivocations: 0,
        }
    }
}

/// Equivocation proofs whose place was checked, waiting for their signatures.
#[derive(Debug, Default)]
pub(crate) struct EquivocationBatch {
    /// (record, proof, the entry it follows, whether that entry is statement `a`).
    items: Vec<(u64, Equivocation, Hash, bool)>,
}

impl Run<'_> {
    /// Checks one server record against the entry it follows.
    pub(super) fn check_annotation(&mut self, a: Annotation, ctx: &mut Applied) {
        let (record, offset) = (a.record, a.offset);
        let problem = |kind, reason: String| Problem {
            chain: Some(ctx.header.chain.to_string()),
            counter: Some(ctx.header.counter),
            entry: Some(ctx.hash),
            ..Problem::new(kind, Some(record), Some(offset), reason)
        };
        match a.item {
            Item::Finding(f) => {
                let ours = ctx
                    .raised
                    .get(&f.entry)
                    .and_then(|v| v.iter().find(|(rule, _, _)| *rule == f.rule));
                match ours {
                    Some((_, chain, counter)) if *chain == f.chain && *counter == f.counter => {
                        self.report.server.reproduced += 1;
                    }
                    Some((_, chain, counter)) => self.problem(problem(
                        ProblemKind::ServerRecord,
                        format!(
                            "the server's finding {} names {} counter {} for entry {}, which is {chain} counter {counter}",
                            f.rule,
                            f.chain,
                            f.counter,
                            f.entry.short()
                        ),
                    )),
                    None => self.unreproduced(f, ctx, problem),
                }
            }
            Item::Equivocation(q) => {
                let h = &ctx.header;
                let other = if q.a.header == *h {
                    Some(&q.b.header)
                } else if q.b.header == *h {
                    Some(&q.a.header)
                } else {
                    None
                };
                let reason = if ctx.equivocations > 0 {
                    Some("a second equivocation record for one counter".to_string())
                } else if other.is_none() {
                    Some(format!(
                        "the equivocation record ({} counter {}) does not hold the entry it follows as one of its statements",
                        q.a.header.chain, q.a.header.counter
                    ))
                } else if q.public_key != ctx.key {
                    Some(format!(
                        "the equivocation record is signed by key {}, not by {}, the key the regulator chain enrolled for this entry",
                        hex::encode(q.public_key),
                        hex::encode(ctx.key)
                    ))
                } else {
                    None
                };
                ctx.equivocations = ctx.equivocations.saturating_add(1);
                match reason {
                    Some(r) => self.problem(problem(ProblemKind::Equivocation, r)),
                    None => {
                        let logged_is_a = q.a.header == ctx.header;
                        self.equivocations
                            .items
                            .push((record, *q, ctx.hash, logged_is_a));
                        if self.equivocations.items.len() >= EQUIVOCATION_BATCH {
                            self.check_equivocations();
                        }
                    }
                }
            }
        }
    }

    /// A server finding the verifier did not raise at this entry: it must name
    /// an entry of the bundle.
    fn unreproduced(
        &mut self,
        f: ServerFinding,
        ctx: &Applied,
        problem: impl Fn(ProblemKind, String) -> Problem,
    ) {
        let this = f.entry == ctx.hash;
        if this && (f.chain != ctx.header.chain || f.counter != ctx.header.counter) {
            self.problem(problem(
                ProblemKind::ServerRecord,
                format!(
                    "the server's finding {} names {} counter {}, but the entry it names is {} counter {}",
                    f.rule, f.chain, f.counter, ctx.header.chain, ctx.header.counter
                ),
            ));
            return;
        }
        let named = this
            || self.entry_hashes.contains(&f.entry)
            || self.dossier.as_ref().is_some_and(|d| d.holds(&f.entry));
        if !named {
            self.problem(problem(
                ProblemKind::ServerRecord,
                format!(
                    "the server's finding {} names entry {} ({} counter {}), which is not in the bundle",
                    f.rule,
                    f.entry.short(),
                    f.chain,
                    f.counter
                ),
            ));
            return;
        }
        let s = &mut self.report.server;
        if !ctx.rules_run {
            s.not_rechecked += 1;
            return;
        }
        s.not_reproduced += 1;
        if s.not_reproduced_listed.len() < MAX_LISTED {
            s.not_reproduced_listed.push(f);
        }
    }

    /// Verifies the waiting equivocation proofs' signatures in one batch.
    pub(super) fn check_equivocations(&mut self) {
        let items = std::mem::take(&mut self.equivocations.items);
        if items.is_empty() {
            return;
        }
        let verdicts = verify_equivocations(items.iter().map(|(_, q, _, _)| q));
        for ((record, q, entry, logged_is_a), verdict) in items.into_iter().zip(verdicts) {
            let h = &q.a.header;
            match verdict {
                Ok(()) => {
                    if self.report.equivocations.len() >= MAX_LISTED {
                        self.report.equivocations_omitted += 1;
                        continue;
                    }
                    let other = if logged_is_a {
                        &q.b.header
                    } else {
                        &q.a.header
                    };
                    self.report.equivocations.push(EquivocationSummary {
                        record,
                        chain: h.chain.to_string(),
                        device: h.device.to_string(),
                        key_epoch: h.key_epoch,
                        counter: h.counter,
                        entry,
                        other: other.entry_hash().unwrap_or(Hash::ZERO),
                        public_key: hex::encode(q.public_key),
                    });
                }
                Err(e) => self.problem(Problem {
                    chain: Some(h.chain.to_string()),
                    counter: Some(h.counter),
                    entry: Some(entry),
                    ..Problem::new(
                        ProblemKind::Equivocation,
                        Some(record),
                        None,
                        format!("the equivocation proof does not hold: {e}"),
                    )
                }),
            }
        }
    }
}

/// `Equivocation::verify` for many proofs at once: the structure of each,
/// then both signatures of all of them through the batch verifier (whose
/// verdicts are exactly `verify_strict`'s), on all cores.
fn verify_equivocations<'a>(
    proofs: impl Iterator<Item = &'a Equivocation>,
) -> Vec<Result<(), EquivocationError>> {
    let proofs: Vec<&Equivocation> = proofs.collect();
    let prepared: Vec<Result<[Vec<u8>; 2], EquivocationError>> = proofs
        .par_iter()
        .map(|q| {
            let (a, b) = (&q.a.header, &q.b.header);
            if a.chain != b.chain
                || a.device != b.device
                || a.key_epoch != b.key_epoch
                || a.counter != b.counter
            {
                return Err(EquivocationError::NotSameSlot);
            }
            if a == b {
                return Err(EquivocationError::Identical);
            }
            match (a.message(), b.message()) {
                (Ok(ma), Ok(mb)) => Ok([ma, mb]),
                _ => Err(EquivocationError::BadSignature),
            }
        })
        .collect();
    let mut items = Vec::with_capacity(proofs.len() * 2);
    for (q, p) in proofs.iter().zip(&prepared) {
        if let Ok([ma, mb]) = p {
            items.push(SigItem {
                key: q.public_key,
                message: ma,
                signature: q.a.signature.0,
            });
            items.push(SigItem {
                key: q.public_key,
                message: mb,
                signature: q.b.signature.0,
            });
        }
    }
    let (ok, _) = signatures::verify_all(&items);
    let mut ok = ok.into_iter();
    prepared
        .into_iter()
        .map(|p| match p {
            Ok(_) => match (ok.next(), ok.next()) {
                (Some(true), Some(true)) => Ok(()),
                _ => Err(EquivocationError::BadSignature),
            },
            Err(e) => Err(e),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use armsledger_core::entry::SignedHeader;
    use armsledger_core::testkit::Scenario;

    #[test]
    fn batched_verdicts_are_those_of_verify() {
        let mut s = Scenario::standard();
        let mut twin = s.clone();
        let (_, a) = s.acquire("north", "A-1");
        let (_, b) = twin.acquire("north", "B-1");
        let (_, c) = s.acquire("north", "C-1");
        let key = s.sites[&armsledger_core::testkit::v("north")].public_key();
        let good = Equivocation {
            public_key: key,
            a: SignedHeader::from(&*a),
            b: SignedHeader::from(&*b),
        };
        let mut forged = good.clone();
        forged.b.signature.0[5] ^= 1;
        let other_slot = Equivocation {
            b: SignedHeader::from(&*c),
            ..good.clone()
        };
        let same = Equivocation {
            b: good.a.clone(),
            ..good.clone()
        };
        let all = [good, forged, other_slot, same];
        let batched = verify_equivocations(all.iter());
        let one_by_one: Vec<_> = all.iter().map(Equivocation::verify).collect();
        assert_eq!(batched, one_by_one);
        assert_eq!(batched[0], Ok(()));
        assert!(batched[1..].iter().all(Result::is_err));
    }
}
