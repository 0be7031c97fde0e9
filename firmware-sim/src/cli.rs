//! The `armsledger-device` command line, as a library so the `armsledger`
//! command can embed it (`armsledger device serve ...`): manufacture simulated
//! signing devices and serve one as its own process, as an armoury's host
//! would reach real hardware.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::factory::{DeviceSpec, manufacture};
use crate::file::{FileFlash, FileMonotonic, default_monotonic_path};
use crate::firmware::{Device, Platform};
use crate::listener::{self, Listen, SharedDevice};
use crate::storage::{FileClock, Flash, MonotonicStore, SystemClock};
use crate::{bench, protocol};
use armsledger_core::ids::{DeviceId, Name};
use clap::{Parser, Subcommand};
use ed25519_dalek::SigningKey;
use rand_core::{OsRng, RngCore};
use zeroize::Zeroizing;

/// Simulated armoury signing device.
#[derive(Debug, Parser)]
#[command(name = "armsledger-device", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Device commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Make a device: certify a new identity with the manufacturer root and
    /// write a fresh flash file and monotonic cell file.
    Manufacture {
        /// Manufacturer root key file (64 hex digits); created if missing.
        #[arg(long)]
        root: PathBuf,
        /// Device serial.
        #[arg(long)]
        device: DeviceId,
        /// Flash file to create.
        #[arg(long)]
        flash: PathBuf,
        /// Hardware model.
        #[arg(long, default_value = "ARMSLEDGER-SIM-1")]
        model: Name,
        /// Monotonic cell file to create [default: FLASH.mono].
        #[arg(long)]
        monotonic: Option<PathBuf>,
        /// Manufacturing entropy as 64 hex digits (reproducible devices for tests);
        /// random if omitted.
        #[arg(long)]
        seed: Option<String>,
    },
    /// Run one device, answering framed requests.
    Serve {
        /// The device's flash file.
        #[arg(long)]
        flash: PathBuf,
        /// unix:PATH, tcp:127.0.0.1:PORT (port 0 picks one) or stdio.
        #[arg(long)]
        listen: Listen,
        /// Its monotonic cell file [default: FLASH.mono].
        #[arg(long)]
        monotonic: Option<PathBuf>,
        /// Simulation only: read the device clock (ms since the epoch) from
        /// this file instead of the system clock.
        #[arg(long)]
        clock_file: Option<PathBuf>,
    },
    /// Measure signatures per second in process and over UNIX and TCP sockets.
    Bench {
        /// Seconds per measurement.
        #[arg(long, default_value_t = 2.0)]
        seconds: f64,
        /// A quick run (0.2 s per measurement).
        #[arg(long)]
        quick: bool,
    },
}

/// Runs a device command.
pub fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Manufacture {
            root,
            device,
            flash,
            model,
            monotonic,
            seed,
        } => {
            let root_key = load_or_create_root(&root)?;
            let seed = match seed {
                Some(hex) => parse_hex32(&hex).ok_or("--seed takes 64 hex digits")?,
                None => random32(),
            };
            let spec = DeviceSpec {
                device: device.clone(),
                model,
                seed: *seed,
            };
            let (_, image) = manufacture(&root_key, &spec).map_err(|e| e.to_string())?;
            let mono = monotonic.unwrap_or_else(|| default_monotonic_path(&flash));
            if mono.exists() {
                return Err(format!(
                    "{} already exists; a device's monotonic cells are never reset (pick another --flash)",
                    mono.display()
                ));
            }
            FileFlash::create(&flash, &image)
                .map_err(|e| format!("{}: {e} (pick a new --flash path)", flash.display()))?;
            FileMonotonic::create(&mono).map_err(|e| e.to_string())?;
            println!("device {device} manufactured");
            println!("flash {}", flash.display());
            println!("monotonic {}", mono.display());
            println!(
                "manufacturer root {}",
                hex::encode(root_key.verifying_key().to_bytes())
            );
            Ok(())
        }
        Command::Serve {
            flash,
            listen,
            monotonic,
            clock_file,
        } => {
            let mono = monotonic.unwrap_or_else(|| default_monotonic_path(&flash));
            let flash: Box<dyn Flash> =
                Box::new(FileFlash::open(&flash).map_err(|e| format!("{}: {e}", flash.display()))?);
            let monotonic: Box<dyn MonotonicStore> =
                Box::new(FileMonotonic::open(&mono).map_err(|e| {
                    format!(
                        "{}: {e} (was the device made with `manufacture`?)",
                        mono.display()
                    )
                })?);
            // Test builds only: stop dead at a planned storage I/O.
            #[cfg(feature = "fault-injection")]
            let switch = crate::kill::KillPlan::from_env()?.map(crate::kill::KillSwitch::new);
            #[cfg(feature = "fault-injection")]
            let (flash, monotonic) = match &switch {
                Some(s) => (s.flash(flash), s.monotonic(monotonic)),
                None => (flash, monotonic),
            };
            let device = Device::boot(Platform {
                flash,
                monotonic,
                clock: match clock_file {
                    Some(p) => Box::new(FileClock(p)),
                    None => Box::new(SystemClock),
                },
            })
            .map_err(|e| e.to_string())?;
            #[cfg(feature = "fault-injection")]
            if let Some(s) = &switch {
                s.arm();
            }
            let lifecycle = device.lifecycle();
            let shared = SharedDevice::new(device);
            listener::serve(&shared, &listen, |addr| {
                if addr != "stdio" {
                    // Tests and scripts read this line to learn a picked port.
                    println!("listening {addr}");
                    let _ = std::io::stdout().flush();
                }
                eprintln!(
                    "armsledger-device: serving on {addr} ({lifecycle:?}, protocol v{}, max frame {} bytes)",
                    protocol::PROTOCOL_VERSION,
                    protocol::MAX_FRAME
                );
            })
            .map_err(|e| e.to_string())
        }
        Command::Bench { seconds, quick } => {
            let per = if quick {
                0.2
            } else {
                seconds.clamp(0.05, 60.0)
            };
            let figures = bench::run(Duration::from_secs_f64(per)).map_err(|e| e.to_string())?;
            bench::print(&figures);
            Ok(())
        }
    }
}

fn parse_hex32(s: &str) -> Option<Zeroizing<[u8; 32]>> {
    let mut out = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(s.trim(), out.as_mut_slice()).ok()?;
    Some(out)
}

fn random32() -> Zeroizing<[u8; 32]> {
    let mut out = Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(out.as_mut_slice());
    out
}

fn load_or_create_root(path: &Path) -> Result<SigningKey, String> {
    if path.exists() {
        let text = Zeroizing::new(
            fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?,
        );
        let seed = parse_hex32(&text)
            .ok_or_else(|| format!("{} is not a root key file (64 hex digits)", path.display()))?;
        return Ok(SigningKey::from_bytes(&seed));
    }
    let seed = random32();
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let text = Zeroizing::new(hex::encode(seed.as_slice()));
    writeln!(f, "{}", text.as_str())
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    eprintln!("created manufacturer root key {}", path.display());
    Ok(SigningKey::from_bytes(&seed))
}
