//! The log side of a run: which key to trust, the checkpoint, the trusted
//! state (rollbacks, forks, a new key under a known origin), the tree, and
//! remembering the checkpoint once the bundle verified.

use armsledger_core::ids::Timestamp;
use armsledger_log::{
    Checkpoint, EMPTY_ROOT, Hash as LogHash, LogVerifier, open_checkpoint, verify_consistency,
};

use crate::error::BundleError;
use crate::report::{
    CheckpointSummary, Cosigner, KeySource, Problem, ProblemKind, SplitView, Warning, WarningKind,
    WitnessSummary,
};
use crate::state::TrustedLog;

use super::{Opened, Run};

impl Run<'_> {
    /// Picks the log key, opens the checkpoint and checks it against the trusted state.
    pub(super) fn open(&mut self, note: &str, record: u64, offset: u64) {
        let Some(meta) = self.meta.clone() else {
            return;
        };
        let pinned = self
            .state
            .as_ref()
            .and_then(|s| s.logs.get(&meta.origin))
            .cloned();
        // The key this run would check with, and where it comes from.
        let (key, source) = match (&self.opts.trusted_key, &pinned) {
            (Some(k), _) => (Some(k.clone()), KeySource::Argument),
            (None, Some(p)) if p.log_key == meta.log_key || !self.opts.trust_new_log => {
                (LogVerifier::from_vkey(&p.log_key).ok(), KeySource::State)
            }
            (None, _) => match LogVerifier::from_vkey(&meta.log_key) {
                Ok(k) => (Some(k), KeySource::Bundle),
                Err(e) => {
                    self.problem(Problem::new(
                        ProblemKind::Meta,
                        Some(0),
                        None,
                        format!("the bundle's log key is unusable ({e}); pass --trusted-key"),
                    ));
                    (None, KeySource::None)
                }
            },
        };
        // A pinned key for this origin that is not the one offered: another
        // log under a known name, unless the caller says so on purpose.
        let offered = match (&key, source) {
            (Some(k), KeySource::Argument | KeySource::Bundle) => Some(k.to_string()),
            (_, KeySource::State) => Some(meta.log_key.clone()),
            _ => None,
        };
        let mut pinned = pinned;
        if let (Some(p), Some(offered)) = (&pinned, &offered)
            && p.log_key != *offered
        {
            if self.opts.trust_new_log {
                self.report.notes.push(format!(
                    "--trust-new-log: the key pinned for {} ({}{}) is replaced by {offered} once this bundle verifies",
                    meta.origin,
                    p.log_key,
                    p.pinned_at
                        .as_deref()
                        .map(|at| format!(", pinned on {}", at.get(..10).unwrap_or(at)))
                        .unwrap_or_default()
                ));
                pinned = None;
            } else {
                self.problem(key_changed(
                    &meta.origin,
                    p,
                    offered,
                    source,
                    record,
                    offset,
                ));
                self.report.trusted_key_source = Some(source);
                return;
            }
        }
        let pinned_key = pinned.as_ref().map(|p| p.log_key.clone());
        self.report.trusted_key_source = Some(source);
        self.report.trusted_key_pinned_at = match source {
            KeySource::State => pinned.as_ref().and_then(|p| p.pinned_at.clone()),
            _ => None,
        };
        let Some(key) = key else {
            return;
        };
        self.report.trusted_key = Some(key.to_string());
        if source == KeySource::Bundle {
            self.report.warnings.push(Warning {
                kind: WarningKind::LogKeyUnchecked,
                subject: Some(meta.origin.clone()),
                message: format!(
                    "the log key {key} was taken from the bundle itself: nothing checked it, so \
                     whoever wrote the bundle could have signed its checkpoint. Get the log's key \
                     from the regulator and pass --trusted-key"
                ),
            });
        }
        if meta.log_key != key.to_string() {
            self.report.notes.push(format!(
                "the bundle names log key {}, but it was checked with {key}",
                meta.log_key
            ));
        }
        let cp = match open_checkpoint(note.as_bytes(), &key, key.name()) {
            Ok(sc) => sc,
            Err(e) => {
                self.problem(Problem::new(
                    ProblemKind::Checkpoint,
                    Some(record),
                    Some(offset),
                    format!("the checkpoint does not open with log key {key}: {e}"),
                ));
                return;
            }
        };
        let checkpoint = cp.checkpoint().clone();
        self.check_quorum(note, record, offset);
        self.report.checkpoint = Some(CheckpointSummary {
            origin: checkpoint.origin().to_owned(),
            size: checkpoint.size(),
            root: checkpoint.root().to_string(),
        });
        // The history trusted for this origin, unless it was set aside above.
        let trusted = pinned_key
            .is_some()
            .then(|| {
                self.state
                    .as_ref()
                    .and_then(|s| s.logs.get(checkpoint.origin()))
                    .map(|t: &TrustedLog| (t.size, t.root.parse::<LogHash>()))
            })
            .flatten();
        match trusted {
            Some((size, Ok(root))) => {
                self.report.state.previous_size = Some(size);
                self.trusted = Some((size, root));
                self.check_trusted_now(&checkpoint, size, root, record, offset);
                if checkpoint.size() == size && *checkpoint.root() != root {
                    self.report.split_view = self
                        .state
                        .as_ref()
                        .and_then(|s| s.logs.get(checkpoint.origin()))
                        .map(|t| SplitView {
                            origin: checkpoint.origin().to_owned(),
                            size,
                            trusted_note: t.checkpoint.clone(),
                            offered_note: note.to_owned(),
                        });
                }
            }
            Some((_, Err(_))) => self.problem(Problem::new(
                ProblemKind::Forked,
                Some(record),
                Some(offset),
                "the trusted state holds a malformed root for this log; move the state file aside to start over",
            )),
            None => {}
        }
        self.opened = Some(Opened {
            checkpoint,
            note: cp.into_note(),
            key,
            record,
        });
    }

    /// With a `--policy`: the checkpoint must be signed by a log the policy
    /// lists and carry the quorum of valid witness cosignatures.
    fn check_quorum(&mut self, note: &str, record: u64, offset: u64) {
        let opts = self.opts;
        let Some(policy) = &opts.policy else {
            return;
        };
        match policy.check(note.as_bytes()) {
            Ok(checked) => {
                let cosigned: Vec<Cosigner> = checked
                    .cosigned()
                    .iter()
                    .map(|(name, timestamp)| Cosigner {
                        name: name.clone(),
                        timestamp: *timestamp,
                    })
                    .collect();
                let quorum = policy.quorum_name().map(str::to_owned);
                let met = checked.quorum_met();
                if !met {
                    let names: Vec<&str> = cosigned.iter().map(|c| c.name.as_str()).collect();
                    self.problem(Problem::new(
                        ProblemKind::QuorumNotMet,
                        Some(record),
                        Some(offset),
                        format!(
                            "the checkpoint lacks the policy's quorum {}: valid cosignatures by [{}] only. \
                             No quorum of witnesses vouches that this is the history everyone else sees \
                             (it may be one side of a split view)",
                            quorum.as_deref().unwrap_or("none"),
                            names.join(", ")
                        ),
                    ));
                }
                self.report.witnesses = Some(WitnessSummary {
                    quorum,
                    cosigned,
                    quorum_met: met,
                });
            }
            Err(e) => self.problem(Problem::new(
                ProblemKind::QuorumNotMet,
                Some(record),
                Some(offset),
                format!("the checkpoint does not open under the policy: {e}"),
            )),
        }
    }

    /// The checks that need only the two checkpoints.
    fn check_trusted_now(
        &mut self,
        cp: &Checkpoint,
        size: u64,
        root: LogHash,
        record: u64,
        offset: u64,
    ) {
        if cp.size() < size {
            self.problem(Problem::new(
                ProblemKind::RolledBack,
                Some(record),
                Some(offset),
                format!(
                    "the checkpoint covers {} entries but a checkpoint of {size} entries was trusted before: the log was rolled back",
                    cp.size()
                ),
            ));
        } else if cp.size() == size {
            if *cp.root() == root {
                self.consistent = Some("same checkpoint as trusted".into());
            } else {
                self.problem(Problem::new(
                    ProblemKind::Forked,
                    Some(record),
                    Some(offset),
                    format!(
                        "the checkpoint has the trusted size {size} but root {}, not the trusted {root}: the log forked",
                        cp.root()
                    ),
                ));
            }
        } else if size == 0 && root == EMPTY_ROOT {
            self.consistent = Some("the trusted tree was empty".into());
        }
    }

    /// Root (full bundles) and consistency with the trusted checkpoint.
    pub(super) fn check_tree(&mut self) {
        let Some(o) = &self.opened else {
            return;
        };
        let (cp, record) = (o.checkpoint.clone(), o.record);
        if !self.scope().is_scoped() && self.end_seen {
            if self.frontier.size() != cp.size() {
                self.problem(Problem::new(
                    ProblemKind::Index,
                    Some(record),
                    None,
                    format!(
                        "the bundle holds {} entries but its checkpoint covers {}",
                        self.frontier.size(),
                        cp.size()
                    ),
                ));
            } else if self.frontier.root() != *cp.root() {
                self.problem(Problem::new(
                    ProblemKind::MerkleRoot,
                    Some(record),
                    None,
                    format!(
                        "the entries hash to root {}, the checkpoint states {}: an entry or its receipt time was altered, swapped, added or left out",
                        self.frontier.root(),
                        cp.root()
                    ),
                ));
            } else {
                self.full_tree_matches = true;
                self.check_index(&cp, record);
            }
        }
        let Some((size, root)) = self.trusted else {
            if self.consistency_records > 0 {
                self.report.notes.push(
                    "consistency proofs were not checked: no checkpoint was trusted before".into(),
                );
            }
            return;
        };
        let already_refused = self
            .report
            .problems
            .iter()
            .any(|p| matches!(p.kind, ProblemKind::Forked | ProblemKind::RolledBack));
        if cp.size() <= size || self.consistent.is_some() || already_refused {
            return;
        }
        match self.consistency.take() {
            Some((r, c)) => match verify_consistency(size, cp.size(), &root, cp.root(), &c.proof) {
                Ok(()) => self.consistent = Some(format!("consistency proof in record {r}")),
                Err(e) => self.problem(Problem::new(
                    ProblemKind::Forked,
                    Some(r),
                    None,
                    format!("the checkpoint is not consistent with the trusted checkpoint of size {size}: {e}: the log forked"),
                )),
            },
            None => self.problem(Problem::new(
                ProblemKind::Forked,
                Some(record),
                None,
                format!(
                    "nothing shows the checkpoint extends the trusted one of size {size}: \
                     ask the server for a bundle with a consistency proof from size {size}"
                ),
            )),
        }
    }

    /// Records the checkpoint as trusted (only called for authentic bundles).
    pub(super) fn remember(&mut self) -> Result<(), BundleError> {
        let (Some(path), Some(state), Some(o)) =
            (&self.opts.state_path, self.state.as_mut(), &self.opened)
        else {
            return Ok(());
        };
        self.report.state.consistency = self.consistent.clone();
        let newer = self
            .trusted
            .is_none_or(|(size, _)| o.checkpoint.size() >= size);
        if newer {
            let key = o.key.to_string();
            // The pin date stays that of the first time this key was trusted.
            let pinned_at = state
                .logs
                .get(o.checkpoint.origin())
                .filter(|t| t.log_key == key)
                .map_or_else(
                    || self.opts.wall_clock.map(|t: Timestamp| t.to_string()),
                    |t| t.pinned_at.clone(),
                );
            state.logs.insert(
                o.checkpoint.origin().to_owned(),
                TrustedLog {
                    size: o.checkpoint.size(),
                    root: o.checkpoint.root().to_string(),
                    log_key: key,
                    checkpoint: o.note.clone(),
                    pinned_at,
                },
            );
            state.save(path)?;
            self.report.state.updated = true;
        }
        Ok(())
    }
}

/// The refusal of a bundle whose log key is not the one pinned for its origin.
fn key_changed(
    origin: &str,
    pinned: &TrustedLog,
    offered: &str,
    source: KeySource,
    record: u64,
    offset: u64,
) -> Problem {
    let when = pinned
        .pinned_at
        .as_deref()
        .map(|at| format!(" on {}", at.get(..10).unwrap_or(at)))
        .unwrap_or_default();
    let whose = match source {
        KeySource::Argument => "you passed --trusted-key",
        _ => "this bundle's log is signed with",
    };
    Problem::new(
        ProblemKind::LogKeyChanged,
        Some(record),
        Some(offset),
        format!(
            "the trusted state pinned log key {} for origin {origin}{when}, but {whose} {offered}: \
             this is another log under the same origin (a new server or demo run), or the log \
             changed its key. Nothing was checked against the pinned log. To trust this log on \
             purpose, run again with --trust-new-log (the state then forgets what it trusted for \
             {origin}); if you did not expect a new log, do not trust this bundle",
            pinned.log_key
        ),
    )
}
