//! Concurrent writers racing for the same unique value: exactly one wins.

use serde_json::json;
use tokio::task::JoinSet;

use crate::harness::{id_of, public_collection, record, records, Api, TestServer};

const RACERS: usize = 40;

async fn unique_collection(srv: &TestServer) {
    let mut coll = public_collection(
        "slugs",
        json!([{"name": "slug", "type": "text"}, {"name": "who", "type": "number"}]),
    );
    coll["indexes"] = json!(["CREATE UNIQUE INDEX idx_slug ON slugs (slug)"]);
    srv.create_collection(coll).await;
}

/// Counts (successes, not-unique failures) and panics on anything else.
async fn tally(mut set: JoinSet<crate::harness::Resp>, field: &str) -> (usize, usize) {
    let (mut ok, mut dup) = (0, 0);
    while let Some(r) = set.join_next().await {
        let r = r.expect("racer task");
        match r.status {
            200 => ok += 1,
            400 if r.code(field) == "validation_not_unique" => dup += 1,
            _ => panic!("unexpected racer result: {} {}", r.status, r.text),
        }
    }
    (ok, dup)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_with_the_same_unique_value() {
    let srv = TestServer::start().await;
    unique_collection(&srv).await;

    let mut set = JoinSet::new();
    for who in 0..RACERS {
        let api: Api = srv.guest();
        set.spawn(async move {
            api.post(&records("slugs"), json!({"slug": "same", "who": who}))
                .await
        });
    }
    let (ok, dup) = tally(set, "slug").await;
    assert_eq!((ok, dup), (1, RACERS - 1));

    let list = srv.guest().list("slugs", "").await;
    assert_eq!(list["totalItems"], 1, "exactly one record stored: {list}");
    assert_eq!(list["items"][0]["slug"], "same");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_updates_to_the_same_unique_value() {
    let srv = TestServer::start().await;
    unique_collection(&srv).await;
    let api = srv.guest();
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(id_of(
            &api.create("slugs", json!({"slug": format!("s{i}")})).await,
        ));
    }
    let mut set = JoinSet::new();
    for id in &ids {
        let api = srv.guest();
        let path = record("slugs", id);
        set.spawn(async move { api.patch(&path, json!({"slug": "taken"})).await });
    }
    let (ok, dup) = tally(set, "slug").await;
    assert_eq!((ok, dup), (1, ids.len() - 1));
    let list = api.list("slugs", "perPage=100").await;
    let taken = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["slug"] == "taken")
        .count();
    assert_eq!(taken, 1);
    // The losers kept their old values, so those are still unique and taken.
    let r = api.post(&records("slugs"), json!({"slug": "s0"})).await;
    let holders = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["slug"] == "s0")
        .count();
    if holders == 1 {
        r.assert_field_error("Failed to create record.", "slug", "validation_not_unique");
    } else {
        assert_eq!(r.status, 200, "s0 was freed by the winner: {}", r.text);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_modifiers_lose_no_updates() {
    let srv = TestServer::start().await;
    srv.create_collection(public_collection(
        "counters",
        json!([
            {"name": "n", "type": "number"},
            {"name": "tags", "type": "select", "values": (0..30).map(|i| format!("v{i}")).collect::<Vec<_>>(), "maxSelect": 30},
        ]),
    ))
    .await;
    let rec = srv.guest().create("counters", json!({})).await;
    let path = record("counters", &id_of(&rec));
    // Three waves of 30 concurrent PATCHes on one record (a wave makes the race likely).
    const WAVES: usize = 3;
    for _ in 0..WAVES {
        let mut set = JoinSet::new();
        for i in 0..30 {
            let api = srv.guest();
            let path = path.clone();
            set.spawn(async move {
                api.patch(&path, json!({"n+": 1, "tags+": format!("v{i}")}))
                    .await
            });
        }
        while let Some(r) = set.join_next().await {
            let r = r.expect("task");
            assert_eq!(r.status, 200, "{}", r.text);
        }
    }
    let after = srv.guest().get(&path).await.ok();
    assert_eq!(after["n"], 30 * WAVES, "every n+ applied: {after}");
    assert_eq!(
        after["tags"].as_array().unwrap().len(),
        30,
        "every tags+ applied: {after}"
    );
}
