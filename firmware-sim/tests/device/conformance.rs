//! One conformance suite, run against every transport: in process, a stdio
//! child, a UNIX socket and loopback TCP (the last three are the real
//! `armsledger-device serve` binary with its flash in a file).

use armsledger_core::hash::Hash;
use armsledger_core::sig::Statement;
use armsledger_core::statements::AuthorisedAction;
use armsledger_device::host::{
    DeviceClient, DeviceError, InProcess, LoopbackTcp, StdioChild, Transport, UnixSocket,
};
use armsledger_device::state::Lifecycle;
use armsledger_device::storage::SystemClock;

use crate::common::{self, Ledger, Served};

fn suite<T: Transport>(c: &mut DeviceClient<T>) {
    let chain = common::site_chain();
    let root = common::root().verifying_key().to_bytes();
    let regulator = common::regulator().verifying_key().to_bytes();

    // Fresh from the factory.
    let info = c.info().unwrap();
    let device = info.device.clone();
    assert_eq!(info.lifecycle, Lifecycle::Factory);
    assert_eq!(info.manufacturer_key, root);
    assert_eq!(
        (info.issued, info.committed, info.head.hash),
        (0, 0, Hash::ZERO)
    );
    assert!(info.boot_count >= 1);
    assert_eq!(info.key, None);
    assert_eq!(
        c.sign_entry(chain.clone(), Hash::ZERO, Hash::ZERO),
        Err(DeviceError::WrongState)
    );
    assert_eq!(
        c.attestation(Hash::ZERO).unwrap_err(),
        DeviceError::WrongState
    );

    // Provisioning is one-time and refuses weak keys.
    let mut identity_point = [0u8; 32];
    identity_point[0] = 1;
    assert_eq!(
        c.provision(identity_point, chain.clone()),
        Err(DeviceError::InvalidKey)
    );
    c.provision(regulator, chain.clone()).unwrap();
    assert_eq!(
        c.provision(regulator, chain.clone()),
        Err(DeviceError::WrongState)
    );
    assert_eq!(c.info().unwrap().lifecycle, Lifecycle::Provisioned);

    // Key generation needs the regulator's word over a fresh nonce.
    let action = AuthorisedAction::GenerateSiteKey {
        chain: chain.clone(),
    };
    let used = common::authorisation(c, &device, action.clone());
    let _ = c.nonce().unwrap(); // supersedes the nonce `used` was made for
    assert_eq!(
        c.generate_site_key(Some(used)),
        Err(DeviceError::StaleNonce)
    );
    let a = common::authorisation(c, &device, action);
    let k1 = c.generate_site_key(Some(a)).unwrap();
    assert_eq!((k1.key_epoch, k1.counter_start), (1, 1));

    // Attestation chains to the manufacturer root and names this key.
    let nonce = Hash([0xA5; 32]);
    let att = c.attestation(nonce).unwrap();
    att.attestation
        .verify(&att.certificate, &root, Some(&nonce))
        .unwrap();
    assert_eq!(att.attestation.body.site_key, k1.public_key);

    // Entries form a chain the regulator accepts.
    let mut ledger = Ledger::new(chain.clone());
    for i in 1..=3 {
        ledger.sign(c, i, &k1.public_key).unwrap();
    }
    let last = ledger.entries.last().unwrap().clone();

    // An identical retry returns the same receipt; a fork is refused.
    let retry = c
        .sign_entry(
            chain.clone(),
            last.header().prev_hash,
            last.header().body_hash,
        )
        .unwrap();
    assert_eq!(retry.header, *last.header());
    assert_eq!(retry.signature, *last.signature());
    match c.sign_entry(chain.clone(), last.header().prev_hash, Hash([9; 32])) {
        Err(DeviceError::ChainMismatch { head }) => {
            assert_eq!((head.counter, head.hash), (3, last.hash()));
        }
        other => panic!("fork answered {other:?}"),
    }
    let other_chain = armsledger_core::entry::ChainId::Site(
        armsledger_core::ids::SiteId::new("elsewhere").unwrap(),
    );
    assert_eq!(
        c.sign_entry(other_chain, last.hash(), Hash([9; 32])),
        Err(DeviceError::WrongChain)
    );

    // Checkpoint and last receipt name the head.
    let cp = c.sign_checkpoint(nonce).unwrap();
    cp.verify(&k1.public_key).unwrap();
    assert_eq!((cp.body.counter, cp.body.head), (3, last.hash()));
    let lr = c.last_receipt().unwrap();
    assert_eq!(lr.receipt.unwrap().header, *last.header());
    assert_eq!(lr.retire, None);

    // Rotation: the old key signs its final counter and head, the new key
    // continues the same chain.
    let wrong = common::authorisation(c, &device, AuthorisedAction::RetireKey { key_epoch: 7 });
    assert_eq!(c.retire_key(wrong), Err(DeviceError::Unauthorised));
    let a = common::authorisation(c, &device, AuthorisedAction::RetireKey { key_epoch: 1 });
    let retired = c.retire_key(a).unwrap().unwrap();
    retired.verify().unwrap();
    assert_eq!(
        (retired.body.final_counter, retired.body.final_head),
        (3, last.hash())
    );
    assert_eq!(
        c.sign_entry(chain.clone(), last.hash(), Hash([9; 32])),
        Err(DeviceError::WrongState)
    );
    let a = common::authorisation(
        c,
        &device,
        AuthorisedAction::GenerateSiteKey {
            chain: chain.clone(),
        },
    );
    let k2 = c.generate_site_key(Some(a)).unwrap();
    assert_eq!(k2.key_epoch, 2);
    assert!(k2.counter_start > 3);
    let e = ledger.sign(c, 4, &k2.public_key).unwrap();
    assert_eq!(e.header().prev_counter, 3);
    assert!(e.header().key_epoch == 2 && e.counter() >= k2.counter_start);

    // Recover is only for a locked device.
    let a = common::authorisation(
        c,
        &device,
        AuthorisedAction::Recover {
            counter: 1,
            head: Hash::ZERO,
            time: armsledger_core::ids::Timestamp(0),
        },
    );
    assert_eq!(c.recover(a), Err(DeviceError::WrongState));

    let info = c.info().unwrap();
    assert_eq!(info.lifecycle, Lifecycle::Active);
    assert_eq!((info.issued, info.committed), (e.counter(), e.counter()));
    assert_eq!(info.head.hash, e.hash());
    assert_eq!(info.key.unwrap().key_epoch, 2);
    // The retire statement stays retrievable for a host that lost it.
    assert_eq!(c.last_receipt().unwrap().retire, Some(retired.clone()));
    let _ = retired.body.verify(&k1.public_key, &retired.signature);
}

#[test]
fn in_process() {
    let device = armsledger_device::memory_device(
        &common::root(),
        &common::spec("conf-inproc"),
        Box::new(SystemClock),
    )
    .unwrap();
    suite(&mut DeviceClient::new(InProcess::new(device)));
}

#[test]
fn stdio_child() {
    let dir = tempfile::tempdir().unwrap();
    let flash = common::manufacture_files(dir.path(), "conf-stdio");
    let child = StdioChild::spawn(common::stdio_command(&flash)).unwrap();
    suite(&mut DeviceClient::new(child));
}

#[test]
fn unix_socket() {
    let dir = tempfile::tempdir().unwrap();
    let flash = common::manufacture_files(dir.path(), "conf-unix");
    let sock = dir.path().join("device.sock");
    let served = Served::start(&flash, &format!("unix:{}", sock.display()));
    suite(&mut DeviceClient::new(
        UnixSocket::connect(&served.unix_path()).unwrap(),
    ));
}

#[test]
fn loopback_tcp() {
    let dir = tempfile::tempdir().unwrap();
    let flash = common::manufacture_files(dir.path(), "conf-tcp");
    let served = Served::start(&flash, "tcp:127.0.0.1:0");
    suite(&mut DeviceClient::new(
        LoopbackTcp::connect(served.tcp_addr()).unwrap(),
    ));
}
