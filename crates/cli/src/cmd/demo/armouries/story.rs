//! The year's story at an armoury, beside the daily routine: a serial
//! corrected, a theft and its recovery, a seizure, a destruction, a transfer
//! between companies, an issue refused and one made under an override; the
//! register acts are in [`super::register`].

use anyhow::{Context, bail};
use armsledger_agents::{AgentError, OverrideSpec};
use armsledger_core::entry::ChainId;
use armsledger_core::event::{EntryRef, SiteEvent};
use armsledger_core::ids::Timestamp;
use armsledger_core::model::{Condition, DisposalMethod, DocKind, FirearmType, Item, LossKind};
use armsledger_device::host::Transport;
use armsledger_store::NoteClass;

use super::super::world::{MISTYPED, doc, p, pistol_with_serial};
use super::{ArmouryRun, OpenIssue, ROUNDS_PER_ISSUE, Refusal};

impl<T: Transport> ArmouryRun<'_, T> {
    pub(super) fn specials_morning(&mut self, d: u64) -> anyhow::Result<()> {
        let plan = self.plan;
        if self.sp.index == 0 {
            if d == 1 {
                self.correct_serial(plan.at(d, 8, 0))?;
            }
            if d == plan.day_of(3) {
                self.theft(d)?;
            }
            if d == plan.day_of(6) {
                self.recover(plan.at(d, 10, 0))?;
            }
            if d == plan.day_of(5) {
                self.destroy(plan.at(d, 14, 0))?;
            }
            if d == plan.day_of(7) {
                self.issue_after_renewal(d)?;
                self.seize(plan.at(d, 11, 0))?;
            }
            if d == plan.day_of(9) {
                self.sell_to_dealer(plan.at(d, 12, 0))?;
                self.hand_over_key(plan.at(d, 17, 0))?;
            }
            if d == plan.day_of(8) {
                self.seizure_returned(plan.at(d, 16, 0))?;
            }
            if self.n_sites() >= 2 && d == plan.day_of(4) {
                self.transfer_out(plan.at(d, 8, 0))?;
            }
        }
        if self.is_receiver() && !self.transfer_acknowledged && d > plan.day_of(4) {
            self.transfer_in(plan.at(d, 9, 0))?;
        }
        if self.is_rules_site() && d == plan.day_of(5) {
            self.refused_issue(plan.at(d, 7, 30))?;
            self.override_issue(plan.at(d, 8, 30), plan.at(d, 18, 30))?;
        }
        self.register_morning(d)
    }

    fn correct_serial(&mut self, t: Timestamp) -> anyhow::Result<()> {
        let Some((
            hash,
            SiteEvent::FirearmAcquired {
                firearm,
                source,
                authorisation,
                location,
                ..
            },
        )) = self.mistyped.clone()
        else {
            return Ok(());
        };
        let corrected = SiteEvent::FirearmAcquired {
            firearm,
            identity: pistol_with_serial(MISTYPED.0)?,
            source,
            authorisation,
            location,
        };
        self.record(
            SiteEvent::Corrected {
                supersedes: hash,
                reason: self.seal(
                    &format!(
                        "serial mistyped at intake as {}; the frame reads {}",
                        MISTYPED.1, MISTYPED.0
                    ),
                    NoteClass::Case,
                    t,
                )?,
                approver: Some(self.sp.supervisor.clone()),
                corrected: Box::new(corrected),
            },
            t,
            None,
        )?;
        if let Ok(mut c) = self.common.corrected.lock() {
            *c = Some((firearm, MISTYPED.0.to_string()));
        }
        Ok(())
    }

    fn theft(&mut self, d: u64) -> anyhow::Result<()> {
        let (f, _) = self.pick_firearm(FirearmType::Pistol)?;
        let r = self.record(
            SiteEvent::LossReported {
                holder: None,
                items: vec![Item::Firearm(f)],
                kind: LossKind::Theft,
                discovered_at: self.plan.at(d, 6, 45),
                circumstances: self.seal(
                    "pistol taken from the escort vehicle's lock box during a break-in",
                    NoteClass::Case,
                    self.plan.at(d, 7, 0),
                )?,
                police_ref: Some(p("CAS-0412-2026")?),
                regulator_ref: None,
            },
            self.plan.at(d, 7, 0),
            None,
        )?;
        let report = r.act.hash();
        self.record(
            SiteEvent::LossReportUpdated {
                circumstances: None,
                report,
                police_ref: None,
                regulator_ref: Some(p("INC-2026-0091")?),
            },
            self.plan.at(d, 15, 0),
            None,
        )?;
        self.stolen = Some((f, report));
        Ok(())
    }

    fn recover(&mut self, t: Timestamp) -> anyhow::Result<()> {
        let Some((firearm, report)) = self.stolen.take() else {
            return Ok(());
        };
        self.record(
            SiteEvent::Recovered {
                firearm,
                report,
                condition: Condition::Damaged,
                location: self.vault()?,
            },
            t,
            None,
        )?;
        Ok(())
    }

    /// The police take a pistol as evidence in a criminal case.
    fn seize(&mut self, t: Timestamp) -> anyhow::Result<()> {
        let (f, _) = self.pick_firearm(FirearmType::Pistol)?;
        let r = self.record(
            SiteEvent::Seized {
                firearm: f,
                authority: p("SAPS Durban Central, detective branch")?,
                order: p("CAS-0719-2026, seizure receipt SR-4471")?,
            },
            t,
            None,
        )?;
        self.seized = Some((f, r.act.hash()));
        self.told(super::STORY[4]);
        Ok(())
    }

    /// The case closed, the police hand the pistol back.
    fn seizure_returned(&mut self, t: Timestamp) -> anyhow::Result<()> {
        let Some((firearm, report)) = self.seized.take() else {
            return Ok(());
        };
        self.record(
            SiteEvent::Recovered {
                firearm,
                report,
                condition: Condition::Serviceable,
                location: self.vault()?,
            },
            t,
            None,
        )?;
        Ok(())
    }

    fn destroy(&mut self, t: Timestamp) -> anyhow::Result<()> {
        let (f, _) = self.pick_firearm(FirearmType::Pistol)?;
        self.record(
            SiteEvent::Disposed {
                item: Item::Firearm(f),
                method: DisposalMethod::Destroyed,
                place: p("Central firearms destruction facility")?,
                witnesses: vec![self.guard(6)?, self.guard(7)?],
                authorisation: doc(DocKind::DisposalOrder, "DO-2026-0033")?,
                certificate: Some(doc(DocKind::Other, "DESTR-2026-0412")?),
            },
            t,
            None,
        )?;
        Ok(())
    }

    fn transfer_out(&mut self, t: Timestamp) -> anyhow::Result<()> {
        let Some(to) = self.plan.sites.last() else {
            return Ok(());
        };
        let (a, _) = self.pick_firearm(FirearmType::Pistol)?;
        let mut b = self.pick_firearm(FirearmType::Pistol)?.0;
        if b == a {
            b = self
                .in_store(Some(FirearmType::Pistol))
                .into_iter()
                .map(|(f, _)| f)
                .find(|f| *f != a)
                .context("a second pistol to transfer")?;
        }
        self.record(
            SiteEvent::TransferredOut {
                to_site: to.id.clone(),
                to_company: to.company.clone(),
                firearms: vec![a, b],
                rounds: vec![],
                rounds_from: None,
                permit: doc(DocKind::TransferAuthorisation, "TA-2026-0007")?,
                carrier: Some(p("SecureTransit CIT")?),
            },
            t,
            None,
        )?;
        // The receiving site can only acknowledge what the server holds.
        self.sync()?;
        let serials = [self.serial_of(a)?, self.serial_of(b)?];
        if let Ok(mut v) = self.common.transferred.lock() {
            v.extend([a, b].into_iter().zip(serials));
        }
        Ok(())
    }

    fn transfer_in(&mut self, t: Timestamp) -> anyhow::Result<()> {
        self.sync()?;
        let inbox = self.agent.ledger().inbox()?;
        let Some((entry, sent)) = inbox.iter().find_map(|e| match &e.body().event {
            armsledger_core::event::Event::Site(SiteEvent::TransferredOut {
                to_site,
                firearms,
                ..
            }) if to_site == &self.sp.id => Some((e, firearms.clone())),
            _ => None,
        }) else {
            // Not on the server yet; try again tomorrow.
            return Ok(());
        };
        let ChainId::Site(from) = entry.header().chain.clone() else {
            bail!("a transfer out on the regulator chain");
        };
        let transfer = EntryRef {
            site: from,
            counter: entry.counter(),
            hash: entry.hash(),
        };
        // A short delivery: the second pistol is not in the van. What
        // arrived is recorded; the other stays missing in transit.
        let arrived: Vec<_> = sent.iter().take(1).copied().collect();
        let short = arrived.len() < sent.len();
        let spec = OverrideSpec {
            reason: p(
                "short delivery acknowledged as it arrived; the carrier is tracing the rest",
            )?,
            authoriser: self.sp.supervisor.clone(),
        };
        self.record(
            SiteEvent::TransferredIn {
                transfer,
                firearms: arrived,
                rounds: vec![],
                location: self.vault()?,
                note: short
                    .then(|| {
                        self.seal(
                            "one pistol of two arrived; seal intact, carrier informed",
                            NoteClass::Case,
                            t,
                        )
                    })
                    .transpose()?,
            },
            t,
            short.then_some(&spec),
        )?;
        if short {
            self.told(super::STORY[3]);
        }
        self.transfer_acknowledged = true;
        Ok(())
    }

    fn refused_issue(&mut self, t: Timestamp) -> anyhow::Result<()> {
        let to = self.guard(0)?;
        let (f, _) = self.pick_firearm(FirearmType::Pistol)?;
        let lot = self.pick_lot(ROUNDS_PER_ISSUE)?;
        let ev = self.issue_event(f, &to, t, t.plus(10 * Timestamp::HOUR), Some(lot))?;
        let officer = self.sp.armourer.clone();
        match self.agent.record(&officer, ev, t, None) {
            Err(AgentError::Refused { violations }) => {
                if let Ok(mut v) = self.common.refusals.lock() {
                    v.push(Refusal {
                        site: self.sp.id.to_string(),
                        at: t.to_string(),
                        person: to.to_string(),
                        rules: violations
                            .iter()
                            .map(|v| v.rule.name().to_string())
                            .collect(),
                        detail: violations
                            .iter()
                            .map(|v| v.evidence.clone())
                            .collect::<Vec<_>>()
                            .join("; "),
                    });
                }
                Ok(())
            }
            Err(e) => Err(e.into()),
            Ok(_) => bail!(
                "{}: an issue to {to} (qualification lapsed) was not refused",
                self.sp.id
            ),
        }
    }

    fn override_issue(&mut self, t: Timestamp, due: Timestamp) -> anyhow::Result<()> {
        let to = self.guard(8)?;
        let (f, _) = self.pick_firearm(FirearmType::Shotgun)?;
        let ev = self.issue_event(f, &to, t, due, None)?;
        let spec = OverrideSpec {
            reason: p("armed-response callout; the only qualified shotgun holder is off sick")?,
            authoriser: self.sp.supervisor.clone(),
        };
        let r = self.record(ev, t, Some(&spec))?;
        self.open.push(OpenIssue {
            entry: r.act.hash(),
            firearm: f,
            lot: None,
        });
        Ok(())
    }
}
