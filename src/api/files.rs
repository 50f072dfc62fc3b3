//! Files: `GET /api/files/{collection}/{record}/{name}` (with `?thumb=`, `?download=1`,
//! `?token=` for protected files) and `POST /api/files/token`.

use crate::app::App;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::query::RequestInfo;
use poem::http::{header, HeaderValue};
use poem::web::{Data, Json, Path, Query, StaticFileRequest};
use poem::{handler, IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

/// Files up to this size are sent from memory in one piece.
const SMALL_FILE: u64 = 64 * 1024;

#[derive(Debug, Deserialize, Default)]
pub struct FileQuery {
    thumb: Option<String>,
    download: Option<String>,
    token: Option<String>,
}

/// `POST /api/files/token`: a short-lived token for protected files (auth records only).
#[handler]
pub async fn token(caller: Caller) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        json!({ "token": crate::accounts::file_token(&caller)? }),
    ))
}

fn truthy(v: Option<&str>) -> bool {
    matches!(v, Some(s) if !s.is_empty() && s != "0" && !s.eq_ignore_ascii_case("false"))
}

/// Serves a stored file (or a cached thumbnail of an image) with ETag, Last-Modified and
/// Range support. The `Authorization` header is ignored: protected files take `?token=`.
#[handler]
pub async fn download(
    app: Data<&Arc<App>>,
    Path((c, rid, name)): Path<(String, String, String)>,
    Query(q): Query<FileQuery>,
    conditional: StaticFileRequest,
    meta: RequestInfo,
) -> Result<Response, ApiError> {
    let caller = match q.token.as_deref() {
        Some(t) if !t.is_empty() => app.records.file_caller(t),
        _ => Caller::Guest,
    };
    let found = app.records.locate_file(&c, &rid, &name, &caller, &meta)?;
    let files = app.records.files.clone();
    let original = files
        .path(&found.collection, &found.record, &found.name)
        .map_err(|_| ApiError::not_found())?;
    let mime = mime_guess::from_path(&original).first_or_octet_stream();
    let mut path = original;
    if let Some(spec) = q
        .thumb
        .as_deref()
        .filter(|s| found.thumbs.iter().any(|t| t == s))
    {
        if crate::files::is_thumbable(mime.essence_str()) {
            // Not an image after all, or undecodable: the original is served, as PocketBase.
            if let Ok(p) = files
                .thumb_async(&found.collection, &found.record, &found.name, spec)
                .await
            {
                path = p;
            }
        }
    }
    let inline = mime.type_() == "image" || mime.essence_str() == "application/pdf";
    let disposition = if inline && !truthy(q.download.as_deref()) {
        "inline"
    } else {
        "attachment"
    };
    // A stat and an open (no read) decide ETag, 304 and ranges: cheap enough for the async
    // worker. The body streams from the file, except for small whole files (thumbnails, icons),
    // read at once instead of in hops to the blocking pool.
    let mut resp = match conditional.create_response(&path, true, false) {
        Ok(r) => r.into_response(),
        Err(poem::error::StaticFileError::NotFound) => return Err(ApiError::not_found()),
        Err(e) => return Ok(poem::Error::from(e).into_response()),
    };
    let len = resp
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if resp.status() == poem::http::StatusCode::OK && len.is_some_and(|n| n <= SMALL_FILE) {
        // Stored files never change in place (new names, thumbnails renamed in whole).
        match std::fs::read(&path) {
            Ok(bytes) if Some(bytes.len() as u64) == len => resp.set_body(bytes),
            _ => {}
        }
    }
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("{disposition}; filename=\"{}\"", found.name)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    let cache = if found.protected {
        "private, max-age=2592000, stale-while-revalidate=86400"
    } else {
        "max-age=2592000, stale-while-revalidate=86400"
    };
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; media-src 'self'; style-src 'unsafe-inline'; sandbox",
        ),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    Ok(resp)
}
