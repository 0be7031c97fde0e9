//! What of one weapon's history a caller may see. The trace and the dossier
//! both ask here, so they always show the same events.
//!
//! The regulator and auditors see everything. A company or a site sees the
//! history up to its own last event for the weapon: its custody periods and
//! the provenance before them (the per-weapon hash chain verifies only from
//! the acquisition on), never what later holders did with it. A caller that
//! never held the weapon sees nothing, and the serial then answers exactly
//! as one that does not exist.

use armsledger_core::entry::ChainId;
use armsledger_core::ids::SiteId;
use armsledger_core::note::NoteView;
use armsledger_core::rules::state::State;

use crate::tokens::Role;

/// How many of a weapon's events, in log order (given by their chains), the
/// caller with `role` may see: a prefix of the history. 0 means none.
pub(crate) fn visible_events<'a>(
    role: &Role,
    state: &State,
    chains: impl IntoIterator<Item = &'a ChainId>,
) -> usize {
    let mut seen = 0;
    let mut visible = 0;
    for chain in chains {
        seen += 1;
        let own = match chain {
            ChainId::Site(site) => role.may_read(Some(site), state.company_of(site)),
            ChainId::Regulator => false,
        };
        if role.reads_every_site() || own {
            visible = seen;
        }
    }
    visible
}

/// Whether the caller with `role` sees an ammunition lot's acts at `site`
/// (of `company`): the one rule of the lot trace (`GET /v1/lots/{lot}/trace`)
/// and the lot dossier (`GET /v1/lots/{lot}/dossier`). The regulator,
/// auditors and the police see every site; a company its own sites, a site
/// itself. Unlike a weapon's history, a lot's is not shown up to the
/// caller's last act: rounds of one lot are held at many sites at once, so
/// a receiver sees its own acts on the rounds it got (and the rounds in
/// transit to it, `LotTrace::retain_sites`), never the sender's issues,
/// guards or counts. A caller with no act at a site it may see gets the
/// unknown lot's 404.
pub(crate) fn lot_site_visible(
    role: &Role,
    site: &SiteId,
    company: Option<&armsledger_core::ids::CompanyId>,
) -> bool {
    role.reads_every_site() || role.may_read(Some(site), company)
}

/// Whether the caller with `role` may read the text of the sealed notes an
/// entry of `chain` carries: the regulator and auditors always, a company or
/// site only for its own chains' entries, nobody else for the regulator's
/// (a bar's reason is not the employer's to read); the police never (the
/// regulator opens a note to them on request, outside the ledger).
pub(crate) fn may_read_notes(role: &Role, state: &State, chain: &ChainId) -> bool {
    role.reads_all()
        || match (role, chain) {
            (Role::Police, _) | (_, ChainId::Regulator) => false,
            (_, ChainId::Site(site)) => role.may_read(Some(site), state.company_of(site)),
        }
}

/// Shows the sealed notes of a traced weapon as the caller may see them:
/// the text where its role may read it, "note erased on DATE under ORDER"
/// after an erasure, "sealed note" otherwise.
pub(crate) fn reveal_notes(
    shared: &crate::state::Shared,
    role: &Role,
    state: &State,
    traced: &mut armsledger_core::report::TracedFirearm,
) -> Result<(), armsledger_store::StoreError> {
    use std::collections::HashMap;
    let mut records = HashMap::new();
    let notes = traced
        .timeline
        .events
        .iter()
        .flat_map(|e| e.notes.iter().map(|n| *n.note()));
    for n in notes {
        if let std::collections::hash_map::Entry::Vacant(slot) = records.entry(n) {
            slot.insert(shared.store().note(&n)?);
        }
    }
    let chains: HashMap<_, _> = traced
        .timeline
        .events
        .iter()
        .map(|e| (e.hash, may_read_notes(role, state, &e.chain)))
        .collect();
    for c in &mut traced.serial_changes {
        let may = chains.get(&c.entry).copied().unwrap_or(role.reads_all());
        if let NoteView::Sealed { note } = c.reason
            && let Some(Some(rec)) = records.get(&note)
        {
            c.reason = rec.view(note, may);
        }
    }
    reveal_events(shared, role, state, traced.timeline.events.iter_mut())
}

/// Shows the sealed notes of timeline events (a weapon's or a lot's) as the
/// caller may see them, as [`reveal_notes`] does.
pub(crate) fn reveal_events<'a>(
    shared: &crate::state::Shared,
    role: &Role,
    state: &State,
    events: impl Iterator<Item = &'a mut armsledger_core::report::TimelineEvent>,
) -> Result<(), armsledger_store::StoreError> {
    use std::collections::HashMap;
    let events: Vec<_> = events.collect();
    let mut records = HashMap::new();
    for n in events
        .iter()
        .flat_map(|e| e.notes.iter().map(|n| *n.note()))
    {
        if let std::collections::hash_map::Entry::Vacant(slot) = records.entry(n) {
            slot.insert(shared.store().note(&n)?);
        }
    }
    for e in events {
        let may = may_read_notes(role, state, &e.chain);
        e.reveal(&|n| {
            records
                .get(n)
                .and_then(|r| r.as_ref())
                .map(|r| r.view(*n, may))
        });
    }
    Ok(())
}

/// The error for a serial the caller may not see, or that does not exist:
/// the same 404 and the same body either way.
pub(crate) fn no_such_serial(serial: &str) -> crate::error::ApiError {
    crate::error::ApiError::NotFound(format!("no firearm with serial {serial}"))
}

#[cfg(test)]
mod tests {
    use armsledger_core::testkit::{Scenario, v};

    use super::*;

    #[test]
    fn a_holder_sees_up_to_its_own_last_event() {
        let mut s = Scenario::standard();
        s.company_with_site("other-co", "south");
        let mut engine = armsledger_core::LedgerVerifier::new(
            s.regulator_key(),
            vec![],
            armsledger_core::rules::View::Corrected,
        );
        for e in &s.log {
            engine.ingest(e.clone(), None).unwrap();
        }
        let state = engine.engine().state();
        let north = ChainId::Site(v("north"));
        let south = ChainId::Site(v("south"));
        let history = [&north, &north, &south, &south, &north, &south];
        let role = |r: &str| -> Role { r.parse().unwrap() };
        assert_eq!(visible_events(&role("regulator"), state, history), 6);
        assert_eq!(visible_events(&role("auditor"), state, history), 6);
        assert_eq!(visible_events(&role("site:south"), state, history), 6);
        // North held it twice: it sees up to its second custody, not after.
        assert_eq!(visible_events(&role("site:north"), state, history), 5);
        assert_eq!(visible_events(&role("company:acme"), state, history), 5);
        assert_eq!(visible_events(&role("company:other-co"), state, history), 6);
        // Never held: nothing.
        assert_eq!(visible_events(&role("site:east"), state, history), 0);
        assert_eq!(visible_events(&role("company:nobody"), state, history), 0);
        assert_eq!(visible_events(&role("site:north"), state, [&south]), 0);
        // The police see every holder's events.
        assert_eq!(visible_events(&role("police"), state, history), 6);
    }

    #[test]
    fn who_reads_the_text_of_sealed_notes() {
        let mut s = Scenario::standard();
        s.company_with_site("other-co", "south");
        let mut engine = armsledger_core::LedgerVerifier::new(
            s.regulator_key(),
            vec![],
            armsledger_core::rules::View::Corrected,
        );
        for e in &s.log {
            engine.ingest(e.clone(), None).unwrap();
        }
        let state = engine.engine().state();
        let north = ChainId::Site(v("north"));
        let role = |r: &str| -> Role { r.parse().unwrap() };
        // Firing: the regulator, auditors and the site's own company and site.
        for r in ["regulator", "auditor", "site:north", "company:acme"] {
            assert!(may_read_notes(&role(r), state, &north), "{r}");
        }
        // Quiet: another company's site, and the police (who may trace the
        // weapon but get a note's text only from the regulator, on request).
        for r in ["site:south", "company:other-co", "police"] {
            assert!(!may_read_notes(&role(r), state, &north), "{r}");
        }
        // The regulator chain's notes (a bar's reason): the regulator's and
        // auditors' only.
        assert!(may_read_notes(&role("auditor"), state, &ChainId::Regulator));
        for r in ["site:north", "company:acme", "police"] {
            assert!(!may_read_notes(&role(r), state, &ChainId::Regulator), "{r}");
        }
    }
}
