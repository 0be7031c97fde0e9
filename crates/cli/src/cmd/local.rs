//! Reading a bundle offline for trace, inventory, alerts and the book: the
//! bundle is verified first (exactly as `armsledger verify` does), then folded.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use armsledger_bundle::{
    BundleReader, Completeness, KeySource, Record, Scope, VerifyOptions, verify_bundle,
};
use armsledger_core::LedgerVerifier;
use armsledger_core::entry::SignedEntry;
use armsledger_core::ids::Timestamp;
use armsledger_core::rules::View;

/// A verified bundle, folded.
pub struct Loaded {
    /// Entries in log order with their index and receipt time.
    pub entries: Vec<(u64, Option<Timestamp>, Arc<SignedEntry>)>,
    /// The rules engine after every entry.
    pub verifier: LedgerVerifier,
    /// What the file holds: everything (the root was recomputed) or a scope
    /// whose every entry carried an inclusion proof.
    pub scope: Scope,
    /// Where the log key that opened the checkpoint came from.
    pub key_source: Option<KeySource>,
    /// The checkpoint's tree size.
    pub checkpoint_size: Option<u64>,
    /// The checkpoint's root hash (hex).
    pub checkpoint_root: Option<String>,
    /// A dossier's weapon: what is proven about its history being complete.
    pub dossier: Option<armsledger_bundle::DossierSummary>,
    /// A lot dossier's lot: what is proven about each site's part being complete.
    pub lot_dossier: Option<armsledger_bundle::LotDossierSummary>,
}

impl Loaded {
    /// What the verification of the file showed, in one sentence.
    pub fn evidence(&self) -> String {
        let key = match self.key_source {
            Some(KeySource::Argument) => "the log key you passed",
            Some(KeySource::State) => "the log key pinned in your trusted state",
            _ => {
                "the log key inside the file itself: nothing checked that key \
                 (`armsledger verify FILE --trusted-key KEY` checks it against the log's published key)"
            }
        };
        let size = self
            .checkpoint_size
            .map_or(String::new(), |n| format!(" (tree size {n})"));
        let n = self
            .checkpoint_size
            .map_or_else(|| "?".to_owned(), |n| n.to_string());
        let lot_end = self.lot_dossier.as_ref().map(|d| match &d.completeness {
            Completeness::Proven { .. } => format!(
                "; the lot's history at each of its {} sites is complete up to checkpoint {n}: \
                 the verifiable index commits to each site's last act",
                d.sites.len()
            ),
            Completeness::NewerEntriesExist { newest_index, .. } => format!(
                "; INCOMPLETE: newer entries exist (newest at log index {newest_index}): the \
                 verifiable index of checkpoint {n} commits to a later act than the last shown"
            ),
            _ => "; nothing proves each site's last act is its newest (no index proof)".into(),
        });
        let end = match self.dossier.as_ref().map(|d| &d.completeness) {
            None => lot_end.unwrap_or_default(),
            Some(Completeness::Proven { .. }) => format!(
                "; the weapon's history is complete up to checkpoint {n}: the verifiable index \
                 commits to its last event"
            ),
            Some(Completeness::NewerEntriesExist { newest_index, .. }) => format!(
                "; INCOMPLETE: newer entries exist (newest at log index {newest_index}): the \
                 verifiable index of checkpoint {n} commits to a later event than the last shown"
            ),
            Some(_) => "; nothing proves its last event is the newest (no index proof)".into(),
        };
        if self.scope.is_scoped() {
            format!(
                "verified offline: every entry's signature, and each entry's inclusion proof \
                 against the signed checkpoint{size}, opened with {key}{end}"
            )
        } else {
            format!(
                "verified offline: every entry's signature, and the Merkle root recomputed from \
                 all entries equals the signed checkpoint's{size}, opened with {key}"
            )
        }
    }
}

/// Verifies `path` offline, then folds it in `view`. Refuses a bundle that is not authentic.
pub fn load(path: &Path, view: View) -> anyhow::Result<Loaded> {
    load_with(path, view, None)
}

/// [`load`], also requiring `policy`'s quorum of witness cosignatures on the
/// checkpoint when one is given (`--policy`).
pub fn load_with(
    path: &Path,
    view: View,
    policy: Option<&armsledger_log::Policy>,
) -> anyhow::Result<Loaded> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let options = VerifyOptions {
        policy: policy.cloned(),
        ..VerifyOptions::default()
    };
    let report = verify_bundle(std::io::BufReader::new(file), &options)?;
    if !report.authentic {
        let first = report
            .problems
            .first()
            .map(|p| p.to_string())
            .unwrap_or_default();
        bail!(
            "{} is not authentic ({first}); run `armsledger verify {}` for the full report",
            path.display(),
            path.display()
        );
    }
    let file = std::fs::File::open(path)?;
    let mut meta = None;
    let mut entries = Vec::new();
    for item in BundleReader::new(std::io::BufReader::new(file)) {
        match item?.item {
            Record::Meta(m) => meta = Some(m),
            Record::Entry(e) => {
                let entry =
                    SignedEntry::decode(&e.bytes).with_context(|| format!("entry {}", e.index))?;
                entries.push((e.index, e.received_at, Arc::new(entry)));
            }
            _ => {}
        }
    }
    let Some(meta) = meta else {
        bail!("{} has no Meta record", path.display());
    };
    let mut verifier =
        LedgerVerifier::new(meta.regulator_key, meta.manufacturer_roots.clone(), view);
    for (index, received, e) in &entries {
        let r = match e.chain() {
            armsledger_core::entry::ChainId::Site(_) if meta.scope.is_scoped() => {
                // A scoped bundle holds other chains only in part (a transfer in
                // from another company's site): take what the chain cursor
                // cannot place as a foreign entry.
                verifier
                    .ingest(e.clone(), *received)
                    .map(|_| ())
                    .or_else(|_| verifier.ingest_foreign(e.clone(), *received).map(|_| ()))
            }
            _ => verifier.ingest(e.clone(), *received).map(|_| ()),
        };
        r.with_context(|| format!("folding entry {index}"))?;
    }
    Ok(Loaded {
        entries,
        verifier,
        scope: meta.scope,
        key_source: report.trusted_key_source,
        checkpoint_size: report.checkpoint.as_ref().map(|c| c.size),
        checkpoint_root: report.checkpoint.as_ref().map(|c| c.root.clone()),
        dossier: report.dossier.clone(),
        lot_dossier: report.lot_dossier.clone(),
    })
}
