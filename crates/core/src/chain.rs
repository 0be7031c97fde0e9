//! Chain verification: links, counters, time, keys and per-subject histories,
//! and the self-contained proof that a key signed two entries at one counter.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::entry::{ChainId, EntryError, EntryHeader, SignedEntry, SignedHeader};
use crate::event::{Event, Subject};
use crate::hash::Hash;
use crate::ids::{SiteId, Timestamp};
use crate::keys::KeyRegistry;
use crate::sig::{SigError, Statement};

/// How far a device clock may step back between consecutive entries before
/// the chain is refused (devices clamp their clock to the head; this allows
/// for hosts that replay a device's own ordering across a clock fix).
pub const CLOCK_TOLERANCE_MS: u64 = 5 * 60 * 1000;

/// An authenticity failure: the entry is not evidence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ChainError {
    /// The bytes are not an entry.
    #[error("undecodable entry: {0}")]
    Undecodable(String),
    /// The entry is on another chain than the one being checked.
    #[error("entry belongs to {found}, expected {expected}")]
    WrongChain {
        /// Chain being verified.
        expected: String,
        /// Chain the entry names.
        found: String,
    },
    /// `prev_hash` is not the previous entry's hash.
    #[error("prev_hash {found} does not link to the previous entry {expected}")]
    BrokenLink {
        /// The previous entry's hash.
        expected: Hash,
        /// What the entry states.
        found: Hash,
    },
    /// `prev_counter` is not the previous entry's counter.
    #[error("prev_counter {found} does not match the previous counter {expected}")]
    PrevCounterMismatch {
        /// Previous entry's counter.
        expected: u64,
        /// What the entry states.
        found: u64,
    },
    /// The counter does not increase.
    #[error("counter {counter} is not above prev_counter {prev_counter}")]
    CounterNotIncreasing {
        /// Counter.
        counter: u64,
        /// Previous counter.
        prev_counter: u64,
    },
    /// The device clock went back further than the tolerance.
    #[error("device time {time} is before the previous entry's {previous}")]
    TimeRegressed {
        /// This entry's time.
        time: Timestamp,
        /// Previous entry's time.
        previous: Timestamp,
    },
    /// No enrolled key for this device and epoch.
    #[error("no key is enrolled for this device and epoch")]
    KeyUnknown,
    /// The counter is below the key's first valid counter.
    #[error("key is valid only from counter {counter_start}")]
    KeyNotYetValid {
        /// First valid counter.
        counter_start: u64,
    },
    /// The key was retired before this counter.
    #[error("key was retired at counter {final_counter}")]
    KeyRetired {
        /// Its final counter.
        final_counter: u64,
    },
    /// The key was revoked before this counter.
    #[error("key was revoked after counter {after_counter}")]
    KeyRevoked {
        /// Last valid counter.
        after_counter: u64,
    },
    /// `verify_strict` refused the signature.
    #[error("signature does not verify")]
    BadSignature,
    /// A site event on the regulator chain or the reverse.
    #[error("a {kind} event cannot be on {chain}")]
    WrongEventForChain {
        /// Event kind.
        kind: String,
        /// Chain.
        chain: String,
    },
    /// The links do not name exactly the subjects the event touches.
    #[error("links do not match the subjects the event touches")]
    LinksMismatch,
    /// A device enrolment whose certificate or attestation does not hold.
    #[error("device enrolment is not backed by a valid attestation")]
    BadEnrolment,
    /// A retirement whose statement is not signed by the enrolled key it names.
    #[error("key retirement is not signed by the enrolled key it retires")]
    BadRetirement,
    /// A link names a predecessor that no known entry about that subject has.
    #[error("link for {subject:?} points at {prev}, which is not an earlier event for it")]
    DanglingLink {
        /// The subject.
        subject: Subject,
        /// The unknown predecessor.
        prev: Hash,
    },
    /// A link could not be checked: the log that holds the subject's
    /// earlier events could not be read (a server's disk; not the entry's
    /// fault: offer it again).
    #[error("the log could not be read to check a subject link: {0}")]
    HistoryUnreadable(String),
}

impl From<EntryError> for ChainError {
    fn from(e: EntryError) -> Self {
        ChainError::Undecodable(e.to_string())
    }
}

impl From<SigError> for ChainError {
    fn from(_: SigError) -> Self {
        ChainError::BadSignature
    }
}

/// The last accepted entry of a chain.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    /// Its counter.
    pub counter: u64,
    /// Its entry hash.
    pub hash: Hash,
    /// Its device time.
    pub time: Timestamp,
}

/// Walks one chain in order, checking each entry against the last.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChainCursor {
    chain: ChainId,
    head: Option<Head>,
}

impl ChainCursor {
    /// A cursor at the start of `chain`.
    pub fn new(chain: ChainId) -> Self {
        ChainCursor { chain, head: None }
    }

    /// A cursor resuming after `head`.
    pub fn resume(chain: ChainId, head: Option<Head>) -> Self {
        ChainCursor { chain, head }
    }

    /// The chain.
    pub fn chain(&self) -> &ChainId {
        &self.chain
    }

    /// The last accepted entry.
    pub fn head(&self) -> Option<&Head> {
        self.head.as_ref()
    }

    /// Checks everything about `entry` that its position decides: chain,
    /// link, counters, time, event kind and link set. The signature and key
    /// are checked by [`check_key_and_signature`], which may run in parallel.
    pub fn check(&self, entry: &SignedEntry) -> Result<(), ChainError> {
        let h = entry.header();
        if h.chain != self.chain {
            return Err(ChainError::WrongChain {
                expected: self.chain.to_string(),
                found: h.chain.to_string(),
            });
        }
        let (prev_hash, prev_counter) = self
            .head
            .as_ref()
            .map_or((Hash::ZERO, 0), |p| (p.hash, p.counter));
        if h.prev_hash != prev_hash {
            return Err(ChainError::BrokenLink {
                expected: prev_hash,
                found: h.prev_hash,
            });
        }
        if h.prev_counter != prev_counter {
            return Err(ChainError::PrevCounterMismatch {
                expected: prev_counter,
                found: h.prev_counter,
            });
        }
        if h.counter <= h.prev_counter {
            return Err(ChainError::CounterNotIncreasing {
                counter: h.counter,
                prev_counter: h.prev_counter,
            });
        }
        if let Some(p) = self
            .head
            .as_ref()
            .filter(|p| h.device_time.plus(CLOCK_TOLERANCE_MS) < p.time)
        {
            return Err(ChainError::TimeRegressed {
                time: h.device_time,
                previous: p.time,
            });
        }
        let body = entry.body();
        let fits = matches!(
            (&self.chain, &body.event),
            (ChainId::Regulator, Event::Regulator(_)) | (ChainId::Site(_), Event::Site(_))
        );
        if !fits {
            return Err(ChainError::WrongEventForChain {
                kind: body.event.kind().to_string(),
                chain: self.chain.to_string(),
            });
        }
        let subjects = body.event.subjects();
        if body.links.len() != subjects.len()
            || body
                .links
                .iter()
                .zip(&subjects)
                .any(|(l, s)| &l.subject != s)
        {
            return Err(ChainError::LinksMismatch);
        }
        Ok(())
    }

    /// Checks `entry` and, if it holds, makes it the head.
    pub fn advance(&mut self, entry: &SignedEntry) -> Result<(), ChainError> {
        self.check(entry)?;
        self.set_head(entry);
        Ok(())
    }

    /// Makes `entry` the head, unchecked (for an entry [`Self::check`]
    /// passed against this head).
    pub(crate) fn set_head(&mut self, entry: &SignedEntry) {
        self.head = Some(Head {
            counter: entry.counter(),
            hash: entry.hash(),
            time: entry.header().device_time,
        });
    }
}

/// Checks the key was valid for this chain at this counter and the signature holds.
pub fn check_key_and_signature(
    entry: &SignedEntry,
    keys: &KeyRegistry,
) -> Result<[u8; 32], ChainError> {
    let key = keys.key_for(entry.header())?;
    entry.verify_signature(&key)?;
    Ok(key)
}

/// What a subject link says about a firearm's or lot's own history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LinkVerdict {
    /// Links to the latest known event for the subject (or is its first).
    Continues,
    /// Links to an earlier event, not the latest: two branches of one
    /// weapon's history. Signed, so kept, and raised as a finding.
    Forks {
        /// The subject.
        subject: Subject,
        /// The latest known event it skipped.
        latest: Hash,
    },
    /// Starts a new history for a subject that already has one.
    Restarts {
        /// The subject.
        subject: Subject,
        /// The latest known event.
        latest: Hash,
    },
}

/// Tracks every subject's history: the latest event per subject, and
/// whether an event belongs to a subject's history (to tell a fork from a
/// dangling link). Firearm histories are global; lot histories are per site.
///
/// Only the latest events are state (encoded in a snapshot). Every event
/// per subject is held in memory by an offline verifier; a server looks an
/// event up in its log instead, holding only those recorded since the last
/// commit.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SubjectTracker {
    #[serde(with = "crate::snapshot::sorted_map")]
    latest: HashMap<SubjectKey, Hash>,
    #[serde(skip)]
    known: HashMap<SubjectKey, std::collections::HashSet<Hash>>,
    #[serde(skip)]
    stored: Option<crate::rules::Lookup>,
}

impl SubjectTracker {
    fn key(site: &SiteId, s: &Subject) -> SubjectKey {
        match s {
            Subject::Firearm(_) => (None, *s),
            Subject::Lot(_) => (Some(site.clone()), *s),
        }
    }

    /// Checks the links of a site entry. A dangling link is an error; forks
    /// and restarts are verdicts to raise. Does not record the entry.
    pub fn check(
        &self,
        site: &SiteId,
        entry: &SignedEntry,
    ) -> Result<Vec<LinkVerdict>, ChainError> {
        check_links(
            site,
            entry,
            |k| self.latest.get(k).copied(),
            |k, h| self.is_known(k, h),
        )
    }

    /// Whether `h` is an event of subject `k`'s history: held, or an
    /// applied entry in the log that links the subject (for a lot, at the
    /// key's site).
    fn is_known(&self, k: &SubjectKey, h: &Hash) -> Result<bool, ChainError> {
        if self.known.get(k).is_some_and(|s| s.contains(h)) {
            return Ok(true);
        }
        let Some(lookup) = &self.stored else {
            return Ok(false);
        };
        let found = lookup
            .find(h)
            .map_err(|e| ChainError::HistoryUnreadable(e.to_string()))?;
        Ok(found.is_some_and(|e| {
            let ChainId::Site(site) = &e.header().chain else {
                return false;
            };
            e.body()
                .links
                .iter()
                .any(|l| Self::key(site, &l.subject) == *k)
        }))
    }

    /// Looks events up in `lookup` from now on (a server's log).
    pub(crate) fn set_lookup(&mut self, lookup: crate::rules::Lookup) {
        self.stored = Some(lookup);
    }

    /// Every event recorded is in the history source now: dropped from
    /// memory (nothing changes without a source).
    pub(crate) fn committed(&mut self) {
        if self.stored.is_some() {
            self.known = HashMap::new();
        }
    }

    /// Records `entry`'s events of each subject it links, without moving
    /// the latest (rebuilding what a decoded state leaves out from its
    /// history).
    pub(crate) fn remember(&mut self, site: &SiteId, entry: &SignedEntry) {
        for l in &entry.body().links {
            let k = Self::key(site, &l.subject);
            self.known.entry(k).or_default().insert(entry.hash());
        }
    }

    /// Like [`SubjectTracker::check`], seeing `overlay` (entries accepted
    /// earlier in the same batch) on top of this tracker.
    pub fn check_over(
        &self,
        overlay: &SubjectTracker,
        site: &SiteId,
        entry: &SignedEntry,
    ) -> Result<Vec<LinkVerdict>, ChainError> {
        check_links(
            site,
            entry,
            |k| {
                overlay
                    .latest
                    .get(k)
                    .or_else(|| self.latest.get(k))
                    .copied()
            },
            |k, h| {
                if overlay.known.get(k).is_some_and(|s| s.contains(h)) {
                    return Ok(true);
                }
                self.is_known(k, h)
            },
        )
    }

    /// Records an accepted entry as the latest event of each subject it links.
    pub fn record(&mut self, site: &SiteId, entry: &SignedEntry) {
        for l in &entry.body().links {
            let k = Self::key(site, &l.subject);
            self.latest.insert(k.clone(), entry.hash());
            self.known.entry(k).or_default().insert(entry.hash());
        }
    }

    /// The latest event hash for a subject (what the next link must name).
    pub fn latest(&self, site: &SiteId, subject: &Subject) -> Option<Hash> {
        self.latest.get(&Self::key(site, subject)).copied()
    }
}

type SubjectKey = (Option<SiteId>, Subject);

fn check_links(
    site: &SiteId,
    entry: &SignedEntry,
    latest_of: impl Fn(&SubjectKey) -> Option<Hash>,
    is_known: impl Fn(&SubjectKey, &Hash) -> Result<bool, ChainError>,
) -> Result<Vec<LinkVerdict>, ChainError> {
    let mut out = Vec::new();
    for l in &entry.body().links {
        let k = SubjectTracker::key(site, &l.subject);
        match (l.prev, latest_of(&k)) {
            (None, None) => {}
            (None, Some(latest)) => out.push(LinkVerdict::Restarts {
                subject: l.subject,
                latest,
            }),
            (Some(p), Some(latest)) if p == latest => {}
            (Some(p), Some(latest)) if is_known(&k, &p)? => out.push(LinkVerdict::Forks {
                subject: l.subject,
                latest,
            }),
            (Some(p), _) => {
                return Err(ChainError::DanglingLink {
                    subject: l.subject,
                    prev: p,
                });
            }
        }
    }
    Ok(out)
}

/// Two validly signed headers from one key with one counter and different
/// content: proof, on its own, that a device was cloned or broken.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Equivocation {
    /// The key that signed both.
    pub public_key: [u8; 32],
    /// One statement.
    pub a: SignedHeader,
    /// The other.
    pub b: SignedHeader,
}

/// Why an equivocation proof does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EquivocationError {
    /// The two headers differ in chain, device, epoch or counter.
    #[error("the headers are not for the same key and counter")]
    NotSameSlot,
    /// The two headers are the same statement.
    #[error("the headers are identical")]
    Identical,
    /// A signature does not verify.
    #[error("a signature does not verify")]
    BadSignature,
}

impl Equivocation {
    /// The proof from two entries, if they are one key's two statements for one counter.
    pub fn from_entries(
        public_key: [u8; 32],
        a: &SignedEntry,
        b: &SignedEntry,
    ) -> Result<Self, EquivocationError> {
        let e = Equivocation {
            public_key,
            a: SignedHeader::from(a),
            b: SignedHeader::from(b),
        };
        e.verify()?;
        Ok(e)
    }

    /// Checks the proof using only what it contains.
    pub fn verify(&self) -> Result<(), EquivocationError> {
        let (a, b) = (&self.a.header, &self.b.header);
        if a.chain != b.chain
            || a.device != b.device
            || a.key_epoch != b.key_epoch
            || a.counter != b.counter
        {
            return Err(EquivocationError::NotSameSlot);
        }
        if a == b {
            return Err(EquivocationError::Identical);
        }
        for s in [&self.a, &self.b] {
            s.header
                .verify(&self.public_key, &s.signature)
                .map_err(|_| EquivocationError::BadSignature)?;
        }
        Ok(())
    }

    /// The counter both statements claim.
    pub fn counter(&self) -> u64 {
        self.a.header.counter
    }
}

/// A header's slot: (chain, device, epoch, counter).
pub fn slot(h: &EntryHeader) -> (ChainId, crate::ids::DeviceId, u32, u64) {
    (h.chain.clone(), h.device.clone(), h.key_epoch, h.counter)
}
