//! Soft rules: alerts computed for a given time from the folded state. They
//! change nothing; they tell an inspector what needs attention now.

use serde::Serialize;

use crate::hash::Hash;
use crate::ids::{CompanyId, SiteId, Timestamp};
use crate::rules::RuleId;
use crate::rules::state::{FirearmState, RegisterSource, State, TransferStatus};

/// Thresholds for the soft rules.
#[derive(Clone, Debug, Serialize)]
pub struct AlertPolicy {
    /// A transfer unacknowledged for longer than this is missing in transit.
    pub transfer_window_ms: u64,
    /// Loss reports need police and regulator references within this time.
    pub loss_reference_window_ms: u64,
    /// Expiry warning horizons, shortest first.
    pub expiry_horizons_days: Vec<u64>,
    /// Serial-number counts are due at least this often.
    pub count_interval_ms: u64,
}

impl Default for AlertPolicy {
    fn default() -> Self {
        AlertPolicy {
            transfer_window_ms: 72 * Timestamp::HOUR,
            loss_reference_window_ms: 48 * Timestamp::HOUR,
            expiry_horizons_days: vec![30, 60, 90],
            count_interval_ms: 31 * Timestamp::DAY,
        }
    }
}

/// Something that needs attention at a given time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Alert {
    /// The soft rule.
    pub rule: RuleId,
    /// The site concerned, if any.
    pub site: Option<SiteId>,
    /// The company concerned, if any.
    pub company: Option<CompanyId>,
    /// The entry that started it, if any.
    pub entry: Option<Hash>,
    /// Since when (or until when, for expiries).
    pub at: Timestamp,
    /// What.
    pub detail: String,
}

/// The soft-rule alerts at `now`.
pub fn alerts(state: &State, now: Timestamp, policy: &AlertPolicy) -> Vec<Alert> {
    let mut out = Vec::new();
    let company = |s: &SiteId| state.company_of(s).cloned();
    for (h, i) in &state.open_issues {
        if i.due_back < now {
            let what = match i.firearm.and_then(|f| state.firearms.get(&f)) {
                Some(f) => format!("firearm {}", f.identity.serial),
                None => "ammunition".to_string(),
            };
            out.push(Alert {
                rule: RuleId::ReturnOverdue,
                site: Some(i.site.clone()),
                company: company(&i.site),
                entry: Some(*h),
                at: i.due_back,
                detail: format!("{what} issued to {} was due back {}", i.to, i.due_back),
            });
        }
    }
    for (h, t) in &state.transfers {
        if t.status == TransferStatus::Pending && t.sent_at.plus(policy.transfer_window_ms) < now {
            out.push(Alert {
                rule: RuleId::TransferUnacknowledged,
                site: Some(t.from_site.clone()),
                company: company(&t.from_site),
                entry: Some(*h),
                at: t.sent_at,
                detail: format!(
                    "transfer to {} ({} firearms) unacknowledged since {}",
                    t.to_site,
                    t.firearms.len(),
                    t.sent_at
                ),
            });
        }
    }
    for (h, l) in &state.losses {
        let missing = l.police_ref.is_none() || l.regulator_ref.is_none();
        let still_missing = l.items.iter().any(|i| match i {
            crate::model::Item::Firearm(f) => matches!(
                state.firearms.get(f).map(|r| &r.state),
                Some(FirearmState::Lost { .. })
            ),
            crate::model::Item::Rounds(_) => true,
        });
        if missing && still_missing && l.reported_at.plus(policy.loss_reference_window_ms) < now {
            out.push(Alert {
                rule: RuleId::LossReferencesMissing,
                site: Some(l.site.clone()),
                company: company(&l.site),
                entry: Some(*h),
                at: l.reported_at,
                detail: format!(
                    "{:?} reported {} still lacks {}",
                    l.kind,
                    l.reported_at,
                    match (&l.police_ref, &l.regulator_ref) {
                        (None, None) => "police and regulator references",
                        (None, Some(_)) => "a police reference",
                        _ => "a regulator reference",
                    }
                ),
            });
        }
    }
    let horizon = policy
        .expiry_horizons_days
        .iter()
        .max()
        .copied()
        .unwrap_or(0);
    let bucket = |until: Timestamp| {
        let left = until.0.saturating_sub(now.0);
        policy
            .expiry_horizons_days
            .iter()
            .find(|h| left <= **h * Timestamp::DAY)
            .copied()
            .unwrap_or(horizon)
    };
    let soon = |until: Timestamp| until > now && until.0 - now.0 <= horizon * Timestamp::DAY;
    for (pid, p) in &state.persons {
        let mut items: Vec<(String, Timestamp)> = Vec::new();
        if let Some(l) = &p.licence {
            items.push((format!("licence {}", l.number), l.valid.until));
        }
        for pm in &p.permits {
            items.push((format!("permit {}", pm.number), pm.valid.until));
        }
        for q in &p.qualifications {
            items.push((
                format!("{:?} qualification {}", q.weapon, q.id),
                q.valid.until,
            ));
        }
        for (what, until) in items.into_iter().filter(|(_, u)| soon(*u)) {
            out.push(Alert {
                rule: RuleId::ExpiringSoon,
                site: None,
                company: p.company.clone(),
                entry: None,
                at: until,
                detail: format!(
                    "{pid}'s {what} expires {until} (within {} days)",
                    bucket(until)
                ),
            });
        }
    }
    // A company's licence and a site's armoury approval, as a person's.
    let mut held: Vec<(Option<SiteId>, Option<CompanyId>, String, Timestamp)> = Vec::new();
    for (c, rec) in &state.companies {
        held.push((
            None,
            Some(c.clone()),
            format!("company {c}'s licence {}", rec.licence),
            rec.valid.until,
        ));
    }
    for (site, a) in &state.approvals {
        held.push((
            Some(site.clone()),
            company(site),
            format!("site {site}'s armoury approval {}", a.approval),
            a.valid.until,
        ));
    }
    for (site, company, what, until) in held.into_iter().filter(|h| soon(h.3)) {
        out.push(Alert {
            rule: RuleId::ExpiringSoon,
            site,
            company,
            entry: None,
            at: until,
            detail: format!("{what} expires {until} (within {} days)", bucket(until)),
        });
    }
    for (site, rec) in &state.sites {
        // Stock: firearms it answers for (not gone for good) or rounds in store.
        let holds = state.firearms_at(site).any(|f| {
            !matches!(
                f.state,
                FirearmState::Disposed { .. } | FirearmState::Left { .. }
            )
        }) || state.balances.iter().any(|((s, _), m)| {
            s == site
                && m.iter()
                    .any(|(h, n)| matches!(h, crate::model::Holder::Store(_)) && *n > 0)
        });
        if !holds {
            continue;
        }
        let last = state.last_count.get(site).copied();
        // A new site's first count is due after the regulator's grace.
        let due = last.map_or(rec.registered_at.plus(state.policy.count_grace_ms), |t| {
            t.plus(policy.count_interval_ms)
        });
        if due < now {
            out.push(Alert {
                rule: RuleId::CountOverdue,
                site: Some(site.clone()),
                company: company(site),
                entry: None,
                at: due,
                detail: match last {
                    Some(t) => format!("last serial-number count {t}"),
                    None => "no serial-number count on record".to_string(),
                },
            });
        }
    }
    for (h, l) in &state.losses {
        let deadline = l.discovered_at.plus(state.policy.loss_report_within_ms);
        if l.reported_at > deadline {
            out.push(Alert {
                rule: RuleId::LossReportedLate,
                site: Some(l.site.clone()),
                company: company(&l.site),
                entry: Some(*h),
                at: l.reported_at,
                detail: format!(
                    "{:?} discovered {} was reported {}, after the deadline {}",
                    l.kind, l.discovered_at, l.reported_at, deadline
                ),
            });
        }
    }
    for d in state.discrepancies.iter().filter(|d| !d.resolved) {
        let from_transfer = state
            .entries
            .get(&d.count)
            .is_some_and(|m| m.kind == "transferred-in");
        let still_missing = match &d.item {
            crate::model::Item::Firearm(f) => matches!(
                state.firearms.get(f).map(|r| &r.state),
                Some(FirearmState::InTransit { .. })
            ),
            crate::model::Item::Rounds(_) => true,
        };
        if from_transfer && still_missing {
            let what = match &d.item {
                crate::model::Item::Firearm(f) => state.firearm_words(f),
                crate::model::Item::Rounds(l) => {
                    format!("{} rounds of {}", l.rounds, state.lot_words(&l.lot))
                }
            };
            out.push(Alert {
                rule: RuleId::MissingInTransit,
                site: Some(d.site.clone()),
                company: company(&d.site),
                entry: Some(d.count),
                at: state.entries.get(&d.count).map_or(Timestamp(0), |m| m.time),
                detail: format!(
                    "{what} sent but not received by transfer in {}: missing in transit",
                    d.count.short()
                ),
            });
        }
    }
    let mut held: std::collections::BTreeMap<(&SiteId, &crate::ids::PersonId), Vec<&str>> =
        std::collections::BTreeMap::new();
    for f in state.firearms.values() {
        if let FirearmState::Issued { to, .. } = &f.state {
            held.entry((&f.site, to))
                .or_default()
                .push(f.identity.serial.as_str());
        }
    }
    let limit = usize::from(state.policy.max_firearms_per_holder);
    for ((site, person), serials) in held {
        if serials.len() > limit {
            out.push(Alert {
                rule: RuleId::HolderLimit,
                site: Some(site.clone()),
                company: company(site),
                entry: None,
                at: now,
                detail: format!(
                    "{person} holds {} firearms ({}), the limit is {limit}",
                    serials.len(),
                    serials.join(", ")
                ),
            });
        }
    }
    stolen_hits(state, &mut out);
    for (reference, r) in &state.trace_requests {
        if r.answer.is_none() && r.deadline < now {
            out.push(Alert {
                rule: RuleId::TraceOverdue,
                site: None,
                company: Some(r.company.clone()),
                entry: Some(r.entry),
                at: r.deadline,
                detail: format!(
                    "trace request {reference} for serial {} unanswered by company {} since its deadline {}",
                    r.serial, r.company, r.deadline
                ),
            });
        }
    }
    for (site, leads) in &state.count_leads {
        if let [a, b] = leads.as_slice()
            && a == b
        {
            out.push(Alert {
                rule: RuleId::CounterRotates,
                site: Some(site.clone()),
                company: company(site),
                entry: None,
                at: now,
                detail: format!("{a} led the last two counts; the lead counter should rotate"),
            });
        }
    }
    out
}

/// `stolen-hit`: critical, for as long as the site that recorded the act
/// still answers for the firearm and it is not seized or gone.
fn stolen_hits(state: &State, out: &mut Vec<Alert>) {
    for hit in &state.stolen_hits {
        let settled = state.firearms.get(&hit.firearm).is_none_or(|r| {
            r.site != hit.site
                || r.state.is_gone()
                || matches!(r.state, FirearmState::Seized { .. })
        });
        if settled {
            continue;
        }
        let against = match &hit.matched {
            RegisterSource::LossReport { site, entry, kind } => {
                format!("{kind:?} reported by site {site} (entry {})", entry.short())
            }
            RegisterSource::Notice {
                reference,
                entry,
                source,
            } => format!(
                "notice {reference} from {} ({}) (regulator entry {})",
                source.agency,
                source.country,
                entry.short()
            ),
        };
        out.push(Alert {
            rule: RuleId::StolenHit,
            site: Some(hit.site.clone()),
            company: state.company_of(&hit.site).cloned(),
            entry: Some(hit.entry),
            at: hit.at,
            detail: format!(
                "CRITICAL: {} of firearm {} at site {} (entry {}) matches the lost-and-stolen register: {against}",
                hit.kind,
                hit.serial,
                hit.site,
                hit.entry.short()
            ),
        });
    }
}
