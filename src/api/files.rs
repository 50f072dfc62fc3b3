//! Files: `GET /api/files/{collection}/{record}/{name}` (with `?thumb=`, `?download=1`,
//! `?token=` for protected files) and `POST /api/files/token`.

use crate::app::App;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::files::{Files, Meta};
use crate::query::RequestInfo;
use poem::error::StaticFileError;
use poem::http::{header, HeaderValue};
use poem::web::headers::{self, HeaderMapExt};
use poem::web::{Data, Json, Path, Query, StaticFileRequest, StaticFileResponse};
use poem::{handler, Body, IntoResponse, Request, Response};
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
    req: &Request,
    meta: RequestInfo,
) -> Result<Response, ApiError> {
    let caller = match q.token.as_deref() {
        Some(t) if !t.is_empty() => app.records.file_caller(t),
        _ => Caller::Guest,
    };
    let found = app.records.locate_file(&c, &rid, &name, &caller, &meta)?;
    let files = app.records.files.clone();
    let mut key = files
        .key(&found.collection, &found.record, &found.name)
        .map_err(|_| ApiError::not_found())?;
    let mime = mime_guess::from_path(&found.name).first_or_octet_stream();
    // The object's metadata when a thumbnail lookup already fetched it.
    let mut known = None;
    if let Some(spec) = q
        .thumb
        .as_deref()
        .filter(|s| found.thumbs.iter().any(|t| t == s))
    {
        if crate::files::is_thumbable(mime.essence_str()) {
            // Not an image after all, or undecodable: the original is served, as PocketBase.
            if let Ok((k, m)) = files
                .thumb_async(&found.collection, &found.record, &found.name, spec)
                .await
            {
                (key, known) = (k, m);
            }
        }
    }
    let inline = mime.type_() == "image" || mime.essence_str() == "application/pdf";
    let disposition = if inline && !truthy(q.download.as_deref()) {
        "inline"
    } else {
        "attachment"
    };
    let local = files.local_path(&key);
    let served = match &local {
        // A stat and an open (no read) decide ETag, 304 and ranges: cheap enough for the async
        // worker. The body streams from the file, except for small whole files (thumbnails,
        // icons), read at once instead of in hops to the blocking pool.
        Some(path) => conditional.create_response(path, true, false),
        None => {
            let head = Conditions::of(req);
            let mime = content_type(&mime);
            tokio::task::spawn_blocking(move || serve_object(&files, &key, known, head, mime))
                .await
                .map_err(ApiError::internal)?
        }
    };
    let mut resp = match served {
        Ok(r) => r.into_response(),
        Err(poem::error::StaticFileError::NotFound) => return Err(ApiError::not_found()),
        Err(poem::error::StaticFileError::Io(e)) => return Err(ApiError::internal(e)),
        Err(e) => return Ok(poem::Error::from(e).into_response()),
    };
    let len = resp
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if let Some(path) = local.filter(|_| {
        resp.status() == poem::http::StatusCode::OK && len.is_some_and(|n| n <= SMALL_FILE)
    }) {
        // Stored files never change in place (new names, thumbnails placed whole).
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

/// The `Content-Type` of a file, text in UTF-8 (as the static-file path serves it).
fn content_type(mime: &mime_guess::Mime) -> String {
    if mime.type_() == "text" && mime.get_param("charset").is_none() {
        format!("{}; charset=utf-8", mime.essence_str())
    } else {
        mime.to_string()
    }
}

/// The conditional and range headers of a download (what `StaticFileRequest` reads).
#[derive(Debug, Default)]
struct Conditions {
    if_match: Option<headers::IfMatch>,
    if_unmodified_since: Option<headers::IfUnmodifiedSince>,
    if_none_match: Option<headers::IfNoneMatch>,
    if_modified_since: Option<headers::IfModifiedSince>,
    range: Option<headers::Range>,
    head: bool,
}

impl Conditions {
    fn of(req: &Request) -> Self {
        let h = req.headers();
        Self {
            if_match: h.typed_get(),
            if_unmodified_since: h.typed_get(),
            if_none_match: h.typed_get(),
            if_modified_since: h.typed_get(),
            range: h.typed_get(),
            head: req.method() == poem::http::Method::HEAD,
        }
    }
}

/// Serves an object that is not on local disk (a bucket) as `StaticFileRequest` serves a file
/// (from `known` metadata, else one HEAD):
/// preconditions on its ETag and time (304 / 412), one byte range (206 / 416), streamed.
/// Blocking.
fn serve_object(
    files: &Files,
    key: &str,
    known: Option<Meta>,
    c: Conditions,
    content_type: String,
) -> Result<StaticFileResponse, StaticFileError> {
    use std::ops::Bound;
    // Gone between the check and the read (a concurrent removal): a 404 like any missing file.
    let missing = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::NotFound => StaticFileError::NotFound,
        _ => StaticFileError::Io(e),
    };
    let meta = match known {
        Some(m) => m,
        None => files
            .meta(key)
            .map_err(missing)?
            .ok_or(StaticFileError::NotFound)?,
    };
    let size = meta.size;
    if let Ok(etag) = meta.etag.parse::<headers::ETag>() {
        if c.if_match.is_some_and(|m| !m.precondition_passes(&etag)) {
            return Err(StaticFileError::PreconditionFailed);
        }
        if c.if_none_match
            .as_ref()
            .is_some_and(|m| !m.precondition_passes(&etag))
        {
            return Ok(StaticFileResponse::NotModified);
        }
    }
    if c.if_unmodified_since
        .is_some_and(|t| !t.precondition_passes(meta.modified))
    {
        return Err(StaticFileError::PreconditionFailed);
    }
    if c.if_none_match.is_none()
        && c.if_modified_since
            .is_some_and(|t| !t.is_modified(meta.modified))
    {
        return Ok(StaticFileResponse::NotModified);
    }
    let range = c
        .range
        .and_then(|r| r.satisfiable_ranges(size).next())
        .map(|(start, end)| {
            let start = match start {
                Bound::Included(n) => n,
                Bound::Excluded(n) => n.saturating_add(1),
                Bound::Unbounded => 0,
            };
            let end = match end {
                Bound::Included(n) => n.saturating_add(1),
                Bound::Excluded(n) => n,
                Bound::Unbounded => size,
            };
            (start, end)
        });
    let content_range = match range {
        Some((start, end)) if start >= end || end > size => {
            return Err(StaticFileError::RangeNotSatisfiable { size })
        }
        Some((start, end)) if start != 0 || end != size => Some((start..end, size)),
        _ => None,
    };
    let content_length = content_range
        .as_ref()
        .map_or(size, |(r, _)| r.end - r.start);
    let body = if c.head || content_length == 0 {
        Body::empty()
    } else {
        let range = content_range.as_ref().map(|(r, _)| r.clone());
        Body::from_bytes_stream(files.read(key, range).map_err(missing)?)
    };
    Ok(StaticFileResponse::Ok {
        body,
        content_length,
        content_type: Some(content_type),
        etag: Some(meta.etag),
        last_modified: Some(
            chrono::DateTime::<chrono::Utc>::from(meta.modified)
                .format("%a, %d %b %Y %H:%M:%S GMT")
                .to_string(),
        ),
        content_range,
        cache_control: None,
    })
}
