//! The regulator's year of oversight, beside the armouries' days: a police
//! notice enters the lost-and-stolen register, an inspection of the first
//! site is planned and performed with a finding, a fine follows from it, a
//! complaint is received and resolved, two trace requests go out (one
//! answered by the company, one left to run past its deadline), and the
//! finding is closed. Each act is checked by the rules and signed by the
//! regulator's device at its scenario time, as `armsledger regulator …`
//! would, then pushed before the armouries start the next day, so what a
//! site does in answer never races the act.
//!
//! The armouries' side (the noticed revolver offered for acquisition, the
//! trace answer) is in `armouries::register`; [`Oversight`] is the
//! `oversight` section of `summary.json`.

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use armsledger_agents::RegulatorAgent;
use armsledger_core::event::{NoticeSource, NoticedFirearm, RegulatorEvent};
use armsledger_core::ids::{CompanyId, Country, PersonId, SiteId, Timestamp};
use armsledger_core::oversight::{
    ComplaintOutcome, InspectionStage, Respondent, Sanction, Severity,
};
use armsledger_device::host::Transport;
use armsledger_store::NoteClass;
use serde::Serialize;

use super::infra::DeviceFiles;
use super::world::{Plan, p};

/// The revolver a police notice names (maker, model, serial): stolen abroad,
/// later offered to an armoury by a dealer.
pub const NOTICED: (&str, &str, &str) = ("Taurus", "82", "TAU-KX41207");
/// The notice's reference.
pub const NOTICE: &str = "ISTRAC-2026-0815";
/// The trace request the company answers.
pub const TRACE_ANSWERED: &str = "TR-2026-0001";
/// The trace request left unanswered past its deadline.
pub const TRACE_OVERDUE: &str = "TR-2026-0002";
/// A serial of a police case that no company holds.
const UNKNOWN_SERIAL: &str = "SW-BL93012";
const INSPECTION: &str = "INS-2026-014";
const FINDING: &str = "F-2026-014-1";
const SANCTION: &str = "SAN-2026-003";
const COMPLAINT: &str = "CMP-2026-021";

/// The day (tenths of the run, as the armouries' story) the request to be
/// answered goes out; the company answers on a later day.
pub fn trace_day(plan: &Plan) -> u64 {
    plan.day_of(5)
}

/// The day the noticed revolver is offered to the rules site.
pub fn offer_day(plan: &Plan) -> u64 {
    plan.day_of(4)
}

/// One step of an act: what, when (scenario time), and the entry that
/// records it (`chain` `regulator` or a site, and its counter there).
#[derive(Clone, Debug, Serialize)]
pub struct Stage {
    /// What happened.
    pub what: String,
    /// Scenario time.
    pub at: String,
    /// The chain that records it.
    pub chain: String,
    /// Its counter on that chain.
    pub entry: u64,
}

/// An oversight act by its reference, with its stages.
#[derive(Clone, Debug, Serialize)]
pub struct Act {
    /// The reference it carries.
    pub reference: String,
    /// The site or company it concerns.
    pub about: String,
    /// Where it stands at the end (`open`, `closed`, `resolved`, `answered`,
    /// `overdue`, `in force`, `recorded`).
    pub status: String,
    /// Its stages, in order.
    pub stages: Vec<Stage>,
}

/// A lost-and-stolen hit: an act at a site that matched the register.
#[derive(Clone, Debug, Serialize)]
pub struct Hit {
    /// The serial.
    pub serial: String,
    /// The register record matched (the notice's reference).
    pub matched: String,
    /// The act that hit.
    pub act: Stage,
    /// The critical `stolen-hit` alert at the scenario's end (from the
    /// offline verification), if the hit is not settled.
    pub alert: Option<String>,
}

/// The `oversight` section of `summary.json`: each kind of the regulator's
/// work in the year, by reference.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Oversight {
    /// Notices entered in the lost-and-stolen register.
    pub notices: Vec<Act>,
    /// Inspections, planned and performed.
    pub inspections: Vec<Act>,
    /// Inspection findings.
    pub findings: Vec<Act>,
    /// Sanctions.
    pub sanctions: Vec<Act>,
    /// Complaints.
    pub complaints: Vec<Act>,
    /// Trace requests, with the company's answer and the server's status.
    pub trace_requests: Vec<Act>,
    /// Lost-and-stolen hits.
    pub stolen_hits: Vec<Hit>,
    /// The server's `summary` report at the scenario's end, per company:
    /// open findings, stolen hits, trace requests open and overdue, alerts.
    pub by_company: Vec<BTreeMap<String, serde_json::Value>>,
}

/// The regulator's side of the year: who records, on which device, and
/// what was recorded so far.
pub struct OversightYear<'a> {
    plan: &'a Plan,
    official: PersonId,
    device: &'a DeviceFiles,
    /// What was recorded, by kind.
    pub record: Oversight,
    /// Entries signed.
    pub entries: u64,
}

impl<'a> OversightYear<'a> {
    /// The regulator's official, on the regulator's device.
    pub fn new(plan: &'a Plan, device: &'a DeviceFiles) -> anyhow::Result<Self> {
        Ok(OversightYear {
            plan,
            official: super::regulator::official()?,
            device,
            record: Oversight::default(),
            entries: 0,
        })
    }

    /// The acts of day `d`, in the order of their times; returns how many
    /// were signed (the caller pushes them).
    pub fn day<T: Transport>(
        &mut self,
        reg: &mut RegulatorAgent<T>,
        d: u64,
    ) -> anyhow::Result<u64> {
        let plan = self.plan;
        let before = self.entries;
        let first = plan.sites.first().context("no site")?;
        let (site, company) = (first.id.clone(), first.company.clone());
        let rules_company = plan
            .sites
            .get(1.min(plan.sites.len().saturating_sub(1)))
            .map(|s| s.company.clone())
            .context("no rules site")?;
        let last_company = plan.companies.last().context("no company")?.id.clone();
        // Acts on the same day follow each other ten minutes apart, so the
        // regulator device's clock only moves forward.
        let at = |slot: u64| plan.at(d, 9, 10 * slot);
        if d == plan.day_of(1) {
            self.notice(reg, at(0))?;
            // For the slot it is performed in (below).
            let planned_for = plan.at(plan.day_of(2), 9, 30);
            self.inspection(reg, at(1), &site, InspectionStage::Planned, planned_for)?;
        }
        if d == plan.day_of(2) {
            self.complaint_received(reg, at(2), &last_company)?;
            self.inspection(reg, at(3), &site, InspectionStage::Performed, at(3))?;
            self.finding(reg, at(4), &site, &company)?;
        }
        if d == plan.day_of(3) {
            self.fine(reg, at(5), &company)?;
        }
        if d == trace_day(plan) {
            // Asked about the noticed serial: the dealer's records name the
            // company it went to.
            let deadline = plan.at(d + 7, 17, 0);
            self.trace_request(
                reg,
                at(6),
                TRACE_ANSWERED,
                NOTICED.2,
                &rules_company,
                deadline,
            )?;
        }
        if d == plan.day_of(7) {
            // Due before the scenario ends, and never answered.
            let due = (d + 7).min(plan.days.saturating_sub(1));
            let deadline = plan.at(due, 17, 0);
            self.trace_request(
                reg,
                at(7),
                TRACE_OVERDUE,
                UNKNOWN_SERIAL,
                &company,
                deadline,
            )?;
        }
        if d == plan.day_of(8) {
            self.close_finding(reg, at(8))?;
            self.complaint_resolved(reg, at(9))?;
        }
        Ok(self.entries - before)
    }

    /// Checks `event` as `armsledger regulator` does, sets the regulator
    /// device's clock to `t` and signs it; returns its stage.
    fn act<T: Transport>(
        &mut self,
        reg: &mut RegulatorAgent<T>,
        t: Timestamp,
        what: &str,
        event: RegulatorEvent,
    ) -> anyhow::Result<Stage> {
        let violations = reg.verifier().engine().check_regulator(&event);
        if let Some(v) = violations.first() {
            bail!(
                "the rules refuse the regulator's {what}: rule {}: {}",
                v.rule.name(),
                v.evidence
            );
        }
        self.device.set_time(t)?;
        let e = reg
            .record_at(&self.official, event, t)
            .with_context(|| format!("the regulator recording {what}"))?;
        self.entries += 1;
        Ok(Stage {
            what: what.to_string(),
            at: t.to_string(),
            chain: "regulator".to_string(),
            entry: e.counter(),
        })
    }

    fn seal<T: Transport>(
        &self,
        reg: &RegulatorAgent<T>,
        text: &str,
        class: NoteClass,
    ) -> anyhow::Result<armsledger_core::note::SealedNote> {
        Ok(reg.seal(p(text)?, class)?)
    }

    fn notice<T: Transport>(
        &mut self,
        reg: &mut RegulatorAgent<T>,
        t: Timestamp,
    ) -> anyhow::Result<()> {
        let (maker, model, serial) = NOTICED;
        let stage = self.act(
            reg,
            t,
            "notice recorded",
            RegulatorEvent::StolenNoticeRecorded {
                reference: p(NOTICE)?,
                source: NoticeSource {
                    agency: p("INTERPOL-ISTRAC")?,
                    country: Country::new("DE").map_err(|e| anyhow::anyhow!("{e:?}"))?,
                },
                firearm: NoticedFirearm {
                    manufacturer: p(maker)?,
                    model: Some(p(model)?),
                    serial: p(serial)?,
                },
            },
        )?;
        self.record.notices.push(Act {
            reference: NOTICE.to_string(),
            about: format!("{maker} {model} serial {serial}, stolen abroad"),
            status: "in force".to_string(),
            stages: vec![stage],
        });
        Ok(())
    }

    fn inspection<T: Transport>(
        &mut self,
        reg: &mut RegulatorAgent<T>,
        t: Timestamp,
        site: &SiteId,
        stage: InspectionStage,
        on: Timestamp,
    ) -> anyhow::Result<()> {
        let (what, text) = match stage {
            InspectionStage::Planned => (
                format!("planned for {on}"),
                "announced inspection: registers, storage and key control",
            ),
            InspectionStage::Performed => (
                "performed".to_string(),
                "inspected the registers, the vault and the key log; one finding",
            ),
        };
        let note = self.seal(reg, text, NoteClass::Case)?;
        let s = self.act(
            reg,
            t,
            &what,
            RegulatorEvent::InspectionRecorded {
                reference: p(INSPECTION)?,
                site: site.clone(),
                stage,
                at: on,
                note,
            },
        )?;
        match self.record.inspections.first_mut() {
            Some(a) => {
                a.stages.push(s);
                a.status = "performed".to_string();
            }
            None => self.record.inspections.push(Act {
                reference: INSPECTION.to_string(),
                about: site.to_string(),
                status: "planned".to_string(),
                stages: vec![s],
            }),
        }
        Ok(())
    }

    fn finding<T: Transport>(
        &mut self,
        reg: &mut RegulatorAgent<T>,
        t: Timestamp,
        site: &SiteId,
        company: &CompanyId,
    ) -> anyhow::Result<()> {
        let note = self.seal(
            reg,
            "key log: two key hand-overs signed by one person only",
            NoteClass::Case,
        )?;
        let s = self.act(
            reg,
            t,
            "recorded (major, key-log-incomplete)",
            RegulatorEvent::FindingRecorded {
                inspection: p(INSPECTION)?,
                finding: p(FINDING)?,
                site: site.clone(),
                company: company.clone(),
                code: p("key-log-incomplete")?,
                severity: Severity::Major,
                note,
            },
        )?;
        self.record.findings.push(Act {
            reference: FINDING.to_string(),
            about: format!("{site} ({company}), inspection {INSPECTION}"),
            status: "open".to_string(),
            stages: vec![s],
        });
        Ok(())
    }

    fn fine<T: Transport>(
        &mut self,
        reg: &mut RegulatorAgent<T>,
        t: Timestamp,
        company: &CompanyId,
    ) -> anyhow::Result<()> {
        let note = self.seal(
            reg,
            "key control breached the conditions of the armoury approval",
            NoteClass::Case,
        )?;
        let s = self.act(
            reg,
            t,
            &format!("fine of ZAR 25000.00 for finding {FINDING}"),
            RegulatorEvent::SanctionRecorded {
                reference: p(SANCTION)?,
                company: company.clone(),
                sanction: Sanction::Fine {
                    amount_minor: 2_500_000,
                    currency: p("ZAR")?,
                },
                finding: Some(p(FINDING)?),
                note,
            },
        )?;
        self.record.sanctions.push(Act {
            reference: SANCTION.to_string(),
            about: company.to_string(),
            status: "recorded".to_string(),
            stages: vec![s],
        });
        Ok(())
    }

    fn complaint_received<T: Transport>(
        &mut self,
        reg: &mut RegulatorAgent<T>,
        t: Timestamp,
        company: &CompanyId,
    ) -> anyhow::Result<()> {
        // The complainant is never named: the summary is sealed.
        let summary = self.seal(
            reg,
            "a client reports a guard posted armed without showing a permit",
            NoteClass::Person,
        )?;
        let s = self.act(
            reg,
            t,
            "received",
            RegulatorEvent::ComplaintReceived {
                reference: p(COMPLAINT)?,
                against: Respondent::Company(company.clone()),
                summary,
            },
        )?;
        self.record.complaints.push(Act {
            reference: COMPLAINT.to_string(),
            about: company.to_string(),
            status: "open".to_string(),
            stages: vec![s],
        });
        Ok(())
    }

    fn complaint_resolved<T: Transport>(
        &mut self,
        reg: &mut RegulatorAgent<T>,
        t: Timestamp,
    ) -> anyhow::Result<()> {
        let note = self.seal(
            reg,
            "the guard's permit was current and on the register",
            NoteClass::Case,
        )?;
        let s = self.act(
            reg,
            t,
            "resolved: not upheld",
            RegulatorEvent::ComplaintResolved {
                reference: p(COMPLAINT)?,
                outcome: ComplaintOutcome::NotUpheld,
                note,
            },
        )?;
        if let Some(a) = self.record.complaints.first_mut() {
            a.stages.push(s);
            a.status = "resolved".to_string();
        }
        Ok(())
    }

    fn close_finding<T: Transport>(
        &mut self,
        reg: &mut RegulatorAgent<T>,
        t: Timestamp,
    ) -> anyhow::Result<()> {
        let note = self.seal(
            reg,
            "two-person key hand-over now enforced; re-inspected",
            NoteClass::Case,
        )?;
        let s = self.act(
            reg,
            t,
            "closed",
            RegulatorEvent::FindingClosed {
                finding: p(FINDING)?,
                note,
            },
        )?;
        if let Some(a) = self.record.findings.first_mut() {
            a.stages.push(s);
            a.status = "closed".to_string();
        }
        Ok(())
    }

    fn trace_request<T: Transport>(
        &mut self,
        reg: &mut RegulatorAgent<T>,
        t: Timestamp,
        reference: &str,
        serial: &str,
        company: &CompanyId,
        deadline: Timestamp,
    ) -> anyhow::Result<()> {
        let s = self.act(
            reg,
            t,
            &format!("requested: serial {serial}, answer by {deadline}"),
            RegulatorEvent::TraceRequested {
                reference: p(reference)?,
                serial: p(serial)?,
                company: company.clone(),
                deadline,
            },
        )?;
        self.record.trace_requests.push(Act {
            reference: reference.to_string(),
            about: company.to_string(),
            status: "open".to_string(),
            stages: vec![s],
        });
        Ok(())
    }
}
