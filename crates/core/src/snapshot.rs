//! The verifier's state as canonical bytes, for the server's snapshots
//! (docs/formats.md, "Rules snapshots"): everything [`LedgerVerifier`]
//! folded from the log (keys, chain heads, subject links, the rules
//! engine's state, findings, corrections, overrides), postcard with every
//! map in key order, so one state has exactly one encoding and one digest.
//! The entries themselves are not in it: the log holds them, and
//! [`LedgerVerifier::decode_state`] takes them back as the history.
//!
//! ```text
//! state   = postcard(Image)      (Image: history_len, roots, keys, cursors, tracker, engine)
//! digest  = SHA-256("armsledger:rules-state:v1\0" || state)
//! ```

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize};

use crate::chain::{ChainCursor, SubjectTracker};
use crate::codec::CodecError;
use crate::entry::ChainId;
use crate::hash::Hash;
use crate::keys::KeyRegistry;
use crate::rules::Engine;
use crate::verify::LedgerVerifier;

/// The version of the state encoding: a change to any type in it is a new
/// version, and a snapshot of another version is rebuilt from the log.
pub const STATE_VERSION: u32 = 2;

/// The domain tag of the state digest.
pub const STATE_DOMAIN: &[u8] = b"armsledger:rules-state:v1\0";

pub use crate::rules::HistoryItem;

/// Why encoded state was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The bytes do not decode as this version's state.
    #[error("rules state does not decode: {0}")]
    Codec(#[from] CodecError),
    /// The state was folded under another regulator key.
    #[error("the rules state trusts another regulator key")]
    RegulatorKeyDiffers,
    /// The state was folded under other manufacturer roots.
    #[error("the rules state was built with other manufacturer roots")]
    RootsDiffer,
    /// The history offered is not the one the state was folded from.
    #[error("the rules state folded {expected} entries; {given} were offered as its history")]
    HistoryLength {
        /// Entries the state folded.
        expected: u64,
        /// Entries offered.
        given: u64,
    },
}

#[derive(Serialize)]
struct ImageRef<'a> {
    history_len: u64,
    roots: &'a [[u8; 32]],
    keys: &'a KeyRegistry,
    cursors: BTreeMap<&'a ChainId, &'a ChainCursor>,
    tracker: &'a SubjectTracker,
    engine: &'a Engine,
}

#[derive(Deserialize)]
struct Image {
    history_len: u64,
    roots: Vec<[u8; 32]>,
    keys: KeyRegistry,
    cursors: BTreeMap<ChainId, ChainCursor>,
    tracker: SubjectTracker,
    engine: Engine,
}

/// An event kind's name as state records hold it (an alias, so that serde
/// decodes it by [`static_kind`] instead of borrowing from the input).
pub type KindName = &'static str;

/// The digest of encoded state: SHA-256 over [`STATE_DOMAIN`] and the bytes.
pub fn state_digest(state: &[u8]) -> Hash {
    Hash::of(&[STATE_DOMAIN, state])
}

/// The encoded size in bytes of each part of a verifier's state, largest
/// first: `keys`, `cursors`, `tracker`, and the engine's parts (the rules
/// state's fields as `state.NAME`, the findings of each rule as
/// `findings.RULE`, `corrections`...). Their sum
/// is the state's size give or take a few length prefixes: a tool to find
/// what grows with the log (docs/performance.md, section 9).
pub fn state_parts(v: &LedgerVerifier) -> Result<Vec<(String, u64)>, CodecError> {
    let (keys, _, cursors, tracker, engine) = v.parts();
    parts_of(keys, cursors.iter().collect(), tracker, engine)
}

/// [`state_parts`] of encoded state ([`LedgerVerifier::encode_state`]'s
/// bytes, a snapshot's state), without checking whose it is.
pub fn encoded_state_parts(state: &[u8]) -> Result<Vec<(String, u64)>, CodecError> {
    let image: Image =
        postcard::from_bytes(state).map_err(|e| CodecError::Malformed(e.to_string()))?;
    parts_of(
        &image.keys,
        image.cursors.iter().collect(),
        &image.tracker,
        &image.engine,
    )
}

fn parts_of(
    keys: &KeyRegistry,
    cursors: BTreeMap<&ChainId, &ChainCursor>,
    tracker: &SubjectTracker,
    engine: &Engine,
) -> Result<Vec<(String, u64)>, CodecError> {
    let size = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
    let mut out = engine.part_sizes()?;
    out.push(("keys".into(), size(crate::codec::encode(keys)?.len())));
    out.push((
        "cursors".into(),
        size(crate::codec::encode(&cursors)?.len()),
    ));
    out.push(("tracker".into(), size(crate::codec::encode(tracker)?.len())));
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(out)
}

impl LedgerVerifier {
    /// The canonical encoding of everything this verifier folded (not the
    /// entries themselves).
    pub fn encode_state(&self) -> Result<Vec<u8>, CodecError> {
        let (keys, roots, cursors, tracker, engine) = self.parts();
        crate::codec::encode(&ImageRef {
            history_len: engine.history_len(),
            roots,
            keys,
            cursors: cursors.iter().collect(),
            tracker,
            engine,
        })
    }

    /// The digest of [`Self::encode_state`]: two verifiers with the same
    /// digest hold the same state.
    pub fn state_digest(&self) -> Result<Hash, CodecError> {
        Ok(state_digest(&self.encode_state()?))
    }

    /// A verifier from [`Self::encode_state`]'s bytes and the entries it
    /// folded (its history, in log order with their receipt times), refused
    /// unless it was folded under `regulator_key` and `manufacturer_roots`
    /// from exactly as many entries as `history` holds.
    pub fn decode_state(
        bytes: &[u8],
        regulator_key: [u8; 32],
        manufacturer_roots: &[[u8; 32]],
        history: Vec<HistoryItem>,
    ) -> Result<Self, StateError> {
        let image: Image =
            postcard::from_bytes(bytes).map_err(|e| CodecError::Malformed(e.to_string()))?;
        Self::from_image(image, regulator_key, manufacturer_roots, history, 0)
    }
}

impl LedgerVerifier {
    /// [`Self::decode_state`] with the history left where it is kept (a
    /// server's log): the engine reads it back from `source` when a
    /// correction, a revocation or a report replay looks back through it,
    /// and never holds it. Returns the verifier and how many entries the
    /// state folded.
    pub fn decode_state_stored(
        bytes: &[u8],
        regulator_key: [u8; 32],
        manufacturer_roots: &[[u8; 32]],
        source: Arc<dyn crate::rules::HistorySource>,
    ) -> Result<(Self, u64), StateError> {
        let image: Image =
            postcard::from_bytes(bytes).map_err(|e| CodecError::Malformed(e.to_string()))?;
        let n = image.history_len;
        let mut v = Self::from_image(image, regulator_key, manufacturer_roots, Vec::new(), n)?;
        v.stored_in(n, source);
        Ok((v, n))
    }

    fn from_image(
        image: Image,
        regulator_key: [u8; 32],
        manufacturer_roots: &[[u8; 32]],
        history: Vec<HistoryItem>,
        deferred: u64,
    ) -> Result<Self, StateError> {
        if image.keys.regulator_key() != Some(&regulator_key) {
            return Err(StateError::RegulatorKeyDiffers);
        }
        if image.roots != manufacturer_roots {
            return Err(StateError::RootsDiffer);
        }
        let given = u64::try_from(history.len())
            .unwrap_or(u64::MAX)
            .saturating_add(deferred);
        let expected = if deferred > 0 {
            deferred
        } else {
            image.history_len
        };
        if given != expected || (deferred > 0 && !history.is_empty()) {
            return Err(StateError::HistoryLength { expected, given });
        }
        // What the state leaves out (the log's), rebuilt from the history
        // when it is held in memory.
        let mut engine = image.engine;
        let mut tracker = image.tracker;
        for (e, _) in &history {
            engine.remember(e);
            if let ChainId::Site(site) = &e.header().chain {
                tracker.remember(site, e);
            }
        }
        engine.set_history(history);
        Ok(LedgerVerifier::from_parts(
            image.keys,
            image.roots,
            image.cursors.into_iter().collect::<HashMap<_, _>>(),
            tracker,
            engine,
        ))
    }
}

/// A hash map encoded as a map in key order (every map of the state is
/// encoded so), decoded back into a hash map.
pub(crate) mod sorted_map {
    use std::collections::{BTreeMap, HashMap};
    use std::hash::Hash;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(crate) fn serialize<S: Serializer, K: Ord + Serialize, V: Serialize>(
        m: &HashMap<K, V>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        m.iter().collect::<BTreeMap<_, _>>().serialize(s)
    }

    pub(crate) fn deserialize<'de, D, K, V>(d: D) -> Result<HashMap<K, V>, D::Error>
    where
        D: Deserializer<'de>,
        K: Eq + Hash + Deserialize<'de>,
        V: Deserialize<'de>,
    {
        d.deserialize_map(Filling(std::marker::PhantomData))
    }

    /// Fills the hash map straight from the encoded map (no sorted copy
    /// on the way in: a start decodes millions of these).
    struct Filling<K, V>(std::marker::PhantomData<(K, V)>);

    impl<'de, K, V> serde::de::Visitor<'de> for Filling<K, V>
    where
        K: Eq + Hash + Deserialize<'de>,
        V: Deserialize<'de>,
    {
        type Value = HashMap<K, V>;

        fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.write_str("a map")
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut a: A,
        ) -> Result<Self::Value, A::Error> {
            // The hint is the encoded length: capped, so a false one cannot
            // make us reserve more than a few MiB ahead of the data.
            let mut m = HashMap::with_capacity(a.size_hint().unwrap_or(0).min(1 << 16));
            while let Some((k, v)) = a.next_entry()? {
                m.insert(k, v);
            }
            Ok(m)
        }
    }
}

/// Every event kind's name, so a decoded kind is the same `&'static str`.
const KINDS: &[&str] = &[
    "firearm-acquired",
    "ammunition-received",
    "issued",
    "returned",
    "ammunition-issued",
    "ammunition-returned",
    "ammunition-expended",
    "storage-moved",
    "transferred-out",
    "transferred-in",
    "transfer-cancelled",
    "loss-reported",
    "loss-report-updated",
    "seized",
    "recovered",
    "count-performed",
    "discrepancy-resolved",
    "maintenance-out",
    "maintenance-in",
    "disposed",
    "corrected",
    "annotated",
    "overridden",
    "transfer-rejected",
    "left-ledger",
    "component-changed",
    "armoury-opened",
    "armoury-closed",
    "key-handed-over",
    "lot-status-changed",
    "assigned",
    "trace-answered",
    "company-licensed",
    "company-status-changed",
    "site-registered",
    "device-key-enrolled",
    "device-key-retired",
    "device-key-revoked",
    "person-licensed",
    "permit-recorded",
    "qualification-recorded",
    "person-revoked",
    "person-barred",
    "complaint-received",
    "complaint-resolved",
    "inspection-recorded",
    "finding-recorded",
    "sanction-recorded",
    "training-provider-accredited",
    "person-authorised",
    "policy-set",
    "notes-erased",
    "stolen-notice-recorded",
    "stolen-notice-withdrawn",
    "trace-requested",
    "finding-closed",
    "person-unbarred",
    "vetting-recorded",
    "regulator-corrected",
    "regulator-annotated",
    "site-approved",
];

/// Decodes an event kind's name into the static name it was encoded from;
/// an unknown name is an error (the state is then rebuilt from the log).
pub(crate) fn static_kind<'de, D: Deserializer<'de>>(d: D) -> Result<&'static str, D::Error> {
    let s = String::deserialize(d)?;
    KINDS
        .iter()
        .find(|k| **k == s)
        .copied()
        .ok_or_else(|| serde::de::Error::custom(format!("unknown event kind {s:?}")))
}

/// The binary form of [`crate::rules::state::FirearmState`] (postcard cannot read
/// its JSON form, an internally tagged enum).
pub(crate) mod firearm_state {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::hash::Hash;
    use crate::ids::{LocationId, Name, PersonId, SiteId, Timestamp};
    use crate::model::{DisposalMethod, ExitKind};
    use crate::rules::state::FirearmState;

    #[derive(Serialize, Deserialize)]
    #[serde(remote = "FirearmState")]
    enum Bin {
        InStore {
            location: LocationId,
        },
        Issued {
            to: PersonId,
            issue: Hash,
            due_back: Timestamp,
        },
        InTransit {
            transfer: Hash,
            to_site: SiteId,
        },
        InMaintenance {
            provider: Name,
        },
        Lost {
            report: Hash,
        },
        Seized {
            entry: Hash,
        },
        Disposed {
            method: DisposalMethod,
        },
        Left {
            exit: ExitKind,
            entry: Hash,
        },
    }

    pub(crate) fn serialize<S: Serializer>(v: &FirearmState, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            v.serialize(s)
        } else {
            Bin::serialize(v, s)
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<FirearmState, D::Error> {
        if d.is_human_readable() {
            FirearmState::deserialize(d)
        } else {
            Bin::deserialize(d)
        }
    }
}

/// The binary form of [`crate::rules::state::RegisterSource`].
pub(crate) mod register_source {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::event::NoticeSource;
    use crate::hash::Hash;
    use crate::ids::{Ident, SiteId};
    use crate::model::LossKind;
    use crate::rules::state::RegisterSource;

    #[derive(Serialize, Deserialize)]
    #[serde(remote = "RegisterSource")]
    enum Bin {
        LossReport {
            site: SiteId,
            entry: Hash,
            kind: LossKind,
        },
        Notice {
            reference: Ident,
            entry: Hash,
            source: NoticeSource,
        },
    }

    pub(crate) fn serialize<S: Serializer>(v: &RegisterSource, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            v.serialize(s)
        } else {
            Bin::serialize(v, s)
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<RegisterSource, D::Error> {
        if d.is_human_readable() {
            RegisterSource::deserialize(d)
        } else {
            Bin::deserialize(d)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::entry::SignedEntry;
    use crate::ids::Timestamp;
    use crate::rules::View;
    use crate::testkit::Showcase;

    fn verifier(s: &Showcase, roots: &[[u8; 32]]) -> LedgerVerifier {
        LedgerVerifier::new(s.scenario.regulator_key(), roots.to_vec(), View::Corrected)
    }

    fn history(log: &[Arc<SignedEntry>], upto: usize) -> Vec<HistoryItem> {
        log[..upto]
            .iter()
            .enumerate()
            .map(|(i, e)| (e.clone(), Some(Timestamp(1_000 + i as u64))))
            .collect()
    }

    fn ingest(v: &mut LedgerVerifier, log: &[Arc<SignedEntry>], from: usize, to: usize) {
        for (i, e) in log.iter().enumerate().take(to).skip(from) {
            v.ingest(e.clone(), Some(Timestamp(1_000 + i as u64)))
                .expect("showcase entry verifies");
        }
    }

    #[test]
    fn resuming_from_the_state_at_any_point_ends_where_a_full_replay_does() {
        let s = Showcase::new();
        let roots = [s.scenario.root_key()];
        let log = s.log();
        let mut full = verifier(&s, &roots);
        ingest(&mut full, log, 0, log.len());
        let want = full.state_digest().unwrap();
        for k in 0..=log.len() {
            let mut head = verifier(&s, &roots);
            ingest(&mut head, log, 0, k);
            let bytes = head.encode_state().unwrap();
            let mut back = LedgerVerifier::decode_state(
                &bytes,
                s.scenario.regulator_key(),
                &roots,
                history(log, k),
            )
            .unwrap();
            assert_eq!(back.encode_state().unwrap(), bytes, "round trip at {k}");
            ingest(&mut back, log, k, log.len());
            assert_eq!(back.state_digest().unwrap(), want, "resumed at {k}");
            assert_eq!(back.engine().findings(), full.engine().findings());
        }
        // Quiet above; the digest does tell states apart.
        let mut short = verifier(&s, &roots);
        ingest(&mut short, log, 0, log.len() - 1);
        assert_ne!(short.state_digest().unwrap(), want);
    }

    /// A history kept outside the engine (as a server keeps it in its
    /// log), counting the reads; `fail` makes every read fail.
    /// It may also keep earlier states (as a server keeps snapshots),
    /// and records the refolds it saw.
    #[derive(Debug)]
    struct Kept {
        items: std::sync::Mutex<Vec<HistoryItem>>,
        reads: std::sync::atomic::AtomicUsize,
        fail: std::sync::atomic::AtomicBool,
        states: std::sync::Mutex<Vec<(u64, crate::rules::Engine)>>,
        refolds: std::sync::Mutex<Vec<crate::rules::Refold>>,
        streams: std::sync::atomic::AtomicUsize,
    }

    impl Kept {
        fn new(items: Vec<HistoryItem>) -> Arc<Self> {
            Arc::new(Kept {
                items: std::sync::Mutex::new(items),
                reads: Default::default(),
                fail: Default::default(),
                states: Default::default(),
                refolds: Default::default(),
                streams: Default::default(),
            })
        }
    }

    impl crate::rules::HistorySource for Kept {
        fn stream(
            &self,
            n: u64,
            visit: &mut dyn FnMut(&SignedEntry, Option<Timestamp>) -> core::ops::ControlFlow<()>,
        ) -> Result<core::ops::ControlFlow<()>, crate::rules::HistoryError> {
            use std::sync::atomic::Ordering;
            self.reads.fetch_add(1, Ordering::Relaxed);
            self.streams.fetch_add(1, Ordering::Relaxed);
            if self.fail.load(Ordering::Relaxed) {
                return Err(crate::rules::HistoryError("disk on fire".into()));
            }
            let items = self.items.lock().unwrap();
            if (items.len() as u64) < n {
                return Err(crate::rules::HistoryError("short".into()));
            }
            for (e, r) in items.iter().take(n as usize) {
                if visit(e, *r).is_break() {
                    return Ok(core::ops::ControlFlow::Break(()));
                }
            }
            Ok(core::ops::ControlFlow::Continue(()))
        }

        fn find(
            &self,
            hash: &crate::Hash,
        ) -> Result<Option<SignedEntry>, crate::rules::HistoryError> {
            use std::sync::atomic::Ordering;
            self.reads.fetch_add(1, Ordering::Relaxed);
            if self.fail.load(Ordering::Relaxed) {
                return Err(crate::rules::HistoryError("disk on fire".into()));
            }
            let items = self.items.lock().unwrap();
            Ok(items
                .iter()
                .find(|(e, _)| e.hash() == *hash)
                .map(|(e, _)| (**e).clone()))
        }

        fn position(&self, hash: &crate::Hash) -> Result<Option<u64>, crate::rules::HistoryError> {
            let items = self.items.lock().unwrap();
            Ok(items
                .iter()
                .position(|(e, _)| e.hash() == *hash)
                .map(|i| i as u64))
        }

        fn earlier_state(
            &self,
            at_most: u64,
            fits: &mut dyn FnMut(u64, &crate::rules::Engine) -> bool,
        ) -> Option<(u64, crate::rules::Engine)> {
            let mut states = self.states.lock().unwrap().clone();
            states.sort_by_key(|s| core::cmp::Reverse(s.0));
            states
                .into_iter()
                .filter(|(k, _)| *k <= at_most)
                .find(|(k, e)| fits(*k, e))
        }

        fn first_after(
            &self,
            chain: &crate::ChainId,
            counter: u64,
        ) -> Result<u64, crate::rules::HistoryError> {
            let items = self.items.lock().unwrap();
            Ok(items
                .iter()
                .position(|(e, _)| e.header().chain == *chain && e.header().counter > counter)
                .map_or(u64::MAX, |i| i as u64))
        }

        fn refold_ends(&self, refold: crate::rules::Refold) {
            self.refolds.lock().unwrap().push(refold);
        }
    }

    /// The showcase's corrections, each with its own position and its
    /// target's.
    fn corrections(log: &[Arc<SignedEntry>]) -> Vec<(usize, usize)> {
        log.iter()
            .enumerate()
            .filter_map(|(c, e)| match &e.body().event {
                crate::Event::Site(crate::SiteEvent::Corrected { supersedes, .. }) => {
                    let t = log.iter().position(|x| x.hash() == *supersedes)?;
                    Some((c, t))
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_revocation_searches_the_history_from_the_first_entry_it_can_flag() {
        use crate::event::RegulatorEvent;
        use crate::testkit::{note, v};
        let mut s = crate::testkit::Scenario::standard();
        let acquired: Vec<_> = (0..5)
            .map(|i| s.acquire("north", &format!("R-{i}")).1)
            .collect();
        let north = s.sites.get(&v("north")).unwrap().public_key();
        let roots = [s.root_key()];
        let rk = s.regulator_key();
        let findings_after = |s: &crate::testkit::Scenario, after: u64| {
            let mut s = s.clone();
            s.regulator(RegulatorEvent::DeviceKeyRevoked {
                site: v("north"),
                public_key: north,
                after_counter: after,
                reason: note("device stolen"),
            });
            let log = &s.log;
            let last = log.len() - 1;
            // In memory, the whole history searched.
            let mut whole = LedgerVerifier::new(rk, roots.to_vec(), View::Corrected);
            ingest(&mut whole, log, 0, log.len());
            // Stored, searched from the first entry past `after`.
            let mut head = LedgerVerifier::new(rk, roots.to_vec(), View::Corrected);
            ingest(&mut head, log, 0, last);
            let kept = Kept::new(history(log, last));
            let bytes = head.encode_state().unwrap();
            let (mut v, _) =
                LedgerVerifier::decode_state_stored(&bytes, rk, &roots, kept.clone()).unwrap();
            ingest(&mut v, log, last, log.len());
            assert!(v.take_history_fault().is_none());
            assert_eq!(v.engine().findings(), whole.engine().findings());
            assert_eq!(v.state_digest().unwrap(), whole.state_digest().unwrap());
            let flagged = v
                .engine()
                .findings()
                .iter()
                .filter(|f| f.rule == crate::rules::RuleId::SignedAfterKeyEnd)
                .count();
            (
                flagged,
                kept.streams.load(std::sync::atomic::Ordering::Relaxed),
            )
        };
        // Firing: the entries past the second acquisition are flagged.
        let (flagged, streams) = findings_after(&s, acquired[1].counter());
        assert_eq!(flagged, 3);
        assert_eq!(streams, 1);
        // Quiet: nothing past the last entry: the history is not read.
        let (flagged, streams) = findings_after(&s, acquired[4].counter());
        assert_eq!(flagged, 0);
        assert_eq!(streams, 0);
    }

    /// Corrects `acq` (of `gun`) to `serial`.
    fn correct(
        s: &mut crate::testkit::Scenario,
        gun: crate::model::FirearmId,
        acq: &SignedEntry,
        serial: &str,
    ) {
        use crate::model::{Counterparty, DocKind};
        use crate::testkit::{doc, note, pistol, v};
        s.site(
            "north",
            "armourer-1",
            crate::SiteEvent::Corrected {
                supersedes: acq.hash(),
                reason: note("serial mistyped"),
                approver: Some(v("armourer-2")),
                corrected: Box::new(crate::SiteEvent::FirearmAcquired {
                    firearm: gun,
                    identity: pistol(serial),
                    source: Counterparty {
                        name: v("Dealer"),
                        licence: Some(v("DL-1")),
                    },
                    authorisation: doc(DocKind::AcquisitionPermit, "AP-1"),
                    location: v("vault"),
                }),
            },
        );
    }

    #[test]
    fn a_correction_refolds_from_the_nearest_kept_state_before_its_target_to_the_same_state() {
        // Two pistols; the first corrected twice, then the second: a
        // state kept between the two acquisitions is stale for the third
        // correction (it folded the first acquisition before its fixes).
        let mut s = crate::testkit::Scenario::standard();
        let (g1, a1) = s.acquire("north", "A-1");
        s.receive("north", "L-1", 100);
        let (g2, a2) = s.acquire("north", "A-2");
        s.receive("north", "L-2", 100);
        correct(&mut s, g1, &a1, "A-01");
        s.tick(crate::ids::Timestamp::HOUR);
        correct(&mut s, g1, &a1, "A-001");
        correct(&mut s, g2, &a2, "A-02");
        let roots = [s.root_key()];
        let rk = s.regulator_key();
        let log = &s.log;
        let fixes = corrections(log);
        assert_eq!(fixes.len(), 3);
        let state_at = |k: usize| {
            let mut v = LedgerVerifier::new(rk, roots.to_vec(), View::Corrected);
            ingest(&mut v, log, 0, k);
            v
        };
        // The server's case: the first `at` entries in the log, the state
        // decoded from a snapshot at `at`, and one earlier state kept at `k`.
        let resumed = |at: usize, k: usize| {
            let kept = Kept::new(history(log, at));
            let earlier = state_at(k).encode_state().unwrap();
            let (earlier, _) =
                LedgerVerifier::decode_state_stored(&earlier, rk, &roots, Kept::new(vec![]))
                    .unwrap();
            kept.states
                .lock()
                .unwrap()
                .push((k as u64, earlier.into_engine()));
            let bytes = state_at(at).encode_state().unwrap();
            let (v, _) =
                LedgerVerifier::decode_state_stored(&bytes, rk, &roots, kept.clone()).unwrap();
            (kept, v)
        };
        let (mut from_kept, mut stale_refused, mut none_before) = (0, 0, 0);
        for &(c, t) in &fixes {
            // The whole-log fold: in memory, from the start, through the correction.
            let before = state_at(c).state_digest().unwrap();
            let want = state_at(c + 1).state_digest().unwrap();
            assert_ne!(before, want, "the correction at {c} changes the state");
            for k in 0..=c {
                // Everything before the correction in the log.
                let (kept, mut v) = resumed(c, k);
                ingest(&mut v, log, c, c + 1);
                assert!(v.take_history_fault().is_none());
                assert_eq!(
                    v.state_digest().unwrap(),
                    want,
                    "correction at {c} of {t}, state kept at {k}"
                );
                // It started from the kept state only when that state
                // folded nothing a correction changed since.
                let stale = fixes.iter().any(|&(c2, t2)| k <= c2 && c2 < c && t2 < k);
                let expect = if k <= t && !stale { k as u64 } else { 0 };
                let refolds = kept.refolds.lock().unwrap().clone();
                assert_eq!(refolds.len(), 1, "one refold at {c}");
                assert_eq!(refolds[0].from, expect, "correction at {c}, kept at {k}");
                assert_eq!(refolds[0].folded, (c + 1) as u64 - expect);
                match (k <= t, stale) {
                    (true, false) if k > 0 => from_kept += 1,
                    (true, true) => stale_refused += 1,
                    (false, _) => none_before += 1,
                    _ => {}
                }
            }
        }
        // The target and its correction applied in one group, neither
        // committed to the source yet: the target is placed among the
        // entries held in memory, and the refold still starts from the
        // kept state.
        for &(c, t) in &fixes {
            for k in 0..=t {
                let (kept, mut v) = resumed(t, k);
                ingest(&mut v, log, t, c + 1);
                assert!(v.take_history_fault().is_none());
                let want = state_at(c + 1).state_digest().unwrap();
                assert_eq!(v.state_digest().unwrap(), want, "in one group: {c}, {k}");
                let stale = fixes.iter().any(|&(c2, t2)| k <= c2 && c2 < c && t2 < k);
                let expect = if stale { 0 } else { k as u64 };
                let last = *kept.refolds.lock().unwrap().last().unwrap();
                assert_eq!(
                    last.from, expect,
                    "in one group: correction at {c}, kept at {k}"
                );
            }
        }
        // Each way was taken: from a kept state (firing), refused as stale,
        // and none at or before the target (the whole history).
        assert!(from_kept > 0 && stale_refused > 0 && none_before > 0);
        // Quiet: an entry that corrects nothing refolds nothing.
        let q = fixes[0].0 - 1;
        let kept = Kept::new(history(log, q));
        kept.states
            .lock()
            .unwrap()
            .push((0, crate::rules::Engine::default()));
        let bytes = state_at(q).encode_state().unwrap();
        let (mut v, _) =
            LedgerVerifier::decode_state_stored(&bytes, rk, &roots, kept.clone()).unwrap();
        ingest(&mut v, log, q, q + 1);
        assert!(kept.refolds.lock().unwrap().is_empty());
        assert_eq!(
            v.state_digest().unwrap(),
            state_at(q + 1).state_digest().unwrap()
        );
    }

    #[test]
    fn a_history_read_back_from_its_source_ends_where_a_full_replay_does() {
        let s = Showcase::new();
        let roots = [s.scenario.root_key()];
        let log = s.log();
        let mut full = verifier(&s, &roots);
        ingest(&mut full, log, 0, log.len());
        let want = full.state_digest().unwrap();
        let mut steps = Vec::new();
        let all = full.engine().replay_each(|e, _, _| {
            steps.push(e.hash());
            core::ops::ControlFlow::Continue(())
        });
        assert!(all.unwrap().is_continue());
        assert_eq!(steps.len(), log.len());
        let mut read_back = false;
        for k in 0..=log.len() {
            let mut head = verifier(&s, &roots);
            ingest(&mut head, log, 0, k);
            let bytes = head.encode_state().unwrap();
            // The source holds what the log holds: the state's entries,
            // and each entry applied after it once it is committed.
            let kept = Kept::new(history(log, k));
            let (mut back, n) = LedgerVerifier::decode_state_stored(
                &bytes,
                s.scenario.regulator_key(),
                &roots,
                kept.clone(),
            )
            .unwrap();
            assert_eq!(n, k as u64);
            assert_eq!(back.engine().history_len(), n);
            assert_eq!(back.engine().history_in_memory(), 0);
            // Entries before the state are looked up in the source, not held.
            assert_eq!(back.engine().state().entries.held(), 0);
            if let Some(first) = log.first().filter(|_| k > 0) {
                let m = back.engine().state().entries.get(&first.hash());
                assert_eq!(m.map(|m| m.counter), Some(first.counter()));
            }
            if let Some(after) = log.get(k) {
                assert!(!back.engine().state().entries.contains_key(&after.hash()));
            }
            for (i, e) in log.iter().enumerate().skip(k) {
                back.ingest(e.clone(), Some(Timestamp(1_000 + i as u64)))
                    .unwrap();
                kept.items
                    .lock()
                    .unwrap()
                    .push((e.clone(), Some(Timestamp(1_000 + i as u64))));
                if i % 2 == 0 {
                    back.history_committed();
                }
            }
            assert!(back.engine().history_in_memory() <= 1);
            assert!(back.engine().state().entries.held() <= 1);
            assert!(back.take_history_fault().is_none());
            assert_eq!(back.state_digest().unwrap(), want, "resumed at {k}");
            assert_eq!(back.engine().findings(), full.engine().findings());
            let mut seen = Vec::new();
            let all = back.engine().replay_each(|e, _, _| {
                seen.push(e.hash());
                core::ops::ControlFlow::Continue(())
            });
            assert!(all.unwrap().is_continue());
            assert_eq!(seen, steps, "the replay for reports at {k}");
            read_back |= k > 0 && kept.reads.load(std::sync::atomic::Ordering::Relaxed) > 0;
        }
        assert!(read_back, "the showcase's corrections read the source");
    }

    #[test]
    fn a_history_that_cannot_be_read_back_is_a_fault_not_a_quiet_wrong_state() {
        let s = Showcase::new();
        let roots = [s.scenario.root_key()];
        let log = s.log();
        // The showcase ends in corrections: resuming before the last one,
        // it must look back through the history.
        let last_correction = log
            .iter()
            .rposition(|e| e.body().event.kind() == "corrected")
            .expect("the showcase corrects an entry");
        let mut head = verifier(&s, &roots);
        ingest(&mut head, log, 0, last_correction);
        let bytes = head.encode_state().unwrap();
        let rk = s.scenario.regulator_key();
        let kept = Kept::new(history(log, last_correction));
        let (mut quiet, _) =
            LedgerVerifier::decode_state_stored(&bytes, rk, &roots, kept.clone()).unwrap();
        ingest(&mut quiet, log, last_correction, log.len());
        assert!(quiet.take_history_fault().is_none());
        let failing = Kept::new(history(log, last_correction));
        failing
            .fail
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let (mut broken, _) =
            LedgerVerifier::decode_state_stored(&bytes, rk, &roots, failing.clone()).unwrap();
        ingest(&mut broken, log, last_correction, log.len());
        let fault = broken
            .take_history_fault()
            .expect("the failed read is kept");
        assert!(fault.to_string().contains("disk on fire"), "{fault}");
        assert!(broken.take_history_fault().is_none(), "taken once");
        assert!(
            broken
                .engine()
                .replay_each(|_, _, _| core::ops::ControlFlow::Continue(()))
                .is_err()
        );
    }

    #[test]
    fn a_fork_is_told_from_a_dangling_link_by_looking_the_predecessor_up_in_the_source() {
        use crate::chain::ChainError;
        use crate::event::Subject;
        use crate::model::Item;
        use crate::testkit::{Scenario, v};
        use crate::{EntryBody, Event, Link, SiteEvent};
        let mut s = Scenario::standard();
        let (gun, acq) = s.acquire("north", "P-1");
        let moved = s.site(
            "north",
            "armourer-1",
            SiteEvent::StorageMoved {
                item: Item::Firearm(gun),
                from: v("vault"),
                to: v("rack-1"),
            },
        );
        let roots = [s.root_key()];
        let mut head = LedgerVerifier::new(s.regulator_key(), roots.to_vec(), View::Corrected);
        for e in &s.log {
            head.ingest(e.clone(), None).unwrap();
        }
        let bytes = head.encode_state().unwrap();
        let mut link_to = |prev: crate::Hash| {
            let body = EntryBody {
                format: Default::default(),
                occurred_at: s.now,
                officer: v("armourer-1"),
                links: vec![Link {
                    subject: Subject::Firearm(gun),
                    prev: Some(prev),
                }],
                event: Event::Site(SiteEvent::StorageMoved {
                    item: Item::Firearm(gun),
                    from: v("rack-1"),
                    to: v("vault"),
                }),
            };
            let now = s.now;
            s.sites.get_mut(&v("north")).unwrap().sign(body, now)
        };
        let fork = link_to(acq.hash());
        let dangling = link_to(crate::Hash([7; 32]));
        let continues = link_to(moved.hash());
        let north = v("north");
        let kept = Kept::new(history(&s.log, s.log.len()));
        let rk = s.regulator_key();
        let (back, _) =
            LedgerVerifier::decode_state_stored(&bytes, rk, &roots, kept.clone()).unwrap();
        // Firing: the skipped-over acquisition is found in the source.
        let before = kept.reads.load(std::sync::atomic::Ordering::Relaxed);
        let verdicts = back.tracker().check(&north, &fork).unwrap();
        assert!(
            matches!(verdicts.as_slice(), [crate::chain::LinkVerdict::Forks { latest, .. }] if *latest == moved.hash()),
            "{verdicts:?}"
        );
        assert!(kept.reads.load(std::sync::atomic::Ordering::Relaxed) > before);
        assert!(matches!(
            back.tracker().check(&north, &dangling),
            Err(ChainError::DanglingLink { .. })
        ));
        // Quiet: a link to the latest event needs no look-up.
        assert!(back.tracker().check(&north, &continues).unwrap().is_empty());
        // A source that cannot be read: neither a fork nor a dangling link.
        let failing = Kept::new(history(&s.log, s.log.len()));
        failing
            .fail
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let (broken, _) = LedgerVerifier::decode_state_stored(&bytes, rk, &roots, failing).unwrap();
        assert!(matches!(
            broken.tracker().check(&north, &fork),
            Err(ChainError::HistoryUnreadable(_))
        ));
        assert!(broken.history_faulted());
        assert!(broken.tracker().check(&north, &continues).is_ok());
    }

    #[test]
    fn the_parts_of_the_state_add_up_to_its_encoding() {
        let s = Showcase::new();
        let roots = [s.scenario.root_key()];
        let mut v = verifier(&s, &roots);
        ingest(&mut v, s.log(), 0, s.log().len());
        let bytes = v.encode_state().unwrap();
        let parts = state_parts(&v).unwrap();
        assert_eq!(encoded_state_parts(&bytes).unwrap(), parts);
        // Every part once, largest first; with the header fields
        // (history_len, roots) and a length prefix or two, the whole.
        let names: std::collections::BTreeSet<_> = parts.iter().map(|p| &p.0).collect();
        assert_eq!(names.len(), parts.len());
        assert!(names.len() >= 33, "{names:?}");
        assert!(parts.windows(2).all(|w| w[0].1 >= w[1].1));
        let sum: u64 = parts.iter().map(|p| p.1).sum();
        let len = bytes.len() as u64;
        assert!(sum <= len && len - sum < 64, "parts {sum} B, state {len} B");
        // The showcase raises findings: a part per rule.
        let want: std::collections::BTreeSet<String> = v
            .engine()
            .findings()
            .iter()
            .map(|f| format!("findings.{}", f.rule))
            .collect();
        let got: std::collections::BTreeSet<String> = parts
            .iter()
            .filter(|p| p.0.starts_with("findings."))
            .map(|p| p.0.clone())
            .collect();
        assert!(!want.is_empty());
        assert_eq!(got, want);
        assert!(encoded_state_parts(&bytes[..bytes.len() / 2]).is_err());
    }

    #[test]
    fn the_encoding_does_not_depend_on_hash_map_order() {
        let s = Showcase::new();
        let roots = [s.scenario.root_key()];
        let mut a = verifier(&s, &roots);
        ingest(&mut a, s.log(), 0, s.log().len());
        // A clone rebuilt through decoding has maps filled in another order.
        let b = LedgerVerifier::decode_state(
            &a.encode_state().unwrap(),
            s.scenario.regulator_key(),
            &roots,
            history(s.log(), s.log().len()),
        )
        .unwrap();
        assert_eq!(a.encode_state().unwrap(), b.encode_state().unwrap());
    }

    #[test]
    fn state_of_another_regulator_other_roots_or_history_is_refused() {
        let s = Showcase::new();
        let roots = [s.scenario.root_key()];
        let log = s.log();
        let mut v = verifier(&s, &roots);
        ingest(&mut v, log, 0, log.len());
        let bytes = v.encode_state().unwrap();
        let n = log.len();
        let other = LedgerVerifier::decode_state(&bytes, [7; 32], &roots, history(log, n));
        assert!(matches!(other, Err(StateError::RegulatorKeyDiffers)));
        let rk = s.scenario.regulator_key();
        let roots2 = LedgerVerifier::decode_state(&bytes, rk, &[], history(log, n));
        assert!(matches!(roots2, Err(StateError::RootsDiffer)));
        let short = LedgerVerifier::decode_state(&bytes, rk, &roots, history(log, n - 1));
        assert!(matches!(short, Err(StateError::HistoryLength { .. })));
        let torn =
            LedgerVerifier::decode_state(&bytes[..bytes.len() / 2], rk, &roots, history(log, n));
        assert!(matches!(torn, Err(StateError::Codec(_))));
        assert!(LedgerVerifier::decode_state(&bytes, rk, &roots, history(log, n)).is_ok());
    }

    #[test]
    fn every_event_kind_decodes_to_its_name() {
        // The kinds are the string literals the `kind` functions return.
        let src = include_str!("event.rs");
        let mut seen = 0;
        for line in src.lines().filter(|l| l.contains("{ .. } => \"")) {
            let name = line.split('"').nth(1).unwrap();
            let enc = crate::codec::encode(name).unwrap();
            let mut d = postcard::Deserializer::from_bytes(&enc);
            assert_eq!(static_kind(&mut d).unwrap(), name);
            seen += 1;
        }
        assert!(seen >= 60, "found {seen} kinds");
        let enc = crate::codec::encode("no-such-kind").unwrap();
        let mut d = postcard::Deserializer::from_bytes(&enc);
        assert!(static_kind(&mut d).is_err());
    }
}
