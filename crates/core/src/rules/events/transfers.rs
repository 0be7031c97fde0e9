//! Transfers between sites: sent (in transit until acknowledged), received,
//! or cancelled by the sender.

use std::collections::{BTreeMap, BTreeSet};

use crate::event::SiteEvent;
use crate::model::{AmmoLine, DocKind, Holder, Item, LotId};
use crate::rules::RuleId;
use crate::rules::check::{Act, Out};
use crate::rules::events::shared::{
    back_in_store, delta, in_store_here, location, set_state, take_from_store, take_rounds,
};
use crate::rules::events::{EventRules, SiteCtx, scope};
use crate::rules::state::{Discrepancy, FirearmState, State, Transfer, TransferStatus};

/// `SiteEvent::TransferredOut`: items leave for another site.
pub(super) struct TransferredOut;

impl EventRules for TransferredOut {
    fn check(&self, state: &State, act: &Act<'_>, event: &SiteEvent, out: &mut Out) {
        let SiteEvent::TransferredOut {
            to_site,
            to_company,
            firearms,
            rounds,
            rounds_from,
            permit,
            ..
        } = event
        else {
            return;
        };
        let t = act.time;
        for f in firearms {
            in_store_here(state, act, f, out);
        }
        for l in rounds {
            match rounds_from {
                Some(from) => take_rounds(
                    state,
                    act,
                    &l.lot,
                    &Holder::Store(from.clone()),
                    l.rounds,
                    out,
                ),
                None => out.push(
                    RuleId::LocationRegistered,
                    "rounds sent without a store location",
                ),
            }
        }
        match state.sites.get(to_site) {
            Some(s) if &s.company == to_company => {}
            _ => out.push(
                RuleId::SiteRegistered,
                format!("{to_site} is not a registered site of {to_company}"),
            ),
        }
        if !state
            .companies
            .get(to_company)
            .is_some_and(|c| c.active_at(t))
        {
            out.push(
                RuleId::CompanyActive,
                format!("receiving company {to_company} is not active"),
            );
        }
        if !matches!(
            permit.kind,
            DocKind::TransferAuthorisation | DocKind::TransportPermit | DocKind::ExportLicence
        ) || permit.valid_until.is_some_and(|u| u <= t)
        {
            out.push(
                RuleId::TransferMatches,
                format!(
                    "permit {} is not a valid transfer authorisation",
                    permit.number
                ),
            );
        }
    }

    fn apply(&self, state: &mut State, ctx: &SiteCtx<'_>, event: &SiteEvent) {
        let SiteEvent::TransferredOut {
            to_site,
            firearms,
            rounds,
            rounds_from,
            ..
        } = event
        else {
            return;
        };
        let site = ctx.site;
        for f in firearms {
            set_state(
                state,
                f,
                site,
                false,
                FirearmState::InTransit {
                    transfer: ctx.hash,
                    to_site: to_site.clone(),
                },
            );
        }
        let mut sent = BTreeMap::new();
        for l in rounds {
            match rounds_from {
                Some(from) => state.add(site, l.lot, Holder::Store(from.clone()), -delta(l.rounds)),
                None => take_from_store(state, site, l.lot, l.rounds),
            }
            let s = sent.entry(l.lot).or_insert(0u64);
            *s = s.saturating_add(l.rounds);
        }
        state.transfers.insert(
            ctx.hash,
            Transfer {
                from_site: site.clone(),
                to_site: to_site.clone(),
                firearms: firearms.clone(),
                rounds: sent,
                sent_at: ctx.official_time(),
                status: TransferStatus::Pending,
            },
        );
    }

    // Not `needs_active_company`: a suspended or ceasing company must still
    // hand its stock to a licensed receiver (whose company must be active).
}

/// `SiteEvent::TransferredIn`: the receiver acknowledges what arrived.
pub(super) struct TransferredIn;

impl EventRules for TransferredIn {
    fn check(&self, state: &State, act: &Act<'_>, event: &SiteEvent, out: &mut Out) {
        let SiteEvent::TransferredIn {
            transfer,
            firearms,
            rounds,
            location: loc,
            ..
        } = event
        else {
            return;
        };
        match state.transfers.get(&transfer.hash) {
            Some(x)
                if &x.to_site == act.site
                    && x.from_site == transfer.site
                    && x.status == TransferStatus::Pending =>
            {
                for f in firearms.iter().filter(|f| !x.firearms.contains(f)) {
                    out.push(
                        RuleId::TransferMatches,
                        format!("{} was not in the transfer", state.firearm_words(f)),
                    );
                }
                // A short delivery is recorded as it is: what did not
                // arrive becomes a discrepancy, missing in transit.
                let mut got: BTreeMap<LotId, u64> = BTreeMap::new();
                for l in rounds {
                    let g = got.entry(l.lot).or_insert(0);
                    *g = g.saturating_add(l.rounds);
                }
                let lots: BTreeSet<&LotId> = x.rounds.keys().chain(got.keys()).collect();
                for lot in lots {
                    let sent = x.rounds.get(lot).copied().unwrap_or(0);
                    let received = got.get(lot).copied().unwrap_or(0);
                    if received > sent {
                        out.push(
                            RuleId::TransferMatches,
                            format!(
                                "{received} rounds of {} received, {sent} sent",
                                state.lot_words(lot)
                            ),
                        );
                    }
                }
            }
            Some(x) => out.push(
                RuleId::TransferMatches,
                format!(
                    "transfer {} is from {} to {} and {:?}",
                    transfer.hash.short(),
                    x.from_site,
                    x.to_site,
                    x.status
                ),
            ),
            None => out.push(
                RuleId::TransferMatches,
                format!("no transfer out {} to this site", transfer.hash.short()),
            ),
        }
        location(state, act, loc, out);
        let what = scope::Intake {
            firearms: firearms
                .iter()
                .filter_map(|f| state.firearms.get(f).map(|r| (*f, &r.identity)))
                .collect(),
            rounds: rounds.iter().any(|l| l.rounds > 0),
        };
        scope::intake(state, act, &what, out);
    }

    fn apply(&self, state: &mut State, ctx: &SiteCtx<'_>, event: &SiteEvent) {
        let SiteEvent::TransferredIn {
            transfer,
            firearms,
            rounds,
            location,
            ..
        } = event
        else {
            return;
        };
        let site = ctx.site;
        // Only a pending transfer addressed to this site moves custody.
        let matched = state
            .transfers
            .get(&transfer.hash)
            .filter(|x| &x.to_site == site && x.status == TransferStatus::Pending)
            .map(|x| x.firearms.clone());
        for f in firearms {
            let sent = matched.as_ref().is_some_and(|m| m.contains(f));
            set_state(
                state,
                f,
                site,
                sent,
                FirearmState::InStore {
                    location: location.clone(),
                },
            );
        }
        for l in rounds {
            state.add(
                site,
                l.lot,
                Holder::Store(location.clone()),
                delta(l.rounds),
            );
        }
        if matched.is_some()
            && let Some(x) = state.transfers.get_mut(&transfer.hash)
        {
            x.status = TransferStatus::Acknowledged(ctx.hash);
            // What was sent and did not arrive: a discrepancy each, missing
            // in transit until found or reported lost.
            let x = x.clone();
            let mut short = Vec::new();
            for f in x.firearms.iter().filter(|f| !firearms.contains(f)) {
                short.push((Item::Firearm(*f), 1, 0));
            }
            for (lot, sent) in &x.rounds {
                let got: u64 = rounds
                    .iter()
                    .filter(|l| &l.lot == lot)
                    .map(|l| l.rounds)
                    .sum();
                if got < *sent {
                    short.push((
                        Item::Rounds(AmmoLine {
                            lot: *lot,
                            rounds: sent - got,
                        }),
                        *sent,
                        got,
                    ));
                }
            }
            for (item, expected, found) in short {
                state.discrepancies.push(Discrepancy {
                    site: site.clone(),
                    count: ctx.hash,
                    item,
                    expected,
                    found,
                    resolved: false,
                    person: None,
                });
            }
        }
    }

    fn needs_active_company(&self) -> bool {
        true
    }
}

/// `SiteEvent::TransferCancelled`: the sender takes back an unacknowledged transfer.
pub(super) struct TransferCancelled;

impl EventRules for TransferCancelled {
    fn check(&self, state: &State, act: &Act<'_>, event: &SiteEvent, out: &mut Out) {
        let SiteEvent::TransferCancelled {
            transfer,
            location: loc,
            ..
        } = event
        else {
            return;
        };
        match state.transfers.get(transfer) {
            Some(x) if &x.from_site == act.site && x.is_returnable() => {}
            _ => out.push(
                RuleId::TransferMatches,
                format!(
                    "no pending or rejected transfer {} from this site",
                    transfer.short()
                ),
            ),
        }
        location(state, act, loc, out);
    }

    fn apply(&self, state: &mut State, ctx: &SiteCtx<'_>, event: &SiteEvent) {
        let SiteEvent::TransferCancelled {
            transfer, location, ..
        } = event
        else {
            return;
        };
        let site = ctx.site;
        let Some(x) = state
            .transfers
            .get(transfer)
            .filter(|x| &x.from_site == site && x.is_returnable())
            .cloned()
        else {
            return;
        };
        for f in &x.firearms {
            back_in_store(state, f, site, location);
        }
        for (lot, n) in &x.rounds {
            state.add(site, *lot, Holder::Store(location.clone()), delta(*n));
        }
        if let Some(x) = state.transfers.get_mut(transfer) {
            x.status = TransferStatus::Cancelled(ctx.hash);
        }
    }
}

/// `SiteEvent::TransferRejected`: the receiver refuses a pending transfer.
pub(super) struct TransferRejected;

impl EventRules for TransferRejected {
    fn check(&self, state: &State, act: &Act<'_>, event: &SiteEvent, out: &mut Out) {
        let SiteEvent::TransferRejected { transfer, .. } = event else {
            return;
        };
        match state.transfers.get(&transfer.hash) {
            Some(x)
                if &x.to_site == act.site
                    && x.from_site == transfer.site
                    && x.status == TransferStatus::Pending => {}
            _ => out.push(
                RuleId::TransferMatches,
                format!(
                    "no pending transfer {} from {} to this site",
                    transfer.hash.short(),
                    transfer.site
                ),
            ),
        }
    }

    fn apply(&self, state: &mut State, ctx: &SiteCtx<'_>, event: &SiteEvent) {
        let SiteEvent::TransferRejected { transfer, .. } = event else {
            return;
        };
        if let Some(x) = state
            .transfers
            .get_mut(&transfer.hash)
            .filter(|x| &x.to_site == ctx.site && x.status == TransferStatus::Pending)
        {
            x.status = TransferStatus::Rejected(ctx.hash);
        }
    }
}
