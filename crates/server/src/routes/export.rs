//! `GET /v1/export`, `GET /v1/firearms/{serial}/dossier` and
//! `GET /v1/lots/{lot}/dossier`: bundles that `armsledger verify` checks
//! offline, streamed as they are written.

use std::collections::HashSet;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use armsledger_bundle::{BundleWriter, MapProofRecord, Meta, Scope, ServerFinding};
use armsledger_core::entry::{ChainId, SignedEntry};
use armsledger_core::event::{Event, SiteEvent};
use armsledger_core::ids::{CompanyId, SiteId};
use armsledger_index::MapKey;
use armsledger_store::{IndexAnswer, IndexKey, StoredEntry};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::error::ApiError;
use crate::routes::auth::Caller;
use crate::routes::extract::{Path, Query};
use crate::routes::visibility::{lot_site_visible, no_such_serial, visible_events};
use crate::scope::SiteScope;
use crate::state::Shared;
use crate::tokens::Role;

/// A `Write` that hands chunks to the HTTP body as they fill. A reader
/// that takes no chunk for `stall` is given up on: the blocking thread
/// writing the export is never held by a client that stopped reading.
struct ChannelWriter {
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    buf: Vec<u8>,
    stall: Duration,
    rt: tokio::runtime::Handle,
    /// The reader stopped taking data, or went away.
    abandoned: bool,
}

impl ChannelWriter {
    /// Hands `item` to the reader, waiting at most `stall` for room.
    fn send(&mut self, item: Result<Bytes, std::io::Error>) -> std::io::Result<()> {
        let sent = self
            .rt
            .block_on(tokio::time::timeout(self.stall, self.tx.send(item)));
        let (kind, why) = match sent {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(_)) => (
                std::io::ErrorKind::BrokenPipe,
                "the reader went away".into(),
            ),
            Err(_) => (
                std::io::ErrorKind::TimedOut,
                format!("the reader took nothing for {} s", self.stall.as_secs()),
            ),
        };
        self.abandoned = true;
        Err(std::io::Error::new(kind, why))
    }
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
            self.send(Ok(chunk))?;
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
    role: Role,
    scope: Scope,
    since: Option<u64>,
    until: Option<u64>,
    filename: String,
) -> Result<Response, ApiError> {
    let published = shared
        .export_checkpoint()
        .ok_or_else(|| ApiError::NotFound("no checkpoint has been signed yet".into()))?;
    // Each export holds a blocking thread while it is read: a few at a time.
    let slot = shared.export_slot().ok_or_else(|| {
        ApiError::Busy(format!(
            "{} exports are being written; retry shortly",
            shared.config().max_concurrent_exports
        ))
    })?;
    let (tx, mut rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(8);
    let rt = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let metrics = shared.metrics();
        metrics.exports_running.inc();
        let mut w = ChannelWriter {
            tx,
            buf: Vec::new(),
            stall: Duration::from_secs(shared.config().export_stall_secs),
            rt,
            abandoned: false,
        };
        let done = write(&shared, &role, &scope, since, until, &published, &mut w)
            .and_then(|()| w.flush().map_err(|e| e.to_string()));
        match done {
            Ok(()) => {}
            Err(e) if w.abandoned => {
                metrics.exports_abandoned.inc();
                tracing::warn!(error = %e, "export abandoned");
            }
            Err(e) => {
                tracing::error!(error = %e, "export failed midway");
                // The reader sees the stream fail (and no End record).
                let _ = w.send(Err(std::io::Error::other(e)));
            }
        }
        metrics.exports_running.dec();
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

/// Candidate entries of a scoped bundle read (and proven) together: enough
/// for a dossier's events in one batch, few enough to hold in memory.
const SCOPED_BATCH: usize = 256;

/// Writes the bundle of `scope` at the published checkpoint; a dossier's
/// weapon events only up to log index `until` (what the caller may see);
/// of the regulator chain, only what `role` may see ([`SiteScope`]).
fn write(
    shared: &Shared,
    role: &Role,
    scope: &Scope,
    since: Option<u64>,
    until: Option<u64>,
    published: &crate::state::Published,
    out: &mut ChannelWriter,
) -> Result<(), String> {
    let e = |x: &dyn std::fmt::Display| x.to_string();
    let companies: std::collections::HashMap<SiteId, CompanyId> = shared
        .verifier()
        .map_err(|_| "verifier lock".to_string())?
        .engine()
        .state()
        .sites
        .iter()
        .map(|(s, r)| (s.clone(), r.company.clone()))
        .collect();
    // One read snapshot for all of it: the checkpoint the bundle carries,
    // the index proofs of the scope's histories against it, and its
    // entries, below its size.
    // A lot's leaf names every site that acted on the lot (its newest act and
    // their number): only for a reader who may see every site.
    let reader = shared.store().read().map_err(|x| e(&x))?;
    let (published, proven, answers) = at_checkpoint(
        shared,
        &reader,
        scope,
        &companies,
        published,
        role.reads_every_site(),
    )?;
    let published = &published;
    let size = published.size;
    let meta = Meta {
        origin: shared.origin().to_owned(),
        log_key: shared.log_vkey().to_string(),
        regulator_key: shared.regulator_key(),
        manufacturer_roots: shared.manufacturer_roots().to_vec(),
        scope: scope.clone(),
        created_at: shared.now(),
    };
    let mut w = BundleWriter::new(&mut *out, &meta).map_err(|x| e(&x))?;
    w.checkpoint(&published.note).map_err(|x| e(&x))?;
    if let Some(old) = since.filter(|o| *o <= size) {
        let proof = reader.consistency_proof(old, size).map_err(|x| e(&x))?;
        w.consistency(old, &proof).map_err(|x| e(&x))?;
    }
    // The sites whose whole chains the bundle holds (site and company
    // scopes), and the transfer-outs addressed to them from other sites: a
    // received weapon's history continues from the sender's entry, so the
    // bundle carries it, as a site's pull does.
    let scope_sites: HashSet<SiteId> = match scope {
        Scope::Site(s) => HashSet::from([s.clone()]),
        Scope::Company(c) => companies
            .iter()
            .filter(|(_, co)| *co == c)
            .map(|(s, _)| s.clone())
            .collect(),
        Scope::All | Scope::Firearm(_) | Scope::Lot(_) => HashSet::new(),
    };
    let (inbound, senders) = inbound_transfers(&reader, &scope_sites, size).map_err(|x| e(&x))?;
    let inbound_hashes: HashSet<armsledger_core::Hash> = inbound.iter().map(|(_, h)| *h).collect();
    // A company or site sees of the regulator chain only its own scope
    // (need to know, issue 17); the regulator and auditors see it all.
    let redaction =
        redaction(&reader, role, scope, until, size, &senders, &companies).map_err(|x| e(&x))?;
    let regulator_wanted = |en: &SignedEntry| match (&redaction, &en.body().event) {
        (None, _) => true,
        (Some((scope, key_sites)), Event::Regulator(ev)) => {
            scope.receives(en.counter(), 1, ev, key_sites)
        }
        (Some(_), _) => false,
    };
    // A full bundle: the index's leaves at the checkpoint, so that its
    // verifier names each subject a wrong index root misstates; only when
    // the snapshot's map sits at it (else they are another index's).
    if *scope == Scope::All && proven {
        let leaves: Vec<([u8; 32], armsledger_core::Hash)> = reader
            .index_leaves_at(size)
            .map_err(|x| e(&x))?
            .into_iter()
            .map(|(k, h)| (k.0, h))
            .collect();
        w.index_leaves(&leaves).map_err(|x| e(&x))?;
    }
    for a in answers {
        w.map_proof(&MapProofRecord {
            key: a.key.0,
            value: a.value.map(|v| v.encode()),
            proof: a.proof.encode(),
        })
        .map_err(|x| e(&x))?;
    }
    let wanted = |en: &SignedEntry| match (scope, en.chain()) {
        (_, ChainId::Regulator) => regulator_wanted(en),
        (Scope::All, _) => true,
        (Scope::Site(_) | Scope::Company(_), ChainId::Site(site)) => {
            scope_sites.contains(site) || inbound_hashes.contains(&en.hash())
        }
        // The weapon's own history and the counts that saw it: the entries
        // its trace lists (`report::concerns_firearm`).
        (Scope::Firearm(id), ChainId::Site(_)) => armsledger_core::report::concerns_firearm(en, id),
        // The lot's acts and the counts that saw it (`report::concerns_lot`),
        // at the sites the caller may read, as its lot trace shows them.
        (Scope::Lot(id), ChainId::Site(site)) => {
            armsledger_core::report::concerns_lot(en, id)
                && lot_site_visible(role, site, companies.get(site))
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
                Scope::Firearm(id) => v.extend(
                    reader
                        .indexes(&IndexKey::Firearm(*id))
                        .map_err(|x| e(&x))?
                        .into_iter()
                        .filter(|i| until.is_none_or(|u| *i <= u)),
                ),
                Scope::Lot(id) => v.extend(reader.indexes(&IndexKey::Lot(*id)).map_err(|x| e(&x))?),
                Scope::All => {}
            }
            v.extend(inbound.iter().map(|(i, _)| *i));
            v.retain(|i| *i < size);
            v.sort_unstable();
            v.dedup();
            Some(v)
        }
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
    // Everything the bundle says about one wanted entry, in log order: the
    // entry, its inclusion proof (scoped bundles), what the server knows
    // about it (the findings its acceptance raised, and the proof its key
    // signed another entry at its counter).
    let mut put = |s: StoredEntry, proof: Option<&[_]>| -> Result<(), String> {
        let i = s.index;
        w.entry(i, Some(s.received_at), s.entry.bytes())
            .map_err(|x| e(&x))?;
        if let Some(proof) = proof {
            w.inclusion(i, proof).map_err(|x| e(&x))?;
            written.insert(s.entry.hash());
        }
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
        Ok(())
    };
    match candidates {
        None => {
            for i in 0..size {
                let Some(s) = reader.entry(i).map_err(|x| e(&x))? else {
                    return Err(format!("entry {i} missing"));
                };
                if wanted(&s.entry) {
                    put(s, None)?;
                }
            }
        }
        // A scoped bundle's entries and proofs a batch at a time, their
        // point reads and proofs spread over the reader's threads (a
        // dossier's fifty cold reads overlap); written in the same order.
        Some(v) => {
            for batch in v.chunks(SCOPED_BATCH) {
                let read = reader
                    .entries_with_proofs(batch, size, |s| wanted(&s.entry))
                    .map_err(|x| e(&x))?;
                for (s, proof) in read {
                    if let Some(proof) = proof {
                        put(s, Some(&proof))?;
                    }
                }
            }
        }
    }
    w.finish().map_err(|x| e(&x))?;
    Ok(())
}

/// The regulator-chain scope of a company or site `role`, and the other
/// sites whose device keys its bundle must carry (a dossier's earlier
/// holders); `None` for the roles that read everything.
fn redaction(
    reader: &armsledger_store::LogReader,
    role: &Role,
    scope: &Scope,
    until: Option<u64>,
    size: u64,
    senders: &HashSet<SiteId>,
    companies: &std::collections::HashMap<SiteId, CompanyId>,
) -> Result<Option<(SiteScope, HashSet<SiteId>)>, armsledger_store::StoreError> {
    if role.reads_every_site() {
        return Ok(None);
    }
    let chain = crate::scope::regulator_chain(reader, size)?;
    let Some(party) = SiteScope::of_role(role, chain.iter().map(|(i, e)| (*i, e))) else {
        return Ok(None);
    };
    let mut key_sites = senders.clone();
    let (key, visible): (IndexKey, &dyn Fn(&SiteId) -> bool) = match scope {
        Scope::Firearm(id) => (IndexKey::Firearm(*id), &|_| true),
        Scope::Lot(id) => (IndexKey::Lot(*id), &|site| {
            lot_site_visible(role, site, companies.get(site))
        }),
        Scope::All | Scope::Company(_) | Scope::Site(_) => return Ok(Some((party, key_sites))),
    };
    for i in reader.indexes(&key)? {
        if i >= size || until.is_some_and(|u| i > u) {
            continue;
        }
        if let Some(s) = reader.entry(i)?
            && let ChainId::Site(site) = s.entry.chain()
            && visible(site)
        {
            key_sites.insert(site.clone());
        }
    }
    Ok(Some((party, key_sites)))
}

/// The transfer-outs below `size` signed by sites outside `sites` and
/// addressed to one inside (log index, entry hash), and their senders.
#[allow(clippy::type_complexity)]
fn inbound_transfers(
    reader: &armsledger_store::LogReader,
    sites: &HashSet<SiteId>,
    size: u64,
) -> Result<(Vec<(u64, armsledger_core::Hash)>, HashSet<SiteId>), armsledger_store::StoreError> {
    let mut inbound = Vec::new();
    let mut senders = HashSet::new();
    // The scope's own chain entries are indexed under their site too: skip
    // them by their slots, so only entries of other chains are read.
    let mut own = HashSet::new();
    for site in sites {
        let slots = reader.chain_slots(&ChainId::Site(site.clone()), 0, usize::MAX)?;
        own.extend(slots.into_iter().map(|(_, i)| i));
    }
    for site in sites {
        for i in reader.indexes(&IndexKey::Site(site.clone()))? {
            if i >= size || own.contains(&i) {
                continue;
            }
            let Some(s) = reader.entry(i)? else {
                continue;
            };
            if let (ChainId::Site(from), Event::Site(SiteEvent::TransferredOut { to_site, .. })) =
                (s.entry.chain(), &s.entry.body().event)
                && to_site == site
                && !sites.contains(from)
            {
                senders.insert(from.clone());
                inbound.push((i, s.entry.hash()));
            }
        }
    }
    Ok((inbound, senders))
}

/// The index keys of a scoped bundle's histories: the regulator chain and
/// the scope's site chains, or a dossier's weapon (every serial the index
/// files it under, or its own id's key before any serial is known), as of
/// the map in `reader` (the checkpoint the bundle is proven at: a serial a
/// correction recorded after it is filed, and proven, at the next one).
fn index_keys(
    reader: &armsledger_store::LogReader,
    scope: &Scope,
    companies: &std::collections::HashMap<SiteId, CompanyId>,
    every_site: bool,
) -> Result<Vec<MapKey>, String> {
    let mut keys = vec![MapKey::chain(&ChainId::Regulator)];
    match scope {
        Scope::All => return Ok(Vec::new()),
        Scope::Site(s) => keys.push(MapKey::chain(&ChainId::Site(s.clone()))),
        Scope::Company(c) => {
            let mut sites: Vec<&SiteId> = companies
                .iter()
                .filter(|(_, co)| *co == c)
                .map(|(s, _)| s)
                .collect();
            sites.sort();
            keys.extend(
                sites
                    .into_iter()
                    .map(|s| MapKey::chain(&ChainId::Site(s.clone()))),
            );
        }
        Scope::Firearm(id) => {
            let serials = reader.index_serials(&id.0).map_err(|x| x.to_string())?;
            if serials.is_empty() {
                keys.push(MapKey::firearm(id));
            }
            keys.extend(serials.iter().map(|s| MapKey::serial(s)));
        }
        // The lot's leaf: one record per site chain that acted on it, so
        // for a reader of every site only (a company's would learn other
        // companies' sites and acts on the lot).
        Scope::Lot(id) if every_site => keys.push(MapKey::lot(id)),
        Scope::Lot(_) => {}
    }
    Ok(keys)
}

/// The checkpoint a bundle is written at, whether the map of `reader`
/// sits at it, and the index proofs of the scope's histories against it,
/// all read from the one snapshot `reader` (docs/log.md section 11,
/// "Proofs at a checkpoint"): an export only reads. The map moves only in
/// the transaction that signs a checkpoint, so in any snapshot it sits at
/// the latest one ([`LogReader::index_checkpoint`]). Without a witness
/// policy the bundle is written at that checkpoint, with the proofs; the
/// entries appended after it are in the bundles of the next. With one, at
/// the quorum-cosigned checkpoint `published`, with the proofs only when
/// the map sits at it (the index keeps no older version). Otherwise (a
/// newer checkpoint than the cosigned one, or a map an open caught up past
/// the last checkpoint) no proofs, and the verifier reports the chains'
/// ends unproven, as for a bundle of version 2.
///
/// [`LogReader::index_checkpoint`]: armsledger_store::LogReader::index_checkpoint
fn at_checkpoint(
    shared: &Shared,
    reader: &armsledger_store::LogReader,
    scope: &Scope,
    companies: &std::collections::HashMap<SiteId, CompanyId>,
    published: &crate::state::Published,
    every_site: bool,
) -> Result<(crate::state::Published, bool, Vec<IndexAnswer>), String> {
    let at_map = reader.index_checkpoint().map_err(|x| x.to_string())?;
    let published = match &at_map {
        Some((size, note)) if shared.witnessing().policy().is_none() => crate::state::Published {
            size: *size,
            note: note.clone(),
        },
        _ => published.clone(),
    };
    // A checkpoint signed before the log had an index commits to no root.
    let proven = at_map.is_some_and(|(size, _)| size == published.size)
        && published.note.contains("armsledger-index/v1 ");
    if !proven {
        return Ok((published, false, Vec::new()));
    }
    let keys = index_keys(reader, scope, companies, every_site)?;
    let mut answers = Vec::with_capacity(keys.len());
    for key in keys {
        let (value, proof) = reader
            .index_lookup_at(published.size, &key)
            .map_err(|x| x.to_string())?;
        answers.push(IndexAnswer { key, value, proof });
    }
    Ok((published, true, answers))
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
    stream(
        shared,
        caller.0,
        scope,
        q.since,
        None,
        "armsledger.bundle".into(),
    )
}

/// A single-weapon dossier that verifies offline: the same events the
/// trace shows the caller (all for the regulator and auditors, up to the
/// end of its own custody for a company or site).
#[utoipa::path(get, path = "/v1/firearms/{serial}/dossier", tag = "query",
    params(("serial" = String, Path)),
    responses((status = 200, description = "dossier bundle", content_type = "application/vnd.armsledger.bundle"),
        (status = 404, description = "no firearm with that serial that the caller ever held (the same answer whether it exists or not)"),
        (status = 503, description = "max_concurrent_exports are being written, or the firearm was recorded after the latest checkpoint (its dossier is written at the next)")),
    security(("bearer" = [])))]
pub async fn dossier(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    Path(serial): Path<String>,
) -> Result<Response, ApiError> {
    let (id, until) = {
        let v = shared.read_verifier()?;
        let reader = shared
            .store()
            .read()
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let mut found = None;
        // By its serial now or one a correction replaced, as the trace finds it.
        for id in v.engine().find_serial(&serial) {
            let events = reader
                .scan(&IndexKey::Firearm(id), 0, usize::MAX)
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            let n = visible_events(
                &caller.0,
                v.engine().state(),
                events.iter().map(|s| s.entry.chain()),
            );
            if let Some(last) = n.checked_sub(1).and_then(|i| events.get(i)) {
                let partial = n < events.len();
                let first = events.first().map_or(last.index, |s| s.index);
                found = Some((id, partial.then_some(last.index), first));
                break;
            }
        }
        let (id, until, first) = found.ok_or_else(|| no_such_serial(&serial))?;
        // Written at the checkpoint the map sits at (or the cosigned one): a
        // weapon acquired after it has no event there yet.
        let at = dossier_checkpoint(&shared, &reader)?;
        if let Some(size) = at.filter(|size| first >= *size) {
            return Err(ApiError::Busy(format!(
                "firearm {serial} was recorded after the latest checkpoint ({size} entries): \
                 its dossier is written at the next one; retry shortly"
            )));
        }
        (id, until)
    };
    let name = format!("{}.dossier", armsledger_core::model::normalise(&serial));
    stream(shared, caller.0, Scope::Firearm(id), None, until, name)
}

/// The size of the checkpoint a dossier is written at: the one the map
/// sits at, or the cosigned one under a witness policy.
fn dossier_checkpoint(
    shared: &Shared,
    reader: &armsledger_store::LogReader,
) -> Result<Option<u64>, ApiError> {
    Ok(
        match reader
            .index_checkpoint()
            .map_err(|e| ApiError::Internal(e.to_string()))?
        {
            Some((size, _)) if shared.witnessing().policy().is_none() => Some(size),
            _ => shared.export_checkpoint().map(|p| p.size),
        },
    )
}

/// An ammunition lot's dossier that verifies offline: the regulator chain
/// as the caller may see it and every site entry about the lot (its acts and
/// the counts that saw it) with its inclusion proof, scoped as the lot's
/// trace is (the regulator and auditors every site, a company or site its
/// own), and the verifiable index's proof for the lot's key.
#[utoipa::path(get, path = "/v1/lots/{lot}/dossier", tag = "query",
    params(("lot" = String, Path, description = "lot number as marked (any spacing or case) or the lot's ledger id")),
    responses((status = 200, description = "lot dossier bundle", content_type = "application/vnd.armsledger.bundle"),
        (status = 400, description = "the lot number names more than one lot the caller held: ask by ledger id"),
        (status = 404, description = "no lot by that number that the caller ever held (the same answer whether it exists or not)"),
        (status = 503, description = "max_concurrent_exports are being written, or the lot was first recorded after the latest checkpoint (its dossier is written at the next)")),
    security(("bearer" = [])))]
pub async fn lot_dossier(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    Path(lot): Path<String>,
) -> Result<Response, ApiError> {
    let id = {
        let v = shared.read_verifier()?;
        let state = v.engine().state();
        let reader = shared
            .store()
            .read()
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let mut held = Vec::new();
        for id in armsledger_core::report::find_lots(v.engine(), &lot) {
            let events = reader
                .scan(&IndexKey::Lot(id), 0, usize::MAX)
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            let seen = events.iter().any(|s| match s.entry.chain() {
                ChainId::Site(site) => lot_site_visible(&caller.0, site, state.company_of(site)),
                ChainId::Regulator => false,
            });
            if seen {
                held.push((id, events.first().map_or(u64::MAX, |s| s.index)));
            }
        }
        match held.as_slice() {
            [] => return Err(ApiError::NotFound(format!("no ammunition lot {lot}"))),
            [(one, first)] => {
                // As a weapon's: a lot first recorded after the checkpoint
                // the dossier is written at has no event there yet.
                if let Some(size) =
                    dossier_checkpoint(&shared, &reader)?.filter(|size| *first >= *size)
                {
                    return Err(ApiError::Busy(format!(
                        "ammunition lot {lot} was first recorded after the latest checkpoint \
                         ({size} entries): its dossier is written at the next one; retry shortly"
                    )));
                }
                *one
            }
            many => {
                return Err(ApiError::BadRequest(format!(
                    "lot number {lot} names {} lots; ask for one by its ledger id: {}",
                    many.len(),
                    many.iter()
                        .map(|(l, _)| l.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
    };
    let name = format!("lot-{id}.dossier");
    stream(shared, caller.0, Scope::Lot(id), None, None, name)
}
