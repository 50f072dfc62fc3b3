//! Filters, expand and fields over HTTP: results, positioned errors, access limits, and the
//! planner's choice (the superuser-only `X-Ferrobase-Plan` header).

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{enc, id_of, item_ids, public_collection, record, records, Api, TestServer};

/// authors(name, secret hidden) and posts(title, views indexed, author → authors).
async fn setup(srv: &TestServer) -> (Vec<String>, Vec<String>) {
    let authors = srv
        .create_collection(public_collection(
            "authors",
            json!([{"name": "name", "type": "text"}, {"name": "secret", "type": "text", "hidden": true}]),
        ))
        .await;
    let mut posts = public_collection(
        "posts",
        json!([
            {"name": "title", "type": "text"},
            {"name": "views", "type": "number"},
            {"name": "author", "type": "relation", "collectionId": authors["id"], "maxSelect": 1},
        ]),
    );
    posts["indexes"] = json!(["CREATE INDEX idx_views ON posts (views)"]);
    srv.create_collection(posts).await;
    let api = srv.guest();
    let mut a = Vec::new();
    for name in ["Alice", "Bob"] {
        a.push(id_of(
            &api.create(
                "authors",
                json!({"name": name, "secret": format!("{name}-s")}),
            )
            .await,
        ));
    }
    let mut p = Vec::new();
    for (i, title) in [
        "Rust is fast",
        "Go is simple",
        "it's \"q\" 50%",
        "Hello World",
    ]
    .iter()
    .enumerate()
    {
        let body = json!({"title": title, "views": i * 10, "author": a[i % 2]});
        p.push(id_of(&api.create("posts", body).await));
    }
    (a, p)
}

async fn filter(api: &Api, coll: &str, filter: &str, extra: &str) -> (u16, Value, Option<String>) {
    let path = format!("{}?filter={}{extra}", records(coll), enc(filter));
    let resp = api.request(Method::GET, &path).send().await.expect("send");
    let status = resp.status().as_u16();
    let plan = resp
        .headers()
        .get("x-ferrobase-plan")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let body = resp.json::<Value>().await.unwrap_or(Value::Null);
    (status, body, plan)
}

#[tokio::test]
async fn filters_match_pocketbase_semantics() {
    let srv = TestServer::start().await;
    let (a, p) = setup(&srv).await;
    let api = srv.guest();
    let cases: Vec<(&str, Vec<&String>)> = vec![
        ("views >= 10 && views < 30", vec![&p[1], &p[2]]),
        ("title ~ 'rust'", vec![&p[0]]),
        ("title ~ 'Hel%'", vec![&p[3]]),
        (r#"title = "it's \"q\" 50%""#, vec![&p[2]]),
        (
            "views > 25 || views < 5 && title ~ 'Rust'",
            vec![&p[0], &p[3]],
        ),
        ("author.name = 'Bob'", vec![&p[1], &p[3]]),
        ("views = 0 // comment", vec![&p[0]]),
    ];
    for (f, want) in cases {
        let (status, body, _) = filter(&api, "posts", f, "").await;
        assert_eq!(status, 200, "{f}: {body}");
        let got = item_ids(&body);
        let want: Vec<String> = want.into_iter().cloned().collect();
        assert_eq!(got, want, "filter {f}");
    }
    let (_, body, _) = filter(&api, "authors", "posts_via_author.title ?~ 'simple'", "").await;
    assert_eq!(item_ids(&body), vec![a[1].clone()]);
}

#[tokio::test]
async fn bad_filters_are_positioned_400s_and_privileged_ones_403() {
    let srv = TestServer::start().await;
    setup(&srv).await;
    let guest = srv.guest();
    let (status, body, _) = filter(&guest, "posts", "views > 1 & x", "").await;
    assert_eq!(status, 400);
    assert_eq!(body["data"]["filter"]["code"], "validation_invalid_filter");
    let msg = body["data"]["filter"]["message"].as_str().unwrap_or("");
    assert!(msg.contains("at 10"), "positioned: {msg}");
    let (status, body, _) = filter(&guest, "posts", "nope = 1", "").await;
    assert_eq!(status, 400, "{body}");
    assert!(body["data"]["filter"]["message"]
        .as_str()
        .unwrap_or("")
        .contains("nope"));
    let (status, body, _) = filter(&guest, "posts", "@collection.authors.name ?= 'Bob'", "").await;
    assert_eq!(
        (status, body["message"].as_str()),
        (403, Some("Only superusers can filter by @collection."))
    );
    // Hidden fields can be neither filtered nor sorted on by guests...
    let (status, _, _) = filter(&guest, "authors", "secret = 'Bob-s'", "").await;
    assert_eq!(status, 400);
    let resp = guest
        .get(&format!("{}?sort=secret", records("authors")))
        .await;
    assert_eq!(resp.status, 400, "{}", resp.text);
    // ...but superusers may.
    let (status, body, _) = filter(&srv.su(), "authors", "secret = 'Bob-s'", "").await;
    assert_eq!((status, body["totalItems"].as_i64()), (200, Some(1)));
    // Nothing a client sends may take the server down.
    for f in [
        "(((((",
        "'",
        "a ~",
        "&&",
        "views = 1e2",
        "@request.auth.id = ''",
        "\u{0}",
    ] {
        let (status, _, _) = filter(&guest, "posts", f, "").await;
        assert!(status == 400 || status == 403, "{f:?} → {status}");
    }
}

#[tokio::test]
async fn planner_uses_the_index_and_says_so_to_superusers() {
    let srv = TestServer::start().await;
    let (_, p) = setup(&srv).await;
    let (status, body, plan) = filter(
        &srv.su(),
        "posts",
        "views = 20 || views = 30",
        "&sort=views",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(item_ids(&body), vec![p[2].clone(), p[3].clone()]);
    let plan = plan.expect("plan header for superusers");
    assert!(plan.contains("idx_views"), "{plan}");
    let (_, _, plan) = filter(&srv.su(), "posts", "title = 'x'", "").await;
    assert_eq!(plan.as_deref(), Some("insertion order"));
    let (_, _, plan) = filter(&srv.su(), "posts", "title != 'x'", "&sort=title").await;
    assert_eq!(plan.as_deref(), Some("column scan (title)"));
    let (_, _, plan) = filter(&srv.su(), "posts", "author.name != 'x'", "&sort=title").await;
    assert_eq!(plan.as_deref(), Some("full scan"));
    // A sort an index serves is read in index order and stops once the page is full.
    let (status, body, plan) = filter(
        &srv.su(),
        "posts",
        "views >= 0",
        "&sort=-views&perPage=2&skipTotal=1",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(item_ids(&body), vec![p[3].clone(), p[2].clone()]);
    let plan = plan.unwrap_or_default();
    assert_eq!(
        plan,
        "index idx_views range views [0.0, +inf) in order desc"
    );
    // Without a filter the same sort is served by the index order.
    let resp = srv
        .su()
        .request(
            Method::GET,
            &format!("{}?sort=-views&perPage=2&skipTotal=1", records("posts")),
        )
        .send()
        .await
        .expect("send");
    let plan = resp
        .headers()
        .get("x-ferrobase-plan")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    assert_eq!(plan.as_deref(), Some("index order idx_views (views) desc"));
    let (_, _, plan) = filter(&srv.guest(), "posts", "views = 20", "").await;
    assert!(plan.is_none(), "guests do not see plans");
}

#[tokio::test]
async fn expand_and_fields_shape_the_response() {
    let srv = TestServer::start().await;
    let (a, p) = setup(&srv).await;
    let api = srv.guest();
    let one = api
        .get(&format!(
            "{}?expand=author&fields=id,expand.author.name",
            record("posts", &p[1])
        ))
        .await
        .ok();
    assert_eq!(
        one,
        json!({"id": p[1], "expand": {"author": {"name": "Bob"}}})
    );
    let list = api
        .list(
            "authors",
            "expand=posts_via_author&fields=name,expand.posts_via_author.title",
        )
        .await;
    assert_eq!(
        list["items"][0]["expand"]["posts_via_author"],
        json!([{"title": "Rust is fast"}, {"title": "it's \"q\" 50%"}])
    );
    // Hidden fields stay hidden inside expand for guests.
    let one = api
        .get(&format!("{}?expand=author", record("posts", &p[0])))
        .await
        .ok();
    assert_eq!(one["expand"]["author"]["id"], a[0]);
    assert!(one["expand"]["author"].get("secret").is_none());
    // Unknown names and too-deep paths are errors, not silently dropped.
    let bad = api.get(&format!("{}?expand=nope", records("posts"))).await;
    assert_eq!(
        (bad.status, bad.code("expand")),
        (400, "validation_invalid_expand")
    );
    let bad = api
        .get(&format!("{}?expand=a.b.c.d.e.f.g", records("posts")))
        .await;
    assert_eq!(bad.status, 400);
    let ex = api
        .list("posts", "fields=title:excerpt(4,true)&perPage=1")
        .await;
    assert_eq!(ex["items"][0], json!({"title": "Rust..."}));
}

#[tokio::test]
async fn sorts_follow_relation_paths_modifiers_and_insertion_order() {
    let srv = TestServer::start().await;
    let (_, p) = setup(&srv).await;
    let api = srv.guest();
    let by_author = api.list("posts", "sort=-author.name,title").await;
    // Bob's posts first; then by title, bytewise ("Rust…" < "it's…").
    assert_eq!(
        item_ids(&by_author),
        vec![p[1].clone(), p[3].clone(), p[0].clone(), p[2].clone()]
    );
    let lower = api.list("posts", "sort=title:lower").await;
    assert_eq!(
        item_ids(&lower),
        vec![p[1].clone(), p[3].clone(), p[2].clone(), p[0].clone()]
    );
    let newest = api.list("posts", "sort=-@rowid").await;
    assert_eq!(
        item_ids(&newest),
        vec![p[3].clone(), p[2].clone(), p[1].clone(), p[0].clone()]
    );
    let bad = api.get(&format!("{}?sort=nope", records("posts"))).await;
    assert_eq!(
        (bad.status, bad.code("sort")),
        (400, "validation_invalid_sort")
    );
    let bad = api
        .get(&format!("{}?sort=author.secret", records("posts")))
        .await;
    assert_eq!(
        bad.status, 400,
        "hidden field through a relation: {}",
        bad.text
    );
}

#[tokio::test]
async fn indexed_totals_follow_updates_deletes_and_index_rebuilds() {
    let srv = TestServer::start().await;
    let (_, p) = setup(&srv).await;
    let api = srv.guest();
    for _ in 0..3 {
        api.create("posts", json!({"title": "extra", "views": 20}))
            .await;
    }
    let total = |body: &Value| body["totalItems"].as_i64();
    let (_, body, plan) = filter(&srv.su(), "posts", "views = 20", "").await;
    assert_eq!(total(&body), Some(4), "{plan:?}");
    assert!(plan.unwrap_or_default().contains("idx_views"));
    api.patch(&record("posts", &p[2]), json!({"views": 21}))
        .await
        .ok();
    assert_eq!(api.delete(&record("posts", &p[0])).await.status, 204);
    let (_, body, _) = filter(&api, "posts", "views = 20", "").await;
    assert_eq!(total(&body), Some(3));
    let (_, body, _) = filter(&api, "posts", "views = 20 || views = 21", "&perPage=2").await;
    assert_eq!(
        (total(&body), body["items"].as_array().map(Vec::len)),
        (Some(4), Some(2))
    );
    // Rebuilding the index (schema change) keeps the counts right.
    let col = srv.su().get("/api/collections/posts").await.ok();
    let mut fields = col["fields"].clone();
    if let Some(arr) = fields.as_array_mut() {
        arr.push(json!({"name": "extra", "type": "text"}));
    }
    srv.su()
        .patch("/api/collections/posts", json!({"fields": fields, "indexes": ["CREATE INDEX idx_views ON posts (views, extra)"]}))
        .await
        .ok();
    let (_, body, plan) = filter(&api, "posts", "views = 20", "").await;
    assert_eq!(total(&body), Some(3), "{plan:?}");
    let (_, body, _) = filter(&api, "posts", "views = 20 && extra = ''", "").await;
    assert_eq!(total(&body), Some(3));
}

#[tokio::test]
async fn range_filters_use_the_index() {
    let srv = TestServer::start().await;
    let (_, p) = setup(&srv).await;
    let (status, body, plan) = filter(
        &srv.su(),
        "posts",
        "views > 5 && views <= 20",
        "&sort=title",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(item_ids(&body), vec![p[1].clone(), p[2].clone()]);
    let plan = plan.unwrap_or_default();
    assert!(
        plan.contains("idx_views") && plan.contains("range views"),
        "{plan}"
    );
    // A text constant against a number field is not an index range (SQLite affinity rules).
    let (_, _, plan) = filter(&srv.su(), "posts", "views > '5'", "").await;
    assert!(!plan.unwrap_or_default().contains("range"));
}

/// PocketBase's older back-relation expand `collection(field)` still works (the expand key is the
/// name as written), and a back-relation whose source field has a one-column unique index expands
/// to one record, not a list (PocketBase treats it as maxSelect 1).
#[tokio::test]
async fn legacy_back_relation_expand_and_unique_back_relations() {
    let srv = TestServer::start().await;
    let (a, _) = setup(&srv).await;
    let users = srv
        .create_collection(public_collection(
            "people",
            json!([{"name": "name", "type": "text"}]),
        ))
        .await;
    let mut profiles = public_collection(
        "profiles",
        json!([
            {"name": "bio", "type": "text"},
            {"name": "person", "type": "relation", "collectionId": users["id"], "maxSelect": 1},
        ]),
    );
    profiles["indexes"] = json!(["CREATE UNIQUE INDEX idx_person ON profiles (person)"]);
    srv.create_collection(profiles).await;
    let api = srv.guest();

    let legacy = api
        .get(&format!(
            "{}?expand=posts(author)&fields=name,expand",
            record("authors", &a[0])
        ))
        .await
        .ok();
    let titles: Vec<&str> = legacy["expand"]["posts(author)"]
        .as_array()
        .unwrap_or_else(|| panic!("legacy key kept: {legacy}"))
        .iter()
        .map(|p| p["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Rust is fast", "it's \"q\" 50%"]);
    let modern = api
        .get(&format!(
            "{}?expand=posts_via_author",
            record("authors", &a[0])
        ))
        .await
        .ok();
    assert_eq!(
        modern["expand"]["posts_via_author"],
        legacy["expand"]["posts(author)"]
    );
    // Malformed legacy names are errors like any unknown name.
    for bad in ["posts(author", "posts()", "(author)", "posts(nope)"] {
        let r = api
            .get(&format!("{}?expand={}", record("authors", &a[0]), enc(bad)))
            .await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
    }

    let ann = api.create("people", json!({"name": "Ann"})).await;
    let ann_id = id_of(&ann);
    api.create("profiles", json!({"bio": "hi", "person": ann_id}))
        .await;
    let one = api
        .get(&format!(
            "{}?expand=profiles_via_person",
            record("people", &ann_id)
        ))
        .await
        .ok();
    assert_eq!(
        one["expand"]["profiles_via_person"]["bio"], "hi",
        "a unique back-relation is one record: {one}"
    );
}
