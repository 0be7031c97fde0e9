//! Device storage in files, for a device served as its own process: the flash
//! image (A/B slots written in place, then `fsync`) and the monotonic cells
//! (a separate small file, replaced atomically, never lowered by this process).
//!
//! Monotonic file: `magic "ALMC" | format u8 = 1 | 6 × u64 LE | SHA-256(MONO_TAG || the above)`.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use armsledger_core::hash::Hash;

use crate::layout::FLASH_SIZE;
use crate::storage::{self, Cell, Flash, MonotonicStore, StorageError, flash_range};

/// Domain tag of the monotonic file's checksum.
pub const MONO_TAG: &[u8] = b"armsledger-device:monotonic:v1\0";
const MONO_MAGIC: &[u8; 4] = b"ALMC";
const MONO_LEN: usize = 4 + 1 + 8 * Cell::COUNT + 32;

fn io(e: std::io::Error) -> StorageError {
    StorageError::Io(e.to_string())
}

/// The default monotonic file for a flash file: `FLASH.mono`.
pub fn default_monotonic_path(flash: &Path) -> PathBuf {
    let mut s = flash.as_os_str().to_owned();
    s.push(".mono");
    PathBuf::from(s)
}

/// A flash image in a file, locked against a second process.
pub struct FileFlash {
    file: File,
}

impl FileFlash {
    /// Creates a new flash file holding `image`; refuses to overwrite one.
    /// It holds the device's secret keys: readable by its owner only.
    pub fn create(path: &Path, image: &[u8]) -> Result<(), StorageError> {
        let mut opts = OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(path).map_err(io)?;
        f.write_all(image).map_err(io)?;
        f.sync_all().map_err(io)?;
        sync_dir(path)
    }

    /// Opens an existing flash file and takes an exclusive lock on it.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(io)?;
        file.try_lock().map_err(|_| {
            StorageError::Io(format!(
                "{} is in use by another device process",
                path.display()
            ))
        })?;
        let len = file.metadata().map_err(io)?.len();
        if len != u64::from(FLASH_SIZE) {
            return Err(StorageError::Io(format!(
                "{} is {len} bytes, not a {FLASH_SIZE}-byte device flash image",
                path.display()
            )));
        }
        Ok(FileFlash { file })
    }
}

impl Flash for FileFlash {
    fn size(&self) -> u32 {
        FLASH_SIZE
    }

    fn read(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), StorageError> {
        flash_range(offset, buf.len(), FLASH_SIZE)?;
        self.file.read_exact_at(buf, u64::from(offset)).map_err(io)
    }

    fn write(&mut self, offset: u32, data: &[u8]) -> Result<(), StorageError> {
        flash_range(offset, data.len(), FLASH_SIZE)?;
        self.file.write_all_at(data, u64::from(offset)).map_err(io)
    }

    fn sync(&mut self) -> Result<(), StorageError> {
        self.file.sync_data().map_err(io)
    }
}

/// Monotonic cells in a file. The process keeps the values it has seen and
/// refuses to write lower ones, whatever the file says later.
pub struct FileMonotonic {
    path: PathBuf,
    values: [u64; Cell::COUNT],
}

impl FileMonotonic {
    /// Creates a fresh store (all zero); refuses to overwrite one.
    pub fn create(path: &Path) -> Result<Self, StorageError> {
        if path.exists() {
            return Err(StorageError::Io(format!(
                "{} already exists; a device's monotonic cells are never reset",
                path.display()
            )));
        }
        let store = FileMonotonic {
            path: path.to_path_buf(),
            values: [0; Cell::COUNT],
        };
        store.persist()?;
        Ok(store)
    }

    /// Opens an existing store.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        let bytes = fs::read(path).map_err(io)?;
        let values = decode_cells(&bytes).ok_or_else(|| {
            StorageError::Io(format!(
                "{} is not a valid monotonic cell file",
                path.display()
            ))
        })?;
        Ok(FileMonotonic {
            path: path.to_path_buf(),
            values,
        })
    }

    fn persist(&self) -> Result<(), StorageError> {
        let bytes = encode_cells(&self.values);
        let mut tmp = self.path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let mut f = File::create(&tmp).map_err(io)?;
        f.write_all(&bytes).map_err(io)?;
        f.sync_all().map_err(io)?;
        fs::rename(&tmp, &self.path).map_err(io)?;
        sync_dir(&self.path)
    }
}

impl MonotonicStore for FileMonotonic {
    fn read(&mut self, cell: Cell) -> Result<u64, StorageError> {
        storage::read_in(&self.values, cell)
    }

    fn raise_to(&mut self, cell: Cell, value: u64) -> Result<(), StorageError> {
        let mut next = self.values;
        storage::raise_in(&mut next, cell, value)?;
        if next == self.values {
            return Ok(());
        }
        let before = self.values;
        self.values = next;
        if let Err(e) = self.persist() {
            self.values = before;
            return Err(e);
        }
        Ok(())
    }
}

fn encode_cells(values: &[u64; Cell::COUNT]) -> Vec<u8> {
    let mut out = Vec::with_capacity(MONO_LEN);
    out.extend_from_slice(MONO_MAGIC);
    out.push(1);
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
    let sum = Hash::of(&[MONO_TAG, &out]);
    out.extend_from_slice(sum.as_bytes());
    out
}

fn decode_cells(bytes: &[u8]) -> Option<[u64; Cell::COUNT]> {
    if bytes.len() != MONO_LEN {
        return None;
    }
    let (body, sum) = bytes.split_at(MONO_LEN - 32);
    if Hash::of(&[MONO_TAG, body]).as_bytes().as_slice() != sum {
        return None;
    }
    let (magic, rest) = body.split_first_chunk::<4>()?;
    let (format, mut rest) = rest.split_first()?;
    if magic != MONO_MAGIC || *format != 1 {
        return None;
    }
    let mut values = [0u64; Cell::COUNT];
    for v in &mut values {
        let (b, tail) = rest.split_first_chunk::<8>()?;
        *v = u64::from_le_bytes(*b);
        rest = tail;
    }
    Some(values)
}

fn sync_dir(path: &Path) -> Result<(), StorageError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir).and_then(|d| d.sync_all()).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_file_round_trips_and_refuses_lowering() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.mono");
        let mut m = FileMonotonic::create(&p).unwrap();
        assert!(FileMonotonic::create(&p).is_err());
        m.raise_to(Cell::Issued, 9).unwrap();
        assert_eq!(m.increment(Cell::BootCount).unwrap(), 1);
        let mut again = FileMonotonic::open(&p).unwrap();
        assert_eq!(again.read(Cell::Issued).unwrap(), 9);
        assert_eq!(again.read(Cell::BootCount).unwrap(), 1);
        assert!(matches!(
            again.raise_to(Cell::Issued, 3),
            Err(StorageError::WouldDecrease { .. })
        ));
        // A damaged file is refused, not read as zeros.
        let mut bytes = fs::read(&p).unwrap();
        bytes[6] ^= 1;
        fs::write(&p, &bytes).unwrap();
        assert!(FileMonotonic::open(&p).is_err());
    }

    #[test]
    fn flash_file_is_exclusive_and_sized() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.flash");
        FileFlash::create(&p, &vec![0u8; FLASH_SIZE as usize]).unwrap();
        assert!(FileFlash::create(&p, &[0]).is_err());
        let mut f = FileFlash::open(&p).unwrap();
        assert!(
            FileFlash::open(&p).is_err(),
            "second opener must be refused"
        );
        f.write(100, &[1, 2, 3]).unwrap();
        f.sync().unwrap();
        let mut b = [0u8; 3];
        f.read(100, &mut b).unwrap();
        assert_eq!(b, [1, 2, 3]);
        assert!(f.write(FLASH_SIZE - 1, &[1, 2]).is_err());
        drop(f);
        let short = dir.path().join("short.flash");
        fs::write(&short, [0u8; 10]).unwrap();
        assert!(FileFlash::open(&short).is_err());
    }
}
