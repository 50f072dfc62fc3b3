//! One list executor and one commit-retry helper (issue 12, item 5): every plan kind pages,
//! counts and orders as before, and concurrent writes that race on one record all commit.

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{id_of, item_ids, public_collection, record, records, Api, TestServer};

const TAGS: [&str; 3] = ["a", "b", "c"];

/// `items(n number, tag text, flag bool)` with idx_n (n) and idx_tag_n (tag, n); 25 records
/// `n = i % 10`, `tag = TAGS[i % 3]`, `flag = i even`. Returns (id, n, tag, flag) in creation order.
async fn setup(srv: &TestServer) -> Vec<(String, u64, &'static str, bool)> {
    let mut coll = public_collection(
        "items",
        json!([
            {"name": "n", "type": "number"},
            {"name": "tag", "type": "text"},
            {"name": "flag", "type": "bool"},
        ]),
    );
    coll["indexes"] = json!([
        "CREATE INDEX idx_n ON items (n)",
        "CREATE INDEX idx_tag_n ON items (tag, n)"
    ]);
    srv.create_collection(coll).await;
    let api = srv.su();
    let mut out = Vec::new();
    for i in 0..25u64 {
        let (n, tag, flag) = (i % 10, TAGS[(i % 3) as usize], i % 2 == 0);
        let rec = api
            .create("items", json!({"n": n, "tag": tag, "flag": flag}))
            .await;
        out.push((id_of(&rec), n, tag, flag));
    }
    out
}

/// One page: (status, body, X-Ferrobase-Plan).
async fn page(api: &Api, query: &str) -> (u16, Value, String) {
    let path = format!("{}?{query}", records("items"));
    let resp = api.request(Method::GET, &path).send().await.expect("send");
    let status = resp.status().as_u16();
    let plan = resp
        .headers()
        .get("x-ferrobase-plan")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, resp.json().await.unwrap_or(Value::Null), plan)
}

#[tokio::test]
async fn every_plan_kind_pages_counts_and_orders_as_one_page_does() {
    let srv = TestServer::start().await;
    let recs = setup(&srv).await;
    let api = srv.su();
    let created: Vec<String> = recs.iter().map(|r| r.0.clone()).collect();
    let ids_where = |keep: &dyn Fn(u64, &str, bool) -> bool| -> Vec<String> {
        recs.iter()
            .filter(|(_, n, t, f)| keep(*n, t, *f))
            .map(|r| r.0.clone())
            .collect()
    };
    let reversed: Vec<String> = created.iter().rev().cloned().collect();
    let mut a_by_n: Vec<(u64, usize, String)> = (recs.iter().enumerate())
        .filter(|(_, r)| r.2 == "a")
        .map(|(i, r)| (r.1, i, r.0.clone()))
        .collect();
    a_by_n.sort();
    let a_by_n: Vec<String> = a_by_n.into_iter().map(|(_, _, id)| id).collect();
    // (filter, sort, plan header, ids in order — or only as a set when None)
    type Case<'a> = (&'a str, &'a str, &'a str, Vec<String>, bool);
    let cases: Vec<Case> = vec![
        ("", "", "insertion order", created.clone(), true),
        ("", "-%40rowid", "insertion order (reverse)", reversed, true),
        (
            "n%3D3",
            "",
            "index idx_n (n) in [[3.0]]",
            ids_where(&|n, _, _| n == 3),
            true,
        ),
        // A prefix shorter than the index: index order, i.e. by `n`, then insertion order.
        (
            "tag%3D'a'",
            "",
            "index idx_tag_n (tag) in [[\"a\"]]",
            a_by_n,
            true,
        ),
        (
            "tag%3D'a'%7C%7Ctag%3D'b'",
            "n",
            "index idx_tag_n (tag) in [[\"a\"], [\"b\"]]",
            ids_where(&|_, t, _| t != "c"),
            false,
        ),
        (
            "n%3E3",
            "n",
            "index idx_n range n (3.0, +inf) in order",
            ids_where(&|n, _, _| n > 3),
            false,
        ),
        (
            "",
            "-n",
            "index order idx_n (n) desc",
            created.clone(),
            false,
        ),
        ("flag%3Dtrue", "flag,-n", "", ids_where(&|_, _, f| f), false),
    ];
    for (filter, sort, want_plan, want_ids, ordered) in cases {
        let base = format!("filter={filter}&sort={sort}");
        let (status, whole, plan) = page(&api, &format!("{base}&perPage=1000")).await;
        assert_eq!(status, 200, "{base}: {whole}");
        if want_plan.is_empty() {
            assert!(
                plan == "full scan" || plan.starts_with("column scan ("),
                "{base}: {plan}"
            );
        } else {
            assert_eq!(plan, want_plan, "{base}");
        }
        let all = item_ids(&whole);
        assert_eq!(whole["totalItems"], want_ids.len(), "{base}");
        if ordered {
            assert_eq!(all, want_ids, "{base}");
        } else {
            let (mut a, mut w) = (all.clone(), want_ids.clone());
            a.sort();
            w.sort();
            assert_eq!(a, w, "{base}");
        }
        // Sorted by n: the n values come out in that direction.
        let ns: Vec<u64> = whole["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["n"].as_u64().unwrap())
            .collect();
        if sort == "n" {
            assert!(ns.windows(2).all(|w| w[0] <= w[1]), "{base}: {ns:?}");
        }
        if sort == "-n" {
            assert!(ns.windows(2).all(|w| w[0] >= w[1]), "{base}: {ns:?}");
        }
        // Pages of 4 concatenate to the one big page, with the same totals; skipTotal hides them.
        let mut paged = Vec::new();
        for p in 1..=8 {
            let (status, body, _) = page(&api, &format!("{base}&perPage=4&page={p}")).await;
            assert_eq!(status, 200, "{base} page {p}: {body}");
            assert_eq!(body["totalItems"], want_ids.len(), "{base} page {p}");
            assert_eq!(body["totalPages"], want_ids.len().div_ceil(4), "{base}");
            paged.extend(item_ids(&body));
        }
        assert_eq!(paged, all, "{base}");
        let (_, skipped, _) = page(&api, &format!("{base}&perPage=4&page=2&skipTotal=1")).await;
        assert_eq!(skipped["totalItems"], -1, "{base}");
        assert_eq!(skipped["totalPages"], -1, "{base}");
        assert_eq!(item_ids(&skipped), all[4.min(all.len())..8.min(all.len())]);
    }
}

#[tokio::test]
async fn racing_updates_creates_and_batches_on_one_record_all_commit() {
    let srv = TestServer::start().await;
    srv.create_collection(public_collection(
        "counters",
        json!([{"name": "n", "type": "number"}]),
    ))
    .await;
    let counters = srv.su().get("/api/collections/counters").await.ok();
    srv.create_collection(public_collection(
        "refs",
        json!([{"name": "counter", "type": "relation", "collectionId": counters["id"], "maxSelect": 1}]),
    ))
    .await;
    let api = srv.su();
    let counter = id_of(&api.create("counters", json!({"n": 0})).await);
    const EACH: usize = 6;
    let mut tasks = Vec::new();
    for i in 0..EACH * 4 {
        let (api, counter) = (api.clone(), counter.clone());
        tasks.push(tokio::spawn(async move {
            match i % 4 {
                // Schema changes: every record write racing one conflicts and is staged again.
                3 => {
                    let rule = if i % 8 == 3 { "n >= 0" } else { "" };
                    let coll = if i % 8 == 3 { "counters" } else { "refs" };
                    let path = format!("/api/collections/{coll}");
                    api.patch(&path, json!({"listRule": rule})).await
                }
                // Updates of the counter…
                0 => {
                    api.patch(&record("counters", &counter), json!({"n+": 1}))
                        .await
                }
                // …creates that assert it exists while it changes…
                1 => {
                    api.post(&records("refs"), json!({"counter": counter}))
                        .await
                }
                // …and batches doing both in one transaction.
                _ => {
                    let requests = json!([
                        {"method": "PATCH", "url": record("counters", &counter), "body": {"n+": 1}},
                        {"method": "POST", "url": records("refs"), "body": {"counter": counter}},
                    ]);
                    api.post("/api/batch", json!({ "requests": requests }))
                        .await
                }
            }
        }));
    }
    for t in tasks {
        let r = tokio::time::timeout(std::time::Duration::from_secs(30), t)
            .await
            .expect("write finishes")
            .expect("task");
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let n = api.get(&record("counters", &counter)).await.ok()["n"].clone();
    assert_eq!(n, json!(EACH * 2));
    let refs = api.list("refs", "perPage=1").await;
    assert_eq!(refs["totalItems"], EACH * 2);
}
