//! Field validation codes, request-body errors, unknown collections, body limit and access rules.

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{public_collection, record, records, Api, TestServer};

const CREATE_FAILED: &str = "Failed to create record.";
const BAD_BODY: &str = "Failed to load the submitted data due to invalid formatting.";

async fn constrained(srv: &TestServer) -> Value {
    let target = srv
        .create_collection(public_collection(
            "targets",
            json!([{"name": "name", "type": "text"}]),
        ))
        .await;
    srv.create_collection(public_collection(
        "v",
        json!([
            {"name": "t", "type": "text", "min": 3, "max": 5, "pattern": "^[a-z]+$"},
            {"name": "n", "type": "number", "min": 5, "max": 10},
            {"name": "i", "type": "number", "onlyInt": true},
            {"name": "e", "type": "email"},
            {"name": "u", "type": "url"},
            {"name": "s", "type": "select", "values": ["a", "b"], "maxSelect": 1},
            {"name": "sm", "type": "select", "values": ["a", "b", "c"], "maxSelect": 2},
            {"name": "j", "type": "json", "maxSize": 20},
            {"name": "d", "type": "date"},
            {"name": "b", "type": "bool"},
            {"name": "r", "type": "relation", "collectionId": target["id"], "maxSelect": 1},
            {"name": "rm", "type": "relation", "collectionId": target["id"], "maxSelect": 5},
        ]),
    ))
    .await
}

/// Posts `body` and asserts exactly one field error `field: code`.
async fn expect_error(api: &Api, body: Value, field: &str, code: &str) -> Value {
    let r = api.post(&records("v"), body.clone()).await;
    r.assert_field_error(CREATE_FAILED, field, code);
    let data = r.body["data"].as_object().unwrap();
    assert_eq!(data.len(), 1, "only {field} fails for {body}: {}", r.text);
    assert!(
        r.body["data"][field]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "error has a message: {}",
        r.text
    );
    r.body["data"][field].clone()
}

#[tokio::test]
async fn every_field_type_reports_its_error_codes() {
    let srv = TestServer::start().await;
    constrained(&srv).await;
    let api = srv.guest();

    let e = expect_error(
        &api,
        json!({"t": "ab"}),
        "t",
        "validation_min_text_constraint",
    )
    .await;
    assert_eq!(e["params"]["min"], 3);
    let e = expect_error(
        &api,
        json!({"t": "abcdef"}),
        "t",
        "validation_max_text_constraint",
    )
    .await;
    assert_eq!(e["params"]["max"], 5);
    expect_error(&api, json!({"t": "ABC"}), "t", "validation_invalid_format").await;

    let e = expect_error(
        &api,
        json!({"n": 4}),
        "n",
        "validation_min_number_constraint",
    )
    .await;
    assert_eq!(e["params"]["min"], 5);
    let e = expect_error(
        &api,
        json!({"n": 10.5}),
        "n",
        "validation_max_number_constraint",
    )
    .await;
    assert_eq!(e["params"]["max"], 10);
    expect_error(
        &api,
        json!({"i": 1.5}),
        "i",
        "validation_only_int_constraint",
    )
    .await;
    expect_error(&api, json!({"n": "abc"}), "n", "validation_invalid_number").await;

    expect_error(
        &api,
        json!({"e": "not-an-email"}),
        "e",
        "validation_is_email",
    )
    .await;
    expect_error(
        &api,
        json!({"u": "not a url"}),
        "u",
        "validation_invalid_url",
    )
    .await;

    let e = expect_error(&api, json!({"s": "z"}), "s", "validation_invalid_value").await;
    assert_eq!(e["params"]["value"], "z");
    expect_error(
        &api,
        json!({"sm": ["a", "z"]}),
        "sm",
        "validation_invalid_value",
    )
    .await;
    let e = expect_error(
        &api,
        json!({"sm": ["a", "b", "c"]}),
        "sm",
        "validation_too_many_values",
    )
    .await;
    assert_eq!(e["params"]["maxSelect"], 2);

    expect_error(
        &api,
        json!({"j": {"long": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}}),
        "j",
        "validation_json_size_limit",
    )
    .await;

    expect_error(
        &api,
        json!({"d": "garbage"}),
        "d",
        "validation_invalid_date",
    )
    .await;
    expect_error(
        &api,
        json!({"d": 1_700_000_000}),
        "d",
        "validation_invalid_date",
    )
    .await;
    expect_error(&api, json!({"b": "maybe"}), "b", "validation_invalid_bool").await;

    expect_error(
        &api,
        json!({"r": "abcdefghij12345"}),
        "r",
        "validation_missing_rel_records",
    )
    .await;
    let target = api.create("targets", json!({"name": "x"})).await;
    expect_error(
        &api,
        json!({"rm": [target["id"], "abcdefghij12345"]}),
        "rm",
        "validation_missing_rel_records",
    )
    .await;

    // Several failing fields are reported together.
    let r = api
        .post(&records("v"), json!({"t": "ab", "n": 100, "e": "x"}))
        .await;
    r.assert_error(400, CREATE_FAILED);
    assert_eq!(r.code("t"), "validation_min_text_constraint");
    assert_eq!(r.code("n"), "validation_max_number_constraint");
    assert_eq!(r.code("e"), "validation_is_email");

    // None of the failures stored anything.
    assert_eq!(api.list("v", "").await["totalItems"], 0);

    // Valid values at the edges pass, coercions PocketBase documents still apply.
    let ok = api
        .create(
            "v",
            json!({"t": "abcde", "n": "10", "i": 3, "e": "a@b.co", "u": "https://x.io",
                   "s": "b", "sm": "c", "j": "str", "d": "2024-05-06", "b": "true",
                   "r": target["id"], "rm": [target["id"], target["id"]]}),
        )
        .await;
    assert_eq!(ok["n"], 10);
    assert_eq!(ok["sm"], json!(["c"]), "scalar into multi becomes [x]");
    assert_eq!(ok["j"], "str", "a JSON string stays a string");
    assert_eq!(ok["b"], true);
    assert_eq!(
        ok["rm"],
        json!([target["id"]]),
        "duplicate relation ids deduplicated"
    );
}

#[tokio::test]
async fn required_fields() {
    let srv = TestServer::start().await;
    srv.create_collection(public_collection(
        "req",
        json!([
            {"name": "t", "type": "text", "required": true},
            {"name": "n", "type": "number", "required": true},
            {"name": "b", "type": "bool", "required": true},
            {"name": "e", "type": "email", "required": true},
            {"name": "sm", "type": "select", "values": ["a", "b"], "maxSelect": 2, "required": true},
            {"name": "j", "type": "json", "required": true},
        ]),
    ))
    .await;
    let api = srv.guest();
    let r = api
        .post(&records("req"), json!({"b": false, "t": ""}))
        .await;
    r.assert_error(400, CREATE_FAILED);
    for field in ["t", "n", "b", "e", "sm", "j"] {
        assert_eq!(r.code(field), "validation_required", "{field}: {}", r.text);
    }
    let ok = api
        .create(
            "req",
            json!({"t": "x", "n": 1, "b": true, "e": "a@b.co", "sm": ["a"], "j": {"a": 1}}),
        )
        .await;
    let id = ok["id"].as_str().unwrap();
    // Required also holds on update.
    api.patch(&record("req", id), json!({"t": ""}))
        .await
        .assert_field_error("Failed to update record.", "t", "validation_required");
}

#[tokio::test]
async fn body_format_errors() {
    let srv = TestServer::start().await;
    constrained(&srv).await;
    let api = srv.guest();
    let post_raw = |ct: &'static str, body: &'static str| {
        Api::send(
            api.request(Method::POST, &records("v"))
                .header("Content-Type", ct)
                .body(body),
        )
    };

    let r = post_raw("application/json", "{\"t\": ").await;
    r.assert_error(400, BAD_BODY);
    assert_eq!(r.code("body"), "invalid_json", "{}", r.text);

    for non_object in ["[1,2]", "\"str\"", "12", "null"] {
        let r = post_raw("application/json", non_object).await;
        assert_eq!(r.status, 400, "{non_object}: {}", r.text);
        assert_eq!(r.message(), BAD_BODY, "{non_object}");
        assert!(r.body["data"]["body"]["code"].is_string(), "{}", r.text);
    }

    let r = post_raw("text/plain", "t=abc").await;
    r.assert_error(400, "Unsupported Content-Type.");

    // An empty body is an empty object.
    let r = post_raw("application/json", "").await;
    assert_eq!(r.status, 200, "empty body = {{}}: {}", r.text);

    // Wrong JSON types for fields are errors, not panics.
    let r = api
        .post(
            &records("v"),
            json!({"t": {"x": 1}, "n": [1], "sm": {"a": 1}}),
        )
        .await;
    r.assert_error(400, CREATE_FAILED);
    assert!(r.body["data"]["t"]["code"].is_string(), "{}", r.text);
    assert!(r.body["data"]["n"]["code"].is_string(), "{}", r.text);
    assert!(r.body["data"]["sm"]["code"].is_string(), "{}", r.text);
}

#[tokio::test]
async fn unknown_collection_is_404() {
    let srv = TestServer::start().await;
    let su = srv.su();
    const MISSING: &str = "Missing collection context.";
    su.get(&records("nope")).await.assert_error(404, MISSING);
    su.post(&records("nope"), json!({}))
        .await
        .assert_error(404, MISSING);
    su.get(&record("nope", "abcdefghij12345"))
        .await
        .assert_error(404, MISSING);
    su.delete(&record("nope", "abcdefghij12345"))
        .await
        .assert_error(404, MISSING);
    srv.guest()
        .get(&records("nope"))
        .await
        .assert_error(404, MISSING);
}

#[tokio::test]
async fn body_over_the_limit_is_413() {
    let srv = TestServer::builder()
        .env("FERROBASE_SERVER_BODY_LIMIT", "1000")
        .start()
        .await;
    srv.create_collection(public_collection(
        "big",
        json!([{"name": "t", "type": "text", "max": 100000}]),
    ))
    .await;
    let api = srv.guest();
    let small = api.create("big", json!({"t": "x".repeat(500)})).await;
    assert_eq!(small["t"].as_str().unwrap().len(), 500);

    let r = api
        .post(&records("big"), json!({"t": "x".repeat(5000)}))
        .await;
    assert_eq!(r.status, 413, "{}", r.text);
    if !r.text.is_empty() {
        assert_eq!(r.body["status"], 413, "envelope: {}", r.text);
    }
    let form = reqwest::multipart::Form::new().text("t", "y".repeat(5000));
    let r = Api::send(api.request(Method::POST, &records("big")).multipart(form)).await;
    assert_eq!(r.status, 413, "multipart: {}", r.text);

    assert_eq!(api.list("big", "").await["totalItems"], 1, "nothing stored");
    // The server is fine afterwards.
    assert_eq!(srv.guest().get("/api/health").await.status, 200);
}

#[tokio::test]
async fn collections_api_requires_a_superuser() {
    let srv = TestServer::start().await;
    srv.create_collection(public_collection("pub", json!([])))
        .await;
    let guest = srv.guest();
    const NEEDS_AUTH: &str = "The request requires valid record authorization token.";
    guest
        .get("/api/collections")
        .await
        .assert_error(401, NEEDS_AUTH);
    guest
        .get("/api/collections/pub")
        .await
        .assert_error(401, NEEDS_AUTH);
    guest
        .post("/api/collections", json!({"name": "x"}))
        .await
        .assert_error(401, NEEDS_AUTH);
    guest
        .patch("/api/collections/pub", json!({"listRule": null}))
        .await
        .assert_error(401, NEEDS_AUTH);
    guest
        .delete("/api/collections/pub")
        .await
        .assert_error(401, NEEDS_AUTH);
    guest
        .delete("/api/collections/pub/truncate")
        .await
        .assert_error(401, NEEDS_AUTH);
    guest
        .put("/api/collections/import", json!({"collections": []}))
        .await
        .assert_error(401, NEEDS_AUTH);
    // Nothing changed.
    let coll = srv.su().get("/api/collections/pub").await.ok();
    assert_eq!(coll["listRule"], "");
    srv.su()
        .get("/api/collections/x")
        .await
        .assert_error(404, "The requested resource wasn't found.");
}

#[tokio::test]
async fn access_rules_null_empty_and_expression() {
    let srv = TestServer::start().await;
    srv.create_collection(json!({
        "name": "locked",
        "fields": [{"name": "t", "type": "text"}],
    }))
    .await;
    srv.create_collection(json!({
        "name": "expr",
        "listRule": "t = 'open'", "viewRule": "t = 'open'", "createRule": "t = 'open'",
        "updateRule": "t = 'open'", "deleteRule": "t = 'open'",
        "fields": [{"name": "t", "type": "text"}],
    }))
    .await;
    let guest = srv.guest();
    let su = srv.su();
    const ONLY_SU: &str = "Only superusers can perform this action.";
    const NOT_FOUND: &str = "The requested resource wasn't found.";

    // Null rules: 403 for everyone but superusers.
    let rec = su.create("locked", json!({"t": "x"})).await;
    let id = rec["id"].as_str().unwrap();
    guest
        .get(&records("locked"))
        .await
        .assert_error(403, ONLY_SU);
    guest
        .post(&records("locked"), json!({"t": "y"}))
        .await
        .assert_error(403, ONLY_SU);
    guest
        .get(&record("locked", id))
        .await
        .assert_error(403, ONLY_SU);
    guest
        .patch(&record("locked", id), json!({"t": "z"}))
        .await
        .assert_error(403, ONLY_SU);
    guest
        .delete(&record("locked", id))
        .await
        .assert_error(403, ONLY_SU);

    // Expression rules: list filtered, view/update/delete 404, create 400.
    let hidden = su.create("expr", json!({"t": "x"})).await;
    let id = hidden["id"].as_str().unwrap();
    let list = guest.list("expr", "").await;
    assert_eq!(list["totalItems"], 0, "{list}");
    guest
        .get(&record("expr", id))
        .await
        .assert_error(404, NOT_FOUND);
    guest
        .patch(&record("expr", id), json!({"t": "open"}))
        .await
        .assert_error(404, NOT_FOUND);
    guest
        .delete(&record("expr", id))
        .await
        .assert_error(404, NOT_FOUND);
    let r = guest.post(&records("expr"), json!({"t": "y"})).await;
    r.assert_error(400, "Failed to create record.");
    assert_eq!(r.body["data"], json!({}));
    let open = guest.create("expr", json!({"t": "open"})).await;
    let list = guest.list("expr", "").await;
    assert_eq!(list["totalItems"], 1);
    assert_eq!(list["items"][0], open);

    // Superusers pass every rule and nothing else changed.
    for (coll, n) in [("locked", 1), ("expr", 2)] {
        assert_eq!(su.list(coll, "").await["totalItems"], n, "{coll}");
    }
    assert_eq!(su.get(&record("expr", id)).await.ok(), hidden);

    // A garbage token on a public endpoint is treated as a guest, not rejected.
    srv.create_collection(public_collection("open", json!([])))
        .await;
    let r = srv
        .client(Some("garbage".into()))
        .get(&records("open"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn file_fields_are_created_with_pocketbase_defaults_and_checked_options() {
    let srv = TestServer::start().await;
    let su = srv.su();
    let c = srv
        .create_collection(json!({"name": "docs", "fields": [{"name": "att", "type": "file"}]}))
        .await;
    let att = &c["fields"][1];
    assert_eq!(att["type"], "file");
    for (key, value) in [
        ("maxSelect", json!(0)),
        ("maxSize", json!(0)),
        ("mimeTypes", json!([])),
        ("thumbs", json!([])),
        ("protected", json!(false)),
    ] {
        assert_eq!(att[key], value, "{key}: {att}");
    }

    // Bad options are refused with the option named, on create and on update.
    let r = su
        .post(
            "/api/collections",
            json!({"name": "bad", "fields": [{"name": "att", "type": "file", "thumbs": ["0x0"]}]}),
        )
        .await;
    r.assert_error(400, "Failed to create collection.");
    assert_eq!(
        r.body["data"]["fields"]["1"]["thumbs"]["code"], "validation_invalid_value",
        "{}",
        r.text
    );
    let r = su
        .patch(
            "/api/collections/docs",
            json!({"fields": [c["fields"][0].clone(), {"name": "att", "type": "file", "maxSelect": 1000}]}),
        )
        .await;
    r.assert_error(400, "Failed to update collection.");
    assert_eq!(
        r.body["data"]["fields"]["1"]["maxSelect"]["code"],
        "validation_max_less_equal_than_required",
        "{}",
        r.text
    );
}

#[tokio::test]
async fn collection_schema_validation() {
    let srv = TestServer::start().await;
    let su = srv.su();
    const FAILED: &str = "Failed to create collection.";
    srv.create_collection(json!({"name": "taken"})).await;

    let r = su.post("/api/collections", json!({"name": "TAKEN"})).await;
    r.assert_field_error(FAILED, "name", "validation_collection_name_exists");
    let r = su
        .post("/api/collections", json!({"name": "bad name!"}))
        .await;
    r.assert_field_error(FAILED, "name", "validation_match_invalid");
    let r = su
        .post("/api/collections", json!({"name": "x1", "type": "weird"}))
        .await;
    r.assert_field_error(FAILED, "type", "validation_in_invalid");
    let r = su
        .post(
            "/api/collections",
            json!({"name": "x2", "fields": [{"name": "s", "type": "select"}]}),
        )
        .await;
    r.assert_error(400, FAILED);
    assert_eq!(
        r.body["data"]["fields"]["1"]["values"]["code"], "validation_required",
        "{}",
        r.text
    );
    let r = su
        .post(
            "/api/collections",
            json!({"name": "x3", "fields": [{"name": "t", "type": "text", "min": 5, "max": 2}]}),
        )
        .await;
    r.assert_error(400, FAILED);
    assert_eq!(
        r.body["data"]["fields"]["1"]["max"]["code"], "validation_min_greater_equal_than_required",
        "{}",
        r.text
    );
    let r = su
        .post(
            "/api/collections",
            json!({"name": "x4", "fields": [{"name": "t", "type": "text"}],
                   "indexes": ["CREATE INDEX idx_zzz ON x4 (zzz)"]}),
        )
        .await;
    r.assert_error(400, FAILED);
    assert_eq!(
        r.body["data"]["indexes"]["0"]["code"], "validation_invalid_index_expression",
        "{}",
        r.text
    );
    let r = su
        .post(
            "/api/collections",
            json!({"name": "x5", "fields": [{"name": "r", "type": "relation"}]}),
        )
        .await;
    r.assert_error(400, FAILED);
    assert_eq!(
        r.body["data"]["fields"]["1"]["collectionId"]["code"], "validation_required",
        "{}",
        r.text
    );
    let list = su.get("/api/collections?perPage=200").await.ok();
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    for n in ["x1", "x2", "x3", "x4", "x5", "bad name!"] {
        assert!(!names.contains(&n), "{n} must not exist: {names:?}");
    }
}

/// Arbitrary JSON bodies never make the server fail: always 200 or a 4xx envelope.
#[tokio::test]
async fn random_bodies_never_cause_a_server_error() {
    let srv = TestServer::start().await;
    constrained(&srv).await;
    let api = srv.guest();

    let leaf = proptest::prop_oneof![
        proptest::strategy::Just(Value::Null),
        proptest::bool::ANY.prop_map(Value::from),
        proptest::num::i64::ANY.prop_map(Value::from),
        proptest::num::f64::NORMAL.prop_map(Value::from),
        "[a-c@.:/ 0-9-]{0,12}".prop_map(Value::from),
    ];
    let value = leaf.prop_recursive(3, 16, 4, |inner| {
        proptest::prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map("[a-z]{1,2}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    });
    let keys = proptest::sample::select(vec![
        "t", "n", "i", "e", "u", "s", "sm", "j", "d", "b", "r", "rm", "id", "n+", "sm-", "+sm",
        "zz",
    ]);
    let body = proptest::collection::btree_map(keys, value, 0..6);

    let mut runner = TestRunner::deterministic();
    for _ in 0..64 {
        let case: serde_json::Map<String, Value> = body
            .new_tree(&mut runner)
            .expect("generate a body")
            .current()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let r = api.post(&records("v"), Value::Object(case.clone())).await;
        assert!(
            r.status == 200 || (r.status == 400 && r.body["status"] == 400),
            "body {case:?} -> {} {}",
            r.status,
            r.text
        );
    }
    assert_eq!(api.get("/api/health").await.status, 200);
}

#[tokio::test]
async fn default_size_limits_and_hidden_fields() {
    let srv = TestServer::start().await;
    srv.create_collection(public_collection(
        "lim",
        json!([
            {"name": "t", "type": "text"},
            {"name": "j", "type": "json"},
            {"name": "secret", "type": "text", "hidden": true},
        ]),
    ))
    .await;
    let api = srv.guest();
    // text max 0 means 5000 characters (not bytes).
    api.create("lim", json!({"t": "é".repeat(5000)})).await;
    let r = api
        .post(&records("lim"), json!({"t": "x".repeat(5001)}))
        .await;
    r.assert_field_error(CREATE_FAILED, "t", "validation_max_text_constraint");
    assert_eq!(r.body["data"]["t"]["params"]["max"], 5000);
    // json maxSize 0 means 1 MiB.
    let r = api
        .post(&records("lim"), json!({"j": "x".repeat(1_100_000)}))
        .await;
    r.assert_field_error(CREATE_FAILED, "j", "validation_json_size_limit");

    // Hidden fields are writable but only superusers see them.
    let rec = api.create("lim", json!({"t": "h", "secret": "s3"})).await;
    assert!(rec.get("secret").is_none(), "hidden from the guest: {rec}");
    let id = rec["id"].as_str().unwrap();
    assert!(api
        .get(&record("lim", id))
        .await
        .ok()
        .get("secret")
        .is_none());
    let listed = api.list("lim", "").await;
    assert!(listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r.get("secret").is_none()));
    assert_eq!(srv.su().get(&record("lim", id)).await.ok()["secret"], "s3");
}

#[tokio::test]
async fn odd_query_strings_and_paths_are_client_errors() {
    let srv = TestServer::start().await;
    constrained(&srv).await;
    let api = srv.guest();
    for q in [
        "perPage=99999999999999999999999",
        "page=-99999999999999999999",
        "perPage=-5",
        "page=%00",
        "sort=",
        "sort=,,,",
        "sort=-",
        "sort=%2B%2B",
        "skipTotal=maybe",
        "perPage=1e3",
    ] {
        let r = api.get(&format!("{}?{q}", records("v"))).await;
        assert!(
            r.status == 200 || (r.status == 400 && r.body["status"] == 400),
            "{q}: {} {}",
            r.status,
            r.text
        );
    }
    let long = "a".repeat(5000);
    for path in [
        record("v", &long),
        records(&long),
        record("v", "%F0%9F%92%A9"),
        "/api/collections/v/records/a/b".to_string(),
    ] {
        let r = api.get(&path).await;
        assert!(
            (400..500).contains(&r.status),
            "{}: {} {}",
            &path[..path.len().min(60)],
            r.status,
            r.text
        );
    }
    assert_eq!(api.get("/api/health").await.status, 200);
}
