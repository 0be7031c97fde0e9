//! Helpers shared by the core integration tests (each test file includes this
//! module with `mod common;`, so not every helper is used by every file).
#![allow(dead_code)]

use std::sync::Arc;

use armsledger_core::LedgerVerifier;
use armsledger_core::entry::{EntryBody, SignedEntry};
use armsledger_core::event::{Event, SiteEvent};
use armsledger_core::hash::Hash;
use armsledger_core::ids::{SiteId, Timestamp};
use armsledger_core::model::{AmmoLine, DocKind, FirearmId, Reliance};
use armsledger_core::rules::{Finding, View};
use armsledger_core::testkit::{Scenario, doc, note, v};

/// Verifies and folds every entry of the scenario's log, panicking on the
/// first authenticity failure (with its index).
pub fn verify(s: &Scenario, view: View) -> LedgerVerifier {
    let mut ver = LedgerVerifier::new(s.regulator_key(), vec![s.root_key()], view);
    for (i, e) in s.log.iter().enumerate() {
        if let Err(err) = ver.ingest(e.clone(), s.received.get(&e.hash()).copied()) {
            panic!("entry {i} ({} #{}) refused: {err}", e.chain(), e.counter());
        }
    }
    ver
}

/// Every finding of the scenario's log (corrected view).
pub fn findings(s: &Scenario) -> Vec<Finding> {
    verify(s, View::Corrected).engine().findings().to_vec()
}

/// The body `Scenario::site` would sign for this event right now.
pub fn body_for(s: &Scenario, site: &str, officer: &str, event: SiteEvent) -> EntryBody {
    let site: SiteId = v(site);
    EntryBody {
        format: Default::default(),
        occurred_at: s.now,
        officer: v(officer),
        links: s.links(&site, &event),
        event: Event::Site(event),
    }
}

/// Signs an arbitrary body (links included) as the next entry of `site`,
/// exactly as `Scenario::site` would, and records it.
pub fn sign_body(s: &mut Scenario, site: &str, body: EntryBody) -> Arc<SignedEntry> {
    let site_id: SiteId = v(site);
    let now = s.now;
    let signer = s.sites.get_mut(&site_id).expect("site signer");
    let e = Arc::new(signer.sign(body, now));
    s.tracker.record(&site_id, &e);
    s.log.push(e.clone());
    s.tick(1000);
    e
}

/// What a guard licensed by `Scenario::guard` relies on.
pub fn reliance(person: &str) -> Reliance {
    Reliance {
        licence: v(&format!("LIC-{person}")),
        permit: v(&format!("PER-{person}")),
        qualification: v(&format!("Q-{person}")),
    }
}

/// An `Issued` event of `gun` to `to`, due back in eight hours, with rounds
/// taken from `vault` when any are given.
pub fn issued(s: &Scenario, gun: FirearmId, to: &str, ammunition: Vec<AmmoLine>) -> SiteEvent {
    let ammunition_from = if ammunition.is_empty() {
        None
    } else {
        Some(v("vault"))
    };
    SiteEvent::Issued {
        firearm: gun,
        to: v(to),
        purpose: note("patrol"),
        post: v("gate-3"),
        due_back: s.now.plus(8 * Timestamp::HOUR),
        reliance: reliance(to),
        ammunition,
        ammunition_from,
    }
}

/// A valid transfer authorisation.
pub fn transfer_permit() -> armsledger_core::model::DocRef {
    doc(DocKind::TransferAuthorisation, "TA-1")
}

/// A hash no entry has.
pub fn bogus_hash(label: &str) -> Hash {
    Hash::of(&[b"no such entry", label.as_bytes()])
}
