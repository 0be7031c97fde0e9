//! The mirror's files: written to a temporary name, synced, then renamed,
//! so a crash leaves the old file or the new one, never half of one.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::MirrorError;

pub(crate) fn disk(path: &Path, e: impl std::fmt::Display) -> MirrorError {
    MirrorError::Disk {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// Writes `bytes` to `dir/name` atomically.
pub(crate) fn write(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, MirrorError> {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| disk(parent, e))?;
    }
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).map_err(|e| disk(&tmp, e))?;
    f.write_all(bytes).map_err(|e| disk(&tmp, e))?;
    f.sync_all().map_err(|e| disk(&tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| disk(&path, e))?;
    Ok(path)
}

/// Reads `dir/name`; `None` if it does not exist.
pub(crate) fn read(dir: &Path, name: &str) -> Result<Option<Vec<u8>>, MirrorError> {
    let path = dir.join(name);
    match std::fs::read(&path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(disk(&path, e)),
    }
}
