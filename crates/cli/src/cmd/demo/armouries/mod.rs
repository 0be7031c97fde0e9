//! One armoury's year, day by day, through its own [`ArmouryAgent`]: every act
//! is checked by the rules before the site's device signs it. The daily
//! routine is here; the year's story (theft, seizure, transfer, refusal…)
//! is in [`story`].

mod register;
mod story;
mod trade;

pub use trade::STORY;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use anyhow::Context;
use armsledger_agents::{ArmouryAgent, OverrideSpec, Recorded, ServerClient};
use armsledger_core::event::{SiteEvent, Subject};
use armsledger_core::hash::Hash;
use armsledger_core::ids::{LocationId, PersonId, Timestamp};
use armsledger_core::model::{
    AmmoLine, Condition, CountKind, DocKind, FirearmId, FirearmType, Holder, Item, LotId,
    RoundsBack,
};
use armsledger_core::note::SealedNote;
use armsledger_core::rules::state::FirearmState;
use armsledger_device::host::Transport;
use armsledger_store::NoteClass;
use serde::Serialize;

use super::infra::DeviceFiles;
use super::world::{
    FIREARMS_PER_SITE, LOTS_PER_SITE, MISTYPED, Plan, ROUNDS_PER_LOT, Rng, SitePlan, dealer, doc,
    firearm_identity, lot_identity, p, pistol_with_serial,
};

/// Rounds issued with each pistol.
const ROUNDS_PER_ISSUE: u64 = 15;

/// An act the rules refused before signing (nothing was recorded).
#[derive(Clone, Debug, Serialize)]
pub struct Refusal {
    /// Site.
    pub site: String,
    /// Scenario time.
    pub at: String,
    /// Intended recipient.
    pub person: String,
    /// Rules that refused it.
    pub rules: Vec<String>,
    /// Evidence.
    pub detail: String,
}

/// What the site threads share.
#[derive(Default)]
pub struct Common {
    /// Entries signed so far (all chains).
    pub entries: AtomicU64,
    /// Set when a thread fails: the others stop working (but keep the calendar).
    pub abort: AtomicBool,
    /// Refused acts.
    pub refusals: Mutex<Vec<Refusal>>,
    /// Firearms that changed company, with their serials.
    pub transferred: Mutex<Vec<(FirearmId, String)>>,
    /// The firearm whose mistyped serial was corrected, with the right serial.
    pub corrected: Mutex<Option<(FirearmId, String)>>,
    /// Recorded acts by kind.
    pub kinds: Mutex<BTreeMap<String, u64>>,
    /// Overrides recorded.
    pub overrides: AtomicU64,
    /// The story's acts ([`STORY`]) recorded, by name.
    pub story: Mutex<BTreeMap<String, u64>>,
    /// Sites' acts in the regulator's story (the stolen hit, the trace
    /// answer), by the reference or kind they belong to.
    pub site_stages: Mutex<Vec<(String, super::oversight::Stage)>>,
}

impl Common {
    /// The weapon the summary traces: the first that changed company, or
    /// (with one site, where nothing is transferred) the corrected one.
    pub fn sample(&self) -> Option<(FirearmId, String)> {
        let transferred = self
            .transferred
            .lock()
            .ok()
            .and_then(|v| v.first().cloned());
        transferred.or_else(|| self.corrected.lock().ok().and_then(|c| c.clone()))
    }
}

/// What one site left behind.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Entries on the site's chain.
    pub entries: u64,
    /// Entries per firearm on this chain.
    pub per_firearm: BTreeMap<FirearmId, u64>,
}

struct OpenIssue {
    entry: Hash,
    firearm: FirearmId,
    lot: Option<LotId>,
}

/// One site's agent and its plan for the run.
pub struct ArmouryRun<'a, T> {
    plan: &'a Plan,
    sp: &'a SitePlan,
    agent: ArmouryAgent<T>,
    server: ServerClient,
    device: DeviceFiles,
    common: &'a Common,
    rng: Rng,
    lots: Vec<LotId>,
    open: Vec<OpenIssue>,
    in_maintenance: Vec<(FirearmId, u64)>,
    stolen: Option<(FirearmId, Hash)>,
    seized: Option<(FirearmId, Hash)>,
    mistyped: Option<(Hash, SiteEvent)>,
    transfer_acknowledged: bool,
    barrel_changed: bool,
    noticed: Option<FirearmId>,
    trace_answered: bool,
}

impl<'a, T: Transport> ArmouryRun<'a, T> {
    /// Wraps an enrolled site agent.
    pub fn new(
        plan: &'a Plan,
        sp: &'a SitePlan,
        agent: ArmouryAgent<T>,
        server: ServerClient,
        device: DeviceFiles,
        common: &'a Common,
    ) -> Self {
        ArmouryRun {
            plan,
            sp,
            agent,
            server,
            device,
            common,
            rng: Rng::new(plan.seed, sp.id.as_str()),
            lots: Vec::new(),
            open: Vec::new(),
            in_maintenance: Vec::new(),
            stolen: None,
            seized: None,
            mistyped: None,
            transfer_acknowledged: false,
            barrel_changed: false,
            noticed: None,
            trace_answered: false,
        }
    }

    fn n_sites(&self) -> usize {
        self.plan.sites.len()
    }

    /// The site that shows the refusal, the override and the overdue return.
    fn is_rules_site(&self) -> bool {
        self.sp.index == 1.min(self.n_sites().saturating_sub(1))
    }

    fn is_receiver(&self) -> bool {
        self.n_sites() >= 2 && self.sp.index + 1 == self.n_sites()
    }

    fn vault(&self) -> anyhow::Result<LocationId> {
        p("vault")
    }

    /// Seals a free text for an act of this site (see
    /// [`ArmouryAgent::seal`]).
    fn seal(&self, text: &str, class: NoteClass, at: Timestamp) -> anyhow::Result<SealedNote> {
        Ok(self.agent.seal(p(text)?, class, at)?)
    }

    fn record(
        &mut self,
        event: SiteEvent,
        time: Timestamp,
        exception: Option<&OverrideSpec>,
    ) -> anyhow::Result<Recorded> {
        let officer = self.sp.armourer.clone();
        let kind = event.kind().to_string();
        // The device stamps the act with its own clock: the act's time.
        self.device.set_time(time)?;
        let r = self
            .agent
            .record(&officer, event, time, exception)
            .with_context(|| format!("{} recording {kind}", self.sp.id))?;
        let n = u64::try_from(r.overrides.len()).unwrap_or(0) + 1;
        self.common.entries.fetch_add(n, Ordering::Relaxed);
        self.common.overrides.fetch_add(n - 1, Ordering::Relaxed);
        if let Ok(mut k) = self.common.kinds.lock() {
            *k.entry(kind).or_default() += 1;
        }
        Ok(r)
    }

    /// Pulls the enrolment and guards, then pushes anything unsent.
    pub fn sync(&mut self) -> anyhow::Result<()> {
        self.agent
            .sync(&self.server)
            .with_context(|| format!("{} syncing", self.sp.id))?;
        Ok(())
    }

    /// Receives the lots and acquires the firearms (site 0 also the mistyped one).
    pub fn acquire(&mut self) -> anyhow::Result<()> {
        let t = self.plan.at(0, 7, 0);
        let vault = self.vault()?;
        for k in 0..LOTS_PER_SITE {
            let identity = lot_identity(self.sp.index, k)?;
            let lot = identity.id();
            self.record(
                SiteEvent::AmmunitionReceived {
                    lot,
                    identity,
                    rounds: ROUNDS_PER_LOT,
                    source: dealer()?,
                    authorisation: Some(doc(
                        DocKind::AcquisitionPermit,
                        &format!("AP-A-{}-{k:02}", self.sp.index + 1),
                    )?),
                    location: vault.clone(),
                },
                t,
                None,
            )?;
            self.lots.push(lot);
        }
        for n in 0..FIREARMS_PER_SITE {
            let identity = firearm_identity(self.sp.index, n)?;
            self.record(
                SiteEvent::FirearmAcquired {
                    firearm: identity.id(),
                    identity,
                    source: dealer()?,
                    authorisation: doc(
                        DocKind::AcquisitionPermit,
                        &format!("AP-F-{}-{n:03}", self.sp.index + 1),
                    )?,
                    location: if n % 2 == 0 {
                        vault.clone()
                    } else {
                        p("rack-1")?
                    },
                },
                t.plus(u64::try_from(n).unwrap_or(0) * 1000),
                None,
            )?;
        }
        if self.sp.index == 0 {
            let identity = pistol_with_serial(MISTYPED.1)?;
            let event = SiteEvent::FirearmAcquired {
                firearm: identity.id(),
                identity,
                source: dealer()?,
                authorisation: doc(DocKind::AcquisitionPermit, "AP-F-1-917")?,
                location: vault,
            };
            let r = self.record(event.clone(), t.plus(Timestamp::HOUR), None)?;
            self.mistyped = Some((r.act.hash(), event));
        }
        Ok(())
    }

    /// A firearm's serial as this site's ledger holds it.
    fn serial_of(&self, f: FirearmId) -> anyhow::Result<String> {
        self.agent
            .verifier()
            .engine()
            .state()
            .firearms
            .get(&f)
            .map(|r| r.identity.serial.to_string())
            .with_context(|| format!("{}: no firearm {f}", self.sp.id))
    }

    fn in_store(&self, kind: Option<FirearmType>) -> Vec<(FirearmId, LocationId)> {
        let st = self.agent.verifier().engine().state();
        st.firearms_at(&self.sp.id)
            .filter(|r| kind.is_none_or(|k| r.identity.kind == k))
            .filter_map(|r| match &r.state {
                FirearmState::InStore { location } => Some((r.id, location.clone())),
                _ => None,
            })
            .collect()
    }

    fn pick_firearm(&mut self, kind: FirearmType) -> anyhow::Result<(FirearmId, LocationId)> {
        let all = self.in_store(Some(kind));
        let i = self.rng.below(all.len());
        all.get(i)
            .cloned()
            .with_context(|| format!("{}: no {kind:?} in store", self.sp.id))
    }

    fn pick_lot(&mut self, rounds: u64) -> anyhow::Result<LotId> {
        let st = self.agent.verifier().engine().state();
        let vault = Holder::Store(self.vault()?);
        let start = self.rng.below(self.lots.len());
        let n = self.lots.len();
        (0..n)
            .filter_map(|k| self.lots.get((start + k) % n))
            .find(|lot| {
                st.balance(&self.sp.id, lot, &vault) >= i64::try_from(rounds).unwrap_or(i64::MAX)
            })
            .copied()
            .with_context(|| format!("{}: out of 9mm rounds", self.sp.id))
    }

    /// A guard for regular duty (not one whose qualification lapses, nor one
    /// of the counters, witnesses or the special cases), not already holding.
    fn pick_guard(&mut self) -> anyhow::Result<PersonId> {
        let busy: Vec<PersonId> = self
            .agent
            .verifier()
            .engine()
            .state()
            .open_issues
            .values()
            .map(|i| i.to.clone())
            .collect();
        let pool: Vec<&PersonId> = self
            .sp
            .guards
            .iter()
            .skip(10)
            .map(|g| &g.id)
            .filter(|g| !busy.contains(g))
            .collect();
        let i = self.rng.below(pool.len());
        pool.get(i)
            .map(|g| (*g).clone())
            .with_context(|| format!("{}: no guard free", self.sp.id))
    }

    fn guard(&self, i: usize) -> anyhow::Result<PersonId> {
        self.sp
            .guards
            .get(i)
            .map(|g| g.id.clone())
            .with_context(|| format!("{}: no guard {i}", self.sp.id))
    }

    fn issue_event(
        &mut self,
        firearm: FirearmId,
        to: &PersonId,
        at: Timestamp,
        due_back: Timestamp,
        rounds: Option<LotId>,
    ) -> anyhow::Result<SiteEvent> {
        Ok(SiteEvent::Issued {
            firearm,
            to: to.clone(),
            purpose: self.seal("armed guarding, day shift", NoteClass::Operational, at)?,
            post: p(&format!("post-{}", 1 + self.rng.below(6)))?,
            due_back,
            reliance: self.agent.reliance_at(to, &firearm, at)?,
            ammunition: rounds
                .map(|lot| AmmoLine {
                    lot,
                    rounds: ROUNDS_PER_ISSUE,
                })
                .into_iter()
                .collect(),
            ammunition_from: match rounds {
                Some(_) => Some(self.vault()?),
                None => None,
            },
        })
    }

    fn issue(&mut self, t: Timestamp, due_back: Timestamp) -> anyhow::Result<OpenIssue> {
        let (firearm, _) = self.pick_firearm(FirearmType::Pistol)?;
        let to = self.pick_guard()?;
        let lot = self.pick_lot(ROUNDS_PER_ISSUE)?;
        let ev = self.issue_event(firearm, &to, t, due_back, Some(lot))?;
        let r = self.record(ev, t, None)?;
        Ok(OpenIssue {
            entry: r.act.hash(),
            firearm,
            lot: Some(lot),
        })
    }

    fn give_back(&mut self, i: &OpenIssue, t: Timestamp) -> anyhow::Result<()> {
        let expended = if self.rng.chance(1, 12) {
            1 + self.rng.below(3)
        } else {
            0
        };
        let expended = u64::try_from(expended).unwrap_or(0);
        // Rounds fired on duty come back with the incident report's number.
        let incident = if expended > 0 {
            Some(p(&format!(
                "INC-{}-{}",
                self.sp.index + 1,
                t.0 / Timestamp::HOUR
            ))?)
        } else {
            None
        };
        let ev = SiteEvent::Returned {
            incident,
            issue: i.entry,
            firearm: i.firearm,
            condition: if expended > 0 {
                Condition::NeedsCleaning
            } else {
                Condition::Serviceable
            },
            ammunition: i
                .lot
                .map(|lot| RoundsBack {
                    lot,
                    returned: ROUNDS_PER_ISSUE - expended,
                    expended,
                })
                .into_iter()
                .collect(),
            location: self.vault()?,
        };
        self.record(ev, t, None)?;
        Ok(())
    }

    /// One day of operations.
    pub fn day(&mut self, d: u64) -> anyhow::Result<()> {
        let plan = self.plan;
        let last = d + 1 == plan.days;
        if d > 0 && d.is_multiple_of(4) {
            self.sync()?;
        }
        self.specials_morning(d)?;
        // The day shift: one or two pistols with rounds.
        let shift = 1 + u64::from(self.rng.chance(1, 3));
        for k in 0..shift {
            let i = self.issue(plan.at(d, 6, k), plan.at(d, 18, 30))?;
            self.open.push(i);
        }
        if last && self.is_rules_site() {
            // Issued on the last morning and never brought back.
            self.issue(plan.at(d, 6, 30), plan.at(d, 16, 0))?;
        }
        if d % 7 == 3 {
            self.range_training(d)?;
        }
        if d % 5 == 2 {
            self.storage_move(plan.at(d, 11, 0))?;
        }
        if d % 20 == 4 {
            let (f, _) = self.pick_firearm(FirearmType::Pistol)?;
            self.record(
                SiteEvent::MaintenanceOut {
                    kind: armsledger_core::model::MaintenanceKind::Repair,
                    firearm: f,
                    provider: p("Gunsmith Services Ltd")?,
                    reason: self.seal(
                        "annual inspection",
                        NoteClass::Operational,
                        plan.at(d, 9, 0),
                    )?,
                },
                plan.at(d, 9, 0),
                None,
            )?;
            self.in_maintenance.push((f, d + 3));
        }
        let back: Vec<FirearmId> = self
            .in_maintenance
            .iter()
            .filter(|(_, day)| *day <= d)
            .map(|(f, _)| *f)
            .collect();
        for f in back {
            if !self.barrel_changed {
                self.change_barrel(f, plan.at(d, 9, 10))?;
                self.barrel_changed = true;
            }
            self.record(
                SiteEvent::MaintenanceIn {
                    firearm: f,
                    condition: Condition::Serviceable,
                    work: self.seal(
                        "inspected; recoil spring replaced",
                        NoteClass::Operational,
                        plan.at(d, 9, 30),
                    )?,
                    location: self.vault()?,
                },
                plan.at(d, 9, 30),
                None,
            )?;
            self.in_maintenance.retain(|(g, _)| *g != f);
        }
        let open = std::mem::take(&mut self.open);
        for (k, i) in open.iter().enumerate() {
            self.give_back(i, plan.at(d, 18, u64::try_from(k).unwrap_or(0)))?;
        }
        if d.is_multiple_of(30) {
            self.count(d)?;
        }
        Ok(())
    }

    fn range_training(&mut self, d: u64) -> anyhow::Result<()> {
        let to = self.pick_guard()?;
        let lot = self.pick_lot(50)?;
        let from: LocationId = self.vault()?;
        let r = self.record(
            SiteEvent::AmmunitionIssued {
                to,
                lines: vec![AmmoLine { lot, rounds: 50 }],
                from: from.clone(),
                purpose: self.seal(
                    "range training, 25 m qualification shoot",
                    NoteClass::Operational,
                    self.plan.at(d, 10, 0),
                )?,
                due_back: self.plan.at(d, 15, 0),
            },
            self.plan.at(d, 10, 0),
            None,
        )?;
        self.record(
            SiteEvent::AmmunitionReturned {
                issue: r.act.hash(),
                lines: vec![RoundsBack {
                    lot,
                    returned: 10,
                    expended: 40,
                }],
                to: from,
            },
            self.plan.at(d, 13, 0),
            None,
        )?;
        Ok(())
    }

    fn storage_move(&mut self, t: Timestamp) -> anyhow::Result<()> {
        let (f, from) = self.pick_firearm(FirearmType::Pistol)?;
        let to: LocationId = if from.as_str() == "vault" {
            p("rack-1")?
        } else {
            p("vault")?
        };
        self.record(
            SiteEvent::StorageMoved {
                item: Item::Firearm(f),
                from,
                to,
            },
            t,
            None,
        )?;
        Ok(())
    }

    /// A serial-number count by two guards, in parts of 60 firearms.
    fn count(&mut self, d: u64) -> anyhow::Result<()> {
        let seen: Vec<FirearmId> = self.in_store(None).into_iter().map(|(f, _)| f).collect();
        let st = self.agent.verifier().engine().state();
        let rounds: Vec<AmmoLine> = self
            .lots
            .iter()
            .map(|lot| AmmoLine {
                lot: *lot,
                rounds: u64::try_from(st.in_store(&self.sp.id, lot)).unwrap_or(0),
            })
            .collect();
        let chunks: Vec<&[FirearmId]> = seen.chunks(60).collect();
        let parts = u16::try_from(chunks.len().max(1)).unwrap_or(u16::MAX);
        // The two counters take turns leading the count.
        let counters = if (d / 30).is_multiple_of(2) {
            vec![self.guard(4)?, self.guard(5)?]
        } else {
            vec![self.guard(5)?, self.guard(4)?]
        };
        self.open_armoury(self.plan.at(d, 19, 50))?;
        for (k, chunk) in chunks.iter().enumerate() {
            let part = u16::try_from(k + 1).unwrap_or(u16::MAX);
            self.record(
                SiteEvent::CountPerformed {
                    locations: vec![],
                    session: p(&format!("CNT-{}-{d:03}", self.sp.index + 1))?,
                    kind: CountKind::SerialNumber,
                    part,
                    parts,
                    counters: counters.clone(),
                    firearms_seen: chunk.to_vec(),
                    rounds_seen: if k == 0 { rounds.clone() } else { Vec::new() },
                },
                self.plan.at(d, 20, u64::from(part)),
                None,
            )?;
        }
        self.close_armoury(self.plan.at(d, 21, 0))
    }

    /// Final sync, and the chain's entries per firearm.
    pub fn finish(mut self) -> anyhow::Result<Outcome> {
        self.sync()?;
        let mut out = Outcome::default();
        for e in self.agent.ledger().entries_from(1, usize::MAX)? {
            out.entries += 1;
            // What a trace shows: entries linking the weapon, and counts that saw it.
            let mut named: Vec<FirearmId> = e
                .body()
                .links
                .iter()
                .filter_map(|l| match l.subject {
                    Subject::Firearm(f) => Some(f),
                    _ => None,
                })
                .collect();
            if let armsledger_core::event::Event::Site(SiteEvent::CountPerformed {
                firearms_seen,
                ..
            }) = &e.body().event
            {
                named.extend(firearms_seen.iter().copied());
            }
            named.sort();
            named.dedup();
            for f in named {
                *out.per_firearm.entry(f).or_default() += 1;
            }
        }
        Ok(out)
    }
}
