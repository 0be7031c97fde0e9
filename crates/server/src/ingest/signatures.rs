//! The signature stage: a whole group's signatures checked at once, ahead of
//! the sequencer, with the keys the registry held when the group was taken.

use armsledger_core::entry::{ChainId, EntryHeader, SignedEntry};
use armsledger_core::keys::KeyRegistry;
use armsledger_core::sig::batch::{SigItem, verify_all};

use crate::queue::Job;
use crate::state::Shared;

/// A group whose signatures were checked.
pub(crate) struct Verified {
    /// The batches, in arrival order.
    pub jobs: Vec<Job>,
    /// Per batch, per entry: the key its signature verified under with
    /// `verify_strict`'s verdict; `None` if the key was unknown then or the
    /// signature does not hold under it.
    pub keys: Vec<Vec<Option<[u8; 32]>>>,
}

/// The public key the registry assigns to `header`'s (chain, device, epoch),
/// whatever its validity window: the window is the sequencer's to judge.
/// Records are never replaced once enrolled, so a key found here stays the
/// key of that header.
pub(crate) fn registered_key(keys: &KeyRegistry, header: &EntryHeader) -> Option<[u8; 32]> {
    match &header.chain {
        ChainId::Regulator => keys.regulator_key().copied(),
        ChainId::Site(site) => keys
            .record(site, &header.device, header.key_epoch)
            .map(|k| k.public_key),
    }
}

/// Whether the stage-one verdict for `entry` may stand in for `verify_strict`
/// now: it verified, under the key the registry assigns to it now.
pub(crate) fn still_valid(keys: &KeyRegistry, entry: &SignedEntry, pre: Option<[u8; 32]>) -> bool {
    pre.is_some() && pre == registered_key(keys, entry.header())
}

/// Looks up every entry's key, then checks all signatures of the group in one
/// call to [`verify_all`] (batches spread over the rayon pool).
pub(crate) fn verify(shared: &Shared, jobs: Vec<Job>) -> Verified {
    let entries: Vec<&SignedEntry> = jobs
        .iter()
        .flat_map(|j| j.entries.iter().map(|e| &**e))
        .collect();
    // The lock is held for the lookups only: the sequencer needs it to
    // apply the previous group while this one's signatures are checked.
    let looked_up = match shared.verifier() {
        Ok(v) => lookup_keys(v.keys(), &entries),
        Err(_) => vec![None; entries.len()],
    };
    shared
        .metrics()
        .signatures_checked
        .inc_by(looked_up.iter().flatten().count() as u64);
    shared.metrics().signature_calls.inc();
    let verdicts = verify_under(looked_up, &entries);
    // This stage has room: compress the rows of the entries that verified
    // now, so the sequencer's group commit does not (a failure here only
    // leaves the compression to the commit).
    let verified: Vec<&SignedEntry> = entries
        .iter()
        .zip(&verdicts)
        .filter(|(_, k)| k.is_some())
        .map(|(e, _)| *e)
        .collect();
    if let Err(e) = shared.store().precompress(&verified) {
        tracing::warn!(error = %e, "compressing rows ahead of the commit");
    }
    let mut flat = verdicts.into_iter();
    let keys = jobs
        .iter()
        .map(|j| flat.by_ref().take(j.entries.len()).collect())
        .collect();
    Verified { jobs, keys }
}

/// For each entry, the key its signature verifies under (`verify_strict`'s
/// verdict, reached by batch verification), with the keys `keys` knows.
pub(crate) fn verify_entries(
    keys: &KeyRegistry,
    entries: &[&SignedEntry],
) -> Vec<Option<[u8; 32]>> {
    verify_under(lookup_keys(keys, entries), entries)
}

/// Each entry's registered key, if any.
fn lookup_keys(keys: &KeyRegistry, entries: &[&SignedEntry]) -> Vec<Option<[u8; 32]>> {
    entries
        .iter()
        .map(|e| registered_key(keys, e.header()))
        .collect()
}

/// Checks each entry's signature under its looked-up key; the key where it verifies.
fn verify_under(
    looked_up: Vec<Option<[u8; 32]>>,
    entries: &[&SignedEntry],
) -> Vec<Option<[u8; 32]>> {
    // Every message in one buffer, each entry's the span `ends[i - 1]..ends[i]`.
    let mut messages = Vec::new();
    let mut ends = Vec::with_capacity(entries.len());
    for e in entries {
        e.append_signed_message(&mut messages);
        ends.push(messages.len());
    }
    let mut items = Vec::with_capacity(entries.len());
    // Position in `items` of each entry that has a key.
    let mut slots: Vec<Option<usize>> = Vec::with_capacity(entries.len());
    let mut start = 0;
    for ((e, key), end) in entries.iter().zip(&looked_up).zip(&ends) {
        let message = messages.get(start..*end).unwrap_or_default();
        start = *end;
        match key {
            Some(k) => {
                slots.push(Some(items.len()));
                items.push(SigItem {
                    key: *k,
                    message,
                    signature: e.signature().0,
                });
            }
            None => slots.push(None),
        }
    }
    let (verdicts, _) = verify_all(&items);
    looked_up
        .into_iter()
        .zip(slots)
        .map(|(k, slot)| {
            let ok = slot.and_then(|i| verdicts.get(i).copied()).unwrap_or(false);
            k.filter(|_| ok)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use armsledger_core::testkit::Scenario;

    #[test]
    fn a_verdict_stands_only_under_the_key_it_was_reached_with() {
        let s = Scenario::standard();
        let e = s.log.last().unwrap().clone();
        let mut keys = KeyRegistry::new(s.regulator_key());
        for r in &s.log {
            if let armsledger_core::event::Event::Regulator(ev) = &r.body().event {
                keys.apply(ev);
            }
        }
        let k = registered_key(&keys, e.header());
        assert!(k.is_some());
        assert!(still_valid(&keys, &e, k));
        assert!(!still_valid(&keys, &e, None));
        assert!(!still_valid(&keys, &e, Some([7; 32])));
        // A registry that does not know the key (e.g. rebuilt without it).
        assert!(!still_valid(&KeyRegistry::new([1; 32]), &e, k));
    }
}
