//! A verifying mirror's state: the same [`Shared`] the routes read, over a
//! store that holds a copy of another server's log (the origin's entries, in
//! the origin's order, with the origin's receipt times and checkpoints).
//! It has no log key: it signs nothing, and runs no sequencer, checkpointer
//! or publisher. `armsledger mirror` extends it with
//! [`Shared::append_mirrored`] after checking everything it fetched, and
//! serves it with [`crate::app`].

use std::path::Path;
use std::sync::Arc;

use armsledger_log::LogVerifier;
use tokio::sync::mpsc;

use crate::clock::Clock;
use crate::config::{Config, files};
use crate::disk::LiveStore;
use crate::metrics::Metrics;
use crate::start::{StartError, pin_manufacturer_roots, pin_regulator_key};
use crate::state::{Parts, Published, Shared, Signer, checkpoint_size};
use crate::tokens::TokenStore;

fn data_err(path: &Path, e: impl std::fmt::Display) -> StartError {
    StartError::Data {
        path: path.display().to_string(),
        msg: e.to_string(),
    }
}

impl Shared {
    /// Opens (or creates) a mirror's state in `config.data_dir`, for the
    /// log whose C2SP verifier key is `log_vkey`: the copy of the log
    /// (`log.redb`), the mirror's own tokens (`tokens.json`, managed with
    /// `armsledger token --data DIR`), its access log, and the pinned
    /// regulator key and manufacturer roots (required: every entry the
    /// mirror keeps is verified). A directory holding a log key (a server's,
    /// not a mirror's) is refused: a mirror signs nothing.
    pub fn open_mirror(
        config: Config,
        log_vkey: &str,
        clock: Clock,
    ) -> Result<Arc<Shared>, StartError> {
        let dir = config.data_dir.clone();
        std::fs::create_dir_all(&dir).map_err(|e| data_err(&dir, e))?;
        let own_key = dir.join(files::LOG_KEY);
        if own_key.exists() {
            return Err(data_err(
                &own_key,
                "this directory holds a log key: it is a server's, not a mirror's; a mirror signs nothing (use another directory)",
            ));
        }
        crate::secret::check_private(&dir.join(files::TOKENS_JSON))?;
        let verifier = LogVerifier::from_vkey(log_vkey.trim())
            .map_err(|e| data_err(&dir.join(files::LOG_VKEY), e))?;
        let regulator_key = pin_regulator_key(&dir, config.regulator_key.as_deref())?;
        if regulator_key.is_none() {
            return Err(data_err(
                &dir.join(files::REGULATOR_PUB),
                "a mirror that serves reads verifies every entry: give the regulator key",
            ));
        }
        let roots = pin_manufacturer_roots(&dir, &config.roots()?)?;
        let metrics = Metrics::default();
        let store = LiveStore::open(dir.join(files::LOG_REDB), config.disk_probe_bytes, &metrics)?;
        let latest = store.read()?.latest_checkpoint()?.map(|note| Published {
            size: checkpoint_size(&note),
            note,
        });
        let access_path = dir.join(crate::access_log::ACCESS_REDB);
        let access = crate::access_log::AccessLog::open(&access_path)
            .map_err(|e| data_err(&access_path, e))?;
        let witnessing = crate::witnessing::Board::new(
            None,
            std::time::Duration::from_millis(config.witness_quorum_alert_ms),
        );
        // No sequencer: a write that reached the queue would be refused.
        let (tx, _) = mpsc::channel(1);
        let shared = Arc::new(Shared::new(Parts {
            tokens: TokenStore::in_data_dir(&dir),
            config,
            store,
            signer: Signer::Mirror(verifier),
            regulator_key,
            roots,
            metrics,
            ingest: tx,
            latest,
            clock,
            witnessing,
            access,
        }));
        crate::ingest::rebuild_verifier(&shared)?;
        let s = shared.clone();
        std::thread::Builder::new()
            .name("disk-recovery".into())
            .spawn(move || s.store().recover_forever(|| {}))
            .map_err(|e| data_err(&dir, e))?;
        Ok(shared)
    }
}
