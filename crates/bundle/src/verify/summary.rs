//! The end of a run: the chains of the scope and what is proven about each
//! being complete, the warnings a reader must see, findings and alerts.

use armsledger_core::ChainId;
use armsledger_core::rules::{AlertPolicy, alerts};

use crate::format::Scope;
use armsledger_index::{Kind, MapKey};

use crate::report::{
    ChainSummary, Completeness, LotDossierSummary, Problem, ProblemKind, ProofBasis, Warning,
    WarningKind,
};

use super::Run;
use super::dossier::About;
use super::index::Verdict;

impl Run<'_> {
    pub(super) fn summarise(&mut self) {
        let scope = self.scope();
        // The chains the scope must hold, even when none of their entries is here.
        let mut required = vec![ChainId::Regulator];
        match &scope {
            Scope::Site(s) => required.push(ChainId::Site(s.clone())),
            Scope::Company(c) => {
                if let Some(l) = &self.ledger {
                    required.extend(
                        l.engine()
                            .state()
                            .sites
                            .iter()
                            .filter(|(_, r)| r.company == *c)
                            .map(|(s, _)| ChainId::Site(s.clone())),
                    );
                }
            }
            Scope::All | Scope::Firearm(_) | Scope::Lot(_) => {}
        }
        for chain in required {
            self.chains
                .entry(chain.to_string())
                .or_insert_with(|| ChainSummary {
                    chain: chain.to_string(),
                    entries: 0,
                    head_counter: None,
                    head: None,
                    completeness: Completeness::NoGapsEndUnproven,
                });
        }
        let size = self.opened.as_ref().map(|o| o.checkpoint.size());
        let at = size.map_or_else(String::new, |s| format!(" in the checkpoint of size {s}"));
        let n = size.map_or_else(|| "?".to_owned(), |s| s.to_string());
        let mut warnings = Vec::new();
        let mut problems = Vec::new();
        let mut notes = Vec::new();
        for c in self.chains.values_mut() {
            c.completeness = match &scope {
                Scope::All if self.full_tree_matches => Completeness::Proven {
                    basis: ProofBasis::FullLog,
                },
                Scope::Firearm(_) | Scope::Lot(_) if c.chain != ChainId::Regulator.to_string() => {
                    Completeness::Excerpt
                }
                // The regulator entries a company or site may see: an
                // excerpt of the chain by design (need to know). The index
                // cannot prove it complete (it commits to the chain's newest
                // entry, not to the newest in the reader's scope), but says
                // how many newer regulator entries exist; a leaf that
                // contradicts the entries is a wrong index.
                _ if c.chain == ChainId::Regulator.to_string()
                    && c.head_counter.is_some_and(|n| c.entries < n) =>
                {
                    let key = MapKey::chain_labelled(&c.chain);
                    let seq = c.head_counter.unwrap_or(0);
                    match self
                        .proven
                        .judge(&key, &[Kind::Chain], c.chain.as_bytes(), c.head, seq)
                    {
                        Verdict::Unproven => {}
                        Verdict::Proven => notes.push(format!(
                            "{}: an excerpt of {} entries whose newest (counter {seq}) is the \
                             chain's newest in the verifiable index of checkpoint {n}",
                            c.chain, c.entries
                        )),
                        Verdict::Newer { index, seq: newest } => warnings.push(Warning {
                            kind: WarningKind::NewerEntriesExist,
                            subject: Some(c.chain.clone()),
                            message: excerpt_newer(&c.chain, index, newest, seq, c.entries),
                        }),
                        Verdict::Contradicts(why) => {
                            let mut p = Problem::new(
                                ProblemKind::IndexProof,
                                None,
                                None,
                                format!("{}: {why}", c.chain),
                            );
                            p.chain = Some(c.chain.clone());
                            problems.push(p);
                        }
                    }
                    Completeness::Excerpt
                }
                Scope::All => Completeness::NoGapsEndUnproven,
                _ => {
                    let key = MapKey::chain_labelled(&c.chain);
                    let seq = c.head_counter.unwrap_or(0);
                    match self
                        .proven
                        .judge(&key, &[Kind::Chain], c.chain.as_bytes(), c.head, seq)
                    {
                        Verdict::Unproven => Completeness::NoGapsEndUnproven,
                        Verdict::Proven => Completeness::Proven {
                            basis: ProofBasis::Index,
                        },
                        Verdict::Newer { index, seq: newest }
                            if c.chain == ChainId::Regulator.to_string() =>
                        {
                            // A scoped bundle carries only the regulator
                            // entries its reader may see (need to know), so
                            // newer ones may be out of the reader's scope or
                            // may have been cut: the reader cannot tell, and
                            // is told so (docs/threat-model.md).
                            warnings.push(Warning {
                                kind: WarningKind::NewerEntriesExist,
                                subject: Some(c.chain.clone()),
                                message: format!(
                                    "{}: newer entries exist (newest at log index {index}, \
                                     counter {newest}): the bundle stops at counter {seq}; a \
                                     scoped bundle holds only the regulator entries its reader \
                                     may see, so the newer ones are outside that scope or were \
                                     left out (a key revocation, a bar): ask the server for a \
                                     fresh pull",
                                    c.chain
                                ),
                            });
                            Completeness::NewerEntriesExist {
                                newest_index: index,
                                newest_seq: newest,
                            }
                        }
                        Verdict::Newer { index, seq: newest } => {
                            // A site, company or dossier export holds every
                            // entry of its site chains up to its checkpoint:
                            // one that stops short was cut.
                            let mut p = Problem::new(
                                ProblemKind::StopsShort,
                                None,
                                None,
                                format!(
                                    "{}: newer entries exist (newest at log index {index}, \
                                     counter {newest}): the bundle stops at counter {seq}, the \
                                     verifiable index of checkpoint {n} commits to counter \
                                     {newest}",
                                    c.chain
                                ),
                            );
                            p.chain = Some(c.chain.clone());
                            p.log_index = Some(index);
                            p.counter = Some(newest);
                            problems.push(p);
                            Completeness::NewerEntriesExist {
                                newest_index: index,
                                newest_seq: newest,
                            }
                        }
                        Verdict::Contradicts(why) => {
                            let mut p = Problem::new(
                                ProblemKind::IndexProof,
                                None,
                                None,
                                format!("{}: {why}", c.chain),
                            );
                            p.chain = Some(c.chain.clone());
                            problems.push(p);
                            Completeness::NoGapsEndUnproven
                        }
                    }
                }
            };
            if c.completeness == Completeness::NoGapsEndUnproven {
                let what = if c.chain == ChainId::Regulator.to_string() {
                    "newer regulator entries (a key revocation, a bar, a licence revocation) may have been left out"
                } else {
                    "newer entries of this chain may have been left out"
                };
                let have = match c.head_counter {
                    Some(n) => format!(
                        "{} entries, none missing up to counter {n}; nothing proves counter {n} is its last{at}",
                        c.entries
                    ),
                    None => {
                        format!("no entry in the bundle; nothing proves the chain is empty{at}")
                    }
                };
                warnings.push(Warning {
                    kind: WarningKind::EndUnproven,
                    subject: Some(c.chain.clone()),
                    message: format!(
                        "{}: {have}: {what}. Only a full bundle, or a bundle with the chain's \
                         index proof, proves a chain complete",
                        c.chain
                    ),
                });
            }
        }
        self.report.warnings.append(&mut warnings);
        self.report.notes.append(&mut notes);
        for p in problems {
            self.problem(p);
        }
        self.report.chains = self.chains.values().cloned().collect();
        let Some(ledger) = &self.ledger else {
            return;
        };
        let mut findings = ledger.engine().findings().to_vec();
        // Sealed notes the regulator erased: the ledger still verifies, and
        // the reader is told where a text was erased.
        let mut erased: Vec<_> = ledger
            .engine()
            .state()
            .erased_notes
            .iter()
            .map(
                |(note, (on, ground))| armsledger_core::note::NoteView::Erased {
                    note: *note,
                    on: *on,
                    ground: ground.clone(),
                },
            )
            .collect();
        erased.sort_by_key(|v| *v.note());
        self.report.erased_notes = erased;
        if let Some(mut lot) = self.dossier.as_ref().and_then(|d| d.lot_summary()) {
            self.judge_lot(&mut lot, &n, &at);
            self.report.lot_dossier = Some(lot);
        } else if let Some(d) = &self.dossier
            && let (Some(mut summary), About::Firearm(firearm)) = (d.summary(), d.subject_of())
        {
            let key = d
                .keys()
                .iter()
                .find(|k| self.proven.has(k))
                .copied()
                .unwrap_or_else(|| MapKey::firearm(&firearm));
            let verdict = self.proven.judge(
                &key,
                &[Kind::Serial, Kind::Firearm],
                &firearm.0,
                summary.last,
                summary.events,
            );
            let subject = format!("firearm:{}", summary.firearm);
            match verdict {
                Verdict::Unproven => {}
                Verdict::Proven => {
                    summary.completeness = Completeness::Proven {
                        basis: ProofBasis::Index,
                    };
                }
                Verdict::Newer { index, seq } => {
                    self.report.warnings.push(Warning {
                        kind: WarningKind::NewerEntriesExist,
                        subject: Some(subject.clone()),
                        message: format!(
                            "firearm {}: INCOMPLETE: newer entries exist (newest at log index \
                             {index}, event {seq} of its history): the dossier holds {} events, \
                             the verifiable index of checkpoint {n} commits to {seq}",
                            summary.firearm, summary.events
                        ),
                    });
                    summary.completeness = Completeness::NewerEntriesExist {
                        newest_index: index,
                        newest_seq: seq,
                    };
                }
                Verdict::Contradicts(why) => {
                    let p = Problem::new(
                        ProblemKind::IndexProof,
                        None,
                        None,
                        format!("{subject}: {why}"),
                    );
                    if self.report.problems.len() < self.opts.max_problems {
                        self.report.problems.push(p);
                    } else {
                        self.report.problems_omitted += 1;
                    }
                }
            }
            if summary.completeness == Completeness::NoGapsEndUnproven {
                let last = summary
                    .last
                    .map_or_else(|| "none".to_owned(), |h| h.short().to_string());
                self.report.warnings.push(Warning {
                    kind: WarningKind::EndUnproven,
                    subject: Some(subject),
                    message: format!(
                        "firearm {}: {} events, no gap from its acquisition to event {last}; nothing proves {last} is its latest event{at}: newer events (a transfer, a loss, a disposal) may have been left out",
                        summary.firearm, summary.events
                    ),
                });
            }
            self.report.dossier = Some(summary);
        } else {
            let now = self
                .opts
                .now
                .or(self.meta.as_ref().map(|m| m.created_at))
                .unwrap_or_default();
            self.report.alerts = alerts(ledger.engine().state(), now, &AlertPolicy::default());
        }
        findings.append(&mut self.report.findings);
        self.report.findings = findings;
    }
}

/// The warning for a regulator excerpt the index shows to go on: how many
/// newer regulator entries exist, and why the reader cannot tell more.
impl Run<'_> {
    /// Judges each site's part of a lot dossier against the index's lot
    /// leaf (one record per site chain: its newest act on the lot and how
    /// many acts). The lot is `proven` only when every site present is; a
    /// site that never appears in the dossier is not judged (a company's
    /// dossier holds its own sites only, by design).
    fn judge_lot(&mut self, lot: &mut LotDossierSummary, n: &str, at: &str) {
        let Ok(id) = lot.lot.parse::<armsledger_core::model::LotId>() else {
            return;
        };
        let key = MapKey::lot(&id);
        let mut all_proven = !lot.sites.is_empty();
        let mut newer = None;
        for site in &mut lot.sites {
            let subject = format!("lot:{}@{}", lot.lot, site.chain);
            match self.proven.judge(
                &key,
                &[Kind::Lot],
                site.chain.as_bytes(),
                site.last,
                site.events,
            ) {
                Verdict::Unproven => all_proven = false,
                Verdict::Proven => {
                    site.completeness = Completeness::Proven {
                        basis: ProofBasis::Index,
                    };
                }
                Verdict::Newer { index, seq } => {
                    all_proven = false;
                    newer.get_or_insert((index, seq));
                    self.report.warnings.push(Warning {
                        kind: WarningKind::NewerEntriesExist,
                        subject: Some(subject),
                        message: format!(
                            "lot {} at {}: INCOMPLETE: newer entries exist (newest at log index \
                             {index}, act {seq} of the lot there): the dossier holds {} acts, \
                             the verifiable index of checkpoint {n} commits to {seq}",
                            lot.lot, site.chain, site.events
                        ),
                    });
                    site.completeness = Completeness::NewerEntriesExist {
                        newest_index: index,
                        newest_seq: seq,
                    };
                }
                Verdict::Contradicts(why) => {
                    all_proven = false;
                    let p = Problem::new(
                        ProblemKind::IndexProof,
                        None,
                        None,
                        format!("{subject}: {why}"),
                    );
                    if self.report.problems.len() < self.opts.max_problems {
                        self.report.problems.push(p);
                    } else {
                        self.report.problems_omitted += 1;
                    }
                }
            }
        }
        lot.completeness = match newer {
            Some((index, seq)) => Completeness::NewerEntriesExist {
                newest_index: index,
                newest_seq: seq,
            },
            None if all_proven => Completeness::Proven {
                basis: ProofBasis::Index,
            },
            None => Completeness::NoGapsEndUnproven,
        };
        if lot.completeness == Completeness::NoGapsEndUnproven {
            self.report.warnings.push(Warning {
                kind: WarningKind::EndUnproven,
                subject: Some(format!("lot:{}", lot.lot)),
                message: format!(
                    "lot {}: {} acts at {} sites, no gap from each site's receipt; nothing proves each site's last act is its latest{at}: newer movements may have been left out",
                    lot.lot,
                    lot.events,
                    lot.sites.len()
                ),
            });
        }
    }
}

fn excerpt_newer(chain: &str, index: u64, newest: u64, seq: u64, entries: u64) -> String {
    format!(
        "{chain}: newer entries exist (newest at log index {index}, counter {newest}): the \
         bundle holds {entries} of the chain's entries up to counter {seq} (only those its \
         reader may see); the verifiable index counts {} regulator entries after them, outside \
         that scope or left out (a key revocation, a bar): ask the server for a fresh pull",
        newest - seq
    )
}
