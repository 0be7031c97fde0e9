//! The armoury's agent: one site directory, one device, one ledger. Every act
//! is checked by the rules engine before the device signs it, written ahead
//! of the signature, and committed with it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use armsledger_core::LedgerVerifier;
use armsledger_core::entry::{ChainId, EntryBody, Link, SignedEntry};
use armsledger_core::event::{Event, SiteEvent};
use armsledger_core::ids::{Ident, Name, PersonId, SiteId, Text, Timestamp};
use armsledger_core::model::{
    FirearmId, LotId, Permit, Qualification, Reliance, Validity, normalise,
};
use armsledger_core::note::{NoteOpening, SealedNote};
use armsledger_core::rules::state::FirearmRecord;
use armsledger_core::rules::{Finding, RuleId, View, Violation};
use armsledger_device::host::{DeviceClient, Transport};
use armsledger_store::{ArmouryLedger, DeviceKey, NoteClass, NoteRecord, Recovery};

use crate::config::{self, ArmouryConfig, files};
use crate::error::AgentError;

mod status;
mod sync;

pub use status::{ArmouryStatus, IssueLine};
pub use sync::SyncReport;

/// A supervised exception to a hard rule: why, and who authorised it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OverrideSpec {
    /// Why the rule is set aside.
    pub reason: Text,
    /// The second person authorising it (not the acting officer).
    pub authoriser: PersonId,
}

/// What [`ArmouryAgent::record`] wrote, in chain order: any override entries,
/// then the act.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// Override entries (one per rule set aside).
    pub overrides: Vec<SignedEntry>,
    /// The act.
    pub act: SignedEntry,
    /// The violations the overrides cover.
    pub overridden: Vec<Violation>,
    /// Findings the verifier raised when folding the act (evidence, not
    /// refusal: e.g. the device's clock puts it past a validity the
    /// officer's `time` was within).
    pub findings: Vec<Finding>,
}

/// An armoury's agent over a device reached through `T`.
pub struct ArmouryAgent<T> {
    dir: PathBuf,
    config: ArmouryConfig,
    site: SiteId,
    regulator_key: [u8; 32],
    roots: Vec<[u8; 32]>,
    ledger: ArmouryLedger,
    device: DeviceClient<T>,
    verifier: LedgerVerifier,
    key: DeviceKey,
    enrolled: bool,
    recovery: Recovery,
}

impl ArmouryAgent<Box<dyn Transport>> {
    /// Opens `dir`, connecting to the device its `site.toml` names.
    pub fn open_dir(dir: &Path) -> Result<Self, AgentError> {
        ArmouryAgent::open(dir, config::connect_dir::<ArmouryConfig>(dir)?)
    }
}

impl<T: Transport> ArmouryAgent<T> {
    /// Creates a site directory for an enrolled device and opens it.
    pub fn init(
        dir: &Path,
        config: ArmouryConfig,
        mut device: DeviceClient<T>,
    ) -> Result<Self, AgentError> {
        let site: SiteId = config
            .site
            .parse()
            .map_err(|e| AgentError::Input(format!("site id: {e}")))?;
        config::parse_key(&config.regulator_key, "regulator key")?;
        if dir.join(files::SITE_TOML).exists() {
            return Err(AgentError::Config(format!(
                "{} already holds a site; open it instead",
                dir.display()
            )));
        }
        let info = device.info()?;
        if info.chain != Some(ChainId::Site(site.clone())) {
            return Err(AgentError::Config(format!(
                "device {} serves {}, not site:{site}; the regulator enrols it for this site first",
                info.device,
                info.chain.map_or("no chain".to_string(), |c| c.to_string())
            )));
        }
        let key = info.key.ok_or_else(|| AgentError::NotEnrolled {
            device: info.device.to_string(),
            key_epoch: 0,
        })?;
        std::fs::create_dir_all(dir)
            .map_err(|e| AgentError::Config(format!("cannot create {}: {e}", dir.display())))?;
        let dk = DeviceKey {
            device: info.device,
            key_epoch: key.key_epoch,
            public_key: key.public_key,
        };
        ArmouryLedger::create(dir.join(files::SITE_REDB), &site, &config.device, &dk)?;
        config::save(&dir.join(files::SITE_TOML), &config)?;
        ArmouryAgent::open(dir, device)
    }

    /// Opens a site directory: reads the ledger, brings it in line with the
    /// device after a crash, and rebuilds the verifier.
    pub fn open(dir: &Path, mut device: DeviceClient<T>) -> Result<Self, AgentError> {
        let config: ArmouryConfig = config::load_settings(dir)?;
        let (regulator_key, roots) = config::trust_roots(&config)?;
        let ledger = ArmouryLedger::open(dir.join(files::SITE_REDB))?;
        let site = ledger.site().clone();
        let last = device.last_receipt()?;
        let recovery = ledger.recover(last.receipt.map(|r| (r.header, r.signature)))?;
        let key = ledger.device_key()?;
        let mut agent = ArmouryAgent {
            dir: dir.to_path_buf(),
            config,
            site,
            regulator_key,
            roots,
            ledger,
            device,
            verifier: LedgerVerifier::new(regulator_key, Vec::new(), View::Corrected),
            key,
            enrolled: false,
            recovery,
        };
        agent.rebuild()?;
        Ok(agent)
    }

    /// Seals `text` for an entry this site is about to sign: a fresh salt,
    /// the opening kept in the site's note store (before the entry is
    /// signed), and the commitment returned for the event. `sync` sends the
    /// opening to the server beside the entry that carries it.
    pub fn seal(
        &self,
        text: Text,
        class: NoteClass,
        now: Timestamp,
    ) -> Result<SealedNote, AgentError> {
        let opening = NoteOpening::random(text);
        let note = opening.seal();
        self.ledger
            .put_note(&NoteRecord::new(opening, class, now))?;
        Ok(note)
    }

    /// Rebuilds the verifier from the ledger: regulator chain, inbox, own chain.
    fn rebuild(&mut self) -> Result<(), AgentError> {
        let verify = |e: armsledger_core::ChainError| AgentError::Verify(e.to_string());
        let mut v = LedgerVerifier::new(self.regulator_key, self.roots.clone(), View::Corrected);
        // The site holds the regulator entries in its scope, not the whole
        // chain: each is checked by its signature (its inclusion proof was
        // checked at the pull), not by its position.
        for e in self.ledger.regulator_entries_from(1, usize::MAX)? {
            v.ingest_scoped(Arc::new(e), None).map_err(verify)?;
        }
        self.enrolled = v
            .keys()
            .record(&self.site, &self.key.device, self.key.key_epoch)
            .is_some_and(|k| k.public_key == self.key.public_key);
        for e in self.ledger.inbox()? {
            v.ingest_foreign(Arc::new(e), None).map_err(verify)?;
        }
        if self.enrolled {
            for e in self.ledger.entries_from(1, usize::MAX)? {
                v.ingest(Arc::new(e), None).map_err(verify)?;
            }
        }
        // The bar list applies to acts from now on; the server, which holds
        // the bars themselves, judges the past.
        v.set_bars(self.ledger.bars()?);
        self.verifier = v;
        Ok(())
    }

    /// The site id.
    pub fn site(&self) -> &SiteId {
        &self.site
    }

    /// The directory's settings.
    pub fn config(&self) -> &ArmouryConfig {
        &self.config
    }

    /// The ledger.
    pub fn ledger(&self) -> &ArmouryLedger {
        &self.ledger
    }

    /// The verifier folded from everything held here.
    pub fn verifier(&self) -> &LedgerVerifier {
        &self.verifier
    }

    /// What recovery did when the directory was opened.
    pub fn recovery(&self) -> &Recovery {
        &self.recovery
    }

    /// The device client.
    pub fn device_mut(&mut self) -> &mut DeviceClient<T> {
        &mut self.device
    }

    /// Adds regulator entries obtained another way (a file carried from the
    /// regulator, a test) and refolds; the same checks as at sync apply.
    pub fn import_regulator_entries(&mut self, entries: &[SignedEntry]) -> Result<u64, AgentError> {
        let cursor = self
            .ledger
            .add_regulator_entries(entries, &self.regulator_key)?;
        self.rebuild()?;
        Ok(cursor)
    }

    /// What an issue to `person` of `firearm` relies on: the person's officer
    /// licence, the permit covering the weapon's category (or any), and the
    /// qualification for its type (or any), as the regulator chain held here
    /// shows them; the latest recorded of each. Missing parts are left blank
    /// for the rules to report.
    pub fn reliance_for(
        &self,
        person: &PersonId,
        firearm: &FirearmId,
    ) -> Result<Reliance, AgentError> {
        self.reliance(person, firearm, None)
    }

    /// Like [`Self::reliance_for`], for an act at `at`: of a person's
    /// permits and qualifications, the one valid at `at` is relied on, so a
    /// renewal recorded in advance is not named before it starts, nor the
    /// lapsed one after it.
    pub fn reliance_at(
        &self,
        person: &PersonId,
        firearm: &FirearmId,
        at: Timestamp,
    ) -> Result<Reliance, AgentError> {
        self.reliance(person, firearm, Some(at))
    }

    fn reliance(
        &self,
        person: &PersonId,
        firearm: &FirearmId,
        at: Option<Timestamp>,
    ) -> Result<Reliance, AgentError> {
        let state = self.verifier.engine().state();
        let weapon = state.firearms.get(firearm).map(|f| &f.identity);
        let p = state.persons.get(person);
        let current = |v: &Validity| at.is_none_or(|t| v.covers(t));
        let licence = p.and_then(|p| p.licence.as_ref()).map(|l| l.number.clone());
        let permit = p.and_then(|p| {
            let fits = |x: &&Permit| weapon.is_none_or(|w| x.categories.contains(&w.category));
            let by_time = p.permits.iter().rev().filter(|x| current(&x.valid));
            by_time
                .clone()
                .find(fits)
                .or(p.permits.iter().rev().find(fits))
                .or(by_time.clone().next())
                .or(p.permits.last())
                .map(|x| x.number.clone())
        });
        let qualification = p.and_then(|p| {
            let fits = |q: &&Qualification| weapon.is_none_or(|w| q.weapon == w.kind);
            let by_time = p.qualifications.iter().rev().filter(|q| current(&q.valid));
            by_time
                .clone()
                .find(fits)
                .or(p.qualifications.iter().rev().find(fits))
                .or(by_time.clone().next())
                .or(p.qualifications.last())
                .map(|q| q.id.clone())
        });
        let missing = || AgentError::Input("placeholder".into());
        Ok(Reliance {
            licence: licence.map_or_else(|| "none".parse::<Name>().map_err(|_| missing()), Ok)?,
            permit: permit.map_or_else(|| "none".parse::<Name>().map_err(|_| missing()), Ok)?,
            qualification: qualification
                .map_or_else(|| "none".parse::<Ident>().map_err(|_| missing()), Ok)?,
        })
    }

    /// Firearms held on this site's ledger whose serial matches `serial`
    /// (case, spaces, dashes, dots and slashes ignored).
    pub fn firearms_by_serial(&self, serial: &str) -> Vec<&FirearmRecord> {
        self.verifier
            .engine()
            .state()
            .find_serial(serial)
            .filter(|f| f.site == self.site)
            .collect()
    }

    /// Ammunition lots known here whose lot number matches `number`.
    pub fn lots_by_number(&self, number: &str) -> Vec<LotId> {
        let key = normalise(number);
        self.verifier
            .engine()
            .state()
            .lots
            .iter()
            .filter(|(_, l)| normalise(l.lot_number.as_str()) == key)
            .map(|(id, _)| *id)
            .collect()
    }

    /// Judges an act without recording it.
    pub fn check(&self, officer: &PersonId, event: &SiteEvent, time: Timestamp) -> Vec<Violation> {
        self.verifier
            .engine()
            .check(&self.site, officer, time, event)
    }

    /// The links `event` must carry now.
    pub fn links(&self, event: &SiteEvent) -> Vec<Link> {
        event
            .subjects()
            .into_iter()
            .map(|s| Link {
                subject: s,
                prev: self.verifier.tracker().latest(&self.site, &s),
            })
            .collect()
    }

    /// Records an act by `officer` that occurred at `time`, now (the
    /// rules' time; the device stamps its own). Refused with the violations
    /// unless `exception` is given, in which case an `Overridden` entry per
    /// broken rule comes first.
    pub fn record(
        &mut self,
        officer: &PersonId,
        event: SiteEvent,
        time: Timestamp,
        exception: Option<&OverrideSpec>,
    ) -> Result<Recorded, AgentError> {
        self.record_at(officer, event, time, time, exception)
    }

    /// Records an act by `officer` that occurred at `occurred_at` (entered
    /// by the officer, signed in the body) and is recorded at `now`: judged
    /// at `occurred_at`, and late if `now` is past the regulator's window.
    pub fn record_at(
        &mut self,
        officer: &PersonId,
        event: SiteEvent,
        occurred_at: Timestamp,
        now: Timestamp,
        exception: Option<&OverrideSpec>,
    ) -> Result<Recorded, AgentError> {
        if !self.enrolled {
            return Err(AgentError::NotEnrolled {
                device: self.key.device.to_string(),
                key_epoch: self.key.key_epoch,
            });
        }
        let violations =
            self.verifier
                .engine()
                .check_at(&self.site, officer, occurred_at, now, &event);
        let body = EntryBody::new(
            officer.clone(),
            occurred_at,
            self.links(&event),
            Event::Site(event),
        );
        let mut overrides = Vec::new();
        if !violations.is_empty() {
            let Some(spec) = exception else {
                return Err(AgentError::Refused { violations });
            };
            let act = body
                .hash()
                .map_err(|e| AgentError::Input(format!("encoding the act: {e}")))?;
            let mut rules: Vec<RuleId> = violations.iter().map(|v| v.rule).collect();
            rules.sort();
            rules.dedup();
            let reason = self.seal(spec.reason.clone(), NoteClass::Person, now)?;
            let events: Vec<SiteEvent> = rules
                .into_iter()
                .map(|rule| SiteEvent::Overridden {
                    rule,
                    reason,
                    authoriser: spec.authoriser.clone(),
                    act,
                })
                .collect();
            for ev in &events {
                let v = self.check(officer, ev, now);
                if !v.is_empty() {
                    return Err(AgentError::Refused { violations: v });
                }
            }
            for ev in events {
                let (entry, _) = self.append(EntryBody::new(
                    officer.clone(),
                    now,
                    Vec::new(),
                    Event::Site(ev),
                ))?;
                overrides.push(entry);
            }
        }
        let (act, findings) = self.append(body)?;
        Ok(Recorded {
            overrides,
            act,
            overridden: violations,
            findings,
        })
    }

    /// Write-ahead intent, device signature, commit, fold.
    fn append(&mut self, body: EntryBody) -> Result<(SignedEntry, Vec<Finding>), AgentError> {
        let req = self.ledger.prepare(&body)?;
        let receipt = match self
            .device
            .sign_entry(req.chain, req.prev_hash, req.body_hash)
        {
            Ok(r) => r,
            Err(e) => {
                // Drop the intent the device never signed, or complete it
                // if it did and only the reply was lost.
                if let Ok(last) = self.device.last_receipt()
                    && let Ok(Recovery::Completed(entry)) = self
                        .ledger
                        .recover(last.receipt.map(|r| (r.header, r.signature)))
                {
                    self.verifier
                        .ingest(Arc::new(*entry), None)
                        .map_err(|e| AgentError::Verify(e.to_string()))?;
                }
                return Err(e.into());
            }
        };
        let entry = self
            .ledger
            .commit_signed(receipt.header, receipt.signature)?;
        let findings = self
            .verifier
            .ingest(Arc::new(entry.clone()), None)
            .map_err(|e| AgentError::Verify(e.to_string()))?
            .to_vec();
        Ok((entry, findings))
    }
}
