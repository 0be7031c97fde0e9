//! Armoury officer commands (site mode, offline): each writes one
//! device-signed entry to the site ledger after the rules engine has judged
//! it. Firearms are named by serial, lots by lot number, people by person id.
//!
//! One module per family of acts: [`custody`] (acquire, issue, return,
//! assign, move), [`maintenance`] (out, in, component), [`transfers`] (out,
//! in, reject, cancel), [`loss`] (report-loss, update-loss, seize, recover),
//! [`counts`] (count, resolve-discrepancy), [`disposal`] (dispose,
//! hand-over), [`ammunition`] (receive, issue, return, expend, lot-status),
//! [`access`] (armoury open and close, key hand-over), [`corrections`]
//! (correct, annotate). Each
//! holds its commands' arguments and handlers; every handler turns its
//! arguments into one [`SiteEvent`] and hands it to [`record`].

mod access;
mod ammunition;
mod corrections;
mod counts;
mod custody;
mod disposal;
mod lookup;
mod loss;
mod maintenance;
mod trace;
mod transfers;

use armsledger_agents::ArmouryAgent;
use armsledger_core::event::SiteEvent;
use armsledger_core::ids::Text;
use armsledger_core::note::SealedNote;
use armsledger_device::host::Transport;
use armsledger_store::NoteClass;
use clap::{Subcommand, ValueEnum};

use crate::cmd::act::{ActArgs, explain};
use access::{AccessArgs, KeyArgs};
use ammunition::{AmmoExpendArgs, AmmoIssueArgs, AmmoReceiveArgs, AmmoReturnArgs, LotStatusArgs};
use corrections::{AnnotateArgs, CorrectArgs};
use counts::{CountArgs, ResolveArgs};
use custody::{AcquireArgs, AssignArgs, IssueArgs, MoveArgs, ReturnArgs};
use disposal::{DisposeArgs, HandOverArgs};
use loss::{RecoverArgs, ReportLossArgs, SeizeArgs, UpdateLossArgs};
use maintenance::{ComponentArgs, MaintenanceInArgs, MaintenanceOutArgs};
use transfers::{TransferCancelArgs, TransferInArgs, TransferOutArgs, TransferRejectArgs};

pub(super) type Agent = ArmouryAgent<Box<dyn Transport>>;

macro_rules! mirror {
    ($(#[$m:meta])* $local:ident => $core:ident { $($v:ident),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, ValueEnum)]
        pub enum $local { $(#[allow(missing_docs)] $v),* }
        impl From<$local> for armsledger_core::model::$core {
            fn from(x: $local) -> Self {
                match x { $($local::$v => armsledger_core::model::$core::$v),* }
            }
        }
    };
}

mirror!(/// Firearm type.
    WeaponKind => FirearmType { Pistol, Revolver, Rifle, Carbine, Shotgun, SubmachineGun, Other });
mirror!(/// Condition.
    ConditionArg => Condition { Serviceable, NeedsCleaning, Damaged, Unserviceable });
mirror!(/// Loss category.
    LossArg => LossKind { Theft, Robbery, Burglary, Loss, MissingInventory });
mirror!(/// Disposal method.
    DisposalArg => DisposalMethod { Destroyed, Deactivated });
mirror!(/// Count kind.
    CountArg => CountKind { Full, SerialNumber, Cyclic, KeyHandover, Opening, Closing });
mirror!(/// Why rounds were used.
    ReasonArg => ExpenditureReason { Training, Qualification, DutyDischarge, TestFire, Malfunction, Other });
mirror!(/// Regulated component.
    ComponentArg => ComponentKind { Frame, Receiver, Barrel, Slide, Cylinder, Bolt });
mirror!(/// Who applied a marking.
    MarkingArg => MarkingKind { Manufacturer, Import, State, Secondary, Deactivation });
mirror!(/// How a firearm or rounds leave the ledger (other than destruction).
    ExitArg => ExitKind { SoldToDealer, HandedToLicensee, ReturnedToLessor, SurrenderedToPolice, Exported });
mirror!(/// Why a firearm is out.
    MaintenanceArg => MaintenanceKind { Repair, Inspection, TestFire });
mirror!(/// Whether a lot may be issued.
    LotStatusArg => LotStatus { Serviceable, Quarantined, Unserviceable });
mirror!(/// Document kind.
    DocKindArg => DocKind { AcquisitionPermit, ImportLicence, ExportLicence, TransportPermit,
        TransferAuthorisation, EndUserCertificate, DisposalOrder, DeactivationCertificate,
        PoliceReport, RegulatorIncident, CourtOrder, Other });
mirror!(/// Ammunition type.
    AmmoKind => AmmoType { FullMetalJacket, HollowPoint, Frangible, Buckshot, Slug, Blank, Training, Other });

/// The firearm an act is about, by serial (one `#[command(flatten)]` group
/// for every command that names one firearm).
#[derive(Debug, Clone, clap::Args)]
pub struct FirearmArg {
    /// Serial of the firearm.
    #[arg(long)]
    pub serial: String,
}

impl FirearmArg {
    /// The one firearm with this serial on the site's ledger, and its state.
    fn resolve(
        &self,
        agent: &Agent,
    ) -> anyhow::Result<(
        armsledger_core::model::FirearmId,
        armsledger_core::rules::state::FirearmState,
    )> {
        lookup::firearm(agent, &self.serial)
    }
}

/// Every officer command (flattened into the top level).
#[derive(Debug, Subcommand)]
pub enum OfficerCommand {
    /// Record a firearm entering the armoury from outside the ledger.
    Acquire(AcquireArgs),
    /// Issue a firearm (and rounds) to a licensed, permitted, qualified person.
    Issue(IssueArgs),
    /// Assign a firearm to a guard for a contract, long-term (ended by `return`).
    Assign(AssignArgs),
    /// Record an issued or assigned firearm coming back.
    Return(ReturnArgs),
    /// Move a firearm or rounds between storage locations.
    #[command(name = "move")]
    Move(MoveArgs),
    /// Send firearms or rounds to another site (in transit until acknowledged).
    TransferOut(TransferOutArgs),
    /// Acknowledge a transfer addressed to this site (after `sync` fetched it).
    TransferIn(TransferInArgs),
    /// Refuse a transfer addressed to this site: the items go back to the sender.
    TransferReject(TransferRejectArgs),
    /// Take back a transfer this site sent, before the receiver acknowledged it.
    TransferCancel(TransferCancelArgs),
    /// Send a firearm to a gunsmith or armourer.
    MaintenanceOut(MaintenanceOutArgs),
    /// Record a firearm back from maintenance.
    MaintenanceIn(MaintenanceInArgs),
    /// Fit or remove a regulated part: frame, receiver, slide, barrel, cylinder, bolt.
    Component(ComponentArgs),
    /// Report firearms lost or stolen.
    ReportLoss(ReportLossArgs),
    /// Add the police case or regulator incident number to a loss report.
    UpdateLoss(UpdateLossArgs),
    /// Record a firearm seized by the police or a court.
    Seize(SeizeArgs),
    /// Record a lost, stolen or seized firearm coming back.
    Recover(RecoverArgs),
    /// Record a stock count (two counters, neither the custodian).
    Count(CountArgs),
    /// Settle a difference a count found: found, reported lost, or clerical.
    ResolveDiscrepancy(ResolveArgs),
    /// Record a firearm or rounds destroyed or deactivated, with two witnesses.
    Dispose(DisposeArgs),
    /// Record a firearm or rounds leaving the ledger: sold to a dealer, handed
    /// to a licensee, returned to a lessor, surrendered to the police, exported.
    HandOver(HandOverArgs),
    /// Record the armoury opened (two persons).
    ArmouryOpen(AccessArgs),
    /// Record the armoury closed and secured (two persons).
    ArmouryClose(AccessArgs),
    /// Record an armoury key changing hands (the key roster).
    KeyHandover(KeyArgs),
    /// Ammunition: receive, issue, return, expend.
    #[command(subcommand)]
    Ammo(AmmoCommand),
    /// Supersede an earlier entry (the original stays on the chain).
    Correct(CorrectArgs),
    /// Add a note to an earlier entry.
    Annotate(AnnotateArgs),
    /// Answer a regulator's trace request about a serial (held, formerly held, never held).
    TraceAnswer(trace::TraceAnswerArgs),
}

/// Ammunition commands.
#[derive(Debug, Subcommand)]
pub enum AmmoCommand {
    /// Receive rounds of a lot from outside the ledger.
    Receive(AmmoReceiveArgs),
    /// Issue rounds without a firearm (e.g. to a range session).
    Issue(AmmoIssueArgs),
    /// Record rounds of an ammunition-only issue coming back.
    Return(AmmoReturnArgs),
    /// Record rounds used outside a return (discharge on duty, test fire).
    Expend(AmmoExpendArgs),
    /// Set a lot's status: serviceable, quarantined or unserviceable.
    LotStatus(LotStatusArgs),
}

pub fn run(cmd: OfficerCommand) -> anyhow::Result<u8> {
    use OfficerCommand as C;
    match cmd {
        C::Acquire(a) => custody::acquire(a),
        C::Issue(a) => custody::issue(a),
        C::Assign(a) => custody::assign(a),
        C::Return(a) => custody::record_return(a),
        C::Move(a) => custody::record_move(a),
        C::TransferOut(a) => transfers::transfer_out(a),
        C::TransferIn(a) => transfers::transfer_in(a),
        C::TransferReject(a) => transfers::transfer_reject(a),
        C::TransferCancel(a) => transfers::transfer_cancel(a),
        C::MaintenanceOut(a) => maintenance::maintenance_out(a),
        C::MaintenanceIn(a) => maintenance::maintenance_in(a),
        C::Component(a) => maintenance::component(a),
        C::ReportLoss(a) => loss::report_loss(a),
        C::UpdateLoss(a) => loss::update_loss(a),
        C::Seize(a) => loss::seize(a),
        C::Recover(a) => loss::recover(a),
        C::Count(a) => counts::count(a),
        C::ResolveDiscrepancy(a) => counts::resolve(a),
        C::Dispose(a) => disposal::dispose(a),
        C::HandOver(a) => disposal::hand_over(a),
        C::ArmouryOpen(a) => access::opened(a),
        C::ArmouryClose(a) => access::closed(a),
        C::KeyHandover(a) => access::key_handover(a),
        C::Ammo(AmmoCommand::Receive(a)) => ammunition::receive(a),
        C::Ammo(AmmoCommand::Issue(a)) => ammunition::issue(a),
        C::Ammo(AmmoCommand::Return(a)) => ammunition::record_return(a),
        C::Ammo(AmmoCommand::Expend(a)) => ammunition::expend(a),
        C::Ammo(AmmoCommand::LotStatus(a)) => ammunition::lot_status(a),
        C::Correct(a) => corrections::correct(a),
        C::Annotate(a) => corrections::annotate(a),
        C::TraceAnswer(a) => trace::trace_answer(a),
    }
}

/// What an officer command recorded, as `--json` prints it.
#[derive(serde::Serialize)]
struct RecordedJson {
    site: String,
    kind: &'static str,
    counter: u64,
    hash: String,
    overrides: Vec<OverrideJson>,
    findings: Vec<FindingJson>,
}

/// An `Overridden` entry written before the act.
#[derive(serde::Serialize)]
struct OverrideJson {
    counter: u64,
    hash: String,
    rule: &'static str,
}

/// A rule finding on the act.
#[derive(serde::Serialize)]
struct FindingJson {
    rule: &'static str,
    evidence: String,
    overridden: bool,
}

/// Seals free text for the act about to be recorded: the text and its salt
/// stay in the site's note store (and go to the server beside the entry at
/// sync); the entry signs only the commitment.
pub(super) fn seal(
    agent: &Agent,
    text: Text,
    class: NoteClass,
    act: &ActArgs,
) -> anyhow::Result<SealedNote> {
    agent.seal(text, class, act.time()).map_err(explain)
}

/// Records `event` and reports what was written (as text, or JSON with `--json`).
pub(super) fn record(agent: &mut Agent, act: &ActArgs, event: SiteEvent) -> anyhow::Result<u8> {
    let kind = event.kind();
    let r = agent
        .record_at(
            &act.officer,
            event,
            act.time(),
            crate::cmd::now(),
            act.exception().as_ref(),
        )
        .map_err(explain)?;
    if act.json {
        let overrides = r
            .overrides
            .iter()
            .map(|o| OverrideJson {
                counter: o.counter(),
                hash: o.hash().to_string(),
                rule: match &o.body().event {
                    armsledger_core::event::Event::Site(SiteEvent::Overridden { rule, .. }) => {
                        rule.name()
                    }
                    _ => "",
                },
            })
            .collect();
        let findings = r
            .findings
            .iter()
            .map(|f| FindingJson {
                rule: f.rule.name(),
                evidence: f.evidence.clone(),
                overridden: f.overridden_by.is_some(),
            })
            .collect();
        crate::out::json(&RecordedJson {
            site: agent.site().to_string(),
            kind,
            counter: r.act.counter(),
            hash: r.act.hash().to_string(),
            overrides,
            findings,
        })?;
        return Ok(0);
    }
    for v in &r.overridden {
        println!(
            "exception: rule {} set aside ({})",
            v.rule.name(),
            v.evidence
        );
    }
    for o in &r.overrides {
        println!(
            "recorded override as {} #{} ({})",
            agent.site(),
            o.counter(),
            o.hash().short()
        );
    }
    println!(
        "recorded {kind} as {} #{} ({})",
        agent.site(),
        r.act.counter(),
        r.act.hash().short()
    );
    for f in &r.findings {
        let how = if f.overridden_by.is_some() {
            "covered by the exception"
        } else {
            "on record for the inspector"
        };
        println!("finding: rule {} ({}); {how}", f.rule.name(), f.evidence);
    }
    Ok(0)
}
