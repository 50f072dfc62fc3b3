//! The store's and the column cache's tuning numbers are configuration keys (settable from the
//! environment like every key), and extreme values keep the server correct instead of panicking.

use reqwest::Method;
use serde_json::json;

use crate::harness::{item_ids, public_collection, records, Api, TestServer};

const UNKNOWN: &str = "ignoring unknown configuration variable";

/// The `X-Ferrobase-Plan` header and `totalItems` of an unindexed filtered, sorted list.
async fn plan_of(api: &Api, collection: &str) -> (String, u64) {
    let path = format!("{}?filter=n%3E%3D0&sort=-n", records(collection));
    let resp = api.request(Method::GET, &path).send().await.expect("send");
    assert_eq!(resp.status().as_u16(), 200);
    let plan = resp
        .headers()
        .get("x-ferrobase-plan")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body: serde_json::Value = resp.json().await.expect("json");
    (plan, body["totalItems"].as_u64().unwrap_or(u64::MAX))
}

#[tokio::test]
async fn arch_store_writer_tuning_comes_from_config_and_extremes_stay_correct() {
    // Groups of one transaction, a writer queue and an event buffer of zero (clamped to one),
    // sled's relaxed-mode flush timer set: every write still commits, in order, gaplessly.
    let srv = TestServer::builder()
        .env("FERROBASE_STORE_WRITER_MAX_GROUP", "1")
        .env("FERROBASE_STORE_WRITER_QUEUE", "0")
        .env("FERROBASE_STORE_EVENT_BUFFER", "0")
        .env("FERROBASE_STORE_RELAXED_FLUSH_MS", "50")
        .env("FERROBASE_REALTIME_SHUTDOWN_WAIT_MS", "100")
        .start()
        .await;
    srv.create_collection(public_collection(
        "items",
        json!([{"name": "n", "type": "number"}]),
    ))
    .await;
    let api = srv.guest();
    let mut tasks = Vec::new();
    for i in 0..24 {
        let api = api.clone();
        tasks.push(tokio::spawn(async move {
            api.post(&records("items"), json!({"n": i})).await.status
        }));
    }
    for t in tasks {
        assert_eq!(t.await.expect("join"), 200);
    }
    let list = api.list("items", "?perPage=100&sort=n").await;
    assert_eq!(list["totalItems"], 24, "{list}");
    assert_eq!(item_ids(&list).len(), 24);
    let log = srv.log_tail();
    assert!(!log.contains(UNKNOWN), "tuning keys must be known: {log}");
    assert!(!log.contains("panicked"), "{log}");
}

#[tokio::test]
async fn arch_store_column_cache_size_comes_from_config() {
    let srv = TestServer::builder()
        .env("FERROBASE_QUERY_COLUMN_CACHE_MAX_ROWS", "10")
        .start()
        .await;
    for name in ["small", "big"] {
        srv.create_collection(public_collection(
            name,
            json!([{"name": "n", "type": "number"}]),
        ))
        .await;
    }
    let api = srv.guest();
    for i in 0..5 {
        api.create("small", json!({"n": i})).await;
    }
    for i in 0..20 {
        api.create("big", json!({"n": i})).await;
    }
    // The plan header is shown to superusers only.
    let su = srv.su();
    let (plan, total) = plan_of(&su, "small").await;
    assert!(plan.starts_with("column scan"), "{plan}");
    assert_eq!(total, 5);
    // Over the configured row limit: answered by the row path, with the same results.
    let (plan, total) = plan_of(&su, "big").await;
    assert_eq!(plan, "full scan");
    assert_eq!(total, 20);
    let log = srv.log_tail();
    assert!(!log.contains(UNKNOWN), "{log}");
}
