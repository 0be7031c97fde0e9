//! The publishing step: from the size the store's checkpoint shows to the
//! size of a new checkpoint, write every new or wider tile, then the
//! checkpoint. Idempotent, so a publisher killed at any point and started
//! again finishes the job: full tiles are created once (an existing one with
//! the same bytes is fine, with other bytes an alarm), partial tiles are
//! replaced, and the checkpoint goes last.

use std::sync::Arc;

use armsledger_log::{Hash, LogVerifier, Tile, TileKind, changed_tiles, open_checkpoint};
use futures_util::StreamExt as _;
use object_store::{ObjectStore as _, ObjectStoreExt as _, PutMode, PutOptions, PutPayload};

use super::PublishError;
use super::config::Location;

/// Name of the checkpoint object, beside `tile/` (C2SP tlog-tiles).
pub const CHECKPOINT: &str = "checkpoint";

/// Tiles read from the source before they are written (bounds memory:
/// at most this many tiles, at most 16 MiB of entry bundles each).
const READ_CHUNK: usize = 64;

/// Where tiles come from: the log's redb store, or a bench's synthetic tree.
pub trait TileSource: Send + Sync + 'static {
    /// The bytes of `tile` (hash tile or entry bundle) of the current tree.
    fn tile(&self, tile: &Tile) -> Result<Vec<u8>, String>;
    /// The root of the tree of `size` entries.
    fn root_at(&self, size: u64) -> Result<Hash, String>;
}

impl TileSource for armsledger_store::LogReader {
    fn tile(&self, tile: &Tile) -> Result<Vec<u8>, String> {
        armsledger_store::LogReader::tile(self, tile).map_err(|e| e.to_string())
    }
    fn root_at(&self, size: u64) -> Result<Hash, String> {
        armsledger_store::LogReader::root_at(self, size).map_err(|e| e.to_string())
    }
}

/// What one publishing step did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Published {
    /// Size of the checkpoint the store held before.
    pub from: u64,
    /// Size of the checkpoint it holds now.
    pub to: u64,
    /// Objects written (tiles, bundles, the checkpoint).
    pub objects: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Full tiles found already there with the same bytes (a step cut short before).
    pub already_there: u64,
}

/// Writes a log's checkpoints and tiles to object storage.
#[derive(Debug)]
pub struct Publisher {
    public: Location,
    /// `None`: entry bundles are not published.
    private: Option<Location>,
    verifier: LogVerifier,
    concurrency: usize,
    /// The size of the checkpoint known to be in the store (`None`: ask it).
    published: Option<u64>,
}

impl Publisher {
    /// A publisher of the log whose checkpoints `verifier` checks.
    pub fn new(
        public: Location,
        private: Location,
        verifier: LogVerifier,
        concurrency: usize,
    ) -> Self {
        Publisher {
            public,
            private: Some(private),
            verifier,
            concurrency: concurrency.max(1),
            published: None,
        }
    }

    /// A publisher of the checkpoint and hash tiles alone, no entry bundles.
    pub fn hash_tiles_only(public: Location, verifier: LogVerifier, concurrency: usize) -> Self {
        Publisher {
            public,
            private: None,
            verifier,
            concurrency: concurrency.max(1),
            published: None,
        }
    }

    /// The size of the checkpoint in the store, as last seen (`None` until
    /// the first step).
    pub fn published(&self) -> Option<u64> {
        self.published
    }

    /// The size of the checkpoint in the store, read from it: 0 if there is
    /// none. A checkpoint not signed by this log, ahead of `source`, or with
    /// a root that `source` disagrees with is an alarm.
    pub async fn read_published(
        &self,
        source: &Arc<impl TileSource>,
        local_size: u64,
    ) -> Result<u64, PublishError> {
        let path = self.public.path(CHECKPOINT);
        let bytes = match self.public.store().get(&path).await {
            Ok(r) => r.bytes().await.map_err(|e| store_err(&path, e))?,
            Err(object_store::Error::NotFound { .. }) => return Ok(0),
            Err(e) => return Err(store_err(&path, e)),
        };
        let remote =
            open_checkpoint(&bytes, &self.verifier, self.verifier.name()).map_err(|e| {
                PublishError::ForeignCheckpoint {
                    path: path.to_string(),
                    reason: e.to_string(),
                }
            })?;
        let size = remote.checkpoint().size();
        if size > local_size {
            return Err(PublishError::StoreAhead {
                path: path.to_string(),
                store: size,
                local: local_size,
            });
        }
        let ours = source.root_at(size).map_err(PublishError::Source)?;
        if &ours != remote.checkpoint().root() {
            return Err(PublishError::ForeignCheckpoint {
                path: path.to_string(),
                reason: format!(
                    "its root at size {size} is {}, the log's is {ours}",
                    remote.checkpoint().root()
                ),
            });
        }
        Ok(size)
    }

    /// Publishes the checkpoint `note` of `size` entries with every tile it
    /// needs from `source`, the checkpoint last.
    pub async fn publish(
        &mut self,
        source: Arc<impl TileSource>,
        size: u64,
        note: &str,
    ) -> Result<Published, PublishError> {
        let from = match self.published {
            Some(p) => p,
            None => self.read_published(&source, size).await?,
        };
        self.published = Some(from);
        let mut done = Published {
            from,
            to: from,
            ..Published::default()
        };
        if from == size {
            return Ok(done);
        }
        let bundles = self.private.is_some();
        let mut tiles = changed_tiles(from, size)
            .map_err(|e| PublishError::Source(e.to_string()))?
            .filter(|t| bundles || t.kind() != TileKind::Entries);
        loop {
            let chunk: Vec<Tile> = tiles.by_ref().take(READ_CHUNK).collect();
            if chunk.is_empty() {
                break;
            }
            let src = source.clone();
            let read = tokio::task::spawn_blocking(move || {
                chunk
                    .into_iter()
                    .map(|t| src.tile(&t).map(|b| (t, b)))
                    .collect::<Result<Vec<_>, String>>()
            })
            .await
            .map_err(|e| PublishError::Source(e.to_string()))?
            .map_err(PublishError::Source)?;
            let mut writes = futures_util::stream::iter(read)
                .map(|(tile, bytes)| self.write_tile(tile, bytes))
                .buffer_unordered(self.concurrency);
            while let Some(w) = writes.next().await {
                let (bytes, fresh) = w?;
                if fresh {
                    done.objects += 1;
                    done.bytes += bytes;
                } else {
                    done.already_there += 1;
                }
            }
        }
        // Every tile of `size` is in place: only now the checkpoint.
        let path = self.public.path(CHECKPOINT);
        self.public
            .store()
            .put(&path, PutPayload::from(note.as_bytes().to_vec()))
            .await
            .map_err(|e| store_err(&path, e))?;
        done.objects += 1;
        done.bytes += note.len() as u64;
        done.to = size;
        self.published = Some(size);
        Ok(done)
    }

    /// Forgets what the store holds: the next step reads its checkpoint again.
    pub fn forget(&mut self) {
        self.published = None;
    }

    /// Writes one tile: create-only when full, replaced when partial.
    /// Returns its length and whether it was written (false: it was there).
    async fn write_tile(&self, tile: Tile, bytes: Vec<u8>) -> Result<(u64, bool), PublishError> {
        let at = match (tile.kind(), &self.private) {
            (TileKind::Entries, Some(private)) => private,
            (TileKind::Entries, None) => return Ok((0, false)),
            (TileKind::Hashes(_), _) => &self.public,
        };
        let path = at.path(&tile.path());
        let len = bytes.len() as u64;
        let mode = if tile.is_partial() {
            PutMode::Overwrite
        } else {
            PutMode::Create
        };
        let put = at
            .store()
            .put_opts(
                &path,
                PutPayload::from(bytes.clone()),
                PutOptions {
                    mode,
                    ..PutOptions::default()
                },
            )
            .await;
        match put {
            Ok(_) => Ok((len, true)),
            Err(object_store::Error::AlreadyExists { .. }) => {
                let there = at
                    .store()
                    .get(&path)
                    .await
                    .map_err(|e| store_err(&path, e))?
                    .bytes()
                    .await
                    .map_err(|e| store_err(&path, e))?;
                if there.as_ref() == bytes.as_slice() {
                    Ok((len, false))
                } else {
                    Err(PublishError::ImmutableTileDiffers {
                        path: path.to_string(),
                        stored: there.len(),
                        ours: bytes.len(),
                    })
                }
            }
            Err(e) => Err(store_err(&path, e)),
        }
    }
}

fn store_err(path: &object_store::path::Path, e: object_store::Error) -> PublishError {
    PublishError::Store {
        path: path.to_string(),
        reason: e.to_string(),
    }
}
