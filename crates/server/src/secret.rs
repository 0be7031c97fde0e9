//! Files that hold secrets (the log's signing key, the token file): written
//! readable by their owner only (0600), and refused at start when group or
//! others may read them, with the command that fixes it.

use std::io::Write;
use std::path::Path;

/// Why a secret file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{path} holds a secret but group or others may read it (mode {mode:04o}); run `chmod 600 {path}`"
)]
pub struct ExposedSecret {
    /// The file.
    pub path: String,
    /// Its permission bits.
    pub mode: u32,
}

/// Creates `path` holding `bytes`, readable by its owner only, synced.
/// Refuses to replace an existing file.
pub fn create_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Replaces `path` with `bytes` atomically: written to `tmp` (0600,
/// synced), then renamed over it.
pub fn replace_private(path: &Path, tmp: &Path, bytes: &[u8]) -> std::io::Result<()> {
    // A temporary file left by a crash keeps its old mode if reused.
    match std::fs::remove_file(tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    create_private(tmp, bytes)?;
    std::fs::rename(tmp, path)
}

/// Refuses `path` if it exists and group or others may read or write it.
pub fn check_private(path: &Path) -> Result<(), ExposedSecret> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(m) = std::fs::metadata(path) {
            let mode = m.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(ExposedSecret {
                    path: path.display().to_string(),
                    mode,
                });
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn secrets_are_written_0600_and_exposed_ones_refused() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("k");
        create_private(&key, b"secret").unwrap();
        assert_eq!(mode(&key), 0o600);
        assert!(check_private(&key).is_ok());
        assert!(create_private(&key, b"again").is_err(), "never replaced");
        // A stale temporary file opened to everyone is not reused as is.
        let tmp = dir.path().join("k.tmp");
        std::fs::write(&tmp, b"old").unwrap();
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o666)).unwrap();
        replace_private(&key, &tmp, b"new").unwrap();
        assert_eq!(mode(&key), 0o600);
        assert_eq!(std::fs::read(&key).unwrap(), b"new");
        // Firing: readable by group, or by others.
        for m in [0o640, 0o604, 0o644] {
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(m)).unwrap();
            let e = check_private(&key).unwrap_err();
            assert_eq!(e.mode, m);
            assert!(
                e.to_string()
                    .ends_with(&format!("run `chmod 600 {}`", key.display()))
            );
        }
        // Quiet: an absent file is not a problem (it is created 0600 when needed).
        assert!(check_private(&dir.path().join("absent")).is_ok());
    }
}
