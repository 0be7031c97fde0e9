//! An outside C2SP reader: verifies a log published in the tlog-tiles
//! layout from nothing but HTTP GETs and the log's verifier key. It shares
//! no code with the server, the store or the log crate's tile and note code
//! (only the log's `Hash` type), so it checks them rather than agreeing
//! with them by construction.
//!
//! It checks the checkpoint's Ed25519 signature (C2SP signed-note), every
//! level-0 hash tile against the checkpoint's root (RFC 6962 over all
//! leaves), every higher tile against the tiles under it, and, given the
//! private location, every entry bundle against the leaf hashes.

use std::net::SocketAddr;

use armsledger_log::Hash;
use base64::Engine as _;
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest as _, Sha256};

use crate::rfc6962;

/// What the reader found: a verified log.
#[derive(Debug)]
pub struct VerifiedLog {
    /// Origin line.
    pub origin: String,
    /// Tree size.
    pub size: u64,
    /// Root hash.
    pub root: Hash,
    /// The leaf hashes, from the level-0 tiles.
    pub leaves: Vec<Hash>,
    /// The leaf data from the entry bundles (empty when not read).
    pub entries: Vec<Vec<u8>>,
    /// Every path read.
    pub paths: Vec<String>,
}

/// Reads objects: `Ok(None)` for not found.
pub type Fetch<'a> = &'a dyn Fn(&str) -> Result<Option<Vec<u8>>, String>;

/// A fetcher over plain HTTP GET at `base` (`http://host:port/bucket/prefix`).
pub fn http_fetch(base: &str) -> impl Fn(&str) -> Result<Option<Vec<u8>>, String> + use<> {
    http_fetch_with(base, None)
}

/// [`http_fetch`] with a bearer token (a server's or a mirror's entry bundles).
pub fn http_fetch_with(
    base: &str,
    token: Option<&str>,
) -> impl Fn(&str) -> Result<Option<Vec<u8>>, String> + use<> {
    let token = token.map(str::to_owned);
    let rest = base.strip_prefix("http://").unwrap_or(base);
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let addr: SocketAddr = host.parse().unwrap();
    let prefix = path.trim_matches('/').to_string();
    move |name: &str| {
        let full = if prefix.is_empty() {
            format!("/{name}")
        } else {
            format!("/{prefix}/{name}")
        };
        let auth = token.as_ref().map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("Authorization", a.as_str())).collect();
        match crate::s3::http_with(addr, "GET", &full, &[], &headers) {
            Ok((200, body)) => Ok(Some(body)),
            Ok((404, _)) => Ok(None),
            Ok((status, body)) => Err(format!(
                "GET {full}: HTTP {status}: {}",
                String::from_utf8_lossy(&body)
            )),
            Err(e) => Err(format!("GET {full}: {e}")),
        }
    }
}

/// The C2SP tile path of hash tile `level`/`index` (or entries, level `None`).
pub fn tile_path(level: Option<u8>, index: u64, width: u16) -> String {
    let mut groups = Vec::new();
    let mut n = index;
    loop {
        groups.push(n % 1000);
        n /= 1000;
        if n == 0 {
            break;
        }
    }
    groups.reverse();
    let last = groups.len() - 1;
    let digits: Vec<String> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            if i < last {
                format!("x{g:03}")
            } else {
                format!("{g:03}")
            }
        })
        .collect();
    let kind = level.map_or("entries".to_string(), |l| l.to_string());
    let partial = if width < 256 {
        format!(".p/{width}")
    } else {
        String::new()
    };
    format!("tile/{kind}/{}{partial}", digits.join("/"))
}

/// Verifies a signed note with a C2SP vkey (`name+hexid+base64(0x01‖key)`)
/// and returns its origin, size and root.
pub fn open_note(note: &[u8], vkey: &str) -> Result<(String, u64, Hash), String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut parts = vkey.trim().splitn(3, '+');
    let (name, id_hex, key_b64) = match (parts.next(), parts.next(), parts.next()) {
        (Some(a), Some(b), Some(c)) => (a, b, c),
        _ => return Err("vkey is not name+id+key".into()),
    };
    let key = b64.decode(key_b64).map_err(|e| format!("vkey key: {e}"))?;
    if key.len() != 33 || key[0] != 1 {
        return Err("vkey is not an Ed25519 (type 0x01) key".into());
    }
    let mut id_input = name.as_bytes().to_vec();
    id_input.push(b'\n');
    id_input.extend_from_slice(&key);
    let id = &Sha256::digest(&id_input)[..4];
    if hex(id) != id_hex {
        return Err("vkey key id does not match its key".into());
    }
    let pk =
        VerifyingKey::from_bytes(key[1..].try_into().unwrap()).map_err(|e| format!("vkey: {e}"))?;
    let text = std::str::from_utf8(note).map_err(|_| "note is not UTF-8")?;
    let (body, sigs) = text
        .split_once("\n\n")
        .ok_or("note has no blank line before its signatures")?;
    let signed = format!("{body}\n");
    let mut verified = false;
    for line in sigs.lines() {
        let Some(rest) = line.strip_prefix("\u{2014} ") else {
            return Err(format!("not a signature line: {line:?}"));
        };
        let (who, sig_b64) = rest
            .split_once(' ')
            .ok_or("signature line without a space")?;
        let sig = b64.decode(sig_b64).map_err(|e| format!("signature: {e}"))?;
        if who != name || sig.len() != 68 || sig[..4] != *id {
            continue;
        }
        let s = Signature::from_slice(&sig[4..]).map_err(|e| e.to_string())?;
        pk.verify_strict(signed.as_bytes(), &s)
            .map_err(|_| "the log's signature does not verify")?;
        verified = true;
    }
    if !verified {
        return Err("no signature by the log's key".into());
    }
    let mut lines = body.lines();
    let origin = lines.next().ok_or("no origin line")?.to_string();
    let size: u64 = lines
        .next()
        .and_then(|l| l.parse().ok())
        .ok_or("bad size line")?;
    let root_bytes = b64
        .decode(lines.next().ok_or("no root line")?)
        .map_err(|e| format!("root: {e}"))?;
    let root = Hash(root_bytes.try_into().map_err(|_| "root is not 32 bytes")?);
    Ok((origin, size, root))
}

/// Reads and verifies the whole log: checkpoint, every hash tile, and (with
/// `private`) every entry bundle.
pub fn read_log(
    public: Fetch<'_>,
    private: Option<Fetch<'_>>,
    vkey: &str,
) -> Result<VerifiedLog, String> {
    let mut paths = Vec::new();
    let note = public("checkpoint")?.ok_or("no checkpoint")?;
    paths.push("checkpoint".to_string());
    let (origin, size, root) = open_note(&note, vkey)?;
    // Level 0: the leaf hashes.
    let mut get_tile = |level: Option<u8>, index: u64, width: u16| -> Result<Vec<u8>, String> {
        let path = tile_path(level, index, width);
        let fetch = if level.is_some() {
            public
        } else {
            private.ok_or("no private location")?
        };
        let bytes = fetch(&path)?.ok_or_else(|| format!("{path} is missing"))?;
        paths.push(path);
        Ok(bytes)
    };
    let mut level_hashes: Vec<Hash> = Vec::new();
    for (index, width) in tiles_of(size) {
        let bytes = get_tile(Some(0), index, width)?;
        if bytes.len() != usize::from(width) * 32 {
            return Err(format!(
                "tile/0 {index}: {} bytes for width {width}",
                bytes.len()
            ));
        }
        level_hashes.extend(bytes.chunks(32).map(|c| Hash(c.try_into().unwrap())));
    }
    let leaves = level_hashes.clone();
    if rfc6962::mth(&leaves) != root {
        return Err("the level-0 tiles do not hash to the checkpoint's root".into());
    }
    // Higher levels: each hash is the root of a full tile one level down.
    let mut level = 1u8;
    while size >> (8 * u32::from(level)) > 0 {
        let n = size >> (8 * u32::from(level));
        let mut got = Vec::new();
        for (index, width) in tiles_of(n) {
            let bytes = get_tile(Some(level), index, width)?;
            got.extend(bytes.chunks(32).map(|c| Hash(c.try_into().unwrap())));
        }
        for (i, h) in got.iter().enumerate() {
            let below = level_hashes
                .get(i * 256..(i + 1) * 256)
                .ok_or("higher tile has more hashes than the level below")?;
            if rfc6962::mth(below) != *h {
                return Err(format!(
                    "tile level {level} hash {i} is not the root of the tile below"
                ));
            }
        }
        level_hashes = got;
        level += 1;
    }
    let mut entries = Vec::new();
    if private.is_some() {
        for (index, width) in tiles_of(size) {
            let bytes = get_tile(None, index, width)?;
            let mut rest = bytes.as_slice();
            for k in 0..u64::from(width) {
                if rest.len() < 2 {
                    return Err(format!("bundle {index} truncated"));
                }
                let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
                let data = rest.get(2..2 + len).ok_or("bundle entry truncated")?;
                let at = usize::try_from(index * 256 + k).unwrap();
                if rfc6962::leaf(data) != leaves[at] {
                    return Err(format!("entry {at} does not hash to its leaf"));
                }
                entries.push(data.to_vec());
                rest = &rest[2 + len..];
            }
            if !rest.is_empty() {
                return Err(format!("bundle {index} has trailing bytes"));
            }
        }
    }
    Ok(VerifiedLog {
        origin,
        size,
        root,
        leaves,
        entries,
        paths,
    })
}

/// (index, width) of the tiles covering `n` nodes of one level.
fn tiles_of(n: u64) -> Vec<(u64, u16)> {
    let mut out: Vec<(u64, u16)> = (0..n / 256).map(|i| (i, 256)).collect();
    if !n.is_multiple_of(256) {
        out.push((n / 256, u16::try_from(n % 256).unwrap()));
    }
    out
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_paths_follow_the_spec_examples() {
        assert_eq!(tile_path(Some(0), 0, 256), "tile/0/000");
        assert_eq!(tile_path(Some(1), 1_234_067, 8), "tile/1/x001/x234/067.p/8");
        assert_eq!(tile_path(None, 1000, 256), "tile/entries/x001/000");
        assert_eq!(tiles_of(513), vec![(0, 256), (1, 256), (2, 1)]);
    }
}
