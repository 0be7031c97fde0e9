//! Shared fixtures: keys, chain, entry bodies, device processes, and a host
//! that verifies every receipt it is given.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use armsledger_core::ChainCursor;
use armsledger_core::entry::{ChainId, EntryBody, SignedEntry};
use armsledger_core::event::{Event, SiteEvent};
use armsledger_core::hash::Hash;
use armsledger_core::ids::{DeviceId, Name, PersonId, SiteId, Text, Timestamp};
use armsledger_core::note::NoteOpening;
use armsledger_core::statements::{Authorisation, AuthorisedAction};
use armsledger_device::factory::DeviceSpec;
use armsledger_device::host::{self, DeviceClient, DeviceError, Transport};
use armsledger_device::state::Receipt;
use ed25519_dalek::SigningKey;

pub const T0: Timestamp = Timestamp(1_780_000_000_000);
pub const ROOT_SEED: [u8; 32] = [0x4d; 32];
pub const REGULATOR_SEED: [u8; 32] = [0x52; 32];
pub const DEVICE_SEED: [u8; 32] = [0x11; 32];

pub fn root() -> SigningKey {
    SigningKey::from_bytes(&ROOT_SEED)
}

pub fn regulator() -> SigningKey {
    SigningKey::from_bytes(&REGULATOR_SEED)
}

pub fn site_chain() -> ChainId {
    ChainId::Site(SiteId::new("armoury-north").unwrap())
}

pub fn spec(device: &str) -> DeviceSpec {
    DeviceSpec {
        device: DeviceId::new(device).unwrap(),
        model: Name::new("SIM-1").unwrap(),
        seed: DEVICE_SEED,
    }
}

/// An entry body for a site chain (an annotation: no subjects to link).
pub fn body(i: u64) -> EntryBody {
    EntryBody {
        format: Default::default(),
        occurred_at: T0,
        officer: PersonId::new("armourer-1").unwrap(),
        links: vec![],
        event: Event::Site(SiteEvent::Annotated {
            about: Hash::of(&[b"about", &i.to_le_bytes()]),
            text: NoteOpening::new(Text::new(format!("note {i}")).unwrap(), [7; 32]).seal(),
        }),
    }
}

pub fn authorisation<T: Transport>(
    c: &mut DeviceClient<T>,
    device: &DeviceId,
    action: AuthorisedAction,
) -> Authorisation {
    let nonce = c.nonce().unwrap();
    host::authorise(&regulator(), device.clone(), nonce, action).unwrap()
}

/// Provisions a Factory device for `chain` and gives it an authorised key.
pub fn activate<T: Transport>(c: &mut DeviceClient<T>, chain: &ChainId) -> [u8; 32] {
    let device = c.info().unwrap().device;
    c.provision(regulator().verifying_key().to_bytes(), chain.clone())
        .unwrap();
    let a = authorisation(
        c,
        &device,
        AuthorisedAction::GenerateSiteKey {
            chain: chain.clone(),
        },
    );
    c.generate_site_key(Some(a)).unwrap().public_key
}

/// A host that keeps its chain and checks each receipt as the regulator would.
pub struct Ledger {
    pub cursor: ChainCursor,
    pub entries: Vec<SignedEntry>,
}

impl Ledger {
    pub fn new(chain: ChainId) -> Self {
        Ledger {
            cursor: ChainCursor::new(chain),
            entries: Vec::new(),
        }
    }

    pub fn head_hash(&self) -> Hash {
        self.cursor.head().map_or(Hash::ZERO, |h| h.hash)
    }

    /// Assembles a receipt with its body, checks it extends the chain and its
    /// signature holds under `key`, and appends it.
    pub fn append(&mut self, receipt: &Receipt, body: EntryBody, key: &[u8; 32]) -> SignedEntry {
        let e = SignedEntry::assemble(receipt.header.clone(), receipt.signature, body).unwrap();
        e.verify_signature(key).unwrap();
        self.cursor.advance(&e).unwrap();
        self.entries.push(e.clone());
        e
    }

    /// Signs body `i` on the current head and appends it.
    pub fn sign<T: Transport>(
        &mut self,
        c: &mut DeviceClient<T>,
        i: u64,
        key: &[u8; 32],
    ) -> Result<SignedEntry, DeviceError> {
        let b = body(i);
        let r = c.sign_entry(
            self.cursor.chain().clone(),
            self.head_hash(),
            b.hash().unwrap(),
        )?;
        Ok(self.append(&r, b, key))
    }
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_armsledger-device")
}

/// Manufactures a device with the CLI into `dir`; returns its flash path.
pub fn manufacture_files(dir: &Path, device: &str) -> PathBuf {
    let flash = dir.join(format!("{device}.flash"));
    let root = dir.join("root.key");
    if !root.exists() {
        std::fs::write(&root, hex::encode(ROOT_SEED)).unwrap();
    }
    let out = Command::new(bin())
        .args(["manufacture", "--device", device, "--seed"])
        .arg(hex::encode(DEVICE_SEED))
        .arg("--root")
        .arg(&root)
        .arg("--flash")
        .arg(&flash)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    flash
}

/// A device process serving on a socket; killed when dropped.
pub struct Served {
    pub child: Child,
    pub addr: String,
}

impl Served {
    /// Runs `serve --flash FLASH --listen LISTEN` and waits for its "listening" line.
    pub fn start(flash: &Path, listen: &str) -> Served {
        let mut child = Command::new(bin())
            .args(["serve", "--listen", listen, "--flash"])
            .arg(flash)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Served { child, addr }
    }

    pub fn tcp_addr(&self) -> std::net::SocketAddr {
        self.addr.strip_prefix("tcp:").unwrap().parse().unwrap()
    }

    pub fn unix_path(&self) -> PathBuf {
        PathBuf::from(self.addr.strip_prefix("unix:").unwrap())
    }

    /// Stops the process (as pulling the plug would).
    pub fn stop(mut self) {
        self.kill();
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `serve --listen stdio` as a command for [`armsledger_device::host::StdioChild`].
pub fn stdio_command(flash: &Path) -> Command {
    let mut c = Command::new(bin());
    c.args(["serve", "--listen", "stdio", "--flash"])
        .arg(flash)
        .stderr(Stdio::null());
    c
}
