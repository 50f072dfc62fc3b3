//! Process-wide Prometheus metrics (`GET /metrics`, off unless `[metrics] enabled`). A leaf
//! module: the store, the HTTP layer and others record into the collectors here; values that
//! already live elsewhere (change-log head, realtime connections, webhook counts, RSS) are read
//! at scrape time by the handler and set as gauges.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};
use std::sync::LazyLock;

pub struct Metrics {
    registry: Registry,
    /// Requests by route template, method and status.
    pub requests: IntCounterVec,
    /// Request latency (arrival to response head) by route template and method.
    pub latency: HistogramVec,
    /// Transactions per group commit of the store's writer.
    pub group_size: HistogramVec,
    /// Seconds one group commit spent in `fsync` (durability = "fsync" only).
    pub fsync: HistogramVec,
    /// Gauges set at scrape time.
    pub changelog_head: IntGauge,
    pub changelog_oldest: IntGauge,
    pub realtime_connections: IntGauge,
    pub realtime_subscriptions: IntGauge,
    /// Realtime connections closed because their queue was full (WebSocket 4008 `lagged`, SSE
    /// ended) or the change log no longer had their events.
    pub realtime_lagged_closes: IntCounter,
    pub webhook_deliveries: IntGaugeVec,
    pub webhook_pending: IntGaugeVec,
    pub request_log: IntGaugeVec,
    pub rss_bytes: IntGauge,
    /// Backups made or failed since start, by outcome (made, failed).
    pub backups: IntCounterVec,
    /// Seconds the last backup (made or failed) took.
    pub backup_last_seconds: prometheus::Gauge,
}

fn build() -> Result<Metrics, prometheus::Error> {
    let registry = Registry::new_custom(Some("ferrobase".into()), None)?;
    let requests = IntCounterVec::new(
        Opts::new(
            "http_requests_total",
            "HTTP requests by route, method and status.",
        ),
        &["route", "method", "status"],
    )?;
    let latency = HistogramVec::new(
        HistogramOpts::new(
            "http_request_duration_seconds",
            "HTTP request latency (to the response head) by route and method.",
        )
        .buckets(vec![
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ]),
        &["route", "method"],
    )?;
    let group_size = HistogramVec::new(
        HistogramOpts::new(
            "store_group_commit_transactions",
            "Transactions committed together in one group commit.",
        )
        .buckets(vec![
            1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0,
        ]),
        &[],
    )?;
    let fsync = HistogramVec::new(
        HistogramOpts::new(
            "store_fsync_seconds",
            "Time one group commit spent flushing to disk.",
        )
        .buckets(vec![
            0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
        ]),
        &[],
    )?;
    let changelog_head = IntGauge::new("changelog_head_seq", "The last committed change-log seq.")?;
    let changelog_oldest = IntGauge::new(
        "changelog_oldest_seq",
        "The oldest seq still in the change log (0 when empty).",
    )?;
    let realtime_connections = IntGauge::new(
        "realtime_connections",
        "Open realtime connections (WebSocket and SSE).",
    )?;
    let realtime_subscriptions = IntGauge::new(
        "realtime_subscriptions",
        "Subscriptions over all realtime connections.",
    )?;
    let realtime_lagged_closes = IntCounter::new(
        "realtime_lagged_closes_total",
        "Realtime connections closed as lagged (queue full or events gone from the change log).",
    )?;
    let webhook_deliveries = IntGaugeVec::new(
        Opts::new(
            "webhook_deliveries",
            "Webhook deliveries since start by webhook and status (delivered, failed).",
        ),
        &["webhook", "status"],
    )?;
    let webhook_pending = IntGaugeVec::new(
        Opts::new("webhook_pending", "Webhook deliveries waiting for a retry."),
        &["webhook"],
    )?;
    let request_log = IntGaugeVec::new(
        Opts::new(
            "request_log_entries",
            "Request-log entries since start: written, or dropped because the writer was behind.",
        ),
        &["outcome"],
    )?;
    let rss_bytes = IntGauge::new("process_resident_memory_bytes", "Resident set size.")?;
    let backups = IntCounterVec::new(
        Opts::new(
            "backups_total",
            "Backups since start by outcome (made, failed).",
        ),
        &["outcome"],
    )?;
    let backup_last_seconds = prometheus::Gauge::new(
        "backup_last_duration_seconds",
        "Seconds the last backup (made or failed) took.",
    )?;
    for c in [
        Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
        Box::new(latency.clone()),
        Box::new(group_size.clone()),
        Box::new(fsync.clone()),
        Box::new(changelog_head.clone()),
        Box::new(changelog_oldest.clone()),
        Box::new(realtime_connections.clone()),
        Box::new(realtime_subscriptions.clone()),
        Box::new(realtime_lagged_closes.clone()),
        Box::new(webhook_deliveries.clone()),
        Box::new(webhook_pending.clone()),
        Box::new(request_log.clone()),
        Box::new(rss_bytes.clone()),
        Box::new(backups.clone()),
        Box::new(backup_last_seconds.clone()),
    ] {
        registry.register(c)?;
    }
    Ok(Metrics {
        registry,
        requests,
        latency,
        group_size,
        fsync,
        changelog_head,
        changelog_oldest,
        realtime_connections,
        realtime_subscriptions,
        realtime_lagged_closes,
        webhook_deliveries,
        webhook_pending,
        request_log,
        rss_bytes,
        backups,
        backup_last_seconds,
    })
}

/// The process's metrics; `None` only if the collectors could not be built (never expected:
/// names and labels are constants).
pub fn get() -> Option<&'static Metrics> {
    static METRICS: LazyLock<Option<Metrics>> = LazyLock::new(|| match build() {
        Ok(m) => Some(m),
        Err(e) => {
            tracing::error!(error = %e, "cannot build the metrics registry");
            None
        }
    });
    METRICS.as_ref()
}

/// Records one group commit of `transactions` whose flush took `fsync_secs` (`None`: no flush).
pub fn store_commit(transactions: usize, fsync_secs: Option<f64>) {
    if let Some(m) = get() {
        m.group_size
            .with_label_values::<&str>(&[])
            .observe(transactions as f64);
        if let Some(s) = fsync_secs {
            m.fsync.with_label_values::<&str>(&[]).observe(s);
        }
    }
}

/// Records one backup that was made (`ok`) or failed after `secs`.
pub fn backup_done(ok: bool, secs: f64) {
    if let Some(m) = get() {
        m.backups
            .with_label_values(&[if ok { "made" } else { "failed" }])
            .inc();
        m.backup_last_seconds.set(secs);
    }
}

/// Counts one realtime connection closed as lagged.
pub fn realtime_lagged_close() {
    if let Some(m) = get() {
        m.realtime_lagged_closes.inc();
    }
}

/// Records one finished HTTP request.
pub fn http_request(route: &str, method: &str, status: u16, secs: f64) {
    let method = method_label(method);
    if let Some(m) = get() {
        m.requests
            .with_label_values(&[route, method, &status.to_string()])
            .inc();
        m.latency.with_label_values(&[route, method]).observe(secs);
    }
}

/// The registry in Prometheus' text format.
pub fn render() -> String {
    let Some(m) = get() else {
        return String::new();
    };
    let mut out = Vec::new();
    if let Err(e) = TextEncoder::new().encode(&m.registry.gather(), &mut out) {
        tracing::error!(error = %e, "cannot encode metrics");
    }
    String::from_utf8(out).unwrap_or_default()
}

/// The process's resident set size in bytes (Linux: `/proc/self/statm`; 0 elsewhere).
pub fn rss_bytes() -> u64 {
    let Ok(statm) = std::fs::read_to_string("/proc/self/statm") else {
        return 0;
    };
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages.saturating_mul(4096)
}

/// The route template of a request path, so labels stay few whatever clients send: record ids
/// and collection names become `:id` / `:c`; unknown paths are `unmatched`.
pub fn route_of(path: &str) -> String {
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let known = |s: &str| s.to_string();
    match segs.as_slice() {
        [] | [""] => known("/"),
        ["_", ..] => known("/_/"),
        ["metrics"] => known("/metrics"),
        ["api", "collections"] => known("/api/collections"),
        ["api", "collections", "import"] => known("/api/collections/import"),
        ["api", "collections", "meta", "validate"] => known("/api/collections/meta/validate"),
        ["api", "collections", _] => known("/api/collections/:c"),
        ["api", "collections", _, "records"] => known("/api/collections/:c/records"),
        ["api", "collections", _, "records", _] => known("/api/collections/:c/records/:id"),
        ["api", "collections", _, "impersonate", _] => known("/api/collections/:c/impersonate/:id"),
        ["api", "collections", _, action] if COLLECTION_ACTIONS.contains(action) => {
            format!("/api/collections/:c/{action}")
        }
        ["api", "webhooks", _] => known("/api/webhooks/:id"),
        ["api", "webhooks", _, "deliveries"] => known("/api/webhooks/:id/deliveries"),
        ["api", "webhooks", _, "deliveries", _, "redeliver"] => {
            known("/api/webhooks/:id/deliveries/:delivery/redeliver")
        }
        ["api", "webhooks", _, "test"] => known("/api/webhooks/:id/test"),
        ["api", "logs", "stats"] => known("/api/logs/stats"),
        ["api", "logs", _] => known("/api/logs/:id"),
        ["api", "settings", "test", _] => known("/api/settings/test/:kind"),
        ["api", one] if API_ROOTS.contains(one) => format!("/api/{one}"),
        ["api", "realtime", "ws"] => known("/api/realtime/ws"),
        _ => known("unmatched"),
    }
}

/// Collection endpoints other than records (a fixed list: label values must stay few).
const COLLECTION_ACTIONS: [&str; 13] = [
    "truncate",
    "auth-with-password",
    "auth-with-oauth2",
    "auth-with-otp",
    "auth-refresh",
    "auth-methods",
    "request-otp",
    "request-verification",
    "confirm-verification",
    "request-password-reset",
    "confirm-password-reset",
    "request-email-change",
    "confirm-email-change",
];

/// Top-level API names.
const API_ROOTS: [&str; 12] = [
    "health", "batch", "realtime", "settings", "logs", "mails", "plugins", "setup", "webhooks",
    "backups", "files", "crons",
];

/// The method as a label: the standard ones, else `OTHER` (clients may send any token).
pub fn method_label(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "OTHER",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_collapse_ids_and_names() {
        assert_eq!(
            route_of("/api/collections/posts/records/abc"),
            "/api/collections/:c/records/:id"
        );
        assert_eq!(
            route_of("/api/collections/posts/records"),
            "/api/collections/:c/records"
        );
        assert_eq!(
            route_of("/api/collections/posts/auth-with-password"),
            "/api/collections/:c/auth-with-password"
        );
        assert_eq!(route_of("/api/health"), "/api/health");
        assert_eq!(route_of("/api/logs/stats"), "/api/logs/stats");
        assert_eq!(route_of("/api/logs/0123"), "/api/logs/:id");
        assert_eq!(route_of("/_/assets/x.js"), "/_/");
        assert_eq!(route_of("/wp-admin/x/y"), "unmatched");
        assert_eq!(route_of("/api/h%20x"), "unmatched");
        assert_eq!(route_of("/api/random123"), "unmatched");
        assert_eq!(route_of("/api/collections/posts/whatever"), "unmatched");
        assert_eq!(method_label("FOO"), "OTHER");
    }

    #[test]
    fn the_registry_renders_text() {
        http_request("/api/health", "GET", 200, 0.001);
        store_commit(3, Some(0.002));
        let text = render();
        assert!(text.contains("ferrobase_http_requests_total{method=\"GET\",route=\"/api/health\",status=\"200\"}"), "{text}");
        assert!(text.contains("ferrobase_store_group_commit_transactions_bucket"));
        assert!(text.contains("ferrobase_store_fsync_seconds_count"));
        assert!(rss_bytes() > 0);
    }
}
