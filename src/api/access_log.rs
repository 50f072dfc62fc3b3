//! The request log's hook: after every response, one entry for `logs::RequestLog` (queued
//! without waiting; see `crate::logs`) and the request metrics (`crate::metrics`). Sits inside
//! the request span and outside CORS, the global limit and the error envelope, so preflights,
//! 429s and 404s are logged and counted too.

use super::meta::{self, CallerSlot};
use crate::app::App;
use crate::error::LoggedError;
use crate::logs;
use poem::http::header;
use poem::{Endpoint, IntoResponse, Request, Response};
use std::sync::Arc;
use std::time::Instant;

pub async fn around<E: Endpoint>(
    app: Arc<App>,
    ep: Arc<E>,
    mut req: Request,
) -> poem::Result<Response> {
    let started = Instant::now();
    let method = req.method().as_str().to_string();
    let route = crate::metrics::route_of(req.uri().path());
    if !app.logs.wants_any() {
        // Logging is off: nothing to capture, only the metrics.
        let resp = respond(ep.as_ref(), req).await;
        crate::metrics::http_request(
            &route,
            &method,
            resp.status().as_u16(),
            started.elapsed().as_secs_f64(),
        );
        return Ok(resp);
    }
    let created = chrono::Utc::now();
    let slot = CallerSlot::default();
    req.extensions_mut().insert(slot.clone());
    let text = |name: header::HeaderName, req: &Request| {
        req.headers()
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default()
    };
    let url = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.uri().path().to_string(), |p| p.as_str().to_string());
    let referer = text(header::REFERER, &req);
    let user_agent = text(header::USER_AGENT, &req);
    let remote_ip = meta::client_ip(&req);
    let user_ip = meta::real_ip(&req, &app.settings.current().trusted_proxy);
    let authorization = req.headers().get(header::AUTHORIZATION).is_some();
    // Kept only to resolve the caller after the response when no handler did.
    let auth_header = authorization.then(|| text(header::AUTHORIZATION, &req));
    let resp = respond(ep.as_ref(), req).await;
    let secs = started.elapsed().as_secs_f64();
    let exec_ms = secs * 1000.0;
    crate::metrics::http_request(&route, &method, resp.status().as_u16(), secs);
    let status = resp.status().as_u16();
    if !app.logs.wants(status) {
        return Ok(resp);
    }
    let caller = match slot.0.get() {
        Some(c) => c.clone(),
        None => match auth_header
            .as_deref()
            .and_then(crate::auth::token::from_header)
        {
            Some(raw) => app.caller(raw),
            None => crate::auth::Caller::Guest,
        },
    };
    app.logs.record(logs::Request {
        created,
        method,
        url,
        status,
        exec_ms,
        remote_ip,
        user_ip,
        referer,
        user_agent,
        caller,
        error: resp.extensions().get::<LoggedError>().map(|e| e.0.clone()),
    });
    Ok(resp)
}

/// The endpoint's response, errors rendered (the envelope middleware sits inside).
async fn respond<E: Endpoint>(ep: &E, req: Request) -> Response {
    ep.call(req)
        .await
        .map(IntoResponse::into_response)
        .unwrap_or_else(|e| e.into_response())
}
