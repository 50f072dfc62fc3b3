//! `GET /metrics`: Prometheus' text format, off unless `[metrics] enabled` (404), behind
//! `Authorization: Bearer <[metrics] token>` when a token is set (401).

use crate::app::App;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::metrics;
use poem::http::{header, StatusCode};
use poem::web::Data;
use poem::{handler, IntoResponse, Request, Response};
use std::sync::Arc;

/// Compares without an early exit, so the token cannot be guessed byte by byte from timing.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[handler]
pub async fn scrape(app: Data<&Arc<App>>, req: &Request) -> Result<Response, ApiError> {
    let cfg = &app.config.metrics;
    if !cfg.enabled {
        return Err(ApiError::not_found());
    }
    if !cfg.token.is_empty() {
        let sent = req
            .header("authorization")
            .and_then(|h| {
                h.get(..7)
                    .filter(|p| p.eq_ignore_ascii_case("bearer "))
                    .map(|_| &h[7..])
            })
            .unwrap_or("");
        if !same(sent.trim().as_bytes(), cfg.token.as_bytes()) {
            return Err(ApiError::Unauthorized(
                "The metrics endpoint requires its bearer token.".into(),
            ));
        }
    }
    if let Some(m) = metrics::get() {
        m.changelog_head
            .set(i64::try_from(app.store.head().0).unwrap_or(i64::MAX));
        let oldest = app
            .store
            .oldest_retained()
            .ok()
            .flatten()
            .map_or(0, |s| s.0);
        m.changelog_oldest
            .set(i64::try_from(oldest).unwrap_or(i64::MAX));
        let gauge = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        m.realtime_connections
            .set(gauge(app.realtime.hub.connections()));
        m.realtime_subscriptions
            .set(gauge(app.realtime.hub.subscriptions()));
        m.webhook_deliveries.reset();
        m.webhook_pending.reset();
        for hook in app.webhooks.list(&Caller::System).unwrap_or_default() {
            let id = hook["id"].as_str().unwrap_or("");
            let status = &hook["status"];
            let n = |k: &str| status[k].as_i64().unwrap_or(0);
            m.webhook_deliveries
                .with_label_values(&[id, "delivered"])
                .set(n("deliveredSinceStart"));
            m.webhook_deliveries
                .with_label_values(&[id, "failed"])
                .set(n("failedSinceStart"));
            m.webhook_pending.with_label_values(&[id]).set(n("pending"));
        }
        let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        m.request_log
            .with_label_values(&["written"])
            .set(count(app.logs.written()));
        m.request_log
            .with_label_values(&["dropped"])
            .set(count(app.logs.dropped()));
        m.rss_bytes.set(count(metrics::rss_bytes()));
    }
    Ok(metrics::render()
        .with_content_type("text/plain; version=0.0.4; charset=utf-8")
        .with_status(StatusCode::OK)
        .with_header(header::CACHE_CONTROL, "no-store")
        .into_response())
}
