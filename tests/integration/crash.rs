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

/// `kill -9` while records with files are created, replaced and deleted: after restart every
/// acknowledged record is there, every name a record holds is a file on disk, and no stored
/// file is left that no record names (the start-up sweep collects what the crash orphaned).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_during_uploads_leaves_no_dangling_names_and_no_orphans() {
    let mut srv = TestServer::start().await;
    srv.create_collection(public_collection(
        "media",
        json!([{"name": "w", "type": "number"},
               {"name": "doc", "type": "file", "maxSelect": 1, "maxSize": 1048576}]),
    ))
    .await;
    let acked = file_writes_until_kill_9(&mut srv, WRITERS, 32 * 1024, LOAD).await;
    assert!(acked.len() >= WRITERS, "too little load: {}", acked.len());

    srv.start_again().await;
    let api = srv.su();
    let col_id = api.get("/api/collections/media").await.ok()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let listed = api.list("media", "perPage=1000").await;
    let items = listed["items"].as_array().unwrap();
    let held: HashMap<String, String> = items
        .iter()
        .map(|r| (id_of(r), r["doc"].as_str().unwrap_or("").to_string()))
        .collect();
    for id in &acked {
        assert!(held.contains_key(id), "acknowledged record {id} lost");
    }
    for (id, name) in &held {
        if name.is_empty() {
            continue;
        }
        let r = srv
            .guest()
            .get(&format!("/api/files/media/{id}/{name}"))
            .await;
        assert_eq!(r.status, 200, "record {id} names {name}, which is missing");
    }
    // The sweep runs in the background at start: wait until only named files remain.
    let storage = srv.data_dir().join("storage").join(&col_id);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut orphans = Vec::new();
        for rec in std::fs::read_dir(&storage).into_iter().flatten().flatten() {
            let id = rec.file_name().to_string_lossy().into_owned();
            for f in std::fs::read_dir(rec.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                let name = f.file_name().to_string_lossy().into_owned();
                if held.get(&id) != Some(&name) {
                    orphans.push(format!("{id}/{name}"));
                }
            }
        }
        if orphans.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "orphans left after restart: {orphans:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `writers` clients creating records of `media` (fields `w`, `doc` file) with `file_bytes`
/// files — one write in five replacing an earlier record's file, one in five deleting one, so
/// removals after commit race the kill too — until `srv` is killed with SIGKILL after `load`.
/// Returns the ids of the records acknowledged and not deleted.
pub(crate) async fn file_writes_until_kill_9(
    srv: &mut TestServer,
    writers: usize,
    file_bytes: usize,
    load: Duration,
) -> Vec<String> {
    use reqwest::multipart::{Form, Part};
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = JoinSet::new();
    for w in 0..writers {
        let api: Api = srv.guest();
        let stop = stop.clone();
        tasks.spawn(async move {
            let mut acked: Vec<String> = Vec::new();
            let started = Instant::now();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) && started.elapsed() < WRITER_CAP {
                let part = Part::bytes(vec![b'a' + (n % 26) as u8; file_bytes])
                    .file_name(format!("w{w}-{n}.txt"));
                let form = Form::new().text("w", w.to_string()).part("doc", part);
                let rb = match (n % 5, acked.last()) {
                    (4, Some(id)) => api.request(Method::DELETE, &record("media", id)),
                    (2, Some(id)) => api
                        .request(Method::PATCH, &record("media", id))
                        .multipart(form),
                    _ => api.request(Method::POST, &records("media")).multipart(form),
                };
                match Api::try_send(rb.timeout(Duration::from_secs(5))).await {
                    Ok(r) if r.status == 200 && n % 5 != 2 => acked.push(id_of(&r.body)),
                    Ok(r) if r.status == 204 => {
                        acked.pop();
                    }
                    Ok(r) if r.status == 200 => {}
                    Ok(r) => panic!("writer {w}: unexpected {} {}", r.status, r.text),
                    Err(_) => {
                        // A delete cut off by the kill may have committed before its answer:
                        // its record is neither acknowledged nor known to be gone.
                        if n % 5 == 4 {
                            acked.pop();
                        }
                        break;
                    }
                }
                n += 1;
            }
            acked
        });
    }
    tokio::time::sleep(load).await;
    srv.kill9();
    stop.store(true, Ordering::Relaxed);
    let mut acked: Vec<String> = Vec::new();
    while let Some(ids) = tasks.join_next().await {
        acked.extend(ids.expect("writer task"));
    }
    acked
}
