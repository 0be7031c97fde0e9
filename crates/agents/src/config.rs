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
    /// The bearer token, if the settings hold one (then the file is a secret).
    fn token(&self) -> Option<&str>;
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
    fn token(&self) -> Option<&str> {
        self.token.as_deref()
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
    fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }
}

/// Reads `dir`'s settings file, or says that `dir` is not such a directory
/// (and what to run to make one). Settings that hold a bearer token are a
/// secret: refused if group or others may read them.
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
    let settings: S = load(&path)?;
    if settings.token().is_some() {
        check_private(&path)?;
    }
    Ok(settings)
}

/// Creates `path` holding `bytes`, readable by its owner only (0600),
/// synced; refuses to replace an existing file. For keys and other secrets.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), AgentError> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    opts.open(path)
        .and_then(|mut f| {
            f.write_all(bytes)?;
            f.sync_all()
        })
        .map_err(|e| AgentError::Config(format!("cannot write {}: {e}", path.display())))
}

/// Refuses a secret file that group or others may read or write, saying
/// how to fix it. An absent file passes (opening it then says so).
pub fn check_private(path: &Path) -> Result<(), AgentError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(m) = std::fs::metadata(path) {
            let mode = m.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(AgentError::Config(format!(
                    "{} holds a secret but group or others may read it (mode {mode:04o}); run `chmod 600 {}`",
                    path.display(),
                    path.display()
                )));
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
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
/// rewrites site.toml every time). Settings may hold a bearer token, so the
/// file is readable by its owner only (0600).
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
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp)?;
        #[cfg(unix)]
        f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
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
    fn settings_with_a_token_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(files::SITE_TOML);
        let mut cfg = ArmouryConfig {
            site: "north".into(),
            device: "unix:/tmp/d.sock".into(),
            server: None,
            token: None,
            regulator_key: "ab".repeat(32),
            manufacturer_roots: vec![],
            log_vkey: None,
        };
        save(&path, &cfg).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        // Quiet: settings without a token may be readable by others.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(load_settings::<ArmouryConfig>(dir.path()).is_ok());
        // Saving again (e.g. `sync --token`) makes it private again.
        cfg.token = Some("als_secret".into());
        save(&path, &cfg).unwrap();
        assert_eq!(mode(&path), 0o600);
        assert!(load_settings::<ArmouryConfig>(dir.path()).is_ok());
        // Firing: a token others may read.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let err = load_settings::<ArmouryConfig>(dir.path()).unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("chmod 600 {}", path.display())),
            "{err}"
        );
        // Keys are written 0600 and never replaced.
        let key = dir.path().join("admin.key");
        write_private(&key, b"00").unwrap();
        assert_eq!(mode(&key), 0o600);
        assert!(write_private(&key, b"11").is_err());
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
