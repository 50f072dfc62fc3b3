//! Hardening of the store and account-mail paths: request-* endpoints answer in the same time for
//! known and unknown addresses, mails are throttled per recipient, delete cascades find their
//! referrers through the reverse-relation index, and the batch cap.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::accounts::register;
use crate::harness::TestServer;

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
