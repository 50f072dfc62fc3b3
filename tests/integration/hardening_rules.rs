//! Hardening of rules and collection identity: modifiers seen by rules (`@request.body.<field>`
//! is the resolved value), token revocation when `authRule` changes, filters on `email`, unique
//! collection ids/names, and `~` with a field on the right.

use reqwest::Method;
use serde_json::{json, Value};

use crate::accounts::user;
use crate::harness::{enc, id_of, record, records, Api, Resp, TestServer};

const NOT_FOUND: &str = "The requested resource wasn't found.";
const OWNER_RULE: &str = "owner = @request.auth.id && \
     (@request.body.owner:isset = false || @request.body.owner = @request.auth.id)";

/// How a body is sent: JSON, multipart, urlencoded, or as one request of `/api/batch`.
#[derive(Debug, Clone, Copy)]
enum Encoding {
    Json,
    Multipart,
    Urlencoded,
    Batch,
}

const ENCODINGS: [Encoding; 4] = [
    Encoding::Json,
    Encoding::Multipart,
    Encoding::Urlencoded,
    Encoding::Batch,
];

/// `PATCH path` with the string pairs of `body` in `enc`; a refused batch maps to the status of
/// its failed request.
async fn patch_as(api: &Api, enc: Encoding, path: &str, body: &[(&str, &str)]) -> Resp {
    let as_json: serde_json::Map<String, Value> = body
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    match enc {
        Encoding::Json => api.patch(path, Value::Object(as_json)).await,
        Encoding::Multipart => {
            let mut form = reqwest::multipart::Form::new();
            for (k, v) in body {
                form = form.text(k.to_string(), v.to_string());
            }
            Api::send(api.request(Method::PATCH, path).multipart(form)).await
        }
        Encoding::Urlencoded => {
            let enc = |s: &str| s.replace('+', "%2B");
            let text: Vec<String> = body
                .iter()
                .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
                .collect();
            Api::send(
                api.request(Method::PATCH, path)
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .body(text.join("&")),
            )
            .await
        }
        Encoding::Batch => {
            let r = api
                .post(
                    "/api/batch",
                    json!({"requests": [{"method": "PATCH", "url": path, "body": as_json}]}),
                )
                .await;
            if r.status == 200 {
                return Resp {
                    status: 200,
                    body: r.body[0]["body"].clone(),
                    text: r.text,
                };
            }
            let inner = r.body["data"]["requests"]["0"]["response"].clone();
            Resp {
                status: inner["status"].as_u64().unwrap_or(0) as u16,
                text: inner.to_string(),
                body: inner,
            }
        }
    }
}

async fn owned_posts(srv: &TestServer) {
    srv.create_collection(json!({
        "name": "posts",
        "listRule": "", "viewRule": "",
        "createRule": "@request.auth.id != ''",
        "updateRule": OWNER_RULE,
        "fields": [
            {"name": "title", "type": "text"},
            {"name": "owner", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 1},
        ],
    }))
    .await;
}

/// Item 7: `owner+`, `+owner` and `owner-` are seen by the rule as the resolved `owner`, in every
/// body encoding, so none of them can hand a post to someone else (or clear its owner).
#[tokio::test]
async fn modifiers_are_resolved_before_the_update_rule() {
    let srv = TestServer::start().await;
    owned_posts(&srv).await;
    let (ann, ann_id) = user(&srv, "ann@example.com", "Ann").await;
    let (_bob, bob_id) = user(&srv, "bob@example.com", "Bob").await;
    let post = id_of(
        &ann.create("posts", json!({"title": "t", "owner": ann_id}))
            .await,
    );
    let path = record("posts", &post);

    for enc in ENCODINGS {
        for (key, value) in [
            ("owner+", bob_id.as_str()),
            ("+owner", bob_id.as_str()),
            ("owner-", ann_id.as_str()),
        ] {
            let r = patch_as(&ann, enc, &path, &[("title", "x"), (key, value)]).await;
            assert_eq!(r.status, 404, "{enc:?} {key}: {}", r.text);
            assert_eq!(r.body["message"], NOT_FOUND, "{enc:?} {key}: {}", r.text);
            let now = srv.su().get(&path).await.ok();
            assert_eq!(
                (now["owner"].as_str(), now["title"].as_str()),
                (Some(ann_id.as_str()), Some("t")),
                "{enc:?} {key} changed the post"
            );
        }
        // The resolved value is what the rule sees: setting yourself through a modifier is fine.
        let r = patch_as(&ann, enc, &path, &[("owner+", &ann_id)]).await;
        assert_eq!(r.status, 200, "{enc:?}: {}", r.text);
        assert_eq!(r.body["owner"], ann_id.as_str(), "{enc:?}");
    }
    let r = ann.patch(&path, json!({"title": "mine"})).await.ok();
    assert_eq!(r["title"], "mine");
}

/// Item 7 for creates: the createRule sees `@request.body.<field>` after modifiers.
#[tokio::test]
async fn modifiers_are_resolved_before_the_create_rule() {
    let srv = TestServer::start().await;
    srv.create_collection(json!({
        "name": "scores",
        "listRule": "", "viewRule": "",
        "createRule": "@request.body.n:isset = true && @request.body.n <= 10",
        "fields": [{"name": "n", "type": "number"}],
    }))
    .await;
    let guest = srv.guest();
    let r = guest.post(&records("scores"), json!({"n+": 50})).await;
    r.assert_error(400, "Failed to create record.");
    let r = guest
        .post(&records("scores"), json!({"n": 5, "n+": 50}))
        .await;
    r.assert_error(400, "Failed to create record.");
    let ok = guest.create("scores", json!({"n": 5, "n+": 3})).await;
    assert_eq!(ok["n"], 8);
    assert_eq!(srv.su().list("scores", "").await["totalItems"], 1);
}

/// Item 12: an id equal to another collection's name, or a name equal to another collection's
/// id, is refused on create, update and import.
#[tokio::test]
async fn collection_ids_and_names_never_shadow_each_other() {
    let srv = TestServer::start().await;
    let su = srv.su();
    let r = su
        .post("/api/collections", json!({"id": "users", "name": "shadow"}))
        .await;
    r.assert_field_error(
        "Failed to create collection.",
        "id",
        "validation_collection_name_id_duplicate",
    );
    let r = su
        .post("/api/collections", json!({"name": "_pb_users_auth_"}))
        .await;
    r.assert_field_error(
        "Failed to create collection.",
        "name",
        "validation_collection_name_id_duplicate",
    );

    let posts = srv.create_collection(json!({"name": "posts"})).await;
    let r = su
        .patch("/api/collections/posts", json!({"name": "pbc_3142635823"}))
        .await;
    r.assert_field_error(
        "Failed to update collection.",
        "name",
        "validation_collection_name_id_duplicate",
    );
    // Its own id as its name is no clash.
    let own = posts["id"].as_str().expect("id");
    su.patch("/api/collections/posts", json!({"name": own}))
        .await
        .ok();

    let r = su
        .put(
            "/api/collections/import",
            json!({"collections": [{"id": own, "name": "_pb_users_auth_"}]}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(
        r.code("collections"),
        "validation_collections_import_failure"
    );
    assert!(
        r.text.contains("validation_collection_name_id_duplicate"),
        "{}",
        r.text
    );

    // The default users collection still works.
    let (_ann, _) = user(&srv, "ann@example.com", "Ann").await;
    let names: Vec<String> = su.get("/api/collections?perPage=100").await.ok()["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| c["name"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(!names.contains(&"shadow".to_string()), "{names:?}");
}

/// Item 8: tightening `authRule` revokes the tokens issued under the old rule (PocketBase
/// rotates the collection's auth token secret); other collection changes keep them.
#[tokio::test]
async fn changing_the_auth_rule_revokes_existing_tokens() {
    let srv = TestServer::start().await;
    let (ann, ann_id) = user(&srv, "ann@example.com", "Ann").await;
    let me = record("users", &ann_id);
    let refresh = "/api/collections/users/auth-refresh";
    assert_eq!(ann.get(&me).await.ok()["id"], ann_id.as_str());

    // A change that leaves authRule alone keeps every token.
    srv.su()
        .patch(
            "/api/collections/users",
            json!({"listRule": "id = @request.auth.id"}),
        )
        .await
        .ok();
    assert_eq!(ann.get(&me).await.status, 200);

    // Ann is not verified: after tightening, her old token is worth nothing.
    srv.su()
        .patch(
            "/api/collections/users",
            json!({"authRule": "verified = true"}),
        )
        .await
        .ok();
    ann.get(&me).await.assert_error(404, NOT_FOUND);
    ann.post(refresh, json!({})).await.assert_error(
        401,
        "The request requires valid record authorization token.",
    );
    let login = srv
        .guest()
        .post(
            "/api/collections/users/auth-with-password",
            json!({"identity": "ann@example.com", "password": crate::accounts::PASSWORD}),
        )
        .await;
    assert_eq!(login.status, 403, "{}", login.text);

    // Loosening it again is also a change: new logins work, tokens from then on verify.
    srv.su()
        .patch("/api/collections/users", json!({"authRule": ""}))
        .await
        .ok();
    let (ann2, _) = user_login(&srv, "ann@example.com").await;
    assert_eq!(ann2.get(&me).await.status, 200);
    assert_eq!(
        ann.get(&me).await.status,
        404,
        "the first token stays revoked"
    );
}

async fn user_login(srv: &TestServer, email: &str) -> (Api, Value) {
    let (token, rec) = crate::accounts::login_user(srv, email, crate::accounts::PASSWORD).await;
    (srv.client(Some(token)), rec)
}

/// `members` (auth; manageRule: role admin) and `notes` pointing at them; returns the members'
/// ids by name (`ann` shows her email, the others do not) and a logged-in client per member.
async fn members(srv: &TestServer) -> (Vec<(String, String)>, Vec<(String, Api)>) {
    let col = srv
        .create_collection(json!({
            "name": "members", "type": "auth",
            "listRule": "", "viewRule": "",
            "manageRule": "@request.auth.role = 'admin'",
            "fields": [{"name": "role", "type": "text"}],
        }))
        .await;
    let members_id = col["id"].as_str().expect("id").to_string();
    srv.create_collection(json!({
        "name": "notes", "listRule": "", "viewRule": "",
        "fields": [
            {"name": "title", "type": "text"},
            {"name": "author", "type": "relation", "collectionId": members_id, "maxSelect": 1},
            {"name": "readers", "type": "relation", "collectionId": members_id, "maxSelect": 5},
        ],
    }))
    .await;
    let mut ids = Vec::new();
    let mut clients = Vec::new();
    // Insertion order differs from email order (`a-dave` sorts first).
    for (name, email, visible, role) in [
        ("ann", "ann@x.io", true, ""),
        ("bob", "bob@x.io", false, ""),
        ("dave", "a-dave@x.io", false, ""),
        ("carl", "carl@x.io", false, ""),
        ("eve", "eve@x.io", false, "admin"),
    ] {
        let rec = srv
            .su()
            .create(
                "members",
                json!({"email": email, "emailVisibility": visible, "role": role,
                       "password": crate::accounts::PASSWORD,
                       "passwordConfirm": crate::accounts::PASSWORD}),
            )
            .await;
        let login = srv
            .guest()
            .post(
                "/api/collections/members/auth-with-password",
                json!({"identity": email, "password": crate::accounts::PASSWORD}),
            )
            .await
            .ok();
        ids.push((name.to_string(), id_of(&rec)));
        clients.push((
            name.to_string(),
            srv.client(Some(login["token"].as_str().expect("token").to_string())),
        ));
    }
    (ids, clients)
}

fn by_name<'a, T>(list: &'a [(String, T)], name: &str) -> &'a T {
    &list.iter().find(|(n, _)| n == name).expect("member").1
}

/// `(ids, totalItems)` of a list as `api`; panics unless 200.
async fn ids_total(api: &Api, coll: &str, query: &str) -> (Vec<String>, Value) {
    let l = api.list(coll, query).await;
    (crate::harness::item_ids(&l), l["totalItems"].clone())
}

/// Item 9: non-superusers may filter and sort on `email`; a record whose email they cannot see
/// (emailVisibility false, not their own, no manageRule) never matches, also through relation
/// hops, `?=`, `:lower` and functions, and sorts as if it had none.
#[tokio::test]
async fn email_filters_only_match_visible_emails() {
    let srv = TestServer::start().await;
    let (ids, clients) = members(&srv).await;
    let id = |n: &str| by_name(&ids, n).clone();
    let carl = by_name(&clients, "carl");
    let eve = by_name(&clients, "eve");
    let guest = srv.guest();
    let f = |filter: &str| format!("filter={}", enc(filter));

    for (api, who) in [(carl, "carl"), (&guest, "guest")] {
        let (got, total) = ids_total(api, "members", &f("email = 'ann@x.io'")).await;
        assert_eq!((got, total), (vec![id("ann")], json!(1)), "{who}");
        for hidden in [
            "email = 'bob@x.io'",
            "email:lower = 'bob@x.io'",
            "email ~ 'bob'",
            "email ?= 'bob@x.io'",
            "email = '' || email = null",
        ] {
            let (got, total) = ids_total(api, "members", &f(hidden)).await;
            assert_eq!((got, total), (vec![], json!(0)), "{who}: {hidden}");
        }
    }
    // Negations do not match hidden emails either; one's own email is visible.
    let (got, _) = ids_total(carl, "members", &f("email != 'nobody@x.io'")).await;
    assert_eq!(got, vec![id("ann"), id("carl")]);
    let (got, _) = ids_total(carl, "members", &f("email = 'carl@x.io'")).await;
    assert_eq!(got, vec![id("carl")]);
    // A function of a hidden email is hidden too (`strftime` of any email is NULL).
    let (got, _) = ids_total(carl, "members", &f("strftime('%Y', email) = null")).await;
    assert_eq!(got, vec![id("ann"), id("carl")]);
    // The manageRule shows every email to managers, in filters and in responses.
    let (got, _) = ids_total(eve, "members", &f("email = 'bob@x.io'")).await;
    assert_eq!(got, vec![id("bob")]);
    let bob_path = record("members", &id("bob"));
    assert_eq!(eve.get(&bob_path).await.ok()["email"], "bob@x.io");
    assert!(carl.get(&bob_path).await.ok().get("email").is_none());

    // Sorting: hidden emails sort as NULL (first ascending, in insertion order), so the order
    // says nothing about them; visible ones sort by value.
    let (got, _) = ids_total(carl, "members", "sort=email").await;
    assert_eq!(
        got,
        vec![id("bob"), id("dave"), id("eve"), id("ann"), id("carl")]
    );
    let (got, _) = ids_total(eve, "members", "sort=email").await;
    assert_eq!(
        got,
        vec![id("dave"), id("ann"), id("bob"), id("carl"), id("eve")]
    );

    // Through relation hops and any-of paths.
    let su = srv.su();
    let n_ann = id_of(
        &su.create(
            "notes",
            json!({"title": "a", "author": id("ann"), "readers": [id("ann"), id("bob")]}),
        )
        .await,
    );
    let n_bob = id_of(
        &su.create(
            "notes",
            json!({"title": "b", "author": id("bob"), "readers": [id("bob")]}),
        )
        .await,
    );
    for (filter, want) in [
        ("author.email = 'ann@x.io'", vec![n_ann.clone()]),
        ("author.email = 'bob@x.io'", vec![]),
        ("author.email != 'zz'", vec![n_ann.clone()]),
        ("readers.email ?= 'ann@x.io'", vec![n_ann.clone()]),
        ("readers.email ?= 'bob@x.io'", vec![]),
        ("readers.email ?~ 'x.io'", vec![n_ann.clone()]),
        ("readers.email = 'ann@x.io'", vec![]),
        ("readers.email:lower ?= 'bob@x.io'", vec![]),
    ] {
        let (got, _) = ids_total(carl, "notes", &f(filter)).await;
        assert_eq!(got, want, "carl: {filter}");
    }
    let (got, _) = ids_total(eve, "notes", &f("readers.email ?= 'bob@x.io'")).await;
    assert_eq!(got, vec![n_ann.clone(), n_bob.clone()]);

    // The default users collection: a user filters on their own email.
    let (ann, ann_id) = user(&srv, "ann@example.com", "Ann").await;
    let (got, _) = ids_total(&ann, "users", &f("email = 'ann@example.com'")).await;
    assert_eq!(got, vec![ann_id]);
    // tokenKey and password stay unfilterable.
    let r = ann
        .get(&format!("{}?{}", records("users"), f("tokenKey != ''")))
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
}

/// Item 14: `a ~ b` / `a !~ b` with a field on the right use its value as a LIKE pattern
/// (`%`, `_` wildcards, `\` escapes), like PocketBase's `a LIKE ('%' || b || '%') ESCAPE '\'`.
#[tokio::test]
async fn like_with_a_field_on_the_right_uses_its_wildcards() {
    let srv = TestServer::start().await;
    srv.create_collection(crate::harness::public_collection(
        "pats",
        json!([{"name": "title", "type": "text"}, {"name": "pat", "type": "text"}]),
    ))
    .await;
    let api = srv.guest();
    let mut ids = Vec::new();
    for (title, pat) in [
        ("abc", "a_c"),
        ("abbc", "a_c"),
        ("xa_cx", "a\\_c"),
        ("abc", "a\\_c"),
        ("50% off", "0%o"),
    ] {
        ids.push(id_of(
            &api.create("pats", json!({"title": title, "pat": pat}))
                .await,
        ));
    }
    let pick = |is: &[usize]| is.iter().map(|&i| ids[i].clone()).collect::<Vec<_>>();
    for (filter, want) in [
        ("title ~ pat", pick(&[0, 2, 4])),
        ("title !~ pat", pick(&[1, 3])),
        ("'AXC' ~ pat", pick(&[0, 1])),
    ] {
        let (got, _) = ids_total(&api, "pats", &format!("filter={}", enc(filter))).await;
        assert_eq!(got, want, "{filter}");
    }
}

/// Item 8, per record: a record that stops passing the authRule (a superuser unverifies it
/// under `verified = true`) loses its tokens; records that never passed keep their tokenKey.
#[tokio::test]
async fn a_record_that_stops_passing_the_auth_rule_loses_its_tokens() {
    let srv = TestServer::start().await;
    srv.su()
        .patch(
            "/api/collections/users",
            json!({"authRule": "verified = true"}),
        )
        .await
        .ok();
    let ann = crate::accounts::register(&srv, "ann@example.com", "Ann").await;
    let ann_id = id_of(&ann);
    let me = record("users", &ann_id);
    srv.su().patch(&me, json!({"verified": true})).await.ok();
    let (ann, _) = user_login(&srv, "ann@example.com").await;
    assert_eq!(ann.get(&me).await.status, 200);
    // Renaming keeps the token; unverifying revokes it.
    srv.su().patch(&me, json!({"name": "Ann B"})).await.ok();
    assert_eq!(ann.get(&me).await.status, 200);
    srv.su().patch(&me, json!({"verified": false})).await.ok();
    ann.get(&me).await.assert_error(404, NOT_FOUND);
}
