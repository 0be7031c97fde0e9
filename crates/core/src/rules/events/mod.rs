//! The rules of each kind of site event, one module per family: what the act
//! must satisfy ([`EventRules::check`]) and what it does to the state
//! ([`EventRules::apply`]) sit side by side. [`rules_of`] is the one place
//! that maps an event to its rules.
//!
//! Adding an event kind: the variant in `crate::event`, a unit struct named
//! like the variant implementing [`EventRules`] in its family's module, and
//! its arm in [`rules_of`] (the compiler points at it).

mod access;
mod acquisition;
mod ammunition;
mod corrections;
mod counts;
mod custody;
mod disposal;
mod loss;
mod register;
mod regulator;
mod scope;
mod shared;
mod transfers;

use crate::event::SiteEvent;
use crate::hash::Hash;
use crate::ids::{PersonId, SiteId, Timestamp};
use crate::rules::check::{Act, Out};
use crate::rules::state::State;

pub(super) use regulator::apply_regulator;

/// Where and when a site event is applied.
pub(super) struct SiteCtx<'a> {
    /// Site.
    pub site: &'a SiteId,
    /// Entry hash (the act's id).
    pub hash: Hash,
    /// Acting officer.
    pub officer: &'a PersonId,
    /// Device time.
    pub time: Timestamp,
    /// When the act occurred, as the officer entered it.
    pub occurred_at: Timestamp,
    /// Server receipt time, when known; deadlines run from it.
    pub received_at: Option<Timestamp>,
}

impl SiteCtx<'_> {
    /// The time deadlines run from: the server's receipt, else the device's.
    fn official_time(&self) -> Timestamp {
        self.received_at.unwrap_or(self.time)
    }
}

/// The rules of one kind of site event. Each implementation is a unit struct
/// named like its `SiteEvent` variant; its methods destructure that variant
/// and do nothing for any other.
pub(super) trait EventRules {
    /// Records every hard rule the act breaks, judged against the state
    /// before it. The checks every act shares (site registered, company
    /// active, nothing disposed touched) run first, in `check::evaluate`.
    fn check(&self, state: &State, act: &Act<'_>, event: &SiteEvent, out: &mut Out);

    /// Folds the act into the state. Applied whatever `check` said: the
    /// state follows what the signed record says happened, so a wrong act
    /// shows up in inventories and balances exactly as recorded.
    fn apply(&self, state: &mut State, ctx: &SiteCtx<'_>, event: &SiteEvent);

    /// Whether the acting site's company must be active (`company-active`).
    fn needs_active_company(&self) -> bool {
        false
    }

    /// Whether the act may name a disposed firearm (`disposed-is-final`
    /// spares corrections and annotations).
    fn allowed_after_disposal(&self) -> bool {
        false
    }
}

/// The rules of `event`'s kind.
pub(super) fn rules_of(event: &SiteEvent) -> &'static dyn EventRules {
    use SiteEvent::*;
    match event {
        FirearmAcquired { .. } => &acquisition::FirearmAcquired,
        AmmunitionReceived { .. } => &ammunition::AmmunitionReceived,
        AmmunitionIssued { .. } => &ammunition::AmmunitionIssued,
        AmmunitionReturned { .. } => &ammunition::AmmunitionReturned,
        AmmunitionExpended { .. } => &ammunition::AmmunitionExpended,
        Issued { .. } => &custody::Issued,
        Returned { .. } => &custody::Returned,
        StorageMoved { .. } => &custody::StorageMoved,
        MaintenanceOut { .. } => &custody::MaintenanceOut,
        MaintenanceIn { .. } => &custody::MaintenanceIn,
        TransferredOut { .. } => &transfers::TransferredOut,
        TransferredIn { .. } => &transfers::TransferredIn,
        TransferCancelled { .. } => &transfers::TransferCancelled,
        LossReported { .. } => &loss::LossReported,
        LossReportUpdated { .. } => &loss::LossReportUpdated,
        Seized { .. } => &loss::Seized,
        Recovered { .. } => &loss::Recovered,
        CountPerformed { .. } => &counts::CountPerformed,
        DiscrepancyResolved { .. } => &counts::DiscrepancyResolved,
        Disposed { .. } => &disposal::Disposed,
        Corrected { .. } => &corrections::Corrected,
        Annotated { .. } => &corrections::Annotated,
        Overridden { .. } => &corrections::Overridden,
        TransferRejected { .. } => &transfers::TransferRejected,
        LeftLedger { .. } => &disposal::LeftLedger,
        ComponentChanged { .. } => &custody::ComponentChanged,
        ArmouryOpened { .. } => &access::ArmouryOpened,
        ArmouryClosed { .. } => &access::ArmouryClosed,
        KeyHandedOver { .. } => &access::KeyHandedOver,
        LotStatusChanged { .. } => &ammunition::LotStatusChanged,
        Assigned { .. } => &custody::Assigned,
        TraceAnswered { .. } => &register::TraceAnswered,
    }
}

/// Applies a site event.
pub(super) fn apply_site(state: &mut State, ctx: &SiteCtx<'_>, event: &SiteEvent) {
    // Judged against the register before the act changes the firearm's state.
    register::note_hits(state, ctx, event);
    rules_of(event).apply(state, ctx, event);
}
