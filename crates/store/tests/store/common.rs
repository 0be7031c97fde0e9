//! Shared helpers: realistic signed workloads, stores in temp dirs, and the
//! reference RFC 6962 tree (from armsledger-testsupport).

use std::sync::Arc;

use armsledger_core::entry::SignedEntry;
use armsledger_core::event::SiteEvent;
use armsledger_core::ids::Timestamp;
use armsledger_core::testkit::{Scenario, v};
use armsledger_log::LogKey;
use armsledger_store::{Accepted, LogStore};

/// The log key used throughout the tests.
pub fn log_key() -> LogKey {
    LogKey::from_seed("ledger.example/armsledger-test", &[42; 32]).unwrap()
}

/// A scenario of at least `n` entries in log order: the standard world,
/// then firearms acquired, issued and returned, with ammunition.
pub fn workload(n: usize) -> Vec<Arc<SignedEntry>> {
    let mut s = Scenario::standard();
    let lot = s.receive("north", "L-1", 1_000_000);
    let mut k = 0usize;
    while s.log.len() < n {
        let (gun, _) = s.acquire("north", &format!("SN-{k:06}"));
        let guard = if k.is_multiple_of(2) {
            "guard-1"
        } else {
            "guard-2"
        };
        let issue = s.issue("north", gun, guard, lot, 30);
        s.return_all("north", &issue);
        k += 1;
    }
    s.log.truncate(n);
    s.log
}

/// The receipt time [`accepted`] gives the `i`-th entry of a batch: one
/// second apart from 2026-01-01T00:00:00Z.
pub fn received(i: usize) -> Timestamp {
    Timestamp(1_767_225_600_000 + 1000 * i as u64)
}

/// Wraps entries for `append_batch`, received one second apart.
pub fn accepted(entries: &[Arc<SignedEntry>]) -> Vec<Accepted> {
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| Accepted {
            entry: e.clone(),
            received_at: received(i),
            findings: vec![],
        })
        .collect()
}

/// The leaf hashes of `entries` appended in one batch by [`accepted`]:
/// `SHA-256(00 ‖ received_at ‖ entry)` by the reference tree's leaf hash.
pub fn leaves(entries: &[Arc<SignedEntry>]) -> Vec<armsledger_log::Hash> {
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            leaf(&armsledger_log::EntryLeaf::new(received(i).millis(), e.bytes()).to_bytes())
        })
        .collect()
}

/// A fresh log in a temp dir, with `entries` appended in one batch.
pub fn store_with(entries: &[Arc<SignedEntry>]) -> (tempfile::TempDir, LogStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = LogStore::open(dir.path().join("log.redb")).unwrap();
    if !entries.is_empty() {
        store.append_batch(&accepted(entries)).unwrap();
    }
    (dir, store)
}

pub use armsledger_testsupport::rfc6962::{consistency, leaf, mth, path};

/// A small deterministic PRNG (splitmix64) for test choices.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
}

/// A seed from the environment (`ARMSLEDGER_SEED`) or the clock, printed so
/// a failure can be replayed.
pub fn seed(name: &str) -> u64 {
    let s = std::env::var("ARMSLEDGER_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    eprintln!("{name}: ARMSLEDGER_SEED={s}");
    s
}

/// A site event body acquiring a new pistol with `serial` (no prior history).
pub fn acquisition(serial: &str, officer: &str) -> armsledger_core::entry::EntryBody {
    use armsledger_core::entry::{EntryBody, Link};
    use armsledger_core::event::{Event, Subject};
    use armsledger_core::model::{Counterparty, DocKind};
    use armsledger_core::testkit::{doc, pistol};
    let identity = pistol(serial);
    let firearm = identity.id();
    EntryBody {
        format: Default::default(),
        occurred_at: armsledger_core::testkit::T0,
        officer: v(officer),
        links: vec![Link {
            subject: Subject::Firearm(firearm),
            prev: None,
        }],
        event: Event::Site(SiteEvent::FirearmAcquired {
            firearm,
            identity,
            source: Counterparty {
                name: v("Dealer"),
                licence: Some(v("DL-1")),
            },
            authorisation: doc(DocKind::AcquisitionPermit, "AP-1"),
            location: v("vault"),
        }),
    }
}

/// The device side of a site, as the host sees it: its chain head and last
/// receipt, signing what the host asks if it extends that head.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct TestDevice {
    pub counter: u64,
    pub hash: armsledger_core::hash::Hash,
    pub last: Option<(
        armsledger_core::entry::EntryHeader,
        armsledger_core::sig::Sig,
    )>,
}

impl TestDevice {
    pub const LABEL: &'static str = "site-device-north";

    pub fn new() -> Self {
        TestDevice {
            counter: 0,
            hash: armsledger_core::hash::Hash::ZERO,
            last: None,
        }
    }

    pub fn signer() -> armsledger_core::testkit::SoftSigner {
        armsledger_core::testkit::SoftSigner::new(
            Self::LABEL,
            armsledger_core::entry::ChainId::Site(v("north")),
        )
    }

    pub fn key() -> armsledger_store::DeviceKey {
        let s = Self::signer();
        armsledger_store::DeviceKey {
            device: s.device.clone(),
            key_epoch: s.key_epoch,
            public_key: s.public_key(),
        }
    }

    /// Signs the request if it extends the device's head.
    pub fn sign(
        &mut self,
        req: &armsledger_store::SignRequest,
    ) -> (
        armsledger_core::entry::EntryHeader,
        armsledger_core::sig::Sig,
    ) {
        use armsledger_core::sig::Statement as _;
        assert_eq!(
            (req.prev_counter, req.prev_hash),
            (self.counter, self.hash),
            "ChainMismatch"
        );
        let mut s = Self::signer();
        s.head = (self.counter, self.hash);
        let header = s.next_header(
            req.body_hash,
            Timestamp(1_767_225_600_000 + self.counter * 1000),
            0,
        );
        let sig = header.sign(s.signing_key()).unwrap();
        self.counter = header.counter;
        self.hash = header.entry_hash().unwrap();
        self.last = Some((header.clone(), sig));
        (header, sig)
    }
}
