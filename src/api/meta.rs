//! What rules read from the HTTP request itself (`@request.query.*`, `@request.headers.*`,
//! `@request.method`, `@request.context`), and the client address used for limits.

use crate::app::App;
use crate::auth::{token, Caller};
use crate::query::RequestInfo;
use poem::{FromRequest, Request, RequestBody};
use std::sync::Arc;

impl<'a> FromRequest<'a> for RequestInfo {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        Ok(request_meta(req))
    }
}

/// The caller of a request: the `Authorization` token resolved against the current schema
/// (a guest without one, or when it is invalid).
impl<'a> FromRequest<'a> for Caller {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        let Some(app) = req.data::<Arc<App>>() else {
            return Ok(Caller::Guest);
        };
        let Some(raw) = req.header("authorization").and_then(token::from_header) else {
            return Ok(Caller::Guest);
        };
        Ok(app.caller(raw))
    }
}

/// Query parameters (last value wins), headers (lower-case, `-` → `_`, repeated values joined
/// with `,`), the method and the `default` context. Auth and body are filled by the services.
pub fn request_meta(req: &Request) -> RequestInfo {
    let mut info = RequestInfo {
        method: req.method().as_str().to_string(),
        context: "default".into(),
        ..RequestInfo::default()
    };
    if let Some(q) = req.uri().query() {
        for (k, v) in super::body::url_pairs(q.as_bytes()) {
            info.query.insert(k, v);
        }
    }
    for (name, value) in req.headers() {
        let key = name.as_str().to_ascii_lowercase().replace('-', "_");
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        info.headers
            .entry(key)
            .and_modify(|v| {
                v.push(',');
                v.push_str(&value);
            })
            .or_insert(value);
    }
    info
}

/// The client address (the TCP peer; trusted proxy headers are not interpreted yet).
pub fn client_ip(req: &Request) -> String {
    match req.remote_addr().as_socket_addr() {
        Some(addr) => addr.ip().to_string(),
        None => req.remote_addr().to_string(),
    }
}
