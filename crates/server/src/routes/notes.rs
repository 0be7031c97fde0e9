//! `POST /v1/notes`: the ingest side channel for the openings of sealed
//! notes. An entry signs only a note's commitment; the site (or the
//! regulator) that sealed it sends the text and salt here, beside the entry,
//! after the entry is logged. The server keeps an opening only for a note
//! that a logged entry of a chain the caller may write carries, and only if
//! it opens that note.

use std::sync::Arc;

use armsledger_core::hash::Hash;
use armsledger_core::note::NoteOpening;
use armsledger_store::{NoteClass, StoreError};
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use crate::disk::WriteError;
use crate::error::ApiError;
use crate::routes::auth::Caller;
use crate::state::Shared;

/// Most openings in one request.
pub const MAX_NOTES: usize = 512;

/// One opening, beside the entry that carries its note.
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
pub struct NoteUpload {
    /// The entry hash (hex) of the logged entry that carries the note.
    #[schema(value_type = String)]
    pub entry: Hash,
    /// The text and its 32-byte salt (hex).
    #[schema(value_type = Object)]
    pub opening: NoteOpening,
    /// `person`, `case` or `operational`: what the retention policy keys on.
    #[schema(value_type = String)]
    pub class: NoteClass,
}

/// A batch of openings.
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
pub struct NoteBatch {
    /// The openings.
    pub notes: Vec<NoteUpload>,
}

/// What was kept.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NotesKept {
    /// Openings new to the store.
    pub kept: usize,
    /// Openings it had already (or of notes already erased).
    pub already: usize,
}

/// Keeps the openings of notes carried by logged entries.
#[utoipa::path(post, path = "/v1/notes", tag = "ingest",
    request_body = NoteBatch,
    responses(
        (status = 200, description = "kept (or already kept, or already erased)", body = NotesKept),
        (status = 400, description = "malformed, over 512 openings, or an opening that does not open the note"),
        (status = 401, description = "no token, or an unknown or revoked one"),
        (status = 403, description = "the token may not write the chain of the entry named"),
        (status = 404, description = "no logged entry has that hash, or it carries no such note"),
    ),
    security(("bearer" = [])))]
pub async fn post_notes(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    Json(batch): Json<NoteBatch>,
) -> Result<Json<NotesKept>, ApiError> {
    if batch.notes.len() > MAX_NOTES {
        return Err(ApiError::TooLarge(format!(
            "{} openings; at most {MAX_NOTES} per request",
            batch.notes.len()
        )));
    }
    let role = caller.0.clone();
    let result = tokio::task::spawn_blocking(move || {
        let store = shared.store();
        let mut kept = NotesKept {
            kept: 0,
            already: 0,
        };
        for (i, n) in batch.notes.iter().enumerate() {
            let logged = store
                .read()
                .and_then(|r| r.entry_by_hash(&n.entry))
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            if let Some(logged) = &logged
                && !role.may_write(logged.entry.chain())
            {
                return Err(ApiError::Forbidden {
                    role: role.to_string(),
                    what: format!("send notes of {} (opening {i})", logged.entry.chain()),
                });
            }
            match store.put_note(&n.entry, &n.opening, n.class) {
                Ok(true) => kept.kept += 1,
                Ok(false) => kept.already += 1,
                Err(WriteError::Store(e @ StoreError::NoteUnknown { .. })) => {
                    return Err(ApiError::NotFound(format!("opening {i}: {e}")));
                }
                Err(WriteError::Store(e @ StoreError::NoteMismatch { .. })) => {
                    return Err(ApiError::BadRequest(format!("opening {i}: {e}")));
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(kept)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    Ok(Json(result))
}
