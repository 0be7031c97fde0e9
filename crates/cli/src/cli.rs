//! The command line: every command, its help and examples.

use clap::{Parser, Subcommand};

use crate::cmd;

/// The weapons traceability ledger for regulators of private security
/// companies, their armouries and auditors.
#[derive(Debug, Parser)]
#[command(
    name = "armsledger",
    version,
    about,
    after_help = "Examples:\n  armsledger demo                                  run the whole system on this machine\n  armsledger serve --data ./regulator --regulator-key HEX\n  armsledger verify export.bundle --trusted-key log.vkey\n  armsledger trace GLK-0001 --server http://127.0.0.1:8640 --token $TOKEN\n\nExit codes: 0 ok (or authentic), 1 an authenticity check failed, 2 usage or I/O error.\nSee docs/cli.md for the officer's, inspector's and auditor's guides."
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Every command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole system on this machine: devices, the regulator, armouries, the server, a year of operations.
    Demo(cmd::demo::DemoArgs),
    /// Run the regulator's verification server.
    Serve(cmd::serve::ServeArgs),
    /// Follow a log's checkpoints and tiles, verify them, and serve a copy.
    Mirror(cmd::mirror::MirrorArgs),
    /// Create, list and revoke the server's bearer tokens.
    Token {
        /// Token action.
        #[command(subcommand)]
        action: cmd::token::TokenCommand,
    },
    /// Verify an exported bundle or a weapon dossier offline (no network).
    Verify(cmd::verify::VerifyArgs),
    /// Re-derive and check a server's log store without starting anything.
    Fsck(cmd::fsck::FsckArgs),
    /// Compact a server's log file offline (the server also does it at quiet moments).
    Compact(cmd::compact::CompactArgs),
    /// Trace one weapon cradle to grave, or an ammunition lot (--lot).
    Trace(cmd::trace::TraceArgs),
    /// A site's inventory, now or as of a time.
    Inventory(cmd::query::InventoryArgs),
    /// Alerts: overdue returns, transfers in transit, items missing in transit, late or incomplete loss reports, expiries, counts, holders over the limit.
    Alerts(cmd::query::AlertsArgs),
    /// Look a serial up (police, inspector, regulator): every firearm sharing it, where, its state, whether reported lost or stolen; the index's proof, or absence proof, checked before printing.
    CheckSerial(cmd::register::CheckSerialArgs),
    /// Hard-rule findings: site, company, rule, time, overridden or not.
    Findings(cmd::findings::FindingsArgs),
    /// Download a bundle for offline verification.
    Export(cmd::query::ExportArgs),
    /// A site's acquisition and disposition book (csv or html), with the corrections report.
    Book(cmd::book::BookArgs),
    /// The regulator's reports (issues, counts, losses, expiries, transfers, disposals, personnel, access, summary, periodic return) as csv, json or html; `report verify-return` checks a filed return against a bundle.
    Report(cmd::report::ReportArgs),
    /// Armoury officer commands (site mode, work offline).
    #[command(flatten)]
    Officer(Box<cmd::officer::OfficerCommand>),
    /// Set up a site directory.
    Site {
        /// Site action.
        #[command(subcommand)]
        action: cmd::setup::SiteCommand,
    },
    /// Push unsent entries to the server and pull regulator entries and transfers.
    Sync(cmd::sync::SyncArgs),
    /// Site head, unsynced entries, open issues, overdue returns, expiries, armoury open/closed and key roster, discrepancies, items missing in transit.
    Status(cmd::setup::StatusArgs),
    /// The regulator's chain: licences, registrations, enrolments, revocations.
    Regulator {
        /// Regulator action.
        #[command(subcommand)]
        action: cmd::regulator::RegulatorCommand,
    },
    /// Retention (regulator): `apply` erases the sealed notes whose period under the server's policy has ended; `archive` writes the log to an offline bundle that verifies.
    Retention {
        /// Retention action.
        #[command(subcommand)]
        action: cmd::retention::RetentionCommand,
    },
    /// Run or make a simulated signing device (the armoury's secure element).
    Device {
        /// Device action.
        #[command(subcommand)]
        action: armsledger_device::cli::Command,
    },
    /// Run a C2SP witness that cosigns other logs' checkpoints (`init`, `serve`).
    Witness {
        /// Witness action.
        #[command(subcommand)]
        action: armsledger_witness::cli::Command,
    },
    /// Print shell completions.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}
