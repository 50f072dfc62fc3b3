//! Records CRUD, record shape, client ids, list envelope, sort, form bodies and modifiers.

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{
    id_of, is_pb_date, is_record_id, item_ids, public_collection, record, records, Api, TestServer,
};

/// A public collection with one field of (almost) every type plus created/updated.
async fn all_fields(srv: &TestServer) -> Value {
    srv.create_collection(public_collection(
        "allf",
        json!([
            {"name": "t", "type": "text"},
            {"name": "n", "type": "number"},
            {"name": "b", "type": "bool"},
            {"name": "e", "type": "email"},
            {"name": "u", "type": "url"},
            {"name": "ed", "type": "editor"},
            {"name": "d", "type": "date"},
            {"name": "s", "type": "select", "values": ["a", "b", "c"], "maxSelect": 1},
            {"name": "sm", "type": "select", "values": ["a", "b", "c"], "maxSelect": 3},
            {"name": "j", "type": "json"},
            {"name": "created", "type": "autodate", "onCreate": true, "onUpdate": false},
            {"name": "updated", "type": "autodate", "onCreate": true, "onUpdate": true},
        ]),
    ))
    .await
}

#[tokio::test]
async fn create_returns_pocketbase_record_shape_with_zero_values() {
    let srv = TestServer::start().await;
    let coll = all_fields(&srv).await;
    let rec = srv.guest().create("allf", json!({})).await;

    let id = id_of(&rec);
    assert!(is_record_id(&id), "id format: {id}");
    assert_eq!(rec["collectionId"], coll["id"]);
    assert_eq!(rec["collectionName"], "allf");
    for key in ["t", "e", "u", "ed", "d", "s"] {
        assert_eq!(rec[key], "", "zero value of {key}: {rec}");
    }
    assert_eq!(rec["n"], 0);
    assert_eq!(rec["b"], false);
    assert_eq!(rec["sm"], json!([]));
    assert_eq!(rec["j"], Value::Null);
    assert!(
        rec.as_object().unwrap().contains_key("j"),
        "json key present"
    );
    let created = rec["created"].as_str().unwrap();
    assert!(is_pb_date(created), "created format: {created}");
    assert_eq!(rec["created"], rec["updated"]);

    let keys: Vec<&str> = rec
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = vec![
        "b",
        "collectionId",
        "collectionName",
        "created",
        "d",
        "e",
        "ed",
        "id",
        "j",
        "n",
        "s",
        "sm",
        "t",
        "u",
        "updated",
    ];
    expected.sort_unstable();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, expected, "exact key set");
}

#[tokio::test]
async fn create_view_update_delete_roundtrip() {
    let srv = TestServer::start().await;
    all_fields(&srv).await;
    let api = srv.su();
    let body = json!({
        "t": "hello", "n": 12.5, "b": true, "e": "a@b.co", "u": "https://x.io/p",
        "ed": "<p>hi</p>", "d": "2024-01-02 03:04:05", "s": "b", "sm": ["a", "c"],
        "j": {"k": [1, 2]},
        "created": "2000-01-01 00:00:00.000Z", "collectionName": "ignored", "unknownKey": 1,
    });
    let rec = api.create("allf", body).await;
    assert_eq!(rec["t"], "hello");
    assert_eq!(rec["n"], 12.5);
    assert_eq!(rec["b"], true);
    assert_eq!(rec["e"], "a@b.co");
    assert_eq!(rec["u"], "https://x.io/p");
    assert_eq!(rec["ed"], "<p>hi</p>");
    assert_eq!(rec["d"], "2024-01-02 03:04:05.000Z");
    assert_eq!(rec["s"], "b");
    assert_eq!(rec["sm"], json!(["a", "c"]));
    assert_eq!(rec["j"], json!({"k": [1, 2]}));
    assert_ne!(
        rec["created"], "2000-01-01 00:00:00.000Z",
        "autodate is server-set"
    );
    assert_eq!(rec["collectionName"], "allf");
    assert!(
        rec.get("unknownKey").is_none(),
        "unknown keys ignored: {rec}"
    );

    let id = id_of(&rec);
    let viewed = api.get(&record("allf", &id)).await.ok();
    assert_eq!(viewed, rec, "view returns what create returned");

    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let updated = api
        .patch(
            &record("allf", &id),
            json!({"t": "changed", "n": null, "sm": ["b"], "created": "2000-01-01 00:00:00.000Z"}),
        )
        .await
        .ok();
    assert_eq!(updated["t"], "changed");
    assert_eq!(updated["n"], 0, "null resets to the zero value");
    assert_eq!(updated["sm"], json!(["b"]));
    assert_eq!(updated["b"], true, "untouched field kept");
    assert_eq!(updated["created"], rec["created"], "created not changed");
    assert!(
        updated["updated"].as_str().unwrap() > rec["updated"].as_str().unwrap(),
        "updated bumped: {} -> {}",
        rec["updated"],
        updated["updated"]
    );
    assert_eq!(api.get(&record("allf", &id)).await.ok(), updated);

    let del = api.delete(&record("allf", &id)).await;
    assert_eq!(del.status, 204, "delete: {}", del.text);
    assert!(del.text.is_empty(), "204 has an empty body: {:?}", del.text);
    api.get(&record("allf", &id))
        .await
        .assert_error(404, "The requested resource wasn't found.");
    api.delete(&record("allf", &id))
        .await
        .assert_error(404, "The requested resource wasn't found.");
    api.patch(&record("allf", &id), json!({"t": "x"}))
        .await
        .assert_error(404, "The requested resource wasn't found.");
}

#[tokio::test]
async fn date_inputs_are_normalised_to_utc() {
    let srv = TestServer::start().await;
    all_fields(&srv).await;
    let api = srv.guest();
    for (input, stored) in [
        ("2024-05-06", "2024-05-06 00:00:00.000Z"),
        ("2024-01-02 03:04:05", "2024-01-02 03:04:05.000Z"),
        ("2024-05-06T10:11:12+02:00", "2024-05-06 08:11:12.000Z"),
        ("2024-05-06 10:11:12.345Z", "2024-05-06 10:11:12.345Z"),
        ("", ""),
    ] {
        let rec = api.create("allf", json!({ "d": input })).await;
        assert_eq!(rec["d"], stored, "date input {input:?}");
    }
}

#[tokio::test]
async fn client_chosen_ids() {
    let srv = TestServer::start().await;
    all_fields(&srv).await;
    let api = srv.guest();
    const MSG: &str = "Failed to create record.";

    let rec = api.create("allf", json!({"id": "abcdefghij12345"})).await;
    assert_eq!(rec["id"], "abcdefghij12345");
    assert_eq!(api.get(&record("allf", "abcdefghij12345")).await.ok(), rec);

    api.post(&records("allf"), json!({"id": "ABCDEFGHIJKLMNO"}))
        .await
        .assert_field_error(MSG, "id", "validation_invalid_format");
    api.post(&records("allf"), json!({"id": "abcdefghij-2345"}))
        .await
        .assert_field_error(MSG, "id", "validation_invalid_format");
    let short = api.post(&records("allf"), json!({"id": "short"})).await;
    short.assert_field_error(MSG, "id", "validation_min_text_constraint");
    assert_eq!(short.body["data"]["id"]["params"]["min"], 15);
    let long = api
        .post(&records("allf"), json!({"id": "abcdefghij123456"}))
        .await;
    long.assert_field_error(MSG, "id", "validation_max_text_constraint");
    assert_eq!(long.body["data"]["id"]["params"]["max"], 15);
    api.post(
        &records("allf"),
        json!({"id": "abcdefghij12345", "t": "dup"}),
    )
    .await
    .assert_field_error(MSG, "id", "validation_not_unique");

    // Nothing but the first record was stored, and it is unchanged.
    let list = api.list("allf", "").await;
    assert_eq!(list["totalItems"], 1);
    assert_eq!(list["items"][0], rec);
}

#[tokio::test]
async fn patch_cannot_change_the_id() {
    let srv = TestServer::start().await;
    all_fields(&srv).await;
    let api = srv.guest();
    let rec = api.create("allf", json!({"t": "x"})).await;
    let id = id_of(&rec);
    api.patch(
        &record("allf", &id),
        json!({"id": "zzzzzzzzzzzzzzz", "t": "y"}),
    )
    .await
    .assert_field_error("Failed to update record.", "id", "validation_pk_change");
    assert_eq!(api.get(&record("allf", &id)).await.ok(), rec, "unchanged");
    api.get(&record("allf", "zzzzzzzzzzzzzzz"))
        .await
        .assert_error(404, "The requested resource wasn't found.");
    // Sending the same id back is not a change.
    let same = api
        .patch(&record("allf", &id), json!({"id": id, "t": "y"}))
        .await
        .ok();
    assert_eq!(same["t"], "y");
}

#[tokio::test]
async fn view_of_malformed_or_missing_id_is_404() {
    let srv = TestServer::start().await;
    all_fields(&srv).await;
    let api = srv.su();
    for id in ["abcdefghij12345", "bad%21id", "x", "..%2F..%2Fetc"] {
        api.get(&record("allf", id))
            .await
            .assert_error(404, "The requested resource wasn't found.");
    }
}

async fn seed_numbers(api: &Api, n: usize) -> Vec<Value> {
    let mut out = Vec::new();
    for i in 0..n {
        // Interleave values so insertion order differs from value order.
        let v = ((i * 7) % n) as i64;
        out.push(
            api.create("allf", json!({"n": v, "t": format!("t{}", i % 3)}))
                .await,
        );
    }
    out
}

#[tokio::test]
async fn list_envelope_and_pagination() {
    let srv = TestServer::start().await;
    all_fields(&srv).await;
    let api = srv.guest();

    let empty = api.list("allf", "").await;
    assert_eq!(
        empty,
        json!({"items": [], "page": 1, "perPage": 30, "totalItems": 0, "totalPages": 0})
    );

    let created = seed_numbers(&api, 7).await;
    let all_ids: Vec<String> = created.iter().map(id_of).collect();

    let list = api.list("allf", "").await;
    assert_eq!(list["page"], 1);
    assert_eq!(list["perPage"], 30);
    assert_eq!(list["totalItems"], 7);
    assert_eq!(list["totalPages"], 1);
    let mut sorted = item_ids(&list);
    sorted.sort_unstable();
    let mut expected = all_ids.clone();
    expected.sort_unstable();
    assert_eq!(sorted, expected, "every record listed once");
    let first = created.iter().find(|r| r["id"] == list["items"][0]["id"]);
    assert_eq!(
        Some(&list["items"][0]),
        first,
        "list items are full records"
    );
    // Pages slice the default order (insertion order is checked on its own below).
    let all_ids = item_ids(&list);

    let p2 = api.list("allf", "perPage=3&page=2").await;
    assert_eq!(p2["page"], 2);
    assert_eq!(p2["perPage"], 3);
    assert_eq!(p2["totalItems"], 7);
    assert_eq!(p2["totalPages"], 3);
    assert_eq!(item_ids(&p2), all_ids[3..6].to_vec());
    let p3 = api.list("allf", "perPage=3&page=3").await;
    assert_eq!(item_ids(&p3), all_ids[6..].to_vec());
    let beyond = api.list("allf", "perPage=3&page=10").await;
    assert_eq!(beyond["items"], json!([]));
    assert_eq!(beyond["totalItems"], 7);
    assert_eq!(beyond["page"], 10);

    let zero = api.list("allf", "page=0&perPage=0").await;
    assert_eq!(zero["page"], 1, "page <= 0 means 1");
    assert_eq!(zero["perPage"], 30, "perPage 0 means the default");

    let capped = api.list("allf", "perPage=5000").await;
    assert_eq!(capped["perPage"], 1000, "perPage capped and echoed");
    assert_eq!(capped["totalItems"], 7);

    let skip = api.list("allf", "skipTotal=1&perPage=2").await;
    assert_eq!(skip["totalItems"], -1);
    assert_eq!(skip["totalPages"], -1);
    assert_eq!(item_ids(&skip), all_ids[..2].to_vec());
    let skip_true = api.list("allf", "skipTotal=true").await;
    assert_eq!(skip_true["totalItems"], -1);

    for bad in ["perPage=abc", "page=abc", "perPage=1.5"] {
        api.get(&format!("{}?{bad}", records("allf")))
            .await
            .assert_error(400, "Something went wrong while processing your request.");
    }
}

#[tokio::test]
async fn list_sort() {
    let srv = TestServer::start().await;
    all_fields(&srv).await;
    let api = srv.guest();
    let created = seed_numbers(&api, 9).await;

    let values = |list: &Value| -> Vec<i64> {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["n"].as_i64().unwrap())
            .collect()
    };
    let asc = api.list("allf", "sort=n").await;
    assert_eq!(values(&asc), (0..9).collect::<Vec<_>>());
    let plus = api.list("allf", "sort=%2Bn").await;
    assert_eq!(values(&plus), (0..9).collect::<Vec<_>>());
    let desc = api.list("allf", "sort=-n").await;
    assert_eq!(values(&desc), (0..9).rev().collect::<Vec<_>>());
    assert_eq!(desc["totalItems"], 9);

    // Multi-key: t asc, then n desc within equal t.
    let multi = api.list("allf", "sort=t,-n").await;
    let pairs: Vec<(String, i64)> = multi["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["t"].as_str().unwrap().to_string(),
                r["n"].as_i64().unwrap(),
            )
        })
        .collect();
    let mut expected = pairs.clone();
    expected.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    assert_eq!(pairs, expected);

    // Sort on system fields works too.
    let by_id = api.list("allf", "sort=-id").await;
    let mut ids: Vec<String> = created.iter().map(id_of).collect();
    ids.sort_unstable();
    ids.reverse();
    assert_eq!(item_ids(&by_id), ids);

    let random = api.list("allf", "sort=@random").await;
    let mut got = item_ids(&random);
    got.sort_unstable();
    ids.reverse();
    assert_eq!(got, ids, "@random returns every record once");

    let bad = api.get(&format!("{}?sort=nope", records("allf"))).await;
    bad.assert_error(400, "Something went wrong while processing your request.");
    let bad2 = api.get(&format!("{}?sort=n,-nope", records("allf"))).await;
    bad2.assert_error(400, "Something went wrong while processing your request.");
}

#[tokio::test]
async fn default_list_order_is_insertion_order() {
    // PocketBase lists in rowid (insertion) order when no sort is given; ids must not reorder.
    let srv = TestServer::start().await;
    all_fields(&srv).await;
    let api = srv.guest();
    let mut ids = Vec::new();
    for id in ["zzzzzzzzzzzzzzz", "aaaaaaaaaaaaaaa", "mmmmmmmmmmmmmmm"] {
        ids.push(id_of(&api.create("allf", json!({ "id": id })).await));
    }
    for _ in 0..5 {
        ids.push(id_of(&api.create("allf", json!({})).await));
    }
    let list = api.list("allf", "").await;
    assert_eq!(item_ids(&list), ids, "no sort = insertion order");
    let p2 = api.list("allf", "perPage=3&page=2").await;
    assert_eq!(item_ids(&p2), ids[3..6].to_vec());
}

#[tokio::test]
async fn create_and_update_with_multipart_and_urlencoded_bodies() {
    let srv = TestServer::start().await;
    all_fields(&srv).await;
    let api = srv.guest();

    let form = reqwest::multipart::Form::new()
        .text("t", "multi")
        .text("n", "42")
        .text("b", "true")
        .text("sm", "a")
        .text("sm", "c")
        .text("j", "{\"x\":1}")
        .text("@jsonPayload", "{\"e\":\"m@p.io\"}");
    let r = Api::send(api.request(Method::POST, &records("allf")).multipart(form)).await;
    let rec = r.ok();
    assert_eq!(rec["t"], "multi");
    assert_eq!(rec["n"], 42);
    assert_eq!(rec["b"], true);
    assert_eq!(
        rec["sm"],
        json!(["a", "c"]),
        "repeated parts form a multi value"
    );
    assert_eq!(rec["j"], json!({"x": 1}), "json part parsed");
    assert_eq!(rec["e"], "m@p.io", "@jsonPayload merged");

    let r = Api::send(
        api.request(Method::POST, &records("allf"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("t=url+enc%21&n=-3.5&sm=b&sm=a&s=c"),
    )
    .await;
    let rec2 = r.ok();
    assert_eq!(rec2["t"], "url enc!");
    assert_eq!(rec2["n"], -3.5);
    assert_eq!(rec2["sm"], json!(["b", "a"]));
    assert_eq!(rec2["s"], "c");

    // Multipart PATCH with a modifier in the part name.
    let form = reqwest::multipart::Form::new()
        .text("sm+", "b")
        .text("n+", "8");
    let upd = Api::send(
        api.request(Method::PATCH, &record("allf", &id_of(&rec)))
            .multipart(form),
    )
    .await
    .ok();
    assert_eq!(upd["sm"], json!(["a", "c", "b"]));
    assert_eq!(upd["n"], 50);

    // Validation applies to form bodies too.
    let form = reqwest::multipart::Form::new().text("n", "abc");
    let bad = Api::send(api.request(Method::POST, &records("allf")).multipart(form)).await;
    bad.assert_field_error("Failed to create record.", "n", "validation_invalid_number");
}

#[tokio::test]
async fn update_modifiers() {
    let srv = TestServer::start().await;
    all_fields(&srv).await;
    let api = srv.guest();
    let rec = api
        .create("allf", json!({"n": 10, "sm": ["c", "a"], "s": "a"}))
        .await;
    let path = record("allf", &id_of(&rec));

    let r = api.patch(&path, json!({"n+": 5})).await.ok();
    assert_eq!(r["n"], 15);
    let r = api.patch(&path, json!({"n-": 2.5})).await.ok();
    assert_eq!(r["n"], 12.5);
    let r = api.patch(&path, json!({"n": 1, "n+": 1})).await.ok();
    assert_eq!(r["n"], 2, "set then add");

    let r = api.patch(&path, json!({"+sm": "b"})).await.ok();
    assert_eq!(r["sm"], json!(["b", "c", "a"]), "prepend");
    let r = api.patch(&path, json!({"sm-": ["c", "zz"]})).await.ok();
    assert_eq!(r["sm"], json!(["b", "a"]), "remove, unknown ignored");
    let r = api.patch(&path, json!({"sm+": ["a", "c"]})).await.ok();
    assert_eq!(r["sm"], json!(["b", "a", "c"]), "append without duplicates");
    let r = api
        .patch(&path, json!({"sm": ["c", "a"], "+sm": "b", "sm-": "c"}))
        .await
        .ok();
    assert_eq!(r["sm"], json!(["b", "a"]), "set, prepend, remove");

    let r = api.patch(&path, json!({"s-": "a"})).await.ok();
    assert_eq!(r["s"], "", "single select cleared when equal");
    let r = api.patch(&path, json!({"s+": "b"})).await.ok();
    assert_eq!(r["s"], "b");

    // Modifier results are validated like plain values.
    let bad = api.patch(&path, json!({"sm+": "nope"})).await;
    bad.assert_field_error("Failed to update record.", "sm", "validation_invalid_value");
    assert_eq!(
        api.get(&path).await.ok(),
        r,
        "failed update changed nothing"
    );
}
