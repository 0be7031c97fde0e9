//! Ed25519 signatures built to break the rules, for the tests of the batch
//! verifier (`armsledger_core::sig::batch`) and of the bundle verifier that
//! uses it.

use curve25519_dalek::constants::EIGHT_TORSION;
use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::scalar::Scalar;
use ed25519_dalek::{Signature, SigningKey};
use sha2::{Digest as _, Sha512};

/// A signature by `key` on `msg` whose R carries the order-2 torsion point.
/// The prime-order equation holds, so only the torsion differs from a valid
/// signature: `verify_strict` rejects it, dalek's batch accepts it whenever its
/// coefficient is even. Grinds the nonce until the single-item batch accepts.
pub fn mixed_order_signature(key: &SigningKey, msg: &[u8]) -> [u8; 64] {
    let a = key.to_scalar();
    let a_bytes = key.verifying_key().to_bytes();
    for attempt in 0u32..200 {
        let r = Scalar::from_bytes_mod_order_wide(
            &Sha512::new()
                .chain_update(b"nonce")
                .chain_update(attempt.to_be_bytes())
                .chain_update(msg)
                .finalize()
                .into(),
        );
        let big_r = EdwardsPoint::mul_base(&r) + EIGHT_TORSION[4];
        let r_bytes = big_r.compress().to_bytes();
        let k = Scalar::from_bytes_mod_order_wide(
            &Sha512::new()
                .chain_update(r_bytes)
                .chain_update(a_bytes)
                .chain_update(msg)
                .finalize()
                .into(),
        );
        let s = r + k * a;
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(&r_bytes);
        sig[32..].copy_from_slice(s.as_bytes());
        let batch = ed25519_dalek::verify_batch(
            &[msg],
            &[Signature::from_bytes(&sig)],
            &[key.verifying_key()],
        );
        if batch.is_ok() {
            return sig;
        }
    }
    panic!("no nonce made the batch accept");
}

/// `s + ℓ` as 32 little-endian bytes: the same point equation as `s`, a
/// non-canonical encoding.
pub fn add_l(s: &[u8; 32]) -> [u8; 32] {
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for ((o, a), b) in out.iter_mut().zip(s).zip(&L) {
        let t = u16::from(*a) + u16::from(*b) + carry;
        *o = t.to_le_bytes()[0];
        carry = t >> 8;
    }
    out
}
