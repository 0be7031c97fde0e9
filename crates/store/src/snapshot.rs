//! Rules snapshots beside the log: the rules engine's state at a known log
//! size, so a server starts from it and replays only the entries after it
//! (docs/formats.md, "Rules snapshots").
//!
//! ```text
//! snapshots/rules-00000000000000100000.snap
//!   41 4c 52 53 4e 41 50 00   magic "ALRSNAP\0"
//!   01 00 00 00               file format 1 (u32 LE)
//!   01 00 00 00               state version (u32 LE, core's STATE_VERSION)
//!   a0 86 01 00 00 00 00 00   log size N (u64 LE)
//!   …32 bytes…                the log's root hash at N
//!   …8 bytes…                 receipt time of entry N-1, ms (u64 LE; 0 when N = 0)
//!   2b 00 …43 bytes…          the log's verifier key (u16 LE length, UTF-8)
//!   …8 bytes…                 state length (u64 LE, unpacked)
//!   …32 bytes…                state digest (of the unpacked state)
//!   …zstd frame…              the verifier's state (core::snapshot), packed
//!   …32 bytes…                SHA-256 of every byte before it
//! ```
//!
//! A file is written beside its final name, synced, renamed into place and
//! the directory synced: a crash leaves either the old set of snapshots or
//! the new one, plus at most a temporary file that is ignored and removed.
//! Nothing read here is trusted until the caller also checks the log
//! identity, the size against the log and the root at that size.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use armsledger_core::Hash;
use armsledger_core::ids::Timestamp;
use armsledger_core::snapshot::{STATE_VERSION, state_digest};

/// The magic bytes a snapshot file starts with.
pub const SNAPSHOT_MAGIC: [u8; 8] = *b"ALRSNAP\0";

/// The snapshot file format this build writes and reads.
pub const SNAPSHOT_FORMAT: u32 = 1;

/// The zstd level the state is packed at (fast; findings' evidence and
/// event names repeat).
const STATE_ZSTD_LEVEL: i32 = 1;

/// The longest log identity (verifier key text) a snapshot may name.
const MAX_IDENTITY: usize = 1024;

/// Bytes before the identity: magic, format, state version, size, root, receipt time.
const FIXED_HEAD: usize = 8 + 4 + 4 + 8 + 32 + 8;

/// Why a snapshot file was refused (the state is then rebuilt from the log).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file does not start with the snapshot magic.
    #[error("{path}: not a rules snapshot")]
    NotASnapshot {
        /// The file.
        path: String,
    },
    /// Written by a newer (or unknown) format or state version.
    #[error("{path}: {what} version {found}; this build reads version {reads}")]
    Version {
        /// The file.
        path: String,
        /// "file format" or "state".
        what: &'static str,
        /// The version in the file.
        found: u32,
        /// The version this build reads.
        reads: u32,
    },
    /// Shorter or longer than its lengths say: a torn or appended write.
    #[error("{path}: torn: {reason}")]
    Torn {
        /// The file.
        path: String,
        /// What did not fit.
        reason: String,
    },
    /// A byte changed: the file digest or the state digest does not match.
    #[error("{path}: the {which} digest does not match the bytes")]
    Digest {
        /// The file.
        path: String,
        /// "file" or "state".
        which: &'static str,
    },
    /// The file's name says another log size than its contents.
    #[error("{path}: named for size {named}, holds size {holds}")]
    Misnamed {
        /// The file.
        path: String,
        /// The size in the name.
        named: u64,
        /// The size inside.
        holds: u64,
    },
    /// The log identity is longer than any verifier key.
    #[error("{path}: a log identity of {len} bytes is over the {MAX_IDENTITY}-byte limit")]
    IdentityTooLong {
        /// The file.
        path: String,
        /// Its length.
        len: usize,
    },
}

/// What a snapshot says about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotMeta {
    /// The log's identity: its verifier key (origin, key hash, key).
    pub identity: String,
    /// How many log entries the state folded (entries `0..size`).
    pub size: u64,
    /// The log's root hash at `size`.
    pub root: Hash,
    /// The receipt time of entry `size - 1` (`0` for an empty log).
    pub last_received: Timestamp,
    /// The digest of the state bytes (core's `state_digest`).
    pub state_digest: Hash,
}

/// A snapshot read and checked against its own digests.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// Its header.
    pub meta: SnapshotMeta,
    /// The verifier's state (core's `LedgerVerifier::encode_state`).
    pub state: Vec<u8>,
}

/// The snapshot directory of a data directory.
#[derive(Clone, Debug)]
pub struct SnapshotDir {
    dir: PathBuf,
}

impl SnapshotDir {
    /// The snapshots kept in `dir` (created on the first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        SnapshotDir { dir: dir.into() }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The file name of the snapshot at `size`.
    pub fn file_of(&self, size: u64) -> PathBuf {
        self.dir.join(format!("rules-{size:020}.snap"))
    }

    /// Writes a snapshot durably (temporary file, sync, rename, directory
    /// sync) and returns its path.
    pub fn write(&self, meta: &SnapshotMeta, state: &[u8]) -> Result<PathBuf, SnapshotError> {
        fs::create_dir_all(&self.dir).map_err(|e| io(&self.dir, e))?;
        let bytes = encode(meta, state)?;
        let path = self.file_of(meta.size);
        let tmp = self.dir.join(format!(".rules-{:020}.tmp", meta.size));
        let mut f = File::create(&tmp).map_err(|e| io(&tmp, e))?;
        f.write_all(&bytes).map_err(|e| io(&tmp, e))?;
        f.sync_all().map_err(|e| io(&tmp, e))?;
        drop(f);
        fs::rename(&tmp, &path).map_err(|e| io(&path, e))?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io(&self.dir, e))?;
        Ok(path)
    }

    /// Removes the temporary files a crash left mid-write (call it only
    /// while no snapshot is being written: at start); returns how many.
    pub fn remove_temporary(&self) -> Result<usize, SnapshotError> {
        let rd = match fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(io(&self.dir, e)),
        };
        let mut n = 0;
        for item in rd {
            let item = item.map_err(|e| io(&self.dir, e))?;
            let name = item.file_name();
            if name
                .to_str()
                .is_some_and(|s| s.starts_with(".rules-") && s.ends_with(".tmp"))
            {
                fs::remove_file(item.path()).map_err(|e| io(&item.path(), e))?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// The snapshots present, newest (largest size) first, by file name
    /// (temporary files are not listed).
    pub fn list(&self) -> Result<Vec<(u64, PathBuf)>, SnapshotError> {
        let rd = match fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&self.dir, e)),
        };
        let mut out = Vec::new();
        for item in rd {
            let item = item.map_err(|e| io(&self.dir, e))?;
            let name = item.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Some(n) = name
                .strip_prefix("rules-")
                .and_then(|r| r.strip_suffix(".snap"))
                .and_then(|n| n.parse::<u64>().ok())
            {
                out.push((n, item.path()));
            }
        }
        out.sort_by_key(|(n, _)| std::cmp::Reverse(*n));
        Ok(out)
    }

    /// Keeps the `keep` newest snapshots and removes the others; returns
    /// how many it removed.
    pub fn prune(&self, keep: usize) -> Result<usize, SnapshotError> {
        let mut removed = 0;
        for (_, p) in self.list()?.into_iter().skip(keep.max(1)) {
            fs::remove_file(&p).map_err(|e| io(&p, e))?;
            removed += 1;
        }
        Ok(removed)
    }

    /// Reads one snapshot and checks its magic, versions, lengths, both
    /// digests and that its name matches its size.
    pub fn read(&self, size: u64) -> Result<Snapshot, SnapshotError> {
        let path = self.file_of(size);
        let snap = read_file(&path)?;
        if snap.meta.size != size {
            return Err(SnapshotError::Misnamed {
                path: shown(&path),
                named: size,
                holds: snap.meta.size,
            });
        }
        Ok(snap)
    }
}

/// Reads and checks one snapshot file (magic, versions, lengths, digests).
pub fn read_file(path: &Path) -> Result<Snapshot, SnapshotError> {
    let mut f = File::open(path).map_err(|e| io(path, e))?;
    let len = f.metadata().map_err(|e| io(path, e))?.len();
    let mut head = [0u8; FIXED_HEAD + 2];
    if len < (FIXED_HEAD + 2) as u64 {
        return Err(torn(path, format!("{len} bytes is shorter than a header")));
    }
    f.read_exact(&mut head).map_err(|e| io(path, e))?;
    let mut r = Reader { buf: &head, path };
    if r.take(8)? != SNAPSHOT_MAGIC {
        return Err(SnapshotError::NotASnapshot { path: shown(path) });
    }
    let format = r.u32()?;
    if format != SNAPSHOT_FORMAT {
        return Err(version(path, "file format", format, SNAPSHOT_FORMAT));
    }
    let state_version = r.u32()?;
    if state_version != STATE_VERSION {
        return Err(version(path, "state", state_version, STATE_VERSION));
    }
    let id_len = {
        let mut r2 = Reader {
            buf: head.get(FIXED_HEAD..).unwrap_or(&[]),
            path,
        };
        usize::from(r2.u16()?)
    };
    if id_len > MAX_IDENTITY {
        return Err(SnapshotError::IdentityTooLong {
            path: shown(path),
            len: id_len,
        });
    }
    // The rest: identity, state length, state digest, packed state, file digest.
    let min = (FIXED_HEAD + 2 + id_len + 8 + 32 + 32) as u64;
    if len < min {
        return Err(torn(
            path,
            format!("{len} bytes is shorter than its header"),
        ));
    }
    let mut all = Vec::new();
    all.try_reserve_exact(usize::try_from(len).unwrap_or(usize::MAX))
        .map_err(|e| torn(path, format!("{len} bytes cannot be held: {e}")))?;
    all.extend_from_slice(&head);
    f.read_to_end(&mut all).map_err(|e| io(path, e))?;
    if all.len() as u64 != len {
        return Err(torn(path, "the file changed while it was read".into()));
    }
    let body_end = all.len() - 32;
    let (body, digest) = all.split_at(body_end);
    if Hash::of(&[body]).0 != digest {
        return Err(SnapshotError::Digest {
            path: shown(path),
            which: "file",
        });
    }
    let mut r = Reader { buf: body, path };
    r.take(16)?;
    let size = r.u64()?;
    let root = r.hash()?;
    let last_received = Timestamp(r.u64()?);
    let id_len = usize::from(r.u16()?);
    let identity = String::from_utf8(r.take(id_len)?.to_vec())
        .map_err(|_| torn(path, "the log identity is not UTF-8".into()))?;
    let declared = r.u64()?;
    let digest = r.hash()?;
    // Decompressed into at most the declared length (plus one byte, to see
    // a frame that holds more), growing as the data comes.
    let mut state = Vec::new();
    let mut dec = zstd::stream::read::Decoder::new(r.rest())
        .map_err(|e| torn(path, format!("the state is not a zstd frame: {e}")))?
        .single_frame()
        .take(declared.saturating_add(1));
    dec.read_to_end(&mut state)
        .map_err(|e| torn(path, format!("the state does not decompress: {e}")))?;
    if state.len() as u64 != declared {
        return Err(torn(
            path,
            format!(
                "the state declares {declared} bytes and holds {}",
                state.len()
            ),
        ));
    }
    if state_digest(&state) != digest {
        return Err(SnapshotError::Digest {
            path: shown(path),
            which: "state",
        });
    }
    Ok(Snapshot {
        meta: SnapshotMeta {
            identity,
            size,
            root,
            last_received,
            state_digest: digest,
        },
        state,
    })
}

/// The file's bytes (see the module docs).
pub fn encode(meta: &SnapshotMeta, state: &[u8]) -> Result<Vec<u8>, SnapshotError> {
    let id = meta.identity.as_bytes();
    let id_len = u16::try_from(id.len())
        .ok()
        .filter(|n| usize::from(*n) <= MAX_IDENTITY)
        .ok_or_else(|| SnapshotError::IdentityTooLong {
            path: "(new snapshot)".into(),
            len: id.len(),
        })?;
    let packed = zstd::bulk::compress(state, STATE_ZSTD_LEVEL).map_err(|e| SnapshotError::Io {
        path: "(new snapshot)".into(),
        source: e,
    })?;
    let mut out = Vec::with_capacity(FIXED_HEAD + 2 + id.len() + 8 + 32 + packed.len() + 32);
    out.extend_from_slice(&SNAPSHOT_MAGIC);
    out.extend_from_slice(&SNAPSHOT_FORMAT.to_le_bytes());
    out.extend_from_slice(&STATE_VERSION.to_le_bytes());
    out.extend_from_slice(&meta.size.to_le_bytes());
    out.extend_from_slice(&meta.root.0);
    out.extend_from_slice(&meta.last_received.0.to_le_bytes());
    out.extend_from_slice(&id_len.to_le_bytes());
    out.extend_from_slice(id);
    out.extend_from_slice(&(state.len() as u64).to_le_bytes());
    out.extend_from_slice(&meta.state_digest.0);
    out.extend_from_slice(&packed);
    let digest = Hash::of(&[&out]);
    out.extend_from_slice(&digest.0);
    Ok(out)
}

struct Reader<'a> {
    buf: &'a [u8],
    path: &'a Path,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], SnapshotError> {
        if self.buf.len() < n {
            return Err(torn(
                self.path,
                format!("{n} bytes expected, {} left", self.buf.len()),
            ));
        }
        let (a, b) = self.buf.split_at(n);
        self.buf = b;
        Ok(a)
    }

    fn u16(&mut self) -> Result<u16, SnapshotError> {
        let mut b = [0u8; 2];
        b.copy_from_slice(self.take(2)?);
        Ok(u16::from_le_bytes(b))
    }

    fn u32(&mut self) -> Result<u32, SnapshotError> {
        let mut b = [0u8; 4];
        b.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(b))
    }

    fn u64(&mut self) -> Result<u64, SnapshotError> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(b))
    }

    fn hash(&mut self) -> Result<Hash, SnapshotError> {
        let mut b = [0u8; 32];
        b.copy_from_slice(self.take(32)?);
        Ok(Hash(b))
    }

    fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.buf)
    }
}

fn shown(path: &Path) -> String {
    path.display().to_string()
}

fn io(path: &Path, source: std::io::Error) -> SnapshotError {
    SnapshotError::Io {
        path: shown(path),
        source,
    }
}

fn torn(path: &Path, reason: String) -> SnapshotError {
    SnapshotError::Torn {
        path: shown(path),
        reason,
    }
}

fn version(path: &Path, what: &'static str, found: u32, reads: u32) -> SnapshotError {
    SnapshotError::Version {
        path: shown(path),
        what,
        found,
        reads,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn meta(size: u64, state: &[u8]) -> SnapshotMeta {
        SnapshotMeta {
            identity: "example.org/log+0a1b2c3d+AQID".into(),
            size,
            root: Hash([9; 32]),
            last_received: Timestamp(1_700_000_000_000),
            state_digest: state_digest(state),
        }
    }

    #[test]
    fn a_written_snapshot_reads_back_and_the_newest_comes_first() {
        let tmp = tempfile::tempdir().unwrap();
        let d = SnapshotDir::new(tmp.path().join("snapshots"));
        assert!(d.list().unwrap().is_empty());
        for n in [10u64, 30, 20] {
            d.write(&meta(n, b"state"), b"state").unwrap();
        }
        let sizes: Vec<u64> = d.list().unwrap().iter().map(|(n, _)| *n).collect();
        assert_eq!(sizes, [30, 20, 10]);
        let s = d.read(20).unwrap();
        assert_eq!(s.meta, meta(20, b"state"));
        assert_eq!(s.state, b"state");
        assert_eq!(d.prune(2).unwrap(), 1);
        let sizes: Vec<u64> = d.list().unwrap().iter().map(|(n, _)| *n).collect();
        assert_eq!(sizes, [30, 20]);
    }

    #[test]
    fn torn_changed_newer_and_misnamed_files_are_refused_by_name() {
        let tmp = tempfile::tempdir().unwrap();
        let d = SnapshotDir::new(tmp.path());
        let p = d.write(&meta(5, b"some state"), b"some state").unwrap();
        let good = fs::read(&p).unwrap();
        // Every truncation is refused.
        for cut in [0, 7, FIXED_HEAD, good.len() / 2, good.len() - 1] {
            fs::write(&p, &good[..cut]).unwrap();
            let e = d.read(5).unwrap_err();
            assert!(
                matches!(e, SnapshotError::Torn { .. } | SnapshotError::Digest { .. }),
                "cut {cut}: {e}"
            );
        }
        // A changed byte anywhere: the file digest.
        for at in [20, good.len() - 40] {
            let mut bad = good.clone();
            bad[at] ^= 1;
            fs::write(&p, &bad).unwrap();
            assert!(matches!(d.read(5), Err(SnapshotError::Digest { .. })));
        }
        // A newer state version, even with a digest that fits.
        let mut newer = good[..good.len() - 32].to_vec();
        newer[12..16].copy_from_slice(&(STATE_VERSION + 1).to_le_bytes());
        let dg = Hash::of(&[&newer]);
        newer.extend_from_slice(&dg.0);
        fs::write(&p, &newer).unwrap();
        let e = d.read(5).unwrap_err();
        assert!(
            matches!(e, SnapshotError::Version { what: "state", .. }),
            "{e}"
        );
        assert!(
            e.to_string()
                .contains(&format!("this build reads version {STATE_VERSION}")),
            "{e}"
        );
        // Another file under this name.
        fs::write(&p, [b'x'; 200]).unwrap();
        assert!(matches!(d.read(5), Err(SnapshotError::NotASnapshot { .. })));
        fs::write(&p, &good).unwrap();
        fs::rename(&p, d.file_of(6)).unwrap();
        assert!(matches!(d.read(6), Err(SnapshotError::Misnamed { .. })));
        fs::rename(d.file_of(6), &p).unwrap();
        assert!(d.read(5).is_ok());
    }

    #[test]
    fn a_temporary_file_left_by_a_crash_is_ignored_and_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let d = SnapshotDir::new(tmp.path());
        d.write(&meta(3, b"x"), b"x").unwrap();
        let t = tmp.path().join(".rules-00000000000000000009.tmp");
        fs::write(&t, b"half").unwrap();
        let sizes: Vec<u64> = d.list().unwrap().iter().map(|(n, _)| *n).collect();
        assert_eq!(sizes, [3]);
        // Listing leaves it (a writer may be at work); the start removes it.
        assert!(t.exists());
        assert_eq!(d.remove_temporary().unwrap(), 1);
        assert!(!t.exists());
        assert_eq!(d.list().unwrap().len(), 1);
    }

    /// The documented vector (docs/formats.md, "Rules snapshots"): the
    /// state of an empty verifier trusting regulator key 11…11, at log size
    /// 0; and the same file claiming a newer state version, which must be
    /// refused. `ARMSLEDGER_BLESS=1` rewrites them.
    #[test]
    fn the_documented_vectors_hold() {
        use armsledger_core::LedgerVerifier;
        use armsledger_core::rules::View;
        let state = LedgerVerifier::new([0x11; 32], vec![], View::Corrected)
            .encode_state()
            .unwrap();
        let m = SnapshotMeta {
            identity: "example.org/log+b1a2c3d4+AbCdEf".into(),
            size: 0,
            root: Hash::of(&[]),
            last_received: Timestamp(0),
            state_digest: state_digest(&state),
        };
        let good = encode(&m, &state).unwrap();
        let mut newer = good[..good.len() - 32].to_vec();
        newer[12..16].copy_from_slice(&(STATE_VERSION + 1).to_le_bytes());
        let dg = Hash::of(&[&newer]);
        newer.extend_from_slice(&dg.0);
        let dir = armsledger_testsupport::repo::vectors("snapshot");
        let files = [
            ("rules-empty.hex", &good),
            ("fail_newer_state_version.hex", &newer),
        ];
        if std::env::var_os("ARMSLEDGER_BLESS").is_some() {
            fs::create_dir_all(&dir).unwrap();
            for (name, bytes) in files {
                fs::write(dir.join(name), format!("{}\n", hex::encode(bytes))).unwrap();
            }
        }
        // Read back from the committed files (the packed bytes may differ
        // by zstd release; what they unpack to may not).
        let read =
            |name: &str| hex::decode(fs::read_to_string(dir.join(name)).unwrap().trim()).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let d = SnapshotDir::new(tmp.path());
        fs::write(d.file_of(0), read("rules-empty.hex")).unwrap();
        let back = d.read(0).unwrap();
        assert_eq!(back.meta, m);
        assert_eq!(
            back.state, state,
            "the state's encoding changed: a new STATE_VERSION?"
        );
        let v = LedgerVerifier::decode_state(&back.state, [0x11; 32], &[], vec![]).unwrap();
        assert_eq!(v.state_digest().unwrap(), m.state_digest);
        fs::write(d.file_of(0), read("fail_newer_state_version.hex")).unwrap();
        assert!(matches!(
            d.read(0),
            Err(SnapshotError::Version { what: "state", .. })
        ));
    }
}
