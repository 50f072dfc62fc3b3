//! Operations: every request lands in the request log (written in batches off the request
//! path), read by superusers through `GET /api/logs` (PocketBase's list params, filters over
//! `data.*`, `level`, `created`), `/api/logs/{id}` and `/api/logs/stats`; `logs.*` and
//! `trustedProxy` settings apply to the next request.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::accounts::user;
use crate::harness::{Api, TestServer};

/// Polls `GET /api/logs?<query>` until it lists at least `n` items (the writer batches).
async fn logs_until(su: &Api, query: &str, n: usize) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let list = su.get(&format!("/api/logs?{query}")).await.ok();
        if list["items"].as_array().unwrap().len() >= n {
            return list;
        }
        assert!(
            Instant::now() < deadline,
            "fewer than {n} logs for {query}: {list}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn fast_logs() -> crate::harness::TestServerBuilder {
    TestServer::builder().env("FERROBASE_REQUEST_LOGS_FLUSH_MS", "10")
}

#[tokio::test]
async fn requests_are_logged_with_pocketbase_fields() {
    let srv = fast_logs().start().await;
    let guest = srv.guest();
    let r = guest
        .request(reqwest::Method::GET, "/api/health?probe=1")
        .header("User-Agent", "ops-test/1.0")
        .header("Referer", "http://ref.example/")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(guest.get("/api/nope").await.status, 404);
    let su = srv.su();

    let list = logs_until(&su, "filter=data.url%3D'/api/health?probe=1'", 1).await;
    assert_eq!(list["totalItems"], 1, "{list}");
    let e = &list["items"][0];
    assert_eq!(e["message"], "GET /api/health?probe=1");
    assert_eq!(e["level"], 0);
    assert!(
        crate::harness::is_pb_date(e["created"].as_str().unwrap()),
        "{e}"
    );
    let d = &e["data"];
    assert_eq!(d["method"], "GET");
    assert_eq!(d["status"], 200);
    assert_eq!(d["remoteIP"], "127.0.0.1");
    assert_eq!(d["userIP"], "127.0.0.1");
    assert_eq!(d["userAgent"], "ops-test/1.0");
    assert_eq!(d["referer"], "http://ref.example/");
    assert_eq!(d["auth"], "");
    assert!(d["execTime"].as_f64().unwrap() >= 0.0);

    // One entry by id; unknown ids are 404.
    let id = e["id"].as_str().unwrap();
    let one = su.get(&format!("/api/logs/{id}")).await.ok();
    assert_eq!(&one, e);
    su.get("/api/logs/0000000000000000")
        .await
        .assert_error(404, "The requested resource wasn't found.");
    su.get("/api/logs/nope")
        .await
        .assert_error(404, "The requested resource wasn't found.");

    // Failures carry the error and a warn level; filters over level and data.status.
    let list = logs_until(
        &su,
        "filter=data.status%3D404%26%26data.url%3D'/api/nope'",
        1,
    )
    .await;
    let e = &list["items"][0];
    assert_eq!(e["level"], 4);
    assert!(
        e["data"]["error"]
            .as_str()
            .unwrap()
            .contains("wasn't found"),
        "{e}"
    );
    let warn = su.get("/api/logs?filter=level>=4&perPage=500").await.ok();
    assert!(warn["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["level"].as_i64().unwrap() >= 4));

    // The superuser's own requests name the auth collection.
    let list = logs_until(&su, "filter=data.auth%3D'_superusers'", 1).await;
    assert!(list["items"][0].get("data").is_some());
}

#[tokio::test]
async fn logs_list_pages_sorts_and_counts_per_hour() {
    let srv = fast_logs().start().await;
    let guest = srv.guest();
    for i in 0..5 {
        guest.get(&format!("/api/health?n={i}")).await;
    }
    let su = srv.su();
    let all = logs_until(&su, "filter=data.url~'/api/health?n=%25'&perPage=100", 5).await;
    assert_eq!(all["totalItems"], 5);
    // Newest first by default.
    let urls: Vec<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["data"]["url"].as_str().unwrap())
        .collect();
    assert_eq!(urls[0], "/api/health?n=4", "{urls:?}");
    assert_eq!(urls[4], "/api/health?n=0");

    let page = su
        .get("/api/logs?filter=data.url~'/api/health?n=%25'&perPage=2&page=2&sort=data.url")
        .await
        .ok();
    assert_eq!(page["totalItems"], 5);
    assert_eq!(page["totalPages"], 3);
    let urls: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["data"]["url"].as_str().unwrap())
        .collect();
    assert_eq!(urls, ["/api/health?n=2", "/api/health?n=3"]);
    let skip = su
        .get("/api/logs?filter=data.url~'/api/health?n=%25'&perPage=2&skipTotal=1")
        .await
        .ok();
    assert_eq!(skip["totalItems"], -1);
    assert_eq!(skip["items"].as_array().unwrap().len(), 2);

    let stats = su
        .get("/api/logs/stats?filter=data.url~'/api/health?n=%25'")
        .await
        .ok();
    let buckets = stats.as_array().unwrap();
    let total: i64 = buckets.iter().map(|b| b["total"].as_i64().unwrap()).sum();
    assert_eq!(total, 5, "{stats}");
    for b in buckets {
        let date = b["date"].as_str().unwrap();
        assert!(
            date.ends_with(":00:00.000Z") && crate::harness::is_pb_date(date),
            "{date}"
        );
    }

    // Bad filters and sorts are 400s on the parameter.
    let r = su.get("/api/logs?filter=nope=1").await;
    assert_eq!(r.code("filter"), "validation_invalid_filter", "{}", r.text);
    let r = su.get("/api/logs?sort=nope").await;
    assert_eq!(r.code("sort"), "validation_invalid_sort", "{}", r.text);
    let r = su.get("/api/logs/stats?filter=(").await;
    assert_eq!(r.code("filter"), "validation_invalid_filter", "{}", r.text);
}

#[tokio::test]
async fn logs_are_superuser_only() {
    let srv = fast_logs().start().await;
    let guest = srv.guest();
    for path in ["/api/logs", "/api/logs/stats", "/api/logs/0000000000000000"] {
        let r = guest.get(path).await;
        assert_eq!(r.status, 401, "{path}: {}", r.text);
    }
    let (client, _) = user(&srv, "u@example.com", "u").await;
    for path in ["/api/logs", "/api/logs/stats", "/api/logs/0000000000000000"] {
        let r = client.get(path).await;
        assert_eq!(r.status, 403, "{path}: {}", r.text);
    }
}

#[tokio::test]
async fn logs_settings_apply_to_the_next_request() {
    let srv = fast_logs().start().await;
    let su = srv.su();
    su.patch(
        "/api/settings",
        json!({
            "logs": {"logIP": false, "logAuthId": true, "minLevel": 4},
            "trustedProxy": {"headers": ["X-Real-IP"]},
        }),
    )
    .await
    .ok();
    let guest = srv.guest();
    guest.get("/api/health?quiet=1").await;
    let r = guest
        .request(reqwest::Method::GET, "/api/nope?loud=1")
        .header("X-Real-IP", "198.51.100.7")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let list = logs_until(&su, "filter=data.url%3D'/api/nope?loud=1'", 1).await;
    let d = &list["items"][0]["data"];
    assert_eq!(d["remoteIP"], "", "logIP off: {d}");
    assert_eq!(d["userIP"], "");
    // Below minLevel: not logged at all.
    let quiet = su
        .get("/api/logs?filter=data.url%3D'/api/health?quiet=1'")
        .await
        .ok();
    assert_eq!(quiet["totalItems"], 0, "{quiet}");
    // The superuser's failing request carries its id with logAuthId.
    su.get("/api/collections/missing").await;
    let list = logs_until(&su, "filter=data.url%3D'/api/collections/missing'", 1).await;
    let d = &list["items"][0]["data"];
    assert_eq!(d["auth"], "_superusers");
    assert!(d["authId"].as_str().is_some_and(|s| !s.is_empty()), "{d}");

    // userIP follows the trusted header once IPs are logged again.
    su.patch("/api/settings", json!({"logs": {"logIP": true}}))
        .await
        .ok();
    let r = guest
        .request(reqwest::Method::GET, "/api/nope?proxied=1")
        .header("X-Real-IP", "198.51.100.7")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let list = logs_until(&su, "filter=data.url%3D'/api/nope?proxied=1'", 1).await;
    let d = &list["items"][0]["data"];
    assert_eq!(d["remoteIP"], "127.0.0.1");
    assert_eq!(d["userIP"], "198.51.100.7");

    // maxDays = 0 turns logging off.
    su.patch(
        "/api/settings",
        json!({"logs": {"maxDays": 0, "minLevel": 0}}),
    )
    .await
    .ok();
    guest.get("/api/nope?off=1").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let off = su
        .get("/api/logs?filter=data.url%3D'/api/nope?off=1'")
        .await
        .ok();
    assert_eq!(off["totalItems"], 0);
}

#[tokio::test]
async fn logs_survive_a_clean_restart_and_a_full_queue_never_blocks() {
    // A queue of one entry and a slow batch window: most entries are dropped, none blocks.
    let mut srv = TestServer::builder()
        .env("FERROBASE_REQUEST_LOGS_QUEUE", "1")
        .env("FERROBASE_REQUEST_LOGS_BATCH", "1")
        .env("FERROBASE_REQUEST_LOGS_FLUSH_MS", "10")
        .start()
        .await;
    let guest = srv.guest();
    let started = Instant::now();
    let mut handles = Vec::new();
    for i in 0..200 {
        let g = guest.clone();
        handles.push(tokio::spawn(async move {
            g.get(&format!("/api/health?burst={i}")).await.status
        }));
    }
    for h in handles {
        assert_eq!(h.await.unwrap(), 200);
    }
    assert!(started.elapsed() < Duration::from_secs(20));
    let su = srv.su();
    let seen = su
        .get("/api/logs?filter=data.url~'/api/health?burst=%25'&perPage=1")
        .await
        .ok();
    let n = seen["totalItems"].as_i64().unwrap();
    assert!((1..=200).contains(&n), "{n}");

    srv.restart().await;
    let again = srv
        .su()
        .get("/api/logs?filter=data.url~'/api/health?burst=%25'&perPage=1")
        .await
        .ok();
    assert!(again["totalItems"].as_i64().unwrap() >= n, "{again}");
}

/// The request log's segment files (`<data dir>/logs/*.seg`), sorted.
fn segments(srv: &TestServer) -> Vec<std::path::PathBuf> {
    let mut found: Vec<_> = std::fs::read_dir(srv.data_dir().join("logs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    found.sort();
    found
}

#[tokio::test]
async fn a_corrupt_or_torn_segment_tail_is_skipped_never_a_500() {
    let mut srv = fast_logs().start().await;
    let guest = srv.guest();
    assert_eq!(guest.get("/api/health?before=1").await.status, 200);
    let su = srv.su();
    let first = logs_until(&su, "filter=data.url%3D'/api/health?before=1'", 1).await;
    let id = first["items"][0]["id"].as_str().unwrap().to_string();
    srv.stop().await;

    // Garbage, then an entry torn by a crash mid-write (no newline), at the newest segment's end.
    let newest = segments(&srv).pop().expect("a segment");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&newest)
        .unwrap();
    use std::io::Write;
    f.write_all(b"\x00\xff not json\n{\"id\":\"ffffffffffffffff\",\"crea")
        .unwrap();
    drop(f);
    srv.start_again().await;

    let guest = srv.guest();
    assert_eq!(guest.get("/api/health?after=1").await.status, 200);
    let su = srv.su();
    // The new entry lands on a line of its own after the torn one; the old one is still there.
    logs_until(&su, "filter=data.url%3D'/api/health?after=1'", 1).await;
    let all = su.get("/api/logs?perPage=500").await.ok();
    let ids: Vec<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&id.as_str()), "{all}");
    assert!(!ids.contains(&"ffffffffffffffff"));
    assert_eq!(su.get(&format!("/api/logs/{id}")).await.status, 200);
    assert_eq!(su.get("/api/logs/ffffffffffffffff").await.status, 404);
    let stats = su.get("/api/logs/stats").await;
    assert_eq!(stats.status, 200, "{}", stats.text);
    let log = std::fs::read_to_string(srv.log_path()).unwrap();
    assert!(log.contains("torn entry"), "the repair is logged");
}

#[tokio::test]
async fn retention_zero_days_deletes_every_segment() {
    let srv = fast_logs()
        .env("FERROBASE_REQUEST_LOGS_TRIM_SECS", "1")
        .start()
        .await;
    let guest = srv.guest();
    assert_eq!(guest.get("/api/health?kept=1").await.status, 200);
    let su = srv.su();
    logs_until(&su, "filter=data.url%3D'/api/health?kept=1'", 1).await;
    assert!(!segments(&srv).is_empty());
    // maxDays 0 turns logging off, and the next trim deletes every segment.
    let r = su
        .patch("/api/settings", json!({"logs": {"maxDays": 0}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !segments(&srv).is_empty() {
        assert!(
            Instant::now() < deadline,
            "segments left: {:?}",
            segments(&srv)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let r = su
        .patch("/api/settings", json!({"logs": {"maxDays": 5}}))
        .await;
    assert_eq!(r.status, 200);
    let list = su
        .get("/api/logs?filter=data.url%3D'/api/health?kept=1'")
        .await
        .ok();
    assert_eq!(list["totalItems"], 0, "{list}");
}
