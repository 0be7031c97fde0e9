//! What the police (and the regulator and auditors) ask about one serial or
//! one ammunition lot: the lost-and-stolen register's answer with its map
//! proof checked against the log key pinned at sign-in, and a lot's trace
//! with the balance per holder after each act. Each asks the server's own
//! handler (`/v1/serials/{serial}`, `/v1/lots/{lot}/trace`,
//! `/v1/lots/{lot}/dossier`) with the session's caller.

use armsledger_core::report::LotTrace;
use armsledger_core::rules::state::RegisterSource;
use armsledger_log::LogVerifier;
use armsledger_server::ApiError;
use armsledger_server::routes::export;
use armsledger_server::routes::extract::{Path, Query};
use armsledger_server::routes::lot::{self, LotTraceQuery};
use armsledger_server::routes::register::{self, SerialCheck};
use armsledger_server::serial_proof::{SerialProven, verify_serial_answer};
use axum::extract::State;
use axum::response::{Html, Response};
use serde::Deserialize;

use crate::Console;
use crate::auth::Signed;
use crate::error::ConsoleError;
use crate::views::{CheckSerialPage, LotPage, LotStepRow, LotView, SerialAnswer};

/// `?serial=` of the check-serial form.
#[derive(Debug, Default, Deserialize)]
pub struct SerialForm {
    /// The serial as typed.
    pub serial: Option<String>,
}

/// What the map proof showed, checked with the pinned log key (the same
/// check as `armsledger check-serial`): the checkpoint's size and whether
/// the serial has a leaf.
pub fn verify_serial(check: &SerialCheck, pinned: &str) -> Result<SerialProven, String> {
    let log = LogVerifier::from_vkey(pinned)
        .map_err(|e| format!("the pinned log key is not a verifier key: {e}"))?;
    verify_serial_answer(&check.parts(), &log).map_err(|e| e.to_string())
}

fn register_words(r: &RegisterSource) -> String {
    match r {
        RegisterSource::LossReport { site, entry, kind } => {
            format!("{kind:?} reported by site {site} (entry {entry})").to_lowercase()
        }
        RegisterSource::Notice {
            reference,
            entry,
            source,
        } => format!(
            "notice {reference} from {} ({}) (regulator entry {entry})",
            source.agency, source.country
        ),
    }
}

fn answer(check: &SerialCheck, pinned: &str) -> SerialAnswer {
    let (verdict, failed) = match verify_serial(check, pinned) {
        Ok(SerialProven {
            size,
            present: false,
        }) => (
            format!(
                "{}: not in the register as of checkpoint {size} (absence proof verified with the pinned log key)",
                check.serial
            ),
            false,
        ),
        Ok(SerialProven {
            size,
            present: true,
        }) => (
            format!(
                "{}: recorded in the register as of checkpoint {size} (map proof verified with the pinned log key)",
                check.serial
            ),
            false,
        ),
        Err(e) => (format!("NOT VERIFIED: {e}"), true),
    };
    SerialAnswer {
        serial: check.serial.clone(),
        verdict,
        failed,
        reported: check.firearms.iter().any(|f| !f.reported.is_empty())
            || !check.notices.is_empty(),
        firearms: check
            .firearms
            .iter()
            .map(|f| {
                let on_register: Vec<String> = f.reported.iter().map(register_words).collect();
                (
                    f.serial.clone(),
                    format!("{} {}", f.manufacturer, f.model),
                    f.site.to_string(),
                    f.state.to_string(),
                    if on_register.is_empty() {
                        "not reported lost or stolen".to_string()
                    } else {
                        on_register.join("; ")
                    },
                )
            })
            .collect(),
        notices: check
            .notices
            .iter()
            .map(|n| {
                format!(
                    "notice {} from {} ({}): {} {} {} (regulator entry {})",
                    n.reference,
                    n.source.agency,
                    n.source.country,
                    n.firearm.manufacturer,
                    n.firearm
                        .model
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                    n.firearm.serial,
                    n.entry
                )
            })
            .collect(),
        checkpoint: check.checkpoint.clone(),
    }
}

/// `GET /console/check-serial?serial=`.
pub async fn check_serial(
    State(c): State<Console>,
    s: Signed,
    axum::extract::Query(q): axum::extract::Query<SerialForm>,
) -> Result<Html<String>, ConsoleError> {
    let typed = super::given(&q.serial).unwrap_or_default();
    let result = if typed.is_empty() {
        // The form alone: refused to roles the API refuses serial checks.
        if !s.role().reads_every_site() {
            return Err(ConsoleError::Api(s.caller.forbidden("check serials")));
        }
        None
    } else {
        let axum::Json(check) = register::serial(
            State(c.shared.clone()),
            s.caller.clone(),
            Path(typed.clone()),
        )
        .await?;
        Some(answer(&check, &s.session.log_key))
    };
    super::html(&CheckSerialPage {
        nav: super::nav(&s, "check-serial"),
        query: typed,
        result,
    })
}

/// `?lot=&view=&held_from=&held_until=` of the lot trace.
#[derive(Debug, Default, Deserialize)]
pub struct LotForm {
    /// Lot number as marked (any spacing or case) or the lot's ledger id.
    pub lot: Option<String>,
    /// `corrected`, `original` or `both`.
    pub view: Option<String>,
    /// Held-between window start (date).
    pub held_from: Option<String>,
    /// Held-between window end (date).
    pub held_until: Option<String>,
}

fn lot_view(t: &LotTrace) -> LotView {
    let id = &t.identity;
    LotView {
        lot: t.lot.to_string(),
        description: format!(
            "{} {} {} {:?}{}",
            id.lot_number,
            id.manufacturer,
            id.calibre,
            id.kind,
            id.year.map(|y| format!(", {y}")).unwrap_or_default()
        ),
        complete: t.complete,
        balances: t
            .balances
            .iter()
            .map(|h| (h.site.to_string(), h.holder.to_string(), h.rounds))
            .collect(),
        steps: t
            .steps
            .iter()
            .map(|st| LotStepRow {
                index: st.event.index,
                time: st.event.time.rfc3339(),
                site: st.event.chain.to_string(),
                officer: st.event.officer.to_string(),
                kind: st.event.kind.to_string(),
                summary: st.event.summary.clone(),
                changes: st
                    .changes
                    .iter()
                    .map(|ch| format!("{} at {}: {} → {}", ch.holder, ch.site, ch.before, ch.after))
                    .collect(),
                balances: st
                    .balances
                    .iter()
                    .map(|h| format!("{} at {}: {}", h.holder, h.site, h.rounds))
                    .collect(),
                flags: st
                    .flags
                    .iter()
                    .map(|f| {
                        format!(
                            "at {}: expected {}, found {} (entry {})",
                            f.site, f.expected, f.found, f.entry
                        )
                    })
                    .collect(),
            })
            .collect(),
        held: t.held_between.as_ref().map(|w| {
            w.holders
                .iter()
                .map(|h| {
                    format!(
                        "{} at {}: {} at the start, at most {}, {} at the end",
                        h.holder, h.site, h.at_start, h.most, h.at_end
                    )
                })
                .collect()
        }),
    }
}

/// `GET /console/lots?lot=`.
pub async fn lot_page(
    State(c): State<Console>,
    s: Signed,
    axum::extract::Query(q): axum::extract::Query<LotForm>,
) -> Result<Html<String>, ConsoleError> {
    let typed = super::given(&q.lot).unwrap_or_default();
    let view = super::given(&q.view).unwrap_or_else(|| "corrected".into());
    let held_from = super::given(&q.held_from);
    let held_until = super::given(&q.held_until);
    let (lots, checkpoint, searched) = if typed.is_empty() {
        (Vec::new(), None, false)
    } else {
        match lot::trace(
            State(c.shared.clone()),
            s.caller.clone(),
            Path(typed.clone()),
            Query(LotTraceQuery {
                view: Some(view.clone()),
                held_from: held_from.clone(),
                held_until: held_until.clone(),
            }),
        )
        .await
        {
            Ok(axum::Json(t)) => (
                t.lots.iter().map(|l| lot_view(&l.trace)).collect(),
                t.checkpoint,
                true,
            ),
            // Not found and not the caller's look the same, as in the API.
            Err(ApiError::NotFound(_)) => (Vec::new(), None, true),
            Err(e) => return Err(e.into()),
        }
    };
    super::html(&LotPage {
        nav: super::nav(&s, "lots"),
        query: typed,
        view,
        held_from: held_from.unwrap_or_default(),
        held_until: held_until.unwrap_or_default(),
        lots,
        checkpoint,
        searched,
    })
}

/// `GET /console/lots/{lot}/dossier`: the lot's dossier, as the API gives it.
pub async fn lot_dossier(
    State(c): State<Console>,
    s: Signed,
    axum::extract::Path(lot): axum::extract::Path<String>,
) -> Result<Response, ConsoleError> {
    Ok(export::lot_dossier(State(c.shared.clone()), s.caller.clone(), Path(lot)).await?)
}
