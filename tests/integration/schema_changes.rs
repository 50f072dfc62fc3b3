//! Collection schema changes on collections that already hold records.

use serde_json::{json, Value};

use crate::harness::{id_of, public_collection, record, records, Api, TestServer};

const UPDATE_FAILED: &str = "Failed to update collection.";

/// Creates `items` with a text field `t` and a number `n`, plus three records (sorted by id).
async fn seeded(srv: &TestServer) -> (Value, Vec<Value>) {
    let coll = srv
        .create_collection(public_collection(
            "items",
            json!([{"name": "t", "type": "text"}, {"name": "n", "type": "number"}]),
        ))
        .await;
    let api = srv.su();
    let mut recs = Vec::new();
    for (t, n) in [("a", 1), ("b", 2), ("c", 3)] {
        recs.push(api.create("items", json!({"t": t, "n": n})).await);
    }
    recs.sort_by_key(id_of);
    (coll, recs)
}

/// The id of the seeded record whose `t` is `t`.
fn id_with_t(recs: &[Value], t: &str) -> String {
    id_of(recs.iter().find(|r| r["t"] == t).expect("seeded record"))
}

fn field<'a>(coll: &'a Value, name: &str) -> &'a Value {
    coll["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("field {name} in {coll}"))
}

/// The collection's `fields` with `f` appended (PATCH `fields` replaces the list).
fn with_field(coll: &Value, f: Value) -> Value {
    let mut fields = coll["fields"].as_array().unwrap().clone();
    fields.push(f);
    Value::Array(fields)
}

/// Every record of `items`, sorted by id.
async fn all(api: &Api) -> Vec<Value> {
    api.list("items", "perPage=1000&sort=id").await["items"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn added_field_gets_zero_value_on_existing_records() {
    let srv = TestServer::start().await;
    let (coll, recs) = seeded(&srv).await;
    let su = srv.su();
    let fields = with_field(&coll, json!({"name": "flag", "type": "bool"}));
    let fields = with_field(
        &json!({ "fields": fields }),
        json!({"name": "tags", "type": "select", "values": ["x", "y"], "maxSelect": 2}),
    );
    let fields = with_field(
        &json!({ "fields": fields }),
        json!({"name": "note", "type": "text"}),
    );
    let updated = su
        .patch("/api/collections/items", json!({ "fields": fields }))
        .await
        .ok();
    assert_eq!(updated["id"], coll["id"], "collection id kept");
    field(&updated, "flag");

    for (before, after) in recs.iter().zip(all(&su).await) {
        assert_eq!(after["id"], before["id"]);
        assert_eq!(after["t"], before["t"]);
        assert_eq!(after["n"], before["n"]);
        assert_eq!(after["flag"], false);
        assert_eq!(after["tags"], json!([]));
        assert_eq!(after["note"], "");
    }
    // And the new field is writable.
    let id = id_of(&recs[0]);
    let r = su
        .patch(&record("items", &id), json!({"flag": true, "tags+": "x"}))
        .await
        .ok();
    assert_eq!(r["flag"], true);
    assert_eq!(r["tags"], json!(["x"]));
}

#[tokio::test]
async fn renamed_field_keeps_its_data() {
    let srv = TestServer::start().await;
    let (coll, recs) = seeded(&srv).await;
    let su = srv.su();
    let mut fields = coll["fields"].clone();
    for f in fields.as_array_mut().unwrap() {
        if f["name"] == "t" {
            f["name"] = json!("title");
        }
    }
    let updated = su
        .patch("/api/collections/items", json!({ "fields": fields }))
        .await
        .ok();
    assert_eq!(field(&updated, "title")["id"], field(&coll, "t")["id"]);

    for (before, after) in recs.iter().zip(all(&su).await) {
        assert_eq!(
            after["title"], before["t"],
            "data follows the rename: {after}"
        );
        assert!(after.get("t").is_none(), "old name gone: {after}");
        assert_eq!(after["n"], before["n"]);
    }
    // Writes under the new name work; the old name is an unknown (ignored) key.
    let id = id_of(&recs[0]);
    let r = su
        .patch(&record("items", &id), json!({"title": "new", "t": "old"}))
        .await
        .ok();
    assert_eq!(r["title"], "new");
    assert!(r.get("t").is_none());
    // Sorting by the new name works, by the old one is refused.
    assert_eq!(
        su.list("items", "sort=-title").await["items"][0]["title"],
        "new"
    );
    let bad = su.get(&format!("{}?sort=t", records("items"))).await;
    assert_eq!(bad.status, 400, "{}", bad.text);
}

#[tokio::test]
async fn removed_field_loses_its_data() {
    let srv = TestServer::start().await;
    let (coll, recs) = seeded(&srv).await;
    let su = srv.su();
    let kept: Vec<Value> = coll["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["name"] != "t")
        .cloned()
        .collect();
    let updated = su
        .patch("/api/collections/items", json!({ "fields": kept }))
        .await
        .ok();
    assert!(updated["fields"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["name"] != "t"));
    for (before, after) in recs.iter().zip(all(&su).await) {
        assert!(after.get("t").is_none(), "removed field gone: {after}");
        assert_eq!(after["n"], before["n"]);
    }
    // Re-adding a field with the same name must not resurrect the old values.
    let fields = with_field(&updated, json!({"name": "t", "type": "text"}));
    su.patch("/api/collections/items", json!({ "fields": fields }))
        .await
        .ok();
    for after in all(&su).await {
        assert_eq!(after["t"], "", "old data must not come back: {after}");
    }
}

#[tokio::test]
async fn indexes_built_over_existing_records() {
    let srv = TestServer::start().await;
    let (_coll, recs) = seeded(&srv).await;
    let su = srv.su();

    let r = su
        .patch(
            "/api/collections/items",
            json!({"indexes": ["CREATE INDEX idx_n ON items (n)"]}),
        )
        .await
        .ok();
    assert_eq!(r["indexes"], json!(["CREATE INDEX idx_n ON items (n)"]));
    // A non-unique index allows duplicates.
    su.create("items", json!({"t": "d", "n": 1})).await;

    let r = su
        .patch(
            "/api/collections/items",
            json!({"indexes": ["CREATE INDEX idx_n ON items (n)", "CREATE UNIQUE INDEX idx_t ON items (t)"]}),
        )
        .await
        .ok();
    assert_eq!(r["indexes"].as_array().unwrap().len(), 2);

    // The unique index covers the records that existed before it.
    let dup = su.post(&records("items"), json!({"t": "a"})).await;
    dup.assert_field_error("Failed to create record.", "t", "validation_not_unique");
    let dup = su
        .patch(&record("items", &id_with_t(&recs, "b")), json!({"t": "c"}))
        .await;
    dup.assert_field_error("Failed to update record.", "t", "validation_not_unique");
    // Updating a record to its own value is not a conflict.
    su.patch(
        &record("items", &id_with_t(&recs, "a")),
        json!({"t": "a", "n": 9}),
    )
    .await
    .ok();
    // Freed values are reusable.
    su.delete(&record("items", &id_with_t(&recs, "c"))).await;
    su.create("items", json!({"t": "c"})).await;

    // Dropping the unique index lifts the constraint.
    su.patch(
        "/api/collections/items",
        json!({"indexes": ["CREATE INDEX idx_n ON items (n)"]}),
    )
    .await
    .ok();
    su.create("items", json!({"t": "a"})).await;
}

#[tokio::test]
async fn unique_index_violated_by_existing_data_is_refused_and_changes_nothing() {
    let srv = TestServer::start().await;
    let (coll, _) = seeded(&srv).await;
    let su = srv.su();
    su.create("items", json!({"t": "a", "n": 4})).await;
    let before_coll = su.get("/api/collections/items").await.ok();
    let before = all(&su).await;

    // Also sneak a field change into the same PATCH: it must not be applied either.
    let fields = with_field(&coll, json!({"name": "extra", "type": "text"}));
    let r = su
        .patch(
            "/api/collections/items",
            json!({"fields": fields, "indexes": ["CREATE UNIQUE INDEX idx_t ON items (t)"]}),
        )
        .await;
    r.assert_error(400, UPDATE_FAILED);
    assert!(
        r.body["data"]["indexes"].is_object(),
        "error reported on indexes: {}",
        r.text
    );
    let code = r.body["data"]["indexes"]["0"]["code"]
        .as_str()
        .unwrap_or("");
    assert!(!code.is_empty(), "indexes.0 has a code: {}", r.text);

    assert_eq!(su.get("/api/collections/items").await.ok(), before_coll);
    assert_eq!(all(&su).await, before, "records intact");
    // No half-built index is enforced.
    su.create("items", json!({"t": "b"})).await;
}

#[tokio::test]
async fn field_type_change_is_refused() {
    let srv = TestServer::start().await;
    let (coll, recs) = seeded(&srv).await;
    let su = srv.su();
    let mut fields = coll["fields"].clone();
    for f in fields.as_array_mut().unwrap() {
        if f["name"] == "t" {
            f["type"] = json!("number");
        }
    }
    let r = su
        .patch("/api/collections/items", json!({ "fields": fields }))
        .await;
    r.assert_error(400, UPDATE_FAILED);
    assert_eq!(
        r.body["data"]["fields"]["1"]["code"], "validation_field_type_change",
        "{}",
        r.text
    );
    assert_eq!(su.get("/api/collections/items").await.ok(), coll);
    assert_eq!(all(&su).await, recs);
}

#[tokio::test]
async fn deleting_a_referenced_collection_is_refused() {
    let srv = TestServer::start().await;
    let (coll, recs) = seeded(&srv).await;
    srv.create_collection(public_collection(
        "refs",
        json!([{"name": "item", "type": "relation", "collectionId": coll["id"], "maxSelect": 1}]),
    ))
    .await;
    let su = srv.su();
    let r = su.delete("/api/collections/items").await;
    r.assert_error(
        400,
        "Failed to delete collection probably due to existing reference in refs.",
    );
    assert_eq!(su.get("/api/collections/items").await.ok(), coll);
    assert_eq!(all(&su).await, recs);

    // Once the referencing collection is gone, deletion works and takes the records with it.
    assert_eq!(su.delete("/api/collections/refs").await.status, 204);
    let del = su
        .delete(&format!(
            "/api/collections/{}",
            coll["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(del.status, 204, "{}", del.text);
    su.get(&records("items"))
        .await
        .assert_error(404, "Missing collection context.");
    // A new collection with the same name starts empty.
    srv.create_collection(public_collection(
        "items",
        json!([{"name": "t", "type": "text"}]),
    ))
    .await;
    assert_eq!(su.list("items", "").await["totalItems"], 0);
}

#[tokio::test]
async fn truncate_removes_all_records_and_keeps_the_collection() {
    let srv = TestServer::start().await;
    let (coll, recs) = seeded(&srv).await;
    let su = srv.su();
    su.patch(
        "/api/collections/items",
        json!({"indexes": ["CREATE UNIQUE INDEX idx_t ON items (t)"]}),
    )
    .await
    .ok();
    let r = su.delete("/api/collections/items/truncate").await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(su.list("items", "").await["totalItems"], 0);
    su.get(&record("items", &id_of(&recs[0])))
        .await
        .assert_error(404, "The requested resource wasn't found.");
    assert_eq!(
        su.get("/api/collections/items").await.ok()["id"],
        coll["id"]
    );
    // Unique values are free again.
    su.create("items", json!({"t": "a"})).await;
}

#[tokio::test]
async fn renamed_collection_keeps_records() {
    let srv = TestServer::start().await;
    let (coll, recs) = seeded(&srv).await;
    let su = srv.su();
    let r = su
        .patch("/api/collections/items", json!({"name": "things"}))
        .await
        .ok();
    assert_eq!(r["id"], coll["id"]);
    su.get(&records("items"))
        .await
        .assert_error(404, "Missing collection context.");
    let list = su.list("things", "sort=id").await;
    assert_eq!(list["totalItems"], 3);
    for (before, after) in recs.iter().zip(list["items"].as_array().unwrap()) {
        assert_eq!(after["id"], before["id"]);
        assert_eq!(after["t"], before["t"]);
        assert_eq!(after["collectionName"], "things");
    }
    // Also reachable by collection id.
    let by_id = su.list(coll["id"].as_str().unwrap(), "").await;
    assert_eq!(by_id["totalItems"], 3);
}

#[tokio::test]
async fn unique_indexes_on_several_columns_and_empty_values() {
    let srv = TestServer::start().await;
    let mut coll = public_collection(
        "pairs",
        json!([{"name": "a", "type": "text"}, {"name": "b", "type": "text"}]),
    );
    coll["indexes"] = json!(["CREATE UNIQUE INDEX idx_ab ON pairs (a, b)"]);
    srv.create_collection(coll).await;
    let api = srv.guest();
    api.create("pairs", json!({"a": "1", "b": "x"})).await;
    api.create("pairs", json!({"a": "1", "b": "y"})).await;
    api.create("pairs", json!({"a": "2", "b": "x"})).await;
    let r = api
        .post(&records("pairs"), json!({"a": "1", "b": "x"}))
        .await;
    r.assert_error(400, "Failed to create record.");
    assert!(
        r.code("a") == "validation_not_unique" || r.code("b") == "validation_not_unique",
        "{}",
        r.text
    );
    // Like SQLite (PocketBase), empty strings are ordinary values for a unique index.
    api.create("pairs", json!({})).await;
    let r = api.post(&records("pairs"), json!({})).await;
    r.assert_error(400, "Failed to create record.");
    assert_eq!(api.list("pairs", "").await["totalItems"], 4);
}

#[tokio::test]
async fn renaming_or_removing_an_indexed_field_keeps_indexes_consistent() {
    let srv = TestServer::start().await;
    let (_, recs) = seeded(&srv).await;
    let su = srv.su();
    let coll = su
        .patch(
            "/api/collections/items",
            json!({"indexes": ["CREATE UNIQUE INDEX idx_t ON items (t)"]}),
        )
        .await
        .ok();

    // Rename `t` -> `title` without touching `indexes`: PocketBase refuses (the index names a
    // column that no longer exists); rewriting the index to the new name is fine too. What must
    // not happen is a stale index that no longer enforces anything.
    let mut fields = coll["fields"].clone();
    for f in fields.as_array_mut().unwrap() {
        if f["name"] == "t" {
            f["name"] = json!("title");
        }
    }
    let r = su
        .patch("/api/collections/items", json!({ "fields": fields }))
        .await;
    let unique_field = if r.status == 200 {
        let idx = r.body["indexes"][0].as_str().unwrap_or("");
        assert!(
            idx.contains("title"),
            "index follows the rename: {}",
            r.text
        );
        "title"
    } else {
        r.assert_error(400, UPDATE_FAILED);
        assert!(r.body["data"]["indexes"].is_object(), "{}", r.text);
        assert_eq!(su.get("/api/collections/items").await.ok(), coll);
        "t"
    };
    su.post(&records("items"), json!({ unique_field: "a" }))
        .await
        .assert_field_error(
            "Failed to create record.",
            unique_field,
            "validation_not_unique",
        );

    // Remove the indexed field without touching `indexes`: refused, or the index goes with it.
    let current = su.get("/api/collections/items").await.ok();
    let kept: Vec<Value> = current["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["name"] != unique_field)
        .cloned()
        .collect();
    let r = su
        .patch("/api/collections/items", json!({ "fields": kept }))
        .await;
    if r.status == 200 {
        assert_eq!(
            r.body["indexes"],
            json!([]),
            "index dropped with its field: {}",
            r.text
        );
        su.create("items", json!({"n": 1})).await;
        su.create("items", json!({"n": 1})).await;
    } else {
        r.assert_error(400, UPDATE_FAILED);
        assert_eq!(su.get("/api/collections/items").await.ok(), current);
        assert_eq!(all(&su).await.len(), recs.len());
    }
}

#[tokio::test]
async fn import_creates_updates_and_deletes_collections() {
    let srv = TestServer::start().await;
    let su = srv.su();
    let r = su
        .put(
            "/api/collections/import",
            json!({"collections": [
                {"id": "pbc_authors00001", "name": "authors", "listRule": "",
                 "fields": [{"name": "name", "type": "text"}]},
                {"name": "books", "listRule": "", "createRule": "",
                 "fields": [{"name": "author", "type": "relation",
                             "collectionId": "pbc_authors00001", "maxSelect": 1}]},
            ]}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert!(r.text.is_empty());
    let authors = su.get("/api/collections/authors").await.ok();
    assert_eq!(authors["id"], "pbc_authors00001");
    assert_eq!(authors["listRule"], "");
    let book = srv.guest().create("books", json!({})).await;
    assert_eq!(book["author"], "");

    // A bad collection anywhere in the import changes nothing.
    let r = su
        .put(
            "/api/collections/import",
            json!({"collections": [
                {"name": "fresh", "fields": [{"name": "a", "type": "text"}]},
                {"name": "broken", "fields": [{"name": "a", "type": "nope"}]},
            ]}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(
        r.body["data"]["collections"]["code"].is_string(),
        "{}",
        r.text
    );
    su.get("/api/collections/fresh")
        .await
        .assert_error(404, "The requested resource wasn't found.");
    let r = su
        .put("/api/collections/import", json!({"collections": []}))
        .await;
    r.assert_field_error(
        "Failed to import collections.",
        "collections",
        "validation_required",
    );

    // deleteMissing drops every listed-out user collection, even ones that reference each
    // other, and never the system `_superusers`.
    let r = su
        .put(
            "/api/collections/import",
            json!({"collections": [{"name": "keep", "fields": []}], "deleteMissing": true}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let list = su.get("/api/collections?perPage=100").await.ok();
    let mut names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(names, vec!["_superusers", "keep"]);
    assert_eq!(
        srv.su().get("/api/collections").await.status,
        200,
        "superuser still works"
    );
}
