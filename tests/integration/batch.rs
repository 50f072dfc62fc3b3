//! `POST /api/batch`: ordered per-request results, all-or-nothing commits.

use serde_json::{json, Value};

use crate::harness::{id_of, public_collection, record, records, Api, TestServer};

const ID_A: &str = "aaaaaaaaaaaaaaa";
const ID_B: &str = "bbbbbbbbbbbbbbb";

async fn setup(srv: &TestServer) {
    let mut coll = public_collection(
        "notes",
        json!([
            {"name": "title", "type": "text", "min": 2},
            {"name": "n", "type": "number"},
        ]),
    );
    coll["indexes"] = json!(["CREATE UNIQUE INDEX idx_title ON notes (title)"]);
    srv.create_collection(coll).await;
}

fn req(method: &str, url: &str, body: Value) -> Value {
    json!({"method": method, "url": url, "body": body})
}

async fn batch(api: &Api, requests: Vec<Value>) -> crate::harness::Resp {
    api.post("/api/batch", json!({ "requests": requests }))
        .await
}

async fn all(api: &Api) -> Vec<Value> {
    api.list("notes", "perPage=1000").await["items"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn successful_batch_returns_results_in_order() {
    let srv = TestServer::start().await;
    setup(&srv).await;
    let api = srv.su();
    let existing = api.create("notes", json!({"title": "old"})).await;
    let old_id = id_of(&existing);

    let r = batch(
        &api,
        vec![
            req(
                "POST",
                &records("notes"),
                json!({"id": ID_A, "title": "first"}),
            ),
            req(
                "PATCH",
                &record("notes", ID_A),
                json!({"n+": 3, "title": "first!"}),
            ),
            req("POST", &records("notes"), json!({"title": "second"})),
            req("DELETE", &record("notes", &old_id), Value::Null),
            req("PATCH", &record("notes", ID_A), json!({"n+": 4})),
        ],
    )
    .await;
    let results = r.ok();
    let results = results.as_array().expect("array of results");
    assert_eq!(results.len(), 5);
    for (i, res) in results.iter().enumerate() {
        let expected = if i == 3 { 204 } else { 200 };
        assert_eq!(res["status"], expected, "result {i}: {res}");
    }
    assert_eq!(results[0]["body"]["id"], ID_A);
    assert_eq!(results[0]["body"]["title"], "first");
    assert_eq!(results[0]["body"]["n"], 0);
    assert_eq!(results[1]["body"]["title"], "first!");
    assert_eq!(
        results[1]["body"]["n"], 3,
        "update sees the create of the same batch"
    );
    assert_eq!(results[2]["body"]["collectionName"], "notes");
    assert_eq!(
        results[3]["body"],
        Value::Null,
        "delete result has a null body"
    );
    assert_eq!(results[4]["body"]["n"], 7);

    // The stored state is the final state of each record.
    let stored_a = api.get(&record("notes", ID_A)).await.ok();
    assert_eq!(stored_a, results[4]["body"]);
    let second_id = id_of(&results[2]["body"]);
    assert_eq!(
        api.get(&record("notes", &second_id)).await.ok(),
        results[2]["body"]
    );
    api.get(&record("notes", &old_id))
        .await
        .assert_error(404, "The requested resource wasn't found.");
    assert_eq!(all(&api).await.len(), 2);
}

#[tokio::test]
async fn failing_request_rolls_back_the_whole_batch() {
    let srv = TestServer::start().await;
    setup(&srv).await;
    let api = srv.su();
    let keep = api.create("notes", json!({"title": "keep", "n": 1})).await;
    let before = all(&api).await;

    let r = batch(
        &api,
        vec![
            req(
                "POST",
                &records("notes"),
                json!({"id": ID_A, "title": "one"}),
            ),
            req("PATCH", &record("notes", &id_of(&keep)), json!({"n": 99})),
            req("DELETE", &record("notes", &id_of(&keep)), Value::Null),
            req("POST", &records("notes"), json!({"title": "x"})),
        ],
    )
    .await;
    r.assert_error(400, "Batch transaction failed.");
    let failed = &r.body["data"]["requests"]["3"];
    assert_eq!(failed["code"], "batch_request_failed", "{}", r.text);
    assert_eq!(failed["response"]["status"], 400);
    assert_eq!(failed["response"]["message"], "Failed to create record.");
    assert_eq!(
        failed["response"]["data"]["title"]["code"], "validation_min_text_constraint",
        "{}",
        r.text
    );
    assert_eq!(
        r.body["data"]["requests"].as_object().unwrap().len(),
        1,
        "only the failing request is reported: {}",
        r.text
    );

    assert_eq!(all(&api).await, before, "nothing from the batch was stored");
    api.get(&record("notes", ID_A))
        .await
        .assert_error(404, "The requested resource wasn't found.");
}

#[tokio::test]
async fn unique_conflict_inside_one_batch_rolls_back() {
    let srv = TestServer::start().await;
    setup(&srv).await;
    let api = srv.su();
    let r = batch(
        &api,
        vec![
            req("POST", &records("notes"), json!({"title": "same"})),
            req("POST", &records("notes"), json!({"title": "other"})),
            req("POST", &records("notes"), json!({"title": "same"})),
        ],
    )
    .await;
    r.assert_error(400, "Batch transaction failed.");
    let failed = &r.body["data"]["requests"]["2"];
    assert_eq!(failed["code"], "batch_request_failed", "{}", r.text);
    assert_eq!(
        failed["response"]["data"]["title"]["code"], "validation_not_unique",
        "{}",
        r.text
    );
    assert!(all(&api).await.is_empty(), "nothing stored");
    // Values the rolled-back batch touched are free.
    api.create("notes", json!({"title": "same"})).await;
    api.create("notes", json!({"title": "other"})).await;
}

#[tokio::test]
async fn failures_of_every_kind_are_reported_per_request() {
    let srv = TestServer::start().await;
    setup(&srv).await;
    srv.create_collection(json!({"name": "locked", "fields": [{"name": "t", "type": "text"}]}))
        .await;
    let guest = srv.guest();

    // Missing record on update.
    let r = batch(
        &guest,
        vec![
            req("POST", &records("notes"), json!({"title": "ok"})),
            req("PATCH", &record("notes", ID_B), json!({"n": 1})),
        ],
    )
    .await;
    r.assert_error(400, "Batch transaction failed.");
    assert_eq!(
        r.body["data"]["requests"]["1"]["response"]["status"], 404,
        "{}",
        r.text
    );

    // Rule failure (null rule as guest).
    let r = batch(
        &guest,
        vec![
            req("POST", &records("notes"), json!({"title": "ok"})),
            req("POST", &records("locked"), json!({"t": "x"})),
        ],
    )
    .await;
    r.assert_error(400, "Batch transaction failed.");
    assert_eq!(
        r.body["data"]["requests"]["1"]["code"],
        "batch_request_failed"
    );
    assert_eq!(
        r.body["data"]["requests"]["1"]["response"]["status"], 403,
        "{}",
        r.text
    );

    // Unknown collection.
    let r = batch(&guest, vec![req("POST", &records("nope"), json!({}))]).await;
    r.assert_error(400, "Batch transaction failed.");
    assert_eq!(
        r.body["data"]["requests"]["0"]["response"]["status"], 404,
        "{}",
        r.text
    );

    assert!(all(&srv.su()).await.is_empty());
    assert_eq!(srv.su().list("locked", "").await["totalItems"], 0);

    // Malformed batches.
    let r = guest.post("/api/batch", json!({"requests": []})).await;
    r.assert_field_error(
        "Invalid batch request data.",
        "requests",
        "validation_required",
    );
    let r = guest.post("/api/batch", json!({})).await;
    assert_eq!(r.status, 400, "{}", r.text);
    let r = batch(&guest, vec![req("GET", &records("notes"), Value::Null)]).await;
    assert_eq!(r.status, 400, "GET is not a batch method: {}", r.text);
}

#[tokio::test]
async fn put_upserts_by_body_id() {
    let srv = TestServer::start().await;
    setup(&srv).await;
    let api = srv.su();
    let r = batch(
        &api,
        vec![req(
            "PUT",
            &records("notes"),
            json!({"id": ID_B, "title": "created", "n": 1}),
        )],
    )
    .await
    .ok();
    assert_eq!(r[0]["status"], 200);
    assert_eq!(r[0]["body"]["id"], ID_B);
    assert_eq!(r[0]["body"]["title"], "created");
    let created = api.get(&record("notes", ID_B)).await.ok();
    assert_eq!(created, r[0]["body"]);

    let r = batch(
        &api,
        vec![req(
            "PUT",
            &records("notes"),
            json!({"id": ID_B, "title": "updated"}),
        )],
    )
    .await
    .ok();
    assert_eq!(r[0]["status"], 200);
    assert_eq!(r[0]["body"]["title"], "updated");
    assert_eq!(r[0]["body"]["n"], 1, "upsert-update keeps other fields");
    let list = all(&api).await;
    assert_eq!(list.len(), 1, "upsert did not create a second record");
    assert_eq!(list[0], r[0]["body"]);
}

#[tokio::test]
async fn later_requests_see_earlier_ones_of_the_same_batch() {
    let srv = TestServer::start().await;
    setup(&srv).await;
    let notes = srv.su().get("/api/collections/notes").await.ok();
    srv.create_collection(public_collection(
        "links",
        json!([{"name": "note", "type": "relation", "collectionId": notes["id"],
                "maxSelect": 1, "required": true}]),
    ))
    .await;
    let api = srv.guest();
    let old = api
        .create("notes", json!({"id": ID_B, "title": "taken"}))
        .await;

    let r = batch(
        &api,
        vec![
            // Relation to a record created earlier in the same batch.
            req(
                "POST",
                &records("notes"),
                json!({"id": ID_A, "title": "new"}),
            ),
            req("POST", &records("links"), json!({"note": ID_A})),
            // Free a unique value, then reuse it.
            req("PATCH", &record("notes", ID_B), json!({"title": "renamed"})),
            req("POST", &records("notes"), json!({"title": "taken"})),
            // Delete a record, then create one with the same id.
            req("DELETE", &record("notes", ID_B), Value::Null),
            req(
                "POST",
                &records("notes"),
                json!({"id": ID_B, "title": "reborn"}),
            ),
        ],
    )
    .await;
    let results = r.ok();
    let statuses: Vec<&Value> = results
        .as_array()
        .unwrap()
        .iter()
        .map(|x| &x["status"])
        .collect();
    assert_eq!(statuses, [200, 200, 200, 200, 204, 200]);
    assert_eq!(results[1]["body"]["note"], ID_A);

    let reborn = api.get(&record("notes", ID_B)).await.ok();
    assert_eq!(reborn["title"], "reborn");
    assert_eq!(reborn["n"], 0, "a fresh record, not the deleted one");
    assert_ne!(reborn, old);
    let titles: Vec<String> = all(&api)
        .await
        .iter()
        .map(|r| r["title"].as_str().unwrap().to_string())
        .collect();
    let mut sorted = titles.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, ["new", "reborn", "taken"]);
    assert_eq!(api.list("links", "").await["totalItems"], 1);
}

#[tokio::test]
async fn multipart_batch_as_sent_by_the_js_sdk() {
    let srv = TestServer::start().await;
    setup(&srv).await;
    let api = srv.guest();
    let payload = json!({"requests": [
        req("POST", &records("notes"), json!({"id": ID_A, "title": "from sdk"})),
        req("PATCH", &record("notes", ID_A), json!({"n": 2})),
    ]});
    let form = reqwest::multipart::Form::new().text("@jsonPayload", payload.to_string());
    let r = Api::send(
        api.request(reqwest::Method::POST, "/api/batch")
            .multipart(form),
    )
    .await;
    let results = r.ok();
    assert_eq!(results[0]["status"], 200);
    assert_eq!(results[1]["body"]["n"], 2);
    let stored = api.get(&record("notes", ID_A)).await.ok();
    assert_eq!(stored, results[1]["body"]);
}

#[tokio::test]
async fn batch_relation_cascade_and_required_reference() {
    let srv = TestServer::start().await;
    setup(&srv).await;
    let notes = srv.su().get("/api/collections/notes").await.ok();
    srv.create_collection(public_collection(
        "pins",
        json!([{"name": "note", "type": "relation", "collectionId": notes["id"],
                "maxSelect": 1, "required": true}]),
    ))
    .await;
    let api = srv.guest();
    api.create("notes", json!({"id": ID_A, "title": "pinned"}))
        .await;
    let pin = api.create("pins", json!({"note": ID_A})).await;
    // Deleting a required-referenced record inside a batch fails the batch…
    let r = batch(
        &api,
        vec![
            req("POST", &records("notes"), json!({"title": "side effect"})),
            req("DELETE", &record("notes", ID_A), Value::Null),
        ],
    )
    .await;
    r.assert_error(400, "Batch transaction failed.");
    assert_eq!(
        r.body["data"]["requests"]["1"]["response"]["status"], 400,
        "{}",
        r.text
    );
    assert_eq!(all(&api).await.len(), 1, "side effect rolled back");
    // …unless the reference is removed earlier in the same batch.
    let r = batch(
        &api,
        vec![
            req("DELETE", &record("pins", &id_of(&pin)), Value::Null),
            req("DELETE", &record("notes", ID_A), Value::Null),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(all(&api).await.is_empty());
}
