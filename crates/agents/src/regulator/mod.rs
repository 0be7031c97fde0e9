//! The regulator's agent: its own device signs the regulator chain, a small
//! redb file keeps it (with a write-ahead intent like a site's), and device
//! enrolment checks the device's attestation before anything is signed.
//!
//! ```text
//! regulator.redb
//!   chain    counter → entry bytes
//!   pending  0 → postcard body (the act awaiting the device signature)
//!   meta     "format" → 1 (this layout; any other value is refused)
//!            "pushed" → highest counter the server acknowledged
//! ```

use std::path::Path;
use std::sync::Arc;

use armsledger_core::LedgerVerifier;
use armsledger_core::codec;
use armsledger_core::entry::{ChainId, EntryBody, MAX_ENTRY_BYTES, SignedEntry, body_hash_of};
use armsledger_core::event::{Event, RegulatorEvent};
use armsledger_core::hash::Hash;
use armsledger_core::ids::{PersonId, Text, Timestamp};
use armsledger_core::note::{NoteOpening, SealedNote};
use armsledger_core::rules::View;
use armsledger_device::Lifecycle;
use armsledger_device::host::{DeviceClient, Transport};
use armsledger_store::notes;
use armsledger_store::{NoteClass, NoteRecord};
use ed25519_dalek::SigningKey;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use crate::client::{LedgerServer, MAX_PUSH_BATCH, NoteUpload};
use crate::config::{self, RegulatorConfig, files};
use crate::error::AgentError;

mod device_keys;
mod enrol;
mod licensing;

pub use device_keys::DeviceKey;

const CHAIN: TableDefinition<u64, &[u8]> = TableDefinition::new("chain");
const PENDING: TableDefinition<u8, &[u8]> = TableDefinition::new("pending");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const PUSHED: &str = "pushed";
const FORMAT: &str = "format";
const FORMAT_VERSION: u64 = 1;

fn db_err(e: impl Into<redb::Error>) -> AgentError {
    AgentError::RegulatorStore(e.into().to_string())
}

/// The host's clock.
fn now() -> Timestamp {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    Timestamp(ms)
}

/// A fresh random 32-byte value (nonces, keys).
pub fn random32() -> Result<[u8; 32], AgentError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| AgentError::Config(format!("no randomness: {e}")))?;
    Ok(b)
}

/// The regulator's agent over its own device reached through `T`.
pub struct RegulatorAgent<T> {
    config: RegulatorConfig,
    db: Database,
    device: DeviceClient<T>,
    admin: SigningKey,
    verifier: LedgerVerifier,
    roots: Vec<[u8; 32]>,
}

impl RegulatorAgent<Box<dyn Transport>> {
    /// Opens `dir`, connecting to the device its `regulator.toml` names.
    pub fn open_dir(dir: &Path) -> Result<Self, AgentError> {
        RegulatorAgent::open(dir, config::connect_dir::<RegulatorConfig>(dir)?)
    }
}

impl<T: Transport> RegulatorAgent<T> {
    /// Takes ownership of a factory-fresh device for the regulator chain:
    /// creates the offline administration key, provisions the device with
    /// it, generates the chain key (the trust root) and creates `dir`.
    pub fn init(
        dir: &Path,
        device_address: &str,
        manufacturer_roots: Vec<String>,
        mut device: DeviceClient<T>,
    ) -> Result<Self, AgentError> {
        if dir.join(files::REGULATOR_TOML).exists() {
            return Err(AgentError::Config(format!(
                "{} already holds a regulator; open it instead",
                dir.display()
            )));
        }
        for r in &manufacturer_roots {
            config::parse_key(r, "manufacturer root")?;
        }
        let info = device.info()?;
        if info.lifecycle != Lifecycle::Factory {
            return Err(AgentError::Config(format!(
                "device {} is not factory-fresh ({:?}); the regulator needs its own new device",
                info.device, info.lifecycle
            )));
        }
        let admin = SigningKey::from_bytes(&random32()?);
        device.provision(admin.verifying_key().to_bytes(), ChainId::Regulator)?;
        let key = device.generate_site_key(None)?;
        std::fs::create_dir_all(dir)
            .map_err(|e| AgentError::Config(format!("cannot create {}: {e}", dir.display())))?;
        // The admin key authorises key generation, retirement and recovery
        // on every device the regulator provisions: readable by its owner only.
        config::write_private(
            &dir.join(files::ADMIN_KEY),
            hex::encode(admin.to_bytes()).as_bytes(),
        )?;
        let cfg = RegulatorConfig {
            device: device_address.to_string(),
            server: None,
            token: None,
            regulator_key: hex::encode(key.public_key),
            manufacturer_roots,
        };
        config::save(&dir.join(files::REGULATOR_TOML), &cfg)?;
        RegulatorAgent::open(dir, device)
    }

    /// Opens a regulator directory, completing or dropping an act left
    /// pending by a crash, and rebuilds the verifier.
    pub fn open(dir: &Path, mut device: DeviceClient<T>) -> Result<Self, AgentError> {
        let config: RegulatorConfig = config::load_settings(dir)?;
        let (regulator_key, roots) = config::trust_roots(&config)?;
        config::check_private(&dir.join(files::ADMIN_KEY))?;
        let admin_hex = std::fs::read_to_string(dir.join(files::ADMIN_KEY))
            .map_err(|e| AgentError::Config(format!("cannot read the admin key: {e}")))?;
        let admin = SigningKey::from_bytes(&config::parse_key(&admin_hex, "admin key")?);
        let db = Database::create(dir.join(files::REGULATOR_REDB)).map_err(db_err)?;
        {
            let txn = db.begin_write().map_err(db_err)?;
            txn.open_table(CHAIN).map_err(db_err)?;
            txn.open_table(PENDING).map_err(db_err)?;
            let mut meta = txn.open_table(META).map_err(db_err)?;
            let format = meta.get(FORMAT).map_err(db_err)?.map(|v| v.value());
            match format {
                Some(FORMAT_VERSION) => {}
                None => {
                    meta.insert(FORMAT, FORMAT_VERSION).map_err(db_err)?;
                }
                Some(other) => {
                    return Err(AgentError::RegulatorStore(format!(
                        "regulator.redb has format {other}; this armsledger reads format {FORMAT_VERSION}"
                    )));
                }
            }
            drop(meta);
            txn.commit().map_err(db_err)?;
        }
        let last = device.last_receipt()?;
        let mut agent = RegulatorAgent {
            config,
            db,
            device,
            admin,
            verifier: LedgerVerifier::new(regulator_key, roots.clone(), View::Corrected),
            roots,
        };
        agent.recover(last.receipt.map(|r| (r.header, r.signature)))?;
        for e in agent.entries_from(1)? {
            agent
                .verifier
                .ingest(Arc::new(e), None)
                .map_err(|e| AgentError::Verify(e.to_string()))?;
        }
        Ok(agent)
    }

    fn recover(
        &mut self,
        last: Option<(
            armsledger_core::entry::EntryHeader,
            armsledger_core::sig::Sig,
        )>,
    ) -> Result<(), AgentError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        {
            let mut pending = txn.open_table(PENDING).map_err(db_err)?;
            let body = pending.get(0).map_err(db_err)?.map(|v| v.value().to_vec());
            if let Some(body_bytes) = body {
                let chain = txn.open_table(CHAIN).map_err(db_err)?;
                let head = chain.last().map_err(db_err)?.map_or(0, |(k, _)| k.value());
                drop(chain);
                if let Some((h, sig)) = last
                    && h.counter > head
                    && h.body_hash == body_hash_of(&body_bytes)
                {
                    let body: EntryBody = codec::decode_strict(&body_bytes, MAX_ENTRY_BYTES)
                        .map_err(|e| AgentError::Verify(format!("pending body: {e}")))?;
                    let entry = SignedEntry::assemble(h, sig, body)
                        .map_err(|e| AgentError::Verify(e.to_string()))?;
                    txn.open_table(CHAIN)
                        .map_err(db_err)?
                        .insert(entry.counter(), entry.bytes())
                        .map_err(db_err)?;
                }
                pending.remove(0).map_err(db_err)?;
            }
        }
        txn.commit().map_err(db_err)?;
        Ok(())
    }

    /// The regulator chain's public key (the trust root sites and the server pin).
    pub fn regulator_key(&self) -> [u8; 32] {
        self.verifier
            .keys()
            .regulator_key()
            .copied()
            .unwrap_or([0; 32])
    }

    /// The settings.
    pub fn config(&self) -> &RegulatorConfig {
        &self.config
    }

    /// The verifier folded from the regulator chain.
    pub fn verifier(&self) -> &LedgerVerifier {
        &self.verifier
    }

    /// Regulator entries from `counter` on.
    pub fn entries_from(&self, counter: u64) -> Result<Vec<SignedEntry>, AgentError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let t = txn.open_table(CHAIN).map_err(db_err)?;
        let mut out = Vec::new();
        for row in t.range(counter..).map_err(db_err)? {
            let (_, v) = row.map_err(db_err)?;
            out.push(
                SignedEntry::decode(v.value()).map_err(|e| AgentError::Verify(e.to_string()))?,
            );
        }
        Ok(out)
    }

    /// Seals `text` for a regulator entry about to be signed: a fresh salt,
    /// the opening kept in the regulator's note store before the entry is
    /// signed, the commitment returned for the event. `push` sends the
    /// opening to the server beside the entry.
    pub fn seal(&self, text: Text, class: NoteClass) -> Result<SealedNote, AgentError> {
        let opening = NoteOpening::random(text);
        let note = opening.seal();
        let txn = self.db.begin_write().map_err(db_err)?;
        notes::put(&txn, &note, &NoteRecord::new(opening, class, now()))?;
        txn.commit().map_err(db_err)?;
        Ok(note)
    }

    /// The regulator's note store's record of `note`.
    pub fn note(&self, note: &SealedNote) -> Result<Option<NoteRecord>, AgentError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        Ok(notes::get(&txn, note)?)
    }

    /// Signs and stores one regulator event by `officer`, decided now (the
    /// host's clock).
    pub fn record(
        &mut self,
        officer: &PersonId,
        event: RegulatorEvent,
    ) -> Result<SignedEntry, AgentError> {
        self.record_at(officer, event, now())
    }

    /// Signs and stores one regulator event by `officer`, decided at
    /// `occurred_at`.
    pub fn record_at(
        &mut self,
        officer: &PersonId,
        event: RegulatorEvent,
        occurred_at: Timestamp,
    ) -> Result<SignedEntry, AgentError> {
        let body = EntryBody::new(
            officer.clone(),
            occurred_at,
            Vec::new(),
            Event::Regulator(event),
        );
        let bytes = codec::encode(&body).map_err(|e| AgentError::Input(e.to_string()))?;
        let body_hash = body_hash_of(&bytes);
        let prev = self
            .verifier
            .head(&ChainId::Regulator)
            .map_or(Hash::ZERO, |h| h.hash);
        {
            let txn = self.db.begin_write().map_err(db_err)?;
            txn.open_table(PENDING)
                .map_err(db_err)?
                .insert(0, bytes.as_slice())
                .map_err(db_err)?;
            txn.commit().map_err(db_err)?;
        }
        let receipt = match self.device.sign_entry(ChainId::Regulator, prev, body_hash) {
            Ok(r) => r,
            Err(e) => {
                let last = self.device.last_receipt().ok().and_then(|l| l.receipt);
                let _ = self.recover(last.map(|r| (r.header, r.signature)));
                return Err(e.into());
            }
        };
        let entry = SignedEntry::assemble(receipt.header, receipt.signature, body)
            .map_err(|e| AgentError::Verify(e.to_string()))?;
        let entry = Arc::new(entry);
        // Check before storing: a device that signed something else, or an
        // enrolment whose attestation does not hold, is caught here.
        entry
            .verify_signature(&self.regulator_key())
            .map_err(|e| AgentError::Verify(format!("the device's signature: {e}")))?;
        self.verifier
            .check_position(&entry)
            .map_err(|e| AgentError::Verify(e.to_string()))?;
        let txn = self.db.begin_write().map_err(db_err)?;
        txn.open_table(CHAIN)
            .map_err(db_err)?
            .insert(entry.counter(), entry.bytes())
            .map_err(db_err)?;
        txn.open_table(PENDING)
            .map_err(db_err)?
            .remove(0)
            .map_err(db_err)?;
        txn.commit().map_err(db_err)?;
        self.verifier
            .ingest_checked(entry.clone(), None)
            .map_err(|e| AgentError::Verify(e.to_string()))?;
        Ok((*entry).clone())
    }

    /// Pushes entries the server has not acknowledged. Returns how many.
    pub fn push(&mut self, server: &impl LedgerServer) -> Result<usize, AgentError> {
        let pushed = {
            let txn = self.db.begin_read().map_err(db_err)?;
            let t = txn.open_table(META).map_err(db_err)?;
            t.get(PUSHED).map_err(db_err)?.map_or(0, |v| v.value())
        };
        let todo = self.entries_from(pushed.saturating_add(1))?;
        for batch in todo.chunks(MAX_PUSH_BATCH) {
            let raw: Vec<Vec<u8>> = batch.iter().map(|e| e.bytes().to_vec()).collect();
            server.push(&raw)?;
            // The openings of the batch's notes, now that their entries are
            // logged; before the batch counts as pushed, so a failed send is
            // sent again.
            let mut uploads = Vec::new();
            for e in batch {
                for n in e.body().event.notes() {
                    if let Some(rec) = self.note(&n)?
                        && let Some(opening) = rec.opening
                    {
                        uploads.push(NoteUpload {
                            entry: e.hash(),
                            opening,
                            class: rec.class,
                        });
                    }
                }
            }
            for chunk in uploads.chunks(MAX_PUSH_BATCH) {
                server.put_notes(chunk)?;
            }
            let last = batch.last().map_or(pushed, SignedEntry::counter);
            let txn = self.db.begin_write().map_err(db_err)?;
            txn.open_table(META)
                .map_err(db_err)?
                .insert(PUSHED, last)
                .map_err(db_err)?;
            txn.commit().map_err(db_err)?;
        }
        Ok(todo.len())
    }
}
