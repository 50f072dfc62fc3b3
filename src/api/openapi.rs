//! `GET /api/openapi.json`, `GET /api/openapi.yaml` (the document as the caller may use it:
//! superusers get everything) and the docs UI at `/api/docs`, all from the binary.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::openapi::{Audience, OpenApi, DOCS_HTML, RAPIDOC_JS_GZ};
use poem::http::{header, StatusCode};
use poem::web::{Data, Html, Yaml};
use poem::{handler, IntoResponse, Request, Response};
use std::io::Read;
use std::sync::Arc;

fn audience(caller: &Caller) -> Audience {
    if caller.is_superuser() {
        Audience::Superuser
    } else {
        Audience::Public
    }
}

/// Whether `If-None-Match` names `etag` (or is `*`).
fn not_modified(req: &Request, etag: &str) -> bool {
    req.header(header::IF_NONE_MATCH).is_some_and(|v| {
        v.split(',')
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t == etag || t == "*")
    })
}

fn cached(req: &Request, etag: &str, content_type: &str, body: impl Into<poem::Body>) -> Response {
    let builder = Response::builder()
        .header(header::ETAG, etag)
        .header(header::CACHE_CONTROL, "no-cache")
        .header(header::VARY, "Authorization");
    if not_modified(req, etag) {
        return builder.status(StatusCode::NOT_MODIFIED).finish();
    }
    builder
        .header(header::CONTENT_TYPE, content_type)
        .body(body.into())
}

#[handler]
pub async fn json(service: Data<&Arc<OpenApi>>, req: &Request, caller: Caller) -> Response {
    let doc = service.document(audience(&caller));
    cached(req, &doc.etag, "application/json", doc.json.clone())
}

#[handler]
pub async fn yaml(
    service: Data<&Arc<OpenApi>>,
    req: &Request,
    caller: Caller,
) -> Result<Response, ApiError> {
    let doc = service.document(audience(&caller));
    // A representation of its own: its own validator.
    let etag = format!("{}-yaml\"", doc.etag.trim_end_matches('"'));
    if not_modified(req, &etag) {
        return Ok(cached(req, &etag, "", ""));
    }
    let rendered = Yaml(doc.value.clone()).into_response();
    let bytes = rendered
        .into_body()
        .into_bytes()
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(cached(req, &etag, "application/yaml", bytes))
}

#[handler]
pub async fn docs_page() -> Html<&'static str> {
    Html(DOCS_HTML)
}

/// RapiDoc's script: sent gzipped as stored when the client accepts gzip, inflated otherwise.
#[handler]
pub async fn rapidoc(req: &Request) -> Result<Response, ApiError> {
    let etag = concat!("\"rapidoc-", env!("CARGO_PKG_VERSION"), "\"");
    let builder = Response::builder()
        .header(header::ETAG, etag)
        .header(header::CACHE_CONTROL, "public, max-age=86400")
        .header(header::VARY, "Accept-Encoding");
    if not_modified(req, etag) {
        return Ok(builder.status(StatusCode::NOT_MODIFIED).finish());
    }
    let builder = builder.header(header::CONTENT_TYPE, "text/javascript; charset=utf-8");
    let gzip_ok = req.header(header::ACCEPT_ENCODING).is_some_and(|v| {
        v.split(',')
            .any(|e| e.split(';').next().map(str::trim) == Some("gzip"))
    });
    if gzip_ok {
        return Ok(builder
            .header(header::CONTENT_ENCODING, "gzip")
            .body(RAPIDOC_JS_GZ));
    }
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(RAPIDOC_JS_GZ)
        .read_to_end(&mut plain)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(builder.body(plain))
}
