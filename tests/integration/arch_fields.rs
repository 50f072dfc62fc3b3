//! One file per field kind (`src/schema/fields/`): every kind's options, coercion, modifiers,
//! schema-change checks and index keys, observed over HTTP so the move changes nothing on the wire.

use serde_json::{json, Value};

use crate::harness::{enc, id_of, public_collection, record, records, TestServer};

/// Every kind with non-default options, as a client sends them.
fn every_kind(target: &str) -> Value {
    json!([
        {"name": "t", "type": "text", "min": 1, "max": 9, "pattern": "^[a-z]+$", "autogeneratePattern": "[a-z]{4}"},
        {"name": "n", "type": "number", "min": -5, "max": 1e300, "onlyInt": false},
        {"name": "b", "type": "bool"},
        {"name": "e", "type": "email", "onlyDomains": ["ok.io"]},
        {"name": "u", "type": "url", "exceptDomains": ["bad.io"]},
        {"name": "ed", "type": "editor", "maxSize": 100, "convertURLs": true},
        {"name": "d", "type": "date", "min": "2020-01-01T00:00:00Z"},
        {"name": "c", "type": "autodate", "onCreate": true, "required": true, "help": "dropped"},
        {"name": "s", "type": "select", "values": ["a", "b", "c"], "maxSelect": 3},
        {"name": "j", "type": "json", "maxSize": 50},
        {"name": "r", "type": "relation", "collectionId": target, "maxSelect": 5},
        {"name": "p", "type": "password", "min": 3, "cost": 4},
    ])
}

fn field<'a>(col: &'a Value, name: &str) -> &'a Value {
    col["fields"]
        .as_array()
        .and_then(|fs| fs.iter().find(|f| f["name"] == name))
        .unwrap_or(&Value::Null)
}

#[tokio::test]
async fn arch_fields_every_kind_renders_its_options() {
    let srv = TestServer::start().await;
    let target = srv
        .create_collection(public_collection(
            "tg",
            json!([{"name": "x", "type": "text"}]),
        ))
        .await;
    let col = srv
        .create_collection(public_collection(
            "k",
            every_kind(target["id"].as_str().unwrap()),
        ))
        .await;
    let t = field(&col, "t");
    assert_eq!(
        (
            &t["min"],
            &t["max"],
            &t["pattern"],
            &t["autogeneratePattern"],
            &t["primaryKey"]
        ),
        (
            &json!(1),
            &json!(9),
            &json!("^[a-z]+$"),
            &json!("[a-z]{4}"),
            &json!(false)
        )
    );
    assert_eq!(field(&col, "n")["min"].to_string(), "-5");
    assert_eq!(field(&col, "n")["max"], json!(1e300));
    assert_eq!(field(&col, "e")["onlyDomains"], json!(["ok.io"]));
    assert_eq!(field(&col, "u")["exceptDomains"], json!(["bad.io"]));
    assert_eq!(field(&col, "ed")["convertURLs"], json!(true));
    assert_eq!(field(&col, "d")["min"], json!("2020-01-01 00:00:00.000Z"));
    let c = field(&col, "c");
    assert!(
        c.get("required").is_none() && c.get("help").is_none(),
        "{c}"
    );
    assert_eq!(c["onCreate"], json!(true));
    assert_eq!(field(&col, "s")["maxSelect"], json!(3));
    assert_eq!(field(&col, "j")["maxSize"], json!(50));
    assert_eq!(field(&col, "r")["collectionId"], target["id"]);
    assert_eq!(field(&col, "p")["cost"], json!(4));
    assert_eq!(field(&col, "p")["hidden"], json!(false));
    assert_eq!(field(&col, "b")["type"], json!("bool"));
    // Unknown types and bad file options keep their codes.
    let r = srv
        .su()
        .post(
            "/api/collections",
            public_collection(
                "bad",
                json!([{"name": "f", "type": "file", "thumbs": ["big"]}, {"name": "g", "type": "nope"}]),
            ),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(
        r.body["data"]["fields"]["1"]["thumbs"]["code"],
        json!("validation_invalid_value"),
        "{}",
        r.text
    );
    assert_eq!(
        r.body["data"]["fields"]["2"]["type"]["code"],
        json!("validation_in_invalid"),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn arch_fields_coercion_and_modifiers_per_kind() {
    let srv = TestServer::start().await;
    let target = srv
        .create_collection(public_collection(
            "tg",
            json!([{"name": "x", "type": "text"}]),
        ))
        .await;
    srv.create_collection(public_collection(
        "k",
        every_kind(target["id"].as_str().unwrap()),
    ))
    .await;
    let api = srv.guest();
    let t1 = id_of(&api.create("tg", json!({"x": "1"})).await);
    let t2 = id_of(&api.create("tg", json!({"x": "2"})).await);
    let rec = api
        .create(
            "k",
            json!({"n": "2.5", "b": "t", "s": "[\"b\",\"a\",\"b\"]", "r": t1, "d": "2024-05-06T10:11:12+02:00",
                   "j": "[1]", "p": "secret"}),
        )
        .await;
    assert_eq!(rec["n"], json!(2.5));
    assert_eq!(rec["b"], json!(true));
    assert_eq!(rec["s"], json!(["b", "a"]));
    assert_eq!(rec["r"], json!([t1]));
    assert_eq!(rec["d"], json!("2024-05-06 08:11:12.000Z"));
    assert_eq!(
        rec["j"],
        json!("[1]"),
        "JSON bodies keep strings as strings"
    );
    // Autogenerate patterns are only applied to `id` today; a visible password renders as "".
    assert_eq!(rec["t"], json!(""), "{rec}");
    assert_eq!(
        rec["p"],
        json!(""),
        "password hashes are never rendered: {rec}"
    );
    assert!(rec["c"].as_str().is_some_and(|c| !c.is_empty()));
    let id = id_of(&rec);

    let upd = api
        .patch(
            &record("k", &id),
            json!({"n+": 1, "+s": "c", "s-": "a", "r+": [t2, t1], "b": 0}),
        )
        .await
        .ok();
    assert_eq!(upd["n"], json!(3.5));
    assert_eq!(upd["s"], json!(["c", "b"]));
    assert_eq!(upd["r"], json!([t1, t2]));
    assert_eq!(upd["b"], json!(false));
    let upd = api
        .patch(&record("k", &id), json!({"n-": "4", "r-": t1}))
        .await
        .ok();
    assert_eq!(upd["n"], json!(-0.5));
    assert_eq!(upd["r"], json!([t2]));
    // A sum past f64's range stores 0 (then passes min) instead of failing or storing null.
    let upd = api
        .patch(&record("k", &id), json!({"n": 1.7e308, "n+": 1.7e308}))
        .await
        .ok();
    assert_eq!(upd["n"], json!(0));

    // Each kind keeps its error codes.
    for (body, field, code) in [
        (json!({"n": "inf"}), "n", "validation_invalid_number"),
        (json!({"n": -6}), "n", "validation_min_number_constraint"),
        (json!({"b": "maybe"}), "b", "validation_invalid_bool"),
        (
            json!({"e": "a@x.io"}),
            "e",
            "validation_email_domain_not_allowed",
        ),
        (
            json!({"u": "https://bad.io/x"}),
            "u",
            "validation_url_domain_not_allowed",
        ),
        (
            json!({"ed": "x".repeat(101)}),
            "ed",
            "validation_content_size_limit",
        ),
        (
            json!({"d": "2019-01-01 00:00:00Z"}),
            "d",
            "validation_min_greater_equal_than_required",
        ),
        (json!({"s": ["z"]}), "s", "validation_invalid_value"),
        (
            json!({"j": "y".repeat(60)}),
            "j",
            "validation_json_size_limit",
        ),
        (json!({"t": "ABC"}), "t", "validation_invalid_format"),
        (json!({"p": "ab"}), "p", "validation_min_text_constraint"),
    ] {
        let r = api.patch(&record("k", &id), body.clone()).await;
        assert_eq!(r.status, 400, "{body}: {}", r.text);
        assert_eq!(r.code(field), code, "{body}: {}", r.text);
    }
}

#[tokio::test]
async fn arch_fields_relation_target_cannot_change_and_index_keys_answer_filters() {
    let srv = TestServer::start().await;
    let a = srv
        .create_collection(public_collection(
            "ta",
            json!([{"name": "x", "type": "text"}]),
        ))
        .await;
    let b = srv
        .create_collection(public_collection(
            "tb",
            json!([{"name": "x", "type": "text"}]),
        ))
        .await;
    let mut spec = public_collection(
        "items",
        json!([
            {"name": "n", "type": "number"},
            {"name": "flag", "type": "bool"},
            {"name": "label", "type": "text"},
            {"name": "r", "type": "relation", "collectionId": a["id"], "maxSelect": 1},
        ]),
    );
    spec["indexes"] = json!([
        "CREATE INDEX idx_n ON items (n)",
        "CREATE INDEX idx_flag ON items (flag)",
        "CREATE INDEX idx_label ON items (label)",
    ]);
    let col = srv.create_collection(spec).await;
    let mut fields = col["fields"].clone();
    for f in fields.as_array_mut().unwrap() {
        if f["name"] == "r" {
            f["collectionId"] = b["id"].clone();
        }
    }
    let r = srv
        .su()
        .patch("/api/collections/items", json!({"fields": fields}))
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(
        r.body["data"]["fields"]["4"]["collectionId"]["code"],
        json!("validation_field_relation_change"),
        "{}",
        r.text
    );

    let api = srv.guest();
    for i in 0..6 {
        api.create(
            "items",
            json!({"n": i, "flag": i % 2 == 0, "label": format!("l{i}")}),
        )
        .await;
    }
    let count = |v: &Value| v["totalItems"].as_u64().unwrap_or(u64::MAX);
    let q = |f: &str| format!("filter={}", enc(f));
    assert_eq!(count(&api.list("items", &q("n = 3")).await), 1);
    assert_eq!(count(&api.list("items", &q("n >= 2 && n < 5")).await), 3);
    assert_eq!(count(&api.list("items", &q("flag = 1")).await), 3);
    assert_eq!(count(&api.list("items", &q("flag = true")).await), 3);
    assert_eq!(count(&api.list("items", &q("label = 'l4'")).await), 1);
    assert_eq!(count(&api.list("items", &q("label > 'l3'")).await), 2);
    assert_eq!(
        count(&api.list("items", &q("label = '' || n = 0")).await),
        1
    );
    let listed = api
        .get(&format!("{}?{}", records("items"), q("n = 'x'")))
        .await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(count(&listed.body), 0);
}
