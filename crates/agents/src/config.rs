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
pub struct ArmouryConfig {
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

/// What both agents' settings files have in common, so that both
/// directories are opened the same way: the file's name, the device it
/// names, and the keys it pins as trust roots.
pub trait AgentSettings: Serialize + for<'de> Deserialize<'de> {
    /// The settings file inside the directory.
    const FILE: &'static str;
    /// What such a directory is called in errors ("site", "regulator").
    const KIND: &'static str;
    /// Appended to the error when the directory is not one: what to run.
    const HINT: &'static str;
    /// The device address: `unix:PATH` or `tcp:HOST:PORT`.
    fn device(&self) -> &str;
    /// The regulator chain's public key, hex.
    fn regulator_key(&self) -> &str;
    /// Manufacturer roots, hex.
    fn manufacturer_roots(&self) -> &[String];
    /// The server URL and bearer token, to change them.
    fn server_mut(&mut self) -> (&mut Option<String>, &mut Option<String>);
}

impl AgentSettings for ArmouryConfig {
    const FILE: &'static str = files::SITE_TOML;
    const KIND: &'static str = "site";
    const HINT: &'static str = "";
    fn device(&self) -> &str {
        &self.device
    }
    fn regulator_key(&self) -> &str {
        &self.regulator_key
    }
    fn manufacturer_roots(&self) -> &[String] {
        &self.manufacturer_roots
    }
    fn server_mut(&mut self) -> (&mut Option<String>, &mut Option<String>) {
        (&mut self.server, &mut self.token)
    }
}

impl AgentSettings for RegulatorConfig {
    const FILE: &'static str = files::REGULATOR_TOML;
    const KIND: &'static str = "regulator";
    const HINT: &'static str = "; run `armsledger regulator init`";
    fn device(&self) -> &str {
        &self.device
    }
    fn regulator_key(&self) -> &str {
        &self.regulator_key
    }
    fn manufacturer_roots(&self) -> &[String] {
        &self.manufacturer_roots
    }
    fn server_mut(&mut self) -> (&mut Option<String>, &mut Option<String>) {
        (&mut self.server, &mut self.token)
    }
}

/// Reads `dir`'s settings file, or says that `dir` is not such a directory
/// (and what to run to make one).
pub fn load_settings<S: AgentSettings>(dir: &Path) -> Result<S, AgentError> {
    let path = dir.join(S::FILE);
    if !path.exists() {
        return Err(AgentError::Config(format!(
            "{} is not a {} directory (no {}){}",
            dir.display(),
            S::KIND,
            S::FILE,
            S::HINT
        )));
    }
    load(&path)
}

/// Saves the server URL and the token, those given, in `dir`'s settings for
/// next time. Does nothing if neither is given or `dir` has no settings yet
/// (opening it then says what it is missing).
pub fn remember_server<S: AgentSettings>(
    dir: &Path,
    server: Option<String>,
    token: Option<String>,
) -> Result<(), AgentError> {
    let path = dir.join(S::FILE);
    if !path.exists() || (server.is_none() && token.is_none()) {
        return Ok(());
    }
    let mut settings: S = load(&path)?;
    let (s, t) = settings.server_mut();
    if server.is_some() {
        *s = server;
    }
    if token.is_some() {
        *t = token;
    }
    save(&path, &settings)
}

/// The keys settings pin: the regulator chain's key and the manufacturer roots.
pub fn trust_roots<S: AgentSettings>(
    settings: &S,
) -> Result<([u8; 32], Vec<[u8; 32]>), AgentError> {
    let regulator_key = parse_key(settings.regulator_key(), "regulator key")?;
    let roots = settings
        .manufacturer_roots()
        .iter()
        .map(|r| parse_key(r, "manufacturer root"))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((regulator_key, roots))
}

/// Connects to the device `dir`'s settings name.
pub fn connect_dir<S: AgentSettings>(
    dir: &Path,
) -> Result<DeviceClient<Box<dyn Transport>>, AgentError> {
    connect(load_settings::<S>(dir)?.device())
}

/// Writes a TOML settings file atomically: a temporary file beside it,
/// synced, renamed over it, the directory synced. A crash leaves the old
/// file or the new one, never an empty or partial one (`sync --server`
/// rewrites site.toml every time). The old file's permissions are kept.
pub fn save<T: Serialize>(path: &Path, value: &T) -> Result<(), AgentError> {
    use std::io::Write;
    let text = toml::to_string_pretty(value)
        .map_err(|e| AgentError::Config(format!("{}: {e}", path.display())))?;
    let fail =
        |e: std::io::Error| AgentError::Config(format!("cannot write {}: {e}", path.display()));
    // One temporary name per process, so two savers never share one.
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        if let Ok(old) = std::fs::metadata(path) {
            f.set_permissions(old.permissions())?;
        }
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail(e));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(fail)
}

/// Parses a 64-digit hex key (with core's one parser), naming `what` in the error.
pub fn parse_key(hex_key: &str, what: &str) -> Result<[u8; 32], AgentError> {
    armsledger_core::keys::parse_key_hex(hex_key)
        .map_err(|e| AgentError::Config(format!("{what} {e}")))
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
        let cfg: ArmouryConfig = load(&path).unwrap();
        assert_eq!(cfg.server, None);
        assert!(cfg.manufacturer_roots.is_empty());
        save(&path, &cfg).unwrap();
        assert_eq!(load::<ArmouryConfig>(&path).unwrap(), cfg);
    }

    /// A process that opens the directory while another rewrites site.toml
    /// (a `sync --server` killed mid-save, as the next command sees it) must
    /// find the old file or the new one, never an empty or partial one.
    #[test]
    fn a_reader_never_sees_a_half_saved_file() {
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(files::SITE_TOML);
        let config = |server: &str| ArmouryConfig {
            site: "north".into(),
            device: "unix:/tmp/d.sock".into(),
            server: Some(server.into()),
            token: Some("t".repeat(64)),
            regulator_key: "ab".repeat(32),
            manufacturer_roots: vec!["cd".repeat(32)],
            log_vkey: Some("v".repeat(80)),
        };
        save(&path, &config("http://a")).unwrap();
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let reads = std::sync::Arc::new(AtomicU64::new(0));
        let reader = {
            let (path, stop, reads) = (path.clone(), stop.clone(), reads.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let got: ArmouryConfig = load(&path).unwrap_or_else(|e| {
                        panic!(
                            "read {}: a half-saved file: {e}",
                            reads.load(Ordering::Relaxed)
                        )
                    });
                    assert_eq!(got.site, "north");
                    reads.fetch_add(1, Ordering::Relaxed);
                }
            })
        };
        // Saves until the reader has read through many of them (or failed).
        let mut saves = 0u64;
        while (saves < 50 || reads.load(Ordering::Relaxed) < 500) && !reader.is_finished() {
            let server = ["http://a", "http://b"][usize::from(saves & 1 == 0)];
            save(&path, &config(server)).unwrap();
            saves += 1;
        }
        stop.store(true, Ordering::Relaxed);
        reader.join().unwrap();
        // Nothing is left beside it.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(files::SITE_TOML)]);
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
