//! The benchmark behind `armsledger-device bench`: device signatures per
//! second in process and over each socket transport, printed next to raw
//! Ed25519 signing speed measured in the same run.

use std::io;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use armsledger_core::entry::ChainId;
use armsledger_core::hash::Hash;
use armsledger_core::ids::{DeviceId, Name, SiteId};
use armsledger_core::statements::AuthorisedAction;
use ed25519_dalek::{Signer as _, SigningKey};

use crate::factory::{DeviceSpec, manufacture};
use crate::file::{FileFlash, FileMonotonic};
use crate::firmware::{Device, Platform};
use crate::host::{self, DeviceClient, DeviceError, InProcess, LoopbackTcp, Transport, UnixSocket};
use crate::listener::{self, Listen, SharedDevice};
use crate::memory::{MemoryDeviceError, memory_device};
use crate::storage::SystemClock;

/// Why the benchmark stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// A device call failed.
    #[error("device: {0}")]
    Device(#[from] DeviceError),
    /// Making a device failed.
    #[error("setup: {0}")]
    Setup(String),
    /// The OS refused.
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
}

impl From<MemoryDeviceError> for BenchError {
    fn from(e: MemoryDeviceError) -> Self {
        BenchError::Setup(e.to_string())
    }
}

/// One measured figure.
#[derive(Clone, Debug)]
pub struct Figure {
    /// What was measured.
    pub label: String,
    /// Operations completed.
    pub ops: u64,
    /// Time taken.
    pub elapsed: Duration,
}

impl Figure {
    /// Operations per second.
    pub fn rate(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.ops as f64 / secs
        } else {
            0.0
        }
    }
}

const REGULATOR_SEED: [u8; 32] = [0x52; 32];
const ROOT_SEED: [u8; 32] = [0x4d; 32];

fn spec(name: &str) -> Result<DeviceSpec, BenchError> {
    Ok(DeviceSpec {
        device: DeviceId::new(name).map_err(|e| BenchError::Setup(e.to_string()))?,
        model: Name::new("SIM-1").map_err(|e| BenchError::Setup(e.to_string()))?,
        seed: [0x11; 32],
    })
}

fn chain() -> Result<ChainId, BenchError> {
    Ok(ChainId::Site(
        SiteId::new("bench-site").map_err(|e| BenchError::Setup(e.to_string()))?,
    ))
}

/// Provisions a Factory device and gives it an authorised site key.
pub fn activate<T: Transport>(
    client: &mut DeviceClient<T>,
    regulator: &SigningKey,
    chain: &ChainId,
) -> Result<(), BenchError> {
    let info = client.info()?;
    client.provision(regulator.verifying_key().to_bytes(), chain.clone())?;
    let nonce = client.nonce()?;
    let a = host::authorise(
        regulator,
        info.device,
        nonce,
        AuthorisedAction::GenerateSiteKey {
            chain: chain.clone(),
        },
    )
    .map_err(|e| BenchError::Setup(e.to_string()))?;
    client.generate_site_key(Some(a))?;
    Ok(())
}

/// Signs entries back to back for `duration`.
fn sign_for<T: Transport>(
    label: &str,
    client: &mut DeviceClient<T>,
    duration: Duration,
) -> Result<Figure, BenchError> {
    let chain = chain()?;
    let mut prev = client.info()?.head.hash;
    let start = Instant::now();
    let mut ops = 0u64;
    while start.elapsed() < duration || ops == 0 {
        let body = Hash::of(&[b"bench body", &ops.to_le_bytes()]);
        let r = client.sign_entry(chain.clone(), prev, body)?;
        prev = r
            .header
            .entry_hash()
            .map_err(|e| BenchError::Setup(e.to_string()))?;
        ops += 1;
    }
    Ok(Figure {
        label: label.to_string(),
        ops,
        elapsed: start.elapsed(),
    })
}

fn raw_ed25519(duration: Duration) -> Figure {
    let key = SigningKey::from_bytes(&[0x33; 32]);
    // About the size of the tag and an encoded entry header.
    let message = [0x5au8; 160];
    let start = Instant::now();
    let mut ops = 0u64;
    while start.elapsed() < duration || ops == 0 {
        let sig = key.sign(&message);
        std::hint::black_box(sig);
        ops += 1;
    }
    Figure {
        label: "raw ed25519 sign (same run, same thread)".into(),
        ops,
        elapsed: start.elapsed(),
    }
}

fn active_memory_device(name: &str) -> Result<SharedDevice, BenchError> {
    let root = SigningKey::from_bytes(&ROOT_SEED);
    let device = memory_device(&root, &spec(name)?, Box::new(SystemClock))?;
    let regulator = SigningKey::from_bytes(&REGULATOR_SEED);
    activate(
        &mut DeviceClient::new(InProcess::new(device.clone())),
        &regulator,
        &chain()?,
    )?;
    Ok(device)
}

/// Serves `device` on a background thread and returns the bound address.
fn serve_in_background(device: SharedDevice, listen: Listen) -> Result<String, BenchError> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let tx2 = tx.clone();
        if let Err(e) = listener::serve(&device, &listen, move |addr| {
            let _ = tx2.send(Ok(addr.to_string()));
        }) {
            let _ = tx.send(Err(e.to_string()));
        }
    });
    rx.recv_timeout(Duration::from_secs(10))
        .map_err(|_| BenchError::Setup("the server did not start".into()))?
        .map_err(BenchError::Setup)
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs every measurement for `per_case` each and returns the figures.
pub fn run(per_case: Duration) -> Result<Vec<Figure>, BenchError> {
    let dir = TempDir(
        std::env::temp_dir().join(format!("armsledger-device-bench-{}", std::process::id())),
    );
    std::fs::create_dir_all(&dir.0)?;
    let mut out = vec![raw_ed25519(per_case)];

    let device = active_memory_device("bench-mem")?;
    let mut client = DeviceClient::new(InProcess::new(device.clone()));
    out.push(sign_for("in-process, memory flash", &mut client, per_case)?);

    let sock = dir.0.join("device.sock");
    serve_in_background(device.clone(), Listen::Unix(sock.clone()))?;
    let mut client = DeviceClient::new(UnixSocket::connect(&sock).map_err(DeviceError::from)?);
    out.push(sign_for(
        "unix socket, memory flash",
        &mut client,
        per_case,
    )?);

    let tcp: std::net::SocketAddr = ([127, 0, 0, 1], 0).into();
    let addr = serve_in_background(device, Listen::Tcp(tcp))?;
    let addr: std::net::SocketAddr = addr
        .trim_start_matches("tcp:")
        .parse()
        .map_err(|_| BenchError::Setup(format!("bad address {addr}")))?;
    let mut client = DeviceClient::new(LoopbackTcp::connect(addr).map_err(DeviceError::from)?);
    out.push(sign_for(
        "loopback tcp, memory flash",
        &mut client,
        per_case,
    )?);

    let root = SigningKey::from_bytes(&ROOT_SEED);
    let (_, image) =
        manufacture(&root, &spec("bench-file")?).map_err(|e| BenchError::Setup(e.to_string()))?;
    let flash = dir.0.join("device.flash");
    let mono = dir.0.join("device.mono");
    FileFlash::create(&flash, &image).map_err(|e| BenchError::Setup(e.to_string()))?;
    FileMonotonic::create(&mono).map_err(|e| BenchError::Setup(e.to_string()))?;
    let file_device = Device::boot(Platform {
        flash: Box::new(FileFlash::open(&flash).map_err(|e| BenchError::Setup(e.to_string()))?),
        monotonic: Box::new(
            FileMonotonic::open(&mono).map_err(|e| BenchError::Setup(e.to_string()))?,
        ),
        clock: Box::new(SystemClock),
    })
    .map_err(|e| BenchError::Setup(e.to_string()))?;
    let mut client = DeviceClient::new(InProcess::new(SharedDevice::new(file_device)));
    activate(
        &mut client,
        &SigningKey::from_bytes(&REGULATOR_SEED),
        &chain()?,
    )?;
    out.push(sign_for(
        "in-process, file flash (fsync per commit)",
        &mut client,
        per_case,
    )?);
    Ok(out)
}

/// Prints the figures as a table, each with its ratio to raw signing.
pub fn print(figures: &[Figure]) {
    let raw = figures.first().map_or(0.0, Figure::rate);
    println!(
        "{:<44} {:>12} {:>10}",
        "measurement", "per second", "vs raw"
    );
    for f in figures {
        let ratio = if raw > 0.0 { f.rate() / raw } else { 0.0 };
        println!("{:<44} {:>12.0} {:>9.3}x", f.label, f.rate(), ratio);
    }
}
