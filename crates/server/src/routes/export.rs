//! `GET /v1/export` and `GET /v1/firearms/{serial}/dossier`: bundles that
//! `armsledger verify` checks offline, streamed as they are written.

use std::io::Write;
use std::sync::Arc;

use armsledger_bundle::{BundleWriter, Meta, Scope, ServerFinding};
use armsledger_core::entry::{ChainId, SignedEntry};
use armsledger_core::event::Subject;
use armsledger_core::ids::{CompanyId, SiteId};
use armsledger_store::IndexKey;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::error::ApiError;
use crate::routes::auth::Caller;
use crate::state::Shared;

/// A `Write` that hands chunks to the HTTP body as they fill.
struct ChannelWriter {
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    buf: Vec<u8>,
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= 1 << 16 {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            let chunk = Bytes::from(std::mem::take(&mut self.buf));
            self.tx.blocking_send(Ok(chunk)).map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away")
            })?;
        }
        Ok(())
    }
}

/// Scope of an export.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct ExportQuery {
    /// Only this company's sites (with the regulator chain).
    pub company: Option<String>,
    /// Only this site (with the regulator chain).
    pub site: Option<String>,
    /// Include a consistency proof from this older tree size (the size the client trusts).
    pub since: Option<u64>,
}

fn stream(
    shared: Arc<Shared>,
    scope: Scope,
    since: Option<u64>,
    filename: String,
) -> Result<Response, ApiError> {
    let published = shared
        .latest_checkpoint()
        .ok_or_else(|| ApiError::NotFound("no checkpoint has been signed yet".into()))?;
    let (tx, mut rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(8);
    tokio::task::spawn_blocking(move || {
        let err_tx = tx.clone();
        let mut w = ChannelWriter {
            tx,
            buf: Vec::new(),
        };
        if let Err(e) = write(&shared, &scope, since, &published, &mut w) {
            tracing::error!(error = %e, "export failed midway");
            let _ = err_tx.blocking_send(Err(std::io::Error::other(e)));
        } else {
            let _ = w.flush();
        }
    });
    let body = Body::from_stream(async_stream(&mut rx));
    let mut r = body.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.armsledger.bundle"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}

fn async_stream(
    rx: &mut mpsc::Receiver<Result<Bytes, std::io::Error>>,
) -> impl futures_core::Stream<Item = Result<Bytes, std::io::Error>> + use<> {
    let rx = std::mem::replace(rx, mpsc::channel(1).1);
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

fn write(
    shared: &Shared,
    scope: &Scope,
    since: Option<u64>,
    published: &crate::state::Published,
    out: &mut ChannelWriter,
) -> Result<(), String> {
    let e = |x: &dyn std::fmt::Display| x.to_string();
    let size = published.size;
    let reader = shared.store().read().map_err(|x| e(&x))?;
    let companies: std::collections::HashMap<SiteId, CompanyId> = shared
        .verifier()
        .map_err(|_| "verifier lock".to_string())?
        .engine()
        .state()
        .sites
        .iter()
        .map(|(s, r)| (s.clone(), r.company.clone()))
        .collect();
    let meta = Meta {
        origin: shared.origin().to_owned(),
        log_key: shared.log_vkey().to_string(),
        regulator_key: shared.regulator_key(),
        manufacturer_roots: shared.config().roots().unwrap_or_default(),
        scope: scope.clone(),
        created_at: shared.now(),
    };
    let mut w = BundleWriter::new(&mut *out, &meta).map_err(|x| e(&x))?;
    w.checkpoint(&published.note).map_err(|x| e(&x))?;
    if let Some(old) = since.filter(|o| *o <= size) {
        let proof = reader.consistency_proof(old, size).map_err(|x| e(&x))?;
        w.consistency(old, &proof).map_err(|x| e(&x))?;
    }
    let wanted = |en: &SignedEntry| match (scope, en.chain()) {
        (Scope::All, _) | (_, ChainId::Regulator) => true,
        (Scope::Site(s), ChainId::Site(site)) => s == site,
        (Scope::Company(c), ChainId::Site(site)) => companies.get(site) == Some(c),
        (Scope::Firearm(id), ChainId::Site(_)) => {
            en.body().link_for(&Subject::Firearm(*id)).is_some()
        }
    };
    // A scoped bundle reads only the entries its scope can hold, from the
    // indexes (the filter above still decides); a full one reads them all.
    let chain_indexes = |chain: ChainId| -> Result<Vec<u64>, String> {
        Ok(reader
            .chain_slots(&chain, 0, usize::MAX)
            .map_err(|x| e(&x))?
            .into_iter()
            .map(|(_, i)| i)
            .collect())
    };
    let candidates: Option<Vec<u64>> = match scope {
        Scope::All => None,
        _ => {
            let mut v = chain_indexes(ChainId::Regulator)?;
            match scope {
                Scope::Site(site) => v.extend(chain_indexes(ChainId::Site(site.clone()))?),
                Scope::Company(c) => {
                    for (site, _) in companies.iter().filter(|(_, co)| *co == c) {
                        v.extend(chain_indexes(ChainId::Site(site.clone()))?);
                    }
                }
                Scope::Firearm(id) => {
                    v.extend(reader.indexes(&IndexKey::Firearm(*id)).map_err(|x| e(&x))?)
                }
                Scope::All => {}
            }
            v.retain(|i| *i < size);
            v.sort_unstable();
            v.dedup();
            Some(v)
        }
    };
    let indexes: Box<dyn Iterator<Item = u64>> = match candidates {
        Some(v) => Box::new(v.into_iter()),
        None => Box::new(0..size),
    };
    // Equivocation proofs by the slot they are about (one per slot).
    let equivocations: std::collections::HashMap<(ChainId, u64), armsledger_core::Equivocation> =
        reader
            .equivocations()
            .map_err(|x| e(&x))?
            .into_iter()
            .map(|q| ((q.a.header.chain.clone(), q.counter()), q))
            .collect();
    // Entries written so far (scoped bundles): a finding goes in only when
    // the entry it names is in the bundle.
    let mut written: std::collections::HashSet<armsledger_core::Hash> =
        std::collections::HashSet::new();
    for i in indexes {
        let Some(s) = reader.entry(i).map_err(|x| e(&x))? else {
            return Err(format!("entry {i} missing"));
        };
        if !wanted(&s.entry) {
            continue;
        }
        w.entry(i, Some(s.received_at), s.entry.bytes())
            .map_err(|x| e(&x))?;
        if scope.is_scoped() {
            let proof = reader.inclusion_proof(i, size).map_err(|x| e(&x))?;
            w.inclusion(i, &proof).map_err(|x| e(&x))?;
            written.insert(s.entry.hash());
        }
        // What the server knows about this entry: the findings its
        // acceptance raised, and the proof its key signed another entry at
        // its counter.
        for f in reader.findings(i).map_err(|x| e(&x))? {
            if scope.is_scoped() && !written.contains(&f.entry) {
                continue;
            }
            w.finding(&ServerFinding {
                rule: f.rule.name().to_owned(),
                chain: f.chain,
                counter: f.counter,
                entry: f.entry,
                evidence: f.evidence,
            })
            .map_err(|x| e(&x))?;
        }
        let slot = (s.entry.chain().clone(), s.entry.counter());
        if let Some(q) = equivocations
            .get(&slot)
            .filter(|q| q.a.header == *s.entry.header() || q.b.header == *s.entry.header())
        {
            w.equivocation(q).map_err(|x| e(&x))?;
        }
    }
    w.finish().map_err(|x| e(&x))?;
    Ok(())
}

/// The bundle `armsledger verify` checks: everything, one company, or one site.
#[utoipa::path(get, path = "/v1/export", tag = "query", params(ExportQuery),
    responses((status = 200, description = "bundle (docs/formats.md, Bundles)", content_type = "application/vnd.armsledger.bundle"),
        (status = 403, description = "outside the token's scope")),
    security(("bearer" = [])))]
pub async fn export(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    Query(q): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    let scope = match (&q.company, &q.site) {
        (Some(_), Some(_)) => {
            return Err(ApiError::BadRequest(
                "give company or site, not both".into(),
            ));
        }
        (Some(c), None) => {
            let c: CompanyId = c
                .parse()
                .map_err(|e| ApiError::BadRequest(format!("company: {e}")))?;
            if !caller.0.may_read(None, Some(&c)) {
                return Err(caller.forbidden(&format!("export company {c}")));
            }
            Scope::Company(c)
        }
        (None, Some(s)) => {
            let s: SiteId = s
                .parse()
                .map_err(|e| ApiError::BadRequest(format!("site: {e}")))?;
            let company = shared
                .verifier()
                .ok()
                .and_then(|v| v.engine().state().company_of(&s).cloned());
            if !caller.0.may_read(Some(&s), company.as_ref()) {
                return Err(caller.forbidden(&format!("export site {s}")));
            }
            Scope::Site(s)
        }
        (None, None) => {
            caller.need_all("export the whole log")?;
            Scope::All
        }
    };
    stream(shared, scope, q.since, "armsledger.bundle".into())
}

/// A single-weapon dossier that verifies offline.
#[utoipa::path(get, path = "/v1/firearms/{serial}/dossier", tag = "query",
    params(("serial" = String, Path)),
    responses((status = 200, description = "dossier bundle", content_type = "application/vnd.armsledger.bundle"),
        (status = 404, description = "no such firearm")),
    security(("bearer" = [])))]
pub async fn dossier(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    Path(serial): Path<String>,
) -> Result<Response, ApiError> {
    let id = {
        let v = shared.read_verifier()?;
        let rec = v
            .engine()
            .state()
            .find_serial(&serial)
            .next()
            .ok_or_else(|| ApiError::NotFound(format!("no firearm with serial {serial}")))?;
        let company = v.engine().state().company_of(&rec.site).cloned();
        if !caller.0.may_read(Some(&rec.site), company.as_ref()) {
            return Err(caller.forbidden(&format!("dossier of {serial}")));
        }
        rec.id
    };
    let name = format!("{}.dossier", armsledger_core::model::normalise(&serial));
    stream(shared, Scope::Firearm(id), None, name)
}
