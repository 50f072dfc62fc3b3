//! `GET /api/typegen.ts` (superusers only): TypeScript types for the live schema, the same text
//! `ferrobase typegen` writes (see [`crate::typegen`]). The ETag is the schema version its
//! header names, so an unchanged schema answers `If-None-Match` with 304.

use crate::app::App;
use crate::auth::Caller;
use crate::error::ApiError;
use poem::http::{header, HeaderValue, StatusCode};
use poem::web::Data;
use poem::{handler, IntoResponse, Request, Response};
use std::sync::Arc;

/// The media type of the generated module.
pub const CONTENT_TYPE: &str = "application/typescript; charset=utf-8";

#[handler]
pub async fn typegen(
    app: Data<&Arc<App>>,
    req: &Request,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.require_superuser()?;
    let snapshot = app.schema.snapshot();
    let generated = crate::typegen::generate(snapshot.all().iter().map(|c| &**c));
    let etag = format!("\"{}\"", generated.version);
    let not_modified = req
        .header(header::IF_NONE_MATCH)
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut resp = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        Response::builder()
            .header(header::CONTENT_TYPE, CONTENT_TYPE)
            .body(generated.text)
    };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    // Superuser-only content: revalidate every time, never shared caches.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    Ok(resp)
}
