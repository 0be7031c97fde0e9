//! Publishing a large log's tiles to object storage: the server's own
//! publisher over `object_store`'s in-memory store, from a synthetic tree
//! of `entries` leaves (370-byte leaves, like the storage scenario's mean
//! entry plus its receipt time). Prints objects, bytes and time; the store
//! is memory, so the figure is the publisher's own cost (tile building,
//! hashing, bookkeeping), the floor under any network store.

use std::sync::Arc;
use std::time::Instant;

use armsledger_log::{
    Frontier, Hash, LogKey, Tile, TileKind, encode_entry_bundle, hash_tile_data, leaf_hash,
};
use armsledger_server::publish::{Location, Publisher, TileSource};
use object_store::ObjectStore as _;
use object_store::memory::InMemory;

use crate::report::Figure;

/// Bytes of each synthetic leaf (receipt time and entry).
const LEAF_BYTES: usize = 368;

/// The synthetic log: every stored hash, in memory.
struct Synthetic {
    stored: Vec<Hash>,
    size: u64,
    root: Hash,
}

fn leaf_data(i: u64) -> Vec<u8> {
    let mut d = vec![0u8; LEAF_BYTES];
    for (k, chunk) in d.chunks_mut(8).enumerate() {
        let v = i.wrapping_mul(0x9e37_79b9_7f4a_7c15).wrapping_add(k as u64);
        let b = v.to_le_bytes();
        chunk.copy_from_slice(&b[..chunk.len()]);
    }
    d
}

impl TileSource for Synthetic {
    fn tile(&self, tile: &Tile) -> Result<Vec<u8>, String> {
        match tile.kind() {
            TileKind::Hashes(_) => {
                hash_tile_data(&self.stored, self.size, tile).map_err(|e| e.to_string())
            }
            TileKind::Entries => {
                let lo = tile.index() * 256;
                let leaves: Vec<Vec<u8>> =
                    (lo..lo + u64::from(tile.width())).map(leaf_data).collect();
                encode_entry_bundle(&leaves).map_err(|e| e.to_string())
            }
        }
    }
    fn root_at(&self, size: u64) -> Result<Hash, String> {
        if size == self.size {
            Ok(self.root)
        } else {
            Err(format!("the bench tree has only size {}", self.size))
        }
    }
}

/// Builds a tree of `entries` leaves and publishes it whole.
pub fn run(entries: u64, bundles: bool) -> anyhow::Result<Vec<Figure>> {
    let t = Instant::now();
    let mut f = Frontier::new();
    let mut stored = Vec::with_capacity(usize::try_from(entries * 2)?);
    for i in 0..entries {
        stored.extend(f.append(leaf_hash(&leaf_data(i)))?.hashes);
    }
    let build = t.elapsed().as_secs_f64();
    let key = LogKey::from_seed("bench.example/log", &[7; 32])?;
    let note = key.sign_checkpoint(entries, &f.root())?.into_note();
    let public = Arc::new(InMemory::new());
    let private = Arc::new(InMemory::new());
    let source = Arc::new(Synthetic {
        stored,
        size: entries,
        root: f.root(),
    });
    let public_at = Location::new(public.clone(), "log");
    let mut p = if bundles {
        Publisher::new(
            public_at,
            Location::new(private.clone(), "log"),
            key.verifier(),
            16,
        )
    } else {
        Publisher::hash_tiles_only(public_at, key.verifier(), 16)
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let t = Instant::now();
    let done = rt.block_on(p.publish(source, entries, &note))?;
    let secs = t.elapsed().as_secs_f64();
    let count = |s: &Arc<InMemory>| {
        use futures_util::TryStreamExt as _;
        rt.block_on(s.list(None).try_collect::<Vec<_>>())
            .map(|v| v.len() as f64)
    };
    let (pub_objects, priv_objects) = (count(&public)?, count(&private)?);
    let n = entries as f64;
    let sc = "publish";
    let mut out = vec![
        Figure::new(
            sc,
            &format!("{entries} entries: tree built (hashing)"),
            build,
            "s",
        ),
        Figure::new(sc, "objects written", done.objects as f64, "objects"),
        Figure::new(
            sc,
            "public objects (checkpoint, hash tiles)",
            pub_objects,
            "objects",
        ),
        Figure::new(
            sc,
            "private objects (entry bundles)",
            priv_objects,
            "objects",
        ),
        Figure::new(sc, "bytes written", done.bytes as f64, "B"),
        Figure::new(sc, "bytes per entry", done.bytes as f64 / n, "B"),
        Figure::new(sc, "publish time", secs, "s"),
        Figure::new(
            sc,
            "objects per second",
            done.objects as f64 / secs,
            "objects/s",
        ),
        Figure::new(sc, "entries published per second", n / secs, "entries/s"),
    ];
    if !bundles {
        out.push(Figure::new(
            sc,
            "entry bundles",
            0.0,
            "(not published: pass --bundles)",
        ));
    }
    Ok(out)
}
