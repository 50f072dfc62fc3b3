//! Collection rules on every path: list (filtered, totals of visible rows), view/update/delete
//! (404), create (400), `@request.*` from the real request, save-time validation, expand, relation
//! joins in filters, and batch.

use serde_json::{json, Value};

use crate::accounts::user;
use crate::harness::{id_of, item_ids, record, records, Api, TestServer};

const NOT_FOUND: &str = "The requested resource wasn't found.";

/// `posts` owned through a relation to `users`; returns the collection JSON.
async fn posts(srv: &TestServer, list_rule: &str) -> Value {
    srv.create_collection(json!({
        "name": "posts",
        "listRule": list_rule,
        "viewRule": list_rule,
        "createRule": "@request.auth.id != '' && owner = @request.auth.id",
        "updateRule": "owner = @request.auth.id && @request.body.owner:isset = false",
        "deleteRule": "owner = @request.auth.id",
        "fields": [
            {"name": "title", "type": "text"},
            {"name": "secret", "type": "text", "hidden": true},
            {"name": "owner", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 1},
        ],
    }))
    .await
}

async fn post(api: &Api, owner: &str, title: &str) -> String {
    id_of(
        &api.create(
            "posts",
            json!({"title": title, "owner": owner, "secret": "s-".to_string() + title}),
        )
        .await,
    )
}

#[tokio::test]
async fn every_rule_outcome_for_owners_and_others() {
    let srv = TestServer::start().await;
    posts(&srv, "owner = @request.auth.id").await;
    let (ann, ann_id) = user(&srv, "ann@example.com", "Ann").await;
    let (bob, bob_id) = user(&srv, "bob@example.com", "Bob").await;
    let a1 = post(&ann, &ann_id, "a1").await;
    post(&ann, &ann_id, "a2").await;
    post(&ann, &ann_id, "a3").await;
    let b1 = post(&bob, &bob_id, "b1").await;

    // list: silently filtered, totals count visible rows only (also with a filter and paging).
    let l = ann.list("posts", "perPage=2").await;
    assert_eq!(
        (l["totalItems"].clone(), l["totalPages"].clone()),
        (json!(3), json!(2))
    );
    let l = bob.list("posts", "").await;
    assert_eq!(item_ids(&l), vec![b1.clone()]);
    let l = ann.list("posts", "filter=title~'1'").await;
    assert_eq!(item_ids(&l), vec![a1.clone()]);
    assert_eq!(srv.guest().list("posts", "").await["totalItems"], 0);
    assert_eq!(srv.su().list("posts", "").await["totalItems"], 4);
    assert!(l["items"][0].get("secret").is_none(), "hidden field: {l}");

    // view / update / delete of someone else's record: 404, and nothing changed.
    ann.get(&record("posts", &b1))
        .await
        .assert_error(404, NOT_FOUND);
    ann.patch(&record("posts", &b1), json!({"title": "pwned"}))
        .await
        .assert_error(404, NOT_FOUND);
    ann.delete(&record("posts", &b1))
        .await
        .assert_error(404, NOT_FOUND);
    assert_eq!(bob.get(&record("posts", &b1)).await.ok()["title"], "b1");

    // create: the rule sees the would-be record.
    for (api, owner) in [(&ann, bob_id.as_str()), (&srv.guest(), "")] {
        let r = api
            .post(&records("posts"), json!({"title": "x", "owner": owner}))
            .await;
        r.assert_error(400, "Failed to create record.");
        assert_eq!(r.body["data"], json!({}));
    }

    // update: the rule sees the STORED record, `@request.body` the submitted one. Handing a post
    // over to someone else is refused even by its owner.
    ann.patch(&record("posts", &a1), json!({"owner": bob_id}))
        .await
        .assert_error(404, NOT_FOUND);
    ann.patch(&record("posts", &a1), json!({"title": "renamed"}))
        .await
        .ok();
    assert_eq!(bob.list("posts", "").await["totalItems"], 1);
    let r = ann.delete(&record("posts", &a1)).await;
    assert_eq!(r.status, 204, "{}", r.text);
}

#[tokio::test]
async fn request_query_headers_method_and_context() {
    let srv = TestServer::start().await;
    srv.create_collection(json!({
        "name": "gated",
        "listRule": "@request.query.key = 'k1' && @request.method = 'GET'",
        "viewRule": "@request.context = 'default'",
        "createRule": "@request.headers.x_api_key = 's3cret' && @request.body.status:isset = false",
        "updateRule": "@request.body.status:changed = false",
        "deleteRule": "@request.headers.x_del = 'yes'",
        "fields": [{"name": "status", "type": "text"}, {"name": "t", "type": "text"}],
    }))
    .await;
    let guest = srv.guest();
    let with_header = |name: &str, value: &str| {
        guest
            .request(reqwest::Method::POST, &records("gated"))
            .header(name, value)
    };
    let r = Api::send(with_header("X-Api-Key", "s3cret").json(&json!({"t": "a"}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let id = id_of(&r.body);
    let r = Api::send(with_header("X-Api-Key", "wrong").json(&json!({"t": "a"}))).await;
    assert_eq!(r.status, 400, "{}", r.text);
    let r = Api::send(with_header("X-Api-Key", "s3cret").json(&json!({"status": "x"}))).await;
    assert_eq!(r.status, 400, "body:isset: {}", r.text);

    assert_eq!(guest.list("gated", "").await["totalItems"], 0);
    assert_eq!(guest.list("gated", "key=k1").await["totalItems"], 1);
    assert_eq!(guest.get(&record("gated", &id)).await.status, 200);

    // Sending the stored value again counts as unchanged.
    guest
        .patch(&record("gated", &id), json!({"status": "", "t": "b"}))
        .await
        .ok();
    guest
        .patch(&record("gated", &id), json!({"status": "changed"}))
        .await
        .assert_error(404, NOT_FOUND);

    guest
        .delete(&record("gated", &id))
        .await
        .assert_error(404, NOT_FOUND);
    let del = guest
        .request(reqwest::Method::DELETE, &record("gated", &id))
        .header("x-del", "yes");
    assert_eq!(Api::send(del).await.status, 204);
}

#[tokio::test]
async fn rules_are_validated_when_saved() {
    let srv = TestServer::start().await;
    let su = srv.su();
    let r = su
        .post(
            "/api/collections",
            json!({"name": "bad", "listRule": "nope = 1", "fields": [{"name": "t", "type": "text"}]}),
        )
        .await;
    r.assert_field_error(
        "Failed to create collection.",
        "listRule",
        "validation_invalid_rule",
    );
    assert!(
        r.body["data"]["listRule"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown field \"nope\" at 0"),
        "{}",
        r.text
    );
    srv.create_collection(json!({"name": "ok", "fields": [{"name": "t", "type": "text"}]}))
        .await;
    let r = su
        .patch(
            "/api/collections/ok",
            json!({"viewRule": "t = ", "deleteRule": "t ="}),
        )
        .await;
    r.assert_field_error(
        "Failed to update collection.",
        "viewRule",
        "validation_invalid_rule",
    );
    assert_eq!(r.code("deleteRule"), "validation_invalid_rule");
    let r = su
        .patch(
            "/api/collections/users",
            json!({"manageRule": "@request.auth.nosuch = 1 &&"}),
        )
        .await;
    assert_eq!(
        r.code("manageRule"),
        "validation_invalid_rule",
        "{}",
        r.text
    );
    let r = su
        .patch(
            "/api/collections/ok",
            json!({"listRule": "t = @request.auth.id && @collection.users.name ?= 'x'"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn expand_and_relation_filters_obey_the_target_rules() {
    let srv = TestServer::start().await;
    posts(&srv, "").await; // everyone lists posts; users stay private (id = @request.auth.id)
    let (ann, ann_id) = user(&srv, "ann@example.com", "Ann").await;
    let (bob, bob_id) = user(&srv, "bob@example.com", "Bob").await;
    post(&ann, &ann_id, "a1").await;
    let b1 = post(&bob, &bob_id, "b1").await;

    let l = ann.list("posts", "expand=owner").await;
    for item in l["items"].as_array().unwrap() {
        let expanded = &item["expand"]["owner"];
        if item["owner"] == ann_id.as_str() {
            assert_eq!(expanded["name"], "Ann", "own record expands: {item}");
        } else {
            assert!(
                expanded.is_null(),
                "Bob's user record leaked via expand: {item}"
            );
        }
    }
    let one = ann
        .get(&format!("{}?expand=owner", record("posts", &b1)))
        .await
        .ok();
    assert!(one["expand"].get("owner").is_none(), "{one}");

    // Relation joins in filters see only what the target's listRule shows.
    assert_eq!(
        ann.list("posts", "filter=owner.name='Bob'").await["totalItems"],
        0
    );
    assert_eq!(
        ann.list("posts", "filter=owner.name='Ann'").await["totalItems"],
        1
    );
    assert_eq!(
        srv.su().list("posts", "filter=owner.name='Bob'").await["totalItems"],
        1
    );
    // Hidden fields cannot be filtered on; other users' hidden emails never match.
    for f in ["secret='s-b1'", "owner.tokenKey!=''", "owner.password!=''"] {
        let r = ann.get(&format!("{}?filter={f}", records("posts"))).await;
        assert_eq!(r.status, 400, "{f}: {}", r.text);
    }
    for f in ["owner.email='bob@example.com'", "owner.email~'bob'"] {
        let l = srv.su().list("posts", &format!("filter={f}")).await;
        assert_eq!(l["totalItems"], 1, "superuser {f}");
        let l = ann.list("posts", &format!("filter={f}")).await;
        assert_eq!(l["totalItems"], 0, "ann {f}");
    }
    let r = ann.get(&format!("{}?sort=secret", records("posts"))).await;
    assert_eq!(r.status, 400, "{}", r.text);

    // Users: listRule lets everyone list names, but other emails stay invisible and unmatched.
    srv.su()
        .patch(
            "/api/collections/users",
            json!({"listRule": "@request.auth.id != ''"}),
        )
        .await
        .ok();
    let l = ann.list("users", "").await;
    assert_eq!(l["totalItems"], 2);
    for u in l["items"].as_array().unwrap() {
        assert_eq!(u.get("email").is_some(), u["id"] == ann_id.as_str(), "{u}");
        assert!(u.get("tokenKey").is_none() && u.get("password").is_none());
    }
    let l = ann.list("users", "filter=email='bob@example.com'").await;
    assert_eq!(l["totalItems"], 0, "{l}");
    let l = ann.list("users", "filter=email='ann@example.com'").await;
    assert_eq!(l["totalItems"], 1, "{l}");
}

#[tokio::test]
async fn batch_requests_obey_rules() {
    let srv = TestServer::start().await;
    posts(&srv, "owner = @request.auth.id").await;
    let (ann, ann_id) = user(&srv, "ann@example.com", "Ann").await;
    let (bob, bob_id) = user(&srv, "bob@example.com", "Bob").await;
    let b1 = post(&bob, &bob_id, "b1").await;
    let r = ann
        .post(
            "/api/batch",
            json!({"requests": [
                {"method": "POST", "url": "/api/collections/posts/records", "body": {"title": "ok", "owner": ann_id}},
                {"method": "PATCH", "url": format!("/api/collections/posts/records/{b1}"), "body": {"title": "pwned"}},
            ]}),
        )
        .await;
    r.assert_error(400, "Batch transaction failed.");
    assert_eq!(
        r.body["data"]["requests"]["1"]["response"]["status"], 404,
        "{}",
        r.text
    );
    let r = ann
        .post(
            "/api/batch",
            json!({"requests": [
                {"method": "POST", "url": "/api/collections/posts/records", "body": {"title": "x", "owner": bob_id}},
            ]}),
        )
        .await;
    assert_eq!(
        r.body["data"]["requests"]["0"]["response"]["status"], 400,
        "{}",
        r.text
    );
    let r = ann
        .post(
            "/api/batch",
            json!({"requests": [
                {"method": "DELETE", "url": format!("/api/collections/posts/records/{b1}")},
            ]}),
        )
        .await;
    assert_eq!(
        r.body["data"]["requests"]["0"]["response"]["status"], 404,
        "{}",
        r.text
    );
    assert_eq!(bob.get(&record("posts", &b1)).await.ok()["title"], "b1");
    assert_eq!(
        ann.list("posts", "").await["totalItems"],
        0,
        "nothing committed"
    );
}
