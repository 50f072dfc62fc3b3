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
    let served =
        tokio::task::spawn_blocking(move || conditional.create_response(&path, true, false))
            .await
            .map_err(ApiError::internal)?;
    let mut resp = match served {
        Ok(r) => r.into_response(),
        Err(poem::error::StaticFileError::NotFound) => return Err(ApiError::not_found()),
        Err(e) => return Ok(poem::Error::from(e).into_response()),
    };
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
