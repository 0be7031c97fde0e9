//! The one error type of this crate. Each variant names what failed; its
//! [`AgentError::hint`] says what the user should do next (the CLI prints it).

use armsledger_core::rules::Violation;
use armsledger_device::DeviceError;
use armsledger_store::StoreError;

/// Why an agent operation was refused or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// The rules engine refused the act; nothing was signed.
    #[error("refused: {}", describe(.violations))]
    Refused {
        /// Every rule the act breaks, with the ledger's evidence.
        violations: Vec<Violation>,
    },
    /// The signing device refused or could not be reached.
    #[error("device: {0}")]
    Device(#[from] DeviceError),
    /// The local ledger failed or refused.
    #[error("ledger: {0}")]
    Store(#[from] StoreError),
    /// The regulator's chain store (regulator.redb) failed.
    #[error("regulator store: {0}")]
    RegulatorStore(String),
    /// The server refused or could not be reached.
    #[error("server: {0}")]
    Server(String),
    /// The server holds another entry, validly signed by this site's device,
    /// at a counter this push uses (HTTP 409): the device signed two
    /// different entries at one counter. The server kept both as proof.
    #[error(
        "the server refused the push: this site's device has signed two different entries at one counter ({0})"
    )]
    Equivocation(String),
    /// The site or regulator directory or its configuration is unusable.
    #[error("configuration: {0}")]
    Config(String),
    /// The device's key is not enrolled on the regulator chain this site holds.
    #[error(
        "device key {device} epoch {key_epoch} is not enrolled in the regulator chain held here"
    )]
    NotEnrolled {
        /// The device.
        device: String,
        /// The key epoch.
        key_epoch: u32,
    },
    /// A device's attestation does not hold (manufacturer root, nonce, key).
    #[error("attestation refused: {0}")]
    Attestation(String),
    /// An entry failed verification against the ledger held here.
    #[error("verification: {0}")]
    Verify(String),
    /// An input (id, serial, time) is not valid.
    #[error("invalid input: {0}")]
    Input(String),
}

fn describe(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(|v| format!("{} ({})", v.rule.name(), v.evidence))
        .collect::<Vec<_>>()
        .join("; ")
}

impl AgentError {
    /// What to do next, for a person.
    pub fn hint(&self) -> &'static str {
        match self {
            AgentError::Refused { .. } => {
                "fix the cause, or record a supervised exception with --override --reason TEXT --authoriser PERSON"
            }
            AgentError::Device(DeviceError::Transport(_)) => {
                "is the device running? check the device address in site.toml (unix:PATH or tcp:HOST:PORT)"
            }
            AgentError::Device(DeviceError::ChainMismatch { .. }) => {
                "the device and the ledger disagree; run the command again (the ledger recovers at open), then `armsledger status`"
            }
            AgentError::Device(_) => "check the device with `armsledger status`",
            AgentError::Store(StoreError::LedgerBehindDevice { .. }) => {
                "this site.redb is older than the device's history: it was restored from a backup \
                 or copied. Record nothing on it (the device never signs a counter twice). Put back \
                 the newest copy of site.redb (keep this one aside); entries synced before are also \
                 on the regulator's server, which can export them (`armsledger export --site SITE`) \
                 for the regulator to rebuild the site's ledger with you"
            }
            AgentError::Store(_) => {
                "check the site directory (--dir); another armsledger may hold it open"
            }
            AgentError::RegulatorStore(_) => {
                "check the regulator directory (--dir); another armsledger may hold it open"
            }
            AgentError::Server(_) => {
                "check --server and --token (or site.toml), and that the server is running"
            }
            AgentError::Equivocation(_) => {
                "a cloned, restored or faulty signing device (or a site directory restored from a \
                 backup and signed again). Stop recording with this device and keep it and the \
                 site directory as they are: they are evidence. Call the regulator: they see the \
                 proof under `armsledger alerts` (key-equivocated), revoke the device key and enrol \
                 a new device; entries the server already logged stay valid"
            }
            AgentError::Config(_) => {
                "create the directory with `armsledger site init`, or point --dir (ARMSLEDGER_SITE) at it"
            }
            AgentError::NotEnrolled { .. } => {
                "the regulator must enrol this device; then run `armsledger sync` to fetch the enrolment"
            }
            AgentError::Attestation(_) => {
                "the device is not genuine or not the one expected; do not enrol it"
            }
            AgentError::Verify(_) => "run `armsledger fsck --data DIR` and report it",
            AgentError::Input(_) => "see --help for the expected form",
        }
    }
}
