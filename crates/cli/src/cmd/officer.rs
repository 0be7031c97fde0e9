//! Armoury officer commands (site mode, offline): each writes one
//! device-signed entry to the site ledger after the rules engine has judged
//! it. Firearms are named by serial, lots by lot number, people by person id.

use anyhow::{Context, bail};
use armsledger_agents::ArmouryAgent;
use armsledger_core::event::{EntryRef, SiteEvent};
use armsledger_core::hash::Hash;
use armsledger_core::ids::{
    CompanyId, Country, Ident, LocationId, Name, PersonId, SiteId, Text, Timestamp,
};
use armsledger_core::model::{
    AmmoLine, Counterparty, DocKind, DocRef, FirearmId, FirearmIdentity, Holder, Item, LotId,
    LotIdentity, RoundsBack,
};
use armsledger_core::rules::state::{FirearmState, TransferStatus};
use armsledger_device::host::Transport;
use clap::{Args, Subcommand, ValueEnum};

use crate::cmd::act::{ActArgs, explain, open, parse_time};

type Agent = ArmouryAgent<Box<dyn Transport>>;

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
mirror!(/// Ammunition type.
    AmmoKind => AmmoType { FullMetalJacket, HollowPoint, Frangible, Buckshot, Slug, Blank, Training, Other });

/// Every officer command (flattened into the top level).
#[derive(Debug, Subcommand)]
pub enum OfficerCommand {
    /// Record a firearm entering the armoury from outside the ledger.
    #[command(
        after_help = "Example:\n  armsledger acquire --officer armourer-1 --serial GLK-0001 --manufacturer Glock --model '17 Gen5' \\\n      --kind pistol --category B --calibre 9x19mm --country AT --from 'Dealer Ltd' --permit AP-2026-1 --location vault"
    )]
    Acquire(AcquireArgs),
    /// Issue a firearm (and rounds) to a licensed, permitted, qualified person.
    #[command(
        after_help = "Example:\n  armsledger issue --officer armourer-1 --serial GLK-0001 --to guard-17 --post gate-2 --rounds L2026-01=15 --rounds-from vault\n  (refused? add --override --reason '...' --authoriser supervisor-2 for a supervised exception)"
    )]
    Issue(IssueArgs),
    /// Record an issued firearm coming back.
    #[command(
        after_help = "Example:\n  armsledger return --officer armourer-1 --serial GLK-0001 --location vault --rounds-back L2026-01=15:0"
    )]
    Return(ReturnArgs),
    /// Move a firearm or rounds between storage locations.
    #[command(
        name = "move",
        after_help = "Example:\n  armsledger move --officer armourer-1 --serial GLK-0001 --from vault --to rack-1"
    )]
    Move(MoveArgs),
    /// Send firearms or rounds to another site (in transit until acknowledged).
    #[command(
        after_help = "Example:\n  armsledger transfer-out --officer armourer-1 --to-site beta-east --to-company beta --serial GLK-0001 --permit TP-77"
    )]
    TransferOut(TransferOutArgs),
    /// Acknowledge a transfer addressed to this site (after `sync` fetched it).
    #[command(
        after_help = "Example:\n  armsledger transfer-in --officer armourer-2 --location vault"
    )]
    TransferIn(TransferInArgs),
    /// Report firearms lost or stolen.
    #[command(
        after_help = "Example:\n  armsledger report-loss --officer armourer-1 --serial GLK-0001 --kind theft --circumstances 'vehicle break-in' --police-ref CAS-12/2026"
    )]
    ReportLoss(ReportLossArgs),
    /// Record a lost, stolen or seized firearm coming back.
    #[command(
        after_help = "Example:\n  armsledger recover --officer armourer-1 --serial GLK-0001 --location vault"
    )]
    Recover(RecoverArgs),
    /// Record a stock count (two counters, neither the custodian).
    #[command(
        after_help = "Example:\n  armsledger count --officer armourer-1 --session 2026-11 --counter auditor-1 --counter auditor-2 --seen GLK-0001 --seen GLK-0002"
    )]
    Count(CountArgs),
    /// Record a firearm destroyed or deactivated, with two witnesses.
    #[command(
        after_help = "Example:\n  armsledger dispose --officer armourer-1 --serial GLK-0001 --method destroyed --place 'SAPS smelter' --witness w-1 --witness w-2 --order DO-9"
    )]
    Dispose(DisposeArgs),
    /// Ammunition: receive, issue, return, expend.
    #[command(subcommand)]
    Ammo(AmmoCommand),
    /// Supersede an earlier entry (the original stays on the chain).
    #[command(
        after_help = "Example:\n  armsledger correct --officer armourer-1 --entry 12 --serial GLK-0012 --reason 'serial mistyped' --approver supervisor-2"
    )]
    Correct(CorrectArgs),
    /// Add a note to an earlier entry.
    #[command(
        after_help = "Example:\n  armsledger annotate --officer armourer-1 --entry 12 --text 'holster replaced'"
    )]
    Annotate(AnnotateArgs),
}

/// Ammunition commands.
#[derive(Debug, Subcommand)]
pub enum AmmoCommand {
    /// Receive rounds of a lot from outside the ledger.
    #[command(
        after_help = "Example:\n  armsledger ammo receive --officer armourer-1 --lot L2026-01 --manufacturer PMP --calibre 9x19mm --rounds 1000 --from 'PMP' --location vault"
    )]
    Receive(AmmoReceiveArgs),
    /// Issue rounds without a firearm (e.g. to a range session).
    #[command(
        after_help = "Example:\n  armsledger ammo issue --officer armourer-1 --to range-officer-1 --rounds L2026-01=200 --from vault --purpose 'range day'"
    )]
    Issue(AmmoIssueArgs),
    /// Record rounds of an ammunition-only issue coming back.
    #[command(
        after_help = "Example:\n  armsledger ammo return --officer armourer-1 --holder range-officer-1 --rounds-back L2026-01=20:180 --to vault"
    )]
    Return(AmmoReturnArgs),
    /// Record rounds used outside a return (discharge on duty, test fire).
    #[command(
        after_help = "Example:\n  armsledger ammo expend --officer armourer-1 --lot L2026-01 --rounds 2 --holder guard-17 --cause duty-discharge --incident INC-4"
    )]
    Expend(AmmoExpendArgs),
}

/// `acquire`.
#[derive(Debug, Args)]
pub struct AcquireArgs {
    #[command(flatten)]
    pub act: ActArgs,
    /// Serial exactly as marked.
    #[arg(long)]
    pub serial: Name,
    /// Manufacturer.
    #[arg(long)]
    pub manufacturer: Name,
    /// Model.
    #[arg(long)]
    pub model: Name,
    /// Type.
    #[arg(long, value_enum, default_value = "pistol")]
    pub kind: WeaponKind,
    /// Licensing category.
    #[arg(long)]
    pub category: Ident,
    /// Calibre, e.g. 9x19mm.
    #[arg(long)]
    pub calibre: Name,
    /// Country of manufacture (ISO 3166 alpha-2).
    #[arg(long)]
    pub country: String,
    /// Year of manufacture.
    #[arg(long)]
    pub year: Option<u16>,
    /// Importer, if imported.
    #[arg(long)]
    pub importer: Option<Name>,
    /// Supplier.
    #[arg(long = "from")]
    pub source: Name,
    /// Supplier's dealer licence.
    #[arg(long)]
    pub source_licence: Option<Name>,
    /// Acquisition permit number.
    #[arg(long)]
    pub permit: Name,
    /// Storage location.
    #[arg(long)]
    pub location: LocationId,
}

/// `issue`.
#[derive(Debug, Args)]
pub struct IssueArgs {
    #[command(flatten)]
    pub act: ActArgs,
    /// Serial of the firearm.
    #[arg(long)]
    pub serial: String,
    /// Recipient's person id.
    #[arg(long)]
    pub to: PersonId,
    /// Purpose or service.
    #[arg(long, default_value = "duty")]
    pub purpose: Text,
    /// Post or duty point.
    #[arg(long, default_value = "duty")]
    pub post: Name,
    /// When it is due back [default: 12 hours after the act].
    #[arg(long, value_parser = parse_time)]
    pub due: Option<Timestamp>,
    /// Rounds issued with it, LOT=N (repeatable).
    #[arg(long = "rounds", value_parser = parse_lot_count)]
    pub rounds: Vec<(String, u64)>,
    /// Store location the rounds come from.
    #[arg(long)]
    pub rounds_from: Option<LocationId>,
}

/// `return`.
#[derive(Debug, Args)]
pub struct ReturnArgs {
    #[command(flatten)]
    pub act: ActArgs,
    /// Serial of the firearm.
    #[arg(long)]
    pub serial: String,
    /// Condition on return.
    #[arg(long, value_enum, default_value = "serviceable")]
    pub condition: ConditionArg,
    /// Location it goes back to.
    #[arg(long)]
    pub location: LocationId,
    /// Rounds back, LOT=RETURNED:EXPENDED (repeatable).
    #[arg(long = "rounds-back", value_parser = parse_rounds_back)]
    pub rounds_back: Vec<(String, u64, u64)>,
}

/// `move`.
#[derive(Debug, Args)]
pub struct MoveArgs {
    #[command(flatten)]
    pub act: ActArgs,
    /// Serial of the firearm (or --lot and --rounds).
    #[arg(long, conflicts_with = "lot")]
    pub serial: Option<String>,
    /// Lot number.
    #[arg(long, requires = "rounds")]
    pub lot: Option<String>,
    /// Rounds moved.
    #[arg(long)]
    pub rounds: Option<u64>,
    /// From location.
    #[arg(long)]
    pub from: LocationId,
    /// To location.
    #[arg(long)]
    pub to: LocationId,
}

/// `transfer-out`.
#[derive(Debug, Args)]
pub struct TransferOutArgs {
    #[command(flatten)]
    pub act: ActArgs,
    /// Receiving site.
    #[arg(long)]
    pub to_site: SiteId,
    /// Receiving company.
    #[arg(long)]
    pub to_company: CompanyId,
    /// Firearms sent, by serial (repeatable).
    #[arg(long = "serial")]
    pub serials: Vec<String>,
    /// Rounds sent, LOT=N (repeatable).
    #[arg(long = "rounds", value_parser = parse_lot_count)]
    pub rounds: Vec<(String, u64)>,
    /// Where the rounds are taken from.
    #[arg(long)]
    pub rounds_from: Option<LocationId>,
    /// Transfer authorisation or transport permit number.
    #[arg(long)]
    pub permit: Name,
    /// Carrier.
    #[arg(long)]
    pub carrier: Option<Name>,
}

/// `transfer-in`.
#[derive(Debug, Args)]
pub struct TransferInArgs {
    #[command(flatten)]
    pub act: ActArgs,
    /// The transfer-out entry hash [default: the only pending transfer to this site].
    #[arg(long)]
    pub transfer: Option<Hash>,
    /// Where the items are stored.
    #[arg(long)]
    pub location: LocationId,
    /// Note on any difference from what was sent.
    #[arg(long)]
    pub note: Option<Text>,
}

/// `report-loss`.
#[derive(Debug, Args)]
pub struct ReportLossArgs {
    #[command(flatten)]
    pub act: ActArgs,
    /// Firearms missing, by serial (repeatable).
    #[arg(long = "serial", required = true)]
    pub serials: Vec<String>,
    /// Category.
    #[arg(long, value_enum)]
    pub kind: LossArg,
    /// When it was discovered [default: the act's time].
    #[arg(long, value_parser = parse_time)]
    pub discovered: Option<Timestamp>,
    /// Circumstances.
    #[arg(long)]
    pub circumstances: Text,
    /// Police case number.
    #[arg(long)]
    pub police_ref: Option<Name>,
    /// Regulator incident number.
    #[arg(long)]
    pub regulator_ref: Option<Name>,
}

/// `recover`.
#[derive(Debug, Args)]
pub struct RecoverArgs {
    #[command(flatten)]
    pub act: ActArgs,
    /// Serial of the firearm.
    #[arg(long)]
    pub serial: String,
    /// Condition.
    #[arg(long, value_enum, default_value = "serviceable")]
    pub condition: ConditionArg,
    /// Where it is stored.
    #[arg(long)]
    pub location: LocationId,
}

/// `count`.
#[derive(Debug, Args)]
pub struct CountArgs {
    #[command(flatten)]
    pub act: ActArgs,
    /// Count session id.
    #[arg(long)]
    pub session: Ident,
    /// Kind of count.
    #[arg(long, value_enum, default_value = "serial-number")]
    pub kind: CountArg,
    /// Counters (at least two, repeatable).
    #[arg(long = "counter", required = true)]
    pub counters: Vec<PersonId>,
    /// Firearms seen, by serial (repeatable).
    #[arg(long = "seen")]
    pub seen: Vec<String>,
    /// Rounds seen, LOT=N (repeatable).
    #[arg(long = "rounds", value_parser = parse_lot_count)]
    pub rounds: Vec<(String, u64)>,
}

/// `dispose`.
#[derive(Debug, Args)]
pub struct DisposeArgs {
    #[command(flatten)]
    pub act: ActArgs,
    /// Serial of the firearm.
    #[arg(long)]
    pub serial: String,
    /// How.
    #[arg(long, value_enum)]
    pub method: DisposalArg,
    /// Where it was done.
    #[arg(long)]
    pub place: Name,
    /// Witnesses (at least two, repeatable).
    #[arg(long = "witness", required = true)]
    pub witnesses: Vec<PersonId>,
    /// Disposal order number.
    #[arg(long)]
    pub order: Name,
    /// Destruction or deactivation certificate number.
    #[arg(long)]
    pub certificate: Option<Name>,
}

/// `ammo receive`.
#[derive(Debug, Args)]
pub struct AmmoReceiveArgs {
    #[command(flatten)]
    pub act: ActArgs,
    /// Lot number.
    #[arg(long)]
    pub lot: Name,
    /// Manufacturer.
    #[arg(long)]
    pub manufacturer: Name,
    /// Calibre.
    #[arg(long)]
    pub calibre: Name,
    /// Type.
    #[arg(long, value_enum, default_value = "full-metal-jacket")]
    pub kind: AmmoKind,
    /// Whole rounds received.
    #[arg(long)]
    pub rounds: u64,
    /// Supplier.
    #[arg(long = "from")]
    pub source: Name,
    /// Acquisition authorisation number, if required.
    #[arg(long)]
    pub permit: Option<Name>,
    /// Storage location.
    #[arg(long)]
    pub location: LocationId,
}

/// `ammo issue`.
#[derive(Debug, Args)]
pub struct AmmoIssueArgs {
    #[command(flatten)]
    pub act: ActArgs,
    /// Recipient.
    #[arg(long)]
    pub to: PersonId,
    /// Rounds, LOT=N (repeatable).
    #[arg(long = "rounds", value_parser = parse_lot_count, required = true)]
    pub rounds: Vec<(String, u64)>,
    /// Store location.
    #[arg(long)]
    pub from: LocationId,
    /// Purpose.
    #[arg(long, default_value = "training")]
    pub purpose: Text,
    /// Due back [default: 12 hours after the act].
    #[arg(long, value_parser = parse_time)]
    pub due: Option<Timestamp>,
}

/// `ammo return`.
#[derive(Debug, Args)]
pub struct AmmoReturnArgs {
    #[command(flatten)]
    pub act: ActArgs,
    /// Who holds the rounds (finds their open ammunition issue).
    #[arg(long)]
    pub holder: PersonId,
    /// Rounds back, LOT=RETURNED:EXPENDED (repeatable).
    #[arg(long = "rounds-back", value_parser = parse_rounds_back, required = true)]
    pub rounds_back: Vec<(String, u64, u64)>,
    /// Store location they go back to.
    #[arg(long)]
    pub to: LocationId,
}

/// `ammo expend`.
#[derive(Debug, Args)]
pub struct AmmoExpendArgs {
    #[command(flatten)]
    pub act: ActArgs,
    /// Lot number.
    #[arg(long)]
    pub lot: String,
    /// Rounds used.
    #[arg(long)]
    pub rounds: u64,
    /// Person who held them (or --store LOCATION).
    #[arg(long, conflicts_with = "store")]
    pub holder: Option<PersonId>,
    /// Store location they were in.
    #[arg(long)]
    pub store: Option<LocationId>,
    /// Why the rounds were used.
    #[arg(long, value_enum)]
    pub cause: ReasonArg,
    /// Incident reference (required for a discharge on duty).
    #[arg(long)]
    pub incident: Option<Name>,
}

/// `correct`.
#[derive(Debug, Args)]
pub struct CorrectArgs {
    #[command(flatten)]
    pub act: ActArgs,
    /// The counter of the entry on this site's chain to supersede.
    #[arg(long)]
    pub entry: u64,
    /// Why.
    #[arg(long)]
    pub correction_reason: Option<Text>,
    /// Second approver (required when identity fields change).
    #[arg(long)]
    pub approver: Option<PersonId>,
    /// Corrected serial (acquisitions).
    #[arg(long)]
    pub serial: Option<Name>,
    /// Corrected location (acquisitions, receipts, returns).
    #[arg(long)]
    pub location: Option<LocationId>,
}

/// `annotate`.
#[derive(Debug, Args)]
pub struct AnnotateArgs {
    #[command(flatten)]
    pub act: ActArgs,
    /// The counter of the entry on this site's chain.
    #[arg(long)]
    pub entry: u64,
    /// The note.
    #[arg(long)]
    pub text: Text,
}

fn parse_lot_count(s: &str) -> Result<(String, u64), String> {
    let (lot, n) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected LOT=ROUNDS, e.g. L2026-01=15"))?;
    let n = n
        .parse()
        .map_err(|_| format!("{s:?}: rounds must be a whole number"))?;
    Ok((lot.to_string(), n))
}

fn parse_rounds_back(s: &str) -> Result<(String, u64, u64), String> {
    let err = || format!("{s:?}: expected LOT=RETURNED:EXPENDED, e.g. L2026-01=13:2");
    let (lot, rest) = s.split_once('=').ok_or_else(err)?;
    let (r, e) = rest.split_once(':').ok_or_else(err)?;
    Ok((
        lot.to_string(),
        r.parse().map_err(|_| err())?,
        e.parse().map_err(|_| err())?,
    ))
}

/// Runs an officer command.
pub fn run(cmd: OfficerCommand) -> anyhow::Result<u8> {
    use OfficerCommand as C;
    match cmd {
        C::Acquire(a) => acquire(a),
        C::Issue(a) => issue(a),
        C::Return(a) => ret(a),
        C::Move(a) => mv(a),
        C::TransferOut(a) => transfer_out(a),
        C::TransferIn(a) => transfer_in(a),
        C::ReportLoss(a) => report_loss(a),
        C::Recover(a) => recover(a),
        C::Count(a) => count(a),
        C::Dispose(a) => dispose(a),
        C::Ammo(AmmoCommand::Receive(a)) => ammo_receive(a),
        C::Ammo(AmmoCommand::Issue(a)) => ammo_issue(a),
        C::Ammo(AmmoCommand::Return(a)) => ammo_return(a),
        C::Ammo(AmmoCommand::Expend(a)) => ammo_expend(a),
        C::Correct(a) => correct(a),
        C::Annotate(a) => annotate(a),
    }
}

/// Records `event` and reports what was written.
fn record(agent: &mut Agent, act: &ActArgs, event: SiteEvent) -> anyhow::Result<u8> {
    let kind = event.kind();
    let r = agent
        .record(&act.officer, event, act.time(), act.exception().as_ref())
        .map_err(explain)?;
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

fn firearm(agent: &Agent, serial: &str) -> anyhow::Result<(FirearmId, FirearmState)> {
    match agent.firearms_by_serial(serial).as_slice() {
        [one] => Ok((one.id, one.state.clone())),
        [] => bail!(
            "no firearm with serial {serial:?} is on this site's ledger\nhint: check the serial as marked (case, dashes and spaces are ignored); `armsledger acquire` records a new one"
        ),
        _ => bail!(
            "serial {serial:?} matches several firearms here; name the manufacturer's exact serial"
        ),
    }
}

fn lot(agent: &Agent, number: &str) -> anyhow::Result<LotId> {
    match agent.lots_by_number(number).as_slice() {
        [one] => Ok(*one),
        [] => bail!(
            "no ammunition lot {number:?} on this ledger\nhint: `armsledger ammo receive` records a new lot"
        ),
        _ => bail!("lot number {number:?} is ambiguous (several manufacturers)"),
    }
}

fn lines(agent: &Agent, v: &[(String, u64)]) -> anyhow::Result<Vec<AmmoLine>> {
    v.iter()
        .map(|(l, n)| {
            Ok(AmmoLine {
                lot: lot(agent, l)?,
                rounds: *n,
            })
        })
        .collect()
}

fn rounds_back(agent: &Agent, v: &[(String, u64, u64)]) -> anyhow::Result<Vec<RoundsBack>> {
    v.iter()
        .map(|(l, r, e)| {
            Ok(RoundsBack {
                lot: lot(agent, l)?,
                returned: *r,
                expended: *e,
            })
        })
        .collect()
}

fn doc(kind: DocKind, number: Name) -> anyhow::Result<DocRef> {
    Ok(DocRef {
        kind,
        number,
        issuer: "-".parse().context("issuer")?,
        valid_until: None,
        content_hash: None,
    })
}

fn entry_hash(agent: &Agent, counter: u64) -> anyhow::Result<Hash> {
    match agent
        .ledger()
        .entry(counter)
        .map_err(|e| explain(e.into()))?
    {
        Some(e) => Ok(e.hash()),
        None => bail!(
            "this site's chain has no entry #{counter}\nhint: `armsledger status` shows the head"
        ),
    }
}

fn acquire(a: AcquireArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    let identity = FirearmIdentity {
        manufacturer: a.manufacturer,
        importer: a.importer,
        model: a.model,
        kind: a.kind.into(),
        category: a.category,
        calibre: a.calibre,
        serial: a.serial,
        markings: vec![],
        country_of_manufacture: Country::new(&a.country)
            .map_err(|e| anyhow::anyhow!("--country: {e}"))?,
        year_of_manufacture: a.year,
        country_of_import: None,
        year_of_import: None,
        components: vec![],
    };
    let event = SiteEvent::FirearmAcquired {
        firearm: identity.id(),
        identity,
        source: Counterparty {
            name: a.source,
            licence: a.source_licence,
        },
        authorisation: doc(DocKind::AcquisitionPermit, a.permit)?,
        location: a.location,
    };
    record(&mut agent, &a.act, event)
}

fn issue(a: IssueArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    let (id, _) = firearm(&agent, &a.serial)?;
    let reliance = agent.reliance_for(&a.to, &id).map_err(explain)?;
    let event = SiteEvent::Issued {
        firearm: id,
        to: a.to,
        purpose: a.purpose,
        post: a.post,
        due_back: a
            .due
            .unwrap_or_else(|| a.act.time().plus(12 * Timestamp::HOUR)),
        reliance,
        ammunition: lines(&agent, &a.rounds)?,
        ammunition_from: a.rounds_from,
    };
    record(&mut agent, &a.act, event)
}

fn ret(a: ReturnArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    let (id, state) = firearm(&agent, &a.serial)?;
    let FirearmState::Issued { issue, .. } = state else {
        bail!(
            "firearm {} is {}, not issued; nothing to return",
            a.serial,
            state.word()
        );
    };
    let event = SiteEvent::Returned {
        issue,
        firearm: id,
        condition: a.condition.into(),
        ammunition: rounds_back(&agent, &a.rounds_back)?,
        location: a.location,
    };
    record(&mut agent, &a.act, event)
}

fn mv(a: MoveArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    let item = match (&a.serial, &a.lot, a.rounds) {
        (Some(s), _, _) => Item::Firearm(firearm(&agent, s)?.0),
        (None, Some(l), Some(n)) => Item::Rounds(AmmoLine {
            lot: lot(&agent, l)?,
            rounds: n,
        }),
        _ => bail!("name what moves: --serial SERIAL, or --lot LOT --rounds N"),
    };
    record(
        &mut agent,
        &a.act,
        SiteEvent::StorageMoved {
            item,
            from: a.from,
            to: a.to,
        },
    )
}

fn transfer_out(a: TransferOutArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    if a.serials.is_empty() && a.rounds.is_empty() {
        bail!("nothing to send: give --serial and/or --rounds LOT=N");
    }
    let firearms = a
        .serials
        .iter()
        .map(|s| firearm(&agent, s).map(|f| f.0))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let event = SiteEvent::TransferredOut {
        to_site: a.to_site,
        to_company: a.to_company,
        firearms,
        rounds: lines(&agent, &a.rounds)?,
        rounds_from: a.rounds_from,
        permit: doc(DocKind::TransportPermit, a.permit)?,
        carrier: a.carrier,
    };
    record(&mut agent, &a.act, event)
}

fn transfer_in(a: TransferInArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    let inbox = agent.ledger().inbox().map_err(|e| explain(e.into()))?;
    let state = agent.verifier().engine().state();
    let pending: Vec<_> = inbox
        .iter()
        .filter(|e| {
            state
                .transfers
                .get(&e.hash())
                .is_some_and(|t| t.status == TransferStatus::Pending)
        })
        .filter(|e| a.transfer.is_none_or(|h| h == e.hash()))
        .collect();
    let entry = match pending.as_slice() {
        [one] => *one,
        [] => bail!(
            "no pending transfer to this site{}\nhint: run `armsledger sync` to fetch transfers addressed here",
            a.transfer
                .map(|h| format!(" with hash {h}"))
                .unwrap_or_default()
        ),
        _ => bail!(
            "{} transfers are pending; choose one with --transfer HASH",
            pending.len()
        ),
    };
    let armsledger_core::event::Event::Site(SiteEvent::TransferredOut {
        firearms, rounds, ..
    }) = &entry.body().event
    else {
        bail!("inbox entry {} is not a transfer out", entry.hash());
    };
    let armsledger_core::entry::ChainId::Site(from) = entry.chain() else {
        bail!("inbox entry {} is not on a site chain", entry.hash());
    };
    let event = SiteEvent::TransferredIn {
        transfer: EntryRef {
            site: from.clone(),
            counter: entry.counter(),
            hash: entry.hash(),
        },
        firearms: firearms.clone(),
        rounds: rounds.clone(),
        location: a.location,
        note: a.note,
    };
    record(&mut agent, &a.act, event)
}

fn report_loss(a: ReportLossArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    let items = a
        .serials
        .iter()
        .map(|s| firearm(&agent, s).map(|f| Item::Firearm(f.0)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let event = SiteEvent::LossReported {
        items,
        kind: a.kind.into(),
        discovered_at: a.discovered.unwrap_or_else(|| a.act.time()),
        circumstances: a.circumstances,
        police_ref: a.police_ref,
        regulator_ref: a.regulator_ref,
    };
    record(&mut agent, &a.act, event)
}

fn recover(a: RecoverArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    let (id, state) = firearm(&agent, &a.serial)?;
    let report = match state {
        FirearmState::Lost { report } => report,
        FirearmState::Seized { entry } => entry,
        other => bail!(
            "firearm {} is {}, not lost or seized",
            a.serial,
            other.word()
        ),
    };
    let event = SiteEvent::Recovered {
        firearm: id,
        report,
        condition: a.condition.into(),
        location: a.location,
    };
    record(&mut agent, &a.act, event)
}

fn count(a: CountArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    let firearms_seen = a
        .seen
        .iter()
        .map(|s| firearm(&agent, s).map(|f| f.0))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let event = SiteEvent::CountPerformed {
        session: a.session,
        kind: a.kind.into(),
        part: 1,
        parts: 1,
        counters: a.counters,
        firearms_seen,
        rounds_seen: lines(&agent, &a.rounds)?,
    };
    record(&mut agent, &a.act, event)
}

fn dispose(a: DisposeArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    let (id, _) = firearm(&agent, &a.serial)?;
    let event = SiteEvent::Disposed {
        item: Item::Firearm(id),
        method: a.method.into(),
        place: a.place,
        witnesses: a.witnesses,
        authorisation: doc(DocKind::DisposalOrder, a.order)?,
        certificate: a
            .certificate
            .map(|c| doc(DocKind::DeactivationCertificate, c))
            .transpose()?,
    };
    record(&mut agent, &a.act, event)
}

fn ammo_receive(a: AmmoReceiveArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    let identity = LotIdentity {
        lot_number: a.lot,
        manufacturer: a.manufacturer,
        calibre: a.calibre,
        kind: a.kind.into(),
        year: None,
    };
    let event = SiteEvent::AmmunitionReceived {
        lot: identity.id(),
        identity,
        rounds: a.rounds,
        source: Counterparty {
            name: a.source,
            licence: None,
        },
        authorisation: a
            .permit
            .map(|p| doc(DocKind::AcquisitionPermit, p))
            .transpose()?,
        location: a.location,
    };
    record(&mut agent, &a.act, event)
}

fn ammo_issue(a: AmmoIssueArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    let event = SiteEvent::AmmunitionIssued {
        to: a.to,
        lines: lines(&agent, &a.rounds)?,
        from: a.from,
        purpose: a.purpose,
        due_back: a
            .due
            .unwrap_or_else(|| a.act.time().plus(12 * Timestamp::HOUR)),
    };
    record(&mut agent, &a.act, event)
}

fn ammo_return(a: AmmoReturnArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    let state = agent.verifier().engine().state();
    let open_issues: Vec<Hash> = state
        .open_issues
        .iter()
        .filter(|(_, i)| i.firearm.is_none() && i.to == a.holder && &i.site == agent.site())
        .map(|(h, _)| *h)
        .collect();
    let issue = match open_issues.as_slice() {
        [one] => *one,
        [] => bail!("{} holds no open ammunition issue at this site", a.holder),
        _ => bail!(
            "{} holds several open ammunition issues; return them one at a time",
            a.holder
        ),
    };
    let event = SiteEvent::AmmunitionReturned {
        issue,
        lines: rounds_back(&agent, &a.rounds_back)?,
        to: a.to,
    };
    record(&mut agent, &a.act, event)
}

fn ammo_expend(a: AmmoExpendArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    let holder = match (a.holder.clone(), a.store.clone()) {
        (Some(p), _) => Holder::Person(p),
        (None, Some(l)) => Holder::Store(l),
        (None, None) => bail!("who held the rounds? give --holder PERSON or --store LOCATION"),
    };
    let issue = match &holder {
        Holder::Person(p) => agent
            .verifier()
            .engine()
            .state()
            .open_issues
            .iter()
            .find(|(_, i)| &i.to == p && &i.site == agent.site())
            .map(|(h, _)| *h),
        Holder::Store(_) => None,
    };
    let event = SiteEvent::AmmunitionExpended {
        holder,
        line: AmmoLine {
            lot: lot(&agent, &a.lot)?,
            rounds: a.rounds,
        },
        reason: a.cause.into(),
        incident: a.incident,
        issue,
    };
    record(&mut agent, &a.act, event)
}

fn correct(a: CorrectArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    let Some(original) = agent
        .ledger()
        .entry(a.entry)
        .map_err(|e| explain(e.into()))?
    else {
        bail!(
            "this site's chain has no entry #{}\nhint: `armsledger status` shows the head",
            a.entry
        );
    };
    let armsledger_core::event::Event::Site(old) = &original.body().event else {
        bail!("entry #{} is not a site event", a.entry);
    };
    let mut corrected = old.clone();
    match &mut corrected {
        SiteEvent::FirearmAcquired {
            identity, location, ..
        } => {
            if let Some(s) = &a.serial {
                identity.serial = s.clone();
            }
            if let Some(l) = &a.location {
                *location = l.clone();
            }
        }
        SiteEvent::AmmunitionReceived { location, .. } | SiteEvent::Returned { location, .. } => {
            if a.serial.is_some() {
                bail!("--serial corrects acquisitions only");
            }
            if let Some(l) = &a.location {
                *location = l.clone();
            }
        }
        other => bail!(
            "correcting a {} entry is not supported from the command line yet; annotate it instead",
            other.kind()
        ),
    }
    if &corrected == old {
        bail!("nothing to correct: give --serial or --location");
    }
    let reason = match a.correction_reason.clone().or_else(|| a.act.reason.clone()) {
        Some(r) => r,
        None => bail!("say why: --correction-reason TEXT"),
    };
    let event = SiteEvent::Corrected {
        supersedes: original.hash(),
        reason,
        approver: a.approver,
        corrected: Box::new(corrected),
    };
    record(&mut agent, &a.act, event)
}

fn annotate(a: AnnotateArgs) -> anyhow::Result<u8> {
    let mut agent = open(&a.act.site)?;
    let about = entry_hash(&agent, a.entry)?;
    record(
        &mut agent,
        &a.act,
        SiteEvent::Annotated {
            about,
            text: a.text,
        },
    )
}
