//! Everything acknowledged survives a graceful restart, byte for byte.

use serde_json::{json, Value};

use crate::harness::{id_of, public_collection, record, records, TestServer};

#[tokio::test]
async fn records_collections_and_indexes_survive_a_graceful_restart() {
    let mut srv = TestServer::start().await;
    let tags = srv
        .create_collection(public_collection(
            "tags",
            json!([{"name": "name", "type": "text"}]),
        ))
        .await;
    let mut posts = public_collection(
        "posts",
        json!([
            {"name": "title", "type": "text"},
            {"name": "views", "type": "number"},
            {"name": "ok", "type": "bool"},
            {"name": "when", "type": "date"},
            {"name": "meta", "type": "json"},
            {"name": "cats", "type": "select", "values": ["a", "b", "c"], "maxSelect": 3},
            {"name": "tags", "type": "relation", "collectionId": tags["id"], "maxSelect": 9},
            {"name": "created", "type": "autodate", "onCreate": true},
            {"name": "updated", "type": "autodate", "onCreate": true, "onUpdate": true},
        ]),
    );
    posts["indexes"] = json!(["CREATE UNIQUE INDEX idx_title ON posts (title)"]);
    srv.create_collection(posts).await;

    let api = srv.su();
    let t1 = id_of(&api.create("tags", json!({"name": "rust"})).await);
    let t2 = id_of(&api.create("tags", json!({"name": "db"})).await);
    for i in 0..40 {
        api.create(
            "posts",
            json!({"title": format!("post {i}"), "views": i, "ok": i % 2 == 0,
                   "when": "2024-05-06 10:11:12.345Z", "meta": {"i": i, "s": "ünïcødé ✓"},
                   "cats": ["a", "c"], "tags": [t1, t2]}),
        )
        .await;
    }
    let list = api.list("posts", "perPage=1000").await;
    let ids: Vec<String> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(id_of)
        .collect();
    for id in ids.iter().take(5) {
        api.patch(&record("posts", id), json!({"views+": 100, "cats-": "a"}))
            .await
            .ok();
    }
    for id in ids.iter().skip(35) {
        assert_eq!(api.delete(&record("posts", id)).await.status, 204);
    }
    // A relation cascade before restart: deleting t2 drops it from every post.
    assert_eq!(api.delete(&record("tags", &t2)).await.status, 204);

    let before_posts = api.list("posts", "perPage=1000").await;
    let before_tags = api.list("tags", "perPage=1000").await;
    let before_colls = api.get("/api/collections?perPage=1000").await.ok();
    assert_eq!(before_posts["totalItems"], 35);
    assert_eq!(before_posts["items"][0]["tags"], json!([t1]));
    let old_token = srv.token().to_string();

    srv.stop().await;
    // A clean stop reopens the store once, so the next start does not replay these writes.
    let log = srv.log_tail();
    assert!(log.contains("store checkpointed"), "{log}");
    srv.start_again().await;
    let api = srv.su();
    assert_eq!(api.list("posts", "perPage=1000").await, before_posts);
    assert_eq!(api.list("tags", "perPage=1000").await, before_tags);
    assert_eq!(
        api.get("/api/collections?perPage=1000").await.ok(),
        before_colls
    );
    for item in before_posts["items"].as_array().unwrap() {
        assert_eq!(&api.get(&record("posts", &id_of(item))).await.ok(), item);
    }
    for id in ids.iter().skip(35) {
        api.get(&record("posts", id))
            .await
            .assert_error(404, "The requested resource wasn't found.");
    }

    // The unique index still holds, freed values are free, and tokens survive restarts.
    api.post(&records("posts"), json!({"title": "post 0"}))
        .await
        .assert_field_error("Failed to create record.", "title", "validation_not_unique");
    api.create("posts", json!({"title": "post 39"})).await;
    let r = srv.client(Some(old_token)).get("/api/collections").await;
    assert_eq!(r.status, 200, "token issued before restart: {}", r.text);

    // New ids after restart do not collide with old ones; a second restart keeps everything.
    let fresh: Vec<Value> = {
        let mut v = Vec::new();
        for i in 0..5 {
            v.push(
                api.create("posts", json!({"title": format!("new {i}")}))
                    .await,
            );
        }
        v
    };
    let after = api.list("posts", "perPage=1000").await;
    assert_eq!(after["totalItems"], 41);
    srv.restart().await;
    let api = srv.su();
    assert_eq!(api.list("posts", "perPage=1000").await, after);
    for f in &fresh {
        assert_eq!(&api.get(&record("posts", &id_of(f))).await.ok(), f);
    }
}

#[tokio::test]
async fn schema_changes_survive_a_restart() {
    let mut srv = TestServer::start().await;
    let coll = srv
        .create_collection(public_collection(
            "items",
            json!([{"name": "t", "type": "text"}, {"name": "gone", "type": "text"}]),
        ))
        .await;
    let api = srv.su();
    let rec = api.create("items", json!({"t": "x", "gone": "bye"})).await;
    let mut fields: Vec<Value> = coll["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["name"] != "gone")
        .cloned()
        .collect();
    for f in &mut fields {
        if f["name"] == "t" {
            f["name"] = json!("title");
        }
    }
    fields.push(json!({"name": "n", "type": "number"}));
    let changed = api
        .patch(
            "/api/collections/items",
            json!({"fields": fields, "indexes": ["CREATE UNIQUE INDEX idx_title ON items (title)"]}),
        )
        .await
        .ok();
    let before = api.get(&record("items", &id_of(&rec))).await.ok();
    assert_eq!(before["title"], "x");
    assert_eq!(before["n"], 0);
    assert!(before.get("gone").is_none());

    srv.restart().await;
    let api = srv.su();
    assert_eq!(api.get("/api/collections/items").await.ok(), changed);
    assert_eq!(api.get(&record("items", &id_of(&rec))).await.ok(), before);
    api.post(&records("items"), json!({"title": "x"}))
        .await
        .assert_field_error("Failed to create record.", "title", "validation_not_unique");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn graceful_shutdown_under_load_keeps_every_acknowledged_write() {
    use std::time::Duration;
    let mut srv = TestServer::start().await;
    srv.create_collection(public_collection(
        "load",
        json!([{"name": "n", "type": "number"}]),
    ))
    .await;
    let mut writers = tokio::task::JoinSet::new();
    for w in 0..4 {
        let api = srv.guest();
        writers.spawn(async move {
            let mut acked = Vec::new();
            for i in 0..2000 {
                let rb = api
                    .request(reqwest::Method::POST, &records("load"))
                    .json(&json!({"n": w * 10_000 + i}))
                    .timeout(Duration::from_secs(5));
                match crate::harness::Api::try_send(rb).await {
                    Ok(r) if r.status == 200 => acked.push(r.body),
                    Ok(r) => panic!("unexpected {} {}", r.status, r.text),
                    Err(_) => break,
                }
            }
            acked
        });
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    srv.stop().await; // SIGTERM mid-load; asserts a clean exit
    let mut acked = Vec::new();
    while let Some(a) = writers.join_next().await {
        acked.extend(a.expect("writer"));
    }
    assert!(!acked.is_empty());
    srv.start_again().await;
    let api = srv.su();
    let list = api.list("load", "perPage=1000&sort=n").await;
    let total = list["totalItems"].as_u64().unwrap() as usize;
    assert!(total >= acked.len(), "{total} < {}", acked.len());
    for rec in acked.iter().step_by(7) {
        assert_eq!(&api.get(&record("load", &id_of(rec))).await.ok(), rec);
    }
}
