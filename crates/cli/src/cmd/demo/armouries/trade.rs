//! The acts of the trade added by issue 16, in the year: the armoury opened
//! and closed by two persons around each monthly count, a barrel changed
//! during maintenance, a pistol sold to a dealer, a short delivery, and an
//! issue to a guard whose requalification was recorded before the old one
//! lapsed, and the vault key handed from the armourer to the supervisor. Each is told to the summary's `story` when it is recorded.

use armsledger_core::event::SiteEvent;
use armsledger_core::ids::Timestamp;
use armsledger_core::model::{
    Component, ComponentChange, ComponentKind, Counterparty, DocKind, ExitKind, FirearmId,
    FirearmType, Item,
};
use armsledger_device::host::Transport;
use armsledger_store::NoteClass;

use super::super::world::{doc, p};
use super::{ArmouryRun, OpenIssue};

/// What the summary calls each act of the story, so the demo test can ask
/// for every one.
pub const STORY: [&str; 7] = [
    "a two-person armoury opening",
    "a component change",
    "a sale to a dealer",
    "a short delivery",
    "a seizure",
    "a renewal recorded in advance",
    "a key hand-over",
];

impl<T: Transport> ArmouryRun<'_, T> {
    /// Counts the act `what` (one of [`STORY`]) in the summary.
    pub(super) fn told(&self, what: &'static str) {
        if let Ok(mut s) = self.common.story.lock() {
            *s.entry(what.to_string()).or_default() += 1;
        }
    }

    /// The armoury is opened by the armourer and the supervisor together.
    pub(super) fn open_armoury(&mut self, t: Timestamp) -> anyhow::Result<()> {
        let with = vec![self.sp.supervisor.clone()];
        self.record(SiteEvent::ArmouryOpened { with }, t, None)?;
        self.told(STORY[0]);
        Ok(())
    }

    /// …and closed and secured by the two of them.
    pub(super) fn close_armoury(&mut self, t: Timestamp) -> anyhow::Result<()> {
        let with = vec![self.sp.supervisor.clone()];
        self.record(SiteEvent::ArmouryClosed { with }, t, None)?;
        Ok(())
    }

    /// While a pistol is at the gunsmith, its worn barrel is replaced: the
    /// old barrel removed, the new one (with its own marking) fitted.
    pub(super) fn change_barrel(&mut self, f: FirearmId, t: Timestamp) -> anyhow::Result<()> {
        let serial = self.serial_of(f)?;
        for (change, marking, minute) in [
            (ComponentChange::Removed, serial.clone(), 0),
            (ComponentChange::Fitted, format!("{serial}-B2"), 5),
        ] {
            self.record(
                SiteEvent::ComponentChanged {
                    firearm: f,
                    change,
                    component: Component {
                        kind: ComponentKind::Barrel,
                        marking: p(&marking)?,
                    },
                    reason: self.seal(
                        "bore pitted; barrel replaced by the gunsmith",
                        NoteClass::Operational,
                        t.plus(minute * 60_000),
                    )?,
                },
                t.plus(minute * 60_000),
                None,
            )?;
        }
        self.told(STORY[1]);
        Ok(())
    }

    /// A pistol sold to a licensed dealer under a transfer authorisation.
    pub(super) fn sell_to_dealer(&mut self, t: Timestamp) -> anyhow::Result<()> {
        let (f, _) = self.pick_firearm(FirearmType::Pistol)?;
        self.record(
            SiteEvent::LeftLedger {
                item: Item::Firearm(f),
                exit: ExitKind::SoldToDealer,
                counterparty: Counterparty {
                    name: p("Gun Traders CC")?,
                    licence: Some(p("DL-0388")?),
                },
                documents: vec![doc(DocKind::TransferAuthorisation, "TA-2026-0031")?],
            },
            t,
            None,
        )?;
        self.told(STORY[2]);
        Ok(())
    }

    /// The armourer goes on leave: the vault key passes to the supervisor
    /// and the key roster says so.
    pub(super) fn hand_over_key(&mut self, t: Timestamp) -> anyhow::Result<()> {
        self.record(
            SiteEvent::KeyHandedOver {
                key: p("vault-1")?,
                from: self.sp.armourer.clone(),
                to: self.sp.supervisor.clone(),
            },
            t,
            None,
        )?;
        self.told(STORY[6]);
        Ok(())
    }

    /// A guard whose qualification lapsed mid-year, requalified before it
    /// did (the regulator recorded the renewal in advance), is issued a
    /// pistol after the old one ended.
    pub(super) fn issue_after_renewal(&mut self, d: u64) -> anyhow::Result<()> {
        let to = self.guard(1)?;
        let (firearm, _) = self.pick_firearm(FirearmType::Pistol)?;
        let lot = self.pick_lot(super::ROUNDS_PER_ISSUE)?;
        let t = self.plan.at(d, 6, 40);
        let ev = self.issue_event(firearm, &to, t, self.plan.at(d, 18, 30), Some(lot))?;
        let r = self.record(ev, t, None)?;
        self.open.push(OpenIssue {
            entry: r.act.hash(),
            firearm,
            lot: Some(lot),
        });
        self.told(STORY[5]);
        Ok(())
    }
}
