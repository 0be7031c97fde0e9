//! Signing a ledger entry with a signing device over a UNIX socket.
//!
//! The device runs here on a thread for a self-contained example; in an
//! armoury it is its own process (`armsledger device serve --flash F
//! --listen unix:PATH`) and the code below is the same from `UnixSocket::connect`.
//!
//! Run: `cargo run --example sign_with_device`

use armsledger::core::entry::{ChainId, EntryBody, SignedEntry};
use armsledger::core::event::{Event, RegulatorEvent};
use armsledger::core::hash::Hash;
use armsledger::core::ids::Timestamp;
use armsledger::core::model::Validity;
use armsledger_device::factory::DeviceSpec;
use armsledger_device::host::{DeviceClient, UnixSocket};
use armsledger_device::listener::{Listen, serve};
use armsledger_device::memory_device;
use armsledger_device::storage::SystemClock;
use ed25519_dalek::SigningKey;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let socket = dir.path().join("device.sock");

    // A device, "manufactured" under a manufacturer root, serving on a socket.
    let root = SigningKey::from_bytes(&[1; 32]);
    let spec = DeviceSpec {
        device: "reg-dev-1".parse()?,
        model: "ARMSLEDGER-SIM-1".parse()?,
        seed: [2; 32],
    };
    let device = memory_device(&root, &spec, Box::new(SystemClock))?;
    let listen = Listen::Unix(socket.clone());
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        serve(&device, &listen, |_| {
            let _ = ready_tx.send(());
        })
    });
    ready_rx.recv()?;

    // The host side: connect, take the factory-fresh device for the regulator's
    // chain, and let it generate its key inside.
    let mut client = DeviceClient::new(UnixSocket::connect(&socket)?);
    let admin = SigningKey::from_bytes(&[3; 32]);
    client.provision(admin.verifying_key().to_bytes(), ChainId::Regulator)?;
    let key = client.generate_site_key(None)?;
    println!(
        "device key (the regulator's public key): {}",
        hex::encode(key.public_key)
    );

    // An entry: the host builds the body, the device signs the header on top of its own head.
    let body = EntryBody {
        format: Default::default(),
        occurred_at: Timestamp::parse("2026-01-01").ok_or("date")?,
        officer: "reg-official".parse()?,
        links: vec![],
        event: Event::Regulator(RegulatorEvent::CompanyLicensed {
            company: "acme".parse()?,
            name: "ACME Security Ltd".parse()?,
            licence: "PSC-001".parse()?,
            valid: Validity {
                from: Timestamp::parse("2026-01-01").ok_or("date")?,
                until: Timestamp::parse("2029-01-01").ok_or("date")?,
            },
            categories: vec!["B".parse()?],
        }),
    };
    let receipt = client.sign_entry(ChainId::Regulator, Hash::ZERO, body.hash()?)?;
    let entry = SignedEntry::assemble(receipt.header, receipt.signature, body)?;
    entry.verify_signature(&key.public_key)?;
    println!(
        "entry #{} signed at {}: {} bytes, entry hash {}",
        entry.counter(),
        entry.header().device_time,
        entry.bytes().len(),
        entry.hash()
    );
    Ok(())
}
