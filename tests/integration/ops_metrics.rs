//! Operations: `GET /metrics` — off by default, Prometheus text behind an optional bearer
//! token, with request, store, change-log, realtime, webhook, request-log and RSS metrics.

use serde_json::json;

use crate::harness::{public_collection, TestServer};

/// The value of the first sample line starting with `prefix` (`name{labels}`).
fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn metrics_are_off_by_default() {
    let srv = TestServer::start().await;
    let r = srv.guest().get("/metrics").await;
    r.assert_error(404, "The requested resource wasn't found.");
    let r = srv.su().get("/metrics").await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn metrics_scrape_cleanly_behind_the_token() {
    let srv = TestServer::builder()
        .env("FERROBASE_METRICS_ENABLED", "true")
        .env("FERROBASE_METRICS_TOKEN", "s3cret-token")
        .start()
        .await;
    srv.create_collection(public_collection(
        "notes",
        json!([{"name": "title", "type": "text"}]),
    ))
    .await;
    let guest = srv.guest();
    for i in 0..3 {
        guest
            .create("notes", json!({"title": format!("n{i}")}))
            .await;
    }
    assert_eq!(
        guest
            .get("/api/collections/notes/records/missing")
            .await
            .status,
        404
    );

    // Without or with a wrong token: 401 (a superuser token is not the metrics token).
    let r = guest.get("/metrics").await;
    r.assert_error(401, "The metrics endpoint requires its bearer token.");
    let r = srv.su().get("/metrics").await;
    assert_eq!(r.status, 401);
    let r = srv
        .client(Some("Bearer s3cret-tokeX".into()))
        .get("/metrics")
        .await;
    assert_eq!(r.status, 401);

    let r = srv
        .client(Some("Bearer s3cret-token".into()))
        .request(reqwest::Method::GET, "/metrics")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let ct = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    let text = r.text().await.unwrap();

    // Every line is a comment or `name{labels} value`.
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let value = line.rsplit(' ').next().unwrap();
        assert!(value.parse::<f64>().is_ok(), "bad sample line {line:?}");
        assert!(line.starts_with("ferrobase_"), "{line}");
    }
    let created = sample(
        &text,
        "ferrobase_http_requests_total{method=\"POST\",route=\"/api/collections/:c/records\",status=\"200\"}",
    );
    assert_eq!(created, Some(3.0), "{text}");
    let missing = sample(
        &text,
        "ferrobase_http_requests_total{method=\"GET\",route=\"/api/collections/:c/records/:id\",status=\"404\"}",
    );
    assert_eq!(missing, Some(1.0));
    assert!(text.contains("ferrobase_http_request_duration_seconds_bucket{method=\"POST\",route=\"/api/collections/:c/records\",le=\"0.005\"}"));
    assert!(sample(&text, "ferrobase_store_group_commit_transactions_count").unwrap() >= 3.0);
    assert!(sample(&text, "ferrobase_store_fsync_seconds_count").unwrap() >= 1.0);
    // The three creates (and the harness's superuser) are change-log events.
    assert!(sample(&text, "ferrobase_changelog_head_seq").unwrap() >= 3.0);
    assert_eq!(sample(&text, "ferrobase_realtime_connections"), Some(0.0));
    assert_eq!(sample(&text, "ferrobase_realtime_subscriptions"), Some(0.0));
    assert!(sample(&text, "ferrobase_process_resident_memory_bytes").unwrap() > 1e6);
    assert!(text.contains("ferrobase_request_log_entries{outcome=\"dropped\"} 0"));
    // Record ids never become label values.
    assert!(!text.contains("missing"), "{text}");

    // A WebSocket with two subscriptions shows up in the realtime gauges.
    let mut ws = crate::realtime::Ws::connect(&srv, None).await;
    ws.subscribe("a", "notes/*", json!({})).await;
    ws.subscribe("b", "notes/*", json!({"filter": "title = 'x'"}))
        .await;
    let scrape = srv.client(Some("Bearer s3cret-token".into()));
    let text = scrape.get("/metrics").await.text;
    assert_eq!(
        sample(&text, "ferrobase_realtime_connections"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(sample(&text, "ferrobase_realtime_subscriptions"), Some(2.0));
    // Random paths and methods collapse into fixed label values.
    guest.get("/api/definitely-not-a-route-123").await;
    let text = scrape.get("/metrics").await.text;
    assert!(text.contains("route=\"unmatched\""), "{text}");
    assert!(!text.contains("definitely-not"), "{text}");
}

#[tokio::test]
async fn realtime_lagged_closes_are_counted() {
    use crate::realtime::{create_many, posts, End, Ws};
    let srv = TestServer::builder()
        .env("FERROBASE_METRICS_ENABLED", "true")
        .env("FERROBASE_REALTIME_QUEUE", "4")
        .env("FERROBASE_STORE_DURABILITY", "relaxed")
        .start()
        .await;
    let scrape = || async {
        let text = srv.guest().get("/metrics").await.text;
        sample(&text, "ferrobase_realtime_lagged_closes_total")
    };
    assert_eq!(scrape().await, Some(0.0));
    posts(&srv).await;
    let mut ws = Ws::connect(&srv, None).await;
    ws.subscribe("s", "posts/*", json!({})).await;
    // Never read while ~10 MB of events pile up: socket buffers fill, then the queue.
    create_many(&srv, 1200, 8, 8000).await;
    let end = loop {
        if let Err(end) = ws.next_within(std::time::Duration::from_secs(10)).await {
            break end;
        }
    };
    assert_eq!(end, End::Closed(Some(4008)));
    assert_eq!(scrape().await, Some(1.0));
}
