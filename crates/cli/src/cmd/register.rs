//! The lost-and-stolen register and trace requests: `check-serial` (the
//! police's, an inspector's or the regulator's lookup, with the verifiable
//! index's proof checked here before anything is printed), the regulator's
//! `notice-stolen`, `withdraw-notice`, `trace-request` and `trace-requests`.

// `serde_json::Value`'s `Index` yields `Null` for a missing key or a
// non-object; it never panics, which is what this lint guards against.
#![allow(clippy::indexing_slicing)]

use anyhow::{Context, bail};
use armsledger_agents::client::LedgerServer;
use armsledger_core::event::{NoticeSource, NoticeWithdrawal, NoticedFirearm, RegulatorEvent};
use armsledger_core::ids::{CompanyId, Country, Ident, Name, Timestamp};
use armsledger_log::LogVerifier;
use armsledger_server::serial_proof::{SerialAnswerParts, verify_serial_answer};
use clap::{Args, ValueEnum};
use serde_json::Value;

use crate::cmd::act::parse_time;
use crate::cmd::query::{ServerArgs, enc};
use crate::cmd::regulator::RegArgs;
use crate::out;

/// Options of `check-serial`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  armsledger check-serial \"xy 999\" --server http://127.0.0.1:8640 --token $TOKEN\n  armsledger check-serial GLK-1081 --trusted-key log.vkey --json\n\nThe answer's map proof (or absence proof) is checked against the checkpoint's signature and its\narmsledger-index/v1 root before anything is printed; exit code 1 when it does not verify.\nWithout --trusted-key the log key is fetched from the same server (it says so)."
)]
pub struct CheckSerialArgs {
    /// Serial as marked (spacing, hyphens and case do not matter).
    pub serial: String,
    #[command(flatten)]
    pub server: ServerArgs,
    /// The log's verifier key (C2SP vkey text, or a file holding it).
    #[arg(long)]
    pub trusted_key: Option<String>,
    /// Print JSON (the server's answer, with what was verified).
    #[arg(long)]
    pub json: bool,
}

/// What a serial check proved, once verified.
#[derive(Debug, PartialEq, Eq)]
pub struct Proven {
    /// The checkpoint's tree size.
    pub size: u64,
    /// Whether the map holds a leaf for the serial.
    pub present: bool,
    /// Where the log key came from.
    pub key_source: String,
}

/// Checks a `GET /v1/serials/{serial}` answer: the checkpoint's signature
/// with `log`, its index root, and the map proof for `serial`'s key against
/// it (the value shown must be the one the leaf commits to, and none for an
/// absent serial); and that the answer's `recorded` agrees
/// (`armsledger_server::serial_proof`, the check the console makes too).
pub fn verify_answer(answer: &Value, serial: &str, log: &LogVerifier) -> anyhow::Result<Proven> {
    let parts = SerialAnswerParts {
        checkpoint: answer["checkpoint"]
            .as_str()
            .context("the answer carries no checkpoint")?,
        serial,
        map_key: answer["map_key"].as_str().unwrap_or_default(),
        value: answer["value"].as_str(),
        proof: answer["proof"].as_str().context("no proof in the answer")?,
        recorded: answer["recorded"].as_bool().unwrap_or(false),
        lists_firearms: answer["firearms"].as_array().is_some_and(|a| !a.is_empty()),
    };
    let p = verify_serial_answer(&parts, log)?;
    Ok(Proven {
        size: p.size,
        present: p.present,
        key_source: String::new(),
    })
}

fn log_key(a: &CheckSerialArgs) -> anyhow::Result<(LogVerifier, String)> {
    match &a.trusted_key {
        Some(k) => {
            let text = std::fs::read_to_string(k).unwrap_or_else(|_| k.clone());
            let v = LogVerifier::from_vkey(text.trim())
                .with_context(|| format!("--trusted-key {k} is not a C2SP verifier key"))?;
            Ok((v, format!("--trusted-key {k}")))
        }
        None => {
            let text = a.server.client().log_key()?;
            let v = LogVerifier::from_vkey(&text).with_context(|| {
                format!("{}/v1/log/key is not a C2SP verifier key", a.server.server)
            })?;
            Ok((
                v,
                format!(
                    "the key {} itself serves (pin it with --trusted-key)",
                    a.server.server
                ),
            ))
        }
    }
}

/// Runs `check-serial`.
pub fn check_serial(a: CheckSerialArgs) -> anyhow::Result<u8> {
    let (log, key_source) = log_key(&a)?;
    let mut answer: Value = a
        .server
        .client()
        .get_json(&format!("/v1/serials/{}", enc(&a.serial)))?;
    let proven = match verify_answer(&answer, &a.serial, &log) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("NOT VERIFIED: {e:#}");
            return Ok(1);
        }
    };
    answer["verified"] = serde_json::json!({
        "checkpoint_size": proven.size,
        "present": proven.present,
        "log_key": key_source,
    });
    if a.json {
        out::json(&answer)?;
        return Ok(0);
    }
    print!("{}", render(&answer, &proven, &key_source));
    Ok(0)
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

fn register_words(r: &Value) -> String {
    match s(&r["record"]) {
        "loss-report" => format!(
            "{} reported by site {} (entry {})",
            s(&r["kind"]),
            s(&r["site"]),
            s(&r["entry"]).get(..16).unwrap_or("")
        ),
        _ => format!(
            "notice {} from {} ({}) (regulator entry {})",
            s(&r["reference"]),
            s(&r["source"]["agency"]),
            s(&r["source"]["country"]),
            s(&r["entry"]).get(..16).unwrap_or("")
        ),
    }
}

fn render(a: &Value, p: &Proven, key_source: &str) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let serial = s(&a["serial"]);
    if !p.present {
        let _ = writeln!(
            o,
            "{serial}: not in the register as of checkpoint {} (absence proof verified)",
            p.size
        );
    } else {
        let _ = writeln!(
            o,
            "{serial}: in the register as of checkpoint {} (map proof verified)",
            p.size
        );
    }
    for f in a["firearms"].as_array().into_iter().flatten() {
        let reported: Vec<String> = f["reported"]
            .as_array()
            .into_iter()
            .flatten()
            .map(register_words)
            .collect();
        let _ = writeln!(
            o,
            "  {} {} serial {}: recorded at site {} (company {}), now {}{}",
            s(&f["manufacturer"]),
            s(&f["model"]),
            s(&f["serial"]),
            s(&f["site"]),
            f["company"].as_str().unwrap_or("?"),
            s(&f["state"]),
            if reported.is_empty() {
                "; not reported lost or stolen".to_string()
            } else {
                format!("; REPORTED LOST OR STOLEN: {}", reported.join("; "))
            }
        );
    }
    for n in a["notices"].as_array().into_iter().flatten() {
        let _ = writeln!(
            o,
            "  NOTICE {} from {} ({}): {} {} serial {} (regulator entry {})",
            s(&n["reference"]),
            s(&n["source"]["agency"]),
            s(&n["source"]["country"]),
            s(&n["firearm"]["manufacturer"]),
            n["firearm"]["model"].as_str().unwrap_or(""),
            s(&n["firearm"]["serial"]),
            s(&n["entry"]).get(..16).unwrap_or("")
        );
    }
    let _ = writeln!(o, "log key: {key_source}");
    o
}

/// Why a notice is withdrawn.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum WithdrawalArg {
    /// The firearm was recovered.
    Recovered,
    /// The notice was entered in error.
    EnteredInError,
    /// The sending agency cancelled it.
    CancelledBySource,
}

impl From<WithdrawalArg> for NoticeWithdrawal {
    fn from(a: WithdrawalArg) -> Self {
        match a {
            WithdrawalArg::Recovered => NoticeWithdrawal::Recovered,
            WithdrawalArg::EnteredInError => NoticeWithdrawal::EnteredInError,
            WithdrawalArg::CancelledBySource => NoticeWithdrawal::CancelledBySource,
        }
    }
}

/// `regulator notice-stolen`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger regulator notice-stolen --reference FR-2026-0042 --agency ISTRAC --country FR --manufacturer Glock --serial XY-999\n\nThe notice enters the lost-and-stolen register: every later acquisition, transfer in or recovery\nof a firearm with that maker and serial (normalised) raises the critical stolen-hit alert."
)]
pub struct NoticeArgs {
    #[command(flatten)]
    pub reg: RegArgs,
    /// The notice's reference (the sender's, or the regulator's own).
    #[arg(long)]
    pub reference: Ident,
    /// The sending agency's code (a police force, Interpol).
    #[arg(long)]
    pub agency: Ident,
    /// The agency's country (ISO 3166 alpha-2, e.g. FR).
    #[arg(long, value_parser = parse_country)]
    pub country: Country,
    /// Maker as marked.
    #[arg(long)]
    pub manufacturer: Name,
    /// Model, when the notice gives it.
    #[arg(long)]
    pub model: Option<Name>,
    /// Serial as marked.
    #[arg(long)]
    pub serial: Name,
}

impl NoticeArgs {
    /// The event it records.
    pub fn event(self) -> RegulatorEvent {
        RegulatorEvent::StolenNoticeRecorded {
            reference: self.reference,
            source: NoticeSource {
                agency: self.agency,
                country: self.country,
            },
            firearm: NoticedFirearm {
                manufacturer: self.manufacturer,
                model: self.model,
                serial: self.serial,
            },
        }
    }
}

/// `regulator withdraw-notice`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger regulator withdraw-notice --reference FR-2026-0042 --reason recovered"
)]
pub struct WithdrawArgs {
    #[command(flatten)]
    pub reg: RegArgs,
    /// The notice's reference.
    #[arg(long)]
    pub reference: Ident,
    /// Why.
    #[arg(long, value_enum)]
    pub reason: WithdrawalArg,
}

/// `regulator trace-request`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  armsledger regulator trace-request --reference TR-7 --serial \"GLK 1081\" --company acme --deadline 2026-07-01\n\nThe company answers with `armsledger trace-answer --request TR-7 …` on one of its sites;\nunanswered after the deadline, the trace-overdue alert fires."
)]
pub struct TraceRequestArgs {
    #[command(flatten)]
    pub reg: RegArgs,
    /// The request's reference.
    #[arg(long)]
    pub reference: Ident,
    /// The serial asked about.
    #[arg(long)]
    pub serial: Name,
    /// The company asked.
    #[arg(long)]
    pub company: CompanyId,
    /// Answer by then (RFC 3339 time or date).
    #[arg(long, value_parser = parse_time)]
    pub deadline: Timestamp,
}

/// `regulator trace-requests`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  armsledger regulator trace-requests --server http://127.0.0.1:8640 --token $TOKEN\n  armsledger regulator trace-requests --status overdue --json"
)]
pub struct TraceRequestsArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Only open, answered or overdue requests.
    #[arg(long, value_parser = ["open", "answered", "overdue"])]
    pub status: Option<String>,
    /// Only those addressed to this company.
    #[arg(long)]
    pub company: Option<CompanyId>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Lists trace requests from the server.
pub fn trace_requests(a: TraceRequestsArgs) -> anyhow::Result<u8> {
    let mut q = Vec::new();
    if let Some(s) = &a.status {
        q.push(format!("status={}", enc(s)));
    }
    if let Some(c) = &a.company {
        q.push(format!("company={}", enc(c.as_str())));
    }
    let path = if q.is_empty() {
        "/v1/trace-requests".to_string()
    } else {
        format!("/v1/trace-requests?{}", q.join("&"))
    };
    let rows: Value = a.server.client().get_json(&path)?;
    if a.json {
        out::json(&rows)?;
        return Ok(0);
    }
    let rows = rows.as_array().cloned().unwrap_or_default();
    if rows.is_empty() {
        println!("no trace requests");
        return Ok(0);
    }
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                s(&r["reference"]).to_string(),
                s(&r["status"]).to_string(),
                s(&r["serial"]).to_string(),
                s(&r["company"]).to_string(),
                s(&r["deadline"]).to_string(),
                match &r["answer"] {
                    Value::Null => String::new(),
                    ans => format!(
                        "{} by site {} ({})",
                        s(&ans["outcome"]),
                        s(&ans["site"]),
                        s(&ans["entry"]).get(..16).unwrap_or("")
                    ),
                },
            ]
        })
        .collect();
    println!(
        "{}",
        out::table(
            &[
                "reference",
                "status",
                "serial",
                "company",
                "deadline",
                "answer"
            ],
            table,
        )
    );
    Ok(0)
}

/// `regulator trace-request`'s event.
pub fn trace_request_event(a: TraceRequestArgs) -> anyhow::Result<(RegArgs, RegulatorEvent)> {
    if armsledger_core::model::normalise(a.serial.as_str()).is_empty() {
        bail!("--serial {:?} has no letter or digit", a.serial.as_str());
    }
    Ok((
        a.reg,
        RegulatorEvent::TraceRequested {
            reference: a.reference,
            serial: a.serial,
            company: a.company,
            deadline: a.deadline,
        },
    ))
}

fn parse_country(s: &str) -> Result<Country, String> {
    Country::new(s).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use armsledger_core::testkit::Scenario;
    use armsledger_index::{MapKey, MemStore};
    use armsledger_log::LogKey;

    use super::*;

    /// A map over a scenario with pistols `AB-123` and `CD-456`, a signed
    /// checkpoint committing to its root, and the log's verifier.
    fn world() -> (MemStore, String, LogVerifier) {
        let mut s = Scenario::standard();
        s.acquire("north", "AB-123");
        s.acquire("north", "CD-456");
        let mut map = MemStore::default();
        let root = armsledger_index::apply(
            &mut map,
            s.log
                .iter()
                .enumerate()
                .map(|(i, e)| (i as u64, e.as_ref())),
        )
        .unwrap();
        let key = LogKey::from_seed("example.org/log", &[7; 32]).unwrap();
        let note = key
            .sign_checkpoint_indexed(
                s.log.len() as u64,
                &armsledger_log::Hash([1; 32]),
                Some(&armsledger_log::Hash(root.0)),
            )
            .unwrap()
            .into_note();
        (map, note, key.verifier())
    }

    /// The answer a server gives for `serial` (firearms omitted).
    fn answer(map: &MemStore, note: &str, serial: &str) -> Value {
        let key = MapKey::serial(serial);
        let (value, proof) = armsledger_index::lookup(map, &key).unwrap();
        serde_json::json!({
            "serial": serial,
            "recorded": value.is_some(),
            "firearms": [],
            "checkpoint": note,
            "map_key": key.to_string(),
            "value": value.map(|v| hex::encode(v.encode())),
            "proof": hex::encode(proof.encode()),
        })
    }

    #[test]
    fn a_recorded_serial_and_a_never_recorded_one_verify() {
        let (map, note, log) = world();
        let p = verify_answer(&answer(&map, &note, "ab 123"), "ab 123", &log).unwrap();
        assert!(p.present);
        let p = verify_answer(&answer(&map, &note, "ZZ-1"), "ZZ-1", &log).unwrap();
        assert!(!p.present, "absence proof of a never-recorded serial");
    }

    #[test]
    fn a_forged_absence_proof_for_a_recorded_serial_fails() {
        let (map, note, log) = world();
        // The real proof, with the leaf value withheld: "not recorded".
        let mut a = answer(&map, &note, "AB-123");
        a["value"] = Value::Null;
        a["recorded"] = Value::Bool(false);
        let e = verify_answer(&a, "AB-123", &log).unwrap_err();
        assert!(
            format!("{e:#}").contains("map proof does not verify"),
            "{e:#}"
        );
        // Another serial's absence proof presented for this one.
        let mut a = answer(&map, &note, "ZZ-1");
        a["serial"] = "AB-123".into();
        a["map_key"] = MapKey::serial("AB-123").to_string().into();
        let e = verify_answer(&a, "AB-123", &log).unwrap_err();
        assert!(
            format!("{e:#}").contains("map proof does not verify"),
            "{e:#}"
        );
        // A checkpoint by another key.
        let other = LogKey::from_seed("example.org/log", &[8; 32]).unwrap();
        let e = verify_answer(&answer(&map, &note, "ZZ-1"), "ZZ-1", &other.verifier()).unwrap_err();
        assert!(format!("{e:#}").contains("signature"), "{e:#}");
        // An answer for another serial than asked.
        let e = verify_answer(&answer(&map, &note, "ZZ-1"), "AB-123", &log).unwrap_err();
        assert!(format!("{e:#}").contains("another map key"), "{e:#}");
    }
}
