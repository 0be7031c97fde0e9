//! The sequencer: the one thread that applies and logs entries, one group
//! at a time, after the signature stage checked the group's signatures.

use std::collections::HashMap;
use std::time::Instant;

use armsledger_core::chain::Equivocation;
use armsledger_core::entry::{SignedEntry, SignedHeader};
use armsledger_core::hash::Hash;
use armsledger_core::ids::Timestamp;
use armsledger_core::rules::Finding;
use armsledger_store::Accepted;

use super::signatures::{Verified, still_valid};
use crate::error::ApiError;
use crate::queue::{Job, Logged};
use crate::state::Shared;

/// While a disk fault stands, answers every job of `group` with it (nothing
/// is verified or applied) and returns `None`; otherwise gives the group back.
pub(crate) fn refuse_while_faulty(shared: &Shared, group: Vec<Job>) -> Option<Vec<Job>> {
    let Some(fault) = shared.store().fault() else {
        return Some(group);
    };
    for job in group {
        let _ = job.reply.send(Err(ApiError::DiskFault(fault.clone())));
    }
    None
}

/// What became of one job before the commit.
enum Outcome {
    Done(Result<Vec<Logged>, ApiError>),
    /// Waiting for the commit: (position in the commit batch or existing index, status, findings).
    Pending(Vec<(Slot, &'static str, Vec<Finding>)>),
}

enum Slot {
    Existing(u64),
    New(usize),
}

pub(crate) fn run_group(shared: &Shared, verified: Verified) {
    let Verified { jobs: group, keys } = verified;
    let Some(group) = refuse_while_faulty(shared, group) else {
        return;
    };
    if shared.verifier_is_stale()
        && let Err(e) = super::rebuild_verifier(shared)
    {
        tracing::error!(error = %e, "rebuilding the verifier from the log");
        for job in group {
            let _ = job
                .reply
                .send(Err(ApiError::Unavailable(format!("rebuilding state: {e}"))));
        }
        return;
    }
    let started = Instant::now();
    // The server's clock, but never before the last receipt: a clock that
    // steps back must not reorder receipt times.
    let received_at = shared.receipt_time();
    // The signature stage's verdicts, kept only where the key it used is
    // still the one the registry assigns (group N may have changed keys).
    let checked: Vec<Vec<bool>> = match shared.verifier() {
        Ok(v) => group
            .iter()
            .zip(&keys)
            .map(|(j, pre)| {
                j.entries
                    .iter()
                    .zip(pre)
                    .map(|(e, k)| still_valid(v.keys(), e, *k))
                    .collect()
            })
            .collect(),
        Err(_) => group.iter().map(|j| vec![false; j.entries.len()]).collect(),
    };
    let mut accepted: Vec<Accepted> = Vec::new();
    let mut in_group: HashMap<Hash, usize> = HashMap::new();
    let mut outcomes = Vec::with_capacity(group.len());
    let mut dirty = false;
    for (job, sig_ok) in group.iter().zip(&checked) {
        let out = process(
            shared,
            job,
            sig_ok,
            received_at,
            &mut accepted,
            &mut in_group,
        );
        if let Outcome::Pending(_) = &out {
            dirty = true;
        }
        outcomes.push(out);
    }
    // One durable commit for the whole group.
    let indexes = if accepted.is_empty() {
        Ok(Vec::new())
    } else {
        shared
            .store()
            .append_batch(&accepted)
            .map_err(ApiError::from)
    };
    if indexes.is_err() && dirty {
        // The engine saw entries the disk did not take: rebuild it from the
        // log before the next group (after a disk fault, once the store is
        // open again).
        shared.mark_verifier_stale();
    }
    let commit_ok = indexes.is_ok();
    for (job, out) in group.into_iter().zip(outcomes) {
        let answer = match (out, &indexes) {
            (Outcome::Done(r), _) => r,
            (Outcome::Pending(items), Ok(idx)) => Ok(items
                .into_iter()
                .zip(job.entries.iter())
                .map(|((slot, status, findings), e)| Logged {
                    index: match slot {
                        Slot::Existing(i) => i,
                        Slot::New(p) => idx.get(p).copied().unwrap_or(u64::MAX),
                    },
                    hash: e.hash(),
                    status,
                    findings,
                })
                .collect()),
            (Outcome::Pending(_), Err(e)) => Err(again(e)),
        };
        let _ = job.reply.send(answer);
    }
    if commit_ok && !accepted.is_empty() {
        shared.note_received(received_at);
        shared
            .metrics()
            .entries_ingested
            .inc_by(accepted.len() as u64);
        shared
            .metrics()
            .commit_seconds
            .observe(started.elapsed().as_secs_f64());
        shared.log_grew();
        crate::snapshots::after_commit(shared);
    }
}

fn process(
    shared: &Shared,
    job: &Job,
    sig_ok: &[bool],
    received_at: Timestamp,
    accepted: &mut Vec<Accepted>,
    in_group: &mut HashMap<Hash, usize>,
) -> Outcome {
    let reader = match shared.store().read() {
        Ok(r) => r,
        Err(e) => return Outcome::Done(Err(ApiError::Unavailable(e.to_string()))),
    };
    // An entry past its chain's head (the log's, with the group's entries
    // so far applied) is neither logged nor a second entry for a logged
    // slot: it needs no lookups. (The store refuses a taken slot anyway.)
    let past_head: Vec<bool> = match shared.verifier() {
        Ok(v) => job
            .entries
            .iter()
            .map(|e| v.head(e.chain()).is_none_or(|h| e.counter() > h.counter))
            .collect(),
        Err(_) => vec![false; job.entries.len()],
    };
    // Entries already logged are answered with their index; the rest must be new.
    let mut slots = Vec::with_capacity(job.entries.len());
    let mut fresh = Vec::new();
    let mut fresh_sig = Vec::new();
    for (i, e) in job.entries.iter().enumerate() {
        if past_head.get(i).copied().unwrap_or(false) {
            slots.push(None);
            fresh.push(e.clone());
            fresh_sig.push(sig_ok.get(i).copied().unwrap_or(false));
            continue;
        }
        let known = match in_group.get(&e.hash()) {
            Some(p) => Some(Slot::New(*p)),
            None => match reader.index_of_hash(&e.hash()) {
                Ok(i) => i.map(Slot::Existing),
                Err(err) => return Outcome::Done(Err(ApiError::Unavailable(err.to_string()))),
            },
        };
        if let Some(slot) = known {
            // The entry hash covers the header only: a copy of a logged entry
            // with another signature must still verify to count as a retry.
            if !sig_ok.get(i).copied().unwrap_or(false) {
                return Outcome::Done(Err(ApiError::Rejected {
                    index: i,
                    chain: e.chain().to_string(),
                    counter: e.counter(),
                    hash: e.hash().to_string(),
                    reason: "signature does not verify (a copy of a logged entry with another signature)".into(),
                }));
            }
            slots.push(Some(slot));
            continue;
        }
        match reader.entry_by_slot(e.chain(), e.counter()) {
            Ok(Some(existing)) => {
                return Outcome::Done(Err(equivocation(shared, i, e, &existing.entry)));
            }
            Ok(None) => {}
            Err(err) => return Outcome::Done(Err(ApiError::Unavailable(err.to_string()))),
        }
        slots.push(None);
        fresh.push(e.clone());
        fresh_sig.push(sig_ok.get(i).copied().unwrap_or(false));
    }
    drop(reader);
    let Ok(mut verifier) = shared.verifier_mut() else {
        return Outcome::Done(Err(ApiError::Internal("verifier lock poisoned".into())));
    };
    let checked = match verifier.check_batch(&fresh, &fresh_sig) {
        Ok(c) => c,
        Err((k, err)) => {
            let pos = job
                .entries
                .iter()
                .position(|e| fresh.get(k).is_some_and(|f| f.hash() == e.hash()))
                .unwrap_or(k);
            let e = fresh.get(k);
            shared.metrics().entries_rejected.inc();
            return Outcome::Done(Err(ApiError::Rejected {
                index: pos,
                chain: e.map(|e| e.chain().to_string()).unwrap_or_default(),
                counter: e.map(|e| e.counter()).unwrap_or(0),
                hash: e.map(|e| e.hash().to_string()).unwrap_or_default(),
                reason: err.to_string(),
            }));
        }
    };
    // Applied as checked: the chain checks are not run a second time.
    let found = match verifier.apply_checked(checked, &fresh, |_| Some(received_at)) {
        Ok(f) => f,
        Err((k, err)) => {
            // Nothing ran between the check and the apply, so this is a
            // bug; the engine may hold part of the batch: rebuild it.
            shared.mark_verifier_stale();
            return Outcome::Done(Err(ApiError::Internal(format!(
                "apply after check, entry {k}: {err}"
            ))));
        }
    };
    let mut items = Vec::with_capacity(job.entries.len());
    let mut next_fresh = fresh.into_iter().zip(found);
    for slot in slots {
        match slot {
            Some(slot) => items.push((slot, "duplicate", Vec::new())),
            None => {
                let Some((e, findings)) = next_fresh.next() else {
                    return Outcome::Done(Err(ApiError::Internal("batch bookkeeping".into())));
                };
                shared
                    .metrics()
                    .findings_raised
                    .inc_by(findings.len() as u64);
                in_group.insert(e.hash(), accepted.len());
                items.push((Slot::New(accepted.len()), "logged", findings.clone()));
                accepted.push(Accepted {
                    entry: e,
                    received_at,
                    findings,
                });
            }
        }
    }
    Outcome::Pending(items)
}

/// The commit's failure, for each job of the group.
fn again(e: &ApiError) -> ApiError {
    match e {
        ApiError::DiskFault(f) => ApiError::DiskFault(f.clone()),
        other => ApiError::Unavailable(other.to_string()),
    }
}

/// A new entry for a slot the log already holds: if both are validly signed
/// by one key, keep the proof and refuse the entry.
fn equivocation(
    shared: &Shared,
    index: usize,
    new: &SignedEntry,
    logged: &SignedEntry,
) -> ApiError {
    let rejected = |reason: String| ApiError::Rejected {
        index,
        chain: new.chain().to_string(),
        counter: new.counter(),
        hash: new.hash().to_string(),
        reason,
    };
    let same_key = new.header().device == logged.header().device
        && new.header().key_epoch == logged.header().key_epoch;
    let key = shared
        .verifier()
        .ok()
        .and_then(|v| v.keys().key_for(logged.header()).ok());
    let Some(key) = key.filter(|_| same_key) else {
        return rejected("counter already used by another entry of this chain".into());
    };
    if new.verify_signature(&key).is_err() {
        return rejected("signature does not verify".into());
    }
    let proof = Equivocation {
        public_key: key,
        a: SignedHeader::from(logged),
        b: SignedHeader::from(new),
    };
    match shared.store().record_equivocation(&proof) {
        Ok(_) => {
            shared.metrics().equivocations.inc();
            tracing::error!(chain = %new.chain(), counter = new.counter(), "EQUIVOCATION: one key signed two entries at one counter");
            ApiError::Equivocation {
                index,
                chain: new.chain().to_string(),
                counter: new.counter(),
            }
        }
        Err(e) => e.into(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use armsledger_core::entry::SignedEntry;
    use armsledger_core::testkit::Scenario;
    use tokio::sync::oneshot;

    use super::*;
    use crate::Config;
    use crate::ingest::signatures;

    type Reply = oneshot::Receiver<Result<Vec<Logged>, ApiError>>;

    fn job(entries: &[Arc<SignedEntry>]) -> (Job, Reply) {
        let (reply, rx) = oneshot::channel();
        let entries = entries.to_vec();
        (Job { entries, reply }, rx)
    }

    fn shared(s: &Scenario, dir: &std::path::Path) -> Arc<Shared> {
        Shared::open(Config {
            data_dir: dir.to_path_buf(),
            regulator_key: Some(hex::encode(s.regulator_key())),
            manufacturer_roots: vec![hex::encode(s.root_key())],
            ..Config::default()
        })
        .unwrap()
    }

    /// The same entry with one bit of its signature flipped.
    fn forged(e: &SignedEntry) -> Arc<SignedEntry> {
        let mut b = e.bytes().to_vec();
        b[e.header_bytes().len() + 1] ^= 1;
        Arc::new(SignedEntry::decode(&b).unwrap())
    }

    #[test]
    fn a_key_enrolled_by_group_n_applies_to_group_n_plus_1() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Scenario::standard();
        let regulator = s.log.clone();
        let site: Vec<_> = (0..3)
            .map(|i| s.acquire("north", &format!("P-{i}")).1)
            .collect();
        let sh = shared(&s, dir.path());
        let (a, ra) = job(&regulator);
        let (b, rb) = job(&site);
        // Both groups are verified before either is processed: group 2's
        // keys are not enrolled yet, so it has no verdicts.
        let g1 = signatures::verify(&sh, vec![a]);
        let g2 = signatures::verify(&sh, vec![b]);
        assert!(g2.keys.iter().flatten().all(Option::is_none));
        run_group(&sh, g1);
        run_group(&sh, g2);
        assert!(ra.blocking_recv().unwrap().is_ok());
        let logged = rb.blocking_recv().unwrap().unwrap();
        assert!(logged.iter().all(|l| l.status == "logged"));
    }

    #[test]
    fn a_batch_with_a_broken_link_is_refused_whole_and_a_good_one_applied_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Scenario::standard();
        let regulator = s.log.clone();
        let site: Vec<_> = (0..3)
            .map(|i| s.acquire("north", &format!("P-{i}")).1)
            .collect();
        let sh = shared(&s, dir.path());
        let (a, ra) = job(&regulator);
        run_group(&sh, signatures::verify(&sh, vec![a]));
        assert!(ra.blocking_recv().unwrap().is_ok());
        // Firing: the second entry missing, the third's link is broken.
        let gap = [site[0].clone(), site[2].clone()];
        let (b, rb) = job(&gap);
        run_group(&sh, signatures::verify(&sh, vec![b]));
        match rb.blocking_recv().unwrap() {
            Err(ApiError::Rejected { index, reason, .. }) => {
                assert_eq!(index, 1);
                assert!(reason.contains("does not link"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        let reader = sh.store().read().unwrap();
        assert_eq!(reader.index_of_hash(&site[0].hash()).unwrap(), None);
        drop(reader);
        // Quiet: the whole chain goes in, each entry once, in order.
        let (c, rc) = job(&site);
        run_group(&sh, signatures::verify(&sh, vec![c]));
        let logged = rc.blocking_recv().unwrap().unwrap();
        assert!(logged.iter().all(|l| l.status == "logged"));
        let head = sh.verifier().unwrap().head(site[2].chain()).cloned();
        assert_eq!(head.map(|h| h.hash), Some(site[2].hash()));
        assert!(!sh.verifier_is_stale());
    }

    #[test]
    fn a_verdict_under_another_key_is_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Scenario::standard();
        let regulator = s.log.clone();
        let e = s.acquire("north", "P-1").1;
        let sh = shared(&s, dir.path());
        let (a, ra) = job(&regulator);
        run_group(&sh, signatures::verify(&sh, vec![a]));
        assert!(ra.blocking_recv().unwrap().is_ok());
        // A forged signature with a verdict reached under some other key
        // (as if the registry had changed since): checked again, refused.
        let bad = forged(&e);
        let (b, rb) = job(std::slice::from_ref(&bad));
        let g = Verified {
            jobs: vec![b],
            keys: vec![vec![Some([9; 32])]],
        };
        run_group(&sh, g);
        assert!(matches!(
            rb.blocking_recv().unwrap(),
            Err(ApiError::Rejected { index: 0, .. })
        ));
        // The genuine entry with its own verdict goes in.
        let (c, rc) = job(std::slice::from_ref(&e));
        run_group(&sh, signatures::verify(&sh, vec![c]));
        let logged = rc.blocking_recv().unwrap().unwrap();
        assert_eq!(logged[0].status, "logged");
    }
}
