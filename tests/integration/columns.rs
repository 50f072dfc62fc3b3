//! The column cache over HTTP: unindexed filtered/sorted lists are answered from columns (the
//! plan header says so) with exactly the row path's results, and writes are seen immediately.

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{enc, id_of, item_ids, public_collection, record, records, Api, TestServer};

/// (status, body, plan header) of a list with `filter` and extra query text.
async fn list(api: &Api, filter: &str, extra: &str) -> (u16, Value, Option<String>) {
    let path = format!("{}?filter={}{extra}", records("items"), enc(filter));
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

/// The column answer and the row path's answer (forced by a `:lower` comparison, which the
/// cache does not serve) must be identical.
async fn same_as_row_path(api: &Api, filter: &str, extra: &str) -> Value {
    let (status, body, plan) = list(api, filter, extra).await;
    assert_eq!(status, 200, "{body}");
    let plan = plan.unwrap_or_default();
    assert!(plan.starts_with("column scan"), "{filter} {extra}: {plan}");
    let forced = format!("({filter}) && s:lower != 'zzz'");
    let (status, rows, plan) = list(api, &forced, extra).await;
    assert_eq!(status, 200, "{rows}");
    assert_eq!(plan.as_deref(), Some("full scan"));
    assert_eq!(item_ids(&body), item_ids(&rows), "{filter} {extra}");
    assert_eq!(body["totalItems"], rows["totalItems"], "{filter} {extra}");
    body
}

#[tokio::test]
async fn column_scans_match_the_row_path_and_see_writes_at_once() {
    let srv = TestServer::start().await;
    srv.create_collection(public_collection(
        "items",
        json!([
            {"name": "n", "type": "number"},
            {"name": "s", "type": "text"},
            {"name": "ok", "type": "bool"},
        ]),
    ))
    .await;
    let api = srv.guest();
    let mut ids = Vec::new();
    for i in 0..40 {
        let body = json!({"n": (i * 17) % 60, "s": format!("s{}", i % 7), "ok": i % 3 == 0});
        ids.push(id_of(&api.create("items", body).await));
    }
    let su = srv.su();
    let body = same_as_row_path(&su, "(n>10 && n<50)", "&sort=-n&perPage=7&page=2").await;
    assert_eq!(body["items"].as_array().map(Vec::len), Some(7));
    let ns: Vec<f64> = body["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["n"].as_f64())
        .collect();
    assert!(ns.windows(2).all(|w| w[0] >= w[1]), "{ns:?}");
    assert!(ns.iter().all(|n| *n > 10.0 && *n < 50.0), "{ns:?}");
    same_as_row_path(&su, "s = 's3' || ok = true", "&sort=s,-n&perPage=5").await;
    same_as_row_path(&su, "s ~ '2' && n >= 0", "&sort=-ok,id&perPage=50").await;
    same_as_row_path(&su, "n != 17", "&sort=-@rowid,n&perPage=9&page=3").await;
    // Guests get the same answer, without the plan header.
    let (status, guest_body, plan) =
        list(&api, "(n>10 && n<50)", "&sort=-n&perPage=7&page=2").await;
    assert_eq!(status, 200);
    assert!(plan.is_none());
    assert_eq!(item_ids(&guest_body), item_ids(&body));

    // Read-your-writes: a create is listed by the very next request…
    let new = id_of(&api.create("items", json!({"n": 49.5, "s": "new"})).await);
    let (_, body, _) = list(&su, "(n>10 && n<50)", "&sort=-n&perPage=3").await;
    assert_eq!(item_ids(&body).first(), Some(&new));
    let before = body["totalItems"].as_i64().unwrap_or(0);
    // …an update moves it out…
    api.patch(&record("items", &new), json!({"n": 5}))
        .await
        .ok();
    let (_, body, _) = list(&su, "(n>10 && n<50)", "&sort=-n&perPage=3").await;
    assert!(!item_ids(&body).contains(&new));
    assert_eq!(body["totalItems"].as_i64(), Some(before - 1));
    // …and deletes disappear.
    let top = item_ids(&body)[0].clone();
    let resp = api.delete(&record("items", &top)).await;
    assert_eq!(resp.status, 204, "{}", resp.text);
    let body = same_as_row_path(&su, "(n>10 && n<50)", "&sort=-n&perPage=3").await;
    assert!(!item_ids(&body).contains(&top));
    assert_eq!(body["totalItems"].as_i64(), Some(before - 2));

    // A truncate (no change events) is seen too.
    let resp = su.delete("/api/collections/items/truncate").await;
    assert_eq!(resp.status, 204, "{}", resp.text);
    let (_, body, _) = list(&su, "(n>10 && n<50)", "&sort=-n").await;
    assert_eq!(body["totalItems"], 0);
    let _ = ids;
}
