//! Backups API (PocketBase's `/api/backups`): list, create, upload, download (with a
//! superuser's file token), delete and restore. Superusers only; the work is in
//! [`crate::backups::Backups`].

use super::body;
use crate::app::App;
use crate::auth::Caller;
use crate::backups::Download;
use crate::error::{ApiError, FieldError};
use poem::http::{header, HeaderValue, StatusCode};
use poem::web::{Data, Json, Multipart, Path, Query, StaticFileRequest};
use poem::{handler, Body, FromRequest, IntoResponse, Request, RequestBody, Response};
use serde::Deserialize;
use serde_json::Value;
use std::sync::Arc;

const MSG_FORBIDDEN: &str = "Insufficient permissions to access the resource.";

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /api/backups`: `[{key, size, modified}]`, newest first.
#[handler]
pub async fn list(app: Data<&Arc<App>>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let items = app.backups.list_for(&caller).await?;
    Ok(Json(
        serde_json::to_value(items).map_err(ApiError::internal)?,
    ))
}

/// `POST /api/backups` `{name?}`: makes a backup and answers once it is complete.
#[handler]
pub async fn create(
    app: Data<&Arc<App>>,
    req: &Request,
    body: Body,
    caller: Caller,
) -> Result<Response, ApiError> {
    let input = body::read_as_superuser(&caller, req, body, super::body_limit(&app)).await?;
    let name = match input.get("name") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(crate::backups::BackupError::BadName.into()),
    };
    app.backups.create(name).await?;
    Ok(no_content())
}

/// `POST /api/backups/upload` (multipart `file`): keeps an uploaded backup zip under its file
/// name. Streamed to disk, at most `[backups] max_upload_mb`.
#[handler]
pub async fn upload(
    app: Data<&Arc<App>>,
    req: &Request,
    body: Body,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.require_superuser()?;
    let limit = app.backups.max_upload;
    let too_large = || ApiError::PayloadTooLarge {
        limit: usize::try_from(limit).unwrap_or(usize::MAX),
    };
    if req
        .header("content-length")
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > limit.saturating_add(64 * 1024))
    {
        return Err(too_large());
    }
    let mut rb = RequestBody::new(body);
    let mut mp = Multipart::from_request(req, &mut rb)
        .await
        .map_err(|e| ApiError::bad_request(format!("Invalid multipart body: {e}")))?;
    let required = || {
        ApiError::bad_field(
            "An error occurred while validating the submitted data.",
            "file",
            FieldError::required(),
        )
    };
    loop {
        let part = mp
            .next_field()
            .await
            .map_err(|e| ApiError::bad_request(format!("Invalid multipart body: {e}")))?
            .ok_or_else(required)?;
        if part.name() != Some("file") || part.file_name().is_none() {
            continue; // other parts are ignored, as PocketBase
        }
        let name = part.file_name().unwrap_or_default().to_string();
        let staged = app
            .records
            .files
            .stage(&name, Box::pin(part.into_async_read()), limit)
            .await
            .map_err(|e| match e {
                crate::files::StageError::TooLarge { .. } => too_large(),
                crate::files::StageError::Io(e) => {
                    ApiError::bad_request(format!("Failed to read the uploaded file: {e}"))
                }
            })?;
        let backups = app.backups.clone();
        tokio::task::spawn_blocking(move || backups.upload(&name, staged.path()))
            .await
            .map_err(ApiError::internal)??;
        return Ok(no_content());
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct TokenQuery {
    token: Option<String>,
}

/// `GET /api/backups/{key}?token=`: the zip, for a superuser's file token (no auth header).
#[handler]
pub async fn download(
    app: Data<&Arc<App>>,
    Path(key): Path<String>,
    Query(q): Query<TokenQuery>,
    conditional: StaticFileRequest,
) -> Result<Response, ApiError> {
    let caller = match q.token.as_deref() {
        Some(t) if !t.is_empty() => app.records.file_caller(t),
        _ => Caller::Guest,
    };
    if !matches!(caller, Caller::Superuser(_)) {
        return Err(ApiError::Forbidden(MSG_FORBIDDEN.into()));
    }
    let backups = app.backups.clone();
    let k = key.clone();
    let found = tokio::task::spawn_blocking(move || backups.download(&k))
        .await
        .map_err(ApiError::internal)?;
    let mut resp = match found {
        Ok(Download::File(path)) => match conditional.create_response(&path, true, false) {
            Ok(r) => r.into_response(),
            Err(poem::error::StaticFileError::NotFound) => return Err(ApiError::not_found()),
            Err(poem::error::StaticFileError::Io(e)) => return Err(ApiError::internal(e)),
            Err(e) => return Ok(poem::Error::from(e).into_response()),
        },
        Ok(Download::Stream { size, body }) => {
            let mut r = Body::from_bytes_stream(body).into_response();
            if let Ok(v) = HeaderValue::from_str(&size.to_string()) {
                r.headers_mut().insert(header::CONTENT_LENGTH, v);
            }
            r
        }
        Err(crate::backups::BackupError::Missing) => return Err(ApiError::not_found()),
        Err(e) => return Err(e.into()),
    };
    let h = resp.headers_mut();
    // `key` passed `valid_name`: no quotes or control characters.
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{key}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    Ok(resp)
}

/// `DELETE /api/backups/{key}`.
#[handler]
pub async fn delete(
    app: Data<&Arc<App>>,
    Path(key): Path<String>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.require_superuser()?;
    let backups = app.backups.clone();
    tokio::task::spawn_blocking(move || backups.delete(&key))
        .await
        .map_err(ApiError::internal)??;
    Ok(no_content())
}

/// `POST /api/backups/{key}/restore`: stages the backup, answers 204, then the server restarts
/// with the restored data.
#[handler]
pub async fn restore(
    app: Data<&Arc<App>>,
    Path(key): Path<String>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.require_superuser()?;
    app.backups.restore(&key).await?;
    Ok(no_content())
}
