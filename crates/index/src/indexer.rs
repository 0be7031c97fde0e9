//! From log entries to leaf updates: which subjects an entry moves forward,
//! derived only through core (`Event::subjects`, `normalise`), so a new kind
//! of event flows into the map without a change here.
//!
//! * every entry: its chain's leaf (record label = the chain's text, seq =
//!   the entry's counter);
//! * every firearm the event touches: the leaf of each normalised serial any
//!   entry has recorded for it (acquisition, or a correction of one), record
//!   label = the firearm id, seq = how many entries of its own history;
//!   before any serial is known, the firearm id's own leaf;
//! * every lot the event touches: the lot's leaf, record label = the chain
//!   (a lot's history is per site), seq = how many entries of that history.

use std::collections::{BTreeMap, HashMap};

use armsledger_core::entry::SignedEntry;
use armsledger_core::event::{Event, SiteEvent, Subject};
use armsledger_core::hash::Hash;
use armsledger_core::model::{FirearmId, normalise};

use crate::error::MapError;
use crate::key::{MapKey, chain_label};
use crate::store::{NodeStore, NodeStoreMut};
use crate::tree::Batch;
use crate::value::{Kind, LeafValue, Reader, Record};

/// Most serials kept for one firearm (the first and its corrections).
pub const MAX_SERIALS: usize = 64;

/// What the map keeps about a firearm between entries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FirearmState {
    /// Entries in its history so far.
    pub seq: u64,
    /// Every normalised serial recorded for it, in the order first seen.
    pub serials: Vec<String>,
}

impl FirearmState {
    /// `seq (u64 BE) ‖ count (u8) ‖ (length (u16 BE) ‖ serial)*`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.seq.to_be_bytes().to_vec();
        // `note_serial` keeps at most MAX_SERIALS, each a normalised Name.
        out.push(self.serials.len() as u8);
        for s in &self.serials {
            out.extend_from_slice(&(s.len() as u16).to_be_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        out
    }

    /// Reads the stored form.
    pub fn decode(bytes: &[u8]) -> Result<FirearmState, MapError> {
        let bad = || MapError::Corrupt {
            why: "malformed firearm state in the map".into(),
        };
        let mut r = Reader(bytes);
        let seq = u64::from_be_bytes(r.array().ok_or_else(bad)?);
        let n = r.u8().ok_or_else(bad)?;
        let mut serials = Vec::with_capacity(usize::from(n));
        for _ in 0..n {
            let len = u16::from_be_bytes(r.array().ok_or_else(bad)?);
            let s = r.take(usize::from(len)).ok_or_else(bad)?;
            serials.push(String::from_utf8(s.to_vec()).map_err(|_| bad())?);
        }
        if !r.0.is_empty() {
            return Err(bad());
        }
        Ok(FirearmState { seq, serials })
    }

    fn note_serial(&mut self, serial: &str) {
        let key = normalise(serial);
        if !key.is_empty() && !self.serials.contains(&key) && self.serials.len() < MAX_SERIALS {
            self.serials.push(key);
        }
    }
}

/// The serials an event records for firearms (an acquisition, or a
/// correction of one).
fn serials_of(event: &SiteEvent, out: &mut Vec<(FirearmId, String)>) {
    match event {
        SiteEvent::FirearmAcquired {
            firearm, identity, ..
        } => out.push((*firearm, identity.serial.as_str().to_owned())),
        SiteEvent::Corrected { corrected, .. } => serials_of(corrected, out),
        _ => {}
    }
}

/// The normalised serials `entry` records for firearms (an acquisition, or
/// a correction of one): the serial leaves the map files those firearms
/// under from this entry on. A verifier holding a weapon's entries derives
/// from them the keys a proof of its history may be for.
pub fn recorded_serials(entry: &SignedEntry) -> Vec<(FirearmId, String)> {
    let mut found = Vec::new();
    if let Event::Site(e) = &entry.body().event {
        serials_of(e, &mut found);
    }
    found
        .into_iter()
        .map(|(f, s)| (f, normalise(&s)))
        .filter(|(_, s)| !s.is_empty())
        .collect()
}

/// Leaf changes of one group of entries, gathered before any is written.
struct Pending<'s, S: NodeStore + ?Sized> {
    store: &'s S,
    leaves: BTreeMap<MapKey, LeafValue>,
    firearms: HashMap<[u8; 16], FirearmState>,
}

impl<S: NodeStore + ?Sized> Pending<'_, S> {
    fn leaf(&mut self, key: MapKey, kind: Kind) -> Result<&mut LeafValue, MapError> {
        if !self.leaves.contains_key(&key) {
            let v = match self.store.value(&key)? {
                Some(bytes) => LeafValue::decode(&bytes)?,
                None => LeafValue::new(kind),
            };
            self.leaves.insert(key, v);
        }
        let v = self.leaves.get_mut(&key).ok_or_else(|| MapError::Corrupt {
            why: "leaf vanished".into(),
        })?;
        if v.kind() != kind {
            return Err(MapError::Corrupt {
                why: format!(
                    "map key {key} holds a {} leaf, not a {}",
                    v.kind().name(),
                    kind.name()
                ),
            });
        }
        Ok(v)
    }

    fn firearm(&mut self, id: &FirearmId) -> Result<&mut FirearmState, MapError> {
        if !self.firearms.contains_key(&id.0) {
            let s = match self.store.firearm(&id.0)? {
                Some(bytes) => FirearmState::decode(&bytes)?,
                None => FirearmState::default(),
            };
            self.firearms.insert(id.0, s);
        }
        self.firearms
            .get_mut(&id.0)
            .ok_or_else(|| MapError::Corrupt {
                why: "firearm state vanished".into(),
            })
    }

    fn entry(&mut self, log_index: u64, entry: &SignedEntry) -> Result<(), MapError> {
        let hash: Hash = entry.hash();
        let chain = chain_label(entry.chain()).into_bytes();
        let record = |label: Vec<u8>, seq: u64| Record {
            label,
            log_index,
            entry_hash: hash,
            seq,
        };
        self.leaf(MapKey::chain(entry.chain()), Kind::Chain)?
            .put(record(chain.clone(), entry.counter()))?;
        let event = &entry.body().event;
        if let Event::Site(e) = event {
            let mut found = Vec::new();
            serials_of(e, &mut found);
            for (f, serial) in found {
                self.firearm(&f)?.note_serial(&serial);
            }
        }
        for subject in event.subjects() {
            match subject {
                Subject::Firearm(f) => {
                    let state = self.firearm(&f)?;
                    state.seq = state.seq.saturating_add(1);
                    let seq = state.seq;
                    let serials = state.serials.clone();
                    if serials.is_empty() {
                        self.leaf(MapKey::firearm(&f), Kind::Firearm)?
                            .put(record(f.0.to_vec(), seq))?;
                    }
                    for s in serials {
                        self.leaf(MapKey::serial(&s), Kind::Serial)?
                            .put(record(f.0.to_vec(), seq))?;
                    }
                }
                Subject::Lot(l) => {
                    let leaf = self.leaf(MapKey::lot(&l), Kind::Lot)?;
                    let seq = leaf.get(&chain).map_or(0, |r| r.seq).saturating_add(1);
                    leaf.put(record(chain.clone(), seq))?;
                }
            }
        }
        Ok(())
    }
}

/// Moves the map forward by a group of entries, in log order (each with its
/// log index); every changed node, leaf value and firearm state is written
/// once. Returns the new root.
pub fn apply<'e, S, I>(store: &mut S, entries: I) -> Result<Hash, MapError>
where
    S: NodeStoreMut + ?Sized,
    I: IntoIterator<Item = (u64, &'e SignedEntry)>,
{
    let (leaves, firearms) = {
        let mut p = Pending {
            store: &*store,
            leaves: BTreeMap::new(),
            firearms: HashMap::new(),
        };
        for (i, e) in entries {
            p.entry(i, e)?;
        }
        (p.leaves, p.firearms)
    };
    for (id, state) in &firearms {
        store.put_firearm(id, &state.encode())?;
    }
    for (key, value) in &leaves {
        store.put_value(key, &value.encode())?;
    }
    let mut batch = Batch::new(store)?;
    for (key, value) in &leaves {
        batch.set(key, value.hash())?;
    }
    batch.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firearm_state_round_trips_and_refuses_junk() {
        let mut s = FirearmState {
            seq: 7,
            serials: Vec::new(),
        };
        s.note_serial("ab-12");
        s.note_serial("AB12");
        s.note_serial("AB13");
        assert_eq!(s.serials, vec!["AB12".to_owned(), "AB13".to_owned()]);
        assert_eq!(FirearmState::decode(&s.encode()).unwrap(), s);
        let mut bytes = s.encode();
        bytes.push(0);
        assert!(FirearmState::decode(&bytes).is_err());
        assert!(FirearmState::decode(&[0; 3]).is_err());
    }
}
