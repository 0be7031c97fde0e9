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
use crate::entry::{ChainId, SignedEntry};
use crate::hash::Hash;
use crate::ids::Timestamp;
use crate::keys::KeyRegistry;
use crate::rules::Engine;
use crate::verify::LedgerVerifier;

/// The version of the state encoding: a change to any type in it is a new
/// version, and a snapshot of another version is rebuilt from the log.
pub const STATE_VERSION: u32 = 1;

/// The domain tag of the state digest.
pub const STATE_DOMAIN: &[u8] = b"armsledger:rules-state:v1\0";

/// An applied entry as the engine keeps it: the entry and its receipt time.
pub type HistoryItem = (Arc<SignedEntry>, Option<Timestamp>);

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
    /// [`Self::decode_state`] without the history: its entries are filled in
    /// `earlier` once the caller has read them back (say, on another
    /// thread, after a start that need not wait for them). The first act
    /// that looks back through the history (a correction, a revocation, a
    /// replay for a report) waits for them; nothing else does.
    pub fn decode_state_deferred(
        bytes: &[u8],
        regulator_key: [u8; 32],
        manufacturer_roots: &[[u8; 32]],
        earlier: crate::rules::EarlierHistory,
    ) -> Result<(Self, u64), StateError> {
        let image: Image =
            postcard::from_bytes(bytes).map_err(|e| CodecError::Malformed(e.to_string()))?;
        let n = image.history_len;
        let mut v = Self::from_image(image, regulator_key, manufacturer_roots, Vec::new(), n)?;
        v.engine_mut().defer_history(n, earlier);
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
        let mut engine = image.engine;
        engine.set_history(history);
        Ok(LedgerVerifier::from_parts(
            image.keys,
            image.roots,
            image.cursors.into_iter().collect::<HashMap<_, _>>(),
            image.tracker,
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

/// A hash map of hash sets encoded with keys and members in order.
pub(crate) mod sorted_map_of_sets {
    use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
    use std::hash::Hash;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(crate) fn serialize<S: Serializer, K: Ord + Serialize, T: Ord + Serialize>(
        m: &HashMap<K, HashSet<T>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        m.iter()
            .map(|(k, v)| (k, v.iter().collect::<BTreeSet<_>>()))
            .collect::<BTreeMap<_, _>>()
            .serialize(s)
    }

    pub(crate) fn deserialize<'de, D, K, T>(d: D) -> Result<HashMap<K, HashSet<T>>, D::Error>
    where
        D: Deserializer<'de>,
        K: Eq + Hash + Deserialize<'de>,
        T: Eq + Hash + Deserialize<'de>,
    {
        let m: HashMap<K, Vec<T>> = super::sorted_map::deserialize(d)?;
        Ok(m.into_iter()
            .map(|(k, v)| (k, v.into_iter().collect()))
            .collect())
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

    #[test]
    fn a_deferred_history_filled_in_later_ends_where_a_full_replay_does() {
        let s = Showcase::new();
        let roots = [s.scenario.root_key()];
        let log = s.log();
        let mut full = verifier(&s, &roots);
        ingest(&mut full, log, 0, log.len());
        let want = full.state_digest().unwrap();
        let mut steps = 0;
        let all = full.engine().replay_each(|_, _, _| {
            steps += 1;
            core::ops::ControlFlow::Continue(())
        });
        assert!(all.is_continue());
        for k in 0..=log.len() {
            let mut head = verifier(&s, &roots);
            ingest(&mut head, log, 0, k);
            let bytes = head.encode_state().unwrap();
            let earlier: crate::rules::EarlierHistory = Arc::default();
            let (mut back, n) = LedgerVerifier::decode_state_deferred(
                &bytes,
                s.scenario.regulator_key(),
                &roots,
                earlier.clone(),
            )
            .unwrap();
            assert_eq!(n, k as u64);
            assert_eq!(back.engine().history_len(), n);
            assert!(back.engine().history_pending());
            // Read back on another thread while this one goes on; a
            // correction or a revocation waits for it.
            let h = history(log, k);
            let filler = std::thread::spawn(move || earlier.set(h).is_ok());
            ingest(&mut back, log, k, log.len());
            assert!(filler.join().unwrap());
            assert_eq!(back.state_digest().unwrap(), want, "resumed at {k}");
            let mut seen = 0;
            let all = back.engine().replay_each(|_, _, _| {
                seen += 1;
                core::ops::ControlFlow::Continue(())
            });
            assert!(all.is_continue());
            assert_eq!(seen, steps, "the replay for reports at {k}");
        }
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
