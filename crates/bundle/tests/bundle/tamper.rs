//! Any single changed byte, any cut and any splice is refused, and the report
//! points at the record that was changed.

use armsledger_bundle::{ProblemKind, Record, Scope};
use armsledger_core::testkit::v;

use crate::*;

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn check_flips(bytes: &[u8], positions: &[u64]) {
    let lay = layout(bytes);
    for &pos in positions {
        let mut bad = bytes.to_vec();
        bad[pos as usize] ^= 1 << (pos % 8);
        let r = verify(&bad);
        assert!(!r.authentic(), "flip at byte {pos} went unnoticed");
        let Some((rec, off, _, item)) = lay
            .iter()
            .find(|(_, off, len, _)| pos >= *off && pos < off + len)
        else {
            // The magic line.
            assert!(
                of_kind(&r, ProblemKind::Framing).len() == 1,
                "byte {pos}: {:#?}",
                r.problems
            );
            continue;
        };
        let within = pos - off;
        let named = r.problems.iter().any(|p| p.record == Some(*rec));
        let framing = r.problems.iter().any(|p| {
            matches!(
                p.kind,
                ProblemKind::Framing | ProblemKind::End | ProblemKind::Order
            )
        });
        match item {
            // Header bytes: the framing breaks here or later.
            _ if within < 5 => assert!(
                framing || named,
                "byte {pos} (record {rec} header): {:#?}",
                r.problems
            ),
            Record::Entry(e) if within >= 5 + 16 => {
                let p = r
                    .problems
                    .iter()
                    .find(|p| p.record == Some(*rec))
                    .unwrap_or_else(|| {
                        panic!("byte {pos} in entry record {rec}: {:#?}", r.problems)
                    });
                assert_eq!(p.log_index, Some(e.index));
            }
            // received_at is the server's unsigned claim: only the End digest covers it.
            Record::Entry(_) if within >= 5 + 8 => {
                assert!(
                    !of_kind(&r, ProblemKind::End).is_empty(),
                    "byte {pos}: {:#?}",
                    r.problems
                )
            }
            Record::Entry(_) => assert!(
                named,
                "byte {pos} (index of record {rec}): {:#?}",
                r.problems
            ),
            Record::End(_) => assert!(!of_kind(&r, ProblemKind::End).is_empty() || framing),
            _ => assert!(
                named || framing,
                "byte {pos} in record {rec}: {:#?}",
                r.problems
            ),
        }
    }
}

#[test]
fn a_single_changed_byte_anywhere_is_caught_and_located() {
    let (s, gun) = world();
    let log = memory_log(&s);
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    for scope in [Scope::All, Scope::Firearm(gun)] {
        let bytes = bundle_of(&s, &log, &log_key(), scope, None);
        let n = bytes.len() as u64;
        let mut positions: Vec<u64> = (0..120).map(|_| rng.below(n)).collect();
        // At least one byte in every record, and the magic line.
        positions.push(3);
        for (_, off, len, _) in layout(&bytes) {
            positions.push(off + 5 + rng.below(len.saturating_sub(5).max(1)).min(len - 1));
        }
        check_flips(&bytes, &positions);
    }
}

#[test]
fn truncation_and_splicing_are_caught() {
    let (s, _) = world();
    let log = memory_log(&s);
    let bytes = bundle_of(&s, &log, &log_key(), Scope::Site(v("north")), None);
    let mut rng = Rng(77);
    for _ in 0..40 {
        let cut = rng.below(bytes.len() as u64) as usize;
        let r = verify(&bytes[..cut]);
        assert!(!r.authentic(), "cut at {cut}");
        assert!(
            !of_kind(&r, ProblemKind::Framing).is_empty(),
            "cut at {cut}: {:#?}",
            r.problems
        );
    }
    // Two bundles back to back.
    let mut spliced = bytes.clone();
    spliced.extend_from_slice(&bytes);
    let r = verify(&spliced);
    assert!(!r.authentic());
    assert!(
        r.problems
            .iter()
            .any(|p| p.reason.contains("after the End"))
    );
    // Records of one bundle moved into another: the End digest no longer matches.
    let other = bundle_of(
        &s,
        &log,
        &log_key(),
        Scope::Site(v("north")),
        Some(log.size() - 1),
    );
    let lay = layout(&other);
    let (_, end_off, _, _) = lay.last().unwrap();
    let mut mixed = other[..*end_off as usize].to_vec();
    let (_, off, _, _) = layout(&bytes).last().unwrap().clone();
    mixed.extend_from_slice(&bytes[off as usize..]);
    let r = verify(&mixed);
    assert!(!r.authentic());
    assert_eq!(of_kind(&r, ProblemKind::End).len(), 1, "{:#?}", r.problems);
}

/// Issue 13: a relay rewrites an entry's receipt time (and re-frames the
/// bundle so its End digest holds). The time is part of the log leaf (leaf
/// format v2), so the full bundle's root and the scoped bundle's inclusion
/// proof no longer hold, and the entry is named. Before leaf v2 both verified
/// and the deadline findings changed with the time.
#[test]
fn a_rewritten_receipt_time_is_refused() {
    let (s, _) = world();
    let log = memory_log(&s);
    for (scope, kind) in [
        (Scope::All, ProblemKind::MerkleRoot),
        (Scope::Site(v("north")), ProblemKind::Inclusion),
    ] {
        let bytes = bundle_of(&s, &log, &log_key(), scope.clone(), None);
        assert!(verify(&bytes).authentic());
        let mut recs = records(&bytes);
        let target = recs
            .iter_mut()
            .filter_map(|r| match r {
                Record::Entry(e) => Some(e),
                _ => None,
            })
            .last()
            .unwrap();
        let index = target.index;
        target.received_at = target.received_at.map(|t| t.plus(86_400_000));
        let r = verify(&frame(&recs));
        assert!(
            !r.authentic(),
            "{scope}: a moved receipt time went unnoticed"
        );
        let p = of_kind(&r, kind);
        assert_eq!(p.len(), 1, "{scope}: {:#?}", r.problems);
        if kind == ProblemKind::Inclusion {
            assert_eq!(p[0].log_index, Some(index));
        }
    }
}
