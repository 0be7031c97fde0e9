//! The witness's key file: one line, the cosignature/v1 signer key
//! `PRIVATE+KEY+<name>+<key id>+base64(0x04 || seed)`, mode 0600.

use std::io::Write as _;
use std::path::Path;

use armsledger_log::{CosignatureVerifier, CosignerKey};
use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use crate::WitnessError;

/// Largest key file read.
const MAX_KEY_FILE_BYTES: u64 = 1024;

/// Creates a new key named `name` at `path` (which must not exist), mode
/// 0600, and returns its verifier key (what `witness init` prints).
pub fn init_key(
    path: &Path,
    name: &str,
    rng: &mut impl CryptoRngCore,
) -> Result<CosignatureVerifier, WitnessError> {
    let fail = |reason: String| WitnessError::KeyFile {
        path: path.to_owned(),
        reason,
    };
    let mut seed = Zeroizing::new([0u8; 32]);
    rng.fill_bytes(seed.as_mut_slice());
    let key = CosignerKey::from_seed(name, &seed).map_err(|e| fail(format!("name: {e}")))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            fail("already exists: a witness keeps its key for life (remove it only to retire the witness)".into())
        } else {
            fail(e.to_string())
        }
    })?;
    let line = Zeroizing::new(format!("{}\n", key.to_signer_key().as_str()));
    file.write_all(line.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| fail(e.to_string()))?;
    Ok(key.verifier())
}

/// Reads the key at `path`; refuses a file that others may read.
pub fn load_key(path: &Path) -> Result<CosignerKey, WitnessError> {
    let fail = |reason: String| WitnessError::KeyFile {
        path: path.to_owned(),
        reason,
    };
    let meta = std::fs::metadata(path)
        .map_err(|e| fail(format!("{e} (create it with `witness init`)")))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(fail(format!(
                "mode {mode:o} lets others read the secret key (run `chmod 600 {}`)",
                path.display()
            )));
        }
    }
    if meta.len() > MAX_KEY_FILE_BYTES {
        return Err(fail("too large to be a key file".into()));
    }
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?);
    CosignerKey::from_signer_key(text.trim_end()).map_err(|e| fail(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_then_load_and_refuse_loose_modes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("witness.key");
        let vkey = init_key(&path, "witness.example", &mut rand_core::OsRng).unwrap();
        assert_eq!(load_key(&path).unwrap().verifier(), vkey);
        // A second init never overwrites the key.
        assert!(init_key(&path, "witness.example", &mut rand_core::OsRng).is_err());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let err = load_key(&path).unwrap_err().to_string();
            assert!(err.contains("chmod 600"), "{err}");
        }
        assert!(init_key(&dir.path().join("k2"), "bad name", &mut rand_core::OsRng).is_err());
        assert!(load_key(&dir.path().join("missing")).is_err());
    }
}
