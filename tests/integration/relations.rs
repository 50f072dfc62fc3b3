//! Relation integrity on delete: cascade, clearing optional references, refusing required ones.

use serde_json::{json, Value};

use crate::harness::{id_of, public_collection, record, TestServer};

/// `posts` plus `comments` whose relations to posts cover every delete behaviour.
async fn setup(srv: &TestServer) -> Value {
    let posts = srv
        .create_collection(public_collection(
            "posts",
            json!([{"name": "title", "type": "text"}]),
        ))
        .await;
    srv.create_collection(public_collection(
        "comments",
        json!([
            {"name": "cascade", "type": "relation", "collectionId": posts["id"], "maxSelect": 1, "cascadeDelete": true},
            {"name": "single", "type": "relation", "collectionId": posts["id"], "maxSelect": 1},
            {"name": "multi", "type": "relation", "collectionId": posts["id"], "maxSelect": 5},
        ]),
    ))
    .await;
    srv.create_collection(public_collection(
        "pins",
        json!([{"name": "post", "type": "relation", "collectionId": posts["id"], "maxSelect": 1, "required": true}]),
    ))
    .await;
    posts
}

#[tokio::test]
async fn cascade_delete_removes_dependents() {
    let srv = TestServer::start().await;
    setup(&srv).await;
    let api = srv.guest();
    let p1 = id_of(&api.create("posts", json!({"title": "p1"})).await);
    let p2 = id_of(&api.create("posts", json!({"title": "p2"})).await);
    let c1 = id_of(&api.create("comments", json!({"cascade": p1})).await);
    let c2 = id_of(&api.create("comments", json!({"cascade": p1})).await);
    let c3 = api.create("comments", json!({"cascade": p2})).await;

    assert_eq!(api.delete(&record("posts", &p1)).await.status, 204);
    for c in [&c1, &c2] {
        api.get(&record("comments", c))
            .await
            .assert_error(404, "The requested resource wasn't found.");
    }
    let left = api.list("comments", "").await;
    assert_eq!(left["totalItems"], 1);
    assert_eq!(left["items"][0], c3, "unrelated comment untouched");
}

#[tokio::test]
async fn optional_references_are_cleared() {
    let srv = TestServer::start().await;
    setup(&srv).await;
    let api = srv.guest();
    let dead = id_of(&api.create("posts", json!({"title": "dead"})).await);
    let live = id_of(&api.create("posts", json!({"title": "live"})).await);
    let c = api
        .create("comments", json!({"single": dead, "multi": [dead, live]}))
        .await;
    let c_live = api
        .create("comments", json!({"single": live, "multi": [live]}))
        .await;

    assert_eq!(api.delete(&record("posts", &dead)).await.status, 204);
    let after = api.get(&record("comments", &id_of(&c))).await.ok();
    assert_eq!(after["single"], "", "single relation cleared");
    assert_eq!(after["multi"], json!([live]), "dead id dropped from multi");
    assert_eq!(
        api.get(&record("comments", &id_of(&c_live))).await.ok(),
        c_live
    );
}

#[tokio::test]
async fn required_reference_blocks_delete() {
    let srv = TestServer::start().await;
    setup(&srv).await;
    let api = srv.guest();
    let post = api.create("posts", json!({"title": "pinned"})).await;
    let pid = id_of(&post);
    // Dependents that would be touched by a delete: a cascading comment and an optional one.
    let cascading = api.create("comments", json!({"cascade": pid})).await;
    let optional = api.create("comments", json!({"single": pid})).await;
    let pin = api.create("pins", json!({"post": pid})).await;

    api.delete(&record("posts", &pid)).await.assert_error(
        400,
        "Failed to delete record. Make sure that the record is not part of a required relation reference.",
    );
    // Nothing was deleted or changed, neither the post nor any dependent.
    assert_eq!(api.get(&record("posts", &pid)).await.ok(), post);
    assert_eq!(api.get(&record("pins", &id_of(&pin))).await.ok(), pin);
    assert_eq!(
        api.get(&record("comments", &id_of(&cascading))).await.ok(),
        cascading
    );
    assert_eq!(
        api.get(&record("comments", &id_of(&optional))).await.ok(),
        optional
    );

    // Once the pin is gone, the delete goes through.
    assert_eq!(api.delete(&record("pins", &id_of(&pin))).await.status, 204);
    assert_eq!(api.delete(&record("posts", &pid)).await.status, 204);
    assert_eq!(api.list("comments", "").await["totalItems"], 1);
}

#[tokio::test]
async fn self_relation_cascade_chain() {
    let srv = TestServer::start().await;
    let nodes = srv
        .create_collection(public_collection(
            "nodes",
            json!([{"name": "label", "type": "text"}]),
        ))
        .await;
    let mut fields = nodes["fields"].as_array().unwrap().clone();
    fields.push(
        json!({"name": "parent", "type": "relation", "collectionId": nodes["id"],
                       "maxSelect": 1, "cascadeDelete": true}),
    );
    srv.su()
        .patch("/api/collections/nodes", json!({ "fields": fields }))
        .await
        .ok();
    let api = srv.guest();
    let root = id_of(&api.create("nodes", json!({"label": "root"})).await);
    let mut parent = root.clone();
    for i in 0..5 {
        parent = id_of(
            &api.create("nodes", json!({"label": i, "parent": parent}))
                .await,
        );
    }
    let other = api.create("nodes", json!({"label": "other"})).await;
    assert_eq!(api.delete(&record("nodes", &root)).await.status, 204);
    let left = api.list("nodes", "").await;
    assert_eq!(left["totalItems"], 1, "whole chain deleted: {left}");
    assert_eq!(left["items"][0], other);
}
