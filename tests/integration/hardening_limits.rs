//! Hardening: hostile shapes of client input. Projection paths (`fields`), filters, sorts,
//! expand trees and JSON bodies nested or repeated far beyond sense must be 400 envelopes that
//! leave the process alive; expansion is budgeted per request; echoed values are truncated.

use crate::harness::{id_of, public_collection, record, records, Api, TestServer};
use crate::realtime::Ws;
use reqwest::Method;
use serde_json::{json, Value};

const GENERIC: &str = "Something went wrong while processing your request.";
const BAD_BODY: &str = "Failed to load the submitted data due to invalid formatting.";

/// `a.a.a…` with `n` segments.
fn dotted(n: usize) -> String {
    vec!["a"; n].join(".")
}

/// `[[[…1…]]]` nested `n` deep.
fn nested_array(n: usize) -> String {
    format!("{}1{}", "[".repeat(n), "]".repeat(n))
}

async fn alive(srv: &TestServer) {
    let r = srv.guest().get("/api/health").await;
    assert_eq!(r.status, 200, "server died: {}\n{}", r.text, srv.log_tail());
}

async fn posts(srv: &TestServer) -> String {
    srv.create_collection(public_collection(
        "posts",
        json!([{"name": "title", "type": "text"}, {"name": "data", "type": "json"},
               {"name": "kind", "type": "select", "values": ["a", "b"], "maxSelect": 1}]),
    ))
    .await;
    id_of(&srv.guest().create("posts", json!({"title": "t"})).await)
}

async fn raw(
    api: &Api,
    method: Method,
    path: &str,
    ctype: &str,
    body: String,
) -> crate::harness::Resp {
    Api::send(
        api.request(method, path)
            .header("content-type", ctype)
            .body(body),
    )
    .await
}

#[tokio::test]
async fn fields_with_thousands_of_segments_or_paths_is_a_400_and_the_server_lives() {
    let srv = TestServer::start().await;
    let id = posts(&srv).await;
    let api = srv.guest();
    let deep = dotted(10_000);
    for path in [
        format!("{}?fields={deep}", records("posts")),
        format!("{}?fields={deep}", record("posts", &id)),
        format!("{}?fields=id,{deep}:excerpt(5)", records("posts")),
    ] {
        let r = api.get(&path).await;
        r.assert_field_error(GENERIC, "fields", "validation_invalid_fields");
        assert!(r.text.len() < 1000, "short error: {}", r.text.len());
        alive(&srv).await;
    }
    let many: Vec<String> = (0..5_000).map(|i| format!("f{i}")).collect();
    let r = api
        .get(&format!("{}?fields={}", records("posts"), many.join(",")))
        .await;
    r.assert_field_error(GENERIC, "fields", "validation_invalid_fields");
    // Sensible projections still work.
    let ok = api
        .get(&format!("{}?fields=id,expand.a.b.c", record("posts", &id)))
        .await
        .ok();
    assert_eq!(ok, json!({"id": id}));
    alive(&srv).await;
}

#[tokio::test]
async fn ws_subscribe_with_a_hostile_fields_is_refused_and_the_server_lives() {
    let srv = TestServer::start().await;
    posts(&srv).await;
    let mut ws = Ws::connect(&srv, None).await;
    ws.send(json!({"type": "subscribe", "id": "s", "topic": "posts/*", "fields": dotted(10_000)}))
        .await;
    let e = ws.next().await;
    assert_eq!(
        (e["type"].as_str(), e["code"].as_str(), e["id"].as_str()),
        (Some("error"), Some("invalid_shape"), Some("s")),
        "{e}"
    );
    assert!(
        e["message"].as_str().unwrap_or("").contains("fields"),
        "names the parameter: {e}"
    );
    alive(&srv).await;
    // The connection still works.
    ws.subscribe("ok", "posts/*", json!({"fields": "id"})).await;
}

#[tokio::test]
async fn hostile_filters_sorts_and_expands_are_400s_and_the_server_lives() {
    let srv = TestServer::start().await;
    let id = posts(&srv).await;
    let api = srv.guest();
    let parens = format!("{}title='x'{}", "(".repeat(5_000), ")".repeat(5_000));
    let r = api
        .get(&format!("{}?filter={parens}", records("posts")))
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.code("filter"), "validation_invalid_filter", "{}", r.text);
    alive(&srv).await;
    // Nested just within the length limit, but deeper than the depth limit.
    let parens = format!("{}title='x'{}", "(".repeat(1_000), ")".repeat(1_000));
    let r = api
        .get(&format!("{}?filter={parens}", records("posts")))
        .await;
    assert_eq!(r.code("filter"), "validation_invalid_filter", "{}", r.text);
    let r = api
        .get(&format!("{}?sort={}", records("posts"), dotted(10_000)))
        .await;
    assert_eq!(r.status, 400, "{}", r.text.get(..300).unwrap_or(&r.text));
    assert!(
        r.text.len() < 1000,
        "sort error echoes the key: {} bytes",
        r.text.len()
    );
    let r = api
        .get(&format!(
            "{}?sort={}",
            records("posts"),
            vec!["title"; 5_000].join(",")
        ))
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    for expand in [dotted(10_000), vec!["a"; 10_000].join(",")] {
        let r = api
            .get(&format!("{}?expand={expand}", record("posts", &id)))
            .await;
        r.assert_field_error(GENERIC, "expand", "validation_invalid_expand");
        assert!(r.text.len() < 1000, "expand error: {} bytes", r.text.len());
    }
    alive(&srv).await;
}

#[tokio::test]
async fn deeply_nested_json_is_a_400_on_every_body_path() {
    let srv = TestServer::start().await;
    posts(&srv).await;
    let api = srv.guest();
    let deep = nested_array(10_000);
    // JSON body.
    let r = raw(
        &api,
        Method::POST,
        &records("posts"),
        "application/json",
        format!("{{\"data\":{deep}}}"),
    )
    .await;
    r.assert_field_error(BAD_BODY, "body", "invalid_json");
    alive(&srv).await;
    // Multipart @jsonPayload.
    let form = reqwest::multipart::Form::new().text("@jsonPayload", format!("{{\"data\":{deep}}}"));
    let r = Api::send(api.request(Method::POST, &records("posts")).multipart(form)).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.code("@jsonPayload"), "invalid_json", "{}", r.text);
    // Form text for a json field is decoded when it is valid JSON; text nested beyond the
    // parser's limit is not, and is kept as a string (PocketBase does the same).
    let r = raw(
        &api,
        Method::POST,
        &records("posts"),
        "application/x-www-form-urlencoded",
        format!("data={deep}"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text.get(..300).unwrap_or(&r.text));
    assert_eq!(r.body["data"].as_str().map(str::len), Some(deep.len()));
    let r = raw(
        &api,
        Method::POST,
        &records("posts"),
        "application/x-www-form-urlencoded",
        format!("data={}", nested_array(100)),
    )
    .await;
    r.assert_field_error(
        "Failed to create record.",
        "data",
        "validation_json_depth_limit",
    );
    alive(&srv).await;
    // Batch.
    let r = raw(
        &srv.su(),
        Method::POST,
        "/api/batch",
        "application/json",
        format!(
            "{{\"requests\":[{{\"method\":\"POST\",\"url\":\"/api/collections/posts/records\",\"body\":{{\"data\":{deep}}}}}]}}"
        ),
    )
    .await;
    r.assert_field_error(BAD_BODY, "body", "invalid_json");
    // A WebSocket message.
    let mut ws = Ws::connect(&srv, None).await;
    ws.send_raw(&format!("{{\"type\":\"ping\",\"x\":{deep}}}"))
        .await;
    assert_eq!(ws.next().await["code"], "invalid_json");
    alive(&srv).await;
}

/// A json value the JSON parser accepts (depth < 128) must not poison the change log, whose
/// entries wrap the record two levels deeper: it is refused with a clear field error.
#[tokio::test]
async fn json_field_values_are_depth_bounded_so_the_change_log_stays_readable() {
    let srv = TestServer::start().await;
    posts(&srv).await;
    let api = srv.guest();
    let r = raw(
        &api,
        Method::POST,
        &records("posts"),
        "application/json",
        format!("{{\"data\":{}}}", nested_array(126)),
    )
    .await;
    r.assert_field_error(
        "Failed to create record.",
        "data",
        "validation_json_depth_limit",
    );
    let ok = raw(
        &api,
        Method::POST,
        &records("posts"),
        "application/json",
        format!("{{\"data\":{}}}", nested_array(20)),
    )
    .await
    .ok();
    // Resuming from the change log reads every entry back.
    let mut ws = Ws::connect(&srv, None).await;
    ws.subscribe("r", "posts/*", json!({"since": 0})).await;
    let mut seen = Vec::new();
    for _ in 0..2 {
        seen.push(ws.event().await["record"]["id"].clone());
    }
    assert_eq!(seen.last(), Some(&ok["id"]));
    alive(&srv).await;
}

async fn linked_nodes(srv: &TestServer, n: usize) -> Vec<String> {
    let nodes = srv
        .create_collection(public_collection(
            "nodes",
            json!([{"name": "label", "type": "text"}]),
        ))
        .await;
    let mut fields = nodes["fields"].as_array().unwrap().clone();
    fields.push(
        json!({"name": "links", "type": "relation", "collectionId": nodes["id"], "maxSelect": 8}),
    );
    srv.su()
        .patch("/api/collections/nodes", json!({ "fields": fields }))
        .await
        .ok();
    let api = srv.guest();
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(id_of(&api.create("nodes", json!({"label": i})).await));
    }
    for id in &ids {
        api.patch(&record("nodes", id), json!({"links": ids}))
            .await
            .ok();
    }
    ids
}

#[tokio::test]
async fn expansion_beyond_the_per_request_budget_is_a_400() {
    let srv = TestServer::start().await;
    let ids = linked_nodes(&srv, 8).await;
    let api = srv.guest();
    // 8 records × (8 + 64 + 512 + 4096) expanded records.
    let r = api
        .get(&format!(
            "{}?expand=links.links.links.links",
            records("nodes")
        ))
        .await;
    assert!(r.text.len() < 2000, "response of {} bytes", r.text.len());
    r.assert_field_error(GENERIC, "expand", "validation_expand_limit");
    let r = api
        .get(&format!(
            "{}?expand=links.links.links.links.links.links",
            record("nodes", &ids[0])
        ))
        .await;
    r.assert_field_error(GENERIC, "expand", "validation_expand_limit");
    // Within the budget: 8 × (8 + 64).
    let list = api.list("nodes", "expand=links.links&perPage=8").await;
    let first = &list["items"][0]["expand"]["links"];
    assert_eq!(first.as_array().map(Vec::len), Some(8));
    assert_eq!(
        first[0]["expand"]["links"].as_array().map(Vec::len),
        Some(8)
    );
    alive(&srv).await;
}

#[tokio::test]
async fn expansion_budget_is_configurable() {
    let srv = TestServer::builder()
        .env("FERROBASE_SERVER_MAX_EXPANDED_RECORDS", "10")
        .start()
        .await;
    let ids = linked_nodes(&srv, 4).await;
    let api = srv.guest();
    api.get(&format!("{}?expand=links", record("nodes", &ids[0])))
        .await
        .ok();
    let r = api
        .get(&format!("{}?expand=links.links", record("nodes", &ids[0])))
        .await;
    r.assert_field_error(GENERIC, "expand", "validation_expand_limit");
}

#[tokio::test]
async fn back_relation_expansion_is_capped_at_1000_visible_records_per_record() {
    let srv = TestServer::start().await;
    let posts_col = srv
        .create_collection(public_collection(
            "posts",
            json!([{"name": "title", "type": "text"}]),
        ))
        .await;
    let mut comments = public_collection(
        "comments",
        json!([{"name": "post", "type": "relation", "collectionId": posts_col["id"], "maxSelect": 1},
               {"name": "text", "type": "text"}]),
    );
    comments["viewRule"] = json!("text != 'secret'");
    srv.create_collection(comments).await;
    let api = srv.guest();
    let post = id_of(&api.create("posts", json!({"title": "hot"})).await);
    // The hidden comment comes first in id order.
    api.create("comments", json!({"post": post, "text": "secret"}))
        .await;
    for _ in 0..11 {
        let requests: Vec<Value> = (0..100)
            .map(|_| json!({"method": "POST", "url": "/api/collections/comments/records", "body": {"post": post}}))
            .collect();
        srv.su()
            .post("/api/batch", json!({ "requests": requests }))
            .await
            .ok();
    }
    let path = format!("{}?expand=comments_via_post", record("posts", &post));
    let v = api.get(&path).await.ok();
    let items = v["expand"]["comments_via_post"].as_array().expect("array");
    assert_eq!(items.len(), 1000);
    assert!(
        items.iter().all(|c| c["text"] == ""),
        "hidden comment expanded"
    );
    let v = srv.su().get(&path).await.ok();
    let items = v["expand"]["comments_via_post"].as_array().expect("array");
    assert_eq!(
        (items.len(), items[0]["text"].as_str()),
        (1000, Some("secret"))
    );
}

#[tokio::test]
async fn echoed_invalid_values_are_truncated() {
    let srv = TestServer::start().await;
    posts(&srv).await;
    let api = srv.guest();
    let huge = "x".repeat(200_000);
    let r = api.post(&records("posts"), json!({"kind": huge})).await;
    r.assert_field_error(
        "Failed to create record.",
        "kind",
        "validation_invalid_value",
    );
    assert!(r.text.len() < 1000, "response of {} bytes", r.text.len());
    let msg = r.body["data"]["kind"]["message"].as_str().unwrap_or("");
    assert!(
        msg.starts_with("Invalid value xxxx") && msg.contains('…'),
        "{msg}"
    );
    let echoed = r.body["data"]["kind"]["params"]["value"]
        .as_str()
        .unwrap_or("");
    assert!(
        echoed.starts_with("xxx") && echoed.ends_with('…') && echoed.len() < 300,
        "{echoed}"
    );
    // Query parameters are echoed through the same helper.
    let long = "9".repeat(20_000);
    let r = api.get(&format!("{}?page=x{long}", records("posts"))).await;
    assert_eq!(r.status, 400, "{}", r.text.get(..300).unwrap_or(&r.text));
    assert!(r.text.len() < 1000, "page error: {} bytes", r.text.len());
    let r = api
        .get(&format!("{}?expand=nope{long}", records("posts")))
        .await;
    assert_eq!(r.status, 400);
    assert!(r.text.len() < 1000, "expand error: {} bytes", r.text.len());
}
