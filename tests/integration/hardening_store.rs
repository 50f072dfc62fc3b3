//! Hardening of the store and account-mail paths: request-* endpoints answer in the same time for
//! known and unknown addresses, mails are throttled per recipient, delete cascades find their
//! referrers through the reverse-relation index, and the batch cap.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::accounts::register;
use crate::harness::{id_of, public_collection, record, records, TestServer};

/// Median of request latencies in microseconds.
fn median(mut v: Vec<u128>) -> u128 {
    v.sort_unstable();
    v[v.len() / 2]
}

/// Kept mails to `to` once the mail queue has caught up with `marker` (a later mail's recipient).
async fn kept_mails_to(srv: &TestServer, to: &str, marker: &str) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mails = srv.su().get("/api/mails").await.ok();
        let items = mails["items"].as_array().cloned().unwrap_or_default();
        if items.iter().any(|m| m["to"] == marker) || Instant::now() > deadline {
            return items.into_iter().filter(|m| m["to"] == to).collect();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn hardening_store_request_endpoints_take_the_same_time_for_unknown_accounts() {
    let srv = TestServer::start().await;
    register(&srv, "known@example.com", "Known").await;
    let guest = srv.guest();
    for action in ["request-password-reset", "request-verification"] {
        let url = format!("/api/collections/users/{action}");
        let (mut known, mut unknown) = (Vec::new(), Vec::new());
        // Interleaved so machine load hits both series alike; 200 requests each.
        for i in 0..400 {
            let email = if i % 2 == 0 {
                "known@example.com"
            } else {
                "nobody@example.com"
            };
            let t = Instant::now();
            let r = guest.post(&url, json!({"email": email})).await;
            let us = t.elapsed().as_micros();
            assert_eq!(r.status, 204, "{action}: {}", r.text);
            if i % 2 == 0 {
                known.push(us)
            } else {
                unknown.push(us)
            }
        }
        let (k, u) = (median(known), median(unknown));
        eprintln!("{action}: median known {k} µs, unknown {u} µs");
        // Generous ratio: a loaded 2-core machine is noisy, but an fsync'd mail write is not.
        assert!(
            k * 2 <= u * 3 && u * 2 <= k * 3,
            "{action}: median known {k} µs vs unknown {u} µs"
        );
    }
}

#[tokio::test]
async fn hardening_store_mails_are_throttled_per_recipient() {
    let srv = TestServer::builder()
        .env("FERROBASE_SMTP_MAX_PER_RECIPIENT", "2")
        .start()
        .await;
    register(&srv, "ann@example.com", "Ann").await;
    register(&srv, "bob@example.com", "Bob").await;
    let guest = srv.guest();
    for _ in 0..6 {
        let r = guest
            .post(
                "/api/collections/users/request-password-reset",
                json!({"email": "ann@example.com"}),
            )
            .await;
        assert_eq!(r.status, 204, "{}", r.text);
    }
    // Another recipient is not affected by ann's throttle.
    let r = guest
        .post(
            "/api/collections/users/request-password-reset",
            json!({"email": "bob@example.com"}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let ann = kept_mails_to(&srv, "ann@example.com", "bob@example.com").await;
    let bob = kept_mails_to(&srv, "bob@example.com", "bob@example.com").await;
    assert_eq!(ann.len(), 2, "ann gets at most 2 mails per window: {ann:?}");
    assert_eq!(bob.len(), 1, "bob still gets his mail: {bob:?}");
    assert!(ann[0]["html"]
        .as_str()
        .unwrap_or("")
        .contains("confirm-password-reset"));
}

/// `nodes` with a self-relation `parent` (optional, cleared when the parent is deleted).
async fn nodes_with_parent(srv: &TestServer, cascade: bool) {
    let nodes = srv
        .create_collection(public_collection(
            "nodes",
            json!([{"name": "label", "type": "text"}]),
        ))
        .await;
    let mut fields = nodes["fields"].as_array().unwrap().clone();
    fields.push(
        json!({"name": "parent", "type": "relation", "collectionId": nodes["id"],
                       "maxSelect": 1, "cascadeDelete": cascade}),
    );
    srv.su()
        .patch("/api/collections/nodes", json!({ "fields": fields }))
        .await
        .ok();
}

#[tokio::test]
async fn hardening_store_batch_is_capped_at_100_requests() {
    let srv = TestServer::start().await;
    nodes_with_parent(&srv, false).await;
    let reqs = |n: usize| -> Vec<Value> {
        (0..n)
            .map(|i| json!({"method": "POST", "url": records("nodes"), "body": {"label": i}}))
            .collect()
    };
    let r = srv
        .su()
        .post("/api/batch", json!({"requests": reqs(101)}))
        .await;
    r.assert_field_error(
        "Invalid batch request data.",
        "requests",
        "validation_length_too_long",
    );
    assert_eq!(
        r.body["data"]["requests"]["params"]["max"], 100,
        "{}",
        r.text
    );
    let r = srv
        .su()
        .post("/api/batch", json!({"requests": reqs(100)}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn hardening_store_batch_delete_finds_referrers_through_the_reverse_index() {
    let srv = TestServer::start().await;
    nodes_with_parent(&srv, false).await;
    let su = srv.su();
    // A chain n0 ← n1 ← … ← n599 (each node's parent is the previous one).
    let ids: Vec<String> = (0..600).map(|i| format!("n{i:014}")).collect();
    for chunk in 0..6 {
        let reqs: Vec<Value> = (chunk * 100..chunk * 100 + 100)
            .map(|i| {
                let parent = if i == 0 {
                    String::new()
                } else {
                    ids[i - 1].clone()
                };
                json!({"method": "POST", "url": records("nodes"),
                       "body": {"id": ids[i], "label": i.to_string(), "parent": parent}})
            })
            .collect();
        let r = su.post("/api/batch", json!({"requests": reqs})).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let dels: Vec<Value> = ids[200..300]
        .iter()
        .map(|id| json!({"method": "DELETE", "url": record("nodes", id)}))
        .collect();
    let t = Instant::now();
    let r = su.post("/api/batch", json!({"requests": dels})).await;
    eprintln!(
        "batch of 100 deletes on 600 chained records: {:?}",
        t.elapsed()
    );
    assert_eq!(r.status, 200, "{}", r.text);
    // The surviving referrer of the last deleted node lost its parent; others kept theirs.
    let after = su.get(&record("nodes", &ids[300])).await.ok();
    assert_eq!(after["parent"], "", "{after}");
    let kept = su.get(&record("nodes", &ids[200 - 1])).await.ok();
    assert_eq!(kept["parent"], ids[198], "{kept}");
    assert_eq!(su.get(&record("nodes", &ids[250])).await.status, 404);
    // Deleting a node whose referrer was created in the same batch clears that reference too.
    let r = su
        .post(
            "/api/batch",
            json!({"requests": [
                {"method": "POST", "url": records("nodes"), "body": {"id": "fresh0000000000", "parent": ids[500]}},
                {"method": "DELETE", "url": record("nodes", &ids[500])},
            ]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let fresh = su.get(&record("nodes", "fresh0000000000")).await.ok();
    assert_eq!(fresh["parent"], "", "{fresh}");
}

#[tokio::test]
async fn hardening_store_create_racing_a_cascade_never_leaves_a_dangling_relation() {
    let srv = TestServer::start().await;
    nodes_with_parent(&srv, true).await;
    let api = srv.guest();
    let deadline = Instant::now() + Duration::from_secs(60);
    for round in 0..20 {
        if Instant::now() > deadline {
            break;
        }
        let target = id_of(&api.create("nodes", json!({"label": round})).await);
        let creates: Vec<_> = (0..8)
            .map(|i| {
                let api = api.clone();
                let target = target.clone();
                tokio::spawn(async move {
                    api.post(&records("nodes"), json!({"label": i, "parent": target}))
                        .await
                })
            })
            .collect();
        let del = api.delete(&record("nodes", &target)).await;
        assert_eq!(del.status, 204, "{}", del.text);
        for c in creates {
            let r = c.await.unwrap();
            // Either the create won (and was cascaded) or it lost (its target is gone).
            assert!(r.status == 200 || r.status == 400, "{}", r.text);
        }
        let left = api
            .list("nodes", &format!("filter=(parent='{target}')&perPage=50"))
            .await;
        assert_eq!(
            left["totalItems"], 0,
            "round {round}: dangling references {left}"
        );
    }
}
