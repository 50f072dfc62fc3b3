//! PocketBase-compatible SSE at `/api/realtime`: wire format, validation, visibility events.

use crate::harness::{id_of, public_collection, record, TestServer};
use serde_json::{json, Value};
use std::time::Duration;

struct Sse {
    resp: reqwest::Response,
    buf: String,
}

/// One parsed SSE event: (id, event, data).
type Event = (String, String, String);

impl Sse {
    async fn open(srv: &TestServer) -> (Sse, String) {
        let resp = reqwest::Client::new()
            .get(srv.url("/api/realtime"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let h = resp.headers();
        assert_eq!(h["content-type"], "text/event-stream");
        assert_eq!(h["cache-control"], "no-store");
        assert_eq!(h["x-accel-buffering"], "no");
        let mut sse = Sse {
            resp,
            buf: String::new(),
        };
        let (id, event, data) = sse.next().await.expect("PB_CONNECT");
        assert_eq!(event, "PB_CONNECT");
        assert_eq!(id.len(), 40);
        assert_eq!(data, format!("{{\"clientId\":\"{id}\"}}"));
        (sse, id)
    }

    /// The next event (skipping keep-alive comments), or None after `wait`.
    async fn next_within(&mut self, wait: Duration) -> Option<Event> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut ev = (String::new(), String::new(), String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        ev.0 = v.to_string();
                    } else if let Some(v) = line.strip_prefix("event:") {
                        ev.1 = v.to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        ev.2 = v.to_string();
                    }
                }
                if !ev.1.is_empty() {
                    return Some(ev);
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.resp.chunk())
                .await
                .ok()?;
            let chunk = chunk.ok()??;
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    async fn next(&mut self) -> Option<Event> {
        self.next_within(Duration::from_secs(10)).await
    }
}

#[tokio::test]
async fn sse_speaks_pocketbase() {
    let srv = TestServer::start().await;
    srv.create_collection(public_collection(
        "posts",
        json!([{"name": "title", "type": "text"}]),
    ))
    .await;
    let (mut sse, cid) = Sse::open(&srv).await;
    let opts = "posts/*?options=%7B%22query%22%3A%7B%22filter%22%3A%22title%20~%20%5C%22keep%5C%22%22%2C%22fields%22%3A%22id%2Ctitle%22%7D%2C%22headers%22%3A%7B%7D%7D";
    let topics = json!([
        "PB_CONNECT",
        "@oauth2",
        "nonexistent/*",
        "",
        "posts/*",
        opts
    ]);
    let r = srv
        .guest()
        .post(
            "/api/realtime",
            json!({"clientId": cid, "subscriptions": topics}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);

    let p = srv.su().create("posts", json!({"title": "keep me"})).await;
    let mut got: Vec<Event> = vec![sse.next().await.unwrap(), sse.next().await.unwrap()];
    got.sort_by_key(|a| a.1.len());
    assert_eq!(got[0].0, cid, "every id: is the client id");
    assert_eq!(got[0].1, "posts/*");
    let d: Value = serde_json::from_str(&got[0].2).unwrap();
    assert_eq!(
        (d["action"].as_str(), d["record"]["title"].as_str()),
        (Some("create"), Some("keep me"))
    );
    assert_eq!(got[1].1, opts, "topic echoed byte for byte");
    let d: Value = serde_json::from_str(&got[1].2).unwrap();
    assert_eq!(d["record"], json!({"id": p["id"], "title": "keep me"}));

    // Leaving the filter is a delete for the filtered topic, an update for the plain one.
    srv.su()
        .patch(&record("posts", &id_of(&p)), json!({"title": "gone"}))
        .await
        .ok();
    let mut got: Vec<Event> = vec![sse.next().await.unwrap(), sse.next().await.unwrap()];
    got.sort_by_key(|a| a.1.len());
    let actions: Vec<String> = got
        .iter()
        .map(|e| {
            serde_json::from_str::<Value>(&e.2).unwrap()["action"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(actions, ["update", "delete"]);

    // [] unsubscribes everything.
    let r = srv
        .guest()
        .post(
            "/api/realtime",
            json!({"clientId": cid, "subscriptions": []}),
        )
        .await;
    assert_eq!(r.status, 204);
    srv.su().create("posts", json!({"title": "x"})).await;
    assert!(sse.next_within(Duration::from_millis(300)).await.is_none());
}

#[tokio::test]
async fn sse_validation_matches_pocketbase() {
    let srv = TestServer::start().await;
    let r = srv
        .guest()
        .post("/api/realtime", json!({"subscriptions": []}))
        .await;
    assert_eq!(
        (r.status, r.code("clientId")),
        (400, "validation_required"),
        "{}",
        r.text
    );
    let r = srv
        .guest()
        .post(
            "/api/realtime",
            json!({"clientId": "nope", "subscriptions": []}),
        )
        .await;
    r.assert_error(404, "Missing or invalid client id.");
    let (_sse, cid) = Sse::open(&srv).await;
    let many: Vec<String> = (0..1001).map(|i| format!("c/{i}")).collect();
    let r = srv
        .guest()
        .post(
            "/api/realtime",
            json!({"clientId": cid, "subscriptions": many}),
        )
        .await;
    assert_eq!(
        r.code("subscriptions"),
        "validation_length_too_long",
        "{}",
        r.text
    );
    assert_eq!(r.body["data"]["subscriptions"]["params"]["max"], 1000);
    let r = srv
        .guest()
        .post(
            "/api/realtime",
            json!({"clientId": cid, "subscriptions": ["a".repeat(2501)]}),
        )
        .await;
    assert_eq!(
        r.code("subscriptions.0"),
        "validation_length_too_long",
        "{}",
        r.text
    );
}

#[tokio::test]
async fn sse_sends_keepalive_comments() {
    let srv = TestServer::builder()
        .env("FERROBASE_REALTIME_SSE_KEEPALIVE_SECS", "1")
        .start()
        .await;
    let (mut sse, _) = Sse::open(&srv).await;
    let chunk = tokio::time::timeout(Duration::from_secs(5), sse.resp.chunk())
        .await
        .expect("a keep-alive within 5 s")
        .unwrap()
        .unwrap();
    assert_eq!(&chunk[..], b":\n\n");
}
