//! `armsledger regulator …`: the regulator's own chain, signed by its own
//! device — licences, site registrations, device enrolments (attestation
//! checked), permits, qualifications, revocations — pushed to the server.

use std::path::PathBuf;

use anyhow::bail;
use armsledger_agents::config::{self, files};
use armsledger_agents::{DeviceKey, RegulatorAgent, RegulatorConfig, ServerClient};
use armsledger_core::event::{Event, RegulatorEvent, Revocable};
use armsledger_core::ids::{
    CompanyId, DeviceId, Ident, LocationId, Name, PersonId, SiteId, Text, Timestamp,
};
use armsledger_core::model::{OfficerLicence, Permit, Policy, Qualification, Validity};
use armsledger_core::note::{ErasureGround, SealedNote};
use armsledger_device::host::Transport;
use armsledger_store::NoteClass;
use clap::{Args, Subcommand};

use crate::cmd::act::{explain, parse_time};
use crate::cmd::officer::WeaponKind;

/// Where the regulator directory is and who acts.
#[derive(Debug, Clone, Args)]
pub struct RegArgs {
    /// The regulator directory (regulator.toml, regulator.redb, admin.key).
    #[arg(
        long,
        env = "ARMSLEDGER_REGULATOR",
        default_value = "./armsledger-regulator"
    )]
    pub dir: PathBuf,
    /// The acting official's person id.
    #[arg(long, env = "ARMSLEDGER_OFFICER", default_value = "reg-official")]
    pub officer: PersonId,
}

/// The person a regulator act is about (one `#[command(flatten)]` group for
/// every command that names one).
#[derive(Debug, Clone, Args)]
pub struct PersonArg {
    /// Person id.
    #[arg(long)]
    pub person: PersonId,
}

/// A validity period.
#[derive(Debug, Clone, Args)]
pub struct ValidArgs {
    /// Valid from [default: now].
    #[arg(long = "valid-from", value_parser = parse_time)]
    pub from: Option<Timestamp>,
    /// Valid until (exclusive).
    #[arg(long = "valid-until", value_parser = parse_time)]
    pub until: Timestamp,
}

impl ValidArgs {
    fn validity(&self) -> Validity {
        Validity {
            from: self.from.unwrap_or_else(super::now),
            until: self.until,
        }
    }
}

/// Regulator commands.
#[derive(Debug, Subcommand)]
pub enum RegulatorCommand {
    /// Take a factory-fresh device as the regulator's own and create the directory.
    Init(InitArgs),
    /// License a company.
    LicenseCompany(CompanyArgs),
    /// Register an armoury site for a company (with --expires, its approval's expiry and conditions too).
    RegisterSite(SiteArgs),
    /// Approve (or renew) a site's armoury: expiry, categories held, most firearms present.
    ApproveSite(ApproveArgs),
    /// Accredit a training provider: qualifications it awards while accredited count.
    AccreditProvider(AccreditArgs),
    /// Enrol a site's device: provision, authorise key generation, check attestation, record.
    EnrolDevice(EnrolArgs),
    /// License a person as a security officer (identity kept off-ledger as a salted hash).
    LicensePerson(PersonArgs),
    /// Record a firearm permit for a person.
    RecordPermit(PermitArgs),
    /// Record a qualification for a person.
    RecordQualification(QualArgs),
    /// Revoke a person's licence, a permit or a qualification.
    Revoke(RevokeArgs),
    /// Bar a person from being issued firearms.
    BarPerson(BarArgs),
    /// Authorise a person not employed by a site's company to receive firearms there.
    AuthorisePerson(AuthoriseArgs),
    /// Set the numeric site rules: timeliness window, loss deadline, firearms per holder, count grace.
    SetPolicy(PolicyArgs),
    /// Revoke a site device's key: entries it signs after a counter are refused (stolen, lost or broken device).
    RevokeDevice(RevokeDeviceArgs),
    /// Retire a site device's key: the device signs its final counter and head, then destroys the key.
    RetireDevice(RetireDeviceArgs),
    /// Enter a lost-or-stolen notice from the police or from abroad into the register.
    NoticeStolen(crate::cmd::register::NoticeArgs),
    /// Withdraw a lost-or-stolen notice from the register.
    WithdrawNotice(crate::cmd::register::WithdrawArgs),
    /// Ask a company what its records show about a serial, by a deadline.
    TraceRequest(crate::cmd::register::TraceRequestArgs),
    /// List trace requests: open, answered, overdue (from the server).
    TraceRequests(crate::cmd::register::TraceRequestsArgs),
    /// Push regulator entries the server has not acknowledged.
    Push(PushArgs),
    /// Who read what: the server's access log, filtered (--token-id, --subject, --since), and whether its chain is whole.
    AccessLog(crate::cmd::access_log::AccessLogArgs),
    /// Erase sealed notes (end of retention, or a lawful order): an entry naming the notes, the ground and the date; the server and the sites delete the texts, every entry still verifies.
    EraseNotes(EraseNotesArgs),
    #[command(flatten)]
    Oversight(crate::cmd::oversight::OversightCommand),
}

/// `erase-notes`.
#[derive(Debug, Args)]
#[command(after_help = "Example:
  armsledger regulator erase-notes --note 5e22bcb567d72e555ae4001f7176a18a3091f1ba8ce15eed3429973f451abae0 --order DPA-2027-0412

A note is named by its commitment (64 hex digits), as `trace --json` and
`verify --json` list it. The erasure is a regulator entry: once the server
logs it, the server deletes the texts and each site deletes its own at its
next sync; `verify` and `trace` then say \"note erased on DATE under ORDER\"
where the text was. `armsledger retention apply` records the erasures the
retention policy calls for.")]
pub struct EraseNotesArgs {
    #[command(flatten)]
    pub reg: RegArgs,
    /// A note to erase, by its commitment (64 hex digits); repeat for more.
    #[arg(long = "note", required = true, value_parser = parse_note)]
    pub notes: Vec<SealedNote>,
    /// The lawful order's reference (a court order, a data-protection decision).
    #[arg(long, group = "ground")]
    pub order: Option<Name>,
    /// The notes' retention period has ended.
    #[arg(long, group = "ground")]
    pub end_of_retention: bool,
    /// When the erasure takes effect (RFC 3339 or YYYY-MM-DD) [default: now].
    #[arg(long, value_parser = super::act::parse_time)]
    pub on: Option<Timestamp>,
}

fn parse_note(s: &str) -> Result<SealedNote, String> {
    s.parse::<armsledger_core::hash::Hash>()
        .map(SealedNote)
        .map_err(|_| format!("{s:?} is not a note commitment (64 hex digits)"))
}

/// `regulator init`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger regulator init --device unix:/run/regulator/device.sock --manufacturer-root 9c1f… --server http://127.0.0.1:8640 --token $REG_TOKEN\n  (prints the regulator key: give it to the server (--regulator-key) and every site)"
)]
pub struct InitArgs {
    #[command(flatten)]
    pub reg: RegArgs,
    /// The regulator's device: unix:PATH or tcp:HOST:PORT.
    #[arg(long)]
    pub device: String,
    /// Manufacturer root public keys (hex) that enrolled devices must chain to.
    #[arg(long = "manufacturer-root", required = true)]
    pub roots: Vec<String>,
    /// Server to push to.
    #[arg(long, env = "ARMSLEDGER_SERVER")]
    pub server: Option<String>,
    /// The regulator's bearer token.
    #[arg(long, env = "ARMSLEDGER_TOKEN")]
    pub token: Option<String>,
}

/// `license-company`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  armsledger regulator license-company --company acme --name 'Acme Security Ltd' --licence PSC-001 --categories B,C --valid-until 2029-01-01\n  armsledger regulator license-company --company watch --name 'Watch Guarding Ltd' --licence PSC-002 --valid-until 2029-01-01\n  (no category: a licence for unarmed guarding; the company may acquire neither firearms nor ammunition)"
)]
pub struct CompanyArgs {
    #[command(flatten)]
    pub reg: RegArgs,
    /// Company id.
    #[arg(long)]
    pub company: CompanyId,
    /// Legal name.
    #[arg(long)]
    pub name: Name,
    /// Licence number.
    #[arg(long)]
    pub licence: Name,
    /// Firearm categories it may hold (repeatable, or comma-separated);
    /// none: a licence without firearms (unarmed guarding).
    #[arg(long = "category", alias = "categories", value_delimiter = ',')]
    pub categories: Vec<Ident>,
    #[command(flatten)]
    pub valid: ValidArgs,
}

/// `register-site`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger regulator register-site --site acme-north --company acme --name 'North armoury' --approval ARM-7 --location vault --location rack-1"
)]
pub struct SiteArgs {
    #[command(flatten)]
    pub reg: RegArgs,
    /// Site id.
    #[arg(long)]
    pub site: SiteId,
    /// Company id.
    #[arg(long)]
    pub company: CompanyId,
    /// Site name.
    #[arg(long)]
    pub name: Name,
    /// Armoury approval number.
    #[arg(long)]
    pub approval: Name,
    /// Approved storage locations (repeatable).
    #[arg(long = "location", required = true)]
    pub locations: Vec<LocationId>,
    #[command(flatten)]
    pub conditions: ConditionArgs,
}

/// An armoury approval's expiry and conditions.
#[derive(Debug, Clone, Args)]
pub struct ConditionArgs {
    /// The approval is valid until (exclusive); with it the approval's
    /// conditions are recorded too [default: registration only, no expiry].
    #[arg(long, value_parser = parse_time)]
    pub expires: Option<Timestamp>,
    /// Valid from [default: now].
    #[arg(long = "approved-from", value_parser = parse_time, requires = "expires")]
    pub from: Option<Timestamp>,
    /// Firearm categories the armoury may hold (repeatable, or comma-separated)
    /// [default: no condition beyond the company licence's].
    #[arg(
        long = "category",
        alias = "categories",
        value_delimiter = ',',
        requires = "expires"
    )]
    pub categories: Vec<Ident>,
    /// Most firearms present at once, issued out and in maintenance included
    /// [default: no maximum].
    #[arg(long, requires = "expires")]
    pub max_firearms: Option<u32>,
}

impl ConditionArgs {
    /// The approval event, when an expiry was given.
    fn approval(self, site: SiteId, approval: Name) -> Option<RegulatorEvent> {
        let until = self.expires?;
        Some(RegulatorEvent::SiteApproved {
            site,
            approval,
            valid: Validity {
                from: self.from.unwrap_or_else(super::now),
                until,
            },
            categories: self.categories,
            max_firearms: self.max_firearms,
        })
    }
}

/// `approve-site`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger regulator approve-site --site acme-north --approval ARM-7/2027 --expires 2028-01-01 --category B --max-firearms 40\n  (replaces the site's approval before it; acquisitions and transfers in are judged against it)"
)]
pub struct ApproveArgs {
    #[command(flatten)]
    pub reg: RegArgs,
    /// Site id.
    #[arg(long)]
    pub site: SiteId,
    /// Armoury approval number.
    #[arg(long)]
    pub approval: Name,
    #[command(flatten)]
    pub conditions: ConditionArgs,
}

/// `accredit-provider`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger regulator accredit-provider --provider range-academy --name 'Range Academy' --valid-from 2026-01-01 --valid-until 2029-01-01\n  (once any provider is accredited, a qualification counts only if its provider was accredited on the day it was awarded)"
)]
pub struct AccreditArgs {
    #[command(flatten)]
    pub reg: RegArgs,
    /// Training provider id (as qualifications name it).
    #[arg(long)]
    pub provider: Ident,
    /// Its name.
    #[arg(long)]
    pub name: Name,
    #[command(flatten)]
    pub valid: ValidArgs,
}

/// `enrol-device`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger regulator enrol-device --site acme-north --device unix:/run/acme-north/device.sock"
)]
pub struct EnrolArgs {
    #[command(flatten)]
    pub reg: RegArgs,
    /// Site id.
    #[arg(long)]
    pub site: SiteId,
    /// The site's device: unix:PATH or tcp:HOST:PORT.
    #[arg(long)]
    pub device: String,
}

/// `license-person`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger regulator license-person --person guard-17 --company acme --identity 'ID 8001015009087' --licence SO-17 --valid-until 2027-11-28"
)]
pub struct PersonArgs {
    #[command(flatten)]
    pub reg: RegArgs,
    #[command(flatten)]
    pub person: PersonArg,
    /// Employer.
    #[arg(long)]
    pub company: CompanyId,
    /// Identifying data (name, national id); only a salted hash enters the ledger.
    #[arg(long)]
    pub identity: Text,
    /// Licence number.
    #[arg(long)]
    pub licence: Name,
    /// Grade.
    #[arg(long, default_value = "A")]
    pub grade: Ident,
    #[command(flatten)]
    pub valid: ValidArgs,
}

/// `record-permit`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger regulator record-permit --person guard-17 --permit FP-17 --category B --calibre 9x19mm --valid-until 2027-11-28"
)]
pub struct PermitArgs {
    #[command(flatten)]
    pub reg: RegArgs,
    #[command(flatten)]
    pub person: PersonArg,
    /// Permit number.
    #[arg(long)]
    pub permit: Name,
    /// Categories covered (repeatable).
    #[arg(long = "category", required = true)]
    pub categories: Vec<Ident>,
    /// Calibres covered (repeatable).
    #[arg(long = "calibre")]
    pub calibres: Vec<Name>,
    #[command(flatten)]
    pub valid: ValidArgs,
}

/// `record-qualification`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger regulator record-qualification --person guard-17 --id Q-17-2026 --weapon pistol --provider range-academy --valid-until 2027-11-28"
)]
pub struct QualArgs {
    #[command(flatten)]
    pub reg: RegArgs,
    #[command(flatten)]
    pub person: PersonArg,
    /// Qualification id.
    #[arg(long)]
    pub id: Ident,
    /// Weapon type.
    #[arg(long, value_enum, default_value = "pistol")]
    pub weapon: WeaponKind,
    /// Training provider id.
    #[arg(long)]
    pub provider: Ident,
    #[command(flatten)]
    pub valid: ValidArgs,
}

/// `revoke`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger regulator revoke --person guard-17 --permit FP-17 --reason 'court order 12/2026'"
)]
pub struct RevokeArgs {
    #[command(flatten)]
    pub reg: RegArgs,
    #[command(flatten)]
    pub person: PersonArg,
    /// Revoke the officer licence.
    #[arg(long, group = "what")]
    pub licence: bool,
    /// Revoke this permit.
    #[arg(long, group = "what")]
    pub permit: Option<Name>,
    /// Revoke this qualification.
    #[arg(long, group = "what")]
    pub qualification: Option<Ident>,
    /// Why.
    #[arg(long)]
    pub reason: Text,
}

/// `authorise-person`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger regulator authorise-person --person contractor-4 --site acme-north --valid-until 2027-06-30"
)]
pub struct AuthoriseArgs {
    #[command(flatten)]
    pub reg: RegArgs,
    #[command(flatten)]
    pub person: PersonArg,
    /// The site where the person may receive firearms.
    #[arg(long)]
    pub site: SiteId,
    #[command(flatten)]
    pub valid: ValidArgs,
}

/// `set-policy`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger regulator set-policy --record-within-hours 24 --report-loss-within-hours 24 --max-firearms-per-holder 1 --count-grace-days 30\n\nOne policy is in force for every site; a later one replaces it from its entry on."
)]
pub struct PolicyArgs {
    #[command(flatten)]
    pub reg: RegArgs,
    /// An act must be on the ledger within this many hours of when it happened.
    #[arg(long, default_value_t = 24)]
    pub record_within_hours: u64,
    /// A loss must be reported within this many hours of its discovery.
    #[arg(long, default_value_t = 24)]
    pub report_loss_within_hours: u64,
    /// Most firearms one person may hold at once at a site (a soft alert above it).
    #[arg(long, default_value_t = 1)]
    pub max_firearms_per_holder: u16,
    /// Days a new site has before its first serial-number count is due.
    #[arg(long, default_value_t = 30)]
    pub count_grace_days: u64,
}

/// `bar-person`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger regulator bar-person --person guard-17 --reason misconduct --until 2027-01-01"
)]
pub struct BarArgs {
    #[command(flatten)]
    pub reg: RegArgs,
    #[command(flatten)]
    pub person: PersonArg,
    /// Why.
    #[arg(long)]
    pub reason: Text,
    /// Until when [default: for good].
    #[arg(long, value_parser = parse_time)]
    pub until: Option<Timestamp>,
}

/// `revoke-device`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  armsledger regulator revoke-device --site acme-north --device-id dev-0042 --key-epoch 1 \\\n      --after-counter 1841 --reason 'device stolen, police report 77/2026'\n  armsledger regulator revoke-device --site acme-north --key 5f0c… --after-counter 0 --reason 'never trusted'\n\nEntries the key signed up to --after-counter stay valid; every later one is\nrefused by the server as soon as this revocation is pushed, and by offline\nverification. Take the last counter you trust from the server\n(GET /v1/sites/SITE/integrity: head_counter) or the site's last receipt.\nThe revocation is pushed at once when a server is configured."
)]
pub struct RevokeDeviceArgs {
    #[command(flatten)]
    pub reg: RegArgs,
    /// Site id.
    #[arg(long)]
    pub site: SiteId,
    /// The key, as its public key (64 hex digits).
    #[arg(long, value_parser = parse_public_key, required_unless_present = "device_id", conflicts_with_all = ["device_id", "key_epoch"])]
    pub key: Option<[u8; 32]>,
    /// The key, by its device id (with --key-epoch).
    #[arg(long, requires = "key_epoch")]
    pub device_id: Option<DeviceId>,
    /// The key's epoch on that device.
    #[arg(long, requires = "device_id")]
    pub key_epoch: Option<u32>,
    /// The last counter that stays valid; later entries are refused.
    #[arg(long)]
    pub after_counter: u64,
    /// Why.
    #[arg(long)]
    pub reason: Text,
}

/// `retire-device`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger regulator retire-device --site acme-north --device unix:/run/acme-north/device.sock\n\nFor a device taken out of service in good order: sync the site first, so the\nserver holds every entry up to the device's head. The device signs a retire\nstatement (its final counter and head) under the regulator's authorisation\n(admin.key) and destroys the key; the statement is recorded as\ndevice-key-retired, and entries after the final counter are refused. A locked\ndevice cannot vouch for its head: revoke its key instead (revoke-device)."
)]
pub struct RetireDeviceArgs {
    #[command(flatten)]
    pub reg: RegArgs,
    /// Site id.
    #[arg(long)]
    pub site: SiteId,
    /// The site's device: unix:PATH or tcp:HOST:PORT.
    #[arg(long)]
    pub device: String,
}

fn parse_public_key(s: &str) -> Result<[u8; 32], String> {
    armsledger_core::keys::parse_key_hex(s).map_err(|e| format!("a public key {e}"))
}

/// `regulator push`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger regulator push --server http://127.0.0.1:8640 --token $REG_TOKEN"
)]
pub struct PushArgs {
    #[command(flatten)]
    pub reg: RegArgs,
    /// Server [default: regulator.toml's]; saved for next time.
    #[arg(long, env = "ARMSLEDGER_SERVER")]
    pub server: Option<String>,
    /// Bearer token [default: regulator.toml's]; saved for next time.
    #[arg(long, env = "ARMSLEDGER_TOKEN")]
    pub token: Option<String>,
}

pub(super) type Agent = RegulatorAgent<Box<dyn Transport>>;

pub(super) fn open(reg: &RegArgs) -> anyhow::Result<Agent> {
    if !reg.dir.join(files::REGULATOR_TOML).exists() {
        bail!(
            "{} is not a regulator directory\nhint: create one with `armsledger regulator init`, or pass --dir (or set ARMSLEDGER_REGULATOR)",
            reg.dir.display()
        );
    }
    RegulatorAgent::open_dir(&reg.dir).map_err(explain)
}

/// Seals `text` in the regulator's note store, then records the event made
/// with its commitment (see [`record`]).
pub(super) fn record_sealed(
    reg: &RegArgs,
    text: Text,
    class: NoteClass,
    event: impl FnOnce(SealedNote) -> RegulatorEvent,
) -> anyhow::Result<u8> {
    record_sealed_with(open(reg)?, reg, text, class, event)
}

/// [`record_sealed`] with the regulator's agent already open (opening it
/// replays the regulator chain: once per command is enough).
pub(super) fn record_sealed_with(
    mut agent: Agent,
    reg: &RegArgs,
    text: Text,
    class: NoteClass,
    event: impl FnOnce(SealedNote) -> RegulatorEvent,
) -> anyhow::Result<u8> {
    let note = agent.seal(text, class).map_err(explain)?;
    sign_and_push(&mut agent, reg, vec![event(note)])
}

/// Checks one event against the regulator's state (`rules::check_regulator`),
/// signs it, then pushes if a server is configured (offline is fine).
pub(super) fn record(reg: &RegArgs, event: RegulatorEvent) -> anyhow::Result<u8> {
    record_all(reg, vec![event])
}

/// [`sign_and_push`] on the regulator's agent.
fn record_all(reg: &RegArgs, events: Vec<RegulatorEvent>) -> anyhow::Result<u8> {
    sign_and_push(&mut open(reg)?, reg, events)
}

/// Checks and signs events in order, each against the state its
/// predecessors made, then pushes if a server is configured. A refused
/// event stops the run: what was signed before it stays signed.
fn sign_and_push(
    agent: &mut Agent,
    reg: &RegArgs,
    events: Vec<RegulatorEvent>,
) -> anyhow::Result<u8> {
    for (signed, event) in events.into_iter().enumerate() {
        let violations = agent.verifier().engine().check_regulator(&event);
        if !violations.is_empty() {
            let mut m = if signed == 0 {
                String::from("the rules refuse this act; nothing was signed:")
            } else {
                format!("the rules refuse this act; the {signed} acts before it were signed:")
            };
            for v in &violations {
                m.push_str(&format!("\n  rule {}: {}", v.rule.name(), v.evidence));
            }
            m.push_str(
                "\nhint: check the reference or the entry named (docs/rules.md, \"Oversight\")",
            );
            if signed > 0 {
                push_if_configured(agent);
            }
            bail!(m);
        }
        let kind = event.kind();
        let e = agent.record(&reg.officer, event).map_err(explain)?;
        println!(
            "recorded {kind} as regulator #{} ({})",
            e.counter(),
            e.hash().short()
        );
    }
    push_if_configured(agent);
    Ok(0)
}

fn push_if_configured(agent: &mut Agent) {
    if let Some(server) = agent.config().server.clone() {
        let Some(token) = agent.config().token.clone() else {
            eprintln!("warning: not pushed yet: no token for {server}; {NO_TOKEN_HINT}");
            return;
        };
        let client = ServerClient::new(&server, Some(token));
        match agent.push(&client) {
            Ok(n) => println!("pushed {n} entries to {server}"),
            Err(e) => {
                eprintln!("warning: not pushed yet ({e}); run `armsledger regulator push` later")
            }
        }
    }
}

const NO_TOKEN_HINT: &str = "the server takes regulator entries only with the regulator's token: \
     `armsledger regulator push --token TOKEN` (or ARMSLEDGER_TOKEN; it is saved in regulator.toml); \
     make one with `armsledger token create --data DATA --role regulator`";

/// Runs a regulator command.
pub fn run(cmd: RegulatorCommand) -> anyhow::Result<u8> {
    use RegulatorCommand as C;
    match cmd {
        C::Init(a) => {
            let device = config::connect(&a.device).map_err(explain)?;
            let agent =
                RegulatorAgent::init(&a.reg.dir, &a.device, a.roots, device).map_err(explain)?;
            config::remember_server::<RegulatorConfig>(&a.reg.dir, a.server, a.token)
                .map_err(explain)?;
            println!("regulator created in {}", a.reg.dir.display());
            println!("regulator key {}", hex::encode(agent.regulator_key()));
            println!(
                "keep {} offline: it authorises every device key",
                a.reg.dir.join(files::ADMIN_KEY).display()
            );
            Ok(0)
        }
        C::LicenseCompany(a) => record(
            &a.reg,
            RegulatorEvent::CompanyLicensed {
                company: a.company,
                name: a.name,
                licence: a.licence,
                valid: a.valid.validity(),
                categories: a.categories,
            },
        ),
        C::RegisterSite(a) => {
            let approved = a.conditions.approval(a.site.clone(), a.approval.clone());
            let registered = RegulatorEvent::SiteRegistered {
                site: a.site,
                company: a.company,
                name: a.name,
                approval: a.approval,
                locations: a.locations,
            };
            record_all(
                &a.reg,
                std::iter::once(registered).chain(approved).collect(),
            )
        }
        C::ApproveSite(a) => {
            let Some(approved) = a.conditions.approval(a.site, a.approval) else {
                bail!("approve-site needs --expires: an approval in force until when?");
            };
            record(&a.reg, approved)
        }
        C::AccreditProvider(a) => record(
            &a.reg,
            RegulatorEvent::TrainingProviderAccredited {
                provider: a.provider,
                name: a.name,
                valid: a.valid.validity(),
            },
        ),
        C::EnrolDevice(a) => {
            let mut agent = open(&a.reg)?;
            let mut device = config::connect(&a.device).map_err(explain)?;
            let e = agent
                .enrol_device(&a.reg.officer, &a.site, &mut device)
                .map_err(explain)?;
            println!(
                "attestation checked; recorded device-key-enrolled for {} as regulator #{} ({})",
                a.site,
                e.counter(),
                e.hash().short()
            );
            push_if_configured(&mut agent);
            Ok(0)
        }
        C::LicensePerson(a) => {
            let mut agent = open(&a.reg)?;
            let (e, salt) = agent
                .license_person(
                    &a.reg.officer,
                    a.person.person,
                    a.company,
                    &a.identity,
                    OfficerLicence {
                        number: a.licence,
                        grade: a.grade,
                        valid: a.valid.validity(),
                    },
                )
                .map_err(explain)?;
            println!(
                "recorded person-licensed as regulator #{} ({})",
                e.counter(),
                e.hash().short()
            );
            println!(
                "identity salt {} (keep it with the off-ledger record; only the salted hash is on the ledger)",
                hex::encode(salt)
            );
            push_if_configured(&mut agent);
            Ok(0)
        }
        C::RecordPermit(a) => record(
            &a.reg,
            RegulatorEvent::PermitRecorded {
                person: a.person.person,
                permit: Permit {
                    number: a.permit,
                    categories: a.categories,
                    calibres: a.calibres,
                    valid: a.valid.validity(),
                },
            },
        ),
        C::RecordQualification(a) => record(
            &a.reg,
            RegulatorEvent::QualificationRecorded {
                person: a.person.person,
                qualification: Qualification {
                    id: a.id,
                    weapon: a.weapon.into(),
                    provider: a.provider,
                    valid: a.valid.validity(),
                },
            },
        ),
        C::Revoke(a) => {
            let what = match (a.licence, a.permit, a.qualification) {
                (true, _, _) => Revocable::Licence,
                (_, Some(p), _) => Revocable::Permit(p),
                (_, _, Some(q)) => Revocable::Qualification(q),
                _ => bail!("revoke what? give --licence, --permit NUMBER or --qualification ID"),
            };
            record_sealed(&a.reg, a.reason, NoteClass::Person, |reason| {
                RegulatorEvent::PersonRevoked {
                    person: a.person.person,
                    what,
                    reason,
                }
            })
        }
        C::AuthorisePerson(a) => record(
            &a.reg,
            RegulatorEvent::PersonAuthorised {
                person: a.person.person,
                site: a.site,
                valid: a.valid.validity(),
            },
        ),
        C::SetPolicy(a) => record(
            &a.reg,
            RegulatorEvent::PolicySet {
                policy: Policy {
                    record_within_ms: a.record_within_hours.saturating_mul(Timestamp::HOUR),
                    loss_report_within_ms: a
                        .report_loss_within_hours
                        .saturating_mul(Timestamp::HOUR),
                    max_firearms_per_holder: a.max_firearms_per_holder,
                    count_grace_ms: a.count_grace_days.saturating_mul(Timestamp::DAY),
                },
            },
        ),
        C::BarPerson(a) => record_sealed(&a.reg, a.reason, NoteClass::Person, |reason| {
            RegulatorEvent::PersonBarred {
                person: a.person.person,
                reason,
                until: a.until,
            }
        }),
        C::EraseNotes(a) => {
            let ground = match (a.order, a.end_of_retention) {
                (Some(order), false) => ErasureGround::LawfulOrder(order),
                (None, true) => ErasureGround::RetentionEnded,
                _ => bail!("on what ground? give --order REFERENCE or --end-of-retention"),
            };
            record(
                &a.reg,
                RegulatorEvent::NotesErased {
                    notes: a.notes,
                    ground,
                    erased_on: a.on.unwrap_or_else(super::now),
                },
            )
        }
        C::RevokeDevice(a) => {
            let key = match (a.key, a.device_id, a.key_epoch) {
                (Some(k), _, _) => DeviceKey::Public(k),
                (None, Some(d), Some(e)) => DeviceKey::Epoch(d, e),
                _ => bail!("which key? give --key HEX, or --device-id ID --key-epoch N"),
            };
            let mut agent = open(&a.reg)?;
            let e = agent
                .revoke_device_key(&a.reg.officer, &a.site, &key, a.after_counter, a.reason)
                .map_err(explain)?;
            println!(
                "recorded device-key-revoked for {} ({key}): entries after counter {} are refused; regulator #{} ({})",
                a.site,
                a.after_counter,
                e.counter(),
                e.hash().short()
            );
            push_if_configured(&mut agent);
            Ok(0)
        }
        C::RetireDevice(a) => {
            let mut agent = open(&a.reg)?;
            let mut device = config::connect(&a.device).map_err(explain)?;
            let e = agent
                .retire_device_key(&a.reg.officer, &a.site, &mut device)
                .map_err(explain)?;
            if let Event::Regulator(RegulatorEvent::DeviceKeyRetired { statement, .. }) =
                &e.body().event
            {
                println!(
                    "device {} retired key epoch {} at counter {}; recorded device-key-retired for {} as regulator #{} ({})",
                    statement.body.device,
                    statement.body.key_epoch,
                    statement.body.final_counter,
                    a.site,
                    e.counter(),
                    e.hash().short()
                );
            }
            push_if_configured(&mut agent);
            Ok(0)
        }
        C::NoticeStolen(a) => {
            let reg = a.reg.clone();
            record(&reg, a.event())
        }
        C::WithdrawNotice(a) => record(
            &a.reg,
            RegulatorEvent::StolenNoticeWithdrawn {
                reference: a.reference,
                reason: a.reason.into(),
            },
        ),
        C::TraceRequest(a) => {
            let (reg, event) = crate::cmd::register::trace_request_event(a)?;
            record(&reg, event)
        }
        C::TraceRequests(a) => crate::cmd::register::trace_requests(a),
        C::Oversight(c) => crate::cmd::oversight::run(c),
        C::Push(a) => {
            config::remember_server::<RegulatorConfig>(&a.reg.dir, a.server, a.token)
                .map_err(explain)?;
            let mut agent = open(&a.reg)?;
            let Some(server) = agent.config().server.clone() else {
                bail!(
                    "no server to push to\nhint: did you forget --server? e.g. `armsledger regulator push --server http://HOST:8640 --token TOKEN`"
                );
            };
            if agent.config().token.is_none() {
                bail!("no token to push to {server} with\nhint: {NO_TOKEN_HINT}");
            }
            let n = agent
                .push(&ServerClient::new(&server, agent.config().token.clone()))
                .map_err(explain)?;
            println!("pushed {n} entries to {server}");
            Ok(0)
        }
        C::AccessLog(a) => crate::cmd::access_log::run(a),
    }
}
