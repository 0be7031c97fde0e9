//! A hostile host: replays, forks, rolled-back flash files, forged or
//! replayed authorisations, and malformed, oversize or garbage frames. Each
//! gets a refusal and leaves the device's state as it was.

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::process::Command;

use armsledger_core::hash::Hash;
use armsledger_core::statements::AuthorisedAction;
use armsledger_device::host::{
    self, DeviceClient, DeviceError, InProcess, LoopbackTcp, StdioChild, Transport, UnixSocket,
};
use armsledger_device::protocol::{MAX_FRAME, Status, decode_response};
use armsledger_device::state::{Lifecycle, LockReason};
use armsledger_device::storage::SystemClock;
use ed25519_dalek::SigningKey;
use proptest::prelude::*;

use crate::common::{self, Ledger, Served};

fn active_in_process(name: &str) -> (DeviceClient<InProcess>, [u8; 32], Ledger) {
    let device = armsledger_device::memory_device(
        &common::root(),
        &common::spec(name),
        Box::new(SystemClock),
    )
    .unwrap();
    let mut c = DeviceClient::new(InProcess::new(device));
    let key = common::activate(&mut c, &common::site_chain());
    let mut ledger = Ledger::new(common::site_chain());
    ledger.sign(&mut c, 1, &key).unwrap();
    ledger.sign(&mut c, 2, &key).unwrap();
    (c, key, ledger)
}

#[test]
fn replayed_sign_request_is_refused() {
    let (mut c, key, mut ledger) = active_in_process("atk-replay");
    let first = ledger.entries[0].header().clone();
    let before = c.info().unwrap();
    let got = c.sign_entry(first.chain.clone(), first.prev_hash, first.body_hash);
    assert!(
        matches!(got, Err(DeviceError::ChainMismatch { head }) if head.hash == ledger.head_hash())
    );
    assert_eq!(c.info().unwrap(), before);
    ledger.sign(&mut c, 3, &key).unwrap();
}

#[test]
fn fork_on_an_old_head_is_refused() {
    let (mut c, key, mut ledger) = active_in_process("atk-fork");
    let before = c.info().unwrap();
    for prev in [Hash::ZERO, ledger.entries[0].hash(), Hash([0xEE; 32])] {
        let got = c.sign_entry(common::site_chain(), prev, Hash([1; 32]));
        assert!(
            matches!(got, Err(DeviceError::ChainMismatch { .. })),
            "{got:?}"
        );
    }
    assert_eq!(c.info().unwrap(), before, "a refused fork burns nothing");
    ledger.sign(&mut c, 3, &key).unwrap();
}

#[test]
fn forged_and_replayed_authorisations_are_refused() {
    let (mut c, _, _) = active_in_process("atk-authz");
    let device = c.info().unwrap().device;
    let action = AuthorisedAction::RetireKey { key_epoch: 1 };
    let nonce = c.nonce().unwrap();
    let forged = host::authorise(
        &SigningKey::from_bytes(&[0x66; 32]),
        device.clone(),
        nonce,
        action.clone(),
    )
    .unwrap();
    assert_eq!(c.retire_key(forged), Err(DeviceError::Unauthorised));
    // The failed attempt used the nonce up.
    let replay =
        host::authorise(&common::regulator(), device.clone(), nonce, action.clone()).unwrap();
    assert_eq!(c.retire_key(replay.clone()), Err(DeviceError::StaleNonce));
    let _ = c.nonce().unwrap();
    assert_eq!(c.retire_key(replay), Err(DeviceError::StaleNonce));
    assert_eq!(c.info().unwrap().lifecycle, Lifecycle::Active);
}

/// Sends raw bytes and returns the status of each reply frame.
fn statuses<T: Transport>(t: &mut T, bytes: &[u8]) -> Status {
    let reply = t.transact(bytes).unwrap();
    decode_response(&reply).unwrap().status
}

/// Garbage a hostile host might send, each as one frame ending in 0x00.
fn garbage() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = vec![
        vec![0xFF],
        vec![0x01],
        b"GET / HTTP/1.1\r\nHost: device\r\n\r\n".to_vec(),
        vec![0x7F; 300],
        vec![0x02, 0x02, 0x05],
    ];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for len in [3usize, 17, 64, 255, 600, MAX_FRAME] {
        let mut g = Vec::with_capacity(len);
        for _ in 0..len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            g.push((x as u8).max(1));
        }
        out.push(g);
    }
    for g in &mut out {
        for b in g.iter_mut() {
            if *b == 0 {
                *b = 1;
            }
        }
        g.push(0);
    }
    let mut oversize = vec![0x42u8; MAX_FRAME + 500];
    oversize.push(0);
    out.push(oversize);
    out
}

fn bad_frames_leave_state_unharmed<T: Transport>(c: &mut DeviceClient<T>) {
    let key = common::activate(c, &common::site_chain());
    let mut ledger = Ledger::new(common::site_chain());
    ledger.sign(c, 1, &key).unwrap();
    let before = c.info().unwrap();
    for g in garbage() {
        let s = statuses(c.transport_mut(), &g);
        assert!(
            matches!(s, Status::Malformed | Status::TooLarge | Status::BadVersion),
            "{s:?} for {:02x?}",
            &g[..g.len().min(16)]
        );
    }
    assert_eq!(c.info().unwrap(), before);
    ledger.sign(c, 2, &key).unwrap();
}

#[test]
fn bad_frames_in_process() {
    let device = armsledger_device::memory_device(
        &common::root(),
        &common::spec("atk-frames"),
        Box::new(SystemClock),
    )
    .unwrap();
    bad_frames_leave_state_unharmed(&mut DeviceClient::new(InProcess::new(device)));
}

#[test]
fn bad_frames_over_every_process_transport() {
    let dir = tempfile::tempdir().unwrap();
    let flash = common::manufacture_files(dir.path(), "atk-stdio");
    bad_frames_leave_state_unharmed(&mut DeviceClient::new(
        StdioChild::spawn(common::stdio_command(&flash)).unwrap(),
    ));
    let flash = common::manufacture_files(dir.path(), "atk-unix");
    let sock = dir.path().join("atk.sock");
    let served = Served::start(&flash, &format!("unix:{}", sock.display()));
    bad_frames_leave_state_unharmed(&mut DeviceClient::new(
        UnixSocket::connect(&served.unix_path()).unwrap(),
    ));
    let flash = common::manufacture_files(dir.path(), "atk-tcp");
    let served = Served::start(&flash, "tcp:127.0.0.1:0");
    bad_frames_leave_state_unharmed(&mut DeviceClient::new(
        LoopbackTcp::connect(served.tcp_addr()).unwrap(),
    ));
}

#[test]
fn a_dropped_connection_mid_frame_does_not_disturb_others() {
    let dir = tempfile::tempdir().unwrap();
    let flash = common::manufacture_files(dir.path(), "atk-partial");
    let served = Served::start(&flash, "tcp:127.0.0.1:0");
    let mut c = DeviceClient::new(LoopbackTcp::connect(served.tcp_addr()).unwrap());
    let key = common::activate(&mut c, &common::site_chain());
    // Half a frame, then hang up; and a connection that sends garbage forever-ish.
    let mut s = TcpStream::connect(served.tcp_addr()).unwrap();
    s.write_all(&[0x04, 0x01, 0x01]).unwrap();
    drop(s);
    let mut s = TcpStream::connect(served.tcp_addr()).unwrap();
    s.write_all(&vec![0x55u8; 3 * MAX_FRAME]).unwrap();
    s.write_all(&[0]).unwrap();
    let mut reply = [0u8; 64];
    let n = s.read(&mut reply).unwrap();
    assert_eq!(
        decode_response(&reply[..n - 1]).unwrap().status,
        Status::TooLarge
    );
    let mut ledger = Ledger::new(common::site_chain());
    ledger.sign(&mut c, 1, &key).unwrap();
    // A UNIX-socket peer that connects and leaves at once is harmless too.
    drop(UnixStream::pair().unwrap());
}

#[test]
fn flash_file_rolled_back_between_runs_locks_the_device() {
    let dir = tempfile::tempdir().unwrap();
    let flash = common::manufacture_files(dir.path(), "atk-rollback");
    let sock = dir.path().join("d.sock");
    let listen = format!("unix:{}", sock.display());
    let mut ledger = Ledger::new(common::site_chain());

    let served = Served::start(&flash, &listen);
    let mut c = DeviceClient::new(UnixSocket::connect(&sock).unwrap());
    let key = common::activate(&mut c, &common::site_chain());
    ledger.sign(&mut c, 1, &key).unwrap();
    ledger.sign(&mut c, 2, &key).unwrap();
    drop(c);
    served.stop();
    let saved = fs::read(&flash).unwrap();

    let served = Served::start(&flash, &listen);
    // A second process may not serve the same flash.
    let second = Command::new(common::bin())
        .args(["serve", "--listen", "tcp:127.0.0.1:0", "--flash"])
        .arg(&flash)
        .output()
        .unwrap();
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("in use"));
    let mut c = DeviceClient::new(UnixSocket::connect(&sock).unwrap());
    ledger.sign(&mut c, 3, &key).unwrap();
    ledger.sign(&mut c, 4, &key).unwrap();
    drop(c);
    served.stop();

    // The host restores its old copy of the flash file.
    fs::write(&flash, &saved).unwrap();
    let served = Served::start(&flash, &listen);
    let mut c = DeviceClient::new(UnixSocket::connect(&sock).unwrap());
    let info = c.info().unwrap();
    assert_eq!(info.lifecycle, Lifecycle::Locked);
    assert_eq!(info.lock_reason, Some(LockReason::RolledBack));
    let head2 = ledger.entries[1].hash();
    assert_eq!(
        c.sign_entry(common::site_chain(), head2, Hash([5; 32])),
        Err(DeviceError::Locked)
    );
    assert_eq!(
        c.provision([9; 32], common::site_chain()),
        Err(DeviceError::Locked)
    );
    // The regulator recovers it at the head it holds, and the chain goes on.
    let head = ledger.cursor.head().cloned().unwrap();
    let a = common::authorisation(
        &mut c,
        &info.device,
        AuthorisedAction::Recover {
            counter: head.counter,
            head: head.hash,
            time: armsledger_core::ids::Timestamp(0),
        },
    );
    c.recover(a).unwrap();
    let e = ledger.sign(&mut c, 5, &key).unwrap();
    assert_eq!(e.header().prev_counter, 4);
    drop(served);
}

#[test]
fn a_missing_monotonic_file_stops_the_device() {
    let dir = tempfile::tempdir().unwrap();
    let flash = common::manufacture_files(dir.path(), "atk-mono");
    fs::remove_file(armsledger_device::file::default_monotonic_path(&flash)).unwrap();
    let out = Command::new(common::bin())
        .args(["serve", "--listen", "tcp:127.0.0.1:0", "--flash"])
        .arg(&flash)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("manufacture"));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Any bytes at all: a reply or silence, never a panic, never a change.
    #[test]
    fn arbitrary_bytes_never_change_state(bytes in prop::collection::vec(any::<u8>(), 0..2300)) {
        let device = armsledger_device::memory_device(
            &common::root(),
            &common::spec("atk-fuzz"),
            Box::new(armsledger_device::storage::ManualClock::new(common::T0)),
        )
        .unwrap();
        let mut c = DeviceClient::new(InProcess::new(device.clone()));
        let before = c.info().unwrap();
        for frame in bytes.split(|&b| b == 0) {
            if let Some(reply) = device.handle_frame(frame) {
                prop_assert!(decode_response(&reply[..reply.len() - 1]).is_ok());
            }
        }
        let after = c.info().unwrap();
        prop_assert_eq!(
            (after.lifecycle, after.issued, after.committed, after.head, after.chain),
            (before.lifecycle, before.issued, before.committed, before.head, before.chain)
        );
    }
}
