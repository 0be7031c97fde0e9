//! The site's side of issue 20: after a sync, the checkpoints this site was
//! given must lie in the history a quorum of witnesses cosigned.

use std::path::Path;

use anyhow::{Context, bail};
use armsledger_agents::ServerClient;
use armsledger_bundle::SplitView;
use armsledger_log::{CheckpointNote, Hash, Policy, verify_consistency};

/// Largest cosigned checkpoint note read from a server.
const MAX_NOTE_BYTES: usize = 64 * 1024;

/// A writer that refuses to hold more than its cap.
struct Capped(Vec<u8>);

impl std::io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.0.len() + buf.len() > MAX_NOTE_BYTES {
            return Err(std::io::Error::other(format!(
                "the checkpoint is over {MAX_NOTE_BYTES} bytes"
            )));
        }
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Fetches the server's newest quorum-cosigned checkpoint, requires the
/// policy's quorum, and checks every receipt checkpoint against it: one of
/// the same size must have the same root, an older one must be proven
/// consistent with it (a proof from the server; the cosigned root is what
/// it is checked against). A split view's two notes are written to
/// `evidence`. Returns the line to print.
pub fn check_receipts(
    client: &ServerClient,
    policy: &Policy,
    receipts: &[(u64, String)],
    evidence: &Path,
) -> anyhow::Result<String> {
    let mut buf = Capped(Vec::new());
    client
        .get_to("/v1/checkpoint/cosigned", &mut buf)
        .context("fetching the server's quorum-cosigned checkpoint")?;
    let note = String::from_utf8(buf.0).context("the cosigned checkpoint is not UTF-8")?;
    let checked = policy
        .verify(note.as_bytes())
        .context("the server's cosigned checkpoint does not meet the policy")?;
    let cp = checked.checkpoint();
    let mut checked_receipts = 0usize;
    for (size, receipt) in receipts {
        let r = CheckpointNote::parse(receipt.as_bytes())
            .with_context(|| format!("the receipt checkpoint of size {size} does not parse"))?;
        let rc = r.checkpoint();
        if rc.origin() != cp.origin() {
            continue;
        }
        let split = |why: String| -> anyhow::Result<String> {
            let view = SplitView {
                origin: cp.origin().to_owned(),
                size: rc.size(),
                trusted_note: receipt.clone(),
                offered_note: note.clone(),
            };
            let path = crate::cmd::verify::keep_split_view(
                evidence,
                &view,
                crate::cmd::verify::wall_clock(),
            )?;
            bail!(
                "split view: {why}; both notes are kept in {}",
                path.display()
            )
        };
        if rc.size() == cp.size() {
            if rc.root() != cp.root() {
                split(format!(
                    "this site was given root {} at size {}, the witnesses cosigned root {}",
                    rc.root(),
                    rc.size(),
                    cp.root()
                ))?;
            }
        } else if rc.size() < cp.size() {
            let path = format!("/v1/proof/consistency?old={}&new={}", rc.size(), cp.size());
            let proof: serde_json::Value = client.get_json(&path)?;
            let hashes: Vec<Hash> = proof
                .get("proof")
                .and_then(serde_json::Value::as_array)
                .map(|a| a.iter().filter_map(|h| h.as_str()?.parse().ok()).collect())
                .unwrap_or_default();
            if let Err(e) = verify_consistency(rc.size(), cp.size(), rc.root(), cp.root(), &hashes)
            {
                split(format!(
                    "the checkpoint of size {} this site was given is not in the cosigned history of size {} ({e})",
                    rc.size(),
                    cp.size()
                ))?;
            }
        } else {
            // Newer than the cosigned one: checked at a later sync.
            continue;
        }
        checked_receipts += 1;
    }
    let names: Vec<&str> = checked.cosigned().iter().map(|(n, _)| n.as_str()).collect();
    Ok(format!(
        "witnessed: checkpoint size {} cosigned by {} (quorum {} met); {checked_receipts} receipt checkpoints lie in that history",
        cp.size(),
        names.join(", "),
        policy.quorum_name().unwrap_or("none")
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use armsledger_agents::LedgerServer;
    use armsledger_core::testkit::{Scenario, T0};
    use armsledger_log::LogKey;
    use armsledger_server::tokens::Role;

    use super::*;
    use crate::cmd::demo::DeviceHost;
    use crate::cmd::demo::infra::{DemoWitness, Server};

    /// A real server (in process, loopback) and a witness (on a thread,
    /// loopback), as the demo runs them; receipts checked against the
    /// cosigned history: quiet for the log's own, firing for a checkpoint
    /// the log signed outside it (same size, and an older size).
    #[test]
    fn receipts_outside_the_cosigned_history_are_a_split_view_with_evidence() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("server");
        let log_vkey = Server::prepare_log_key(&data).unwrap();
        let witness = DemoWitness::start(
            &DeviceHost::Threads,
            &tmp.path().join("witness"),
            &log_vkey,
            &tmp.path().join("p.policy"),
        )
        .unwrap();
        let s = Scenario::standard();
        let server = Server::start(
            &data,
            hex::encode(s.regulator_key()),
            hex::encode(s.root_key()),
            Some(witness.policy.clone()),
        )
        .unwrap();
        let token = server.create_token(Role::Regulator, "t", T0).unwrap();
        let client = ServerClient::new(&server.url, Some(token));
        let raw: Vec<Vec<u8>> = s.log.iter().map(|e| e.bytes().to_vec()).collect();
        client.push(&raw).unwrap();
        let n = raw.len() as u64;
        let mut cosigned = false;
        for _ in 0..600 {
            let st: serde_json::Value = client.get_json("/v1/witnesses").unwrap();
            if st["quorum_size"].as_u64() == Some(n) {
                cosigned = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert!(cosigned, "the witness never cosigned size {n}");
        let policy = armsledger_server::witnessing::load_policy(&witness.policy).unwrap();
        let evidence = tmp.path().join("evidence");

        // Quiet: the checkpoint the server gave.
        let honest = client.get_text("/checkpoint").unwrap();
        let line = check_receipts(&client, &policy, &[(n, honest)], &evidence).unwrap();
        assert!(
            line.contains("1 receipt checkpoints lie in that history"),
            "{line}"
        );
        assert!(!evidence.exists());

        // Firing: the log's key signed another root at that size.
        let key = LogKey::from_signer_key(
            std::fs::read_to_string(data.join(armsledger_server::files::LOG_KEY))
                .unwrap()
                .trim(),
        )
        .unwrap();
        let forged = key.sign_checkpoint(n, &Hash::from([7; 32])).unwrap();
        let err = check_receipts(
            &client,
            &policy,
            &[(n, forged.note().to_owned())],
            &evidence,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("split view: this site was given root"),
            "{err}"
        );
        let kept: Vec<_> = std::fs::read_dir(&evidence).unwrap().collect();
        assert_eq!(kept.len(), 1);
        let text = std::fs::read_to_string(kept[0].as_ref().unwrap().path()).unwrap();
        assert!(
            text.contains(forged.note()) && text.contains("— witness.demo."),
            "{text}"
        );

        // Firing: an older checkpoint that the cosigned one does not extend.
        let older = key.sign_checkpoint(n - 1, &Hash::from([8; 32])).unwrap();
        let err = check_receipts(
            &client,
            &policy,
            &[(n - 1, older.note().to_owned())],
            &evidence,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("is not in the cosigned history"), "{err}");
        drop(server);
        drop(witness);
    }
}
