//! C2SP tlog-policy: which logs a client trusts, which witnesses, and how
//! many of them must have cosigned a checkpoint before the client accepts it.
//!
//! ```text
//! # comment lines and blank lines are ignored
//! log <log vkey> [<submission URL>]
//! witness <name> <cosignature/v1 vkey> [<submission URL>]
//! group <name> all|any|<k> <member name>...
//! quorum <name>|none
//! ```
//!
//! Names (witnesses and groups share one namespace) must be defined before
//! a group or the quorum uses them; `none` is reserved. A group is satisfied
//! when at least `k` of its members are (`any` = 1, `all` = every member);
//! a witness is satisfied when the checkpoint carries a valid cosignature
//! from it. There is exactly one `quorum` line.

use crate::{
    Checkpoint, CheckpointNote, Cosignature, CosignatureVerifier, LogError, LogVerifier,
    checkpoint::parse_decimal,
};

/// Largest policy text [`Policy::parse`] reads, checked before parsing.
pub const MAX_POLICY_BYTES: usize = 64 * 1024;

/// A log the policy trusts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyLog {
    verifier: LogVerifier,
    url: Option<String>,
}

impl PolicyLog {
    /// The log's key; its name is the log's origin.
    pub fn verifier(&self) -> &LogVerifier {
        &self.verifier
    }

    /// Where the log takes submissions, if the policy says.
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }
}

/// A witness the policy names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyWitness {
    name: String,
    verifier: CosignatureVerifier,
    url: Option<String>,
}

impl PolicyWitness {
    /// The witness's name in the policy (groups refer to it).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The witness's cosignature/v1 key.
    pub fn verifier(&self) -> &CosignatureVerifier {
        &self.verifier
    }

    /// The witness's submission prefix (`<url>/add-checkpoint`), if the policy says.
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }
}

/// A group member: a witness or an earlier group, by index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Member {
    Witness(usize),
    Group(usize),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Group {
    name: String,
    threshold: usize,
    members: Vec<Member>,
}

/// A parsed C2SP tlog-policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    logs: Vec<PolicyLog>,
    witnesses: Vec<PolicyWitness>,
    groups: Vec<Group>,
    /// `None` is `quorum none`.
    quorum: Option<Member>,
}

/// A checkpoint whose log signature verified under a policy, with the
/// policy witnesses whose cosignatures verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CosignedCheckpoint {
    note: CheckpointNote,
    cosigned: Vec<(String, u64)>,
    quorum_met: bool,
}

impl CosignedCheckpoint {
    /// Origin, size and root.
    pub fn checkpoint(&self) -> &Checkpoint {
        self.note.checkpoint()
    }

    /// The parsed note, every signature line included.
    pub fn note(&self) -> &CheckpointNote {
        &self.note
    }

    /// Policy witness names with a valid cosignature, and its timestamp.
    pub fn cosigned(&self) -> &[(String, u64)] {
        &self.cosigned
    }

    /// Whether the policy's quorum is met.
    pub fn quorum_met(&self) -> bool {
        self.quorum_met
    }
}

impl Policy {
    /// Parses a policy file; see the module docs for the grammar.
    pub fn parse(text: &str) -> Result<Self, LogError> {
        if text.len() > MAX_POLICY_BYTES {
            return Err(LogError::InputTooLarge {
                what: "policy",
                len: text.len(),
                max: MAX_POLICY_BYTES,
            });
        }
        let mut policy = Policy {
            logs: Vec::new(),
            witnesses: Vec::new(),
            groups: Vec::new(),
            quorum: None,
        };
        let mut quorum_seen = false;
        for (n, raw) in text.lines().enumerate() {
            let line = n + 1;
            let fail = |reason: String| LogError::PolicyMalformed { line, reason };
            let tokens: Vec<&str> = raw.split_ascii_whitespace().collect();
            match tokens.as_slice() {
                [] => {}
                [first, ..] if first.starts_with('#') => {}
                ["log", vkey, url @ ..] if url.len() <= 1 => {
                    let verifier =
                        LogVerifier::from_vkey(vkey).map_err(|e| fail(format!("log key: {e}")))?;
                    if policy.logs.iter().any(|l| l.verifier == verifier) {
                        return Err(fail("the same log key is listed twice".into()));
                    }
                    policy.logs.push(PolicyLog {
                        verifier,
                        url: url.first().map(|u| (*u).to_owned()),
                    });
                }
                ["witness", name, vkey, url @ ..] if url.len() <= 1 => {
                    policy.check_new_name(name).map_err(fail)?;
                    let verifier = CosignatureVerifier::from_vkey(vkey)
                        .map_err(|e| fail(format!("witness key: {e}")))?;
                    if policy
                        .witnesses
                        .iter()
                        .any(|w| w.verifier.public_key() == verifier.public_key())
                    {
                        return Err(fail(
                            "the same witness key is listed twice (never use one key under two names)"
                                .into(),
                        ));
                    }
                    policy.witnesses.push(PolicyWitness {
                        name: (*name).to_owned(),
                        verifier,
                        url: url.first().map(|u| (*u).to_owned()),
                    });
                }
                ["group", name, threshold, members @ ..] if !members.is_empty() => {
                    policy.check_new_name(name).map_err(fail)?;
                    let mut resolved = Vec::with_capacity(members.len());
                    for member in members {
                        let m = policy
                            .lookup(member)
                            .ok_or_else(|| fail(format!("{member:?} is not defined above")))?;
                        if resolved.contains(&m) {
                            return Err(fail(format!("{member:?} is listed twice")));
                        }
                        resolved.push(m);
                    }
                    let threshold = match *threshold {
                        "all" => resolved.len(),
                        "any" => 1,
                        k => parse_decimal(k)
                            .and_then(|k| usize::try_from(k).ok())
                            .filter(|k| (1..=resolved.len()).contains(k))
                            .ok_or_else(|| {
                                fail(format!(
                                    "threshold {k:?} must be all, any or 1 to {}",
                                    resolved.len()
                                ))
                            })?,
                    };
                    policy.groups.push(Group {
                        name: (*name).to_owned(),
                        threshold,
                        members: resolved,
                    });
                }
                ["quorum", name] => {
                    if quorum_seen {
                        return Err(fail("a second quorum line".into()));
                    }
                    quorum_seen = true;
                    policy.quorum = match *name {
                        "none" => None,
                        other => Some(
                            policy
                                .lookup(other)
                                .ok_or_else(|| fail(format!("{other:?} is not defined above")))?,
                        ),
                    };
                }
                [keyword, ..] => {
                    return Err(fail(format!(
                        "cannot read this {keyword:?} line (expected log, witness, group or quorum with their arguments)"
                    )));
                }
            }
        }
        if !quorum_seen {
            return Err(LogError::PolicyMalformed {
                line: text.lines().count(),
                reason: "no quorum line (write `quorum none` to require no witness)".into(),
            });
        }
        Ok(policy)
    }

    /// The logs the policy trusts.
    pub fn logs(&self) -> &[PolicyLog] {
        &self.logs
    }

    /// The witnesses the policy names.
    pub fn witnesses(&self) -> &[PolicyWitness] {
        &self.witnesses
    }

    /// The quorum's name, `None` for `quorum none`.
    pub fn quorum_name(&self) -> Option<&str> {
        self.quorum.map(|m| self.member_name(m))
    }

    /// Whether the quorum is met when exactly the named witnesses cosigned.
    pub fn quorum_met(&self, cosigned: &[&str]) -> bool {
        let Some(quorum) = self.quorum else {
            return true;
        };
        let witness_ok: Vec<bool> = self
            .witnesses
            .iter()
            .map(|w| cosigned.contains(&w.name.as_str()))
            .collect();
        // Groups only name earlier groups, so one pass in order settles them.
        let mut group_ok: Vec<bool> = Vec::with_capacity(self.groups.len());
        for group in &self.groups {
            let satisfied = group
                .members
                .iter()
                .filter(|m| match m {
                    Member::Witness(i) => witness_ok.get(*i).copied().unwrap_or(false),
                    Member::Group(i) => group_ok.get(*i).copied().unwrap_or(false),
                })
                .count();
            group_ok.push(satisfied >= group.threshold);
        }
        match quorum {
            Member::Witness(i) => witness_ok.get(i).copied().unwrap_or(false),
            Member::Group(i) => group_ok.get(i).copied().unwrap_or(false),
        }
    }

    /// Opens a checkpoint note: the log's signature must verify under a
    /// policy log with the note's origin; cosignatures by policy witnesses
    /// are verified and counted. Does not require the quorum.
    ///
    /// A cosignature line by a policy witness that does not verify is not
    /// counted (and does not fail the note: anyone could append one).
    pub fn check(&self, note: &[u8]) -> Result<CosignedCheckpoint, LogError> {
        let note = CheckpointNote::parse(note)?;
        let origin = note.checkpoint().origin();
        let keys: Vec<LogVerifier> = self
            .logs
            .iter()
            .filter(|l| l.verifier.name() == origin)
            .map(|l| l.verifier.clone())
            .collect();
        if keys.is_empty() {
            return Err(LogError::LogNotInPolicy(origin.to_owned()));
        }
        note.verify_log(&keys)?;
        let mut cosigned: Vec<(String, u64)> = Vec::new();
        for witness in &self.witnesses {
            let valid = note
                .signatures()
                .iter()
                .filter(|line| witness.verifier.is_signer_of(line))
                .filter_map(|line| Cosignature::from_note_signature(line).ok())
                .find(|c| witness.verifier.verify(note.body(), c).is_ok());
            if let Some(c) = valid {
                cosigned.push((witness.name.clone(), c.timestamp()));
            }
        }
        let names: Vec<&str> = cosigned.iter().map(|(n, _)| n.as_str()).collect();
        let quorum_met = self.quorum_met(&names);
        Ok(CosignedCheckpoint {
            note,
            cosigned,
            quorum_met,
        })
    }

    /// [`Policy::check`], then requires the quorum (`QuorumNotMet`).
    pub fn verify(&self, note: &[u8]) -> Result<CosignedCheckpoint, LogError> {
        let checked = self.check(note)?;
        if !checked.quorum_met {
            return Err(LogError::QuorumNotMet {
                quorum: self.quorum_name().unwrap_or("none").to_owned(),
                cosigned: checked.cosigned.iter().map(|(n, _)| n.clone()).collect(),
            });
        }
        Ok(checked)
    }

    fn lookup(&self, name: &str) -> Option<Member> {
        if let Some(i) = self.witnesses.iter().position(|w| w.name == name) {
            return Some(Member::Witness(i));
        }
        self.groups
            .iter()
            .position(|g| g.name == name)
            .map(Member::Group)
    }

    fn member_name(&self, member: Member) -> &str {
        match member {
            Member::Witness(i) => self.witnesses.get(i).map_or("", |w| w.name.as_str()),
            Member::Group(i) => self.groups.get(i).map_or("", |g| g.name.as_str()),
        }
    }

    fn check_new_name(&self, name: &str) -> Result<(), String> {
        if name == "none" {
            return Err("the name `none` is reserved for `quorum none`".into());
        }
        if self.lookup(name).is_some() {
            return Err(format!("{name:?} is already defined"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CosignerKey;

    fn witness(i: u8) -> CosignerKey {
        CosignerKey::from_seed(&format!("w{i}.example"), &[i; 32]).unwrap()
    }

    fn policy(groups: &str) -> Policy {
        let log = crate::LogKey::from_seed("log.example", &[1; 32]).unwrap();
        let mut text = format!("log {}\n", log.verifier());
        for i in 1..=4 {
            text += &format!("witness W{i} {}\n", witness(i).verifier());
        }
        Policy::parse(&(text + groups)).unwrap()
    }

    #[test]
    fn quorum_evaluation() {
        let p = policy("group A 2 W1 W2 W3\ngroup B any W4\ngroup Q all A B\nquorum Q\n");
        assert_eq!(p.quorum_name(), Some("Q"));
        assert!(p.quorum_met(&["W1", "W2", "W4"]));
        assert!(p.quorum_met(&["W1", "W3", "W4", "W2"]));
        assert!(!p.quorum_met(&["W1", "W4"]));
        assert!(!p.quorum_met(&["W1", "W2", "W3"]));
        assert!(!p.quorum_met(&[]));
        let single = policy("quorum W2\n");
        assert!(single.quorum_met(&["W2"]));
        assert!(!single.quorum_met(&["W1"]));
        let none = policy("quorum none\n");
        assert!(none.quorum_met(&[]));
        assert_eq!(none.quorum_name(), None);
    }

    #[test]
    fn malformed_policies_name_their_line() {
        for (groups, line) in [
            ("quorum X\n", 6),
            ("group A 3 W1 W2\nquorum A\n", 6),
            ("group A 0 W1\nquorum A\n", 6),
            ("group A 01 W1\nquorum A\n", 6),
            ("group A any W1 W1\nquorum A\n", 6),
            ("group A any\nquorum A\n", 6),
            ("group W1 any W2\nquorum W1\n", 6),
            ("group none any W2\nquorum none\n", 6),
            ("quorum W1\nquorum W2\n", 7),
            ("quorum\n", 6),
            ("group A any B\ngroup B any W1\nquorum A\n", 6),
            ("witnes W5 x\nquorum none\n", 6),
            ("", 5),
        ] {
            match Policy::parse(&format!("{}{groups}", {
                let p = policy("quorum none\n");
                let mut t = format!("log {}\n", p.logs()[0].verifier());
                for w in p.witnesses() {
                    t += &format!("witness {} {}\n", w.name(), w.verifier());
                }
                t
            })) {
                Err(LogError::PolicyMalformed { line: l, .. }) => assert_eq!(l, line, "{groups:?}"),
                other => panic!("{groups:?}: {other:?}"),
            }
        }
        // A witness key listed twice, a log key in a witness line.
        let w = witness(1).verifier();
        assert!(Policy::parse(&format!("witness A {w}\nwitness B {w}\nquorum A\n")).is_err());
        let log = crate::LogKey::from_seed("log.example", &[1; 32]).unwrap();
        assert!(Policy::parse(&format!("witness A {}\nquorum A\n", log.verifier())).is_err());
        assert!(Policy::parse(&"#".repeat(MAX_POLICY_BYTES + 1)).is_err());
    }
}
