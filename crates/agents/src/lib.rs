//! armsledger agents: the two programs that hold a signing device and
//! write a chain. This crate holds both of them:
//!
//! * the armoury's agent, [`ArmouryAgent`] (module `armoury`): one site
//!   directory, one device, one local ledger; and
//! * the regulator's agent, [`RegulatorAgent`] (module `regulator`): the
//!   regulator chain, licensing and device enrolment;
//!
//! with what both share: their settings directories ([`config`]) and the
//! one HTTP client of the regulator's server ([`client::ServerClient`]),
//! which the `armsledger` command uses too.
//!
//! Both agents put every act through the same steps:
//!
//! ```text
//! rules check (sites) → write-ahead intent → device SignEntry → commit → fold
//! ```
//!
//! and recover after a crash between the device signature and the commit
//! by asking the device for its last receipt. [`ArmouryAgent::sync`] pushes
//! what the server has not acknowledged and pulls the regulator entries in
//! the site's scope and the bar list.
//!
//! A site directory holds `site.toml` ([`ArmouryConfig`]) and `site.redb`
//! (an [`armsledger_store::ArmouryLedger`]); a regulator directory holds
//! `regulator.toml` ([`RegulatorConfig`]), `regulator.redb` and `admin.key`.
//!
//! ```no_run
//! use armsledger_core::ids::Timestamp;
//! use armsledger_agents::{AgentError, ServerClient, OverrideSpec, ArmouryAgent};
//! # fn act() -> armsledger_core::event::SiteEvent { unimplemented!() }
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut site = ArmouryAgent::open_dir("/srv/armoury".as_ref())?; // connects to the device in site.toml
//! let officer = "armourer-1".parse()?;
//! match site.record(&officer, act(), Timestamp(1_767_225_600_000), None) {
//!     Ok(r) => println!("signed #{}", r.act.counter()),
//!     Err(AgentError::Refused { violations }) => {
//!         // Show the rules and evidence; a supervisor may authorise an exception.
//!         let spec = OverrideSpec { reason: "night cover".parse()?, authoriser: "supervisor-2".parse()? };
//!         let _ = violations;
//!         site.record(&officer, act(), Timestamp(1_767_225_600_000), Some(&spec))?;
//!     }
//!     Err(e) => return Err(e.into()),
//! }
//! let report = site.sync(&ServerClient::new("http://127.0.0.1:8640", Some("TOKEN".into())))?;
//! println!("pushed {} in {} batches", report.pushed, report.batches);
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod armoury;
pub mod client;
pub mod config;
mod error;
mod regulator;

pub use armoury::{ArmouryAgent, ArmouryStatus, IssueLine, OverrideSpec, Recorded, SyncReport};
pub use client::{LedgerServer, ServerClient};
pub use config::{ArmouryConfig, RegulatorConfig};
pub use error::AgentError;
pub use regulator::{DeviceKey, RegulatorAgent, random32};
