//! A generator of valid signed logs, fast: the testkit's standard world,
//! sites with enrolled device keys and acquired pistols (signed through
//! `Scenario`), then storage moves whose headers are chained sequentially
//! (cheap hashing) and signed in parallel, in chunks, so a 10M-entry log
//! never has to sit in memory at once. The same construction as the bundle
//! crate's verify bench.

use std::collections::HashMap;
use std::sync::Arc;

use rayon::prelude::*;

use armsledger_core::entry::{EntryBody, EntryHeader, Link};
use armsledger_core::event::{Event, SiteEvent};
use armsledger_core::ids::{SiteId, Timestamp};
use armsledger_core::model::{FirearmId, Item};
use armsledger_core::sig::Statement as _;
use armsledger_core::testkit::{Scenario, SoftSigner, loc, v};
use armsledger_core::{Hash, SignedEntry, Subject};

/// When the fills receive entry `index` of their log, in milliseconds:
/// `t0` plus one millisecond per entry, and never before the device signed it (a
/// healthy fleet's clocks: no entry raises a clock finding). The setup's
/// acquisitions advance the scenario's clock faster than one millisecond
/// each, so at 20,000 pistols the device clocks ran minutes ahead of
/// `t0 + index`, and every entry of the log raised two clock findings
/// (`device-clock-ahead`, `recorded-in-time`: about 370 B of snapshot and
/// most of the server's memory per entry, docs/performance.md section 9).
pub fn received_ms(t0: u64, index: usize, entry: &SignedEntry) -> u64 {
    let paced = t0.saturating_add(u64::try_from(index).unwrap_or(u64::MAX));
    paced.max(entry.header().device_time.0)
}

/// A world whose log grows by storage moves.
pub struct World {
    /// The setup entries (regulator chain, registrations, acquisitions).
    pub setup: Vec<Arc<SignedEntry>>,
    /// The regulator's public key.
    pub regulator: [u8; 32],
    /// Every pistol, with its site and whether it is in the rack.
    pub guns: Vec<(usize, FirearmId, bool)>,
    signers: Vec<SoftSigner>,
    sites: Vec<SiteId>,
    latest: HashMap<FirearmId, Hash>,
    time: Timestamp,
    next: usize,
}

impl World {
    /// `sites` sites of `guns_per_site` pistols each.
    pub fn new(sites: usize, guns_per_site: usize) -> anyhow::Result<Self> {
        let mut s = Scenario::standard();
        let ids: Vec<SiteId> = (0..sites).map(|i| v(&format!("site-{i}"))).collect();
        for (i, site) in ids.iter().enumerate() {
            s.company_with_site(&format!("co-{i}"), site.as_str());
        }
        let mut guns = Vec::new();
        for (i, site) in ids.iter().enumerate() {
            for g in 0..guns_per_site {
                let (id, _) = s.acquire(site.as_str(), &format!("S{i}-{g:07}"));
                guns.push((i, id, false));
            }
        }
        let mut latest = HashMap::new();
        for e in &s.log {
            for l in &e.body().links {
                if let Subject::Firearm(f) = l.subject {
                    latest.insert(f, e.hash());
                }
            }
        }
        let signers = ids
            .iter()
            .map(|site| {
                s.sites
                    .get(site)
                    .cloned()
                    .ok_or_else(|| anyhow::anyhow!("no signer for {site}"))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(World {
            regulator: s.regulator_key(),
            time: s.now,
            setup: s.log,
            guns,
            signers,
            sites: ids,
            latest,
            next: 0,
        })
    }

    /// The next entry of `target`'s site: a correction of `target` (a site
    /// act of this world) putting the same act in its place. The rules
    /// refold their state for it as for any correction (the restart
    /// scenario's refold figures).
    pub fn correct(&mut self, target: &SignedEntry) -> anyhow::Result<Arc<SignedEntry>> {
        let chain = &target.header().chain;
        let site = self
            .sites
            .iter()
            .position(|s| *chain == armsledger_core::ChainId::Site(s.clone()))
            .ok_or_else(|| anyhow::anyhow!("{chain:?} is not a site of this world"))?;
        let Event::Site(act) = &target.body().event else {
            anyhow::bail!("{} is not a site act", target.hash());
        };
        let event = Event::Site(SiteEvent::Corrected {
            supersedes: target.hash(),
            reason: armsledger_core::testkit::note("bench: a correction"),
            approver: Some(v("armourer-2")),
            corrected: Box::new(act.clone()),
        });
        // It continues the history of every subject it touches.
        let links = event
            .subjects()
            .into_iter()
            .map(|subject| Link {
                prev: match &subject {
                    Subject::Firearm(f) => self.latest.get(f).copied(),
                    _ => None,
                },
                subject,
            })
            .collect::<Vec<_>>();
        let body = EntryBody {
            format: Default::default(),
            occurred_at: self.time,
            officer: v("armourer-1"),
            links,
            event,
        };
        let signer = &mut self.signers[site];
        let header = signer.next_header(body.hash()?, self.time, 0);
        let hash = header.entry_hash()?;
        signer.head = (header.counter, hash);
        for l in &body.links {
            if let Subject::Firearm(f) = l.subject {
                self.latest.insert(f, hash);
            }
        }
        self.time = self.time.plus(1);
        let sig = header.sign(signer.signing_key())?;
        Ok(Arc::new(SignedEntry::assemble(header, sig, body)?))
    }

    /// The next `n` entries: storage moves, round-robin over the pistols.
    pub fn moves(&mut self, n: usize) -> anyhow::Result<Vec<Arc<SignedEntry>>> {
        let mut unsigned: Vec<(usize, EntryHeader, EntryBody)> = Vec::with_capacity(n);
        for _ in 0..n {
            let slot = self.next % self.guns.len();
            self.next += 1;
            let (site, gun, in_rack) = self.guns[slot];
            let (from, to) = if in_rack {
                ("rack-1", "vault")
            } else {
                ("vault", "rack-1")
            };
            self.guns[slot].2 = !in_rack;
            let body = EntryBody {
                format: Default::default(),
                occurred_at: self.time,
                officer: v("armourer-1"),
                links: vec![Link {
                    subject: Subject::Firearm(gun),
                    prev: self.latest.get(&gun).copied(),
                }],
                event: Event::Site(SiteEvent::StorageMoved {
                    item: Item::Firearm(gun),
                    from: loc(from),
                    to: loc(to),
                }),
            };
            let signer = &mut self.signers[site];
            let header = signer.next_header(body.hash()?, self.time, 0);
            let hash = header.entry_hash()?;
            signer.head = (header.counter, hash);
            self.latest.insert(gun, hash);
            // One millisecond per act, the pace the fills receive them at
            // ([`received_ms`]).
            self.time = self.time.plus(1);
            unsigned.push((site, header, body));
        }
        let signers = &self.signers;
        unsigned
            .into_par_iter()
            .map(|(site, header, body)| {
                let sig = header.sign(signers[site].signing_key())?;
                Ok(Arc::new(SignedEntry::assemble(header, sig, body)?))
            })
            .collect()
    }
}
