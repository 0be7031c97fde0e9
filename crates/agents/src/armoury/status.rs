//! A site's state at a glance: head, sync, open issues, alerts, findings.

use armsledger_core::entry::ChainId;
use armsledger_core::hash::Hash;
use armsledger_core::ids::Timestamp;
use armsledger_core::model::Item;
use armsledger_core::rules::{AlertPolicy, RuleId, alerts};
use armsledger_device::host::Transport;
use armsledger_store::Recovery;
use serde::Serialize;

use super::ArmouryAgent;
use crate::error::AgentError;

/// An open issue, for `status`.
#[derive(Clone, Debug, Serialize)]
pub struct IssueLine {
    /// The issue entry.
    pub entry: String,
    /// Serial of the firearm, if any.
    pub serial: Option<String>,
    /// Recipient.
    pub to: String,
    /// Due back.
    pub due_back: String,
    /// Past due at the status time.
    pub overdue: bool,
}

/// An unsettled count or delivery discrepancy, for `status`.
#[derive(Clone, Debug, Serialize)]
pub struct DiscrepancyLine {
    /// The count, return or transfer-in entry that raised it.
    pub entry: String,
    /// The firearm (serial) or rounds (lot) concerned.
    pub item: String,
    /// Expected (rounds, or 1 for a firearm).
    pub expected: u64,
    /// Found.
    pub found: u64,
    /// The person answerable, for a rounds shortfall at a return.
    pub person: Option<String>,
}

/// A key of the armoury and who holds it, for `status`.
#[derive(Clone, Debug, Serialize)]
pub struct KeyLine {
    /// The key.
    pub key: String,
    /// Who holds it.
    pub holder: String,
}

/// A site's state at a glance.
#[derive(Clone, Debug, Serialize)]
pub struct ArmouryStatus {
    /// Site id.
    pub site: String,
    /// Own chain head counter (0 for none).
    pub head: u64,
    /// Own chain head hash.
    pub head_hash: Option<String>,
    /// Entries the server has not acknowledged.
    pub unsynced: usize,
    /// Highest regulator counter held.
    pub regulator_cursor: u64,
    /// Whether the device key is enrolled in the regulator chain held.
    pub enrolled: bool,
    /// Latest checkpoint size received.
    pub checkpoint: Option<u64>,
    /// Issues not yet returned.
    pub open_issues: Vec<IssueLine>,
    /// Alerts (expiries, overdue returns, counts) concerning this site.
    pub alerts: Vec<String>,
    /// Hard-rule findings on this site's chain (overridden ones included, marked).
    pub findings: Vec<String>,
    /// Unsettled discrepancies at this site.
    pub discrepancies: Vec<DiscrepancyLine>,
    /// Items sent to this site that never arrived and are not yet found or
    /// reported lost (the missing-in-transit alerts).
    pub missing_in_transit: Vec<String>,
    /// Whether the armoury is open now.
    pub armoury_open: bool,
    /// Who opened it, while it is open.
    pub opened_by: Vec<String>,
    /// The key roster.
    pub keys: Vec<KeyLine>,
    /// What recovery did at open.
    pub recovery: String,
}

impl<T: Transport> ArmouryAgent<T> {
    /// Head, sync state, open issues and alerts at `now`.
    pub fn status(&self, now: Timestamp) -> Result<ArmouryStatus, AgentError> {
        let head = self.ledger.head()?;
        let state = self.verifier.engine().state();
        let open_issues = state
            .open_issues
            .iter()
            .filter(|(_, i)| i.site == self.site)
            .map(|(h, i): (&Hash, _)| IssueLine {
                entry: h.to_string(),
                serial: i
                    .firearm
                    .and_then(|f| state.firearms.get(&f))
                    .map(|f| f.identity.serial.to_string()),
                to: i.to.to_string(),
                due_back: i.due_back.to_string(),
                overdue: i.due_back < now,
            })
            .collect();
        let company = state.company_of(&self.site).cloned();
        let here: Vec<_> = alerts(state, now, &AlertPolicy::default())
            .into_iter()
            .filter(|a| {
                a.site.as_ref() == Some(&self.site)
                    || (a.site.is_none() && a.company.is_some() && a.company == company)
            })
            .collect();
        let missing_in_transit = here
            .iter()
            .filter(|a| a.rule == RuleId::MissingInTransit)
            .map(|a| a.detail.clone())
            .collect();
        let alerts = here
            .iter()
            .map(|a| format!("{}: {}", a.rule.name(), a.detail))
            .collect();
        let discrepancies = state
            .discrepancies
            .iter()
            .filter(|d| d.site == self.site && !d.resolved)
            .map(|d| DiscrepancyLine {
                entry: d.count.to_string(),
                item: match &d.item {
                    Item::Firearm(f) => state.firearm_words(f),
                    Item::Rounds(l) => state.lot_words(&l.lot),
                },
                expected: d.expected,
                found: d.found,
                person: d.person.as_ref().map(|p| p.to_string()),
            })
            .collect();
        let opened_by: Option<Vec<String>> = state
            .armoury_open
            .get(&self.site)
            .map(|v| v.iter().map(|p| p.to_string()).collect());
        let keys = state
            .keys
            .iter()
            .filter(|((site, _), _)| site == &self.site)
            .map(|((_, key), holder)| KeyLine {
                key: key.to_string(),
                holder: holder.to_string(),
            })
            .collect();
        let chain = ChainId::Site(self.site.clone());
        let findings = self
            .verifier
            .engine()
            .findings()
            .iter()
            .filter(|f| f.chain == chain)
            .map(|f| {
                format!(
                    "#{} {}: {}{}",
                    f.counter,
                    f.rule.name(),
                    f.evidence,
                    if f.overridden_by.is_some() {
                        " (overridden)"
                    } else {
                        ""
                    }
                )
            })
            .collect();
        Ok(ArmouryStatus {
            site: self.site.to_string(),
            findings,
            head: head.as_ref().map_or(0, |h| h.counter),
            head_hash: head.map(|h| h.hash.to_string()),
            unsynced: self.ledger.unsynced()?.len(),
            regulator_cursor: self.ledger.regulator_cursor()?,
            enrolled: self.enrolled,
            checkpoint: self.ledger.checkpoints()?.last().map(|(s, _)| *s),
            open_issues,
            alerts,
            discrepancies,
            missing_in_transit,
            armoury_open: opened_by.is_some(),
            opened_by: opened_by.unwrap_or_default(),
            keys,
            recovery: match &self.recovery {
                Recovery::Clean => "clean".into(),
                Recovery::Completed(e) => {
                    format!("completed entry {} signed before a crash", e.counter())
                }
                Recovery::Dropped(_) => "dropped an act the device never signed".into(),
            },
        })
    }
}
