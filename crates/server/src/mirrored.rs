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

use armsledger_core::LedgerVerifier;
use armsledger_core::ids::Timestamp;
use armsledger_store::StoreError;

use crate::clock::Clock;
use crate::config::{Config, files};
use crate::start::{Opened, StartError, pin_manufacturer_roots, pin_regulator_key};
use crate::state::{Shared, Signer};

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
    /// mirror keeps is verified). Its rules state starts from the newest
    /// rules snapshot in `DIR/snapshots` that matches the copy (the
    /// server's rule: a torn, stale or foreign one is refused and the state
    /// rebuilt from the copy), replaying only the entries after it; the
    /// steps write snapshots on the server's schedule
    /// ([`Shared::append_mirrored`]). A directory holding a log key (a server's,
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
        let witnessing = crate::witnessing::Board::new(
            None,
            std::time::Duration::from_millis(config.witness_quorum_alert_ms),
        );
        // No sequencer: a write that reached the queue would be refused.
        let (tx, _) = mpsc::channel(1);
        let shared = Shared::open_parts(Opened {
            config,
            signer: Signer::Mirror(verifier),
            regulator_key,
            roots,
            witnessing,
            ingest: tx,
            clock,
        })?;
        let s = shared.clone();
        std::thread::Builder::new()
            .name("disk-recovery".into())
            .spawn(move || s.store().recover_forever(|| {}))
            .map_err(|e| data_err(&dir, e))?;
        Ok(shared)
    }
}

impl Shared {
    /// The rules state rebuilt from the newest rules snapshot that matches
    /// the log and the entries after it (the whole log if none matches),
    /// not put in place: for a caller that holds the verifier's lock.
    pub(crate) fn rebuilt_state(&self) -> Result<LedgerVerifier, StoreError> {
        let reader = self.store().read()?;
        let resumed = crate::snapshots::nearest_before(self, &reader, Timestamp(u64::MAX));
        drop(reader);
        let (v, from) = match resumed {
            Some((v, n)) => (Some(v), n),
            None => (None, 0),
        };
        crate::ingest::replay_onto(self, v, from).map(|(v, _)| v)
    }
}
