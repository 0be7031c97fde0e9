//! Streaming bundle reader: an iterator of records that checks the framing,
//! the size caps (before allocating), the End digest and count, and that
//! nothing follows End. It keeps only the record being read.

use std::io::{ErrorKind, Read};

use sha2::{Digest as _, Sha256};

use crate::error::BundleError;
use crate::format::{Kind, Located, MAGIC, MAGIC_V1, MAGIC_V2, Record, decode_payload};

/// Reads records from a bundle. Yields `Err` once, at the first framing
/// problem, and then stops; yields `None` after a valid End.
#[derive(Debug)]
pub struct BundleReader<R: Read> {
    inner: R,
    hasher: Sha256,
    offset: u64,
    record: u64,
    entries: u64,
    started: bool,
    done: bool,
    /// The format version of the magic line (2 or 3).
    version: u8,
}

impl<R: Read> BundleReader<R> {
    /// A reader over `inner`; the magic line is checked on the first `next`.
    pub fn new(inner: R) -> Self {
        BundleReader {
            inner,
            hasher: Sha256::new(),
            offset: 0,
            record: 0,
            entries: 0,
            started: false,
            done: false,
            version: 0,
        }
    }

    /// The bundle's format version (2 or 3) once its magic line is read; 0 before.
    pub fn version(&self) -> u8 {
        self.version
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    fn read_magic(&mut self) -> Result<(), BundleError> {
        let mut magic = [0u8; MAGIC.len()];
        match read_full(&mut self.inner, &mut magic)? {
            n if n == MAGIC.len() && magic.as_slice() == MAGIC => self.version = 3,
            n if n == MAGIC.len() && magic.as_slice() == MAGIC_V2 => self.version = 2,
            n if n == MAGIC.len() && magic.as_slice() == MAGIC_V1 => {
                return Err(BundleError::FormatRetired { version: 1 });
            }
            _ => return Err(BundleError::BadMagic),
        }
        self.hasher.update(magic);
        self.offset = MAGIC.len() as u64;
        Ok(())
    }

    fn read_record(&mut self) -> Result<Option<Located>, BundleError> {
        let (record, offset) = (self.record, self.offset);
        let mut header = [0u8; 5];
        match read_full(&mut self.inner, &mut header)? {
            0 => return Err(BundleError::MissingEnd { record, offset }),
            5 => {}
            _ => return Err(BundleError::Truncated { record, offset }),
        }
        let [kind_byte, a, b, c, d] = header;
        let kind = Kind::from_byte(kind_byte).ok_or(BundleError::UnknownKind {
            kind: kind_byte,
            record,
            offset,
        })?;
        if matches!(kind, Kind::MapProof | Kind::IndexLeaves) && self.version < 3 {
            return Err(BundleError::UnknownKind {
                kind: kind_byte,
                record,
                offset,
            });
        }
        let len = u32::from_be_bytes([a, b, c, d]);
        let max = kind.max_len();
        let len_usize = usize::try_from(len).unwrap_or(usize::MAX);
        if len_usize > max {
            return Err(BundleError::TooLarge {
                kind: kind.name(),
                len: u64::from(len),
                max: max as u64,
                record,
                offset,
            });
        }
        let mut payload = vec![0u8; len_usize];
        if read_full(&mut self.inner, &mut payload)? != len_usize {
            return Err(BundleError::Truncated { record, offset });
        }
        let before_end =
            (kind == Kind::End).then(|| <[u8; 32]>::from(self.hasher.clone().finalize()));
        self.hasher.update(header);
        self.hasher.update(&payload);
        self.offset += 5 + u64::from(len);
        self.record += 1;
        let item = decode_payload(kind, payload).map_err(|reason| BundleError::Malformed {
            kind: kind.name(),
            record,
            offset,
            reason,
        })?;
        match &item {
            Record::Entry(_) => self.entries += 1,
            Record::End(end) => {
                if Some(end.digest) != before_end {
                    return Err(BundleError::EndDigestMismatch { record, offset });
                }
                if end.entries != self.entries {
                    return Err(BundleError::EndCountMismatch {
                        stated: end.entries,
                        counted: self.entries,
                        record,
                        offset,
                    });
                }
                let mut extra = [0u8; 1];
                if read_full(&mut self.inner, &mut extra)? != 0 {
                    return Err(BundleError::TrailingBytes {
                        offset: self.offset,
                    });
                }
            }
            _ => {}
        }
        Ok(Some(Located {
            record,
            offset,
            item,
        }))
    }
}

impl<R: Read> Iterator for BundleReader<R> {
    type Item = Result<Located, BundleError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if !self.started {
            self.started = true;
            if let Err(e) = self.read_magic() {
                self.done = true;
                return Some(Err(e));
            }
        }
        match self.read_record() {
            Ok(Some(l)) => {
                if matches!(l.item, Record::End(_)) {
                    self.done = true;
                }
                Some(Ok(l))
            }
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Reads until `buf` is full or the input ends; returns how many bytes were read.
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> Result<usize, BundleError> {
    let mut filled = 0;
    while let Some(rest) = buf.get_mut(filled..).filter(|b| !b.is_empty()) {
        match r.read(rest) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(filled)
}
