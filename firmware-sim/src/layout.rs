//! The flash layout: a factory region written once at manufacture, then two
//! state slots (A/B) written alternately, each record carrying a sequence
//! number and a checksum. docs/device-protocol.md has the byte layout.
//!
//! ```text
//! 0x0000 .. 0x0800   factory record  (FactoryData)
//! 0x0800 .. 0x1400   slot A          (DeviceState, even sequence numbers)
//! 0x1400 .. 0x2000   slot B          (DeviceState, odd sequence numbers)
//!
//! record = magic[4] | format u8 = 1 | seq u64 LE | len u16 LE | payload[len]
//!          | SHA-256(RECORD_TAG || magic .. payload)
//! ```

use armsledger_core::codec::{self, CodecError};
use armsledger_core::hash::Hash;
use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use crate::storage::{Flash, StorageError};

/// Total flash size.
pub const FLASH_SIZE: u32 = 0x2000;
/// Offset of the factory record.
pub const FACTORY_OFFSET: u32 = 0;
/// Bytes reserved for the factory record.
pub const FACTORY_SIZE: u32 = 0x800;
/// Bytes reserved for each state slot.
pub const SLOT_SIZE: u32 = 0xC00;
/// Offsets of slot A and slot B.
pub const SLOT_OFFSETS: [u32; 2] = [0x800, 0x1400];

/// Magic of the factory record.
pub const FACTORY_MAGIC: [u8; 4] = *b"ALDF";
/// Magic of a state slot record.
pub const SLOT_MAGIC: [u8; 4] = *b"ALDS";
/// Record format version.
pub const RECORD_FORMAT: u8 = 1;
/// Domain tag of the record checksum.
pub const RECORD_TAG: &[u8] = b"armsledger-device:flash-record:v1\0";

const HEADER_LEN: usize = 4 + 1 + 8 + 2;
const CHECKSUM_LEN: usize = 32;

/// Why a record could not be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LayoutError {
    /// The payload does not fit its region.
    #[error("a {len}-byte record does not fit a {capacity}-byte region")]
    TooLarge {
        /// Record length.
        len: usize,
        /// Region size.
        capacity: u32,
    },
    /// The value could not be encoded.
    #[error("encoding: {0}")]
    Encode(#[from] CodecError),
    /// The flash refused.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// What a region holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Record<T> {
    /// Never written (all 0x00 or all 0xFF).
    Blank,
    /// Written but not a valid record (torn, flipped, or garbage).
    Invalid,
    /// A valid record.
    Valid {
        /// Its sequence number.
        seq: u64,
        /// Its decoded payload.
        value: T,
    },
}

/// Encodes `value` as a record with `magic` and `seq`, checking it fits `capacity`.
pub fn encode_record<T: Serialize>(
    magic: [u8; 4],
    seq: u64,
    value: &T,
    capacity: u32,
) -> Result<Zeroizing<Vec<u8>>, LayoutError> {
    let payload = Zeroizing::new(codec::encode(value)?);
    let total = HEADER_LEN + payload.len() + CHECKSUM_LEN;
    let len = u16::try_from(payload.len()).map_err(|_| LayoutError::TooLarge {
        len: total,
        capacity,
    })?;
    if u32::try_from(total).map_or(true, |t| t > capacity) {
        return Err(LayoutError::TooLarge {
            len: total,
            capacity,
        });
    }
    let mut out = Zeroizing::new(Vec::with_capacity(total));
    out.extend_from_slice(&magic);
    out.push(RECORD_FORMAT);
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&payload);
    let sum = Hash::of(&[RECORD_TAG, &out]);
    out.extend_from_slice(sum.as_bytes());
    Ok(out)
}

/// Decodes the record at the start of `region`.
pub fn decode_record<T: Serialize + DeserializeOwned>(magic: [u8; 4], region: &[u8]) -> Record<T> {
    if region.iter().all(|&b| b == 0) || region.iter().all(|&b| b == 0xFF) {
        return Record::Blank;
    }
    decode_valid(magic, region).map_or(Record::Invalid, |(seq, value)| Record::Valid { seq, value })
}

fn decode_valid<T: Serialize + DeserializeOwned>(
    magic: [u8; 4],
    region: &[u8],
) -> Option<(u64, T)> {
    let (m, rest) = region.split_first_chunk::<4>()?;
    let (format, rest) = rest.split_first()?;
    let (seq, rest) = rest.split_first_chunk::<8>()?;
    let (len, rest) = rest.split_first_chunk::<2>()?;
    if *m != magic || *format != RECORD_FORMAT {
        return None;
    }
    let len = usize::from(u16::from_le_bytes(*len));
    let payload = rest.get(..len)?;
    let sum = rest.get(len..len + CHECKSUM_LEN)?;
    let covered = region.get(..HEADER_LEN + len)?;
    if Hash::of(&[RECORD_TAG, covered]).as_bytes() != sum {
        return None;
    }
    let value = codec::decode_strict(payload, usize::from(u16::MAX)).ok()?;
    Some((u64::from_le_bytes(*seq), value))
}

/// Reads and decodes the record in the region at `offset` of `size` bytes.
pub fn read_record<T: Serialize + DeserializeOwned>(
    flash: &mut dyn Flash,
    magic: [u8; 4],
    offset: u32,
    size: u32,
) -> Result<Record<T>, StorageError> {
    let mut buf = Zeroizing::new(vec![0u8; usize::try_from(size).unwrap_or(0)]);
    flash.read(offset, &mut buf)?;
    Ok(decode_record(magic, &buf))
}

/// The slot index (0 = A, 1 = B) that holds sequence number `seq`.
pub fn slot_for(seq: u64) -> usize {
    usize::from(seq % 2 == 1)
}

/// The flash offset of the slot that holds `seq`.
pub fn slot_offset(seq: u64) -> u32 {
    if seq % 2 == 1 {
        SLOT_OFFSETS[1]
    } else {
        SLOT_OFFSETS[0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trip_and_checks() {
        let rec = encode_record(SLOT_MAGIC, 7, &(1u32, 2u64), SLOT_SIZE).unwrap();
        let mut region = vec![0u8; 64];
        region[..rec.len()].copy_from_slice(&rec);
        assert_eq!(
            decode_record::<(u32, u64)>(SLOT_MAGIC, &region),
            Record::Valid {
                seq: 7,
                value: (1, 2)
            }
        );
        assert_eq!(
            decode_record::<(u32, u64)>(FACTORY_MAGIC, &region),
            Record::Invalid
        );
        for i in 0..rec.len() {
            let mut flipped = region.clone();
            flipped[i] ^= 0x10;
            assert_eq!(
                decode_record::<(u32, u64)>(SLOT_MAGIC, &flipped),
                Record::Invalid,
                "flip at {i}"
            );
        }
        assert_eq!(
            decode_record::<(u32, u64)>(SLOT_MAGIC, &[0u8; 64]),
            Record::Blank
        );
        assert_eq!(
            decode_record::<(u32, u64)>(SLOT_MAGIC, &[0xFFu8; 64]),
            Record::Blank
        );
        // A torn record (only a prefix written over blank flash) is invalid.
        let mut torn = vec![0u8; 64];
        torn[..rec.len() - 3].copy_from_slice(&rec[..rec.len() - 3]);
        assert_eq!(
            decode_record::<(u32, u64)>(SLOT_MAGIC, &torn),
            Record::Invalid
        );
    }

    #[test]
    fn oversize_record_is_refused() {
        let big = vec![0u8; 100];
        assert!(matches!(
            encode_record(SLOT_MAGIC, 1, &big, 64),
            Err(LayoutError::TooLarge { .. })
        ));
    }

    #[test]
    fn regions_tile_the_flash() {
        assert_eq!(FACTORY_OFFSET + FACTORY_SIZE, SLOT_OFFSETS[0]);
        assert_eq!(SLOT_OFFSETS[0] + SLOT_SIZE, SLOT_OFFSETS[1]);
        assert_eq!(SLOT_OFFSETS[1] + SLOT_SIZE, FLASH_SIZE);
        assert_eq!(slot_offset(1), SLOT_OFFSETS[slot_for(1)]);
        assert_eq!(slot_offset(2), SLOT_OFFSETS[slot_for(2)]);
    }
}
