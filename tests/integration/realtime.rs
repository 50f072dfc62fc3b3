//! Realtime over WebSocket: events, filters, enter/leave, rule isolation, resume with `since`,
//! lagged clients (4008), retention `reset`, malformed messages, shutdown (1001).

use crate::harness::{id_of, public_collection, record, records, TestServer};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const WAIT: Duration = Duration::from_secs(10);

pub struct Ws {
    inner: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// How a read ended when it was not a JSON message.
#[derive(Debug, PartialEq)]
pub enum End {
    Closed(Option<u16>),
    Timeout,
}

impl Ws {
    pub async fn connect(srv: &TestServer, token: Option<&str>) -> Ws {
        let url = srv.url("/api/realtime/ws").replace("http://", "ws://");
        let url = match token {
            Some(t) => format!("{url}?token={t}"),
            None => url,
        };
        let (inner, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket connect");
        Ws { inner }
    }

    pub async fn send(&mut self, v: Value) {
        self.inner
            .send(Message::Text(v.to_string().into()))
            .await
            .expect("ws send");
    }

    pub async fn send_raw(&mut self, text: &str) {
        self.inner
            .send(Message::Text(text.to_string().into()))
            .await
            .expect("ws send");
    }

    /// The next JSON message, or how the stream ended.
    pub async fn next_within(&mut self, wait: Duration) -> Result<Value, End> {
        loop {
            let msg = match tokio::time::timeout(wait, self.inner.next()).await {
                Err(_) => return Err(End::Timeout),
                Ok(None) | Ok(Some(Err(_))) => return Err(End::Closed(None)),
                Ok(Some(Ok(m))) => m,
            };
            match msg {
                Message::Text(t) => return Ok(serde_json::from_str(t.as_str()).expect("json")),
                Message::Close(f) => return Err(End::Closed(f.map(|f| u16::from(f.code)))),
                _ => continue,
            }
        }
    }

    pub async fn next(&mut self) -> Value {
        self.next_within(WAIT).await.expect("a message")
    }

    /// Asserts nothing arrives for a short while.
    pub async fn quiet(&mut self) {
        match self.next_within(Duration::from_millis(300)).await {
            Err(End::Timeout) => {}
            other => panic!("expected silence, got {other:?}"),
        }
    }

    /// Subscribes and returns the `subscribed` seq.
    pub async fn subscribe(&mut self, id: &str, topic: &str, extra: Value) -> u64 {
        let mut msg = json!({"type": "subscribe", "id": id, "topic": topic});
        if let (Some(m), Some(e)) = (msg.as_object_mut(), extra.as_object()) {
            m.extend(e.clone());
        }
        self.send(msg).await;
        let r = self.next().await;
        assert_eq!(r["type"], "subscribed", "{r}");
        assert_eq!(r["id"], id);
        r["seq"].as_u64().expect("seq")
    }

    pub async fn event(&mut self) -> Value {
        let e = self.next().await;
        assert_eq!(e["type"], "event", "{e}");
        e
    }
}

pub async fn posts(srv: &TestServer) {
    srv.create_collection(public_collection(
        "posts",
        json!([{"name": "title", "type": "text"}, {"name": "n", "type": "number"},
               {"name": "body", "type": "text", "max": 100000}]),
    ))
    .await;
}

#[tokio::test]
async fn create_update_delete_events_carry_seq_and_record() {
    let srv = TestServer::start().await;
    posts(&srv).await;
    let mut all = Ws::connect(&srv, None).await;
    let head = all.subscribe("all", "posts/*", json!({})).await;
    let p = srv
        .su()
        .create("posts", json!({"title": "a", "n": 1}))
        .await;
    let id = id_of(&p);
    let mut one = Ws::connect(&srv, None).await;
    one.subscribe("one", &format!("posts/{id}"), json!({"fields": "id,title"}))
        .await;

    let e = all.event().await;
    assert_eq!(
        (e["sub"].clone(), e["action"].clone()),
        (json!("all"), json!("create"))
    );
    assert_eq!(e["seq"].as_u64(), Some(head + 1));
    assert_eq!(e["record"]["title"], "a");
    assert_eq!(e["record"]["collectionName"], "posts");

    srv.su()
        .patch(&record("posts", &id), json!({"title": "b"}))
        .await
        .ok();
    let e = all.event().await;
    assert_eq!(
        (e["action"].as_str(), e["record"]["title"].as_str()),
        (Some("update"), Some("b"))
    );
    let e1 = one.event().await;
    assert_eq!(
        e1["record"],
        json!({"id": id, "title": "b"}),
        "fields projection"
    );
    assert_eq!(e1["seq"], e["seq"]);

    let other = srv.su().create("posts", json!({"title": "other"})).await;
    assert_eq!(all.event().await["record"]["id"], other["id"]);
    assert_eq!(srv.su().delete(&record("posts", &id)).await.status, 204);
    let e = all.event().await;
    assert_eq!(
        (e["action"].as_str(), e["record"]["title"].as_str()),
        (Some("delete"), Some("b"))
    );
    let e1 = one.event().await;
    assert_eq!(e1["action"], "delete");
    one.quiet().await; // the other record never reached the id topic

    all.send(json!({"type": "unsubscribe", "id": "all"})).await;
    assert_eq!(all.next().await["type"], "unsubscribed");
    srv.su().create("posts", json!({"title": "c"})).await;
    all.quiet().await;
}

#[tokio::test]
async fn filters_produce_enter_and_leave() {
    let srv = TestServer::start().await;
    posts(&srv).await;
    let mut ws = Ws::connect(&srv, None).await;
    ws.subscribe("big", "posts/*", json!({"filter": "n > 5"}))
        .await;
    let p = srv
        .su()
        .create("posts", json!({"title": "x", "n": 1}))
        .await;
    let path = record("posts", &id_of(&p));
    srv.su().patch(&path, json!({"n": 10})).await.ok();
    let e = ws.event().await;
    assert_eq!(
        (e["action"].as_str(), e["record"]["n"].as_i64()),
        (Some("enter"), Some(10))
    );
    srv.su().patch(&path, json!({"n": 11})).await.ok();
    assert_eq!(ws.event().await["action"], "update");
    srv.su().patch(&path, json!({"n": 2})).await.ok();
    let e = ws.event().await;
    // A leave carries the last state the subscriber was allowed to see.
    assert_eq!(
        (e["action"].as_str(), e["record"]["n"].as_i64()),
        (Some("leave"), Some(11))
    );
    assert_eq!(srv.su().delete(&path).await.status, 204);
    ws.quiet().await; // deleted while not matching: judged as it was, nothing to send
}

#[tokio::test]
async fn rules_isolate_subscribers() {
    let srv = TestServer::start().await;
    posts(&srv).await;
    srv.create_collection(
        json!({"name": "secrets", "fields": [{"name": "title", "type": "text"}]}),
    )
    .await;
    // listRule null, viewRule "": the id topic is open, the list topic is not.
    srv.create_collection(json!({"name": "notes", "viewRule": "",
        "fields": [{"name": "title", "type": "text"}]}))
        .await;
    let note = srv.su().create("notes", json!({"title": "n0"})).await;
    let mut guest = Ws::connect(&srv, None).await;
    let mut su = Ws::connect(&srv, Some(srv.token())).await;
    for ws in [&mut guest, &mut su] {
        ws.subscribe("s", "secrets/*", json!({})).await;
        ws.subscribe("nl", "notes/*", json!({})).await;
        ws.subscribe("ni", &format!("notes/{}", id_of(&note)), json!({}))
            .await;
    }
    srv.su().create("secrets", json!({"title": "top"})).await;
    let e = su.event().await;
    assert_eq!(
        (e["sub"].as_str(), e["record"]["title"].as_str()),
        (Some("s"), Some("top"))
    );
    srv.su()
        .patch(&record("notes", &id_of(&note)), json!({"title": "n1"}))
        .await
        .ok();
    let mut subs: Vec<String> = Vec::new();
    for _ in 0..2 {
        subs.push(su.event().await["sub"].as_str().unwrap_or("").to_string());
    }
    subs.sort();
    assert_eq!(subs, ["ni", "nl"]);
    let e = guest.event().await;
    assert_eq!(
        (e["sub"].as_str(), e["record"]["title"].as_str()),
        (Some("ni"), Some("n1"))
    );
    guest.quiet().await;
}

#[tokio::test]
async fn auth_message_and_malformed_messages() {
    let srv = TestServer::start().await;
    srv.create_collection(
        json!({"name": "secrets", "fields": [{"name": "title", "type": "text"}]}),
    )
    .await;
    let mut ws = Ws::connect(&srv, None).await;
    ws.send_raw("not json").await;
    let e = ws.next().await;
    assert_eq!(
        (e["type"].as_str(), e["code"].as_str()),
        (Some("error"), Some("invalid_json"))
    );
    ws.send(json!({"type": "nope", "id": "x"})).await;
    let e = ws.next().await;
    assert_eq!(
        (e["code"].as_str(), e["id"].as_str()),
        (Some("unknown_type"), Some("x"))
    );
    ws.send(json!({"type": "subscribe", "topic": "secrets/*"}))
        .await;
    assert_eq!(ws.next().await["code"], "invalid_message");
    for (topic, extra, code) in [
        ("nope/*", json!({}), "unknown_collection"),
        ("/x", json!({}), "invalid_topic"),
        ("secrets/*", json!({"filter": "title ="}), "invalid_filter"),
        ("secrets/*", json!({"expand": "nope"}), "invalid_shape"),
        ("secrets/*", json!({"since": -1}), "invalid_message"),
    ] {
        let mut m = json!({"type": "subscribe", "id": "s", "topic": topic});
        m.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        ws.send(m).await;
        let e = ws.next().await;
        assert_eq!(
            (e["code"].as_str(), e["id"].as_str()),
            (Some(code), Some("s")),
            "{topic}: {e}"
        );
    }
    ws.send(json!({"type": "auth", "token": "garbage"})).await;
    assert_eq!(ws.next().await["code"], "invalid_token");
    ws.send(json!({"type": "ping"})).await;
    assert_eq!(ws.next().await["type"], "pong");

    ws.subscribe("s", "secrets/*", json!({})).await;
    srv.su().create("secrets", json!({"title": "hidden"})).await;
    ws.quiet().await; // a guest sees nothing of a superuser-only collection
    ws.send(json!({"type": "auth", "token": srv.token()})).await;
    let ok = ws.next().await;
    assert_eq!(ok["type"], "auth_ok");
    assert_eq!(ok["record"]["email"], crate::harness::SU_EMAIL);
    srv.su().create("secrets", json!({"title": "seen"})).await;
    assert_eq!(ws.event().await["record"]["title"], "seen");
}

/// Creates `n` posts with `concurrency` parallel writers; returns nothing (seqs are gapless).
pub async fn create_many(srv: &TestServer, n: usize, concurrency: usize, body_len: usize) {
    let api = srv.su();
    let body = "x".repeat(body_len);
    futures_util::stream::iter(0..n)
        .for_each_concurrent(concurrency, |i| {
            let api = api.clone();
            let body = body.clone();
            async move {
                let r = api
                    .post(
                        &records("posts"),
                        json!({"title": format!("p{i}"), "n": i, "body": body}),
                    )
                    .await;
                assert_eq!(r.status, 200, "{}", r.text);
            }
        })
        .await;
}

#[tokio::test]
async fn reconnect_with_since_replays_exactly_the_missed_events() {
    let srv = TestServer::start().await;
    posts(&srv).await;
    let mut ws = Ws::connect(&srv, None).await;
    let head = ws.subscribe("s", "posts/*", json!({})).await;
    drop(ws);
    create_many(&srv, 500, 8, 0).await;

    let mut ws = Ws::connect(&srv, None).await;
    let now = ws.subscribe("s", "posts/*", json!({"since": head})).await;
    assert_eq!(now, head + 500);
    for i in 1..=500 {
        let e = ws.event().await;
        assert_eq!(
            (e["seq"].as_u64(), e["action"].as_str()),
            (Some(head + i), Some("create"))
        );
    }
    // …then live, without duplicates.
    srv.su().create("posts", json!({"title": "live"})).await;
    let e = ws.event().await;
    assert_eq!(
        (e["seq"].as_u64(), e["record"]["title"].as_str()),
        (Some(head + 501), Some("live"))
    );
    ws.quiet().await;
}

#[tokio::test]
async fn replay_and_live_writes_interleave_without_gaps_or_duplicates() {
    let srv = TestServer::start().await;
    posts(&srv).await;
    create_many(&srv, 200, 8, 0).await;
    let writer = {
        let api = srv.su();
        tokio::spawn(async move {
            for i in 0..200 {
                api.post(&records("posts"), json!({"title": format!("w{i}")}))
                    .await;
            }
        })
    };
    let mut ws = Ws::connect(&srv, None).await;
    ws.subscribe("s", "posts/*", json!({"since": 0})).await;
    writer.await.unwrap();
    // seq 1 is the superuser the harness created; every post follows, each exactly once.
    for seq in 2..=401u64 {
        assert_eq!(ws.event().await["seq"].as_u64(), Some(seq));
    }
    ws.quiet().await;
}

#[tokio::test]
async fn slow_client_is_closed_with_4008_and_resumes_without_loss() {
    let srv = TestServer::builder()
        .env("FERROBASE_REALTIME_QUEUE", "4")
        .env("FERROBASE_STORE_DURABILITY", "relaxed")
        .start()
        .await;
    posts(&srv).await;
    let mut ws = Ws::connect(&srv, None).await;
    let head = ws.subscribe("s", "posts/*", json!({})).await;
    // Never read while ~10 MB of events pile up: socket buffers fill, then the queue.
    let total = 1200u64;
    create_many(&srv, total as usize, 8, 8000).await;
    let mut last = head;
    let end = loop {
        match ws.next_within(WAIT).await {
            Ok(e) => {
                assert_eq!(e["seq"].as_u64(), Some(last + 1), "in order, no gaps");
                last += 1;
            }
            Err(end) => break end,
        }
    };
    assert_eq!(end, End::Closed(Some(4008)), "after {} events", last - head);
    assert!(last < head + total, "the client should have lagged");
    let mut ws = Ws::connect(&srv, None).await;
    ws.subscribe("s", "posts/*", json!({"since": last})).await;
    while last < head + total {
        let e = ws.event().await;
        assert_eq!(e["seq"].as_u64(), Some(last + 1));
        last += 1;
    }
    ws.quiet().await;
}

#[tokio::test]
async fn since_older_than_retention_gets_reset() {
    let srv = TestServer::builder()
        .env("FERROBASE_STORE_CHANGELOG_ENTRIES", "5")
        .env("FERROBASE_STORE_CHANGELOG_HOURS", "0")
        .env("FERROBASE_STORE_CHANGELOG_TRIM_SECS", "1")
        .start()
        .await;
    posts(&srv).await;
    create_many(&srv, 20, 1, 0).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let mut ws = Ws::connect(&srv, None).await;
    let head = ws.subscribe("s", "posts/*", json!({"since": 1})).await;
    assert_eq!(head, 21, "the harness's superuser, then 20 posts");
    let r = ws.next().await;
    assert_eq!(
        (r["type"].as_str(), r["id"].as_str()),
        (Some("reset"), Some("s")),
        "{r}"
    );
    assert_eq!(r["oldest"].as_u64(), Some(17), "newest 5 entries kept");
    ws.quiet().await;
    // Within retention: a normal replay.
    let mut ws2 = Ws::connect(&srv, None).await;
    ws2.subscribe("s", "posts/*", json!({"since": 18})).await;
    for seq in 19..=21u64 {
        assert_eq!(ws2.event().await["seq"].as_u64(), Some(seq));
    }
    srv.su().create("posts", json!({"title": "after"})).await;
    assert_eq!(ws.event().await["seq"].as_u64(), Some(22));
}

/// A `since` beyond the server's head (the client saw events of data that a backup restore
/// replaced) must not skip the new events numbered up to it: the server says `reset`
/// (`reason: "ahead"`) and delivers from its own head on.
#[tokio::test]
async fn since_ahead_of_the_head_gets_reset_and_live_events() {
    let srv = TestServer::start().await;
    posts(&srv).await;
    create_many(&srv, 3, 1, 0).await;
    let mut ws = Ws::connect(&srv, None).await;
    let head = ws.subscribe("s", "posts/*", json!({"since": 1000})).await;
    assert_eq!(head, 4, "the harness's superuser, then 3 posts");
    let r = ws.next().await;
    assert_eq!(
        (r["type"].as_str(), r["id"].as_str(), r["reason"].as_str()),
        (Some("reset"), Some("s"), Some("ahead")),
        "{r}"
    );
    assert_eq!(r["head"].as_u64(), Some(4), "{r}");
    srv.su().create("posts", json!({"title": "after"})).await;
    assert_eq!(ws.event().await["seq"].as_u64(), Some(5));
    ws.quiet().await;
}

#[tokio::test]
async fn heartbeat_pings_and_shutdown_closes_with_1001() {
    let mut srv = TestServer::builder()
        .env("FERROBASE_REALTIME_HEARTBEAT_SECS", "1")
        .start()
        .await;
    let mut ws = Ws::connect(&srv, None).await;
    let ping = tokio::time::timeout(WAIT, async {
        loop {
            if let Some(Ok(Message::Ping(_))) = ws.inner.next().await {
                return;
            }
        }
    })
    .await;
    assert!(ping.is_ok(), "a server ping within the heartbeat");
    let stop = tokio::spawn(async move {
        srv.stop().await;
        srv
    });
    assert_eq!(ws.next_within(WAIT).await, Err(End::Closed(Some(1001))));
    let _srv = stop.await.unwrap();
}

/// Creates a `users` record and returns its (id, token).
async fn user(srv: &TestServer, email: &str) -> (String, String) {
    let pw = "user-password-123";
    let u = srv
        .su()
        .create(
            "users",
            json!({"email": email, "password": pw, "passwordConfirm": pw}),
        )
        .await;
    let r = srv
        .guest()
        .post(
            "/api/collections/users/auth-with-password",
            json!({"identity": email, "password": pw}),
        )
        .await
        .ok();
    (id_of(&u), r["token"].as_str().expect("token").to_string())
}

#[tokio::test]
async fn rule_expressions_isolate_two_users() {
    let srv = TestServer::start().await;
    let users_id = srv.su().get("/api/collections/users").await.ok()["id"].clone();
    srv.create_collection(json!({
        "name": "notes",
        "listRule": "owner = @request.auth.id", "viewRule": "owner = @request.auth.id",
        "fields": [{"name": "title", "type": "text"},
                   {"name": "owner", "type": "relation", "collectionId": users_id, "maxSelect": 1}],
    }))
    .await;
    let (alice, alice_token) = user(&srv, "alice@example.com").await;
    let (bob, bob_token) = user(&srv, "bob@example.com").await;
    let mut a = Ws::connect(&srv, Some(&alice_token)).await;
    let mut b = Ws::connect(&srv, None).await;
    b.send(json!({"type": "auth", "token": bob_token})).await;
    assert_eq!(b.next().await["record"]["id"], bob.as_str());
    a.subscribe("n", "notes/*", json!({})).await;
    b.subscribe("n", "notes/*", json!({})).await;
    let mut guest = Ws::connect(&srv, None).await;
    guest.subscribe("n", "notes/*", json!({})).await;

    let note = srv
        .su()
        .create("notes", json!({"title": "a1", "owner": alice}))
        .await;
    srv.su()
        .create("notes", json!({"title": "b1", "owner": bob}))
        .await;
    assert_eq!(a.event().await["record"]["title"], "a1");
    assert_eq!(b.event().await["record"]["title"], "b1");
    // Handing alice's note to bob: it leaves alice's view and enters bob's.
    srv.su()
        .patch(&record("notes", &id_of(&note)), json!({"owner": bob}))
        .await
        .ok();
    let e = a.event().await;
    assert_eq!(
        (e["action"].as_str(), e["record"]["title"].as_str()),
        (Some("leave"), Some("a1"))
    );
    assert_eq!(b.event().await["action"], "enter");
    a.quiet().await;
    b.quiet().await;
    guest.quiet().await;

    // Deleting alice's account stops her subscriptions.
    assert_eq!(srv.su().delete(&record("users", &alice)).await.status, 204);
    let e = a.next().await;
    assert_eq!(
        (e["type"].as_str(), e["code"].as_str()),
        (Some("error"), Some("auth_expired")),
        "{e}"
    );
}
