//! A signature the batch equation accepts and `verify_strict` refuses (an `R`
//! of mixed order) is refused in a bundle too. The batch verifier's own
//! tests are in armsledger-core (`tests/sig_batch`).

use std::sync::Arc;

use armsledger_bundle::{ProblemKind, Scope};
use armsledger_core::ids::SiteId;
use armsledger_core::sig::Sig;
use armsledger_core::testkit::v;
use armsledger_core::{ChainId, SignedEntry};
use armsledger_testsupport::ed25519::mixed_order_signature;

use crate::*;

#[test]
fn an_entry_with_a_mixed_order_signature_is_refused_in_a_bundle() {
    let (mut s, _) = world();
    let north: SiteId = v("north");
    let last = s.log.pop().unwrap();
    assert_eq!(*last.chain(), ChainId::Site(north.clone()));
    let key = s.sites[&north].signing_key().clone();
    let sig = mixed_order_signature(&key, &last.signed_message());
    let forged =
        SignedEntry::assemble(last.header().clone(), Sig(sig), last.body().clone()).unwrap();
    s.log.push(Arc::new(forged));
    // The log itself is consistent; only the signature is wrong.
    let bytes = bundle_of(&s, &memory_log(&s), &log_key(), Scope::All, None);
    let r = verify(&bytes);
    assert!(!r.authentic());
    assert_eq!(r.problems.len(), 1, "{:#?}", r.problems);
    let p = &r.problems[0];
    assert_eq!(p.kind, ProblemKind::Signature);
    assert_eq!(p.entry, Some(last.hash()));
    assert_eq!(p.log_index, Some(s.log.len() as u64 - 1));
}
