//! What the server knows, carried by the bundle and checked (issue 13): the
//! findings it raised and the equivocation proofs it kept follow the entry
//! they belong to; the verifier reproduces the findings, verifies each
//! equivocation against the key the regulator chain enrolled for that
//! entry, and refuses records that belong to no entry of the bundle. Crafted
//! floods of records are refused or counted with bounded memory (the tests
//! assert counts and refusals, never times).

use armsledger_bundle::{Record, Scope, ServerFinding};
use armsledger_core::chain::Equivocation;
use armsledger_core::testkit::{Scenario, v};
use armsledger_core::{Hash, SignedEntry};

use crate::*;

/// The world, then north's device is cloned: the clone signs another entry
/// at the counter of the log's entry. Returns the scenario, the server's
/// log with the proof kept at that entry, the proof and the entry's index.
fn cloned_device() -> (Scenario, MemoryLog, Equivocation, u64) {
    let (mut s, _) = world();
    let mut clone = s.clone();
    let (_, logged) = s.acquire("north", "EQ-1");
    let (_, other) = clone.acquire("north", "EQ-2");
    s.acquire("north", "EQ-3");
    let key = s.sites[&v("north")].public_key();
    let proof = Equivocation::from_entries(key, &logged, &other).unwrap();
    let mut log = server_log(&s);
    let index = s
        .log
        .iter()
        .position(|e| e.hash() == logged.hash())
        .unwrap() as u64;
    log.add_equivocation(index, proof.clone());
    (s, log, proof, index)
}

/// Inserts `extra` right after the record of the entry at log `index`
/// (after its inclusion proof and the server's records, if any).
fn after_entry(bytes: &[u8], index: u64, extra: Vec<Record>) -> Vec<u8> {
    let mut recs = records(bytes);
    let at = recs
        .iter()
        .position(|r| matches!(r, Record::Entry(e) if e.index == index))
        .unwrap();
    let mut end = at + 1;
    while matches!(
        recs.get(end),
        Some(Record::Inclusion(_) | Record::Finding(_) | Record::Equivocation(_))
    ) {
        end += 1;
    }
    recs.splice(end..end, extra);
    frame(&recs)
}

fn index_of(s: &Scenario, pick: impl Fn(&SignedEntry) -> bool) -> u64 {
    s.log.iter().position(|e| pick(e)).unwrap() as u64
}

#[test]
fn a_full_export_carries_the_equivocation_and_the_findings_and_both_verify() {
    let (s, log, proof, index) = cloned_device();
    let bytes = bundle_of(&s, &log, &log_key(), Scope::All, None);
    let kinds: Vec<_> = records(&bytes).iter().map(Record::kind).collect();
    assert!(kinds.contains(&armsledger_bundle::Kind::Equivocation));
    assert!(kinds.contains(&armsledger_bundle::Kind::Finding));
    let r = verify(&bytes);
    assert!(r.authentic(), "{:#?}", r.problems);
    assert_eq!(r.equivocations.len(), 1, "the clone is caught offline");
    let q = &r.equivocations[0];
    assert_eq!(
        (q.chain.as_str(), q.counter, q.entry),
        ("site:north", proof.counter(), s.log[index as usize].hash())
    );
    assert_eq!(q.public_key, hex::encode(proof.public_key));
    // Every finding the server kept is one the verifier raised too.
    assert!(r.server.findings > 0);
    assert_eq!(r.server.reproduced, r.server.findings);
    assert_eq!(r.server.not_reproduced, 0);
}

#[test]
fn scoped_exports_carry_only_what_is_about_their_entries() {
    let (s, log, _, _) = cloned_device();
    let north = verify(&bundle_of(
        &s,
        &log,
        &log_key(),
        Scope::Site(v("north")),
        None,
    ));
    assert!(north.authentic(), "{:#?}", north.problems);
    assert_eq!(north.equivocations.len(), 1);
    let south_bytes = bundle_of(&s, &log, &log_key(), Scope::Site(v("south")), None);
    assert!(
        !records(&south_bytes)
            .iter()
            .any(|r| matches!(r, Record::Equivocation(_))),
        "south's bundle holds no north entry, so no proof about one"
    );
    let south = verify(&south_bytes);
    assert!(south.authentic(), "{:#?}", south.problems);
    assert!(south.equivocations.is_empty());
    assert!(south.server.findings < north.server.findings);
}

#[test]
fn an_equivocation_that_does_not_belong_to_its_entry_is_refused() {
    let (s, _, proof, index) = cloned_device();
    // The same log without the proof, to place crafted ones by hand.
    let bytes = bundle_of(&s, &memory_log(&s), &log_key(), Scope::All, None);
    let eq = |q: &Equivocation| Record::Equivocation(q.clone());
    let check = |bytes: Vec<u8>, want: &str| {
        let r = verify(&bytes);
        assert!(!r.authentic(), "{want}");
        let p = of_kind(&r, ProblemKind::Equivocation);
        assert_eq!(p.len(), 1, "{want}: {:#?}", r.problems);
        assert!(p[0].reason.contains(want), "{}", p[0]);
        r.equivocations.len()
    };
    // After another entry than the one of its counter.
    let listed = check(
        after_entry(&bytes, index + 1, vec![eq(&proof)]),
        "does not hold the entry it follows",
    );
    assert_eq!(listed, 0);
    // Signed by a key that is not the one enrolled for the entry.
    let mut other_key = proof.clone();
    other_key.public_key = s.sites[&v("south")].public_key();
    assert_eq!(
        check(after_entry(&bytes, index, vec![eq(&other_key)]), "not by"),
        0
    );
    // A broken signature.
    let mut forged = proof.clone();
    forged.b.signature.0[7] ^= 1;
    assert_eq!(
        check(
            after_entry(&bytes, index, vec![eq(&forged)]),
            "does not hold"
        ),
        0
    );
    // Two for one counter: the first stands, the second is refused.
    let listed = check(
        after_entry(&bytes, index, vec![eq(&proof), eq(&proof)]),
        "a second equivocation record",
    );
    assert_eq!(listed, 1);
    // Before any entry.
    let mut recs = records(&bytes);
    recs.insert(2, eq(&proof));
    assert_eq!(check(frame(&recs), "follows none"), 0);
    // And in its place it verifies.
    let r = verify(&after_entry(&bytes, index, vec![eq(&proof)]));
    assert!(r.authentic(), "{:#?}", r.problems);
    assert_eq!(r.equivocations.len(), 1);
}

#[test]
fn server_findings_must_name_an_entry_of_the_bundle() {
    let (s, _) = world();
    let log = server_log(&s);
    let bytes = bundle_of(&s, &log, &log_key(), Scope::All, None);
    let last = s.log.len() as u64 - 1;
    let e = &s.log[last as usize];
    let finding = |rule: &str, entry: Hash| {
        Record::Finding(ServerFinding {
            rule: rule.into(),
            chain: e.chain().clone(),
            counter: e.counter(),
            entry,
            evidence: "the server says so".into(),
        })
    };
    // Naming an entry that is not in the bundle: refused.
    let r = verify(&after_entry(
        &bytes,
        last,
        vec![finding("qualification-current", Hash([7; 32]))],
    ));
    assert!(!r.authentic());
    let p = of_kind(&r, ProblemKind::ServerRecord);
    assert_eq!(p.len(), 1, "{:#?}", r.problems);
    assert!(p[0].reason.contains("not in the bundle"), "{}", p[0]);
    // Naming the entry it follows, with a rule the verifier did not raise:
    // kept, and listed as not reproduced.
    let r = verify(&after_entry(
        &bytes,
        last,
        vec![finding("disposed-is-final", e.hash())],
    ));
    assert!(r.authentic(), "{:#?}", r.problems);
    assert_eq!(r.server.not_reproduced, 1);
    assert_eq!(r.server.not_reproduced_listed[0].rule, "disposed-is-final");
    // Naming it with another chain or counter than it has: refused.
    let mut wrong = finding("disposed-is-final", e.hash());
    if let Record::Finding(f) = &mut wrong {
        f.counter += 1;
    }
    let r = verify(&after_entry(&bytes, last, vec![wrong]));
    assert_eq!(of_kind(&r, ProblemKind::ServerRecord).len(), 1);
    // Before any entry: refused.
    let mut recs = records(&bytes);
    recs.insert(2, finding("disposed-is-final", e.hash()));
    let r = verify(&frame(&recs));
    assert_eq!(of_kind(&r, ProblemKind::ServerRecord).len(), 1);
}

#[test]
fn floods_of_records_are_counted_and_refused_with_bounded_lists() {
    let (s, _) = world();
    let log = memory_log(&s);
    let bytes = bundle_of(&s, &log, &log_key(), Scope::All, None);
    let last = s.log.len() as u64 - 1;
    let e = &s.log[last as usize];
    let record = |entry: Hash, n: usize| {
        Record::Finding(ServerFinding {
            rule: format!("rule-{n}"),
            chain: e.chain().clone(),
            counter: e.counter(),
            entry,
            evidence: "x".repeat(200),
        })
    };
    // 20,000 findings naming nothing in the bundle: each a problem, 1,000
    // listed, the rest counted.
    const N: usize = 20_000;
    let flood: Vec<Record> = (0..N).map(|n| record(Hash([9; 32]), n)).collect();
    let r = verify(&after_entry(&bytes, last, flood));
    assert!(!r.authentic());
    assert_eq!(r.server.findings, N as u64);
    assert_eq!(r.problems.len(), 1000);
    assert_eq!(r.problems_omitted, (N - 1000) as u64);
    // 20,000 findings naming the entry they follow, none reproduced: kept
    // as server claims, 1,000 listed, the rest counted.
    let flood: Vec<Record> = (0..N).map(|n| record(e.hash(), n)).collect();
    let r = verify(&after_entry(&bytes, last, flood));
    assert!(r.authentic(), "{:#?}", r.problems.first());
    assert_eq!(r.server.not_reproduced, N as u64);
    assert_eq!(
        r.server.not_reproduced_listed.len(),
        armsledger_bundle::MAX_LISTED
    );
}

#[test]
fn a_flood_of_equivocation_records_is_refused_without_checking_each() {
    let (s, log, proof, index) = cloned_device();
    let bytes = bundle_of(&s, &log, &log_key(), Scope::All, None);
    const N: usize = 5_000;
    let flood = vec![Record::Equivocation(proof); N];
    let r = verify(&after_entry(&bytes, index, flood));
    assert!(!r.authentic());
    assert_eq!(r.server.equivocations, N as u64 + 1);
    assert_eq!(r.equivocations.len(), 1, "the one in its place verifies");
    assert_eq!(
        r.problems.len() as u64 + r.problems_omitted,
        N as u64,
        "every other one is refused"
    );
    // Refused before any signature work: only the first one's two
    // statements reached the batch verifier.
}

#[test]
fn many_equivocations_are_verified_in_batches() {
    // 40 counters of north each signed twice by its cloned device.
    let (mut s, _) = world();
    let mut proofs = Vec::new();
    for k in 0..40 {
        let mut clone = s.clone();
        let (_, logged) = s.acquire("north", &format!("M-{k}"));
        let (_, other) = clone.acquire("north", &format!("X-{k}"));
        let key = s.sites[&v("north")].public_key();
        proofs.push((
            logged.hash(),
            Equivocation::from_entries(key, &logged, &other).unwrap(),
        ));
    }
    let mut log = memory_log(&s);
    for (hash, q) in &proofs {
        let i = index_of(&s, |e| e.hash() == *hash);
        log.add_equivocation(i, q.clone());
    }
    let mut forged = proofs[17].1.clone();
    forged.b.signature.0[0] ^= 0x80;
    log.add_equivocation(index_of(&s, |e| e.hash() == proofs[17].0), forged);
    let r = verify(&bundle_of(&s, &log, &log_key(), Scope::All, None));
    assert_eq!(r.server.equivocations, 40);
    assert_eq!(r.equivocations.len(), 39);
    let p = of_kind(&r, ProblemKind::Equivocation);
    assert_eq!(p.len(), 1, "{:#?}", r.problems);
    assert_eq!(p[0].entry, Some(proofs[17].0));
}

#[test]
fn only_the_consistency_proof_from_the_trusted_size_is_kept() {
    let (s, _) = world();
    let log = memory_log(&s);
    let n = log.size();
    let dir = tempfile::tempdir().unwrap();
    let opts = VerifyOptions {
        trusted_key: Some(log_key().verifier()),
        state_path: Some(dir.path().join("state.json")),
        ..VerifyOptions::default()
    };
    assert!(
        verify_with(
            &bundle_of(&s, &log, &log_key(), Scope::All, Some(n - 5)),
            &opts
        )
        .authentic()
    );
    let key = log_key();
    let mut spec = BundleSpec::new(&key, s.regulator_key(), s.now);
    spec.manufacturer_roots = vec![s.root_key()];
    spec.consistency_from = vec![n - 5];
    let (_, gun) = world();
    let bytes = write_bundle(&log, &spec, Scope::Firearm(gun), Vec::new()).unwrap();
    // 10,000 useless proofs from other sizes ahead of the one that matters.
    let mut recs = records(&bytes);
    let useless = Record::Consistency(armsledger_bundle::ConsistencyRecord {
        old_size: 1,
        proof: vec![],
    });
    for _ in 0..10_000 {
        recs.insert(2, useless.clone());
    }
    let r = verify_with(&frame(&recs), &opts);
    assert!(r.authentic(), "{:#?}", r.problems);
    assert!(
        r.state
            .consistency
            .as_deref()
            .is_some_and(|c| c.contains("consistency proof in record 10002")),
        "{:?}",
        r.state
    );
}
