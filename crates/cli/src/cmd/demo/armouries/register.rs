//! The armouries' side of the regulator's register work: the rules site
//! takes in a revolver a dealer offers, which a police notice names as
//! stolen (the server raises the critical `stolen-hit` alert; nothing is
//! refused, the acquisition is recorded as the truth), and answers the
//! regulator's trace request about it once its pull brings the request.

use armsledger_core::event::{SiteEvent, TraceOutcome};
use armsledger_core::ids::Timestamp;
use armsledger_core::model::{DocKind, FirearmIdentity, FirearmType};
use armsledger_device::host::Transport;

use super::super::oversight::{NOTICED, Stage, TRACE_ANSWERED, offer_day, trace_day};
use super::super::world::{dealer, doc, p};
use super::ArmouryRun;

/// The noticed revolver as the dealer's papers and its markings describe it.
fn noticed_identity() -> anyhow::Result<FirearmIdentity> {
    let (maker, model, serial) = NOTICED;
    Ok(FirearmIdentity {
        manufacturer: p(maker)?,
        importer: Some(p("Arms Import Ltd")?),
        model: p(model)?,
        kind: FirearmType::Revolver,
        category: p("B")?,
        calibre: p(".38 Special")?,
        serial: p(serial)?,
        markings: vec![],
        country_of_manufacture: armsledger_core::ids::Country::new("BR")
            .map_err(|e| anyhow::anyhow!("{e:?}"))?,
        year_of_manufacture: Some(2019),
        country_of_import: None,
        year_of_import: None,
        components: vec![],
    })
}

impl<T: Transport> ArmouryRun<'_, T> {
    /// The rules site's register acts of day `d`.
    pub(super) fn register_morning(&mut self, d: u64) -> anyhow::Result<()> {
        if !self.is_rules_site() {
            return Ok(());
        }
        let plan = self.plan;
        if d == offer_day(plan) {
            self.acquire_noticed(plan.at(d, 8, 15))?;
        }
        if !self.trace_answered && d > trace_day(plan) {
            self.answer_trace(plan.at(d, 10, 0))?;
        }
        Ok(())
    }

    /// A revolver bought from the dealer: kept in the range store (no
    /// guard carries a revolver), and its serial is on the register.
    fn acquire_noticed(&mut self, t: Timestamp) -> anyhow::Result<()> {
        let identity = noticed_identity()?;
        let firearm = identity.id();
        let r = self.record(
            SiteEvent::FirearmAcquired {
                firearm,
                identity,
                source: dealer()?,
                authorisation: doc(
                    DocKind::AcquisitionPermit,
                    &format!("AP-F-{}-950", self.sp.index + 1),
                )?,
                location: p("range-store")?,
            },
            t,
            None,
        )?;
        self.noticed = Some(firearm);
        self.site_stage("stolen-hit", "acquired from a dealer", t, r.act.counter());
        Ok(())
    }

    /// Answers the trace request once the site's pull holds it (else
    /// tomorrow again): the site holds the revolver.
    fn answer_trace(&mut self, t: Timestamp) -> anyhow::Result<()> {
        self.sync()?;
        let request = p(TRACE_ANSWERED)?;
        let asked = self
            .agent
            .verifier()
            .engine()
            .state()
            .trace_requests
            .contains_key(&request);
        if !asked {
            return Ok(());
        }
        let (outcome, firearms) = match self.noticed {
            Some(f) => (TraceOutcome::Held, vec![f]),
            None => (TraceOutcome::NeverHeld, vec![]),
        };
        let r = self.record(
            SiteEvent::TraceAnswered {
                request,
                outcome,
                firearms,
            },
            t,
            None,
        )?;
        self.trace_answered = true;
        self.site_stage(
            TRACE_ANSWERED,
            &format!("answered: {outcome:?}").to_lowercase(),
            t,
            r.act.counter(),
        );
        Ok(())
    }

    fn site_stage(&self, key: &str, what: &str, t: Timestamp, entry: u64) {
        if let Ok(mut v) = self.common.site_stages.lock() {
            v.push((
                key.to_string(),
                Stage {
                    what: what.to_string(),
                    at: t.to_string(),
                    chain: self.sp.id.to_string(),
                    entry,
                },
            ));
        }
    }
}
