//! Operations: `GET /api/collections` takes PocketBase's `filter` and `sort` over the
//! collection fields `id`, `name`, `type`, `system`, `created`, `updated`.

use serde_json::{json, Value};

use crate::accounts::user;
use crate::harness::{public_collection, TestServer};

fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| c["name"].as_str().expect("name").to_string())
        .collect()
}

#[tokio::test]
async fn collections_filter_and_sort_like_pocketbase() {
    let srv = TestServer::start().await;
    for name in ["zeta", "alpha", "mid"] {
        srv.create_collection(public_collection(
            name,
            json!([{"name": "title", "type": "text"}]),
        ))
        .await;
    }
    let su = srv.su();

    let list = su
        .get("/api/collections?filter=(system=false%26%26type='base')&sort=-name")
        .await
        .ok();
    assert_eq!(names(&list), ["zeta", "mid", "alpha"], "{list}");
    assert_eq!(list["totalItems"], 3);
    assert_eq!(list["totalPages"], 1);

    let list = su
        .get("/api/collections?filter=name~'al'%7C%7Cname='mid'&sort=name")
        .await
        .ok();
    assert_eq!(names(&list), ["alpha", "mid"]);

    // System collections are there and filterable; paging applies after the filter and sort.
    let list = su
        .get("/api/collections?filter=system=true&sort=name&perPage=1&page=1")
        .await
        .ok();
    assert_eq!(names(&list), ["_superusers"], "{list}");
    assert!(list["totalItems"].as_i64().unwrap() >= 1);

    // Sort by created then name; the id filter finds exactly one.
    let all = su
        .get("/api/collections?sort=created,name&perPage=100")
        .await
        .ok();
    let items = all["items"].as_array().unwrap();
    let created: Vec<&str> = items
        .iter()
        .map(|c| c["created"].as_str().unwrap())
        .collect();
    let mut sorted = created.clone();
    sorted.sort();
    assert_eq!(created, sorted);
    let id = items[0]["id"].as_str().unwrap();
    let one = su
        .get(&format!("/api/collections?filter=id='{id}'"))
        .await
        .ok();
    assert_eq!(one["items"][0]["id"], id);
    assert_eq!(one["totalItems"], 1);
    // Whole collections come back, not just the filtered fields.
    assert!(one["items"][0]["fields"].is_array());

    // Nothing matches: an empty page.
    let none = su
        .get("/api/collections?filter=name='nope'&skipTotal=1")
        .await
        .ok();
    assert_eq!(none["items"], json!([]));
    assert_eq!(none["totalItems"], -1);
}

#[tokio::test]
async fn collections_filter_errors_and_access() {
    let srv = TestServer::start().await;
    let su = srv.su();

    // Unknown field, bad syntax, bad sort: 400 on the parameter.
    let r = su.get("/api/collections?filter=title='x'").await;
    r.assert_field_error(
        "Something went wrong while processing your request.",
        "filter",
        "validation_invalid_filter",
    );
    let r = su.get("/api/collections?filter=name=").await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.code("filter"), "validation_invalid_filter");
    let r = su.get("/api/collections?sort=-nope").await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.code("sort"), "validation_invalid_sort");

    // Superusers only, before the filter is looked at.
    let r = srv.guest().get("/api/collections?filter=name='x'").await;
    assert_eq!(r.status, 401, "{}", r.text);
    let (client, _) = user(&srv, "u@example.com", "u").await;
    let r = client.get("/api/collections?filter=name='x'").await;
    assert_eq!(r.status, 403, "{}", r.text);
}
