//! Webhooks end to end: a receiver in the test process verifies every request with the Standard
//! Webhooks algorithm; the server retries failures on a millisecond schedule, survives kill -9
//! mid-retry, and never loses an event.

use crate::accounts::user;
use crate::harness::{id_of, record, Api, TestServer};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use poem::http::StatusCode;
use poem::web::Data;
use poem::{handler, EndpointExt, Request, Route};
use serde_json::{json, Value};
use sha2::Sha256;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How the receiver answers: `fail_first` requests get 500, then every `fail_every`-th (0 =
/// never) gets 503, the rest 200.
#[derive(Default)]
struct Receiver {
    got: Mutex<Vec<Got>>,
    requests: AtomicUsize,
    fail_first: AtomicUsize,
    fail_every: AtomicUsize,
    secret: Mutex<String>,
}

#[derive(Clone, Debug)]
struct Got {
    id: String,
    body: Value,
    signed: bool,
    custom: Option<String>,
}

fn verify(secret: &str, id: &str, ts: &str, body: &[u8], sig: &str) -> bool {
    let Some(key) = secret
        .strip_prefix("whsec_")
        .and_then(|b| STANDARD.decode(b).ok())
    else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(body);
    let want = STANDARD.encode(mac.finalize().into_bytes());
    sig.split(' ')
        .any(|s| s.strip_prefix("v1,") == Some(want.as_str()))
}

#[handler]
async fn receive(req: &Request, body: poem::Body, rx: Data<&Arc<Receiver>>) -> StatusCode {
    let n = rx.requests.fetch_add(1, Ordering::SeqCst) + 1;
    let bytes = body.into_vec().await.unwrap_or_default();
    let h = |k: &str| req.header(k).unwrap_or("").to_string();
    let (id, ts) = (h("webhook-id"), h("webhook-timestamp"));
    let fresh = ts
        .parse::<i64>()
        .is_ok_and(|t| (chrono::Utc::now().timestamp() - t).abs() < 300);
    let signed = fresh
        && req.header("content-type") == Some("application/json")
        && verify(
            &rx.secret.lock().unwrap(),
            &id,
            &ts,
            &bytes,
            &h("webhook-signature"),
        );
    let every = rx.fail_every.load(Ordering::SeqCst);
    let failing = n <= rx.fail_first.load(Ordering::SeqCst) || (every > 0 && n % every == 0);
    if failing {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    rx.got.lock().unwrap().push(Got {
        id,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        signed,
        custom: req.header("x-custom").map(str::to_string),
    });
    StatusCode::OK
}

/// Starts a receiver on 127.0.0.1; returns its URL.
async fn receiver() -> (Arc<Receiver>, String) {
    let rx = Arc::new(Receiver::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let app = Route::new()
        .at("/hook", poem::post(receive))
        .data(rx.clone());
    let server = poem::Server::new(poem::listener::TcpListener::bind(format!(
        "127.0.0.1:{port}"
    )));
    tokio::spawn(async move { server.run(app).await });
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (rx, format!("http://127.0.0.1:{port}/hook"))
}

async fn server() -> TestServer {
    TestServer::builder()
        .env("FERROBASE_WEBHOOKS_ALLOW_PRIVATE_TARGETS", "true")
        .env(
            "FERROBASE_WEBHOOKS_RETRY_SCHEDULE",
            "100ms,200ms,300ms,400ms,500ms,500ms,500ms,500ms",
        )
        .start()
        .await
}

async fn posts(srv: &TestServer) {
    srv.create_collection(json!({
        "name": "posts", "type": "base",
        "listRule": "", "viewRule": "", "createRule": "", "updateRule": "", "deleteRule": "",
        "fields": [
            {"name": "title", "type": "text"},
            {"name": "n", "type": "number"},
            {"name": "secret_note", "type": "text", "hidden": true}
        ]
    }))
    .await;
}

async fn hook(su: &Api, rx: &Receiver, body: Value) -> Value {
    let w = su.post("/api/webhooks", body).await.ok();
    *rx.secret.lock().unwrap() = w["secret"].as_str().unwrap().to_string();
    w
}

/// Waits (bounded) until `cond` holds for the receiver's accepted requests.
async fn until(rx: &Receiver, what: &str, cond: impl Fn(&[Got]) -> bool) -> Vec<Got> {
    for _ in 0..400 {
        let got = rx.got.lock().unwrap().clone();
        if cond(&got) {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {what}: {:?}", rx.got.lock().unwrap());
}

async fn deliveries(su: &Api, hook: &str, query: &str) -> Value {
    su.get(&format!("/api/webhooks/{hook}/deliveries?{query}"))
        .await
        .ok()
}

#[tokio::test]
async fn webhooks_are_superuser_only_and_validated() {
    let srv = TestServer::start().await;
    posts(&srv).await;
    let (ann, _) = user(&srv, "ann@example.com", "Ann").await;
    let body = json!({"url": "https://example.com/hook"});
    for (c, status) in [(srv.guest(), 401), (ann, 403)] {
        assert_eq!(c.get("/api/webhooks").await.status, status);
        assert_eq!(c.post("/api/webhooks", body.clone()).await.status, status);
        assert_eq!(c.get("/api/webhooks/x/deliveries").await.status, status);
        assert_eq!(
            c.post("/api/webhooks/x/test", json!({})).await.status,
            status
        );
    }
    let su = srv.su();
    let msg = "Failed to create webhook.";
    // Loopback needs the setting, and the error names it.
    let r = su
        .post("/api/webhooks", json!({"url": "http://127.0.0.1:9/x"}))
        .await;
    r.assert_field_error(msg, "url", "validation_invalid_url");
    assert!(r.text.contains("allow_private_targets"), "{}", r.text);
    let r = su
        .post("/api/webhooks", json!({"url": "http://localhost:9/x"}))
        .await;
    assert!(r.text.contains("allow_private_targets"), "{}", r.text);
    su.post(
        "/api/webhooks",
        json!({"url": "http://169.254.169.254/latest"}),
    )
    .await
    .assert_field_error(msg, "url", "validation_invalid_url");
    su.post("/api/webhooks", json!({"url": "ftp://example.com"}))
        .await
        .assert_field_error(msg, "url", "validation_invalid_url");
    su.post("/api/webhooks", json!({}))
        .await
        .assert_field_error(msg, "url", "validation_required");
    let r = su
        .post(
            "/api/webhooks",
            json!({"url": "https://example.com", "filter": "n >", "collections": ["posts"]}),
        )
        .await;
    r.assert_field_error(msg, "filter", "validation_invalid_filter");
    assert!(
        r.code("filter").len() > 1 && r.text.contains("at "),
        "positioned: {}",
        r.text
    );
    su.post(
        "/api/webhooks",
        json!({"url": "https://example.com", "filter": "nope = 1", "collections": ["posts"]}),
    )
    .await
    .assert_field_error(msg, "filter", "validation_invalid_filter");
    su.post(
        "/api/webhooks",
        json!({"url": "https://example.com", "collections": ["nope"]}),
    )
    .await
    .assert_field_error(msg, "collections", "validation_invalid_collections");
    su.post(
        "/api/webhooks",
        json!({"url": "https://example.com", "actions": ["explode"]}),
    )
    .await
    .assert_field_error(msg, "actions", "validation_invalid_actions");
    su.post(
        "/api/webhooks",
        json!({"url": "https://example.com", "secret": "whsec_c2hvcnQ="}),
    )
    .await
    .assert_field_error(msg, "secret", "validation_invalid_secret");
    su.post(
        "/api/webhooks",
        json!({"url": "https://example.com", "headers": {"webhook-id": "x"}}),
    )
    .await
    .assert_field_error(msg, "headers", "validation_invalid_headers");
    su.post(
        "/api/webhooks",
        json!({"url": "https://example.com", "timeout": 0}),
    )
    .await
    .assert_field_error(msg, "timeout", "validation_invalid_timeout");
    assert_eq!(su.get("/api/webhooks").await.ok()["totalItems"], 0);

    // A valid one: generated secret, defaults, names in, names out; persisted across restarts.
    // It starts at the present: with history in the log, its lag is 0 from the first answer.
    srv.guest()
        .create("posts", json!({"title": "history"}))
        .await;
    let w = su
        .post("/api/webhooks", json!({"url": "https://93.184.216.34/hook", "collections": ["posts"], "actions": ["create"]}))
        .await
        .ok();
    let secret = w["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"), "{w}");
    assert!(STANDARD.decode(&secret[6..]).unwrap().len() >= 24);
    assert_eq!(w["collections"], json!(["posts"]));
    assert_eq!(w["enabled"], true);
    assert_eq!(w["timeout"], 10);
    assert_eq!(w["status"]["lag"], 0, "{w}");
    let id = w["id"].as_str().unwrap().to_string();
    let patched = su
        .patch(
            &format!("/api/webhooks/{id}"),
            json!({"enabled": false, "name": "off"}),
        )
        .await
        .ok();
    assert_eq!(patched["enabled"], false);
    assert_eq!(patched["secret"], w["secret"]);
    let mut srv = srv;
    srv.restart().await;
    let su = srv.su();
    let again = su.get(&format!("/api/webhooks/{id}")).await.ok();
    assert_eq!(again["name"], "off");
    assert_eq!(again["status"]["state"], "disabled");
    assert_eq!(su.delete(&format!("/api/webhooks/{id}")).await.status, 204);
    assert_eq!(su.get(&format!("/api/webhooks/{id}")).await.status, 404);
}

#[tokio::test]
async fn webhooks_deliver_signed_selected_events() {
    let srv = server().await;
    posts(&srv).await;
    let (rx, url) = receiver().await;
    let su = srv.su();
    let w = hook(
        &su,
        &rx,
        json!({"url": url, "collections": ["posts"], "actions": ["create", "update"],
               "filter": "n > 5", "headers": {"X-Custom": "yes"}}),
    )
    .await;
    let guest = srv.guest();
    guest
        .create("posts", json!({"title": "small", "n": 1}))
        .await;
    let big = guest
        .create(
            "posts",
            json!({"title": "big", "n": 10, "secret_note": "psst"}),
        )
        .await;
    let big_id = id_of(&big);
    guest
        .patch(&record("posts", &big_id), json!({"n": 11}))
        .await
        .ok();
    guest.delete(&record("posts", &big_id)).await;
    let mut got = until(&rx, "create and update", |g| g.len() >= 2).await;
    // Attempts run concurrently, so arrival order is not guaranteed (as with Standard
    // Webhooks senders in general); `seq` orders events.
    got.sort_by_key(|g| g.body["seq"].as_u64());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got_all = rx.got.lock().unwrap().clone();
    assert_eq!(got_all.len(), 2, "only the selected events: {got_all:?}");
    assert!(got.iter().all(|g| g.signed), "signatures verify: {got:?}");
    assert!(got.iter().all(|g| g.custom.as_deref() == Some("yes")));
    let created = &got[0].body;
    assert_eq!(created["type"], "record.created");
    assert_eq!(created["data"]["collectionName"], "posts");
    assert_eq!(created["data"]["record"]["title"], "big");
    assert_eq!(created["data"]["previous"], Value::Null);
    assert!(
        created["data"]["record"].get("secret_note").is_none(),
        "hidden excluded: {created}"
    );
    assert!(created["seq"].as_u64().unwrap() > 0);
    assert!(created["timestamp"].as_str().unwrap().contains('T'));
    let updated = &got[1].body;
    assert_eq!(updated["type"], "record.updated");
    assert_eq!(updated["data"]["record"]["n"], 11);
    assert_eq!(updated["data"]["previous"]["n"], 10);
    assert_eq!(
        got[0].id,
        format!("msg_{}_{}", w["id"].as_str().unwrap(), created["seq"])
    );

    // The delivery log, newest first, filterable by status.
    let wid = w["id"].as_str().unwrap();
    let log = deliveries(&su, wid, "").await;
    assert_eq!(log["totalItems"], 2, "{log}");
    assert_eq!(log["items"][0]["type"], "record.updated");
    assert_eq!(log["items"][0]["status"], "delivered");
    assert_eq!(log["items"][0]["attempts"][0]["statusCode"], 200);
    assert_eq!(
        deliveries(&su, wid, "filter=status='failed'").await["totalItems"],
        0
    );
    su.get(&format!("/api/webhooks/{wid}/deliveries?filter=status%3D"))
        .await
        .assert_field_error(
            "Something went wrong while processing your request.",
            "filter",
            "validation_invalid_filter",
        );

    // Test event and redelivery keep the signing; redelivery keeps the webhook-id.
    let t = su
        .post(&format!("/api/webhooks/{wid}/test"), json!({}))
        .await
        .ok();
    assert_eq!(t["status"], "delivered", "{t}");
    let first = log["items"][1]["id"].as_str().unwrap();
    let again = su
        .post(
            &format!("/api/webhooks/{wid}/deliveries/{first}/redeliver"),
            json!({}),
        )
        .await
        .ok();
    assert_eq!(again["attempts"].as_array().unwrap().len(), 2, "{again}");
    let later = until(&rx, "test + redelivery", |g| g.len() >= 4).await;
    assert_eq!(later[2].body["type"], "webhook.test");
    let first_id = &log["items"][1]["eventId"];
    assert_eq!(
        later[3].id,
        first_id.as_str().unwrap(),
        "redelivery keeps the webhook-id"
    );
    let got = later;
    assert!(got.iter().all(|g| g.signed));
}

#[tokio::test]
async fn webhooks_retry_until_delivered_and_survive_kill9() {
    // Retries every 500 ms for 10 s: the delivery stays `retrying` long enough to be seen and
    // killed in that state even on a loaded machine.
    let mut srv = TestServer::builder()
        .env("FERROBASE_WEBHOOKS_ALLOW_PRIVATE_TARGETS", "true")
        .env(
            "FERROBASE_WEBHOOKS_RETRY_SCHEDULE",
            &["500ms"; 20].join(","),
        )
        .start()
        .await;
    posts(&srv).await;
    let (rx, url) = receiver().await;
    rx.fail_first.store(1_000_000, Ordering::SeqCst); // down
    let su = srv.su();
    let w = hook(&su, &rx, json!({"url": url, "collections": ["posts"]})).await;
    let wid = w["id"].as_str().unwrap().to_string();
    let rec = srv
        .guest()
        .create("posts", json!({"title": "t", "n": 1}))
        .await;
    // Wait (bounded) until the failure is durably recorded as retrying, then kill -9 mid-retry.
    let mut log = Value::Null;
    for _ in 0..400 {
        log = deliveries(&su, &wid, "").await;
        if log["items"][0]["status"] == "retrying" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(log["items"][0]["status"], "retrying", "{log}");
    srv.kill9();
    let failed_so_far = rx.requests.load(Ordering::SeqCst);
    assert!(failed_so_far >= 1, "at least one attempt failed");
    rx.fail_first.store(0, Ordering::SeqCst); // up again
    srv.start_again().await;
    let got = until(&rx, "delivery after restart", |g| !g.is_empty()).await;
    assert_eq!(got[0].body["data"]["record"]["id"], id_of(&rec));
    assert!(got[0].signed);
    let su = srv.su();
    let mut settled = Value::Null;
    for _ in 0..400 {
        settled = deliveries(&su, &wid, "").await;
        if settled["items"][0]["status"] == "delivered" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(settled["items"][0]["status"], "delivered", "{settled}");
    assert!(settled["items"][0]["attempts"].as_array().unwrap().len() >= 2);
    assert_eq!(
        settled["totalItems"], 1,
        "one delivery for one event: {settled}"
    );
}

#[tokio::test]
async fn webhooks_give_up_after_the_schedule() {
    let srv = TestServer::builder()
        .env("FERROBASE_WEBHOOKS_ALLOW_PRIVATE_TARGETS", "true")
        .env("FERROBASE_WEBHOOKS_RETRY_SCHEDULE", "50ms,50ms")
        .start()
        .await;
    posts(&srv).await;
    let (rx, url) = receiver().await;
    rx.fail_first.store(1_000_000, Ordering::SeqCst);
    let su = srv.su();
    let w = hook(&su, &rx, json!({"url": url})).await;
    let wid = w["id"].as_str().unwrap();
    srv.guest().create("posts", json!({"title": "t"})).await;
    let mut log = Value::Null;
    for _ in 0..200 {
        log = deliveries(&su, wid, "filter=status='failed'").await;
        if log["totalItems"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(log["totalItems"], 1, "{log}");
    let d = &log["items"][0];
    assert_eq!(d["attempts"].as_array().unwrap().len(), 3, "{d}");
    assert_eq!(d["attempts"][0]["statusCode"], 500);
    assert_eq!(d["nextAttemptAt"], Value::Null);
    let view = su.get(&format!("/api/webhooks/{wid}")).await.ok();
    assert!(
        view["status"]["lastError"]
            .as_str()
            .unwrap()
            .contains("500"),
        "{view}"
    );
}

#[tokio::test]
async fn webhooks_lose_nothing_with_a_flapping_receiver() {
    let srv = server().await;
    posts(&srv).await;
    let (rx, url) = receiver().await;
    rx.fail_every.store(3, Ordering::SeqCst); // every third request fails
    let su = srv.su();
    hook(
        &su,
        &rx,
        json!({"url": url, "collections": ["posts"], "actions": ["create"]}),
    )
    .await;
    const N: usize = 1000;
    let mut seqs = HashSet::new();
    for chunk in 0..(N / 50) {
        let requests: Vec<Value> = (0..50)
            .map(|i| {
                json!({"method": "POST", "url": "/api/collections/posts/records",
                            "body": {"title": format!("p{}", chunk * 50 + i)}})
            })
            .collect();
        su.post("/api/batch", json!({"requests": requests}))
            .await
            .ok();
    }
    let got = until(&rx, "all 1000 events", |g| {
        g.iter()
            .map(|x| x.body["seq"].as_u64())
            .collect::<HashSet<_>>()
            .len()
            >= N
    })
    .await;
    let mut titles: HashMap<String, usize> = HashMap::new();
    for g in &got {
        assert!(g.signed);
        seqs.insert(g.body["seq"].as_u64().unwrap());
        *titles
            .entry(
                g.body["data"]["record"]["title"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
            .or_default() += 1;
    }
    assert_eq!(seqs.len(), N);
    assert_eq!(titles.len(), N, "every record arrived");
}

#[tokio::test]
async fn webhooks_delivery_log_is_trimmed_after_its_retention() {
    let srv = TestServer::builder()
        .env("FERROBASE_WEBHOOKS_ALLOW_PRIVATE_TARGETS", "true")
        .env("FERROBASE_WEBHOOKS_DELIVERY_RETENTION", "1s")
        .env("FERROBASE_STORE_CHANGELOG_TRIM_SECS", "1")
        .start()
        .await;
    posts(&srv).await;
    let (rx, url) = receiver().await;
    let su = srv.su();
    let w = hook(&su, &rx, json!({"url": url})).await;
    let wid = w["id"].as_str().unwrap();
    srv.guest().create("posts", json!({"title": "t"})).await;
    until(&rx, "the delivery", |g| !g.is_empty()).await;
    // The record is written once the attempt settles, and kept for about a second.
    let mut seen = false;
    for _ in 0..40 {
        if deliveries(&su, wid, "").await["totalItems"] == 1 {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(seen, "the delivery was recorded before it expired");
    let mut total = Value::Null;
    for _ in 0..40 {
        total = deliveries(&su, wid, "").await["totalItems"].clone();
        if total == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        total, 0,
        "settled deliveries older than the retention are removed"
    );
    // The webhook itself and its cursor stay: the next event is delivered.
    srv.guest().create("posts", json!({"title": "again"})).await;
    until(&rx, "the next delivery", |g| g.len() >= 2).await;
}
