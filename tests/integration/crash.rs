//! `kill -9` under concurrent write load: every acknowledged write survives.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};
use tokio::task::JoinSet;

use crate::harness::{id_of, public_collection, record, records, Api, TestServer};

const WRITERS: usize = 6;
/// Load before the kill.
const LOAD: Duration = Duration::from_millis(1500);
/// Hard cap per writer, in case the server never goes away.
const WRITER_CAP: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_kill_9() {
    let mut srv = TestServer::start().await;
    let mut coll = public_collection(
        "events",
        json!([
            {"name": "writer", "type": "number"},
            {"name": "seq", "type": "number"},
            {"name": "key", "type": "text"},
            {"name": "payload", "type": "json"},
        ]),
    );
    coll["indexes"] = json!(["CREATE UNIQUE INDEX idx_key ON events (key)"]);
    srv.create_collection(coll).await;

    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = JoinSet::new();
    for w in 0..WRITERS {
        let api: Api = srv.guest();
        let stop = stop.clone();
        writers.spawn(async move {
            let mut acked: Vec<Value> = Vec::new();
            let started = Instant::now();
            let mut seq = 0u64;
            while !stop.load(Ordering::Relaxed) && started.elapsed() < WRITER_CAP {
                let body = json!({"writer": w, "seq": seq, "key": format!("w{w}-{seq}"),
                                  "payload": {"w": w, "seq": seq, "pad": "x".repeat(64)}});
                let rb = api
                    .request(Method::POST, &records("events"))
                    .json(&body)
                    .timeout(Duration::from_secs(5));
                match Api::try_send(rb).await {
                    Ok(r) if r.status == 200 => acked.push(r.body),
                    Ok(r) => panic!("writer {w}: unexpected {} {}", r.status, r.text),
                    Err(_) => break, // the server is gone
                }
                seq += 1;
            }
            acked
        });
    }

    tokio::time::sleep(LOAD).await;
    srv.kill9();
    stop.store(true, Ordering::Relaxed);
    let mut acked: Vec<Value> = Vec::new();
    while let Some(batch) = writers.join_next().await {
        acked.extend(batch.expect("writer task"));
    }
    assert!(
        acked.len() >= WRITERS * 5,
        "too little load to prove anything: {} acked writes",
        acked.len()
    );

    srv.start_again().await;
    let api = srv.su();
    let health = api.get("/api/health").await;
    assert_eq!(health.status, 200, "{}", health.text);

    let stored = api.list("events", "perPage=1000&skipTotal=0").await;
    let total = stored["totalItems"].as_u64().unwrap() as usize;
    assert!(
        total >= acked.len(),
        "{total} stored < {} acknowledged",
        acked.len()
    );
    // Page through everything once; compare every acknowledged record in full.
    let mut by_id: HashMap<String, Value> = HashMap::new();
    let pages = total.div_ceil(1000).max(1);
    for page in 1..=pages {
        let list = api
            .list("events", &format!("perPage=1000&page={page}"))
            .await;
        for item in list["items"].as_array().unwrap() {
            by_id.insert(id_of(item), item.clone());
        }
    }
    assert_eq!(
        by_id.len(),
        total,
        "list pages are consistent with totalItems"
    );
    for rec in &acked {
        let id = id_of(rec);
        assert_eq!(
            by_id.get(&id),
            Some(rec),
            "acknowledged record {id} lost or changed"
        );
        assert_eq!(&api.get(&record("events", &id)).await.ok(), rec);
    }

    // The unique index was recovered with the data: acknowledged keys are still taken…
    for rec in acked.iter().rev().take(5) {
        api.post(&records("events"), json!({"key": rec["key"]}))
            .await
            .assert_field_error("Failed to create record.", "key", "validation_not_unique");
    }
    // …and the server accepts new writes.
    let fresh = api.create("events", json!({"key": "after-crash"})).await;
    assert_eq!(api.get(&record("events", &id_of(&fresh))).await.ok(), fresh);
}

#[tokio::test]
async fn kill_9_right_after_a_write_keeps_it() {
    let mut srv = TestServer::start().await;
    srv.create_collection(public_collection(
        "k",
        json!([{"name": "t", "type": "text"}]),
    ))
    .await;
    let mut acked = Vec::new();
    for round in 0..3 {
        let api = srv.guest();
        acked.push(
            api.create("k", json!({"t": format!("round {round}")}))
                .await,
        );
        if let Some(prev) = acked.first() {
            let upd = api
                .patch(
                    &record("k", &id_of(prev)),
                    json!({"t": format!("upd {round}")}),
                )
                .await
                .ok();
            acked[0] = upd;
        }
        srv.kill9();
        srv.start_again().await;
        let api = srv.guest();
        for rec in &acked {
            assert_eq!(
                &api.get(&record("k", &id_of(rec))).await.ok(),
                rec,
                "round {round}"
            );
        }
        assert_eq!(api.list("k", "").await["totalItems"], acked.len());
    }
}
