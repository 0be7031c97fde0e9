//! Following the origin: one [`Mirror::step`] reads the origin's checkpoint
//! and, if it grew, the new level-0 tiles (and entry bundles), checks them
//! all against the checkpoint and the copy held, and only then keeps them:
//! tiles first, the checkpoint last.

use std::path::PathBuf;
use std::sync::Arc;

use armsledger_core::LedgerVerifier;
use armsledger_core::SignedEntry;
use armsledger_core::ids::Timestamp;
use armsledger_core::rules::View;
use armsledger_log::{
    EntryLeaf, Hash, LogVerifier, MAX_BUNDLE_BYTES, Tile, TileKind, decode_entry_bundle, leaf_hash,
    open_checkpoint,
};
use armsledger_server::Shared;
use armsledger_server::state::MirrorAppendError;
use armsledger_store::StoreError;

use crate::MirrorError;
use crate::files::{disk, read, write};
use crate::origin::Origin;
use crate::tree::Tree;

/// Longest checkpoint note read.
const MAX_NOTE: u64 = 1 << 16;

/// Longest list of equivocation proofs read from the origin.
const MAX_EQUIVOCATIONS: u64 = 16 << 20;

/// What a mirror follows and how it checks it.
#[derive(Clone, Debug)]
pub struct MirrorConfig {
    /// The mirror's directory.
    pub data: PathBuf,
    /// The origin's base URL for the checkpoint and hash tiles: the server
    /// (`http://regulator:8640`) or the public bucket (`https://cdn/log`).
    pub from: String,
    /// Base URL of the entry bundles (default: `from`).
    pub entries_from: Option<String>,
    /// Bearer token for the entry bundles.
    pub token: Option<String>,
    /// Read the entry bundles from this S3 location (the publisher's
    /// private one) with its credentials, instead of over HTTP.
    pub entries_s3: Option<armsledger_server::publish::Location>,
    /// The log's C2SP verifier key.
    pub log_key: String,
    /// The regulator chain's key: with it the mirror follows the entry
    /// bundles and verifies every entry; without it, hash tiles only.
    pub regulator_key: Option<[u8; 32]>,
    /// Manufacturer roots device enrolments must chain to.
    pub manufacturer_roots: Vec<[u8; 32]>,
}

/// What one step did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// The origin's checkpoint is the one held.
    Unchanged(u64),
    /// The copy grew from the first size to the second.
    Advanced(u64, u64),
}

/// A mirror: the copy held and how to extend it.
#[derive(Debug)]
pub struct Mirror {
    config: MirrorConfig,
    origin: Origin,
    key: LogVerifier,
    tree: Tree,
    held: Option<String>,
    entries: Option<LedgerVerifier>,
    /// The copy the server's read routes serve (entries, indexes, map,
    /// the origin's checkpoints): kept in step with the tiles.
    copy: Option<Arc<Shared>>,
    /// Whether the origin's equivocation proofs were read and checked at
    /// the last step (`Err`: why not).
    equivocations: Result<(), String>,
    stopped: Option<String>,
}

impl Mirror {
    /// Opens (or creates) the mirror's directory: pins the log key, and
    /// rebuilds the tree (and the entry verifier) from the tiles held,
    /// checking them against the held checkpoint.
    pub fn open(config: MirrorConfig) -> Result<Mirror, MirrorError> {
        let key = LogVerifier::from_vkey(config.log_key.trim())
            .map_err(|e| MirrorError::Config(format!("--log-key: {e}")))?;
        let dir = config.data.clone();
        std::fs::create_dir_all(&dir).map_err(|e| disk(&dir, e))?;
        match read(&dir, "log.vkey")? {
            Some(pinned) if String::from_utf8_lossy(&pinned).trim() != config.log_key.trim() => {
                return Err(MirrorError::Config(format!(
                    "{} follows the log with key {}; this start names another: use another directory",
                    dir.display(),
                    String::from_utf8_lossy(&pinned).trim()
                )));
            }
            Some(_) => {}
            None => {
                write(
                    &dir,
                    "log.vkey",
                    format!("{}\n", config.log_key.trim()).as_bytes(),
                )?;
            }
        }
        let entries = config
            .regulator_key
            .map(|k| LedgerVerifier::new(k, config.manufacturer_roots.clone(), View::Corrected));
        let origin = Origin::new(
            &config.from,
            config.entries_from.as_deref(),
            config.token.clone(),
            config.entries_s3.clone(),
        );
        let stopped =
            read(&dir, "REFUSED")?.map(|b| String::from_utf8_lossy(&b).trim().to_string());
        let mut m = Mirror {
            config,
            origin,
            key,
            tree: Tree::new(),
            held: None,
            entries,
            copy: None,
            equivocations: Err("not read yet".into()),
            stopped,
        };
        m.replay()?;
        Ok(m)
    }

    /// Opens the mirror's directory with `copy`, the server state opened
    /// there with [`Shared::open_mirror`]: every verified entry goes into
    /// the copy's store with the origin's checkpoint over it (checking the
    /// copy's tree and verifiable index roots against the checkpoint's), so
    /// the server's own read routes answer from it. Entries are verified
    /// with the copy's verifier; the tiles directory then holds hash tiles
    /// only (entry bundles are served from the store).
    pub fn open_serving(config: MirrorConfig, copy: Arc<Shared>) -> Result<Mirror, MirrorError> {
        if config.regulator_key != Some(copy.regulator_key()) || !copy.is_mirror() {
            return Err(MirrorError::Config(
                "the copy must be a mirror's state opened with the same regulator key".into(),
            ));
        }
        if copy.log_vkey().trim() != config.log_key.trim() {
            return Err(MirrorError::Config(format!(
                "the copy in {} holds the log with key {}; this start names another",
                config.data.display(),
                copy.log_vkey()
            )));
        }
        let mut m = Mirror::open(MirrorConfig {
            regulator_key: None,
            ..config.clone()
        })?;
        m.config = config;
        let held = m.size();
        let stored = copy.latest_checkpoint().map_or(0, |p| p.size);
        if stored < held {
            return Err(disk(
                copy.store().path(),
                format!(
                    "the copy's store holds {stored} entries, the tiles held {held}: \
                     the store was lost or replaced; move DIR/checkpoint and DIR/tile away to \
                     follow the origin again from the start"
                ),
            ));
        }
        m.copy = Some(copy);
        Ok(m)
    }

    /// The size of the copy held.
    pub fn size(&self) -> u64 {
        self.tree.size()
    }

    /// The checkpoint held.
    pub fn checkpoint(&self) -> Option<&str> {
        self.held.as_deref()
    }

    /// Why the mirror stopped following, if it did.
    pub fn stopped(&self) -> Option<&str> {
        self.stopped.as_deref()
    }

    /// Whether entries are followed and verified.
    pub fn follows_entries(&self) -> bool {
        self.entries.is_some() || self.copy.is_some()
    }

    /// Whether the copy holds the origin's equivocation proofs as of the
    /// last step (`Err`: why not: an object store has none to give, or the
    /// origin token may not read them). Until it does, the routes that
    /// would show them (`/v1/equivocations`, `/v1/alerts`) are not served.
    pub fn equivocations(&self) -> Result<(), &str> {
        self.equivocations
            .as_ref()
            .map(|_| ())
            .map_err(String::as_str)
    }

    /// The copy the server's read routes serve, if the mirror keeps one.
    pub fn copy(&self) -> Option<&Arc<Shared>> {
        self.copy.as_ref()
    }

    /// Rebuilds the tree from the tiles on disk up to the held checkpoint.
    fn replay(&mut self) -> Result<(), MirrorError> {
        let dir = self.config.data.clone();
        let Some(note) = read(&dir, "checkpoint")? else {
            return Ok(());
        };
        let cp = open_checkpoint(&note, &self.key, self.key.name())
            .map_err(|e| disk(&dir.join("checkpoint"), e))?;
        let size = cp.checkpoint().size();
        // Hash tiles only (a mirror with a copy, or one that does not
        // follow entries): the right edge is enough, the partial tile of
        // each level, checked against the held checkpoint's root. Every
        // tile is read back only when entries are verified here, or when
        // the right edge does not give the checkpoint's root.
        if self.entries.is_none() {
            match self.right_edge(size) {
                Ok(tree) if tree.root() == *cp.checkpoint().root() => {
                    self.tree = tree;
                    self.held = Some(String::from_utf8_lossy(&note).into_owned());
                    return Ok(());
                }
                Ok(_) => tracing::warn!(
                    "the partial tiles held do not give the checkpoint's root: reading every tile back"
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "the partial tiles held: reading every tile back");
                }
            }
        }
        let mut scratch = Vec::new();
        for tile in level0_tiles(0, size) {
            let bytes = read(&dir, &tile.path())?
                .ok_or_else(|| disk(&dir.join(tile.path()), "missing from the copy"))?;
            let leaves = hashes_of(&bytes, tile.width())
                .ok_or_else(|| disk(&dir.join(tile.path()), "malformed"))?;
            let data = self.read_bundle(&dir, tile)?;
            for (k, leaf) in leaves.into_iter().enumerate() {
                let d = data.as_ref().and_then(|d| d.get(k).cloned());
                if let (Some(v), Some(d)) = (self.entries.as_mut(), &d) {
                    verify_entry(v, d).map_err(|e| disk(&dir.join(tile.path()), e))?;
                }
                self.tree
                    .push(leaf, d, &mut scratch)
                    .map_err(|e| disk(&dir, e))?;
                scratch.clear();
            }
        }
        if self.tree.root() != *cp.checkpoint().root() {
            return Err(disk(
                &dir,
                "the tiles held do not hash to the checkpoint held: the copy is damaged",
            ));
        }
        self.held = Some(String::from_utf8_lossy(&note).into_owned());
        Ok(())
    }

    /// The tree of `size` leaves from the partial tile of each level held.
    fn right_edge(&self, size: u64) -> Result<Tree, MirrorError> {
        let dir = &self.config.data;
        let mut partial = Vec::with_capacity(8);
        for level in 0..8 {
            let Some(tile) = Tree::partial_tile(size, level) else {
                partial.push(Vec::new());
                continue;
            };
            let bytes = read(dir, &tile.path())?
                .ok_or_else(|| disk(&dir.join(tile.path()), "missing from the copy"))?;
            partial.push(
                hashes_of(&bytes, tile.width())
                    .ok_or_else(|| disk(&dir.join(tile.path()), "malformed"))?,
            );
        }
        Tree::from_partials(size, partial).map_err(|e| disk(dir, e))
    }

    fn read_bundle(
        &self,
        dir: &std::path::Path,
        tile: Tile,
    ) -> Result<Option<Vec<Vec<u8>>>, MirrorError> {
        if self.entries.is_none() {
            return Ok(None);
        }
        let Some(b) = tile.entry_bundle() else {
            return Ok(None);
        };
        let bytes = read(dir, &b.path())?
            .ok_or_else(|| disk(&dir.join(b.path()), "missing from the copy"))?;
        let entries =
            decode_entry_bundle(&bytes, b.width()).map_err(|e| disk(&dir.join(b.path()), e))?;
        Ok(Some(entries.into_iter().map(<[u8]>::to_vec).collect()))
    }

    /// Reads the origin's checkpoint and follows it if it grew; with a
    /// copy, then reads the origin's equivocation proofs
    /// (`/v1/equivocations`, kept by the origin outside the log) and keeps
    /// each one that verifies under the key the copy's registry assigns.
    pub fn step(&mut self) -> Result<Step, MirrorError> {
        let r = self.step_log()?;
        if let Some(copy) = self.copy.clone() {
            self.equivocations = self.sync_equivocations(&copy);
            if let Err(e) = &self.equivocations {
                tracing::warn!(error = %e, "the origin's equivocation proofs were not read");
            }
        }
        Ok(r)
    }

    fn sync_equivocations(&self, copy: &Shared) -> Result<(), String> {
        // The token goes only where the entry bundles come from: with
        // --entries-from elsewhere, `from` is an object store or a CDN,
        // which has no equivocation proofs and must not see the token.
        if self.origin.reads_s3()
            || self
                .config
                .entries_from
                .as_ref()
                .is_some_and(|e| e.trim_end_matches('/') != self.config.from.trim_end_matches('/'))
        {
            return Err(
                "the origin is an object store (entry bundles from elsewhere): it has no equivocation proofs"
                    .into(),
            );
        }
        let body = self
            .origin
            .api("v1/equivocations", MAX_EQUIVOCATIONS)
            .map_err(|e| e.to_string())?;
        let proofs: Vec<armsledger_core::chain::Equivocation> = serde_json::from_slice(&body)
            .map_err(|e| format!("the origin's /v1/equivocations: {e}"))?;
        for p in proofs {
            let registered = copy
                .read_verifier()
                .map_err(|e| e.to_string())?
                .keys()
                .key_for(&p.a.header)
                .ok();
            if registered != Some(p.public_key) {
                tracing::warn!(
                    chain = %p.a.header.chain,
                    counter = p.counter(),
                    "an equivocation proof from the origin names a key the copy's registry does not assign; not kept"
                );
                continue;
            }
            match copy.store().record_equivocation(&p) {
                Ok(_) => {}
                Err(armsledger_server::disk::WriteError::Store(e)) => {
                    tracing::warn!(error = %e, chain = %p.a.header.chain, counter = p.counter(),
                        "an equivocation proof from the origin does not verify; not kept");
                }
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok(())
    }

    fn step_log(&mut self) -> Result<Step, MirrorError> {
        if let Some(why) = &self.stopped {
            return Err(MirrorError::Stopped(why.clone()));
        }
        let note = self.origin.public("checkpoint", MAX_NOTE)?;
        let cp = open_checkpoint(&note, &self.key, self.key.name()).map_err(|e| {
            MirrorError::Malformed {
                what: "a checkpoint".into(),
                reason: e.to_string(),
            }
        })?;
        let note = String::from_utf8_lossy(&note).into_owned();
        let (size, root) = (cp.checkpoint().size(), *cp.checkpoint().root());
        let held = self.tree.size();
        if size < held {
            return Err(self.refuse(
                "rollback",
                format!("the origin's checkpoint is at size {size}, the one held at {held}"),
                &note,
            ));
        }
        if size == held {
            if root == self.tree.root() {
                return Ok(Step::Unchanged(size));
            }
            return Err(self.refuse(
                "fork",
                format!(
                    "two checkpoints of size {size} with different roots: held {}, offered {root}",
                    self.tree.root()
                ),
                &note,
            ));
        }
        let mut scratch = self.tree.clone();
        // With a copy: the entries it holds already (a crash between the
        // store's commit and the tiles' writing) are checked against their
        // leaves but not applied again.
        let stored = self
            .copy
            .as_ref()
            .and_then(|c| c.latest_checkpoint())
            .map_or(0, |p| p.size);
        let first = held.max(stored);
        // The entries fetched, decoded and checked against their leaves;
        // checked against the rules state (the copy's, or this mirror's
        // own) only once the whole step hangs together, and without a copy
        // of that state: nothing of a step that fails is kept.
        let mut fetched: Vec<(Arc<SignedEntry>, Timestamp)> = Vec::new();
        let mut out = Vec::new();
        for tile in level0_tiles(held, size) {
            let bytes = self.origin.public(&tile.path(), 8192)?;
            let hashes = hashes_of(&bytes, tile.width()).ok_or_else(|| MirrorError::Malformed {
                what: tile.path(),
                reason: format!("{} bytes for a width of {}", bytes.len(), tile.width()),
            })?;
            // Leaves already held in this tile must be the ones the origin serves now.
            let start = usize::try_from(held.saturating_sub(tile.index() * 256)).unwrap_or(0);
            let known = scratch.partial_leaves();
            if tile.index() * 256 < held && hashes.get(..start) != known.get(..start) {
                return Err(self.refuse(
                    "fork",
                    format!("{} changes leaves the mirror already holds", tile.path()),
                    &note,
                ));
            }
            let data = match (self.follows_entries(), tile.entry_bundle()) {
                (true, Some(b)) => {
                    let bytes = self.origin.private(&b.path(), MAX_BUNDLE_BYTES as u64)?;
                    let entries = decode_entry_bundle(&bytes, b.width()).map_err(|e| {
                        MirrorError::Malformed {
                            what: b.path(),
                            reason: e.to_string(),
                        }
                    })?;
                    Some(entries.into_iter().map(<[u8]>::to_vec).collect::<Vec<_>>())
                }
                _ => None,
            };
            for (k, leaf) in hashes.iter().enumerate().skip(start) {
                let d = data.as_ref().and_then(|d| d.get(k).cloned());
                let index = tile.index() * 256 + k as u64;
                if let Some(d) = &d {
                    if leaf_hash(d) != *leaf {
                        return Err(self.refuse(
                            "inconsistent",
                            format!("entry {index} does not hash to its leaf in {}", tile.path()),
                            &note,
                        ));
                    }
                    if index >= first {
                        match decode_leaf(d) {
                            Ok(e) => fetched.push(e),
                            Err(e) => {
                                return Err(self.refuse(
                                    "bad-entry",
                                    format!("entry {index} does not verify: {e}"),
                                    &note,
                                ));
                            }
                        }
                    }
                }
                // The copy holds the entries; the tiles directory hash tiles only.
                let d = if self.copy.is_some() { None } else { d };
                scratch
                    .push(*leaf, d, &mut out)
                    .map_err(|e| MirrorError::Malformed {
                        what: tile.path(),
                        reason: e.to_string(),
                    })?;
            }
        }
        if scratch.root() != root {
            return Err(self.refuse(
                "inconsistent",
                format!(
                    "the origin's tiles extend the tree held (size {held}) to root {} at size {size}, \
                     its checkpoint says {root}: not consistent with the checkpoint held",
                    scratch.root()
                ),
                &note,
            ));
        }
        // Without a copy: the entries against this mirror's own state, as a
        // whole (applied once the tiles are kept).
        if let Some(v) = &self.entries {
            let fresh: Vec<Arc<SignedEntry>> = fetched.iter().map(|(e, _)| e.clone()).collect();
            if let Err((k, e)) = v.check_batch(&fresh, &vec![false; fresh.len()]) {
                return Err(self.refuse(
                    "bad-entry",
                    format!("entry {} does not verify: {e}", first + k as u64),
                    &note,
                ));
            }
        }
        // Verified: keep the copy (the entries checked here, with core's
        // pipeline, against the copy's live state under its lock, then
        // applied; the copy checks its own roots, the verifiable index's
        // included, against the checkpoint), the tiles, then the checkpoint.
        if let Some(copy) = self.copy.clone() {
            let check = |v: &LedgerVerifier| {
                let fresh: Vec<Arc<SignedEntry>> = fetched.iter().map(|(e, _)| e.clone()).collect();
                v.check_batch(&fresh, &vec![false; fresh.len()])
                    .map_err(|(k, e)| (k, e.to_string()))
            };
            match copy.append_mirrored(&fetched, first, &note, check) {
                Ok(_) => {}
                Err(MirrorAppendError::Rejected { index, reason }) => {
                    return Err(self.refuse(
                        "bad-entry",
                        format!("entry {index} does not verify: {reason}"),
                        &note,
                    ));
                }
                Err(MirrorAppendError::Write(armsledger_server::disk::WriteError::Store(
                    StoreError::MirrorMismatch { what, reason, .. },
                ))) => {
                    let kind = if what == "index" {
                        "index"
                    } else {
                        "inconsistent"
                    };
                    return Err(self.refuse(
                        kind,
                        format!(
                            "the copy does not match the origin's checkpoint ({what}): {reason}"
                        ),
                        &note,
                    ));
                }
                Err(e) => return Err(disk(copy.store().path(), e)),
            }
        }
        let dir = self.config.data.clone();
        let partials = scratch.partials().map_err(|e| disk(&dir, e))?;
        for (tile, bytes) in out.iter().chain(&partials) {
            write(&dir, &tile.path(), bytes)?;
        }
        write(&dir, "checkpoint", note.as_bytes())?;
        // The partial tiles the new checkpoint supersedes (a narrower one,
        // or any once the full tile is written) are needed by no checkpoint
        // the mirror serves: removed, so the copy does not grow by one
        // partial per step.
        for (tile, _) in out.iter().chain(&partials) {
            remove_superseded(&dir, *tile);
        }
        self.tree = scratch;
        if let Some(v) = self.entries.as_mut() {
            for (e, at) in fetched {
                // check_batch passed: nothing here fails.
                if let Err(err) = v.ingest_checked(e, Some(at)) {
                    tracing::error!(error = %err, "an entry checked as part of its step did not apply");
                }
            }
        }
        self.held = Some(note);
        Ok(Step::Advanced(held, size))
    }

    /// Keeps the evidence, stops following, and returns the refusal.
    fn refuse(&mut self, kind: &'static str, reason: String, offered: &str) -> MirrorError {
        let dir = self.config.data.clone();
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let name = format!("evidence/{stamp}-{kind}");
        let mut kept = dir.join(&name);
        let held = self.held.clone().unwrap_or_default();
        let saved = write(&dir, &format!("{name}/held.checkpoint"), held.as_bytes())
            .and_then(|_| {
                write(
                    &dir,
                    &format!("{name}/offered.checkpoint"),
                    offered.as_bytes(),
                )
            })
            .and_then(|_| {
                write(
                    &dir,
                    &format!("{name}/reason.txt"),
                    format!("{kind}: {reason}\norigin: {}\n", self.config.from).as_bytes(),
                )
            })
            .and_then(|_| write(&dir, "REFUSED", format!("{kind}: {reason}\n").as_bytes()));
        if let Err(e) = saved {
            tracing::error!(error = %e, "could not keep the evidence");
            kept = PathBuf::from("(not kept: see the log)");
        }
        tracing::error!(kind, %reason, evidence = %kept.display(), "mirror refused its origin");
        self.stopped = Some(format!("{kind}: {reason}"));
        MirrorError::Refused {
            kind,
            reason,
            evidence: kept,
        }
    }
}

/// Removes the partial versions of `tile` narrower than it (all of them
/// when it is full). A failure is logged, not fatal: a stale partial tile
/// is unused, never wrong.
fn remove_superseded(dir: &std::path::Path, tile: Tile) {
    let Ok(full) = Tile::new(tile.kind(), tile.index(), 256) else {
        return;
    };
    let partials = dir.join(format!("{}.p", full.path()));
    let Ok(list) = std::fs::read_dir(&partials) else {
        return;
    };
    for e in list.flatten() {
        let narrower = e
            .file_name()
            .to_str()
            .and_then(|w| w.parse::<u16>().ok())
            .is_some_and(|w| !tile.is_partial() || w < tile.width());
        if narrower && let Err(err) = std::fs::remove_file(e.path()) {
            tracing::warn!(path = %e.path().display(), error = %err, "removing a superseded partial tile");
        }
    }
    if !tile.is_partial() {
        let _ = std::fs::remove_dir(&partials);
    }
}

/// The level-0 tiles holding leaves `from..to`.
fn level0_tiles(from: u64, to: u64) -> impl Iterator<Item = Tile> {
    let first = from / 256;
    let end = to.div_ceil(256);
    (first..end).filter_map(move |i| {
        let width = u16::try_from((to - i * 256).min(256)).ok()?;
        Tile::new(TileKind::Hashes(0), i, width).ok()
    })
}

fn hashes_of(bytes: &[u8], width: u16) -> Option<Vec<Hash>> {
    if bytes.len() != usize::from(width) * 32 {
        return None;
    }
    bytes
        .chunks_exact(32)
        .map(|c| <[u8; 32]>::try_from(c).ok().map(Hash))
        .collect()
}

/// Decodes leaf data: the entry and the receipt time the origin logged.
fn decode_leaf(data: &[u8]) -> Result<(Arc<SignedEntry>, Timestamp), String> {
    let leaf = EntryLeaf::parse(data).map_err(|e| e.to_string())?;
    let entry = Arc::new(SignedEntry::decode(leaf.entry).map_err(|e| e.to_string())?);
    Ok((entry, Timestamp(leaf.received_at)))
}

/// Decodes leaf data and runs its entry through the verification pipeline.
fn verify_entry(v: &mut LedgerVerifier, data: &[u8]) -> Result<(), String> {
    let leaf = EntryLeaf::parse(data).map_err(|e| e.to_string())?;
    let entry = SignedEntry::decode(leaf.entry).map_err(|e| e.to_string())?;
    v.ingest(Arc::new(entry), Some(Timestamp(leaf.received_at)))
        .map(|_| ())
        .map_err(|e| e.to_string())
}
