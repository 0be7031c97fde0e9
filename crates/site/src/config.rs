//! `site.toml` and `regulator.toml`: what an agent directory holds besides
//! its redb file, and how to reach the device named there.
//!
//! ```toml
//! site = "acme-north"
//! device = "unix:/run/armoury/device.sock"
//! server = "http://127.0.0.1:8640"
//! token = "site-token"
//! regulator_key = "3b6a27bc…"   # hex, the regulator chain's public key
//! ```

use std::path::{Path, PathBuf};

use armsledger_device::host::{DeviceClient, LoopbackTcp, Transport, UnixSocket};
use serde::{Deserialize, Serialize};

use crate::error::AgentError;

/// A site directory's settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteConfig {
    /// The site id.
    pub site: String,
    /// Device address: `unix:PATH` or `tcp:HOST:PORT`.
    pub device: String,
    /// Server URL, if this site syncs.
    #[serde(default)]
    pub server: Option<String>,
    /// Bearer token for the server.
    #[serde(default)]
    pub token: Option<String>,
    /// The regulator chain's public key, hex.
    pub regulator_key: String,
    /// Manufacturer roots (hex) device enrolments must chain to; empty: not checked.
    #[serde(default)]
    pub manufacturer_roots: Vec<String>,
    /// The log's C2SP verifier key, pinned at the first sync.
    #[serde(default)]
    pub log_vkey: Option<String>,
}

/// A regulator directory's settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegulatorConfig {
    /// The regulator's own device address.
    pub device: String,
    /// Server URL.
    #[serde(default)]
    pub server: Option<String>,
    /// Bearer token for the server.
    #[serde(default)]
    pub token: Option<String>,
    /// The regulator chain's public key (the trust root), hex.
    pub regulator_key: String,
    /// Manufacturer roots (hex) every enrolled device must chain to.
    #[serde(default)]
    pub manufacturer_roots: Vec<String>,
}

/// File names inside an agent directory.
pub mod files {
    /// Site settings.
    pub const SITE_TOML: &str = "site.toml";
    /// Site ledger.
    pub const SITE_REDB: &str = "site.redb";
    /// Regulator settings.
    pub const REGULATOR_TOML: &str = "regulator.toml";
    /// Regulator chain store.
    pub const REGULATOR_REDB: &str = "regulator.redb";
    /// The regulator's offline administration key (hex seed; keep it offline).
    pub const ADMIN_KEY: &str = "admin.key";
}

/// Reads a TOML settings file.
pub fn load<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, AgentError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| AgentError::Config(format!("cannot read {}: {e}", path.display())))?;
    toml::from_str(&text).map_err(|e| AgentError::Config(format!("{}: {e}", path.display())))
}

/// Writes a TOML settings file.
pub fn save<T: Serialize>(path: &Path, value: &T) -> Result<(), AgentError> {
    let text = toml::to_string_pretty(value)
        .map_err(|e| AgentError::Config(format!("{}: {e}", path.display())))?;
    std::fs::write(path, text)
        .map_err(|e| AgentError::Config(format!("cannot write {}: {e}", path.display())))
}

/// Parses a 64-digit hex public key.
pub fn parse_key(hex_key: &str, what: &str) -> Result<[u8; 32], AgentError> {
    let bytes = hex::decode(hex_key.trim())
        .map_err(|_| AgentError::Config(format!("{what} is not hex")))?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| AgentError::Config(format!("{what} is not 32 bytes")))
}

/// Connects to a device at `unix:PATH` or `tcp:HOST:PORT`.
pub fn connect(address: &str) -> Result<DeviceClient<Box<dyn Transport>>, AgentError> {
    let transport: Box<dyn Transport> = if let Some(path) = address.strip_prefix("unix:") {
        Box::new(
            UnixSocket::connect(&PathBuf::from(path))
                .map_err(armsledger_device::DeviceError::from)?,
        )
    } else if let Some(addr) = address.strip_prefix("tcp:") {
        let addr = addr
            .parse()
            .map_err(|e| AgentError::Config(format!("device address {address}: {e}")))?;
        Box::new(LoopbackTcp::connect(addr).map_err(armsledger_device::DeviceError::from)?)
    } else {
        return Err(AgentError::Config(format!(
            "device address {address:?} is neither unix:PATH nor tcp:HOST:PORT"
        )));
    };
    Ok(DeviceClient::new(transport))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn site_toml_round_trips_and_optional_fields_default() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(files::SITE_TOML);
        std::fs::write(
            &path,
            "site = \"north\"\ndevice = \"unix:/tmp/d.sock\"\nregulator_key = \"00\"\n",
        )
        .unwrap();
        let cfg: SiteConfig = load(&path).unwrap();
        assert_eq!(cfg.server, None);
        assert!(cfg.manufacturer_roots.is_empty());
        save(&path, &cfg).unwrap();
        assert_eq!(load::<SiteConfig>(&path).unwrap(), cfg);
    }

    #[test]
    fn keys_and_addresses_are_checked() {
        assert!(parse_key(&"ab".repeat(32), "k").is_ok());
        assert!(matches!(parse_key("abcd", "k"), Err(AgentError::Config(_))));
        assert!(matches!(parse_key("zz", "k"), Err(AgentError::Config(_))));
        assert!(matches!(
            connect("serial:/dev/tty0"),
            Err(AgentError::Config(_))
        ));
        assert!(matches!(
            connect("tcp:not-an-address"),
            Err(AgentError::Config(_))
        ));
        assert!(matches!(
            connect("unix:/nonexistent/armsledger.sock"),
            Err(AgentError::Device(_))
        ));
    }
}
