//! Firmware tests on simulated storage: the signing order at every power-fail
//! point, boot-time rollback and corruption detection, authorisations,
//! rotation and recovery.

use armsledger_core::entry::ChainId;
use armsledger_core::hash::Hash;
use armsledger_core::ids::{DeviceId, Name, SiteId, Timestamp};
use armsledger_core::sig::Statement;
use armsledger_core::statements::AuthorisedAction;
use ed25519_dalek::SigningKey;

use crate::factory::DeviceSpec;
use crate::fault::{IoFault, Sim};
use crate::host::{DeviceClient, DeviceError, InProcess, authorise};
use crate::layout::{SLOT_OFFSETS, SLOT_SIZE};
use crate::protocol::KeyInfo;
use crate::state::{Lifecycle, LockReason, Receipt};
use crate::storage::{Cell, PowerPoint};

const T0: Timestamp = Timestamp(1_780_000_000_000);

fn regulator() -> SigningKey {
    SigningKey::from_bytes(&[0x52; 32])
}

fn chain() -> ChainId {
    ChainId::Site(SiteId::new("site-a").unwrap())
}

fn device_id() -> DeviceId {
    DeviceId::new("dev-a").unwrap()
}

fn sim() -> Sim {
    let spec = DeviceSpec {
        device: device_id(),
        model: Name::new("SIM-1").unwrap(),
        seed: [0x11; 32],
    };
    Sim::new(&SigningKey::from_bytes(&[0x4d; 32]), &spec, T0).unwrap()
}

fn auth(
    c: &mut DeviceClient<InProcess>,
    action: AuthorisedAction,
) -> armsledger_core::statements::Authorisation {
    let nonce = c.nonce().unwrap();
    authorise(&regulator(), device_id(), nonce, action).unwrap()
}

fn active() -> (Sim, DeviceClient<InProcess>, KeyInfo) {
    let s = sim();
    let mut c = s.client();
    c.provision(regulator().verifying_key().to_bytes(), chain())
        .unwrap();
    let a = auth(&mut c, AuthorisedAction::GenerateSiteKey { chain: chain() });
    let k = c.generate_site_key(Some(a)).unwrap();
    (s, c, k)
}

fn body(i: u64) -> Hash {
    Hash::of(&[b"body", &i.to_le_bytes()])
}

fn sign(c: &mut DeviceClient<InProcess>, prev: Hash, i: u64) -> Result<Receipt, DeviceError> {
    c.sign_entry(chain(), prev, body(i))
}

fn hash_of(r: &Receipt) -> Hash {
    r.header.entry_hash().unwrap()
}

#[test]
fn signs_a_verifiable_chain() {
    let (_s, mut c, k) = active();
    assert_eq!(k.key_epoch, 1);
    assert_eq!(k.counter_start, 1);
    let r1 = sign(&mut c, Hash::ZERO, 1).unwrap();
    let r2 = sign(&mut c, hash_of(&r1), 2).unwrap();
    for r in [&r1, &r2] {
        r.header.verify(&k.public_key, &r.signature).unwrap();
    }
    assert_eq!((r1.header.counter, r1.header.prev_counter), (1, 0));
    assert_eq!((r2.header.counter, r2.header.prev_counter), (2, 1));
    assert_eq!(r2.header.prev_hash, hash_of(&r1));
    let info = c.info().unwrap();
    assert_eq!((info.issued, info.committed, info.head.counter), (2, 2, 2));
}

#[test]
fn identical_retry_returns_the_same_receipt_and_forks_are_refused() {
    let (_s, mut c, _) = active();
    let r1 = sign(&mut c, Hash::ZERO, 1).unwrap();
    assert_eq!(sign(&mut c, Hash::ZERO, 1).unwrap(), r1);
    match sign(&mut c, Hash::ZERO, 99) {
        Err(DeviceError::ChainMismatch { head }) => {
            assert_eq!((head.counter, head.hash), (1, hash_of(&r1)));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(c.info().unwrap().issued, 1);
}

#[test]
fn device_time_never_goes_back() {
    let (s, mut c, _) = active();
    let r1 = sign(&mut c, Hash::ZERO, 1).unwrap();
    s.clock.set(Timestamp(T0.0 - 1_000_000));
    let r2 = sign(&mut c, hash_of(&r1), 2).unwrap();
    assert_eq!(r2.header.device_time, r1.header.device_time);
}

/// What each power-fail point costs: whether the counter value is burned and
/// whether the signed receipt survives to be released after reboot.
#[test]
fn every_power_fail_point_is_safe() {
    for point in PowerPoint::ALL {
        let (s, mut c, _) = active();
        let r1 = sign(&mut c, Hash::ZERO, 1).unwrap();
        s.plan.arm(point);
        assert!(
            matches!(
                sign(&mut c, hash_of(&r1), 2),
                Err(DeviceError::Transport(_))
            ),
            "{point:?}"
        );
        s.reboot().unwrap();
        let mut c = s.client();
        let info = c.info().unwrap();
        assert_eq!(info.lifecycle, Lifecycle::Active, "{point:?}");
        let retried = sign(&mut c, hash_of(&r1), 2).unwrap();
        match point {
            PowerPoint::BeforeReserve => assert_eq!(retried.header.counter, 2),
            PowerPoint::AfterReserve | PowerPoint::AfterSign => {
                // Counter 2 was burned; the receipt declares the gap.
                assert_eq!(retried.header.counter, 3, "{point:?}");
                assert_eq!(retried.header.prev_counter, 1);
            }
            PowerPoint::AfterHeadWrite | PowerPoint::BeforeReply => {
                // The head was durable: the retry gets the receipt signed then.
                assert_eq!(retried.header.counter, 2, "{point:?}");
                assert_eq!(info.committed, 2, "boot finishes the commit");
                let last = c.last_receipt().unwrap().receipt.unwrap();
                assert_eq!(last, retried);
            }
        }
        assert!(info.committed <= info.issued);
    }
}

#[test]
fn torn_head_write_falls_back_to_the_previous_slot() {
    let (s, mut c, _) = active();
    let r1 = sign(&mut c, Hash::ZERO, 1).unwrap();
    // I/O order while signing: read Issued (1), raise it (2), write the slot (3).
    s.plan.fail_nth_io(3, IoFault::PowerCut { torn_bytes: 40 });
    assert!(sign(&mut c, hash_of(&r1), 2).is_err());
    s.plan.disarm();
    s.reboot().unwrap();
    let mut c = s.client();
    let info = c.info().unwrap();
    assert_eq!(info.lifecycle, Lifecycle::Active);
    assert_eq!(info.head.counter, 1);
    let r = sign(&mut c, hash_of(&r1), 2).unwrap();
    assert_eq!(r.header.prev_counter, 1);
    assert!(r.header.counter >= 2);
}

#[test]
fn failed_raise_releases_nothing_and_the_retry_completes() {
    let (s, mut c, _) = active();
    let r1 = sign(&mut c, Hash::ZERO, 1).unwrap();
    let before = s.plan.io_count();
    let _ = sign(&mut c, hash_of(&r1), 2).unwrap();
    let per_sign = s.plan.io_count() - before;
    let r2 = c.last_receipt().unwrap().receipt.unwrap();
    // Fail the last I/O of the next sign (raising the cells).
    s.plan
        .fail_nth_io(u32::try_from(per_sign).unwrap() - 1, IoFault::Error);
    assert_eq!(
        sign(&mut c, hash_of(&r2), 3),
        Err(DeviceError::StorageFailed)
    );
    let r3 = sign(&mut c, hash_of(&r2), 3).unwrap();
    assert_eq!(r3.header.counter, 3);
    assert_eq!(c.info().unwrap().committed, 3);
}

#[test]
fn rolled_back_flash_locks_until_the_regulator_recovers_it() {
    let (s, mut c, _) = active();
    let r1 = sign(&mut c, Hash::ZERO, 1).unwrap();
    let old = s.plan.durable_image();
    let r2 = sign(&mut c, hash_of(&r1), 2).unwrap();
    s.plan.restore_image(&old);
    s.reboot().unwrap();
    let mut c = s.client();
    let info = c.info().unwrap();
    assert_eq!(info.lifecycle, Lifecycle::Locked);
    assert_eq!(info.lock_reason, Some(LockReason::RolledBack));
    assert_eq!(sign(&mut c, hash_of(&r1), 3), Err(DeviceError::Locked));
    // The lock survives a reboot.
    s.reboot().unwrap();
    let mut c = s.client();
    assert_eq!(c.info().unwrap().lifecycle, Lifecycle::Locked);
    // A forged recovery is refused; the regulator's is obeyed.
    let nonce = c.nonce().unwrap();
    let forged = authorise(
        &SigningKey::from_bytes(&[1; 32]),
        device_id(),
        nonce,
        AuthorisedAction::Recover {
            counter: 2,
            head: hash_of(&r2),
            time: Timestamp(0),
        },
    )
    .unwrap();
    assert_eq!(c.recover(forged), Err(DeviceError::Unauthorised));
    let a = auth(
        &mut c,
        AuthorisedAction::Recover {
            counter: 2,
            head: hash_of(&r2),
            time: Timestamp(0),
        },
    );
    let head = c.recover(a).unwrap();
    assert_eq!((head.counter, head.hash), (2, hash_of(&r2)));
    let r3 = sign(&mut c, hash_of(&r2), 3).unwrap();
    assert_eq!((r3.header.counter, r3.header.prev_counter), (3, 2));
}

#[test]
fn corrupt_newest_slot_locks() {
    let (s, mut c, _) = active();
    let _ = sign(&mut c, Hash::ZERO, 1).unwrap();
    let seq = s.plan.cells()[Cell::StateSeq.index()];
    let newest = SLOT_OFFSETS[crate::layout::slot_for(seq)];
    s.plan.flip_bit(newest + 30, 3);
    s.reboot().unwrap();
    let info = s.client().info().unwrap();
    assert_eq!(info.lifecycle, Lifecycle::Locked);
    assert_eq!(info.lock_reason, Some(LockReason::Corrupt));
}

#[test]
fn rollback_to_factory_cannot_be_reprovisioned() {
    let s = sim();
    let factory = s.plan.durable_image();
    let mut c = s.client();
    c.provision(regulator().verifying_key().to_bytes(), chain())
        .unwrap();
    s.plan.restore_image(&factory);
    s.reboot().unwrap();
    let mut c = s.client();
    assert_eq!(c.info().unwrap().lifecycle, Lifecycle::Locked);
    let attacker = SigningKey::from_bytes(&[2; 32]).verifying_key().to_bytes();
    assert_eq!(c.provision(attacker, chain()), Err(DeviceError::Locked));
}

#[test]
fn authorisations_are_single_use_and_bound() {
    let s = sim();
    let mut c = s.client();
    c.provision(regulator().verifying_key().to_bytes(), chain())
        .unwrap();
    let action = AuthorisedAction::GenerateSiteKey { chain: chain() };
    // No nonce issued yet.
    let stale = authorise(&regulator(), device_id(), Hash::ZERO, action.clone()).unwrap();
    assert_eq!(
        c.generate_site_key(Some(stale)),
        Err(DeviceError::StaleNonce)
    );
    // Another device's authorisation.
    let n = c.nonce().unwrap();
    let other = authorise(
        &regulator(),
        DeviceId::new("dev-b").unwrap(),
        n,
        action.clone(),
    )
    .unwrap();
    assert_eq!(
        c.generate_site_key(Some(other)),
        Err(DeviceError::Unauthorised)
    );
    // The wrong chain.
    let a = auth(
        &mut c,
        AuthorisedAction::GenerateSiteKey {
            chain: ChainId::Regulator,
        },
    );
    assert_eq!(c.generate_site_key(Some(a)), Err(DeviceError::Unauthorised));
    // No authorisation on a site chain.
    assert_eq!(c.generate_site_key(None), Err(DeviceError::Unauthorised));
    // A good one, then its replay.
    let a = auth(&mut c, action);
    c.generate_site_key(Some(a.clone())).unwrap();
    let retire = auth(&mut c, AuthorisedAction::RetireKey { key_epoch: 1 });
    c.retire_key(retire).unwrap();
    assert_eq!(c.generate_site_key(Some(a)), Err(DeviceError::StaleNonce));
}

#[test]
fn regulator_device_makes_its_first_key_unasked() {
    let s = sim();
    let mut c = s.client();
    c.provision(regulator().verifying_key().to_bytes(), ChainId::Regulator)
        .unwrap();
    let k = c.generate_site_key(None).unwrap();
    let r = c
        .sign_entry(ChainId::Regulator, Hash::ZERO, body(1))
        .unwrap();
    r.header.verify(&k.public_key, &r.signature).unwrap();
    let retire = auth(&mut c, AuthorisedAction::RetireKey { key_epoch: 1 });
    c.retire_key(retire).unwrap();
    assert_eq!(c.generate_site_key(None), Err(DeviceError::Unauthorised));
}

#[test]
fn rotation_retires_wipes_and_continues_the_chain() {
    let (s, mut c, k1) = active();
    let r1 = sign(&mut c, Hash::ZERO, 1).unwrap();
    let secret = s
        .device
        .with(|d| d.state.key.as_ref().unwrap().secret.0)
        .unwrap();
    let a = auth(&mut c, AuthorisedAction::RetireKey { key_epoch: 2 });
    assert_eq!(c.retire_key(a), Err(DeviceError::Unauthorised));
    let a = auth(&mut c, AuthorisedAction::RetireKey { key_epoch: 1 });
    let st = c.retire_key(a).unwrap().unwrap();
    st.verify().unwrap();
    assert_eq!(st.body.public_key, k1.public_key);
    assert_eq!(
        (st.body.final_counter, st.body.final_head),
        (1, hash_of(&r1))
    );
    // Neither slot, live or durable, holds the retired secret.
    let image = s.plan.durable_image();
    for off in SLOT_OFFSETS {
        let slot = &image[off as usize..(off + SLOT_SIZE) as usize];
        assert!(!slot.windows(32).any(|w| w == secret), "slot at {off:#x}");
    }
    assert_eq!(sign(&mut c, hash_of(&r1), 2), Err(DeviceError::WrongState));
    let a = auth(&mut c, AuthorisedAction::GenerateSiteKey { chain: chain() });
    let k2 = c.generate_site_key(Some(a)).unwrap();
    assert_eq!(k2.key_epoch, 2);
    assert!(k2.counter_start > 1);
    let r2 = sign(&mut c, hash_of(&r1), 2).unwrap();
    assert_eq!((r2.header.key_epoch, r2.header.prev_counter), (2, 1));
    assert!(r2.header.counter >= k2.counter_start);
    assert_eq!(c.last_receipt().unwrap().retire, Some(st));
}

#[test]
fn rollback_cannot_resurrect_a_retired_key() {
    let (s, mut c, _) = active();
    let r1 = sign(&mut c, Hash::ZERO, 1).unwrap();
    let with_key = s.plan.durable_image();
    let a = auth(&mut c, AuthorisedAction::RetireKey { key_epoch: 1 });
    c.retire_key(a).unwrap();
    s.plan.restore_image(&with_key);
    s.reboot().unwrap();
    let mut c = s.client();
    assert_eq!(c.info().unwrap().lifecycle, Lifecycle::Locked);
    let a = auth(
        &mut c,
        AuthorisedAction::Recover {
            counter: 1,
            head: hash_of(&r1),
            time: Timestamp(0),
        },
    );
    c.recover(a).unwrap();
    let info = c.info().unwrap();
    assert_eq!((info.lifecycle, info.key), (Lifecycle::Provisioned, None));
}

#[test]
fn a_locked_device_is_decommissioned_by_retiring_its_key() {
    let (s, mut c, _) = active();
    let r = sign(&mut c, Hash::ZERO, 1).unwrap();
    let old = s.plan.durable_image();
    let _ = sign(&mut c, hash_of(&r), 2).unwrap();
    s.plan.restore_image(&old);
    s.reboot().unwrap();
    let mut c = s.client();
    let a = auth(&mut c, AuthorisedAction::RetireKey { key_epoch: 1 });
    assert_eq!(c.retire_key(a), Ok(None));
    let info = c.info().unwrap();
    assert_eq!(info.lifecycle, Lifecycle::Decommissioned);
    assert_eq!(c.nonce().map(|_| ()), Ok(()));
    assert_eq!(c.sign_checkpoint(Hash::ZERO), Err(DeviceError::WrongState));
}

#[test]
fn attestation_and_checkpoint_verify() {
    let (s, mut c, k) = active();
    let root = SigningKey::from_bytes(&[0x4d; 32])
        .verifying_key()
        .to_bytes();
    let nonce = Hash([7; 32]);
    let b = c.attestation(nonce).unwrap();
    b.attestation
        .verify(&b.certificate, &root, Some(&nonce))
        .unwrap();
    assert_eq!(b.attestation.body.site_key, k.public_key);
    assert_eq!(b.attestation.body.counter_start, k.counter_start);
    let r1 = sign(&mut c, Hash::ZERO, 1).unwrap();
    let cp = c.sign_checkpoint(nonce).unwrap();
    cp.verify(&k.public_key).unwrap();
    assert_eq!((cp.body.counter, cp.body.head), (1, hash_of(&r1)));
    drop(s);
}
