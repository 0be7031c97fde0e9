//! The end of a run: the chains of the scope and what is proven about each
//! being complete, the warnings a reader must see, findings and alerts.

use armsledger_core::ChainId;
use armsledger_core::rules::{AlertPolicy, alerts};

use crate::format::Scope;
use crate::report::{ChainSummary, Completeness, ProofBasis, Warning, WarningKind};

use super::Run;

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
            Scope::All | Scope::Firearm(_) => {}
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
        for c in self.chains.values_mut() {
            c.completeness = match &scope {
                Scope::All if self.full_tree_matches => Completeness::Proven {
                    basis: ProofBasis::FullLog,
                },
                Scope::Firearm(_) if c.chain != ChainId::Regulator.to_string() => {
                    Completeness::Excerpt
                }
                // The regulator entries a company or site may see: an
                // excerpt of the chain by design (need to know).
                _ if c.chain == ChainId::Regulator.to_string()
                    && c.head_counter.is_some_and(|n| c.entries < n) =>
                {
                    Completeness::Excerpt
                }
                _ => Completeness::NoGapsEndUnproven,
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
                self.report.warnings.push(Warning {
                    kind: WarningKind::EndUnproven,
                    subject: Some(c.chain.clone()),
                    message: format!(
                        "{}: {have}: {what}. Only a full bundle proves a chain complete",
                        c.chain
                    ),
                });
            }
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
        if let Some(d) = &self.dossier {
            let summary = d.summary();
            if summary.completeness == Completeness::NoGapsEndUnproven {
                let last = summary
                    .last
                    .map_or_else(|| "none".to_owned(), |h| h.short().to_string());
                self.report.warnings.push(Warning {
                    kind: WarningKind::EndUnproven,
                    subject: Some(format!("firearm:{}", summary.firearm)),
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
