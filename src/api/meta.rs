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
/// Resolved once per request: the access log puts a [`CallerSlot`] into the request and reads
/// the caller from it after the response.
impl<'a> FromRequest<'a> for Caller {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        let slot = req.extensions().get::<CallerSlot>();
        if let Some(c) = slot.and_then(|s| s.0.get()) {
            return Ok(c.clone());
        }
        let Some(app) = req.data::<Arc<App>>() else {
            return Ok(Caller::Guest);
        };
        let caller = resolve_caller(app, req);
        if let Some(s) = slot {
            let _ = s.0.set(caller.clone());
        }
        Ok(caller)
    }
}

/// The request's caller, shared between the extractor and the access log.
#[derive(Clone, Default)]
pub struct CallerSlot(pub Arc<std::sync::OnceLock<Caller>>);

/// The caller the request's `Authorization` names (a guest without one or when invalid).
pub fn resolve_caller(app: &App, req: &Request) -> Caller {
    match req.header("authorization").and_then(token::from_header) {
        Some(raw) => app.caller(raw),
        None => Caller::Guest,
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

/// The TCP peer's address (limits use it: proxy headers can be forged by anyone).
pub fn client_ip(req: &Request) -> String {
    match req.remote_addr().as_socket_addr() {
        Some(addr) => addr.ip().to_string(),
        None => req.remote_addr().to_string(),
    }
}

/// The client's IP as PocketBase's `RealIP`: the first valid IP in the trusted proxy headers
/// (settings `trustedProxy.headers`; within a header the rightmost address, or the leftmost
/// with `useLeftmostIP`), else the TCP peer.
pub fn real_ip(req: &Request, proxy: &crate::settings::TrustedProxy) -> String {
    for name in &proxy.headers {
        for value in req.headers().get_all(name.as_str()) {
            let Ok(value) = value.to_str() else { continue };
            let mut ips: Vec<&str> = value.split(',').collect();
            if !proxy.use_leftmost_ip {
                ips.reverse();
            }
            if let Some(ip) = ips
                .iter()
                .find_map(|ip| ip.trim().parse::<std::net::IpAddr>().ok())
            {
                return ip.to_string();
            }
        }
    }
    client_ip(req)
}

/// Headers that usually carry the client IP behind a proxy, checked by the superuser health
/// check when no trusted header is configured.
const PROXY_HEADERS: [&str; 4] = [
    "CF-Connecting-IP",
    "Fly-Client-IP",
    "X-Real-IP",
    "X-Forwarded-For",
];

/// The first common proxy header the request has, when none is trusted (PocketBase's hint that
/// `trustedProxy` should be configured); `""` otherwise.
pub fn possible_proxy_header(req: &Request, proxy: &crate::settings::TrustedProxy) -> &'static str {
    if !proxy.headers.is_empty() {
        return "";
    }
    PROXY_HEADERS
        .into_iter()
        .find(|h| req.headers().contains_key(*h))
        .unwrap_or("")
}
